//! Cancellation as a value: a [`Cancel`] is handed to every long operation, which checks it
//! between chunks and stops with [`Interrupted`] once it is set. The caller decides what sets
//! it: a Rust program calls [`Cancel::cancel`] (from any thread); the command line wires
//! SIGINT, SIGTERM and SIGHUP to it (`interrupt::install`). Nothing in the library reads a
//! global flag.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, Ordering};

use crate::error::Interrupted;

/// A cancellation flag shared by clones: cancelling one cancels them all.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    /// 0: not cancelled; [`Interrupted::CANCELLED`]: by the caller; otherwise the signal.
    state: Arc<AtomicI32>,
}

impl Cancel {
    /// A flag that is not set.
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// A flag that is never set by anyone else: for callers that do not cancel.
    pub fn never() -> Cancel {
        Cancel::default()
    }

    /// Cancel: every operation holding a clone stops at its next check with
    /// [`ErrorKind::Cancelled`](crate::ErrorKind::Cancelled). Its temporary files are removed
    /// as it unwinds; a destination not yet finished is left as it was.
    pub fn cancel(&self) {
        self.set(Interrupted::CANCELLED);
    }

    /// Cancel because of signal `sig` (the error then says so, and the command line exits
    /// 128 + `sig`). Only the first reason is kept. Only touches an atomic, so it may be
    /// called from a signal handler.
    pub fn cancel_by_signal(&self, sig: i32) {
        self.set(sig);
    }

    fn set(&self, why: i32) {
        let _ = self
            .state
            .compare_exchange(0, why, Ordering::SeqCst, Ordering::SeqCst);
    }

    /// Whether it has been cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.state.load(Ordering::Relaxed) != 0
    }

    /// `Err(Interrupted)` once cancelled.
    pub fn check(&self) -> Result<(), Interrupted> {
        match self.state.load(Ordering::Relaxed) {
            0 => Ok(()),
            why => Err(Interrupted(why)),
        }
    }

    /// The same check for code that works in `std::io` terms.
    pub fn check_io(&self) -> io::Result<()> {
        self.check().map_err(io::Error::other)
    }

    /// The shared state, for a signal handler to set.
    pub(crate) fn state(&self) -> Arc<AtomicI32> {
        Arc::clone(&self.state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn clones_share_the_flag_and_the_first_reason_wins() {
        let a = Cancel::new();
        let b = a.clone();
        assert!(a.check().is_ok() && !b.is_cancelled());
        b.cancel_by_signal(libc::SIGTERM);
        a.cancel();
        let err = a.check().unwrap_err();
        assert_eq!(
            crate::Error::from(err).kind(),
            ErrorKind::Interrupted(libc::SIGTERM)
        );
        let c = Cancel::new();
        c.cancel();
        assert_eq!(
            crate::Error::from(c.check().unwrap_err()).kind(),
            ErrorKind::Cancelled
        );
        assert!(c.check_io().is_err());
    }
}
