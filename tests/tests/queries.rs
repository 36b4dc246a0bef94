//! Distributed queries against the truth: the same rows in a distributed hypertable (3 data nodes)
//! and in a plain local table, the same queries on both, the same results required (floats to
//! 1e-12 relative). Plus what EXPLAIN shows about push-down, and cancelling long remote work.
//! Add a query shape here whenever a bug is found.

use std::time::{Duration, Instant};

use hyperdist_tests::corpus::CORPUS;
use hyperdist_tests::{Cluster, assert_same_results, db_error};
use postgres::Client;

const DB: &str = "metrics";

/// 120 000 rows, one every 4 s over 5.5 days, 37 locations, NULLs in every nullable column.
fn setup() -> (Cluster, Client) {
    let cluster = Cluster::start(3);
    let mut an = cluster.distributed_database(DB, "dn", 3);
    an.batch_execute(hyperdist_tests::corpus::CONDITIONS)
        .unwrap();
    (cluster, an)
}

fn plan_text(an: &mut Client, query: &str) -> String {
    an.query(&format!("EXPLAIN (VERBOSE, COSTS OFF) {query}"), &[])
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Plan nodes that aggregate on the access node.
fn aggregates_on_access_node(plan: &str) -> bool {
    plan.lines().any(|line| {
        let node = line.trim_start().trim_start_matches("->  ");
        [
            "Aggregate",
            "HashAggregate",
            "GroupAggregate",
            "Finalize",
            "Partial",
        ]
        .iter()
        .any(|name| node.starts_with(name))
    })
}

fn remote_sql(plan: &str) -> Vec<&str> {
    plan.lines()
        .filter(|l| l.trim_start().starts_with("Remote SQL"))
        .collect()
}

#[test]
fn distributed_results_match_a_local_table() {
    let (_cluster, mut an) = setup();
    assert!(CORPUS.len() >= 60, "{} query shapes", CORPUS.len());
    for query in CORPUS {
        assert_same_results(&mut an, query, "conditions", "local_conditions");
    }
    // The same with push-down off: the access node aggregates everything itself.
    an.batch_execute("SET hyperdist.enable_aggregate_pushdown = off")
        .unwrap();
    for query in CORPUS.iter().filter(|q| q.contains("GROUP BY")) {
        assert_same_results(&mut an, query, "conditions", "local_conditions");
    }
    an.batch_execute("RESET hyperdist.enable_aggregate_pushdown")
        .unwrap();

    // Prepared statements, run often enough to get a generic plan, with different parameters.
    for table in ["conditions", "local_conditions"] {
        an.batch_execute(&format!(
            "PREPARE by_location_{table} (text, timestamptz) AS
               SELECT location, count(*), max(temperature), sum(reading) FROM {table}
                WHERE location = $1 AND time < $2 GROUP BY location"
        ))
        .unwrap();
    }
    for i in 0..8 {
        let location = format!("loc{}", i * 4);
        let until = format!("2024-03-0{}", 2 + i % 4);
        assert_same_results(
            &mut an,
            &format!("EXECUTE by_location_{{t}}('{location}', '{until}')"),
            "conditions",
            "local_conditions",
        );
    }

    // A cursor, fetched in pieces.
    let fetch_all = |an: &mut Client, table: &str| -> Vec<String> {
        let mut txn = an.transaction().unwrap();
        txn.batch_execute(&format!(
            "DECLARE c CURSOR FOR SELECT location, time, reading FROM {table}
              WHERE time < '2024-03-01 06:00' ORDER BY time"
        ))
        .unwrap();
        let mut seen = Vec::new();
        loop {
            let rows = txn.query("FETCH 1000 FROM c", &[]).unwrap();
            if rows.is_empty() {
                break;
            }
            seen.extend(rows.iter().map(|r| {
                format!(
                    "{}|{:?}|{:?}",
                    r.get::<_, String>(0),
                    r.get::<_, std::time::SystemTime>(1),
                    r.get::<_, Option<i32>>(2)
                )
            }));
        }
        txn.commit().unwrap();
        seen
    };
    let distributed = fetch_all(&mut an, "conditions");
    assert_eq!(distributed.len(), 5399);
    assert_eq!(distributed, fetch_all(&mut an, "local_conditions"));
}

#[test]
fn explain_shows_what_is_pushed_down() {
    let (_cluster, mut an) = setup();

    // Full push-down: grouped by the space column, the data nodes return final groups.
    let plan = plan_text(
        &mut an,
        "SELECT location, max(temperature) FROM conditions GROUP BY location",
    );
    assert!(!aggregates_on_access_node(&plan), "{plan}");
    assert!(plan.contains("Aggregation: on the data nodes"), "{plan}");
    let sql = remote_sql(&plan);
    assert_eq!(sql.len(), 3, "{plan}");
    assert!(
        sql.iter()
            .all(|s| s.contains("max(temperature)") && s.contains("GROUP BY location")),
        "{plan}"
    );

    // Partial push-down: no GROUP BY, rows on every node. Each node sends one row of states, and
    // the access node only combines them.
    let plan = plan_text(&mut an, "SELECT max(temperature) FROM conditions");
    assert!(plan.starts_with("Finalize Aggregate"), "{plan}");
    assert!(plan.contains("Aggregation: partial states"), "{plan}");
    let sql = remote_sql(&plan);
    assert_eq!(sql.len(), 3, "{plan}");
    assert!(
        sql.iter()
            .all(|s| s.contains("_hyperdist_internal.partial(max(temperature))")),
        "{plan}"
    );
    let analyzed: Vec<String> = an
        .query(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT max(temperature) FROM conditions",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let per_node: Vec<&String> = analyzed
        .iter()
        .filter(|l| l.trim_start().starts_with("Data node "))
        .collect();
    assert_eq!(per_node.len(), 3, "{analyzed:?}");
    assert!(
        per_node.iter().all(|l| l.contains(" 1 rows in ")),
        "one row of states per node: {analyzed:?}"
    );
    // Grouped by time only: states per time bucket from each node, combined here.
    let plan = plan_text(
        &mut an,
        "SELECT time_bucket('1 hour', time), avg(temperature), count(*) FROM conditions GROUP BY 1",
    );
    assert!(plan.contains("Finalize HashAggregate"), "{plan}");
    assert!(
        remote_sql(&plan).iter().all(|s| s.contains("GROUP BY")
            && s.contains("_hyperdist_internal.partial(avg(temperature))")),
        "{plan}"
    );

    // ORDER BY ... LIMIT: each node sorts and stops; the access node merges without sorting.
    let plan = plan_text(
        &mut an,
        "SELECT * FROM conditions WHERE reading > 10 ORDER BY time DESC LIMIT 5",
    );
    assert!(!plan.contains("Sort"), "{plan}");
    assert!(
        remote_sql(&plan)
            .iter()
            .all(|s| s.contains("ORDER BY \"time\" DESC NULLS FIRST LIMIT 5")),
        "{plan}"
    );

    // The last point of each series: each node finds one row per location by walking the
    // (location, time DESC) index, sorted; merged here.
    let plan = plan_text(
        &mut an,
        "SELECT DISTINCT ON (location) * FROM conditions ORDER BY location, time DESC",
    );
    assert!(!plan.contains("Unique") && !plan.contains("Sort"), "{plan}");
    assert!(
        remote_sql(&plan).iter().all(|s| s.contains("WITH RECURSIVE")
            && s.contains("\"time\" DESC NULLS FIRST LIMIT 1")
            && s.ends_with("ORDER BY location NULLS LAST, \"time\" DESC NULLS FIRST) TO STDOUT (FORMAT binary, hyperdist_batches)")),
        "{plan}"
    );
    // Without an index on (location, reading), each node sorts.
    let plan = plan_text(
        &mut an,
        "SELECT DISTINCT ON (location) location, reading FROM conditions ORDER BY location, reading",
    );
    assert!(
        remote_sql(&plan)
            .iter()
            .all(|s| s.contains("SELECT DISTINCT ON (location)") && !s.contains("RECURSIVE")),
        "{plan}"
    );

    // Grouped by hour, newest first, limited: time slices are read one after another and the
    // LIMIT stops before the older ones start.
    let plan = an
        .query(
            "EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF)
             SELECT time_bucket('1 hour', time) AS h, max(temperature) FROM conditions
              GROUP BY h ORDER BY h DESC LIMIT 5",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        plan.contains("Finalize GroupAggregate")
            && plan.contains("Append")
            && !plan.contains("Sort"),
        "{plan}"
    );
    // Limit, Finalize, Append and the newest slice's scan ran; the older slices' did not.
    assert_eq!(plan.matches("(actual rows=").count(), 4, "{plan}");
    assert!(plan.contains("rows read before the scan stopped"), "{plan}");
    assert!(plan.matches("(never executed)").count() >= 4, "{plan}");

    // random() never ships: the rows come back and the access node filters and aggregates.
    let plan = plan_text(
        &mut an,
        "SELECT location, max(temperature) FROM conditions WHERE random() < 0.5 GROUP BY location",
    );
    assert!(aggregates_on_access_node(&plan), "{plan}");
    assert!(plan.contains("Filter: (random() < "), "{plan}");

    // A shipped clause is the data nodes' alone: the access node neither checks it again nor
    // fetches the column only it reads; the clause it cannot ship stays here.
    let plan = plan_text(
        &mut an,
        "SELECT time, location FROM conditions WHERE humidity > 50 AND random() < 2",
    );
    assert!(plan.contains("Filter: (random() < "), "{plan}");
    assert!(
        !plan
            .lines()
            .any(|l| l.trim_start().starts_with("Filter:") && l.contains("humidity")),
        "{plan}"
    );
    assert!(
        remote_sql(&plan)
            .iter()
            .all(|s| s.contains(": COPY (SELECT \"time\", location FROM")
                && s.contains("WHERE (humidity > ")),
        "{plan}"
    );
    assert!(
        remote_sql(&plan)
            .iter()
            .all(|s| !s.contains("random") && !s.contains("GROUP BY")),
        "{plan}"
    );

    // A time range reads only the chunks that overlap it: one day, three space slices.
    let chunks_read = |plan: &str| -> usize {
        plan.lines()
            .filter_map(|l| l.trim_start().strip_prefix("Data node "))
            .filter_map(|l| {
                l.split(": ")
                    .nth(1)?
                    .split(' ')
                    .next()?
                    .parse::<usize>()
                    .ok()
            })
            .sum()
    };
    let all = chunks_read(&plan_text(&mut an, "SELECT * FROM conditions"));
    assert!(all >= 15, "{all} chunks in all");
    let plan = plan_text(
        &mut an,
        "SELECT * FROM conditions WHERE time >= '2024-03-03' AND time < '2024-03-04'",
    );
    assert_eq!(chunks_read(&plan), 3, "{plan}");

    // One location: its chunks are on one data node, which aggregates even without GROUP BY.
    let plan = plan_text(
        &mut an,
        "SELECT count(*), max(temperature) FROM conditions WHERE location = 'loc11'",
    );
    assert!(!aggregates_on_access_node(&plan), "{plan}");
    assert_eq!(remote_sql(&plan).len(), 1, "{plan}");
}

#[test]
fn update_and_delete_run_on_the_data_nodes() {
    let (_cluster, mut an) = setup();
    let same_count = |an: &mut Client, statement: &str| {
        let on = |an: &mut Client, table: &str| {
            an.execute(&statement.replace("{t}", table), &[])
                .unwrap_or_else(|e| panic!("{statement} on {table}: {e}"))
        };
        let changed = on(an, "conditions");
        assert_eq!(changed, on(an, "local_conditions"), "{statement}");
        assert!(changed > 0, "{statement} changed nothing");
    };
    same_count(
        &mut an,
        "UPDATE {t} SET temperature = temperature * 2, note = upper(note)
          WHERE location = 'loc3' AND time < '2024-03-02'",
    );
    same_count(
        &mut an,
        "UPDATE {t} SET reading = reading + 1 WHERE humidity > 20",
    );
    same_count(
        &mut an,
        "UPDATE {t} SET price = NULL WHERE note IS NULL AND time >= '2024-03-04'",
    );
    same_count(
        &mut an,
        "DELETE FROM {t} WHERE time >= '2024-03-05' AND reading % 3 = 0",
    );
    same_count(
        &mut an,
        "DELETE FROM {t} WHERE time < now() - interval '600 days' AND flag AND reading < 100",
    );
    // A prepared DELETE, often enough for a generic plan.
    for table in ["conditions", "local_conditions"] {
        an.batch_execute(&format!(
            "PREPARE forget_{table} (text, int) AS DELETE FROM {table} WHERE location = $1 AND reading < $2"
        ))
        .unwrap();
    }
    for i in 0..7 {
        same_count(
            &mut an,
            &format!("EXECUTE forget_{{t}}('loc{}', {})", i * 5, 50 + i * 10),
        );
    }
    // A cursor still streaming from the data nodes while an UPDATE needs the same sessions:
    // the cursor's rows are set aside, nothing waits for ever, and the cursor sees its snapshot.
    an.batch_execute("SET statement_timeout = '60s'").unwrap();
    let total: i64 = an
        .query_one("SELECT count(*) FROM conditions", &[])
        .unwrap()
        .get(0);
    let mut txn = an.transaction().unwrap();
    txn.batch_execute("DECLARE c CURSOR FOR SELECT time, reading FROM conditions ORDER BY time")
        .unwrap();
    let mut fetched = txn.query("FETCH 100 FROM c", &[]).unwrap().len();
    let updated = txn
        .execute(
            "UPDATE conditions SET reading = -1 WHERE location = 'loc1' AND time < '2024-03-01 01:00'",
            &[],
        )
        .unwrap();
    let rest = txn.query("FETCH ALL FROM c", &[]).unwrap();
    fetched += rest.len();
    assert!(rest.iter().all(|r| r.get::<_, Option<i32>>(1) != Some(-1)));
    txn.commit().unwrap();
    assert_eq!(fetched as i64, total);
    let locally = an
        .execute(
            "UPDATE local_conditions SET reading = -1 WHERE location = 'loc1' AND time < '2024-03-01 01:00'",
            &[],
        )
        .unwrap();
    assert_eq!(updated, locally);
    assert!(updated > 0);

    // Rolled back everywhere.
    an.batch_execute("BEGIN; DELETE FROM conditions; ROLLBACK;")
        .unwrap();
    for query in [
        "SELECT count(*), sum(reading), sum(price), count(note) FROM {t}",
        "SELECT location, count(*), sum(temperature), max(note), sum(reading) FROM {t} GROUP BY 1 ORDER BY 1",
        "SELECT * FROM {t} WHERE location = 'loc3' ORDER BY time",
    ] {
        assert_same_results(&mut an, query, "conditions", "local_conditions");
    }

    // What the data nodes cannot do is refused, naming the reason, and changes nothing.
    for (statement, message) in [
        (
            "UPDATE conditions SET location = 'elsewhere' WHERE reading = 1",
            "cannot update partitioning column \"location\" of distributed hypertable \"conditions\"",
        ),
        (
            "UPDATE conditions SET time = time + interval '1 day'",
            "cannot update partitioning column \"time\" of distributed hypertable \"conditions\"",
        ),
        (
            "UPDATE conditions SET reading = 0 WHERE random() < 0.5",
            "UPDATE on a distributed hypertable must be one the data nodes can run",
        ),
        (
            "DELETE FROM conditions WHERE reading = 1 RETURNING *",
            "DELETE on a distributed hypertable must be one the data nodes can run",
        ),
        (
            "DELETE FROM conditions c USING sites s WHERE s.location = c.location",
            "DELETE on a distributed hypertable must be one the data nodes can run",
        ),
    ] {
        let err = db_error(an.execute(statement, &[]));
        assert_eq!(err.code().code(), "0A000", "{statement}");
        assert_eq!(err.message(), message);
    }
    assert_same_results(
        &mut an,
        "SELECT count(*), sum(reading) FROM {t}",
        "conditions",
        "local_conditions",
    );
}

/// Whether any data node still runs a query containing `marker`.
fn still_running(cluster: &Cluster, marker: &str) -> bool {
    cluster.data_nodes().iter().any(|dn| {
        let n: i64 = dn
            .connect_to(DB)
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE state = 'active' AND pid <> pg_backend_pid() AND query LIKE '%' || $1 || '%'",
                &[&marker],
            )
            .unwrap()
            .get(0);
        n > 0
    })
}

fn wait_until_stopped(cluster: &Cluster, marker: &str) {
    let deadline = Instant::now() + Duration::from_secs(2);
    while still_running(cluster, marker) {
        assert!(
            Instant::now() < deadline,
            "the remote query still runs 2 s after the cancel"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn cancel_and_statement_timeout_stop_remote_queries() {
    let (cluster, mut an) = setup();
    // Hours of work on each data node (the expression ships).
    let long = "SELECT location, count(*) FROM conditions
                 WHERE length(repeat(note, 3000000)) > 0 GROUP BY location";

    an.batch_execute("SET statement_timeout = '1s'").unwrap();
    let started = Instant::now();
    let err = db_error(an.query(long, &[]));
    assert_eq!(err.code().code(), "57014", "{}", err.message());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    wait_until_stopped(&cluster, "repeat(note");
    an.batch_execute("RESET statement_timeout").unwrap();
    // The session goes on working.
    let n: i64 = an
        .query_one("SELECT count(*) FROM conditions", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 120_000);

    let pid: i32 = an.query_one("SELECT pg_backend_pid()", &[]).unwrap().get(0);
    let runner = std::thread::spawn(move || {
        let result = an.query(long, &[]);
        (result.map(|_| ()), an)
    });
    // Wait for the remote queries to run, then cancel the access node's backend.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !still_running(&cluster, "repeat(note") {
        assert!(Instant::now() < deadline, "the long query never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let cancelled = Instant::now();
    let mut other = cluster.access_node().connect_to(DB);
    let sent: bool = other
        .query_one("SELECT pg_cancel_backend($1)", &[&pid])
        .unwrap()
        .get(0);
    assert!(sent);
    let (result, mut an) = runner.join().unwrap();
    let err = db_error(result);
    assert_eq!(err.code().code(), "57014");
    assert!(
        cancelled.elapsed() < Duration::from_secs(2),
        "{:?}",
        cancelled.elapsed()
    );
    wait_until_stopped(&cluster, "repeat(note");
    let n: i64 = an
        .query_one(
            "SELECT count(*) FROM conditions WHERE location = 'loc1'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(n > 0);
}

/// The bytes of `COPY ... TO STDOUT` and the number of CopyData messages they came in.
fn copy_out_messages(client: &mut Client, sql: &str) -> Result<(Vec<u8>, usize), postgres::Error> {
    use std::io::BufRead;
    let mut reader = client.copy_out(sql)?;
    let (mut bytes, mut messages) = (Vec::new(), 0);
    loop {
        // Each fill_buf is one CopyData message.
        // A server error during the COPY arrives as an I/O error wrapping it.
        let piece = reader.fill_buf().map_err(|e| {
            *e.into_inner()
                .and_then(|inner| inner.downcast::<postgres::Error>().ok())
                .expect("a server error")
        })?;
        if piece.is_empty() {
            break;
        }
        bytes.extend_from_slice(piece);
        messages += 1;
        let len = piece.len();
        reader.consume(len);
    }
    Ok((bytes, messages))
}

/// What a data node sends for a scan (`COPY (query) TO STDOUT (FORMAT binary, hyperdist_batches)`)
/// is byte for byte PostgreSQL's binary COPY of the same query, for the types written directly,
/// text and bytea compressed or out of line, and the types that go through their send functions;
/// only in far fewer messages.
#[test]
fn data_nodes_send_binary_copy_in_batches() {
    let cluster = Cluster::start(1);
    drop(cluster.distributed_database(DB, "dn", 1));
    let mut dn = cluster.data_nodes()[0].connect_to(DB);
    dn.batch_execute(
        "CREATE TABLE stored (id int, t text, b bytea);
         INSERT INTO stored SELECT i, repeat('abc', 10000 * i), decode(repeat(md5(i::text), 3000), 'hex')
           FROM generate_series(1, 20) i;
         ALTER TABLE stored ALTER t SET STORAGE EXTERNAL, ALTER b SET STORAGE EXTERNAL;
         INSERT INTO stored SELECT i, string_agg(md5(j::text), ''), decode(string_agg(md5(j::text), ''), 'hex')
           FROM generate_series(21, 25) i, generate_series(1, 2000) j GROUP BY i;",
    )
    .unwrap();
    let compressed: i64 = dn
        .query_one(
            "SELECT count(*) FROM stored WHERE pg_column_size(t) < octet_length(t)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(compressed, 20);
    let queries = [
        "SELECT i, i::int2, i::int8 * 1000000000, i / 7.0::float8, (i / 3.0)::float4, i % 2 = 0,
                date '2024-01-01' + i, timestamptz '2024-01-01 00:00+00' + i * interval '1 min',
                timestamp '2024-01-01' + i * interval '1 s', time '12:00' + i * interval '1 s',
                i::oid, md5(i::text)::uuid, 'héllo ' || i, ('v' || i)::varchar(20), ('c' || i)::char(6),
                decode(md5(i::text), 'hex'), i::numeric / 3, ARRAY[i, NULL], jsonb_build_object('k', i),
                interval '1 day' * i, CASE WHEN i % 5 <> 0 THEN i END, 'NaN'::float8 * (i % 2),
                '-infinity'::timestamptz, float8 '-0', CASE WHEN i = 3 THEN repeat('xyz', 100000) END
           FROM generate_series(1, 3000) i",
        "SELECT * FROM stored",
        "SELECT t, id FROM stored WHERE id > 100",
    ];
    for query in queries {
        let (plain, plain_messages) = copy_out_messages(
            &mut dn,
            &format!("COPY ({query}) TO STDOUT (FORMAT binary)"),
        )
        .unwrap();
        let (batched, batched_messages) = copy_out_messages(
            &mut dn,
            &format!("COPY ({query}) TO STDOUT (FORMAT binary, hyperdist_batches)"),
        )
        .unwrap();
        assert!(plain == batched, "{query}: the bytes differ");
        assert!(
            batched_messages <= plain_messages,
            "{query}: {batched_messages} messages"
        );
        if plain_messages > 1000 {
            assert!(
                batched_messages * 20 < plain_messages,
                "{query}: {batched_messages} messages for {plain_messages}"
            );
        }
    }

    // An error while rows are being sent is the query's error; the session goes on.
    let err = db_error(copy_out_messages(
        &mut dn,
        "COPY (SELECT 1 / (3000 - i) FROM generate_series(1, 5000) i) TO STDOUT (FORMAT binary, hyperdist_batches)",
    ));
    assert_eq!(err.code().code(), "22012");
    for refused in [
        "COPY (SELECT 1) TO STDOUT (FORMAT csv, hyperdist_batches)",
        "COPY stored TO STDOUT (FORMAT binary, hyperdist_batches)",
        "COPY (DELETE FROM stored RETURNING id) TO STDOUT (FORMAT binary, hyperdist_batches)",
    ] {
        let err = db_error(copy_out_messages(&mut dn, refused));
        assert_eq!(err.code().code(), "0A000", "{refused}");
    }
    let rows: i64 = dn
        .query_one("SELECT count(*) FROM stored", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 25);
}

/// The plans the data nodes logged (auto_explain) while `query` ran on a fresh access node session.
fn data_node_plans(cluster: &Cluster, query: &str) -> String {
    let before: Vec<usize> = cluster
        .data_nodes()
        .iter()
        .map(|dn| dn.log().len())
        .collect();
    let mut an = cluster.access_node().connect_to(DB);
    an.query(query, &[]).unwrap();
    cluster
        .data_nodes()
        .iter()
        .zip(before)
        .map(|(dn, from)| dn.log().get(from..).unwrap_or_default().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn data_nodes_read_rows_in_any_order_without_plain_index_scans() {
    let (cluster, _an) = setup();
    for dn in cluster.data_nodes() {
        dn.connect_to(DB)
            .batch_execute(&format!(
                "ALTER DATABASE {DB} SET session_preload_libraries = 'auto_explain';
                 ALTER DATABASE {DB} SET auto_explain.log_min_duration = 0"
            ))
            .unwrap();
    }
    // Plain index scans, not bitmap ones ("Bitmap Index Scan").
    let plain_index_scan = |plans: &str| {
        plans.lines().any(|line| {
            let node = line.trim_start().trim_start_matches("->  ");
            node.starts_with("Index Scan") || node.starts_with("Index Only Scan")
        })
    };
    // A few hours of one daily chunk per node, grouped by the space column: whole groups come back
    // in any order.
    let range_by_location = "SELECT location, avg(temperature) FROM conditions
                              WHERE time >= '2024-03-02 02:00' AND time < '2024-03-02 05:00'
                              GROUP BY location";
    let plans = data_node_plans(&cluster, range_by_location);
    assert!(
        plans.contains("COPY (SELECT location, avg(temperature)"),
        "{plans}"
    );
    assert!(plans.contains("Bitmap Heap Scan"), "{plans}");
    assert!(!plain_index_scan(&plans), "{plans}");

    // What needs an order keeps PostgreSQL's plain index scans: the first rows by time, and a
    // whole-chunk max the planner reads from the end of an index.
    let plans = data_node_plans(
        &cluster,
        "SELECT time, location FROM conditions
          WHERE time >= '2024-03-02 02:00' AND time < '2024-03-02 05:00' ORDER BY time LIMIT 5",
    );
    assert!(plain_index_scan(&plans), "{plans}");
    let plans = data_node_plans(
        &cluster,
        "SELECT max(time) FROM conditions WHERE location = 'loc5' AND time < '2024-03-02'",
    );
    assert!(plain_index_scan(&plans), "{plans}");

    // Off on the data nodes, the same range query gets PostgreSQL's choice, a plain index scan
    // over the correlated time index.
    for dn in cluster.data_nodes() {
        dn.connect_to(DB)
            .batch_execute(&format!(
                "ALTER DATABASE {DB} SET hyperdist.prefer_bitmap_scans = off"
            ))
            .unwrap();
    }
    let plans = data_node_plans(&cluster, range_by_location);
    assert!(plain_index_scan(&plans), "{plans}");
}
