//! Writing scans to the database. A scan is handed to a writer task that inserts scans in
//! batches and updates the stamps' counters in one transaction per batch. The hand-off waits
//! when the queue is full rather than dropping anything, and a graceful shutdown drains the
//! queue before the process exits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use std::borrow::Cow;

use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, QuerySelect,
    Statement,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};

use crate::entities::scans;

use super::state::{ScanInput, StampFacts, Verdict};

/// Scans waiting for the writer before a scan page waits for room (about two seconds at the
/// heaviest load measured).
const QUEUE: usize = 50_000;
/// Most scans written in one transaction.
const BATCH: usize = 10_000;
/// Least time between two commits of the writer (see [`run_writer`]). Scans judged within the
/// last this-long are not yet on disk: a graceful stop writes them, a killed process loses them.
const GATHER: Duration = Duration::from_millis(200);
/// Longest wait between two attempts to write a batch while the database is away.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(5);
/// Longest wait for the queue to drain when the process stops.
const SHUTDOWN_DRAIN: Duration = Duration::from_secs(60);

/// One scan waiting for the writer: its row, and what it adds to its stamp's counters. It
/// serialises, so that with several app servers it travels through a Redis stream.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct PendingScan {
    pub(super) row: ScanRow,
    pub(super) stamp_update: Option<StampUpdate>,
}

/// A row of `scans`, as the batch insert reads it from a JSON array (see [`BatchSql`]).
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ScanRow {
    stamp_id: Option<i64>,
    cooperative_id: Option<i64>,
    code: String,
    #[serde(serialize_with = "as_stored_time")]
    scanned_at: DateTime<Utc>,
    scanned_on: NaiveDate,
    client_hash: String,
    network_hash: String,
    client_class: Cow<'static, str>,
    verdict: Cow<'static, str>,
    repeat_by_same_client: bool,
    province_code: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
    /// The Redis stream entry the scan came through, if it did: unique in `scans`, so that an
    /// entry written twice is one row.
    #[serde(default)]
    pub(super) stream_id: Option<String>,
}

/// What a counted scan adds to its stamp's counters.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct StampUpdate {
    pub(super) stamp_id: i64,
    pub(super) at: DateTime<Utc>,
    pub(super) distinct: u32,
    pub(super) flag: Option<Cow<'static, str>>,
}

enum Message {
    Scan(Box<PendingScan>),
    /// Answered once every message queued before it is written.
    Flush(oneshot::Sender<()>),
}

/// The queue to the writer task, and the scan counts.
pub(super) struct ScanWriter {
    db: DatabaseConnection,
    queue: mpsc::Sender<Message>,
    stopping: AtomicBool,
    /// Scans answered since start, and scans written to the database: equal once flushed.
    judged: AtomicU64,
    written: Arc<AtomicU64>,
}

impl ScanWriter {
    /// Starts the writer task.
    pub(super) fn start(db: DatabaseConnection) -> Self {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let written = Arc::new(AtomicU64::new(0));
        tokio::spawn(run_writer(db.clone(), receiver, written.clone()));
        Self {
            db,
            queue,
            stopping: AtomicBool::new(false),
            judged: AtomicU64::new(0),
            written,
        }
    }

    /// Hands a judged scan to the writer task; waits while the queue is full.
    pub(super) async fn enqueue(&self, scan: PendingScan) {
        self.judged.fetch_add(1, Ordering::Relaxed);
        if self.stopping.load(Ordering::Acquire) {
            // After shutdown began nothing drains the queue: write this one directly.
            match write_batch(&self.db, vec![scan]).await {
                Ok(()) => {
                    self.written.fetch_add(1, Ordering::Relaxed);
                }
                Err((err, _)) => {
                    tracing::error!(error = %err, "recording a scan during shutdown failed");
                }
            }
            return;
        }
        if self
            .queue
            .send(Message::Scan(Box::new(scan)))
            .await
            .is_err()
        {
            tracing::error!("the scan queue is closed; a scan was not recorded");
        }
    }

    /// Waits until every scan queued so far is written.
    pub(super) async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Later scans are written directly, and everything queued is written before this returns.
    pub(super) async fn shutdown(&self) {
        self.stopping.store(true, Ordering::Release);
        if tokio::time::timeout(SHUTDOWN_DRAIN, self.flush())
            .await
            .is_err()
        {
            let (judged, written) = self.counts();
            tracing::error!(
                unwritten = judged.saturating_sub(written),
                "the database did not take the queued scans before the process stopped"
            );
        }
        tracing::info!(
            judged = self.judged.load(Ordering::Relaxed),
            written = self.written.load(Ordering::Relaxed),
            "scans recorded"
        );
    }

    /// Scans answered since start, and scans written to the database.
    pub(super) fn counts(&self) -> (u64, u64) {
        (
            self.judged.load(Ordering::Relaxed),
            self.written.load(Ordering::Relaxed),
        )
    }
}

/// Writes queued scans in batches until the queue closes.
///
/// A commit costs the database pages it touches (the scan table, three indexes, the stamps'
/// counters), not the rows: ten scans and a thousand cost nearly the same. So under load the
/// writer commits at most once per [`GATHER`], taking everything that arrived meanwhile, while
/// a lone scan at a quiet hour still waits only that long. A flush request is written at once.
async fn run_writer(
    db: DatabaseConnection,
    mut receiver: mpsc::Receiver<Message>,
    written: Arc<AtomicU64>,
) {
    let mut buffer = Vec::with_capacity(BATCH);
    let mut last_commit = tokio::time::Instant::now();
    let is_flush = |m: &Message| matches!(m, Message::Flush(_));
    loop {
        if receiver.recv_many(&mut buffer, BATCH).await == 0 {
            break;
        }
        let due = last_commit + GATHER;
        let mut flush = buffer.iter().any(is_flush);
        while buffer.len() < BATCH && !flush {
            let (seen, room) = (buffer.len(), BATCH - buffer.len());
            match tokio::time::timeout_at(due, receiver.recv_many(&mut buffer, room)).await {
                Ok(0) | Err(_) => break,
                Ok(_) => flush = buffer[seen..].iter().any(is_flush),
            }
        }
        last_commit = tokio::time::Instant::now();
        let mut scans = Vec::with_capacity(buffer.len());
        let mut waiters = Vec::new();
        for message in buffer.drain(..) {
            match message {
                Message::Scan(scan) => scans.push(*scan),
                Message::Flush(done) => waiters.push(done),
            }
        }
        if !scans.is_empty() {
            let count = scans.len() as u64;
            if write_with_retries(&db, scans).await {
                written.fetch_add(count, Ordering::Relaxed);
            }
            tracing::debug!(
                scans = count,
                millis = last_commit.elapsed().as_millis() as u64,
                "scans written"
            );
        }
        for done in waiters {
            let _ = done.send(());
        }
    }
}

/// Writes a batch, retrying with backoff (up to five seconds apart) until it is written: a
/// database outage delays scans and loses none, while the queue in front holds the pages back
/// once full. Only a process that stops for good with the database still down loses what is
/// queued (see [`ScanWriter::shutdown`]).
async fn write_with_retries(db: &DatabaseConnection, scans: Vec<PendingScan>) -> bool {
    let mut pending = scans;
    let mut attempt: u32 = 0;
    loop {
        match write_batch(db, pending).await {
            Ok(()) => return true,
            Err((err, returned)) => {
                attempt += 1;
                let wait = Duration::from_millis(100u64 << attempt.min(6)).min(MAX_RETRY_WAIT);
                tracing::warn!(error = %err, attempt, scans = returned.len(), "writing scans failed; retrying");
                tokio::time::sleep(wait).await;
                pending = returned;
            }
        }
    }
}

/// The row of one scan.
pub(super) fn scan_row(
    stamp: Option<&StampFacts>,
    code: &str,
    at: DateTime<Utc>,
    input: &ScanInput,
    verdict: &Verdict,
    repeat: bool,
) -> ScanRow {
    ScanRow {
        stamp_id: stamp.map(|s| s.id),
        cooperative_id: stamp.map(|s| s.cooperative_id),
        code: code.to_owned(),
        scanned_at: at,
        scanned_on: vietnam_date(at),
        client_hash: input.client.hex(),
        network_hash: input.network.hex(),
        client_class: Cow::Borrowed(input.client_class),
        verdict: Cow::Borrowed(verdict.label()),
        repeat_by_same_client: repeat,
        province_code: input.province_code.clone(),
        latitude: input.position.map(|p| p.0),
        longitude: input.position.map(|p| p.1),
        stream_id: None,
    }
}

fn vietnam_date(at: DateTime<Utc>) -> NaiveDate {
    crate::clock::to_vietnam_time(at).date_naive()
}

/// What a batch of scans adds to one stamp's counters, as the counter update reads it.
#[derive(Debug, Serialize)]
struct CounterDelta {
    id: i64,
    scans: i64,
    #[serde(serialize_with = "as_stored_time")]
    first_at: DateTime<Utc>,
    #[serde(serialize_with = "as_stored_time")]
    last_at: DateTime<Utc>,
    clients: u32,
    flag: Option<Cow<'static, str>>,
    /// When the flag was raised: a flag raised before a reviewer cleared it is not restored.
    #[serde(serialize_with = "as_stored_time")]
    flag_at: DateTime<Utc>,
}

/// A time as sqlx stores `DateTime<Utc>` in SQLite (RFC 3339, `+00:00`, as many fraction
/// digits as needed), so that rows written here compare and read back like every other row.
/// PostgreSQL parses the same text into `timestamptz`.
fn as_stored_time<S: serde::Serializer>(at: &DateTime<Utc>, out: S) -> Result<S::Ok, S::Error> {
    out.collect_str(&at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false))
}

/// The two statements that write a batch. Each takes the whole batch as one JSON array
/// parameter, so its text never changes: it is prepared once per connection, whatever the
/// batch size, and a batch of thousands of scans is two statements rather than thousands (or
/// one multi-row INSERT of tens of thousands of parameters, parsed anew for each size).
struct BatchSql {
    insert_scans: &'static str,
    add_counters: &'static str,
}

impl BatchSql {
    fn of(backend: DbBackend) -> &'static Self {
        match backend {
            DbBackend::Postgres => &Self::POSTGRES,
            // SQLite is the only other backend this build connects to.
            _ => &Self::SQLITE,
        }
    }

    const SQLITE: Self = Self {
        insert_scans: "INSERT INTO scans (stamp_id, cooperative_id, code, scanned_at, scanned_on, \
            client_hash, network_hash, client_class, verdict, repeat_by_same_client, \
            province_code, latitude, longitude, stream_id) \
            SELECT value ->> 'stamp_id', value ->> 'cooperative_id', value ->> 'code', \
            value ->> 'scanned_at', value ->> 'scanned_on', value ->> 'client_hash', \
            value ->> 'network_hash', value ->> 'client_class', value ->> 'verdict', \
            value ->> 'repeat_by_same_client', value ->> 'province_code', value ->> 'latitude', \
            value ->> 'longitude', value ->> 'stream_id' \
            FROM json_each(?)",
        add_counters: "UPDATE stamps SET scan_count = scan_count + d.scans, \
            first_scanned_at = coalesce(first_scanned_at, d.first_at), \
            last_scanned_at = CASE WHEN last_scanned_at > d.last_at THEN last_scanned_at \
                ELSE d.last_at END, \
            distinct_clients = max(distinct_clients, d.clients), \
            flagged = CASE WHEN d.flag IS NOT NULL AND (flag_cleared_at IS NULL \
                OR d.flag_at > flag_cleared_at) THEN TRUE ELSE flagged END, \
            flag_reason = CASE WHEN d.flag IS NOT NULL AND NOT flagged AND (flag_cleared_at IS NULL \
                OR d.flag_at > flag_cleared_at) THEN d.flag ELSE flag_reason END, \
            flagged_at = CASE WHEN d.flag IS NOT NULL AND NOT flagged AND (flag_cleared_at IS NULL \
                OR d.flag_at > flag_cleared_at) THEN d.flag_at ELSE flagged_at END \
            FROM (SELECT value ->> 'id' AS id, value ->> 'scans' AS scans, \
                value ->> 'first_at' AS first_at, value ->> 'last_at' AS last_at, \
                value ->> 'clients' AS clients, value ->> 'flag' AS flag, \
                value ->> 'flag_at' AS flag_at FROM json_each(?)) AS d \
            WHERE stamps.id = d.id",
    };

    const POSTGRES: Self = Self {
        insert_scans: "INSERT INTO scans (stamp_id, cooperative_id, code, scanned_at, scanned_on, \
            client_hash, network_hash, client_class, verdict, repeat_by_same_client, \
            province_code, latitude, longitude, stream_id) \
            SELECT stamp_id, cooperative_id, code, scanned_at, scanned_on, client_hash, \
            network_hash, client_class, verdict, repeat_by_same_client, province_code, latitude, \
            longitude, stream_id \
            FROM json_to_recordset($1::json) AS r(stamp_id bigint, cooperative_id bigint, \
                code text, scanned_at timestamptz, scanned_on date, client_hash text, \
                network_hash text, client_class text, verdict text, \
                repeat_by_same_client boolean, province_code text, latitude double precision, \
                longitude double precision, stream_id text)",
        add_counters: "UPDATE stamps SET scan_count = stamps.scan_count + d.scans, \
            first_scanned_at = coalesce(stamps.first_scanned_at, d.first_at), \
            last_scanned_at = greatest(stamps.last_scanned_at, d.last_at), \
            distinct_clients = greatest(stamps.distinct_clients, d.clients), \
            flagged = stamps.flagged OR (d.flag IS NOT NULL AND (stamps.flag_cleared_at IS NULL \
                OR d.flag_at > stamps.flag_cleared_at)), \
            flag_reason = CASE WHEN d.flag IS NOT NULL AND NOT stamps.flagged \
                AND (stamps.flag_cleared_at IS NULL OR d.flag_at > stamps.flag_cleared_at) \
                THEN d.flag ELSE stamps.flag_reason END, \
            flagged_at = CASE WHEN d.flag IS NOT NULL AND NOT stamps.flagged \
                AND (stamps.flag_cleared_at IS NULL OR d.flag_at > stamps.flag_cleared_at) \
                THEN d.flag_at ELSE stamps.flagged_at END \
            FROM json_to_recordset($1::json) AS d(id bigint, scans bigint, \
                first_at timestamptz, last_at timestamptz, clients integer, flag text, \
                flag_at timestamptz) \
            WHERE stamps.id = d.id",
    };
}

/// Writes scans and their stamps' counters in one transaction; on failure hands the batch
/// back for a retry. Scans that came through a Redis stream and are already written (a
/// server died between its commit and its acknowledgement) are left out, and so are their
/// counters.
pub(super) async fn write_batch(
    db: &DatabaseConnection,
    batch: Vec<PendingScan>,
) -> Result<(), (DbErr, Vec<PendingScan>)> {
    let result = async {
        let backend = db.get_database_backend();
        let sql = BatchSql::of(backend);
        let encoding = |e: serde_json::Error| DbErr::Custom(format!("encoding scans: {e}"));
        let txn = crate::db::begin_write(db).await?;
        let written = already_written(&txn, &batch).await?;
        let fresh: Vec<&PendingScan> = batch
            .iter()
            .filter(|s| {
                s.row
                    .stream_id
                    .as_ref()
                    .is_none_or(|id| !written.contains(id))
            })
            .collect();
        if fresh.is_empty() {
            return txn.commit().await;
        }
        // In stamp order (the order of `idx_scans_stamp`, the index whose pages the rows
        // scatter over), each stamp's scans still in the order they came.
        let mut rows: Vec<&ScanRow> = fresh.iter().map(|s| &s.row).collect();
        rows.sort_by_key(|row| row.stamp_id);
        let rows = serde_json::to_string(&rows).map_err(encoding)?;
        let deltas = counter_deltas(&fresh);
        let flagging: Vec<i64> = deltas
            .iter()
            .filter(|d| d.flag.is_some())
            .map(|d| d.id)
            .collect();
        let counters = serde_json::to_string(&deltas).map_err(encoding)?;
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            sql.insert_scans,
            [rows.into()],
        ))
        .await?;
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            sql.add_counters,
            [counters.into()],
        ))
        .await?;
        // A flag raised by this batch is told to the cooperative in the same transaction.
        crate::messages::events::stamps_flagged(&txn, &flagging)
            .await
            .map_err(|err| match err {
                crate::error::AppError::Database(err) => err,
                other => DbErr::Custom(other.to_string()),
            })?;
        txn.commit().await
    }
    .await;
    result.map_err(|err| (err, batch))
}

/// The stream ids of `batch` already in `scans`.
async fn already_written(
    txn: &impl ConnectionTrait,
    batch: &[PendingScan],
) -> Result<std::collections::HashSet<String>, DbErr> {
    let ids: Vec<String> = batch
        .iter()
        .filter_map(|s| s.row.stream_id.clone())
        .collect();
    if ids.is_empty() {
        return Ok(std::collections::HashSet::new());
    }
    // One statement text whatever the batch's size (the ids travel as one JSON array), so it is
    // prepared once per connection instead of once per size of `IN (…)` list.
    let ids = serde_json::to_string(&ids).map_err(|e| DbErr::Custom(e.to_string()))?;
    let among = match txn.get_database_backend() {
        DbBackend::Postgres => "stream_id IN (SELECT json_array_elements_text($1::json))",
        _ => "stream_id IN (SELECT value FROM json_each(?))",
    };
    let rows: Vec<Option<String>> = scans::Entity::find()
        .select_only()
        .column(scans::Column::StreamId)
        .filter(sea_orm::sea_query::Expr::cust_with_values(among, [ids]))
        .into_tuple()
        .all(txn)
        .await?;
    let found: std::collections::HashSet<String> = rows.into_iter().flatten().collect();
    Ok(found)
}

/// One counter delta per stamp of the batch: at thousands of scans a second most scans touch
/// a different stamp, but a copied code scanned in a burst is counted once per batch.
fn counter_deltas(batch: &[&PendingScan]) -> Vec<CounterDelta> {
    let mut per_stamp: std::collections::HashMap<i64, CounterDelta> =
        std::collections::HashMap::new();
    for update in batch.iter().filter_map(|s| s.stamp_update.as_ref()) {
        let delta = per_stamp
            .entry(update.stamp_id)
            .or_insert_with(|| CounterDelta {
                id: update.stamp_id,
                scans: 0,
                first_at: update.at,
                last_at: update.at,
                clients: 0,
                flag: None,
                flag_at: update.at,
            });
        delta.scans += 1;
        delta.first_at = delta.first_at.min(update.at);
        delta.last_at = delta.last_at.max(update.at);
        // Distinct clients only grow: the latest judgement holds the largest count.
        delta.clients = delta.clients.max(update.distinct);
        if delta.flag.is_none() && update.flag.is_some() {
            delta.flag = update.flag.clone();
            delta.flag_at = update.at;
        }
    }
    let mut deltas: Vec<CounterDelta> = per_stamp.into_values().collect();
    // Stamps in id order: concurrent writers (several app servers) lock rows in one order.
    deltas.sort_unstable_by_key(|d| d.id);
    deltas
}
