//! Remote I/O: connections from this backend to data nodes.
//!
//! - [`runtime`]: one current-thread tokio runtime per backend; every wait polls PostgreSQL's
//!   interrupt flags, so query cancel and `statement_timeout` reach the data nodes as cancel
//!   requests.
//! - [`connection`]: opening a session (bounded by `hyperdist.connect_timeout`), pinning its
//!   settings, running statements, turning failures into errors that name the node.
//! - [`cache`]: connections kept per (data node, user) for the life of the backend, dropped when
//!   the foreign server or user mapping changes, replaced when found broken.
//! - [`stream`]: COPY output a session is sending, set aside into memory when the session is
//!   needed for something else before its owner has read it all.
//!
//! Nothing here calls PostgreSQL from another thread: futures only do network I/O, and results are
//! handed back to the backend's thread before they touch PostgreSQL.

pub mod cache;
pub mod codec;
pub mod connection;
pub mod runtime;
pub mod stream;

pub use connection::{ConnectionTarget, NodeConnection, RemoteError};
