//! Running PostgreSQL's programs: as the `postgres` OS user when we are root (PostgreSQL refuses to
//! run as root), as ourselves otherwise.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

const SERVER_USER: &str = "postgres";
const DEFAULT_BINDIR: &str = "/usr/lib/postgresql/15/bin";

/// Directory of `initdb`, `pg_ctl` and `psql`: `$PG_BINDIR`, else what `pg_config --bindir` says,
/// else Debian's PostgreSQL 15.
pub fn bindir() -> &'static Path {
    static BINDIR: OnceLock<PathBuf> = OnceLock::new();
    BINDIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("PG_BINDIR") {
            return PathBuf::from(dir);
        }
        let from_pg_config = Command::new("pg_config")
            .arg("--bindir")
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        from_pg_config.unwrap_or_else(|| PathBuf::from(DEFAULT_BINDIR))
    })
}

pub fn pg_program(name: &str) -> PathBuf {
    bindir().join(name)
}

fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A command that runs `program` as the user that owns the servers. The server environment gets no
/// `RUST_BACKTRACE`: with it, pgrx appends a backtrace to every ERROR the extension raises.
pub fn server_command(program: &Path) -> Command {
    let mut cmd = if running_as_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", SERVER_USER, "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    };
    cmd.env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
        .env("LC_ALL", "C");
    cmd
}

/// Runs a command to completion; on failure the error says what ran and what it printed.
pub fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd
        .output()
        .map_err(|e| format!("could not run {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd:?} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Writes `text` to `path` (in a server's data directory, which only the server user may write).
pub fn write_as_server_user(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    let failed = |e: &dyn std::fmt::Debug| format!("cannot write {}: {e:?}", path.display());
    let mut child = server_command(Path::new("tee"))
        .arg(path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .map_err(|e| failed(&e))?;
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(text.as_bytes())
        .map_err(|e| failed(&e))?;
    match child.wait() {
        Ok(status) if status.success() => Ok(()),
        other => Err(failed(&other)),
    }
}

/// Hands a directory we created to the server user, so servers can write into it.
pub fn give_to_server_user(path: &Path) -> Result<(), String> {
    if !running_as_root() {
        return Ok(());
    }
    let user = std::ffi::CString::new(SERVER_USER).expect("no NUL in a user name");
    // SAFETY: getpwnam reads a static buffer; we copy the ids out before any other call.
    let entry = unsafe { libc::getpwnam(user.as_ptr()) };
    if entry.is_null() {
        return Err(format!(
            "there is no \"{SERVER_USER}\" OS user to run PostgreSQL as (PostgreSQL refuses root); \
             install the postgresql-15 package (scripts/setup does)"
        ));
    }
    let (uid, gid) = unsafe { ((*entry).pw_uid, (*entry).pw_gid) };
    std::os::unix::fs::chown(path, Some(uid), Some(gid))
        .map_err(|e| format!("cannot chown {}: {e}", path.display()))?;
    // The server user must also reach the directory through its parents.
    let reachable = server_command(Path::new("test"))
        .arg("-w")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success());
    if reachable {
        Ok(())
    } else {
        Err(format!(
            "the \"{SERVER_USER}\" OS user cannot write to {} (is a parent directory private?); \
             choose a directory it can reach",
            path.display()
        ))
    }
}

/// A TCP port on 127.0.0.1 that was free a moment ago. Servers that lose the race to another
/// process are restarted on a new port by the caller.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind an ephemeral port");
    listener
        .local_addr()
        .expect("bound socket has an address")
        .port()
}

pub fn process_alive(pid: u32) -> bool {
    Path::new("/proc").join(pid.to_string()).exists()
}
