//! Dates as the people using the marketplace see them. Certificates expire at the end of a
//! calendar day in Vietnam (UTC+7, no daylight saving), whatever the server's time zone.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

const VIETNAM_OFFSET_SECONDS: i32 = 7 * 3600;

pub fn vietnam_offset() -> FixedOffset {
    FixedOffset::east_opt(VIETNAM_OFFSET_SECONDS).expect("+07:00 is a valid offset")
}

/// Today's date in Vietnam.
pub fn today_in_vietnam() -> NaiveDate {
    Utc::now().with_timezone(&vietnam_offset()).date_naive()
}

/// A UTC instant as Vietnamese local time, for display.
pub fn to_vietnam_time(at: DateTime<Utc>) -> DateTime<FixedOffset> {
    at.with_timezone(&vietnam_offset())
}

/// The app's clock: the system's, or one a test sets (`set`) to drive daily jobs such as the
/// certificate reminders through chosen dates. Clones share one clock.
#[derive(Clone, Default)]
pub struct Clock {
    fixed: std::sync::Arc<std::sync::RwLock<Option<DateTime<Utc>>>>,
}

impl Clock {
    /// The current instant: the set one, or the system's.
    pub fn now(&self) -> DateTime<Utc> {
        self.fixed
            .read()
            .map(|fixed| *fixed)
            .unwrap_or(None)
            .unwrap_or_else(Utc::now)
    }

    /// Today's date in Vietnam by this clock.
    pub fn today_in_vietnam(&self) -> NaiveDate {
        self.now().with_timezone(&vietnam_offset()).date_naive()
    }

    /// Stops the clock at `at` (tests).
    pub fn set(&self, at: DateTime<Utc>) {
        if let Ok(mut fixed) = self.fixed.write() {
            *fixed = Some(at);
        }
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}
