//! `show_chunks` and `drop_chunks`: the chunks of a hypertable wholly older than (or newer than)
//! a bound, listed or dropped. A drop removes each chunk's table from every replica and its
//! catalog rows within the distributed transaction, so it happens everywhere or nowhere; it also
//! removes chunk tables no chunk names (stale ones) from the data nodes.
//!
//! The bounds are TimescaleDB's `"any"` arguments (an interval back from now(), a timestamp, a
//! date or an integer, as suits the time column), which only a C-language function can take: the
//! two functions below are plain V1 C functions that read their arguments by type and return
//! their rows in materialize mode.

use std::ffi::CStr;

use hyperdist_core::time::TimeType;
use pgrx::prelude::*;
use pgrx::{PgSqlErrorCode, pg_sys};

use crate::catalog::hypertable::{self, Hypertable};
use crate::catalog::{spi, spi_optional};
use crate::error::{Report, invalid_argument};
use crate::node::{self, DataNode};
use crate::txn::{self, Access};

/// A chunk selected by the bounds: its qualified table name and replicas.
struct Selected {
    id: i32,
    qualified_name: String,
    data_nodes: Vec<String>,
}

/// The chunks of `hypertable` with `time_end <= older_than` and `time_start >= newer_than`
/// (internal time values; a missing bound does not restrict).
fn select(
    hypertable: &Hypertable,
    older_than: Option<i64>,
    newer_than: Option<i64>,
) -> Vec<Selected> {
    let rows = Spi::connect(|client| {
        client
            .select(
                "SELECT c.id, format('%I.%I', c.schema_name, c.table_name),
                        array(SELECT node_name::text FROM _hyperdist_catalog.chunk_data_node r
                               WHERE r.chunk_id = c.id ORDER BY node_name)
                   FROM _hyperdist_catalog.chunk c
                  WHERE c.hypertable_id = $1
                    AND ($2::bigint IS NULL OR c.time_end <= $2)
                    AND ($3::bigint IS NULL OR c.time_start >= $3)
                  ORDER BY c.time_start, c.space_start, c.id",
                None,
                &[hypertable.id.into(), older_than.into(), newer_than.into()],
            )?
            .map(|row| {
                Ok(Selected {
                    id: row.get::<i32>(1)?.unwrap_or_default(),
                    qualified_name: row.get::<String>(2)?.unwrap_or_default(),
                    data_nodes: row.get::<Vec<String>>(3)?.unwrap_or_default(),
                })
            })
            .collect::<Result<Vec<_>, pgrx::spi::SpiError>>()
    });
    spi(rows)
}

/// Drops the chunks: their tables on every replica (all must be available, or a replica would
/// outlive its catalog row), then their catalog rows.
fn drop_selected(hypertable: &Hypertable, chunks: &[Selected], verbose: bool) {
    // Chunk creation takes the same lock: no chunk appears in the range while it is emptied.
    // SAFETY: locks an existing relation until the end of the transaction.
    unsafe {
        pg_sys::LockRelationOid(
            hypertable.relid,
            pg_sys::ShareUpdateExclusiveLock as pg_sys::LOCKMODE,
        )
    };
    for chunk in chunks {
        for name in &chunk.data_nodes {
            let node = node::get(name);
            if !node.available {
                Report::new(
                    PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
                    "some data nodes are not available for DDL commands",
                )
                .detail(format!(
                    "Chunk {} has a replica on data node \"{name}\", which is not available.",
                    chunk.qualified_name
                ))
                .hint(
                    "Make the data node available again (alter_data_node) before dropping chunks.",
                )
                .raise();
            }
        }
    }
    for chunk in chunks {
        if verbose {
            pgrx::info!("dropping chunk {}", chunk.qualified_name);
        }
        for name in &chunk.data_nodes {
            txn::session(&node::get(name), Access::Write)
                .batch_execute(&format!("DROP TABLE IF EXISTS {}", chunk.qualified_name))
                .unwrap_or_else(|e| e.raise());
        }
        spi(Spi::run_with_args(
            "DELETE FROM _hyperdist_catalog.chunk WHERE id = $1",
            &[chunk.id.into()],
        ));
    }
    let available: Vec<DataNode> = node::all().into_iter().filter(|n| n.available).collect();
    drop_stale_tables(hypertable, &available);
    hypertable.invalidate_plans();
}

/// Drops the chunk tables of the hypertable that `nodes` hold but the catalog does not place
/// there: left by chunk creators that rolled back (their tables commit on the data nodes first) or
/// by a replica dropped while its node was unavailable. The caller holds the lock every chunk
/// creator and copy/move_chunk takes (SHARE UPDATE EXCLUSIVE on the hypertable), so all of them
/// have finished and a table the catalog does not know is no one's.
pub fn drop_stale_tables(hypertable: &Hypertable, nodes: &[DataNode]) {
    for node in nodes {
        let placed = spi(Spi::get_one_with_args::<Vec<String>>(
            "SELECT coalesce(array_agg(format('%I.%I', c.schema_name, c.table_name)), '{}')
               FROM _hyperdist_catalog.chunk c
               JOIN _hyperdist_catalog.chunk_data_node r ON r.chunk_id = c.id
              WHERE c.hypertable_id = $1 AND r.node_name = $2",
            &[hypertable.id.into(), node.name.as_str().into()],
        ))
        .unwrap_or_default();
        // Cleaning up is worth no failure: a node that cannot be reached keeps its stale tables.
        let held = match txn::try_session(node, Access::Read) {
            Ok(session) => session
                .query(
                    "SELECT format('%I.%I', n.nspname, c.relname)
                       FROM pg_catalog.pg_inherits i
                       JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
                       JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                      WHERE i.inhparent = to_regclass($1)",
                    &[&hypertable.qualified_name()],
                )
                .unwrap_or_else(|e| e.raise()),
            Err(err) => {
                Report::new(
                    PgSqlErrorCode::ERRCODE_WARNING,
                    format!(
                        "stale chunk tables on data node \"{}\" were not removed",
                        node.name
                    ),
                )
                .detail(err.report_text())
                .warn();
                continue;
            }
        };
        for row in held {
            let table: String = row.get(0);
            if !placed.contains(&table) {
                txn::session(node, Access::Write)
                    .batch_execute(&format!("DROP TABLE IF EXISTS {table}"))
                    .unwrap_or_else(|e| e.raise());
            }
        }
    }
}

/// A data node is available again: the tables of replicas dropped meanwhile go (as in
/// TimescaleDB's alter_data_node).
pub fn drop_stale_tables_on(node: &DataNode) {
    let ids = spi(Spi::get_one::<Vec<i32>>(
        "SELECT coalesce(array_agg(id ORDER BY id), '{}') FROM _hyperdist_catalog.hypertable",
    ))
    .unwrap_or_default();
    for hypertable in ids
        .into_iter()
        .filter_map(crate::catalog::hypertable::by_id)
    {
        if hypertable.relid == pg_sys::InvalidOid {
            continue;
        }
        // SAFETY: locks an existing relation until the end of the transaction.
        unsafe {
            pg_sys::LockRelationOid(
                hypertable.relid,
                pg_sys::ShareUpdateExclusiveLock as pg_sys::LOCKMODE,
            )
        };
        drop_stale_tables(&hypertable, std::slice::from_ref(node));
    }
}

/// An `"any"` argument of a V1 call.
struct AnyArg {
    value: pg_sys::Datum,
    type_oid: pg_sys::Oid,
}

/// Reads argument `n` of `fcinfo`, `None` when NULL.
unsafe fn any_arg(fcinfo: pg_sys::FunctionCallInfo, n: usize) -> Option<AnyArg> {
    // SAFETY: the caller passes a valid fcinfo of a function with more than `n` arguments.
    unsafe {
        let args = (*fcinfo).args.as_slice((*fcinfo).nargs as usize);
        let arg = args.get(n)?;
        if arg.isnull {
            return None;
        }
        Some(AnyArg {
            value: arg.value,
            type_oid: pg_sys::get_fn_expr_argtype((*fcinfo).flinfo, n as i32),
        })
    }
}

/// The internal time value of a bound given for `hypertable`'s time column.
fn bound(hypertable: &Hypertable, argument: &str, arg: &AnyArg) -> i64 {
    let column_type = spi(Spi::get_one_with_args::<String>(
        "SELECT format_type(atttypid, NULL) FROM pg_attribute WHERE attrelid = $1 AND attname = $2",
        &[
            hypertable.relid.into(),
            hypertable.time.column.as_str().into(),
        ],
    ))
    .unwrap_or_default();
    // SAFETY: the type's output function turns a valid datum of that type into a C string.
    let (text, type_name) = unsafe {
        let mut output = pg_sys::InvalidOid;
        let mut varlena = false;
        pg_sys::getTypeOutputInfo(arg.type_oid, &mut output, &mut varlena);
        let text = CStr::from_ptr(pg_sys::OidOutputFunctionCall(output, arg.value))
            .to_string_lossy()
            .into_owned();
        let name = CStr::from_ptr(pg_sys::format_type_be(arg.type_oid))
            .to_string_lossy()
            .into_owned();
        (text, name)
    };
    let time_type = hypertable.time.time_type;
    let is_integer_arg = matches!(
        arg.type_oid,
        pg_sys::INT2OID | pg_sys::INT4OID | pg_sys::INT8OID
    );
    let is_time_arg = matches!(
        arg.type_oid,
        pg_sys::TIMESTAMPTZOID | pg_sys::TIMESTAMPOID | pg_sys::DATEOID
    );
    // The bound as a value of the column's type, in SQL over the value's text.
    let value = match (time_type.is_integer(), arg.type_oid) {
        (false, pg_sys::INTERVALOID) => format!("(now() - $1::interval)::{column_type}"),
        (false, _) if is_time_arg => format!("$1::{type_name}::{column_type}"),
        (true, _) if is_integer_arg => format!("$1::{type_name}::{column_type}"),
        (_, pg_sys::UNKNOWNOID) => format!("$1::{column_type}"),
        (true, pg_sys::INTERVALOID) => invalid_argument(
            format!(
                "invalid {argument} argument: an interval needs a time column of a timestamp or date type"
            ),
            format!(
                "Column \"{}\" is of type {column_type}: give an integer bound.",
                hypertable.time.column
            ),
        ),
        _ => invalid_argument(
            format!("invalid time argument type \"{type_name}\""),
            format!(
                "Try casting the argument to \"{}\".",
                if time_type.is_integer() {
                    column_type.as_str()
                } else {
                    "interval"
                }
            ),
        ),
    };
    let internal = match time_type {
        TimeType::SmallInt | TimeType::Int | TimeType::BigInt => format!("({value})::bigint"),
        TimeType::TimestampTz | TimeType::Timestamp | TimeType::Date => {
            format!("(extract(epoch FROM {value}) * 1000000)::bigint")
        }
    };
    spi_optional(Spi::get_one_with_args::<i64>(
        &format!("SELECT {internal}"),
        &[text.as_str().into()],
    ))
    .unwrap_or_default()
}

/// The hypertable and bounds of a show_chunks/drop_chunks call: (relation, older_than,
/// newer_than) are arguments 0-2; `created` lists the created_before/after positions.
unsafe fn read_call(
    fcinfo: pg_sys::FunctionCallInfo,
    created: &[usize],
) -> (Hypertable, Option<i64>, Option<i64>) {
    let relation = unsafe { any_arg(fcinfo, 0) }.unwrap_or_else(|| {
        invalid_argument(
            "invalid hypertable or continuous aggregate",
            "Give the hypertable as the first argument.",
        )
    });
    let relid = pg_sys::Oid::from(relation.value.value() as u32);
    let hypertable = hypertable::by_relid(relid).unwrap_or_else(|| {
        Report::new(
            PgSqlErrorCode::ERRCODE_UNDEFINED_OBJECT,
            format!(
                "table \"{}\" is not a hypertable",
                spi(Spi::get_one_with_args::<String>(
                    "SELECT $1::regclass::text",
                    &[relid.into()]
                ))
                .unwrap_or_default()
            ),
        )
        .hint("show_chunks and drop_chunks take a distributed hypertable.")
        .raise()
    });
    if created
        .iter()
        .any(|&n| unsafe { any_arg(fcinfo, n) }.is_some())
    {
        Report::new(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            "created_before and created_after are not supported on distributed hypertables",
        )
        .hint("Select chunks by their time range with older_than and newer_than.")
        .raise();
    }
    let older_than = unsafe { any_arg(fcinfo, 1) }.map(|a| bound(&hypertable, "older_than", &a));
    let newer_than = unsafe { any_arg(fcinfo, 2) }.map(|a| bound(&hypertable, "newer_than", &a));
    if let (Some(older), Some(newer)) = (older_than, newer_than)
        && older <= newer
    {
        invalid_argument(
            "invalid time range: older_than must be later than newer_than",
            "When both are given, chunks between newer_than and older_than are selected.",
        );
    }
    (hypertable, older_than, newer_than)
}

/// Returns `names` as the rows of a set-returning call in materialize mode.
unsafe fn return_names(fcinfo: pg_sys::FunctionCallInfo, names: Vec<String>) -> pg_sys::Datum {
    // SAFETY: a set-returning V1 call; InitMaterializedSRF checks the caller accepts a tuplestore
    // and builds one for the declared one-column (text) result.
    unsafe {
        pg_sys::InitMaterializedSRF(fcinfo, pg_sys::MAT_SRF_USE_EXPECTED_DESC as pg_sys::bits32);
        let rsinfo = (*fcinfo).resultinfo.cast::<pg_sys::ReturnSetInfo>();
        for name in names {
            let mut values = [name.into_datum().unwrap_or(pg_sys::Datum::from(0))];
            let mut nulls = [false];
            pg_sys::tuplestore_putvalues(
                (*rsinfo).setResult,
                (*rsinfo).setDesc,
                values.as_mut_ptr(),
                nulls.as_mut_ptr(),
            );
        }
    }
    pg_sys::Datum::from(0)
}

/// Declares the V1 calling convention of a C function (what `PG_FUNCTION_INFO_V1` does).
macro_rules! v1_function_info {
    ($info:ident) => {
        #[unsafe(no_mangle)]
        #[doc(hidden)]
        pub extern "C" fn $info() -> &'static pg_sys::Pg_finfo_record {
            const V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
            &V1
        }
    };
}

v1_function_info!(pg_finfo_hyperdist_show_chunks);

/// `show_chunks(relation, older_than, newer_than, created_before, created_after)`.
#[pg_guard]
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn hyperdist_show_chunks(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    let (hypertable, older_than, newer_than) = unsafe { read_call(fcinfo, &[3, 4]) };
    let names = select(&hypertable, older_than, newer_than)
        .into_iter()
        .map(|c| c.qualified_name)
        .collect();
    unsafe { return_names(fcinfo, names) }
}

v1_function_info!(pg_finfo_hyperdist_drop_chunks);

/// `drop_chunks(relation, older_than, newer_than, verbose, created_before, created_after)`.
#[pg_guard]
#[unsafe(no_mangle)]
pub unsafe extern "C-unwind" fn hyperdist_drop_chunks(
    fcinfo: pg_sys::FunctionCallInfo,
) -> pg_sys::Datum {
    crate::error::prevent_if_read_only(c"drop_chunks()");
    let (hypertable, older_than, newer_than) = unsafe { read_call(fcinfo, &[4, 5]) };
    if older_than.is_none() && newer_than.is_none() {
        invalid_argument(
            "invalid time range for dropping chunks",
            "At least one of older_than and newer_than must be provided.",
        );
    }
    let verbose = unsafe { any_arg(fcinfo, 3) }.is_some_and(|a| a.value.value() != 0);
    let chunks = select(&hypertable, older_than, newer_than);
    drop_selected(&hypertable, &chunks, verbose);
    let names = chunks.into_iter().map(|c| c.qualified_name).collect();
    unsafe { return_names(fcinfo, names) }
}

pgrx::extension_sql!(
    r#"
CREATE FUNCTION show_chunks(
    relation regclass,
    older_than "any" = NULL,
    newer_than "any" = NULL,
    created_before "any" = NULL,
    created_after "any" = NULL
) RETURNS SETOF text
AS 'MODULE_PATHNAME', 'hyperdist_show_chunks' LANGUAGE c STABLE PARALLEL SAFE;
COMMENT ON FUNCTION show_chunks IS
    'the chunks of a distributed hypertable (schema-qualified chunk table names on its data nodes), optionally only those wholly older than older_than and/or newer than newer_than';

CREATE FUNCTION drop_chunks(
    relation regclass,
    older_than "any" = NULL,
    newer_than "any" = NULL,
    verbose boolean = false,
    created_before "any" = NULL,
    created_after "any" = NULL
) RETURNS SETOF text
AS 'MODULE_PATHNAME', 'hyperdist_drop_chunks' LANGUAGE c VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION drop_chunks IS
    'drops the chunks of a distributed hypertable wholly older than older_than and/or newer than newer_than, on every replica, in the current transaction';
"#,
    name = "retention",
    requires = ["catalog"]
);
