//! Scans judged and recorded through Redis, when several app servers share one
//! (`OCOP_REDIS_URL`).
//!
//! **One truth per stamp.** A stamp's state (see [`StampState`]) lives in Redis as a versioned
//! JSON value. A scan reads it (one round trip), judges the scan against it in Rust (the same
//! code as on one server), then writes the new state **and** the scan, in one atomic script
//! that succeeds only if the version is still the one read (compare and set). Two servers can
//! therefore never both say "first check": the second's write fails, it reads the state the
//! first wrote and judges again.
//!
//! **No acknowledged scan is lost.** The script appends the scan to a Redis stream in the same
//! atomic step as the state; the page answers only after that. Writers in every app server read
//! the streams through one consumer group, write batches to SQL, and acknowledge (and delete)
//! entries only after the commit. A server that dies leaves its entries pending: after
//! [`RedisConfig::claim_idle`](crate::config::RedisConfig) another server claims and writes
//! them. An entry written twice (a server died between commit and acknowledgement) is one row:
//! `scans.stream_id` is unique. A database outage delays the writes; the entries wait in Redis.
//!
//! **Keys.** Stamps are spread over [`SHARDS`] streams; a stamp's state key and its stream share
//! one hash tag (`ocop:{s3}:stamp:1234`, `ocop:{s3}:scans`, after the configured prefix), so the
//! script touches one hash slot and runs on Redis Cluster and Valkey alike. States expire after [`STATE_TTL`] without scans
//! and are rebuilt from SQL when needed.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::Value;
use sea_orm::DatabaseConnection;
use tokio::sync::Notify;

use super::state::{Judgement, ScanInput, StampFacts, StampState, Verdict};
use super::writer::{PendingScan, StampUpdate, scan_row, write_batch};
use super::{FlagDecision, ScanCounters};
use crate::error::{AppError, AppResult};
use crate::shared::{Shared, field, stream_entries, text_of};

/// Streams the scans are spread over.
pub const SHARDS: i64 = 16;
/// The consumer group of the writers.
const GROUP: &str = "writers";
/// A stamp's state without a scan for this long leaves Redis (rebuilt from SQL if scanned).
const STATE_TTL: Duration = Duration::from_secs(30 * 24 * 3600);
/// Compare-and-set attempts before a scan gives up (only under extreme contention on one stamp).
const ATTEMPTS: usize = 16;
/// Entries a writer reads at once.
const READ_BATCH: usize = 5_000;
/// How long a writer's read waits for new entries.
const BLOCK: Duration = Duration::from_millis(200);
/// A writer commits at most this often unless a read fills a whole batch: a commit costs the
/// database the pages it touches (and a WAL flush), not the rows, so a writer that wrote every
/// few entries as they came would spend most of PostgreSQL's time on commits. The entries wait
/// meanwhile in their stream, as durable as they will be in SQL once Redis has them.
const COMMIT_EVERY: Duration = Duration::from_millis(200);

/// Writes the new state and appends the scan if the version is the one read. `ARGV[1]`: the
/// version read ('' when absent); `ARGV[2]`: the new state; `ARGV[3]`: the scan ('' for none);
/// `ARGV[4]`: the state's time to live in seconds. Answers `{1, version, entry id}`, or
/// `{0, version, state}` with what is there now.
const COMPARE_AND_SET: &str = r"
local current = redis.call('HGET', KEYS[1], 'v')
if (current or '') ~= ARGV[1] then
  return {0, current or '', redis.call('HGET', KEYS[1], 's') or ''}
end
local version = redis.call('HINCRBY', KEYS[1], 'v', 1)
redis.call('HSET', KEYS[1], 's', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[4])
local id = ''
if ARGV[3] ~= '' then
  id = redis.call('XADD', KEYS[2], '*', 'p', ARGV[3])
end
return {1, tostring(version), id}
";

fn shard_of(stamp_id: i64) -> i64 {
    stamp_id.rem_euclid(SHARDS)
}

fn state_key(shared: &Shared, stamp_id: i64) -> String {
    shared.key(&format!("{{s{}}}:stamp:{stamp_id}", shard_of(stamp_id)))
}

fn stream_key(shared: &Shared, shard: i64) -> String {
    shared.key(&format!("{{s{shard}}}:scans"))
}

/// The scans of this app server through Redis.
pub(super) struct SharedScans {
    shared: Arc<Shared>,
    db: DatabaseConnection,
    cas: redis::Script,
    judged: AtomicU64,
    written: Arc<AtomicU64>,
    stopping: Arc<AtomicBool>,
    stopped: Arc<Notify>,
}

impl SharedScans {
    /// Makes sure the streams' consumer group exists and starts this server's writer.
    pub(super) fn start(db: DatabaseConnection, shared: Arc<Shared>) -> Arc<Self> {
        let scans = Arc::new(Self {
            cas: redis::Script::new(COMPARE_AND_SET),
            judged: AtomicU64::new(0),
            written: Arc::new(AtomicU64::new(0)),
            stopping: Arc::new(AtomicBool::new(false)),
            stopped: Arc::new(Notify::new()),
            db,
            shared,
        });
        tokio::spawn(run_writer(scans.clone()));
        scans
    }

    /// Judges a scan against the stamp's shared state and records it atomically with the new
    /// state. Redis not answering is a 503: the scan was not recorded.
    pub(super) async fn record(&self, stamp: &StampFacts, input: &ScanInput) -> AppResult<Verdict> {
        let key = state_key(&self.shared, stamp.id);
        let stream = stream_key(&self.shared, shard_of(stamp.id));
        let mut connection = self.shared.connection();
        let (mut version, mut state) = self.read_state(&key, stamp.id, stamp.counters).await?;
        for _ in 0..ATTEMPTS {
            let now = Utc::now();
            let mut next = state.clone();
            let judgement: Judgement = next.judge(stamp, input, now);
            let scan = PendingScan {
                row: scan_row(
                    Some(stamp),
                    &stamp.code,
                    now,
                    input,
                    &judgement.verdict,
                    judgement.repeat,
                ),
                stamp_update: judgement.counted.as_ref().map(|counted| StampUpdate {
                    stamp_id: stamp.id,
                    at: now,
                    distinct: counted.distinct,
                    flag: counted.flag.map(std::borrow::Cow::Borrowed),
                }),
            };
            let answer: Vec<Value> = self
                .cas
                .key(&key)
                .key(&stream)
                .arg(&version)
                .arg(serde_json::to_string(&next).map_err(internal)?)
                .arg(serde_json::to_string(&scan).map_err(internal)?)
                .arg(STATE_TTL.as_secs())
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
            match parse_answer(&answer) {
                Some((true, _, _)) => {
                    self.judged.fetch_add(1, Ordering::Relaxed);
                    return Ok(judgement.verdict);
                }
                Some((false, current_version, current_state)) => {
                    version = current_version;
                    state = match current_state.as_deref() {
                        Some(text) if !text.is_empty() => {
                            serde_json::from_str(text).map_err(internal)?
                        }
                        _ => StampState::load(&self.db, stamp.id, None).await?,
                    };
                }
                None => return Err(internal("an unexpected answer from the scan script")),
            }
        }
        Err(AppError::ServiceUnavailable(
            "this stamp is being checked by many people at once; try again",
        ))
    }

    /// Records the scan of a code no stamp has.
    pub(super) async fn record_unknown(&self, code: &str, input: &ScanInput) -> AppResult<()> {
        let now = Utc::now();
        let scan = PendingScan {
            row: scan_row(None, code, now, input, &Verdict::Unknown, false),
            stamp_update: None,
        };
        let shard = code.bytes().map(i64::from).sum::<i64>().rem_euclid(SHARDS);
        let mut connection = self.shared.connection();
        let _: String = redis::cmd("XADD")
            .arg(stream_key(&self.shared, shard))
            .arg("*")
            .arg("p")
            .arg(serde_json::to_string(&scan).map_err(internal)?)
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        self.judged.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Applies a reviewer's decision to the stamp's shared state.
    pub(super) async fn review(
        &self,
        stamp_id: i64,
        decision: FlagDecision,
        at: DateTime<Utc>,
    ) -> AppResult<()> {
        let key = state_key(&self.shared, stamp_id);
        let stream = stream_key(&self.shared, shard_of(stamp_id));
        let mut connection = self.shared.connection();
        let (mut version, mut state) = self.read_state(&key, stamp_id, None).await?;
        for _ in 0..ATTEMPTS {
            let mut next = state.clone();
            match decision {
                FlagDecision::Clear => next.clear_flag(at),
                FlagDecision::Confirm => next.confirm_flag(),
            }
            let answer: Vec<Value> = self
                .cas
                .key(&key)
                .key(&stream)
                .arg(&version)
                .arg(serde_json::to_string(&next).map_err(internal)?)
                .arg("")
                .arg(STATE_TTL.as_secs())
                .invoke_async(&mut connection)
                .await
                .map_err(unavailable)?;
            match parse_answer(&answer) {
                Some((true, _, _)) => return Ok(()),
                Some((false, current_version, current_state)) => {
                    version = current_version;
                    state = match current_state.as_deref() {
                        Some(text) if !text.is_empty() => {
                            serde_json::from_str(text).map_err(internal)?
                        }
                        _ => StampState::load(&self.db, stamp_id, None).await?,
                    };
                }
                None => return Err(internal("an unexpected answer from the scan script")),
            }
        }
        Err(AppError::ServiceUnavailable(
            "this stamp is being checked by many people at once; try again",
        ))
    }

    /// The stamp's current state.
    pub(super) async fn state(&self, stamp_id: i64) -> AppResult<StampState> {
        Ok(self
            .read_state(&state_key(&self.shared, stamp_id), stamp_id, None)
            .await?
            .1)
    }

    /// The stamp's state and its version ('' when Redis has none: then rebuilt from SQL).
    async fn read_state(
        &self,
        key: &str,
        stamp_id: i64,
        counters: Option<ScanCounters>,
    ) -> AppResult<(String, StampState)> {
        let mut connection = self.shared.connection();
        let (version, text): (Option<String>, Option<String>) = redis::cmd("HMGET")
            .arg(key)
            .arg("v")
            .arg("s")
            .query_async(&mut connection)
            .await
            .map_err(unavailable)?;
        match (version, text) {
            (Some(version), Some(text)) => {
                Ok((version, serde_json::from_str(&text).map_err(internal)?))
            }
            _ => Ok((
                String::new(),
                StampState::load(&self.db, stamp_id, counters).await?,
            )),
        }
    }

    /// Waits until every scan in the streams is written (tests, graceful stops): at most a
    /// minute.
    pub(super) async fn flush(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while tokio::time::Instant::now() < deadline {
            match self.backlog().await {
                Ok(0) => return,
                Ok(_) => tokio::time::sleep(Duration::from_millis(20)).await,
                Err(err) => {
                    tracing::warn!(error = %err, "reading the scan streams failed");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        tracing::warn!("scans were still waiting in Redis after a minute");
    }

    /// Scans in the streams not yet written (new and pending).
    pub(super) async fn backlog(&self) -> redis::RedisResult<u64> {
        let mut pipe = redis::pipe();
        for shard in 0..SHARDS {
            pipe.cmd("XLEN").arg(stream_key(&self.shared, shard));
        }
        let lengths: Vec<u64> = pipe.query_async(&mut self.shared.connection()).await?;
        Ok(lengths.iter().sum())
    }

    /// Stops this server's writer after its current batch; what it read and did not write is
    /// claimed by another server (or by this one's successor).
    pub(super) async fn shutdown(&self) {
        self.stopping.store(true, Ordering::Release);
        let _ = tokio::time::timeout(Duration::from_secs(30), self.stopped.notified()).await;
    }

    pub(super) fn counts(&self) -> (u64, u64) {
        (
            self.judged.load(Ordering::Relaxed),
            self.written.load(Ordering::Relaxed),
        )
    }
}

fn parse_answer(answer: &[Value]) -> Option<(bool, String, Option<String>)> {
    let ok = match answer.first()? {
        Value::Int(n) => *n == 1,
        _ => return None,
    };
    let version = answer.get(1).and_then(text_of).unwrap_or_default();
    let third = answer.get(2).and_then(text_of);
    Some((ok, version, third))
}

fn internal(err: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("scans through Redis: {err}"))
}

fn unavailable(err: redis::RedisError) -> AppError {
    tracing::error!(error = %err, "Redis did not take a scan");
    AppError::ServiceUnavailable("stamp checks are unavailable for a moment; try again")
}

/// This server's writer: reads new scans (and, every few seconds, scans a dead server left
/// pending), writes them in batches, acknowledges after the commit.
async fn run_writer(scans: Arc<SharedScans>) {
    let shared = scans.shared.clone();
    let mut connection = loop {
        match shared.dedicated(BLOCK).await {
            Ok(connection) => break connection,
            Err(err) => {
                tracing::warn!(error = %err, "the scan writer cannot reach Redis; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    for shard in 0..SHARDS {
        // From the start of the stream: scans appended before the group existed are written too.
        let created: redis::RedisResult<()> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(stream_key(&shared, shard))
            .arg(GROUP)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut connection)
            .await;
        if let Err(err) = created
            && err.code() != Some("BUSYGROUP")
        {
            tracing::warn!(error = %err, shard, "creating the scan writers' group failed");
        }
    }
    let claim_every = (shared.config().claim_idle / 4).max(Duration::from_millis(100));
    let mut last_claim = tokio::time::Instant::now();
    while !scans.stopping.load(Ordering::Acquire) {
        let started = tokio::time::Instant::now();
        let mut read = redis::cmd("XREADGROUP");
        read.arg("GROUP")
            .arg(GROUP)
            .arg(shared.server_id())
            .arg("COUNT")
            .arg(READ_BATCH)
            .arg("BLOCK")
            .arg(BLOCK.as_millis() as u64)
            .arg("STREAMS");
        for shard in 0..SHARDS {
            read.arg(stream_key(&shared, shard));
        }
        for _ in 0..SHARDS {
            read.arg(">");
        }
        let answer: redis::RedisResult<Value> = read.query_async(&mut connection).await;
        match answer {
            Ok(value) => {
                let entries = read_streams(&value);
                let read = entries.iter().map(|(_, e)| e.len()).sum::<usize>();
                write_entries(&scans, &mut connection, entries).await;
                if read < READ_BATCH && !scans.stopping.load(Ordering::Acquire) {
                    tokio::time::sleep_until(started + COMMIT_EVERY).await;
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "reading the scan streams failed; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        if last_claim.elapsed() >= claim_every {
            last_claim = tokio::time::Instant::now();
            claim_abandoned(&scans, &mut connection).await;
        }
    }
    scans.stopped.notify_one();
}

/// Takes over the entries other writers read and left unacknowledged for longer than the
/// claim time (their server died), and writes them.
async fn claim_abandoned(scans: &SharedScans, connection: &mut redis::aio::ConnectionManager) {
    let idle = scans.shared.config().claim_idle.as_millis() as u64;
    for shard in 0..SHARDS {
        let mut start = "0-0".to_owned();
        loop {
            let claimed: redis::RedisResult<Value> = redis::cmd("XAUTOCLAIM")
                .arg(stream_key(&scans.shared, shard))
                .arg(GROUP)
                .arg(scans.shared.server_id())
                .arg(idle)
                .arg(&start)
                .arg("COUNT")
                .arg(1000)
                .query_async(connection)
                .await;
            let Ok(Value::Array(parts)) = claimed else {
                break;
            };
            let entries = parts.get(1).map(stream_entries).unwrap_or_default();
            let next = parts.first().and_then(text_of).unwrap_or_default();
            if !entries.is_empty() {
                tracing::info!(
                    shard,
                    scans = entries.len(),
                    "claimed scans another server left unwritten"
                );
                write_entries(scans, connection, vec![(shard, entries)]).await;
            }
            if next == "0-0" || next.is_empty() {
                break;
            }
            start = next;
        }
    }
}

type Entries = Vec<(String, crate::shared::Fields)>;

/// The entries of an `XREADGROUP` answer, by shard (from the stream names,
/// `{prefix}:{s3}:scans`).
fn read_streams(value: &Value) -> Vec<(i64, Entries)> {
    let pairs: Vec<(&Value, &Value)> = match value {
        Value::Array(streams) => streams
            .iter()
            .filter_map(|s| match s {
                Value::Array(kv) if kv.len() == 2 => Some((&kv[0], &kv[1])),
                _ => None,
            })
            .collect(),
        Value::Map(kv) => kv.iter().map(|(k, v)| (k, v)).collect(),
        _ => Vec::new(),
    };
    pairs
        .into_iter()
        .filter_map(|(name, entries)| {
            let name = text_of(name)?;
            let shard = name
                .split("{s")
                .nth(1)?
                .split('}')
                .next()?
                .parse::<i64>()
                .ok()?;
            Some((shard, stream_entries(entries)))
        })
        .collect()
}

/// Writes entries to SQL (retrying until the database takes them), then acknowledges and
/// deletes them.
async fn write_entries(
    scans: &SharedScans,
    connection: &mut redis::aio::ConnectionManager,
    by_shard: Vec<(i64, Entries)>,
) {
    let mut batch = Vec::new();
    let mut done: Vec<(i64, Vec<String>)> = Vec::new();
    for (shard, entries) in by_shard {
        let mut ids = Vec::with_capacity(entries.len());
        for (id, fields) in entries {
            match field(&fields, "p").map(serde_json::from_slice::<PendingScan>) {
                Some(Ok(mut scan)) => {
                    scan.row.stream_id = Some(format!("{shard}-{id}"));
                    batch.push(scan);
                }
                // Not ours to understand: acknowledged, so it does not come back forever.
                _ => tracing::error!(shard, id, "a scan entry could not be read; skipped"),
            }
            ids.push(id);
        }
        if !ids.is_empty() {
            done.push((shard, ids));
        }
    }
    if done.is_empty() {
        return;
    }
    let count = batch.len() as u64;
    let mut pending = batch;
    let mut attempt: u32 = 0;
    while !pending.is_empty() {
        match write_batch(&scans.db, pending).await {
            Ok(()) => break,
            Err((err, returned)) => {
                attempt += 1;
                tracing::warn!(error = %err, attempt, "writing scans failed; they wait in Redis");
                tokio::time::sleep(
                    Duration::from_millis(100u64 << attempt.min(6)).min(Duration::from_secs(5)),
                )
                .await;
                pending = returned;
            }
        }
    }
    scans.written.fetch_add(count, Ordering::Relaxed);
    for (shard, ids) in done {
        let mut pipe = redis::pipe();
        let stream = stream_key(&scans.shared, shard);
        pipe.cmd("XACK").arg(&stream).arg(GROUP).arg(&ids).ignore();
        pipe.cmd("XDEL").arg(&stream).arg(&ids).ignore();
        if let Err(err) = pipe.query_async::<()>(connection).await {
            // Written but not acknowledged: claimed later and found written (one row).
            tracing::warn!(error = %err, shard, "acknowledging written scans failed");
        }
    }
}
