//! Each user's choices: the channel messages come by, their language, and the kinds of
//! message they unsubscribed from.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};

use super::outbox::split_kinds;
use super::{Channel, Template};
use crate::entities::{message_outbox, notification_preferences, users};
use crate::error::{AppError, AppResult};
use crate::i18n::Lang;

/// A user's choices as stored (defaults for a user who never chose).
#[derive(Debug, Clone)]
pub struct Preferences {
    pub channel: Channel,
    pub locale: Lang,
    pub unsubscribed: Vec<Template>,
    pub has_email: bool,
    pub has_phone: bool,
}

pub async fn load(db: &impl ConnectionTrait, user_id: i64) -> AppResult<Preferences> {
    let user = users::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    let stored = notification_preferences::Entity::find_by_id(user_id)
        .one(db)
        .await?;
    let reach = super::outbox::reach_of(&user, stored.as_ref());
    Ok(Preferences {
        channel: reach.as_ref().map_or(Channel::Email, |r| r.channel),
        locale: reach.as_ref().map(|r| r.locale).unwrap_or_default(),
        unsubscribed: stored
            .map(|s| split_kinds(&s.unsubscribed))
            .unwrap_or_default()
            .iter()
            .filter_map(|k| Template::parse(k))
            .collect(),
        has_email: user.email.is_some(),
        has_phone: user.phone.is_some(),
    })
}

/// Stores a user's choices. A channel the user has no address for is refused (422).
pub async fn save(
    db: &impl ConnectionTrait,
    user_id: i64,
    channel: Channel,
    locale: Lang,
    unsubscribed: &[Template],
) -> AppResult<()> {
    let current = load(db, user_id).await?;
    let reachable = match channel {
        Channel::Email => current.has_email,
        Channel::Sms | Channel::Zalo => current.has_phone,
    };
    if !reachable {
        return Err(crate::error::FieldErrors::single(
            "channel",
            crate::domain::FieldIssue::new(
                "channel_without_address",
                "add an e-mail address or a phone number for this channel first",
            ),
        ));
    }
    let kinds: Vec<&str> = unsubscribed
        .iter()
        .filter(|t| t.can_unsubscribe())
        .map(|t| t.as_str())
        .collect();
    upsert(
        db,
        user_id,
        channel.as_str(),
        locale.code(),
        &kinds.join(","),
    )
    .await
}

/// Adds one kind to the user's unsubscribed list (the one-click link).
pub async fn unsubscribe(
    db: &impl ConnectionTrait,
    user_id: i64,
    template: Template,
) -> AppResult<()> {
    let current = load(db, user_id).await?;
    let mut kinds: Vec<&str> = current.unsubscribed.iter().map(|t| t.as_str()).collect();
    if !kinds.contains(&template.as_str()) {
        kinds.push(template.as_str());
    }
    upsert(
        db,
        user_id,
        current.channel.as_str(),
        current.locale.code(),
        &kinds.join(","),
    )
    .await
}

async fn upsert(
    db: &impl ConnectionTrait,
    user_id: i64,
    channel: &str,
    locale: &str,
    unsubscribed: &str,
) -> AppResult<()> {
    let row = notification_preferences::ActiveModel {
        user_id: Set(user_id),
        channel: Set(channel.to_owned()),
        locale: Set(locale.to_owned()),
        unsubscribed: Set(unsubscribed.to_owned()),
        updated_at: Set(Utc::now()),
    };
    notification_preferences::Entity::insert(row)
        .on_conflict(
            OnConflict::column(notification_preferences::Column::UserId)
                .update_columns([
                    notification_preferences::Column::Channel,
                    notification_preferences::Column::Locale,
                    notification_preferences::Column::Unsubscribed,
                    notification_preferences::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Messages given up on, newest first, for administrators.
pub async fn failed_messages(
    db: &impl ConnectionTrait,
    limit: u64,
) -> AppResult<Vec<message_outbox::Model>> {
    Ok(message_outbox::Entity::find()
        .filter(message_outbox::Column::FailedAt.is_not_null())
        .order_by_desc(message_outbox::Column::FailedAt)
        .limit(limit)
        .all(db)
        .await?)
}
