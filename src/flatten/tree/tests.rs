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

mod structure {
    //! The compact tree itself: index, free list, arena spill and compaction, orders.
    // See: issue #9

    use super::*;
    use crate::flatten::arena::Arena;

    fn fe(p: &str) -> TarEntry {
        entry(p, Kind::File, None, 0)
    }

    #[test]
    fn issue_9_a_node_is_48_bytes() {
        assert_eq!(std::mem::size_of::<Node>(), 48);
    }

    /// Many files in one directory, half deleted by a whiteout layer, the directory
    /// replaced by a file and made again: every path left is found through the index
    /// (`listing` checks it), the deleted ones are not, and freed nodes are reused.
    #[test]
    fn issue_9_index_and_free_list_survive_churn() {
        let mut t = Tree::new();
        let names: Vec<String> = (0..3000).map(|i| format!("d/sub{}/f{i}", i % 7)).collect();
        for (o, n) in names.iter().enumerate() {
            t.apply(0, o as u64, &fe(n)).unwrap();
        }
        let peak = t.nodes.len();
        for (o, n) in names.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
            let (dir, name) = n.rsplit_once('/').unwrap();
            t.apply(1, o as u64, &fe(&format!("{dir}/.wh.{name}")))
                .unwrap();
        }
        let left = listing(&t);
        assert_eq!(left.len(), 1 + 7 + 1500);
        for (i, n) in names.iter().enumerate() {
            assert_eq!(t.lookup(n.as_bytes()).unwrap().is_some(), i % 2 == 1, "{n}");
        }
        // A file over the directory frees the subtree; the slots come back.
        t.apply(2, 0, &fe("d")).unwrap();
        assert_eq!(listing(&t), ["d:f"]);
        for (o, n) in names.iter().enumerate() {
            t.apply(3, o as u64 + 1, &fe(&n.replacen("d/", "e/", 1)))
                .unwrap();
        }
        assert_eq!(t.len(), 1 + 1 + 7 + 3000);
        assert!(t.nodes.len() <= peak + 2, "{} > {peak}", t.nodes.len());
        assert_eq!(listing(&t).len(), t.len());
    }

    /// Names beyond the memory cap go to the temporary file and still resolve, sort and
    /// rebuild paths; symlinks through spilled targets still resolve in the root.
    #[test]
    fn issue_9_spilled_names_still_resolve() {
        let mut t = Tree::with_arena(Arena::with_mem_cap(64));
        let mut o = 0;
        let mut next = || {
            o += 1;
            o
        };
        for i in 0..500 {
            t.apply(0, next(), &d(&format!("dir-{i:03}-{}", "x".repeat(40))))
                .unwrap();
        }
        t.apply(
            0,
            next(),
            &l("link", "/dir-007-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
        )
        .unwrap();
        t.apply(0, next(), &f("link/through")).unwrap();
        assert!(t.names.spilled());
        assert!(
            t.lookup(b"dir-007-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx/through")
                .unwrap()
                .is_some()
        );
        let plan = t.into_plan();
        let dirs = plan.dirs().unwrap();
        assert_eq!(dirs.len(), 500);
        assert!(dirs.windows(2).all(|w| w[0].0 < w[1].0));
        let acts = plan.actions().unwrap();
        assert!(matches!(&acts[0].2, Action::Symlink { path, .. } if path == b"link"));
    }

    /// Paths created and removed over and over with new names: the arena is compacted,
    /// so it follows the live tree, not the number of entries read.
    #[test]
    fn issue_9_the_arena_is_compacted() {
        let mut t = Tree::new();
        t.compact_at = 4096;
        for i in 0..2000u64 {
            t.apply(0, 3 * i, &d("keep")).unwrap();
            t.apply(
                0,
                3 * i + 1,
                &fe(&format!("keep/dir/file-{i}-{}", "n".repeat(50))),
            )
            .unwrap();
            t.apply(0, 3 * i + 2, &fe("keep")).unwrap();
        }
        assert_eq!(listing(&t), ["keep:f"]);
        assert!(t.names.bytes() < 8192, "{} bytes", t.names.bytes());
        t.apply(1, 0, &l("s", "some/target")).unwrap();
        t.apply(1, 1, &h("s2", "s")).unwrap();
        for i in 0..200 {
            t.apply(1, i + 2, &fe(&format!("tmp-{i}-{}", "z".repeat(60))))
                .unwrap();
        }
        for i in 0..200 {
            t.apply(2, i, &fe(&format!(".wh.tmp-{i}-{}", "z".repeat(60))))
                .unwrap();
        }
        let before = t.names.bytes();
        t.maybe_compact().unwrap();
        assert!(t.names.bytes() < before, "{} >= {before}", t.names.bytes());
        assert_eq!(
            listing(&t),
            ["keep:f", "s:l>some/target", "s2:l>some/target"]
        );
    }

    /// Directories come in the byte order of their whole paths (`a-b` and `a.c` before
    /// `a/b`), and deepest first visits every directory after all of its subdirectories.
    #[test]
    fn issue_9_directory_orders() {
        let t = flatten(&[&[d("a/b/c"), d("a-b"), d("a.c/x"), d("a/b0"), d("z")]]).unwrap();
        let plan = t.into_plan();
        let dirs: Vec<String> = plan
            .dirs()
            .unwrap()
            .iter()
            .map(|(p, _)| String::from_utf8_lossy(p).into_owned())
            .collect();
        assert_eq!(
            dirs,
            ["a", "a-b", "a.c", "a.c/x", "a/b", "a/b/c", "a/b0", "z"]
        );
        let mut seen: Vec<String> = Vec::new();
        plan.for_each_dir_deepest_first(|p, _| {
            let p = String::from_utf8_lossy(p).into_owned();
            assert!(
                dirs.iter()
                    .filter(|q| q.starts_with(&format!("{p}/")))
                    .all(|q| seen.contains(q)),
                "{p} before its subdirectories ({seen:?})"
            );
            seen.push(p);
            Ok(())
        })
        .unwrap();
        seen.sort();
        let mut want = dirs.clone();
        want.sort();
        assert_eq!(seen, want);
    }

    /// The remembered parent of the last entry is forgotten when what it resolved through
    /// changes: a directory replaced by a symlink, a symlink retargeted, a subtree freed.
    #[test]
    fn issue_9_the_remembered_parent_follows_changes() {
        flattens_to!(
            &[&[f("p/a"), f("p/b"), l("p", "/q"), f("p/c")]],
            ["p:l>/q", "q:d", "q/c:f"]
        );
        flattens_to!(
            &[&[d("r"), d("s"), l("l", "r"), f("l/x"), l("l", "s"), f("l/y")]],
            ["l:l>s", "r:d", "r/x:f", "s:d", "s/y:f"]
        );
        flattens_to!(
            &[&[f("d/e/x"), f("d/e/y")], &[f(".wh.d"), f("d/e/z")]],
            ["d:d", "d/e:d", "d/e/z:f"]
        );
        refused!(&[&[f("k/x"), f("k"), f("k/y")]], "not a directory");
    }

    /// A hard-link group: the content under the original (else the first path in byte
    /// order), the links after it in byte order; no memory per member is needed for it.
    #[test]
    fn issue_9_hard_link_groups_in_order() {
        let group = |layers: &[&[TarEntry]]| -> Vec<(String, Option<String>)> {
            let acts = flatten(layers).unwrap().into_plan().actions().unwrap();
            acts.into_iter()
                .map(|(_, _, a)| match a {
                    Action::Data { path, .. } => (String::from_utf8(path).unwrap(), None),
                    Action::Link { path, target, .. } => (
                        String::from_utf8(path).unwrap(),
                        Some(String::from_utf8(target).unwrap()),
                    ),
                    a => panic!("{a:?}"),
                })
                .collect()
        };
        let layer: &[TarEntry] = &[f("m"), h("z", "m"), h("b", "m"), h("q", "z"), h("a", "m")];
        let link = |p: &str, t: &str| (p.to_owned(), Some(t.to_owned()));
        assert_eq!(
            group(&[layer]),
            [
                ("m".to_owned(), None),
                link("a", "m"),
                link("b", "m"),
                link("q", "m"),
                link("z", "m")
            ]
        );
        assert_eq!(
            group(&[layer, &[f(".wh.m")]]),
            [
                ("a".to_owned(), None),
                link("b", "a"),
                link("q", "a"),
                link("z", "a")
            ]
        );
    }

    /// Owner ids too large for a node are kept in a table of distinct pairs, exactly.
    #[test]
    fn issue_9_large_owner_ids_are_kept() {
        let mut e = f("big");
        e.uid = u64::from(u32::MAX) + 7;
        e.gid = 1 << 40;
        let mut t = Tree::new();
        t.apply(0, 0, &e).unwrap();
        let acts = t.into_plan().actions().unwrap();
        let Action::Data { meta, .. } = &acts[0].2 else {
            panic!("{acts:?}")
        };
        assert_eq!((meta.uid, meta.gid), (e.uid, e.gid));
        // Ids that fit stay in the node; 2^32 - 1 (the table's marker) goes to the table.
        let mut t = Tree::new();
        for (o, (uid, gid)) in [(7, 8), (u64::from(u32::MAX), 9), (1, u64::from(u32::MAX))]
            .into_iter()
            .enumerate()
        {
            let mut e = f(&format!("f{o}"));
            (e.uid, e.gid) = (uid, gid);
            t.apply(0, o as u64, &e).unwrap();
        }
        let acts = t.into_plan().actions().unwrap();
        let owners: Vec<(u64, u64)> = acts
            .iter()
            .map(|(_, _, a)| match a {
                Action::Data { meta, .. } => (meta.uid, meta.gid),
                a => panic!("{a:?}"),
            })
            .collect();
        assert_eq!(
            owners,
            [(7, 8), (u64::from(u32::MAX), 9), (1, u64::from(u32::MAX))]
        );
        // Their table is bounded: one pair per entry is refused past the cap.
        let mut t = Tree::new();
        let mut failed = None;
        for o in 0..=MAX_BIG_OWNERS as u64 {
            let mut e = f("same");
            e.uid = (1 << 33) + o;
            if let Err(err) = t.apply(0, o, &e) {
                failed = Some((o, err.to_string()));
                break;
            }
        }
        let (at, msg) = failed.expect("refused");
        assert_eq!(at, MAX_BIG_OWNERS as u64);
        assert!(msg.contains("distinct owners"), "{msg}");
    }
}
