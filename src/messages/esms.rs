//! SMS through eSMS.vn: `POST {base}/MainService.svc/json/SendMultipleMessage_V4_post_json/`
//! with `ApiKey`, `SecretKey`, `Phone`, `Content`, `Brandname`, `SmsType` 2 (customer care),
//! `IsUnicode`, `Sandbox` and `RequestId` (eSMS refuses a repeated id with code 124, which is
//! how a message sent twice after a crash is recognised). The answer's `CodeResult` is "100"
//! when accepted; the other codes follow eSMS's table of error codes.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use super::channel::MessageChannel;
use super::channel::SendError;
use super::http::{JsonClient, international};
use super::render::sms_segments;
use crate::config::EsmsConfig;

pub struct Esms {
    config: EsmsConfig,
    client: JsonClient,
}

impl Esms {
    pub fn new(config: EsmsConfig) -> anyhow::Result<Self> {
        Ok(Self {
            config,
            client: JsonClient::new(Duration::from_secs(15))?,
        })
    }
}

/// What an eSMS `CodeResult` means for the message.
pub fn outcome(code: &str, message: &str) -> Result<(), SendError> {
    let refused = |what: &str| {
        Err(SendError::Permanent(format!(
            "eSMS {code}: {what} ({message})"
        )))
    };
    match code {
        "100" => Ok(()),
        // The same RequestId again: this message was accepted before.
        "124" => Ok(()),
        "99" => refused("the phone number is blocked"),
        "101" => refused("wrong ApiKey or SecretKey"),
        "102" => refused("no price list for this account"),
        "104" => refused("the brandname is not registered"),
        "108" => refused("the phone number is not valid"),
        "118" => refused("message type not supported"),
        "140" => refused("this server's address is not whitelisted"),
        "146" => refused("the customer-care template is not approved"),
        "177" => refused("the phone network is not registered for this brandname"),
        // Out of balance: retried, in case the account is topped up within the day.
        "103" => Err(SendError::Transient(format!(
            "eSMS 103: not enough balance ({message})"
        ))),
        other => Err(SendError::Transient(format!("eSMS {other}: {message}"))),
    }
}

#[async_trait]
impl MessageChannel for Esms {
    async fn send(&self, phone: &str, text: &str, tracking_id: &str) -> Result<(), SendError> {
        let unicode = sms_segments(text) > 0 && !text.is_ascii();
        let body = json!({
            "ApiKey": self.config.api_key.expose(),
            "SecretKey": self.config.secret_key.expose(),
            "Phone": international(phone),
            "Content": text,
            "Brandname": self.config.brandname,
            "SmsType": "2",
            "IsUnicode": if unicode { "1" } else { "0" },
            "Sandbox": if self.config.sandbox { "1" } else { "0" },
            "RequestId": tracking_id,
        });
        let url = format!(
            "{}/MainService.svc/json/SendMultipleMessage_V4_post_json/",
            self.config.api_base
        );
        let (status, answer) = self.client.post_json(&url, &[], &body).await?;
        if status >= 400 {
            return Err(SendError::Permanent(format!("eSMS: HTTP {status}")));
        }
        let code = answer["CodeResult"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| answer["CodeResult"].as_i64().map(|c| c.to_string()))
            .unwrap_or_default();
        outcome(&code, answer["ErrorMessage"].as_str().unwrap_or(""))
    }
}
