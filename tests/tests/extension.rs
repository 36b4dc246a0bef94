//! The extension installs on every node of a real cluster, and only where it is preloaded.

use hyperdist_tests::Cluster;

#[test]
fn create_extension_on_access_node_and_every_data_node() {
    let cluster = Cluster::start(3);
    cluster.create_extension().unwrap();
    assert_eq!(cluster.data_nodes().len(), 3);
    for server in cluster.servers() {
        let mut client = server.connect();
        let row = client
            .query_one(
                "SELECT hyperdist_version(), extversion,
                        (SELECT count(*) FROM pg_foreign_data_wrapper WHERE fdwname = 'hyperdist_fdw'),
                        current_setting('shared_preload_libraries')
                   FROM pg_extension WHERE extname = 'hyperdist'",
                &[],
            )
            .unwrap();
        let (version, extversion): (String, String) = (row.get(0), row.get(1));
        assert_eq!(version, env!("CARGO_PKG_VERSION"), "on {}", server.name());
        assert_eq!(extversion, version, "on {}", server.name());
        assert_eq!(row.get::<_, i64>(2), 1, "on {}", server.name());
        assert_eq!(row.get::<_, String>(3), "hyperdist", "on {}", server.name());
    }
}

#[test]
fn create_extension_without_preloading_fails_with_a_hint() {
    let cluster = Cluster::start(1);
    let mut client = cluster.data_nodes()[0].connect();
    client
        .batch_execute("ALTER SYSTEM RESET shared_preload_libraries")
        .unwrap();
    drop(client);
    let mut cluster = cluster;
    let node = cluster.data_node_mut(0);
    node.stop(hyperdist_tests::StopMode::Fast).unwrap();
    node.start().unwrap();

    let mut client = node.connect();
    let err = client
        .batch_execute("CREATE EXTENSION hyperdist")
        .expect_err("CREATE EXTENSION must fail when hyperdist is not preloaded");
    let db_err = err.as_db_error().expect("a server-side error");
    assert_eq!(
        db_err.message(),
        "hyperdist must be loaded via shared_preload_libraries"
    );
    assert_eq!(db_err.code().code(), "55000");
    assert!(
        db_err
            .hint()
            .unwrap_or_default()
            .contains("shared_preload_libraries"),
        "hint: {:?}",
        db_err.hint()
    );
    // Nothing half-installed: the failed CREATE EXTENSION left no schema behind.
    let schemas: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_namespace WHERE nspname LIKE '\\_hyperdist%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(schemas, 0);
}

#[test]
fn teardown_stops_servers_and_removes_their_directory() {
    let cluster = Cluster::start(1);
    let dir = cluster.dir().to_path_buf();
    let ports: Vec<u16> = cluster.servers().iter().map(|s| s.port()).collect();
    assert!(dir.exists());
    drop(cluster);
    assert!(!dir.exists(), "{} was left behind", dir.display());
    for port in ports {
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "a server still listens on port {port}"
        );
    }
}
