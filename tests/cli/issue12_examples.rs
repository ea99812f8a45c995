//! Every documented command works when copied: the ```sh blocks of README.md and the
//! "Examples:" block of each subcommand's `--help` (taken from the binary, not copied here) run
//! verbatim with bash (`-o pipefail`, each command's status checked) in a scratch directory
//! (`issue12_scratch`), with the built `imgbuild` first on PATH and the files the examples
//! assume (./dist, ./site, busybox.tar, ...) made first. Commands naming `localhost:5000`
//! (plain HTTP) and `localhost:5443` (TLS, `ca.crt`) run against Debian's docker-registry
//! started on those ports. A command needing skopeo, podman, umoci, jq or git runs when the
//! tool is there and is skipped with a note otherwise (a failure under
//! `IMGBUILD_REQUIRE_INTEROP=1`). A command that asks for a password runs on a pty (`script`)
//! with it typed. The few commands that cannot run in a test are listed below with the reason;
//! a listed command that no longer appears fails the test.
// See: issue #12

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use crate::interop::{require_root, require_tool, skip};
use crate::issue12_scratch::{Scratch, help_fixtures};
use crate::registry::{Kind, Registry, require_registry};
use crate::util::imgbuild_cmd;

/// README commands that are not run, each with the reason.
const README_NOT_RUN: &[(&str, &str)] = &[
    (
        "git clone <this repository> imgbuild && cd imgbuild",
        "fetches this repository; the test runs in a scratch copy of its testdata instead",
    ),
    (
        "cargo install --locked --path .          # or use `cargo run --locked --release --` below",
        "installs the binary being tested; the test puts the built imgbuild first on PATH",
    ),
    (
        "cargo test --locked",
        "runs the test suite this test is part of",
    ),
    (
        "scripts/bench.sh --runs 3 --trees \"m100 small m1g\"   # m4g (4 GB) for the flat-memory check",
        "a benchmark that takes minutes and installs pigz and zstd; not part of cargo test",
    ),
];

/// `--help` example commands that are not run, each with the reason.
const HELP_NOT_RUN: &[(&str, &str)] = &[];

/// Commands that ask on a terminal, with what is typed there: they run through `script` (a
/// pty), after the block's other commands.
const AT_A_TERMINAL: &[(&str, &str)] =
    &[("imgbuild login -u alice localhost:5000", "a-password\n")];

/// Tools an example may call, besides imgbuild and the shell's own.
const TOOLS: &[&str] = &["skopeo", "podman", "umoci", "jq", "git"];

/// The ports the documented registry names use: `localhost:5000` and `localhost:5443`.
const PLAIN_PORT: u16 = 5000;
const TLS_PORT: u16 = 5443;

/// Both tests start registries on the same fixed ports: one at a time.
static PORTS: Mutex<()> = Mutex::new(());

/// One shell command as documented: its lines (continuations kept), and where it came from.
pub struct Example {
    pub text: String,
    pub source: String,
}

/// The commands of a shell block: blank and comment-only lines dropped, a line ending in `\`
/// joined with the next.
fn commands(block: &str, source: &str) -> Vec<Example> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in block.lines() {
        let trimmed = line.trim();
        if current.is_none() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        let text = current.get_or_insert_with(String::new);
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(line);
        if !trimmed.ends_with('\\') {
            let text = current.take().unwrap();
            out.push(Example {
                text,
                source: source.to_owned(),
            });
        }
    }
    assert!(current.is_none(), "{source}: a continuation ends the block");
    out
}

/// The ```sh blocks of README.md, each named by the heading above it.
fn readme_examples() -> Vec<Example> {
    let readme = fs::read_to_string(repo("README.md")).unwrap();
    let (mut heading, mut block, mut out) = (String::new(), None::<String>, Vec::new());
    for line in readme.lines() {
        match &mut block {
            Some(b) if line == "```" => {
                out.extend(commands(b, &format!("README.md, {heading}")));
                block = None;
            }
            Some(b) => {
                b.push_str(line);
                b.push('\n');
            }
            None if line == "```sh" => block = Some(String::new()),
            None if line.starts_with('#') => heading = line.trim_start_matches('#').trim().into(),
            None => {}
        }
    }
    out
}

/// `imgbuild PATH --help` (PATH: "", "build", "cache info", ...).
fn help_of(path: &str) -> String {
    stdout(
        imgbuild_cmd(Path::new("/"))
            .args(path.split_whitespace())
            .arg("--help"),
    )
}

/// The "Examples:" block of `imgbuild PATH --help`, dedented.
fn help_examples(path: &str) -> Option<String> {
    let help = help_of(path);
    let rest = help.split_once("\nExamples:\n")?.1;
    let block: Vec<&str> = rest
        .lines()
        .take_while(|l| l.is_empty() || l.starts_with("  "))
        .map(|l| l.strip_prefix("  ").unwrap_or(l))
        .collect();
    Some(block.join("\n"))
}

/// Every command: "" (imgbuild itself), then what the "Commands:" lists name, nested ones
/// too ("cache info").
fn command_paths() -> Vec<String> {
    let mut out = vec![String::new()];
    let mut i = 0;
    while i < out.len() {
        let help = help_of(&out[i]);
        if let Some((_, list)) = help.split_once("Commands:\n") {
            let names: Vec<String> = list
                .lines()
                .take_while(|l| l.starts_with("  "))
                .filter_map(|l| l.split_whitespace().next())
                .filter(|name| *name != "help")
                .map(|name| format!("{} {name}", out[i]).trim().to_owned())
                .collect();
            out.extend(names);
        }
        i += 1;
    }
    out
}

fn stdout(c: &mut assert_cmd::Command) -> String {
    String::from_utf8(c.assert().success().get_output().stdout.clone()).unwrap()
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// The words of a command, split at spaces and shell punctuation (`$(git` gives `git`).
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| c.is_whitespace() || "|&;()$<>\"'`".contains(c))
        .filter(|w| !w.is_empty())
}

/// What the scratch directory offers: which tools and registries are there.
struct Offer {
    tools: Vec<&'static str>,
    registries: bool,
}

/// The reason a command is not run, or None to run it.
fn reason_to_skip(e: &Example, not_run: &[(&str, &str)], offer: &Offer) -> Option<String> {
    if let Some((_, why)) = not_run.iter().find(|(cmd, _)| *cmd == e.text) {
        return Some(format!("not run: {why}"));
    }
    let needs: Vec<&str> = words(&e.text).filter(|w| TOOLS.contains(w)).collect();
    if let Some(missing) = needs.iter().find(|t| !offer.tools.contains(t)) {
        return Some(format!("{missing} is not available here"));
    }
    let registry = [PLAIN_PORT, TLS_PORT]
        .iter()
        .any(|p| e.text.contains(&format!("localhost:{p}")));
    (registry && !offer.registries).then(|| "the test registries are not running".into())
}

/// The tools found (podman only as root: its storage here needs it); missing ones noted.
fn tools_here() -> Vec<&'static str> {
    let mut found: Vec<&'static str> = TOOLS
        .iter()
        .copied()
        .filter(|t| require_tool(t).is_some())
        .collect();
    if found.contains(&"podman") && !require_root() {
        found.retain(|t| *t != "podman");
    }
    found
}

/// The registries on `localhost:5000` and `localhost:5443` with the CA as `DIR/ca.crt`, or
/// None after a note (a failure under IMGBUILD_REQUIRE_INTEROP=1) when they cannot start.
fn registries() -> Option<(Registry, Registry)> {
    if !require_registry() {
        return None;
    }
    let plain = Registry::start_on(Kind::Plain, PLAIN_PORT);
    let tls = Registry::start_on(Kind::Tls, TLS_PORT);
    match (plain, tls) {
        (Ok(p), Ok(t)) => Some((p, t)),
        (Err(log), _) | (_, Err(log)) => {
            skip(&format!(
                "no registry on localhost:{PLAIN_PORT} and :{TLS_PORT} (taken?): {log}"
            ));
            None
        }
    }
}

/// Runs `examples` in `scratch`, skipping (with a note) what cannot run; returns the allow-list
/// entries that were used.
fn run_examples(
    scratch: &Scratch,
    what: &str,
    examples: &[Example],
    not_run: &[(&str, &str)],
    offer: &Offer,
) -> Vec<String> {
    let (mut run, mut at_a_terminal, mut used) = (Vec::new(), Vec::new(), Vec::new());
    for e in examples {
        let typed = AT_A_TERMINAL.iter().find(|(cmd, _)| *cmd == e.text);
        match (reason_to_skip(e, not_run, offer), typed) {
            (Some(why), _) => {
                eprintln!("{}: skipping `{}`: {why}", e.source, e.text);
                used.push(e.text.clone());
            }
            (None, Some((_, input))) if require_tool("script").is_some() => {
                at_a_terminal.push((e, *input));
                used.push(e.text.clone());
            }
            (None, Some(_)) => eprintln!("{}: skipping `{}`: no script(1)", e.source, e.text),
            (None, None) => run.push(e),
        }
    }
    eprintln!("{what}: running {} commands", run.len());
    scratch.run(what, &run);
    for (e, input) in at_a_terminal {
        scratch.run_at_terminal(what, e, input);
    }
    used
}

fn assert_allow_list_used(not_run: &[(&str, &str)], used: &[String]) {
    for (cmd, _) in not_run {
        assert!(
            used.iter().any(|u| u == cmd),
            "the allow-list names `{cmd}`, which the docs no longer have: remove it"
        );
    }
}

#[test]
fn issue_12_every_readme_command_runs_verbatim() {
    let _ports = PORTS.lock().unwrap_or_else(|e| e.into_inner());
    let regs = registries();
    let offer = Offer {
        tools: tools_here(),
        registries: regs.is_some(),
    };
    let scratch = Scratch::new(regs.as_ref().map(|(_, tls)| tls));
    // What a checkout has (the quick start's context) and what the examples call an app.
    let hello = repo("testdata/contexts/hello");
    let copy = scratch.path().join("testdata/contexts");
    fs::create_dir_all(&copy).unwrap();
    let status = Command::new("cp")
        .arg("-a")
        .arg(&hello)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    scratch.file("dist/server", "#!/bin/sh\necho serving\n");
    scratch.file("dist/static/index.html", "<h1>app</h1>\n");
    // --layer's app with its dependency trees; --platform-context's site and per-platform trees.
    scratch.file("app/index.js", "require('left-pad')\n");
    scratch.file("app/node_modules/left-pad/index.js", "module.exports = 1\n");
    scratch.file("app/vendor/lib/a.php", "<?php\n");
    scratch.file("site/index.html", "<h1>site</h1>\n");
    scratch.file("out/amd64/bin/tool", "amd64\n");
    scratch.file("out/arm64/bin/tool", "arm64\n");

    let examples = readme_examples();
    for heading in [
        "Quick start",
        "Build an image from a directory",
        "Inspect an image",
    ] {
        assert!(
            examples.iter().any(|e| e.source.ends_with(heading)),
            "README.md has no sh block under {heading}"
        );
    }
    let used = run_examples(&scratch, "README.md", &examples, README_NOT_RUN, &offer);
    assert_allow_list_used(README_NOT_RUN, &used);
    for made in [
        "hello.tar",
        "multi.tar",
        "layout/index.json",
        "rootfs",
        "app.tar",
    ] {
        assert!(scratch.path().join(made).exists(), "{made} was not made");
    }
}

#[test]
fn issue_12_every_help_example_runs_verbatim() {
    let _ports = PORTS.lock().unwrap_or_else(|e| e.into_inner());
    let regs = registries();
    let offer = Offer {
        tools: tools_here(),
        registries: regs.is_some(),
    };
    let mut used = Vec::new();
    let mut with_examples = Vec::new();
    let paths = command_paths();
    assert!(paths.iter().any(|p| p == "cache prune"), "{paths:?}");
    for sub in paths.iter().map(String::as_str) {
        let Some(block) = help_examples(sub) else {
            continue;
        };
        let what = format!("imgbuild {sub} --help").replace("  ", " ");
        let examples = commands(&block, &what);
        assert!(!examples.is_empty(), "{what}: an empty Examples: block");
        with_examples.push(sub.to_owned());
        // Each help is read on its own: a fresh directory with what its examples assume.
        let scratch = Scratch::new(regs.as_ref().map(|(_, tls)| tls));
        help_fixtures(&scratch, offer.tools.contains(&"git"));
        used.extend(run_examples(
            &scratch,
            &what,
            &examples,
            HELP_NOT_RUN,
            &offer,
        ));
    }
    for sub in [
        "build",
        "inspect",
        "export",
        "push",
        "login",
        "logout",
        "completions",
    ] {
        assert!(
            with_examples.iter().any(|s| s == sub),
            "imgbuild {sub} --help has no Examples: block (found them for {with_examples:?})"
        );
    }
    assert_allow_list_used(HELP_NOT_RUN, &used);
    assert_allow_list_used(AT_A_TERMINAL, &used);
}
