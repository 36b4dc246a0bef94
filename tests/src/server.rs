//! One PostgreSQL 15 server of a test or development cluster: its data directory, port and log.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::os;

/// Settings every hyperdist server gets. `fsync = off` only trades crash safety of the *machine*
/// for speed; a server killed with `pg_ctl stop -m immediate` still keeps every commit, which the
/// fault-injection suites rely on (so `synchronous_commit` stays on).
const SETTINGS: &[&str] = &[
    "listen_addresses = '127.0.0.1'",
    "unix_socket_directories = ''",
    "shared_preload_libraries = 'hyperdist'",
    "max_prepared_transactions = 100",
    "max_connections = 100",
    "fsync = off",
    "full_page_writes = off",
    "log_line_prefix = '%m [%p] %q%u@%d '",
    "log_min_messages = warning",
];

/// Notices and warnings a connection received, oldest first.
#[derive(Clone, Default)]
pub struct Notices(std::sync::Arc<std::sync::Mutex<Vec<postgres::error::DbError>>>);

impl Notices {
    /// Takes the notices received so far.
    pub fn take(&self) -> Vec<postgres::error::DbError> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
}

#[derive(Clone, Copy, Debug)]
pub enum StopMode {
    /// Clean shutdown: sessions are ended, a checkpoint is written.
    Fast,
    /// A crash, as far as the server can tell: no shutdown checkpoint, recovery on next start.
    Immediate,
}

#[derive(Debug)]
pub struct Server {
    name: String,
    dir: PathBuf,
    port: u16,
}

impl Server {
    /// Makes a new server in `dir` from an initdb'd `template` data directory.
    pub(crate) fn create(dir: PathBuf, name: &str, template: &Path) -> Result<Server, String> {
        fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        os::give_to_server_user(&dir)?;
        // `cp -a` keeps the template's owner (the server user) and its 0700 mode.
        os::run(
            Command::new("cp")
                .arg("-a")
                .arg(template)
                .arg(dir.join("data")),
        )?;
        let server = Server {
            name: name.to_string(),
            dir,
            port: os::free_port(),
        };
        server.write_settings()?;
        Ok(server)
    }

    /// A server made earlier in `dir`: its name is the directory's, its port is in its settings.
    pub(crate) fn open(dir: PathBuf) -> Result<Server, String> {
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("bad server directory {}", dir.display()))?
            .to_string();
        let settings = fs::read_to_string(dir.join("data/postgresql.auto.conf"))
            .map_err(|e| format!("{} is not a server directory: {e}", dir.display()))?;
        let port = settings
            .lines()
            .find_map(|line| line.strip_prefix("port = "))
            .and_then(|p| p.trim().trim_matches('\'').parse().ok())
            .ok_or_else(|| format!("no port in the settings of {}", dir.display()))?;
        Ok(Server { name, dir, port })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("server.log")
    }

    fn write_settings(&self) -> Result<(), String> {
        let mut text = format!("port = {}\n", self.port);
        for setting in SETTINGS {
            text.push_str(setting);
            text.push('\n');
        }
        os::write_as_server_user(&self.data_dir().join("postgresql.auto.conf"), &text)
    }

    /// Starts the server and waits until it accepts connections. If another process took the port
    /// since it was picked, the server moves to a new port (twice at most).
    pub fn start(&mut self) -> Result<(), String> {
        let mut attempt = 0;
        loop {
            match self.pg_ctl_start() {
                Ok(()) => return Ok(()),
                Err(_) if attempt < 2 && self.log().contains("could not bind") => {
                    attempt += 1;
                    self.port = os::free_port();
                    self.write_settings()?;
                }
                Err(e) => {
                    return Err(format!(
                        "{e}\n--- server log of {} ---\n{}",
                        self.name,
                        self.log()
                    ));
                }
            }
        }
    }

    fn pg_ctl_start(&self) -> Result<(), String> {
        os::run(
            os::server_command(&os::pg_program("pg_ctl"))
                .args(["start", "-w", "-t", "60", "-D"])
                .arg(self.data_dir())
                .arg("-l")
                .arg(self.log_path()),
        )
        .map(drop)
    }

    pub fn stop(&self, mode: StopMode) -> Result<(), String> {
        let mode = match mode {
            StopMode::Fast => "fast",
            StopMode::Immediate => "immediate",
        };
        os::run(
            os::server_command(&os::pg_program("pg_ctl"))
                .args(["stop", "-w", "-t", "60", "-m", mode, "-D"])
                .arg(self.data_dir()),
        )
        .map(drop)
    }

    /// Puts `line` first in pg_hba.conf (first match wins) and reloads the server.
    pub fn prepend_hba(&self, line: &str) -> Result<(), String> {
        let path = self.data_dir().join("pg_hba.conf");
        let current = os::run(os::server_command(Path::new("cat")).arg(&path))?;
        os::write_as_server_user(&path, &format!("{line}\n{current}"))?;
        os::run(
            os::server_command(&os::pg_program("pg_ctl"))
                .args(["reload", "-D"])
                .arg(self.data_dir()),
        )
        .map(drop)
    }

    /// Whether a backend of this server crashed (which restarts every session of the server).
    pub fn crashed(&self) -> bool {
        self.log().contains("terminated by signal")
    }

    pub fn is_running(&self) -> bool {
        os::server_command(&os::pg_program("pg_ctl"))
            .arg("status")
            .arg("-D")
            .arg(self.data_dir())
            .output()
            .is_ok_and(|out| out.status.success())
    }

    /// libpq connection string for `dbname` on this server.
    pub fn conninfo(&self, dbname: &str) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname={dbname} application_name=hyperdist-tests",
            self.port
        )
    }

    pub fn try_connect(&self, dbname: &str) -> Result<postgres::Client, postgres::Error> {
        postgres::Client::connect(&self.conninfo(dbname), postgres::NoTls)
    }

    /// A connection to the `postgres` database; panics, with the server log, if there is none.
    pub fn connect(&self) -> postgres::Client {
        self.connect_to("postgres")
    }

    /// A connection to `dbname`; panics, with the server log, if there is none.
    pub fn connect_to(&self, dbname: &str) -> postgres::Client {
        self.try_connect(dbname)
            .unwrap_or_else(|e| self.connection_failed(e))
    }

    /// A connection to `dbname` that also collects the notices and warnings the server sends.
    pub fn connect_with_notices(&self, dbname: &str) -> (postgres::Client, Notices) {
        let notices = Notices::default();
        let sink = notices.clone();
        let client = self
            .conninfo(dbname)
            .parse::<postgres::Config>()
            .expect("valid connection string")
            .notice_callback(move |notice| sink.0.lock().unwrap().push(notice))
            .connect(postgres::NoTls)
            .unwrap_or_else(|e| self.connection_failed(e));
        (client, notices)
    }

    fn connection_failed(&self, e: postgres::Error) -> ! {
        panic!(
            "cannot connect to {} on port {}: {e}\n--- server log ---\n{}",
            self.name,
            self.port,
            self.log()
        )
    }

    /// Runs one of PostgreSQL's client programs (`pg_dump`, `pg_restore`, ...) against this server,
    /// as the server user; returns what it printed, or an error with its output.
    pub fn run_tool(&self, program: &str, args: &[&str]) -> Result<String, String> {
        os::run(
            os::server_command(&os::pg_program(program))
                .args([
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &self.port.to_string(),
                    "-U",
                    "postgres",
                ])
                .args(args),
        )
    }

    /// What a person types to reach this server.
    pub fn psql_command(&self) -> String {
        format!(
            "{} -h 127.0.0.1 -p {} -U postgres -d postgres",
            os::pg_program("psql").display(),
            self.port
        )
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }
}
