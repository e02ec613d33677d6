//! Getting back into an account: a password reset by e-mail link or by a six-digit code sent
//! by SMS or Zalo, and changing one's password while logged in.
//!
//! - A request never tells whether the account exists: the same answer, and the same work
//!   (a secret drawn and hashed) for a known and an unknown identifier; the handler also
//!   answers no sooner than a fixed floor.
//! - Links carry 256 random bits; codes are six digits, tied to their account and dead after
//!   five wrong tries. Only a keyed hash (HMAC with the server's secret) is stored, so a
//!   leaked table gives neither links nor codes (a plain hash of six digits is guessed at once).
//! - A reset is single use and lasts [`RESET_TTL`]; setting the password ends every session of
//!   the account. The message is asked for in the same transaction as the reset row.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, ExprTrait,
    QueryFilter, Set,
};

use super::{Identifier, Password, find_by_identifier, hash_password, verify_password};
use crate::config::Config;
use crate::domain::FieldIssue;
use crate::domain::token::{derived_token, new_token};
use crate::entities::{password_reset_tokens, sessions, users};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::messages::outbox::{self, NewMessage};
use crate::messages::{Channel, Template};

/// How long a reset link or code works.
pub const RESET_TTL: Duration = Duration::from_secs(30 * 60);

/// Wrong codes tried before a code stops working.
const MAX_CODE_ATTEMPTS: i32 = 5;

/// What the database stores for a link's token or an account's code.
fn stored_hash(config: &Config, input: &str) -> String {
    derived_token(config.secret_key.expose(), "password-reset", input)
}

fn six_digit_code() -> String {
    format!("{:06}", rand::random_range(0..1_000_000u32))
}

/// Asks for a reset of the account `identifier` names, if any: an e-mail with a link for an
/// e-mail address, a code by SMS or Zalo (the account's choice) for a phone number. Answers
/// the same whether or not the account exists.
pub async fn request_reset(
    db: &DatabaseConnection,
    config: &Config,
    identifier: &str,
) -> AppResult<()> {
    let parsed = Identifier::parse(identifier).ok();
    let by_phone = matches!(parsed, Some(Identifier::Phone(_)));
    // Drawn and hashed for every request, known account or not.
    let secret = if by_phone {
        six_digit_code()
    } else {
        new_token()
    };
    let user = match &parsed {
        Some(identifier) => find_by_identifier(db, identifier).await?,
        None => None,
    };
    let hashed = stored_hash(
        config,
        &if by_phone {
            format!("{}:{secret}", user.as_ref().map_or(0, |u| u.id))
        } else {
            secret.clone()
        },
    );
    let Some(user) = user else {
        return Ok(());
    };
    let now = Utc::now();
    let txn = crate::db::begin_write(db).await?;
    let row = password_reset_tokens::ActiveModel {
        user_id: Set(user.id),
        token_hash: Set(hashed),
        attempts: Set(0),
        created_at: Set(now),
        expires_at: Set(now + RESET_TTL),
        used_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let reach = outbox::reach(&txn, user.id).await?;
    let locale = reach.as_ref().map(|r| r.locale).unwrap_or_default();
    let message = match (&parsed, &user) {
        (Some(Identifier::Email(email)), _) => NewMessage {
            dedupe_key: format!("password-reset:{}", row.id),
            user_id: Some(user.id),
            recipient: email.as_str().to_owned(),
            channel: Channel::Email,
            template: Template::PasswordReset,
            params: BTreeMap::from([(
                "link".to_owned(),
                format!(
                    "{}/account/reset-password?token={secret}",
                    config.public_url
                ),
            )]),
            locale,
        },
        (_, user) => NewMessage {
            dedupe_key: format!("password-reset:{}", row.id),
            user_id: Some(user.id),
            recipient: user.phone.clone().unwrap_or_default(),
            channel: match reach.map(|r| r.channel) {
                Some(Channel::Zalo) => Channel::Zalo,
                _ => Channel::Sms,
            },
            template: Template::PasswordResetCode,
            params: BTreeMap::from([("code".to_owned(), secret)]),
            locale,
        },
    };
    outbox::enqueue(&txn, message).await?;
    txn.commit().await?;
    Ok(())
}

fn invalid_token() -> AppError {
    FieldErrors::single(
        "token",
        FieldIssue::new(
            "invalid_token",
            "this reset link or code is not valid, was used already or has expired; ask for a new one",
        ),
    )
}

/// Sets a new password with a reset link's token, or with a code and the phone number it was
/// sent to (`identifier`). Every session of the account ends. Answers the account's id.
pub async fn confirm_reset(
    db: &DatabaseConnection,
    config: &Config,
    identifier: Option<&str>,
    token: &str,
    new_password: &str,
) -> AppResult<i64> {
    let password = Password::parse(new_password)
        .map_err(|issue| FieldErrors::single("new_password", issue))?;
    let token = token.trim();
    if token.is_empty() || token.len() > 100 {
        return Err(invalid_token());
    }
    let now = Utc::now();
    let active = password_reset_tokens::Entity::find()
        .filter(password_reset_tokens::Column::UsedAt.is_null())
        .filter(password_reset_tokens::Column::ExpiresAt.gt(now));
    let row = match identifier.map(str::trim).filter(|i| !i.is_empty()) {
        None => {
            active
                .filter(password_reset_tokens::Column::TokenHash.eq(stored_hash(config, token)))
                .one(db)
                .await?
        }
        Some(identifier) => {
            let user = match Identifier::parse(identifier) {
                Ok(parsed) => find_by_identifier(db, &parsed).await?,
                Err(_) => None,
            };
            let Some(user) = user else {
                return Err(invalid_token());
            };
            let hash = stored_hash(config, &format!("{}:{token}", user.id));
            let found = active
                .filter(password_reset_tokens::Column::UserId.eq(user.id))
                .filter(password_reset_tokens::Column::TokenHash.eq(hash))
                .filter(password_reset_tokens::Column::Attempts.lt(MAX_CODE_ATTEMPTS))
                .one(db)
                .await?;
            if found.is_none() {
                // A wrong code counts against every code of the account.
                password_reset_tokens::Entity::update_many()
                    .col_expr(
                        password_reset_tokens::Column::Attempts,
                        Expr::col(password_reset_tokens::Column::Attempts).add(1),
                    )
                    .filter(password_reset_tokens::Column::UserId.eq(user.id))
                    .filter(password_reset_tokens::Column::UsedAt.is_null())
                    .exec(db)
                    .await?;
            }
            found
        }
    };
    let Some(row) = row else {
        return Err(invalid_token());
    };
    let hash = hash_password(password).await?;
    let txn = crate::db::begin_write(db).await?;
    // Single use, even against a racing second use of the same token.
    let claimed = password_reset_tokens::Entity::update_many()
        .col_expr(password_reset_tokens::Column::UsedAt, Expr::value(now))
        .filter(password_reset_tokens::Column::Id.eq(row.id))
        .filter(password_reset_tokens::Column::UsedAt.is_null())
        .exec(&txn)
        .await?
        .rows_affected;
    if claimed != 1 {
        return Err(invalid_token());
    }
    set_password(&txn, row.user_id, hash, None).await?;
    txn.commit().await?;
    Ok(row.user_id)
}

/// Stores a new password hash and ends the account's sessions, except `keep` (the token of
/// the session that changed it).
async fn set_password(
    txn: &impl ConnectionTrait,
    user_id: i64,
    hash: String,
    keep: Option<&str>,
) -> AppResult<()> {
    users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(hash))
        .filter(users::Column::Id.eq(user_id))
        .exec(txn)
        .await?;
    let mut ending = sessions::Entity::delete_many().filter(sessions::Column::UserId.eq(user_id));
    if let Some(keep) = keep {
        ending =
            ending.filter(sessions::Column::TokenHash.ne(crate::domain::token::hash_token(keep)));
    }
    ending.exec(txn).await?;
    // Reset links still out there die with the old password.
    password_reset_tokens::Entity::update_many()
        .col_expr(
            password_reset_tokens::Column::UsedAt,
            Expr::value(Utc::now()),
        )
        .filter(password_reset_tokens::Column::UserId.eq(user_id))
        .filter(password_reset_tokens::Column::UsedAt.is_null())
        .exec(txn)
        .await?;
    Ok(())
}

/// A logged-in user changes their password: the current one is required; every other
/// session of the account ends.
pub async fn change_password(
    db: &DatabaseConnection,
    user_id: i64,
    current_session: &str,
    current_password: &str,
    new_password: &str,
) -> AppResult<()> {
    let password = Password::parse(new_password)
        .map_err(|issue| FieldErrors::single("new_password", issue))?;
    let user = users::Entity::find_by_id(user_id)
        .one(db)
        .await?
        .ok_or(AppError::Unauthenticated)?;
    let stored = user.password_hash.clone();
    let current = current_password.to_owned();
    let matches = tokio::task::spawn_blocking(move || verify_password(&current, &stored))
        .await
        .map_err(|e| AppError::Internal(anyhow::anyhow!("password verification task: {e}")))?;
    if !matches {
        return Err(FieldErrors::single(
            "current_password",
            FieldIssue::new("wrong_password", "the current password is not right"),
        ));
    }
    let hash = hash_password(password).await?;
    let txn = crate::db::begin_write(db).await?;
    set_password(&txn, user_id, hash, Some(current_session)).await?;
    txn.commit().await?;
    Ok(())
}
