//! Renders an error chain as `error:` / `Caused by:` / `hint:` and picks the exit code.
//! The chain's messages quote image text (tags, media types, tar names, parser input); they
//! are passed raw to `Printer::error`, which escapes each one, so no template has to.

use std::process::ExitCode;

use super::Printer;
use crate::error;

/// Print `err` (unless it is a closed pipe) and return the exit code for it.
/// `stdout_is_image`: a broken pipe while stdout carried the image is a failure (1);
/// while it carried text it is a quiet success (0).
pub fn render(printer: &Printer, err: &anyhow::Error, stdout_is_image: bool) -> ExitCode {
    if error::is_broken_pipe(err) {
        return ExitCode::from(if stdout_is_image { 1 } else { 0 });
    }
    let (class, hint) = error::classify(err);
    let mut chain = err.chain().map(|c| c.to_string());
    let head = chain.next().unwrap_or_default();
    let mut causes: Vec<String> = chain.collect();
    causes.dedup();
    printer.error(&head, &causes, hint.as_deref());
    ExitCode::from(class.code())
}
