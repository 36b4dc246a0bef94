//! The backend's async runtime, and waiting on it without becoming deaf to query cancel.
//!
//! One current-thread tokio runtime per backend, made on first use (never in `_PG_init`, which runs
//! in the postmaster: a runtime does not survive `fork`). PostgreSQL is only ever called from the
//! backend's own thread; futures run inside [`block_on`] and touch no PostgreSQL state.

use std::cell::OnceCell;
use std::future::Future;
use std::time::Duration;

use pgrx::pg_sys;

/// How often a wait looks at PostgreSQL's interrupt flags.
const INTERRUPT_POLL: Duration = Duration::from_millis(10);

thread_local! {
    static RUNTIME: OnceCell<tokio::runtime::Runtime> = const { OnceCell::new() };
}

fn with_runtime<R>(f: impl FnOnce(&tokio::runtime::Runtime) -> R) -> R {
    RUNTIME.with(|cell| {
        let runtime = cell.get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .enable_time()
                // Host name lookups run on tokio's blocking threads. Signals meant for the
                // backend (cancel, terminate, latch wakeups) must never be handled there.
                .on_thread_start(block_all_signals)
                .build()
                .expect("a current-thread tokio runtime can always be built")
        });
        f(runtime)
    })
}

fn block_all_signals() {
    // SAFETY: only changes the signal mask of the calling (freshly started helper) thread.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut());
    }
}

/// The wait was given up because the backend has a query cancel or termination pending.
#[derive(Debug)]
pub struct Interrupted;

fn interrupt_pending() -> bool {
    // SAFETY: plain reads of sig_atomic_t flags that signal handlers set.
    unsafe {
        std::ptr::read_volatile(&raw const pg_sys::QueryCancelPending) != 0
            || std::ptr::read_volatile(&raw const pg_sys::ProcDiePending) != 0
    }
}

/// Keeps `CHECK_FOR_INTERRUPTS()` from acting while futures are alive: a termination would
/// `proc_exit` without unwinding them.
struct HeldInterrupts;

impl HeldInterrupts {
    fn hold() -> HeldInterrupts {
        // SAFETY: HOLD_INTERRUPTS(), on the backend's thread.
        unsafe { pg_sys::InterruptHoldoffCount += 1 };
        HeldInterrupts
    }
}

impl Drop for HeldInterrupts {
    fn drop(&mut self) {
        // SAFETY: RESUME_INTERRUPTS(), paired with `hold`.
        unsafe { pg_sys::InterruptHoldoffCount -= 1 };
    }
}

/// Runs `future` to completion, unless a query cancel, `statement_timeout` or termination arrives
/// first: then the future is dropped and `Err(Interrupted)` returned. The caller cancels whatever
/// remote work it started and then calls [`raise_pending_interrupt`].
pub fn block_on<F: Future>(future: F) -> Result<F::Output, Interrupted> {
    let _held = HeldInterrupts::hold();
    with_runtime(|runtime| {
        runtime.block_on(async {
            let mut ticks = tokio::time::interval(INTERRUPT_POLL);
            let mut future = std::pin::pin!(future);
            loop {
                tokio::select! {
                    biased;
                    output = &mut future => return Ok(output),
                    _ = ticks.tick() => if interrupt_pending() { return Err(Interrupted) },
                }
            }
        })
    })
}

/// Like [`block_on`], for clean-up work (sending cancel requests) that must run even while an
/// interrupt is pending; bounded by `limit`.
pub fn block_on_ignoring_interrupts<F: Future>(future: F, limit: Duration) -> Option<F::Output> {
    let _held = HeldInterrupts::hold();
    with_runtime(|runtime| {
        runtime.block_on(async { tokio::time::timeout(limit, future).await.ok() })
    })
}

/// Lets PostgreSQL raise the pending cancel or termination, now that no future is alive.
pub fn raise_pending_interrupt() -> ! {
    pgrx::check_for_interrupts!();
    // The flag was cleared before we got here (it can be, by a concurrent abort): say so ourselves.
    crate::error::Report::new(
        pgrx::PgSqlErrorCode::ERRCODE_QUERY_CANCELED,
        "canceling statement due to user request",
    )
    .raise()
}
