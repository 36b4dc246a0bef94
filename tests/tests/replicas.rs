//! Replicated chunks (replication_factor 2) while a data node is down.

use hyperdist_tests::{Cluster, StopMode, assert_same_results, db_error};
use postgres::Client;

const DB: &str = "metrics";

fn setup() -> (Cluster, Client) {
    let cluster = Cluster::start(3);
    let mut an = cluster.distributed_database(DB, "dn", 3);
    an.batch_execute(
        "CREATE TABLE dist (time timestamptz NOT NULL, host text NOT NULL, cpu float8, n bigint);
         CREATE TABLE local (LIKE dist);
         SELECT create_distributed_hypertable('dist', 'time', 'host', replication_factor => 2,
                                              chunk_time_interval => interval '1 day');
         INSERT INTO local SELECT '2024-01-01'::timestamptz + i * interval '5 minutes', 'h' || (i % 17), (i % 100) / 7.0, i
                             FROM generate_series(1, 5000) i;
         INSERT INTO dist SELECT * FROM local;",
    )
    .unwrap();
    (cluster, an)
}

const CORPUS: &[&str] = &[
    "SELECT * FROM {t} ORDER BY time, host",
    "SELECT host, count(*), sum(n), max(cpu) FROM {t} GROUP BY host ORDER BY host",
    "SELECT date_trunc('day', time) d, avg(cpu)::numeric(20,10) FROM {t} GROUP BY d ORDER BY d",
    "SELECT * FROM {t} WHERE host IN ('h1', 'h2') AND n % 3 = 0 ORDER BY n",
    "SELECT count(DISTINCT host), min(time), max(time) FROM {t}",
];

fn corpus_matches(an: &mut Client) {
    for query in CORPUS {
        assert_same_results(an, query, "dist", "local");
    }
}

#[test]
fn reads_survive_a_down_node_and_writes_fail_clearly_until_it_is_marked_unavailable() {
    let (mut cluster, mut an) = setup();
    corpus_matches(&mut an);
    cluster.data_nodes()[1].stop(StopMode::Immediate).unwrap();
    // New sessions and the same one: every query is answered from the live replicas.
    corpus_matches(&mut an);
    let mut other = cluster.access_node().connect_to(DB);
    corpus_matches(&mut other);

    // A write into a chunk with a replica on the down node fails, naming it.
    let err = db_error(an.execute(
        "INSERT INTO dist SELECT '2024-01-02'::timestamptz + i * interval '1 minute', 'h' || i, 0, 0
           FROM generate_series(1, 50) i",
        &[],
    ));
    assert_eq!(err.code().code(), "08001");
    assert_eq!(err.message(), "could not connect to \"dn2\"");

    // Marked unavailable: writes go to the other replicas, new chunks avoid the node, and the
    // chunks that lost their dn2 replica show it.
    an.query(
        "SELECT * FROM alter_data_node('dn2', available => false)",
        &[],
    )
    .unwrap();
    let rows = an
        .execute(
            "INSERT INTO dist SELECT '2024-01-02'::timestamptz + i * interval '1 minute', 'h' || i, 0, 0
               FROM generate_series(1, 50) i",
            &[],
        )
        .unwrap();
    assert_eq!(rows, 50);
    an.execute(
        "INSERT INTO local SELECT '2024-01-02'::timestamptz + i * interval '1 minute', 'h' || i, 0, 0
           FROM generate_series(1, 50) i",
        &[],
    )
    .unwrap();
    an.execute("INSERT INTO dist VALUES ('2030-01-01', 'new', 1, 1)", &[])
        .unwrap();
    an.execute("INSERT INTO local VALUES ('2030-01-01', 'new', 1, 1)", &[])
        .unwrap();
    corpus_matches(&mut an);
    let on_dn2: i64 = an
        .query_one(
            "SELECT count(*) FROM timescaledb_information.chunks WHERE 'dn2' = ANY(data_nodes)
                AND range_start >= '2030-01-01'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(on_dn2, 0, "new chunks avoid the unavailable node");
    let under: i64 = an
        .query_one(
            "SELECT count(*) FROM timescaledb_information.chunks WHERE cardinality(data_nodes) < 2",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        under > 0,
        "written chunks that lost their dn2 replica are under-replicated"
    );

    // Back and available again: the tables of the replicas dropped meanwhile go; copy_chunk
    // re-creates each missing replica from a live one, as chunk_replication_status suggests.
    cluster.data_node_mut(1).start().unwrap();
    let stale = |cluster: &Cluster| -> i64 {
        cluster.data_nodes()[1]
            .connect_to(DB)
            .query_one(
                "SELECT count(*) FROM pg_tables WHERE schemaname = '_hyperdist_internal'",
                &[],
            )
            .unwrap()
            .get(0)
    };
    let held_while_away = stale(&cluster);
    an.query(
        "SELECT * FROM alter_data_node('dn2', available => true)",
        &[],
    )
    .unwrap();
    let placed_on_dn2: i64 = an
        .query_one(
            "SELECT count(*) FROM _hyperdist_catalog.chunk_data_node WHERE node_name = 'dn2'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(stale(&cluster), placed_on_dn2);
    assert!(
        held_while_away > placed_on_dn2,
        "{held_while_away} tables on dn2 before"
    );
    let repairs = an
        .query(
            "SELECT format('%I.%I', chunk_schema, chunk_name), replica_nodes[1],
                    'dn2' = ANY(non_replica_nodes)
               FROM timescaledb_experimental.chunk_replication_status
              WHERE num_replicas < desired_num_replicas",
            &[],
        )
        .unwrap();
    assert_eq!(repairs.len() as i64, under);
    for repair in &repairs {
        let (chunk, from, lost_dn2): (String, String, bool) =
            (repair.get(0), repair.get(1), repair.get(2));
        assert!(lost_dn2, "{chunk} is missing its dn2 replica");
        an.execute(
            "CALL timescaledb_experimental.copy_chunk($1, $2, 'dn2')",
            &[&chunk, &from],
        )
        .unwrap();
    }
    let still_under: i64 = an
        .query_one(
            "SELECT count(*) FROM timescaledb_experimental.chunk_replication_status
              WHERE num_replicas < desired_num_replicas",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(still_under, 0);
    replicas_hold_the_same_rows(&cluster, &mut an);
    // The repaired replicas are whole: with another node down, reads use them.
    cluster.data_nodes()[0].stop(StopMode::Immediate).unwrap();
    corpus_matches(&mut an);
}

/// The first chunk by name, one node that holds it and one that does not.
fn first_chunk(an: &mut Client) -> (String, String, String) {
    let row = an
        .query_one(
            "SELECT format('%I.%I', chunk_schema, chunk_name), replica_nodes[1], non_replica_nodes[1]
               FROM timescaledb_experimental.chunk_replication_status ORDER BY chunk_name LIMIT 1",
            &[],
        )
        .unwrap();
    (row.get(0), row.get(1), row.get(2))
}

/// Each chunk's rows, as (count, sum of n) on every node the catalog says holds a replica.
fn replicas_hold_the_same_rows(cluster: &Cluster, an: &mut Client) {
    let chunks = an
        .query(
            "SELECT format('%I.%I', chunk_schema, chunk_name), replica_nodes
               FROM timescaledb_experimental.chunk_replication_status",
            &[],
        )
        .unwrap();
    assert!(!chunks.is_empty());
    for chunk in chunks {
        let (name, nodes): (String, Vec<String>) = (chunk.get(0), chunk.get(1));
        let contents: Vec<Option<(i64, String)>> = nodes
            .iter()
            .map(|node| chunk_contents(cluster, node, &name))
            .collect();
        assert!(contents.len() >= 2, "{name} has two replicas or more");
        assert!(contents[0].is_some(), "{name} exists on {}", nodes[0]);
        assert!(
            contents.iter().all(|c| *c == contents[0]),
            "replicas of {name} on {nodes:?}: {contents:?}"
        );
    }
}

/// (count, sum of n) of the chunk table on data node `node` (`dnN`), `None` if it has none.
fn chunk_contents(cluster: &Cluster, node: &str, chunk: &str) -> Option<(i64, String)> {
    let index: usize = node.trim_start_matches("dn").parse::<usize>().unwrap() - 1;
    let mut client = cluster.data_nodes()[index].connect_to(DB);
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&chunk])
        .unwrap()
        .get(0);
    exists.then(|| {
        let row = client
            .query_one(
                &format!("SELECT count(*), coalesce(sum(n), 0)::text FROM ONLY {chunk}"),
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    })
}

#[test]
fn move_chunk_moves_a_replica_and_bad_requests_are_refused() {
    let (cluster, mut an) = setup();
    let (chunk, from, to) = first_chunk(&mut an);
    let rows_in = |node: &str| chunk_contents(&cluster, node, &chunk);
    let before = rows_in(&from).expect("the source holds the chunk");
    assert!(before.0 > 0);
    assert_eq!(rows_in(&to), None);

    an.execute(
        "CALL timescaledb_experimental.move_chunk($1, source_node => $2, destination_node => $3)",
        &[&chunk, &from, &to],
    )
    .unwrap();
    assert_eq!(rows_in(&from), None, "the source replica is dropped");
    assert_eq!(rows_in(&to), Some(before.clone()));
    let replicas: Vec<String> = an
        .query_one(
            "SELECT replica_nodes::text[] FROM timescaledb_experimental.chunk_replication_status
              WHERE format('%I.%I', chunk_schema, chunk_name) = $1",
            &[&chunk],
        )
        .unwrap()
        .get(0);
    assert!(replicas.contains(&to) && !replicas.contains(&from));
    corpus_matches(&mut an);

    // Bad requests: each refused with its own error, nothing changed.
    let other = replicas.iter().find(|n| **n != to).unwrap().clone();
    let refused = |an: &mut Client, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]| {
        let err = db_error(an.execute(sql, params));
        (err.code().code().to_string(), err.message().to_string())
    };
    assert_eq!(
        refused(
            &mut an,
            "CALL timescaledb_experimental.copy_chunk($1, $2, $2)",
            &[&chunk, &to]
        ),
        (
            "42704".into(),
            "source and destination data node match".into()
        )
    );
    assert_eq!(
        refused(
            &mut an,
            "CALL timescaledb_experimental.copy_chunk($1, $2, $3)",
            &[&chunk, &from, &to]
        ),
        (
            "42704".into(),
            format!("chunk \"{chunk}\" does not exist on source data node \"{from}\"")
        )
    );
    assert_eq!(
        refused(
            &mut an,
            "CALL timescaledb_experimental.copy_chunk($1, $2, $3)",
            &[&chunk, &to, &other]
        ),
        (
            "42710".into(),
            format!("chunk \"{chunk}\" already exists on destination data node \"{other}\"")
        )
    );
    assert_eq!(
        refused(
            &mut an,
            "CALL timescaledb_experimental.copy_chunk('public.no_such_chunk', 'dn1', 'dn2')",
            &[]
        ),
        (
            "22023".into(),
            "\"public.no_such_chunk\" is not a valid remote chunk".into()
        )
    );
    assert_eq!(
        refused(
            &mut an,
            "CALL timescaledb_experimental.copy_chunk($1, NULL, 'dn2')",
            &[&chunk]
        ),
        ("22023".into(), "invalid source or destination node".into())
    );
    assert_eq!(
        refused(
            &mut an,
            "CALL timescaledb_experimental.copy_chunk($1, $2, $3, 'Bad-Id')",
            &[&chunk, &to, &from]
        ),
        (
            "42602".into(),
            "operation_id name \"Bad-Id\" is not valid".into()
        )
    );
    an.batch_execute("BEGIN").unwrap();
    assert_eq!(
        refused(
            &mut an,
            "CALL timescaledb_experimental.copy_chunk($1, $2, $3)",
            &[&chunk, &to, &from]
        ),
        (
            "25001".into(),
            "copy_chunk cannot run inside a transaction block".into()
        )
    );
    an.batch_execute("ROLLBACK").unwrap();
    assert_eq!(rows_in(&from), None);
    assert_eq!(rows_in(&to), Some(before.clone()));

    // UPDATE and DELETE change every replica alike, and count each row once.
    for statement in [
        "UPDATE {t} SET n = n + 1, cpu = cpu * 2 WHERE host IN ('h1', 'h2', 'h3')",
        "DELETE FROM {t} WHERE n % 7 = 0",
    ] {
        let changed = an.execute(&statement.replace("{t}", "dist"), &[]).unwrap();
        let expected = an.execute(&statement.replace("{t}", "local"), &[]).unwrap();
        assert_eq!(changed, expected, "{statement}");
        assert!(changed > 0);
    }
    replicas_hold_the_same_rows(&cluster, &mut an);
    corpus_matches(&mut an);
}

#[test]
fn copy_chunk_waits_for_a_concurrent_write_and_copies_it() {
    let (cluster, mut an) = setup();
    let (chunk, from, to) = first_chunk(&mut an);
    // A writer adds a row to that chunk (a twin of one it holds) and keeps its transaction open.
    let index: usize = from.trim_start_matches("dn").parse::<usize>().unwrap() - 1;
    let (time, host): (String, String) = {
        let row = cluster.data_nodes()[index]
            .connect_to(DB)
            .query_one(
                &format!("SELECT time::text, host FROM ONLY {chunk} LIMIT 1"),
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    let mut writer = cluster.access_node().connect_to(DB);
    writer.batch_execute("BEGIN").unwrap();
    writer
        .execute(
            "INSERT INTO dist VALUES ($1::text::timestamptz, $2, 0, 1000000)",
            &[&time, &host],
        )
        .unwrap();

    let copier = {
        let mut client = cluster.access_node().connect_to(DB);
        let (chunk, from, to) = (chunk.clone(), from.clone(), to.clone());
        std::thread::spawn(move || {
            client.execute(
                "CALL timescaledb_experimental.copy_chunk($1, $2, $3)",
                &[&chunk, &from, &to],
            )
        })
    };
    // The copy waits for the writer's lock on the hypertable.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let waiting: i64 = an
            .query_one(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'dist'::regclass",
                &[],
            )
            .unwrap()
            .get(0);
        if waiting > 0 {
            break;
        }
        assert!(
            !copier.is_finished(),
            "copy_chunk did not wait for the writer"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "copy_chunk never waited"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    writer.batch_execute("COMMIT").unwrap();
    copier.join().unwrap().unwrap();

    let on_source = chunk_contents(&cluster, &from, &chunk).unwrap();
    assert_eq!(
        chunk_contents(&cluster, &to, &chunk),
        Some(on_source.clone())
    );
    assert!(
        on_source.1.parse::<i64>().unwrap() >= 1_000_000,
        "the writer's row was copied"
    );
    replicas_hold_the_same_rows(&cluster, &mut an);
}
