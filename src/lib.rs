//! hyperdist: distributed hypertables for PostgreSQL.
//!
//! The access node keeps metadata and plans; data nodes keep the chunks. See DESIGN.md for the data
//! flow these modules follow. This file holds only `_PG_init` and the module list.
#![deny(ffi_unwind_calls)]

use pgrx::prelude::*;

mod catalog;
mod ddl;
mod error;
mod exec;
mod fdw;
mod guc;
mod ingest;
mod node;
mod plan;
mod quote;
mod remote;
mod time_bucket;
mod txn;
mod version;
mod views;

pgrx::pg_module_magic!();

pgrx::extension_sql_file!("../sql/bootstrap.sql", name = "bootstrap", bootstrap);

/// Runs once per process that loads the library. hyperdist installs hooks and transaction callbacks
/// that every backend must have, so it only works when preloaded; refusing here also makes `CREATE
/// EXTENSION` fail (it loads the library to create the C functions) with a message that says why.
#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    // SAFETY: a plain read of a PostgreSQL global, on the main thread.
    let preloading = unsafe { pg_sys::process_shared_preload_libraries_in_progress };
    if !preloading {
        error::not_preloaded();
    }
    guc::init();
    error::init();
    txn::init();
    plan::upper_paths::init();
    ddl::utility::init();
    txn::healer::register();
}
