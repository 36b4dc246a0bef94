//! `VACUUM` of distributed hypertables: the rows are in the chunk tables on the data nodes, so each
//! available data node vacuums the chunks it holds, on a session of its own (VACUUM cannot run in
//! a transaction block, there or here); with `ANALYZE`, the access node then gathers statistics as
//! `ANALYZE` does (`exec::sample`). Other tables of the statement are vacuumed as usual.
//! (PostgreSQL itself would skip a foreign table with a warning.)

use std::ffi::CStr;

use pgrx::{PgList, pg_sys};

use crate::catalog::hypertable::Hypertable;
use crate::ddl::chunk;
use crate::ddl::utility::{Utility, distributed};
use crate::error::Report;
use crate::guc;
use crate::node;
use crate::quote;
use crate::remote::NodeConnection;

/// Options that only VACUUM knows: they are not passed to the ANALYZE that follows.
const VACUUM_ONLY: [&str; 8] = [
    "full",
    "freeze",
    "disable_page_skipping",
    "index_cleanup",
    "truncate",
    "parallel",
    "process_toast",
    "analyze",
];

/// # Safety
/// `stmt` is the VacuumStmt of this ProcessUtility call.
pub(super) unsafe fn vacuum(utility: &Utility, stmt: *mut pg_sys::VacuumStmt) -> bool {
    unsafe {
        if !(*stmt).is_vacuumcmd {
            // ANALYZE alone: PostgreSQL calls the wrapper's AnalyzeForeignTable.
            return false;
        }
        let relations = PgList::<pg_sys::VacuumRelation>::from_pg((*stmt).rels);
        let mut hypertables = Vec::new();
        let mut others = PgList::<pg_sys::VacuumRelation>::new();
        for relation in relations.iter_ptr() {
            match distributed((*relation).relation) {
                Some(hypertable) => hypertables.push((hypertable, columns(relation))),
                None => others.push(relation),
            }
        }
        if hypertables.is_empty() {
            return false;
        }
        pg_sys::PreventInTransactionBlock(utility.is_top_level(), c"VACUUM".as_ptr());
        let options = PgList::<pg_sys::DefElem>::from_pg((*stmt).options);
        let option_sql: Vec<String> = options.iter_ptr().map(|d| option(d)).collect();
        let analyze = options.iter_ptr().any(|d| name_of(d) == "analyze");
        if !others.is_empty() {
            let copy = pg_sys::copyObjectImpl(stmt.cast()).cast::<pg_sys::VacuumStmt>();
            (*copy).rels = others.into_pg();
            utility.run_locally(copy.cast());
        }
        for (hypertable, columns) in &hypertables {
            vacuum_on_data_nodes(hypertable, &option_sql, columns);
        }
        if analyze {
            // ANALYZE of the hypertables, with the options ANALYZE takes.
            let copy = pg_sys::copyObjectImpl(stmt.cast()).cast::<pg_sys::VacuumStmt>();
            (*copy).is_vacuumcmd = false;
            let mut kept = PgList::<pg_sys::DefElem>::new();
            for def in options.iter_ptr() {
                if !VACUUM_ONLY.contains(&name_of(def).as_str()) {
                    kept.push(def);
                }
            }
            (*copy).options = kept.into_pg();
            let mut rels = PgList::<pg_sys::VacuumRelation>::new();
            for relation in relations.iter_ptr() {
                if distributed((*relation).relation).is_some() {
                    rels.push(relation);
                }
            }
            (*copy).rels = rels.into_pg();
            utility.run_locally(copy.cast());
        }
        true
    }
}

unsafe fn name_of(def: *mut pg_sys::DefElem) -> String {
    unsafe { CStr::from_ptr((*def).defname) }
        .to_string_lossy()
        .to_lowercase()
}

/// One VACUUM option as SQL: `name` or `name value`.
unsafe fn option(def: *mut pg_sys::DefElem) -> String {
    unsafe {
        let name = name_of(def);
        if (*def).arg.is_null() {
            return name;
        }
        let value = CStr::from_ptr(pg_sys::defGetString(def)).to_string_lossy();
        match (*(*def).arg).type_ {
            pg_sys::NodeTag::T_Integer | pg_sys::NodeTag::T_Float => format!("{name} {value}"),
            _ => format!("{name} {}", quote::literal(&value)),
        }
    }
}

/// ` (a, b)` for a column list, else nothing.
unsafe fn columns(relation: *mut pg_sys::VacuumRelation) -> String {
    unsafe {
        let names: Vec<String> = PgList::<pg_sys::String>::from_pg((*relation).va_cols)
            .iter_ptr()
            .map(|s| quote::ident(&CStr::from_ptr((*s).sval).to_string_lossy()))
            .collect();
        if names.is_empty() {
            String::new()
        } else {
            format!(" ({})", names.join(", "))
        }
    }
}

/// `VACUUM (options) chunk, ...` on each available data node for the chunks it holds; a node
/// that is not available is skipped with a warning.
fn vacuum_on_data_nodes(hypertable: &Hypertable, options: &[String], columns: &str) {
    let mut by_node: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for chunk in chunk::all(hypertable).iter() {
        for name in &chunk.data_nodes {
            by_node
                .entry(name.clone())
                .or_default()
                .push(format!("{}{columns}", chunk.qualified_name));
        }
    }
    let options = if options.is_empty() {
        String::new()
    } else {
        format!(" ({})", options.join(", "))
    };
    for (name, chunks) in by_node {
        let node = node::get(&name);
        if !node.available {
            Report::new(
                pgrx::PgSqlErrorCode::ERRCODE_WARNING,
                format!("skipping data node \"{name}\": it is not available"),
            )
            .detail(format!(
                "Its chunks of hypertable \"{}\" were not vacuumed.",
                hypertable.table
            ))
            .warn();
            continue;
        }
        NodeConnection::open(&node.target(), guc::connect_timeout())
            .and_then(|session| {
                session.batch_execute(&format!("VACUUM{options} {}", chunks.join(", ")))
            })
            .unwrap_or_else(|e| e.raise());
    }
}
