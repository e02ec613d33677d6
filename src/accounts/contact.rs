//! Changing the e-mail address or phone number of an account: the new one is used only after
//! the code sent to it comes back (30 minutes, five tries, stored as a keyed hash).

use std::collections::BTreeMap;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, ExprTrait, QueryFilter,
    QueryOrder, Set,
};

use super::Identifier;
use super::recovery::RESET_TTL;
use crate::config::Config;
use crate::domain::FieldIssue;
use crate::domain::token::derived_token;
use crate::entities::{contact_change_codes, users};
use crate::error::{AppError, AppResult, FieldErrors, is_unique_violation};
use crate::i18n::Lang;
use crate::messages::outbox::{self, NewMessage};
use crate::messages::{Channel, Template};

const MAX_ATTEMPTS: i32 = 5;

fn code_hash(config: &Config, user_id: i64, code: &str) -> String {
    derived_token(
        config.secret_key.expose(),
        "contact-change",
        &format!("{user_id}:{code}"),
    )
}

/// Sends a code to the new address (`identifier`: an e-mail address or a mobile number).
pub async fn request_change(
    db: &DatabaseConnection,
    config: &Config,
    user_id: i64,
    identifier: &str,
) -> AppResult<()> {
    let identifier =
        Identifier::parse(identifier).map_err(|issue| FieldErrors::single("identifier", issue))?;
    let code = format!("{:06}", rand::random_range(0..1_000_000u32));
    let now = Utc::now();
    let (kind, channel) = match identifier {
        Identifier::Email(_) => ("email", Channel::Email),
        Identifier::Phone(_) => ("phone", Channel::Sms),
    };
    let locale = outbox::reach(db, user_id)
        .await?
        .map(|r| r.locale)
        .unwrap_or(Lang::Vi);
    let txn = crate::db::begin_write(db).await?;
    let row = contact_change_codes::ActiveModel {
        user_id: Set(user_id),
        kind: Set(kind.to_owned()),
        new_value: Set(identifier.as_str().to_owned()),
        code_hash: Set(code_hash(config, user_id, &code)),
        attempts: Set(0),
        created_at: Set(now),
        expires_at: Set(now + RESET_TTL),
        used_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    outbox::enqueue(
        &txn,
        NewMessage {
            dedupe_key: format!("contact-code:{}", row.id),
            user_id: Some(user_id),
            recipient: identifier.as_str().to_owned(),
            channel,
            template: Template::ContactCode,
            params: BTreeMap::from([("code".to_owned(), code)]),
            locale,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

fn wrong_code() -> AppError {
    FieldErrors::single(
        "code",
        FieldIssue::new(
            "invalid_code",
            "this code is not valid, was used already or has expired",
        ),
    )
}

/// Applies the newest pending change whose code is `code`; the account's e-mail or phone is
/// then the new one. 409 when another account took it meanwhile.
pub async fn confirm_change(
    db: &DatabaseConnection,
    config: &Config,
    user_id: i64,
    code: &str,
) -> AppResult<users::Model> {
    let now = Utc::now();
    let pending = contact_change_codes::Entity::find()
        .filter(contact_change_codes::Column::UserId.eq(user_id))
        .filter(contact_change_codes::Column::UsedAt.is_null())
        .filter(contact_change_codes::Column::ExpiresAt.gt(now))
        .filter(contact_change_codes::Column::Attempts.lt(MAX_ATTEMPTS))
        .order_by_desc(contact_change_codes::Column::Id)
        .all(db)
        .await?;
    let hash = code_hash(config, user_id, code.trim());
    let Some(change) = pending.into_iter().find(|c| c.code_hash == hash) else {
        contact_change_codes::Entity::update_many()
            .col_expr(
                contact_change_codes::Column::Attempts,
                Expr::col(contact_change_codes::Column::Attempts).add(1),
            )
            .filter(contact_change_codes::Column::UserId.eq(user_id))
            .filter(contact_change_codes::Column::UsedAt.is_null())
            .exec(db)
            .await?;
        return Err(wrong_code());
    };
    let txn = crate::db::begin_write(db).await?;
    let claimed = contact_change_codes::Entity::update_many()
        .col_expr(contact_change_codes::Column::UsedAt, Expr::value(now))
        .filter(contact_change_codes::Column::Id.eq(change.id))
        .filter(contact_change_codes::Column::UsedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if claimed != 1 {
        return Err(wrong_code());
    }
    let user = users::Entity::find_by_id(user_id)
        .one(&txn)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let mut row: users::ActiveModel = user.into();
    if change.kind == "email" {
        row.email = Set(Some(change.new_value));
    } else {
        row.phone = Set(Some(change.new_value));
    }
    let updated = match row.update(&txn).await {
        Ok(user) => user,
        Err(err) if is_unique_violation(&err) => {
            return Err(AppError::conflict(
                "identifier_taken",
                "code",
                "another account uses this address",
            ));
        }
        Err(err) => return Err(err.into()),
    };
    txn.commit().await?;
    Ok(updated)
}
