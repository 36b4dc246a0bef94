//! The per-backend metadata cache: hypertables (by relation and by id), their chunks, and the
//! data nodes, so planning and executing a query costs no catalog queries in the common case.
//!
//! Any change to hyperdist's catalog tables fires a statement trigger that sends a relcache
//! invalidation of that table (transactional, like any catalog change: other backends see it once
//! the change commits, this one at its next command). Any relcache
//! invalidation empties the cache, and so does a change to a foreign server or user mapping for
//! the data node list. Entries are handed out as `Rc`s, so emptying the cache never frees data in
//! use.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::catalog::hypertable::Hypertable;
use crate::ddl::chunk::Chunk;
use crate::node::DataNode;

#[derive(Default)]
struct Entries {
    by_relid: HashMap<pg_sys::Oid, Option<Rc<Hypertable>>>,
    by_id: HashMap<i32, Option<Rc<Hypertable>>>,
    chunks: HashMap<i32, Rc<Vec<Chunk>>>,
    data_nodes: HashMap<(), Rc<Vec<DataNode>>>,
}

thread_local! {
    static ENTRIES: RefCell<Entries> = RefCell::new(Entries::default());
    static STALE: Cell<bool> = const { Cell::new(false) };
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
}

fn with_entries<R>(f: impl FnOnce(&mut Entries) -> R) -> R {
    register_callbacks();
    ENTRIES.with(|entries| {
        let mut entries = entries.borrow_mut();
        if STALE.replace(false) {
            *entries = Entries::default();
        }
        f(&mut entries)
    })
}

/// The entry for `key` in the map `map` picks, loaded by `load` on a miss. (`load` runs with
/// the cache released: it queries the catalog, which may process invalidations.)
fn cached<K: std::hash::Hash + Eq, V: Clone>(
    map: impl Fn(&mut Entries) -> &mut HashMap<K, V>,
    key: K,
    load: impl FnOnce() -> V,
) -> V {
    if let Some(hit) = with_entries(|e| map(e).get(&key).cloned()) {
        return hit;
    }
    let loaded = load();
    with_entries(|e| map(e).insert(key, loaded.clone()));
    loaded
}

/// The hypertable of relation `relid` (or `None`), loaded by `load` on a miss.
pub fn hypertable_by_relid(
    relid: pg_sys::Oid,
    load: impl FnOnce() -> Option<Hypertable>,
) -> Option<Rc<Hypertable>> {
    cached(|e| &mut e.by_relid, relid, || load().map(Rc::new))
}

/// The hypertable with catalog id `id` (or `None`), loaded by `load` on a miss.
pub fn hypertable_by_id(
    id: i32,
    load: impl FnOnce() -> Option<Hypertable>,
) -> Option<Rc<Hypertable>> {
    cached(|e| &mut e.by_id, id, || load().map(Rc::new))
}

/// Every chunk of hypertable `id`, loaded by `load` on a miss.
pub fn chunks(id: i32, load: impl FnOnce() -> Vec<Chunk>) -> Rc<Vec<Chunk>> {
    cached(|e| &mut e.chunks, id, || Rc::new(load()))
}

/// Every data node, loaded by `load` on a miss.
pub fn data_nodes(load: impl FnOnce() -> Vec<DataNode>) -> Rc<Vec<DataNode>> {
    cached(|e| &mut e.data_nodes, (), || Rc::new(load()))
}

fn register_callbacks() {
    if REGISTERED.replace(true) {
        return;
    }
    // SAFETY: registers plain functions for the life of the backend.
    unsafe {
        pg_sys::CacheRegisterRelcacheCallback(Some(relation_changed), pg_sys::Datum::from(0));
        for cache in [
            pg_sys::SysCacheIdentifier::FOREIGNSERVEROID,
            pg_sys::SysCacheIdentifier::USERMAPPINGOID,
        ] {
            pg_sys::CacheRegisterSyscacheCallback(
                cache as i32,
                Some(server_changed),
                pg_sys::Datum::from(0),
            );
        }
    }
}

// Invalidation callbacks only mark the cache stale: they run inside invalidation processing,
// where nothing may fail or look anything up.
#[pg_guard]
unsafe extern "C-unwind" fn relation_changed(_arg: pg_sys::Datum, _relid: pg_sys::Oid) {
    STALE.set(true);
}

#[pg_guard]
unsafe extern "C-unwind" fn server_changed(_arg: pg_sys::Datum, _cache: i32, _hash: u32) {
    STALE.set(true);
}

#[pg_schema]
mod _hyperdist_internal {
    use super::*;

    /// The statement trigger on hyperdist's catalog tables: every backend's metadata cache is
    /// emptied once the change is visible to it.
    #[pg_trigger]
    fn catalog_changed<'a>(
        trigger: &'a pgrx::PgTrigger<'a>,
    ) -> Result<
        Option<pgrx::heap_tuple::PgHeapTuple<'a, pgrx::AllocatedByPostgres>>,
        pgrx::PgTriggerError,
    > {
        let table = trigger.relation()?.oid();
        // SAFETY: queues a relcache invalidation of the catalog table that fired the trigger.
        unsafe { pg_sys::CacheInvalidateRelcacheByRelid(table) };
        Ok(None)
    }
}

pgrx::extension_sql!(
    r#"
CREATE TRIGGER metadata_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON _hyperdist_catalog.hypertable
    FOR EACH STATEMENT EXECUTE FUNCTION _hyperdist_internal.catalog_changed();
CREATE TRIGGER metadata_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON _hyperdist_catalog.dimension
    FOR EACH STATEMENT EXECUTE FUNCTION _hyperdist_internal.catalog_changed();
CREATE TRIGGER metadata_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON _hyperdist_catalog.hypertable_data_node
    FOR EACH STATEMENT EXECUTE FUNCTION _hyperdist_internal.catalog_changed();
CREATE TRIGGER metadata_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON _hyperdist_catalog.chunk
    FOR EACH STATEMENT EXECUTE FUNCTION _hyperdist_internal.catalog_changed();
CREATE TRIGGER metadata_cache AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON _hyperdist_catalog.chunk_data_node
    FOR EACH STATEMENT EXECUTE FUNCTION _hyperdist_internal.catalog_changed();
"#,
    name = "metadata_cache_triggers",
    requires = ["catalog", _hyperdist_internal::catalog_changed]
);
