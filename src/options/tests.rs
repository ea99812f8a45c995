use super::*;

#[test]
fn kv_lists_replace_in_place() {
    let v = parse_kv_list(
        "--env",
        &["A=1".into(), "B=2".into(), "A=3".into(), "C=".into()],
    )
    .unwrap();
    assert_eq!(
        v,
        vec![
            ("A".into(), "3".into()),
            ("B".into(), "2".into()),
            ("C".into(), "".into())
        ]
    );
    let e = parse_kv_list("--env", &["NOEQ".into()])
        .unwrap_err()
        .to_string();
    assert!(e.contains("--env") && e.contains("NOEQ"), "{e}");
    assert!(parse_kv_list("--label", &["=x".into()]).is_err());
}

#[test]
fn cmd_forms() {
    assert_eq!(
        parse_cmd("--cmd", r#"["a","b c"]"#).unwrap(),
        vec!["a", "b c"]
    );
    assert_eq!(
        parse_cmd("--cmd", r#"/bin/sh -c 'echo hi'"#).unwrap(),
        vec!["/bin/sh", "-c", "echo hi"]
    );
    assert_eq!(parse_cmd("--cmd", "").unwrap(), Vec::<String>::new());
    assert!(parse_cmd("--cmd", r#"["a", 1]"#).is_err());
    assert!(parse_cmd("--cmd", r#"echo "unterminated"#).is_err());
}

#[test]
fn chown_prefix_expose_epoch() {
    assert_eq!(parse_chown("1000:100").unwrap(), (1000, 100));
    assert_eq!(parse_chown("7").unwrap(), (7, 7));
    assert!(parse_chown("root:root").is_err());
    assert!(parse_chown("1:-1").is_err());
    assert_eq!(parse_prefix("/app//x/./").unwrap(), b"app/x");
    assert_eq!(parse_prefix("/").unwrap(), b"");
    assert!(parse_prefix("app").is_err());
    assert!(parse_prefix("/a/../b").is_err());
    assert_eq!(
        parse_expose(&["80".into(), "53/UDP".into(), "80/tcp".into()]).unwrap(),
        vec!["53/udp", "80/tcp"]
    );
    assert!(parse_expose(&["0".into()]).is_err());
    assert!(parse_expose(&["80/icmp".into()]).is_err());
    assert!(parse_expose(&["http".into()]).is_err());
    assert_eq!(parse_epoch("x", " 1700000000 ").unwrap(), 1_700_000_000);
    assert!(parse_epoch("x", "-1").is_err());
    assert!(parse_epoch("x", "soon").is_err());
}

#[test]
fn platforms_default_and_dedup() {
    assert_eq!(parse_platforms(&[]).unwrap()[0].to_string(), "linux/amd64");
    let p = parse_platforms(&["linux/arm64".into(), "linux/aarch64".into()]).unwrap();
    assert_eq!(p.len(), 1);
    let p = parse_platforms(&["linux/amd64".into(), "linux/arm64".into()]).unwrap();
    assert_eq!(p.len(), 2);
    assert!(
        parse_platforms(&["linux/mips".into()])
            .unwrap_err()
            .to_string()
            .contains("--platform")
    );
}
