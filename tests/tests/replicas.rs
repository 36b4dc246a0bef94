//! Replicated chunks (replication_factor 2) while a data node is down.

use hyperdist_tests::{Cluster, StopMode, assert_same_results, db_error};
use postgres::Client;

const DB: &str = "metrics";

fn setup() -> (Cluster, Client) {
    let cluster = Cluster::start(3);
    cluster.create_database(DB);
    let mut an = cluster.access_node().connect_to(DB);
    cluster.add_data_nodes(&mut an, "dn", 3);
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
    let (cluster, mut an) = setup();
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
}
