//! The write side of the message outbox: asking for a message inside the caller's transaction.
//!
//! Imports only entities, domain types, the error type and the catalogue's languages, so that
//! every service can call it (see the module graph in ARCHITECTURE.md).

use std::collections::BTreeMap;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ConnectionTrait, EntityTrait, Set};

use super::{Channel, Template};
use crate::entities::{message_outbox, notification_preferences, users};
use crate::error::AppResult;
use crate::i18n::Lang;

/// One message to send.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// Unique per message ever asked for: the same key again asks for nothing more.
    pub dedupe_key: String,
    pub user_id: Option<i64>,
    /// An e-mail address, or a phone number in `+84…` form for SMS and Zalo.
    pub recipient: String,
    pub channel: Channel,
    pub template: Template,
    /// The values of the template's `{placeholders}`, already formatted.
    pub params: BTreeMap<String, String>,
    pub locale: Lang,
}

/// Writes the message row; `false` when a message with this key was asked for already.
pub async fn enqueue(db: &impl ConnectionTrait, message: NewMessage) -> AppResult<bool> {
    let now = Utc::now();
    let dedupe_key: String = message.dedupe_key.chars().take(200).collect();
    let row = message_outbox::ActiveModel {
        dedupe_key: Set(dedupe_key),
        user_id: Set(message.user_id),
        recipient: Set(message.recipient),
        channel: Set(message.channel.as_str().to_owned()),
        template: Set(message.template.as_str().to_owned()),
        params: Set(serde_json::to_string(&message.params).unwrap_or_else(|_| "{}".into())),
        locale: Set(message.locale.code().to_owned()),
        created_at: Set(now),
        attempts: Set(0),
        next_attempt_at: Set(now),
        sent_at: Set(None),
        failed_at: Set(None),
        last_error: Set(None),
        ..Default::default()
    };
    let inserted = message_outbox::Entity::insert(row)
        .on_conflict(
            OnConflict::column(message_outbox::Column::DedupeKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(inserted > 0)
}

/// How a user is reached: the channel and address, the language, and what they declined.
#[derive(Debug, Clone)]
pub struct Reach {
    pub channel: Channel,
    pub recipient: String,
    pub locale: Lang,
    pub unsubscribed: Vec<String>,
}

impl Reach {
    /// Whether the user still takes messages of this kind.
    pub fn wants(&self, template: Template) -> bool {
        !template.can_unsubscribe() || !self.unsubscribed.iter().any(|t| t == template.as_str())
    }
}

/// The channel a user chose, if they can be reached there; otherwise e-mail when they have
/// an address, SMS to their phone when not. `None` for a user with neither.
pub fn reach_of(
    user: &users::Model,
    preferences: Option<&notification_preferences::Model>,
) -> Option<Reach> {
    let chosen = preferences.and_then(|p| Channel::parse(&p.channel));
    let address_for = |channel: Channel| match channel {
        Channel::Email => user.email.clone(),
        Channel::Sms | Channel::Zalo => user.phone.clone(),
    };
    let (channel, recipient) = chosen
        .and_then(|c| address_for(c).map(|a| (c, a)))
        .or_else(|| user.email.clone().map(|a| (Channel::Email, a)))
        .or_else(|| user.phone.clone().map(|a| (Channel::Sms, a)))?;
    Some(Reach {
        channel,
        recipient,
        locale: preferences
            .and_then(|p| Lang::parse(&p.locale))
            .unwrap_or_default(),
        unsubscribed: preferences
            .map(|p| split_kinds(&p.unsubscribed))
            .unwrap_or_default(),
    })
}

/// The kinds in a stored comma-separated list.
pub fn split_kinds(stored: &str) -> Vec<String> {
    stored
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect()
}

/// How a user is reached now, read from the database.
pub async fn reach(db: &impl ConnectionTrait, user_id: i64) -> AppResult<Option<Reach>> {
    let Some(user) = users::Entity::find_by_id(user_id).one(db).await? else {
        return Ok(None);
    };
    let preferences = notification_preferences::Entity::find_by_id(user_id)
        .one(db)
        .await?;
    Ok(reach_of(&user, preferences.as_ref()))
}

/// Asks for a message to a user by the channel they chose, unless they unsubscribed from this
/// kind. The dedupe key is `{key}:{user_id}`. `false` when nothing was asked for.
pub async fn to_user(
    db: &impl ConnectionTrait,
    user_id: i64,
    template: Template,
    key: &str,
    params: BTreeMap<String, String>,
) -> AppResult<bool> {
    let Some(reach) = reach(db, user_id).await? else {
        return Ok(false);
    };
    if !reach.wants(template) {
        return Ok(false);
    }
    enqueue(
        db,
        NewMessage {
            dedupe_key: format!("{key}:{user_id}"),
            user_id: Some(user_id),
            recipient: reach.recipient,
            channel: reach.channel,
            template,
            params,
            locale: reach.locale,
        },
    )
    .await
}
