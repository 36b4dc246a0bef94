//! DDL on distributed hypertables (access node): a `ProcessUtility_hook` that sees every utility
//! statement naming a distributed hypertable, runs on the access node what belongs there (the
//! foreign table's columns, defaults, CHECK constraints, owner, grants, comments) and forwards
//! the statement to each of the hypertable's data nodes within the distributed transaction, so it
//! commits on every node or on none. On a data node, chunks follow their parent by inheritance
//! (columns, NOT NULL, CHECK) and by `_hyperdist_internal.sync_chunks` (indexes, owner,
//! privileges; see `inherited`). Indexes and UNIQUE/PRIMARY KEY constraints exist only on the data
//! nodes (a foreign table has none); the access node records them in
//! `_hyperdist_catalog.hypertable_index`, read back from a data node after each change.
//!
//! Statements are forwarded as the user wrote them (the one statement out of a multi-statement
//! string), under the access node's `search_path`, so names resolve on the data node as they did
//! here. DDL that cannot be applied on every node is refused with an error naming it.

use std::ffi::CStr;

use pg_sys::ObjectType as Ot;
use pgrx::prelude::*;
use pgrx::{PgList, pg_sys};

use crate::catalog::hypertable::{self, Hypertable};
use crate::catalog::{spi, spi_optional};
use crate::error::{Report, SqlState};
use crate::node::{self, DataNode, HYPERTABLE_SERVER};
use crate::quote;
use crate::txn::{self, Access};

static mut PREV_PROCESS_UTILITY: pg_sys::ProcessUtility_hook_type = None;

pub fn init() {
    // SAFETY: _PG_init runs once per process, before any statement; the previous hook is chained.
    unsafe {
        PREV_PROCESS_UTILITY = pg_sys::ProcessUtility_hook;
        pg_sys::ProcessUtility_hook = Some(process_utility);
    }
}

/// The arguments of one ProcessUtility call, to pass on to the standard implementation.
pub(super) struct Utility {
    pstmt: *mut pg_sys::PlannedStmt,
    query_string: *const std::ffi::c_char,
    read_only_tree: bool,
    context: pg_sys::ProcessUtilityContext::Type,
    params: pg_sys::ParamListInfo,
    query_env: *mut pg_sys::QueryEnvironment,
    dest: *mut pg_sys::DestReceiver,
    qc: *mut pg_sys::QueryCompletion,
}

impl Utility {
    /// Runs `statement` (the original one, or a changed copy) as PostgreSQL would have.
    pub(super) fn run_locally(&self, statement: *mut pg_sys::Node) {
        // SAFETY: the arguments are those PostgreSQL passed in; a changed statement is put into a
        // copy of the PlannedStmt, so the original tree is left as the caller owns it.
        unsafe {
            let (pstmt, read_only) = if statement == (*self.pstmt).utilityStmt {
                (self.pstmt, self.read_only_tree)
            } else {
                let copy = pg_sys::copyObjectImpl(self.pstmt.cast()).cast::<pg_sys::PlannedStmt>();
                (*copy).utilityStmt = statement;
                (copy, false)
            };
            match PREV_PROCESS_UTILITY {
                #[allow(ffi_unwind_calls)]
                Some(prev) => pg_sys::ffi::pg_guard_ffi_boundary(|| {
                    prev(
                        pstmt,
                        self.query_string,
                        read_only,
                        self.context,
                        self.params,
                        self.query_env,
                        self.dest,
                        self.qc,
                    )
                }),
                None => pg_sys::standard_ProcessUtility(
                    pstmt,
                    self.query_string,
                    read_only,
                    self.context,
                    self.params,
                    self.query_env,
                    self.dest,
                    self.qc,
                ),
            }
        }
    }

    /// Whether the statement came from the client (not from a function or another statement).
    pub(super) fn is_top_level(&self) -> bool {
        self.context == pg_sys::ProcessUtilityContext::PROCESS_UTILITY_TOPLEVEL
    }

    fn statement(&self) -> *mut pg_sys::Node {
        // SAFETY: pstmt is the valid PlannedStmt of this call.
        unsafe { (*self.pstmt).utilityStmt }
    }

    /// The text of this statement alone, out of a string that may hold several.
    fn text(&self) -> String {
        // SAFETY: query_string is a valid C string; location and length are PostgreSQL's offsets
        // into it (-1 and 0 mean "all of it" and "to the end").
        let whole = unsafe { CStr::from_ptr(self.query_string) }.to_bytes();
        let (location, length) = unsafe { ((*self.pstmt).stmt_location, (*self.pstmt).stmt_len) };
        let start = usize::try_from(location).unwrap_or(0).min(whole.len());
        let end = if length > 0 {
            (start + length as usize).min(whole.len())
        } else {
            whole.len()
        };
        String::from_utf8_lossy(&whole[start..end])
            .trim()
            .to_string()
    }
}

#[pg_guard]
#[allow(clippy::too_many_arguments)]
unsafe extern "C-unwind" fn process_utility(
    pstmt: *mut pg_sys::PlannedStmt,
    query_string: *const std::ffi::c_char,
    read_only_tree: bool,
    context: pg_sys::ProcessUtilityContext::Type,
    params: pg_sys::ParamListInfo,
    query_env: *mut pg_sys::QueryEnvironment,
    dest: *mut pg_sys::DestReceiver,
    qc: *mut pg_sys::QueryCompletion,
) {
    let utility = Utility {
        pstmt,
        query_string,
        read_only_tree,
        context,
        params,
        query_env,
        dest,
        qc,
    };
    let statement = utility.statement();
    // SAFETY: `statement` is a valid parse node; each arm casts it to the type its tag names.
    // Nothing is distributed while an extension script runs or where hyperdist is not installed.
    let handled = unsafe {
        if pg_sys::creating_extension || !catalog_present() {
            false
        } else {
            match (*statement).type_ {
                pg_sys::NodeTag::T_IndexStmt => create_index(&utility, statement.cast()),
                pg_sys::NodeTag::T_AlterTableStmt => alter_table(&utility, statement.cast()),
                pg_sys::NodeTag::T_RenameStmt => rename(&utility, statement.cast()),
                pg_sys::NodeTag::T_AlterObjectSchemaStmt => set_schema(&utility, statement.cast()),
                pg_sys::NodeTag::T_DropStmt => drop(&utility, statement.cast()),
                pg_sys::NodeTag::T_GrantStmt => grant(&utility, statement.cast()),
                pg_sys::NodeTag::T_CommentStmt => comment(&utility, statement.cast()),
                pg_sys::NodeTag::T_VacuumStmt => super::vacuum::vacuum(&utility, statement.cast()),
                pg_sys::NodeTag::T_CopyStmt => copy_out_in_batches(&utility, statement.cast()),
                _ => false,
            }
        }
    };
    if !handled {
        utility.run_locally(statement);
    }
}

/// A data node's side of a distributed scan (see `exec::row_batches`).
unsafe fn copy_out_in_batches(utility: &Utility, statement: *mut pg_sys::CopyStmt) -> bool {
    // SAFETY: a valid CopyStmt of this call; the statement's place in its source text is
    // PostgreSQL's.
    unsafe {
        if !crate::exec::row_batches::requested(statement) {
            return false;
        }
        let rows = crate::exec::row_batches::run(
            statement,
            utility.query_string,
            (*utility.pstmt).stmt_location,
            (*utility.pstmt).stmt_len,
        );
        if !utility.qc.is_null() {
            (*utility.qc).commandTag = pg_sys::CommandTag::CMDTAG_COPY;
            (*utility.qc).nprocessed = rows;
        }
    }
    true
}

/// Whether this database has hyperdist's catalog (the library is loaded in every database).
fn catalog_present() -> bool {
    // SAFETY: a syscache lookup by name.
    unsafe { pg_sys::get_namespace_oid(c"_hyperdist_catalog".as_ptr(), true) != pg_sys::InvalidOid }
}

/// The distributed hypertable `relation` names, if it names one.
pub(super) unsafe fn distributed(relation: *mut pg_sys::RangeVar) -> Option<Hypertable> {
    if relation.is_null() {
        return None;
    }
    // SAFETY: a valid RangeVar; a missing relation gives InvalidOid.
    let relid = unsafe {
        pg_sys::RangeVarGetRelidExtended(
            relation,
            pg_sys::NoLock as pg_sys::LOCKMODE,
            pg_sys::RVROption::RVR_MISSING_OK,
            None,
            std::ptr::null_mut(),
        )
    };
    distributed_relid(relid)
}

fn distributed_relid(relid: pg_sys::Oid) -> Option<Hypertable> {
    if relid == pg_sys::InvalidOid {
        return None;
    }
    // SAFETY: catalog lookups of an existing relation; the foreign table and server exist while
    // the relation does.
    let ours = unsafe {
        if pg_sys::get_rel_relkind(relid) != pg_sys::RELKIND_FOREIGN_TABLE as std::ffi::c_char {
            return None;
        }
        let table = pg_sys::GetForeignTable(relid);
        let server = pg_sys::GetForeignServer((*table).serverid);
        CStr::from_ptr((*server).servername).to_bytes() == HYPERTABLE_SERVER.as_bytes()
    };
    if ours {
        hypertable::by_relid(relid)
    } else {
        None
    }
}

fn unsupported(message: String, hint: &str) -> ! {
    Report::new(PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED, message)
        .hint(hint)
        .raise()
}

fn c_str(value: *const std::ffi::c_char) -> String {
    if value.is_null() {
        return String::new();
    }
    // SAFETY: a valid C string from a parse tree.
    unsafe { CStr::from_ptr(value) }
        .to_string_lossy()
        .into_owned()
}

/// The data nodes a DDL statement on `hypertable` must reach: those it places chunks on and any
/// other holding a replica. All must be available, or the nodes would diverge.
fn ddl_nodes(hypertable: &Hypertable) -> Vec<DataNode> {
    let mut names = hypertable.data_nodes.clone();
    let holding = spi(Spi::get_one_with_args::<Vec<String>>(
        "SELECT coalesce(array_agg(DISTINCT r.node_name::text), '{}')
           FROM _hyperdist_catalog.chunk c JOIN _hyperdist_catalog.chunk_data_node r ON r.chunk_id = c.id
          WHERE c.hypertable_id = $1",
        &[hypertable.id.into()],
    ))
    .unwrap_or_default();
    for name in holding {
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let nodes: Vec<DataNode> = names.iter().map(|name| node::get(name)).collect();
    if let Some(down) = nodes.iter().find(|n| !n.available) {
        Report::new(
            PgSqlErrorCode::ERRCODE_INTERNAL_ERROR,
            "some data nodes are not available for DDL commands",
        )
        .detail(format!(
            "Data node \"{}\" of hypertable \"{}\" is not available.",
            down.name, hypertable.table
        ))
        .hint(
            "Make the data node available again (alter_data_node) before changing the hypertable.",
        )
        .raise();
    }
    nodes
}

/// What a data node runs for one DDL statement: steps before the user's statement, the statement
/// itself (under the access node's search_path), and steps after.
#[derive(Default)]
struct Forward {
    before: Vec<String>,
    statement: Option<String>,
    after: Vec<String>,
}

impl Forward {
    fn statement(text: String) -> Forward {
        Forward {
            statement: Some(text),
            ..Forward::default()
        }
    }

    /// Runs on every data node of `hypertable`, then brings its chunks in line and records its
    /// indexes again.
    fn run(mut self, hypertable: &Hypertable) {
        self.after.push(format!(
            "SELECT _hyperdist_internal.sync_chunks({}::regclass, NULL)",
            quote::literal(&hypertable.qualified_name())
        ));
        let search_path = super::access_node_search_path();
        let nodes = ddl_nodes(hypertable);
        for node in &nodes {
            let session = txn::session(node, Access::Write);
            let run = |sql: &str| session.batch_execute(sql).unwrap_or_else(|e| e.raise());
            self.before.iter().for_each(|sql| run(sql));
            if let Some(statement) = &self.statement {
                super::run_with_search_path(&session, &search_path, statement, true)
                    .unwrap_or_else(|e| e.raise());
            }
            self.after.iter().for_each(|sql| run(sql));
        }
        if let Some(first) = nodes.first() {
            record_indexes(hypertable, first);
        }
        hypertable.invalidate_plans();
    }
}

/// Records the indexes of the hypertable's table as `node` has them now.
pub fn record_indexes(hypertable: &Hypertable, node: &DataNode) {
    let rows = txn::session(node, Access::Read)
        .query(
            "SELECT index_name, definition, constraint_name, key_columns
               FROM _hyperdist_internal.table_indexes($1::text::regclass)",
            &[&hypertable.qualified_name()],
        )
        .unwrap_or_else(|e| e.raise());
    spi(Spi::run_with_args(
        "DELETE FROM _hyperdist_catalog.hypertable_index WHERE hypertable_id = $1",
        &[hypertable.id.into()],
    ));
    for row in rows {
        let (name, definition, constraint, columns): (
            String,
            String,
            Option<String>,
            Option<Vec<String>>,
        ) = (row.get(0), row.get(1), row.get(2), row.get(3));
        spi(Spi::run_with_args(
            "INSERT INTO _hyperdist_catalog.hypertable_index
                 (hypertable_id, index_name, definition, constraint_name, key_columns)
             VALUES ($1, $2, $3, $4, $5::name[])",
            &[
                hypertable.id.into(),
                name.into(),
                definition.into(),
                constraint.into(),
                columns.into(),
            ],
        ));
    }
}

/// The user's statement as a data node takes it: `ALTER FOREIGN TABLE` (the access node's kind of
/// table) becomes `ALTER TABLE`.
fn as_table_statement(text: String) -> String {
    let words: Vec<&str> = text.splitn(4, char::is_whitespace).collect();
    match words.as_slice() {
        [alter, foreign, table, rest]
            if alter.eq_ignore_ascii_case("alter")
                && foreign.eq_ignore_ascii_case("foreign")
                && table.eq_ignore_ascii_case("table") =>
        {
            format!("ALTER TABLE {rest}")
        }
        _ => text,
    }
}

/// Refuses a UNIQUE index or constraint that leaves out a partitioning column: rows that collide
/// could then sit in different chunks, where no index sees both.
fn require_partitioning_columns(hypertable: &Hypertable, columns: &[String]) {
    let partitioning = std::iter::once(&hypertable.time.column)
        .chain(hypertable.space.as_ref().map(|s| &s.column));
    for column in partitioning {
        if !columns.contains(column) {
            Report::new(
                SqlState::from_chars(b"TS103"),
                format!("cannot create a unique index without the column \"{column}\" (used in partitioning)"),
            )
            .hint("A unique index or constraint of a distributed hypertable must include every partitioning column.")
            .raise();
        }
    }
}

fn string_list(list: *mut pg_sys::List) -> Vec<String> {
    // SAFETY: a List of String nodes from the parser.
    unsafe { PgList::<pg_sys::String>::from_pg(list) }
        .iter_ptr()
        .map(|s| c_str(unsafe { (*s).sval }))
        .collect()
}

unsafe fn create_index(utility: &Utility, stmt: *mut pg_sys::IndexStmt) -> bool {
    let Some(hypertable) = (unsafe { distributed((*stmt).relation) }) else {
        return false;
    };
    let stmt = unsafe { &*stmt };
    if stmt.concurrent {
        unsupported(
            "CREATE INDEX CONCURRENTLY is not supported on distributed hypertables".into(),
            "Create the index without CONCURRENTLY; it is built on every data node in one transaction.",
        );
    }
    if stmt.unique || stmt.primary {
        let columns: Vec<String> =
            unsafe { PgList::<pg_sys::IndexElem>::from_pg(stmt.indexParams) }
                .iter_ptr()
                .map(|elem| c_str(unsafe { (*elem).name }))
                .collect();
        require_partitioning_columns(&hypertable, &columns);
    }
    // The foreign table has no index of its own: the index lives on the data nodes.
    Forward::statement(utility.text()).run(&hypertable);
    true
}

/// What one ALTER TABLE subcommand needs: to run on the access node, on the data nodes, or both.
struct Placement {
    local: bool,
    remote: bool,
}

const BOTH: Placement = Placement {
    local: true,
    remote: true,
};

unsafe fn alter_table(utility: &Utility, stmt: *mut pg_sys::AlterTableStmt) -> bool {
    let Some(hypertable) = (unsafe { distributed((*stmt).relation) }) else {
        return false;
    };
    let commands = unsafe { PgList::<pg_sys::AlterTableCmd>::from_pg((*stmt).cmds) };
    let mut local = PgList::<pg_sys::AlterTableCmd>::new();
    let mut forward = Forward::default();
    let mut remote = false;
    for command in commands.iter_ptr() {
        let placement = unsafe { subcommand(&hypertable, &*command, &mut forward) };
        if placement.local {
            local.push(command);
        }
        remote |= placement.remote;
    }
    if !local.is_empty() {
        // SAFETY: a copy of the statement with only the subcommands the foreign table takes.
        let copy = unsafe {
            let copy = pg_sys::copyObjectImpl(stmt.cast()).cast::<pg_sys::AlterTableStmt>();
            (*copy).cmds = local.into_pg();
            copy
        };
        utility.run_locally(copy.cast());
    }
    if remote {
        forward.statement = Some(as_table_statement(utility.text()));
        forward.run(&hypertable);
    }
    true
}

/// Decides where `command` runs, refusing what cannot be distributed; adds the steps a data node
/// needs around the statement.
unsafe fn subcommand(
    hypertable: &Hypertable,
    command: &pg_sys::AlterTableCmd,
    forward: &mut Forward,
) -> Placement {
    use pg_sys::AlterTableType as At;
    let name = c_str(command.name);
    let is_dimension = |column: &str| {
        hypertable.time.column == column
            || hypertable
                .space
                .as_ref()
                .is_some_and(|s| s.column == column)
    };
    match command.subtype {
        At::AT_AddColumn => {
            let column = unsafe { &*command.def.cast::<pg_sys::ColumnDef>() };
            let column_name = c_str(column.colname);
            if column.identity != 0 || column.generated != 0 {
                unsupported(
                    format!(
                        "cannot add generated or identity column \"{column_name}\" to a distributed hypertable"
                    ),
                    "Add a plain column (with a DEFAULT if needed).",
                );
            }
            let constraints = unsafe { PgList::<pg_sys::Constraint>::from_pg(column.constraints) };
            for constraint in constraints.iter_ptr() {
                use pg_sys::ConstrType as Ct;
                match unsafe { (*constraint).contype } {
                    Ct::CONSTR_NULL
                    | Ct::CONSTR_NOTNULL
                    | Ct::CONSTR_DEFAULT
                    | Ct::CONSTR_CHECK => {}
                    _ => unsupported(
                        format!(
                            "cannot add column \"{column_name}\" with a key or reference constraint to a distributed hypertable"
                        ),
                        "Add the column first, then the constraint with ALTER TABLE ... ADD CONSTRAINT.",
                    ),
                }
            }
            BOTH
        }
        At::AT_DropColumn | At::AT_AlterColumnType if is_dimension(&name) => unsupported(
            format!(
                "cannot drop or change the type of column \"{name}\": it partitions the distributed hypertable"
            ),
            "A partitioning column keeps its type for the life of the hypertable.",
        ),
        At::AT_DropNotNull if name == hypertable.time.column => unsupported(
            format!("cannot drop NOT NULL of time column \"{name}\""),
            "Rows are placed by their time: it may not be NULL.",
        ),
        At::AT_DropColumn
        | At::AT_AlterColumnType
        | At::AT_SetNotNull
        | At::AT_DropNotNull
        | At::AT_ChangeOwner => BOTH,
        // Defaults are evaluated on the access node, which sends every column.
        At::AT_ColumnDefault => Placement {
            local: true,
            remote: false,
        },
        At::AT_AddConstraint => {
            let constraint = unsafe { &*command.def.cast::<pg_sys::Constraint>() };
            use pg_sys::ConstrType as Ct;
            match constraint.contype {
                Ct::CONSTR_CHECK => BOTH,
                Ct::CONSTR_PRIMARY | Ct::CONSTR_UNIQUE if constraint.indexname.is_null() => {
                    require_partitioning_columns(hypertable, &string_list(constraint.keys));
                    Placement {
                        local: false,
                        remote: true,
                    }
                }
                Ct::CONSTR_FOREIGN => unsupported(
                    "foreign keys on distributed hypertables are not supported".into(),
                    "Rows of a distributed hypertable live on the data nodes, where the referenced table is not.",
                ),
                _ => unsupported(
                    "this kind of constraint is not supported on distributed hypertables".into(),
                    "CHECK, UNIQUE and PRIMARY KEY constraints are; UNIQUE ... USING INDEX and EXCLUDE are not.",
                ),
            }
        }
        At::AT_DropConstraint => match index_constraint(hypertable, &name) {
            Some(index) => {
                forward.before.push(format!(
                    "SELECT _hyperdist_internal.drop_chunk_indexes({}::regclass)",
                    quote::literal(&format!(
                        "{}.{}",
                        quote::ident(&hypertable.schema),
                        quote::ident(&index)
                    ))
                ));
                Placement {
                    local: false,
                    remote: true,
                }
            }
            None => BOTH,
        },
        other => unsupported(
            format!(
                "ALTER TABLE ... {} is not supported on distributed hypertables",
                subcommand_name(other)
            ),
            "Supported: ADD/DROP COLUMN, ALTER COLUMN TYPE, SET/DROP DEFAULT, SET/DROP NOT NULL, ADD/DROP CONSTRAINT, OWNER TO, RENAME, SET SCHEMA.",
        ),
    }
}

/// The index behind the UNIQUE or PRIMARY KEY constraint `name` of the hypertable, if it has one.
fn index_constraint(hypertable: &Hypertable, name: &str) -> Option<String> {
    spi_optional(Spi::get_one_with_args::<String>(
        "SELECT index_name::text FROM _hyperdist_catalog.hypertable_index
          WHERE hypertable_id = $1 AND constraint_name = $2",
        &[hypertable.id.into(), name.into()],
    ))
}

fn subcommand_name(subtype: pg_sys::AlterTableType::Type) -> &'static str {
    use pg_sys::AlterTableType as At;
    match subtype {
        At::AT_SetStatistics => "ALTER COLUMN SET STATISTICS",
        At::AT_SetOptions | At::AT_ResetOptions => "ALTER COLUMN SET/RESET (options)",
        At::AT_SetStorage => "ALTER COLUMN SET STORAGE",
        At::AT_SetCompression => "ALTER COLUMN SET COMPRESSION",
        At::AT_AddIdentity | At::AT_SetIdentity | At::AT_DropIdentity => {
            "ALTER COLUMN ... IDENTITY"
        }
        At::AT_DropExpression => "ALTER COLUMN DROP EXPRESSION",
        At::AT_ValidateConstraint => "VALIDATE CONSTRAINT",
        At::AT_AlterConstraint => "ALTER CONSTRAINT",
        At::AT_ClusterOn | At::AT_DropCluster => "CLUSTER ON",
        At::AT_SetRelOptions | At::AT_ResetRelOptions | At::AT_ReplaceRelOptions => {
            "SET/RESET (storage options)"
        }
        At::AT_EnableTrig
        | At::AT_EnableAlwaysTrig
        | At::AT_EnableReplicaTrig
        | At::AT_EnableTrigAll
        | At::AT_EnableTrigUser
        | At::AT_DisableTrig
        | At::AT_DisableTrigAll
        | At::AT_DisableTrigUser => "ENABLE/DISABLE TRIGGER",
        At::AT_EnableRule
        | At::AT_EnableAlwaysRule
        | At::AT_EnableReplicaRule
        | At::AT_DisableRule => "ENABLE/DISABLE RULE",
        At::AT_AddInherit | At::AT_DropInherit => "INHERIT",
        At::AT_AddOf | At::AT_DropOf => "OF type",
        At::AT_ReplicaIdentity => "REPLICA IDENTITY",
        At::AT_EnableRowSecurity
        | At::AT_DisableRowSecurity
        | At::AT_ForceRowSecurity
        | At::AT_NoForceRowSecurity => "ROW LEVEL SECURITY",
        At::AT_GenericOptions => "OPTIONS",
        At::AT_AttachPartition | At::AT_DetachPartition | At::AT_DetachPartitionFinalize => {
            "ATTACH/DETACH PARTITION"
        }
        At::AT_SetLogged | At::AT_SetUnLogged => "SET LOGGED/UNLOGGED",
        At::AT_SetTableSpace => "SET TABLESPACE",
        At::AT_SetAccessMethod => "SET ACCESS METHOD",
        _ => "this subcommand",
    }
}

unsafe fn rename(utility: &Utility, stmt: *mut pg_sys::RenameStmt) -> bool {
    let stmt = unsafe { &*stmt };
    // The parser sets relationType only for renames of a table's parts.
    let of_table = match stmt.renameType {
        Ot::OBJECT_TABLE | Ot::OBJECT_FOREIGN_TABLE => true,
        Ot::OBJECT_COLUMN | Ot::OBJECT_TABCONSTRAINT => {
            matches!(
                stmt.relationType,
                Ot::OBJECT_TABLE | Ot::OBJECT_FOREIGN_TABLE
            )
        }
        _ => false,
    };
    if !of_table {
        return false;
    }
    let Some(hypertable) = (unsafe { distributed(stmt.relation) }) else {
        return false;
    };
    let new_name = c_str(stmt.newname);
    let old_name = c_str(stmt.subname);
    let local = match stmt.renameType {
        Ot::OBJECT_TABLE | Ot::OBJECT_FOREIGN_TABLE => {
            spi(Spi::run_with_args(
                "UPDATE _hyperdist_catalog.hypertable SET table_name = $2 WHERE id = $1",
                &[hypertable.id.into(), new_name.as_str().into()],
            ));
            true
        }
        Ot::OBJECT_COLUMN => {
            spi(Spi::run_with_args(
                "UPDATE _hyperdist_catalog.dimension SET column_name = $3
                  WHERE hypertable_id = $1 AND column_name = $2",
                &[
                    hypertable.id.into(),
                    old_name.as_str().into(),
                    new_name.as_str().into(),
                ],
            ));
            true
        }
        Ot::OBJECT_TABCONSTRAINT => index_constraint(&hypertable, &old_name).is_none(),
        _ => return false,
    };
    if local {
        utility.run_locally(utility.statement());
    }
    let mut renamed = hypertable;
    if matches!(stmt.renameType, Ot::OBJECT_TABLE | Ot::OBJECT_FOREIGN_TABLE) {
        renamed.table = new_name;
    }
    Forward::statement(as_table_statement(utility.text())).run(&renamed);
    true
}

unsafe fn set_schema(utility: &Utility, stmt: *mut pg_sys::AlterObjectSchemaStmt) -> bool {
    let stmt = unsafe { &*stmt };
    if !matches!(stmt.objectType, Ot::OBJECT_TABLE | Ot::OBJECT_FOREIGN_TABLE) {
        return false;
    }
    let Some(hypertable) = (unsafe { distributed(stmt.relation) }) else {
        return false;
    };
    let schema = c_str(stmt.newschema);
    utility.run_locally(utility.statement());
    spi(Spi::run_with_args(
        "UPDATE _hyperdist_catalog.hypertable SET schema_name = $2 WHERE id = $1",
        &[hypertable.id.into(), schema.as_str().into()],
    ));
    let mut moved = hypertable;
    moved.schema = schema;
    Forward::statement(as_table_statement(utility.text())).run(&moved);
    true
}

unsafe fn drop(utility: &Utility, stmt: *mut pg_sys::DropStmt) -> bool {
    match unsafe { (*stmt).removeType } {
        Ot::OBJECT_INDEX => unsafe { drop_indexes(utility, stmt) },
        Ot::OBJECT_TABLE => unsafe { drop_tables(utility, stmt) },
        _ => false,
    }
}

/// A copy of `stmt` dropping `objects` (of `kind`).
unsafe fn drop_copy(
    stmt: &pg_sys::DropStmt,
    kind: pg_sys::ObjectType::Type,
    objects: PgList<pg_sys::List>,
) -> *mut pg_sys::Node {
    // SAFETY: copies a valid DropStmt and replaces two of its fields.
    unsafe {
        let copy = pg_sys::copyObjectImpl((stmt as *const pg_sys::DropStmt).cast())
            .cast::<pg_sys::DropStmt>();
        (*copy).removeType = kind;
        (*copy).objects = objects.into_pg();
        copy.cast()
    }
}

/// `DROP TABLE` naming distributed hypertables: on the access node they are foreign tables, so
/// they are dropped as such (the `sql_drop` event trigger then drops them on the data nodes);
/// other tables of the statement are dropped as usual.
unsafe fn drop_tables(utility: &Utility, stmt: *mut pg_sys::DropStmt) -> bool {
    let stmt = unsafe { &*stmt };
    let objects = unsafe { PgList::<pg_sys::List>::from_pg(stmt.objects) };
    let mut hypertables = PgList::<pg_sys::List>::new();
    let mut tables = PgList::<pg_sys::List>::new();
    for names in objects.iter_ptr() {
        let is_hypertable =
            unsafe { distributed(pg_sys::makeRangeVarFromNameList(names)) }.is_some();
        if is_hypertable {
            hypertables.push(names);
        } else {
            tables.push(names);
        }
    }
    if hypertables.is_empty() {
        return false;
    }
    if !tables.is_empty() {
        utility.run_locally(unsafe { drop_copy(stmt, Ot::OBJECT_TABLE, tables) });
    }
    utility.run_locally(unsafe { drop_copy(stmt, Ot::OBJECT_FOREIGN_TABLE, hypertables) });
    true
}

/// `DROP INDEX` of indexes that exist only on data nodes; other indexes in the same statement are
/// dropped by PostgreSQL as usual.
unsafe fn drop_indexes(utility: &Utility, stmt: *mut pg_sys::DropStmt) -> bool {
    let stmt = unsafe { &*stmt };
    let objects = unsafe { PgList::<pg_sys::List>::from_pg(stmt.objects) };
    let mut remaining = PgList::<pg_sys::List>::new();
    let mut remote = Vec::new();
    for names in objects.iter_ptr() {
        match unsafe { remote_index(names) } {
            Some(found) => remote.push(found),
            None => remaining.push(names),
        }
    }
    if remote.is_empty() {
        return false;
    }
    if stmt.concurrent {
        unsupported(
            "DROP INDEX CONCURRENTLY is not supported on distributed hypertables".into(),
            "Drop the index without CONCURRENTLY.",
        );
    }
    if !remaining.is_empty() {
        utility.run_locally(unsafe { drop_copy(stmt, Ot::OBJECT_INDEX, remaining) });
    }
    let cascade = if stmt.behavior == pg_sys::DropBehavior::DROP_CASCADE {
        " CASCADE"
    } else {
        ""
    };
    for (hypertable, index) in remote {
        let qualified = format!(
            "{}.{}",
            quote::ident(&hypertable.schema),
            quote::ident(&index)
        );
        Forward {
            before: vec![
                format!(
                    "SELECT _hyperdist_internal.drop_chunk_indexes({}::regclass)",
                    quote::literal(&qualified)
                ),
                format!("DROP INDEX {qualified}{cascade}"),
            ],
            ..Forward::default()
        }
        .run(&hypertable);
    }
    true
}

/// The hypertable and index name that `names` (`[schema.]index`) means, when no relation of the
/// access node has that name: the first schema of the search path with a hypertable index so
/// named, as PostgreSQL would resolve it.
unsafe fn remote_index(names: *mut pg_sys::List) -> Option<(Hypertable, String)> {
    let parts = string_list(names);
    // SAFETY: a name list from the parser.
    let local = unsafe {
        let range = pg_sys::makeRangeVarFromNameList(names);
        pg_sys::RangeVarGetRelidExtended(
            range,
            pg_sys::NoLock as pg_sys::LOCKMODE,
            pg_sys::RVROption::RVR_MISSING_OK,
            None,
            std::ptr::null_mut(),
        )
    };
    if local != pg_sys::InvalidOid {
        return None;
    }
    let (schemas, index) = match parts.as_slice() {
        [index] => (search_path_schemas(), index.clone()),
        [schema, index] => (vec![schema.clone()], index.clone()),
        _ => return None,
    };
    let id = schemas.iter().find_map(|schema| {
        spi_optional(Spi::get_one_with_args::<i32>(
            "SELECT h.id FROM _hyperdist_catalog.hypertable_index i
               JOIN _hyperdist_catalog.hypertable h ON h.id = i.hypertable_id
              WHERE h.schema_name = $1 AND i.index_name = $2",
            &[schema.as_str().into(), index.as_str().into()],
        ))
    })?;
    Some((hypertable::by_id(id)?, index))
}

fn search_path_schemas() -> Vec<String> {
    spi(Spi::get_one::<Vec<String>>(
        "SELECT coalesce(array_agg(s::text ORDER BY o), '{}')
           FROM unnest(current_schemas(false)) WITH ORDINALITY AS p(s, o)",
    ))
    .unwrap_or_default()
}

unsafe fn grant(utility: &Utility, stmt: *mut pg_sys::GrantStmt) -> bool {
    let stmt = unsafe { &*stmt };
    if stmt.objtype != pg_sys::ObjectType::OBJECT_TABLE {
        return false;
    }
    if stmt.targtype == pg_sys::GrantTargetType::ACL_TARGET_ALL_IN_SCHEMA {
        let schemas = string_list(stmt.objects);
        let holds_hypertable = spi(Spi::get_one_with_args::<bool>(
            "SELECT EXISTS (SELECT FROM _hyperdist_catalog.hypertable WHERE schema_name = ANY ($1))",
            &[schemas.into()],
        ))
        .unwrap_or(false);
        if holds_hypertable {
            unsupported(
                "GRANT/REVOKE ... ALL TABLES IN SCHEMA is not supported for a schema with distributed hypertables".into(),
                "Grant on each distributed hypertable by name.",
            );
        }
        return false;
    }
    if stmt.targtype != pg_sys::GrantTargetType::ACL_TARGET_OBJECT {
        return false;
    }
    let objects = unsafe { PgList::<pg_sys::RangeVar>::from_pg(stmt.objects) };
    let hypertables: Vec<Hypertable> = objects
        .iter_ptr()
        .filter_map(|relation| unsafe { distributed(relation) })
        .collect();
    let Some(hypertable) = hypertables.first() else {
        return false;
    };
    if objects.len() > 1 {
        unsupported(
            format!(
                "GRANT/REVOKE on distributed hypertable \"{}\" must name no other table",
                hypertable.table
            ),
            "Grant on the distributed hypertable in a statement of its own.",
        );
    }
    utility.run_locally(utility.statement());
    Forward::statement(utility.text()).run(hypertable);
    true
}

unsafe fn comment(utility: &Utility, stmt: *mut pg_sys::CommentStmt) -> bool {
    let stmt = unsafe { &*stmt };
    let mut names = string_list(stmt.object.cast());
    let column = match stmt.objtype {
        Ot::OBJECT_TABLE | Ot::OBJECT_FOREIGN_TABLE => None,
        Ot::OBJECT_COLUMN => names.pop(),
        _ => return false,
    };
    // SAFETY: a name list built from the parser's strings.
    let hypertable = unsafe {
        let list = names.iter().fold(std::ptr::null_mut(), |list, name| {
            let c = std::ffi::CString::new(name.as_str()).unwrap_or_default();
            pg_sys::lappend(list, pg_sys::makeString(pg_sys::pstrdup(c.as_ptr())).cast())
        });
        if list.is_null() {
            return false;
        }
        distributed(pg_sys::makeRangeVarFromNameList(list))
    };
    let Some(hypertable) = hypertable else {
        return false;
    };
    // On the access node the hypertable is a foreign table (COMMENT ON TABLE would not find it).
    let local = unsafe {
        let copy = pg_sys::copyObjectImpl((stmt as *const pg_sys::CommentStmt).cast())
            .cast::<pg_sys::CommentStmt>();
        if column.is_none() {
            (*copy).objtype = Ot::OBJECT_FOREIGN_TABLE;
        }
        copy
    };
    utility.run_locally(local.cast());
    let comment = if stmt.comment.is_null() {
        "NULL".to_string()
    } else {
        quote::literal(&c_str(stmt.comment))
    };
    let target = match column {
        None => format!("TABLE {}", hypertable.qualified_name()),
        Some(column) => format!(
            "COLUMN {}.{}",
            hypertable.qualified_name(),
            quote::ident(&column)
        ),
    };
    Forward {
        before: vec![format!("COMMENT ON {target} IS {comment}")],
        ..Forward::default()
    }
    .run(&hypertable);
    true
}
