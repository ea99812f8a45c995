//! Typed errors and reasons carried as values (#10): the walk decides pruning from which rule
//! excluded a directory, not from the text of its `-v` reason.

use predicates::prelude::*;

use crate::build::paths;
use crate::checker::check_image;
use crate::util::TestContext;

/// The layer's paths (directories with a trailing `/`), `.dockerignore` left out.
fn layer_paths(t: &TestContext, args: &[&str]) -> Vec<String> {
    t.build("img.tar", args).assert().success();
    let img = check_image(&t.out("img.tar")).unwrap();
    paths(&img)
        .into_iter()
        .filter(|p| p != ".dockerignore" && p != ".gitignore")
        .collect()
}

// See: issue #10
#[test]
fn issue_10_dockerignore_exception_under_a_dir_whose_pattern_mentions_gitignore() {
    let t = TestContext::new();
    t.file(".gitignore-cache/keep", "kept")
        .file(".gitignore-cache/other", "dropped")
        .file("app", "x")
        .file(
            ".dockerignore",
            ".gitignore-cache\n!.gitignore-cache/keep\n",
        );
    assert_eq!(
        layer_paths(&t, &[]),
        [".gitignore-cache/", ".gitignore-cache/keep", "app"]
    );
    t.build("img.tar", &["-v"])
        .assert()
        .success()
        .stderr(predicate::str::contains("ignored .gitignore-cache/other ("))
        .stderr(predicate::str::contains("ignored .gitignore-cache/keep").not());
}

// See: issue #10
#[test]
fn issue_10_a_gitignore_still_prunes_what_a_dockerignore_exception_names() {
    let t = TestContext::new();
    t.file("cache/keep", "x")
        .file("app", "x")
        .file(".gitignore", "cache/\n")
        .file(".dockerignore", "!cache/keep\n");
    assert_eq!(layer_paths(&t, &[]), ["app"]);
    t.build("img.tar", &["-v"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "ignored cache/ (excluded by .gitignore: cache/)",
        ));
}
