//! Checkout, payment providers and the ledger: reservations, commission, the collecting
//! account, bank notifications and Stripe.

use std::time::Duration;

use super::settings::Settings;
use super::{ConfigError, Secret};

/// The collecting account of the demo (and of a configuration that names none): production
/// mode refuses it, so real money never goes to an account nobody checked.
pub const DEMO_ACCOUNT_NUMBER: &str = "0011004455667";

/// Checkout, payment and ledger settings.
#[derive(Debug, Clone)]
pub struct CommerceConfig {
    /// How long stock stays reserved for an unpaid checkout (`OCOP_RESERVATION_MINUTES`, 30).
    pub reservation_ttl: Duration,
    /// Platform commission on the goods of each order, in basis points
    /// (`OCOP_COMMISSION_BPS`, 500 = 5 %); delivery fees carry no commission.
    pub commission_bps: u32,
    /// The platform's collecting account that VietQR codes pay into.
    pub collecting_account: CollectingAccount,
    /// How bank notifications look and are signed; `None` disables the bank webhook.
    pub bank_webhook: Option<BankWebhookConfig>,
    /// Stripe, when a secret key is configured.
    pub stripe: Option<StripeConfig>,
    /// How long after delivery a shopper may still send goods back
    /// (`OCOP_RETURN_WINDOW_DAYS`, 7): until then the order's money is pending, not available
    /// for a payout to the cooperative.
    pub return_window: Duration,
    /// The platform's default shipping rate table, used by every cooperative that keeps none
    /// of its own (`OCOP_SHIPPING_RATES`, JSON in the shape of the API's rate table; the
    /// built-in table otherwise).
    pub default_shipping_rates: crate::domain::shipping::RateTable,
}

/// A Vietnamese bank account (NAPAS BIN + number) that receives VietQR transfers.
#[derive(Debug, Clone)]
pub struct CollectingAccount {
    /// `OCOP_COLLECT_BANK_BIN` (default 970436, Vietcombank).
    pub bank_bin: String,
    /// `OCOP_COLLECT_ACCOUNT_NUMBER`.
    pub account_number: String,
    /// `OCOP_COLLECT_ACCOUNT_NAME`, shown for manual transfers.
    pub account_name: String,
}

/// Where the fields of a bank notification are, and how it is signed.
///
/// Vietnamese bank-notification services (SePay, Casso, a bank's own API) each post JSON of
/// their own shape; the fields are located with JSON pointers (RFC 6901) so that one of them
/// can be adopted by configuration. `OCOP_BANK_WEBHOOK_FORMAT` picks a preset (`generic`,
/// `sepay`, `casso`) and `OCOP_BANK_WEBHOOK_*_POINTER` variables override single fields.
#[derive(Debug, Clone)]
pub struct BankWebhookConfig {
    /// HMAC-SHA256 key shared with the notification service (`OCOP_BANK_WEBHOOK_SECRET`).
    pub secret: Secret,
    /// Pointer to an array of transactions when one notification carries several
    /// (Casso's `/data`); `None` when the body is one transaction.
    pub items_pointer: Option<String>,
    pub transaction_id_pointer: String,
    pub amount_pointer: String,
    pub description_pointer: String,
    /// Pointer to the direction field and the value meaning money in; outgoing transfers are
    /// acknowledged and ignored.
    pub direction: Option<(String, String)>,
    /// Header carrying the signature: `sha256=<hex>`, bare hex or base64, or
    /// `t=<unix>,v1=<hex>` (`OCOP_BANK_WEBHOOK_SIGNATURE_HEADER`, default `X-Signature`).
    pub signature_header: String,
    /// Header carrying the Unix timestamp that is signed as `"{timestamp}.{body}"`
    /// (`OCOP_BANK_WEBHOOK_TIMESTAMP_HEADER`, default `X-Timestamp`; `none` to sign the body
    /// alone, for services that send no timestamp).
    pub timestamp_header: Option<String>,
    /// Largest accepted age (and clock skew) of a signed timestamp.
    pub tolerance: Duration,
}

/// Stripe settings; present only when `OCOP_STRIPE_SECRET_KEY` is set.
#[derive(Debug, Clone)]
pub struct StripeConfig {
    pub secret_key: Secret,
    /// Webhook signing secrets, comma-separated in `OCOP_STRIPE_WEBHOOK_SECRETS`; several are
    /// accepted at once while a secret is rotated.
    pub webhook_secrets: Vec<Secret>,
    /// API base, `https://api.stripe.com/` unless `OCOP_STRIPE_API_BASE` points elsewhere
    /// (the tests' local stand-in). Always ends with `/`.
    pub api_base: String,
    /// How long one call to Stripe's API may take before it counts as failed
    /// (`OCOP_STRIPE_TIMEOUT_SECONDS`, 10).
    pub timeout: Duration,
}

impl CommerceConfig {
    pub(super) fn load(settings: &Settings<'_>) -> Result<Self, ConfigError> {
        let reservation_minutes: u64 = settings.parse_or("OCOP_RESERVATION_MINUTES", 30)?;
        let commission_bps: u32 = settings.parse_or("OCOP_COMMISSION_BPS", 500)?;
        let return_window_days: u64 = settings.parse_or("OCOP_RETURN_WINDOW_DAYS", 7)?;
        if return_window_days > 365 {
            return Err(ConfigError::Env {
                name: "OCOP_RETURN_WINDOW_DAYS",
                reason: "at most 365 days".into(),
            });
        }
        if commission_bps > 10_000 {
            return Err(ConfigError::Env {
                name: "OCOP_COMMISSION_BPS",
                reason: "at most 10000 (100 %)".into(),
            });
        }
        let collecting_account = CollectingAccount {
            bank_bin: settings.text_or("OCOP_COLLECT_BANK_BIN", "970436"),
            account_number: settings.text_or("OCOP_COLLECT_ACCOUNT_NUMBER", DEMO_ACCOUNT_NUMBER),
            account_name: settings.text_or("OCOP_COLLECT_ACCOUNT_NAME", "CONG TY OCOP MARKET"),
        };
        let bank_webhook = match settings.secret("OCOP_BANK_WEBHOOK_SECRET") {
            Some(secret) => Some(BankWebhookConfig::load(secret, settings)?),
            // Set but blank: a webhook signed with an empty key would take anyone's word.
            None if settings.raw("OCOP_BANK_WEBHOOK_SECRET").is_some() => {
                return Err(ConfigError::Env {
                    name: "OCOP_BANK_WEBHOOK_SECRET",
                    reason: "is set but empty; set the key shared with the notification \
                             service, or unset it to turn the bank webhook off"
                        .into(),
                });
            }
            None => None,
        };
        let stripe = match settings.secret("OCOP_STRIPE_SECRET_KEY") {
            None => None,
            Some(secret_key) => {
                let timeout_seconds: u64 = settings.parse_or("OCOP_STRIPE_TIMEOUT_SECONDS", 10)?;
                let mut api_base =
                    settings.text_or("OCOP_STRIPE_API_BASE", "https://api.stripe.com/");
                if !api_base.ends_with('/') {
                    api_base.push('/');
                }
                Some(StripeConfig {
                    secret_key,
                    webhook_secrets: settings
                        .list("OCOP_STRIPE_WEBHOOK_SECRETS")
                        .into_iter()
                        .map(Secret::new)
                        .collect(),
                    api_base,
                    timeout: Duration::from_secs(timeout_seconds.max(1)),
                })
            }
        };
        let default_shipping_rates = match settings.text("OCOP_SHIPPING_RATES") {
            None => crate::domain::shipping::RateTable::platform_default(),
            Some(json) => {
                let table: crate::domain::shipping::RateTable = serde_json::from_str(&json)
                    .map_err(|e| ConfigError::Env {
                        name: "OCOP_SHIPPING_RATES",
                        reason: format!("is not a rate table: {e}"),
                    })?;
                table.validate().map_err(|(_, issue)| ConfigError::Env {
                    name: "OCOP_SHIPPING_RATES",
                    reason: issue.message,
                })?;
                table
            }
        };
        Ok(Self {
            default_shipping_rates,
            reservation_ttl: Duration::from_secs(reservation_minutes.max(1) * 60),
            commission_bps,
            collecting_account,
            bank_webhook,
            stripe,
            return_window: Duration::from_secs(return_window_days * 24 * 3600),
        })
    }
}

impl BankWebhookConfig {
    /// The `generic` format: `{"transaction_id", "amount", "description"}`.
    pub fn generic(secret: Secret) -> Self {
        Self {
            secret,
            items_pointer: None,
            transaction_id_pointer: "/transaction_id".into(),
            amount_pointer: "/amount".into(),
            description_pointer: "/description".into(),
            direction: None,
            signature_header: "X-Signature".into(),
            timestamp_header: Some("X-Timestamp".into()),
            tolerance: Duration::from_secs(300),
        }
    }

    /// A named preset (`generic`, `sepay`, `casso`), or `None` for a name not known.
    ///
    /// Direction: SePay says it in `transferType` (`in`/`out`); Casso and the generic format
    /// report money out as a negative amount.
    pub fn preset(name: &str, secret: Secret) -> Option<Self> {
        let mut format = Self::generic(secret);
        match name {
            "generic" => {}
            // SePay: {"id": 92704, "transferType": "in", "transferAmount": 2277000,
            //         "content": "…", …}
            "sepay" => {
                format.transaction_id_pointer = "/id".into();
                format.amount_pointer = "/transferAmount".into();
                format.description_pointer = "/content".into();
                format.direction = Some(("/transferType".into(), "in".into()));
            }
            // Casso: {"error": 0, "data": [{"tid": "…", "amount": 100000, "description": "…"}]}
            "casso" => {
                format.items_pointer = Some("/data".into());
                format.transaction_id_pointer = "/tid".into();
                format.amount_pointer = "/amount".into();
                format.description_pointer = "/description".into();
            }
            _ => return None,
        }
        Some(format)
    }

    fn load(secret: Secret, settings: &Settings<'_>) -> Result<Self, ConfigError> {
        let name = settings
            .text("OCOP_BANK_WEBHOOK_FORMAT")
            .unwrap_or_else(|| "generic".into());
        let mut format = Self::preset(&name, secret).ok_or_else(|| ConfigError::Env {
            name: "OCOP_BANK_WEBHOOK_FORMAT",
            reason: format!("unknown format {name:?}; use generic, sepay or casso"),
        })?;
        if let Some(v) = settings.raw("OCOP_BANK_WEBHOOK_ITEMS_POINTER") {
            format.items_pointer = Some(v).filter(|p| !p.is_empty());
        }
        if let Some(v) = settings.text("OCOP_BANK_WEBHOOK_TRANSACTION_ID_POINTER") {
            format.transaction_id_pointer = v;
        }
        if let Some(v) = settings.text("OCOP_BANK_WEBHOOK_AMOUNT_POINTER") {
            format.amount_pointer = v;
        }
        if let Some(v) = settings.text("OCOP_BANK_WEBHOOK_DESCRIPTION_POINTER") {
            format.description_pointer = v;
        }
        if let Some(v) = settings.text("OCOP_BANK_WEBHOOK_SIGNATURE_HEADER") {
            format.signature_header = v;
        }
        if let Some(v) = settings.raw("OCOP_BANK_WEBHOOK_TIMESTAMP_HEADER") {
            format.timestamp_header = Some(v).filter(|h| h != "none" && !h.is_empty());
        }
        if let Some(seconds) = settings.parse_opt::<u64>("OCOP_BANK_WEBHOOK_TOLERANCE_SECONDS")? {
            format.tolerance = Duration::from_secs(seconds);
        }
        Ok(format)
    }
}
