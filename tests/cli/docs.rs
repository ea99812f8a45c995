//! Generated docs stay fresh: the committed completions/ and man/ must equal what the CLI
//! definition generates (IMGBUILD_BLESS=1 rewrites them), and --help carries examples.

use std::fs;
use std::path::{Path, PathBuf};

use clap_complete::Shell;
use imgbuild::commands::completions::{completion, completion_file, man_pages};
use predicates::prelude::*;

use crate::util::imgbuild_cmd;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn bless() -> bool {
    std::env::var_os("IMGBUILD_BLESS").is_some_and(|v| v == "1")
}

/// Compare `want` with the committed file, or rewrite it under IMGBUILD_BLESS=1.
fn fresh(path: &Path, want: &[u8]) -> Option<String> {
    if bless() {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, want).unwrap();
        return None;
    }
    match fs::read(path) {
        Ok(have) if have == want => None,
        Ok(_) => Some(format!("{} is stale", path.display())),
        Err(_) => Some(format!("{} is missing", path.display())),
    }
}

const SHELLS: [Shell; 5] = [
    Shell::Bash,
    Shell::Zsh,
    Shell::Fish,
    Shell::Elvish,
    Shell::PowerShell,
];

#[test]
fn completions_and_man_pages_are_fresh() {
    let mut problems = Vec::new();
    for shell in SHELLS {
        let path = repo("completions").join(completion_file(shell));
        problems.extend(fresh(&path, &completion(shell)));
    }
    let pages = man_pages().unwrap();
    let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"imgbuild.1") && names.contains(&"imgbuild-build.1"),
        "{names:?}"
    );
    for (name, roff) in &pages {
        problems.extend(fresh(&repo("man").join(name), roff));
    }
    if !bless() {
        for entry in fs::read_dir(repo("man")).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if !names.contains(&name.as_str()) {
                problems.push(format!("man/{name} is no longer generated"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{}\nrun `IMGBUILD_BLESS=1 cargo test docs` and commit the result",
        problems.join("\n")
    );
}

#[test]
fn completions_command_prints_the_committed_script() {
    let dir = tempfile::tempdir().unwrap();
    let out = imgbuild_cmd(dir.path())
        .args(["completions", "bash"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert_eq!(out, completion(Shell::Bash));
    assert!(
        String::from_utf8(out)
            .unwrap()
            .contains("--source-date-epoch")
    );
    imgbuild_cmd(dir.path())
        .args(["completions", "tcsh"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("invalid value 'tcsh'"));
}

#[test]
fn help_has_examples_for_the_real_use_cases() {
    let dir = tempfile::tempdir().unwrap();
    let help = imgbuild_cmd(dir.path())
        .args(["build", "--help"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let help = String::from_utf8(help).unwrap();
    for needle in [
        "Examples:",
        "-o app.tar",
        "-o - -t site:1 | podman load",
        "--platform linux/amd64,linux/arm64",
        "--base oci-archive:",
        "SOURCE_DATE_EPOCH=",
        "--json",
    ] {
        assert!(help.contains(needle), "build --help lacks {needle:?}");
    }
    for (sub, needle) in [
        ("inspect", "--raw config"),
        ("export", "--format rootfs-dir"),
    ] {
        let help = imgbuild_cmd(dir.path())
            .args([sub, "--help"])
            .assert()
            .success()
            .get_output()
            .stdout
            .clone();
        let help = String::from_utf8(help).unwrap();
        assert!(
            help.contains("Examples:") && help.contains(needle),
            "{sub} --help lacks examples"
        );
    }
    let top = imgbuild_cmd(dir.path())
        .arg("--help")
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8(top).unwrap().contains("Exit status:"));
}
