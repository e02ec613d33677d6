//! Message settings: how e-mail, SMS and Zalo messages leave the outbox.

use std::time::Duration;

use super::settings::Settings;
use super::{ConfigError, Secret};

/// How messages are sent, retried and given up on.
#[derive(Debug, Clone)]
pub struct MessagesConfig {
    /// `OCOP_SMTP_URL`: `smtp://user:pass@host:587` (STARTTLS required, except on a loopback
    /// host, where the connection is plain), `smtps://…:465` (implicit TLS);
    /// `?tls=none|opportunistic|required` overrides. `None`: e-mails are written as `.eml`
    /// files under `{data_dir}/outbox-mail/`.
    pub smtp_url: Option<Secret>,
    /// `OCOP_MAIL_FROM`: the sender of every e-mail.
    pub mail_from: String,
    /// `OCOP_SMTP_TIMEOUT_SECS` (default 20): longest wait for one SMTP exchange.
    pub smtp_timeout: Duration,
    /// `OCOP_MESSAGE_GIVE_UP_HOURS` (default 24): a message still failing this long after it
    /// was asked for is marked failed and shown to administrators.
    pub give_up_after: Duration,
    /// `OCOP_MESSAGE_RETRY_SECS` (default 30): the wait after a first failure, doubled after
    /// each further one.
    pub retry_base: Duration,
    /// `OCOP_MESSAGE_RETRY_MAX_SECS` (default 1800): the longest wait between two attempts.
    pub retry_max: Duration,
    /// `OCOP_MESSAGE_POLL_MS` (default 1000): how often a sender looks for due messages
    /// written by other app servers (its own writes wake it at once).
    pub poll_interval: Duration,
    /// The SMS gateway (eSMS.vn), when `OCOP_ESMS_API_KEY` is set.
    pub sms: Option<EsmsConfig>,
    /// Zalo ZNS template messages, when `OCOP_ZALO_ACCESS_TOKEN` is set.
    pub zalo: Option<ZaloConfig>,
}

/// eSMS.vn's `SendMultipleMessage_V4_post_json`.
#[derive(Debug, Clone)]
pub struct EsmsConfig {
    /// `OCOP_ESMS_API_BASE` (default `https://rest.esms.vn`).
    pub api_base: String,
    /// `OCOP_ESMS_API_KEY`.
    pub api_key: Secret,
    /// `OCOP_ESMS_SECRET_KEY`.
    pub secret_key: Secret,
    /// `OCOP_ESMS_BRANDNAME`: the registered sender name (customer-care SMS, `SmsType` 2).
    pub brandname: String,
    /// `OCOP_ESMS_SANDBOX` (default false): eSMS's test mode, nothing is delivered.
    pub sandbox: bool,
}

/// Zalo Notification Service (ZNS) template messages.
#[derive(Debug, Clone)]
pub struct ZaloConfig {
    /// `OCOP_ZALO_API_BASE` (default `https://business.openapi.zalo.me`).
    pub api_base: String,
    /// `OCOP_ZALO_ACCESS_TOKEN`: the Official Account's access token.
    pub access_token: Secret,
    /// `OCOP_ZALO_TEMPLATE_ID`: the approved ZNS template that carries a message's text in
    /// its `content` parameter.
    pub template_id: String,
}

impl MessagesConfig {
    pub(super) fn load(settings: &Settings<'_>) -> Result<Self, ConfigError> {
        let seconds = |name, default| -> Result<Duration, ConfigError> {
            Ok(Duration::from_secs(
                settings.parse_or::<u64>(name, default)?,
            ))
        };
        let sms = match settings.secret("OCOP_ESMS_API_KEY") {
            None => None,
            Some(api_key) => Some(EsmsConfig {
                api_base: settings
                    .text_or("OCOP_ESMS_API_BASE", "https://rest.esms.vn")
                    .trim_end_matches('/')
                    .to_owned(),
                api_key,
                secret_key: settings
                    .secret("OCOP_ESMS_SECRET_KEY")
                    .unwrap_or_else(|| Secret::new("")),
                brandname: settings.text_or("OCOP_ESMS_BRANDNAME", "OCOPMARKET"),
                sandbox: settings.flag_or("OCOP_ESMS_SANDBOX", false)?,
            }),
        };
        let zalo = settings
            .secret("OCOP_ZALO_ACCESS_TOKEN")
            .map(|access_token| ZaloConfig {
                api_base: settings
                    .text_or("OCOP_ZALO_API_BASE", "https://business.openapi.zalo.me")
                    .trim_end_matches('/')
                    .to_owned(),
                access_token,
                template_id: settings.text_or("OCOP_ZALO_TEMPLATE_ID", ""),
            });
        Ok(Self {
            smtp_url: settings.secret("OCOP_SMTP_URL"),
            mail_from: settings.text_or("OCOP_MAIL_FROM", "OCOP Market <no-reply@localhost>"),
            smtp_timeout: seconds("OCOP_SMTP_TIMEOUT_SECS", 20)?.max(Duration::from_secs(1)),
            give_up_after: Duration::from_secs(
                settings
                    .parse_or::<u64>("OCOP_MESSAGE_GIVE_UP_HOURS", 24)?
                    .max(1)
                    * 3600,
            ),
            retry_base: seconds("OCOP_MESSAGE_RETRY_SECS", 30)?.max(Duration::from_millis(100)),
            retry_max: seconds("OCOP_MESSAGE_RETRY_MAX_SECS", 1800)?.max(Duration::from_secs(1)),
            poll_interval: Duration::from_millis(
                settings
                    .parse_or::<u64>("OCOP_MESSAGE_POLL_MS", 1000)?
                    .clamp(10, 60_000),
            ),
            sms,
            zalo,
        })
    }
}
