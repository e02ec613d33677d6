//! Invitations to join a cooperative as staff.
//!
//! An owner never adds an account directly. They make an invitation, a short code and a link
//! (`{PUBLIC_URL}/invitations/{CODE}`) to hand over in person or by message, and the invitee
//! accepts it while logged in. So:
//! - the owner's answer is the same whether or not an account exists for the person they name
//!   (naming one is optional: it only restricts who may accept);
//! - nobody becomes a member of a cooperative without choosing to;
//! - a code is single use, expires after [`VALID_FOR_DAYS`] days, can be revoked, and is stored
//!   only as its SHA-256; acceptance attempts are rate-limited per network by the handlers, so
//!   its 50 random bits cannot be guessed.

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionSession, TransactionTrait,
};

use super::MemberRole;
use super::access::Membership;
use crate::accounts::{CurrentUser, Identifier};
use crate::domain::token::hash_token;
use crate::entities::{cooperative_invitations, cooperative_members, cooperatives, users};
use crate::error::{AppError, AppResult, FieldErrors};

/// How long an invitation can be accepted.
pub const VALID_FOR_DAYS: i64 = 7;
/// Open invitations one cooperative may have at once.
const MAX_OPEN: usize = 50;
/// Code length in Crockford base32 characters: 50 random bits.
const CODE_LEN: usize = 10;
/// Crockford's base32 alphabet: no I, L, O or U, so a code read aloud is not misheard.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new invitation and its code, shown to the owner once.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub invitation: cooperative_invitations::Model,
    /// `ABCDE-FGHJK`: easy to read out over the phone.
    pub code: String,
}

/// Makes an invitation to join `membership`'s cooperative as staff (owner only). `identifier`,
/// when given, is the e-mail or phone of the only account that may accept it; whether such an
/// account exists is neither checked nor told.
pub async fn invite(
    db: &impl ConnectionTrait,
    membership: &Membership,
    inviter: &CurrentUser,
    identifier: Option<&str>,
) -> AppResult<NewInvitation> {
    membership.require_owner()?;
    let identifier = match identifier.map(str::trim).filter(|i| !i.is_empty()) {
        Some(text) => Some(
            Identifier::parse(text)
                .map_err(|issue| FieldErrors::single("identifier", issue))?
                .as_str()
                .to_owned(),
        ),
        None => None,
    };
    if open_of(db, membership.cooperative.id).await?.len() >= MAX_OPEN {
        return Err(AppError::conflict(
            "too_many_invitations",
            "identifier",
            format!("a cooperative may have at most {MAX_OPEN} open invitations; revoke some"),
        ));
    }
    let code = new_code();
    let now = Utc::now();
    let invitation = cooperative_invitations::ActiveModel {
        cooperative_id: Set(membership.cooperative.id),
        code_hash: Set(hash_token(&normalise(&code))),
        role: Set(MemberRole::Staff.as_str().to_owned()),
        identifier: Set(identifier),
        created_by: Set(inviter.id),
        created_at: Set(now),
        expires_at: Set(now + Duration::days(VALID_FOR_DAYS)),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(NewInvitation { invitation, code })
}

/// The open invitations of a cooperative (not accepted, revoked or expired), newest first.
pub async fn open_of(
    db: &impl ConnectionTrait,
    cooperative_id: i64,
) -> AppResult<Vec<cooperative_invitations::Model>> {
    Ok(cooperative_invitations::Entity::find()
        .filter(cooperative_invitations::Column::CooperativeId.eq(cooperative_id))
        .filter(cooperative_invitations::Column::AcceptedAt.is_null())
        .filter(cooperative_invitations::Column::RevokedAt.is_null())
        .filter(cooperative_invitations::Column::ExpiresAt.gt(Utc::now()))
        .order_by_desc(cooperative_invitations::Column::Id)
        .all(db)
        .await?)
}

/// Revokes an open invitation of the owner's cooperative.
pub async fn revoke(
    db: &impl ConnectionTrait,
    membership: &Membership,
    invitation_id: i64,
) -> AppResult<()> {
    membership.require_owner()?;
    let invitation = cooperative_invitations::Entity::find_by_id(invitation_id)
        .filter(cooperative_invitations::Column::CooperativeId.eq(membership.cooperative.id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    if invitation.accepted_at.is_none() && invitation.revoked_at.is_none() {
        let mut row: cooperative_invitations::ActiveModel = invitation.into();
        row.revoked_at = Set(Some(Utc::now()));
        row.update(db).await?;
    }
    Ok(())
}

/// The cooperative an open invitation is for, to show the invitee before they accept; `None`
/// for a code that is unknown, used, revoked or expired (all alike).
pub async fn cooperative_of(
    db: &impl ConnectionTrait,
    code: &str,
) -> AppResult<Option<cooperatives::Model>> {
    let Some(invitation) = open_by_code(db, code).await? else {
        return Ok(None);
    };
    Ok(cooperatives::Entity::find_by_id(invitation.cooperative_id)
        .one(db)
        .await?)
}

/// Accepts an invitation: `user` becomes staff of its cooperative. An unknown, used, revoked
/// or expired code, or one made for somebody else, is "not found" alike.
pub async fn accept(
    db: &(impl ConnectionTrait + TransactionTrait),
    user: &CurrentUser,
    code: &str,
) -> AppResult<cooperatives::Model> {
    let txn = crate::db::begin_write(db).await?;
    let invitation = open_by_code(&txn, code).await?.ok_or(AppError::NotFound)?;
    if let Some(wanted) = &invitation.identifier {
        let account = users::Entity::find_by_id(user.id)
            .one(&txn)
            .await?
            .ok_or(AppError::NotFound)?;
        let matches = account.email.as_deref() == Some(wanted.as_str())
            || account.phone.as_deref() == Some(wanted.as_str());
        if !matches {
            return Err(AppError::NotFound);
        }
    }
    let cooperative = cooperatives::Entity::find_by_id(invitation.cooperative_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let already = cooperative_members::Entity::find_by_id((cooperative.id, user.id))
        .one(&txn)
        .await?
        .is_some();
    if !already {
        cooperative_members::ActiveModel {
            cooperative_id: Set(cooperative.id),
            user_id: Set(user.id),
            role: Set(invitation.role.clone()),
            created_at: Set(Utc::now()),
        }
        .insert(&txn)
        .await?;
    }
    // Single use: the update only succeeds for a row still open, so two acceptances racing on
    // one code cannot both pass.
    let used = cooperative_invitations::Entity::update_many()
        .col_expr(
            cooperative_invitations::Column::AcceptedBy,
            sea_orm::sea_query::Expr::value(user.id),
        )
        .col_expr(
            cooperative_invitations::Column::AcceptedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(cooperative_invitations::Column::Id.eq(invitation.id))
        .filter(cooperative_invitations::Column::AcceptedAt.is_null())
        .exec(&txn)
        .await?;
    if used.rows_affected != 1 {
        return Err(AppError::NotFound);
    }
    txn.commit().await?;
    Ok(cooperative)
}

async fn open_by_code(
    db: &impl ConnectionTrait,
    code: &str,
) -> AppResult<Option<cooperative_invitations::Model>> {
    let code = normalise(code);
    if code.len() != CODE_LEN {
        return Ok(None);
    }
    Ok(cooperative_invitations::Entity::find()
        .filter(cooperative_invitations::Column::CodeHash.eq(hash_token(&code)))
        .filter(cooperative_invitations::Column::AcceptedAt.is_null())
        .filter(cooperative_invitations::Column::RevokedAt.is_null())
        .filter(cooperative_invitations::Column::ExpiresAt.gt(Utc::now()))
        .one(db)
        .await?)
}

/// A fresh code, `ABCDE-FGHJK`.
fn new_code() -> String {
    let chars: String = (0..CODE_LEN)
        .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
        .collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// A code as typed: upper case, without the dash and spaces, Crockford's look-alikes read as
/// the letters they stand for (O → 0, I and L → 1).
fn normalise(code: &str) -> String {
    code.chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_ten_crockford_characters_in_two_groups() {
        let code = new_code();
        assert_eq!(code.len(), 11);
        assert_eq!(&code[5..6], "-");
        assert!(normalise(&code).bytes().all(|c| ALPHABET.contains(&c)));
        assert_ne!(new_code(), new_code());
    }

    #[test]
    fn codes_are_read_the_way_people_type_them() {
        assert_eq!(normalise("abcde-fghjk"), "ABCDEFGHJK");
        assert_eq!(normalise("0OIL1 2345"), "001112345");
    }
}
