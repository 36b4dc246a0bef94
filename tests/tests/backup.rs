//! pg_dump and pg_restore of the access node: the restored database knows its data nodes,
//! hypertables and chunks, answers the differential corpus as before, and keeps working.

use hyperdist_tests::corpus::{CONDITIONS, CORPUS};
use hyperdist_tests::{Cluster, assert_same_results};
use postgres::Client;

const DB: &str = "metrics";

fn text(client: &mut Client, sql: &str) -> String {
    client.query_one(sql, &[]).unwrap().get(0)
}

const METADATA: &str = "SELECT concat_ws(' | ',
        (SELECT string_agg(key || '=' || value, ',' ORDER BY key) FROM _hyperdist_catalog.metadata),
        (SELECT string_agg(format('%s %s %s', id, schema_name, table_name), ',' ORDER BY id) FROM _hyperdist_catalog.hypertable),
        (SELECT count(*) FROM _hyperdist_catalog.chunk)::text,
        (SELECT count(*) FROM _hyperdist_catalog.chunk_data_node)::text,
        (SELECT string_agg(index_name, ',' ORDER BY index_name) FROM _hyperdist_catalog.hypertable_index),
        (SELECT string_agg(node_name, ',' ORDER BY node_name) FROM timescaledb_information.data_nodes))";

#[test]
fn a_restored_access_node_answers_the_corpus_as_before() {
    let cluster = Cluster::start(3);
    let mut an = cluster.distributed_database(DB, "dn", 3);
    an.batch_execute(CONDITIONS).unwrap();
    an.batch_execute(
        "CREATE INDEX conditions_reading_idx ON conditions (reading);
         COMMENT ON TABLE conditions IS 'kept';
         ANALYZE conditions;",
    )
    .unwrap();
    let before = text(&mut an, METADATA);
    drop(an);

    let file = std::env::temp_dir().join(format!("hyperdist-backup-{}.dump", std::process::id()));
    let file = file.to_str().unwrap();
    let access_node = cluster.access_node();
    access_node
        .run_tool("pg_dump", &["-Fc", "-d", DB, "-f", file])
        .unwrap();
    // The data nodes keep their rows; the access node starts from nothing but the dump.
    let mut admin = access_node.connect();
    admin
        .batch_execute(&format!("DROP DATABASE {DB} WITH (FORCE)"))
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {DB}"))
        .unwrap();
    let restored = access_node.run_tool("pg_restore", &["--exit-on-error", "-d", DB, file]);
    std::fs::remove_file(file).ok();
    restored.unwrap();

    let mut an = access_node.connect_to(DB);
    assert_eq!(text(&mut an, METADATA), before);
    assert_eq!(
        text(&mut an, "SELECT obj_description('conditions'::regclass)"),
        "kept"
    );
    for query in CORPUS {
        assert_same_results(&mut an, query, "conditions", "local_conditions");
    }
    // New rows make new chunks (ids continue where they were); DDL still reaches the nodes.
    an.batch_execute(
        "INSERT INTO local_conditions (time, location, reading)
         SELECT '2024-04-01'::timestamptz + i * interval '1 minute', 'loc' || (i % 37), i
           FROM generate_series(1, 5000) i;
         INSERT INTO conditions SELECT * FROM local_conditions WHERE time >= '2024-04-01';
         ALTER TABLE conditions ADD COLUMN extra int;",
    )
    .unwrap();
    assert_same_results(
        &mut an,
        "SELECT location, count(*), sum(reading) FROM {t} GROUP BY location ORDER BY location",
        "conditions",
        "local_conditions",
    );
}
