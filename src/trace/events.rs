//! Trace events of a batch: commissioning (harvest or production), packing, shipping,
//! receiving, inspecting, and transformation (this batch was made from those input batches).
//! Each has a time with its UTC offset, a place, who did it and a note.

use chrono::{DateTime, FixedOffset, NaiveDateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    TransactionSession, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::EventType;
use crate::accounts::CurrentUser;
use crate::domain::null_as_default;
use crate::domain::{CommuneCode, FieldIssue, LotCode, bounded_text, optional_text};
use crate::entities::{batches, trace_event_inputs, trace_events};
use crate::error::{AppResult, FieldErrors};
use crate::reference::ReferenceData;

use super::batches::optional_coordinate;

/// An event as a form or the API sends it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(default)]
pub struct EventInput {
    /// `commissioning`, `packing`, `shipping`, `receiving`, `inspecting` or `transformation`.
    pub event_type: String,
    /// RFC 3339 with offset (`2025-11-02T07:30:00+07:00`), or `YYYY-MM-DDTHH:MM` read in
    /// `utc_offset`.
    pub occurred_at: String,
    /// `+07:00` by default.
    #[serde(deserialize_with = "null_as_default")]
    pub utc_offset: String,
    /// Where it happened (5 digits); defaults to the batch's origin commune.
    #[serde(deserialize_with = "null_as_default")]
    pub commune_code: String,
    #[serde(deserialize_with = "null_as_default")]
    pub latitude: String,
    #[serde(deserialize_with = "null_as_default")]
    pub longitude: String,
    /// Who did it: a person, team or company.
    pub actor: String,
    #[serde(deserialize_with = "null_as_default")]
    pub note: String,
    /// For a transformation: lot codes of the cooperative's input batches, comma-separated.
    #[serde(deserialize_with = "null_as_default")]
    pub input_lots: String,
}

#[derive(Debug, Clone)]
pub struct EventDetails {
    pub event_type: EventType,
    pub occurred_at: DateTime<FixedOffset>,
    pub commune: Option<CommuneCode>,
    pub position: Option<(f64, f64)>,
    pub actor: String,
    pub note: String,
    pub input_lots: Vec<LotCode>,
}

fn parse_offset(input: &str) -> Result<FixedOffset, FieldIssue> {
    let text = input.trim();
    if text.is_empty() {
        return Ok(crate::clock::vietnam_offset());
    }
    let invalid = || FieldIssue::new("invalid_offset", "an offset such as +07:00");
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => return Err(invalid()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(invalid)?;
    let (h, m): (i32, i32) = (
        h.parse().map_err(|_| invalid())?,
        m.parse().map_err(|_| invalid())?,
    );
    if !(0..=14).contains(&h) || !(0..60).contains(&m) {
        return Err(invalid());
    }
    FixedOffset::east_opt(sign * (h * 3600 + m * 60)).ok_or_else(invalid)
}

fn parse_time(input: &str, offset: FixedOffset) -> Result<DateTime<FixedOffset>, FieldIssue> {
    let text = input.trim();
    if text.is_empty() {
        return Err(FieldIssue::new("required", "this field is required"));
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at);
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"] {
        if let Ok(local) = NaiveDateTime::parse_from_str(text, format)
            && let Some(at) = local.and_local_timezone(offset).single()
        {
            return Ok(at);
        }
    }
    Err(FieldIssue::new(
        "invalid_datetime",
        "a time such as 2025-11-02T07:30",
    ))
}

impl EventInput {
    pub fn parse(&self, reference: &ReferenceData) -> AppResult<EventDetails> {
        let mut errors = FieldErrors::default();
        let event_type = errors.take(
            "event_type",
            EventType::parse(self.event_type.trim()).ok_or_else(|| {
                FieldIssue::new("invalid_event_type", "choose what happened to the batch")
            }),
        );
        let offset = errors.take("utc_offset", parse_offset(&self.utc_offset));
        let occurred_at = offset
            .and_then(|offset| errors.take("occurred_at", parse_time(&self.occurred_at, offset)));
        if let Some(at) = occurred_at
            && at.with_timezone(&Utc) > Utc::now() + chrono::Duration::hours(1)
        {
            errors.add(
                "occurred_at",
                FieldIssue::new("in_the_future", "the event cannot be in the future"),
            );
        }
        let commune = errors.take(
            "commune_code",
            reference.parse_optional_commune(&self.commune_code),
        );
        let latitude = errors.take("latitude", optional_coordinate(&self.latitude, 90.0));
        let longitude = errors.take("longitude", optional_coordinate(&self.longitude, 180.0));
        let actor = errors.take("actor", bounded_text(&self.actor, 1, 200));
        let note = errors.take("note", optional_text(&self.note, 2000));
        let mut input_lots = Vec::new();
        for lot in self
            .input_lots
            .split(',')
            .map(str::trim)
            .filter(|l| !l.is_empty())
        {
            match LotCode::parse(lot) {
                Ok(lot) => input_lots.push(lot),
                Err(issue) => errors.add("input_lots", issue),
            }
        }
        if event_type == Some(EventType::Transformation) && input_lots.is_empty() {
            errors.add(
                "input_lots",
                FieldIssue::new(
                    "inputs_required",
                    "a transformation names its input batches",
                ),
            );
        }
        let position = match (latitude, longitude) {
            (Some(Some(lat)), Some(Some(lon))) => Some((lat, lon)),
            (Some(None), Some(None)) => None,
            _ => {
                if !errors
                    .iter()
                    .any(|e| e.field == "latitude" || e.field == "longitude")
                {
                    errors.add(
                        "longitude",
                        FieldIssue::new(
                            "incomplete_coordinates",
                            "give both latitude and longitude",
                        ),
                    );
                }
                None
            }
        };
        errors.clone().into_result()?;
        match (event_type, occurred_at, commune, actor, note) {
            (Some(event_type), Some(occurred_at), Some(commune), Some(actor), Some(note)) => {
                Ok(EventDetails {
                    event_type,
                    occurred_at,
                    commune,
                    position,
                    actor,
                    note: note.unwrap_or_default(),
                    input_lots,
                })
            }
            _ => Err(errors.into_error()),
        }
    }
}

/// Records an event on a batch (of the member's cooperative; the caller checked), with its
/// input batches for a transformation, in one transaction.
pub async fn record(
    db: &(impl ConnectionTrait + TransactionTrait),
    user: &CurrentUser,
    batch: &batches::Model,
    details: EventDetails,
) -> AppResult<trace_events::Model> {
    let mut input_ids = Vec::new();
    for lot in &details.input_lots {
        let input = batches::Entity::find()
            .filter(batches::Column::CooperativeId.eq(batch.cooperative_id))
            .filter(batches::Column::LotCode.eq(lot.as_str()))
            .filter(batches::Column::Id.ne(batch.id))
            .one(db)
            .await?;
        match input {
            Some(b) => input_ids.push(b.id),
            None => {
                return Err(FieldErrors::single(
                    "input_lots",
                    FieldIssue::new(
                        "unknown_lot",
                        format!(
                            "the cooperative has no other batch with lot code {}",
                            lot.as_str()
                        ),
                    ),
                ));
            }
        }
    }
    input_ids.sort_unstable();
    input_ids.dedup();
    let txn = crate::db::begin_write(db).await?;
    let event = trace_events::ActiveModel {
        batch_id: Set(batch.id),
        cooperative_id: Set(batch.cooperative_id),
        event_type: Set(details.event_type.as_str().to_owned()),
        occurred_at: Set(details.occurred_at.with_timezone(&Utc)),
        utc_offset: Set(details.occurred_at.offset().to_string()),
        commune_code: Set(details
            .commune
            .map(|c| c.as_str().to_owned())
            .unwrap_or_else(|| batch.origin_commune_code.clone())),
        latitude: Set(details.position.map(|p| p.0)),
        longitude: Set(details.position.map(|p| p.1)),
        actor: Set(details.actor),
        note: Set(details.note),
        created_by: Set(user.id),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    for input in input_ids {
        trace_event_inputs::ActiveModel {
            event_id: Set(event.id),
            input_batch_id: Set(input),
        }
        .insert(&txn)
        .await?;
    }
    txn.commit().await?;
    Ok(event)
}

/// An event as pages and the API show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    pub id: i64,
    pub event_type: EventType,
    /// RFC 3339 in the offset where it happened.
    pub occurred_at: DateTime<FixedOffset>,
    pub commune_code: String,
    pub place: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub actor: String,
    pub note: String,
    /// Lot codes of the input batches (transformations).
    pub input_lots: Vec<String>,
    #[serde(skip)]
    pub input_batch_ids: Vec<i64>,
}

impl EventView {
    /// "02/11/2025 07:30 (+07:00)".
    pub fn time_text(&self) -> String {
        self.occurred_at.format("%d/%m/%Y %H:%M (%:z)").to_string()
    }

    pub fn type_key(&self) -> String {
        format!("event.type_{}", self.event_type.as_str())
    }
}

/// The events of a batch in time order, with their inputs.
pub async fn of_batch(
    db: &impl ConnectionTrait,
    reference: &ReferenceData,
    batch_id: i64,
) -> AppResult<Vec<EventView>> {
    let events = trace_events::Entity::find()
        .filter(trace_events::Column::BatchId.eq(batch_id))
        .order_by_asc(trace_events::Column::OccurredAt)
        .order_by_asc(trace_events::Column::Id)
        .all(db)
        .await?;
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    let inputs = if ids.is_empty() {
        Vec::new()
    } else {
        trace_event_inputs::Entity::find()
            .filter(trace_event_inputs::Column::EventId.is_in(ids))
            .all(db)
            .await?
    };
    let input_batch_ids: Vec<i64> = inputs.iter().map(|i| i.input_batch_id).collect();
    let input_batches = if input_batch_ids.is_empty() {
        Vec::new()
    } else {
        batches::Entity::find()
            .filter(batches::Column::Id.is_in(input_batch_ids))
            .all(db)
            .await?
    };
    Ok(events
        .into_iter()
        .map(|e| {
            let offset = e
                .utc_offset
                .parse::<FixedOffset>()
                .unwrap_or_else(|_| crate::clock::vietnam_offset());
            let mine: Vec<i64> = inputs
                .iter()
                .filter(|i| i.event_id == e.id)
                .map(|i| i.input_batch_id)
                .collect();
            EventView {
                id: e.id,
                event_type: EventType::parse(&e.event_type).unwrap_or(EventType::Inspecting),
                occurred_at: e.occurred_at.with_timezone(&offset),
                place: reference.place_name(&e.commune_code),
                commune_code: e.commune_code,
                latitude: e.latitude,
                longitude: e.longitude,
                actor: e.actor,
                note: e.note,
                input_lots: input_batches
                    .iter()
                    .filter(|b| mine.contains(&b.id))
                    .map(|b| b.lot_code.clone())
                    .collect(),
                input_batch_ids: mine,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_keep_their_offset() {
        let offset = parse_offset("+07:00").unwrap();
        let at = parse_time("2025-11-02T07:30", offset).unwrap();
        assert_eq!(at.to_rfc3339(), "2025-11-02T07:30:00+07:00");
        let at = parse_time("2025-11-02T07:30:00+08:00", offset).unwrap();
        assert_eq!(at.offset().to_string(), "+08:00");
        assert!(parse_offset("07:00").is_err());
        assert!(parse_offset("+15:00").is_err());
        assert!(parse_time("02/11/2025", offset).is_err());
    }

    #[test]
    fn a_transformation_needs_inputs() {
        use crate::error::AppError;
        let reference = ReferenceData::embedded();
        let input = EventInput {
            event_type: "transformation".into(),
            occurred_at: "2025-11-02T07:30".into(),
            actor: "Tổ sấy".into(),
            ..Default::default()
        };
        let Err(AppError::Validation(errors)) = input.parse(&reference) else {
            panic!("expected a validation error")
        };
        assert_eq!(errors.code_for("input_lots"), Some("inputs_required"));
    }
}
