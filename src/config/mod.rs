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

mod commerce;
mod media;
mod messages;
mod settings;

pub use commerce::{
    BankWebhookConfig, CollectingAccount, CommerceConfig, MomoConfig, StripeConfig, VnpayConfig,
};
pub use media::{MediaConfig, MediaStorage, PhotoLimits, S3Storage};
pub use messages::{EsmsConfig, MessagesConfig, ZaloConfig};
use settings::Settings;

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
    /// The reverse proxies whose `X-Forwarded-For` entries are believed
    /// (`OCOP_TRUSTED_PROXIES`, `OCOP_PROXY_HOPS`); none by default.
    pub proxies: ProxySettings,
    /// How long the server waits for headers, for each piece of a body and for a whole
    /// request (`OCOP_HEADER_TIMEOUT_SECS` 15, `OCOP_BODY_TIMEOUT_SECS` 30,
    /// `OCOP_REQUEST_TIMEOUT_SECS` 120).
    pub timeouts: ServerTimeouts,
    /// Redis shared by several app servers (`OCOP_REDIS_URL`); `None`: one server keeps scan
    /// state, limits and caches in its process.
    pub redis: Option<RedisConfig>,
    /// Bearer token that `GET /metrics` requires (`OCOP_METRICS_TOKEN`). Without one the
    /// endpoint is open, except in production mode where it is off.
    pub metrics_token: Option<Secret>,
    /// Log lines as JSON objects for log shippers (`OCOP_LOG_FORMAT=json`) or as text.
    pub log_json: bool,
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
    /// E-mail, SMS and Zalo: providers, retries, giving up.
    pub messages: MessagesConfig,
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

/// The secret used when none is configured. Acceptable on a developer's machine; production
/// mode refuses it.
const DEVELOPMENT_SECRET: &str = "development-only-secret-do-not-use-in-production";

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
    #[error("{path} has settings this version does not know: {keys}")]
    UnknownKeys { path: PathBuf, keys: String },
    #[error("setting {name} is not valid: {reason}")]
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
        let env = |name: &str| std::env::var(name).ok();
        let mut settings = Settings::new(&env);
        if explicit.is_some() || path.exists() {
            settings = settings.with_file(&path)?;
        }
        Self::from_settings(&settings, overrides)
    }

    /// The configuration a settings file gives, under the environment `env` (to check a file
    /// before deploying it: the test suite loads the example shipped in `deploy/`).
    pub fn from_file(
        path: &Path,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let settings = Settings::new(env).with_file(path)?;
        Self::from_settings(&settings, Overrides::default())
    }

    fn from_settings(settings: &Settings<'_>, overrides: Overrides) -> Result<Self, ConfigError> {
        let listen = match overrides.listen {
            Some(addr) => addr,
            None => settings.parse_or("OCOP_LISTEN", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
        };
        let data_dir = overrides
            .data_dir
            .or_else(|| settings.text("OCOP_DATA_DIR").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("data"));
        let database_url = settings
            .secret("DATABASE_URL")
            .unwrap_or_else(|| Secret::new(default_sqlite_url(&data_dir)));
        let public_url = settings
            .text("OCOP_PUBLIC_URL")
            .unwrap_or_else(|| format!("http://{listen}"))
            .trim_end_matches('/')
            .to_owned();
        let production = settings.flag_or("OCOP_PRODUCTION", false)?;
        let secret_key = settings.secret("OCOP_SECRET_KEY");
        let session_ttl_days: u64 = settings.parse_or("OCOP_SESSION_TTL_DAYS", 30)?;
        let meilisearch = settings
            .text("MEILI_URL")
            .map(|url| url.trim_end_matches('/').to_owned())
            .filter(|url| !url.is_empty())
            .map(|url| MeilisearchConfig {
                url,
                api_key: settings.secret("MEILI_API_KEY"),
                index: settings.text_or("MEILI_INDEX", "products"),
            });
        let search_poll_ms: u64 = settings.parse_or("OCOP_SEARCH_POLL_MS", 200)?;
        let search_indexer_delay_ms: u64 = settings.parse_or("OCOP_SEARCH_INDEXER_DELAY_MS", 0)?;
        let search_batch_size: u64 = settings.parse_or("OCOP_SEARCH_BATCH_SIZE", 500)?;
        let dashboard_cache_secs: u64 = settings.parse_or("OCOP_DASHBOARD_CACHE_SECS", 60)?;
        let config = Self {
            listen,
            data_dir,
            database_url,
            database_max_connections: settings.parse_or("OCOP_DATABASE_MAX_CONNECTIONS", 16)?,
            public_url,
            production,
            secret_key: secret_key
                .clone()
                .unwrap_or_else(|| Secret::new(DEVELOPMENT_SECRET)),
            session_ttl: Duration::from_secs(session_ttl_days.max(1) * 24 * 3600),
            login_attempts_per_minute: settings
                .parse_or("OCOP_LOGIN_ATTEMPTS_PER_MINUTE", 10u32)?
                .max(1),
            scans_per_minute: settings.parse_or("OCOP_SCANS_PER_MINUTE", 60u32)?.max(1),
            reports_per_hour: settings.parse_or("OCOP_REPORTS_PER_HOUR", 20u32)?.max(1),
            proxies: proxy_settings(settings)?,
            redis: match settings.secret("OCOP_REDIS_URL") {
                None => None,
                Some(url) => Some(RedisConfig {
                    url,
                    prefix: redis_prefix(settings)?,
                    pool_size: settings.parse_or("OCOP_REDIS_POOL", 4usize)?.clamp(1, 64),
                    timeout: Duration::from_millis(
                        settings.parse_or("OCOP_REDIS_TIMEOUT_MS", 1000u64)?.max(10),
                    ),
                    claim_idle: Duration::from_millis(
                        settings
                            .parse_or("OCOP_SCAN_CLAIM_IDLE_MS", 30_000u64)?
                            .max(100),
                    ),
                }),
            },
            metrics_token: settings.secret("OCOP_METRICS_TOKEN"),
            log_json: match settings.text("OCOP_LOG_FORMAT").as_deref() {
                None | Some("text") => false,
                Some("json") => true,
                Some(other) => {
                    return Err(ConfigError::Env {
                        name: "OCOP_LOG_FORMAT",
                        reason: format!("{other:?}: use text or json"),
                    });
                }
            },
            timeouts: ServerTimeouts {
                headers: seconds(settings.parse_or("OCOP_HEADER_TIMEOUT_SECS", 15)?),
                body: seconds(settings.parse_or("OCOP_BODY_TIMEOUT_SECS", 30)?),
                request: seconds(settings.parse_or("OCOP_REQUEST_TIMEOUT_SECS", 120)?),
            },
            max_body_bytes: settings.parse_or("OCOP_MAX_BODY_BYTES", 2 * 1024 * 1024)?,
            commerce: CommerceConfig::load(settings)?,
            meilisearch,
            search_poll_interval: Duration::from_millis(search_poll_ms.clamp(10, 60_000)),
            search_indexer_delay: Duration::from_millis(search_indexer_delay_ms),
            search_batch_size: search_batch_size.clamp(1, 10_000),
            media: MediaConfig::load(settings)?,
            dashboard_cache_ttl: Duration::from_secs(dashboard_cache_secs.min(3600)),
            messages: MessagesConfig::load(settings)?,
        };
        settings.refuse_unknown_file_keys()?;
        if production {
            let stripe_secrets_alone = config.commerce.stripe.is_none()
                && !settings.list("OCOP_STRIPE_WEBHOOK_SECRETS").is_empty();
            check_production(&config, secret_key.as_ref(), stripe_secrets_alone)?;
        }
        Ok(config)
    }

    /// A configuration for tests and tools: defaults with the given database and data folder.
    pub fn for_database(database_url: impl Into<String>, data_dir: impl Into<PathBuf>) -> Self {
        let nothing = |_: &str| None;
        let mut config = Self::from_settings(&Settings::new(&nothing), Overrides::default())
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

/// How long the server waits for each part of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerTimeouts {
    /// The request line and headers (and the idle time between requests of a connection).
    pub headers: Duration,
    /// The longest pause while a request body is sent.
    pub body: Duration,
    /// A whole request, from its headers to the end of the response's production.
    pub request: Duration,
}

impl Default for ServerTimeouts {
    fn default() -> Self {
        Self {
            headers: Duration::from_secs(15),
            body: Duration::from_secs(30),
            request: Duration::from_secs(120),
        }
    }
}

/// Where the shared Redis is and how the app uses it.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `redis://[user:password@]host:port[/db]` or `rediss://…` (a secret: it may hold a
    /// password).
    pub url: Secret,
    /// Start of every key (`OCOP_REDIS_PREFIX`, `ocop`): several deployments (or test runs) can
    /// share one Redis.
    pub prefix: String,
    /// Multiplexed connections per app server (`OCOP_REDIS_POOL`, 4).
    pub pool_size: usize,
    /// Longest wait for one command or a connection (`OCOP_REDIS_TIMEOUT_MS`, 1000).
    pub timeout: Duration,
    /// How long a scan read by an app server may wait unwritten before another server takes it
    /// over (`OCOP_SCAN_CLAIM_IDLE_MS`, 30000): the server is presumed dead.
    pub claim_idle: Duration,
}

impl RedisConfig {
    /// The URL with any password replaced, for logs.
    pub fn url_for_logs(&self) -> String {
        redact_url_password(self.url.expose())
    }
}

/// Which proxies in front of the app may tell it the client's address.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxySettings {
    /// Addresses and networks of our own reverse proxies.
    pub trusted: Vec<ipnet::IpNet>,
    /// The number of proxies in front of the app, when their addresses are not fixed (a cloud
    /// load balancer): the client is this many entries from the right.
    pub hops: Option<u8>,
}

impl ProxySettings {
    /// Whether `X-Forwarded-For` is read at all.
    pub fn enabled(&self) -> bool {
        !self.trusted.is_empty() || self.hops.is_some()
    }

    pub fn trusts(&self, ip: std::net::IpAddr) -> bool {
        self.trusted.iter().any(|net| net.contains(&ip))
    }
}

/// `OCOP_TRUSTED_PROXIES` (addresses or networks, comma-separated) and `OCOP_PROXY_HOPS`.
/// The older `OCOP_TRUST_FORWARDED_FOR=true` means one proxy in front of the app.
fn proxy_settings(settings: &Settings<'_>) -> Result<ProxySettings, ConfigError> {
    let trusted = settings
        .list("OCOP_TRUSTED_PROXIES")
        .iter()
        .map(|entry| {
            entry
                .parse::<ipnet::IpNet>()
                .or_else(|_| entry.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| ConfigError::Env {
                    name: "OCOP_TRUSTED_PROXIES",
                    reason: format!("{entry:?} is not an address or a network such as 10.0.0.0/8"),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut hops: Option<u8> = settings.parse_opt("OCOP_PROXY_HOPS")?;
    if hops == Some(0) {
        hops = None;
    }
    if hops.is_none()
        && trusted.is_empty()
        && settings.flag_or("OCOP_TRUST_FORWARDED_FOR", false)?
    {
        hops = Some(1);
    }
    Ok(ProxySettings { trusted, hops })
}

/// `OCOP_REDIS_PREFIX`: letters, digits, `-`, `_` and `.` (no braces: they would change which
/// hash slot a key goes to).
fn redis_prefix(settings: &Settings<'_>) -> Result<String, ConfigError> {
    let prefix = settings.text_or("OCOP_REDIS_PREFIX", "ocop");
    if prefix
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        Ok(prefix)
    } else {
        Err(ConfigError::Env {
            name: "OCOP_REDIS_PREFIX",
            reason: "letters, digits, '-', '_' and '.' only".into(),
        })
    }
}

/// A number of seconds from configuration, at least one.
fn seconds(value: u64) -> Duration {
    Duration::from_secs(value.max(1))
}

fn default_sqlite_url(data_dir: &Path) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        data_dir.join("ocop-market.sqlite").display()
    )
}

/// What production mode refuses, every problem named at once (an operator fixes them all in
/// one go rather than one restart each).
fn check_production(
    config: &Config,
    secret_key: Option<&Secret>,
    stripe_secrets_alone: bool,
) -> Result<(), ConfigError> {
    let mut problems = Vec::new();
    match secret_key.map(Secret::expose) {
        None => problems.push("OCOP_SECRET_KEY is not set".to_owned()),
        Some(value) => {
            let distinct = value
                .chars()
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            if value == DEVELOPMENT_SECRET || value.len() < 32 || distinct < 10 {
                problems.push(
                    "OCOP_SECRET_KEY must be at least 32 random characters (try `openssl rand -hex 32`)"
                        .to_owned(),
                );
            }
        }
    }
    if !config.public_url.starts_with("https://") {
        problems.push("OCOP_PUBLIC_URL must be an https:// URL".to_owned());
    }
    let money = &config.commerce;
    if money.collecting_account.account_number == commerce::DEMO_ACCOUNT_NUMBER {
        problems.push(
            "OCOP_COLLECT_ACCOUNT_NUMBER is the demo account: set the platform's collecting account \
             (and OCOP_COLLECT_BANK_BIN, OCOP_COLLECT_ACCOUNT_NAME)"
                .to_owned(),
        );
    }
    if money.bank_webhook.is_none() {
        problems.push(
            "OCOP_BANK_WEBHOOK_SECRET is not set: VietQR transfers would never be confirmed"
                .to_owned(),
        );
    }
    if money
        .stripe
        .as_ref()
        .is_some_and(|stripe| stripe.webhook_secrets.is_empty())
    {
        problems.push(
            "OCOP_STRIPE_WEBHOOK_SECRETS is not set while OCOP_STRIPE_SECRET_KEY is: card payments \
             would never be confirmed"
                .to_owned(),
        );
    }
    if stripe_secrets_alone {
        problems.push(
            "OCOP_STRIPE_SECRET_KEY is not set while OCOP_STRIPE_WEBHOOK_SECRETS is".to_owned(),
        );
    }
    // A wallet gateway with some of its settings: each missing one named.
    for name in &money.half_configured {
        problems.push(format!(
            "{name} is not set while the other settings of its gateway are"
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ConfigError::Production(problems.join("; ")))
    }
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
        let env = |name: &str| map.get(name).cloned();
        Config::from_settings(&Settings::new(&env), Overrides::default())
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
        let account = ("OCOP_COLLECT_ACCOUNT_NUMBER", "1023456789");
        let bank = (
            "OCOP_BANK_WEBHOOK_SECRET",
            "shared-with-the-notification-service",
        );
        assert!(
            load(&[
                ("OCOP_PRODUCTION", "true"),
                https,
                ("OCOP_SECRET_KEY", strong),
                account,
                bank,
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

    /// Production mode refuses to take real money into the demo account, to offer VietQR
    /// with no way to confirm a transfer, or a half-configured card gateway; the message names
    /// every missing setting at once.
    #[test]
    fn production_refuses_the_demo_account_and_half_configured_payments() {
        let strong = (
            "OCOP_SECRET_KEY",
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
        );
        let base = [
            ("OCOP_PRODUCTION", "true"),
            ("OCOP_PUBLIC_URL", "https://ocop.example.vn"),
            strong,
        ];
        let refusal = |extra: &[(&str, &str)]| {
            let vars: Vec<(&str, &str)> = base.iter().chain(extra).copied().collect();
            match load(&vars) {
                Err(err) => err.to_string(),
                Ok(_) => String::new(),
            }
        };
        let message = refusal(&[]);
        assert!(message.contains("OCOP_COLLECT_ACCOUNT_NUMBER"), "{message}");
        assert!(message.contains("OCOP_BANK_WEBHOOK_SECRET"), "{message}");
        let account = ("OCOP_COLLECT_ACCOUNT_NUMBER", "1023456789");
        let bank = (
            "OCOP_BANK_WEBHOOK_SECRET",
            "shared-with-the-notification-service",
        );
        assert_eq!(refusal(&[account, bank]), "");
        let message = refusal(&[account, bank, ("OCOP_STRIPE_SECRET_KEY", "sk_live_x")]);
        assert!(message.contains("OCOP_STRIPE_WEBHOOK_SECRETS"), "{message}");
        let message = refusal(&[account, bank, ("OCOP_STRIPE_WEBHOOK_SECRETS", "whsec_x")]);
        assert!(message.contains("OCOP_STRIPE_SECRET_KEY"), "{message}");
        let both = [
            account,
            bank,
            ("OCOP_STRIPE_SECRET_KEY", "sk_live_x"),
            ("OCOP_STRIPE_WEBHOOK_SECRETS", "whsec_x"),
        ];
        assert_eq!(refusal(&both), "");
        // A wallet gateway half configured: each missing setting named.
        let message = refusal(&[
            account,
            bank,
            ("OCOP_VNPAY_TMN_CODE", "OCOPMK01"),
            ("OCOP_VNPAY_PAY_URL", "https://pay.vnpay.vn/vpcpay.html"),
            ("OCOP_MOMO_SECRET_KEY", "momo-secret"),
        ]);
        for missing in [
            "OCOP_VNPAY_HASH_SECRET",
            "OCOP_VNPAY_API_URL",
            "OCOP_MOMO_PARTNER_CODE",
            "OCOP_MOMO_ACCESS_KEY",
            "OCOP_MOMO_API_URL",
        ] {
            assert!(message.contains(missing), "{missing} in {message}");
        }
        assert!(!message.contains("OCOP_VNPAY_TMN_CODE"), "{message}");
        let wallets = [
            account,
            bank,
            ("OCOP_VNPAY_TMN_CODE", "OCOPMK01"),
            ("OCOP_VNPAY_HASH_SECRET", "vnpay-hash-secret"),
            ("OCOP_VNPAY_PAY_URL", "https://pay.vnpay.vn/vpcpay.html"),
            (
                "OCOP_VNPAY_API_URL",
                "https://merchant.vnpay.vn/merchant_webapi/api/transaction",
            ),
            ("OCOP_MOMO_PARTNER_CODE", "MOMOOCOP"),
            ("OCOP_MOMO_ACCESS_KEY", "momo-access"),
            ("OCOP_MOMO_SECRET_KEY", "momo-secret"),
            ("OCOP_MOMO_API_URL", "https://payment.momo.vn/"),
        ];
        assert_eq!(refusal(&wallets), "");
        let config = load(&[wallets.as_slice(), base.as_slice()].concat()).unwrap();
        assert_eq!(
            config.commerce.momo.unwrap().api_url,
            "https://payment.momo.vn"
        );
        assert!(config.commerce.vnpay.is_some());
        // Outside production a half-configured gateway is simply off.
        let config = load(&[("OCOP_VNPAY_TMN_CODE", "OCOPMK01")]).unwrap();
        assert!(config.commerce.vnpay.is_none());
        // Outside production the demo defaults are what `serve --demo` runs on.
        assert!(load(&[]).is_ok());
    }

    #[test]
    fn secrets_and_passwords_never_reach_debug_output() {
        let config = load(&[
            ("OCOP_SECRET_KEY", "super-secret-value"),
            ("DATABASE_URL", "postgres://app:hunter2@db/ocop"),
            ("OCOP_VNPAY_TMN_CODE", "OCOPMK01"),
            ("OCOP_VNPAY_HASH_SECRET", "vnpay-hash-secret-value"),
            ("OCOP_VNPAY_PAY_URL", "https://pay.vnpay.vn/vpcpay.html"),
            ("OCOP_VNPAY_API_URL", "https://merchant.vnpay.vn/api"),
            ("OCOP_MOMO_PARTNER_CODE", "MOMOOCOP"),
            ("OCOP_MOMO_ACCESS_KEY", "momo-access-key-value"),
            ("OCOP_MOMO_SECRET_KEY", "momo-secret-key-value"),
            ("OCOP_MOMO_API_URL", "https://payment.momo.vn"),
        ])
        .unwrap();
        let debug = format!("{config:?}");
        assert!(config.commerce.vnpay.is_some() && config.commerce.momo.is_some());
        for secret in [
            "vnpay-hash-secret-value",
            "momo-access-key-value",
            "momo-secret-key-value",
        ] {
            assert!(!debug.contains(secret), "{secret}");
        }
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
    fn an_empty_bank_webhook_secret_refuses_to_start_rather_than_sign_with_an_empty_key() {
        assert!(load(&[]).unwrap().commerce.bank_webhook.is_none());
        for blank in ["", "   "] {
            let err = load(&[("OCOP_BANK_WEBHOOK_SECRET", blank)]).unwrap_err();
            assert!(
                err.to_string().contains("OCOP_BANK_WEBHOOK_SECRET"),
                "{err}"
            );
        }
        let config = load(&[("OCOP_BANK_WEBHOOK_SECRET", "s3cret")]).unwrap();
        assert_eq!(
            config.commerce.bank_webhook.unwrap().secret.expose(),
            "s3cret"
        );
    }

    #[test]
    fn a_bad_environment_value_is_named() {
        let err = load(&[("OCOP_LISTEN", "not-an-address")]).unwrap_err();
        assert!(err.to_string().contains("OCOP_LISTEN"));
    }
}
