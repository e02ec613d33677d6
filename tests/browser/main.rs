#![allow(clippy::unwrap_used)]
//! Browser tests: the four user journeys of issue 6 in a real headless chromium on a phone-sized
//! screen, driven over WebDriver, against the real app on a free port (the integration tests'
//! `TestApp`). The shopper's journey runs in Vietnamese and English with JavaScript on and off,
//! the consumer's with JavaScript on and off, the cooperative's and the administrator's in
//! Vietnamese. Each step leaves a screenshot in `<target dir>/browser-screenshots/`.
//!
//! Without chromium and chromedriver the journeys are skipped loudly; with `CI=true` they fail.

// The integration tests' helpers; not every one of them is used here.
#[allow(dead_code)]
#[path = "../integration/support.rs"]
mod support;

mod admin;
mod consumer;
mod cooperative;
mod driver;
mod recall;
mod search_phone;
mod shopper;
mod sizes;
mod world;
