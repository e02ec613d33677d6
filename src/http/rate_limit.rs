//! Rate limits: token buckets (from `governor`) per client and, for logins, per account.
//!
//! What a budget is keyed on decides what an attacker must own to get more of it:
//! - **clients** by address for IPv4 and by **/64** for IPv6 (one IPv6 subscriber is handed a
//!   whole /64, so its addresses are one client);
//! - **accounts** by their **normalised** identifier: `0912 345 678`, `0912.345.678` and
//!   `+84912345678` are one phone and share one budget; e-mail addresses in lower case;
//! - registration is limited per client only, never per identifier, so that registration
//!   attempts naming a victim's phone cannot lock the victim out of their own login.
//!
//! Memory stays bounded under a flood of fresh addresses or identifiers: each budget tracks at
//! most [`MAX_KEYS`] keys; when full, idle keys are dropped, and if it is still full new keys
//! share the budget of a wider block (IPv4 /24, IPv6 /48) or of one of a fixed set of buckets.
//!
//! With several app servers the budgets live in Redis (`OCOP_REDIS_URL`): one atomic script per
//! check (GCRA, the algorithm `governor` uses), keyed the same way, so N servers give one budget,
//! not N. Should Redis not answer, the check falls back to this process's budget rather than
//! letting everything through or refusing everyone.

use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;

use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::accounts::Identifier;
use crate::error::AppError;
use crate::shared::Shared;

/// Keys one budget tracks before it falls back to wider keys.
const MAX_KEYS: usize = 100_000;
/// Buckets that identifiers share once a budget tracks [`MAX_KEYS`] of them.
const OVERFLOW_BUCKETS: u64 = 4_096;

/// The unit a client budget counts: an IPv4 address, or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKey {
    V4(Ipv4Addr),
    V6([u16; 4]),
    /// A wider block, used once a budget is full: IPv4 /24 or IPv6 /48.
    Wide([u16; 4]),
}

impl ClientKey {
    /// The one budget every new client shares when a budget is far over full.
    const EVERYONE: Self = Self::Wide([0xffff, 0xffff, 0xffff, 0xffff]);

    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self::V4(v4),
            IpAddr::V6(v6) => {
                let s = v6.segments();
                Self::V6([s[0], s[1], s[2], s[3]])
            }
        }
    }

    fn wider(self) -> Self {
        match self {
            Self::V4(v4) => {
                let [a, b, c, _] = v4.octets();
                Self::Wide([0xffff, u16::from(a), u16::from(b), u16::from(c)])
            }
            Self::V6([a, b, c, _]) => Self::Wide([a, b, c, 0]),
            wide @ Self::Wide(_) => wide,
        }
    }
}

/// The key an identifier's budget counts: its canonical form (the national phone number, the
/// lower-case e-mail), or, for text that is neither, the trimmed lower-case text.
pub fn identifier_key(identifier: &str) -> String {
    match Identifier::parse(identifier) {
        Ok(parsed) => parsed.as_str().to_lowercase(),
        Err(_) => identifier.trim().to_lowercase(),
    }
}

/// One budget: a keyed token bucket that tracks a bounded number of keys.
struct Budget<K: Hash + Eq + Clone> {
    limiter: DefaultKeyedRateLimiter<K>,
    /// When idle keys were last dropped because the budget was full: at most once a second,
    /// so that a flood does not make every check walk every key.
    last_sweep: std::sync::Mutex<Option<std::time::Instant>>,
}

impl<K: Hash + Eq + Clone> Budget<K> {
    fn new(quota: Quota) -> Self {
        Self {
            limiter: RateLimiter::keyed(quota),
            last_sweep: std::sync::Mutex::new(None),
        }
    }

    /// Counts one attempt for `key`; when the budget is full of other keys, for
    /// `overflow(key)` instead, and past [`MAX_KEYS`] and a tenth, for `last_resort`.
    fn check(&self, key: K, overflow: impl FnOnce(K) -> K, last_resort: K) -> Result<(), AppError> {
        let mut key = key;
        if self.limiter.len() >= MAX_KEYS {
            self.sweep_now_and_then();
            let tracked = self.limiter.len();
            if tracked >= MAX_KEYS + MAX_KEYS / 10 {
                key = last_resort;
            } else if tracked >= MAX_KEYS {
                key = overflow(key);
            }
        }
        refuse_until(self.limiter.check_key(&key))
    }

    fn sweep_now_and_then(&self) {
        let mut last = self
            .last_sweep
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if last.is_none_or(|at| at.elapsed() >= std::time::Duration::from_secs(1)) {
            *last = Some(std::time::Instant::now());
            drop(last);
            self.limiter.retain_recent();
        }
    }

    fn forget_idle(&self) {
        self.limiter.retain_recent();
    }

    fn len(&self) -> usize {
        self.limiter.len()
    }
}

/// A budget's allowance: `count` per `period`.
#[derive(Debug, Clone, Copy)]
struct Allowance {
    name: &'static str,
    count: u32,
    period: Duration,
}

impl Allowance {
    fn quota(self) -> Quota {
        let count = NonZeroU32::new(self.count).unwrap_or(NonZeroU32::MIN);
        Quota::with_period(self.period / count.get())
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(count)
    }
}

/// GCRA in Redis: the key holds the theoretical arrival time (µs) of the next request; a
/// request is allowed when it would not be more than `period` early. Answers 0 when allowed,
/// else the microseconds to wait. Time is Redis's own, so app servers' clocks do not matter.
/// Microseconds, not milliseconds: a budget of more than one request per millisecond (a
/// scan budget shared by a whole network, say) would otherwise be rounded down to one.
const GCRA: &str = r"
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - now > period then
  return new_tat - period - now
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return 0
";

pub struct RateLimits {
    login_by_client: Budget<ClientKey>,
    login_by_account: Budget<String>,
    registration_by_client: Budget<ClientKey>,
    invitation_by_client: Budget<ClientKey>,
    scans_by_client: Budget<ClientKey>,
    reports_by_client: Budget<ClientKey>,
    allowances: [Allowance; 6],
    shared: Option<(Arc<Shared>, redis::Script)>,
    /// Keys budgets in Redis without showing identifiers or addresses.
    salt: crate::config::Secret,
}

impl RateLimits {
    pub fn new(config: &crate::config::Config, shared: Option<Arc<Shared>>) -> Self {
        let minute = Duration::from_secs(60);
        let login = |name| Allowance {
            name,
            count: config.login_attempts_per_minute,
            period: minute,
        };
        let allowances = [
            login("login"),
            login("login-account"),
            login("registration"),
            login("invitation"),
            Allowance {
                name: "scan",
                count: config.scans_per_minute,
                period: minute,
            },
            Allowance {
                name: "report",
                count: config.reports_per_hour,
                period: Duration::from_secs(3600),
            },
        ];
        Self {
            login_by_client: Budget::new(allowances[0].quota()),
            login_by_account: Budget::new(allowances[1].quota()),
            registration_by_client: Budget::new(allowances[2].quota()),
            invitation_by_client: Budget::new(allowances[3].quota()),
            scans_by_client: Budget::new(allowances[4].quota()),
            reports_by_client: Budget::new(allowances[5].quota()),
            allowances,
            shared: shared.map(|s| (s, redis::Script::new(GCRA))),
            salt: config.secret_key.clone(),
        }
    }

    /// Counts one stamp scan of a client; refuses it when over budget, so that a flood from
    /// one client can neither fill the database nor move any stamp's verdict.
    pub async fn check_scan(&self, client: IpAddr) -> Result<(), AppError> {
        let key = ClientKey::of(client);
        match self.shared_check(4, &format!("{key:?}")).await {
            Some(outcome) => outcome,
            None => self
                .scans_by_client
                .check(key, ClientKey::wider, ClientKey::EVERYONE),
        }
    }

    /// Counts one fake report of a client.
    pub async fn check_report(&self, client: IpAddr) -> Result<(), AppError> {
        let key = ClientKey::of(client);
        match self.shared_check(5, &format!("{key:?}")).await {
            Some(outcome) => outcome,
            None => self
                .reports_by_client
                .check(key, ClientKey::wider, ClientKey::EVERYONE),
        }
    }

    /// Counts one attempt to accept a staff invitation (codes must not be guessable by trying).
    pub async fn check_invitation(&self, client: IpAddr) -> Result<(), AppError> {
        let key = ClientKey::of(client);
        match self.shared_check(3, &format!("{key:?}")).await {
            Some(outcome) => outcome,
            None => self
                .invitation_by_client
                .check(key, ClientKey::wider, ClientKey::EVERYONE),
        }
    }

    /// Counts one login attempt, against the client and against the account it names.
    pub async fn check_login(&self, client: IpAddr, identifier: &str) -> Result<(), AppError> {
        let client_key = ClientKey::of(client);
        let account_key = identifier_key(identifier);
        let by_client = match self.shared_check(0, &format!("{client_key:?}")).await {
            Some(outcome) => outcome,
            None => self
                .login_by_client
                .check(client_key, ClientKey::wider, ClientKey::EVERYONE),
        };
        let by_account = match self.shared_check(1, &account_key).await {
            Some(outcome) => outcome,
            None => self
                .login_by_account
                .check(account_key, overflow_bucket, String::new()),
        };
        by_client.and(by_account)
    }

    /// Counts one registration attempt, against the client only: whatever identifier it names,
    /// it costs that account's owner nothing.
    pub async fn check_registration(&self, client: IpAddr) -> Result<(), AppError> {
        let key = ClientKey::of(client);
        match self.shared_check(2, &format!("{key:?}")).await {
            Some(outcome) => outcome,
            None => self
                .registration_by_client
                .check(key, ClientKey::wider, ClientKey::EVERYONE),
        }
    }

    /// The check in Redis, or `None` without Redis or when it does not answer (then the local
    /// budget decides).
    async fn shared_check(&self, budget: usize, key: &str) -> Option<Result<(), AppError>> {
        let (shared, script) = self.shared.as_ref()?;
        let allowance = self.allowances[budget];
        let interval_us =
            (allowance.period.as_micros() / u128::from(allowance.count.max(1))).max(1) as u64;
        let mut connection = shared.connection();
        let waited: redis::RedisResult<i64> = script
            .key(shared.key(&format!(
                "rl:{}:{}",
                allowance.name,
                crate::domain::token::derived_token(self.salt.expose(), "rate-limit", key)
            )))
            .arg(interval_us)
            .arg(allowance.period.as_micros() as u64)
            .invoke_async(&mut connection)
            .await;
        match waited {
            Ok(0) => Some(Ok(())),
            Ok(wait_us) => Some(Err(AppError::RateLimited {
                retry_after_secs: (wait_us as u64).div_ceil(1_000_000).max(1),
            })),
            Err(err) => {
                tracing::warn!(error = %err, "the shared rate limit did not answer; using this server's");
                None
            }
        }
    }

    /// Drops the state of keys that are back to a full budget; called periodically.
    pub fn forget_idle(&self) {
        self.login_by_client.forget_idle();
        self.login_by_account.forget_idle();
        self.registration_by_client.forget_idle();
        self.invitation_by_client.forget_idle();
        self.scans_by_client.forget_idle();
        self.reports_by_client.forget_idle();
    }

    /// Keys tracked by the scan budget (for tests of the memory bound).
    pub fn scan_keys(&self) -> usize {
        self.scans_by_client.len()
    }
}

/// The shared bucket of an identifier once the account budget is full.
fn overflow_bucket(identifier: String) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    identifier.hash(&mut hasher);
    format!("\0overflow-{}", hasher.finish() % OVERFLOW_BUCKETS)
}

fn refuse_until(
    outcome: Result<(), governor::NotUntil<governor::clock::QuantaInstant>>,
) -> Result<(), AppError> {
    outcome.map_err(|not_until| AppError::RateLimited {
        retry_after_secs: not_until
            .wait_time_from(DefaultClock::default().now())
            .as_secs()
            .max(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn one_phone_typed_three_ways_is_one_account() {
        assert_eq!(
            identifier_key("0912 345 678"),
            identifier_key("+84912345678")
        );
        assert_eq!(
            identifier_key("0912.345.678"),
            identifier_key("84912345678")
        );
        assert_eq!(identifier_key("An@HTX.vn "), identifier_key("an@htx.vn"));
    }

    #[test]
    fn ipv6_clients_are_one_per_64_and_ipv4_one_per_address() {
        assert_eq!(
            ClientKey::of(ip("2001:db8:1:2::1")),
            ClientKey::of(ip("2001:db8:1:2:ffff::9"))
        );
        assert_ne!(ClientKey::of(ip("1.2.3.4")), ClientKey::of(ip("1.2.3.5")));
        assert_eq!(
            ClientKey::of(ip("1.2.3.4")).wider(),
            ClientKey::of(ip("1.2.3.5")).wider()
        );
    }

    #[test]
    fn a_budget_stays_bounded_under_a_flood_of_addresses() {
        let budget = Budget::<ClientKey>::new(Quota::per_minute(NonZeroU32::new(5).unwrap()));
        for n in 0..(MAX_KEYS as u32 + 5_000) {
            let [a, b, c, d] = (0x0a00_0000 + n).to_be_bytes();
            let _ = budget.check(
                ClientKey::of(IpAddr::from([a, b, c, d])),
                ClientKey::wider,
                ClientKey::EVERYONE,
            );
        }
        assert!(budget.len() <= MAX_KEYS + 1_000, "{} keys", budget.len());
        // Spread over every /24: still bounded.
        for n in 0..(MAX_KEYS as u32 / 5) {
            let [a, b, c, _] = (n * 256 + 0x2000_0000).to_be_bytes();
            let _ = budget.check(
                ClientKey::of(IpAddr::from([a, b, c, 1])),
                ClientKey::wider,
                ClientKey::EVERYONE,
            );
        }
        assert!(
            budget.len() <= MAX_KEYS + MAX_KEYS / 10 + 1,
            "{} keys",
            budget.len()
        );
    }
}
