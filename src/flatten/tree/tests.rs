//! Table-style tests of the flattening engine: layers as lists of entries, the result as a
//! sorted `path kind` listing.

use super::*;

fn entry(path: &str, kind: Kind, link: Option<&str>, size: u64) -> TarEntry {
    TarEntry {
        path: path.as_bytes().to_vec(),
        kind,
        link: link.map(|l| l.as_bytes().to_vec()),
        size,
        mode: if kind == Kind::Dir { 0o755 } else { 0o644 },
        uid: 0,
        gid: 0,
        mtime: 7,
        dev: (0, 0),
    }
}

fn d(p: &str) -> TarEntry {
    entry(p, Kind::Dir, None, 0)
}
fn f(p: &str) -> TarEntry {
    entry(p, Kind::File, None, 3)
}
fn l(p: &str, t: &str) -> TarEntry {
    entry(p, Kind::Symlink, Some(t), 0)
}
fn h(p: &str, t: &str) -> TarEntry {
    entry(p, Kind::HardLink, Some(t), 0)
}

/// Apply `layers` in order; the tree, or the first error's text.
fn flatten(layers: &[&[TarEntry]]) -> Result<Tree, String> {
    let mut t = Tree::new();
    for (i, layer) in layers.iter().enumerate() {
        for (o, e) in layer.iter().enumerate() {
            t.apply(i as u32, o as u64, e).map_err(|e| e.to_string())?;
        }
    }
    Ok(t)
}

/// `path:kind` for every path, sorted (`d`, `f`, `l>target`).
fn listing(t: &Tree) -> Vec<String> {
    let mut v: Vec<(Vec<u8>, String)> = (1..t.nodes.len() as u32)
        .filter(|&id| t.nodes[id as usize].kind() != FREE)
        .map(|id| {
            let k = match t.kind_of(id).unwrap() {
                NodeKind::Dir => "d".to_owned(),
                NodeKind::File { .. } => "f".to_owned(),
                NodeKind::Symlink(t) => format!("l>{}", String::from_utf8_lossy(&t)),
                NodeKind::Special { .. } => "s".to_owned(),
            };
            let p = t.path_of(id);
            assert_eq!(t.lookup(&p).unwrap(), Some(id), "index of {p:?}");
            let shown = format!("{}:{k}", String::from_utf8_lossy(&p));
            (p, shown)
        })
        .collect();
    v.sort();
    assert_eq!(v.len(), t.len());
    v.into_iter().map(|(_, s)| s).collect()
}

macro_rules! flattens_to {
    ($layers:expr, [$($want:expr),* $(,)?]) => {
        let t = flatten($layers).unwrap_or_else(|e| panic!("{e}"));
        let want: Vec<&str> = vec![$($want),*];
        assert_eq!(listing(&t), want);
    };
}

macro_rules! refused {
    ($layers:expr, $needle:expr) => {
        match flatten($layers) {
            Ok(t) => panic!("accepted: {:?}", listing(&t)),
            Err(e) => assert!(e.contains($needle), "{e:?} lacks {:?}", $needle),
        }
    };
}

#[test]
fn later_entries_replace_earlier_ones() {
    flattens_to!(
        &[&[d("a/"), f("a/x"), f("./b")], &[f("b"), d("a")]],
        ["a:d", "a/x:f", "b:f"]
    );
    // A file over a directory removes the subtree; a directory over a file replaces it.
    flattens_to!(
        &[&[d("a"), f("a/x"), f("b")], &[f("a"), d("b")]],
        ["a:f", "b:d"]
    );
    // Missing parents are made.
    flattens_to!(&[&[f("x/y/z")]], ["x:d", "x/y:d", "x/y/z:f"]);
}

#[test]
fn whiteouts_delete_lower_layers_only() {
    let lower: &[TarEntry] = &[
        d("etc"),
        f("etc/passwd"),
        d("etc/d"),
        f("etc/d/x"),
        f("keep"),
    ];
    flattens_to!(
        &[lower, &[f("etc/.wh.passwd"), f("etc/.wh.d")]],
        ["etc:d", "keep:f"]
    );
    // Same-layer entries are not hidden by a whiteout of that layer.
    flattens_to!(
        &[&[f("a")], &[f("b"), f(".wh.b"), f(".wh.missing")]],
        ["a:f", "b:f"]
    );
    // A path deleted then created again in a later layer is there.
    flattens_to!(&[&[f("a")], &[f(".wh.a")], &[f("a")]], ["a:f"]);
    let t = flatten(&[lower, &[f("etc/.wh.passwd")]]).unwrap();
    assert_eq!(t.stats.whiteouts, 1);
}

#[test]
fn opaque_directories_hide_lower_contents() {
    let lower: &[TarEntry] = &[
        d("var"),
        f("var/old"),
        d("var/sub"),
        f("var/sub/x"),
        f("top"),
    ];
    flattens_to!(
        &[lower, &[d("var"), f("var/new"), f("var/.wh..wh..opq")]],
        ["top:f", "var:d", "var/new:f"]
    );
    // At the root.
    flattens_to!(&[lower, &[f("n"), f(".wh..wh..opq")]], ["n:f"]);
    // A same-layer entry under a removed lower directory keeps its parents.
    flattens_to!(
        &[lower, &[f("var/sub/y"), f("var/.wh..wh..opq")]],
        ["top:f", "var:d", "var/sub:d", "var/sub/y:f"]
    );
}

#[test]
fn bad_names_and_whiteouts_are_refused() {
    refused!(&[&[f("/etc/passwd")]], "absolute name");
    refused!(&[&[f("a/../../x")]], "'..' component");
    refused!(&[&[f("../.wh.x")]], "'..' component");
    refused!(&[&[f(".wh.")]], "whiteout of ''");
    refused!(&[&[f("a/.wh..")]], "whiteout of '.'");
    refused!(&[&[f("a/.wh...")]], "whiteout of '..'");
    refused!(&[&[f("./")]], "root directory");
    refused!(&[&[f(".wh.x/y")]], "inside a whiteout");
    // aufs metadata is skipped, never output.
    flattens_to!(
        &[&[f(".wh..wh.plnk/1.2"), d(".wh..wh.aufs"), f("a")]],
        ["a:f"]
    );
}

#[test]
fn symlinks_on_the_way_resolve_inside_the_root() {
    // The classic: a symlink to / and a write through it lands in the image's /etc.
    flattens_to!(
        &[&[l("a", "/"), f("a/etc/x")]],
        ["a:l>/", "etc:d", "etc/x:f"]
    );
    flattens_to!(
        &[&[d("usr/lib"), l("lib", "usr/lib")], &[f("lib/libc.so")]],
        ["lib:l>usr/lib", "usr:d", "usr/lib:d", "usr/lib/libc.so:f"]
    );
    // Relative targets resolve from the link's directory; `..` inside the root is fine.
    flattens_to!(
        &[&[d("x/y"), l("x/y/up", "../z")], &[f("x/y/up/f")]],
        ["x:d", "x/y:d", "x/y/up:l>../z", "x/z:d", "x/z/f:f"]
    );
    refused!(&[&[l("a", "../.."), f("a/x")]], "outside the image's root");
    refused!(
        &[&[l("a", "b"), l("b", "a"), f("a/x")]],
        "more than 40 symlinks"
    );
    refused!(&[&[f("file"), f("file/x")]], "not a directory");
    // The last component is never followed: a directory entry replaces the symlink.
    flattens_to!(&[&[l("a", "/etc"), d("a")]], ["a:d"]);
}

#[test]
fn whiteouts_resolve_their_parent_in_the_root() {
    flattens_to!(
        &[
            &[d("real"), f("real/x"), l("via", "/real")],
            &[f("via/.wh.x")]
        ],
        ["real:d", "via:l>/real"]
    );
}

#[test]
fn hard_links_always_point_at_an_output_path() {
    let plan = flatten(&[&[f("a"), h("b", "a"), h("c", "/a")]])
        .unwrap()
        .into_plan();
    let actions = plan.actions().unwrap();
    let acts: Vec<&Action> = actions.iter().map(|(_, _, a)| a).collect();
    assert_eq!(acts.len(), 3, "{acts:?}");
    assert!(matches!(acts[0], Action::Data { path, .. } if path == b"a"));
    assert!(matches!(acts[1], Action::Link { path, target, .. } if path == b"b" && target == b"a"));
    // The original is deleted by a later layer: the content moves to the first remaining
    // path, the others link to it.
    let t = flatten(&[&[f("a"), h("c", "a"), h("b", "a")], &[f(".wh.a")]]).unwrap();
    let plan = t.into_plan();
    let actions = plan.actions().unwrap();
    let acts: Vec<&Action> = actions.iter().map(|(_, _, a)| a).collect();
    assert_eq!(
        acts,
        [
            &Action::Data {
                path: b"b".to_vec(),
                meta: Meta::of(&f("a")),
                size: 3
            },
            &Action::Link {
                path: b"c".to_vec(),
                target: b"b".to_vec(),
                meta: Meta::of(&f("a")),
            }
        ]
    );
    // Replaced instead of deleted: the link keeps the old content, under its own name.
    let t = flatten(&[&[f("a"), h("b", "a")], &[f("a")]]).unwrap();
    let plan = t.into_plan();
    assert_eq!(plan.len(), 2);
    assert!(plan.uses_layer(0) && plan.uses_layer(1));
    refused!(&[&[h("b", "missing")]], "not in the image");
    refused!(&[&[h("b", "/etc/passwd")]], "not in the image");
    refused!(&[&[d("dir"), h("b", "dir")]], "hard link to directory");
    refused!(&[&[f("a"), h("b", "../a")]], "'..' component");
    flattens_to!(
        &[&[d("etc"), f("etc/passwd"), h("p", "/etc/passwd")]],
        ["etc:d", "etc/passwd:f", "p:f"]
    );
}

#[test]
fn plan_lists_directories_first_and_skips_unused_layers() {
    let t = flatten(&[&[f("a"), d("z"), d("b")], &[f("a"), f("z/x")]]).unwrap();
    let plan = t.into_plan();
    let all = plan.dirs().unwrap();
    let dirs: Vec<&[u8]> = all.iter().map(|(p, _)| p.as_slice()).collect();
    assert_eq!(dirs, [&b"b"[..], b"z"]);
    assert!(!plan.uses_layer(0));
    assert!(plan.uses_layer(1));
    let root = flatten(&[&[entry("./", Kind::Dir, None, 0)]])
        .unwrap()
        .into_plan()
        .root;
    assert_eq!(root.map(|m| m.mode), Some(0o755));
}

mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn name() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "a",
            "b",
            "c",
            "..",
            ".",
            "",
            ".wh.a",
            ".wh.b",
            ".wh..wh..opq",
            ".wh.",
            ".wh..",
        ])
    }

    fn path() -> impl Strategy<Value = String> {
        (
            prop::bool::weighted(0.1),
            prop::collection::vec(name(), 1..4),
        )
            .prop_map(|(abs, parts)| format!("{}{}", if abs { "/" } else { "" }, parts.join("/")))
    }

    fn any_entry() -> impl Strategy<Value = TarEntry> {
        (0..5u8, path(), path()).prop_map(|(k, p, t)| match k {
            0 => f(&p),
            1 => d(&p),
            2 => l(&p, &t),
            3 => h(&p, &t),
            _ => entry(&p, Kind::Fifo, None, 0),
        })
    }

    /// An output path: relative, no empty, `.`, `..` or `.wh.*` component.
    fn clean(p: &[u8]) -> bool {
        !p.is_empty()
            && p.split(|&b| b == b'/')
                .all(|c| !c.is_empty() && c != b"." && c != b".." && !c.starts_with(b".wh."))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whatever the layers, flattening fails with an error or gives a plan whose paths
        /// are clean, whose actions come in layer order, and whose hard links name a path
        /// written before them.
        #[test]
        fn any_layers_flatten_cleanly_or_fail(
            layers in prop::collection::vec(prop::collection::vec(any_entry(), 0..10), 1..4)
        ) {
            let mut tree = Tree::new();
            let mut failed = false;
            'outer: for (i, layer) in layers.iter().enumerate() {
                for (o, e) in layer.iter().enumerate() {
                    if tree.apply(i as u32, o as u64, e).is_err() {
                        failed = true;
                        break 'outer;
                    }
                }
            }
            if failed {
                // Refusing is fine; the point is that nothing panicked.
                return Ok(());
            }
            let plan = tree.into_plan();
            let mut written: HashSet<Vec<u8>> = HashSet::new();
            let dirs = plan.dirs().unwrap();
            // In the byte order of their paths, as a sorted map of paths would give them.
            prop_assert!(dirs.windows(2).all(|w| w[0].0 < w[1].0));
            for (p, _) in &dirs {
                prop_assert!(clean(p), "dir {:?}", String::from_utf8_lossy(p));
                let parent = p.iter().rposition(|&b| b == b'/').map(|i| p[..i].to_vec());
                prop_assert!(parent.is_none_or(|q| written.contains(&q)));
                written.insert(p.clone());
            }
            let mut last = (0, 0);
            for (layer, ordinal, action) in &plan.actions().unwrap() {
                prop_assert!((*layer, *ordinal) >= last);
                last = (*layer, *ordinal);
                let (path, target) = match action {
                    Action::Data { path, .. } => (path, None),
                    Action::Link { path, target, .. } => (path, Some(target)),
                    Action::Symlink { path, .. } | Action::Special { path, .. } => (path, None),
                };
                prop_assert!(clean(path), "{:?}", String::from_utf8_lossy(path));
                if let Some(t) = target {
                    prop_assert!(written.contains(t), "link to unwritten {:?}", String::from_utf8_lossy(t));
                }
                prop_assert!(written.insert(path.clone()), "written twice: {:?}", String::from_utf8_lossy(path));
            }
        }
    }
}

mod structure;
