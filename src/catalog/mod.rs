//! Typed access to `_hyperdist_catalog`, the access node's metadata (and a data node's identity).

pub mod cache;
pub mod hypertable;
pub mod metadata;
pub mod placement;

use pgrx::PgSqlErrorCode;
use pgrx::spi::SpiResult;

use crate::error::Report;

pgrx::extension_sql_file!(
    "../../sql/catalog.sql",
    name = "catalog",
    requires = ["bootstrap"]
);
pgrx::extension_sql_file!(
    "../../sql/data_node.sql",
    name = "data_node_functions",
    requires = ["catalog"]
);

/// Like [`spi`], for a query that may find no row: that is `None`, not an error.
pub fn spi_optional<T>(result: SpiResult<Option<T>>) -> Option<T> {
    match result {
        Err(pgrx::spi::SpiError::InvalidPosition) => None,
        other => spi(other),
    }
}

/// Unwraps the result of an SPI call whose failure can only be a bug of ours (a type mismatch
/// between a query and the Rust type it is read into): SQL errors already raised themselves.
pub fn spi<T>(result: SpiResult<T>) -> T {
    result.unwrap_or_else(|err| {
        Report::new(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            format!("hyperdist catalog access failed: {err}"),
        )
        .raise()
    })
}
