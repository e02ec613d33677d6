//! VNPay's payment gateway (API version 2.1.0), when the four `OCOP_VNPAY_*` settings are
//! configured: the shopper pays on VNPay's page (a bank app's QR, a domestic ATM card, an
//! international card).
//!
//! From VNPay's integration documentation (sandbox.vnpayment.vn/apis/docs, "Tạo URL thanh
//! toán", "IPN URL", "API hoàn tiền") and its PHP/Node samples (`vnpay_create_payment.php`,
//! `vnpay_ipn.php`, `sortObject` + `qs.stringify`):
//!
//! - **Start** ([`VnpayApi::payment_url`]): the app builds the signed payment URL; no call is
//!   made. The `vnp_*` parameters are sorted by name, each name and value URL-encoded as PHP's
//!   `urlencode` does (space as `+`), joined as a query; `vnp_SecureHash` is the hex
//!   HMAC-SHA512 of that query under the hash secret. `vnp_Amount` is the amount ×100,
//!   `vnp_TxnRef` the payment reference, `vnp_CreateDate`/`vnp_ExpireDate` Vietnam time
//!   (GMT+7, `yyyyMMddHHmmss`). The creation date is the payment's own, so the URL (and the
//!   refund's `vnp_TransactionDate`) can be derived again from the payment.
//! - **Confirmation** comes only from the IPN, VNPay's server calling
//!   `GET /api/v1/webhooks/vnpay` ([`receive_ipn`]): signature, reference, amount, then status,
//!   answered with VNPay's codes (`00` confirmed, `01` order not found, `02` already
//!   confirmed, `04` invalid amount, `97` invalid signature, `99` other). The notification is
//!   recorded under `vnpay:{vnp_TransactionNo}` in the transaction that settles it: a replay, or
//!   the same notification reaching two app servers at once, credits once and answers `02`.
//!   The return URL (the payment page) only shows the state.
//! - **Refunds** go through VNPay's refund API ([`RefundGateway`]): a JSON POST with
//!   `vnp_Command=refund`, `vnp_TransactionType` `02` (full) or `03` (partial) and
//!   `vnp_SecureHash` the HMAC-SHA512 of the fields joined by `|` in the documented order; the
//!   answer is signed the same way and checked.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::refund_sender::{self, RefundError, RefundGateway, SentRefund};
use super::settle::{self, Receipt, Settlement};
use super::signature::{hmac_sha512_hex, verify_hex};
use super::{Funds, webhook};
use crate::AppState;
use crate::config::VnpayConfig;
use crate::entities::{payments, refunds as refund_rows};
use crate::error::AppError;
use crate::messages::channel::SendError;
use crate::messages::http::JsonClient;
use crate::orders::{PaymentMethod, PaymentStatus};

const VERSION: &str = "2.1.0";

/// What PHP's `urlencode` leaves as it is: letters, digits, `-`, `_`, `.` (a space becomes
/// `+`, see [`encode`]). VNPay signs the query encoded this way.
const URLENCODE: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');

/// VNPay's gateway with the platform's settings.
pub struct VnpayApi {
    config: VnpayConfig,
    client: JsonClient,
}

impl VnpayApi {
    pub fn new(config: VnpayConfig) -> anyhow::Result<Self> {
        let client = JsonClient::new(config.timeout)?;
        Ok(Self { config, client })
    }

    /// The signed URL of VNPay's payment page for `payment`; VNPay sends the shopper back to
    /// `return_url` (which only shows the payment).
    pub fn payment_url(
        &self,
        payment: &payments::Model,
        return_url: &str,
        client_ip: &str,
    ) -> String {
        let params: BTreeMap<&str, String> = BTreeMap::from([
            ("vnp_Version", VERSION.to_owned()),
            ("vnp_Command", "pay".to_owned()),
            ("vnp_TmnCode", self.config.tmn_code.clone()),
            ("vnp_Amount", (payment.amount_vnd * 100).to_string()),
            ("vnp_CurrCode", "VND".to_owned()),
            ("vnp_TxnRef", payment.reference.clone()),
            (
                "vnp_OrderInfo",
                format!("Thanh toan don hang {}", payment.reference),
            ),
            ("vnp_OrderType", "other".to_owned()),
            ("vnp_Locale", "vn".to_owned()),
            ("vnp_ReturnUrl", return_url.to_owned()),
            ("vnp_IpAddr", client_ip.to_owned()),
            ("vnp_CreateDate", vietnam_time(payment.created_at)),
            ("vnp_ExpireDate", vietnam_time(payment.expires_at)),
        ]);
        let query = signed_query(&params);
        let hash = hmac_sha512_hex(self.config.hash_secret.expose(), &query);
        let separator = if self.config.pay_url.contains('?') {
            '&'
        } else {
            '?'
        };
        format!(
            "{}{separator}{query}&vnp_SecureHash={hash}",
            self.config.pay_url
        )
    }
}

/// `yyyyMMddHHmmss` in Vietnam time (GMT+7, no daylight saving), as VNPay dates are.
pub fn vietnam_time(at: DateTime<Utc>) -> String {
    (at + chrono::Duration::hours(7))
        .format("%Y%m%d%H%M%S")
        .to_string()
}

/// `text` URL-encoded as PHP's `urlencode` does.
fn encode(text: &str) -> String {
    utf8_percent_encode(text, URLENCODE)
        .to_string()
        .replace("%20", "+")
}

/// The text VNPay signs: the parameters sorted by name, `name=value` URL-encoded, joined by `&`.
pub fn signed_query<V: AsRef<str>>(params: &BTreeMap<&str, V>) -> String {
    params
        .iter()
        .map(|(name, value)| format!("{}={}", encode(name), encode(value.as_ref())))
        .collect::<Vec<_>>()
        .join("&")
}

/// Decodes a query string into its parameters; `None` when a name comes twice or a part is
/// not UTF-8 (a genuine notification has neither).
fn parse_query(query: &str) -> Option<BTreeMap<String, String>> {
    let decode = |part: &str| {
        percent_decode_str(&part.replace('+', " "))
            .decode_utf8()
            .ok()
            .map(|text| text.into_owned())
    };
    let mut params = BTreeMap::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if params.insert(decode(name)?, decode(value)?).is_some() {
            return None;
        }
    }
    Some(params)
}

/// What the IPN answers, in VNPay's words: `{"RspCode":"00","Message":"Confirm Success"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct IpnAnswer {
    #[serde(rename = "RspCode")]
    pub rsp_code: &'static str,
    #[serde(rename = "Message")]
    pub message: &'static str,
}

impl IpnAnswer {
    const CONFIRMED: Self = Self::new("00", "Confirm Success");
    const NOT_FOUND: Self = Self::new("01", "Order not found");
    const ALREADY_CONFIRMED: Self = Self::new("02", "Order already confirmed");
    const INVALID_AMOUNT: Self = Self::new("04", "Invalid amount");
    const INVALID_SIGNATURE: Self = Self::new("97", "Invalid signature");
    const OTHER: Self = Self::new("99", "Unknown error");

    const fn new(rsp_code: &'static str, message: &'static str) -> Self {
        Self { rsp_code, message }
    }
}

/// Checks, records and acts on one IPN (its raw query string). Never fails: whatever went
/// wrong is one of VNPay's answer codes, and VNPay sends the notification again on `99`.
pub async fn receive_ipn(state: &AppState, query: Option<&str>) -> IpnAnswer {
    let Some(config) = &state.config.commerce.vnpay else {
        return IpnAnswer::INVALID_SIGNATURE;
    };
    match process_ipn(state, config, query.unwrap_or_default()).await {
        Ok(answer) => answer,
        Err(err) => {
            tracing::warn!(error = %err, "VNPay IPN not processed");
            IpnAnswer::OTHER
        }
    }
}

async fn process_ipn(
    state: &AppState,
    config: &VnpayConfig,
    query: &str,
) -> Result<IpnAnswer, AppError> {
    let Some(mut params) = parse_query(query) else {
        return Ok(IpnAnswer::INVALID_SIGNATURE);
    };
    let given = params.remove("vnp_SecureHash").unwrap_or_default();
    params.remove("vnp_SecureHashType");
    // Only the `vnp_` parameters are signed (VNPay's IPN sample).
    let signed: BTreeMap<&str, &str> = params
        .iter()
        .filter(|(name, _)| name.starts_with("vnp_"))
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    if !verify_hex(
        true,
        config.hash_secret.expose(),
        &signed_query(&signed),
        &given,
    ) || params.get("vnp_TmnCode") != Some(&config.tmn_code)
    {
        tracing::warn!("VNPay IPN refused: invalid signature");
        return Ok(IpnAnswer::INVALID_SIGNATURE);
    }
    let field = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
    let transaction_no = field("vnp_TransactionNo");
    if transaction_no.is_empty() || transaction_no.len() > 64 {
        return Ok(IpnAnswer::OTHER);
    }
    let Some(payment) = payments::Entity::find()
        .filter(payments::Column::Reference.eq(field("vnp_TxnRef")))
        .filter(payments::Column::Method.eq(PaymentMethod::VnPay.as_str()))
        .one(&state.db)
        .await?
    else {
        return Ok(IpnAnswer::NOT_FOUND);
    };
    let succeeded = field("vnp_ResponseCode") == "00" && field("vnp_TransactionStatus") == "00";
    let amount_vnd = parse_amount(field("vnp_Amount"));
    let txn = crate::db::begin_write(&state.db).await?;
    let record = webhook::EventRecord {
        provider: PaymentMethod::VnPay.as_str(),
        event_id: transaction_no,
        event_type: if succeeded { "ipn.paid" } else { "ipn.failed" },
        payload: query,
    };
    let Some(event_row) = webhook::record(&txn, record).await? else {
        txn.rollback().await?;
        return Ok(match amount_vnd {
            Some(amount) if amount == payment.amount_vnd => IpnAnswer::ALREADY_CONFIRMED,
            _ => IpnAnswer::INVALID_AMOUNT,
        });
    };
    let receipt = |amount_vnd| Receipt {
        amount_vnd,
        provider_payment_id: transaction_no.to_owned(),
        funds: Funds::VnPay,
        webhook_event_id: Some(event_row),
        description: format!(
            "VNPay {transaction_no} ({}, {})",
            field("vnp_BankCode"),
            field("vnp_CardType")
        ),
    };
    let (outcome, answer) = match amount_vnd {
        Some(amount) if amount == payment.amount_vnd => {
            if !succeeded {
                // The shopper gave up or the bank declined: the payment stays as it is.
                let answer = if payment.status == PaymentStatus::Paid.as_str() {
                    IpnAnswer::ALREADY_CONFIRMED
                } else {
                    IpnAnswer::CONFIRMED
                };
                ("payment_failed", answer)
            } else {
                let settlement = settle::settle(&txn, payment.id, &receipt(amount)).await?;
                let answer = match settlement {
                    Settlement::AlreadySettled | Settlement::DuplicatePayment => {
                        IpnAnswer::ALREADY_CONFIRMED
                    }
                    _ => IpnAnswer::CONFIRMED,
                };
                (settlement.as_str(), answer)
            }
        }
        // Money taken for another amount than the one signed into the URL: the
        // administrator decides.
        Some(amount) if succeeded && amount > 0 => {
            let settlement = settle::wrong_amount(&txn, payment.id, &receipt(amount)).await?;
            (settlement.as_str(), IpnAnswer::INVALID_AMOUNT)
        }
        _ => ("invalid_amount", IpnAnswer::INVALID_AMOUNT),
    };
    webhook::set_outcome(&txn, event_row, outcome).await?;
    txn.commit().await?;
    tracing::info!(reference = %payment.reference, transaction = transaction_no, outcome,
        code = answer.rsp_code, "VNPay IPN");
    if outcome == Settlement::RefundOpened.as_str() {
        refund_sender::send_refunds_soon(state);
    }
    Ok(answer)
}

/// VNPay's `vnp_Amount` (đồng ×100) in đồng; `None` unless it is digits only and a whole
/// number of đồng.
fn parse_amount(text: &str) -> Option<i64> {
    if text.is_empty() || text.len() > 18 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hundredths: i64 = text.parse().ok()?;
    (hundredths % 100 == 0).then_some(hundredths / 100)
}

/// The fields of a refund request in the order VNPay signs them.
const REFUND_SIGNED: [&str; 13] = [
    "vnp_RequestId",
    "vnp_Version",
    "vnp_Command",
    "vnp_TmnCode",
    "vnp_TransactionType",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_TransactionNo",
    "vnp_TransactionDate",
    "vnp_CreateBy",
    "vnp_CreateDate",
    "vnp_IpAddr",
    "vnp_OrderInfo",
];

/// The fields of a refund answer in the order VNPay signs them.
const REFUND_ANSWER_SIGNED: [&str; 13] = [
    "vnp_ResponseId",
    "vnp_Command",
    "vnp_ResponseCode",
    "vnp_Message",
    "vnp_TmnCode",
    "vnp_TxnRef",
    "vnp_Amount",
    "vnp_BankCode",
    "vnp_PayDate",
    "vnp_TransactionNo",
    "vnp_TransactionType",
    "vnp_TransactionStatus",
    "vnp_OrderInfo",
];

/// `fields` of `object` (strings or numbers) joined by `|`, as VNPay's API signs them.
pub fn pipe_joined(object: &Value, fields: &[&str]) -> String {
    fields
        .iter()
        .map(|name| match object.get(*name) {
            Some(Value::String(text)) => text.clone(),
            Some(Value::Number(number)) => number.to_string(),
            _ => String::new(),
        })
        .collect::<Vec<_>>()
        .join("|")
}

#[async_trait]
impl RefundGateway for VnpayApi {
    fn method(&self) -> PaymentMethod {
        PaymentMethod::VnPay
    }

    fn can_refund(&self, payment: &payments::Model) -> bool {
        payment.provider_payment_id.is_some()
    }

    /// One refund request, `vnp_RequestId` the refund's key. VNPay answers with the result.
    async fn send(
        &self,
        refund: &refund_rows::Model,
        payment: &payments::Model,
        key: &str,
    ) -> Result<SentRefund, RefundError> {
        let full = refund.amount_vnd >= payment.amount_vnd;
        // VNPay takes letters and digits only: `refund-12-2` becomes `refundX12X2`.
        let request_id = key.replace('-', "X");
        let mut request = json!({
            "vnp_RequestId": request_id,
            "vnp_Version": VERSION,
            "vnp_Command": "refund",
            "vnp_TmnCode": self.config.tmn_code,
            "vnp_TransactionType": if full { "02" } else { "03" },
            "vnp_TxnRef": payment.reference,
            "vnp_Amount": (refund.amount_vnd * 100).to_string(),
            "vnp_TransactionNo": payment.provider_payment_id.clone().unwrap_or_default(),
            // The payment URL's vnp_CreateDate (see `payment_url`).
            "vnp_TransactionDate": vietnam_time(payment.created_at),
            "vnp_CreateBy": "ocop-market",
            "vnp_CreateDate": vietnam_time(Utc::now()),
            "vnp_IpAddr": "127.0.0.1",
            "vnp_OrderInfo": format!("Hoan tien {} {request_id}", payment.reference),
        });
        let hash = hmac_sha512_hex(
            self.config.hash_secret.expose(),
            &pipe_joined(&request, &REFUND_SIGNED),
        );
        request["vnp_SecureHash"] = Value::String(hash);
        let (status, answer) = self
            .client
            .post_json(&self.config.api_url, &[], &request)
            .await
            .map_err(|err| match err {
                SendError::Transient(reason) | SendError::Permanent(reason) => {
                    RefundError::Transient(AppError::ProviderUnavailable(reason))
                }
            })?;
        let given = answer
            .get("vnp_SecureHash")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !verify_hex(
            true,
            self.config.hash_secret.expose(),
            &pipe_joined(&answer, &REFUND_ANSWER_SIGNED),
            given,
        ) {
            // Whether VNPay refunded cannot be told from an answer nobody signed: an
            // administrator checks VNPay's merchant portal.
            return Err(RefundError::Refused(format!(
                "VNPay's answer (HTTP {status}) is not signed with the hash secret; check the refund in VNPay's merchant portal"
            )));
        }
        let text = |name: &str| {
            answer
                .get(name)
                .map(|value| match value {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                })
                .unwrap_or_default()
        };
        let code = text("vnp_ResponseCode");
        match code.as_str() {
            "00" => Ok(SentRefund {
                id: Some(text("vnp_TransactionNo"))
                    .filter(|id| !id.is_empty())
                    .unwrap_or(request_id),
                amount_vnd: parse_amount(&text("vnp_Amount")),
                status: Some(text("vnp_TransactionStatus")),
                completed: true,
            }),
            // 99: VNPay's own error, nothing done. (94, "a duplicate request", is a refusal: an
            // earlier attempt under this request id reached VNPay, and whether it refunded is
            // for an administrator to read in VNPay's merchant portal.)
            "99" => Err(RefundError::Transient(AppError::ProviderUnavailable(
                format!("VNPay answered {code}: {}", text("vnp_Message")),
            ))),
            _ => Err(RefundError::Refused(format!(
                "VNPay answered {code}: {}",
                text("vnp_Message")
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_encoded_as_php_urlencode_and_sorted() {
        let params = BTreeMap::from([
            ("vnp_OrderInfo", "Thanh toan don hang OCOP1*"),
            ("vnp_Amount", "1000000"),
            ("vnp_ReturnUrl", "https://ocop.vn/payments/A?token=x~y"),
        ]);
        assert_eq!(
            signed_query(&params),
            "vnp_Amount=1000000&vnp_OrderInfo=Thanh+toan+don+hang+OCOP1%2A\
             &vnp_ReturnUrl=https%3A%2F%2Focop.vn%2Fpayments%2FA%3Ftoken%3Dx%7Ey"
        );
    }

    #[test]
    fn amounts_are_whole_dong_times_a_hundred() {
        assert_eq!(parse_amount("1000000"), Some(10_000));
        assert_eq!(parse_amount("1000050"), None);
        assert_eq!(parse_amount("-100"), None);
        assert_eq!(parse_amount("1e5"), None);
        assert_eq!(parse_amount(""), None);
        assert_eq!(parse_amount("99999999999999999999"), None);
    }

    #[test]
    fn a_repeated_parameter_is_refused() {
        assert!(parse_query("vnp_Amount=1&vnp_Amount=2").is_none());
        let parsed = parse_query("vnp_OrderInfo=a+b%2Bc&x=").unwrap();
        assert_eq!(parsed["vnp_OrderInfo"], "a b+c");
    }

    #[test]
    fn vietnam_time_is_seven_hours_ahead() {
        let at = DateTime::parse_from_rfc3339("2026-12-05T20:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(vietnam_time(at), "20261206033000");
    }
}
