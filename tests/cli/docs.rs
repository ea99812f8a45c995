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

/// #12: every flag the issue added has a completion in each shell, an entry in the man page,
/// a place in README's usage and a CHANGELOG line.
#[test]
fn issue_12_every_new_flag_has_a_completion_a_man_entry_and_a_changelog_line() {
    let read = |rel: &str| fs::read_to_string(repo(rel)).unwrap();
    let man = read("man/imgbuild-build.1");
    let (readme, changelog) = (read("README.md"), read("CHANGELOG.md"));
    let unreleased = changelog.split("\n## [").nth(1).unwrap();
    for flag in [
        "--env-file",
        "--label-file",
        "--stop-signal",
        "--volume",
        "--metadata-file",
        "--json-file",
    ] {
        for shell in SHELLS {
            let script = String::from_utf8(completion(shell)).unwrap();
            let name = flag.trim_start_matches('-');
            assert!(script.contains(name), "{shell:?} completion lacks {flag}");
        }
        let roff = flag.replace('-', "\\-");
        assert!(man.contains(&roff), "man page lacks {flag}");
        assert!(readme.contains(flag), "README lacks {flag}");
        let line = unreleased
            .lines()
            .find(|l| l.contains(&format!("`{flag}")) || l.contains(&format!("`build {flag}")));
        assert!(
            line.is_some_and(|l| l.ends_with("(#12).")),
            "no CHANGELOG line ending (#12) names {flag}"
        );
    }
}

/// #12: the help and README say that .gitignore applies (unlike Docker) and why, and README
/// says how to name one image of an archive with several tags.
#[test]
fn issue_12_help_and_readme_say_gitignore_applies_and_how_to_name_one_tag() {
    let dir = tempfile::tempdir().unwrap();
    let help = imgbuild_cmd(dir.path())
        .args(["build", "--help"])
        .assert()
        .success();
    let help = String::from_utf8(help.get_output().stdout.clone()).unwrap();
    let no_ignore = help.split("--no-ignore\n").nth(1).unwrap();
    let first = no_ignore.lines().next().unwrap();
    assert!(
        first.contains(".gitignore") && first.contains("unlike Docker"),
        "the first help line of --no-ignore: {first:?}"
    );
    let readme = fs::read_to_string(repo("README.md")).unwrap();
    assert!(readme.contains("Docker does not read `.gitignore`; imgbuild does, because"));
    assert!(readme.contains("`oci-archive:app.tar:TAG`"));
}
