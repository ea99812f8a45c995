//! The command line as a new user meets it: hints that work, a bare architecture for
//! --platform, buildx's -o syntax refused, what was ignored said, several tags explained.
// See: issue #12

use predicates::prelude::*;

use crate::checker::check_image;
use crate::ui::{bin, on_a_terminal};
use crate::util::TestContext;

#[test]
fn issue_12_a_terminal_on_stdout_gets_hints_that_work() {
    let t = TestContext::new();
    t.file("a.txt", "a\n");
    for cmd in [
        format!("'{}' build ctx", bin()),
        format!("'{}' build ctx -o -", bin()),
    ] {
        let Some(screen) = on_a_terminal(&t, &cmd, &[("NO_COLOR", "1")]) else {
            return;
        };
        assert!(screen.contains("-o app.tar"), "{cmd}: {screen:?}");
        assert!(!screen.contains("/dev/stdin"), "{cmd}: {screen:?}");
    }
    let Some(screen) = on_a_terminal(&t, &format!("'{}' build ctx -o -", bin()), &[]) else {
        return;
    };
    assert!(screen.contains("podman load"), "{screen:?}");
}

#[test]
fn issue_12_a_bare_architecture_means_linux() {
    let t = TestContext::new();
    t.file("a.txt", "a\n");
    t.build_digest("arm.tar", &["--platform", "aarch64"]);
    let img = check_image(&t.out("arm.tar")).unwrap();
    assert_eq!(img.single().unwrap().platform.to_string(), "linux/arm64/v8");
    t.build_digest("x86.tar", &["--platform", "x86_64,arm/v6"]);
    t.build("bad.tar", &["--platform", "sparc"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("aarch64").and(predicate::str::contains("i686")));
}

#[test]
fn issue_12_buildx_output_syntax_is_refused_with_a_hint() {
    let t = TestContext::new();
    t.file("a.txt", "a\n");
    t.cmd()
        .args(["build", "ctx", "-o", "type=oci,dest=x.tar"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("buildx").and(predicate::str::contains("--format oci-dir")),
        );
    assert!(!t.root().join("type=oci,dest=x.tar").exists());
}

#[test]
fn issue_12_the_build_says_how_many_paths_were_ignored_and_by_what() {
    let t = TestContext::new();
    t.file("keep.txt", "k\n")
        .file(".dockerignore", "*.md\nbuild/\n")
        .file("a.md", "a\n")
        .file("build/out.bin", "o\n")
        .file(".gitignore", "*.log\n")
        .file("x.log", "x\n");
    t.build("img.tar", &[])
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .assert()
        .success()
        .stderr(
            predicate::str::contains("Ignored 3 paths")
                .and(predicate::str::contains(".dockerignore 2"))
                .and(predicate::str::contains(".gitignore 1"))
                .and(predicate::str::contains("-v lists them")),
        );
    // Nothing ignored: nothing said.
    let t = TestContext::new();
    t.file("keep.txt", "k\n");
    t.build("img.tar", &[])
        .assert()
        .success()
        .stderr(predicate::str::contains("Ignored").not());
}

#[test]
fn issue_12_several_tags_name_the_one_to_read() {
    let t = TestContext::new();
    t.file("a.txt", "a\n");
    t.build("img.tar", &["-t", "app:1", "-t", "app:latest"])
        .assert()
        .success()
        .stderr(
            predicate::str::contains("oci-archive:").and(predicate::str::contains("img.tar:app:1")),
        );
    t.build("one.tar", &["-t", "app:1"])
        .assert()
        .success()
        .stderr(predicate::str::contains("Tagged").not());
}

#[test]
fn issue_12_metadata_file_holds_the_json_even_when_stdout_is_the_image() {
    let t = TestContext::new();
    t.file("a.txt", "a\n");
    let out = t
        .cmd()
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .args([
            "build",
            "ctx",
            "-o",
            "-",
            "--metadata-file",
            "out/meta.json",
        ])
        .assert()
        .success()
        .get_output()
        .clone();
    // stdout is the archive alone; the document is in the file.
    assert!(out.stdout.len() > 1024 && out.stdout[..512].starts_with(b"blobs/"));
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.out("meta.json")).unwrap()).unwrap();
    let digest = t.build_digest("same.tar", &[]);
    assert_eq!(doc["digest"], digest.as_str());
    assert_eq!(doc["output"]["path"], serde_json::Value::Null);
    assert!(
        crate::util::list_dir(&t.root().join("out"))
            .iter()
            .all(|n| !n.contains(".imgbuild-"))
    );
}

#[test]
fn issue_12_help_groups_the_flags_under_headings() {
    let t = TestContext::new();
    let out = t
        .cmd()
        .args(["build", "--help"])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let help = String::from_utf8(out).unwrap();
    let headings: Vec<&str> = help
        .lines()
        .filter(|l| !l.starts_with(' ') && l.ends_with(':'))
        .collect();
    for h in [
        "Output:",
        "Platforms and base:",
        "Image config:",
        "Layer content:",
        "Registry:",
        "Global:",
    ] {
        assert!(headings.contains(&h), "{h} missing from {headings:?}");
    }
    // The global flags sit under their own heading, after the build's.
    let global = help.find("\nGlobal:").unwrap();
    assert!(help.find("--quiet").unwrap() > global);
    assert!(help.find("--prefix").unwrap() < global);
}

#[test]
fn issue_12_env_and_label_files_stop_signal_and_volumes_reach_the_config() {
    let t = TestContext::new();
    t.file("a.txt", "a\n");
    std::fs::write(t.root().join("app.env"), "# settings\nMODE=prod\nPORT=80\n").unwrap();
    std::fs::write(t.root().join("labels"), "team=web\n\nowner=ops\n").unwrap();
    t.build_digest(
        "img.tar",
        &[
            "--env-file",
            "app.env",
            "--env",
            "PORT=8080",
            "--label-file",
            "labels",
            "--stop-signal",
            "SIGQUIT",
            "--volume",
            "/data",
            "--volume",
            "/cache",
        ],
    );
    let img = check_image(&t.out("img.tar")).unwrap();
    let c = &img.single().unwrap().config["config"];
    assert_eq!(c["Env"], serde_json::json!(["MODE=prod", "PORT=8080"]));
    assert_eq!(c["Labels"]["team"], "web");
    assert_eq!(c["Labels"]["owner"], "ops");
    assert_eq!(c["StopSignal"], "SIGQUIT");
    assert_eq!(c["Volumes"], serde_json::json!({"/cache": {}, "/data": {}}));
    // A bare name in an env file is refused: a build does not read its own environment.
    std::fs::write(t.root().join("bad.env"), "HOME\n").unwrap();
    t.build("bad.tar", &["--env-file", "bad.env"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("line 1").and(predicate::str::contains("KEY=VALUE")));
    t.build("bad.tar", &["--volume", "data"]).assert().code(2);
}

#[test]
fn issue_12_man_page_examples_are_verbatim() {
    let page =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/man/imgbuild-build.1"))
            .unwrap();
    assert!(page.contains("\n.nh\n"), "hyphenation is not turned off");
    let extra = page.split(".SH EXTRA\n").nth(1).expect("an EXTRA section");
    assert!(
        extra.starts_with(".nf\n") && extra.contains("\n.fi\n"),
        "examples are filled"
    );
    // Rendered the way a user reads it, each example is one line, ASCII hyphens only.
    // man-db is not one of the interop tools CI installs: without it, the roff check above
    // is the test.
    if std::process::Command::new("man")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipping the rendered check: man is not installed");
        return;
    }
    let out = std::process::Command::new("man")
        .args([
            "-l",
            concat!(env!("CARGO_MANIFEST_DIR"), "/man/imgbuild-build.1"),
        ])
        .env("MANWIDTH", "160")
        .env("MAN_KEEP_FORMATTING", "")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        !text.contains('\u{2010}'),
        "a hyphen was turned into U+2010"
    );
    for want in [
        "imgbuild build ./dist -o app.tar --platform linux/arm64 -t app:1.4",
        "SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) imgbuild build ./dist -o app.tar --normalize-modes",
    ] {
        assert!(
            text.lines().any(|l| l.trim() == want),
            "{want:?} not verbatim in:\n{text}"
        );
    }
}

#[test]
fn issue_12_the_usage_after_a_typo_claims_no_flag_is_required() {
    let t = TestContext::new();
    t.cmd()
        .args(["build", "ctx", "--prefx", "/app"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("a similar argument exists: '--prefix'").and(
                predicate::str::contains("Usage: imgbuild build [OPTIONS] <CONTEXT>"),
            ),
        );
}

#[test]
fn issue_12_completion_offers_files_for_images_and_directories_for_the_context() {
    let zsh = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/completions/_imgbuild"
    ))
    .unwrap();
    let base = zsh.lines().find(|l| l.starts_with("'--base=")).unwrap();
    assert!(base.ends_with(":IMAGE:_files' \\"), "{base}");
    assert!(
        zsh.contains(":_files -/' \\"),
        "the context completes directories"
    );
    assert!(
        zsh.contains("oci-archive\\:\"A tar of an OCI image layout"),
        "--format values"
    );
    assert!(zsh.contains("zstd\\:\""), "--compression values");
}

#[test]
fn issue_12_completion_offers_the_known_platforms_and_aliases() {
    let script = |name: &str| {
        std::fs::read_to_string(format!("{}/completions/{name}", env!("CARGO_MANIFEST_DIR")))
            .unwrap()
    };
    let (bash, zsh, fish) = (
        script("imgbuild.bash"),
        script("_imgbuild"),
        script("imgbuild.fish"),
    );
    // bash: the words offered after `build --platform`.
    let after = bash.split("--platform)").nth(1).unwrap();
    let words = after.split('"').nth(1).unwrap();
    let words: Vec<&str> = words.split_whitespace().collect();
    // zsh: the platform option of build, with its (value\:"help" ...) list, one per line.
    let from = zsh.find("'*--platform=[Target platform").unwrap();
    let zsh_platform = zsh[from..from + zsh[from..].find("))'").unwrap()].replace("((", "\n");
    // fish: build's --platform line, with value<TAB>help entries, one per line.
    let from = fish.find("using_subcommand build\" -l platform").unwrap();
    let fish_platform = &fish[from..from + fish[from..].find("'\"\n").unwrap()];
    for platform in [
        "linux/amd64",
        "linux/arm64",
        "linux/arm/v7",
        "linux/arm/v6",
        "linux/386",
        "linux/ppc64le",
        "linux/s390x",
        "linux/riscv64",
        "x86_64",
        "aarch64",
        "armhf",
        "armel",
        "i386",
        "i686",
        "arm64",
    ] {
        assert!(
            words.contains(&platform),
            "bash lacks {platform}: {words:?}"
        );
        let zsh_value = format!("\n{platform}\\:\"");
        assert!(
            zsh_platform.contains(&zsh_value),
            "zsh lacks {platform}: {zsh_platform}"
        );
        assert!(
            fish_platform.contains(&format!("{platform}\\t")),
            "fish lacks {platform}: {fish_platform}"
        );
    }
    // Still any value, and comma lists; --help does not list the candidates.
    let t = TestContext::new();
    t.file("a.txt", "a\n");
    t.build("two.tar", &["--platform", "aarch64,linux/s390x", "-q"])
        .assert()
        .success();
    t.build("bad.tar", &["--platform", "linux/sparc"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("aarch64"));
    let help = t.cmd().args(["build", "--help"]).assert().success();
    let help = String::from_utf8(help.get_output().stdout.clone()).unwrap();
    assert!(
        !help.contains("armel"),
        "--help lists the platform candidates"
    );
}

/// `--progress plain` is one style everywhere: every stderr line is a status line (a verb
/// right-aligned to column 12, then text) or a warning, never `imgbuild: ...`, and the last
/// line is the result with its totals.
#[test]
fn issue_12_progress_plain_is_one_style_with_a_final_totals_line() {
    let t = TestContext::new();
    for i in 0..40 {
        t.file(format!("d/f{i}"), format!("{i}\n"));
    }
    t.build("base.tar", &["-q", "-t", "base:1"])
        .assert()
        .success();
    let plain = ["--progress", "plain"];
    let runs: Vec<Vec<&str>> = vec![
        vec![
            "build",
            "ctx",
            "-o",
            "out/app.tar",
            "--base",
            "out/base.tar",
        ],
        vec!["build", "ctx", "-o", "-"],
        vec![
            "export",
            "out/app.tar",
            "--format",
            "rootfs-dir",
            "-o",
            "out/rootfs",
        ],
        vec!["export", "out/app.tar", "--format", "rootfs-tar", "-o", "-"],
        vec![
            "export",
            "out/app.tar",
            "--format",
            "docker-archive",
            "-o",
            "out/d.tar",
        ],
        vec!["inspect", "--verify", "out/app.tar"],
    ];
    for args in runs {
        let run = t.cmd().args(&args).args(plain).assert().success();
        let err = String::from_utf8(run.get_output().stderr.clone()).unwrap();
        let verb = |line: &str| -> Option<String> {
            let (head, rest) = (line.get(..12)?, line.get(12..)?);
            let word = head.trim_start();
            let ok = !word.is_empty()
                && word.chars().all(|c| c.is_ascii_alphabetic())
                && word.starts_with(|c: char| c.is_ascii_uppercase())
                && rest.starts_with([' ', ':']);
            ok.then(|| word.to_owned())
        };
        for line in err.lines() {
            assert!(
                verb(line).is_some() || line.starts_with("warning: "),
                "{args:?}: a line not in the status style: {line:?}\n{err}"
            );
        }
        let last = err.lines().last().and_then(verb);
        assert!(
            matches!(last.as_deref(), Some("Wrote" | "Verified")),
            "{args:?}: the last line is not the result:\n{err}"
        );
        assert!(
            err.lines()
                .last()
                .unwrap()
                .chars()
                .any(|c| c.is_ascii_digit()),
            "{args:?}: the last line states no totals:\n{err}"
        );
    }
}

/// With the image on stdout, `--json` goes to stderr: then it is all of stderr (no status
/// lines, warnings or progress around it; the warnings are in the document).
#[test]
fn issue_12_json_on_stderr_has_no_status_lines_around_it() {
    let t = TestContext::new();
    t.file("a.txt", "a\n").file(".env", "TOKEN=1\n");
    t.build("img.tar", &["-q"]).assert().success();
    for args in [
        vec!["build", "ctx", "-o", "-", "--json", "--progress", "plain"],
        vec![
            "export",
            "out/img.tar",
            "--format",
            "rootfs-tar",
            "-o",
            "-",
            "--json",
        ],
    ] {
        let out = t.cmd().args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        assert!(!out.stdout.is_empty(), "{args:?}: no image on stdout");
        let err = String::from_utf8(out.stderr).unwrap();
        let doc: serde_json::Value = serde_json::from_str(&err)
            .unwrap_or_else(|e| panic!("{args:?}: stderr is not one JSON document ({e}):\n{err}"));
        assert!(doc["digest"].as_str().unwrap().starts_with("sha256:"));
        if args[0] == "build" {
            assert!(
                doc["warnings"][0].as_str().unwrap().contains(".env"),
                "{doc}"
            );
        }
    }
}
