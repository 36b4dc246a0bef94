//! Which hypertables use a data node, and which of their chunks live there.

use pgrx::prelude::*;

use super::spi;

/// How one distributed hypertable depends on one data node.
pub struct NodeUsage {
    pub hypertable_id: i32,
    pub table_name: String,
    pub replication_factor: i16,
    /// Data nodes the hypertable uses, this one included.
    pub data_nodes: i64,
    /// Chunks whose only replica is on the node.
    pub sole_replicas: i64,
    /// Chunks on the node that also have a replica elsewhere.
    pub shared_replicas: i64,
}

pub fn hypertables_using(node_name: &str) -> Vec<NodeUsage> {
    let usages = Spi::connect(|client| {
        client
            .select(
                "WITH replicas AS (
                     SELECT chunk_id, count(*) AS copies
                       FROM _hyperdist_catalog.chunk_data_node GROUP BY chunk_id)
                 SELECT h.id, h.table_name::text, h.replication_factor,
                        (SELECT count(*) FROM _hyperdist_catalog.hypertable_data_node o
                          WHERE o.hypertable_id = h.id),
                        count(r.chunk_id) FILTER (WHERE r.copies = 1),
                        count(r.chunk_id) FILTER (WHERE r.copies > 1)
                   FROM _hyperdist_catalog.hypertable_data_node hdn
                   JOIN _hyperdist_catalog.hypertable h ON h.id = hdn.hypertable_id
                   LEFT JOIN _hyperdist_catalog.chunk c ON c.hypertable_id = h.id
                   LEFT JOIN _hyperdist_catalog.chunk_data_node cdn
                          ON cdn.chunk_id = c.id AND cdn.node_name = hdn.node_name
                   LEFT JOIN replicas r ON r.chunk_id = cdn.chunk_id
                  WHERE hdn.node_name = $1
                  GROUP BY h.id
                  ORDER BY h.id",
                None,
                &[node_name.into()],
            )?
            .map(|row| {
                Ok(NodeUsage {
                    hypertable_id: row.get::<i32>(1)?.unwrap_or_default(),
                    table_name: row.get::<String>(2)?.unwrap_or_default(),
                    replication_factor: row.get::<i16>(3)?.unwrap_or(1),
                    data_nodes: row.get::<i64>(4)?.unwrap_or(0),
                    sole_replicas: row.get::<i64>(5)?.unwrap_or(0),
                    shared_replicas: row.get::<i64>(6)?.unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
    });
    spi(usages)
}

/// Forgets the node in every hypertable: its replicas, the chunks that had no other replica, and
/// its membership.
pub fn remove_data_node(node_name: &str) {
    spi(Spi::run_with_args(
        "WITH gone AS (
             DELETE FROM _hyperdist_catalog.chunk_data_node WHERE node_name = $1 RETURNING chunk_id)
         DELETE FROM _hyperdist_catalog.chunk c
          USING gone
          WHERE c.id = gone.chunk_id
            AND NOT EXISTS (SELECT FROM _hyperdist_catalog.chunk_data_node o
                             WHERE o.chunk_id = c.id AND o.node_name <> $1)",
        &[node_name.into()],
    ));
    spi(Spi::run_with_args(
        "DELETE FROM _hyperdist_catalog.hypertable_data_node WHERE node_name = $1",
        &[node_name.into()],
    ));
}

/// Detaches the node from one hypertable: its replicas of the hypertable's chunks (and chunks left
/// without a replica) and its membership.
pub fn detach_data_node(node_name: &str, hypertable_id: i32) {
    spi(Spi::run_with_args(
        "WITH gone AS (
             DELETE FROM _hyperdist_catalog.chunk_data_node d
              USING _hyperdist_catalog.chunk c
              WHERE d.chunk_id = c.id AND c.hypertable_id = $2 AND d.node_name = $1
             RETURNING d.chunk_id)
         DELETE FROM _hyperdist_catalog.chunk c
          USING gone
          WHERE c.id = gone.chunk_id
            AND NOT EXISTS (SELECT FROM _hyperdist_catalog.chunk_data_node o
                             WHERE o.chunk_id = c.id AND o.node_name <> $1)",
        &[node_name.into(), hypertable_id.into()],
    ));
    spi(Spi::run_with_args(
        "DELETE FROM _hyperdist_catalog.hypertable_data_node WHERE node_name = $1 AND hypertable_id = $2",
        &[node_name.into(), hypertable_id.into()],
    ));
}
