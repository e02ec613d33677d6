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
//!
//! The parts: `client` identifies who scans, `state` holds what is known of a stamp's checks
//! and judges a scan against it, `writer` writes scans to the database; [`ScanService`] ties
//! them together.

mod client;
mod state;
mod writer;

use std::sync::Arc;

use chrono::Utc;
use dashmap::DashMap;
use sea_orm::DatabaseConnection;
use tokio::sync::Mutex;

pub use client::{BOT, ClientHasher, ClientKey, client_class};
use state::StampState;
pub use state::{
    COPY_DISTINCT_CLIENTS, FAR_APART_KM, ScanCounters, ScanInput, StampFacts, Verdict, distance_km,
};
use writer::{PendingScan, ScanWriter, StampUpdate, scan_row};

/// Judges and records scans.
pub struct ScanService {
    db: DatabaseConnection,
    states: DashMap<i64, Arc<Mutex<StampState>>>,
    writer: ScanWriter,
}

impl ScanService {
    /// Creates the service and starts its writer task.
    pub fn start(db: DatabaseConnection) -> Arc<Self> {
        Arc::new(Self {
            writer: ScanWriter::start(db.clone()),
            db,
            states: DashMap::new(),
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
        let judgement = state.lock().await.judge(stamp.void_reason, &input, now);
        self.writer
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
                    flag: counted.flag,
                }),
            })
            .await;
        Ok(judgement.verdict)
    }

    /// Records the scan of a code that no stamp has (for fake-code analytics).
    pub async fn record_unknown(&self, code: &str, input: ScanInput) {
        let now = Utc::now();
        let code: String = code.chars().take(32).collect();
        self.writer
            .enqueue(PendingScan {
                row: scan_row(None, &code, now, &input, &Verdict::Unknown, false),
                stamp_update: None,
            })
            .await;
    }

    async fn state_of(
        &self,
        stamp_id: i64,
        counters: Option<ScanCounters>,
    ) -> Result<Arc<Mutex<StampState>>, sea_orm::DbErr> {
        if let Some(state) = self.states.get(&stamp_id) {
            return Ok(state.clone());
        }
        let loaded = Arc::new(Mutex::new(
            StampState::load(&self.db, stamp_id, counters).await?,
        ));
        // Bound memory: a process that has seen a very large number of stamps starts afresh;
        // states reload from the database, which the writer keeps current.
        if self.states.len() > 500_000 {
            self.states.clear();
        }
        Ok(self.states.entry(stamp_id).or_insert(loaded).clone())
    }

    /// Forgets every in-memory stamp state, as a restart would: the next scan of each stamp
    /// reloads it from the database.
    pub fn forget_states(&self) {
        self.states.clear();
    }

    /// Waits until every scan queued so far is written.
    pub async fn flush(&self) {
        self.writer.flush().await;
    }

    /// Called once the HTTP server has finished its requests: later scans (there should be
    /// none) are written directly, and everything queued is written before this returns.
    pub async fn shutdown(&self) {
        self.writer.shutdown().await;
    }

    /// Scans answered since start, and scans written to the database.
    pub fn counts(&self) -> (u64, u64) {
        self.writer.counts()
    }
}
