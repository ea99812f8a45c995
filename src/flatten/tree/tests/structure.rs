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
