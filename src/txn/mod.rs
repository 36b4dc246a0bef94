//! Remote transactions: the work an access-node transaction does on data nodes commits or rolls
//! back with it.
//!
//! The first time a local transaction touches a data node, a remote transaction is opened there
//! (REPEATABLE READ: all statements of the local transaction see one snapshot per node). At local
//! commit, data nodes that were only read commit at once; data nodes that were written to commit
//! with two-phase commit (presumed abort):
//!
//! 1. PRE_COMMIT: `PREPARE TRANSACTION '<gid>'` on each of them (all at once), and a row per gid in
//!    `_hyperdist_catalog.remote_txn`, written in the local transaction. Any failure aborts the
//!    local transaction, and every prepared one is rolled back.
//! 2. The local commit makes those rows durable: it is the decision.
//! 3. COMMIT: `COMMIT PREPARED` on each. A node that fails here keeps its transaction prepared
//!    ("in doubt") until the healer (`heal`) commits it, because its row exists.
//!
//! A prepared transaction whose local transaction aborted has no row, so the healer rolls it back.
//! Savepoints are mirrored on the data nodes, so `ROLLBACK TO SAVEPOINT` undoes remote work too.

pub mod heal;
pub mod healer;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use futures_util::future::join_all;
use hyperdist_core::gid::Gid;
use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::catalog::{metadata, spi};
use crate::error::Report;
use crate::guc::{self, TwoPhaseFault};
use crate::node::DataNode;
use crate::remote::cache::{self, CacheKey};
use crate::remote::{NodeConnection, RemoteError, runtime};

/// How long ending a remote transaction may take at local commit or abort before the session is
/// given up (the healer finishes the job).
const END_LIMIT: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

struct RemoteTxn {
    key: CacheKey,
    node_name: String,
    connection: Rc<NodeConnection>,
    written: Cell<bool>,
    /// Savepoint levels open on the node (`s1` .. `s<depth>`), mirroring the local nesting.
    depth: Cell<i32>,
    /// Set once PREPARE TRANSACTION succeeded.
    prepared: RefCell<Option<String>>,
}

thread_local! {
    static OPEN: RefCell<Vec<Rc<RemoteTxn>>> = const { RefCell::new(Vec::new()) };
}

fn nest_level() -> i32 {
    // SAFETY: reads the current subtransaction nesting level.
    unsafe { pg_sys::GetCurrentTransactionNestLevel() }
}

/// The session on `node` that belongs to the current local transaction (opening the remote
/// transaction, and savepoints for the current nesting, on first use).
pub fn session(node: &DataNode, access: Access) -> Rc<NodeConnection> {
    try_session(node, access).unwrap_or_else(|e| e.raise())
}

/// Like [`session`], but a node that cannot be reached is an `Err`, for callers that can do
/// without it (a read that has another replica).
pub fn try_session(node: &DataNode, access: Access) -> Result<Rc<NodeConnection>, RemoteError> {
    let key = node.cache_key();
    let existing = OPEN.with(|open| open.borrow().iter().find(|t| t.key == key).cloned());
    let txn = match existing {
        Some(txn) => txn,
        None => {
            let connection = begin(node)?;
            let txn = Rc::new(RemoteTxn {
                key,
                node_name: node.name.clone(),
                connection: Rc::new(connection),
                written: Cell::new(false),
                depth: Cell::new(1),
                prepared: RefCell::new(None),
            });
            OPEN.with(|open| open.borrow_mut().push(txn.clone()));
            txn
        }
    };
    let level = nest_level();
    while txn.depth.get() < level {
        let next = txn.depth.get() + 1;
        txn.connection
            .batch_execute(&format!("SAVEPOINT s{next}"))?;
        txn.depth.set(next);
    }
    if access == Access::Write {
        txn.written.set(true);
    }
    txn.connection.settle()?;
    Ok(txn.connection.clone())
}

/// A session with a remote transaction begun. A cached session that turns out to be broken (the
/// node restarted since) is replaced by a new one, once.
fn begin(node: &DataNode) -> Result<NodeConnection, RemoteError> {
    const BEGIN: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ";
    if let Some(cached) = cache::take(node.cache_key()) {
        match cached.batch_execute(BEGIN) {
            Ok(()) => return Ok(cached),
            Err(RemoteError::Lost { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    let fresh = NodeConnection::open(&node.target(), guc::connect_timeout())?;
    fresh.batch_execute(BEGIN)?;
    Ok(fresh)
}

pub fn init() {
    // SAFETY: _PG_init; the callbacks stay registered for the life of the process.
    unsafe {
        pg_sys::RegisterXactCallback(Some(on_xact_event), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(on_subxact_event), std::ptr::null_mut());
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_xact_event(
    event: pg_sys::XactEvent::Type,
    _arg: *mut std::ffi::c_void,
) {
    match event {
        pg_sys::XactEvent::XACT_EVENT_PRE_COMMIT => pre_commit(),
        pg_sys::XactEvent::XACT_EVENT_COMMIT => commit_prepared(),
        pg_sys::XactEvent::XACT_EVENT_ABORT => rollback_all(),
        pg_sys::XactEvent::XACT_EVENT_PRE_PREPARE => refuse_prepare(),
        _ => {}
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_subxact_event(
    event: pg_sys::SubXactEvent::Type,
    _my: pg_sys::SubTransactionId,
    _parent: pg_sys::SubTransactionId,
    _arg: *mut std::ffi::c_void,
) {
    let level = nest_level();
    let command = match event {
        pg_sys::SubXactEvent::SUBXACT_EVENT_COMMIT_SUB => format!("RELEASE SAVEPOINT s{level}"),
        pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB => {
            format!("ROLLBACK TO SAVEPOINT s{level}; RELEASE SAVEPOINT s{level}")
        }
        _ => return,
    };
    let open: Vec<_> = OPEN.with(|open| open.borrow().clone());
    for txn in open.iter().filter(|t| t.depth.get() >= level) {
        // Never raises here (an abort may be in progress); a node that does not follow loses its
        // session, and the local transaction then cannot commit.
        let done = runtime::block_on_ignoring_interrupts(
            txn.connection.client().batch_execute(&command),
            END_LIMIT,
        );
        if matches!(done, Some(Ok(()))) {
            txn.depth.set(level - 1);
        } else {
            txn.depth.set(i32::MAX);
        }
    }
}

fn take_open() -> Vec<Rc<RemoteTxn>> {
    OPEN.with(|open| std::mem::take(&mut *open.borrow_mut()))
}

fn open_txns() -> Vec<Rc<RemoteTxn>> {
    OPEN.with(|open| open.borrow().clone())
}

fn pre_commit() {
    let open = open_txns();
    if open.is_empty() {
        return;
    }
    if let Some(broken) = open.iter().find(|t| t.depth.get() == i32::MAX) {
        RemoteError::Lost {
            node: broken.node_name.clone(),
            detail: "a savepoint could not be released or rolled back on the data node".to_string(),
        }
        .raise();
    }
    let two_phase = guc::enable_2pc();
    let (writers, readers): (Vec<_>, Vec<_>) =
        open.into_iter().partition(|t| two_phase && t.written.get());
    // Read-only nodes (and all nodes without 2PC) commit right away; a failure still aborts here.
    end_all(&readers, |_| "COMMIT".to_string());
    if writers.is_empty() {
        finish(readers);
        return;
    }
    // At PRE_COMMIT no portal holds a snapshot any more; SPI needs one.
    // SAFETY: pushed here and popped below (or by abort cleanup if an error intervenes).
    unsafe { pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot()) };
    let cluster = metadata::uuid();
    let xid = spi(Spi::get_one::<i64>(
        "SELECT pg_current_xact_id()::text::bigint",
    ))
    .unwrap_or_default();
    for txn in &writers {
        let gid = Gid {
            cluster: cluster.clone(),
            xid: xid as u64,
            server: txn.key.server.to_u32(),
            user: txn.key.user.to_u32(),
        }
        .to_string();
        spi(Spi::run_with_args(
            "SELECT _hyperdist_internal.log_prepared($1, $2)",
            &[gid.as_str().into(), txn.node_name.as_str().into()],
        ));
        *txn.prepared.borrow_mut() = Some(gid);
    }
    // SAFETY: pops the snapshot pushed above.
    unsafe { pg_sys::PopActiveSnapshot() };
    end_all(&writers, |txn| {
        format!(
            "PREPARE TRANSACTION '{}'",
            txn.prepared.borrow().as_deref().unwrap_or_default()
        )
    });
    if guc::debug_2pc_fault() == TwoPhaseFault::FailAfterPrepare {
        // Forget them, as an access node that died now would.
        take_open();
        Report::new(
            pgrx::PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            "hyperdist.debug_2pc_fault: failing after PREPARE",
        )
        .raise();
    }
    finish(readers);
}

/// Sends each transaction's ending command, all nodes at once; raises the first failure.
fn end_all(txns: &[Rc<RemoteTxn>], command: impl Fn(&RemoteTxn) -> String) {
    let commands: Vec<String> = txns.iter().map(|t| command(t)).collect();
    if guc::log_remote_commands() {
        for (txn, sql) in txns.iter().zip(&commands) {
            pgrx::log!("[{}]: {sql}", txn.node_name);
        }
    }
    let results = runtime::block_on(join_all(
        txns.iter()
            .zip(&commands)
            .map(|(txn, sql)| txn.connection.client().batch_execute(sql)),
    ))
    .unwrap_or_else(|_| {
        txns.iter().for_each(|t| t.connection.cancel());
        runtime::raise_pending_interrupt()
    });
    for (txn, result) in txns.iter().zip(results) {
        if let Err(err) = result {
            RemoteError::from_postgres(&txn.node_name, err).raise();
        }
    }
}

/// Returns the sessions of ended remote transactions to the cache.
fn finish(txns: Vec<Rc<RemoteTxn>>) {
    OPEN.with(|open| {
        open.borrow_mut()
            .retain(|t| !txns.iter().any(|d| Rc::ptr_eq(t, d)))
    });
    for txn in txns {
        release(txn);
    }
}

/// Local commit happened: commit what was prepared. Never raises: a node that fails here keeps an
/// in-doubt transaction that the healer commits.
fn commit_prepared() {
    let open = take_open();
    if guc::debug_2pc_fault() == TwoPhaseFault::SkipCommitPrepared {
        return;
    }
    let commands: Vec<Option<String>> = open
        .iter()
        .map(|txn| {
            txn.prepared
                .borrow()
                .as_ref()
                .map(|gid| format!("COMMIT PREPARED '{gid}'"))
        })
        .collect();
    let failed = end_quietly(&open, &commands);
    for (txn, error) in open.into_iter().zip(failed) {
        match error {
            None => release(txn),
            Some(err) => pgrx::warning!(
                "could not commit prepared transaction on data node \"{}\": {err}; the healer commits it",
                txn.node_name
            ),
        }
    }
}

/// Never raises: the local transaction is already aborting.
fn rollback_all() {
    let open = take_open();
    let commands: Vec<Option<String>> = open
        .iter()
        .map(|txn| {
            Some(match txn.prepared.borrow().as_deref() {
                Some(gid) => format!("ROLLBACK PREPARED '{gid}'"),
                None => "ROLLBACK".to_string(),
            })
        })
        .collect();
    let failed = end_quietly(&open, &commands);
    for (txn, error) in open.into_iter().zip(failed) {
        if error.is_none() {
            release(txn);
        }
    }
}

/// Sends each transaction's command (if any), all at once, without raising; returns each one's
/// failure. A node that does not answer within the limit counts as failed.
fn end_quietly(txns: &[Rc<RemoteTxn>], commands: &[Option<String>]) -> Vec<Option<String>> {
    let ends = txns.iter().zip(commands).map(|(txn, command)| async move {
        match command {
            Some(sql) => txn
                .connection
                .client()
                .batch_execute(sql)
                .await
                .err()
                .map(|e| e.to_string()),
            None => None,
        }
    });
    runtime::block_on_ignoring_interrupts(join_all(ends), END_LIMIT)
        .unwrap_or_else(|| vec![Some("no answer in time".to_string()); txns.len()])
}

/// Puts a session whose transaction has ended back into the cache (unless something else still
/// holds it, which would mean it is in use).
fn release(txn: Rc<RemoteTxn>) {
    let Ok(txn) = Rc::try_unwrap(txn) else {
        return;
    };
    if let Ok(connection) = Rc::try_unwrap(txn.connection) {
        cache::put(txn.key, connection);
    }
}

fn refuse_prepare() {
    if !open_txns().is_empty() {
        Report::new(
            pgrx::PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "cannot prepare a transaction that modified remote tables",
        )
        .hint("Distributed transactions commit with hyperdist's own two-phase commit; use COMMIT.")
        .raise();
    }
}
