//! Distributed hypertables against real servers: the seed's example, routed COPY and INSERT,
//! attach/detach, views, and bad input.

use std::io::{Read, Write};

use hyperdist_tests::{Cluster, assert_same_results, db_error};
use postgres::Client;

const DB: &str = "metrics";

/// A cluster with `data_nodes` data nodes, a `metrics` database on the access node and the first
/// `registered` of them added as node1, node2, ...
fn setup(data_nodes: usize, registered: usize) -> (Cluster, Client) {
    let cluster = Cluster::start(data_nodes);
    let an = cluster.distributed_database(DB, "node", registered);
    (cluster, an)
}

fn add_node(an: &mut Client, name: &str, server: &hyperdist_tests::Server) {
    an.query(
        "SELECT * FROM add_data_node($1, host => '127.0.0.1', port => $2)",
        &[&name, &i32::from(server.port())],
    )
    .unwrap();
}

fn count(client: &mut Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}

/// Chunk name → data nodes, from the chunks view.
fn placement(an: &mut Client) -> Vec<(String, Vec<String>)> {
    an.query(
        "SELECT chunk_name::text, data_nodes::text[] FROM timescaledb_information.chunks ORDER BY range_start, chunk_name",
        &[],
    )
    .unwrap()
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect()
}

const CONDITIONS: &str = "CREATE TABLE conditions (
  time        TIMESTAMPTZ       NOT NULL,
  location    TEXT              NOT NULL,
  temperature DOUBLE PRECISION  NULL,
  humidity    DOUBLE PRECISION  NULL
);";

#[test]
fn seed_example_verbatim() {
    let (cluster, mut an) = setup(3, 2);
    an.batch_execute(CONDITIONS).unwrap();
    let created: String = an
        .query_one(
            "SELECT create_distributed_hypertable('conditions', 'time')::text",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(created, "(1,public,conditions,t)");
    let inserted = an
        .execute(
            "INSERT INTO conditions
             SELECT '2024-01-01'::timestamptz + i * interval '1 hour', 'loc' || (i % 5), i, i / 2.0
               FROM generate_series(0, 999) i",
            &[],
        )
        .unwrap();
    assert_eq!(inserted, 1000, "command tag INSERT 0 1000");
    let before = placement(&mut an);
    assert!(before.len() > 2, "{before:?}");
    let nodes_used: std::collections::BTreeSet<_> =
        before.iter().flat_map(|(_, n)| n.clone()).collect();
    assert_eq!(
        nodes_used.into_iter().collect::<Vec<_>>(),
        vec!["node1".to_string(), "node2".to_string()],
        "without a space dimension, chunks rotate over the nodes"
    );

    add_node(&mut an, "node3", &cluster.data_nodes()[2]);
    let attached = an
        .query_one(
            "SELECT * FROM attach_data_node('node3', hypertable => 'conditions')",
            &[],
        )
        .unwrap();
    assert_eq!(attached.get::<_, i32>("hypertable_id"), 1);
    assert_eq!(attached.get::<_, String>("node_name"), "node3");
    let nodes: Vec<String> = an
        .query_one(
            "SELECT data_nodes::text[] FROM timescaledb_information.hypertables",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(nodes, vec!["node1", "node2", "node3"]);

    // New time ranges use node3 too; old chunks stay where they were.
    an.execute(
        "INSERT INTO conditions
         SELECT '2025-01-01'::timestamptz + i * interval '1 hour', 'loc' || (i % 5), i, i / 2.0
           FROM generate_series(0, 999) i",
        &[],
    )
    .unwrap();
    let after = placement(&mut an);
    assert_eq!(
        &after[..before.len()],
        &before[..],
        "existing chunks did not move"
    );
    assert!(
        after[before.len()..]
            .iter()
            .any(|(_, n)| n == &vec!["node3".to_string()]),
        "new chunks land on node3: {after:?}"
    );
    let node3_rows = count(
        &mut cluster.data_nodes()[2].connect_to(DB),
        "SELECT count(*) FROM public.conditions",
    );
    assert!(node3_rows > 0);
    assert_eq!(count(&mut an, "SELECT count(*) FROM conditions"), 2000);

    let err = db_error(an.query(
        "select detach_data_node('node1', hypertable => 'conditions')",
        &[],
    ));
    assert_eq!(
        err.message(),
        "detaching data node \"node1\" would mean a data-loss for hypertable \"conditions\" since data node has the only data replica"
    );
    assert_eq!(
        err.hint(),
        Some("Ensure the data node \"node1\" has no non-replicated data before detaching it.")
    );
    assert_eq!(err.code().code(), "TS170");
    // delete_data_node refuses the same way.
    let err = db_error(an.query("SELECT delete_data_node('node1')", &[]));
    assert!(
        err.message()
            .contains("would mean a data-loss for hypertable \"conditions\"")
    );
}

#[test]
fn a_million_rows_by_copy_arrive_once_per_replica() {
    let (cluster, mut an) = setup(3, 3);
    an.batch_execute(
        "CREATE TABLE readings (time timestamptz NOT NULL, device integer NOT NULL, value double precision);
         SELECT create_distributed_hypertable('readings', 'time', 'device', replication_factor => 2,
                                              chunk_time_interval => interval '1 day');",
    )
    .unwrap();
    let mut data = Vec::with_capacity(40 << 20);
    for i in 0..1_000_000u64 {
        writeln!(
            data,
            "2024-01-{:02} {:02}:{:02}:{:02}+00\t{}\t{}",
            1 + i / 86_400 % 28,
            i / 3600 % 24,
            i / 60 % 60,
            i % 60,
            i % 97,
            i
        )
        .unwrap();
    }
    let mut writer = an.copy_in("COPY readings FROM STDIN").unwrap();
    writer.write_all(&data).unwrap();
    let copied = writer.finish().unwrap();
    assert_eq!(copied, 1_000_000, "command tag COPY 1000000");

    let (rows, sum): (i64, f64) = {
        let row = an
            .query_one("SELECT count(*), sum(value) FROM readings", &[])
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert_eq!(rows, 1_000_000);
    assert_eq!(sum, (0..1_000_000u64).sum::<u64>() as f64);

    // Directly on the data nodes: every row twice (replication factor 2), each chunk's replicas
    // identical.
    let mut on_nodes = 0;
    for server in cluster.data_nodes() {
        on_nodes += count(
            &mut server.connect_to(DB),
            "SELECT count(*) FROM public.readings",
        );
    }
    assert_eq!(on_nodes, 2_000_000);
    let chunks = an
        .query(
            "SELECT chunk_schema::text || '.' || chunk_name::text, data_nodes::text[]
               FROM timescaledb_information.chunks",
            &[],
        )
        .unwrap();
    for chunk in &chunks {
        let (name, nodes): (String, Vec<String>) = (chunk.get(0), chunk.get(1));
        assert_eq!(nodes.len(), 2, "{name} has two replicas");
        let counts: Vec<i64> = nodes
            .iter()
            .map(|n| {
                let index: usize = n.trim_start_matches("node").parse().unwrap();
                count(
                    &mut cluster.data_nodes()[index - 1].connect_to(DB),
                    &format!("SELECT count(*) FROM {name}"),
                )
            })
            .collect();
        assert_eq!(counts[0], counts[1], "replicas of {name} agree");
    }
    // The access node stores no rows: the hypertable is a foreign table there.
    let kind: String = an
        .query_one(
            "SELECT relkind::text FROM pg_class WHERE relname = 'readings'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(kind, "f");
    let sizes = count(
        &mut an,
        "SELECT count(*) FROM hypertable_detailed_size('readings') WHERE total_bytes > 0",
    );
    assert_eq!(sizes, 3, "every node holds part of it");
}

#[test]
fn inserts_copy_formats_returning_and_remote_errors() {
    let (cluster, mut an) = setup(2, 2);
    an.batch_execute(
        "CREATE TABLE m (time timestamptz NOT NULL, device text NOT NULL,
                         value numeric CHECK (value >= 0), note text DEFAULT 'none',
                         UNIQUE (time, device));
         SELECT create_distributed_hypertable('m', 'time', 'device');",
    )
    .unwrap();
    let tag = an
        .execute(
            "INSERT INTO m (time, device, value) VALUES
               ('2024-01-01 00:00+00', 'a', 1.5), ('2024-01-01 00:00+00', 'b', 2), ('2024-03-01 00:00+00', 'a', 3)",
            &[],
        )
        .unwrap();
    assert_eq!(tag, 3);
    let returned = an
        .query_one(
            "INSERT INTO m (time, device, value) VALUES ('2024-02-01 12:00+00', 'c', 4.25) RETURNING note, value::text",
            &[],
        )
        .unwrap();
    assert_eq!(
        returned.get::<_, String>(0),
        "none",
        "defaults are filled in on the access node"
    );
    assert_eq!(returned.get::<_, String>(1), "4.25");
    let prepared = an
        .prepare("INSERT INTO m (time, device, value) VALUES ($1::text::timestamptz, $2, $3::text::numeric)")
        .unwrap();
    for i in 0..5 {
        an.execute(
            &prepared,
            &[
                &format!("2024-04-0{} 00:00+00", i + 1),
                &"p",
                &format!("{i}"),
            ],
        )
        .unwrap();
    }
    let mut csv = an
        .copy_in("COPY m (time, device, value) FROM STDIN (FORMAT csv)")
        .unwrap();
    csv.write_all(b"2024-05-01 00:00+00,x,10\n2024-05-02 00:00+00,y,\n")
        .unwrap();
    assert_eq!(csv.finish().unwrap(), 2);
    // Binary COPY: what a COPY TO of a plain table with the same columns produces.
    an.batch_execute(
        "CREATE TABLE staging (time timestamptz, device text, value numeric, note text);
         INSERT INTO staging VALUES ('2024-06-01 00:00+00', 'bin', 7, 'binary');",
    )
    .unwrap();
    let mut binary = Vec::new();
    an.copy_out("COPY staging TO STDOUT (FORMAT binary)")
        .unwrap()
        .read_to_end(&mut binary)
        .unwrap();
    let mut writer = an.copy_in("COPY m FROM STDIN (FORMAT binary)").unwrap();
    writer.write_all(&binary).unwrap();
    assert_eq!(writer.finish().unwrap(), 1);

    let rows: Vec<(String, String, Option<String>, String)> = an
        .query(
            "SELECT to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), device, value::text, note
               FROM m ORDER BY time, device",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(rows.len(), 12);
    assert_eq!(
        rows[0],
        (
            "2024-01-01 00:00".into(),
            "a".into(),
            Some("1.5".into()),
            "none".into()
        )
    );
    assert_eq!(
        rows[11],
        (
            "2024-06-01 00:00".into(),
            "bin".into(),
            Some("7".into()),
            "binary".into()
        )
    );
    assert!(rows.contains(&("2024-05-02 00:00".into(), "y".into(), None, "none".into())));

    // Constraint violations on a data node fail the statement with the node's error; nothing of it
    // stays anywhere.
    let err = db_error(an.execute(
        "INSERT INTO m (time, device, value) VALUES ('2024-07-01', 'ok', 1), ('2024-07-01', 'bad', -1)",
        &[],
    ));
    assert_eq!(err.code().code(), "23514");
    assert!(err.message().starts_with("[node"), "{}", err.message());
    assert!(
        err.message().contains("violates check constraint"),
        "{}",
        err.message()
    );
    let err = db_error(an.execute(
        "INSERT INTO m (time, device, value) VALUES ('2024-01-01 00:00+00', 'a', 9)",
        &[],
    ));
    assert_eq!(err.code().code(), "23505");
    assert_eq!(
        count(&mut an, "SELECT count(*) FROM m WHERE time >= '2024-07-01'"),
        0
    );
    let mut total_on_nodes = 0;
    for server in cluster.data_nodes() {
        total_on_nodes += count(&mut server.connect_to(DB), "SELECT count(*) FROM public.m");
    }
    assert_eq!(total_on_nodes, 12);

    // A NULL time cannot be placed.
    let err = db_error(an.execute("INSERT INTO m (time, device) VALUES (NULL, 'n')", &[]));
    assert_eq!(err.code().code(), "23502");

    // Transactions: a rolled back insert leaves nothing; a committed one is visible.
    an.batch_execute("BEGIN; INSERT INTO m VALUES ('2024-08-01', 'tx', 1); ROLLBACK;")
        .unwrap();
    assert_eq!(
        count(&mut an, "SELECT count(*) FROM m WHERE device = 'tx'"),
        0
    );
    an.batch_execute("BEGIN; INSERT INTO m VALUES ('2024-08-01', 'tx', 1); COMMIT;")
        .unwrap();
    assert_eq!(
        count(&mut an, "SELECT count(*) FROM m WHERE device = 'tx'"),
        1
    );
}

#[test]
fn results_match_a_local_table() {
    let (_cluster, mut an) = setup(3, 3);
    an.batch_execute(
        "CREATE TABLE dist (time timestamp NOT NULL, host text, cpu real, mem bigint, ok boolean, tags text[], payload jsonb);
         CREATE TABLE local (LIKE dist);
         SELECT create_distributed_hypertable('dist', 'time', 'host', chunk_time_interval => interval '6 hours');
         INSERT INTO local
         SELECT '2024-01-01'::timestamp + i * interval '7 minutes', 'h' || (i % 13),
                (i % 100) / 3.0, i * 1000, i % 3 = 0,
                CASE WHEN i % 10 = 0 THEN NULL ELSE ARRAY['a' || i, 'b'] END,
                jsonb_build_object('i', i)
           FROM generate_series(1, 3000) i;
         INSERT INTO dist SELECT * FROM local;",
    )
    .unwrap();
    for query in [
        "SELECT * FROM {t} ORDER BY time, host",
        "SELECT host, count(*), sum(mem), avg(cpu)::text FROM {t} GROUP BY host ORDER BY host",
        "SELECT * FROM {t} WHERE host = 'h3' AND time < '2024-01-05' ORDER BY time",
        "SELECT date_trunc('day', time) d, max(cpu), bool_and(ok) FROM {t} GROUP BY d ORDER BY d",
        "SELECT payload->>'i', tags FROM {t} WHERE tags IS NULL OR cardinality(tags) > 1 ORDER BY 1 LIMIT 50",
        // Filters that ship, exclude chunks by time and by space, or stay on the access node.
        "SELECT count(*), sum(mem) FROM {t} WHERE time >= '2024-01-03' AND time < '2024-01-04 06:00'",
        "SELECT * FROM {t} WHERE time BETWEEN '2024-01-02 03:00' AND '2024-01-02 09:30' ORDER BY time",
        "SELECT * FROM {t} WHERE '2024-01-05' <= time AND host = 'h7' ORDER BY time",
        "SELECT host, time FROM {t} WHERE time = '2024-01-01 00:07' OR time = '2024-01-10 02:41' ORDER BY 1, 2",
        "SELECT count(*) FROM {t} WHERE host IN ('h1', 'h12') AND NOT ok AND cpu BETWEEN 5 AND 20",
        "SELECT count(*) FROM {t} WHERE host LIKE 'h1%' AND (mem % 7 = 0 OR tags IS NULL)",
        "SELECT count(*) FROM {t} WHERE CASE WHEN ok THEN cpu > 10 ELSE mem < 100000 END",
        "SELECT count(*) FROM {t} WHERE time > now() - interval '100 years' AND random() < 2",
        "SELECT count(*) FROM {t} WHERE payload @> '{\"i\": 77}' AND coalesce(tags[1], 'x') <> 'y'",
        "SELECT count(*) FROM {t} WHERE time > '2030-01-01'",
        "SELECT count(*) FROM {t} WHERE time < '2024-01-01' OR host = 'nobody'",
        "SELECT time_bucket('1 hour', time) b, host, sum(mem) FROM {t}
          WHERE time_bucket('1 day', time) = '2024-01-04' GROUP BY b, host ORDER BY b, host",
        "SELECT time_bucket('90 minutes', time) b, count(*) FROM {t} GROUP BY b ORDER BY b",
    ] {
        assert_same_results(&mut an, query, "dist", "local");
    }
}

#[test]
fn bad_input_gets_clear_errors_and_changes_nothing() {
    let (_cluster, mut an) = setup(2, 2);
    an.batch_execute(
        "CREATE TABLE t (time timestamptz NOT NULL, name text, n int);
         CREATE TABLE filled (time timestamptz NOT NULL, v int);
         INSERT INTO filled VALUES ('2024-01-01', 1), ('2024-02-01', 2);
         CREATE TABLE viewed (time timestamptz NOT NULL);
         CREATE VIEW v AS SELECT * FROM viewed;
         CREATE TABLE ints (t bigint NOT NULL, v int);",
    )
    .unwrap();
    let cases: &[(&str, &str, &str)] = &[
        (
            "SELECT create_distributed_hypertable('t', 'nope')",
            "42703",
            "column \"nope\" does not exist",
        ),
        (
            "SELECT create_distributed_hypertable('t', 'name')",
            "42804",
            "invalid type for dimension \"name\"",
        ),
        (
            "SELECT create_distributed_hypertable('t', 'time', 'nope')",
            "42703",
            "column \"nope\" does not exist",
        ),
        (
            "SELECT create_distributed_hypertable('t', 'time', replication_factor => 0)",
            "22023",
            "invalid replication factor",
        ),
        (
            "SELECT create_distributed_hypertable('t', 'time', replication_factor => 3)",
            "TS170",
            "replication factor too large for hypertable \"t\"",
        ),
        (
            "SELECT create_distributed_hypertable(NULL, 'time')",
            "22023",
            "relation cannot be NULL",
        ),
        (
            "SELECT create_distributed_hypertable('t', NULL)",
            "22023",
            "time column cannot be NULL",
        ),
        (
            "SELECT create_distributed_hypertable('t', 'time', data_nodes => '{node1,nope}')",
            "42704",
            "server \"nope\" does not exist",
        ),
        (
            "SELECT create_distributed_hypertable('t', 'time', number_partitions => 0, partitioning_column => 'name')",
            "22023",
            "invalid number of partitions: must be between 1 and 32767",
        ),
        (
            "SELECT create_distributed_hypertable('filled', 'time')",
            "55000",
            "table \"filled\" is not empty",
        ),
        (
            "SELECT create_distributed_hypertable('viewed', 'time')",
            "2BP01",
            "cannot distribute table \"viewed\" because other objects depend on it",
        ),
        (
            "SELECT create_distributed_hypertable('ints', 't')",
            "22023",
            "integer dimensions require an explicit interval (column \"t\")",
        ),
        (
            "SELECT create_distributed_hypertable('t', 'time', chunk_time_interval => interval '-1 day')",
            "22023",
            "invalid interval \"-1 days\" for column \"time\"",
        ),
    ];
    for (sql, code, message) in cases {
        let err = db_error(an.query(*sql, &[]));
        assert_eq!(
            (err.code().code(), err.message()),
            (*code, *message),
            "{sql}"
        );
        assert!(err.hint().is_some(), "{sql} has a hint");
    }
    // Nothing changed: all still plain tables, no hypertable recorded, nothing on the data nodes.
    let kinds = count(
        &mut an,
        "SELECT count(*) FROM pg_class WHERE relname IN ('t', 'filled', 'viewed', 'ints') AND relkind = 'r'",
    );
    assert_eq!(kinds, 4);
    assert_eq!(
        count(
            &mut an,
            "SELECT count(*) FROM _hyperdist_catalog.hypertable"
        ),
        0
    );

    // migrate_data moves existing rows; an integer time column works with an interval.
    an.query(
        "SELECT create_distributed_hypertable('filled', 'time', migrate_data => true)",
        &[],
    )
    .unwrap();
    assert_eq!(count(&mut an, "SELECT sum(v) FROM filled"), 3);
    an.query(
        "SELECT create_distributed_hypertable('ints', 't', chunk_time_interval => 1000)",
        &[],
    )
    .unwrap();
    an.execute(
        "INSERT INTO ints SELECT i, i FROM generate_series(1, 5000) i",
        &[],
    )
    .unwrap();
    assert_eq!(
        count(
            &mut an,
            "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'ints'"
        ),
        6
    );
    let bounds: (Option<i64>, Option<i64>) = {
        let r = an
            .query_one(
                "SELECT min(range_start_integer), max(range_end_integer) FROM timescaledb_information.chunks
                  WHERE hypertable_name = 'ints'",
                &[],
            )
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(bounds, (Some(0), Some(6000)));

    // Already distributed: an error, or a NOTICE with if_not_exists.
    let err = db_error(an.query(
        "SELECT create_distributed_hypertable('filled', 'time')",
        &[],
    ));
    assert_eq!(err.code().code(), "TS110");
    assert_eq!(err.message(), "table \"filled\" is already a hypertable");
    let row: String = an
        .query_one(
            "SELECT create_distributed_hypertable('filled', 'time', if_not_exists => true)::text",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(row.ends_with(",f)"), "{row}");

    // attach/detach errors.
    let err = db_error(an.query(
        "SELECT * FROM attach_data_node('node1', hypertable => 'filled')",
        &[],
    ));
    assert_eq!(err.code().code(), "TS172");
    let err = db_error(an.query(
        "SELECT * FROM attach_data_node('nope', hypertable => 'filled')",
        &[],
    ));
    assert_eq!(err.code().code(), "42704");
    let err = db_error(an.query(
        "SELECT * FROM attach_data_node('node1', hypertable => 't')",
        &[],
    ));
    assert_eq!(
        err.message(),
        "foreign table \"t\" is not a distributed hypertable"
    );
    assert_ne!(err.code().code(), "XX000");
}

#[test]
fn two_sessions_creating_the_same_chunk_share_it() {
    let (cluster, mut first) = setup(2, 2);
    first
        .batch_execute(
            "CREATE TABLE c (time timestamptz NOT NULL, v int);
             SELECT create_distributed_hypertable('c', 'time');",
        )
        .unwrap();
    // The first session creates the chunk and keeps its transaction open.
    first
        .batch_execute("BEGIN; INSERT INTO c VALUES ('2024-03-01 10:00+00', 1);")
        .unwrap();
    let an = cluster.access_node().conninfo(DB);
    let second = std::thread::spawn(move || {
        let mut second = postgres::Client::connect(&an, postgres::NoTls).unwrap();
        // Same chunk: waits for the first session to commit, then uses its chunk.
        second
            .execute("INSERT INTO c VALUES ('2024-03-01 11:00+00', 2)", &[])
            .unwrap()
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert!(
        !second.is_finished(),
        "the second session waits for the chunk being created"
    );
    first.batch_execute("COMMIT").unwrap();
    assert_eq!(second.join().unwrap(), 1);
    assert_eq!(
        count(
            &mut first,
            "SELECT count(*) FROM timescaledb_information.chunks"
        ),
        1
    );
    assert_eq!(count(&mut first, "SELECT sum(v) FROM c"), 3);
}

#[test]
fn cached_metadata_follows_other_sessions_changes() {
    let (cluster, mut reader) = setup(3, 3);
    reader
        .batch_execute(
            "CREATE TABLE m (time timestamptz NOT NULL, host text NOT NULL, v int);
             SELECT create_distributed_hypertable('m', 'time', 'host', chunk_time_interval => interval '1 day');
             INSERT INTO m VALUES ('2024-03-01 10:00+00', 'a', 1), ('2024-03-01 11:00+00', 'b', 2);",
        )
        .unwrap();
    // The reader's backend has the hypertable, its chunks and the data nodes cached now.
    assert_eq!(count(&mut reader, "SELECT sum(v) FROM m"), 3);
    let prepared = reader
        .prepare("SELECT host, sum(v) FROM m GROUP BY host ORDER BY host")
        .unwrap();
    assert_eq!(reader.query(&prepared, &[]).unwrap().len(), 2);

    // Another session adds chunks (new days) and changes the partitioning.
    let mut writer = cluster.access_node().connect_to(DB);
    writer
        .batch_execute(
            "INSERT INTO m SELECT '2024-03-02'::timestamptz + i * interval '1 hour', 'h' || i, 10
               FROM generate_series(0, 47) i;
             SELECT set_number_partitions('m', 2);
             INSERT INTO m VALUES ('2024-03-05 00:00+00', 'late', 100);",
        )
        .unwrap();
    assert_eq!(count(&mut reader, "SELECT sum(v) FROM m"), 3 + 480 + 100);
    assert_eq!(
        count(
            &mut reader,
            "SELECT count(*) FROM m WHERE time >= '2024-03-05'"
        ),
        1
    );
    // The cached plan is planned again: the new hosts are there.
    assert_eq!(reader.query(&prepared, &[]).unwrap().len(), 2 + 48 + 1);
}

#[test]
fn filters_ship_and_chunks_outside_the_range_are_not_read() {
    let (cluster, _an) = setup(3, 3);
    let (mut an, notices) = cluster.access_node().connect_with_notices(DB);
    an.batch_execute(
        "CREATE TABLE m (time timestamptz NOT NULL, host text NOT NULL, v float8, note text);
         SELECT create_distributed_hypertable('m', 'time', 'host', chunk_time_interval => interval '1 day');
         INSERT INTO m SELECT '2024-01-01'::timestamptz + i * interval '10 minutes', 'h' || (i % 12), i, 'n'
                         FROM generate_series(0, 1439) i;
         SET hyperdist.log_remote_commands = on;
         SET client_min_messages = log;",
    )
    .unwrap();
    notices.take();
    let remote = |an: &mut Client, sql: &str| -> Vec<String> {
        an.query(sql, &[]).unwrap();
        notices
            .take()
            .into_iter()
            .map(|n| n.message().to_string())
            .filter(|m| m.contains("COPY ("))
            .collect()
    };
    let all_chunks = count(
        &mut an,
        "SELECT count(*) FROM timescaledb_information.chunks",
    );
    assert!(all_chunks > 12, "{all_chunks}");

    let sent = remote(
        &mut an,
        "SELECT sum(v) FROM m WHERE time >= '2024-01-03' AND time < '2024-01-04' AND v > 10",
    );
    let chunks_read: usize = sent.iter().map(|s| s.matches("FROM ONLY").count()).sum();
    assert_eq!(chunks_read, 3, "one day, three space slices: {sent:?}");
    assert!(
        sent.iter().all(|s| s.contains("(v > ")),
        "the filter ships: {sent:?}"
    );
    assert!(
        sent.iter().all(|s| s.contains("(SELECT v FROM ONLY")),
        "only the columns the access node needs (time is read by shipped clauses only): {sent:?}"
    );

    let sent = remote(
        &mut an,
        "SELECT count(*) FROM m WHERE host = 'h5' AND time < '2024-01-02'",
    );
    let chunks_read: usize = sent.iter().map(|s| s.matches("FROM ONLY").count()).sum();
    assert_eq!(chunks_read, 1, "one day, one space slice: {sent:?}");
    assert_eq!(sent.len(), 1, "one data node asked");

    // EXPLAIN names each data node with its chunks (and, with VERBOSE, the exact remote SQL;
    // with ANALYZE, the rows it sent).
    an.batch_execute("SET client_min_messages = notice")
        .unwrap();
    let plan: Vec<String> = an
        .query(
            "EXPLAIN (ANALYZE, VERBOSE, COSTS OFF, TIMING OFF) SELECT * FROM m WHERE host = 'h5' AND time < '2024-01-02'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let text = plan.join("\n");
    assert_eq!(text.matches("Data node ").count(), 1, "{text}");
    assert!(text.contains(": 1 chunk, 12 rows in "), "{text}");
    assert!(text.contains("Remote SQL node"), "{text}");
    an.batch_execute("SET client_min_messages = log").unwrap();
    notices.take();

    // Bounds known only at execution (now(), parameters of prepared statements) exclude too.
    an.batch_execute(
        "INSERT INTO m SELECT now() - i * interval '1 hour', 'h' || (i % 12), -i, 'recent'
           FROM generate_series(1, 30) i",
    )
    .unwrap();
    notices.take();
    let sent = remote(
        &mut an,
        "SELECT count(*) FROM m WHERE time > now() - interval '6 hours'",
    );
    let chunks_read: usize = sent.iter().map(|s| s.matches("FROM ONLY").count()).sum();
    let recent_chunks = count(
        &mut an,
        "SELECT count(*) FROM timescaledb_information.chunks WHERE range_end > now() - interval '6 hours'",
    );
    assert_eq!(chunks_read as i64, recent_chunks, "{sent:?}");
    assert!(recent_chunks < all_chunks);
    assert_eq!(
        count(
            &mut an,
            "SELECT count(*) FROM m WHERE time > now() - interval '6 hours'"
        ),
        5
    );
    let prepared = an
        .prepare("SELECT count(*) FROM m WHERE time >= $1::text::timestamptz AND time < $1::text::timestamptz + interval '1 day'")
        .unwrap();
    an.batch_execute("SET plan_cache_mode = force_generic_plan")
        .unwrap();
    notices.take();
    let day: i64 = an
        .query_one(&prepared, &[&"2024-01-03 00:00:00+00"])
        .unwrap()
        .get(0);
    assert_eq!(day, 144);
    let sent: Vec<String> = notices
        .take()
        .into_iter()
        .map(|n| n.message().to_string())
        .filter(|m| m.contains("COPY ("))
        .collect();
    let chunks_read: usize = sent.iter().map(|s| s.matches("FROM ONLY").count()).sum();
    assert_eq!(
        chunks_read, 3,
        "a generic plan still excludes by the parameter: {sent:?}"
    );

    // A volatile function never ships; the query is still right.
    let sent = remote(
        &mut an,
        "SELECT count(*) FROM m WHERE v BETWEEN 0 AND 99 AND random() >= 0",
    );
    assert!(sent.iter().all(|s| !s.contains("random")), "{sent:?}");
    assert_eq!(
        count(
            &mut an,
            "SELECT count(*) FROM m WHERE v BETWEEN 0 AND 99 AND random() >= 0"
        ),
        100
    );
}

#[test]
fn truncate_and_drop_reach_every_data_node() {
    let (cluster, mut an) = setup(2, 2);
    an.batch_execute(
        "CREATE TABLE m (time timestamptz NOT NULL, host text NOT NULL, v int);
         SELECT create_distributed_hypertable('m', 'time', 'host');
         INSERT INTO m SELECT '2024-01-01'::timestamptz + i * interval '1 hour', 'h' || (i % 9), i
                         FROM generate_series(1, 1000) i;",
    )
    .unwrap();
    let on_nodes = |sql: &str| -> Vec<i64> {
        cluster
            .data_nodes()
            .iter()
            .map(|dn| count(&mut dn.connect_to(DB), sql))
            .collect()
    };
    an.batch_execute("TRUNCATE m").unwrap();
    assert_eq!(count(&mut an, "SELECT count(*) FROM m"), 0);
    assert_eq!(on_nodes("SELECT count(*) FROM public.m"), vec![0, 0]);

    // A DROP that cannot reach a data node changes nothing anywhere.
    an.execute(
        "INSERT INTO m VALUES ('2024-01-01', 'a', 1), ('2024-01-01', 'b', 2)",
        &[],
    )
    .unwrap();
    cluster.data_nodes()[1]
        .stop(hyperdist_tests::StopMode::Fast)
        .unwrap();
    let err = db_error(an.batch_execute("DROP FOREIGN TABLE m"));
    assert_eq!(err.code().code(), "08001", "{err:?}");
    let mut cluster = cluster;
    cluster.data_node_mut(1).start().unwrap();
    let cluster = cluster;
    assert_eq!(count(&mut an, "SELECT count(*) FROM m"), 2);

    an.batch_execute("DROP FOREIGN TABLE m").unwrap();
    assert_eq!(
        count(
            &mut an,
            "SELECT count(*) FROM _hyperdist_catalog.hypertable"
        ),
        0
    );
    assert_eq!(
        count(&mut an, "SELECT count(*) FROM _hyperdist_catalog.chunk"),
        0
    );
    let tables = |sql: &str| -> i64 {
        cluster
            .data_nodes()
            .iter()
            .map(|dn| count(&mut dn.connect_to(DB), sql))
            .sum()
    };
    assert_eq!(
        tables(
            "SELECT count(*) FROM pg_tables WHERE schemaname IN ('public', '_hyperdist_internal')"
        ),
        0,
        "the table and its chunks are gone from every data node"
    );

    // The name can be used again; a schema dropped with CASCADE takes its hypertables along.
    an.batch_execute(
        "CREATE TABLE m (time timestamptz NOT NULL, v int);
         SELECT create_distributed_hypertable('m', 'time');
         CREATE SCHEMA s;
         CREATE TABLE s.d (time timestamptz NOT NULL);
         SELECT create_distributed_hypertable('s.d', 'time');
         INSERT INTO s.d VALUES (now());
         DROP SCHEMA s CASCADE;",
    )
    .unwrap();
    let names: Vec<String> = an
        .query(
            "SELECT table_name::text FROM _hyperdist_catalog.hypertable",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(names, vec!["m"]);
    an.batch_execute("DROP EXTENSION hyperdist CASCADE")
        .unwrap();
}
