//! The types a time dimension may have, and their internal form: a bigint that orders like the
//! value. Timestamps and dates become microseconds since 1970-01-01 (so slices align with Unix
//! time, as in TimescaleDB); integers are themselves.

/// Microseconds from 1970-01-01 to PostgreSQL's epoch, 2000-01-01.
const PG_EPOCH_OFFSET_US: i64 = 946_684_800_000_000;
const US_PER_DAY: i64 = 86_400_000_000;
/// Days from 1970-01-01 to 2000-01-01.
const PG_EPOCH_OFFSET_DAYS: i64 = 10_957;

/// Default chunk interval of timestamp-like time columns: 7 days.
pub const DEFAULT_INTERVAL_US: i64 = 7 * US_PER_DAY;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeType {
    TimestampTz,
    Timestamp,
    Date,
    SmallInt,
    Int,
    BigInt,
}

impl TimeType {
    /// The type of a PostgreSQL column by its type name (`format_type` spelling).
    pub fn from_type_name(name: &str) -> Option<TimeType> {
        Some(match name {
            "timestamp with time zone" | "timestamptz" => TimeType::TimestampTz,
            "timestamp without time zone" | "timestamp" => TimeType::Timestamp,
            "date" => TimeType::Date,
            "smallint" | "int2" => TimeType::SmallInt,
            "integer" | "int4" | "int" => TimeType::Int,
            "bigint" | "int8" => TimeType::BigInt,
            _ => return None,
        })
    }

    pub fn is_integer(self) -> bool {
        matches!(self, TimeType::SmallInt | TimeType::Int | TimeType::BigInt)
    }

    /// Internal value of a raw datum value: microseconds since 2000 for timestamps, days since
    /// 2000 for dates, the number itself for integers. Infinite values saturate.
    pub fn to_internal(self, raw: i64) -> i64 {
        match self {
            TimeType::TimestampTz | TimeType::Timestamp => match raw {
                i64::MIN | i64::MAX => raw,
                _ => raw.saturating_add(PG_EPOCH_OFFSET_US),
            },
            TimeType::Date => match raw {
                // DATEVAL_NOBEGIN / DATEVAL_NOEND
                r if r == i32::MIN as i64 => i64::MIN,
                r if r == i32::MAX as i64 => i64::MAX,
                days => (days + PG_EPOCH_OFFSET_DAYS).saturating_mul(US_PER_DAY),
            },
            TimeType::SmallInt | TimeType::Int | TimeType::BigInt => raw,
        }
    }

    /// The raw datum value of an internal value (slice bounds shown to users): the inverse of
    /// [`TimeType::to_internal`], rounding dates down to whole days, clamping to the type's range.
    pub fn from_internal(self, internal: i64) -> i64 {
        match self {
            TimeType::TimestampTz | TimeType::Timestamp => match internal {
                i64::MIN | i64::MAX => internal,
                _ => internal.saturating_sub(PG_EPOCH_OFFSET_US),
            },
            TimeType::Date => match internal {
                i64::MIN => i32::MIN as i64,
                i64::MAX => i32::MAX as i64,
                us => (us.div_euclid(US_PER_DAY) - PG_EPOCH_OFFSET_DAYS)
                    .clamp(i32::MIN as i64 + 1, i32::MAX as i64 - 1),
            },
            TimeType::SmallInt => internal.clamp(i16::MIN as i64, i16::MAX as i64),
            TimeType::Int => internal.clamp(i32::MIN as i64, i32::MAX as i64),
            TimeType::BigInt => internal,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_count_from_unix_epoch() {
        // 2000-01-01 00:00:00 is raw 0.
        assert_eq!(TimeType::TimestampTz.to_internal(0), 946_684_800_000_000);
        // 1970-01-01 is internal 0.
        assert_eq!(TimeType::Timestamp.to_internal(-PG_EPOCH_OFFSET_US), 0);
        assert_eq!(TimeType::TimestampTz.to_internal(i64::MAX), i64::MAX);
        assert_eq!(TimeType::TimestampTz.to_internal(i64::MIN), i64::MIN);
    }

    #[test]
    fn dates_are_midnight_microseconds() {
        assert_eq!(TimeType::Date.to_internal(0), PG_EPOCH_OFFSET_US);
        assert_eq!(TimeType::Date.to_internal(-PG_EPOCH_OFFSET_DAYS), 0);
        assert_eq!(
            TimeType::Date.to_internal(1),
            PG_EPOCH_OFFSET_US + US_PER_DAY
        );
        assert_eq!(TimeType::Date.to_internal(i32::MAX as i64), i64::MAX);
    }

    #[test]
    fn round_trips() {
        for raw in [-5_000_000_000_000i64, -1, 0, 1, 123_456_789_012] {
            assert_eq!(
                TimeType::Timestamp.from_internal(TimeType::Timestamp.to_internal(raw)),
                raw
            );
        }
        for days in [-20_000i64, -1, 0, 1, 9_000] {
            assert_eq!(
                TimeType::Date.from_internal(TimeType::Date.to_internal(days)),
                days
            );
        }
        assert_eq!(TimeType::SmallInt.from_internal(1 << 40), i16::MAX as i64);
        assert_eq!(TimeType::Int.from_internal(-42), -42);
    }

    #[test]
    fn type_names() {
        assert_eq!(
            TimeType::from_type_name("timestamp with time zone"),
            Some(TimeType::TimestampTz)
        );
        assert_eq!(TimeType::from_type_name("integer"), Some(TimeType::Int));
        assert_eq!(TimeType::from_type_name("text"), None);
        assert!(TimeType::BigInt.is_integer());
        assert!(!TimeType::Date.is_integer());
    }
}
