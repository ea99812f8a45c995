//! Renders an error chain as `error:` / `Caused by:` / `hint:` and picks the exit code from
//! the error's kind. The chain's messages quote image text (tags, media types, tar names,
//! parser input); they are passed raw to `Printer::error`, which escapes each one, so no
//! template has to.

use std::process::ExitCode;

use super::Printer;
use crate::error::{Error, ErrorKind};

/// Print `err` (unless it is a closed pipe) and return the exit code for it.
/// `stdout_is_image`: a broken pipe while stdout carried the image is a failure (1);
/// while it carried text it is a quiet success (0).
pub fn render(printer: &Printer, err: &Error, stdout_is_image: bool) -> ExitCode {
    let code = exit_code(err.kind(), stdout_is_image);
    if err.kind() == ErrorKind::BrokenPipe {
        return ExitCode::from(code);
    }
    let mut chain = err.chain().map(|c| c.to_string());
    let head = chain.next().unwrap_or_default();
    let mut causes: Vec<String> = chain.collect();
    causes.dedup();
    printer.error(&head, &causes, err.hint());
    ExitCode::from(code)
}

/// The exit status for an error of `kind` (the man page's EXIT STATUS).
pub fn exit_code(kind: ErrorKind, stdout_is_image: bool) -> u8 {
    match kind {
        ErrorKind::Failure => 1,
        ErrorKind::Usage => 2,
        ErrorKind::Rejected => 3,
        ErrorKind::Interrupted(sig) => (128 + sig).clamp(0, 255) as u8,
        // Not made by the command line, which cancels only on signals: as for SIGINT.
        ErrorKind::Cancelled => 130,
        ErrorKind::BrokenPipe => u8::from(stdout_is_image),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(exit_code(ErrorKind::Failure, false), 1);
        assert_eq!(exit_code(ErrorKind::Usage, false), 2);
        assert_eq!(exit_code(ErrorKind::Rejected, true), 3);
        assert_eq!(exit_code(ErrorKind::Interrupted(libc::SIGINT), false), 130);
        assert_eq!(exit_code(ErrorKind::Interrupted(libc::SIGTERM), false), 143);
        assert_eq!(exit_code(ErrorKind::BrokenPipe, false), 0);
        assert_eq!(exit_code(ErrorKind::BrokenPipe, true), 1);
    }
}
