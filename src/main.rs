//! The `imgbuild` binary: parse, build the printer, run, report.

use std::process::ExitCode;

use clap::Parser;
use imgbuild::ErrorKind;
use imgbuild::cli::Cli;
use imgbuild::ui::{Printer, report};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut printer = Printer::from_args(&cli.global);
    // With the image on stdout, `--json` goes to stderr, whole: no status lines around it.
    printer.quiet |= imgbuild::json_on_stderr(&cli);
    let cancel = imgbuild::Cancel::new();
    if let Err(e) = imgbuild::interrupt::install(&cancel) {
        printer.warn(&format!("Ctrl-C will not clean up temporary files: {e}"));
    }
    match imgbuild::run(&cli, &printer, &cancel) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // After a signal, a failure it caused (the reader of our stdout killed by the
            // same Ctrl-C: a broken pipe) is reported as the interruption it is.
            let err = match cancel.check() {
                Err(sig) if !matches!(err.kind(), ErrorKind::Interrupted(_)) => sig.into(),
                _ => err,
            };
            report::render(&printer, &err, imgbuild::stdout_is_image(&cli))
        }
    }
}
