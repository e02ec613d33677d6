//! Recording scans and judging them.
//!
//! The scan page is the most visited page of the system, so a scan must not wait for the
//! database: the verdict is computed from an in-memory state per stamp (loaded from the
//! database on first touch), and the scan row is handed to a writer task that inserts scans in
//! batches and updates the stamp's counters in one transaction per batch. The hand-off waits
//! when the queue is full rather than dropping anything, and a graceful shutdown drains the
//! queue before the process exits.
//!
//! Copy detection: a stamp is flagged as a likely copy when many distinct clients check it, when
//! it is reported bought in two different provinces, or when two people who shared their
//! position checked it more than [`FAR_APART_KM`] apart. A client is a phone, recognised by
//! its `ocop_client` cookie (or, without one, by a salted hash of its network and user agent),
//! so one person re-opening their own check is told so and never counted as another person;
//! a flood from one client changes nothing but its own rate limit.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use dashmap::DashMap;
use data_encoding::HEXLOWER;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter,
    QuerySelect, Statement,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, mpsc, oneshot};
use utoipa::ToSchema;

use super::VoidReason;
use crate::config::Secret;
use crate::entities::{scans, stamps};

/// Distinct clients from which a stamp counts as a likely copy: a sealed package is checked by
/// its buyer, perhaps by a relative, rarely by more.
pub const COPY_DISTINCT_CLIENTS: usize = 5;
/// Two shared positions of one package this far apart mean two packages: one is a copy. Far
/// enough that a buyer who scans at the market and again at home a district away is not flagged.
pub const FAR_APART_KM: f64 = 100.0;
/// Places (provinces, positions) remembered per stamp: two far-apart ones already decide.
const REMEMBERED_PLACES: usize = 8;
/// Client keys remembered per stamp (enough to decide; the database has them all).
const REMEMBERED_CLIENTS: usize = 64;
/// Scans waiting for the writer before a scan page waits for room (about two seconds at the
/// heaviest load measured).
const QUEUE: usize = 50_000;
/// Most scans written in one transaction.
const BATCH: usize = 10_000;
/// Least time between two commits of the writer (see [`run_writer`]). Scans judged within the
/// last this-long are not yet on disk: a graceful stop writes them, a killed process loses them.
const GATHER: Duration = Duration::from_millis(200);

/// A scanner's identity, never stored raw: 16 bytes of a keyed hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey([u8; 16]);

impl ClientKey {
    pub fn hex(&self) -> String {
        HEXLOWER.encode(&self.0)
    }

    fn from_hex(text: &str) -> Option<Self> {
        HEXLOWER
            .decode(text.as_bytes())
            .ok()
            .and_then(|b| b.try_into().ok())
            .map(Self)
    }
}

/// Derives client keys with the deployment's secret as salt.
#[derive(Clone)]
pub struct ClientHasher {
    salt: Secret,
}

impl ClientHasher {
    pub fn new(salt: Secret) -> Self {
        Self { salt }
    }

    fn hash(&self, parts: &[&[u8]]) -> ClientKey {
        let mut hasher = Sha256::new();
        hasher.update(b"ocop-market client v1\0");
        hasher.update(self.salt.expose().as_bytes());
        for part in parts {
            hasher.update([0u8]);
            hasher.update(part);
        }
        let digest = hasher.finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        ClientKey(key)
    }

    /// The key of an app installation that sends its own stable id (API clients).
    pub fn of_cookie(&self, cookie: &str) -> ClientKey {
        self.hash(&[b"cookie", cookie.as_bytes()])
    }

    /// The client cookie for a key: the key and a MAC, so that nobody can mint keys (and so
    /// pose as many people) without the secret.
    pub fn cookie_for(&self, key: ClientKey) -> String {
        let mac = self.hash(&[b"cookie-mac", &key.0]);
        format!("{}.{}", key.hex(), &mac.hex()[..16])
    }

    /// The key a client cookie carries, if the cookie is genuine.
    pub fn from_cookie(&self, cookie: &str) -> Option<ClientKey> {
        let (key, mac) = cookie.split_once('.')?;
        let key = ClientKey::from_hex(key)?;
        (self.cookie_for(key).split_once('.').map(|(_, m)| m) == Some(mac)).then_some(key)
    }

    /// The key of a client seen for the first time: its network (/24 for IPv4, /48 for IPv6),
    /// user agent and languages. It becomes the client's cookie, so the same phone keeps it on
    /// any network.
    pub fn of_network(&self, ip: IpAddr, user_agent: &str) -> ClientKey {
        let network = match ip {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                format!("{}.{}.{}.0/24", o[0], o[1], o[2])
            }
            IpAddr::V6(v6) => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
            }
        };
        self.hash(&[b"network", network.as_bytes(), user_agent.as_bytes()])
    }
}

/// The client class of programs that fetch pages by themselves, with nobody holding the
/// package: crawlers, and the link previews of chat apps when someone shares a scan page. Their
/// scans are recorded but never count as a check (see [`ScanService::record`]).
pub const BOT: &str = "bot";

/// The kind of client, from its user agent: `mobile`, `desktop`, `app` (an HTTP library, as
/// scanning apps use: counted like a phone), [`BOT`] or `other`.
pub fn client_class(user_agent: &str) -> &'static str {
    let ua = user_agent.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| ua.contains(w));
    if ua.is_empty() {
        "other"
    } else if has(&[
        "bot",
        "crawler",
        "spider",
        "facebookexternalhit",
        "whatsapp",
        "preview",
        "embedly",
    ]) {
        BOT
    } else if has(&["curl", "wget", "python", "okhttp", "headless"]) {
        "app"
    } else if has(&["android", "iphone", "ipad", "mobile", "zalo"]) {
        "mobile"
    } else if has(&["windows", "macintosh", "linux", "cros"]) {
        "desktop"
    } else {
        "other"
    }
}

/// What a scan tells the person holding the package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Verdict {
    /// Genuine, and nobody checked it before.
    GenuineFirstCheck,
    /// Genuine; this same phone checked it first at `first_checked_at` and nobody else did.
    GenuineCheckedByYou { first_checked_at: DateTime<Utc> },
    /// Genuine code, but `other_checkers` other people checked it since `since`: a package
    /// sealed at purchase should not have been checked before.
    GenuineCheckedBefore {
        other_checkers: u32,
        since: DateTime<Utc>,
    },
    /// Checked by many people or in far-apart places: probably a copied code.
    LikelyCopy {
        other_checkers: u32,
        since: DateTime<Utc>,
        provinces: u32,
    },
    /// The cooperative voided this code.
    Voided { reason: VoidReason },
    /// No stamp has this code.
    Unknown,
}

impl Verdict {
    /// The short stable name stored with each scan.
    pub fn label(&self) -> &'static str {
        match self {
            Self::GenuineFirstCheck => "first",
            Self::GenuineCheckedByYou { .. } => "repeat_same",
            Self::GenuineCheckedBefore { .. } => "seen_before",
            Self::LikelyCopy { .. } => "likely_copy",
            Self::Voided { .. } => "voided",
            Self::Unknown => "unknown",
        }
    }
}

/// The stamp facts a scan needs.
#[derive(Debug, Clone)]
pub struct StampFacts {
    pub id: i64,
    pub cooperative_id: i64,
    pub code: String,
    pub void_reason: Option<VoidReason>,
    /// The stamp's scan counters, when its row was read from the database for this very scan
    /// (the stamp's first scan on this server): its history then starts from them without
    /// reading the row again.
    pub counters: Option<ScanCounters>,
}

/// A stamp's scan counters as stored on its row.
#[derive(Debug, Clone, Copy)]
pub struct ScanCounters {
    pub scans: i64,
    pub distinct_clients: i32,
    pub first_scanned_at: Option<DateTime<Utc>>,
    pub flagged: bool,
}

impl ScanCounters {
    pub fn of(stamp: &stamps::Model) -> Self {
        Self {
            scans: stamp.scan_count,
            distinct_clients: stamp.distinct_clients,
            first_scanned_at: stamp.first_scanned_at,
            flagged: stamp.flagged,
        }
    }
}

/// One scan as the page hands it over.
#[derive(Debug, Clone)]
pub struct ScanInput {
    pub client: ClientKey,
    pub client_class: &'static str,
    /// Province where the person says they bought it.
    pub province_code: Option<String>,
    /// Opt-in position, already rounded.
    pub position: Option<(f64, f64)>,
}

#[derive(Debug, Default)]
struct StampState {
    first_at: Option<DateTime<Utc>>,
    clients: Vec<(ClientKey, DateTime<Utc>)>,
    distinct: u32,
    provinces: Vec<String>,
    positions: Vec<(f64, f64)>,
    flagged: bool,
}

impl StampState {
    /// The verdict of an active stamp for a client after `others` other people checked it,
    /// who checked it first at `mine` (if ever).
    fn verdict(&self, others: u32, mine: Option<DateTime<Utc>>) -> Verdict {
        let Some(since) = self.first_at else {
            return Verdict::GenuineFirstCheck;
        };
        if self.flagged {
            Verdict::LikelyCopy {
                other_checkers: others,
                since,
                provinces: self.provinces.len() as u32,
            }
        } else if others > 0 {
            Verdict::GenuineCheckedBefore {
                other_checkers: others,
                since,
            }
        } else if let Some(first_checked_at) = mine {
            Verdict::GenuineCheckedByYou { first_checked_at }
        } else {
            Verdict::GenuineFirstCheck
        }
    }

    /// Remembers a shared position; `true` when it lies far from one seen before.
    fn add_position(&mut self, position: (f64, f64)) -> bool {
        let far = self
            .positions
            .iter()
            .any(|seen| distance_km(*seen, position) > FAR_APART_KM);
        if self.positions.len() < REMEMBERED_PLACES && !self.positions.contains(&position) {
            self.positions.push(position);
        }
        far
    }
}

/// Great-circle distance between two (latitude, longitude) points in degrees, in kilometres.
pub fn distance_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    const EARTH_RADIUS_KM: f64 = 6371.0;
    let (lat1, lat2) = (a.0.to_radians(), b.0.to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.1 - a.1).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

/// One scan waiting for the writer: its row, and what it adds to its stamp's counters.
struct PendingScan {
    row: ScanRow,
    stamp_update: Option<StampUpdate>,
}

/// A row of `scans`, as the batch insert reads it from a JSON array (see [`BatchSql`]).
#[derive(Debug, Serialize)]
struct ScanRow {
    stamp_id: Option<i64>,
    cooperative_id: Option<i64>,
    code: String,
    #[serde(serialize_with = "as_stored_time")]
    scanned_at: DateTime<Utc>,
    scanned_on: NaiveDate,
    client_hash: String,
    client_class: &'static str,
    verdict: &'static str,
    repeat_by_same_client: bool,
    province_code: Option<String>,
    latitude: Option<f64>,
    longitude: Option<f64>,
}

struct StampUpdate {
    stamp_id: i64,
    at: DateTime<Utc>,
    distinct: u32,
    flag: Option<&'static str>,
}

enum Message {
    Scan(Box<PendingScan>),
    /// Answered once every message queued before it is written.
    Flush(oneshot::Sender<()>),
}

/// Judges and records scans.
pub struct ScanService {
    db: DatabaseConnection,
    queue: mpsc::Sender<Message>,
    states: DashMap<i64, Arc<Mutex<StampState>>>,
    stopping: AtomicBool,
    /// Scans answered since start, and scans written to the database: equal once flushed.
    judged: AtomicU64,
    written: Arc<AtomicU64>,
}

impl ScanService {
    /// Creates the service and starts its writer task.
    pub fn start(db: DatabaseConnection) -> Arc<Self> {
        let (queue, receiver) = mpsc::channel(QUEUE);
        let written = Arc::new(AtomicU64::new(0));
        tokio::spawn(run_writer(db.clone(), receiver, written.clone()));
        Arc::new(Self {
            db,
            queue,
            states: DashMap::new(),
            stopping: AtomicBool::new(false),
            judged: AtomicU64::new(0),
            written,
        })
    }

    /// Judges a scan of a known stamp and queues it for recording.
    pub async fn record(
        &self,
        stamp: &StampFacts,
        input: ScanInput,
    ) -> Result<Verdict, sea_orm::DbErr> {
        let now = Utc::now();
        let state = self.state_of(stamp.id, stamp.counters).await?;
        let mut state = state.lock().await;
        if input.client_class == BOT {
            // A link preview (someone shared the page in a chat) or a crawler, not a person
            // holding the package: recorded, told what a new person would be told, but never
            // counted as a checker, so the friend the link was sent to is not told that
            // somebody else checked first.
            let verdict = match stamp.void_reason {
                Some(reason) => Verdict::Voided { reason },
                None => state.verdict(state.distinct, None),
            };
            drop(state);
            self.enqueue(PendingScan {
                row: scan_row(Some(stamp), &stamp.code, now, &input, &verdict, false),
                stamp_update: None,
            })
            .await;
            return Ok(verdict);
        }
        let verdict;
        let mut flag = None;
        if let Some(reason) = stamp.void_reason {
            verdict = Verdict::Voided { reason };
        } else {
            let mine = state
                .clients
                .iter()
                .find(|(c, _)| *c == input.client)
                .map(|(_, at)| *at);
            let others = state.distinct - u32::from(mine.is_some());
            if let Some(province) = &input.province_code
                && !state.provinces.contains(province)
                && state.provinces.len() < REMEMBERED_PLACES
            {
                state.provinces.push(province.clone());
            }
            let far_positions = input
                .position
                .is_some_and(|position| state.add_position(position));
            if mine.is_none() {
                state.distinct += 1;
                if state.clients.len() < REMEMBERED_CLIENTS {
                    state.clients.push((input.client, now));
                }
            }
            state.first_at.get_or_insert(now);
            let far_apart = state.provinces.len() >= 2 || far_positions;
            if !state.flagged && (state.distinct as usize >= COPY_DISTINCT_CLIENTS || far_apart) {
                state.flagged = true;
                flag = Some(if far_apart {
                    "far_apart_places"
                } else {
                    "many_clients"
                });
            }
            verdict = state.verdict(others, mine);
            let repeat = mine.is_some();
            let distinct = state.distinct;
            drop(state);
            self.enqueue(PendingScan {
                row: scan_row(Some(stamp), &stamp.code, now, &input, &verdict, repeat),
                stamp_update: Some(StampUpdate {
                    stamp_id: stamp.id,
                    at: now,
                    distinct,
                    flag,
                }),
            })
            .await;
            return Ok(verdict);
        }
        drop(state);
        self.enqueue(PendingScan {
            row: scan_row(Some(stamp), &stamp.code, now, &input, &verdict, false),
            stamp_update: Some(StampUpdate {
                stamp_id: stamp.id,
                at: now,
                distinct: 0,
                flag: None,
            }),
        })
        .await;
        Ok(verdict)
    }

    /// Records the scan of a code that no stamp has (for fake-code analytics).
    pub async fn record_unknown(&self, code: &str, input: ScanInput) {
        let now = Utc::now();
        let code: String = code.chars().take(32).collect();
        self.enqueue(PendingScan {
            row: scan_row(None, &code, now, &input, &Verdict::Unknown, false),
            stamp_update: None,
        })
        .await;
    }

    async fn enqueue(&self, scan: PendingScan) {
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

    async fn state_of(
        &self,
        stamp_id: i64,
        counters: Option<ScanCounters>,
    ) -> Result<Arc<Mutex<StampState>>, sea_orm::DbErr> {
        if let Some(state) = self.states.get(&stamp_id) {
            return Ok(state.clone());
        }
        let loaded = Arc::new(Mutex::new(self.load_state(stamp_id, counters).await?));
        // Bound memory: a process that has seen a very large number of stamps starts afresh;
        // states reload from the database, which the writer keeps current.
        if self.states.len() > 500_000 {
            self.states.clear();
        }
        Ok(self.states.entry(stamp_id).or_insert(loaded).clone())
    }

    async fn load_state(
        &self,
        stamp_id: i64,
        counters: Option<ScanCounters>,
    ) -> Result<StampState, sea_orm::DbErr> {
        let counters = match counters {
            Some(counters) => counters,
            None => match stamps::Entity::find_by_id(stamp_id).one(&self.db).await? {
                Some(stamp) => ScanCounters::of(&stamp),
                None => return Ok(StampState::default()),
            },
        };
        if counters.scans == 0 {
            // Nearly every package is checked once: its first check needs no history.
            return Ok(StampState::default());
        }
        let clients: Vec<(String, DateTime<Utc>)> = scans::Entity::find()
            .select_only()
            .column(scans::Column::ClientHash)
            .column_as(scans::Column::ScannedAt.min(), "first")
            .filter(scans::Column::StampId.eq(stamp_id))
            .filter(scans::Column::ClientClass.ne(BOT))
            .group_by(scans::Column::ClientHash)
            .limit(REMEMBERED_CLIENTS as u64)
            .into_tuple()
            .all(&self.db)
            .await?;
        let provinces: Vec<Option<String>> = scans::Entity::find()
            .select_only()
            .column(scans::Column::ProvinceCode)
            .distinct()
            .filter(scans::Column::StampId.eq(stamp_id))
            .filter(scans::Column::ClientClass.ne(BOT))
            .filter(scans::Column::ProvinceCode.is_not_null())
            .limit(REMEMBERED_PLACES as u64)
            .into_tuple()
            .all(&self.db)
            .await?;
        let positions: Vec<(Option<f64>, Option<f64>)> = scans::Entity::find()
            .select_only()
            .column(scans::Column::Latitude)
            .column(scans::Column::Longitude)
            .distinct()
            .filter(scans::Column::StampId.eq(stamp_id))
            .filter(scans::Column::ClientClass.ne(BOT))
            .filter(scans::Column::Latitude.is_not_null())
            .filter(scans::Column::Longitude.is_not_null())
            .limit(REMEMBERED_PLACES as u64)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(StampState {
            positions: positions
                .into_iter()
                .filter_map(|(lat, lon)| lat.zip(lon))
                .collect(),
            first_at: counters.first_scanned_at,
            clients: clients
                .into_iter()
                .filter_map(|(hash, at)| ClientKey::from_hex(&hash).map(|k| (k, at)))
                .collect(),
            distinct: u32::try_from(counters.distinct_clients).unwrap_or(0),
            provinces: provinces.into_iter().flatten().collect(),
            flagged: counters.flagged,
        })
    }

    /// Forgets every in-memory stamp state, as a restart would: the next scan of each stamp
    /// reloads it from the database.
    pub fn forget_states(&self) {
        self.states.clear();
    }

    /// Waits until every scan queued so far is written.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.queue.send(Message::Flush(done)).await.is_ok() {
            let _ = wait.await;
        }
    }

    /// Called once the HTTP server has finished its requests: later scans (there should be
    /// none) are written directly, and everything queued is written before this returns.
    pub async fn shutdown(&self) {
        self.stopping.store(true, Ordering::Release);
        self.flush().await;
        tracing::info!(
            judged = self.judged.load(Ordering::Relaxed),
            written = self.written.load(Ordering::Relaxed),
            "scans recorded"
        );
    }

    /// Scans answered since start, and scans written to the database.
    pub fn counts(&self) -> (u64, u64) {
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

/// Writes a batch, retrying with backoff; `false` if it could not be written.
async fn write_with_retries(db: &DatabaseConnection, scans: Vec<PendingScan>) -> bool {
    let mut pending = scans;
    for attempt in 1..=6u64 {
        match write_batch(db, pending).await {
            Ok(()) => return true,
            Err((err, returned)) => {
                if attempt == 6 {
                    tracing::error!(error = %err, lost = returned.len(), "writing scans failed for good");
                    return false;
                }
                tracing::warn!(error = %err, attempt, "writing scans failed; retrying");
                tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                pending = returned;
            }
        }
    }
    false
}

fn scan_row(
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
        client_class: input.client_class,
        verdict: verdict.label(),
        repeat_by_same_client: repeat,
        province_code: input.province_code.clone(),
        latitude: input.position.map(|p| p.0),
        longitude: input.position.map(|p| p.1),
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
    flag: Option<&'static str>,
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
            client_hash, client_class, verdict, repeat_by_same_client, province_code, latitude, \
            longitude) \
            SELECT value ->> 'stamp_id', value ->> 'cooperative_id', value ->> 'code', \
            value ->> 'scanned_at', value ->> 'scanned_on', value ->> 'client_hash', \
            value ->> 'client_class', value ->> 'verdict', value ->> 'repeat_by_same_client', \
            value ->> 'province_code', value ->> 'latitude', value ->> 'longitude' \
            FROM json_each(?)",
        add_counters: "UPDATE stamps SET scan_count = scan_count + d.scans, \
            first_scanned_at = coalesce(first_scanned_at, d.first_at), \
            last_scanned_at = CASE WHEN last_scanned_at > d.last_at THEN last_scanned_at \
                ELSE d.last_at END, \
            distinct_clients = max(distinct_clients, d.clients), \
            flagged = CASE WHEN d.flag IS NULL THEN flagged ELSE TRUE END, \
            flag_reason = CASE WHEN d.flag IS NULL OR flagged THEN flag_reason ELSE d.flag END \
            FROM (SELECT value ->> 'id' AS id, value ->> 'scans' AS scans, \
                value ->> 'first_at' AS first_at, value ->> 'last_at' AS last_at, \
                value ->> 'clients' AS clients, value ->> 'flag' AS flag FROM json_each(?)) AS d \
            WHERE stamps.id = d.id",
    };

    const POSTGRES: Self = Self {
        insert_scans: "INSERT INTO scans (stamp_id, cooperative_id, code, scanned_at, scanned_on, \
            client_hash, client_class, verdict, repeat_by_same_client, province_code, latitude, \
            longitude) \
            SELECT stamp_id, cooperative_id, code, scanned_at, scanned_on, client_hash, \
            client_class, verdict, repeat_by_same_client, province_code, latitude, longitude \
            FROM json_to_recordset($1::json) AS r(stamp_id bigint, cooperative_id bigint, \
                code text, scanned_at timestamptz, scanned_on date, client_hash text, \
                client_class text, verdict text, repeat_by_same_client boolean, \
                province_code text, latitude double precision, longitude double precision)",
        add_counters: "UPDATE stamps SET scan_count = stamps.scan_count + d.scans, \
            first_scanned_at = coalesce(stamps.first_scanned_at, d.first_at), \
            last_scanned_at = greatest(stamps.last_scanned_at, d.last_at), \
            distinct_clients = greatest(stamps.distinct_clients, d.clients), \
            flagged = stamps.flagged OR d.flag IS NOT NULL, \
            flag_reason = CASE WHEN d.flag IS NULL OR stamps.flagged THEN stamps.flag_reason \
                ELSE d.flag END \
            FROM json_to_recordset($1::json) AS d(id bigint, scans bigint, \
                first_at timestamptz, last_at timestamptz, clients integer, flag text) \
            WHERE stamps.id = d.id",
    };
}

/// Writes scans and their stamps' counters in one transaction; on failure hands the batch
/// back for a retry.
async fn write_batch(
    db: &DatabaseConnection,
    batch: Vec<PendingScan>,
) -> Result<(), (DbErr, Vec<PendingScan>)> {
    let result = async {
        let backend = db.get_database_backend();
        let sql = BatchSql::of(backend);
        let encoding = |e: serde_json::Error| DbErr::Custom(format!("encoding scans: {e}"));
        // In stamp order (the order of `idx_scans_stamp`, the index whose pages the rows
        // scatter over), each stamp's scans still in the order they came.
        let mut rows: Vec<&ScanRow> = batch.iter().map(|s| &s.row).collect();
        rows.sort_by_key(|row| row.stamp_id);
        let rows = serde_json::to_string(&rows).map_err(encoding)?;
        let counters = serde_json::to_string(&counter_deltas(&batch)).map_err(encoding)?;
        let txn = crate::db::begin_write(db).await?;
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
        txn.commit().await
    }
    .await;
    result.map_err(|err| (err, batch))
}

/// One counter delta per stamp of the batch: at thousands of scans a second most scans touch
/// a different stamp, but a copied code scanned in a burst is counted once per batch.
fn counter_deltas(batch: &[PendingScan]) -> Vec<CounterDelta> {
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
            });
        delta.scans += 1;
        delta.first_at = delta.first_at.min(update.at);
        delta.last_at = delta.last_at.max(update.at);
        // Distinct clients only grow: the latest judgement holds the largest count.
        delta.clients = delta.clients.max(update.distinct);
        delta.flag = delta.flag.or(update.flag);
    }
    let mut deltas: Vec<CounterDelta> = per_stamp.into_values().collect();
    // Stamps in id order: concurrent writers (several app servers) lock rows in one order.
    deltas.sort_unstable_by_key(|d| d.id);
    deltas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_agents_are_classified() {
        assert_eq!(
            client_class("Mozilla/5.0 (Linux; Android 12; SM-A135F) Mobile Safari/537.36"),
            "mobile"
        );
        assert_eq!(
            client_class("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0)"),
            "mobile"
        );
        assert_eq!(
            client_class("Mozilla/5.0 (Windows NT 10.0; Win64; x64)"),
            "desktop"
        );
        assert_eq!(client_class("curl/8.5.0"), "app");
        assert_eq!(
            client_class("okhttp/4.12.0"),
            "app",
            "a scanning app counts"
        );
        for preview in [
            "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
            "WhatsApp/2.23.20.0",
            "TelegramBot (like TwitterBot)",
            "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
            "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
        ] {
            assert_eq!(client_class(preview), "bot", "{preview}");
        }
        assert_eq!(client_class(""), "other");
    }

    #[test]
    fn distances_are_great_circle_kilometres() {
        let hanoi = (21.03, 105.85);
        let lao_cai = (22.48, 103.97);
        let sa_pa = (22.34, 103.84);
        let d = distance_km(hanoi, lao_cai);
        assert!(
            (240.0..260.0).contains(&d),
            "Hà Nội–Lào Cai is about 250 km, got {d}"
        );
        assert!(distance_km(lao_cai, sa_pa) < 25.0);
        assert_eq!(distance_km(sa_pa, sa_pa), 0.0);
    }

    #[test]
    fn positions_far_apart_are_told_and_near_ones_are_not() {
        let mut state = StampState::default();
        assert!(!state.add_position((22.48, 103.97)), "the first position");
        assert!(
            !state.add_position((22.34, 103.84)),
            "Sa Pa is near Lào Cai"
        );
        assert!(
            state.add_position((10.78, 106.70)),
            "Hồ Chí Minh City is far"
        );
        for i in 0..20 {
            state.add_position((22.0 + f64::from(i) / 100.0, 104.0));
        }
        assert_eq!(state.positions.len(), REMEMBERED_PLACES);
    }

    #[test]
    fn client_keys_are_salted_and_never_raw() {
        let a = ClientHasher::new(Secret::new("salt one"));
        let b = ClientHasher::new(Secret::new("salt two"));
        let ip: IpAddr = "113.161.10.25".parse().unwrap();
        assert_eq!(
            a.of_network(ip, "ua"),
            a.of_network("113.161.10.99".parse().unwrap(), "ua")
        );
        assert_ne!(a.of_network(ip, "ua"), b.of_network(ip, "ua"));
        assert!(!a.of_network(ip, "ua").hex().contains("113"));
        assert_eq!(
            ClientKey::from_hex(&a.of_cookie("x").hex()),
            Some(a.of_cookie("x"))
        );
        let key = a.of_network(ip, "ua");
        assert_eq!(a.from_cookie(&a.cookie_for(key)), Some(key));
        assert_eq!(
            b.from_cookie(&a.cookie_for(key)),
            None,
            "a cookie cannot be minted without the secret"
        );
        assert_eq!(
            a.from_cookie("00112233445566778899aabbccddeeff.0011223344556677"),
            None
        );
    }
}
