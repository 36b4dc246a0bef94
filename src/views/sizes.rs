//! `hypertable_detailed_size` and `hypertable_size`: what a distributed hypertable takes on its
//! data nodes, asked of every data node at once.

use futures_util::future::join_all;
use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::catalog::hypertable;
use crate::ddl::chunk;
use crate::node;
use crate::remote::{RemoteError, runtime};
use crate::txn;

/// Sizes of the listed relations (the hypertable's table and its chunks on one node).
const SIZES: &str = "SELECT coalesce(sum(pg_table_size(r) - coalesce(pg_total_relation_size(c.reltoastrelid), 0)), 0)::bigint,
        coalesce(sum(pg_indexes_size(r)), 0)::bigint,
        coalesce(sum(coalesce(pg_total_relation_size(c.reltoastrelid), 0)), 0)::bigint,
        coalesce(sum(pg_total_relation_size(r)), 0)::bigint
   FROM unnest($1::text[]) AS name
   CROSS JOIN LATERAL (SELECT to_regclass(name) AS r) x
   JOIN pg_class c ON c.oid = x.r";

type NodeSize = (i64, i64, i64, i64, String);

fn detailed_size(relation: pg_sys::Oid) -> Vec<NodeSize> {
    let hypertable = hypertable::require(relation);
    let chunks = chunk::all(&hypertable);
    let requests: Vec<_> = hypertable
        .data_nodes
        .iter()
        .map(|name| {
            let mut relations = vec![hypertable.qualified_name()];
            relations.extend(
                chunks
                    .iter()
                    .filter(|c| c.data_nodes.contains(name))
                    .map(|c| c.qualified_name.clone()),
            );
            (
                name.clone(),
                txn::session(&node::get(name), txn::Access::Read),
                relations,
            )
        })
        .collect();
    let answers = runtime::block_on(join_all(requests.iter().map(
        |(name, session, relations)| async move {
            session
                .client()
                .query_one(SIZES, &[relations])
                .await
                .map(|row| (row.get(0), row.get(1), row.get(2), row.get(3), name.clone()))
                .map_err(|err| RemoteError::from_postgres(name, err))
        },
    )))
    .unwrap_or_else(|_| runtime::raise_pending_interrupt());
    answers
        .into_iter()
        .map(|answer| answer.unwrap_or_else(|e| e.raise()))
        .collect()
}

#[pg_schema]
mod _hyperdist_internal {
    use super::*;

    #[pg_extern(volatile)]
    fn hypertable_detailed_size(
        hypertable: pg_sys::Oid,
    ) -> TableIterator<
        'static,
        (
            name!(table_bytes, i64),
            name!(index_bytes, i64),
            name!(toast_bytes, i64),
            name!(total_bytes, i64),
            name!(node_name, String),
        ),
    > {
        TableIterator::new(detailed_size(hypertable))
    }
}

pgrx::extension_sql!(
    r#"
CREATE FUNCTION hypertable_detailed_size(hypertable regclass)
RETURNS TABLE (table_bytes bigint, index_bytes bigint, toast_bytes bigint, total_bytes bigint, node_name name)
LANGUAGE sql VOLATILE STRICT AS $$
    SELECT r.table_bytes, r.index_bytes, r.toast_bytes, r.total_bytes, r.node_name::name
      FROM _hyperdist_internal.hypertable_detailed_size($1) r
$$;

CREATE FUNCTION hypertable_size(hypertable regclass) RETURNS bigint
LANGUAGE sql VOLATILE STRICT AS $$
    SELECT sum(total_bytes)::bigint FROM hypertable_detailed_size($1)
$$;
"#,
    name = "hypertable_sizes",
    requires = [_hyperdist_internal::hypertable_detailed_size]
);
