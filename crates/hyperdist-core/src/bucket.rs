//! `time_bucket`'s arithmetic, as TimescaleDB defines it: buckets of a fixed width counted from an
//! origin (by default Monday 2000-01-03 for day/hour widths, 2000-01-01 for month widths), a value
//! belonging to the bucket that starts at or before it. Timestamps are microseconds since
//! 2000-01-01 (PostgreSQL's raw form), computed in UTC.

const US_PER_DAY: i64 = 86_400_000_000;
/// 2000-01-03 00:00:00 (a Monday) in microseconds since 2000-01-01.
pub const DEFAULT_ORIGIN_US: i64 = 2 * US_PER_DAY;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum BucketError {
    #[error("invalid bucket width: must be positive")]
    NotPositive,
    #[error("month intervals cannot have day or time component")]
    MixedMonths,
    #[error("timestamp out of range")]
    OutOfRange,
}

/// Floor division bucketing of integers: the start of the `width`-wide bucket holding `value`,
/// buckets counted from `offset`.
pub fn bucket_integer(width: i64, value: i64, offset: i64) -> Result<i64, BucketError> {
    if width <= 0 {
        return Err(BucketError::NotPositive);
    }
    let shifted = value.checked_sub(offset).ok_or(BucketError::OutOfRange)?;
    let start = shifted
        .checked_sub(shifted.rem_euclid(width))
        .ok_or(BucketError::OutOfRange)?;
    start.checked_add(offset).ok_or(BucketError::OutOfRange)
}

/// A bucket width given as an interval: months, days and microseconds.
#[derive(Clone, Copy, Debug)]
pub struct Width {
    pub months: i32,
    pub days: i32,
    pub micros: i64,
}

impl Width {
    /// The width in microseconds with a month counted as 30 days: for estimates, not buckets.
    pub fn approx_micros(self) -> f64 {
        self.months as f64 * 30.0 * US_PER_DAY as f64
            + self.days as f64 * US_PER_DAY as f64
            + self.micros as f64
    }
}

/// How many buckets of `width` the values from `low` to `high` (inclusive, same unit) fall into
/// at most, whatever the origin: the planner's group estimate for a bucketed column.
pub fn buckets_spanned(low: f64, high: f64, width: f64) -> f64 {
    let spanned = ((high - low) / width).ceil() + 1.0;
    // NaN (no sensible width or range) fails this too.
    if width > 0.0 && spanned >= 1.0 {
        spanned
    } else {
        1.0
    }
}

/// The start of the bucket holding the timestamp `ts` (microseconds since 2000-01-01); `origin`
/// (same unit) replaces the default one.
pub fn bucket_timestamp(width: Width, ts: i64, origin: Option<i64>) -> Result<i64, BucketError> {
    if width.months != 0 {
        if width.days != 0 || width.micros != 0 {
            return Err(BucketError::MixedMonths);
        }
        if width.months < 0 {
            return Err(BucketError::NotPositive);
        }
        return bucket_months(width.months, ts, origin.unwrap_or(0));
    }
    let micros = (width.days as i64)
        .checked_mul(US_PER_DAY)
        .and_then(|d| d.checked_add(width.micros))
        .ok_or(BucketError::OutOfRange)?;
    bucket_integer(micros, ts, origin.unwrap_or(DEFAULT_ORIGIN_US))
}

fn bucket_months(months: i32, ts: i64, origin: i64) -> Result<i64, BucketError> {
    let (year, month, _) = civil_from_days(ts.div_euclid(US_PER_DAY));
    let (origin_year, origin_month, _) = civil_from_days(origin.div_euclid(US_PER_DAY));
    let index = year * 12 + month - 1;
    let origin_index = origin_year * 12 + origin_month - 1;
    let start = bucket_integer(months as i64, index, origin_index)?;
    let days = days_from_civil(start.div_euclid(12), start.rem_euclid(12) + 1, 1);
    days.checked_mul(US_PER_DAY).ok_or(BucketError::OutOfRange)
}

/// Days since 2000-01-01 → (year, month 1-12, day 1-31), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    // Days since 0000-03-01 (Hinnant's algorithm), from days since 2000-01-01.
    let z = days + 730_425;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// (year, month, day) → days since 2000-01-01.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 730_425
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000_000;

    fn at(days: i64, hours: i64, minutes: i64) -> i64 {
        days * US_PER_DAY + hours * HOUR + minutes * 60_000_000
    }

    fn width(months: i32, days: i32, micros: i64) -> Width {
        Width {
            months,
            days,
            micros,
        }
    }

    #[test]
    fn buckets_spanned_counts_partial_buckets_at_both_ends() {
        let hour = HOUR as f64;
        // 10:00:00 .. 21:59:50 at any origin: 12 whole hours, or 13 partial ones.
        assert_eq!(buckets_spanned(0.0, 12.0 * hour - 1e7, hour), 13.0);
        assert_eq!(buckets_spanned(5.0, 5.0, hour), 1.0);
        assert_eq!(buckets_spanned(0.0, 2.0 * hour, hour), 3.0);
        // Nothing sensible to go on: one group.
        assert_eq!(buckets_spanned(10.0, 0.0, hour), 1.0);
        assert_eq!(buckets_spanned(0.0, 10.0, 0.0), 1.0);
        assert_eq!(buckets_spanned(0.0, 10.0, f64::NAN), 1.0);
    }

    #[test]
    fn approximate_widths() {
        assert_eq!(width(0, 0, HOUR).approx_micros(), HOUR as f64);
        assert_eq!(width(0, 7, 0).approx_micros(), 7.0 * US_PER_DAY as f64);
        assert_eq!(width(2, 0, 0).approx_micros(), 60.0 * US_PER_DAY as f64);
    }

    #[test]
    fn hours_round_down() {
        // 2000-01-10 10:37 → 10:00
        assert_eq!(
            bucket_timestamp(width(0, 0, HOUR), at(9, 10, 37), None),
            Ok(at(9, 10, 0))
        );
        // Exactly on a boundary stays.
        assert_eq!(
            bucket_timestamp(width(0, 0, HOUR), at(9, 10, 0), None),
            Ok(at(9, 10, 0))
        );
    }

    #[test]
    fn weeks_start_on_monday_2000_01_03() {
        // 2000-01-09 (Sunday) is in the week starting Monday 2000-01-03.
        assert_eq!(
            bucket_timestamp(width(0, 7, 0), at(8, 12, 0), None),
            Ok(at(2, 0, 0))
        );
        // Before the origin: 1999-12-31 (Friday) → Monday 1999-12-27.
        assert_eq!(
            bucket_timestamp(width(0, 7, 0), at(-1, 5, 0), None),
            Ok(at(-5, 0, 0))
        );
    }

    #[test]
    fn an_origin_moves_the_grid() {
        let origin = at(0, 0, 30);
        assert_eq!(
            bucket_timestamp(width(0, 0, HOUR), at(0, 5, 10), Some(origin)),
            Ok(at(0, 4, 30))
        );
    }

    #[test]
    fn months_follow_the_calendar() {
        // 2024-03-17 → 2024-03-01; with 3 months → 2024-01-01 (quarters from 2000-01).
        let march_17 = days_from_civil(2024, 3, 17) * US_PER_DAY + HOUR;
        assert_eq!(
            bucket_timestamp(width(1, 0, 0), march_17, None),
            Ok(days_from_civil(2024, 3, 1) * US_PER_DAY)
        );
        assert_eq!(
            bucket_timestamp(width(3, 0, 0), march_17, None),
            Ok(days_from_civil(2024, 1, 1) * US_PER_DAY)
        );
        assert_eq!(
            bucket_timestamp(
                width(12, 0, 0),
                days_from_civil(1999, 6, 1) * US_PER_DAY,
                None
            ),
            Ok(days_from_civil(1999, 1, 1) * US_PER_DAY)
        );
        assert_eq!(
            bucket_timestamp(width(1, 1, 0), 0, None),
            Err(BucketError::MixedMonths)
        );
    }

    #[test]
    fn calendar_round_trips() {
        for days in [-800_000, -1, 0, 1, 59, 60, 365, 366, 9_000, 400_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (2000, 1, 1));
        assert_eq!(civil_from_days(59), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1999, 12, 31));
    }

    #[test]
    fn integers_floor_like_timescaledb() {
        assert_eq!(bucket_integer(10, 7, 0), Ok(0));
        assert_eq!(bucket_integer(10, 10, 0), Ok(10));
        assert_eq!(bucket_integer(10, -1, 0), Ok(-10));
        assert_eq!(bucket_integer(10, 17, 5), Ok(15));
        assert_eq!(bucket_integer(0, 1, 0), Err(BucketError::NotPositive));
        assert_eq!(bucket_integer(-5, 1, 0), Err(BucketError::NotPositive));
        assert_eq!(
            bucket_integer(10, i64::MIN, 1),
            Err(BucketError::OutOfRange)
        );
    }
}
