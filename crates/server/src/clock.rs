//! Wall-clock time as decision records carry it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Unix microseconds as RFC 3339 UTC text.
pub fn rfc3339(micros: u64) -> impl std::fmt::Display {
    humantime::format_rfc3339_micros(UNIX_EPOCH + Duration::from_micros(micros))
}

/// Unix microseconds now.
pub fn unix_micros() -> u64 {
    micros(SystemTime::now())
}

fn micros(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// Unix microseconds of an RFC 3339 UTC time.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let time = humantime::parse_rfc3339_weak(text).ok()?;
    let since = time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    u64::try_from(since.as_micros()).ok()
}
