//! Connections kept for the life of the backend, one per (data node, user).
//!
//! A connection is taken out for one operation and put back afterwards; if the operation fails (an
//! ERROR unwinds through it), the connection is not put back, so a session in an unknown state is
//! never reused. Any change to a foreign server or user mapping drops every cached connection, so
//! the next operation connects with the new options.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::remote::connection::NodeConnection;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub server: pg_sys::Oid,
    pub user: pg_sys::Oid,
}

thread_local! {
    static CONNECTIONS: RefCell<HashMap<CacheKey, NodeConnection>> = RefCell::new(HashMap::new());
    static INVALIDATED: Cell<bool> = const { Cell::new(false) };
    static CALLBACKS_REGISTERED: Cell<bool> = const { Cell::new(false) };
}

/// Takes the cached connection for `key` out of the cache, if there is a live one. Whoever takes
/// a connection puts it back with [`put`] once done with it, unless the work on it failed.
pub fn take(key: CacheKey) -> Option<NodeConnection> {
    register_invalidation_callbacks();
    if INVALIDATED.replace(false) {
        CONNECTIONS.with(|connections| connections.borrow_mut().clear());
    }
    CONNECTIONS
        .with(|connections| connections.borrow_mut().remove(&key))
        .filter(|connection| !connection.is_closed())
}

pub fn put(key: CacheKey, connection: NodeConnection) {
    CONNECTIONS.with(|connections| connections.borrow_mut().insert(key, connection));
}

/// Drops the cached connections to one data node (e.g. before dropping its database).
pub fn forget_server(server: pg_sys::Oid) {
    CONNECTIONS.with(|connections| {
        connections
            .borrow_mut()
            .retain(|key, _| key.server != server)
    });
}

fn register_invalidation_callbacks() {
    if CALLBACKS_REGISTERED.replace(true) {
        return;
    }
    for cache in [
        pg_sys::SysCacheIdentifier::FOREIGNSERVEROID,
        pg_sys::SysCacheIdentifier::USERMAPPINGOID,
    ] {
        // SAFETY: registers a plain function for the life of the backend (one slot per cache).
        unsafe {
            pg_sys::CacheRegisterSyscacheCallback(
                cache as i32,
                Some(invalidate),
                pg_sys::Datum::from(0),
            )
        };
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn invalidate(_arg: pg_sys::Datum, _cache: i32, _hash: u32) {
    // Connections are dropped lazily, at the next use, never inside invalidation processing.
    INVALIDATED.set(true);
}
