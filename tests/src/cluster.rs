//! A hyperdist cluster of real PostgreSQL 15 servers on 127.0.0.1: one access node (`an`) and N
//! data nodes (`dn1`..`dnN`).
//!
//! Tests use [`Cluster::start`]: servers on free ports under a fresh directory, all stopped and
//! removed when the cluster is dropped, also when the test panics (then their logs are printed
//! first). The development cluster of `scripts/cluster` uses [`Cluster::create`]/[`Cluster::open`],
//! which keep the servers.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::os;
use crate::server::{Server, StopMode};

pub const ACCESS_NODE: &str = "an";

/// Where test clusters live: `$HYPERDIST_TEST_DIR`, else a directory under /tmp (which the server
/// user can always reach, unlike a checkout under a private home directory).
fn test_root() -> PathBuf {
    std::env::var_os("HYPERDIST_TEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // SAFETY: getuid has no preconditions and cannot fail.
            let uid = unsafe { libc::getuid() };
            std::env::temp_dir().join(format!("hyperdist-tests-{uid}"))
        })
}

#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    servers: Vec<Server>,
    /// Test clusters are removed on drop; the development cluster is kept.
    temporary: bool,
    /// A test cluster fails its test on drop if a backend crashed.
    check_crashes: bool,
}

impl Cluster {
    /// Starts a throwaway cluster of an access node and `data_nodes` data nodes, each with
    /// hyperdist preloaded (the extension itself is not created: see [`Cluster::create_extension`]).
    pub fn start(data_nodes: usize) -> Cluster {
        static SEQUENCE: AtomicUsize = AtomicUsize::new(0);
        let root = test_root();
        reap_abandoned(&root);
        let name = format!(
            "run-{}-{}",
            std::process::id(),
            SEQUENCE.fetch_add(1, Ordering::Relaxed)
        );
        let mut cluster = Cluster::build(&root.join(name), data_nodes, &root)
            .unwrap_or_else(|e| panic!("cannot create a test cluster: {e}"));
        cluster.temporary = true;
        cluster.check_crashes = true;
        cluster.start_all().unwrap_or_else(|e| panic!("{e}"));
        cluster
    }

    /// Makes the servers of a new cluster in `dir` (not started).
    pub fn create(dir: &Path, data_nodes: usize) -> Result<Cluster, String> {
        Cluster::build(dir, data_nodes, dir)
    }

    fn build(dir: &Path, data_nodes: usize, template_root: &Path) -> Result<Cluster, String> {
        if dir.join(ACCESS_NODE).exists() {
            return Err(format!("{} already holds a cluster", dir.display()));
        }
        fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let template = template(template_root)?;
        let servers = node_names(data_nodes)
            .map(|name| Server::create(dir.join(&name), &name, &template))
            .collect::<Result<_, _>>()?;
        Ok(Cluster {
            dir: dir.to_path_buf(),
            servers,
            temporary: false,
            check_crashes: false,
        })
    }

    /// The cluster made earlier in `dir`, running or not.
    pub fn open(dir: &Path) -> Result<Cluster, String> {
        let access = dir.join(ACCESS_NODE);
        if !access.exists() {
            return Err(format!("there is no cluster in {}", dir.display()));
        }
        let mut servers = vec![Server::open(access)?];
        for n in 1.. {
            let node = dir.join(format!("dn{n}"));
            if !node.exists() {
                break;
            }
            servers.push(Server::open(node)?);
        }
        Ok(Cluster {
            dir: dir.to_path_buf(),
            servers,
            temporary: false,
            check_crashes: false,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn access_node(&self) -> &Server {
        &self.servers[0]
    }

    pub fn data_nodes(&self) -> &[Server] {
        &self.servers[1..]
    }

    pub fn data_node_mut(&mut self, index: usize) -> &mut Server {
        &mut self.servers[1 + index]
    }

    /// The access node first, then the data nodes.
    pub fn servers(&self) -> &[Server] {
        &self.servers
    }

    /// Starts every server that is not running, all at once.
    pub fn start_all(&mut self) -> Result<(), String> {
        std::thread::scope(|scope| {
            let starts: Vec<_> = self
                .servers
                .iter_mut()
                .filter(|server| !server.is_running())
                .map(|server| scope.spawn(move || server.start()))
                .collect();
            starts
                .into_iter()
                .try_for_each(|start| start.join().expect("server start thread panicked"))
        })
    }

    pub fn stop_all(&self, mode: StopMode) -> Result<(), String> {
        self.servers
            .iter()
            .filter(|server| server.is_running())
            .try_for_each(|server| server.stop(mode))
    }

    /// `CREATE EXTENSION IF NOT EXISTS hyperdist` in the `postgres` database of every server.
    pub fn create_extension(&self) -> Result<(), String> {
        self.servers.iter().try_for_each(|server| {
            server
                .try_connect("postgres")
                .and_then(|mut client| {
                    client.batch_execute("CREATE EXTENSION IF NOT EXISTS hyperdist")
                })
                .map_err(|e| format!("CREATE EXTENSION hyperdist on {}: {e}", server.name()))
        })
    }

    /// Creates `dbname` on the access node with hyperdist in it.
    pub fn create_database(&self, dbname: &str) {
        self.access_node()
            .connect()
            .batch_execute(&format!("CREATE DATABASE {dbname}"))
            .unwrap_or_else(|e| panic!("CREATE DATABASE {dbname}: {e}"));
        self.access_node()
            .connect_to(dbname)
            .batch_execute("CREATE EXTENSION hyperdist")
            .unwrap_or_else(|e| panic!("CREATE EXTENSION hyperdist in {dbname}: {e}"));
    }

    /// Adds the first `count` data nodes to the access node (connected as `an`) as `<prefix>1`,
    /// `<prefix>2`, ...
    pub fn add_data_nodes(&self, an: &mut postgres::Client, prefix: &str, count: usize) {
        for (i, server) in self.data_nodes().iter().take(count).enumerate() {
            an.query(
                "SELECT * FROM add_data_node($1, host => '127.0.0.1', port => $2)",
                &[&format!("{prefix}{}", i + 1), &i32::from(server.port())],
            )
            .unwrap_or_else(|e| panic!("add_data_node for {}: {e}", server.name()));
        }
    }

    /// Creates `dbname` with hyperdist on the access node, adds the first `count` data nodes as
    /// `<prefix>1`, `<prefix>2`, ..., and returns a session on it.
    pub fn distributed_database(
        &self,
        dbname: &str,
        prefix: &str,
        count: usize,
    ) -> postgres::Client {
        self.create_database(dbname);
        let mut an = self.access_node().connect_to(dbname);
        self.add_data_nodes(&mut an, prefix, count);
        an
    }

    /// Stops the servers at once and removes the cluster's directory.
    pub fn destroy(mut self) {
        self.temporary = true;
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if !self.temporary {
            return;
        }
        let crashed: Vec<String> = if self.check_crashes {
            self.servers
                .iter()
                .filter(|s| s.crashed())
                .map(|s| s.name().to_string())
                .collect()
        } else {
            Vec::new()
        };
        if std::thread::panicking() || !crashed.is_empty() {
            for server in &self.servers {
                eprintln!(
                    "--- server log of {} (port {}) ---\n{}",
                    server.name(),
                    server.port(),
                    server.log()
                );
            }
        }
        if let Err(e) = self.stop_all(StopMode::Immediate) {
            eprintln!("stopping test cluster {}: {e}", self.dir.display());
        }
        if let Err(e) = fs::remove_dir_all(&self.dir) {
            eprintln!("removing test cluster {}: {e}", self.dir.display());
        }
        // Every test checks this: a backend crash is a failure even if the test saw nothing.
        if !crashed.is_empty() && !std::thread::panicking() {
            panic!(
                "a backend crashed (terminated by signal) on: {}",
                crashed.join(", ")
            );
        }
    }
}

fn node_names(data_nodes: usize) -> impl Iterator<Item = String> {
    std::iter::once(ACCESS_NODE.to_string()).chain((1..=data_nodes).map(|n| format!("dn{n}")))
}

/// An initdb'd data directory in `root`, made once and copied for every server: `initdb` costs
/// seconds, a copy a fraction of one.
fn template(root: &Path) -> Result<PathBuf, String> {
    let version = os::run(Command::new(os::pg_program("pg_ctl")).arg("--version"))?;
    let version: String = version
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    let template = root.join(format!("template-{version}"));
    if template.join("PG_VERSION").exists() {
        return Ok(template);
    }
    fs::create_dir_all(root).map_err(|e| format!("cannot create {}: {e}", root.display()))?;
    os::give_to_server_user(root)?;
    // Built aside and renamed into place, so a concurrent test run never sees half a template.
    let partial = root.join(format!("template-partial-{}", std::process::id()));
    let _ = fs::remove_dir_all(&partial);
    os::run(
        os::server_command(&os::pg_program("initdb"))
            .args([
                "--no-sync",
                "--no-locale",
                "--encoding=UTF8",
                "--auth=trust",
            ])
            .args(["--username=postgres", "-D"])
            .arg(&partial),
    )?;
    match fs::rename(&partial, &template) {
        Ok(()) => Ok(template),
        // Another run finished its template first: use that one.
        Err(_) if template.join("PG_VERSION").exists() => {
            let _ = fs::remove_dir_all(&partial);
            Ok(template)
        }
        Err(e) => Err(format!(
            "cannot move the template into {}: {e}",
            template.display()
        )),
    }
}

/// Stops and removes test clusters whose test process died without cleaning up (killed, or
/// aborted), so their servers never pile up across runs.
fn reap_abandoned(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| {
                n.strip_prefix("run-")
                    .or(n.strip_prefix("template-partial-"))
            })
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if os::process_alive(pid) {
            continue;
        }
        if let Ok(cluster) = Cluster::open(&entry.path()) {
            cluster.destroy();
        }
        let _ = fs::remove_dir_all(entry.path());
    }
}
