//! Ctrl-C and SIGTERM: the handler only records the signal; the copy loops call `check()`
//! between chunks, return `Interrupted`, and unwinding removes every temporary file. A second
//! Ctrl-C ends the process at once (the temporary names are recognisable).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use crate::error::Interrupted;

static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Install the handlers; call once at start-up.
pub fn install() -> std::io::Result<()> {
    let seen = Arc::new(AtomicBool::new(false));
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // A second signal while the first is being handled exits at once with 128+sig.
        signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&seen))?;
        let seen = Arc::clone(&seen);
        // SAFETY: the closure only stores into atomics, which is async-signal-safe.
        unsafe {
            signal_hook::low_level::register(sig, move || {
                SIGNAL.store(sig, Ordering::SeqCst);
                seen.store(true, Ordering::SeqCst);
            })?;
        }
    }
    Ok(())
}

/// `Err(Interrupted)` once a signal has arrived.
pub fn check() -> Result<(), Interrupted> {
    match SIGNAL.load(Ordering::Relaxed) {
        0 => Ok(()),
        sig => Err(Interrupted(sig)),
    }
}

/// The same check for code that works in `std::io` terms.
pub fn check_io() -> std::io::Result<()> {
    check().map_err(std::io::Error::other)
}
