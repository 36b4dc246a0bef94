//! PostgreSQL's binary `COPY` format: how rows travel between the access node and data nodes.
//!
//! A stream is a header (signature, flags, extension area), then per row a 16-bit field count and,
//! per field, a 32-bit length (-1 for NULL) and that many bytes in the type's binary (`send`/`recv`)
//! form, then a trailer (field count -1). Encoding the values is PostgreSQL's business; this module
//! only frames them.

/// The 11-byte signature every binary COPY stream starts with.
pub const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
const HEADER_LEN: usize = 11 + 4 + 4;

/// Builds a binary COPY stream. Bytes can be taken off in pieces while rows are still added.
pub struct CopyWriter {
    buf: Vec<u8>,
}

impl Default for CopyWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl CopyWriter {
    /// A stream that starts with the header.
    pub fn new() -> CopyWriter {
        let mut buf = Vec::with_capacity(64 * 1024);
        buf.extend_from_slice(SIGNATURE);
        buf.extend_from_slice(&0u32.to_be_bytes()); // flags: no OIDs
        buf.extend_from_slice(&0u32.to_be_bytes()); // no header extension
        CopyWriter { buf }
    }

    /// A writer for rows only (no header), to encode a row before it is known which stream it
    /// belongs to.
    pub fn rows_only() -> CopyWriter {
        CopyWriter { buf: Vec::new() }
    }

    pub fn begin_row(&mut self, fields: u16) {
        self.buf.extend_from_slice(&(fields as i16).to_be_bytes());
    }

    pub fn field(&mut self, value: Option<&[u8]>) {
        match value {
            Some(bytes) => {
                self.buf
                    .extend_from_slice(&(bytes.len() as i32).to_be_bytes());
                self.buf.extend_from_slice(bytes);
            }
            None => self.buf.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }

    /// Appends a field whose bytes the caller writes into the returned buffer (PostgreSQL's send
    /// functions produce them); the length is filled in by [`CopyWriter::end_field`].
    pub fn begin_field(&mut self) -> usize {
        let at = self.buf.len();
        self.buf.extend_from_slice(&0i32.to_be_bytes());
        at
    }

    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    pub fn end_field(&mut self, started_at: usize) {
        let len = (self.buf.len() - started_at - 4) as i32;
        self.buf[started_at..started_at + 4].copy_from_slice(&len.to_be_bytes());
    }

    /// Ends the stream.
    pub fn finish(&mut self) {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
    }

    /// Bytes written so far and not yet taken.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Takes the bytes written so far; the stream continues with the next row.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CopyFormatError {
    #[error("binary COPY data does not start with the PGCOPY signature")]
    BadSignature,
    #[error("binary COPY data has a field of negative length {0}")]
    BadLength(i32),
    #[error("binary COPY data ended in the middle of a row")]
    Truncated,
}

/// Reads a binary COPY stream fed in arbitrary pieces.
#[derive(Default)]
pub struct CopyReader {
    buf: Vec<u8>,
    pos: usize,
    header_read: bool,
    finished: bool,
}

/// Where one row's fields are in [`CopyReader::bytes`]: `None` for NULL.
pub type FieldSpans = Vec<Option<(usize, usize)>>;

impl CopyReader {
    pub fn new() -> CopyReader {
        CopyReader::default()
    }

    /// Adds the next pieces of the stream, in order. Spans returned earlier are invalid afterwards.
    pub fn feed<B: AsRef<[u8]>>(&mut self, pieces: &[B]) {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        for piece in pieces {
            self.buf.extend_from_slice(piece.as_ref());
        }
    }

    /// The bytes the spans of [`CopyReader::next_row`] point into.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Whether the trailer was read.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Reads the next complete row into `fields`; `Ok(false)` when more bytes are needed or the
    /// stream has ended.
    pub fn next_row(&mut self, fields: &mut FieldSpans) -> Result<bool, CopyFormatError> {
        if self.finished {
            return Ok(false);
        }
        if !self.header_read {
            if self.buf.len() - self.pos < HEADER_LEN {
                return Ok(false);
            }
            if &self.buf[self.pos..self.pos + 11] != SIGNATURE {
                return Err(CopyFormatError::BadSignature);
            }
            let ext = self.read_i32(self.pos + 15) as usize;
            if self.buf.len() - self.pos < HEADER_LEN + ext {
                return Ok(false);
            }
            self.pos += HEADER_LEN + ext;
            self.header_read = true;
        }
        let mut at = self.pos;
        if self.buf.len() - at < 2 {
            return Ok(false);
        }
        let count = i16::from_be_bytes([self.buf[at], self.buf[at + 1]]);
        at += 2;
        if count < 0 {
            self.pos = at;
            self.finished = true;
            return Ok(false);
        }
        fields.clear();
        for _ in 0..count {
            if self.buf.len() - at < 4 {
                return Ok(false);
            }
            let len = self.read_i32(at);
            at += 4;
            if len == -1 {
                fields.push(None);
                continue;
            }
            if len < 0 {
                return Err(CopyFormatError::BadLength(len));
            }
            let len = len as usize;
            if self.buf.len() - at < len {
                return Ok(false);
            }
            fields.push(Some((at, at + len)));
            at += len;
        }
        self.pos = at;
        Ok(true)
    }

    /// Whether bytes of an unfinished row are left over (the stream ended mid-row).
    pub fn check_complete(&self) -> Result<(), CopyFormatError> {
        if self.finished || self.buf.len() == self.pos {
            Ok(())
        } else {
            Err(CopyFormatError::Truncated)
        }
    }

    fn read_i32(&self, at: usize) -> i32 {
        i32::from_be_bytes([
            self.buf[at],
            self.buf[at + 1],
            self.buf[at + 2],
            self.buf[at + 3],
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<u8> {
        let mut w = CopyWriter::new();
        w.begin_row(3);
        w.field(Some(b"abc"));
        w.field(None);
        let at = w.begin_field();
        w.buffer().extend_from_slice(&42i64.to_be_bytes());
        w.end_field(at);
        w.begin_row(1);
        w.field(Some(b""));
        w.finish();
        w.take()
    }

    fn read_all(reader: &mut CopyReader) -> Vec<Vec<Option<Vec<u8>>>> {
        let mut rows = Vec::new();
        let mut spans = FieldSpans::new();
        while reader.next_row(&mut spans).unwrap() {
            rows.push(
                spans
                    .iter()
                    .map(|s| s.map(|(a, b)| reader.bytes()[a..b].to_vec()))
                    .collect(),
            );
        }
        rows
    }

    #[test]
    fn writer_output_matches_the_documented_layout() {
        let bytes = sample();
        assert_eq!(&bytes[..11], SIGNATURE);
        assert_eq!(&bytes[11..19], &[0; 8]);
        assert_eq!(&bytes[19..21], &3i16.to_be_bytes());
        assert_eq!(&bytes[21..25], &3i32.to_be_bytes());
        assert_eq!(&bytes[25..28], b"abc");
        assert_eq!(&bytes[28..32], &(-1i32).to_be_bytes());
        assert_eq!(&bytes[32..36], &8i32.to_be_bytes());
        assert_eq!(&bytes[bytes.len() - 2..], &(-1i16).to_be_bytes());
    }

    #[test]
    fn round_trip_in_one_piece() {
        let mut reader = CopyReader::new();
        reader.feed(&[sample()]);
        let rows = read_all(&mut reader);
        assert_eq!(
            rows,
            vec![
                vec![
                    Some(b"abc".to_vec()),
                    None,
                    Some(42i64.to_be_bytes().to_vec())
                ],
                vec![Some(vec![])],
            ]
        );
        assert!(reader.is_finished());
        assert_eq!(reader.check_complete(), Ok(()));
    }

    #[test]
    fn round_trip_fed_byte_by_byte() {
        let bytes = sample();
        let mut reader = CopyReader::new();
        let mut rows = Vec::new();
        for b in &bytes {
            reader.feed(&[std::slice::from_ref(b)]);
            rows.extend(read_all(&mut reader));
        }
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1], vec![Some(vec![])]);
        assert!(reader.is_finished());
    }

    #[test]
    fn pieces_fed_together_split_anywhere() {
        let bytes = sample();
        for cut in [1, 19, 25, bytes.len() - 1] {
            let mut reader = CopyReader::new();
            reader.feed(&[&bytes[..cut], &bytes[cut..]]);
            assert_eq!(read_all(&mut reader).len(), 2, "cut at {cut}");
            assert_eq!(reader.check_complete(), Ok(()));
        }
    }

    #[test]
    fn taking_bytes_midway_keeps_one_stream() {
        let mut w = CopyWriter::new();
        w.begin_row(1);
        w.field(Some(b"x"));
        let first = w.take();
        w.begin_row(1);
        w.field(Some(b"y"));
        w.finish();
        let mut reader = CopyReader::new();
        reader.feed(&[first]);
        reader.feed(&[w.take()]);
        assert_eq!(read_all(&mut reader).len(), 2);
    }

    #[test]
    fn garbage_is_reported() {
        let mut reader = CopyReader::new();
        reader.feed(&[b"PGCOPY\nXXXXXXXXXXXXXXXXXXXX"]);
        assert_eq!(
            reader.next_row(&mut FieldSpans::new()),
            Err(CopyFormatError::BadSignature)
        );
        let mut reader = CopyReader::new();
        let bytes = sample();
        reader.feed(&[&bytes[..30]]);
        read_all(&mut reader);
        assert_eq!(reader.check_complete(), Err(CopyFormatError::Truncated));
    }
}
