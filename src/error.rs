//! User-facing errors: every failure becomes an `ereport` with a SQLSTATE, a message in PostgreSQL
//! style and, where the user can act, a HINT.

use hyperdist_core::fdw_options::OptionError;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{PgLogLevel, PgSqlErrorCode};

pub fn not_preloaded() -> ! {
    raise(
        PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
        "hyperdist must be loaded via shared_preload_libraries".to_string(),
        "Add hyperdist to shared_preload_libraries in postgresql.conf and restart the server \
         (on the access node and on every data node)."
            .to_string(),
    )
}

pub fn invalid_option(err: &OptionError) -> ! {
    let code = match err {
        OptionError::UnknownName { .. } => PgSqlErrorCode::ERRCODE_FDW_INVALID_OPTION_NAME,
        OptionError::InvalidValue { .. } => PgSqlErrorCode::ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE,
        OptionError::Malformed(_) => PgSqlErrorCode::ERRCODE_SYNTAX_ERROR,
    };
    raise(code, err.to_string(), err.hint())
}

pub fn raise(code: PgSqlErrorCode, message: String, hint: String) -> ! {
    ErrorReport::new(code, message, "hyperdist")
        .set_hint(hint)
        .report(PgLogLevel::ERROR);
    unreachable!("an ERROR report does not return")
}
