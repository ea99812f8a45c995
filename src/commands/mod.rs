//! One module per subcommand: each turns checked options into calls down the pipeline and
//! reports the result through the `Printer`.

pub mod build;
pub mod completions;
pub mod export;
pub mod inspect;
pub mod login;
