//! `ANALYZE` of a distributed hypertable: the data nodes analyze the chunks (their own planners
//! gain from it too) and report how many rows they hold; then each sends a random sample of its
//! rows (`TABLESAMPLE BERNOULLI`), in proportion to its share, from which PostgreSQL computes the
//! access node's statistics of the foreign table as for any table. The planner then estimates scans
//! of the hypertable from those statistics (`plan::paths::get_rel_size`).

use std::collections::BTreeMap;
use std::ffi::CString;

use pgrx::pg_sys;
use pgrx::prelude::*;

use crate::catalog::hypertable::{self, Hypertable};
use crate::ddl::chunk;
use crate::node;
use crate::quote;
use crate::txn::{self, Access};

/// `AnalyzeForeignTable`: hyperdist_fdw tables are analyzed by [`acquire_sample_rows`].
#[pg_guard]
pub unsafe extern "C-unwind" fn analyze_foreign_table(
    _relation: pg_sys::Relation,
    func: *mut pg_sys::AcquireSampleRowsFunc,
    total_pages: *mut pg_sys::BlockNumber,
) -> bool {
    // SAFETY: out-parameters of the callback.
    unsafe {
        *func = Some(acquire_sample_rows);
        *total_pages = 1;
    }
    true
}

/// Each chunk's reading node: its first available replica.
fn chunks_by_node(hypertable: &Hypertable) -> BTreeMap<String, Vec<String>> {
    let available = node::available_names();
    let mut by_node: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for chunk in chunk::all(hypertable).iter() {
        let Some(reader) = chunk.data_nodes.iter().find(|n| available.contains(n)) else {
            chunk.no_available_replica()
        };
        by_node
            .entry(reader.clone())
            .or_default()
            .push(chunk.qualified_name.clone());
    }
    by_node
}

#[pg_guard]
unsafe extern "C-unwind" fn acquire_sample_rows(
    relation: pg_sys::Relation,
    _elevel: i32,
    rows: *mut pg_sys::HeapTuple,
    target_rows: i32,
    total_rows: *mut f64,
    total_dead_rows: *mut f64,
) -> i32 {
    // SAFETY: a valid open relation with its tuple descriptor.
    let (relid, tupdesc) = unsafe { ((*relation).rd_id, (*relation).rd_att) };
    let hypertable = hypertable::require(relid);
    let mut columns = unsafe { input_columns(tupdesc) };
    let by_node = chunks_by_node(&hypertable);

    // How many rows each node holds, after it has analyzed them.
    let mut counts: Vec<(String, Vec<String>, f64)> = Vec::new();
    for (name, chunks) in by_node {
        let session = txn::session(&node::get(&name), Access::Write);
        let list = chunks.join(", ");
        session
            .batch_execute(&format!("ANALYZE {list}"))
            .unwrap_or_else(|e| e.raise());
        let row = session
            .query(
                "SELECT coalesce(sum(greatest(reltuples, 0)), 0)::float8 FROM pg_catalog.pg_class
                  WHERE oid = ANY ($1::text[]::regclass[])",
                &[&chunks],
            )
            .unwrap_or_else(|e| e.raise());
        let count: f64 = row.first().map(|r| r.get(0)).unwrap_or(0.0);
        counts.push((name, chunks, count));
    }
    let total: f64 = counts.iter().map(|(_, _, n)| n).sum();
    // SAFETY: out-parameters of the callback.
    unsafe {
        *total_rows = total;
        *total_dead_rows = 0.0;
    }
    if total <= 0.0 || target_rows <= 0 {
        return 0;
    }

    let select_list = columns
        .iter()
        .map(|c| format!("{}::text", quote::ident(&c.name)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut taken: usize = 0;
    let capacity = target_rows as usize;
    for (name, chunks, count) in counts {
        if count <= 0.0 {
            continue;
        }
        let wanted = ((target_rows as f64) * count / total).ceil() as usize;
        // A little over the share, so that the LIMIT rather than chance decides the size; the
        // rows kept are a random subset of all chunks' (not the first chunks').
        let percent = (100.0 * 1.2 * wanted as f64 / count).min(100.0);
        let union = chunks
            .iter()
            .map(|chunk| {
                format!("SELECT {select_list} FROM ONLY {chunk} TABLESAMPLE BERNOULLI ({percent})")
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let sample = txn::session(&node::get(&name), Access::Read)
            .query(
                &format!(
                    "SELECT * FROM ({union}) s ORDER BY random() LIMIT {}",
                    wanted.min(capacity - taken)
                ),
                &[],
            )
            .unwrap_or_else(|e| e.raise());
        for row in sample {
            if taken >= capacity {
                break;
            }
            // SAFETY: forms a tuple of the relation's descriptor from values read by the
            // columns' input functions; `rows` has room for `target_rows` tuples.
            unsafe {
                *rows.add(taken) = form_tuple(tupdesc, &mut columns, &row);
            }
            taken += 1;
        }
        if taken >= capacity {
            break;
        }
    }
    taken as i32
}

/// A column of the relation and how to read its text form.
struct InputColumn {
    name: String,
    /// Index in the tuple descriptor.
    index: usize,
    input: pg_sys::FmgrInfo,
    io_param: pg_sys::Oid,
    typmod: i32,
}

unsafe fn input_columns(tupdesc: pg_sys::TupleDesc) -> Vec<InputColumn> {
    let mut columns = Vec::new();
    // SAFETY: a valid tuple descriptor; each live attribute's type has an input function.
    unsafe {
        let attrs = (*tupdesc).attrs.as_slice((*tupdesc).natts as usize);
        for (index, attr) in attrs.iter().enumerate() {
            if attr.attisdropped {
                continue;
            }
            let mut input_oid = pg_sys::InvalidOid;
            let mut io_param = pg_sys::InvalidOid;
            pg_sys::getTypeInputInfo(attr.atttypid, &mut input_oid, &mut io_param);
            let mut input: pg_sys::FmgrInfo = std::mem::zeroed();
            pg_sys::fmgr_info(input_oid, &mut input);
            columns.push(InputColumn {
                name: pgrx::name_data_to_str(&attr.attname).to_string(),
                index,
                input,
                io_param,
                typmod: attr.atttypmod,
            });
        }
    }
    columns
}

unsafe fn form_tuple(
    tupdesc: pg_sys::TupleDesc,
    columns: &mut [InputColumn],
    row: &tokio_postgres::Row,
) -> pg_sys::HeapTuple {
    // SAFETY: see the caller.
    unsafe {
        let natts = (*tupdesc).natts as usize;
        let mut values = vec![pg_sys::Datum::from(0); natts];
        let mut nulls = vec![true; natts];
        for (position, column) in columns.iter_mut().enumerate() {
            let text: Option<String> = row.get(position);
            if let Some(text) = text {
                let text = CString::new(text).unwrap_or_default();
                values[column.index] = pg_sys::InputFunctionCall(
                    &mut column.input,
                    text.as_ptr().cast_mut(),
                    column.io_param,
                    column.typmod,
                );
                nulls[column.index] = false;
            }
        }
        pg_sys::heap_form_tuple(tupdesc, values.as_mut_ptr(), nulls.as_mut_ptr())
    }
}
