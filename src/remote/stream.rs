//! Rows streaming from a data node (`COPY ... TO STDOUT`), shareable with the session's other
//! users. A session answers one request at a time, in order; a stream that is read slowly (a scan
//! on the outer side of a join, a cursor) would hold back anything else sent on the session in the
//! same transaction (the inner scan of the join, an UPDATE) forever, since nothing would read the
//! rest of it. So before a session is used for anything else, an unfinished stream on it is read
//! to its end into memory ([`NodeConnection::settle`](super::NodeConnection::settle)); its owner
//! then reads from there.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use tokio_postgres::CopyOutStream;

/// What [`SharedStream::poll_batch`] gives: pieces of data, the stream's end (`None`), or its error.
pub type Batch = Option<Result<Vec<Bytes>, tokio_postgres::Error>>;

#[derive(Default)]
struct Buffer {
    /// The rest of the stream, until it has been read (into `read`) to its end.
    stream: Option<Pin<Box<CopyOutStream>>>,
    read: VecDeque<Result<Bytes, tokio_postgres::Error>>,
}

/// A session's stream, as the session remembers it: gone once its owner dropped it.
pub struct WeakStream(Weak<RefCell<Buffer>>);

impl WeakStream {
    pub fn upgrade(&self) -> Option<SharedStream> {
        self.0.upgrade().map(SharedStream)
    }
}

/// A stream of COPY data that can be set aside ([`SharedStream::read_to_end`]) without losing it.
#[derive(Clone)]
pub struct SharedStream(Rc<RefCell<Buffer>>);

impl SharedStream {
    pub fn new(stream: CopyOutStream) -> SharedStream {
        SharedStream(Rc::new(RefCell::new(Buffer {
            stream: Some(Box::pin(stream)),
            read: VecDeque::new(),
        })))
    }

    pub fn downgrade(&self) -> WeakStream {
        WeakStream(Rc::downgrade(&self.0))
    }

    /// Whether the stream still has unread data on its session.
    pub fn on_session(&self) -> bool {
        self.0.borrow().stream.is_some()
    }

    /// What can be read now without waiting, from what was set aside first: the pieces that have
    /// arrived (at least one, about `limit` bytes at most), or the stream's end or error if it
    /// comes first. PostgreSQL sends a COPY row per message; taking all that is there at once
    /// saves the reader a wait, and a runtime entry, per row.
    pub fn poll_batch(&self, cx: &mut Context<'_>, limit: usize) -> Poll<Batch> {
        let mut buffer = self.0.borrow_mut();
        let mut pieces = Vec::new();
        let mut size = 0;
        while size < limit {
            let item = match buffer.read.pop_front() {
                Some(item) => Poll::Ready(Some(item)),
                None => match buffer.stream.as_mut() {
                    Some(stream) => stream.as_mut().poll_next(cx),
                    None => Poll::Ready(None),
                },
            };
            match item {
                Poll::Ready(Some(Ok(bytes))) => {
                    size += bytes.len();
                    pieces.push(bytes);
                }
                Poll::Ready(end) => {
                    buffer.stream = None;
                    if pieces.is_empty() {
                        return Poll::Ready(end.map(|err| err.map(|_| Vec::new())));
                    }
                    // Given with the next call, after these pieces (an end is the empty stream).
                    if let Some(err) = end {
                        buffer.read.push_front(err);
                    }
                    break;
                }
                Poll::Pending => break,
            }
        }
        if pieces.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(Some(Ok(pieces)))
        }
    }

    /// Reads everything left on the session into memory.
    pub async fn read_to_end(&self) {
        loop {
            let item = std::future::poll_fn(|cx| {
                let mut buffer = self.0.borrow_mut();
                match buffer.stream.as_mut() {
                    Some(stream) => stream.as_mut().poll_next(cx),
                    None => Poll::Ready(None),
                }
            })
            .await;
            let mut buffer = self.0.borrow_mut();
            match item {
                Some(Ok(bytes)) => buffer.read.push_back(Ok(bytes)),
                Some(Err(err)) => {
                    buffer.read.push_back(Err(err));
                    buffer.stream = None;
                    return;
                }
                None => {
                    buffer.stream = None;
                    return;
                }
            }
        }
    }
}
