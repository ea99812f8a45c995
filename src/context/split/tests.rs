use super::*;

fn entry(path: &str, kind: EntryKind) -> ContextEntry {
    ContextEntry {
        rel_path: path.as_bytes().to_vec(),
        kind,
        mode: 0o644,
        size: 0,
        mtime: 0,
        mtime_nsec: 0,
        ctime: 0,
        ctime_nsec: 0,
        dev: 0,
        ino: 0,
        nlink: 1,
    }
}

fn tree(spec: &[&str]) -> Vec<ContextEntry> {
    spec.iter()
        .map(|s| match s.strip_suffix('/') {
            Some(d) => entry(d, EntryKind::Dir),
            None => match s.split_once(" => ") {
                Some((p, t)) => entry(p, EntryKind::HardLink(t.as_bytes().to_vec())),
                None => entry(s, EntryKind::File),
            },
        })
        .collect()
}

fn paths(entries: &[ContextEntry], g: &LayerGroup) -> Vec<String> {
    g.entries
        .iter()
        .map(|&i| String::from_utf8_lossy(&entries[i].rel_path).into_owned())
        .collect()
}

fn pats(p: &[&str]) -> Vec<LayerPattern> {
    p.iter().map(|p| LayerPattern::parse(p).unwrap()).collect()
}

const APP: &[&str] = &[
    "a/",
    "a/node_modules/",
    "a/node_modules/x.js",
    "a/src/",
    "a/src/main.js",
    "index.html",
    "node_modules/",
    "node_modules/left-pad/",
    "node_modules/left-pad/index.js",
    "vendor/",
    "vendor/lib.so",
];

#[test]
fn no_patterns_is_one_layer_of_everything() {
    let e = tree(APP);
    let s = split(&e, &[]);
    assert_eq!(s.groups.len(), 1);
    assert_eq!(s.groups[0].entries, (0..e.len()).collect::<Vec<_>>());
    assert_eq!(s.groups[0].own, e.len());
    assert!(s.groups[0].pattern.is_none());
}

#[test]
fn patterns_take_their_entries_in_order_with_parents() {
    let e = tree(APP);
    let s = split(&e, &pats(&["**/node_modules", "vendor/**"]));
    assert_eq!(s.groups.len(), 3);
    assert_eq!(s.groups[0].pattern.as_deref(), Some("**/node_modules"));
    assert_eq!(
        paths(&e, &s.groups[0]),
        [
            "a",
            "a/node_modules",
            "a/node_modules/x.js",
            "node_modules",
            "node_modules/left-pad",
            "node_modules/left-pad/index.js"
        ]
    );
    assert_eq!(s.groups[0].own, 5, "a is a parent only");
    // vendor/** names what is beneath vendor, not vendor itself: it stays in the rest and
    // is repeated as a parent.
    assert_eq!(paths(&e, &s.groups[1]), ["vendor", "vendor/lib.so"]);
    assert_eq!(s.groups[1].own, 1);
    assert_eq!(
        paths(&e, &s.groups[2]),
        ["a", "a/src", "a/src/main.js", "index.html", "vendor"]
    );
    assert!(s.empty.is_empty());
}

#[test]
fn every_entry_is_owned_by_exactly_one_layer() {
    let e = tree(APP);
    for p in [
        &["vendor"][..],
        &["**/*.js", "a"],
        &["a/**", "**"],
        &["index.html"],
    ] {
        let s = split(&e, &pats(p));
        let total: usize = s.groups.iter().map(|g| g.own).sum();
        assert_eq!(total, e.len(), "{p:?}");
        let mut all: Vec<usize> = s.groups.iter().flat_map(|g| g.entries.clone()).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), e.len(), "{p:?}: every entry is in some layer");
        for g in &s.groups {
            let mut sorted = g.entries.clone();
            sorted.sort();
            assert_eq!(sorted, g.entries, "{p:?}: walk order kept inside a layer");
        }
    }
}

#[test]
fn the_first_matching_pattern_wins() {
    let e = tree(APP);
    let s = split(&e, &pats(&["**/*.js", "node_modules"]));
    assert_eq!(s.groups.len(), 3);
    assert!(paths(&e, &s.groups[0]).contains(&"node_modules/left-pad/index.js".to_owned()));
    assert_eq!(
        paths(&e, &s.groups[1]),
        ["node_modules", "node_modules/left-pad"]
    );
}

#[test]
fn empty_pattern_layers_are_left_out_and_named() {
    let e = tree(APP);
    let s = split(&e, &pats(&["nothing/**", "vendor"]));
    assert_eq!(s.groups.len(), 2);
    assert_eq!(s.empty, ["nothing/**"]);
    assert_eq!(s.groups[0].pattern.as_deref(), Some("vendor"));
}

#[test]
fn a_hard_link_group_stays_with_its_first_path() {
    let e = tree(&[
        "bin/",
        "bin/tool",
        "node_modules/",
        "node_modules/tool => bin/tool",
        "z.txt => bin/tool",
    ]);
    let s = split(&e, &pats(&["node_modules"]));
    // node_modules/tool links to bin/tool, which is in the last layer: it goes there too,
    // and its parent directory with it.
    assert_eq!(paths(&e, &s.groups[0]), ["node_modules"]);
    assert_eq!(
        paths(&e, &s.groups[1]),
        [
            "bin",
            "bin/tool",
            "node_modules",
            "node_modules/tool",
            "z.txt"
        ]
    );
    assert_eq!(s.kept_links.len(), 1);
    assert_eq!(s.kept_links[0].0, "node_modules/tool");

    let s = split(&e, &pats(&["bin"]));
    assert_eq!(
        paths(&e, &s.groups[0]),
        [
            "bin",
            "bin/tool",
            "node_modules",
            "node_modules/tool",
            "z.txt"
        ]
    );
    assert_eq!(paths(&e, &s.groups[1]), ["node_modules"]);
    assert_eq!(s.kept_links.len(), 2);
}

#[test]
fn everything_in_patterns_leaves_no_empty_last_layer() {
    let e = tree(&["a/", "a/x", "b"]);
    let s = split(&e, &pats(&["a", "b"]));
    assert_eq!(s.groups.len(), 2);
    assert!(s.groups.iter().all(|g| g.pattern.is_some()));
    let e: Vec<ContextEntry> = Vec::new();
    let s = split(&e, &pats(&["a"]));
    assert_eq!(
        s.groups.len(),
        1,
        "an empty context still gives its one layer"
    );
    assert_eq!(s.empty, ["a"]);
}

#[test]
fn bad_patterns_are_refused() {
    for p in ["", "  ", "!x", "a["] {
        assert!(LayerPattern::parse(p).is_err(), "{p:?}");
    }
}
