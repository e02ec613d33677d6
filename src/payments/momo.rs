//! MoMo's payment gateway (the "AIO v2" API), when the four `OCOP_MOMO_*` settings are
//! configured: the shopper pays in the MoMo app or by scanning its QR.
//!
//! From MoMo's developer documentation (developers.momo.vn, "One-Time Payment", "Refund"):
//!
//! - **Start** ([`MomoApi::create_payment`]): `POST {api}/v2/gateway/api/create` with
//!   `requestType=captureWallet`, `orderId` the payment reference, and `signature` the hex
//!   HMAC-SHA256 of `accessKey=..&amount=..&extraData=..&ipnUrl=..&orderId=..&orderInfo=..
//!   &partnerCode=..&redirectUrl=..&requestId=..&requestType=..` under the secret key. MoMo
//!   answers `resultCode` 0 and the `payUrl` the shopper is sent to. When MoMo refuses or does
//!   not answer, the checkout is given up (stock back, cart refilled), as for a card.
//! - **Confirmation** comes only from MoMo's signed IPN, `POST /api/v1/webhooks/momo`
//!   ([`receive_ipn`]), signed over `accessKey&amount&extraData&message&orderId&orderInfo
//!   &orderType&partnerCode&payType&requestId&responseTime&resultCode&transId`; the merchant
//!   answers `204 No Content`. The notification is recorded under `momo:{transId}` in the
//!   transaction that settles it, so a replay, or two app servers receiving it at once,
//!   credit once. The redirect back (the payment page) only shows the state.
//! - **Refunds** ([`RefundGateway`]): `POST {api}/v2/gateway/api/refund` signed over
//!   `accessKey&amount&description&orderId&partnerCode&requestId&transId`; MoMo answers with
//!   the result (`resultCode` 0).

use async_trait::async_trait;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use super::refund_sender::{self, RefundError, RefundGateway, SentRefund};
use super::settle::{self, Receipt, Settlement};
use super::signature::{hmac_sha256_hex, verify_hex};
use super::{Funds, webhook};
use crate::AppState;
use crate::config::MomoConfig;
use crate::entities::{payments, refunds as refund_rows};
use crate::error::{AppError, AppResult};
use crate::messages::channel::SendError;
use crate::messages::http::JsonClient;
use crate::orders::PaymentMethod;

/// The IPN's fields in the order MoMo signs them.
const IPN_SIGNED: [&str; 13] = [
    "accessKey",
    "amount",
    "extraData",
    "message",
    "orderId",
    "orderInfo",
    "orderType",
    "partnerCode",
    "payType",
    "requestId",
    "responseTime",
    "resultCode",
    "transId",
];

/// MoMo's result codes that mean "not decided yet, ask again": 10 maintenance, 43 a
/// conflicting request in progress, 99 unknown error, 7000/7002 being processed.
const TRANSIENT_CODES: [i64; 5] = [10, 43, 99, 7000, 7002];

/// MoMo's gateway with the platform's settings.
pub struct MomoApi {
    config: MomoConfig,
    client: JsonClient,
}

impl MomoApi {
    pub fn new(config: MomoConfig) -> anyhow::Result<Self> {
        let client = JsonClient::new(config.timeout)?;
        Ok(Self { config, client })
    }

    /// Creates MoMo's payment for `payment` and returns its `payUrl`.
    ///
    /// [`AppError::ProviderUnavailable`] when MoMo does not answer (a timeout, a 5xx, a
    /// transient result code), [`AppError::ProviderFailed`] when it refuses.
    pub async fn create_payment(
        &self,
        payment: &payments::Model,
        redirect_url: &str,
        ipn_url: &str,
    ) -> AppResult<String> {
        let config = &self.config;
        let amount = payment.amount_vnd.to_string();
        let order_info = format!("Thanh toán đơn hàng {}", payment.reference);
        let raw = format!(
            "accessKey={}&amount={amount}&extraData=&ipnUrl={ipn_url}&orderId={reference}\
             &orderInfo={order_info}&partnerCode={}&redirectUrl={redirect_url}\
             &requestId={reference}&requestType=captureWallet",
            config.access_key.expose(),
            config.partner_code,
            reference = payment.reference,
        );
        let request = json!({
            "partnerCode": config.partner_code,
            "requestId": payment.reference,
            "amount": payment.amount_vnd,
            "orderId": payment.reference,
            "orderInfo": order_info,
            "redirectUrl": redirect_url,
            "ipnUrl": ipn_url,
            "requestType": "captureWallet",
            "extraData": "",
            "lang": "vi",
            "signature": hmac_sha256_hex(config.secret_key.expose(), &raw),
        });
        let url = format!("{}/v2/gateway/api/create", config.api_url);
        let (status, answer) = self
            .client
            .post_json(&url, &[], &request)
            .await
            .map_err(|err| match err {
                SendError::Transient(reason) | SendError::Permanent(reason) => {
                    AppError::ProviderUnavailable(format!("MoMo: {reason}"))
                }
            })?;
        let code = answer.get("resultCode").and_then(Value::as_i64);
        let message = answer
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or_default();
        match (code, answer.get("payUrl").and_then(Value::as_str)) {
            (Some(0), Some(pay_url)) if pay_url.starts_with("http") => Ok(pay_url.to_owned()),
            (Some(code), _) if TRANSIENT_CODES.contains(&code) => Err(
                AppError::ProviderUnavailable(format!("MoMo answered {code}: {message}")),
            ),
            _ => Err(AppError::ProviderFailed(format!(
                "MoMo refused the payment (HTTP {status}, result {code:?}): {message}"
            ))),
        }
    }
}

/// `value` as MoMo puts it in a signed text: a string as it is, a number in decimals.
fn signed_text(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        _ => String::new(),
    }
}

/// A whole positive number, given as a JSON number or as decimal digits.
fn whole_number(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(number) => number.as_i64(),
        Value::String(text) if !text.is_empty() && text.len() <= 18 => text
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| text.parse().ok())?,
        _ => None,
    }
}

/// Verifies, records and acts on one IPN from MoMo. `Ok` means MoMo gets its `204`:
/// the notification was recorded (or had been). A forged or malformed one is refused and
/// nothing is recorded.
pub async fn receive_ipn(state: &AppState, body: &[u8]) -> AppResult<&'static str> {
    let Some(config) = &state.config.commerce.momo else {
        return Err(AppError::NotFound);
    };
    let malformed = |message: &str| AppError::bad_request("malformed_notification", message);
    let raw = std::str::from_utf8(body).map_err(|_| malformed("the notification is not UTF-8"))?;
    let ipn: Value =
        serde_json::from_str(raw).map_err(|_| malformed("the notification is not JSON"))?;
    let signed = IPN_SIGNED
        .iter()
        .map(|name| {
            let value = if *name == "accessKey" {
                config.access_key.expose().to_owned()
            } else {
                signed_text(ipn.get(*name))
            };
            format!("{name}={value}")
        })
        .collect::<Vec<_>>()
        .join("&");
    let given = ipn
        .get("signature")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !verify_hex(false, config.secret_key.expose(), &signed, given)
        || ipn.get("partnerCode").and_then(Value::as_str) != Some(config.partner_code.as_str())
    {
        tracing::warn!("MoMo IPN refused: invalid signature");
        return Err(AppError::BadSignature(
            "the signature does not match".into(),
        ));
    }
    let trans_id = whole_number(ipn.get("transId"))
        .ok_or_else(|| malformed("transId is not a number"))?
        .to_string();
    let result_code = ipn
        .get("resultCode")
        .and_then(Value::as_i64)
        .ok_or_else(|| malformed("resultCode is not a number"))?;
    let amount = whole_number(ipn.get("amount")).filter(|amount| *amount > 0);
    let order_id = ipn
        .get("orderId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let succeeded = result_code == 0;

    let txn = crate::db::begin_write(&state.db).await?;
    let record = webhook::EventRecord {
        provider: PaymentMethod::MoMo.as_str(),
        event_id: &trans_id,
        event_type: if succeeded { "ipn.paid" } else { "ipn.failed" },
        payload: raw,
    };
    let Some(event_row) = webhook::record(&txn, record).await? else {
        txn.rollback().await?;
        return Ok("duplicate");
    };
    let payment = payments::Entity::find()
        .filter(payments::Column::Reference.eq(order_id))
        .filter(payments::Column::Method.eq(PaymentMethod::MoMo.as_str()))
        .one(&txn)
        .await?;
    let outcome = match amount {
        _ if !succeeded => "payment_failed",
        None => "invalid_amount",
        Some(amount_vnd) => {
            let receipt = Receipt {
                amount_vnd,
                provider_payment_id: trans_id.clone(),
                funds: Funds::MoMo,
                webhook_event_id: Some(event_row),
                description: format!(
                    "MoMo {trans_id} ({}) for {order_id}",
                    signed_text(ipn.get("payType"))
                ),
            };
            match payment {
                None => settle::unmatched(&txn, &receipt).await?.as_str(),
                Some(payment) if payment.amount_vnd != amount_vnd => {
                    settle::wrong_amount(&txn, payment.id, &receipt)
                        .await?
                        .as_str()
                }
                Some(payment) => settle::settle(&txn, payment.id, &receipt).await?.as_str(),
            }
        }
    };
    webhook::set_outcome(&txn, event_row, outcome).await?;
    txn.commit().await?;
    tracing::info!(order = order_id, transaction = %trans_id, result_code, outcome, "MoMo IPN");
    if outcome == Settlement::RefundOpened.as_str() {
        refund_sender::send_refunds_soon(state);
    }
    Ok(outcome)
}

#[async_trait]
impl RefundGateway for MomoApi {
    fn method(&self) -> PaymentMethod {
        PaymentMethod::MoMo
    }

    fn can_refund(&self, payment: &payments::Model) -> bool {
        payment
            .provider_payment_id
            .as_deref()
            .is_some_and(|id| id.parse::<i64>().is_ok())
    }

    /// One refund request, its `orderId` and `requestId` derived from the refund's key (MoMo
    /// refuses an `orderId` it has seen, so a resent request is never refunded twice).
    async fn send(
        &self,
        refund: &refund_rows::Model,
        payment: &payments::Model,
        key: &str,
    ) -> Result<SentRefund, RefundError> {
        let config = &self.config;
        let trans_id: i64 = payment
            .provider_payment_id
            .as_deref()
            .and_then(|id| id.parse().ok())
            .unwrap_or_default();
        let order_id = format!("{}-{key}", payment.reference);
        let description = format!("Hoàn tiền {}", payment.reference);
        let raw = format!(
            "accessKey={}&amount={}&description={description}&orderId={order_id}\
             &partnerCode={}&requestId={order_id}&transId={trans_id}",
            config.access_key.expose(),
            refund.amount_vnd,
            config.partner_code,
        );
        let request = json!({
            "partnerCode": config.partner_code,
            "orderId": order_id,
            "requestId": order_id,
            "amount": refund.amount_vnd,
            "transId": trans_id,
            "lang": "vi",
            "description": description,
            "signature": hmac_sha256_hex(config.secret_key.expose(), &raw),
        });
        let url = format!("{}/v2/gateway/api/refund", config.api_url);
        let (status, answer) = self
            .client
            .post_json(&url, &[], &request)
            .await
            .map_err(|err| match err {
                SendError::Transient(reason) | SendError::Permanent(reason) => {
                    RefundError::Transient(AppError::ProviderUnavailable(format!("MoMo: {reason}")))
                }
            })?;
        let message = signed_text(answer.get("message"));
        match answer.get("resultCode").and_then(Value::as_i64) {
            Some(0) => Ok(SentRefund {
                id: Some(signed_text(answer.get("transId")))
                    .filter(|id| !id.is_empty())
                    .unwrap_or(order_id),
                amount_vnd: whole_number(answer.get("amount")),
                status: Some(message),
                completed: true,
            }),
            Some(code) if TRANSIENT_CODES.contains(&code) => Err(RefundError::Transient(
                AppError::ProviderUnavailable(format!("MoMo answered {code}: {message}")),
            )),
            // 41: MoMo already has this refund order: an earlier attempt that got no answer
            // reached MoMo. Whether it refunded is for an administrator to read in MoMo's
            // portal; sending it under a new order id could refund twice.
            Some(41) => Err(RefundError::Refused(format!(
                "MoMo already has refund order {order_id} (an earlier attempt got no answer): check it in MoMo's portal"
            ))),
            code => Err(RefundError::Refused(format!(
                "MoMo refused the refund (HTTP {status}, result {code:?}): {message}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_whole_and_positive_or_refused() {
        assert_eq!(whole_number(Some(&json!(150000))), Some(150_000));
        assert_eq!(whole_number(Some(&json!("150000"))), Some(150_000));
        assert_eq!(whole_number(Some(&json!(1.5))), None);
        assert_eq!(whole_number(Some(&json!("1e5"))), None);
        assert_eq!(whole_number(Some(&json!("-1"))), None);
        assert_eq!(whole_number(None), None);
    }
}
