//! `hyperdist-cluster`: the local development cluster (one access node, N data nodes).
//!
//! ```text
//! hyperdist-cluster up [--data-nodes N]   create (first time) and (re)start; CREATE EXTENSION everywhere
//! hyperdist-cluster status                which servers run, and on which ports
//! hyperdist-cluster psql [NODE] [ARGS..]  psql to the access node (or to NODE: an, dn1, ...)
//! hyperdist-cluster down [--purge]        stop cleanly; --purge also deletes the data
//! ```
//! The cluster lives in `$HYPERDIST_CLUSTER_DIR` (default: `target/cluster` of the checkout).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use hyperdist_tests::{ACCESS_NODE, Cluster, StopMode};

const USAGE: &str = "usage: hyperdist-cluster up [--data-nodes N] | status | psql [NODE] [PSQL ARGS...] | down [--purge]";

fn cluster_dir() -> PathBuf {
    std::env::var_os("HYPERDIST_CLUSTER_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let checkout = Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .expect("tests/ sits in the checkout");
            checkout.join("target/cluster")
        })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("up") => up(&args[1..]),
        Some("status") => status(),
        Some("psql") => psql(&args[1..]),
        Some("down") => down(&args[1..]),
        _ => Err(USAGE.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hyperdist-cluster: {e}");
            ExitCode::FAILURE
        }
    }
}

fn up(args: &[String]) -> Result<(), String> {
    let data_nodes = match args {
        [] => 3,
        [flag, n] if flag == "--data-nodes" => n
            .parse()
            .ok()
            .filter(|n| *n >= 1)
            .ok_or_else(|| format!("--data-nodes wants a positive number, not {n:?}"))?,
        _ => return Err(USAGE.to_string()),
    };
    let dir = cluster_dir();
    let mut cluster = match Cluster::open(&dir) {
        Ok(cluster) if cluster.data_nodes().len() == data_nodes || args.is_empty() => cluster,
        Ok(cluster) => {
            return Err(format!(
                "{} already holds a cluster with {} data nodes; run `down --purge` first to change that",
                dir.display(),
                cluster.data_nodes().len()
            ));
        }
        Err(_) => Cluster::create(&dir, data_nodes)?,
    };
    // Restart running servers: a rebuilt library is only loaded by a fresh postmaster.
    cluster.stop_all(StopMode::Fast)?;
    cluster.start_all()?;
    cluster.create_extension()?;
    register_data_nodes(&cluster)?;
    print_servers(&cluster);
    println!(
        "\nConnect to the access node with:\n  {}",
        cluster.access_node().psql_command()
    );
    Ok(())
}

/// Makes the access node know every data node under the data node's own name (`dn1`, ...), with
/// its current port.
fn register_data_nodes(cluster: &Cluster) -> Result<(), String> {
    let mut an = cluster
        .access_node()
        .try_connect("postgres")
        .map_err(|e| format!("cannot connect to the access node: {e}"))?;
    for server in cluster.data_nodes() {
        let known = an
            .query_one(
                "SELECT count(*) FROM pg_foreign_server WHERE srvname = $1",
                &[&server.name()],
            )
            .map_err(|e| e.to_string())?
            .get::<_, i64>(0)
            > 0;
        let sql = if known {
            "SELECT * FROM alter_data_node($1, host => '127.0.0.1', port => $2)"
        } else {
            "SELECT * FROM add_data_node($1, host => '127.0.0.1', port => $2)"
        };
        an.query(sql, &[&server.name(), &i32::from(server.port())])
            .map_err(|e| format!("registering data node {}: {e}", server.name()))?;
    }
    Ok(())
}

fn status() -> Result<(), String> {
    let cluster = Cluster::open(&cluster_dir())?;
    print_servers(&cluster);
    Ok(())
}

fn print_servers(cluster: &Cluster) {
    println!("cluster in {}", cluster.dir().display());
    for server in cluster.servers() {
        let role = if server.name() == ACCESS_NODE {
            "access node"
        } else {
            "data node"
        };
        let state = if server.is_running() {
            "running"
        } else {
            "stopped"
        };
        println!(
            "  {:<4} {:<12} 127.0.0.1:{:<6} {state}",
            server.name(),
            role,
            server.port()
        );
    }
}

fn psql(args: &[String]) -> Result<(), String> {
    let cluster = Cluster::open(&cluster_dir())?;
    let (server, rest) = match args.first() {
        Some(name) if !name.starts_with('-') => (
            cluster
                .servers()
                .iter()
                .find(|s| s.name() == name)
                .ok_or_else(|| format!("no server named {name:?}"))?,
            &args[1..],
        ),
        _ => (cluster.access_node(), args),
    };
    let mut words = server
        .psql_command()
        .split(' ')
        .map(String::from)
        .collect::<Vec<_>>();
    let program = words.remove(0);
    let err = Command::new(program).args(words).args(rest).exec();
    Err(format!("cannot run psql: {err}"))
}

fn down(args: &[String]) -> Result<(), String> {
    let purge = match args {
        [] => false,
        [flag] if flag == "--purge" => true,
        _ => return Err(USAGE.to_string()),
    };
    let dir = cluster_dir();
    let cluster = match Cluster::open(&dir) {
        Ok(cluster) => cluster,
        Err(_) if purge => return Ok(()),
        Err(e) => return Err(e),
    };
    cluster.stop_all(StopMode::Fast)?;
    if purge {
        std::fs::remove_dir_all(&dir)
            .map_err(|e| format!("cannot remove {}: {e}", dir.display()))?;
        println!("stopped and removed the cluster in {}", dir.display());
    } else {
        println!("stopped the cluster in {}", dir.display());
    }
    Ok(())
}
