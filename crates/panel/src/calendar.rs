//! UTC calendar days as integers: day `0` is 1970-01-01, so a Unix time in microseconds
//! `t` falls on day `⌊t / 86 400 000 000⌋`. Conversions follow the proleptic Gregorian
//! calendar (H. Hinnant's `days_from_civil` / `civil_from_days`).

/// Microseconds in a day.
pub const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The UTC day of a Unix time in microseconds.
pub fn day_of_micros(time_us: i64) -> i64 {
    time_us.div_euclid(MICROS_PER_DAY)
}

/// The day number of `year-month-day`.
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `(year, month, day)` of a day number.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `"YYYY-MM-DD"` of a day number.
pub fn label(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The day number of a `"YYYY-MM-DD"` date, or why it is not one.
pub fn parse(date: &str) -> Result<i64, String> {
    let bad = || format!("'{date}' is not a date of the form YYYY-MM-DD");
    let mut parts = date.trim().splitn(3, '-');
    let mut next = || parts.next().ok_or_else(bad);
    let (y, m, d) = (next()?, next()?, next()?);
    let y: i64 = y.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    let d: u32 = d.parse().map_err(|_| bad())?;
    if !(1..=12).contains(&m) || d == 0 || d > month_length(y, m) {
        return Err(bad());
    }
    Ok(days_from_civil(y, m, d))
}

fn month_length(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(label(0), "1970-01-01");
        assert_eq!(parse("2024-02-29"), Ok(days_from_civil(2024, 2, 29)));
        assert_eq!(label(parse("2026-04-08").unwrap() + 13), "2026-04-21");
        assert_eq!(label(parse("2025-12-31").unwrap() + 1), "2026-01-01");
        for d in -800_000..800_000 {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
        // A Jetstream timestamp from the samples: 2026-07-04T14:38:08Z.
        assert_eq!(label(day_of_micros(1_783_175_888_172_335)), "2026-07-04");
        assert_eq!(day_of_micros(-1), -1);
        assert!(parse("2025-02-29").is_err() && parse("2025-13-01").is_err());
        assert!(parse("yesterday").is_err());
    }
}
