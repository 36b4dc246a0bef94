//! `time_bucket` in TimescaleDB's forms. Immutable, so queries can ship it to data nodes.

use hyperdist_core::bucket::{self, BucketError, Width};
use pgrx::datum::{Date, Interval, Timestamp, TimestampWithTimeZone};
use pgrx::prelude::*;

use crate::error::{Report, invalid_argument};

fn fail(err: BucketError) -> ! {
    match err {
        BucketError::OutOfRange => Report::new(
            pgrx::PgSqlErrorCode::ERRCODE_DATETIME_FIELD_OVERFLOW,
            err.to_string(),
        )
        .raise(),
        _ => invalid_argument(
            err.to_string(),
            "Use a positive interval of days, hours, minutes or seconds, or a whole number of months.",
        ),
    }
}

fn width(interval: Interval) -> Width {
    Width {
        months: interval.months(),
        days: interval.days(),
        micros: interval.micros(),
    }
}

/// Buckets a raw timestamp (microseconds since 2000-01-01); infinite values stay infinite.
fn bucket_raw(interval: Interval, ts: i64, origin: Option<i64>) -> i64 {
    if ts == i64::MIN || ts == i64::MAX {
        return ts;
    }
    bucket::bucket_timestamp(width(interval), ts, origin).unwrap_or_else(|e| fail(e))
}

fn timestamptz(raw: i64) -> TimestampWithTimeZone {
    TimestampWithTimeZone::try_from(raw).unwrap_or_else(|_| fail(BucketError::OutOfRange))
}

fn timestamp(raw: i64) -> Timestamp {
    Timestamp::try_from(raw).unwrap_or_else(|_| fail(BucketError::OutOfRange))
}

const US_PER_DAY: i64 = 86_400_000_000;

fn date_bucket(interval: Interval, date: Date, origin: Option<Date>) -> Date {
    if date.is_infinity() || date.is_neg_infinity() {
        return date;
    }
    let to_raw = |d: Date| d.to_pg_epoch_days() as i64 * US_PER_DAY;
    let bucketed = bucket_raw(interval, to_raw(date), origin.map(to_raw));
    Date::try_from((bucketed.div_euclid(US_PER_DAY)) as i32)
        .unwrap_or_else(|_| fail(BucketError::OutOfRange))
}

#[pg_extern(immutable, parallel_safe, name = "time_bucket")]
fn time_bucket_timestamptz(
    bucket_width: Interval,
    ts: TimestampWithTimeZone,
) -> TimestampWithTimeZone {
    timestamptz(bucket_raw(bucket_width, ts.into(), None))
}

#[pg_extern(immutable, parallel_safe, name = "time_bucket")]
fn time_bucket_timestamptz_origin(
    bucket_width: Interval,
    ts: TimestampWithTimeZone,
    origin: TimestampWithTimeZone,
) -> TimestampWithTimeZone {
    timestamptz(bucket_raw(bucket_width, ts.into(), Some(origin.into())))
}

#[pg_extern(immutable, parallel_safe, name = "time_bucket")]
fn time_bucket_timestamp(bucket_width: Interval, ts: Timestamp) -> Timestamp {
    timestamp(bucket_raw(bucket_width, ts.into(), None))
}

#[pg_extern(immutable, parallel_safe, name = "time_bucket")]
fn time_bucket_timestamp_origin(
    bucket_width: Interval,
    ts: Timestamp,
    origin: Timestamp,
) -> Timestamp {
    timestamp(bucket_raw(bucket_width, ts.into(), Some(origin.into())))
}

#[pg_extern(immutable, parallel_safe, name = "time_bucket")]
fn time_bucket_date(bucket_width: Interval, ts: Date) -> Date {
    date_bucket(bucket_width, ts, None)
}

#[pg_extern(immutable, parallel_safe, name = "time_bucket")]
fn time_bucket_date_origin(bucket_width: Interval, ts: Date, origin: Date) -> Date {
    date_bucket(bucket_width, ts, Some(origin))
}

fn integer(width: i64, ts: i64, offset: i64) -> i64 {
    bucket::bucket_integer(width, ts, offset).unwrap_or_else(|e| fail(e))
}

#[pg_extern(immutable, parallel_safe, name = "time_bucket")]
fn time_bucket_smallint(bucket_width: i16, ts: i16) -> i16 {
    integer(bucket_width.into(), ts.into(), 0) as i16
}

#[pg_extern(immutable, parallel_safe, name = "time_bucket")]
fn time_bucket_smallint_offset(bucket_width: i16, ts: i16, offset: i16) -> i16 {
    integer(bucket_width.into(), ts.into(), offset.into()) as i16
}

#[pg_extern(immutable, parallel_safe, name = "time_bucket")]
fn time_bucket_int(bucket_width: i32, ts: i32) -> i32 {
    integer(bucket_width.into(), ts.into(), 0) as i32
}

#[pg_extern(immutable, parallel_safe, name = "time_bucket")]
fn time_bucket_int_offset(bucket_width: i32, ts: i32, offset: i32) -> i32 {
    integer(bucket_width.into(), ts.into(), offset.into()) as i32
}

#[pg_extern(immutable, parallel_safe, name = "time_bucket")]
fn time_bucket_bigint(bucket_width: i64, ts: i64) -> i64 {
    integer(bucket_width, ts, 0)
}

#[pg_extern(immutable, parallel_safe, name = "time_bucket")]
fn time_bucket_bigint_offset(bucket_width: i64, ts: i64, offset: i64) -> i64 {
    integer(bucket_width, ts, offset)
}
