//! The extension's own version, as SQL sees it.

use pgrx::prelude::*;

/// The version of the hyperdist library loaded in this server.
#[pg_extern(immutable, parallel_safe)]
fn hyperdist_version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}
