//! Reports of suspected fakes, from the scan page and the API: the form, its checks, and
//! storing it. The code may be unknown (a forged code is the point of a report); a known one
//! links the report to its stamp and cooperative.

use std::net::IpAddr;

use sea_orm::{ActiveModelTrait, DatabaseConnection, Set};
use serde::Deserialize;

use super::origin::TraceCache;
use super::scans::ClientHasher;
use crate::domain::{FieldIssue, StampCode, bounded_text, optional_text};
use crate::entities::fake_reports;
use crate::error::{AppResult, FieldErrors};
use crate::http::client::Network;
use crate::reference::ReferenceData;

/// A fake report as the scan page's form sends it (the API's request is turned into one).
#[derive(Debug, Default, Deserialize)]
pub struct FakeReportForm {
    #[serde(default)]
    pub place_of_purchase: String,
    #[serde(default)]
    pub seller: String,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub province: String,
}

/// A validated fake report.
pub struct FakeReportDetails {
    pub place_of_purchase: String,
    pub seller: String,
    pub note: String,
    pub province_code: Option<String>,
}

impl FakeReportForm {
    pub fn parse(&self, reference: &ReferenceData) -> AppResult<FakeReportDetails> {
        let mut errors = FieldErrors::default();
        let place = errors.take(
            "place_of_purchase",
            bounded_text(&self.place_of_purchase, 2, 200),
        );
        let seller = errors.take("seller", optional_text(&self.seller, 200));
        let note = errors.take("note", optional_text(&self.note, 2000));
        let province = errors.take(
            "province",
            match self.province.trim() {
                "" => Ok(None),
                code if reference.province(code).is_some() => Ok(Some(code.to_owned())),
                _ => Err(FieldIssue::new(
                    "unknown_province",
                    "no province has this code",
                )),
            },
        );
        match (place, seller, note, province) {
            (Some(place), Some(seller), Some(note), Some(province_code)) => Ok(FakeReportDetails {
                place_of_purchase: place,
                seller: seller.unwrap_or_default(),
                note: note.unwrap_or_default(),
                province_code,
            }),
            _ => Err(errors.into_error()),
        }
    }
}

/// Stores a report of a suspected fake (the code may be unknown: that is the point).
pub async fn store(
    db: &DatabaseConnection,
    cache: &TraceCache,
    hasher: &ClientHasher,
    code: &str,
    client: IpAddr,
    details: FakeReportDetails,
) -> AppResult<()> {
    let stamp = match StampCode::parse(code) {
        Ok(code) => cache.stamp(code.as_str()).await?,
        Err(_) => None,
    };
    // The report and the message to the cooperative commit together.
    let txn = crate::db::begin_write(db).await?;
    let report = fake_reports::ActiveModel {
        stamp_id: Set(stamp.as_ref().map(|s| s.id)),
        cooperative_id: Set(stamp.as_ref().map(|s| s.cooperative_id)),
        code: Set(code.chars().take(32).collect()),
        place_of_purchase: Set(details.place_of_purchase),
        seller: Set(details.seller),
        note: Set(details.note),
        province_code: Set(details.province_code),
        client_hash: Set(hasher.network(Network::of(client)).hex()),
        created_at: Set(chrono::Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    crate::messages::events::fake_report_created(&txn, &report).await?;
    txn.commit().await?;
    Ok(())
}
