use super::*;

#[test]
fn error_keeps_the_chain_and_classifies_once() {
    let inner = anyhow::Error::new(SpecialFile {
        path: "dev/tty".into(),
        kind: "character device",
    })
    .context("adding 'dev/tty' to the layer");
    let err = Error::from(inner);
    assert_eq!(err.kind(), ErrorKind::Rejected);
    assert!(err.hint().unwrap().contains(".dockerignore"));
    assert_eq!(
        err.to_string(),
        "adding 'dev/tty' to the layer: 'dev/tty' is a character device, \
         which imgbuild refuses to put in an image layer"
    );
    let chain: Vec<String> = err.chain().map(ToString::to_string).collect();
    assert_eq!(chain.len(), 2);
    assert_eq!(chain[0], "adding 'dev/tty' to the layer");
    let source = std::error::Error::source(&err).expect("a cause");
    assert!(source.downcast_ref::<SpecialFile>().is_some());
    assert_eq!(
        err.find::<SpecialFile>().map(|s| s.kind),
        Some("character device")
    );
    assert!(std::error::Error::source(&Error::from(anyhow::anyhow!("alone"))).is_none());
}

#[test]
fn error_kinds() {
    let kind = |e: anyhow::Error| Error::from(e).kind();
    assert_eq!(kind(anyhow::anyhow!("plain")), ErrorKind::Failure);
    assert_eq!(Error::from(UsageError::new("bad")).kind(), ErrorKind::Usage);
    assert_eq!(
        Error::from(Interrupted(libc::SIGTERM)).kind(),
        ErrorKind::Interrupted(libc::SIGTERM)
    );
    let pipe = std::io::Error::from(std::io::ErrorKind::BrokenPipe);
    assert_eq!(
        kind(anyhow::Error::new(pipe).context("writing to stdout")),
        ErrorKind::BrokenPipe
    );
    assert_eq!(kind(invalid("bad index").context("x")), ErrorKind::Rejected);
    assert_eq!(
        kind(MissingFromImage("the archive has no 'index.json'".into()).into()),
        ErrorKind::Rejected
    );
    let full = std::io::Error::from(std::io::ErrorKind::StorageFull);
    let err = Error::from(anyhow::Error::new(full));
    assert_eq!(err.kind(), ErrorKind::Failure);
    assert!(err.hint().unwrap().contains("free some space"));
    let usage = UsageError::new("bad --platform").with_hint("try linux/arm64");
    assert_eq!(Error::from(usage).hint(), Some("try linux/arm64"));
}

#[test]
fn classify_finds_typed_error_under_context() {
    let err = anyhow::Error::new(SpecialFile {
        path: "dev/tty".into(),
        kind: "character device",
    })
    .context("adding 'dev/tty' to the layer");
    let (class, hint) = classify(&err);
    assert_eq!(class, ErrorKind::Rejected);
    assert!(hint.unwrap().contains(".dockerignore"));
    let err = anyhow::Error::new(UsageError::new("bad")).context("x");
    assert_eq!(classify(&err).0, ErrorKind::Usage);
    assert_eq!(classify(&anyhow::anyhow!("plain")).0, ErrorKind::Failure);
}

#[test]
fn escapes_control_and_invalid_bytes() {
    assert_eq!(escape_bytes(b"a\nb"), "a\\nb");
    assert_eq!(escape_bytes(b"caf\xc3\xa9"), "café");
    assert_eq!(escape_bytes(b"x\xff\x1b[31m"), "x\\xff\\u{1b}[31m");
}
