//! Atomic distributed writes: two-phase commit, savepoints, in-doubt healing, node failures. Servers
//! are killed with `pg_ctl stop -m immediate`.

use std::time::{Duration, Instant};

use hyperdist_tests::{Cluster, StopMode, db_error};
use postgres::Client;

const DB: &str = "metrics";

fn setup(data_nodes: usize) -> (Cluster, Client) {
    let cluster = Cluster::start(data_nodes);
    let mut an = cluster.distributed_database(DB, "dn", data_nodes);
    an.batch_execute(
        "CREATE TABLE t (time timestamptz NOT NULL, device int NOT NULL, v bigint);
         SELECT create_distributed_hypertable('t', 'time', 'device');",
    )
    .unwrap();
    (cluster, an)
}

fn count(client: &mut Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).unwrap().get(0)
}

/// Rows of `t` on each data node, read there directly (prepared transactions' rows excluded).
fn rows_on_nodes(cluster: &Cluster) -> Vec<i64> {
    cluster
        .data_nodes()
        .iter()
        .map(|dn| count(&mut dn.connect_to(DB), "SELECT count(*) FROM public.t"))
        .collect()
}

fn prepared_on_nodes(cluster: &Cluster) -> i64 {
    cluster
        .data_nodes()
        .iter()
        .map(|dn| {
            count(
                &mut dn.connect_to(DB),
                "SELECT count(*) FROM pg_prepared_xacts",
            )
        })
        .sum()
}

const SPREAD: &str =
    "INSERT INTO t SELECT '2024-01-01'::timestamptz + i * interval '1 minute', i % 30, i
                        FROM generate_series(1, 3000) i";

#[test]
fn commit_and_rollback_reach_every_node() {
    let (cluster, mut an) = setup(3);
    an.batch_execute(&format!("BEGIN; {SPREAD}; ROLLBACK;"))
        .unwrap();
    assert_eq!(rows_on_nodes(&cluster), vec![0, 0, 0]);
    assert_eq!(count(&mut an, "SELECT count(*) FROM t"), 0);

    an.batch_execute(&format!("BEGIN; {SPREAD}; COMMIT;"))
        .unwrap();
    let per_node = rows_on_nodes(&cluster);
    assert!(
        per_node.iter().all(|n| *n > 0),
        "all nodes written: {per_node:?}"
    );
    assert_eq!(per_node.iter().sum::<i64>(), 3000);
    assert_eq!(
        prepared_on_nodes(&cluster),
        0,
        "every prepared transaction was committed"
    );
}

#[test]
fn savepoints_undo_remote_work() {
    let (cluster, mut an) = setup(2);
    an.batch_execute(
        "BEGIN;
         INSERT INTO t VALUES ('2024-01-01', 1, 1);
         SAVEPOINT a;
         INSERT INTO t SELECT '2024-02-01'::timestamptz + i * interval '1 hour', i, 100 FROM generate_series(1, 200) i;
         ROLLBACK TO SAVEPOINT a;
         INSERT INTO t VALUES ('2024-01-02', 2, 2);
         SAVEPOINT b;
         INSERT INTO t VALUES ('2024-01-03', 3, 3);
         RELEASE SAVEPOINT b;
         COMMIT;",
    )
    .unwrap();
    let values: Vec<i64> = an
        .query("SELECT v FROM t ORDER BY v", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(values, vec![1, 2, 3]);
    assert_eq!(rows_on_nodes(&cluster).iter().sum::<i64>(), 3);
    // A failed statement inside a transaction block, then ROLLBACK TO and COMMIT.
    an.batch_execute("BEGIN; INSERT INTO t VALUES ('2024-03-01', 9, 9); SAVEPOINT s;")
        .unwrap();
    db_error(an.batch_execute("INSERT INTO t VALUES (NULL, 1, 1)"));
    an.batch_execute("ROLLBACK TO SAVEPOINT s; COMMIT;")
        .unwrap();
    assert_eq!(count(&mut an, "SELECT count(*) FROM t"), 4);
}

#[test]
fn prepare_transaction_after_remote_work_is_refused() {
    let (_cluster, mut an) = setup(1);
    an.batch_execute("BEGIN; INSERT INTO t VALUES ('2024-01-01', 1, 1);")
        .unwrap();
    let err = db_error(an.batch_execute("PREPARE TRANSACTION 'mine'"));
    assert_eq!(err.code().code(), "0A000");
    assert_eq!(
        err.message(),
        "cannot prepare a transaction that modified remote tables"
    );
    assert_eq!(count(&mut an, "SELECT count(*) FROM t"), 0);
}

/// Makes the background healer run every 200 ms on the access node.
fn fast_healer(cluster: &Cluster) {
    let mut an = cluster.access_node().connect();
    an.batch_execute("ALTER SYSTEM SET hyperdist.heal_interval = '200ms'")
        .unwrap();
    an.batch_execute("SELECT pg_reload_conf()").unwrap();
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn in_doubt_commit_is_healed_by_the_background_healer() {
    let (mut cluster, mut an) = setup(2);
    an.batch_execute("SET hyperdist.debug_2pc_fault = 'skip-commit-prepared'")
        .unwrap();
    an.execute(SPREAD, &[]).unwrap();
    an.batch_execute("RESET hyperdist.debug_2pc_fault").unwrap();
    assert_eq!(
        prepared_on_nodes(&cluster),
        2,
        "both nodes hold a prepared transaction"
    );
    assert_eq!(
        rows_on_nodes(&cluster),
        vec![0, 0],
        "not committed there yet"
    );

    // A data node restarts with its prepared transaction; the access node restarts too.
    cluster.data_nodes()[0].stop(StopMode::Immediate).unwrap();
    cluster.data_node_mut(0).start().unwrap();
    cluster.access_node().stop(StopMode::Immediate).unwrap();
    cluster.start_all().unwrap();
    fast_healer(&cluster);
    wait_until("healer commits", Duration::from_secs(60), || {
        prepared_on_nodes(&cluster) == 0
    });
    assert_eq!(rows_on_nodes(&cluster).iter().sum::<i64>(), 3000);
    let mut an = cluster.access_node().connect_to(DB);
    wait_until("log rows cleaned", Duration::from_secs(30), || {
        count(
            &mut an,
            "SELECT count(*) FROM _hyperdist_catalog.remote_txn",
        ) == 0
    });
}

#[test]
fn in_doubt_abort_is_rolled_back() {
    let (cluster, mut an) = setup(2);
    an.batch_execute("SET hyperdist.debug_2pc_fault = 'fail-after-prepare'")
        .unwrap();
    let err = db_error(an.execute(SPREAD, &[]));
    assert_eq!(
        err.message(),
        "hyperdist.debug_2pc_fault: failing after PREPARE"
    );
    an.batch_execute("RESET hyperdist.debug_2pc_fault").unwrap();
    assert_eq!(
        prepared_on_nodes(&cluster),
        2,
        "left in doubt, as by an access node that died"
    );

    // Healing by hand resolves them too: rolled back, since the access node aborted.
    let healed: i32 = an
        .query_one("SELECT remote_txn_heal_data_node('dn1')", &[])
        .unwrap()
        .get(0);
    assert_eq!(healed, 1);
    fast_healer(&cluster);
    wait_until("healer rolls back", Duration::from_secs(60), || {
        prepared_on_nodes(&cluster) == 0
    });
    assert_eq!(rows_on_nodes(&cluster), vec![0, 0]);
    assert_eq!(count(&mut an, "SELECT count(*) FROM t"), 0);
}

#[test]
fn a_data_node_killed_mid_insert_fails_the_statement_and_keeps_nothing() {
    let (cluster, mut an) = setup(3);
    an.execute(SPREAD, &[]).unwrap();
    let before: (i64, i64) = {
        let r = an
            .query_one("SELECT count(*), sum(v)::bigint FROM t", &[])
            .unwrap();
        (r.get(0), r.get(1))
    };
    let victim = cluster.data_nodes()[1].data_dir();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1500));
        let status = std::process::Command::new("runuser")
            .args([
                "-u",
                "postgres",
                "--",
                "/usr/lib/postgresql/15/bin/pg_ctl",
                "stop",
                "-m",
                "immediate",
                "-D",
            ])
            .arg(victim)
            .stdout(std::process::Stdio::null())
            .status();
        assert!(status.is_ok());
    });
    let err = db_error(an.execute(
        "INSERT INTO t SELECT '2025-01-01'::timestamptz + i * interval '1 second', i % 30, i
           FROM generate_series(1, 2000000) i",
        &[],
    ));
    killer.join().unwrap();
    assert!(
        err.message().contains("dn2"),
        "the error names the node: {}",
        err.message()
    );
    // Restart the node; nothing of the failed statement is anywhere.
    let mut cluster = cluster;
    cluster.data_node_mut(1).start().unwrap();
    fast_healer(&cluster);
    wait_until("no prepared transactions", Duration::from_secs(60), || {
        prepared_on_nodes(&cluster) == 0
    });
    let after: (i64, i64) = {
        let r = an
            .query_one("SELECT count(*), sum(v)::bigint FROM t", &[])
            .unwrap();
        (r.get(0), r.get(1))
    };
    assert_eq!(after, before);
    assert_eq!(rows_on_nodes(&cluster).iter().sum::<i64>(), before.0);
}
