//! Ignore rules end to end: `.dockerignore` (Docker semantics), `.gitignore` inside the
//! context, `.git` never included, `--no-ignore`, `--ignore-file`, and `-v` reasons.

use predicates::prelude::*;

use crate::build::paths;
use crate::checker::check_image;
use crate::util::TestContext;

/// Build a context of `files` (a trailing `/` makes a directory) with the given ignore files
/// and return the layer's paths (directories with a trailing `/`).
fn included(files: &[&str], dockerignore: Option<&str>, args: &[&str]) -> Vec<String> {
    let t = TestContext::new();
    for f in files {
        match f.strip_suffix('/') {
            Some(d) => t.dir(d),
            None => t.file(f, "x"),
        };
    }
    if let Some(text) = dockerignore {
        t.file(".dockerignore", text);
    }
    t.build("img.tar", args).assert().success();
    let img = check_image(&t.out("img.tar")).unwrap();
    paths(&img)
        .into_iter()
        .filter(|p| p != ".dockerignore")
        .collect()
}

macro_rules! case {
    ($files:expr, $ignore:expr, $expected:expr) => {
        assert_eq!(
            included(&$files, Some($ignore), &[]),
            $expected,
            "rules: {:?}",
            $ignore
        );
    };
}

#[test]
fn dockerignore_table() {
    case!(["a.md", "b.txt"], "*.md", ["b.txt"]);
    // Anchored at the root: `foo` does not match `sub/foo`.
    case!(["foo", "sub/foo"], "foo", ["sub/", "sub/foo"]);
    case!(["foo", "sub/foo"], "**/foo", ["sub/"]);
    case!(["foo", "sub/foo"], "/foo", ["sub/", "sub/foo"]);
    // A directory pattern excludes everything beneath.
    case!(["docs/a", "docs/b/c", "src/x"], "docs", ["src/", "src/x"]);
    // `!` re-includes a file under an excluded directory (and its parents).
    case!(
        ["docs/a", "docs/keep.md", "docs/b/c", "src/x"],
        "docs\n!docs/keep.md",
        ["docs/", "docs/keep.md", "src/", "src/x"]
    );
    // Last match wins: re-included, then excluded again.
    case!(["a.md", "README.md"], "*.md\n!README.md", ["README.md"]);
    case!(
        ["a.md", "README.md"],
        "*.md\n!README.md\nREADME.md",
        Vec::<String>::new()
    );
    // Comments, blank lines and spaces.
    case!(["a", "#b", "c"], "# comment\n\n  a  \n", ["#b", "c"]);
    case!(
        ["x/y/z.log", "x/y/z.txt", "q.log"],
        "**/*.log",
        ["x/", "x/y/", "x/y/z.txt"]
    );
    case!(
        ["node_modules/m/i.js", "app.js"],
        "node_modules/",
        ["app.js"]
    );
    // .dockerignore can exclude itself.
    assert_eq!(
        included(&["a"], Some(".dockerignore\n"), &[]),
        ["a"],
        "and is then absent"
    );
}

#[test]
fn dockerignore_that_excludes_itself_is_not_in_the_layer() {
    let t = TestContext::new();
    t.file("a", "x").file(".dockerignore", ".dockerignore\n");
    t.build("img.tar", &[]).assert().success();
    assert_eq!(paths(&check_image(&t.out("img.tar")).unwrap()), ["a"]);
}

#[test]
fn gitignore_files_inside_the_context_apply() {
    let t = TestContext::new();
    t.file(".gitignore", "*.log\n/build/\n")
        .file("a.log", "x")
        .file("keep.txt", "x")
        .file("build/out", "x")
        .file("sub/build/out2", "x")
        .file("sub/.gitignore", "!important.log\nsecret\n")
        .file("sub/important.log", "x")
        .file("sub/secret", "x");
    t.build("img.tar", &[]).assert().success();
    assert_eq!(
        paths(&check_image(&t.out("img.tar")).unwrap()),
        [
            ".gitignore",
            "keep.txt",
            "sub/",
            "sub/.gitignore",
            "sub/build/",
            "sub/build/out2",
            "sub/important.log"
        ]
    );
}

#[test]
fn dockerignore_decides_over_gitignore() {
    let t = TestContext::new();
    t.file(".gitignore", "*.log\n")
        .file("a.log", "x")
        .file(".dockerignore", "!a.log\n");
    t.build("img.tar", &[]).assert().success();
    let p = paths(&check_image(&t.out("img.tar")).unwrap());
    assert!(p.contains(&"a.log".to_owned()), "{p:?}");
}

#[test]
fn git_dir_is_never_included_even_with_no_ignore() {
    let t = TestContext::new();
    t.file(".git/HEAD", "ref")
        .file("sub/.git", "gitdir: ../.git/modules/sub")
        .file("a", "x");
    t.file(".dockerignore", "a\n");
    for args in [&[][..], &["--no-ignore"][..]] {
        t.build("img.tar", args).assert().success();
        let p = paths(&check_image(&t.out("img.tar")).unwrap());
        assert!(!p.iter().any(|p| p.contains(".git")), "{p:?}");
        assert_eq!(p.contains(&"a".to_owned()), !args.is_empty(), "{p:?}");
    }
}

#[test]
fn nothing_outside_the_context_changes_the_build() {
    let t = TestContext::new();
    // A .gitignore above the context and a global git excludes file must not apply.
    t.file("a.log", "x").file("hidden/.x", "x");
    std::fs::write(t.root().join(".gitignore"), "*.log\nctx/\n").unwrap();
    let home = t.root().join("home");
    std::fs::create_dir_all(home.join(".config/git")).unwrap();
    std::fs::write(home.join(".config/git/ignore"), "*\n").unwrap();
    std::fs::write(
        home.join(".gitconfig"),
        "[core]\n\texcludesFile = ~/.config/git/ignore\n",
    )
    .unwrap();
    t.build("img.tar", &[])
        .env("HOME", &home)
        .assert()
        .success();
    assert_eq!(
        paths(&check_image(&t.out("img.tar")).unwrap()),
        ["a.log", "hidden/", "hidden/.x"]
    );
}

#[test]
fn ignore_file_adds_patterns_after_dockerignore() {
    let t = TestContext::new();
    t.file("a", "x")
        .file("b", "x")
        .file("c", "x")
        .file(".dockerignore", "a\n");
    std::fs::write(t.root().join("extra.ignore"), "b\n!a\n").unwrap();
    t.build("img.tar", &["--ignore-file", "extra.ignore"])
        .assert()
        .success();
    assert_eq!(
        paths(&check_image(&t.out("img.tar")).unwrap()),
        [".dockerignore", "a", "c"]
    );
    t.build("img.tar", &["--ignore-file", "missing.ignore"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "reading --ignore-file 'missing.ignore'",
        ));
}

#[test]
fn invalid_dockerignore_pattern_is_reported_with_its_line() {
    let t = TestContext::new();
    t.file("a", "x").file(".dockerignore", "ok\n[unclosed\n");
    t.build("img.tar", &[])
        .assert()
        .failure()
        .stderr(predicate::str::contains(".dockerignore:2"));
}

#[test]
fn verbose_lists_ignored_paths_and_the_rule() {
    let t = TestContext::new();
    t.file("a.md", "x")
        .file("keep", "x")
        .file(".dockerignore", "*.md\n")
        .file(".git/HEAD", "x");
    t.build("img.tar", &["-v"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "ignored a.md (excluded by .dockerignore:1: *.md)",
        ))
        .stderr(predicate::str::contains(
            "ignored .git/ (.git is never included)",
        ));
}
