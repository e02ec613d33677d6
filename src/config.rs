//! Configuration, loaded once at start-up from (in increasing precedence) built-in defaults,
//! an optional `ocop-market.toml`, environment variables and command-line flags.
//!
//! Defaults serve the embedded mode: SQLite in `./data`, listening on 127.0.0.1:8080. In
//! production mode (`OCOP_PRODUCTION=true`) start-up refuses a missing or weak secret and a
//! non-HTTPS public URL.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// A secret value. Its `Debug` and `Display` never show the value, so it cannot leak into logs.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

/// The whole configuration of one app process.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`; a secret because it may hold a password.
    pub database_url: Secret,
    pub database_max_connections: u32,
    /// Base URL used in links printed outside the site (stamps, e-mails, CLI output).
    pub public_url: String,
    pub production: bool,
    /// Key for the keyed hashes the app derives (client fingerprints for rate limits and scans).
    pub secret_key: Secret,
    pub session_ttl: Duration,
    /// Login attempts allowed per client address and per account each minute.
    pub login_attempts_per_minute: u32,
    /// Stamp scans (page or API) allowed per client address each minute.
    pub scans_per_minute: u32,
    /// Fake reports allowed per client address each hour.
    pub reports_per_hour: u32,
    /// Whether to take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Checkout, payments and the ledger.
    pub commerce: CommerceConfig,
    /// A Meilisearch server to search with instead of the embedded index (`MEILI_URL`).
    pub meilisearch: Option<MeilisearchConfig>,
    /// Longest wait of the search indexer between two looks at the outbox
    /// (`OCOP_SEARCH_POLL_MS`, default 200): how soon other processes' writes are indexed.
    pub search_poll_interval: Duration,
    /// Outbox rows younger than this are not indexed yet (`OCOP_SEARCH_INDEXER_DELAY_MS`,
    /// default 0). A test and operations knob: it holds indexing back deterministically
    /// (crash-safety tests) or spreads load; in normal running leave it at 0.
    pub search_indexer_delay: Duration,
    /// Outbox rows the indexer handles per batch (`OCOP_SEARCH_BATCH_SIZE`, default 500).
    pub search_batch_size: u64,
    /// Product and batch photos: where they are stored and what an upload may be.
    pub media: MediaConfig,
    /// How long the province dashboard's figures are reused before being computed again
    /// (`OCOP_DASHBOARD_CACHE_SECS`, default 60; 0 computes them on every request).
    pub dashboard_cache_ttl: Duration,
}

/// Photo storage and upload limits.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    pub storage: MediaStorage,
    pub limits: PhotoLimits,
}

/// What one upload may be.
#[derive(Debug, Clone, Copy)]
pub struct PhotoLimits {
    /// Largest upload in bytes.
    pub max_bytes: usize,
    /// Largest picture in pixels (width × height), checked from the header before decoding:
    /// the decompression-bomb guard. 50 megapixels admits every phone camera in common use.
    pub max_pixels: u64,
}

impl Default for PhotoLimits {
    fn default() -> Self {
        Self {
            max_bytes: 20 * 1024 * 1024,
            max_pixels: 50_000_000,
        }
    }
}

/// Where photo files are kept.
#[derive(Debug, Clone)]
pub enum MediaStorage {
    /// Files in a local folder: `OCOP_MEDIA_DIR`, or `{data_dir}/media` when unset.
    Local { dir: Option<PathBuf> },
    /// An S3-compatible bucket (`OCOP_S3_BUCKET`).
    S3(S3Storage),
}

/// An S3-compatible bucket.
#[derive(Debug, Clone)]
pub struct S3Storage {
    pub bucket: String,
    /// `OCOP_S3_REGION` (default `us-east-1`, which most S3-compatible services accept).
    pub region: String,
    /// `OCOP_S3_ENDPOINT` for services other than AWS (MinIO, R2…).
    pub endpoint: Option<String>,
    /// The standard `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`. When unset, the S3 client
    /// looks for credentials the way AWS tools do (instance roles, web identity).
    pub credentials: Option<(String, Secret)>,
}

/// Where the Meilisearch server is and how to talk to it.
#[derive(Debug, Clone)]
pub struct MeilisearchConfig {
    /// Base URL, e.g. `http://127.0.0.1:7700` (`MEILI_URL`).
    pub url: String,
    /// API key with rights on the index (`MEILI_API_KEY`); none for a server without a
    /// master key.
    pub api_key: Option<Secret>,
    /// Name (uid) of the products index (`MEILI_INDEX`, default `products`).
    pub index: String,
}

/// Checkout, payment and ledger settings (environment variables only).
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

/// The secret used when none is configured. Acceptable on a developer's machine; production
/// mode refuses it.
const DEVELOPMENT_SECRET: &str = "development-only-secret-do-not-use-in-production";

/// Values a deployment may set in `ocop-market.toml`; every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    database_max_connections: Option<u32>,
    public_url: Option<String>,
    production: Option<bool>,
    secret_key: Option<Secret>,
    session_ttl_days: Option<u64>,
    login_attempts_per_minute: Option<u32>,
    scans_per_minute: Option<u32>,
    reports_per_hour: Option<u32>,
    trust_forwarded_for: Option<bool>,
    max_body_bytes: Option<usize>,
    meili_url: Option<String>,
    meili_api_key: Option<Secret>,
    meili_index: Option<String>,
    search_poll_ms: Option<u64>,
    search_indexer_delay_ms: Option<u64>,
    search_batch_size: Option<u64>,
}

/// Values given on the command line; they win over the file and the environment.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub listen: Option<SocketAddr>,
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not valid: {source}")]
    Parse {
        path: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("environment variable {name} is not valid: {reason}")]
    Env { name: &'static str, reason: String },
    #[error("production mode refuses this configuration: {0}")]
    Production(String),
}

impl Config {
    /// Loads the configuration from the file named by `OCOP_CONFIG` (or `./ocop-market.toml`
    /// when present), the process environment and the command-line overrides.
    pub fn load(overrides: Overrides) -> Result<Self, ConfigError> {
        let explicit = std::env::var_os("OCOP_CONFIG").map(PathBuf::from);
        let path = explicit
            .clone()
            .unwrap_or_else(|| PathBuf::from("ocop-market.toml"));
        let file = if explicit.is_some() || path.exists() {
            read_file(&path)?
        } else {
            FileConfig::default()
        };
        Self::from_sources(file, |name| std::env::var(name).ok(), overrides)
    }

    fn from_sources(
        file: FileConfig,
        env: impl Fn(&str) -> Option<String>,
        overrides: Overrides,
    ) -> Result<Self, ConfigError> {
        let listen = match overrides.listen {
            Some(addr) => addr,
            None => match env("OCOP_LISTEN") {
                Some(v) => parse_env("OCOP_LISTEN", &v)?,
                None => file
                    .listen
                    .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            },
        };
        let data_dir = overrides
            .data_dir
            .or_else(|| env("OCOP_DATA_DIR").map(PathBuf::from))
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));
        let database_url = Secret::new(
            env("DATABASE_URL")
                .or(file.database_url)
                .unwrap_or_else(|| default_sqlite_url(&data_dir)),
        );
        let database_max_connections = match env("OCOP_DATABASE_MAX_CONNECTIONS") {
            Some(v) => parse_env("OCOP_DATABASE_MAX_CONNECTIONS", &v)?,
            None => file.database_max_connections.unwrap_or(16),
        };
        let public_url = env("OCOP_PUBLIC_URL")
            .or(file.public_url)
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_owned();
        let production = match env("OCOP_PRODUCTION") {
            Some(v) => parse_bool("OCOP_PRODUCTION", &v)?,
            None => file.production.unwrap_or(false),
        };
        let secret_key = env("OCOP_SECRET_KEY").map(Secret::new).or(file.secret_key);
        let session_ttl_days = match env("OCOP_SESSION_TTL_DAYS") {
            Some(v) => parse_env("OCOP_SESSION_TTL_DAYS", &v)?,
            None => file.session_ttl_days.unwrap_or(30),
        };
        let login_attempts_per_minute = match env("OCOP_LOGIN_ATTEMPTS_PER_MINUTE") {
            Some(v) => parse_env("OCOP_LOGIN_ATTEMPTS_PER_MINUTE", &v)?,
            None => file.login_attempts_per_minute.unwrap_or(10),
        };
        let scans_per_minute = match env("OCOP_SCANS_PER_MINUTE") {
            Some(v) => parse_env("OCOP_SCANS_PER_MINUTE", &v)?,
            None => file.scans_per_minute.unwrap_or(60),
        };
        let reports_per_hour = match env("OCOP_REPORTS_PER_HOUR") {
            Some(v) => parse_env("OCOP_REPORTS_PER_HOUR", &v)?,
            None => file.reports_per_hour.unwrap_or(20),
        };
        let trust_forwarded_for = match env("OCOP_TRUST_FORWARDED_FOR") {
            Some(v) => parse_bool("OCOP_TRUST_FORWARDED_FOR", &v)?,
            None => file.trust_forwarded_for.unwrap_or(false),
        };
        let max_body_bytes = file.max_body_bytes.unwrap_or(2 * 1024 * 1024);
        let commerce = CommerceConfig::from_env(&env)?;
        let meilisearch = env("MEILI_URL")
            .or(file.meili_url)
            .map(|url| url.trim().trim_end_matches('/').to_owned())
            .filter(|url| !url.is_empty())
            .map(|url| MeilisearchConfig {
                url,
                api_key: env("MEILI_API_KEY")
                    .map(Secret::new)
                    .or(file.meili_api_key)
                    .filter(|key| !key.expose().is_empty()),
                index: env("MEILI_INDEX")
                    .or(file.meili_index)
                    .unwrap_or_else(|| "products".to_owned()),
            });
        let search_poll_ms: u64 = match env("OCOP_SEARCH_POLL_MS") {
            Some(v) => parse_env("OCOP_SEARCH_POLL_MS", &v)?,
            None => file.search_poll_ms.unwrap_or(200),
        };
        let search_indexer_delay_ms: u64 = match env("OCOP_SEARCH_INDEXER_DELAY_MS") {
            Some(v) => parse_env("OCOP_SEARCH_INDEXER_DELAY_MS", &v)?,
            None => file.search_indexer_delay_ms.unwrap_or(0),
        };
        let search_batch_size: u64 = match env("OCOP_SEARCH_BATCH_SIZE") {
            Some(v) => parse_env("OCOP_SEARCH_BATCH_SIZE", &v)?,
            None => file.search_batch_size.unwrap_or(500),
        };

        let media = MediaConfig::from_env(&env)?;
        let dashboard_cache_secs: u64 = match env("OCOP_DASHBOARD_CACHE_SECS") {
            Some(v) => parse_env("OCOP_DASHBOARD_CACHE_SECS", &v)?,
            None => 60,
        };

        if production {
            check_production(&public_url, secret_key.as_ref())?;
        }
        Ok(Self {
            listen,
            data_dir,
            database_url,
            database_max_connections,
            public_url,
            production,
            secret_key: secret_key.unwrap_or_else(|| Secret::new(DEVELOPMENT_SECRET)),
            session_ttl: Duration::from_secs(session_ttl_days.max(1) * 24 * 3600),
            login_attempts_per_minute: login_attempts_per_minute.max(1),
            scans_per_minute: scans_per_minute.max(1),
            reports_per_hour: reports_per_hour.max(1),
            trust_forwarded_for,
            max_body_bytes,
            commerce,
            meilisearch,
            search_poll_interval: Duration::from_millis(search_poll_ms.clamp(10, 60_000)),
            search_indexer_delay: Duration::from_millis(search_indexer_delay_ms),
            search_batch_size: search_batch_size.clamp(1, 10_000),
            media,
            dashboard_cache_ttl: Duration::from_secs(dashboard_cache_secs.min(3600)),
        })
    }

    /// A configuration for tests and tools: defaults with the given database and data folder.
    pub fn for_database(database_url: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        let mut config = Self::from_sources(FileConfig::default(), |_| None, Overrides::default())
            .expect("the built-in defaults are valid");
        config.database_url = Secret::new(database_url);
        config.data_dir = data_dir.into();
        config
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.expose().starts_with("sqlite:")
    }

    /// Session cookies are `Secure` unless the site is served over plain HTTP on a local
    /// address (a developer's machine), where browsers would otherwise drop them.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }

    /// The database URL with any password replaced, for logs.
    pub fn database_url_for_logs(&self) -> String {
        redact_url_password(self.database_url.expose())
    }
}

impl CommerceConfig {
    fn from_env(env: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let reservation_minutes: u64 = match env("OCOP_RESERVATION_MINUTES") {
            Some(v) => parse_env("OCOP_RESERVATION_MINUTES", &v)?,
            None => 30,
        };
        let commission_bps: u32 = match env("OCOP_COMMISSION_BPS") {
            Some(v) => parse_env("OCOP_COMMISSION_BPS", &v)?,
            None => 500,
        };
        if commission_bps > 10_000 {
            return Err(ConfigError::Env {
                name: "OCOP_COMMISSION_BPS",
                reason: "at most 10000 (100 %)".into(),
            });
        }
        let collecting_account = CollectingAccount {
            bank_bin: env("OCOP_COLLECT_BANK_BIN").unwrap_or_else(|| "970436".into()),
            account_number: env("OCOP_COLLECT_ACCOUNT_NUMBER")
                .unwrap_or_else(|| "0011004455667".into()),
            account_name: env("OCOP_COLLECT_ACCOUNT_NAME")
                .unwrap_or_else(|| "CONG TY OCOP MARKET".into()),
        };
        let bank_webhook = match env("OCOP_BANK_WEBHOOK_SECRET") {
            Some(secret) => Some(BankWebhookConfig::from_env(Secret::new(secret), env)?),
            None => None,
        };
        let stripe = match env("OCOP_STRIPE_SECRET_KEY").filter(|k| !k.trim().is_empty()) {
            None => None,
            Some(key) => {
                let timeout_seconds: u64 = match env("OCOP_STRIPE_TIMEOUT_SECONDS") {
                    Some(v) => parse_env("OCOP_STRIPE_TIMEOUT_SECONDS", &v)?,
                    None => 10,
                };
                let mut api_base =
                    env("OCOP_STRIPE_API_BASE").unwrap_or_else(|| "https://api.stripe.com/".into());
                if !api_base.ends_with('/') {
                    api_base.push('/');
                }
                Some(StripeConfig {
                    secret_key: Secret::new(key.trim()),
                    webhook_secrets: env("OCOP_STRIPE_WEBHOOK_SECRETS")
                        .unwrap_or_default()
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(Secret::new)
                        .collect(),
                    api_base,
                    timeout: Duration::from_secs(timeout_seconds.max(1)),
                })
            }
        };
        Ok(Self {
            reservation_ttl: Duration::from_secs(reservation_minutes.max(1) * 60),
            commission_bps,
            collecting_account,
            bank_webhook,
            stripe,
        })
    }
}

impl MediaConfig {
    fn from_env(env: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut limits = PhotoLimits::default();
        if let Some(v) = env("OCOP_PHOTO_MAX_MEGAPIXELS") {
            let megapixels: u64 = parse_env("OCOP_PHOTO_MAX_MEGAPIXELS", &v)?;
            limits.max_pixels = megapixels.clamp(1, 200) * 1_000_000;
        }
        let bucket = env("OCOP_S3_BUCKET").filter(|b| !b.trim().is_empty());
        let storage = match bucket {
            None => MediaStorage::Local {
                dir: env("OCOP_MEDIA_DIR").map(PathBuf::from),
            },
            Some(bucket) => MediaStorage::S3(S3Storage {
                bucket: bucket.trim().to_owned(),
                region: env("OCOP_S3_REGION").unwrap_or_else(|| "us-east-1".into()),
                endpoint: env("OCOP_S3_ENDPOINT")
                    .map(|e| e.trim().to_owned())
                    .filter(|e| !e.is_empty()),
                credentials: env("AWS_ACCESS_KEY_ID")
                    .zip(env("AWS_SECRET_ACCESS_KEY"))
                    .map(|(id, secret)| (id, Secret::new(secret))),
            }),
        };
        Ok(Self { storage, limits })
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

    fn from_env(
        secret: Secret,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut format = Self::generic(secret);
        match env("OCOP_BANK_WEBHOOK_FORMAT").as_deref() {
            None | Some("generic") => {}
            // SePay: {"id": 92704, "transferType": "in", "transferAmount": 2277000,
            //         "content": "…", …}
            Some("sepay") => {
                format.transaction_id_pointer = "/id".into();
                format.amount_pointer = "/transferAmount".into();
                format.description_pointer = "/content".into();
                format.direction = Some(("/transferType".into(), "in".into()));
            }
            // Casso: {"error": 0, "data": [{"tid": "…", "amount": 100000, "description": "…"}]}
            Some("casso") => {
                format.items_pointer = Some("/data".into());
                format.transaction_id_pointer = "/tid".into();
                format.amount_pointer = "/amount".into();
                format.description_pointer = "/description".into();
            }
            Some(other) => {
                return Err(ConfigError::Env {
                    name: "OCOP_BANK_WEBHOOK_FORMAT",
                    reason: format!("unknown format {other:?}; use generic, sepay or casso"),
                });
            }
        }
        if let Some(v) = env("OCOP_BANK_WEBHOOK_ITEMS_POINTER") {
            format.items_pointer = Some(v).filter(|p| !p.is_empty());
        }
        if let Some(v) = env("OCOP_BANK_WEBHOOK_TRANSACTION_ID_POINTER") {
            format.transaction_id_pointer = v;
        }
        if let Some(v) = env("OCOP_BANK_WEBHOOK_AMOUNT_POINTER") {
            format.amount_pointer = v;
        }
        if let Some(v) = env("OCOP_BANK_WEBHOOK_DESCRIPTION_POINTER") {
            format.description_pointer = v;
        }
        if let Some(v) = env("OCOP_BANK_WEBHOOK_SIGNATURE_HEADER") {
            format.signature_header = v;
        }
        if let Some(v) = env("OCOP_BANK_WEBHOOK_TIMESTAMP_HEADER") {
            format.timestamp_header = Some(v).filter(|h| h != "none" && !h.is_empty());
        }
        if let Some(v) = env("OCOP_BANK_WEBHOOK_TOLERANCE_SECONDS") {
            format.tolerance =
                Duration::from_secs(parse_env("OCOP_BANK_WEBHOOK_TOLERANCE_SECONDS", &v)?);
        }
        Ok(format)
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_owned(),
        source: Box::new(source),
    })
}

fn default_sqlite_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("ocop-market.sqlite").display()
    )
}

fn parse_env<T: std::str::FromStr>(name: &'static str, value: &str) -> Result<T, ConfigError>
where
    T::Err: fmt::Display,
{
    value.trim().parse().map_err(|e: T::Err| ConfigError::Env {
        name,
        reason: e.to_string(),
    })
}

fn parse_bool(name: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        other => Err(ConfigError::Env {
            name,
            reason: format!("expected true or false, got {other:?}"),
        }),
    }
}

fn check_production(public_url: &str, secret_key: Option<&Secret>) -> Result<(), ConfigError> {
    let Some(secret) = secret_key else {
        return Err(ConfigError::Production(
            "OCOP_SECRET_KEY is not set".to_owned(),
        ));
    };
    let value = secret.expose();
    let distinct = value
        .chars()
        .collect::<std::collections::BTreeSet<_>>()
        .len();
    if value == DEVELOPMENT_SECRET || value.len() < 32 || distinct < 10 {
        return Err(ConfigError::Production(
            "OCOP_SECRET_KEY must be at least 32 random characters (try `openssl rand -hex 32`)"
                .to_owned(),
        ));
    }
    if !public_url.starts_with("https://") {
        return Err(ConfigError::Production(
            "OCOP_PUBLIC_URL must be an https:// URL".to_owned(),
        ));
    }
    Ok(())
}

fn redact_url_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_sources(
            FileConfig::default(),
            |name| map.get(name).cloned(),
            Overrides::default(),
        )
    }

    #[test]
    fn defaults_serve_the_embedded_mode() {
        let config = load(&[]).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert!(config.is_sqlite());
        assert!(
            config
                .database_url
                .expose()
                .contains("data/ocop-market.sqlite")
        );
        assert_eq!(config.public_url, "http://127.0.0.1:8080");
        assert!(!config.secure_cookies());
    }

    #[test]
    fn s3_storage_is_configured_from_the_environment() {
        let config = load(&[
            ("OCOP_S3_BUCKET", "anh-san-pham"),
            ("OCOP_S3_ENDPOINT", "http://10.0.0.5:9000"),
            ("AWS_ACCESS_KEY_ID", "key-id"),
            ("AWS_SECRET_ACCESS_KEY", "very-secret"),
        ])
        .unwrap();
        let MediaStorage::S3(s3) = &config.media.storage else {
            panic!("S3 storage expected");
        };
        assert_eq!(s3.bucket, "anh-san-pham");
        assert_eq!(s3.endpoint.as_deref(), Some("http://10.0.0.5:9000"));
        assert!(!format!("{s3:?}").contains("very-secret"), "never printed");
    }

    #[test]
    fn production_refuses_missing_and_weak_secrets() {
        let https = ("OCOP_PUBLIC_URL", "https://ocop.example.vn");
        assert!(load(&[("OCOP_PRODUCTION", "true"), https]).is_err());
        assert!(
            load(&[
                ("OCOP_PRODUCTION", "true"),
                https,
                ("OCOP_SECRET_KEY", "short")
            ])
            .is_err()
        );
        assert!(
            load(&[
                ("OCOP_PRODUCTION", "true"),
                https,
                ("OCOP_SECRET_KEY", &"a".repeat(40))
            ])
            .is_err()
        );
        let strong = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        assert!(
            load(&[
                ("OCOP_PRODUCTION", "true"),
                https,
                ("OCOP_SECRET_KEY", strong)
            ])
            .is_ok()
        );
        assert!(
            load(&[
                ("OCOP_PRODUCTION", "true"),
                ("OCOP_PUBLIC_URL", "http://ocop.example.vn"),
                ("OCOP_SECRET_KEY", strong)
            ])
            .is_err()
        );
    }

    #[test]
    fn secrets_and_passwords_never_reach_debug_output() {
        let config = load(&[
            ("OCOP_SECRET_KEY", "super-secret-value"),
            ("DATABASE_URL", "postgres://app:hunter2@db/ocop"),
        ])
        .unwrap();
        let debug = format!("{config:?}");
        assert!(!debug.contains("super-secret-value"));
        assert!(!debug.contains("hunter2"));
        assert_eq!(config.database_url_for_logs(), "postgres://app:***@db/ocop");
    }

    #[test]
    fn meilisearch_is_used_only_when_its_url_is_set() {
        let config = load(&[]).unwrap();
        assert!(config.meilisearch.is_none());
        assert_eq!(config.search_poll_interval, Duration::from_millis(200));
        let config = load(&[
            ("MEILI_URL", "http://127.0.0.1:7700/"),
            ("MEILI_API_KEY", "masterKey"),
        ])
        .unwrap();
        let meili = config.meilisearch.unwrap();
        assert_eq!(meili.url, "http://127.0.0.1:7700");
        assert_eq!(meili.index, "products");
        assert!(!format!("{meili:?}").contains("masterKey"));
        assert!(load(&[("OCOP_SEARCH_INDEXER_DELAY_MS", "soon")]).is_err());
    }

    #[test]
    fn stripe_is_configured_only_with_a_key_and_its_secrets_never_print() {
        assert!(load(&[]).unwrap().commerce.stripe.is_none());
        let config = load(&[
            ("OCOP_STRIPE_SECRET_KEY", "sk_test_very_secret"),
            ("OCOP_STRIPE_WEBHOOK_SECRETS", "whsec_old, whsec_new,"),
            ("OCOP_STRIPE_API_BASE", "http://127.0.0.1:9999"),
        ])
        .unwrap();
        let stripe = config.commerce.stripe.as_ref().unwrap();
        assert_eq!(stripe.webhook_secrets.len(), 2);
        assert_eq!(stripe.webhook_secrets[1].expose(), "whsec_new");
        assert_eq!(stripe.api_base, "http://127.0.0.1:9999/");
        assert_eq!(stripe.timeout, Duration::from_secs(10));
        let debug = format!("{config:?}");
        assert!(!debug.contains("sk_test_very_secret"));
        assert!(!debug.contains("whsec_old"));
    }

    #[test]
    fn a_bad_environment_value_is_named() {
        let err = load(&[("OCOP_LISTEN", "not-an-address")]).unwrap_err();
        assert!(err.to_string().contains("OCOP_LISTEN"));
    }
}
