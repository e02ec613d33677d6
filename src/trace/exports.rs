//! A batch's stamps for printing, as the workspace pages and the API download them: the label
//! sheet (PDF) and the print shop's CSV. Both hold the batch's active stamps by serial, each
//! with the URL its QR code encodes.

use sea_orm::ConnectionTrait;
use serde::Deserialize;
use utoipa::IntoParams;

use super::labels::{self, Label, SheetLayout};
use super::stamps;
use crate::domain::{FieldIssue, Gtin};
use crate::entities::{batches, products};
use crate::error::{AppError, AppResult, FieldErrors};

/// The tagline printed on every label.
const TAGLINE: &str = "Quét để xác thực nguồn gốc";

/// Label sheet options, as query parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LabelParams {
    /// Only this roll (default: every active stamp).
    roll: Option<i32>,
    columns: Option<u32>,
    rows: Option<u32>,
    label_width_mm: Option<f32>,
    label_height_mm: Option<f32>,
    margin_top_mm: Option<f32>,
    margin_left_mm: Option<f32>,
    gap_x_mm: Option<f32>,
    gap_y_mm: Option<f32>,
    /// Print each stamp's GS1 Digital Link (`{PUBLIC_URL}/01/{GTIN14}/10/{LOT}/21/{CODE}`)
    /// instead of its short address; the batch's size must have a GTIN (422 `no_gtin`), and
    /// the link must fit a QR code of version 10 at level M (422 `digital_link_too_long`).
    #[serde(default)]
    digital_link: bool,
}

impl LabelParams {
    fn layout(&self) -> SheetLayout {
        let d = SheetLayout::default();
        SheetLayout {
            columns: self.columns.unwrap_or(d.columns),
            rows: self.rows.unwrap_or(d.rows),
            label_width_mm: self.label_width_mm.unwrap_or(d.label_width_mm),
            label_height_mm: self.label_height_mm.unwrap_or(d.label_height_mm),
            margin_top_mm: self.margin_top_mm.unwrap_or(d.margin_top_mm),
            margin_left_mm: self.margin_left_mm.unwrap_or(d.margin_left_mm),
            gap_x_mm: self.gap_x_mm.unwrap_or(d.gap_x_mm),
            gap_y_mm: self.gap_y_mm.unwrap_or(d.gap_y_mm),
        }
    }
}

/// The label sheet PDF of a batch's active stamps (of one roll if asked), rendered off the
/// async runtime.
pub async fn label_sheet(
    db: &impl ConnectionTrait,
    public_url: &str,
    batch: &batches::Model,
    product: &products::Model,
    params: &LabelParams,
) -> AppResult<Vec<u8>> {
    crate::catalog::access::require_verified_id(db, batch.cooperative_id).await?;
    let layout = params.layout();
    layout
        .validate()
        .map_err(|e| AppError::bad_request("invalid_layout", e.to_string()))?;
    let rows = stamps::all_active_of_batch(db, batch.id, params.roll).await?;
    if rows.is_empty() {
        return Err(AppError::bad_request(
            "no_stamps",
            "this batch has no active stamps to print",
        ));
    }
    let stars = crate::catalog::views::OcopBadge::of(product, crate::clock::today_in_vietnam())
        .map(|b| u8::try_from(b.stars).unwrap_or(3));
    let name = crate::catalog::variants::label_name(db, product, batch.variant_id).await?;
    let urls = print_urls(db, public_url, batch, product, &rows, params.digital_link).await?;
    let labels: Vec<Label> = rows
        .iter()
        .zip(urls)
        .map(|(s, url)| Label {
            url,
            short_name: name.clone(),
            lot: batch.lot_code.clone(),
            serial: u64::try_from(s.serial).unwrap_or(0),
            stars,
        })
        .collect();
    tokio::task::spawn_blocking(move || labels::render_sheet(&labels, &layout, TAGLINE))
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .map_err(|e| AppError::Internal(anyhow::anyhow!("label sheet: {e}")))
}

/// Print-shop CSV options, as query parameters.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CsvParams {
    roll: Option<i32>,
    /// The GS1 Digital Link form of each stamp's address, as on label sheets.
    #[serde(default)]
    digital_link: bool,
}

/// The print-shop CSV of a batch's active stamps (of one roll if asked).
pub async fn stamps_csv(
    db: &impl ConnectionTrait,
    public_url: &str,
    batch: &batches::Model,
    product: &products::Model,
    params: &CsvParams,
) -> AppResult<String> {
    crate::catalog::access::require_verified_id(db, batch.cooperative_id).await?;
    let rows = stamps::all_active_of_batch(db, batch.id, params.roll).await?;
    let name = crate::catalog::variants::label_name(db, product, batch.variant_id).await?;
    let urls = print_urls(db, public_url, batch, product, &rows, params.digital_link).await?;
    let mut csv = String::from("serial,code,lot,roll,product,qr_url\r\n");
    for (s, url) in rows.iter().zip(urls) {
        csv.push_str(&format!(
            "{},{},{},{},{},{}\r\n",
            s.serial,
            s.code,
            batch.lot_code,
            s.roll,
            csv_field(&name),
            url
        ));
    }
    Ok(csv)
}

/// The address each stamp's QR code encodes: its short (or signed) URL, or, with
/// `digital_link`, its GS1 Digital Link through the GTIN of the batch's size. Every link of a
/// roll has the same length and characters, so the first one tells whether all fit a label.
async fn print_urls(
    db: &impl ConnectionTrait,
    public_url: &str,
    batch: &batches::Model,
    product: &products::Model,
    rows: &[crate::entities::stamps::Model],
    digital_link: bool,
) -> AppResult<Vec<String>> {
    if !digital_link {
        return Ok(rows
            .iter()
            .map(|s| stamps::qr_url(public_url, s, &batch.lot_code))
            .collect());
    }
    let gtin = crate::catalog::variants::gtin_of_variant(db, product, batch.variant_id)
        .await?
        .and_then(|g| Gtin::parse(&g).ok())
        .ok_or_else(|| {
            FieldErrors::single(
                "digital_link",
                FieldIssue::new(
                    "no_gtin",
                    "the batch's size has no GTIN of its own: a Digital Link needs one",
                ),
            )
        })?;
    let urls: Vec<String> = rows
        .iter()
        .map(|s| stamps::digital_link_url(public_url, &gtin, &batch.lot_code, &s.code))
        .collect();
    if let Some(first) = urls.first() {
        stamps::check_label_qr(first)?;
    }
    Ok(urls)
}

/// Quotes a CSV field, and defuses spreadsheet formulas.
fn csv_field(value: &str) -> String {
    let value = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    format!("\"{}\"", value.replace('"', "\"\""))
}

/// The file name a batch's download is offered under, `tem-<lot>.<extension>` ("tem" is a
/// stamp).
pub fn file_name(batch: &batches::Model, extension: &str) -> String {
    format!("tem-{}.{extension}", batch.lot_code)
}
