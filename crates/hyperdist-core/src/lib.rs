//! PostgreSQL-free logic of hyperdist.
//!
//! Everything here is plain Rust, unit-tested with `cargo test -p hyperdist-core` in seconds. The
//! extension crate (the repository root) is the glue that feeds it data from PostgreSQL and turns its
//! errors into `ereport`s.

pub mod bucket;
pub mod compat;
pub mod copy_binary;
pub mod fdw_options;
pub mod gid;
pub mod partition;
pub mod time;
