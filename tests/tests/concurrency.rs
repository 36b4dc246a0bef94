//! Many clients writing and reading one distributed hypertable at once: inserts, COPY, explicit
//! transactions (some rolled back) and queries, racing to create the same new chunks. Every
//! acknowledged row must be there at the end, each client must always read its own writes, and no
//! statement may fail other than in the ways a client is told to retry.

use std::io::Write;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use hyperdist_tests::Cluster;
use postgres::Client;

const DB: &str = "metrics";
const CLIENTS: i32 = 8;

/// How long the clients run: `HYPERDIST_STRESS_SECS`, 60 s by default.
fn duration() -> Duration {
    let secs = std::env::var("HYPERDIST_STRESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    Duration::from_secs(secs)
}

/// What one client got acknowledged, and what it saw go wrong.
#[derive(Default, Debug)]
struct Outcome {
    rows: i64,
    sum: i64,
    statements: u64,
    retried: u64,
    rolled_back: u64,
}

/// Rows for iteration `round` of `client`: all clients' round `k` falls into minute `k`, so they
/// race to create that minute's chunks; each row's `v` is unique to (client, round, row).
fn rows(client: i32, round: i64, n: i64) -> Vec<(String, i64)> {
    (0..n)
        .map(|i| {
            let v = (client as i64) * 1_000_000_000 + round * 1_000 + i;
            (instant(round, i, client), v)
        })
        .collect()
}

fn values(client: i32, batch: &[(String, i64)]) -> String {
    batch
        .iter()
        .map(|(time, v)| format!("('{time}', 'd{}', {client}, {v})", v % 12))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A failure the client is expected to retry (PostgreSQL's serialization failure).
fn retryable(err: &postgres::Error) -> bool {
    err.as_db_error()
        .is_some_and(|e| e.code().code() == "40001")
}

fn run_client(mut db: Client, client: i32, until: Instant) -> Outcome {
    let mut outcome = Outcome::default();
    let mut round: i64 = 0;
    while Instant::now() < until {
        round += 1;
        let batch = rows(client, round, 20 + (round % 5) * 10);
        let (n, sum) = (
            batch.len() as i64,
            batch.iter().map(|(_, v)| *v).sum::<i64>(),
        );
        let result: Result<bool, postgres::Error> = match round % 4 {
            0 => db
                .execute(
                    &format!("INSERT INTO dist VALUES {}", values(client, &batch)),
                    &[],
                )
                .map(|count| {
                    assert_eq!(count as i64, n);
                    true
                }),
            1 => (|| {
                let mut writer = db.copy_in("COPY dist FROM STDIN")?;
                for (time, v) in &batch {
                    writeln!(writer, "{time}\td{}\t{client}\t{v}", v % 12).unwrap();
                }
                let count = writer.finish()?;
                assert_eq!(count as i64, n);
                Ok(true)
            })(),
            2 => (|| {
                // An explicit transaction in two statements; every third one rolls back.
                let mut txn = db.transaction()?;
                let (first, second) = batch.split_at(batch.len() / 2);
                txn.execute(
                    &format!("INSERT INTO dist VALUES {}", values(client, first)),
                    &[],
                )?;
                txn.execute(
                    &format!("INSERT INTO dist VALUES {}", values(client, second)),
                    &[],
                )?;
                if round % 3 == 0 {
                    txn.rollback()?;
                    Ok(false)
                } else {
                    txn.commit()?;
                    Ok(true)
                }
            })(),
            _ => (|| {
                // Reads: my own rows, exactly; and an aggregate over everyone's.
                let row = db.query_one(
                    "SELECT count(*), coalesce(sum(v), 0)::bigint FROM dist WHERE client = $1",
                    &[&client],
                )?;
                let (count, total): (i64, i64) = (row.get(0), row.get(1));
                assert_eq!(
                    (count, total),
                    (outcome.rows, outcome.sum),
                    "client {client} reads its own writes"
                );
                db.query(
                    "SELECT device, count(*), max(v) FROM dist
                      WHERE time >= '2024-01-01'::timestamptz + $1 * interval '1 minute'
                      GROUP BY device",
                    &[&((round - 5).max(0) as f64)],
                )?;
                Ok(false)
            })(),
        };
        outcome.statements += 1;
        match result {
            Ok(true) => {
                outcome.rows += n;
                outcome.sum += sum;
            }
            Ok(false) => {
                if round % 4 == 2 {
                    outcome.rolled_back += 1;
                }
            }
            Err(err) if retryable(&err) => outcome.retried += 1,
            Err(err) => panic!("client {client}, round {round}: {err:?}"),
        }
    }
    outcome
}

/// Row `i` of a client's round: in minute `round` of 2024-01-01 (and on), spread over its seconds.
fn instant(round: i64, i: i64, client: i32) -> String {
    let second = (i * 7 + client as i64) % 60;
    let total = round * 60 + second;
    format!(
        "2024-01-{:02} {:02}:{:02}:{:02}+00",
        1 + total / 86_400,
        total / 3_600 % 24,
        total / 60 % 60,
        total % 60
    )
}

#[test]
fn eight_clients_insert_and_query_at_once() {
    let cluster = Cluster::start(3);
    let mut an = cluster.distributed_database(DB, "dn", 3);
    an.batch_execute(
        "CREATE TABLE dist (time timestamptz NOT NULL, device text NOT NULL, client int NOT NULL, v bigint NOT NULL);
         SELECT create_distributed_hypertable('dist', 'time', 'device', chunk_time_interval => interval '1 minute');",
    )
    .unwrap();

    let until = Instant::now() + duration();
    let start = Arc::new(Barrier::new(CLIENTS as usize));
    let clients: Vec<_> = (1..=CLIENTS)
        .map(|client| {
            let mut db = cluster.access_node().connect_to(DB);
            // A distributed deadlock would hang; make it an error instead.
            db.batch_execute("SET statement_timeout = '30s'").unwrap();
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                run_client(db, client, until)
            })
        })
        .collect();
    let outcomes: Vec<Outcome> = clients.into_iter().map(|c| c.join().unwrap()).collect();

    let acknowledged: i64 = outcomes.iter().map(|o| o.rows).sum();
    let acknowledged_sum: i64 = outcomes.iter().map(|o| o.sum).sum();
    let row = an
        .query_one("SELECT count(*), sum(v)::bigint FROM dist", &[])
        .unwrap();
    let (count, sum): (i64, i64) = (row.get(0), row.get(1));
    eprintln!("outcomes: {outcomes:?}");
    assert!(acknowledged > 0);
    assert_eq!(count, acknowledged, "every acknowledged row, and no other");
    assert_eq!(sum, acknowledged_sum);
    // No row twice (v is unique per client, round and row).
    let distinct: i64 = an
        .query_one("SELECT count(DISTINCT v) FROM dist", &[])
        .unwrap()
        .get(0);
    assert_eq!(distinct, count);
    assert!(outcomes.iter().all(|o| o.statements > 10));
    assert!(outcomes.iter().any(|o| o.rolled_back > 0));
    let chunks: i64 = an
        .query_one("SELECT count(*) FROM timescaledb_information.chunks", &[])
        .unwrap()
        .get(0);
    assert!(chunks > 10, "the clients created chunks as they went");
    // Nothing left prepared anywhere.
    for dn in cluster.data_nodes() {
        let prepared: i64 = dn
            .connect_to(DB)
            .query_one("SELECT count(*) FROM pg_prepared_xacts", &[])
            .unwrap()
            .get(0);
        assert_eq!(prepared, 0);
    }
}
