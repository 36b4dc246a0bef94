//! Data-node side: what a chunk table takes from its hypertable's table beyond what inheritance
//! gives. A chunk is `CREATE TABLE chunk () INHERITS (parent)`, so columns, NOT NULL and CHECK
//! constraints follow every later `ALTER TABLE` of the parent by themselves; indexes (and with them
//! UNIQUE and PRIMARY KEY constraints), the owner and the privileges do not, and are copied here:
//! when a chunk is made, and after each DDL the access node forwards that changes them.
//!
//! An index of a chunk stands for an index of the parent when both read the same: uniqueness and
//! everything `pg_get_indexdef` prints after `ON table ` (method, keys, opclasses, INCLUDE,
//! storage options, predicate). Names differ (PostgreSQL chooses them per chunk).

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::catalog::spi;

/// One index, as compared between a parent and its chunks.
struct IndexShape {
    index: pg_sys::Oid,
    unique: bool,
    /// `USING method (keys) ...`: the definition after the table name.
    body: String,
    /// The constraint the index backs on its table (UNIQUE, PRIMARY KEY), if any.
    constraint: Option<String>,
}

fn index_shapes(table: pg_sys::Oid) -> Vec<IndexShape> {
    let rows = Spi::connect(|client| {
        client
            .select(
                "SELECT i.indexrelid, i.indisunique,
                        substr(pg_catalog.pg_get_indexdef(i.indexrelid),
                               length(format('CREATE %sINDEX %I ON %s ',
                                             CASE WHEN i.indisunique THEN 'UNIQUE ' ELSE '' END,
                                             c.relname, i.indrelid::regclass)) + 1),
                        (SELECT conname::text FROM pg_catalog.pg_constraint
                          WHERE conindid = i.indexrelid AND conrelid = i.indrelid)
                   FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
                  WHERE i.indrelid = $1 ORDER BY i.indexrelid",
                None,
                &[table.into()],
            )?
            .map(|row| {
                Ok(IndexShape {
                    index: row.get::<pg_sys::Oid>(1)?.unwrap_or(pg_sys::InvalidOid),
                    unique: row.get::<bool>(2)?.unwrap_or(false),
                    body: row.get::<String>(3)?.unwrap_or_default(),
                    constraint: row.get::<String>(4)?,
                })
            })
            .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
    });
    spi(rows)
}

fn chunks_of(parent: pg_sys::Oid) -> Vec<pg_sys::Oid> {
    let rows = Spi::connect(|client| {
        client
            .select(
                "SELECT inhrelid FROM pg_catalog.pg_inherits WHERE inhparent = $1 ORDER BY inhrelid",
                None,
                &[parent.into()],
            )?
            .map(|row| row.get::<pg_sys::Oid>(1).map(|o| o.unwrap_or(pg_sys::InvalidOid)))
            .collect::<Result<Vec<_>, _>>()
    });
    spi(rows)
}

fn relation_name(relid: pg_sys::Oid) -> String {
    spi(Spi::get_one_with_args::<String>(
        "SELECT $1::regclass::text",
        &[relid.into()],
    ))
    .unwrap_or_default()
}

/// Creates on `chunk` each of the parent's indexes it lacks.
fn copy_indexes(parent: &[IndexShape], chunk: pg_sys::Oid) {
    let existing = index_shapes(chunk);
    let name = relation_name(chunk);
    for index in parent {
        if existing
            .iter()
            .any(|e| e.unique == index.unique && e.body == index.body)
        {
            continue;
        }
        let unique = if index.unique { "UNIQUE " } else { "" };
        spi(Spi::run(&format!(
            "CREATE {unique}INDEX ON {name} {}",
            index.body
        )));
    }
}

/// Gives `chunk` the parent's owner (when the current user may) and exactly the parent's table
/// and column privileges.
fn copy_privileges(parent: pg_sys::Oid, chunk: pg_sys::Oid) {
    // Revokes come before grants; each list is built in that order.
    const OWNER: &str =
        "SELECT coalesce(array_agg(format('ALTER TABLE %s OWNER TO %I', $2::regclass,
                                                pg_catalog.pg_get_userbyid(p.relowner))), '{}')
           FROM pg_catalog.pg_class p, pg_catalog.pg_class c
          WHERE p.oid = $1 AND c.oid = $2 AND p.relowner <> c.relowner
            AND pg_catalog.pg_has_role(current_user, p.relowner, 'MEMBER')";
    const TABLE: &str = "WITH acl AS (
             SELECT coalesce(p.relacl, pg_catalog.acldefault('r', p.relowner)) AS wanted,
                    coalesce(c.relacl, pg_catalog.acldefault('r', c.relowner)) AS held
               FROM pg_catalog.pg_class p, pg_catalog.pg_class c WHERE p.oid = $1 AND c.oid = $2)
         SELECT CASE WHEN acl.wanted::text = acl.held::text THEN '{}' ELSE
                ARRAY(SELECT DISTINCT format('REVOKE ALL ON %s FROM %s', $2::regclass,
                                             _hyperdist_internal.grantee_sql(a.grantee))
                        FROM acl, pg_catalog.aclexplode(acl.held) a)
             || ARRAY(SELECT format('GRANT %s ON %s TO %s%s', a.privilege_type, $2::regclass,
                                    _hyperdist_internal.grantee_sql(a.grantee),
                                    CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
                        FROM acl, pg_catalog.aclexplode(acl.wanted) a) END
           FROM acl";
    const COLUMNS: &str = "SELECT coalesce(array_agg(s ORDER BY attnum, step, s), '{}') FROM (
             SELECT pa.attnum, 1 AS step,
                    format('REVOKE ALL (%I) ON %s FROM %s', pa.attname, $2::regclass,
                           _hyperdist_internal.grantee_sql(a.grantee)) AS s
               FROM pg_catalog.pg_attribute pa
               JOIN pg_catalog.pg_attribute ca ON ca.attrelid = $2 AND ca.attname = pa.attname
               CROSS JOIN LATERAL pg_catalog.aclexplode(ca.attacl) a
              WHERE pa.attrelid = $1 AND pa.attnum > 0 AND NOT pa.attisdropped
                AND pa.attacl::text IS DISTINCT FROM ca.attacl::text
             UNION
             SELECT pa.attnum, 2,
                    format('GRANT %s (%I) ON %s TO %s%s', a.privilege_type, pa.attname, $2::regclass,
                           _hyperdist_internal.grantee_sql(a.grantee),
                           CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
               FROM pg_catalog.pg_attribute pa
               JOIN pg_catalog.pg_attribute ca ON ca.attrelid = $2 AND ca.attname = pa.attname
               CROSS JOIN LATERAL pg_catalog.aclexplode(pa.attacl) a
              WHERE pa.attrelid = $1 AND pa.attnum > 0 AND NOT pa.attisdropped
                AND pa.attacl::text IS DISTINCT FROM ca.attacl::text) steps";
    for query in [OWNER, TABLE, COLUMNS] {
        let statements = spi(Spi::get_one_with_args::<Vec<String>>(
            query,
            &[parent.into(), chunk.into()],
        ))
        .unwrap_or_default();
        for statement in statements {
            spi(Spi::run(&statement));
        }
    }
}

pgrx::extension_sql!(
    r#"
CREATE FUNCTION _hyperdist_internal.grantee_sql(grantee oid) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN grantee = 0 THEN 'PUBLIC'
                ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(grantee)) END
$$;
"#,
    name = "grantee_sql",
    requires = ["catalog"]
);

#[pg_schema]
mod _hyperdist_internal {
    use super::*;

    /// Brings `chunk` (or, when NULL, every chunk of `parent`) in line with the parent's indexes,
    /// owner and privileges. Runs on a data node, sent by the access node.
    #[pg_extern(volatile)]
    fn sync_chunks(parent: pg_sys::Oid, chunk: Option<pg_sys::Oid>) {
        let indexes = index_shapes(parent);
        let chunks = match chunk {
            Some(chunk) => vec![chunk],
            None => chunks_of(parent),
        };
        for chunk in chunks {
            copy_indexes(&indexes, chunk);
            copy_privileges(parent, chunk);
        }
    }

    /// Drops, on every chunk of the index's table, the index (or UNIQUE/PRIMARY KEY constraint)
    /// that stands for `index`: run before the parent's own index goes.
    #[pg_extern(volatile)]
    fn drop_chunk_indexes(index: pg_sys::Oid) {
        let parent = crate::catalog::spi_optional(Spi::get_one_with_args::<pg_sys::Oid>(
            "SELECT indrelid FROM pg_catalog.pg_index WHERE indexrelid = $1",
            &[index.into()],
        ));
        let Some(parent) = parent else { return };
        let Some(dropped) = index_shapes(parent).into_iter().find(|i| i.index == index) else {
            return;
        };
        for chunk in chunks_of(parent) {
            let name = relation_name(chunk);
            for standing in index_shapes(chunk)
                .into_iter()
                .filter(|i| i.unique == dropped.unique && i.body == dropped.body)
            {
                let sql = match &standing.constraint {
                    Some(constraint) => format!(
                        "ALTER TABLE {name} DROP CONSTRAINT {}",
                        crate::quote::ident(constraint)
                    ),
                    None => format!("DROP INDEX {}", relation_name(standing.index)),
                };
                spi(Spi::run(&sql));
            }
        }
    }

    /// The indexes of a hypertable's table on this data node: name, definition, the constraint
    /// each backs, and its key columns when it is a plain (not partial, not expression) index:
    /// what the access node records.
    // pgrx reads the row type from the signature itself: it cannot be a type alias.
    #[allow(clippy::type_complexity)]
    #[pg_extern(stable)]
    fn table_indexes(
        parent: pg_sys::Oid,
    ) -> TableIterator<
        'static,
        (
            name!(index_name, String),
            name!(definition, String),
            name!(constraint_name, Option<String>),
            name!(key_columns, Option<Vec<String>>),
        ),
    > {
        let rows = Spi::connect(|client| {
            client
                .select(
                    "SELECT c.relname::text, pg_catalog.pg_get_indexdef(i.indexrelid),
                            (SELECT conname::text FROM pg_catalog.pg_constraint
                              WHERE conindid = i.indexrelid AND conrelid = i.indrelid),
                            CASE WHEN i.indpred IS NULL AND i.indexprs IS NULL THEN
                                ARRAY(SELECT a.attname::text
                                        FROM unnest(i.indkey[0:i.indnkeyatts - 1]) WITH ORDINALITY k(attnum, n)
                                        JOIN pg_catalog.pg_attribute a
                                          ON a.attrelid = i.indrelid AND a.attnum = k.attnum
                                       ORDER BY k.n) END
                       FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indexrelid
                      WHERE i.indrelid = $1 ORDER BY c.relname",
                    None,
                    &[parent.into()],
                )?
                .map(|row| {
                    Ok((
                        row.get::<String>(1)?.unwrap_or_default(),
                        row.get::<String>(2)?.unwrap_or_default(),
                        row.get::<String>(3)?,
                        row.get::<Vec<String>>(4)?,
                    ))
                })
                .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
        });
        TableIterator::new(spi(rows))
    }
}
