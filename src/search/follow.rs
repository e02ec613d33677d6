//! Following the outbox with this app server's own position: how every server's **embedded**
//! index sees every change.
//!
//! With Meilisearch the servers share one index, so they share the work: each row is claimed by
//! one server (`FOR UPDATE SKIP LOCKED`, see [`super::outbox::claim_due`]). An embedded index
//! belongs to one server, so no server may take a row away from the others: each reads the
//! outbox past its own position, applies what it read, and remembers how far it got (in its
//! generation's folder, so a restart goes on from there).
//!
//! **Ids are not commit order on PostgreSQL.** A sequence hands out ids when rows are inserted,
//! and transactions commit in another order: row 41 may appear after row 42 was read. So the
//! ids skipped below the position are remembered as *gaps* and asked for again until they
//! appear or [`GAP_WAIT`] has passed (the transaction rolled back, or committed far later than
//! any of this app's). On SQLite the single writer takes ids in commit order: a gap is a rolled
//! back row and is dropped at once.
//!
//! Rows younger than the indexer's delay (`OCOP_SEARCH_INDEXER_DELAY_MS`, a test knob) stop the
//! reading: the position never passes a row that is not due yet.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::entities::search_outbox;

/// How long a gap below the position is waited for on PostgreSQL (as long as a rebuild's
/// replay reaches back: see [`super::outbox::REPLAY_MARGIN`]).
pub const GAP_WAIT: Duration = super::outbox::REPLAY_MARGIN;

/// How far a server got, as saved in its generation's folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Position {
    /// Every row up to this id was applied or is a gap.
    pub after_id: i64,
    /// Ids below `after_id` not seen yet, with when they were first missed.
    #[serde(default)]
    pub gaps: Vec<(i64, DateTime<Utc>)>,
    /// When this was saved: a server away for longer than the outbox keeps its rows rebuilds.
    pub saved_at: DateTime<Utc>,
}

impl Position {
    /// The start of a freshly built or swapped-in generation: right after the outbox rows it
    /// holds.
    pub fn at(after_id: i64) -> Self {
        Self {
            after_id,
            gaps: Vec::new(),
            saved_at: Utc::now(),
        }
    }
}

/// One batch read past the position: the rows to apply, and where the position goes once
/// they are applied.
#[derive(Debug)]
pub struct Reading {
    pub rows: Vec<search_outbox::Model>,
    next: Position,
}

/// This server's reading of the outbox.
#[derive(Debug)]
pub struct Follower {
    position: Position,
    gap_wait: chrono::Duration,
}

impl Follower {
    /// A follower from `position`; `delay` is the indexer's (a gap is waited for that much
    /// longer, since its row only becomes due then).
    pub fn new(position: Position, backend: DbBackend, delay: Duration) -> Self {
        let gap_wait = match backend {
            DbBackend::Postgres => GAP_WAIT + delay,
            // SQLite's single writer takes ids in commit order: a gap is a rolled-back row.
            _ => Duration::ZERO,
        };
        Self {
            position,
            gap_wait: chrono::Duration::from_std(gap_wait)
                .unwrap_or_else(|_| chrono::Duration::days(1)),
        }
    }

    pub fn position(&self) -> &Position {
        &self.position
    }

    /// Reads up to `limit` rows past the position (and the gaps that appeared), stopping at the
    /// first row not due before `due_before`.
    pub async fn read(
        &self,
        db: &impl ConnectionTrait,
        limit: u64,
        due_before: DateTime<Utc>,
    ) -> Result<Reading, DbErr> {
        let now = Utc::now();
        let ahead = search_outbox::Entity::find()
            .filter(search_outbox::Column::Id.gt(self.position.after_id))
            .order_by_asc(search_outbox::Column::Id)
            .limit(limit)
            .all(db)
            .await?;
        let due: Vec<search_outbox::Model> = ahead
            .into_iter()
            .take_while(|row| row.enqueued_at <= due_before)
            .collect();
        let mut gaps: BTreeMap<i64, DateTime<Utc>> = self.position.gaps.iter().copied().collect();
        let mut rows = Vec::new();
        if !gaps.is_empty() {
            let ids: Vec<i64> = gaps.keys().copied().collect();
            for chunk in ids.chunks(500) {
                let found = search_outbox::Entity::find()
                    .filter(search_outbox::Column::Id.is_in(chunk.to_vec()))
                    .filter(search_outbox::Column::EnqueuedAt.lte(due_before))
                    .all(db)
                    .await?;
                for row in found {
                    gaps.remove(&row.id);
                    rows.push(row);
                }
            }
        }
        let mut after_id = self.position.after_id;
        for row in &due {
            for missing in after_id + 1..row.id {
                gaps.insert(missing, now);
            }
            after_id = row.id;
        }
        rows.extend(due);
        gaps.retain(|_, first_missed| now - *first_missed < self.gap_wait);
        Ok(Reading {
            rows,
            next: Position {
                after_id,
                gaps: gaps.into_iter().collect(),
                saved_at: now,
            },
        })
    }

    /// The rows of `reading` are in the index: move past them.
    pub fn advance(&mut self, reading: Reading) {
        self.position = reading.next;
    }

    /// Whether a reading changes the position (rows to apply, or gaps given up).
    pub fn moves(&self, reading: &Reading) -> bool {
        !reading.rows.is_empty() || reading.next.gaps.len() != self.position.gaps.len()
    }
}

/// The highest outbox id, with the ids of rows enqueued since `since` below it, for a
/// position that must not skip rows a rebuild might have missed (PostgreSQL).
pub async fn start_after(
    db: &impl ConnectionTrait,
    after_id: i64,
    since: Option<DateTime<Utc>>,
) -> Result<i64, DbErr> {
    let Some(since) = since else {
        return Ok(after_id);
    };
    let earliest: Option<Option<i64>> = search_outbox::Entity::find()
        .select_only()
        .column_as(search_outbox::Column::Id.min(), "min_id")
        .filter(search_outbox::Column::EnqueuedAt.gte(since))
        .into_tuple()
        .one(db)
        .await?;
    Ok(match earliest.flatten() {
        Some(id) if id <= after_id => id - 1,
        _ => after_id,
    })
}
