//! User-facing errors: every failure becomes an `ereport` with a SQLSTATE, a message in PostgreSQL
//! style and, where the user can act, a HINT. TimescaleDB's own SQLSTATEs (`TSnnn`) are kept for
//! the failures it defined, so applications that match on them keep working.

use hyperdist_core::fdw_options::OptionError;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::prelude::*;
use pgrx::{PgLogLevel, PgSqlErrorCode};

/// A SQLSTATE, in PostgreSQL's `MAKE_SQLSTATE` encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SqlState(i32);

impl SqlState {
    /// From the five characters, e.g. `b"TS170"`. Characters outside `0-9A-Z` are a bug.
    pub const fn from_chars(code: &[u8; 5]) -> SqlState {
        let mut value = 0;
        let mut i = 0;
        while i < 5 {
            value |= (((code[i].wrapping_sub(b'0')) & 0x3F) as i32) << (6 * i);
            i += 1;
        }
        SqlState(value)
    }

    /// From a SQLSTATE as text (e.g. a data node's error); `XX000` if it is malformed.
    pub fn parse(code: &str) -> SqlState {
        match <[u8; 5]>::try_from(code.as_bytes()) {
            Ok(chars)
                if chars
                    .iter()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase()) =>
            {
                SqlState::from_chars(&chars)
            }
            _ => SqlState::from(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR),
        }
    }

    /// TS170: too few data nodes (replication, last replica).
    pub const INSUFFICIENT_NUM_DATA_NODES: SqlState = SqlState::from_chars(b"TS170");
    /// TS171: a database already belongs to another distributed database.
    pub const DATA_NODE_ASSIGNMENT_ALREADY_EXISTS: SqlState = SqlState::from_chars(b"TS171");
    /// TS174: a data node cannot be used as configured.
    pub const DATA_NODE_INVALID_CONFIG: SqlState = SqlState::from_chars(b"TS174");
    /// TS504: a data node still holds data.
    pub const DATA_NODE_IN_USE: SqlState = SqlState::from_chars(b"TS504");

    /// pgrx's error codes are a closed list of PostgreSQL's own; others (TimescaleDB's `TSnnn`,
    /// codes of newer servers) travel as a placeholder that [`emit_log_hook`] puts right.
    fn as_pgrx(self) -> Option<PgSqlErrorCode> {
        let known = PgSqlErrorCode::from(self.0);
        (known as i32 == self.0).then_some(known)
    }
}

impl From<PgSqlErrorCode> for SqlState {
    fn from(code: PgSqlErrorCode) -> SqlState {
        SqlState(code as i32)
    }
}

thread_local! {
    /// The SQLSTATE the next emitted report with this message must carry.
    static PENDING_SQLSTATE: std::cell::RefCell<Option<(String, i32)>> =
        const { std::cell::RefCell::new(None) };
}

/// An error or message about to be reported, built up field by field.
#[must_use]
pub struct Report {
    inner: ErrorReport,
    sqlstate: SqlState,
}

impl Report {
    pub fn new(code: impl Into<SqlState>, message: impl Into<String>) -> Report {
        let sqlstate = code.into();
        let placeholder = sqlstate
            .as_pgrx()
            .unwrap_or(PgSqlErrorCode::ERRCODE_INTERNAL_ERROR);
        Report {
            inner: ErrorReport::new(placeholder, message.into(), "hyperdist"),
            sqlstate,
        }
    }

    pub fn detail(self, detail: impl Into<String>) -> Report {
        Report {
            inner: self.inner.set_detail(detail),
            ..self
        }
    }

    pub fn hint(self, hint: impl Into<String>) -> Report {
        Report {
            inner: self.inner.set_hint(hint),
            ..self
        }
    }

    fn report(self, level: PgLogLevel) {
        if self.sqlstate.as_pgrx().is_none() {
            let message = self.inner.message().to_string();
            PENDING_SQLSTATE
                .with(|pending| *pending.borrow_mut() = Some((message, self.sqlstate.0)));
        }
        self.inner.report(level)
    }

    pub fn raise(self) -> ! {
        self.report(PgLogLevel::ERROR);
        unreachable!("an ERROR report does not return")
    }

    pub fn warn(self) {
        self.report(PgLogLevel::WARNING)
    }

    pub fn notice(self) {
        self.report(PgLogLevel::NOTICE)
    }
}

static mut PREV_EMIT_LOG_HOOK: pg_sys::emit_log_hook_type = None;

pub fn init() {
    // SAFETY: _PG_init, single-threaded; the previous hook is kept and chained.
    unsafe {
        PREV_EMIT_LOG_HOOK = pg_sys::emit_log_hook;
        pg_sys::emit_log_hook = Some(emit_log_hook);
    }
}

/// Gives a report raised through pgrx with a placeholder code its real SQLSTATE, just before it
/// is sent to the client and the server log.
#[pg_guard]
unsafe extern "C-unwind" fn emit_log_hook(edata: *mut pg_sys::ErrorData) {
    let pending = PENDING_SQLSTATE.with(|pending| pending.borrow_mut().take());
    if let Some((message, code)) = pending {
        // SAFETY: PostgreSQL hands us the ErrorData being emitted; its message is a C string.
        unsafe {
            let emitted = (*edata).message;
            if !emitted.is_null()
                && std::ffi::CStr::from_ptr(emitted).to_bytes() == message.as_bytes()
            {
                (*edata).sqlerrcode = code;
            }
        }
    }
    // SAFETY: chaining to the hook that was installed before ours; an ERROR it raises is caught
    // by the boundary and re-raised as a Rust panic.
    #[allow(ffi_unwind_calls)]
    unsafe {
        if let Some(prev) = PREV_EMIT_LOG_HOOK {
            pg_sys::submodules::ffi::pg_guard_ffi_boundary(|| prev(edata));
        }
    }
}

pub fn not_preloaded() -> ! {
    Report::new(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        "hyperdist must be loaded via shared_preload_libraries",
    )
    .hint(
        "Add hyperdist to shared_preload_libraries in postgresql.conf and restart the server \
         (on the access node and on every data node).",
    )
    .raise()
}

pub fn invalid_option(err: &OptionError) -> ! {
    let code = match err {
        OptionError::UnknownName { .. } => PgSqlErrorCode::ERRCODE_FDW_INVALID_OPTION_NAME,
        OptionError::InvalidValue { .. } => PgSqlErrorCode::ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE,
        OptionError::Malformed(_) => PgSqlErrorCode::ERRCODE_SYNTAX_ERROR,
    };
    Report::new(code, err.to_string()).hint(err.hint()).raise()
}

/// `22023 invalid_parameter_value` with a hint: the common "bad argument" error.
pub fn invalid_argument(message: impl Into<String>, hint: impl Into<String>) -> ! {
    Report::new(PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE, message)
        .hint(hint)
        .raise()
}

/// Refuses to run `function` inside a transaction block (it commits work of its own, or must be
/// the first thing its transaction does).
pub fn prevent_in_transaction_block(function: &std::ffi::CStr) {
    // SAFETY: raises an ordinary ERROR when called inside a transaction block.
    unsafe { pgrx::pg_sys::PreventInTransactionBlock(true, function.as_ptr()) };
}

/// Refuses to run `function`, which writes, in a read-only transaction.
pub fn prevent_if_read_only(function: &std::ffi::CStr) {
    // SAFETY: raises an ordinary ERROR in a read-only transaction.
    unsafe { pgrx::pg_sys::PreventCommandIfReadOnly(function.as_ptr()) };
}
