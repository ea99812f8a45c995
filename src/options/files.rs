//! `--env-file` and `--label-file` (one `KEY=VALUE` per line, `#` comments, as docker reads
//! them), `--stop-signal` and `--volume`.

use std::io::Read as _;
use std::path::Path;

use anyhow::Result;

use crate::error::UsageError;

/// Such files are read up to this size.
const MAX_FILE: u64 = 1 << 20;

/// The `KEY=VALUE` lines of `path` for `flag`, in order: blank lines and lines starting with
/// `#` are skipped, leading whitespace is trimmed, a value keeps everything after the first
/// `=`. A line without `=` is refused (docker would read the variable from its own
/// environment; a build must not depend on it).
pub fn read_kv_file(flag: &str, path: &Path) -> Result<Vec<String>> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| {
        UsageError::new(format!("cannot read {flag} '{shown}': {e}"))
            .with_hint(format!("{flag} takes a file of KEY=VALUE lines"))
    })?;
    let mut bytes = Vec::new();
    file.take(MAX_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| UsageError::new(format!("cannot read {flag} '{shown}': {e}")))?;
    if bytes.len() as u64 > MAX_FILE {
        return Err(UsageError::new(format!("{flag} '{shown}' is larger than 1 MiB")).into());
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| UsageError::new(format!("{flag} '{shown}' is not UTF-8 text")))?;
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !line.contains('=') {
            return Err(UsageError::new(format!(
                "{flag} '{shown}', line {}: expected KEY=VALUE",
                n + 1
            ))
            .with_hint("write the value too: a build does not read variables from its environment")
            .into());
        }
        out.push(line.to_owned());
    }
    Ok(out)
}

/// `--stop-signal`: a signal name (`SIGTERM`, `TERM`, `SIGRTMIN+3`) or number, kept as
/// given, as docker records it.
pub fn parse_stop_signal(v: &str) -> Result<String> {
    let ok = !v.is_empty()
        && v.len() <= 32
        && (v.bytes().all(|b| b.is_ascii_digit())
            || v.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'+' || b == b'-'));
    if ok {
        Ok(v.to_owned())
    } else {
        Err(UsageError::new(format!("invalid --stop-signal '{v}'"))
            .with_hint("write a signal name such as SIGTERM or SIGQUIT, or its number")
            .into())
    }
}

/// `--volume`: absolute paths, sorted and without duplicates.
pub fn parse_volumes(values: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for v in values {
        if !v.starts_with('/') || v.chars().any(|c| c.is_control()) {
            return Err(UsageError::new(format!("invalid --volume '{v}'"))
                .with_hint("a volume is an absolute path in the container, such as /data")
                .into());
        }
        out.push(v.clone());
    }
    out.sort();
    out.dedup();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_files_skip_comments_and_refuse_bare_names() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("env");
        std::fs::write(&f, "# comment\n\nA=1\n  B=two=2\nEMPTY=\n").unwrap();
        assert_eq!(
            read_kv_file("--env-file", &f).unwrap(),
            ["A=1", "B=two=2", "EMPTY="]
        );
        std::fs::write(&f, "A=1\nHOME\n").unwrap();
        let e = read_kv_file("--env-file", &f).unwrap_err();
        assert!(format!("{e}").contains("line 2"), "{e}");
        let e = read_kv_file("--label-file", &dir.path().join("none")).unwrap_err();
        assert!(e.chain().any(|c| c.is::<UsageError>()));
    }

    #[test]
    fn stop_signals_and_volumes() {
        for ok in ["SIGTERM", "TERM", "9", "SIGRTMIN+3"] {
            assert_eq!(parse_stop_signal(ok).unwrap(), ok);
        }
        for bad in ["", "sig term", "kill"] {
            assert!(parse_stop_signal(bad).is_err(), "{bad}");
        }
        let v = parse_volumes(&["/data".into(), "/cache".into(), "/data".into()]).unwrap();
        assert_eq!(v, ["/cache", "/data"]);
        assert!(parse_volumes(&["data".into()]).is_err());
    }
}
