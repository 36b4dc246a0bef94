//! Remote transactions: the work an access-node transaction does on data nodes, committed or
//! rolled back with it.
//!
//! The first time a local transaction touches a data node, a remote transaction is opened there
//! (REPEATABLE READ, so all statements of the local transaction see one snapshot per node). All
//! later work of the local transaction on that node runs in it. At local commit (PRE_COMMIT) every
//! remote transaction is committed, and a failure there still aborts the local transaction; at local
//! abort every one is rolled back. Sessions go back to the connection cache afterwards.
//!
//! Today the commit is one-phase: a node failing between two remote COMMITs can leave one committed
//! and one not. Two-phase commit with in-doubt healing replaces it (see DESIGN.md "Transactions").

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::error::Report;
use crate::guc;
use crate::node::DataNode;
use crate::remote::NodeConnection;
use crate::remote::cache::{self, CacheKey};
use crate::remote::runtime;

/// How long ending a remote transaction may take at local abort before the session is given up.
const ABORT_LIMIT: Duration = Duration::from_secs(5);

struct RemoteTxn {
    key: CacheKey,
    connection: Rc<NodeConnection>,
}

thread_local! {
    static OPEN: RefCell<Vec<RemoteTxn>> = const { RefCell::new(Vec::new()) };
}

/// The session on `node` that belongs to the current local transaction, opening the remote
/// transaction on first use.
pub fn session(node: &DataNode) -> Rc<NodeConnection> {
    let key = node.cache_key();
    if let Some(open) = OPEN.with(|open| {
        open.borrow()
            .iter()
            .find(|txn| txn.key == key)
            .map(|txn| txn.connection.clone())
    }) {
        return open;
    }
    let connection = cache::take(key)
        .map(Ok)
        .unwrap_or_else(|| NodeConnection::open(&node.target(), guc::connect_timeout()))
        .unwrap_or_else(|e| e.raise());
    connection
        .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        .unwrap_or_else(|e| e.raise());
    let connection = Rc::new(connection);
    OPEN.with(|open| {
        open.borrow_mut().push(RemoteTxn {
            key,
            connection: connection.clone(),
        })
    });
    connection
}

pub fn init() {
    // SAFETY: _PG_init; the callback stays registered for the life of the process.
    unsafe { pg_sys::RegisterXactCallback(Some(on_xact_event), std::ptr::null_mut()) };
}

#[pg_guard]
unsafe extern "C-unwind" fn on_xact_event(
    event: pg_sys::XactEvent::Type,
    _arg: *mut std::ffi::c_void,
) {
    match event {
        pg_sys::XactEvent::XACT_EVENT_PRE_COMMIT => commit_all(),
        pg_sys::XactEvent::XACT_EVENT_ABORT => rollback_all(),
        pg_sys::XactEvent::XACT_EVENT_PRE_PREPARE => refuse_prepare(),
        _ => {}
    }
}

fn take_open() -> Vec<RemoteTxn> {
    OPEN.with(|open| std::mem::take(&mut *open.borrow_mut()))
}

fn commit_all() {
    let open = take_open();
    let mut failure = None;
    for txn in open {
        match txn.connection.batch_execute("COMMIT") {
            Ok(()) => release(txn),
            // The remaining ones are rolled back when the local transaction aborts for this error.
            Err(err) if failure.is_none() => failure = Some(err),
            Err(_) => {}
        }
    }
    if let Some(err) = failure {
        err.raise();
    }
}

/// Never raises: the local transaction is already aborting.
fn rollback_all() {
    for txn in take_open() {
        let ended = runtime::block_on_ignoring_interrupts(
            txn.connection.client().batch_execute("ROLLBACK"),
            ABORT_LIMIT,
        );
        if matches!(ended, Some(Ok(()))) {
            release(txn);
        }
    }
}

/// Puts a session whose transaction has ended back into the cache (unless something else still
/// holds it, which would mean it is in use).
fn release(txn: RemoteTxn) {
    if let Ok(connection) = Rc::try_unwrap(txn.connection) {
        cache::put(txn.key, connection);
    }
}

fn refuse_prepare() {
    let touched = OPEN.with(|open| !open.borrow().is_empty());
    if touched {
        Report::new(
            pgrx::PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "cannot prepare a transaction that modified remote tables",
        )
        .hint("Distributed transactions commit with hyperdist's own two-phase commit; use COMMIT.")
        .raise();
    }
}
