//! `_hyperdist_catalog.metadata`: this database's identity and its place in a cluster.
//!
//! Key `uuid` is made when the extension is created. Key `dist_uuid` says which cluster the
//! database belongs to: absent, none; equal to `uuid`, it is an access node; otherwise it is a data
//! node of the access node with that uuid.

use pgrx::prelude::*;

use super::{spi, spi_optional};

fn get(key: &str) -> Option<String> {
    spi_optional(Spi::get_one_with_args::<String>(
        "SELECT value FROM _hyperdist_catalog.metadata WHERE key = $1",
        &[key.into()],
    ))
}

/// This database's own id.
pub fn uuid() -> String {
    get("uuid").unwrap_or_else(|| {
        crate::error::Report::new(
            pgrx::PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            "hyperdist metadata has no uuid",
        )
        .hint("The extension's catalog was altered by hand; recreate the extension.")
        .raise()
    })
}

#[derive(Debug, PartialEq, Eq)]
pub enum Membership {
    Standalone,
    AccessNode,
    DataNode { access_node: String },
}

pub fn membership() -> Membership {
    match get("dist_uuid") {
        None => Membership::Standalone,
        Some(dist) if dist == uuid() => Membership::AccessNode,
        Some(access_node) => Membership::DataNode { access_node },
    }
}

/// Marks this database as an access node (idempotent).
pub fn become_access_node() {
    spi(Spi::run(
        "INSERT INTO _hyperdist_catalog.metadata (key, value)
         SELECT 'dist_uuid', value FROM _hyperdist_catalog.metadata WHERE key = 'uuid'
         ON CONFLICT (key) DO NOTHING",
    ));
}

/// Drops the access-node mark once no data node is left.
pub fn leave_cluster_if_no_data_nodes() {
    spi(Spi::run(
        "DELETE FROM _hyperdist_catalog.metadata m
          WHERE m.key = 'dist_uuid'
            AND m.value = (SELECT value FROM _hyperdist_catalog.metadata WHERE key = 'uuid')
            AND NOT EXISTS (SELECT FROM pg_catalog.pg_foreign_server s
                              JOIN pg_catalog.pg_foreign_data_wrapper w ON w.oid = s.srvfdw
                             WHERE w.fdwname = 'hyperdist_fdw' AND s.srvname <> '_hyperdist_distributed')",
    ));
}
