//! The daily messages, run by the sender of every app server with the app's clock (so a test
//! clock drives them): OCOP certificate reminders 90, 30 and 7 days before expiry, and the
//! administrators' digest of what waits for review. Running them again the same day, or on
//! several servers, asks for nothing more: every message has its dedupe key.

use chrono::NaiveDate;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};

use super::Template;
use super::events::{Params, members};
use super::outbox::to_user;
use crate::config::Config;
use crate::entities::{cooperatives, ocop_certificates, products, users};
use crate::error::AppResult;

/// Days before expiry at which a cooperative is reminded, largest first.
pub const REMINDER_DAYS: [i64; 3] = [90, 30, 7];

/// The reminder a certificate with `days_left` is due, if any: the smallest threshold it is
/// within (a certificate recorded with 60 days left gets the 90-day reminder at once, saying
/// 60 days, then the 30- and 7-day ones).
pub fn reminder_threshold(days_left: i64) -> Option<i64> {
    if days_left < 0 {
        return None;
    }
    REMINDER_DAYS
        .iter()
        .rev()
        .copied()
        .find(|t| days_left <= *t)
}

/// Asks for every daily message due on `today` (Vietnam's date); the number asked for.
pub async fn run(db: &impl ConnectionTrait, config: &Config, today: NaiveDate) -> AppResult<usize> {
    Ok(certificate_reminders(db, today).await? + admin_digest(db, config, today).await?)
}

async fn certificate_reminders(db: &impl ConnectionTrait, today: NaiveDate) -> AppResult<usize> {
    let horizon = today + chrono::Days::new(REMINDER_DAYS[0] as u64);
    let expiring = ocop_certificates::Entity::find()
        .filter(ocop_certificates::Column::Status.eq("verified"))
        .filter(ocop_certificates::Column::ExpiresOn.gte(today))
        .filter(ocop_certificates::Column::ExpiresOn.lte(horizon))
        .all(db)
        .await?;
    let mut asked = 0;
    for certificate in expiring {
        let days_left = (certificate.expires_on - today).num_days();
        let Some(threshold) = reminder_threshold(days_left) else {
            continue;
        };
        let product = products::Entity::find_by_id(certificate.product_id)
            .one(db)
            .await?
            .map(|p| p.name)
            .unwrap_or_default();
        let cooperative = cooperatives::Entity::find_by_id(certificate.cooperative_id)
            .one(db)
            .await?
            .map(|c| c.name)
            .unwrap_or_default();
        let params = Params::default()
            .with("product", product)
            .with("cooperative", cooperative)
            .with("days", days_left.to_string())
            .with(
                "expires_on",
                certificate.expires_on.format("%d/%m/%Y").to_string(),
            )
            .with("certificate_number", certificate.certificate_number.clone());
        for member in members(db, certificate.cooperative_id).await? {
            if to_user(
                db,
                member,
                Template::CertificateExpiring,
                &format!("certificate-expiring:{}:{threshold}", certificate.id),
                params.clone().into_map(),
            )
            .await?
            {
                asked += 1;
            }
        }
    }
    Ok(asked)
}

async fn admin_digest(
    db: &impl ConnectionTrait,
    config: &Config,
    today: NaiveDate,
) -> AppResult<usize> {
    let cooperatives_waiting = cooperatives::Entity::find()
        .filter(cooperatives::Column::Status.eq("pending"))
        .count(db)
        .await?;
    let certificates_waiting = ocop_certificates::Entity::find()
        .filter(ocop_certificates::Column::Status.eq("pending"))
        .count(db)
        .await?;
    if cooperatives_waiting + certificates_waiting == 0 {
        return Ok(0);
    }
    let admins = users::Entity::find()
        .filter(users::Column::IsAdmin.eq(true))
        .all(db)
        .await?;
    let params = Params::default()
        .with("cooperatives", cooperatives_waiting.to_string())
        .with("certificates", certificates_waiting.to_string())
        .with("link", format!("{}/admin", config.public_url));
    let mut asked = 0;
    for admin in admins {
        if to_user(
            db,
            admin.id,
            Template::AdminDigest,
            &format!("admin-digest:{today}"),
            params.clone().into_map(),
        )
        .await?
        {
            asked += 1;
        }
    }
    Ok(asked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_certificate_gets_the_reminder_of_the_window_it_is_in() {
        assert_eq!(reminder_threshold(120), None);
        assert_eq!(reminder_threshold(90), Some(90));
        assert_eq!(reminder_threshold(31), Some(90));
        assert_eq!(reminder_threshold(30), Some(30));
        assert_eq!(reminder_threshold(8), Some(30));
        assert_eq!(reminder_threshold(7), Some(7));
        assert_eq!(reminder_threshold(0), Some(7));
        assert_eq!(reminder_threshold(-1), None);
    }
}
