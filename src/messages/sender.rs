//! The sender that runs in every app server: claims due messages, renders and sends them,
//! and records the outcome.
//!
//! A claim pushes the row's `next_attempt_at` ahead by [`LEASE`] (on PostgreSQL under
//! `FOR UPDATE SKIP LOCKED`, on SQLite by a conditional `UPDATE` on the value read), so two
//! senders never take the same row, and a sender that dies mid-send leaves its rows to be taken
//! again when the lease runs out. A message can thus be sent twice after a crash between the
//! provider's acceptance and our record of it — never lost; e-mails carry a stable Message-ID.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use tokio::sync::watch;

use super::channel::{MessageChannel, SendError, TextFiles};
use super::mail::{Email, Mailer};
use super::render::render;
use super::{Channel, Template, unsubscribe};
use crate::config::Config;
use crate::entities::message_outbox;
use crate::i18n::Lang;

/// How long a claimed message is left to its sender before another may take it.
pub const LEASE: Duration = Duration::from_secs(300);

/// Messages claimed per round.
const BATCH: u64 = 20;

/// The channels messages leave by.
pub struct Outlets {
    pub mail: Mailer,
    pub sms: Box<dyn MessageChannel>,
    pub zalo: Box<dyn MessageChannel>,
}

impl Outlets {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let messages = &config.messages;
        let sms: Box<dyn MessageChannel> = match &messages.sms {
            Some(esms) => Box::new(super::esms::Esms::new(esms.clone())?),
            None => Box::new(TextFiles {
                dir: config.data_dir.join("outbox-sms"),
            }),
        };
        let zalo: Box<dyn MessageChannel> = match &messages.zalo {
            Some(zalo) => Box::new(super::zalo::Zalo::new(zalo.clone())?),
            None => Box::new(TextFiles {
                dir: config.data_dir.join("outbox-zalo"),
            }),
        };
        Ok(Self {
            mail: Mailer::from_config(messages, &config.data_dir)?,
            sms,
            zalo,
        })
    }
}

/// A running sender; [`SenderHandle::shutdown`] stops it after its current message.
pub struct SenderHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl SenderHandle {
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// Starts the sender of this app server.
pub fn spawn(db: DatabaseConnection, config: Arc<Config>) -> anyhow::Result<SenderHandle> {
    let outlets = Arc::new(Outlets::from_config(&config)?);
    let (stop, mut stopped) = watch::channel(false);
    let task = tokio::spawn(async move {
        loop {
            match drain_once(&db, &config, &outlets, Utc::now()).await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "message sender: database error"),
            }
            tokio::select! {
                _ = tokio::time::sleep(config.messages.poll_interval) => {}
                _ = stopped.changed() => return,
            }
            if *stopped.borrow() {
                return;
            }
        }
    });
    Ok(SenderHandle { stop, task })
}

/// Claims due messages, sends them and records each outcome; the number handled.
pub async fn drain_once(
    db: &DatabaseConnection,
    config: &Config,
    outlets: &Outlets,
    now: DateTime<Utc>,
) -> Result<usize, sea_orm::DbErr> {
    let rows = claim(db, now).await?;
    for row in &rows {
        let outcome = send(config, outlets, row).await;
        record(db, config, row, outcome, Utc::now()).await?;
    }
    Ok(rows.len())
}

fn due(now: DateTime<Utc>) -> sea_orm::Select<message_outbox::Entity> {
    message_outbox::Entity::find()
        .filter(message_outbox::Column::SentAt.is_null())
        .filter(message_outbox::Column::FailedAt.is_null())
        .filter(message_outbox::Column::NextAttemptAt.lte(now))
        .order_by_asc(message_outbox::Column::Id)
        .limit(BATCH)
}

fn lease_end(now: DateTime<Utc>) -> DateTime<Utc> {
    now + chrono::Duration::from_std(LEASE).unwrap_or_else(|_| chrono::Duration::minutes(5))
}

async fn claim(
    db: &DatabaseConnection,
    now: DateTime<Utc>,
) -> Result<Vec<message_outbox::Model>, sea_orm::DbErr> {
    if db.get_database_backend() == DbBackend::Postgres {
        let txn = db.begin().await?;
        let rows = due(now)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .all(&txn)
            .await?;
        if !rows.is_empty() {
            message_outbox::Entity::update_many()
                .col_expr(
                    message_outbox::Column::NextAttemptAt,
                    Expr::value(lease_end(now)),
                )
                .filter(message_outbox::Column::Id.is_in(rows.iter().map(|r| r.id)))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
        return Ok(rows);
    }
    let mut claimed = Vec::new();
    for row in due(now).all(db).await? {
        let taken = message_outbox::Entity::update_many()
            .col_expr(
                message_outbox::Column::NextAttemptAt,
                Expr::value(lease_end(now)),
            )
            .filter(message_outbox::Column::Id.eq(row.id))
            .filter(message_outbox::Column::NextAttemptAt.eq(row.next_attempt_at))
            .filter(message_outbox::Column::SentAt.is_null())
            .filter(message_outbox::Column::FailedAt.is_null())
            .exec(db)
            .await?
            .rows_affected;
        if taken == 1 {
            claimed.push(row);
        }
    }
    Ok(claimed)
}

async fn send(
    config: &Config,
    outlets: &Outlets,
    row: &message_outbox::Model,
) -> Result<(), SendError> {
    let (Some(template), Some(channel)) =
        (Template::parse(&row.template), Channel::parse(&row.channel))
    else {
        return Err(SendError::Permanent(format!(
            "unknown template {:?} or channel {:?}",
            row.template, row.channel
        )));
    };
    let params: BTreeMap<String, String> = serde_json::from_str(&row.params).unwrap_or_default();
    let lang = Lang::parse(&row.locale).unwrap_or_default();
    let unsubscribe_link = row
        .user_id
        .filter(|_| template.can_unsubscribe())
        .map(|user| {
            format!(
                "{}/unsubscribe/{}",
                config.public_url,
                unsubscribe::token(config.secret_key.expose(), user, template)
            )
        });
    let rendered = render(template, lang, &params, unsubscribe_link.as_deref());
    let tracking_id = format!("ocop-message-{}", row.id);
    match channel {
        Channel::Email => {
            outlets
                .mail
                .send(Email {
                    to: &row.recipient,
                    subject: &rendered.subject,
                    text: &rendered.text,
                    unsubscribe: unsubscribe_link.as_deref().map(|link| (link, None)),
                    message_id: tracking_id,
                    kind: template.as_str(),
                })
                .await
        }
        Channel::Sms => {
            outlets
                .sms
                .send(&row.recipient, &rendered.short, &tracking_id)
                .await
        }
        Channel::Zalo => {
            outlets
                .zalo
                .send(&row.recipient, &rendered.short, &tracking_id)
                .await
        }
    }
}

/// The wait after `attempts` failed attempts: `base`, doubled each time, at most `max`.
pub fn backoff(attempts: i32, base: Duration, max: Duration) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 30) - 1).unwrap_or(0);
    base.saturating_mul(1u32 << exponent.min(20)).min(max)
}

async fn record(
    db: &DatabaseConnection,
    config: &Config,
    row: &message_outbox::Model,
    outcome: Result<(), SendError>,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    let attempts = row.attempts.saturating_add(1);
    let mut update = message_outbox::Entity::update_many()
        .col_expr(message_outbox::Column::Attempts, Expr::value(attempts))
        .filter(message_outbox::Column::Id.eq(row.id));
    let secret = Template::parse(&row.template).is_some_and(Template::is_secret);
    match outcome {
        Ok(()) => {
            update = update
                .col_expr(message_outbox::Column::SentAt, Expr::value(now))
                .col_expr(
                    message_outbox::Column::LastError,
                    Expr::value(Option::<String>::None),
                );
            if secret {
                // A reset link or a code is not kept once it has left.
                update = update.col_expr(message_outbox::Column::Params, Expr::value("{}"));
            }
        }
        Err(SendError::Permanent(error)) => {
            tracing::warn!(message = row.id, %error, "message refused for good");
            update = update
                .col_expr(message_outbox::Column::FailedAt, Expr::value(now))
                .col_expr(
                    message_outbox::Column::LastError,
                    Expr::value(truncate(&error)),
                );
        }
        Err(SendError::Transient(error)) => {
            let give_up_at = row.created_at
                + chrono::Duration::from_std(config.messages.give_up_after)
                    .unwrap_or_else(|_| chrono::Duration::hours(24));
            update = update.col_expr(
                message_outbox::Column::LastError,
                Expr::value(truncate(&error)),
            );
            if now >= give_up_at {
                tracing::warn!(message = row.id, %error, "message given up after {attempts} attempts");
                update = update.col_expr(message_outbox::Column::FailedAt, Expr::value(now));
            } else {
                tracing::info!(message = row.id, %error, "message will be retried");
                let wait = backoff(
                    attempts,
                    config.messages.retry_base,
                    config.messages.retry_max,
                );
                let next =
                    (now + chrono::Duration::from_std(wait).unwrap_or_default()).min(give_up_at);
                update = update.col_expr(message_outbox::Column::NextAttemptAt, Expr::value(next));
            }
        }
    }
    update.exec(db).await?;
    Ok(())
}

fn truncate(error: &str) -> String {
    error.chars().take(2000).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum() {
        let base = Duration::from_secs(30);
        let max = Duration::from_secs(1800);
        assert_eq!(backoff(1, base, max), Duration::from_secs(30));
        assert_eq!(backoff(2, base, max), Duration::from_secs(60));
        assert_eq!(backoff(3, base, max), Duration::from_secs(120));
        assert_eq!(backoff(20, base, max), max);
    }
}
