//! Which Jetstream timestamps are plausible, and the bounds on a panel's days.
//!
//! ```text
//! plausible(now, ahead) = [2023-01-01T00:00Z, now + ahead)      Unix µs
//! ```
//!
//! Jetstream's `time_us` is its own clock; Bluesky's event streams did not exist before 2023,
//! and a server clock is not days ahead of ours. A timestamp outside is corrupt or hostile
//! (`i64::MAX`, a negative time, the year 3000): ingest sets such events aside instead of
//! letting one of them stretch the panel over centuries, and capture writes them aside
//! without moving its resume cursor to them. Arithmetic on times saturates: no bound wraps.

use std::ops::Range;
use std::time::{Duration, SystemTime};

/// 2023-01-01T00:00:00Z in Unix µs: nothing Jetstream sends is older.
pub const EARLIEST_US: i64 = 1_672_531_200_000_000;

/// The most days a panel holds: 100 years (a panel of more is an input error, and would
/// need more memory than any machine has for even a few agents).
pub const MAX_DAYS: usize = 36_525;

/// How far past the wall clock an ingested event may be (server clocks drift, a capture may be
/// read on another machine).
pub const INGEST_AHEAD: Duration = Duration::from_secs(86_400);

/// The wall clock in Unix µs (0 if the clock is before 1970).
pub fn now_us() -> i64 {
    let since = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
}

/// `d` in µs, saturating.
pub fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// The plausible timestamps when the clock reads `now_us`: from [`EARLIEST_US`] to
/// `ahead` past `now_us` (excluded).
pub fn plausible(now_us: i64, ahead: Duration) -> Range<i64> {
    EARLIEST_US..now_us.saturating_add(micros(ahead))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar;

    #[test]
    fn the_earliest_time_is_2023_and_bounds_saturate() {
        let day = calendar::day_of_micros(EARLIEST_US);
        assert_eq!(calendar::label(day), "2023-01-01");
        assert_eq!(EARLIEST_US % calendar::MICROS_PER_DAY, 0);
        assert_eq!(plausible(i64::MAX, INGEST_AHEAD).end, i64::MAX);
        assert_eq!(micros(Duration::MAX), i64::MAX);
        let now = now_us();
        let range = plausible(now, INGEST_AHEAD);
        assert!(
            range.contains(&(now + 3_600_000_000)) && !range.contains(&(now + 2 * 86_400_000_000))
        );
        assert!(!range.contains(&i64::MIN) && !range.contains(&-1) && !range.contains(&i64::MAX));
    }
}
