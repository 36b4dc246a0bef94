//! show_chunks, drop_chunks and distributed_exec against real servers.

use hyperdist_tests::{Cluster, db_error};
use postgres::Client;

const DB: &str = "retention";

fn count(client: &mut Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}

fn names(client: &mut Client, sql: &str) -> Vec<String> {
    client
        .query(sql, &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Chunk tables that exist on each data node, by qualified name.
fn tables_on_nodes(cluster: &Cluster) -> Vec<Vec<String>> {
    cluster
        .data_nodes()
        .iter()
        .map(|dn| {
            names(
                &mut dn.connect_to(DB),
                "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables
                  WHERE schemaname = '_hyperdist_internal' ORDER BY 1",
            )
        })
        .collect()
}

/// What the access node says each data node holds.
fn placed_on_nodes(an: &mut Client, nodes: usize) -> Vec<Vec<String>> {
    (1..=nodes)
        .map(|i| {
            names(
                an,
                &format!(
                    "SELECT format('%I.%I', c.schema_name, c.table_name)
                       FROM _hyperdist_catalog.chunk c
                       JOIN _hyperdist_catalog.chunk_data_node r ON r.chunk_id = c.id
                      WHERE r.node_name = 'dn{i}' ORDER BY 1"
                ),
            )
        })
        .collect()
}

#[test]
fn drop_chunks_removes_exactly_the_older_chunks_on_every_replica() {
    let cluster = Cluster::start(3);
    let mut an = cluster.distributed_database(DB, "dn", 3);
    // Ten days of rows ending today, 1-day chunks (aligned to UTC days), two replicas each; the
    // same rows in a local table.
    an.batch_execute(
        "SET TimeZone = 'UTC';
         CREATE TABLE m (time timestamptz NOT NULL, host text NOT NULL, v int);
         SELECT create_distributed_hypertable('m', 'time', 'host', chunk_time_interval => interval '1 day',
                                              replication_factor => 2);
         CREATE TABLE local_m (time timestamptz NOT NULL, host text NOT NULL, v int);
         INSERT INTO local_m SELECT date_trunc('day', now()) - interval '9 days' + i * interval '10 minutes',
                                    'h' || (i % 11), i
                               FROM generate_series(0, 10 * 144 - 1) i;
         INSERT INTO m SELECT * FROM local_m;",
    )
    .unwrap();
    let all = count(&mut an, "SELECT count(*) FROM show_chunks('m')");
    assert_eq!(
        all,
        count(
            &mut an,
            "SELECT count(*) FROM timescaledb_information.chunks"
        )
    );
    assert!(all >= 10, "{all} chunks");
    assert_eq!(tables_on_nodes(&cluster), placed_on_nodes(&mut an, 3));

    // A bound by value: chunks wholly before it.
    let bound = "date_trunc('day', now()) - interval '6 days'";
    let expected = names(
        &mut an,
        &format!(
            "SELECT format('%I.%I', chunk_schema, chunk_name) FROM timescaledb_information.chunks
              WHERE range_end <= {bound} ORDER BY range_start, chunk_name"
        ),
    );
    assert!(!expected.is_empty());
    let shown = names(
        &mut an,
        &format!("SELECT * FROM show_chunks('m', older_than => {bound})"),
    );
    assert_eq!(shown.len(), expected.len());
    // In a transaction that rolls back, nothing goes.
    an.batch_execute(&format!(
        "BEGIN; SELECT drop_chunks('m', older_than => {bound}); ROLLBACK"
    ))
    .unwrap();
    assert_eq!(count(&mut an, "SELECT count(*) FROM m"), 1440);
    assert_eq!(tables_on_nodes(&cluster), placed_on_nodes(&mut an, 3));

    // A chunk creator that rolls back leaves an empty table on its data nodes (committed there
    // first); drop_chunks removes such stale tables too.
    an.batch_execute("BEGIN; INSERT INTO m VALUES (now() + interval '30 days', 'h1', 1); ROLLBACK")
        .unwrap();
    assert_ne!(tables_on_nodes(&cluster), placed_on_nodes(&mut an, 3));
    let mut dropped = names(
        &mut an,
        &format!("SELECT * FROM drop_chunks('m', older_than => {bound})"),
    );
    dropped.sort();
    let mut expected_sorted = expected.clone();
    expected_sorted.sort();
    assert_eq!(dropped, expected_sorted);
    assert_eq!(
        count(&mut an, "SELECT count(*) FROM m"),
        count(
            &mut an,
            &format!("SELECT count(*) FROM local_m WHERE time >= {bound}")
        )
    );
    assert_eq!(
        count(&mut an, "SELECT sum(v) FROM m").to_string(),
        an.query_one(
            &format!("SELECT sum(v)::bigint FROM local_m WHERE time >= {bound}"),
            &[]
        )
        .unwrap()
        .get::<_, i64>(0)
        .to_string()
    );
    let on_nodes = tables_on_nodes(&cluster);
    assert_eq!(on_nodes, placed_on_nodes(&mut an, 3));
    for table in &dropped {
        assert!(on_nodes.iter().all(|tables| !tables.contains(table)));
    }

    // An interval means "older than now() minus it"; newer_than keeps the older ones.
    let newer = names(
        &mut an,
        "SELECT * FROM show_chunks('m', newer_than => now() - interval '2 days')",
    );
    assert_eq!(
        newer.len() as i64,
        count(
            &mut an,
            "SELECT count(*) FROM timescaledb_information.chunks
              WHERE range_start >= now() - interval '2 days'"
        )
    );
    an.batch_execute("SELECT drop_chunks('m', older_than => interval '3 days')")
        .unwrap();
    assert_eq!(
        count(&mut an, "SELECT count(*) FROM m"),
        count(
            &mut an,
            "SELECT count(*) FROM local_m
              WHERE time >= date_bin('1 day', now() - interval '3 days', timestamptz '1970-01-01')"
        )
    );
    assert_eq!(tables_on_nodes(&cluster), placed_on_nodes(&mut an, 3));

    // Bad input: clear errors, nothing dropped.
    let before = count(&mut an, "SELECT count(*) FROM show_chunks('m')");
    for (sql, code, message) in [
        (
            "SELECT drop_chunks('m')",
            "22023",
            "invalid time range for dropping chunks",
        ),
        (
            "SELECT drop_chunks('m', older_than => 'x'::text)",
            "22023",
            "invalid time argument type \"text\"",
        ),
        (
            "SELECT drop_chunks('m', older_than => 5)",
            "22023",
            "invalid time argument type \"integer\"",
        ),
        (
            "SELECT drop_chunks('m', older_than => now() - interval '5 days', newer_than => now())",
            "22023",
            "older_than must be later than newer_than",
        ),
        (
            "SELECT drop_chunks('local_m', older_than => now())",
            "42704",
            "is not a hypertable",
        ),
        (
            "SELECT drop_chunks('m', created_before => now())",
            "0A000",
            "created_before",
        ),
    ] {
        let err = db_error(an.batch_execute(sql));
        assert_eq!(err.code().code(), code, "{sql}: {err:?}");
        assert!(err.message().contains(message), "{sql}: {err:?}");
        assert!(err.hint().is_some(), "{sql}: {err:?}");
    }
    // A replica on an unavailable node stops the drop.
    an.batch_execute("SELECT alter_data_node('dn1', available => false)")
        .unwrap();
    let err = db_error(
        an.batch_execute("SELECT drop_chunks('m', older_than => now() + interval '1 day')"),
    );
    assert_eq!(
        err.message(),
        "some data nodes are not available for DDL commands"
    );
    an.batch_execute("SELECT alter_data_node('dn1', available => true)")
        .unwrap();
    assert_eq!(
        count(&mut an, "SELECT count(*) FROM show_chunks('m')"),
        before
    );

    // Integer time: integer bounds.
    an.batch_execute(
        "CREATE TABLE n (t bigint NOT NULL, v int);
         SELECT create_distributed_hypertable('n', 't', chunk_time_interval => 10);
         INSERT INTO n SELECT i, i FROM generate_series(0, 99) i;",
    )
    .unwrap();
    assert_eq!(
        names(&mut an, "SELECT * FROM drop_chunks('n', older_than => 30)").len(),
        3
    );
    assert_eq!(count(&mut an, "SELECT min(t) FROM n"), 30);
    let err = db_error(an.batch_execute("SELECT drop_chunks('n', older_than => interval '1 day')"));
    assert_eq!(err.code().code(), "22023", "{err:?}");
}

#[test]
fn distributed_exec_runs_on_the_chosen_nodes_atomically() {
    let cluster = Cluster::start(2);
    let mut an = cluster.distributed_database(DB, "dn", 2);
    let exists_on = |cluster: &Cluster, table: &str| -> Vec<bool> {
        cluster
            .data_nodes()
            .iter()
            .map(|dn| {
                dn.connect_to(DB)
                    .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
                    .unwrap()
                    .get(0)
            })
            .collect()
    };
    an.batch_execute("CREATE SCHEMA s; SET search_path = s, public; CALL distributed_exec('CREATE SCHEMA s; CREATE TABLE t1 (x int)')")
        .unwrap();
    assert_eq!(
        exists_on(&cluster, "s.t1"),
        vec![true, true],
        "the access node's search_path applies"
    );
    an.batch_execute(
        "CALL distributed_exec('CREATE TABLE public.t2 (x int)', node_list => '{dn1}')",
    )
    .unwrap();
    assert_eq!(exists_on(&cluster, "public.t2"), vec![true, false]);

    // Fails on dn1 (t2 exists there): nothing happens on dn2 either.
    let err = db_error(an.batch_execute(
        "CALL distributed_exec('CREATE TABLE public.t3 (x int); CREATE TABLE public.t2 (x int)', node_list => '{dn2,dn1}')",
    ));
    assert_eq!(err.code().code(), "42P07", "{err:?}");
    assert!(err.message().starts_with("[dn1]: "), "{err:?}");
    assert_eq!(exists_on(&cluster, "public.t3"), vec![false, false]);
    // Part of the caller's transaction.
    an.batch_execute("BEGIN; CALL distributed_exec('CREATE TABLE public.t4 (x int)'); ROLLBACK")
        .unwrap();
    assert_eq!(exists_on(&cluster, "public.t4"), vec![false, false]);

    // Non-transactional: for what cannot run in a transaction block, and only outside one.
    an.batch_execute("CALL distributed_exec('CREATE DATABASE extra', transactional => false)")
        .unwrap();
    for dn in cluster.data_nodes() {
        assert!(dn.try_connect("extra").is_ok());
    }
    let err = db_error(
        an.batch_execute("BEGIN; CALL distributed_exec('VACUUM', transactional => false)"),
    );
    an.batch_execute("ROLLBACK").unwrap();
    assert_eq!(err.code().code(), "25001", "{err:?}");

    for (sql, message, detail) in [
        ("CALL distributed_exec(NULL)", "empty command string", None),
        (
            "CALL distributed_exec('SELECT 1', '{}')",
            "invalid data nodes list",
            Some("cannot be empty"),
        ),
        (
            "CALL distributed_exec('SELECT 1', '{dn1,NULL}')",
            "invalid data nodes list",
            Some("null values"),
        ),
        (
            "CALL distributed_exec('SELECT 1', '{{dn1},{dn2}}')",
            "invalid data nodes list",
            Some("multi-dimensional"),
        ),
        (
            "CALL distributed_exec('SELECT 1', '{nosuch}')",
            "server \"nosuch\" does not exist",
            None,
        ),
    ] {
        let err = db_error(an.batch_execute(sql));
        assert!(err.message().contains(message), "{sql}: {err:?}");
        if let Some(detail) = detail {
            assert!(
                err.detail().unwrap_or_default().contains(detail),
                "{sql}: {err:?}"
            );
        }
    }
    let err = db_error(
        cluster.data_nodes()[0]
            .connect_to(DB)
            .batch_execute("CALL distributed_exec('SELECT 1')"),
    );
    assert_eq!(
        err.message(),
        "function must be run on the access node only"
    );
}
