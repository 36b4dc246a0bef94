//! The cluster harness of hyperdist's multi-node tests, and of `scripts/cluster`.
//!
//! ```no_run
//! let cluster = hyperdist_tests::Cluster::start(3); // an access node and 3 data nodes
//! cluster.create_extension().unwrap();
//! let mut an = cluster.access_node().connect();
//! ```

mod cluster;
mod os;
mod server;

pub use cluster::{ACCESS_NODE, Cluster};
pub use server::{Server, StopMode};
