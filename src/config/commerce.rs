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
    /// VNPay, when all four `OCOP_VNPAY_*` settings are.
    pub vnpay: Option<VnpayConfig>,
    /// MoMo, when all four `OCOP_MOMO_*` settings are.
    pub momo: Option<MomoConfig>,
    /// The settings of a wallet gateway configured in part (some of its settings set, these
    /// missing): the gateway stays off, and production mode refuses to start.
    pub half_configured: Vec<&'static str>,
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

/// VNPay's payment gateway (API version 2.1.0); present only when every setting is.
#[derive(Debug, Clone)]
pub struct VnpayConfig {
    /// The merchant's terminal code (`OCOP_VNPAY_TMN_CODE`).
    pub tmn_code: String,
    /// The key of the HMAC-SHA512 signatures (`OCOP_VNPAY_HASH_SECRET`).
    pub hash_secret: Secret,
    /// The gateway page the signed payment URL points at (`OCOP_VNPAY_PAY_URL`, e.g.
    /// `https://pay.vnpay.vn/vpcpay.html`; sandbox `https://sandbox.vnpayment.vn/paymentv2/vpcpay.html`).
    pub pay_url: String,
    /// The merchant API that takes refunds (`OCOP_VNPAY_API_URL`, e.g.
    /// `https://merchant.vnpay.vn/merchant_webapi/api/transaction`).
    pub api_url: String,
    /// How long one call to the API may take (`OCOP_WALLET_TIMEOUT_SECONDS`, 10).
    pub timeout: Duration,
}

/// MoMo's payment gateway (AIO v2); present only when every setting is.
#[derive(Debug, Clone)]
pub struct MomoConfig {
    /// `OCOP_MOMO_PARTNER_CODE`.
    pub partner_code: String,
    /// `OCOP_MOMO_ACCESS_KEY` (part of every signed text).
    pub access_key: Secret,
    /// The key of the HMAC-SHA256 signatures (`OCOP_MOMO_SECRET_KEY`).
    pub secret_key: Secret,
    /// The API base (`OCOP_MOMO_API_URL`: `https://payment.momo.vn`, sandbox
    /// `https://test-payment.momo.vn`), without a trailing `/`.
    pub api_url: String,
    /// How long one call to the API may take (`OCOP_WALLET_TIMEOUT_SECONDS`, 10).
    pub timeout: Duration,
}

/// The settings of a gateway that are set and those missing, in the order given.
fn gateway_settings<const N: usize>(
    settings: &Settings<'_>,
    names: [&'static str; N],
) -> (Vec<String>, Vec<&'static str>) {
    let mut values = Vec::new();
    let mut missing = Vec::new();
    for name in names {
        match settings.text(name) {
            Some(value) => values.push(value),
            None => missing.push(name),
        }
    }
    (values, missing)
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
        let timeout = Duration::from_secs(
            settings
                .parse_or::<u64>("OCOP_WALLET_TIMEOUT_SECONDS", 10)?
                .max(1),
        );
        let mut half_configured = Vec::new();
        let (values, missing) = gateway_settings(
            settings,
            [
                "OCOP_VNPAY_TMN_CODE",
                "OCOP_VNPAY_HASH_SECRET",
                "OCOP_VNPAY_PAY_URL",
                "OCOP_VNPAY_API_URL",
            ],
        );
        let vnpay = match <[String; 4]>::try_from(values) {
            Ok([tmn_code, hash_secret, pay_url, api_url]) => Some(VnpayConfig {
                tmn_code,
                hash_secret: Secret::new(hash_secret),
                pay_url,
                api_url,
                timeout,
            }),
            Err(values) => {
                if !values.is_empty() {
                    half_configured.extend(missing);
                }
                None
            }
        };
        let (values, missing) = gateway_settings(
            settings,
            [
                "OCOP_MOMO_PARTNER_CODE",
                "OCOP_MOMO_ACCESS_KEY",
                "OCOP_MOMO_SECRET_KEY",
                "OCOP_MOMO_API_URL",
            ],
        );
        let momo = match <[String; 4]>::try_from(values) {
            Ok([partner_code, access_key, secret_key, api_url]) => Some(MomoConfig {
                partner_code,
                access_key: Secret::new(access_key),
                secret_key: Secret::new(secret_key),
                api_url: api_url.trim_end_matches('/').to_owned(),
                timeout,
            }),
            Err(values) => {
                if !values.is_empty() {
                    half_configured.extend(missing);
                }
                None
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
            vnpay,
            momo,
            half_configured,
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
