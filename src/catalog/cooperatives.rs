//! Cooperatives: creation by a registered user (who becomes its owner), editing by its owner,
//! staff membership, and the public profile.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionSession, TransactionTrait,
};
use serde::Deserialize;
use utoipa::ToSchema;

use super::access::Membership;
use super::{CooperativeStatus, MemberRole};
use crate::accounts::CurrentUser;
use crate::domain::{
    CommuneCode, Email, FieldIssue, Phone, Slug, bounded_text, fold_vietnamese, optional_text,
};
use crate::entities::{cooperative_members, cooperatives, products};
use crate::error::{AppError, AppResult, FieldErrors, is_unique_violation};
use crate::reference::ReferenceData;
use sea_orm::sea_query::Expr;

/// What a cooperative's form or API request carries; every field a string or number as sent.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct CooperativeInput {
    /// Business registration number of the cooperative (mã số hợp tác xã).
    pub registration_number: String,
    pub name: String,
    /// Official 5-digit code of the commune or ward.
    pub commune_code: String,
    #[serde(deserialize_with = "crate::domain::null_as_default")]
    pub address: String,
    /// Vietnamese mobile number.
    pub contact_phone: String,
    #[serde(deserialize_with = "crate::domain::null_as_default")]
    pub contact_email: String,
    #[serde(deserialize_with = "crate::domain::null_as_default")]
    pub description: String,
    /// NAPAS bank identification number (6 digits) of the VietQR account.
    pub bank_bin: String,
    pub bank_account_number: String,
    /// Account holder's name as the bank has it (letters without diacritics).
    pub bank_account_holder: String,
}

/// A validated cooperative.
#[derive(Debug, Clone)]
pub struct CooperativeDetails {
    pub registration_number: String,
    pub name: String,
    pub commune: CommuneCode,
    pub province_code: String,
    pub address: String,
    pub contact_phone: Phone,
    pub contact_email: Option<Email>,
    pub description: String,
    pub bank_bin: String,
    pub bank_account_number: String,
    pub bank_account_holder: String,
}

impl CooperativeInput {
    pub fn parse(&self, reference: &ReferenceData) -> AppResult<CooperativeDetails> {
        let mut errors = FieldErrors::default();
        let registration_number = errors.take(
            "registration_number",
            parse_registration(&self.registration_number),
        );
        let name = errors.take("name", bounded_text(&self.name, 3, 200));
        let commune = errors.take(
            "commune_code",
            reference.parse_commune(&self.commune_code).map(|code| {
                let province = reference
                    .commune(code.as_str())
                    .map(|c| c.province_code.clone())
                    .unwrap_or_default();
                (code, province)
            }),
        );
        let address = errors.take("address", optional_text(&self.address, 300));
        let contact_phone = errors.take("contact_phone", Phone::parse(&self.contact_phone));
        let contact_email = errors.take(
            "contact_email",
            if self.contact_email.trim().is_empty() {
                Ok(None)
            } else {
                Email::parse(&self.contact_email).map(Some)
            },
        );
        let description = errors.take("description", optional_text(&self.description, 5000));
        let bank_bin = errors.take("bank_bin", digits(&self.bank_bin, 6, 6, "invalid_bank_bin"));
        let bank_account_number = errors.take(
            "bank_account_number",
            digits(&self.bank_account_number, 6, 19, "invalid_bank_account"),
        );
        let bank_account_holder = errors.take(
            "bank_account_holder",
            parse_account_holder(&self.bank_account_holder),
        );
        match (
            registration_number,
            name,
            commune,
            address,
            contact_phone,
            contact_email,
            description,
            bank_bin,
            bank_account_number,
            bank_account_holder,
        ) {
            (
                Some(registration_number),
                Some(name),
                Some((commune, province_code)),
                Some(address),
                Some(contact_phone),
                Some(contact_email),
                Some(description),
                Some(bank_bin),
                Some(bank_account_number),
                Some(bank_account_holder),
            ) => Ok(CooperativeDetails {
                registration_number,
                name,
                commune,
                province_code,
                address: address.unwrap_or_default(),
                contact_phone,
                contact_email,
                description: description.unwrap_or_default(),
                bank_bin,
                bank_account_number,
                bank_account_holder,
            }),
            _ => Err(errors.into_error()),
        }
    }

    /// The input a form starts from when editing an existing cooperative.
    pub fn from_model(model: &cooperatives::Model) -> Self {
        Self {
            registration_number: model.registration_number.clone(),
            name: model.name.clone(),
            commune_code: model.commune_code.clone(),
            address: model.address.clone(),
            contact_phone: model.contact_phone.clone(),
            contact_email: model.contact_email.clone().unwrap_or_default(),
            description: model.description.clone(),
            bank_bin: model.bank_bin.clone(),
            bank_account_number: model.bank_account_number.clone(),
            bank_account_holder: model.bank_account_holder.clone(),
        }
    }
}

fn parse_registration(input: &str) -> Result<String, FieldIssue> {
    let value = input.trim().to_uppercase();
    let valid = (4..=32).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'/' | b'.'));
    if valid {
        Ok(value)
    } else {
        Err(FieldIssue::new(
            "invalid_registration_number",
            "4 to 32 letters, digits, '-', '/' or '.'",
        ))
    }
}

fn digits(input: &str, min: usize, max: usize, code: &'static str) -> Result<String, FieldIssue> {
    let value: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    if (min..=max).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_digit()) {
        Ok(value)
    } else if min == max {
        Err(FieldIssue::new(code, format!("{min} digits")))
    } else {
        Err(FieldIssue::new(code, format!("{min} to {max} digits")))
    }
}

/// Banks hold account names in capitals without diacritics; "Hợp tác xã Gia Phú" is accepted
/// and stored as "HOP TAC XA GIA PHU".
fn parse_account_holder(input: &str) -> Result<String, FieldIssue> {
    let folded = fold_vietnamese(input.trim()).to_uppercase();
    let collapsed = folded.split_whitespace().collect::<Vec<_>>().join(" ");
    if (2..=70).contains(&collapsed.len())
        && collapsed
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b' ' || b == b'.')
    {
        Ok(collapsed)
    } else {
        Err(FieldIssue::new(
            "invalid_account_holder",
            "2 to 70 letters, as printed by the bank",
        ))
    }
}

/// Creates a cooperative in `pending` state, with `owner` as its owner, in one transaction.
pub async fn create(
    db: &(impl ConnectionTrait + TransactionTrait),
    owner: &CurrentUser,
    details: CooperativeDetails,
) -> AppResult<cooperatives::Model> {
    if cooperatives::Entity::find()
        .filter(cooperatives::Column::RegistrationNumber.eq(&details.registration_number))
        .one(db)
        .await?
        .is_some()
    {
        return Err(registration_taken());
    }
    let slug = free_slug(db, &Slug::from_name(&details.name)).await?;
    let now = Utc::now();
    let txn = crate::db::begin_write(db).await?;
    let row = cooperatives::ActiveModel {
        slug: Set(slug.as_str().to_owned()),
        registration_number: Set(details.registration_number),
        name: Set(details.name),
        commune_code: Set(details.commune.as_str().to_owned()),
        province_code: Set(details.province_code),
        address: Set(details.address),
        contact_phone: Set(details.contact_phone.as_str().to_owned()),
        contact_email: Set(details.contact_email.map(|e| e.as_str().to_owned())),
        description: Set(details.description),
        bank_bin: Set(details.bank_bin),
        bank_account_number: Set(details.bank_account_number),
        bank_account_holder: Set(details.bank_account_holder),
        status: Set(CooperativeStatus::Pending.as_str().to_owned()),
        status_reason: Set(None),
        created_by: Set(owner.id),
        created_at: Set(now),
        updated_at: Set(now),
        reviewed_at: Set(None),
        ..Default::default()
    };
    let cooperative = row.insert(&txn).await.map_err(|err| {
        if is_unique_violation(&err) {
            registration_taken()
        } else {
            err.into()
        }
    })?;
    cooperative_members::ActiveModel {
        cooperative_id: Set(cooperative.id),
        user_id: Set(owner.id),
        role: Set(MemberRole::Owner.as_str().to_owned()),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok(cooperative)
}

fn registration_taken() -> AppError {
    AppError::conflict(
        "registration_number_taken",
        "registration_number",
        "a cooperative with this registration number is already registered",
    )
}

/// Updates a cooperative's details (owner only). The registration number, the name, the
/// commune and the bank account are what the province verified: changing any of them sends
/// the cooperative back to `pending` verification.
pub async fn update(
    db: &(impl ConnectionTrait + TransactionTrait),
    membership: &Membership,
    details: CooperativeDetails,
) -> AppResult<cooperatives::Model> {
    membership.require_owner()?;
    let current = &membership.cooperative;
    let needs_review = current.registration_number != details.registration_number
        || current.name != details.name
        || current.commune_code != details.commune.as_str()
        || current.bank_bin != details.bank_bin
        || current.bank_account_number != details.bank_account_number
        || current.bank_account_holder != details.bank_account_holder;
    let mut row: cooperatives::ActiveModel = current.clone().into();
    row.registration_number = Set(details.registration_number);
    row.name = Set(details.name);
    row.commune_code = Set(details.commune.as_str().to_owned());
    row.province_code = Set(details.province_code);
    row.address = Set(details.address);
    row.contact_phone = Set(details.contact_phone.as_str().to_owned());
    row.contact_email = Set(details.contact_email.map(|e| e.as_str().to_owned()));
    row.description = Set(details.description);
    row.bank_bin = Set(details.bank_bin);
    row.bank_account_number = Set(details.bank_account_number);
    row.bank_account_holder = Set(details.bank_account_holder);
    row.updated_at = Set(Utc::now());
    let back_to_review = needs_review && current.status == CooperativeStatus::Verified.as_str();
    if back_to_review {
        row.status = Set(CooperativeStatus::Pending.as_str().to_owned());
        row.status_reason = Set(None);
    }
    let txn = crate::db::begin_write(db).await?;
    let updated = row.update(&txn).await.map_err(|err| {
        if is_unique_violation(&err) {
            registration_taken()
        } else {
            AppError::from(err)
        }
    })?;
    if back_to_review {
        super::products::refresh_listing_of_cooperative(
            &txn,
            updated.id,
            CooperativeStatus::Pending,
        )
        .await?;
    }
    if current.commune_code != updated.commune_code {
        // Products carry copies of their cooperative's place for the catalogue filters.
        products::Entity::update_many()
            .col_expr(
                products::Column::CommuneCode,
                Expr::value(updated.commune_code.clone()),
            )
            .col_expr(
                products::Column::ProvinceCode,
                Expr::value(updated.province_code.clone()),
            )
            .filter(products::Column::CooperativeId.eq(updated.id))
            .exec(&txn)
            .await?;
    }
    // Search shows the cooperative's name. Leaving verification already re-indexed its
    // products above, and a changed commune always sends a verified cooperative back to it
    // (an unverified one has nothing listed), so only a rename is left to tell search.
    if !back_to_review && current.name != updated.name {
        super::outbox::enqueue_cooperative_products(&txn, &[updated.id]).await?;
    }
    txn.commit().await?;
    Ok(updated)
}

/// The cooperatives `user` belongs to, with their role.
pub async fn of_user(db: &impl ConnectionTrait, user: &CurrentUser) -> AppResult<Vec<Membership>> {
    let members = cooperative_members::Entity::find()
        .filter(cooperative_members::Column::UserId.eq(user.id))
        .all(db)
        .await?;
    let ids: Vec<i64> = members.iter().map(|m| m.cooperative_id).collect();
    let coops = cooperatives::Entity::find()
        .filter(cooperatives::Column::Id.is_in(ids))
        .order_by_asc(cooperatives::Column::Name)
        .all(db)
        .await?;
    Ok(coops
        .into_iter()
        .map(|cooperative| {
            let role = members
                .iter()
                .find(|m| m.cooperative_id == cooperative.id)
                .and_then(|m| MemberRole::parse(&m.role))
                .unwrap_or(MemberRole::Staff);
            Membership { cooperative, role }
        })
        .collect())
}

/// A verified cooperative by its slug, for its public page.
pub async fn public_by_slug(
    db: &impl ConnectionTrait,
    slug: &str,
) -> AppResult<cooperatives::Model> {
    cooperatives::Entity::find()
        .filter(cooperatives::Column::Slug.eq(slug))
        .filter(cooperatives::Column::Status.eq(CooperativeStatus::Verified.as_str()))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}

/// Any cooperative by id, whatever its status (for administrators).
pub async fn by_id(db: &impl ConnectionTrait, id: i64) -> AppResult<Option<cooperatives::Model>> {
    Ok(cooperatives::Entity::find_by_id(id).one(db).await?)
}

/// A verified cooperative by id, for the public API.
pub async fn public_by_id(db: &impl ConnectionTrait, id: i64) -> AppResult<cooperatives::Model> {
    cooperatives::Entity::find_by_id(id)
        .filter(cooperatives::Column::Status.eq(CooperativeStatus::Verified.as_str()))
        .one(db)
        .await?
        .ok_or(AppError::NotFound)
}

/// `base`, or `base-2`, `base-3`… whichever is free among cooperative slugs.
async fn free_slug(db: &impl ConnectionTrait, base: &Slug) -> AppResult<Slug> {
    let candidates: Vec<Slug> = std::iter::once(base.clone())
        .chain((2..=50).map(|n| base.with_suffix(n)))
        .collect();
    let taken: Vec<String> = cooperatives::Entity::find()
        .filter(cooperatives::Column::Slug.is_in(candidates.iter().map(|s| s.as_str().to_owned())))
        .all(db)
        .await?
        .into_iter()
        .map(|c| c.slug)
        .collect();
    Ok(candidates
        .into_iter()
        .find(|s| !taken.iter().any(|t| t == s.as_str()))
        .unwrap_or_else(|| base.with_suffix(u64::from(rand::random::<u32>()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_holders_are_folded_to_bank_capitals() {
        assert_eq!(
            parse_account_holder("  Hợp tác xã   Gia Phú ").unwrap(),
            "HOP TAC XA GIA PHU"
        );
        assert!(parse_account_holder("x").is_err());
        assert!(parse_account_holder("名前").is_err());
    }

    #[test]
    fn a_complete_cooperative_parses_and_a_bad_one_names_every_field() {
        let reference = ReferenceData::embedded();
        let input = CooperativeInput {
            registration_number: "5300123456".into(),
            name: "Hợp tác xã Nông sản Gia Phú".into(),
            commune_code: "02923".into(),
            contact_phone: "0912345678".into(),
            bank_bin: "970405".into(),
            bank_account_number: "1234567890".into(),
            bank_account_holder: "HTX Nong san Gia Phu".into(),
            ..Default::default()
        };
        let details = input.parse(&reference).unwrap();
        assert_eq!(details.province_code, "15");

        let bad = CooperativeInput {
            commune_code: "99999".into(),
            contact_phone: "123".into(),
            ..input
        };
        let AppError::Validation(errors) = bad.parse(&reference).unwrap_err() else {
            panic!("expected a validation error");
        };
        assert_eq!(errors.code_for("commune_code"), Some("unknown_commune"));
        assert_eq!(errors.code_for("contact_phone"), Some("invalid_phone"));
    }
}
