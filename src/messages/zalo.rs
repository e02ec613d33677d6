//! Zalo Notification Service (ZNS): `POST {base}/message/template` with the Official
//! Account's `access_token` header and `{phone, template_id, template_data, tracking_id}`.
//! The approved template has one parameter, `content`, that carries the message's short text.
//! The answer's `error` is 0 when sent; other codes follow Zalo's ZNS table of error codes.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use super::channel::MessageChannel;
use super::channel::SendError;
use super::http::{JsonClient, international};
use crate::config::ZaloConfig;

pub struct Zalo {
    config: ZaloConfig,
    client: JsonClient,
}

impl Zalo {
    pub fn new(config: ZaloConfig) -> anyhow::Result<Self> {
        Ok(Self {
            config,
            client: JsonClient::new(Duration::from_secs(15))?,
        })
    }
}

/// What a ZNS `error` code means for the message.
pub fn outcome(code: i64, message: &str) -> Result<(), SendError> {
    let refused = |what: &str| {
        Err(SendError::Permanent(format!(
            "Zalo {code}: {what} ({message})"
        )))
    };
    match code {
        0 => Ok(()),
        -100 => Err(SendError::Transient(format!(
            "Zalo -100: unknown error ({message})"
        ))),
        -108 => refused("the phone number is not valid"),
        -109 => refused("the template id is not valid"),
        -111 | -112 => refused("the template data is empty or not valid"),
        -118 => refused("no Zalo account has this phone number"),
        -124 => refused("the access token is not valid"),
        -131 => refused("the template is not approved"),
        -139 => refused("the user declines ZNS messages"),
        // Quota for today used up: retried until the day's messages give up.
        -144 => Err(SendError::Transient(format!(
            "Zalo -144: daily quota exceeded ({message})"
        ))),
        other => refused(&format!("refused with code {other}")),
    }
}

#[async_trait]
impl MessageChannel for Zalo {
    async fn send(&self, phone: &str, text: &str, tracking_id: &str) -> Result<(), SendError> {
        let body = json!({
            "phone": international(phone),
            "template_id": self.config.template_id,
            "template_data": {"content": text},
            "tracking_id": tracking_id,
        });
        let url = format!("{}/message/template", self.config.api_base);
        let (status, answer) = self
            .client
            .post_json(
                &url,
                &[("access_token", self.config.access_token.expose())],
                &body,
            )
            .await?;
        if status >= 400 {
            return Err(SendError::Permanent(format!("Zalo: HTTP {status}")));
        }
        let code = answer["error"].as_i64().unwrap_or(-100);
        outcome(code, answer["message"].as_str().unwrap_or(""))
    }
}
