//! The cooperative's ship form: carrier and tracking number, a lot per line, and the stamps
//! on the parcel, typed or pasted (codes or stamp URLs) or read from photos of the parcel.
//! The form is multipart (it carries photos); a plain urlencoded post (older pages, no photo)
//! is read too. Works without JavaScript: the file input opens the phone's camera.

use axum::Router;
use axum::extract::multipart::Multipart;
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use bytes::Bytes;

use super::lifecycle::{self, Actor, Shipment};
use super::packing::{self, LineLotRequest, Packing};
use super::queries::seller_order;
use super::routes_pages::cooperative_orders_for;
use crate::AppState;
use crate::accounts::Authenticated;
use crate::domain::FieldIssue;
use crate::error::{AppError, AppResult, FieldErrors};
use crate::http::extract::{ApiPath, PageForm};
use crate::http::page::{PageContext, render_with_status};
use crate::media::processing::Rejection;
use crate::media::routes::MAX_UPLOAD_BODY;

/// Most photos of stamps one ship form may carry.
pub const MAX_STAMP_PHOTOS: usize = 6;

pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/workspace/orders/{id}/ship",
        post(ship_submit).layer(DefaultBodyLimit::max(MAX_UPLOAD_BODY * MAX_STAMP_PHOTOS)),
    )
}

/// The ship form's fields.
#[derive(Default)]
struct ShipForm {
    carrier: String,
    carrier_name: String,
    tracking_number: String,
    /// `lot_{order_item_id}` fields: the line and the lot picked (empty: none).
    lots: Vec<(i64, String)>,
    /// The stamp codes or URLs typed or pasted, one a line.
    stamp_text: String,
    photos: Vec<Bytes>,
}

impl ShipForm {
    fn field(&mut self, name: &str, value: String) {
        match name {
            "carrier" => self.carrier = value,
            "carrier_name" => self.carrier_name = value,
            "tracking_number" => self.tracking_number = value,
            "stamp_codes" => self.stamp_text = value,
            other => {
                if let Some(item) = other
                    .strip_prefix("lot_")
                    .and_then(|id| id.parse::<i64>().ok())
                {
                    self.lots.push((item, value));
                }
            }
        }
    }
}

fn malformed(err: axum::extract::multipart::MultipartError) -> AppError {
    AppError::bad_request(
        "malformed_upload",
        format!("the form could not be read: {err}"),
    )
}

async fn read_form(state: &AppState, request: Request) -> AppResult<ShipForm> {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let mut form = ShipForm::default();
    if !multipart {
        let PageForm(fields) =
            PageForm::<Vec<(String, String)>>::from_request(request, state).await?;
        for (name, value) in fields {
            form.field(&name, value);
        }
        return Ok(form);
    }
    let max_bytes = state.photos.limits().max_bytes;
    let mut multipart = Multipart::from_request(request, state).await.map_err(|_| {
        AppError::UnsupportedMediaType {
            expected: "multipart/form-data",
        }
    })?;
    while let Some(field) = multipart.next_field().await.map_err(malformed)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "stamp_photos" {
            let bytes = field.bytes().await.map_err(malformed)?;
            // A file input left empty sends an empty part.
            if bytes.is_empty() {
                continue;
            }
            if bytes.len() > max_bytes {
                return Err(FieldErrors::single(
                    "stamp_photos",
                    Rejection::TooLarge { max_bytes }.to_issue(),
                ));
            }
            if form.photos.len() >= MAX_STAMP_PHOTOS {
                return Err(FieldErrors::single(
                    "stamp_photos",
                    FieldIssue::new(
                        "too_many_stamp_photos",
                        format!("send at most {MAX_STAMP_PHOTOS} photos at once"),
                    ),
                ));
            }
            form.photos.push(bytes);
        } else {
            let value = field.text().await.map_err(malformed)?;
            form.field(&name, value);
        }
    }
    Ok(form)
}

/// Where a stamp code of the request came from, so that a refusal shows beside its input.
const TYPED: &str = "stamp_codes";
const PHOTOGRAPHED: &str = "stamp_photos";

/// The stamp codes of the form: typed or pasted lines (codes or stamp URLs), then those read
/// from the photos. Each with the input it came from.
async fn stamp_codes(state: &AppState, form: &ShipForm) -> AppResult<Vec<(String, &'static str)>> {
    let mut codes = Vec::new();
    for line in form
        .stamp_text
        .split(['\n', ',', ';'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
    {
        match packing::stamp_code_in(line) {
            Some(code) => codes.push((code.as_str().to_owned(), TYPED)),
            None => {
                return Err(FieldErrors::single(
                    TYPED,
                    FieldIssue::new(
                        "invalid_stamp_code",
                        "a stamp code is 16 letters and digits",
                    ),
                ));
            }
        }
    }
    if form.photos.is_empty() {
        return Ok(codes);
    }
    let _receiving = state.photos.admit().await?;
    for (n, photo) in form.photos.iter().enumerate() {
        let limits = *state.photos.limits();
        let photo = photo.clone();
        let read = tokio::task::spawn_blocking(move || {
            crate::media::processing::decode_gray(&photo, &limits).map(crate::qr::read_all)
        })
        .await
        .map_err(|e| AppError::Internal(anyhow::Error::new(e).context("reading stamp photo")))?;
        let texts = read.map_err(|r| FieldErrors::single(PHOTOGRAPHED, r.to_issue()))?;
        let found: Vec<String> = texts
            .iter()
            .filter_map(|t| packing::stamp_code_in(t))
            .map(|c| c.as_str().to_owned())
            .collect();
        if found.is_empty() {
            return Err(FieldErrors::single(
                PHOTOGRAPHED,
                FieldIssue::new(
                    "no_stamp_in_photo",
                    format!("no stamp QR code could be read in photo {}", n + 1),
                ),
            ));
        }
        codes.extend(found.into_iter().map(|c| (c, PHOTOGRAPHED)));
    }
    Ok(codes)
}

/// The service's field names (`lines[0].batch_id`, `stamp_codes[3]`) as the form's inputs
/// (`lot_{item}`, the stamp text area or the photo input).
fn form_fields(errors: FieldErrors, lines: &[LineLotRequest], sources: &[&str]) -> FieldErrors {
    let mut out = FieldErrors::default();
    for error in errors.iter() {
        let field = if let Some(rest) = error.field.strip_prefix("lines[") {
            let index = rest.split(']').next().and_then(|i| i.parse::<usize>().ok());
            match index.and_then(|i| lines.get(i)) {
                Some(line) => format!("lot_{}", line.order_item_id),
                None => "lines".to_owned(),
            }
        } else if let Some(rest) = error.field.strip_prefix("stamp_codes[") {
            let index = rest.split(']').next().and_then(|i| i.parse::<usize>().ok());
            index
                .and_then(|i| sources.get(i))
                .copied()
                .unwrap_or(TYPED)
                .to_owned()
        } else {
            error.field.clone()
        };
        out.add(&field, FieldIssue::new(error.code, error.message.clone()));
    }
    out
}

/// Ships an order from the cooperative's desk; back to the desk, or the desk again with the
/// errors beside the order's fields.
async fn ship_submit(
    State(state): State<AppState>,
    ctx: PageContext,
    Authenticated(user): Authenticated,
    ApiPath(id): ApiPath<i64>,
    request: Request,
) -> AppResult<Response> {
    let order = seller_order(&state.db, &user, id).await?;
    let form = read_form(&state, request).await?;
    let mut lines = Vec::new();
    let mut sources = Vec::new();
    let result = async {
        for (item, value) in &form.lots {
            let value = value.trim();
            if value.is_empty() {
                continue;
            }
            let batch_id = value.parse::<i64>().map_err(|_| {
                FieldErrors::single(
                    &format!("lot_{item}"),
                    FieldIssue::new("lot_not_of_line", "choose a lot from the list"),
                )
            })?;
            lines.push(LineLotRequest {
                order_item_id: *item,
                batch_id,
            });
        }
        let codes = stamp_codes(&state, &form).await?;
        sources = codes.iter().map(|(_, s)| *s).collect();
        let texts: Vec<String> = codes.into_iter().map(|(c, _)| c).collect();
        let shipment =
            Shipment::parse_with_other(&form.carrier, &form.carrier_name, &form.tracking_number)?;
        let packing = Packing::parse(&lines, &texts)?;
        lifecycle::ship(
            &state.db,
            id,
            shipment,
            &packing,
            Actor {
                user_id: Some(user.id),
            },
        )
        .await
    }
    .await;
    match result {
        Ok(_) => Ok(Redirect::to(&format!(
            "/workspace/cooperatives/{}/orders#o{id}",
            order.cooperative_id
        ))
        .into_response()),
        Err(err) => {
            let (status, errors) = err.into_form_errors()?;
            let errors = form_fields(errors, &lines, &sources);
            let mut page =
                cooperative_orders_for(&state, ctx, &user, order.cooperative_id, None).await?;
            page.ship_errors = errors;
            page.ship_order = Some(id);
            render_with_status(status, &page)
        }
    }
}
