//! Exactly-once processing of provider events (bank transfers, Stripe events).
//!
//! An event is recorded in `webhook_events` under a unique (provider, event id) key in the
//! same database transaction that acts on it. A replay, or a duplicate racing the first
//! delivery, hits the unique key and does nothing; the raw payload stays for audit.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set};

use crate::entities::webhook_events;
use crate::error::{AppResult, is_unique_violation};

/// What the event is, as recorded.
#[derive(Debug, Clone, Copy)]
pub struct EventRecord<'a> {
    pub provider: &'a str,
    pub event_id: &'a str,
    pub event_type: &'a str,
    pub payload: &'a str,
}

/// Records the event in `txn` and returns its row id, or `None` when it was already recorded
/// (the caller then rolls back and answers `duplicate`).
pub async fn record(txn: &DatabaseTransaction, event: EventRecord<'_>) -> AppResult<Option<i64>> {
    let inserted = webhook_events::ActiveModel {
        provider: Set(event.provider.to_owned()),
        event_id: Set(event.event_id.to_owned()),
        event_type: Set(event.event_type.to_owned()),
        payload: Set(event.payload.to_owned()),
        outcome: Set("processing".into()),
        detail: Set(None),
        received_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(txn)
    .await;
    match inserted {
        Ok(row) => Ok(Some(row.id)),
        Err(err) if is_unique_violation(&err) => Ok(None),
        Err(err) => Err(err.into()),
    }
}

/// Records what processing the event did.
pub async fn set_outcome(txn: &DatabaseTransaction, id: i64, outcome: &str) -> AppResult<()> {
    webhook_events::Entity::update_many()
        .col_expr(webhook_events::Column::Outcome, Expr::value(outcome))
        .filter(webhook_events::Column::Id.eq(id))
        .exec(txn)
        .await?;
    Ok(())
}
