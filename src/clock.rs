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
