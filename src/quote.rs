//! Quoting of names and values for SQL built as text (local or remote), by PostgreSQL's own rules.

use std::ffi::{CStr, CString};

use pgrx::pg_sys;

fn c_string(text: &str) -> CString {
    // A NUL cannot be part of any SQL name or text value PostgreSQL accepts; arguments that came
    // from SQL never contain one.
    CString::new(text).unwrap_or_else(|_| {
        crate::error::invalid_argument(
            "invalid string: contains a NUL byte",
            "Names and values cannot contain the character 0x00.",
        )
    })
}

/// `quote_ident`: `dn1` stays as is, `Node One` becomes `"Node One"`.
pub fn ident(name: &str) -> String {
    let c = c_string(name);
    // SAFETY: quote_identifier returns its argument or a palloc'd quoted copy, both valid C strings.
    unsafe { CStr::from_ptr(pg_sys::quote_identifier(c.as_ptr())) }
        .to_string_lossy()
        .into_owned()
}

/// `quote_literal`: `it's` becomes `'it''s'` (and `E'...'` when it holds backslashes).
pub fn literal(value: &str) -> String {
    let c = c_string(value);
    // SAFETY: quote_literal_cstr returns a palloc'd C string.
    unsafe { CStr::from_ptr(pg_sys::quote_literal_cstr(c.as_ptr())) }
        .to_string_lossy()
        .into_owned()
}
