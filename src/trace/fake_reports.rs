//! Reports of suspected fakes, from the scan page and the API: the form, its checks, storing
//! it, and working it to an outcome.
//!
//! The code may be unknown (a forged code is the point of a report); a known one links the
//! report to its stamp and cooperative. A report is then worked by that cooperative (any
//! member) or by the province (an administrator): `new` → `looking` → `confirmed_fake` or
//! `not_fake`, each step with a note, all of them kept. A report of an unknown code belongs to
//! no cooperative, and only the province sees it.
//!
//! The reporter may leave an e-mail address or a mobile number to be told the outcome. It is
//! written only into the message that tells them; no page or API shows it, to the cooperative
//! or anyone else, so a seller accused in a report never learns who made it.

use std::net::IpAddr;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::origin::TraceCache;
use super::scans::ClientHasher;
use crate::accounts::CurrentUser;
use crate::catalog::access;
use crate::domain::{Email, FieldIssue, Phone, StampCode, bounded_text, optional_text, text_enum};
use crate::entities::{fake_report_notes, fake_reports};
use crate::error::{AppError, AppResult, FieldErrors};
use crate::http::client::Network;
use crate::i18n::Lang;
use crate::reference::ReferenceData;

text_enum! {
    /// Where the work on a fake report stands.
    FakeReportStatus {
        New => "new",
        Looking => "looking",
        ConfirmedFake => "confirmed_fake",
        NotFake => "not_fake",
    }
}

impl FakeReportStatus {
    /// An outcome the reporter is told of (when they left a contact).
    pub fn is_outcome(self) -> bool {
        matches!(self, Self::ConfirmedFake | Self::NotFake)
    }
}

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
    /// An e-mail address or a mobile number to be told the outcome (optional).
    #[serde(default)]
    pub contact: String,
}

/// A validated fake report.
pub struct FakeReportDetails {
    pub place_of_purchase: String,
    pub seller: String,
    pub note: String,
    pub province_code: Option<String>,
    /// An e-mail address or a national-form mobile number.
    pub reporter_contact: Option<String>,
}

/// A contact to tell an outcome to: empty, an e-mail address, or a Vietnamese mobile number.
fn parse_contact(input: &str) -> Result<Option<String>, FieldIssue> {
    let input = input.trim();
    if input.is_empty() {
        Ok(None)
    } else if input.contains('@') {
        Email::parse(input).map(|e| Some(e.as_str().to_owned()))
    } else {
        Phone::parse(input)
            .map(|p| Some(p.as_str().to_owned()))
            .map_err(|_| {
                FieldIssue::new(
                    "invalid_contact",
                    "enter an e-mail address or a Vietnamese mobile number, or leave it empty",
                )
            })
    }
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
        let contact = errors.take("contact", parse_contact(&self.contact));
        match (place, seller, note, province, contact) {
            (
                Some(place),
                Some(seller),
                Some(note),
                Some(province_code),
                Some(reporter_contact),
            ) => Ok(FakeReportDetails {
                place_of_purchase: place,
                seller: seller.unwrap_or_default(),
                note: note.unwrap_or_default(),
                province_code,
                reporter_contact,
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
    lang: Lang,
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
        created_at: Set(Utc::now()),
        status: Set(FakeReportStatus::New.as_str().to_owned()),
        reporter_contact: Set(details.reporter_contact),
        reporter_locale: Set(lang.code().to_owned()),
        updated_at: Set(None),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    crate::messages::events::fake_report_created(&txn, &report).await?;
    txn.commit().await?;
    Ok(())
}

/// A fake report as the cooperative and the province see it (never the reporter's contact).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FakeReportView {
    pub id: i64,
    /// The code as the reporter gave it.
    pub code: String,
    /// The cooperative whose stamp it names; none for a code nobody issued.
    pub cooperative_id: Option<i64>,
    pub place_of_purchase: String,
    pub seller: String,
    pub note: String,
    pub province_code: Option<String>,
    pub status: FakeReportStatus,
    /// The reporter asked to be told the outcome (their contact is not shown).
    pub reporter_waits_for_outcome: bool,
    pub created_at: chrono::DateTime<Utc>,
    pub updated_at: Option<chrono::DateTime<Utc>>,
}

impl FakeReportView {
    pub fn of(row: &fake_reports::Model) -> Self {
        Self {
            id: row.id,
            code: row.code.clone(),
            cooperative_id: row.cooperative_id,
            place_of_purchase: row.place_of_purchase.clone(),
            seller: row.seller.clone(),
            note: row.note.clone(),
            province_code: row.province_code.clone(),
            status: FakeReportStatus::parse(&row.status).unwrap_or(FakeReportStatus::New),
            reporter_waits_for_outcome: row.reporter_contact.is_some(),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

/// One step in working a report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FakeReportNoteView {
    pub id: i64,
    /// The status the report moved to (or stayed at) with this note.
    pub status: FakeReportStatus,
    pub body: String,
    /// Written by the province rather than the cooperative.
    pub by_administrator: bool,
    pub created_at: chrono::DateTime<Utc>,
}

impl FakeReportNoteView {
    pub fn of(row: &fake_report_notes::Model) -> Self {
        Self {
            id: row.id,
            status: FakeReportStatus::parse(&row.status).unwrap_or(FakeReportStatus::New),
            body: row.body.clone(),
            by_administrator: row.by_administrator,
            created_at: row.created_at,
        }
    }
}

/// A report with its notes, oldest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FakeReportDetail {
    #[serde(flatten)]
    pub report: FakeReportView,
    pub notes: Vec<FakeReportNoteView>,
}

/// A step as a page or the API sends it.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct FakeReportStep {
    /// `new`, `looking`, `confirmed_fake` or `not_fake`.
    #[serde(default)]
    pub status: String,
    /// What was done or found: 3 to 2,000 characters.
    #[serde(default)]
    pub note: String,
}

/// Which reports a list shows.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FakeReportFilter {
    /// One cooperative's reports (its members, or an administrator); without it an
    /// administrator sees every report, a member the reports of all their cooperatives.
    pub cooperative_id: Option<i64>,
    /// Only reports in this status.
    pub status: Option<String>,
}

/// The report `id` if `user` may work it: a member of the cooperative it names, or an
/// administrator. "Not found" for anyone else, so a rival learns nothing of it.
async fn workable(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    id: i64,
) -> AppResult<fake_reports::Model> {
    let report = fake_reports::Entity::find_by_id(id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound)?;
    if user.is_admin {
        return Ok(report);
    }
    match report.cooperative_id {
        Some(cooperative) if access::is_member(db, user, cooperative).await? => Ok(report),
        _ => Err(AppError::NotFound),
    }
}

/// The reports `user` may see, newest first (at most 200).
pub async fn list(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    filter: &FakeReportFilter,
) -> AppResult<Vec<FakeReportView>> {
    let mut query = fake_reports::Entity::find();
    match filter.cooperative_id {
        Some(cooperative) => {
            if !user.is_admin && !access::is_member(db, user, cooperative).await? {
                return Err(AppError::NotFound);
            }
            query = query.filter(fake_reports::Column::CooperativeId.eq(cooperative));
        }
        None if user.is_admin => {}
        None => {
            let mine = access::cooperatives_of(db, user.id).await?;
            query = query.filter(fake_reports::Column::CooperativeId.is_in(mine));
        }
    }
    if let Some(status) = filter.status.as_deref().filter(|s| !s.is_empty()) {
        let status = FakeReportStatus::parse(status).ok_or_else(|| {
            FieldErrors::single(
                "status",
                FieldIssue::new("invalid_status", "new, looking, confirmed_fake or not_fake"),
            )
        })?;
        query = query.filter(fake_reports::Column::Status.eq(status.as_str()));
    }
    Ok(query
        .order_by_desc(fake_reports::Column::Id)
        .limit(200)
        .all(db)
        .await?
        .iter()
        .map(FakeReportView::of)
        .collect())
}

/// A report and its notes, for a member of its cooperative or an administrator.
pub async fn detail(
    db: &impl ConnectionTrait,
    user: &CurrentUser,
    id: i64,
) -> AppResult<FakeReportDetail> {
    let report = workable(db, user, id).await?;
    let notes = fake_report_notes::Entity::find()
        .filter(fake_report_notes::Column::ReportId.eq(id))
        .order_by_asc(fake_report_notes::Column::Id)
        .all(db)
        .await?
        .iter()
        .map(FakeReportNoteView::of)
        .collect();
    Ok(FakeReportDetail {
        report: FakeReportView::of(&report),
        notes,
    })
}

/// Records a step: the note, and the report's new status. Reaching an outcome
/// (`confirmed_fake`, `not_fake`) tells the reporter, once per outcome, when they left a
/// contact; the message commits with the step or not at all.
pub async fn work(
    db: &(impl ConnectionTrait + TransactionTrait),
    user: &CurrentUser,
    id: i64,
    step: &FakeReportStep,
) -> AppResult<FakeReportDetail> {
    let mut errors = FieldErrors::default();
    let status = errors.take(
        "status",
        FakeReportStatus::parse(step.status.trim()).ok_or_else(|| {
            FieldIssue::new("invalid_status", "new, looking, confirmed_fake or not_fake")
        }),
    );
    let note = errors.take("note", bounded_text(&step.note, 3, 2000));
    let (Some(status), Some(note)) = (status, note) else {
        return Err(errors.into_error());
    };
    let txn = crate::db::begin_write(db).await?;
    let report = workable(&txn, user, id).await?;
    let now = Utc::now();
    fake_report_notes::ActiveModel {
        report_id: Set(report.id),
        author_id: Set(user.id),
        by_administrator: Set(user.is_admin),
        status: Set(status.as_str().to_owned()),
        body: Set(note),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    let mut update: fake_reports::ActiveModel = report.clone().into();
    update.status = Set(status.as_str().to_owned());
    update.updated_at = Set(Some(now));
    let report = update.update(&txn).await?;
    if status.is_outcome() {
        crate::messages::events::fake_report_outcome(&txn, &report, status.as_str()).await?;
    }
    txn.commit().await?;
    detail(db, user, id).await
}
