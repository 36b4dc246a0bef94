//! Distributed hypertable DDL: creating one (`create`), the table definition the data nodes get
//! (`definition`), and chunk tables on data nodes (`chunk`).

pub mod attach;
pub mod chunk;
pub mod create;
pub mod definition;

use pgrx::pg_sys;

/// Runs `f` with `search_path = pg_catalog`, so names PostgreSQL prints (types, functions in
/// defaults, index definitions) come out schema-qualified and mean the same on every node.
pub fn with_qualified_names<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: the GUC nest level is popped below, or by transaction abort if `f` raises.
    let level = unsafe {
        let level = pg_sys::NewGUCNestLevel();
        pg_sys::set_config_option(
            c"search_path".as_ptr(),
            c"pg_catalog".as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_SAVE,
            true,
            0,
            false,
        );
        level
    };
    let result = f();
    // SAFETY: pops the level pushed above.
    unsafe { pg_sys::AtEOXact_GUC(true, level) };
    result
}
