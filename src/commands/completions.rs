//! `imgbuild completions <shell>` and the man pages: both generated from the clap
//! definition; the same functions feed the tests that keep `completions/` and `man/` fresh.

use anyhow::{Context as _, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, CompletionsArgs};
use crate::ui::Printer;

pub fn run(args: &CompletionsArgs, printer: &Printer) -> Result<()> {
    printer
        .data_raw(&completion(args.shell))
        .context("writing to stdout")
}

/// The completion script for one shell.
pub fn completion(shell: Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "imgbuild", &mut out);
    out
}

/// The file name each shell's completion script is committed under in `completions/`.
pub fn completion_file(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "imgbuild.bash",
        Shell::Zsh => "_imgbuild",
        Shell::Fish => "imgbuild.fish",
        Shell::Elvish => "imgbuild.elv",
        Shell::PowerShell => "_imgbuild.ps1",
        _ => "imgbuild.completion",
    }
}

/// The roff of a man page with hyphenation off (`.nh`) and its EXTRA section (the
/// examples, the exit statuses) set verbatim (`.nf` … `.fi`), so a copied command line is
/// exactly what `--help` shows: no filled lines, no justified spaces, no hyphens inserted.
fn verbatim_examples(roff: &[u8]) -> Vec<u8> {
    let text = String::from_utf8_lossy(roff);
    let mut out = String::with_capacity(text.len() + 32);
    let mut in_extra = false;
    for line in text.split_inclusive('\n') {
        if line.starts_with(".SH ") && in_extra {
            out.push_str(".fi\n");
            in_extra = false;
        }
        out.push_str(line);
        if line.starts_with(".TH ") {
            out.push_str(".nh\n");
        }
        if line.trim_end() == ".SH EXTRA" {
            out.push_str(".nf\n");
            in_extra = true;
        }
    }
    if in_extra {
        if !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(".fi\n");
    }
    out.into_bytes()
}

/// The man pages: `imgbuild.1` and one per subcommand (`imgbuild-build.1`, ...), as
/// (file name, roff) pairs.
/// clap_mangen leaves visible aliases out: add them to each flag's help, as `--help` shows them
/// (`[aliases: --json-file]`), so the man page names every spelling.
fn with_visible_aliases(mut cmd: clap::Command) -> clap::Command {
    let ids: Vec<clap::Id> = cmd
        .get_arguments()
        .filter(|a| a.get_visible_aliases().is_some())
        .map(|a| a.get_id().clone())
        .collect();
    for id in ids {
        cmd = cmd.mut_arg(id, |a| {
            let aliases: Vec<String> = a
                .get_visible_aliases()
                .unwrap_or_default()
                .iter()
                .map(|s| format!("--{s}"))
                .collect();
            let help = a.get_help().map(ToString::to_string).unwrap_or_default();
            a.help(format!("{help} [aliases: {}]", aliases.join(", ")))
        });
    }
    cmd
}

pub fn man_pages() -> Result<Vec<(String, Vec<u8>)>> {
    fn collect(cmd: clap::Command, out: &mut Vec<(String, Vec<u8>)>) -> Result<()> {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
            collect(sub, out)?;
        }
        let man = clap_mangen::Man::new(with_visible_aliases(cmd));
        let mut bytes = Vec::new();
        man.render(&mut bytes).context("rendering a man page")?;
        out.push((man.get_filename(), verbatim_examples(&bytes)));
        Ok(())
    }
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let mut out = Vec::new();
    collect(cmd, &mut out)?;
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}
