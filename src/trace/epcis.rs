//! A batch's history as a GS1 EPCIS 2.0 JSON-LD document (`EPCISDocument`, schemaVersion 2.0),
//! which validates against GS1's published EPCIS 2.0 JSON Schema (tested).
//!
//! Identifiers: a batch is the class of its packages, named by its GS1 Digital Link URI
//! (`https://id.gs1.org/01/{GTIN}/10/{LOT}`) when the product has a GTIN, and by this
//! deployment's own URI otherwise. Places are communes, named `urn:ocop-market:commune:{code}`
//! (the cooperatives have no GLNs). Harvest, production and best-before dates travel as CBV
//! master data (`cbvmda:`) of the commissioning event.

use std::collections::HashMap;

use chrono::{SecondsFormat, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::{Map, Value, json};

use super::EventType;
use super::events::EventView;
use crate::entities::{batches, products};
use crate::error::AppResult;

pub const EPCIS_CONTEXT: &str = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld";

/// The class URI of a batch's packages.
/// `gtin` is the owned GTIN of the batch's variant, if any
/// ([`crate::catalog::variants::gtin_of_variant`]).
pub fn class_uri(
    public_url: &str,
    product: &products::Model,
    batch: &batches::Model,
    gtin: Option<&str>,
) -> String {
    match gtin {
        Some(gtin14) => format!("https://id.gs1.org/01/{gtin14}/10/{}", batch.lot_code),
        None => format!(
            "{}/lots/{}/{}",
            public_url.trim_end_matches('/'),
            product.id,
            batch.lot_code
        ),
    }
}

fn place_uri(commune_code: &str) -> String {
    format!("urn:ocop-market:commune:{commune_code}")
}

fn biz_step(event_type: EventType) -> &'static str {
    match event_type {
        EventType::Commissioning | EventType::Transformation => "commissioning",
        EventType::Packing => "packing",
        EventType::Shipping => "shipping",
        EventType::Receiving => "receiving",
        EventType::Inspecting => "inspecting",
    }
}

/// An input batch of a transformation: its class URI and quantity.
pub struct InputClass {
    pub batch_id: i64,
    pub class_uri: String,
    pub quantity: i64,
}

/// The input batches of `events` (a batch's transformations) as classes, in the order the
/// database lists them; an input whose product is gone is left out. Two queries however many
/// inputs: the batches, then their products.
pub async fn input_classes(
    db: &impl ConnectionTrait,
    public_url: &str,
    events: &[EventView],
) -> AppResult<Vec<InputClass>> {
    let input_ids: Vec<i64> = events
        .iter()
        .flat_map(|e| e.input_batch_ids.iter().copied())
        .collect();
    if input_ids.is_empty() {
        return Ok(Vec::new());
    }
    let input_batches = batches::Entity::find()
        .filter(batches::Column::Id.is_in(input_ids))
        .all(db)
        .await?;
    let product_ids: Vec<i64> = input_batches.iter().map(|b| b.product_id).collect();
    let input_products: HashMap<i64, products::Model> = products::Entity::find()
        .filter(products::Column::Id.is_in(product_ids))
        .all(db)
        .await?
        .into_iter()
        .map(|p| (p.id, p))
        .collect();
    let mut classes = Vec::with_capacity(input_batches.len());
    for input in &input_batches {
        let Some(product) = input_products.get(&input.product_id) else {
            continue;
        };
        let gtin = crate::catalog::variants::gtin_of_variant(db, product, input.variant_id).await?;
        classes.push(InputClass {
            batch_id: input.id,
            class_uri: class_uri(public_url, product, input, gtin.as_deref()),
            quantity: input.quantity,
        });
    }
    Ok(classes)
}

/// Builds the EPCIS document of one batch.
pub fn document(
    public_url: &str,
    product: &products::Model,
    batch: &batches::Model,
    gtin: Option<&str>,
    events: &[EventView],
    inputs: &[InputClass],
) -> Value {
    let class = class_uri(public_url, product, batch, gtin);
    let quantity = json!([{ "epcClass": class, "quantity": batch.quantity }]);
    let event_list: Vec<Value> = events
        .iter()
        .map(|event| {
            let mut e = Map::new();
            let time = event
                .occurred_at
                .to_rfc3339_opts(SecondsFormat::Secs, false);
            e.insert(
                "eventID".into(),
                json!(format!("urn:ocop-market:event:{}", event.id)),
            );
            e.insert("eventTime".into(), json!(time));
            e.insert(
                "eventTimeZoneOffset".into(),
                json!(event.occurred_at.offset().to_string()),
            );
            e.insert("bizStep".into(), json!(biz_step(event.event_type)));
            e.insert(
                "readPoint".into(),
                json!({ "id": place_uri(&event.commune_code) }),
            );
            e.insert(
                "bizLocation".into(),
                json!({ "id": place_uri(&event.commune_code) }),
            );
            if event.event_type == EventType::Transformation {
                e.insert("type".into(), json!("TransformationEvent"));
                let input_list: Vec<Value> = inputs
                    .iter()
                    .filter(|i| event.input_batch_ids.contains(&i.batch_id))
                    .map(|i| json!({ "epcClass": i.class_uri, "quantity": i.quantity }))
                    .collect();
                e.insert("inputQuantityList".into(), Value::Array(input_list));
                e.insert("outputQuantityList".into(), quantity.clone());
            } else {
                e.insert("type".into(), json!("ObjectEvent"));
                let action = if event.event_type == EventType::Commissioning {
                    "ADD"
                } else {
                    "OBSERVE"
                };
                e.insert("action".into(), json!(action));
                e.insert("quantityList".into(), quantity.clone());
                if event.event_type == EventType::Commissioning {
                    let mut ilmd = Map::new();
                    if let Some(date) = batch.harvested_on {
                        ilmd.insert("cbvmda:harvestStartDate".into(), json!(date.to_string()));
                    }
                    if let Some(date) = batch.best_before {
                        ilmd.insert("cbvmda:bestBeforeDate".into(), json!(date.to_string()));
                    }
                    ilmd.insert("cbvmda:countryOfOrigin".into(), json!("VN"));
                    e.insert("ilmd".into(), Value::Object(ilmd));
                }
            }
            Value::Object(e)
        })
        .collect();
    json!({
        "@context": [EPCIS_CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true),
        "epcisBody": { "eventList": event_list }
    })
}
