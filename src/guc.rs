//! Every `hyperdist.*` setting, registered once in `_PG_init`, documented in README.md; and a
//! scoped change of PostgreSQL's own settings.

use std::ffi::CStr;
use std::time::Duration;

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

static CONNECT_TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(10_000);
static PING_TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(2_000);
static LOG_REMOTE_COMMANDS: GucSetting<bool> = GucSetting::<bool>::new(false);
static MAX_INSERT_BATCH_SIZE: GucSetting<i32> = GucSetting::<i32>::new(10_000);
static ENABLE_2PC: GucSetting<bool> = GucSetting::<bool>::new(true);
static ENABLE_AGGREGATE_PUSHDOWN: GucSetting<bool> = GucSetting::<bool>::new(true);
static PREFER_BITMAP_SCANS: GucSetting<bool> = GucSetting::<bool>::new(true);
static HEAL_INTERVAL_MS: GucSetting<i32> = GucSetting::<i32>::new(30_000);
static DEBUG_2PC_FAULT: GucSetting<Option<std::ffi::CString>> =
    GucSetting::<Option<std::ffi::CString>>::new(None);

pub fn init() {
    GucRegistry::define_int_guc(
        c"hyperdist.connect_timeout",
        c"Time allowed to open a connection to a data node, including authentication.",
        c"A data node that does not answer within this time counts as unreachable.",
        &CONNECT_TIMEOUT_MS,
        1,
        3_600_000,
        GucContext::Userset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"hyperdist.ping_timeout",
        c"Time allowed for a data node to answer a health check (node_up in timescaledb_information.data_nodes).",
        c"",
        &PING_TIMEOUT_MS,
        1,
        3_600_000,
        GucContext::Userset,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_bool_guc(
        c"hyperdist.log_remote_commands",
        c"Logs every statement the access node sends to a data node (at LOG level).",
        c"",
        &LOG_REMOTE_COMMANDS,
        GucContext::Suset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"hyperdist.max_insert_batch_size",
        c"Rows an INSERT or COPY buffers for a data node before sending them.",
        c"Rows are shipped to data nodes with binary COPY, a batch at a time; 1 sends each row at once.",
        &MAX_INSERT_BATCH_SIZE,
        1,
        1_000_000,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"hyperdist.enable_2pc",
        c"Commits transactions that wrote to data nodes with two-phase commit.",
        c"Off: one-phase commit, which a data node failing during commit can leave half-committed.",
        &ENABLE_2PC,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"hyperdist.enable_aggregate_pushdown",
        c"Lets data nodes aggregate (whole groups, or states the access node combines) and remove duplicates.",
        c"Off: the access node pulls the (filtered) rows and aggregates them itself.",
        &ENABLE_AGGREGATE_PUSHDOWN,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_bool_guc(
        c"hyperdist.prefer_bitmap_scans",
        c"On a data node, plans the access node's scans whose row order does not matter without plain index scans.",
        c"Bitmap heap scans visit each page once; plain index scans over correlated time ranges, which \
          PostgreSQL's costs favour, spend more CPU per row when the chunk is in memory. Off: the \
          planner's own choice.",
        &PREFER_BITMAP_SCANS,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"hyperdist.heal_interval",
        c"How often the background healer resolves prepared transactions left in doubt on data nodes.",
        c"",
        &HEAL_INTERVAL_MS,
        100,
        86_400_000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_string_guc(
        c"hyperdist.debug_2pc_fault",
        c"Test only: skip-commit-prepared or fail-after-prepare leaves prepared transactions in doubt.",
        c"",
        &DEBUG_2PC_FAULT,
        GucContext::Suset,
        GucFlags::NO_SHOW_ALL,
    );
    reserve_prefix(c"hyperdist");
}

fn reserve_prefix(prefix: &CStr) {
    // SAFETY: called from _PG_init with a static C string; warns about and removes unknown
    // hyperdist.* placeholders, so a typo in postgresql.conf is reported instead of ignored.
    unsafe { pgrx::pg_sys::MarkGUCPrefixReserved(prefix.as_ptr()) };
}

fn millis(setting: &GucSetting<i32>) -> Duration {
    Duration::from_millis(setting.get().max(1) as u64)
}

pub fn connect_timeout() -> Duration {
    millis(&CONNECT_TIMEOUT_MS)
}

pub fn ping_timeout() -> Duration {
    millis(&PING_TIMEOUT_MS)
}

pub fn log_remote_commands() -> bool {
    LOG_REMOTE_COMMANDS.get()
}

pub fn max_insert_batch_size() -> usize {
    MAX_INSERT_BATCH_SIZE.get().max(1) as usize
}

pub fn enable_2pc() -> bool {
    ENABLE_2PC.get()
}

pub fn enable_aggregate_pushdown() -> bool {
    ENABLE_AGGREGATE_PUSHDOWN.get()
}

pub fn prefer_bitmap_scans() -> bool {
    PREFER_BITMAP_SCANS.get()
}

pub fn heal_interval() -> Duration {
    millis(&HEAL_INTERVAL_MS)
}

/// Runs `f` with PostgreSQL settings changed for its duration (like `SET LOCAL` in a function's
/// SET clause): restored after, or by transaction abort if `f` raises.
pub fn with_settings<R>(settings: &[(&CStr, &CStr)], f: impl FnOnce() -> R) -> R {
    // SAFETY: the GUC nest level is popped below, or by transaction abort if `f` raises.
    let level = unsafe {
        let level = pgrx::pg_sys::NewGUCNestLevel();
        for (name, value) in settings {
            pgrx::pg_sys::set_config_option(
                name.as_ptr(),
                value.as_ptr(),
                pgrx::pg_sys::GucContext::PGC_USERSET,
                pgrx::pg_sys::GucSource::PGC_S_SESSION,
                pgrx::pg_sys::GucAction::GUC_ACTION_SAVE,
                true,
                0,
                false,
            );
        }
        level
    };
    let result = f();
    // SAFETY: pops the level pushed above.
    unsafe { pgrx::pg_sys::AtEOXact_GUC(true, level) };
    result
}

/// A fault the tests inject into two-phase commit.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TwoPhaseFault {
    None,
    /// Commit locally but never send COMMIT PREPARED, as if the data nodes died first.
    SkipCommitPrepared,
    /// Fail after PREPARE and never send ROLLBACK PREPARED, as if the access node died.
    FailAfterPrepare,
}

pub fn debug_2pc_fault() -> TwoPhaseFault {
    match DEBUG_2PC_FAULT.get().as_deref().map(|c| c.to_bytes()) {
        Some(b"skip-commit-prepared") => TwoPhaseFault::SkipCommitPrepared,
        Some(b"fail-after-prepare") => TwoPhaseFault::FailAfterPrepare,
        _ => TwoPhaseFault::None,
    }
}
