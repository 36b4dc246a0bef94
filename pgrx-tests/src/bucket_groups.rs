//! Group estimates of `GROUP BY time_bucket(...)` over chunk tables (inheritance children, as on a
//! data node): the planner must see about as many groups as there are, and hash them.

#[pgrx::pg_schema]
mod tests {
    use pgrx::prelude::*;

    /// Two one-day chunks of a parent, 20 devices, one row per device and minute; and a plain
    /// table with the same rows.
    fn chunks_and_plain_table() {
        Spi::run(
            "SET TimeZone = 'UTC';
             CREATE TABLE m (time timestamptz NOT NULL, device int, v float8);
             CREATE TABLE m_1 () INHERITS (m);
             CREATE TABLE m_2 () INHERITS (m);
             INSERT INTO m_1 SELECT t, d, d FROM generate_series(timestamptz '2024-01-01',
                 '2024-01-01 23:59', '1 minute') t, generate_series(1, 20) d;
             INSERT INTO m_2 SELECT time + interval '1 day', device, v FROM m_1;
             CREATE TABLE plain AS SELECT * FROM m;
             ANALYZE m; ANALYZE m_1; ANALYZE m_2; ANALYZE plain;",
        )
        .unwrap();
    }

    /// The top plan node's type, strategy and estimated rows, and the number of rows the query
    /// returns.
    fn plan_of(query: &str) -> (String, String, f64, i64) {
        let plan = Spi::get_one::<pgrx::Json>(&format!("EXPLAIN (FORMAT JSON) {query}"))
            .unwrap()
            .unwrap()
            .0;
        let top = &plan[0]["Plan"];
        let actual = Spi::get_one::<i64>(&format!("SELECT count(*) FROM ({query}) q"))
            .unwrap()
            .unwrap();
        (
            top["Node Type"].as_str().unwrap_or_default().to_string(),
            top["Strategy"].as_str().unwrap_or_default().to_string(),
            top["Plan Rows"].as_f64().unwrap(),
            actual,
        )
    }

    fn assert_hashed_and_close(query: &str) {
        let (node, strategy, estimated, actual) = plan_of(query);
        assert_eq!(
            (node.as_str(), strategy.as_str()),
            ("Aggregate", "Hashed"),
            "{query}"
        );
        let ratio = estimated / actual as f64;
        assert!(
            (0.5..=2.0).contains(&ratio),
            "{query}: estimated {estimated} groups, {actual} there"
        );
    }

    #[pg_test]
    fn buckets_of_chunks_are_estimated_from_their_time_range() {
        chunks_and_plain_table();
        // 48 hours x 20 devices.
        assert_hashed_and_close(
            "SELECT time_bucket('1 hour', time), device, avg(v) FROM m GROUP BY 1, 2",
        );
        assert_hashed_and_close("SELECT time_bucket('10 minutes', time), max(v) FROM m GROUP BY 1");
        assert_hashed_and_close(
            "SELECT date_trunc('hour', time) AS h, device, count(*) FROM m GROUP BY h, device",
        );
        // What a data node is sent: a UNION ALL of chunks, each with its own filter.
        assert_hashed_and_close(
            "SELECT time_bucket('1 hour', time), device, sum(v) FROM (
                 SELECT time, device, v FROM ONLY m_1 WHERE time >= '2024-01-01 06:00'
                 UNION ALL
                 SELECT time, device, v FROM ONLY m_2 WHERE time < '2024-01-02 12:00') t
             GROUP BY 1, 2",
        );
    }

    #[pg_test]
    fn plain_tables_keep_postgres_estimate() {
        chunks_and_plain_table();
        // PostgreSQL counts the distinct times, not the buckets: far too many groups.
        let (_, _, estimated, actual) =
            plan_of("SELECT time_bucket('1 hour', time), device, avg(v) FROM plain GROUP BY 1, 2");
        assert_eq!(actual, 960);
        assert!(estimated > 4.0 * actual as f64, "estimated {estimated}");
    }
}
