//! `time_bucket`, against values TimescaleDB's documentation gives.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    fn text(sql: &str) -> String {
        Spi::get_one::<String>(&format!("SELECT ({sql})::text"))
            .unwrap()
            .unwrap()
    }

    #[pg_test]
    fn timestamps_round_down_to_the_bucket() {
        Spi::run("SET TimeZone = 'UTC'").unwrap();
        assert_eq!(
            text("time_bucket('5 minutes', '2024-01-01 10:07:59+00'::timestamptz)"),
            "2024-01-01 10:05:00+00"
        );
        assert_eq!(
            text("time_bucket('1 hour', '2024-01-01 10:00:00'::timestamp)"),
            "2024-01-01 10:00:00"
        );
        // Weeks start on Monday (origin 2000-01-03); 2024-01-08 is a Monday.
        assert_eq!(
            text("time_bucket('1 week', '2024-01-14'::date)"),
            "2024-01-08"
        );
        assert_eq!(
            text("time_bucket('1 month', '2024-02-29 23:00'::timestamp)"),
            "2024-02-01 00:00:00"
        );
        assert_eq!(
            text(
                "time_bucket('1 hour', '2024-01-01 10:50+00'::timestamptz, '2024-01-01 00:30+00'::timestamptz)"
            ),
            "2024-01-01 10:30:00+00"
        );
        assert_eq!(
            text("time_bucket('1 day', 'infinity'::timestamptz)"),
            "infinity"
        );
    }

    #[pg_test]
    fn integers_floor_with_an_optional_offset() {
        assert_eq!(text("time_bucket(10, 105)"), "100");
        assert_eq!(text("time_bucket(10, -5)"), "-10");
        assert_eq!(text("time_bucket(10::smallint, 19::smallint)"), "10");
        assert_eq!(text("time_bucket(10::bigint, 17::bigint, 5::bigint)"), "15");
    }

    #[pg_test(error = "month intervals cannot have day or time component")]
    fn mixed_month_widths_are_refused() {
        text("time_bucket('1 month 1 day', now())");
    }

    #[pg_test(error = "invalid bucket width: must be positive")]
    fn zero_width_is_refused() {
        text("time_bucket(0, 5)");
    }

    #[pg_test]
    fn it_is_immutable_so_it_can_be_shipped() {
        let volatility = Spi::get_one::<String>(
            "SELECT string_agg(DISTINCT provolatile::text, '') FROM pg_proc WHERE proname = 'time_bucket'",
        )
        .unwrap();
        assert_eq!(volatility.as_deref(), Some("i"));
    }
}
