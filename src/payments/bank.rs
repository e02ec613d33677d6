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

/// Reads the transfers of a notification. Outgoing transfers (when the format says which
/// are incoming) are left out. A malformed notification is refused whole.
pub fn parse_transfers(config: &BankWebhookConfig, body: &[u8]) -> AppResult<Vec<Transfer>> {
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
    let mut transfers = Vec::with_capacity(items.len());
    for item in items {
        if let Some((pointer, incoming)) = &config.direction
            && item.pointer(pointer).and_then(Value::as_str) != Some(incoming.as_str())
        {
            continue;
        }
        let transaction_id = match item.pointer(&config.transaction_id_pointer) {
            Some(Value::String(id)) if !id.trim().is_empty() && id.len() <= 255 => {
                id.trim().to_owned()
            }
            Some(Value::Number(id)) => id.to_string(),
            _ => {
                return Err(malformed(format!(
                    "{} must be the bank transaction id",
                    config.transaction_id_pointer
                )));
            }
        };
        let amount_vnd = match item.pointer(&config.amount_pointer) {
            Some(Value::Number(n)) => n.as_i64(),
            Some(Value::String(text)) => {
                let digits: String = text
                    .chars()
                    .filter(|c| !matches!(c, ',' | '.' | ' '))
                    .collect();
                digits.parse::<i64>().ok()
            }
            _ => None,
        }
        .filter(|amount| *amount > 0)
        .ok_or_else(|| {
            malformed(format!(
                "{} must be a positive whole number of đồng",
                config.amount_pointer
            ))
        })?;
        let description = item
            .pointer(&config.description_pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .chars()
            .take(1000)
            .collect();
        transfers.push(Transfer {
            transaction_id,
            amount_vnd,
            description,
            raw: item.to_string(),
        });
    }
    Ok(transfers)
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
    /// `paid`, `underpaid`, `overpaid`, `unmatched`, `duplicate` (already processed), …
    pub outcome: String,
}

/// Records and settles each transfer, each in its own database transaction.
pub async fn process(
    db: &DatabaseConnection,
    transfers: Vec<Transfer>,
    source: &str,
) -> AppResult<Vec<TransferOutcome>> {
    let mut outcomes = Vec::with_capacity(transfers.len());
    for transfer in transfers {
        let outcome = process_one(db, &transfer, source).await?;
        outcomes.push(TransferOutcome {
            transaction_id: transfer.transaction_id,
            outcome,
        });
    }
    Ok(outcomes)
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

    #[test]
    fn sepay_and_casso_shapes_parse() {
        let mut sepay = config();
        sepay.transaction_id_pointer = "/id".into();
        sepay.amount_pointer = "/transferAmount".into();
        sepay.description_pointer = "/content".into();
        sepay.direction = Some(("/transferType".into(), "in".into()));
        let body = br#"{"id":92704,"gateway":"Vietcombank","transferType":"in","transferAmount":2277000,"content":"OCOPK7M2Q9AB thanh toan"}"#;
        let transfers = parse_transfers(&sepay, body).expect("parses");
        assert_eq!(transfers.len(), 1);
        assert_eq!(transfers[0].transaction_id, "92704");
        assert_eq!(transfers[0].amount_vnd, 2_277_000);
        let outgoing = br#"{"id":1,"transferType":"out","transferAmount":5,"content":"x"}"#;
        assert!(
            parse_transfers(&sepay, outgoing)
                .expect("parses")
                .is_empty()
        );

        let mut casso = config();
        casso.items_pointer = Some("/data".into());
        casso.transaction_id_pointer = "/tid".into();
        let body = br#"{"error":0,"data":[{"tid":"FT1","amount":"150,000","description":"a"},{"tid":"FT2","amount":5,"description":"b"}]}"#;
        let transfers = parse_transfers(&casso, body).expect("parses");
        assert_eq!(
            transfers.iter().map(|t| t.amount_vnd).collect::<Vec<_>>(),
            vec![150_000, 5]
        );
    }

    #[test]
    fn malformed_notifications_are_refused() {
        for body in [
            &b"not json"[..],
            br#"{"transaction_id":"FT1","amount":-5,"description":""}"#,
            br#"{"transaction_id":"FT1","amount":1.5,"description":""}"#,
            br#"{"transaction_id":"","amount":5,"description":""}"#,
            br#"{"amount":5}"#,
        ] {
            assert!(
                parse_transfers(&config(), body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
