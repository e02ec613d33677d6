//! Packing: which lot each order line leaves from, and which stamps go on its parcel.
//!
//! When a cooperative ships an order it may name, per line, the lot (batch of that line's
//! variant) the units came from, and list the stamps it put on the parcel. A line given
//! stamps takes its lot from them. Everything is checked before anything is written, and
//! written in the transaction that moves the order to `shipped`
//! ([`super::lifecycle::ship`]): a refusal leaves the order `accepted` and no lot or stamp
//! touched.
//!
//! Invariants:
//! - a lot never ships more than it holds: each lot's units are taken with one conditional
//!   update (`quantity_shipped + n <= quantity`), so of two shipments racing for the last
//!   units exactly one gets them, the other 409 `lot_exhausted`;
//! - a line's lot is of the order's cooperative, its product and its variant (a batch
//!   recorded before variants, `variant_id` NULL, is of the product's first variant), and has
//!   no open recall (409 `lot_recalled`);
//! - a stamp goes into one parcel (unique `order_item_stamps.stamp_id`, 409
//!   `stamp_already_packed`); a line carries at most as many stamps as units, all of one lot;
//! - a line given no lot and no stamp records none and takes no lot stock (older clients and
//!   parcels packed without lots keep working).
//!
//! Stamp codes are secrets: they are never in an order view, a log line or an error message.

use std::collections::{BTreeMap, HashMap};

use chrono::{NaiveDate, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{FieldIssue, StampCode};
use crate::entities::{batch_recalls, batches, order_item_stamps, order_items, orders, stamps};
use crate::error::{AppError, AppResult, FieldErrors, is_unique_violation};

/// Most stamp codes one shipment may carry.
pub const MAX_STAMP_CODES: usize = 1000;

/// The status of a stamp that may go on a parcel (`trace::StampStatus::Active`).
const ACTIVE_STAMP: &str = "active";

/// One line's lot, as the API receives it.
#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(default)]
pub struct LineLotRequest {
    /// A line of this order.
    pub order_item_id: i64,
    /// A lot (batch) of this cooperative, of the line's product and variant.
    pub batch_id: i64,
}

/// What the cooperative says it packed, parsed: each entry keeps its index in the request so
/// that a refusal names the field the client sent (`lines[1].batch_id`, `stamp_codes[3]`).
#[derive(Debug, Clone, Default)]
pub struct Packing {
    lines: Vec<(usize, LineLotRequest)>,
    stamps: Vec<(usize, StampCode)>,
}

impl Packing {
    /// Parses the lines and stamp codes of a shipment (both may be empty). A code sent twice
    /// counts once (two photos of one stamp).
    pub fn parse(lines: &[LineLotRequest], stamp_codes: &[String]) -> AppResult<Self> {
        let mut errors = FieldErrors::default();
        if lines.len() > super::MAX_CART_LINES {
            errors.add(
                "lines",
                FieldIssue::new(
                    "too_many_lines",
                    format!("an order has at most {} lines", super::MAX_CART_LINES),
                ),
            );
        }
        if stamp_codes.len() > MAX_STAMP_CODES {
            errors.add(
                "stamp_codes",
                FieldIssue::new(
                    "too_many_stamp_codes",
                    format!("at most {MAX_STAMP_CODES} stamps per shipment"),
                ),
            );
        }
        if !errors.is_empty() {
            return Err(errors.into_error());
        }
        let mut seen_lines = Vec::new();
        let mut parsed_lines = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            if seen_lines.contains(&line.order_item_id) {
                errors.add(
                    &format!("lines[{i}].order_item_id"),
                    FieldIssue::new("duplicate_order_line", "each line is given one lot"),
                );
                continue;
            }
            seen_lines.push(line.order_item_id);
            parsed_lines.push((i, line.clone()));
        }
        let mut parsed_stamps: Vec<(usize, StampCode)> = Vec::new();
        for (i, text) in stamp_codes.iter().enumerate() {
            match StampCode::parse(text.trim()) {
                Ok(code) if parsed_stamps.iter().any(|(_, c)| *c == code) => {}
                Ok(code) => parsed_stamps.push((i, code)),
                Err(issue) => errors.add(&format!("stamp_codes[{i}]"), issue),
            }
        }
        errors.into_result()?;
        Ok(Self {
            lines: parsed_lines,
            stamps: parsed_stamps,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty() && self.stamps.is_empty()
    }
}

/// What a checked shipment writes, per line that has a lot.
#[derive(Debug, Clone)]
pub struct LinePlan {
    item_id: i64,
    quantity: i64,
    batch_id: i64,
    /// The request field a refusal of this line's lot names.
    field: String,
    stamp_ids: Vec<i64>,
}

/// The checked plan of a shipment.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    lines: Vec<LinePlan>,
}

/// The variant a batch is of: its own, or for a batch recorded before variants the
/// product's first.
async fn variant_of_batches(
    db: &impl ConnectionTrait,
    lots: &BTreeMap<i64, batches::Model>,
) -> AppResult<HashMap<i64, i64>> {
    let mut first_of_product: HashMap<i64, Option<i64>> = HashMap::new();
    let mut out = HashMap::new();
    for batch in lots.values() {
        let variant = match batch.variant_id {
            Some(id) => Some(id),
            None => match first_of_product.get(&batch.product_id) {
                Some(known) => *known,
                None => {
                    let first = crate::catalog::variants::resolve(db, batch.product_id, None)
                        .await?
                        .map(|v| v.id);
                    first_of_product.insert(batch.product_id, first);
                    first
                }
            },
        };
        if let Some(variant) = variant {
            out.insert(batch.id, variant);
        }
    }
    Ok(out)
}

fn not_of_line() -> FieldIssue {
    FieldIssue::new(
        "lot_not_of_line",
        "choose a lot of this cooperative, of the line's product and size",
    )
}

fn unknown_stamp() -> FieldIssue {
    FieldIssue::new(
        "unknown_stamp",
        "this is not an active stamp of the cooperative",
    )
}

/// Checks a shipment's packing against the order (read in the shipping transaction): every
/// refusal is found here, before anything is written. 422 for what the request gets wrong,
/// 409 for a lot recalled or a stamp already packed.
pub async fn check(
    db: &impl ConnectionTrait,
    order: &orders::Model,
    packing: &Packing,
) -> AppResult<Plan> {
    if packing.is_empty() {
        return Ok(Plan::default());
    }
    let items = order_items::Entity::find()
        .filter(order_items::Column::OrderId.eq(order.id))
        .all(db)
        .await?;
    let codes: Vec<String> = packing
        .stamps
        .iter()
        .map(|(_, c)| c.as_str().to_owned())
        .collect();
    let mut found_stamps: HashMap<String, stamps::Model> = HashMap::new();
    for chunk in codes.chunks(500) {
        for stamp in stamps::Entity::find()
            .filter(stamps::Column::Code.is_in(chunk.iter().cloned()))
            .all(db)
            .await?
        {
            found_stamps.insert(stamp.code.clone(), stamp);
        }
    }
    let mut batch_ids: Vec<i64> = packing.lines.iter().map(|(_, l)| l.batch_id).collect();
    batch_ids.extend(found_stamps.values().map(|s| s.batch_id));
    batch_ids.sort_unstable();
    batch_ids.dedup();
    let lots: BTreeMap<i64, batches::Model> = batches::Entity::find()
        .filter(batches::Column::Id.is_in(batch_ids))
        .filter(batches::Column::CooperativeId.eq(order.cooperative_id))
        .all(db)
        .await?
        .into_iter()
        .map(|b| (b.id, b))
        .collect();
    let variants = variant_of_batches(db, &lots).await?;
    let fits = |batch: &batches::Model, item: &order_items::Model| {
        batch.product_id == item.product_id && variants.get(&batch.id) == Some(&item.variant_id)
    };

    let mut errors = FieldErrors::default();
    // The lot named for each line: (batch, field).
    let mut named: HashMap<i64, (i64, String)> = HashMap::new();
    for (i, line) in &packing.lines {
        let Some(item) = items.iter().find(|it| it.id == line.order_item_id) else {
            errors.add(
                &format!("lines[{i}].order_item_id"),
                FieldIssue::new("unknown_order_line", "this is not a line of the order"),
            );
            continue;
        };
        let field = format!("lines[{i}].batch_id");
        match lots.get(&line.batch_id) {
            Some(batch) if fits(batch, item) => {
                named.insert(item.id, (batch.id, field));
            }
            _ => errors.add(&field, not_of_line()),
        }
    }
    // The stamps of each line: (index, stamp).
    let mut stamped: BTreeMap<i64, Vec<(usize, &stamps::Model)>> = BTreeMap::new();
    for (i, code) in &packing.stamps {
        let field = format!("stamp_codes[{i}]");
        let Some(stamp) = found_stamps
            .get(code.as_str())
            .filter(|s| s.cooperative_id == order.cooperative_id && s.status == ACTIVE_STAMP)
        else {
            errors.add(&field, unknown_stamp());
            continue;
        };
        let Some(batch) = lots.get(&stamp.batch_id) else {
            errors.add(&field, unknown_stamp());
            continue;
        };
        let Some(item) = items.iter().find(|it| fits(batch, it)) else {
            errors.add(
                &field,
                FieldIssue::new(
                    "stamp_not_of_order",
                    "this stamp is of a product or size the order does not hold",
                ),
            );
            continue;
        };
        stamped.entry(item.id).or_default().push((*i, stamp));
    }
    let mut plan = Plan::default();
    for item in &items {
        let stamps_here = stamped.get(&item.id).map(Vec::as_slice).unwrap_or_default();
        let from_stamps = match stamps_here.first() {
            Some((first_index, first)) => {
                if let Some((i, _)) = stamps_here
                    .iter()
                    .find(|(_, s)| s.batch_id != first.batch_id)
                {
                    errors.add(
                        &format!("stamp_codes[{i}]"),
                        FieldIssue::new(
                            "stamps_of_two_lots",
                            "the stamps of one line must all be of one lot",
                        ),
                    );
                    continue;
                }
                if let Some((i, _)) = stamps_here.get(usize::try_from(item.quantity).unwrap_or(0)) {
                    errors.add(
                        &format!("stamp_codes[{i}]"),
                        FieldIssue::new(
                            "too_many_stamps",
                            format!(
                                "the line holds {} units: at most one stamp each",
                                item.quantity
                            ),
                        ),
                    );
                    continue;
                }
                Some((first.batch_id, format!("stamp_codes[{first_index}]")))
            }
            None => None,
        };
        let (batch_id, field) = match (named.remove(&item.id), from_stamps) {
            (Some((named_batch, field)), Some((stamp_batch, _))) if named_batch != stamp_batch => {
                errors.add(
                    &field,
                    FieldIssue::new(
                        "lot_differs_from_stamps",
                        "the stamps on this line are of another lot",
                    ),
                );
                continue;
            }
            (Some(chosen), _) | (None, Some(chosen)) => chosen,
            (None, None) => continue,
        };
        plan.lines.push(LinePlan {
            item_id: item.id,
            quantity: item.quantity,
            batch_id,
            field,
            stamp_ids: stamps_here.iter().map(|(_, s)| s.id).collect(),
        });
    }
    errors.into_result()?;

    // Conflicts with what is already recorded.
    let stamp_ids: Vec<i64> = plan
        .lines
        .iter()
        .flat_map(|l| l.stamp_ids.iter().copied())
        .collect();
    if !stamp_ids.is_empty() {
        let packed = order_item_stamps::Entity::find()
            .filter(order_item_stamps::Column::StampId.is_in(stamp_ids))
            .one(db)
            .await?;
        if let Some(packed) = packed {
            let index = packing
                .stamps
                .iter()
                .find(|(_, code)| {
                    found_stamps
                        .get(code.as_str())
                        .is_some_and(|s| s.id == packed.stamp_id)
                })
                .map_or(0, |(i, _)| *i);
            return Err(already_packed(format!("stamp_codes[{index}]")));
        }
    }
    let lot_ids: Vec<i64> = plan.lines.iter().map(|l| l.batch_id).collect();
    let recalled = batch_recalls::Entity::find()
        .filter(batch_recalls::Column::BatchId.is_in(lot_ids))
        .filter(batch_recalls::Column::ClearedAt.is_null())
        .all(db)
        .await?;
    if let Some(line) = plan
        .lines
        .iter()
        .find(|l| recalled.iter().any(|r| r.batch_id == l.batch_id))
    {
        return Err(AppError::conflict_at(
            "lot_recalled",
            line.field.clone(),
            "this lot is recalled: nothing of it may ship",
        ));
    }
    Ok(plan)
}

fn already_packed(field: String) -> AppError {
    AppError::conflict_at(
        "stamp_already_packed",
        field,
        "this stamp is already on another parcel",
    )
}

/// Writes a checked plan in the shipping transaction: takes each lot's units (one conditional
/// update per lot, in lot order so that two shipments lock lots in one order), records each
/// line's lot and its stamps.
pub async fn apply(db: &impl ConnectionTrait, plan: &Plan) -> AppResult<()> {
    let mut per_lot: BTreeMap<i64, (i64, &str)> = BTreeMap::new();
    for line in &plan.lines {
        let entry = per_lot
            .entry(line.batch_id)
            .or_insert((0, line.field.as_str()));
        entry.0 += line.quantity;
    }
    for (batch_id, (units, field)) in per_lot {
        let taken = batches::Entity::update_many()
            .col_expr(
                batches::Column::QuantityShipped,
                Expr::col(batches::Column::QuantityShipped).add(units),
            )
            .filter(batches::Column::Id.eq(batch_id))
            .filter(
                Expr::col(batches::Column::QuantityShipped)
                    .add(units)
                    .lte(Expr::col(batches::Column::Quantity)),
            )
            .exec(db)
            .await?
            .rows_affected;
        if taken != 1 {
            return Err(AppError::conflict_at(
                "lot_exhausted",
                field.to_owned(),
                format!("the lot has fewer than {units} units left to ship"),
            ));
        }
    }
    let now = Utc::now();
    for line in &plan.lines {
        order_items::Entity::update_many()
            .col_expr(order_items::Column::BatchId, Expr::value(line.batch_id))
            .filter(order_items::Column::Id.eq(line.item_id))
            .exec(db)
            .await?;
        for stamp_id in &line.stamp_ids {
            let inserted = order_item_stamps::ActiveModel {
                order_item_id: Set(line.item_id),
                stamp_id: Set(*stamp_id),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(db)
            .await;
            match inserted {
                Ok(_) => {}
                // Another parcel took it between the check and now.
                Err(err) if is_unique_violation(&err) => {
                    return Err(already_packed("stamp_codes".to_owned()));
                }
                Err(err) => return Err(err.into()),
            }
        }
    }
    Ok(())
}

/// A lot a line may be packed from, as the ship form offers it.
#[derive(Debug, Clone)]
pub struct LotChoice {
    pub batch_id: i64,
    pub lot_code: String,
    /// Produced, harvested or recorded on (the first known), as `dd/mm/yyyy`.
    pub date: String,
    /// Units not shipped yet.
    pub remaining: i64,
    /// The oldest lot with enough units for the line, which the form picks.
    pub selected: bool,
}

/// A line of an order, as the lot choices need it.
#[derive(Debug, Clone, Copy)]
pub struct LineNeed {
    pub item_id: i64,
    pub product_id: i64,
    pub variant_id: i64,
    pub quantity: i64,
}

/// For each line, the cooperative's lots of its variant with units left and no open recall,
/// oldest first; the oldest with enough units left is selected.
pub async fn lot_choices(
    db: &impl ConnectionTrait,
    cooperative_id: i64,
    lines: &[LineNeed],
) -> AppResult<HashMap<i64, Vec<LotChoice>>> {
    let mut out = HashMap::new();
    if lines.is_empty() {
        return Ok(out);
    }
    let mut products: Vec<i64> = lines.iter().map(|l| l.product_id).collect();
    products.sort_unstable();
    products.dedup();
    let candidates = batches::Entity::find()
        .filter(batches::Column::CooperativeId.eq(cooperative_id))
        .filter(batches::Column::ProductId.is_in(products))
        .filter(
            Expr::col(batches::Column::QuantityShipped).lt(Expr::col(batches::Column::Quantity)),
        )
        .all(db)
        .await?;
    let ids: Vec<i64> = candidates.iter().map(|b| b.id).collect();
    let recalled: Vec<i64> = batch_recalls::Entity::find()
        .filter(batch_recalls::Column::BatchId.is_in(ids))
        .filter(batch_recalls::Column::ClearedAt.is_null())
        .all(db)
        .await?
        .into_iter()
        .map(|r| r.batch_id)
        .collect();
    let lots: BTreeMap<i64, batches::Model> = candidates
        .into_iter()
        .filter(|b| !recalled.contains(&b.id))
        .map(|b| (b.id, b))
        .collect();
    let variants = variant_of_batches(db, &lots).await?;
    let dated = |b: &batches::Model| -> NaiveDate {
        b.produced_on
            .or(b.harvested_on)
            .unwrap_or_else(|| b.created_at.date_naive())
    };
    for line in lines {
        let mut fitting: Vec<&batches::Model> = lots
            .values()
            .filter(|b| {
                b.product_id == line.product_id && variants.get(&b.id) == Some(&line.variant_id)
            })
            .collect();
        fitting.sort_by_key(|b| (dated(b), b.id));
        let pick = fitting
            .iter()
            .find(|b| b.quantity - b.quantity_shipped >= line.quantity)
            .map(|b| b.id);
        out.insert(
            line.item_id,
            fitting
                .into_iter()
                .map(|b| LotChoice {
                    batch_id: b.id,
                    lot_code: b.lot_code.clone(),
                    date: dated(b).format("%d/%m/%Y").to_string(),
                    remaining: b.quantity - b.quantity_shipped,
                    selected: Some(b.id) == pick,
                })
                .collect(),
        );
    }
    Ok(out)
}

/// The stamp code a line of the ship form names: a code as printed (any case, with dashes),
/// or a stamp's URL as its QR code holds it (`…/s/{code}`, the signed `…/S/{code}/…`, or a
/// GS1 Digital Link whose serial is the code, `…/21/{code}`).
pub fn stamp_code_in(text: &str) -> Option<StampCode> {
    let text = text.trim();
    if !text.contains('/') {
        return StampCode::parse(text).ok();
    }
    let path = text.split_once("://").map_or(text, |(_, rest)| rest);
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    segments.windows(2).find_map(|pair| {
        if pair[0].eq_ignore_ascii_case("s") || pair[0] == "21" {
            StampCode::parse(pair[1]).ok()
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_codes_are_read_from_codes_and_stamp_urls() {
        let code = "0123456789ABCDEF";
        for text in [
            "0123-4567-89ab-cdef",
            "HTTPS://OCOP.EXAMPLE.VN/S/0123456789ABCDEF",
            "https://example.vn/ocop/s/0123456789abcdef?x=1",
            "HTTPS://OCOP.EXAMPLE.VN/S/0123456789ABCDEF/MO-1/42/SIG",
            "https://ocop.example.vn/01/08934567890120/10/MO-1/21/0123456789ABCDEF",
        ] {
            assert_eq!(
                stamp_code_in(text).map(|c| c.as_str().to_owned()),
                Some(code.to_owned()),
                "{text}"
            );
        }
        assert!(stamp_code_in("https://ocop.example.vn/01/08934567890120/10/MO-1/21/42").is_none());
        assert!(stamp_code_in("https://shop.example.vn/products/mat-ong").is_none());
        assert!(stamp_code_in("hello").is_none());
    }

    #[test]
    fn packing_refuses_bad_codes_by_index_and_counts_a_code_once() {
        let err = Packing::parse(&[], &["0123456789ABCDEF".into(), "nope".into()]).unwrap_err();
        assert_eq!(
            err.field_errors().code_for("stamp_codes[1]"),
            Some("invalid_stamp_code")
        );
        let packing = Packing::parse(
            &[],
            &["0123456789ABCDEF".into(), "0123-4567-89AB-CDEF".into()],
        )
        .unwrap();
        assert_eq!(packing.stamps.len(), 1);
        let line = LineLotRequest {
            order_item_id: 1,
            batch_id: 2,
        };
        let err = Packing::parse(&[line.clone(), line], &[]).unwrap_err();
        assert_eq!(
            err.field_errors().code_for("lines[1].order_item_id"),
            Some("duplicate_order_line")
        );
    }
}
