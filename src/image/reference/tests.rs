use super::*;

macro_rules! parses {
    ($arg:expr, $t:ident, $path:expr, $tag:expr, $pin:expr) => {
        let r = ImageRef::parse($arg).unwrap();
        assert_eq!(r.transport, Transport::$t, "{}", $arg);
        assert_eq!(
            r.path.as_deref().map(|p| p.to_str().unwrap()),
            $path,
            "{}",
            $arg
        );
        assert_eq!(r.tag.as_deref(), $tag, "{}", $arg);
        assert_eq!(r.pinned.as_deref(), $pin, "{}", $arg);
    };
}

const D: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

#[test]
fn table() {
    parses!("oci:layout", Layout, Some("layout"), None, None);
    parses!(
        "oci:layout:app:1.4",
        Layout,
        Some("layout"),
        Some("app:1.4"),
        None
    );
    parses!(
        "oci:/abs/dir:latest",
        Layout,
        Some("/abs/dir"),
        Some("latest"),
        None
    );
    parses!(
        "oci-archive:app.tar",
        OciArchive,
        Some("app.tar"),
        None,
        None
    );
    parses!(
        "oci-archive:app.tar:v1",
        OciArchive,
        Some("app.tar"),
        Some("v1"),
        None
    );
    parses!(
        "docker-archive:save.tar:busybox:1",
        DockerArchive,
        Some("save.tar"),
        Some("busybox:1"),
        None
    );
    parses!("app.tar", Sniff, Some("app.tar"), None, None);
    parses!("./dir", Sniff, Some("./dir"), None, None);
    parses!("-", Sniff, None, None, None);
    parses!("oci-archive:-", OciArchive, None, None, None);
    let pinned = format!("oci:layout:app@{D}");
    parses!(&pinned, Layout, Some("layout"), Some("app"), Some(D));
    let plain = format!("app.tar@{D}");
    parses!(&plain, Sniff, Some("app.tar"), None, Some(D));
}

#[test]
fn rejects() {
    for (arg, needle) in [
        ("", "empty"),
        ("oci:", "path is missing"),
        ("oci:dir:", "tag"),
        ("x.tar@sha256:abc", "64 lowercase hex"),
        ("x.tar@sha512:abc", "only sha256"),
        ("containers-storage:busybox", "container storage"),
        ("docker://Busybox", "not a valid registry reference"),
        ("docker://busybox@sha512:abc", "registry reference"),
    ] {
        let e = ImageRef::parse(arg).unwrap_err();
        assert!(e.contains(needle), "{arg}: {e}");
    }
}

#[test]
fn tag_references() {
    for ok in [
        "app",
        "app:1",
        "app:1.4-rc_2",
        "org/app:latest",
        "org/a.b__c-d---e/f_g:_x",
        "localhost/app:1",
        "localhost:5000/app:1",
        "registry.example.com:8443/team/app:v1",
        "Gitea.Local/app:1",
        "[::1]:5000/app:1",
        "latest",
    ] {
        assert_eq!(check_tag_reference(ok), Ok(()), "{ok}");
    }
    for (bad, needle) in [
        ("", "empty"),
        ("App:1", "uppercase"),
        ("app:1:2", "tag '1:2'"),
        ("a/b:", "tag after ':' is empty"),
        ("app:.x", "must not start"),
        ("app:-x", "must not start"),
        ("-app", "start and end"),
        ("app-", "start and end"),
        ("a..b", "'.' where"),
        ("a___b", "'__' where"),
        ("a//b", "empty"),
        ("app/", "empty"),
        ("/app", "empty"),
        ("app@sha256:00", "digest"),
        ("host:port/app", "port"),
        ("ho_st.com/app", "host name"),
        ("localhost:5000/", "missing"),
        ("app:1 2", "tag '1 2'"),
        ("app:é", "tag"),
    ] {
        let e = check_tag_reference(bad).expect_err(bad);
        assert!(e.contains(needle), "{bad}: {e}");
    }
    let long_tag = format!("app:{}", "t".repeat(129));
    assert!(check_tag_reference(&long_tag).unwrap_err().contains("128"));
    assert!(
        check_tag_reference(&"a".repeat(256))
            .unwrap_err()
            .contains("255")
    );
}

#[test]
fn registry_references_are_normalized_as_docker_does() {
    let digest = format!("sha256:{}", "a".repeat(64));
    for (arg, whole, tag, pinned) in [
        (
            "docker://busybox",
            "docker.io/library/busybox:latest",
            Some("latest"),
            None,
        ),
        (
            "docker://busybox:1.36",
            "docker.io/library/busybox:1.36",
            Some("1.36"),
            None,
        ),
        (
            "docker://localhost:5000/app:1",
            "localhost:5000/app:1",
            Some("1"),
            None,
        ),
        (
            "docker://ghcr.io/org/app:2",
            "ghcr.io/org/app:2",
            Some("2"),
            None,
        ),
    ] {
        let r = ImageRef::parse(arg).unwrap();
        assert_eq!(r.transport, Transport::Registry, "{arg}");
        assert_eq!(r.registry.as_ref().unwrap().whole(), whole);
        assert_eq!(r.tag.as_deref(), tag);
        assert_eq!(r.pinned.as_deref(), pinned);
        assert_eq!(r.to_string(), arg);
    }
    let r = ImageRef::parse(&format!("docker://127.0.0.1:5000/app@{digest}")).unwrap();
    assert_eq!(r.pinned.as_deref(), Some(digest.as_str()));
    assert_eq!(r.tag, None);
}

#[test]
fn a_bare_reference_is_a_registry_only_when_nothing_is_at_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("busybox:1.36");
    let bare = ImageRef::parse("surely-not-here-busybox:1.36").unwrap();
    let r = bare.as_bare_registry().unwrap();
    assert_eq!(
        r.registry.unwrap().whole(),
        "docker.io/library/surely-not-here-busybox:1.36"
    );
    std::fs::write(&file, "x").unwrap();
    let there = ImageRef::parse(file.to_str().unwrap()).unwrap();
    assert!(there.as_bare_registry().is_none());
    // Explicit paths and transports never go to a registry.
    for arg in ["./app.tar", "/x/app.tar", "oci-archive:app.tar"] {
        assert!(
            ImageRef::parse(arg).unwrap().as_bare_registry().is_none(),
            "{arg}"
        );
    }
}

#[test]
fn display_is_the_original() {
    for arg in ["oci:layout:app:1", "x.tar", "-"] {
        assert_eq!(ImageRef::parse(arg).unwrap().to_string(), arg);
    }
}
