//! Bank notifications: the platform's collecting account reports each incoming transfer
//! (through the bank's API or a notification service such as SePay or Casso) as signed JSON.
//!
//! A notification is accepted only with a valid HMAC-SHA256 signature over its exact bytes
//! (and a fresh timestamp, when the format signs one). Each transfer is processed exactly once:
//! its bank transaction id is recorded in `webhook_events` under a unique key in the same
//! database transaction that settles it, so a replay or a concurrent duplicate does nothing.
//! The payment is found by the reference in the transfer's description, wherever the bank put
//! it and whatever it added around it; the amount is the bank's, checked against the payment.

use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::Value;

use super::Funds;
use super::amount;
use super::settle::{self, Receipt};
use super::{signature, webhook};
use crate::config::BankWebhookConfig;
use crate::domain::CROCKFORD;
use crate::entities::payments;
use crate::error::{AppError, AppResult};

pub use super::signature::SignatureError;

/// Checks a notification's signature. `header` is the signature header's value,
/// `timestamp_header` the timestamp header's value when the format has one.
pub fn verify_signature(
    config: &BankWebhookConfig,
    header: Option<&str>,
    timestamp_header: Option<&str>,
    body: &[u8],
    now_unix: i64,
) -> Result<(), SignatureError> {
    let scheme = signature::Scheme {
        secrets: std::slice::from_ref(&config.secret),
        timestamp_required: config.timestamp_header.is_some(),
        tolerance_seconds: config.tolerance.as_secs(),
    };
    signature::verify(scheme, header, timestamp_header, body, now_unix)
}

/// Signs a body as the `generic` format expects (`X-Signature: sha256=<hex>` over
/// `"{timestamp}.{body}"`); for tests, tools and the benchmark.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    format!("sha256={}", signature::sign_hex(secret, timestamp, body))
}

/// One incoming transfer read from a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    pub transaction_id: String,
    pub amount_vnd: i64,
    pub description: String,
    /// The transfer's own JSON, kept for audit.
    pub raw: String,
}

/// One item of a notification, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// Money in, to settle.
    Incoming(Transfer),
    /// Money out of the collecting account (a refund, a payout): nothing to settle.
    Outgoing { transaction_id: String },
    /// An item this platform cannot read without guessing; it waits for an administrator.
    Refused(RefusedItem),
}

/// An item of a notification that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusedItem {
    /// Its place in the notification (0 for a notification of one transfer).
    pub index: usize,
    /// The bank's transaction id, when it could be read.
    pub transaction_id: Option<String>,
    pub reason: String,
    pub raw: String,
}

/// Reads the items of a notification. Direction follows the preset: a direction field
/// (SePay's `transferType`) when the format has one, the amount's sign otherwise (Casso and
/// the generic format report money out as a negative amount). A body that is not a
/// notification at all is refused whole; an item that cannot be read is returned as
/// [`Item::Refused`] so that the others still settle.
pub fn parse_transfers(config: &BankWebhookConfig, body: &[u8]) -> AppResult<Vec<Item>> {
    let json: Value = serde_json::from_slice(body).map_err(|err| {
        AppError::bad_request("malformed_notification", format!("not JSON: {err}"))
    })?;
    let items: Vec<&Value> = match &config.items_pointer {
        Some(pointer) => json
            .pointer(pointer)
            .and_then(Value::as_array)
            .ok_or_else(|| malformed(format!("{pointer} must be an array of transfers")))?
            .iter()
            .collect(),
        None => vec![&json],
    };
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(index, item)| read_item(config, index, item))
        .collect())
}

fn read_item(config: &BankWebhookConfig, index: usize, item: &Value) -> Item {
    let transaction_id = match item.pointer(&config.transaction_id_pointer) {
        Some(Value::String(id)) if !id.trim().is_empty() && id.len() <= 255 => {
            Some(id.trim().to_owned())
        }
        Some(Value::Number(id)) => Some(id.to_string()),
        _ => None,
    };
    let refused = |reason: String| {
        Item::Refused(RefusedItem {
            index,
            transaction_id: transaction_id.clone(),
            reason,
            raw: item.to_string(),
        })
    };
    let Some(id) = transaction_id.clone() else {
        return refused(format!(
            "{} must be the bank transaction id",
            config.transaction_id_pointer
        ));
    };
    let amount = match amount::parse_amount(item.pointer(&config.amount_pointer)) {
        Ok(amount) => amount,
        Err(err) => return refused(format!("{}: {err}", config.amount_pointer)),
    };
    let outgoing = match &config.direction {
        Some((pointer, incoming)) => match item.pointer(pointer).and_then(Value::as_str) {
            Some(direction) if direction == incoming => false,
            Some(_) => true,
            None => return refused(format!("{pointer} must say the transfer's direction")),
        },
        None => amount < 0,
    };
    if outgoing {
        return Item::Outgoing { transaction_id: id };
    }
    if amount <= 0 {
        return refused(format!(
            "{} must be a positive whole number of đồng for money in",
            config.amount_pointer
        ));
    }
    Item::Incoming(Transfer {
        transaction_id: id,
        amount_vnd: amount,
        description: item
            .pointer(&config.description_pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .chars()
            .take(1000)
            .collect(),
        raw: item.to_string(),
    })
}

fn malformed(message: String) -> AppError {
    AppError::bad_request("malformed_notification", message)
}

/// Payment references found in a transfer description. Banks upper-case it, drop or add
/// punctuation and spaces, and prepend or append their own text (sender name, "FT…" ids), so
/// every `OCOP` followed by 8 Crockford characters, once punctuation and spaces are removed,
/// is a candidate; Crockford decoding also forgives O/0 and I/L/1 slips.
pub fn candidate_references(description: &str) -> Vec<String> {
    let compact: String = description
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let mut found = Vec::new();
    let mut start = 0;
    while let Some(at) = compact[start..].find("OCOP") {
        let code_start = start + at + 4;
        if let Some(code) = compact.get(code_start..code_start + 8)
            && let Ok(bytes) = CROCKFORD.decode(code.as_bytes())
        {
            let reference = format!("OCOP{}", CROCKFORD.encode(&bytes));
            if !found.contains(&reference) {
                found.push(reference);
            }
        }
        start = start + at + 1;
    }
    found
}

/// What happened to one transfer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TransferOutcome {
    pub transaction_id: String,
    /// `paid`, `underpaid`, `overpaid`, `unmatched`, `duplicate` (already processed),
    /// `outgoing_ignored` (money out of the account), `refused` (unreadable: queued for an
    /// administrator), …
    pub outcome: String,
    /// Why an item was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Records and settles the incoming transfers of a notification, each in its own database
/// transaction, so that one item never holds up another. Outgoing items are logged and
/// skipped. An unreadable item of a batch is recorded once for the administrator (payment
/// exception `unreadable_transfer`) and the batch is still acknowledged, since the service
/// would otherwise resend the whole batch forever; a notification of one transfer that cannot
/// be read is refused with a problem naming the field, which the service sees.
pub async fn process(
    db: &DatabaseConnection,
    items: Vec<Item>,
    source: &str,
    batch: bool,
) -> AppResult<Vec<TransferOutcome>> {
    if !batch && let [Item::Refused(refused)] = items.as_slice() {
        return Err(AppError::bad_request(
            "unreadable_transfer",
            format!("the transfer cannot be read: {}", refused.reason),
        ));
    }
    let mut outcomes = Vec::with_capacity(items.len());
    for item in items {
        outcomes.push(match item {
            Item::Incoming(transfer) => {
                let outcome = process_one(db, &transfer, source).await?;
                TransferOutcome {
                    transaction_id: transfer.transaction_id,
                    outcome,
                    problem: None,
                }
            }
            Item::Outgoing { transaction_id } => {
                tracing::info!(transaction = %transaction_id, "outgoing transfer ignored");
                TransferOutcome {
                    transaction_id,
                    outcome: "outgoing_ignored".into(),
                    problem: None,
                }
            }
            Item::Refused(refused) => {
                tracing::warn!(index = refused.index, transaction = ?refused.transaction_id,
                    reason = %refused.reason, "unreadable transfer queued for an administrator");
                let outcome = queue_refused(db, &refused, source).await?;
                TransferOutcome {
                    transaction_id: refused
                        .transaction_id
                        .unwrap_or_else(|| format!("item {}", refused.index)),
                    outcome,
                    problem: Some(refused.reason),
                }
            }
        });
    }
    Ok(outcomes)
}

/// Puts an unreadable item in the administrator's queue, once (keyed by its transaction id,
/// or by its content when it has none). No money is booked: nobody knows how much arrived
/// until an administrator reads the bank statement and confirms the transfer by hand.
async fn queue_refused(
    db: &DatabaseConnection,
    refused: &RefusedItem,
    source: &str,
) -> AppResult<String> {
    use sha2::Digest;
    // Under a key of its own, so that the transaction id stays free for the administrator's
    // confirmation by hand of the same transfer.
    let keyed_by = refused.transaction_id.as_deref().unwrap_or(&refused.raw);
    let key = format!(
        "unreadable:{}",
        data_encoding::HEXLOWER.encode(&sha2::Sha256::digest(keyed_by.as_bytes())[..16])
    );
    let txn = crate::db::begin_write(db).await?;
    let record = webhook::EventRecord {
        provider: "bank",
        event_id: &key,
        event_type: source,
        payload: &refused.raw,
    };
    let Some(event_id) = webhook::record(&txn, record).await? else {
        txn.rollback().await?;
        return Ok("duplicate".into());
    };
    settle::queue_unreadable(
        &txn,
        event_id,
        refused.transaction_id.as_deref(),
        &format!("{}: {}", refused.reason, refused.raw),
    )
    .await?;
    webhook::set_outcome(&txn, event_id, "refused").await?;
    txn.commit().await?;
    Ok("refused".into())
}

async fn process_one(
    db: &DatabaseConnection,
    transfer: &Transfer,
    source: &str,
) -> AppResult<String> {
    let txn = crate::db::begin_write(db).await?;
    let record = webhook::EventRecord {
        provider: "bank",
        event_id: &transfer.transaction_id,
        event_type: source,
        payload: &transfer.raw,
    };
    let Some(event_id) = webhook::record(&txn, record).await? else {
        txn.rollback().await?;
        return Ok("duplicate".into());
    };
    let receipt = Receipt {
        amount_vnd: transfer.amount_vnd,
        provider_payment_id: transfer.transaction_id.clone(),
        funds: Funds::Bank,
        webhook_event_id: Some(event_id),
        description: transfer.description.clone(),
    };
    let candidates = candidate_references(&transfer.description);
    let payment = if candidates.is_empty() {
        None
    } else {
        payments::Entity::find()
            .filter(payments::Column::Reference.is_in(candidates))
            .filter(payments::Column::Method.eq(crate::orders::PaymentMethod::VietQr.as_str()))
            .one(&txn)
            .await?
    };
    let outcome = match payment {
        Some(payment) => settle::settle(&txn, payment.id, &receipt).await?.as_str(),
        None => settle::unmatched(&txn, &receipt).await?.as_str(),
    };
    webhook::set_outcome(&txn, event_id, outcome).await?;
    txn.commit().await?;
    Ok(outcome.to_owned())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::Secret;

    fn config() -> BankWebhookConfig {
        BankWebhookConfig::generic(Secret::new("shared-secret"))
    }

    #[test]
    fn a_signed_body_verifies_and_any_change_does_not() {
        let body = br#"{"transaction_id":"FT1","amount":150000,"description":"OCOPABCDEFGH"}"#;
        let signature = sign("shared-secret", 1_000, body);
        let ts = "1000";
        assert_eq!(
            verify_signature(&config(), Some(&signature), Some(ts), body, 1_010),
            Ok(())
        );
        let mut tampered = body.to_vec();
        tampered[40] ^= 1;
        assert_eq!(
            verify_signature(&config(), Some(&signature), Some(ts), &tampered, 1_010),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(&config(), Some(&signature), Some("1001"), body, 1_010),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature(&config(), None, Some(ts), body, 1_010),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify_signature(&config(), Some(&signature), None, body, 1_010),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            verify_signature(&config(), Some(&signature), Some(ts), body, 1_000 + 301),
            Err(SignatureError::Stale)
        );
        let other = sign("another-secret", 1_000, body);
        assert_eq!(
            verify_signature(&config(), Some(&other), Some(ts), body, 1_010),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn stripe_style_headers_accept_any_v1_during_rotation() {
        let body = b"{}";
        let good = sign("shared-secret", 500, body);
        let good_hex = good.trim_start_matches("sha256=");
        let header = format!("t=500,v1={},v1={good_hex}", "00".repeat(32));
        assert_eq!(
            verify_signature(&config(), Some(&header), None, body, 500),
            Ok(())
        );
    }

    #[test]
    fn bodies_without_timestamps_verify_when_the_format_signs_the_body_alone() {
        let mut cfg = config();
        cfg.timestamp_header = None;
        cfg.tolerance = Duration::from_secs(1);
        use hmac::Mac;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"shared-secret").expect("key");
        mac.update(b"{\"a\":1}");
        let b64 = data_encoding::BASE64.encode(&mac.finalize().into_bytes());
        assert_eq!(
            verify_signature(&cfg, Some(&b64), None, b"{\"a\":1}", 0),
            Ok(())
        );
    }

    #[test]
    fn references_are_found_whatever_the_bank_adds() {
        assert_eq!(candidate_references("OCOPK7M2Q9AB"), vec!["OCOPK7M2Q9AB"]);
        assert_eq!(
            candidate_references("NGUYEN VAN A chuyen tien ocop-k7m2 q9ab FT24123456789"),
            vec!["OCOPK7M2Q9AB"]
        );
        // The platform's own name in the description does not hide the reference after it
        // (the false candidate it makes matches no payment).
        let found = candidate_references("CT OCOP MARKET OCOPK7M2Q9AB");
        assert_eq!(found, vec!["OCOPMARKET0C", "OCOPK7M2Q9AB"]);
        // O read as 0, I and L as 1.
        assert_eq!(candidate_references("OCOPK7M2Q9OI"), vec!["OCOPK7M2Q901"]);
        assert!(candidate_references("no reference here").is_empty());
        assert!(candidate_references("OCOPK7M").is_empty());
    }

    fn incoming(items: &[Item]) -> Vec<(String, i64)> {
        items
            .iter()
            .filter_map(|item| match item {
                Item::Incoming(t) => Some((t.transaction_id.clone(), t.amount_vnd)),
                _ => None,
            })
            .collect()
    }

    fn sepay() -> BankWebhookConfig {
        let mut sepay = config();
        sepay.transaction_id_pointer = "/id".into();
        sepay.amount_pointer = "/transferAmount".into();
        sepay.description_pointer = "/content".into();
        sepay.direction = Some(("/transferType".into(), "in".into()));
        sepay
    }

    fn casso() -> BankWebhookConfig {
        let mut casso = config();
        casso.items_pointer = Some("/data".into());
        casso.transaction_id_pointer = "/tid".into();
        casso
    }

    #[test]
    fn sepay_and_casso_shapes_parse() {
        let body = br#"{"id":92704,"gateway":"Vietcombank","transferType":"in","transferAmount":2277000,"content":"OCOPK7M2Q9AB thanh toan"}"#;
        let items = parse_transfers(&sepay(), body).expect("parses");
        assert_eq!(incoming(&items), vec![("92704".to_owned(), 2_277_000)]);
        let outgoing = br#"{"id":1,"transferType":"out","transferAmount":5,"content":"x"}"#;
        assert_eq!(
            parse_transfers(&sepay(), outgoing).expect("parses"),
            vec![Item::Outgoing {
                transaction_id: "1".into()
            }]
        );

        let body = br#"{"error":0,"data":[{"tid":"FT1","amount":"150,000","description":"a"},{"tid":"FT2","amount":5,"description":"b"}]}"#;
        let items = parse_transfers(&casso(), body).expect("parses");
        assert_eq!(
            incoming(&items),
            vec![("FT1".to_owned(), 150_000), ("FT2".to_owned(), 5)]
        );
    }

    #[test]
    fn text_amounts_are_read_as_written_not_a_hundred_times_larger() {
        for (amount, expected) in [
            (r#""1500.00""#, 1_500),
            (r#""285000.00""#, 285_000),
            (r#""285.000""#, 285_000),
            (r#""1.285.000""#, 1_285_000),
            (r#""1500,00""#, 1_500),
        ] {
            let body = format!(r#"{{"transaction_id":"FT1","amount":{amount},"description":"x"}}"#);
            let items = parse_transfers(&config(), body.as_bytes()).expect("parses");
            assert_eq!(
                incoming(&items),
                vec![("FT1".to_owned(), expected)],
                "{amount}"
            );
        }
    }

    #[test]
    fn direction_follows_the_preset_and_outgoing_items_never_settle() {
        // Casso: money out is a negative amount; it is skipped, the rest of the batch reads.
        let body = br#"{"error":0,"data":[{"tid":"FT1","amount":-150000,"description":"hoan tien OCOPK7M2Q9AB"},{"tid":"FT2","amount":"-150.000","description":"b"},{"tid":"FT3","amount":80000,"description":"c"}]}"#;
        let items = parse_transfers(&casso(), body).expect("parses");
        assert_eq!(incoming(&items), vec![("FT3".to_owned(), 80_000)]);
        assert_eq!(
            items
                .iter()
                .filter(|i| matches!(i, Item::Outgoing { .. }))
                .count(),
            2
        );
        // SePay: the direction field decides; a negative amount said to be incoming is refused.
        let body = br#"{"id":7,"transferType":"in","transferAmount":"-5000","content":"x"}"#;
        assert!(matches!(
            parse_transfers(&sepay(), body).expect("parses").as_slice(),
            [Item::Refused(_)]
        ));
        let body = br#"{"id":8,"transferAmount":5000,"content":"x"}"#;
        assert!(matches!(
            parse_transfers(&sepay(), body).expect("parses").as_slice(),
            [Item::Refused(_)]
        ));
    }

    #[test]
    fn malformed_notifications_are_refused_and_unreadable_items_named() {
        for body in [&b"not json"[..], br#"{"error":0,"data":{}}"#] {
            assert!(parse_transfers(&casso(), body).is_err());
        }
        assert!(parse_transfers(&config(), b"not json").is_err());
        for (body, index) in [
            (
                &br#"{"transaction_id":"FT1","amount":0,"description":""}"#[..],
                0,
            ),
            (
                br#"{"transaction_id":"FT1","amount":1.5,"description":""}"#,
                0,
            ),
            (
                br#"{"transaction_id":"FT1","amount":"1500.5","description":""}"#,
                0,
            ),
            (
                br#"{"transaction_id":"FT1","amount":"12,34,5","description":""}"#,
                0,
            ),
            (br#"{"transaction_id":"","amount":5,"description":""}"#, 0),
            (br#"{"amount":5}"#, 0),
        ] {
            let items = parse_transfers(&config(), body).expect("a notification");
            match items.as_slice() {
                [Item::Refused(refused)] => assert_eq!(refused.index, index),
                other => panic!("{} read as {other:?}", String::from_utf8_lossy(body)),
            }
        }
        let body = br#"{"data":[{"tid":"FT1","amount":5,"description":""},{"tid":"FT2","amount":"1.5","description":""}]}"#;
        let items = parse_transfers(&casso(), body).expect("parses");
        assert_eq!(incoming(&items), vec![("FT1".to_owned(), 5)]);
        match &items[1] {
            Item::Refused(refused) => {
                assert_eq!(refused.index, 1);
                assert_eq!(refused.transaction_id.as_deref(), Some("FT2"));
                assert!(refused.reason.contains("/amount"), "{}", refused.reason);
            }
            other => panic!("{other:?}"),
        }
    }
}
