//! Recording scans and judging them.
//!
//! The scan page is the most visited page of the system, so a scan must not wait for the
//! database: the verdict is computed from an in-memory state per stamp (loaded from the
//! database on first touch), and the scan row is handed to a writer task that inserts scans in
//! batches and updates the stamp's counters in one transaction per batch. The hand-off waits
//! when the queue is full rather than dropping anything, and a graceful shutdown drains the
//! queue before the process exits.
//!
//! Copy detection (see [`state`]): a stamp is flagged as a likely copy when many distinct
//! checkers check it, or when two checkers bought it in different provinces or checked it more
//! than [`FAR_APART_KM`] apart. A checker is a client cookie on a network: one person re-opening
//! their own check is told so, a fresh cookie on a network that checked before is not another
//! person, one client's answers never count against each other, and a flood from one client
//! changes nothing but its own rate limit.
//!
//! The parts: `client` identifies who scans, `state` holds what is known of a stamp's checks
//! and judges a scan against it, `writer` writes scans to the database; [`ScanService`] ties
//! them together.

mod client;
mod shared;
mod state;
mod writer;

use std::sync::Arc;

use chrono::Utc;
use dashmap::DashMap;
use sea_orm::DatabaseConnection;
use tokio::sync::Mutex;

use crate::error::AppResult;
use crate::shared::Shared;

pub use client::{BOT, ClientHasher, ClientKey, NetworkKey, client_class};
use state::StampState;
pub use state::{
    COPY_DISTINCT_CLIENTS, FAR_APART_KM, NotVouchedReason, RecallNotice, ScanCounters, ScanInput,
    StampFacts, Verdict, distance_km,
};
use writer::{PendingScan, ScanWriter, StampUpdate, scan_row};

/// What a reviewer decided about a likely-copy flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagDecision {
    /// Not a copy (a family scanning, a shop demonstrating): evidence so far no longer counts.
    Clear,
    /// A copied code.
    Confirm,
}

/// Judges and records scans: in this process on one app server, through Redis when several
/// share one (see [`shared`]).
pub struct ScanService {
    store: Store,
}

enum Store {
    Local {
        db: DatabaseConnection,
        states: DashMap<i64, Arc<Mutex<StampState>>>,
        writer: ScanWriter,
    },
    Shared(Arc<shared::SharedScans>),
}

impl ScanService {
    /// Creates the service and starts its writer task.
    pub fn start(db: DatabaseConnection, redis: Option<Arc<Shared>>) -> Arc<Self> {
        let store = match redis {
            None => Store::Local {
                writer: ScanWriter::start(db.clone()),
                db,
                states: DashMap::new(),
            },
            Some(redis) => Store::Shared(shared::SharedScans::start(db, redis)),
        };
        Arc::new(Self { store })
    }

    /// Judges a scan of a known stamp and records it (queued on one server; in Redis's stream,
    /// atomically with the stamp's state, with several).
    pub async fn record(&self, stamp: &StampFacts, input: ScanInput) -> AppResult<Verdict> {
        let (db, states, writer) = match &self.store {
            Store::Shared(shared) => return shared.record(stamp, &input).await,
            Store::Local { db, states, writer } => (db, states, writer),
        };
        let now = Utc::now();
        let state = state_of(db, states, stamp.id, stamp.counters).await?;
        let judgement = state.lock().await.judge(stamp, &input, now);
        writer
            .enqueue(PendingScan {
                row: scan_row(
                    Some(stamp),
                    &stamp.code,
                    now,
                    &input,
                    &judgement.verdict,
                    judgement.repeat,
                ),
                stamp_update: judgement.counted.map(|counted| StampUpdate {
                    stamp_id: stamp.id,
                    at: now,
                    distinct: counted.distinct,
                    flag: counted.flag.map(std::borrow::Cow::Borrowed),
                }),
            })
            .await;
        Ok(judgement.verdict)
    }

    /// Records the scan of a code that no stamp has (for fake-code analytics).
    pub async fn record_unknown(&self, code: &str, input: ScanInput) -> AppResult<()> {
        let code: String = code.chars().take(32).collect();
        match &self.store {
            Store::Shared(shared) => shared.record_unknown(&code, &input).await,
            Store::Local { writer, .. } => {
                let now = Utc::now();
                writer
                    .enqueue(PendingScan {
                        row: scan_row(None, &code, now, &input, &Verdict::Unknown, false),
                        stamp_update: None,
                    })
                    .await;
                Ok(())
            }
        }
    }

    /// A reviewer's decision on a stamp's likely-copy flag, applied to the state the next scans
    /// are judged against (the database row is the caller's: see `trace::flags`).
    pub async fn review_flag(
        &self,
        stamp_id: i64,
        decision: FlagDecision,
        at: chrono::DateTime<Utc>,
    ) -> AppResult<()> {
        match &self.store {
            Store::Shared(shared) => shared.review(stamp_id, decision, at).await,
            Store::Local { db, states, .. } => {
                let state = state_of(db, states, stamp_id, None).await?;
                let mut state = state.lock().await;
                match decision {
                    FlagDecision::Clear => state.clear_flag(at),
                    FlagDecision::Confirm => state.confirm_flag(),
                }
                Ok(())
            }
        }
    }

    /// Whether the stamp's live state says it is flagged now, and whether confirmed: a flag the
    /// writer has not stored yet counts.
    pub async fn flag_of(&self, stamp_id: i64) -> AppResult<(bool, bool)> {
        let state = match &self.store {
            Store::Shared(shared) => shared.state(stamp_id).await?,
            Store::Local { db, states, .. } => {
                let state = state_of(db, states, stamp_id, None).await?;
                state.lock().await.clone()
            }
        };
        Ok(state.flag_status())
    }

    /// Forgets every in-memory stamp state, as a restart would: the next scan of each stamp
    /// reloads it from the database (nothing to forget with Redis).
    pub fn forget_states(&self) {
        if let Store::Local { states, .. } = &self.store {
            states.clear();
        }
    }

    /// Waits until every scan recorded so far is written to the database.
    pub async fn flush(&self) {
        match &self.store {
            Store::Local { writer, .. } => writer.flush().await,
            Store::Shared(shared) => shared.flush().await,
        }
    }

    /// Called once the HTTP server has finished its requests: on one server, later scans (there
    /// should be none) are written directly and everything queued is written before this
    /// returns; with Redis, this server's writer stops after its batch (what is left in the
    /// streams is written by the other servers).
    pub async fn shutdown(&self) {
        match &self.store {
            Store::Local { writer, .. } => writer.shutdown().await,
            Store::Shared(shared) => shared.shutdown().await,
        }
    }

    /// Scans answered since start, and scans written to the database by this server.
    pub fn counts(&self) -> (u64, u64) {
        match &self.store {
            Store::Local { writer, .. } => writer.counts(),
            Store::Shared(shared) => shared.counts(),
        }
    }

    /// Scans judged but not written yet: this server's queue, or every server's streams.
    pub async fn backlog(&self) -> u64 {
        match &self.store {
            Store::Local { writer, .. } => {
                let (judged, written) = writer.counts();
                judged.saturating_sub(written)
            }
            Store::Shared(shared) => shared.backlog().await.unwrap_or(0),
        }
    }
}

/// A stamp's state in this process, loaded from the database on first touch.
async fn state_of(
    db: &DatabaseConnection,
    states: &DashMap<i64, Arc<Mutex<StampState>>>,
    stamp_id: i64,
    counters: Option<ScanCounters>,
) -> Result<Arc<Mutex<StampState>>, sea_orm::DbErr> {
    if let Some(state) = states.get(&stamp_id) {
        return Ok(state.clone());
    }
    let loaded = Arc::new(Mutex::new(StampState::load(db, stamp_id, counters).await?));
    // Bound memory: a process that has seen a very large number of stamps starts afresh;
    // states reload from the database, which the writer keeps current.
    if states.len() > 500_000 {
        states.clear();
    }
    Ok(states.entry(stamp_id).or_insert(loaded).clone())
}
