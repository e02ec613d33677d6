//! In-process rate limits (token buckets from `governor`), keyed by client address and, for
//! logins, by account identifier as well, so that neither one address nor many addresses
//! aimed at one account can guess passwords quickly.
//!
//! Limits are per app process: with several processes behind a load balancer each enforces
//! its own budget, which bounds an attacker to N times the configured rate.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::error::AppError;

pub struct RateLimits {
    login_by_client: DefaultKeyedRateLimiter<IpAddr>,
    login_by_account: DefaultKeyedRateLimiter<String>,
    scans_by_client: DefaultKeyedRateLimiter<IpAddr>,
    reports_by_client: DefaultKeyedRateLimiter<IpAddr>,
}

impl RateLimits {
    pub fn new(config: &crate::config::Config) -> Self {
        let nonzero = |n: u32| NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN);
        let login = Quota::per_minute(nonzero(config.login_attempts_per_minute));
        Self {
            login_by_client: RateLimiter::keyed(login),
            login_by_account: RateLimiter::keyed(login),
            scans_by_client: RateLimiter::keyed(Quota::per_minute(nonzero(
                config.scans_per_minute,
            ))),
            reports_by_client: RateLimiter::keyed(Quota::per_hour(nonzero(
                config.reports_per_hour,
            ))),
        }
    }

    /// Counts one stamp scan of a client; refuses it when over budget, so that a flood from
    /// one client can neither fill the database nor move any stamp's verdict.
    pub fn check_scan(&self, client: IpAddr) -> Result<(), AppError> {
        refuse_until(self.scans_by_client.check_key(&client))
    }

    /// Counts one fake report of a client.
    pub fn check_report(&self, client: IpAddr) -> Result<(), AppError> {
        refuse_until(self.reports_by_client.check_key(&client))
    }

    /// Counts one attempt to accept a staff invitation (codes must not be guessable by trying).
    pub fn check_invitation(&self, client: IpAddr) -> Result<(), AppError> {
        refuse_until(self.login_by_client.check_key(&client))
    }

    /// Counts one login (or registration) attempt; refuses it when over budget.
    pub fn check_login(&self, client: IpAddr, account: &str) -> Result<(), AppError> {
        let by_client = self.login_by_client.check_key(&client);
        let by_account = self.login_by_account.check_key(&account.to_lowercase());
        refuse_until(by_client.and(by_account))
    }

    /// Drops the state of keys that are back to a full budget; called periodically.
    pub fn forget_idle(&self) {
        self.login_by_client.retain_recent();
        self.login_by_account.retain_recent();
        self.scans_by_client.retain_recent();
        self.reports_by_client.retain_recent();
    }
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

pub use super::client::ClientAddr;
