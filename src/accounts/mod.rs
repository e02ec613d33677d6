//! Accounts: registration, login with an e-mail address or a Vietnamese mobile number, and
//! server-side sessions that survive restarts (they live in the database).
//!
//! Neither login nor registration tells whether an account exists: a wrong password and an
//! unknown account get the same answer after the same work, and registering an identifier that
//! is taken answers exactly like a successful registration (the visitor is asked to log in).

mod recovery;
mod routes;
mod routes_recovery;
mod session;

use anyhow::Context;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use crate::domain::{Email, FieldIssue, Phone, bounded_text};
use crate::entities::users;
use crate::error::{AppError, AppResult, FieldErrors, is_unique_violation};

pub use recovery::{RESET_TTL, change_password, confirm_reset, request_reset};

/// The account pages: registration, login, a forgotten password, changing the password.
pub fn page_routes() -> axum::Router<crate::AppState> {
    routes::page_routes().merge(routes_recovery::page_routes())
}

/// The account API.
pub fn api_routes() -> utoipa_axum::router::OpenApiRouter<crate::AppState> {
    routes::api_routes().merge(routes_recovery::api_routes())
}
pub use session::{
    Authenticated, CurrentUser, SESSION_COOKIE, Viewer, create_session, delete_session,
    purge_expired_sessions,
};

/// How a person identifies themselves: an e-mail address or a mobile number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identifier {
    Email(Email),
    Phone(Phone),
}

impl Identifier {
    pub fn parse(input: &str) -> Result<Self, FieldIssue> {
        if input.contains('@') {
            Email::parse(input).map(Self::Email)
        } else {
            Phone::parse(input).map(Self::Phone).map_err(|_| {
                FieldIssue::new(
                    "invalid_identifier",
                    "enter an e-mail address or a Vietnamese mobile number",
                )
            })
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Email(email) => email.as_str(),
            Self::Phone(phone) => phone.as_str(),
        }
    }
}

/// A password as typed: 8 to 128 characters. Length is what matters (NIST SP 800-63B); no
/// composition rules.
pub struct Password(String);

impl Password {
    pub fn parse(input: &str) -> Result<Self, FieldIssue> {
        let len = input.chars().count();
        if len < 8 {
            Err(FieldIssue::new(
                "password_too_short",
                "a password has at least 8 characters",
            ))
        } else if len > 128 {
            Err(FieldIssue::new(
                "password_too_long",
                "a password has at most 128 characters",
            ))
        } else {
            Ok(Self(input.to_owned()))
        }
    }
}

pub struct NewAccount {
    pub identifier: Identifier,
    pub password: Password,
    pub display_name: String,
    pub is_admin: bool,
}

impl NewAccount {
    /// Parses a registration form or request, collecting every refused field.
    pub fn parse(identifier: &str, password: &str, display_name: &str) -> AppResult<Self> {
        let mut errors = FieldErrors::default();
        let identifier = errors.take("identifier", Identifier::parse(identifier));
        let password = errors.take("password", Password::parse(password));
        let display_name = errors.take("display_name", bounded_text(display_name, 1, 120));
        match (identifier, password, display_name) {
            (Some(identifier), Some(password), Some(display_name)) => Ok(Self {
                identifier,
                password,
                display_name,
                is_admin: false,
            }),
            _ => Err(errors.into_error()),
        }
    }
}

/// What registration tells the caller. It is the same whether or not the identifier was free.
pub enum Registration {
    Created(users::Model),
    AlreadyTaken,
}

/// Creates an account. The password is hashed in either case so that timing does not reveal
/// whether the identifier was taken.
pub async fn register(db: &impl ConnectionTrait, account: NewAccount) -> AppResult<Registration> {
    let hash = hash_password(account.password).await?;
    if find_by_identifier(db, &account.identifier).await?.is_some() {
        return Ok(Registration::AlreadyTaken);
    }
    let (email, phone) = match &account.identifier {
        Identifier::Email(e) => (Some(e.as_str().to_owned()), None),
        Identifier::Phone(p) => (None, Some(p.as_str().to_owned())),
    };
    let row = users::ActiveModel {
        email: Set(email),
        phone: Set(phone),
        password_hash: Set(hash),
        display_name: Set(account.display_name),
        is_admin: Set(account.is_admin),
        created_at: Set(Utc::now()),
        last_login_at: Set(None),
        ..Default::default()
    };
    match row.insert(db).await {
        Ok(user) => Ok(Registration::Created(user)),
        // A concurrent registration of the same identifier won the race.
        Err(err) if is_unique_violation(&err) => Ok(Registration::AlreadyTaken),
        Err(err) => Err(err.into()),
    }
}

pub async fn find_by_identifier(
    db: &impl ConnectionTrait,
    identifier: &Identifier,
) -> AppResult<Option<users::Model>> {
    let column = match identifier {
        Identifier::Email(_) => users::Column::Email,
        Identifier::Phone(_) => users::Column::Phone,
    };
    Ok(users::Entity::find()
        .filter(column.eq(identifier.as_str()))
        .one(db)
        .await?)
}

/// Checks a login. Unknown accounts and wrong passwords both cost one Argon2 verification and
/// both answer `None`.
pub async fn authenticate(
    db: &impl ConnectionTrait,
    identifier: &str,
    password: &str,
) -> AppResult<Option<users::Model>> {
    let user = match Identifier::parse(identifier) {
        Ok(identifier) => find_by_identifier(db, &identifier).await?,
        Err(_) => None,
    };
    let stored = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.clone());
    let password = password.to_owned();
    let matches = tokio::task::spawn_blocking(move || verify_password(&password, &stored))
        .await
        .context("password verification task failed")?;
    let Some(user) = user.filter(|_| matches) else {
        return Ok(None);
    };
    let mut active: users::ActiveModel = user.into();
    active.last_login_at = Set(Some(Utc::now()));
    Ok(Some(active.update(db).await?))
}

/// Hashes with Argon2id (the crate's defaults: 19 MiB, 2 passes), off the async runtime.
async fn hash_password(password: Password) -> AppResult<String> {
    let hash = tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.0.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .context("password hashing task failed")?
    .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))?;
    Ok(hash)
}

fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash of a random password, verified against when the account does not exist so that the
/// answer takes as long as for a wrong password.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    let random: [u8; 16] = rand::random();
    Argon2::default()
        .hash_password(&random, &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
});

/// Creates an administrator account (CLI `admin create`), or promotes an existing account.
pub async fn create_admin(
    db: &impl ConnectionTrait,
    identifier: &str,
    password: &str,
    display_name: &str,
) -> AppResult<users::Model> {
    let mut account = NewAccount::parse(identifier, password, display_name)?;
    account.is_admin = true;
    let identifier = account.identifier.clone();
    match register(db, account).await? {
        Registration::Created(user) => Ok(user),
        Registration::AlreadyTaken => {
            let user = find_by_identifier(db, &identifier)
                .await?
                .ok_or(AppError::NotFound)?;
            let mut active: users::ActiveModel = user.into();
            active.is_admin = Set(true);
            Ok(active.update(db).await?)
        }
    }
}

/// The name to greet a user by.
pub fn display_identifier(user: &users::Model) -> &str {
    user.email
        .as_deref()
        .or(user.phone.as_deref())
        .unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_emails_or_mobile_numbers() {
        assert!(matches!(
            Identifier::parse("an@hoptacxa.vn"),
            Ok(Identifier::Email(_))
        ));
        assert!(matches!(
            Identifier::parse("0912 345 678"),
            Ok(Identifier::Phone(_))
        ));
        assert_eq!(
            Identifier::parse("hello").unwrap_err().code,
            "invalid_identifier"
        );
    }

    #[test]
    fn passwords_have_a_length_policy_only() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("long enough").is_ok());
        assert!(Password::parse(&"x".repeat(129)).is_err());
    }

    #[test]
    fn argon2id_hashes_verify() {
        let salt = SaltString::generate(&mut OsRng);
        let hash = Argon2::default()
            .hash_password(b"mat ong bac ha", &salt)
            .unwrap()
            .to_string();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("mat ong bac ha", &hash));
        assert!(!verify_password("mat ong", &hash));
        assert!(!verify_password("anything", "not a hash"));
    }
}
