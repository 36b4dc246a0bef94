//! Data nodes: add_data_node, delete_data_node, alter_data_node and the data_nodes view, against
//! real servers.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use hyperdist_tests::{Cluster, Notices, Server, StopMode, db_error};
use postgres::Client;

const DB: &str = "metrics";

/// A cluster whose access node has a `metrics` database with hyperdist in it (data nodes untouched).
struct Fixture {
    cluster: Cluster,
    an: Client,
    notices: Notices,
}

fn setup(data_nodes: usize) -> Fixture {
    let cluster = Cluster::start(data_nodes);
    cluster.create_database(DB);
    let (an, notices) = cluster.access_node().connect_with_notices(DB);
    Fixture {
        cluster,
        an,
        notices,
    }
}

fn add(an: &mut Client, name: &str, server: &Server) -> Result<postgres::Row, postgres::Error> {
    an.query_one(
        "SELECT * FROM add_data_node($1, host => '127.0.0.1', port => $2)",
        &[&name, &i32::from(server.port())],
    )
}

fn server_count(an: &mut Client) -> i64 {
    an.query_one(
        "SELECT count(*) FROM pg_foreign_server WHERE srvname <> '_hyperdist_distributed'",
        &[],
    )
    .unwrap()
    .get(0)
}

/// How many databases called `name` the server has (0 or 1).
fn databases_named(server: &Server, name: &str) -> i64 {
    server
        .connect()
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .unwrap()
        .get(0)
}

/// A port where nothing listens (bound a moment ago, then released).
fn closed_port() -> i32 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    i32::from(listener.local_addr().unwrap().port())
}

#[test]
fn seed_example_adds_nodes_and_lists_them() {
    let mut f = setup(3);
    for (i, server) in f.cluster.data_nodes().iter().enumerate() {
        let name = format!("node{}", i + 1);
        let row = add(&mut f.an, &name, server).unwrap();
        assert_eq!(row.get::<_, String>("node_name"), name);
        assert_eq!(row.get::<_, String>("host"), "127.0.0.1");
        assert_eq!(row.get::<_, i32>("port"), i32::from(server.port()));
        assert_eq!(
            row.get::<_, String>("database"),
            DB,
            "defaults to the access node's database"
        );
        assert!(row.get::<_, bool>("node_created"));
        assert!(row.get::<_, bool>("database_created"));
        assert!(row.get::<_, bool>("extension_created"));
    }

    // The view has the seed's seven columns, in order, with their types.
    let columns: Vec<(String, String)> =
        f.an.query(
            "SELECT attname::text, atttypid::regtype::text FROM pg_attribute
              WHERE attrelid = 'timescaledb_information.data_nodes'::regclass AND attnum > 0
              ORDER BY attnum",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let expected = [
        ("node_name", "name"),
        ("owner", "regrole"),
        ("options", "text[]"),
        ("node_up", "boolean"),
        ("num_dist_tables", "bigint"),
        ("num_dist_chunks", "numeric"),
        ("total_dist_size", "text"),
    ];
    assert_eq!(
        columns,
        expected
            .map(|(n, t)| (n.to_string(), t.to_string()))
            .to_vec()
    );

    let rows =
        f.an.query(
            "SELECT node_name::text, owner::text, options, node_up, num_dist_tables,
                    num_dist_chunks::text, total_dist_size
               FROM timescaledb_information.data_nodes ORDER BY node_name",
            &[],
        )
        .unwrap();
    assert_eq!(rows.len(), 3);
    for (row, server) in rows.iter().zip(f.cluster.data_nodes()) {
        let options: Vec<String> = row.get(2);
        assert_eq!(row.get::<_, String>(1), "postgres");
        assert_eq!(
            options,
            vec![
                "host=127.0.0.1".to_string(),
                format!("port={}", server.port()),
                format!("dbname={DB}")
            ]
        );
        assert!(row.get::<_, bool>(3), "node_up");
        assert_eq!(row.get::<_, i64>(4), 0);
        assert_eq!(row.get::<_, String>(5), "0");
        assert!(
            row.get::<_, Option<String>>(6).is_some(),
            "a live node has a size"
        );
    }

    // Each data node now has the database, the extension, and this access node's stamp.
    let an_uuid: String =
        f.an.query_one(
            "SELECT value FROM _hyperdist_catalog.metadata WHERE key = 'uuid'",
            &[],
        )
        .unwrap()
        .get(0);
    let an_dist: String =
        f.an.query_one(
            "SELECT value FROM _hyperdist_catalog.metadata WHERE key = 'dist_uuid'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(an_dist, an_uuid, "the access node marks itself");
    for server in f.cluster.data_nodes() {
        let mut dn = server.connect_to(DB);
        let stamp: String = dn
            .query_one(
                "SELECT value FROM _hyperdist_catalog.metadata WHERE key = 'dist_uuid'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(
            stamp,
            an_uuid,
            "{} is stamped with the access node's id",
            server.name()
        );
    }
}

#[test]
fn seed_calls_verbatim() {
    let mut f = setup(1);
    let port = i32::from(f.cluster.data_nodes()[0].port());
    let added: String =
        f.an.query_one(
            &format!("SELECT add_data_node('node1', host => '127.0.0.1', port => {port})::text"),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(added, format!("(node1,127.0.0.1,{port},{DB},t,t,t)"));
    let deleted: bool =
        f.an.query_one("SELECT delete_data_node('node1')", &[])
            .unwrap()
            .get(0);
    assert!(deleted);
    assert_eq!(server_count(&mut f.an), 0);
}

#[test]
fn passwords_are_used_and_a_wrong_one_is_refused() {
    let mut f = setup(1);
    let dn = &f.cluster.data_nodes()[0];
    dn.connect()
        .batch_execute("CREATE ROLE alice LOGIN SUPERUSER PASSWORD 'right'")
        .unwrap();
    dn.prepend_hba("host all alice 127.0.0.1/32 scram-sha-256")
        .unwrap();
    f.an.batch_execute("CREATE ROLE alice SUPERUSER; SET ROLE alice")
        .unwrap();

    let add = |an: &mut Client, password: &str| {
        an.query(
            "SELECT * FROM add_data_node('dn1', host => '127.0.0.1', port => $1, password => $2)",
            &[&i32::from(dn.port()), &password],
        )
    };
    let started = Instant::now();
    let err = db_error(add(&mut f.an, "wrong"));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(err.code().code(), "08001");
    assert_eq!(err.message(), "could not connect to \"dn1\"");
    assert!(
        err.detail()
            .unwrap()
            .contains("password authentication failed for user \"alice\""),
        "{err:?}"
    );
    assert_eq!(server_count(&mut f.an), 0);
    let dbs = databases_named(dn, DB);
    assert_eq!(dbs, 0, "no remote database was created");

    add(&mut f.an, "right").unwrap();
    let up: bool =
        f.an.query_one(
            "SELECT node_up FROM timescaledb_information.data_nodes",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        up,
        "the stored user mapping carries the password for later sessions"
    );
}

#[test]
fn existing_database_and_extension_are_reused() {
    let mut f = setup(1);
    let dn = &f.cluster.data_nodes()[0];
    dn.connect()
        .batch_execute(&format!("CREATE DATABASE {DB}"))
        .unwrap();
    dn.connect_to(DB)
        .batch_execute("CREATE EXTENSION hyperdist")
        .unwrap();
    let row = add(&mut f.an, "dn1", dn).unwrap();
    assert!(row.get::<_, bool>("node_created"));
    assert!(!row.get::<_, bool>("database_created"));
    assert!(!row.get::<_, bool>("extension_created"));
    let notices: Vec<String> = f
        .notices
        .take()
        .into_iter()
        .map(|n| n.message().to_string())
        .collect();
    assert!(
        notices.contains(&format!(
            "database \"{DB}\" already exists on data node, skipping"
        )),
        "{notices:?}"
    );
    assert!(
        notices
            .contains(&"extension \"hyperdist\" already exists on data node, skipping".to_string()),
        "{notices:?}"
    );

    // Adding it again: refused, or skipped with if_not_exists.
    let err = db_error(add(&mut f.an, "dn1", dn));
    assert_eq!(err.code().code(), "42710");
    assert_eq!(err.message(), "server \"dn1\" already exists");
    let row = f
        .an
        .query_one(
            "SELECT * FROM add_data_node('dn1', host => '127.0.0.1', port => $1, if_not_exists => true)",
            &[&i32::from(dn.port())],
        )
        .unwrap();
    assert!(!row.get::<_, bool>("node_created"));
    assert!(
        f.notices
            .take()
            .iter()
            .any(|n| n.message() == "data node \"dn1\" already exists, skipping")
    );
}

#[test]
fn bad_arguments_get_clear_errors_and_leave_nothing_behind() {
    let mut f = setup(1);
    let port = i32::from(f.cluster.data_nodes()[0].port());

    let err = db_error(f.an.query("SELECT add_data_node('dn1', host => NULL)", &[]));
    assert_eq!(
        (err.code().code(), err.message()),
        ("22023", "a host needs to be specified")
    );
    assert_eq!(
        err.hint(),
        Some("Provide a host name or IP address of a data node to add.")
    );

    let err = db_error(f.an.query("SELECT add_data_node(NULL, host => 'localhost')", &[]));
    assert_eq!(
        (err.code().code(), err.message()),
        ("22023", "data node name cannot be NULL")
    );

    for bad in [0, 70000, -1] {
        let err = db_error(f.an.query(
            "SELECT add_data_node('dn1', host => '127.0.0.1', port => $1)",
            &[&bad],
        ));
        assert_eq!(err.code().code(), "22023");
        assert_eq!(err.message(), format!("invalid port number {bad}"));
        assert_eq!(
            err.hint(),
            Some("The port number must be between 1 and 65535.")
        );
    }

    // Unreachable: a clear error naming the node, and no server left registered.
    let err = db_error(f.an.query(
        "SELECT add_data_node('dn1', host => '127.0.0.1', port => $1)",
        &[&closed_port()],
    ));
    assert_eq!(err.code().code(), "08001");
    assert_eq!(err.message(), "could not connect to \"dn1\"");
    assert!(err.hint().is_some());
    assert_eq!(
        server_count(&mut f.an),
        0,
        "a failed add leaves no server behind"
    );

    // Bootstrapping creates a remote database, which no transaction can take back.
    f.an.batch_execute("BEGIN").unwrap();
    let err = db_error(f.an.query(
        "SELECT add_data_node('dn1', host => '127.0.0.1', port => $1)",
        &[&port],
    ));
    assert_eq!(err.code().code(), "25001");
    assert_eq!(
        err.message(),
        "add_data_node() cannot run inside a transaction block"
    );
    f.an.batch_execute("ROLLBACK").unwrap();

    // Without bootstrap it may run in a transaction; the database must then exist already, with
    // the extension.
    f.an.batch_execute("BEGIN").unwrap();
    let err = db_error(f.an.query(
        "SELECT add_data_node('dn1', host => '127.0.0.1', port => $1, bootstrap => false)",
        &[&port],
    ));
    assert_eq!(err.code().code(), "08001", "{err:?}");
    assert!(
        err.detail()
            .unwrap()
            .contains("database \"metrics\" does not exist"),
        "{err:?}"
    );
    f.an.batch_execute("ROLLBACK").unwrap();
    let dn = &f.cluster.data_nodes()[0];
    dn.connect()
        .batch_execute(&format!("CREATE DATABASE {DB}"))
        .unwrap();
    let err = db_error(f.an.query(
        "SELECT add_data_node('dn1', host => '127.0.0.1', port => $1, bootstrap => false)",
        &[&port],
    ));
    assert_eq!(err.code().code(), "TS174", "{err:?}");
    assert_eq!(
        err.message(),
        "database does not have hyperdist extension loaded"
    );
    assert_eq!(server_count(&mut f.an), 0);

    dn.connect_to(DB)
        .batch_execute("CREATE EXTENSION hyperdist")
        .unwrap();
    f.an.batch_execute("BEGIN").unwrap();
    let row = f
        .an
        .query_one(
            "SELECT * FROM add_data_node('dn1', host => '127.0.0.1', port => $1, bootstrap => false)",
            &[&port],
        )
        .unwrap();
    assert!(row.get::<_, bool>("node_created"));
    assert!(!row.get::<_, bool>("extension_created"));
    f.an.batch_execute("COMMIT").unwrap();
    assert_eq!(server_count(&mut f.an), 1);
}

#[test]
fn black_hole_node_is_bounded_by_connect_timeout_and_statement_timeout() {
    let mut f = setup(0);
    // Accepts TCP connections (the kernel does) but never answers them.
    let black_hole = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = i32::from(black_hole.local_addr().unwrap().port());

    // How adding it fails, and how long that took.
    let add_hole = |an: &mut Client| {
        let started = Instant::now();
        let err = db_error(an.query(
            "SELECT add_data_node('hole', host => '127.0.0.1', port => $1)",
            &[&port],
        ));
        (err, started.elapsed())
    };

    f.an.batch_execute("SET hyperdist.connect_timeout = '700ms'")
        .unwrap();
    let (err, waited) = add_hole(&mut f.an);
    assert_eq!(err.code().code(), "08001");
    assert_eq!(err.message(), "could not connect to \"hole\"");
    assert!(
        err.detail().unwrap_or_default().contains("700 ms"),
        "{err:?}"
    );
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");

    // A query cancel (here: statement_timeout) ends the wait long before the connect timeout.
    f.an.batch_execute("SET hyperdist.connect_timeout = '60s'; SET statement_timeout = '300ms'")
        .unwrap();
    let (err, waited) = add_hole(&mut f.an);
    assert_eq!(err.code().code(), "57014");
    assert_eq!(
        err.message(),
        "canceling statement due to statement timeout"
    );
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");
    f.an.batch_execute("RESET statement_timeout").unwrap();
    assert_eq!(server_count(&mut f.an), 0);
    // The backend is fine afterwards.
    let one: i32 = f.an.query_one("SELECT 1", &[]).unwrap().get(0);
    assert_eq!(one, 1);
}

#[test]
fn a_data_node_serves_one_access_node() {
    let mut f = setup(2);
    let (shared, other_an) = (&f.cluster.data_nodes()[0], &f.cluster.data_nodes()[1]);
    add(&mut f.an, "dn1", shared).unwrap();

    // A second access node (another server with its own metrics database) may not take it.
    other_an
        .connect()
        .batch_execute(&format!("CREATE DATABASE {DB}"))
        .unwrap();
    let mut second = other_an.connect_to(DB);
    second.batch_execute("CREATE EXTENSION hyperdist").unwrap();
    let err = db_error(add(&mut second, "taken", shared));
    assert_eq!(err.code().code(), "TS171", "{err:?}");
    assert_eq!(
        err.message(),
        "[taken]: database is already a member of a distributed database"
    );
    assert!(err.hint().is_some());

    // An access node may not become a data node, nor add itself.
    let err = db_error(add(&mut second, "an", f.cluster.access_node()));
    assert_eq!(err.code().code(), "TS174", "{err:?}");
    assert_eq!(err.message(), "[an]: node is already an access node");
    let err = db_error(add(&mut f.an, "self", f.cluster.access_node()));
    assert_eq!(err.code().code(), "TS174", "{err:?}");
    assert_eq!(
        err.message(),
        "[self]: cannot add the current database as a data node to itself"
    );

    // A data node cannot add data nodes.
    let mut dn = shared.connect_to(DB);
    let err = db_error(add(&mut dn, "x", other_an));
    assert_eq!(err.code().code(), "TS171");
    assert_eq!(
        err.message(),
        "unable to assign data nodes from an existing distributed database"
    );
}

#[test]
fn data_node_settings_are_checked_with_a_hint() {
    let mut f = setup(2);
    {
        let no_2pc = f.cluster.data_node_mut(0);
        no_2pc
            .connect()
            .batch_execute("ALTER SYSTEM SET max_prepared_transactions = 0")
            .unwrap();
        no_2pc.stop(StopMode::Fast).unwrap();
        no_2pc.start().unwrap();
        let not_preloaded = f.cluster.data_node_mut(1);
        not_preloaded
            .connect()
            .batch_execute("ALTER SYSTEM RESET shared_preload_libraries")
            .unwrap();
        not_preloaded.stop(StopMode::Fast).unwrap();
        not_preloaded.start().unwrap();
    }
    let err = db_error(add(&mut f.an, "no2pc", &f.cluster.data_nodes()[0]));
    assert_eq!(err.code().code(), "TS174");
    assert_eq!(err.message(), "cannot add \"no2pc\" as a data node");
    assert!(
        err.detail()
            .unwrap()
            .contains("prepared transactions need to be enabled")
    );
    assert!(err.hint().unwrap().contains("max_prepared_transactions"));
    let dbs = databases_named(&f.cluster.data_nodes()[0], DB);
    assert_eq!(
        dbs, 0,
        "the checks come before the remote database is created"
    );

    let err = db_error(add(&mut f.an, "nopreload", &f.cluster.data_nodes()[1]));
    assert_eq!(err.code().code(), "TS174");
    assert_eq!(err.message(), "cannot add \"nopreload\" as a data node");
    assert!(err.detail().unwrap().contains("shared_preload_libraries"));
    assert!(err.hint().unwrap().contains("shared_preload_libraries"));
    assert_eq!(server_count(&mut f.an), 0);
}

/// Catalog rows as distributed hypertables will write them: `conditions` on dn1 and dn2 with
/// chunk 1 only on dn1 and chunk 2 on both.
fn fake_hypertable(an: &mut Client, replication_factor: i16) {
    an.execute(
        "INSERT INTO _hyperdist_catalog.hypertable
             (id, schema_name, table_name, associated_schema_name, associated_table_prefix, replication_factor)
         VALUES (1, 'public', 'conditions', '_hyperdist_internal', '_dist_hyper_1', $1)",
        &[&replication_factor],
    )
    .unwrap();
    an.batch_execute(
        "INSERT INTO _hyperdist_catalog.hypertable_data_node VALUES (1, 'dn1', 0), (1, 'dn2', 1);
         INSERT INTO _hyperdist_catalog.chunk
             (id, hypertable_id, schema_name, table_name, time_start, time_end, space_start, space_end)
         VALUES (1, 1, '_hyperdist_internal', '_dist_hyper_1_1_chunk', 0, 10, 0, 10),
                (2, 1, '_hyperdist_internal', '_dist_hyper_1_2_chunk', 10, 20, 0, 10);
         INSERT INTO _hyperdist_catalog.chunk_data_node VALUES (1, 'dn1'), (2, 'dn1'), (2, 'dn2');",
    )
    .unwrap();
}

#[test]
fn delete_refuses_to_lose_the_only_replica_unless_forced() {
    let mut f = setup(2);
    add(&mut f.an, "dn1", &f.cluster.data_nodes()[0]).unwrap();
    add(&mut f.an, "dn2", &f.cluster.data_nodes()[1]).unwrap();
    fake_hypertable(&mut f.an, 1);

    let view: Vec<(String, i64, String)> =
        f.an.query(
            "SELECT node_name::text, num_dist_tables, num_dist_chunks::text
               FROM timescaledb_information.data_nodes ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        view,
        vec![("dn1".into(), 1, "2".into()), ("dn2".into(), 1, "1".into())]
    );

    let err = db_error(f.an.query("SELECT delete_data_node('dn1')", &[]));
    assert_eq!(err.code().code(), "TS170");
    assert_eq!(
        err.message(),
        "deleting data node \"dn1\" would mean a data-loss for hypertable \"conditions\" since data node has the only data replica"
    );
    assert!(
        err.hint().unwrap().starts_with(
            "Ensure the data node \"dn1\" has no non-replicated data before deleting it"
        )
    );
    assert_eq!(server_count(&mut f.an), 2, "nothing changed");

    f.notices.take();
    let deleted: bool =
        f.an.query_one("SELECT delete_data_node('dn1', force => true)", &[])
            .unwrap()
            .get(0);
    assert!(deleted);
    let warnings: Vec<String> = f
        .notices
        .take()
        .into_iter()
        .filter(|n| n.severity() == "WARNING")
        .map(|n| n.message().to_string())
        .collect();
    assert!(
        warnings.contains(
            &"deleting data node \"dn1\" loses data of hypertable \"conditions\"".to_string()
        ),
        "{warnings:?}"
    );
    // Chunk 1 is gone (its only replica was on dn1); chunk 2 keeps its dn2 replica.
    let chunks: Vec<(i32, String)> =
        f.an.query(
            "SELECT c.id, cdn.node_name::text FROM _hyperdist_catalog.chunk c
               JOIN _hyperdist_catalog.chunk_data_node cdn ON cdn.chunk_id = c.id ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(chunks, vec![(2, "dn2".to_string())]);
    assert_eq!(server_count(&mut f.an), 1);
}

#[test]
fn delete_of_a_replica_holder_or_the_last_node_needs_force() {
    let mut f = setup(2);
    add(&mut f.an, "dn1", &f.cluster.data_nodes()[0]).unwrap();
    add(&mut f.an, "dn2", &f.cluster.data_nodes()[1]).unwrap();
    fake_hypertable(&mut f.an, 1);
    f.an.batch_execute("DELETE FROM _hyperdist_catalog.chunk WHERE id = 1")
        .unwrap();

    let err = db_error(f.an.query("SELECT delete_data_node('dn2')", &[]));
    assert_eq!(err.code().code(), "TS504");
    assert_eq!(
        err.message(),
        "data node \"dn2\" still holds data for distributed hypertable \"conditions\""
    );
    assert!(err.hint().unwrap().contains("force => true"));

    // Replication factor 2 on two nodes: one node less cannot hold new chunks fully replicated.
    f.an.batch_execute(
        "UPDATE _hyperdist_catalog.hypertable SET replication_factor = 2;
         DELETE FROM _hyperdist_catalog.chunk;",
    )
    .unwrap();
    let err = db_error(f.an.query("SELECT delete_data_node('dn2')", &[]));
    assert_eq!(err.code().code(), "TS170");
    assert_eq!(
        err.message(),
        "insufficient number of data nodes for distributed hypertable \"conditions\""
    );
    assert_eq!(
        err.hint(),
        Some("Use force => true to force this operation.")
    );
    f.an.query_one("SELECT delete_data_node('dn2', force => true)", &[])
        .unwrap();
    let members: i64 =
        f.an.query_one(
            "SELECT count(*) FROM _hyperdist_catalog.hypertable_data_node",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(members, 1);
}

#[test]
fn delete_if_exists_drop_database_and_leaving_the_cluster() {
    let mut f = setup(1);
    let dn = &f.cluster.data_nodes()[0];
    add(&mut f.an, "dn1", dn).unwrap();

    let err = db_error(f.an.query("SELECT delete_data_node('nope')", &[]));
    assert_eq!(err.code().code(), "42704");
    assert_eq!(err.message(), "server \"nope\" does not exist");
    let deleted: bool =
        f.an.query_one("SELECT delete_data_node('nope', if_exists => true)", &[])
            .unwrap()
            .get(0);
    assert!(!deleted);
    assert!(
        f.notices
            .take()
            .iter()
            .any(|n| n.message() == "data node \"nope\" does not exist, skipping")
    );

    // The view opened a cached session to dn1's database; dropping the database must still work.
    f.an.query("SELECT * FROM timescaledb_information.data_nodes", &[])
        .unwrap();
    let deleted: bool =
        f.an.query_one("SELECT delete_data_node('dn1', drop_database => true)", &[])
            .unwrap()
            .get(0);
    assert!(deleted);
    let remote_dbs = databases_named(dn, DB);
    assert_eq!(
        remote_dbs, 0,
        "drop_database removed the data node's database"
    );
    let marked: i64 =
        f.an.query_one(
            "SELECT count(*) FROM _hyperdist_catalog.metadata WHERE key = 'dist_uuid'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        marked, 0,
        "with no data node left, this is no longer an access node"
    );
    assert_eq!(server_count(&mut f.an), 0);
}

#[test]
fn alter_changes_connection_options_and_availability() {
    let mut f = setup(1);
    let port = i32::from(f.cluster.data_nodes()[0].port());
    add(&mut f.an, "dn1", &f.cluster.data_nodes()[0]).unwrap();
    let up = |an: &mut Client| -> (bool, Option<String>) {
        let row = an
            .query_one(
                "SELECT node_up, total_dist_size FROM timescaledb_information.data_nodes",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert!(up(&mut f.an).0);

    // Pointing it elsewhere is seen by the very next use (cached sessions are dropped).
    f.an.query(
        "SELECT * FROM alter_data_node('dn1', port => $1)",
        &[&closed_port()],
    )
    .unwrap();
    assert_eq!(up(&mut f.an), (false, None), "down: not up, size unknown");
    let row =
        f.an.query_one(
            "SELECT * FROM alter_data_node('dn1', port => $1, available => false)",
            &[&port],
        )
        .unwrap();
    assert_eq!(row.get::<_, i32>("port"), port);
    assert!(!row.get::<_, bool>("available"));
    assert!(up(&mut f.an).0);
    let options: Vec<String> =
        f.an.query_one(
            "SELECT options FROM timescaledb_information.data_nodes",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        options.contains(&"available=false".to_string()),
        "{options:?}"
    );

    let err = db_error(f.an.query("SELECT * FROM alter_data_node('dn1', port => 0)", &[]));
    assert_eq!(err.message(), "invalid port number 0");
    let err = db_error(f.an.query("SELECT * FROM alter_data_node('nope', port => 5432)", &[]));
    assert_eq!(err.code().code(), "42704");
}

#[test]
fn the_view_answers_while_a_node_is_down_and_sees_it_come_back() {
    let mut f = setup(2);
    add(&mut f.an, "dn1", &f.cluster.data_nodes()[0]).unwrap();
    add(&mut f.an, "dn2", &f.cluster.data_nodes()[1]).unwrap();
    let state = |an: &mut Client| -> Vec<(String, bool)> {
        an.query(
            "SELECT node_name::text, node_up FROM timescaledb_information.data_nodes ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
    };
    assert_eq!(
        state(&mut f.an),
        vec![("dn1".into(), true), ("dn2".into(), true)]
    );

    f.cluster.data_nodes()[1].stop(StopMode::Immediate).unwrap();
    let started = Instant::now();
    assert_eq!(
        state(&mut f.an),
        vec![("dn1".into(), true), ("dn2".into(), false)]
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // The cached session to dn2 died with the server; the view reconnects by itself.
    f.cluster.data_node_mut(1).start().unwrap();
    assert_eq!(
        state(&mut f.an),
        vec![("dn1".into(), true), ("dn2".into(), true)]
    );
}

#[test]
fn names_and_passwords_that_need_quoting() {
    let mut f = setup(1);
    let dn = &f.cluster.data_nodes()[0];
    let name = "Node \"One\"; DROP TABLE x";
    let database = "db 'quoted' \"name\"";
    let row =
        f.an.query_one(
            "SELECT * FROM add_data_node($1, host => '127.0.0.1', port => $2, database => $3,
                                         password => $4)",
            &[&name, &i32::from(dn.port()), &database, &"pa'ss\"word"],
        )
        .unwrap();
    assert_eq!(row.get::<_, String>("node_name"), name);
    assert_eq!(row.get::<_, String>("database"), database);
    assert!(row.get::<_, bool>("database_created"));

    let mapping: Vec<String> =
        f.an.query_one(
            "SELECT umoptions FROM pg_user_mappings WHERE srvname = $1 AND usename = current_user",
            &[&name],
        )
        .unwrap()
        .get(0);
    assert_eq!(
        mapping,
        vec![
            "user=postgres".to_string(),
            "password=pa'ss\"word".to_string()
        ]
    );
    let up: bool =
        f.an.query_one(
            "SELECT node_up FROM timescaledb_information.data_nodes WHERE node_name = $1",
            &[&name],
        )
        .unwrap()
        .get(0);
    assert!(up);

    f.an.query_one(
        "SELECT delete_data_node($1, drop_database => true)",
        &[&name],
    )
    .unwrap();
    let left = databases_named(dn, database);
    assert_eq!(left, 0);
    assert_eq!(
        server_count(&mut f.an),
        0,
        "server and user mapping are gone"
    );
}
