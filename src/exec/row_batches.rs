//! The data node's end of the read path: `COPY (query) TO STDOUT (FORMAT binary,
//! hyperdist_batches)`, which the access node sends for every scan.
//!
//! PostgreSQL's own COPY TO calls each column type's `send` function through fmgr (a 1 kB palloc
//! per field) and sends every row as a protocol message of its own. For the 10 float columns of a
//! time-series row that is most of the data node's work, and the access node then parses a message
//! per row. Here the same byte stream (binary COPY: header, rows, trailer) is written directly for
//! the common fixed-width types and text, by each type's `send` function for every other type, and
//! sent in CopyData messages of many rows each. The access node reads it with the same reader as a
//! plain binary COPY; the wire format is PostgreSQL's, only the message boundaries differ, which
//! the protocol leaves to the sender.

use std::ffi::CStr;

use hyperdist_core::copy_binary::CopyWriter;
use pgrx::prelude::*;
use pgrx::{PgList, PgMemoryContexts, PgSqlErrorCode, pg_sys};

use crate::error::Report;
use crate::remote::codec::Direct;

/// The COPY option that asks for this path.
pub const OPTION: &str = "hyperdist_batches";

/// Rows are sent once this many bytes are waiting (a few of the server's 8 kB send buffers).
const MESSAGE_BYTES: usize = 32 * 1024;

/// How one column's values are written: directly for types whose binary form is their in-memory
/// value, else by the type's `send` function.
enum Encoder {
    Direct(Direct),
    /// A varlena's bytes as they are (text types when no encoding conversion is due; bytea).
    Bytes,
    Send(Box<pg_sys::FmgrInfo>),
}

impl Encoder {
    /// # Safety
    /// A valid type OID; called in a transaction.
    unsafe fn for_type(type_oid: pg_sys::Oid, memory: pg_sys::MemoryContext) -> Encoder {
        let same_encoding =
            unsafe { pg_sys::pg_get_client_encoding() == pg_sys::GetDatabaseEncoding() };
        if let Some(direct) = Direct::of(type_oid) {
            return Encoder::Direct(direct);
        }
        match type_oid {
            pg_sys::BYTEAOID => Encoder::Bytes,
            pg_sys::TEXTOID | pg_sys::VARCHAROID | pg_sys::BPCHAROID if same_encoding => {
                Encoder::Bytes
            }
            _ => {
                let mut send = pg_sys::InvalidOid;
                let mut is_varlena = false;
                let mut info = Box::new(pg_sys::FmgrInfo::default());
                // SAFETY: the OID is a valid type's; errors (no send function) are PostgreSQL's.
                unsafe {
                    pg_sys::getTypeBinaryOutputInfo(type_oid, &mut send, &mut is_varlena);
                    pg_sys::fmgr_info_cxt(send, info.as_mut(), memory);
                }
                Encoder::Send(info)
            }
        }
    }
}

/// The executor's destination for the query's rows. `base` comes first, so the executor's
/// `DestReceiver *` is a pointer to the whole struct.
#[repr(C)]
struct BatchReceiver {
    base: pg_sys::DestReceiver,
    encoders: Vec<Encoder>,
    writer: CopyWriter,
    /// A CopyData message being filled, reused for every message.
    message: pg_sys::StringInfo,
    /// For send functions and detoasting, reset after each row that used it.
    row_memory: PgMemoryContexts,
    row_memory_used: bool,
    rows: u64,
}

impl BatchReceiver {
    /// Sends the rows written so far as one CopyData message.
    fn send(&mut self) {
        let bytes = self.writer.buffer();
        if bytes.is_empty() {
            return;
        }
        // SAFETY: `message` is a StringInfo of this query; the protocol functions copy the bytes.
        unsafe {
            pg_sys::pq_beginmessage_reuse(self.message, b'd' as std::ffi::c_char);
            pg_sys::appendBinaryStringInfo(self.message, bytes.as_ptr().cast(), bytes.len() as i32);
            pg_sys::pq_endmessage_reuse(self.message);
        }
        bytes.clear();
    }

    /// # Safety
    /// `value` is a non-null datum of the type the encoder was made for.
    unsafe fn write_field(&mut self, column: usize, value: pg_sys::Datum) {
        let writer = &mut self.writer;
        match &mut self.encoders[column] {
            Encoder::Direct(direct) => {
                let (bytes, len) = direct.encode(value);
                writer.field(Some(&bytes[..len]));
            }
            Encoder::Bytes => {
                let mut varlena = value.cast_mut_ptr::<pg_sys::varlena>();
                // SAFETY: a varlena datum; compressed or out-of-line values are expanded in the
                // row context, the rest read in place.
                unsafe {
                    if pgrx::varlena::varatt_is_1b_e(varlena)
                        || pgrx::varlena::varatt_is_4b_c(varlena)
                    {
                        self.row_memory_used = true;
                        varlena = self
                            .row_memory
                            .switch_to(|_| pg_sys::pg_detoast_datum_packed(varlena));
                    }
                    writer.field(Some(payload(varlena)));
                }
            }
            Encoder::Send(info) => {
                self.row_memory_used = true;
                let info: *mut pg_sys::FmgrInfo = info.as_mut();
                // SAFETY: the type's send function on a value of that type; its result is a
                // plain (untoasted) bytea in the row context.
                unsafe {
                    let sent = self
                        .row_memory
                        .switch_to(|_| pg_sys::SendFunctionCall(info, value));
                    writer.field(Some(payload(sent)));
                }
            }
        }
    }
}

/// The data bytes of an untoasted varlena (either header form).
///
/// # Safety
/// A valid, uncompressed, inline varlena that outlives the slice.
unsafe fn payload<'a>(varlena: *const pg_sys::varlena) -> &'a [u8] {
    // SAFETY: the header gives the length of the bytes after it.
    unsafe {
        std::slice::from_raw_parts(
            pgrx::varlena::vardata_any(varlena).cast::<u8>(),
            pgrx::varlena::varsize_any_exhdr(varlena),
        )
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn receive_slot(
    slot: *mut pg_sys::TupleTableSlot,
    dest: *mut pg_sys::DestReceiver,
) -> bool {
    // SAFETY: `dest` is the `base` of a BatchReceiver (see `run`); the slot holds a row of the
    // query's result type, whose columns the encoders were made for.
    unsafe {
        let receiver = &mut *dest.cast::<BatchReceiver>();
        let columns = receiver.encoders.len();
        if ((*slot).tts_nvalid as usize) < columns {
            pg_sys::slot_getsomeattrs_int(slot, columns as i32);
        }
        receiver.writer.begin_row(columns as u16);
        for column in 0..columns {
            if *(*slot).tts_isnull.add(column) {
                receiver.writer.field(None);
            } else {
                receiver.write_field(column, *(*slot).tts_values.add(column));
            }
        }
        if receiver.row_memory_used {
            receiver.row_memory.reset();
            receiver.row_memory_used = false;
        }
        receiver.rows += 1;
        if receiver.writer.len() >= MESSAGE_BYTES {
            receiver.send();
        }
    }
    true
}

#[pg_guard]
unsafe extern "C-unwind" fn startup(
    _dest: *mut pg_sys::DestReceiver,
    _operation: i32,
    _typeinfo: pg_sys::TupleDesc,
) {
}

#[pg_guard]
unsafe extern "C-unwind" fn shutdown(_dest: *mut pg_sys::DestReceiver) {}

/// Whether `statement` (a COPY) asks for this path.
///
/// # Safety
/// A valid CopyStmt.
pub unsafe fn requested(statement: *mut pg_sys::CopyStmt) -> bool {
    // SAFETY: the statement's option list holds DefElems.
    let options = unsafe { PgList::<pg_sys::DefElem>::from_pg((*statement).options) };
    options
        .iter_ptr()
        .any(|option| unsafe { CStr::from_ptr((*option).defname) }.to_bytes() == OPTION.as_bytes())
}

/// Runs a COPY that [`requested`] this path; `location`/`length` place the statement in
/// `query_string`. Returns the number of rows sent.
///
/// # Safety
/// A valid CopyStmt of the statement being executed, and its source text.
pub unsafe fn run(
    statement: *mut pg_sys::CopyStmt,
    query_string: *const std::ffi::c_char,
    location: i32,
    length: i32,
) -> u64 {
    // SAFETY: reads of the statement's fields, and PostgreSQL's own steps of a COPY (query) TO
    // STDOUT (parse analysis, planning, executor) with this module's receiver; errors unwind
    // through here and drop the receiver.
    unsafe {
        check_options(statement);
        let raw = PgBox::<pg_sys::RawStmt>::alloc_node(pg_sys::NodeTag::T_RawStmt).into_pg();
        (*raw).stmt = pg_sys::copyObjectImpl((*statement).query.cast()).cast();
        (*raw).stmt_location = location;
        (*raw).stmt_len = length;
        let rewritten =
            PgList::<pg_sys::Query>::from_pg(pg_sys::pg_analyze_and_rewrite_fixedparams(
                raw,
                query_string,
                std::ptr::null_mut(),
                0,
                std::ptr::null_mut(),
            ));
        let query = match rewritten.get_ptr(0) {
            Some(query)
                if rewritten.len() == 1
                    && (*query).commandType == pg_sys::CmdType::CMD_SELECT
                    && (*query).utilityStmt.is_null() =>
            {
                query
            }
            _ => Report::new(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                format!("COPY with option \"{OPTION}\" runs only a single SELECT"),
            )
            .raise(),
        };
        let plan = crate::exec::data_node_plan::plan(query, query_string);
        pg_sys::PushCopiedSnapshot(pg_sys::GetActiveSnapshot());
        pg_sys::UpdateActiveSnapshotCommandId();

        let mut receiver = Box::new(BatchReceiver {
            base: pg_sys::DestReceiver {
                receiveSlot: Some(receive_slot),
                rStartup: Some(startup),
                rShutdown: Some(shutdown),
                rDestroy: Some(shutdown),
                mydest: pg_sys::CommandDest::DestCopyOut,
            },
            encoders: Vec::new(),
            writer: CopyWriter::new(),
            message: pg_sys::makeStringInfo(),
            row_memory: PgMemoryContexts::new("hyperdist row batches"),
            row_memory_used: false,
            rows: 0,
        });
        let dest: *mut pg_sys::DestReceiver = &mut receiver.base;
        let desc = pg_sys::CreateQueryDesc(
            plan,
            query_string,
            pg_sys::GetActiveSnapshot(),
            std::ptr::null_mut(),
            dest,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
        pg_sys::ExecutorStart(desc, 0);
        let tuple_desc = (*desc).tupDesc;
        let memory = pg_sys::CurrentMemoryContext;
        receiver.encoders = (0..(*tuple_desc).natts as usize)
            .map(|i| Encoder::for_type((*(*tuple_desc).attrs.as_ptr().add(i)).atttypid, memory))
            .collect();
        send_copy_out_response(receiver.message, receiver.encoders.len());

        pg_sys::ExecutorRun(desc, pg_sys::ScanDirection::ForwardScanDirection, 0, true);
        receiver.writer.finish();
        receiver.send();
        pg_sys::pq_putemptymessage(b'c' as std::ffi::c_char);

        pg_sys::ExecutorFinish(desc);
        pg_sys::ExecutorEnd(desc);
        pg_sys::FreeQueryDesc(desc);
        pg_sys::PopActiveSnapshot();
        receiver.rows
    }
}

/// Only the binary format to the client is produced here: refuse anything else rather than
/// ignore it.
unsafe fn check_options(statement: *mut pg_sys::CopyStmt) {
    // SAFETY: the statement's fields and its DefElem options.
    unsafe {
        let to_client = !(*statement).is_from
            && (*statement).filename.is_null()
            && !(*statement).query.is_null()
            && pg_sys::whereToSendOutput == pg_sys::CommandDest::DestRemote;
        let options = PgList::<pg_sys::DefElem>::from_pg((*statement).options);
        let binary_only =
            options.iter_ptr().all(
                |option| match CStr::from_ptr((*option).defname).to_bytes() {
                    b"format" => {
                        let value = pg_sys::defGetString(option);
                        CStr::from_ptr(value).to_bytes() == b"binary"
                    }
                    name => name == OPTION.as_bytes(),
                },
            );
        if !to_client || !binary_only {
            Report::new(
                PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                format!("COPY option \"{OPTION}\" is only for COPY (query) TO STDOUT (FORMAT binary)"),
            )
            .hint("hyperdist's access node sends this form to its data nodes; other COPYs do not need it.")
            .raise();
        }
    }
}

/// CopyOutResponse: binary overall and for each of `columns`.
unsafe fn send_copy_out_response(message: pg_sys::StringInfo, columns: usize) {
    let mut body = vec![1u8];
    body.extend_from_slice(&(columns as i16).to_be_bytes());
    for _ in 0..columns {
        body.extend_from_slice(&1i16.to_be_bytes());
    }
    // SAFETY: a StringInfo of this query; the bytes are copied.
    unsafe {
        pg_sys::pq_beginmessage_reuse(message, b'H' as std::ffi::c_char);
        pg_sys::appendBinaryStringInfo(message, body.as_ptr().cast(), body.len() as i32);
        pg_sys::pq_endmessage_reuse(message);
    }
}
