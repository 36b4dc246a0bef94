//! Every `hyperdist.*` setting, registered once in `_PG_init`. Documented in README.md.

use std::ffi::CStr;
use std::time::Duration;

use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

static CONNECT_TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(10_000);
static PING_TIMEOUT_MS: GucSetting<i32> = GucSetting::<i32>::new(2_000);
static LOG_REMOTE_COMMANDS: GucSetting<bool> = GucSetting::<bool>::new(false);
static MAX_INSERT_BATCH_SIZE: GucSetting<i32> = GucSetting::<i32>::new(10_000);

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
