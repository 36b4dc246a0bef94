//! Column values in their binary wire form, as PostgreSQL's own `send` and `recv` functions make
//! and read them: what travels in binary COPY between the access node and data nodes. Any type
//! with binary I/O works, built-in or not, as long as both sides have it.

use pgrx::PgTupleDesc;
use pgrx::pg_sys;

pub struct ColumnCodec {
    /// 0-based position in the tuple descriptor.
    pub index: usize,
    pub name: String,
    typmod: i32,
    /// Built-in fixed-width types are decoded here, without a function call per value.
    direct: Option<Direct>,
    /// Text in a UTF-8 database: its binary form is its bytes, copied here after the check
    /// `recv` would make.
    direct_text: bool,
    send: pg_sys::FmgrInfo,
    recv: pg_sys::FmgrInfo,
    recv_ioparam: pg_sys::Oid,
}

/// The codecs of a relation's live (not dropped) columns, with function lookups cached in
/// `memory` (which must outlive the codecs' use).
///
/// # Safety
/// `tupdesc` must be a valid tuple descriptor; call on the backend's thread.
pub unsafe fn columns(
    tupdesc: pg_sys::TupleDesc,
    memory: pg_sys::MemoryContext,
) -> Vec<ColumnCodec> {
    let tupdesc = unsafe { PgTupleDesc::from_pg_unchecked(tupdesc) };
    tupdesc
        .iter()
        .enumerate()
        .filter(|(_, attr)| !attr.attisdropped)
        .map(|(index, attr)| {
            let mut send_oid = pg_sys::InvalidOid;
            let mut is_varlena = false;
            let mut recv_oid = pg_sys::InvalidOid;
            let mut recv_ioparam = pg_sys::InvalidOid;
            // SAFETY: catalog lookups for an existing type; they raise a PostgreSQL error for a
            // type without binary I/O.
            let (send, recv) = unsafe {
                pg_sys::getTypeBinaryOutputInfo(attr.atttypid, &mut send_oid, &mut is_varlena);
                pg_sys::getTypeBinaryInputInfo(attr.atttypid, &mut recv_oid, &mut recv_ioparam);
                let mut send: pg_sys::FmgrInfo = std::mem::zeroed();
                let mut recv: pg_sys::FmgrInfo = std::mem::zeroed();
                pg_sys::fmgr_info_cxt(send_oid, &mut send, memory);
                pg_sys::fmgr_info_cxt(recv_oid, &mut recv, memory);
                (send, recv)
            };
            ColumnCodec {
                index,
                name: attr.name().to_string(),
                typmod: attr.atttypmod,
                direct: (attr.atttypmod == -1)
                    .then(|| Direct::of(attr.atttypid))
                    .flatten(),
                direct_text: attr.atttypmod == -1
                    && matches!(attr.atttypid, pg_sys::TEXTOID | pg_sys::VARCHAROID)
                    // SAFETY: the database's encoding, fixed for the backend's life.
                    && unsafe { pg_sys::GetDatabaseEncoding() } == pg_sys::pg_enc::PG_UTF8 as i32,
                send,
                recv,
                recv_ioparam,
            }
        })
        .collect()
}

/// While alive, text inside binary values is neither converted to nor from the client's encoding:
/// values travel between nodes in the database encoding (which a data node's database shares with
/// the access node's), whatever encoding the access node's client uses.
pub struct DatabaseEncoding {
    client: i32,
}

impl DatabaseEncoding {
    pub fn enter() -> DatabaseEncoding {
        // SAFETY: reading and setting the session's client encoding; switching to the database
        // encoding needs no conversion functions, switching back reuses the session's own.
        unsafe {
            let client = pg_sys::pg_get_client_encoding();
            let database = pg_sys::GetDatabaseEncoding();
            if client != database {
                pg_sys::SetClientEncoding(database);
            }
            DatabaseEncoding { client }
        }
    }
}

impl Drop for DatabaseEncoding {
    fn drop(&mut self) {
        // SAFETY: restores the encoding the session had (also when an ERROR unwinds through).
        unsafe {
            if pg_sys::pg_get_client_encoding() != self.client {
                pg_sys::SetClientEncoding(self.client);
            }
        }
    }
}

impl ColumnCodec {
    /// Whether receiving this column's values calls its `recv` function, which reads text in the
    /// client encoding (see [`DatabaseEncoding`]).
    pub fn calls_recv(&self) -> bool {
        self.direct.is_none() && !self.direct_text
    }

    /// The binary form of `value`, palloc'd in the current memory context.
    ///
    /// # Safety
    /// `value` must be a valid, non-null datum of the column's type.
    pub unsafe fn send(&mut self, value: pg_sys::Datum) -> &[u8] {
        unsafe {
            let bytes = pg_sys::SendFunctionCall(&mut self.send, value);
            let len = pgrx::varsize_any_exhdr(bytes.cast());
            std::slice::from_raw_parts(pgrx::vardata_any(bytes.cast()).cast::<u8>(), len)
        }
    }

    /// The datum of a binary form, allocated in the current memory context. `buffer` is scratch
    /// space reused between calls.
    ///
    /// # Safety
    /// `buffer` must be a valid StringInfo.
    pub unsafe fn receive(&mut self, bytes: &[u8], buffer: pg_sys::StringInfo) -> pg_sys::Datum {
        if let Some(datum) = self.direct.and_then(|direct| direct.decode(bytes)) {
            return datum;
        }
        if self.direct_text
            && let Some(datum) = unsafe { utf8_text(bytes) }
        {
            return datum;
        }
        unsafe {
            pg_sys::resetStringInfo(buffer);
            pg_sys::appendBinaryStringInfo(buffer, bytes.as_ptr().cast(), bytes.len() as i32);
            pg_sys::ReceiveFunctionCall(&mut self.recv, buffer, self.recv_ioparam, self.typmod)
        }
    }
}

/// A text datum of `bytes` (in the current memory context), if they are what `textrecv` accepts
/// in a UTF-8 database: valid UTF-8 without NUL.
///
/// # Safety
/// Call on the backend's thread, in a transaction.
unsafe fn utf8_text(bytes: &[u8]) -> Option<pg_sys::Datum> {
    if bytes.contains(&0) || std::str::from_utf8(bytes).is_err() {
        return None;
    }
    let size = bytes.len() + pg_sys::VARHDRSZ;
    // SAFETY: a fresh allocation of the varlena's full size, header then data.
    unsafe {
        let text = pg_sys::palloc(size).cast::<pg_sys::varlena>();
        pgrx::varlena::set_varsize_4b(text, size as i32);
        std::ptr::copy_nonoverlapping(
            bytes.as_ptr(),
            text.cast::<u8>().add(pg_sys::VARHDRSZ),
            bytes.len(),
        );
        Some(pg_sys::Datum::from(text))
    }
}

/// Pass-by-value built-in types whose binary form is their value in network byte order: what
/// their `send` functions write and `recv` functions compute, without the calls. (Values received
/// come from a data node's own `send`, so the range checks `recv` would add hold already.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direct {
    Bool,
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
}

impl Direct {
    pub fn of(type_oid: pg_sys::Oid) -> Option<Direct> {
        Some(match type_oid {
            pg_sys::BOOLOID => Direct::Bool,
            pg_sys::INT2OID => Direct::Int2,
            pg_sys::INT4OID | pg_sys::DATEOID | pg_sys::OIDOID => Direct::Int4,
            pg_sys::INT8OID | pg_sys::TIMESTAMPOID | pg_sys::TIMESTAMPTZOID | pg_sys::TIMEOID => {
                Direct::Int8
            }
            pg_sys::FLOAT4OID => Direct::Float4,
            pg_sys::FLOAT8OID => Direct::Float8,
            _ => return None,
        })
    }

    /// The binary form of `value`: the first `len` bytes of the array.
    pub fn encode(self, value: pg_sys::Datum) -> ([u8; 8], usize) {
        let mut bytes = [0u8; 8];
        let bits = value.value();
        let len = match self {
            Direct::Bool => {
                bytes[0] = (bits != 0) as u8;
                1
            }
            Direct::Int2 => {
                bytes[..2].copy_from_slice(&(bits as u16).to_be_bytes());
                2
            }
            Direct::Int4 | Direct::Float4 => {
                bytes[..4].copy_from_slice(&(bits as u32).to_be_bytes());
                4
            }
            Direct::Int8 | Direct::Float8 => {
                bytes = (bits as u64).to_be_bytes();
                8
            }
        };
        (bytes, len)
    }

    /// The datum, or `None` for bytes of the wrong length (left to `recv`, which reports it).
    fn decode(self, bytes: &[u8]) -> Option<pg_sys::Datum> {
        Some(match self {
            Direct::Bool => pg_sys::Datum::from(<[u8; 1]>::try_from(bytes).ok()?[0] != 0),
            Direct::Int2 => pg_sys::Datum::from(i16::from_be_bytes(bytes.try_into().ok()?)),
            Direct::Int4 => pg_sys::Datum::from(i32::from_be_bytes(bytes.try_into().ok()?)),
            Direct::Int8 => pg_sys::Datum::from(i64::from_be_bytes(bytes.try_into().ok()?)),
            // Float4GetDatum goes through int32: the bits, sign-extended.
            Direct::Float4 => pg_sys::Datum::from(i32::from_be_bytes(bytes.try_into().ok()?)),
            Direct::Float8 => {
                pg_sys::Datum::from(u64::from_be_bytes(bytes.try_into().ok()?) as usize)
            }
        })
    }
}
