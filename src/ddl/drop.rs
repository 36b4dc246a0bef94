//! Removing a distributed hypertable (`DROP FOREIGN TABLE`, also by CASCADE) and emptying one
//! (`TRUNCATE`): both reach every data node within the distributed transaction, so either all
//! nodes and the catalog change, or none.

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::catalog::hypertable::{self, Hypertable};
use crate::catalog::spi;
use crate::node;
use crate::txn::{self, Access};

/// Runs `sql` on every data node of the hypertable.
fn on_data_nodes(hypertable: &Hypertable, sql: &str) {
    for name in &hypertable.data_nodes {
        txn::session(&node::get(name), Access::Write)
            .batch_execute(sql)
            .unwrap_or_else(|e| e.raise());
    }
}

#[pg_schema]
mod _hyperdist_internal {
    use super::*;

    /// Called by the `sql_drop` event trigger for each dropped foreign table: if it was a
    /// distributed hypertable, its tables (with their chunks) go on every data node and its
    /// catalog rows on the access node.
    #[pg_extern(volatile)]
    fn drop_hypertable(schema_name: &str, table_name: &str) {
        let id = crate::catalog::spi_optional(Spi::get_one_with_args::<i32>(
            "SELECT id FROM _hyperdist_catalog.hypertable WHERE schema_name = $1 AND table_name = $2",
            &[schema_name.into(), table_name.into()],
        ));
        let Some(hypertable) = id.and_then(hypertable::by_id) else {
            return;
        };
        on_data_nodes(
            &hypertable,
            &format!(
                "DROP TABLE IF EXISTS {} CASCADE",
                hypertable.qualified_name()
            ),
        );
        spi(Spi::run_with_args(
            "DELETE FROM _hyperdist_catalog.hypertable WHERE id = $1",
            &[hypertable.id.into()],
        ));
    }
}

/// `TRUNCATE` of hypertables: every chunk on every data node (the DN table is the chunks'
/// parent, so truncating it truncates them). Chunks stay; they are empty.
#[pg_guard]
pub unsafe extern "C-unwind" fn truncate(
    rels: *mut pg_sys::List,
    _behavior: pg_sys::DropBehavior::Type,
    restart_seqs: bool,
) {
    let relations = unsafe { pgrx::PgList::<pg_sys::RelationData>::from_pg(rels) };
    for relation in relations.iter_ptr() {
        let hypertable = hypertable::require(unsafe { (*relation).rd_id });
        let restart = if restart_seqs {
            " RESTART IDENTITY"
        } else {
            ""
        };
        on_data_nodes(
            &hypertable,
            &format!("TRUNCATE {}{restart}", hypertable.qualified_name()),
        );
    }
}

pgrx::extension_sql!(
    r#"
CREATE FUNCTION _hyperdist_internal.on_sql_drop() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
    dropped record;
BEGIN
    FOR dropped IN SELECT * FROM pg_event_trigger_dropped_objects()
                    WHERE object_type = 'foreign table' LOOP
        PERFORM _hyperdist_internal.drop_hypertable(dropped.schema_name, dropped.object_name);
    END LOOP;
END
$$;
CREATE EVENT TRIGGER hyperdist_sql_drop ON sql_drop EXECUTE FUNCTION _hyperdist_internal.on_sql_drop();
"#,
    name = "drop_trigger",
    requires = [_hyperdist_internal::drop_hypertable, "catalog"]
);
