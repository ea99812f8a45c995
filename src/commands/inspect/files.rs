//! `inspect --files`: a `tar tv`-like listing of layers, streamed entry by entry (memory does
//! not grow with the layer), each layer verified once it has been read to its end. Lines are
//! built from the raw names and written through the Printer's `TextOut`, which escapes them.

use std::io::Write;

use anyhow::{Context as _, Result};

use crate::cancel::Cancel;
use crate::error::UsageError;
use crate::image::config::rfc3339;
use crate::image::source::{Image, Selected};
use crate::layer::parse::{Kind, TarEntry};
use crate::layer::reader::{Limits, read_layer};
use crate::ui::Printer;

/// List layer `only` (or every layer, each after a `# layer N` line) of `sel` on stdout.
pub fn list(
    image: &Image,
    sel: &Selected,
    only: Option<usize>,
    limits: &Limits,
    printer: &Printer,
    cancel: &Cancel,
) -> Result<()> {
    let layers = sel.manifest.layers();
    let diff_ids = sel.config.rootfs().diff_ids();
    let range = match only {
        Some(n) if n < layers.len() => n..n + 1,
        Some(n) => {
            let have = match layers.len() {
                0 => "no layers".to_owned(),
                1 => "one layer (--layer 0)".to_owned(),
                k => format!("{k} layers (--layer 0 to {})", k - 1),
            };
            return Err(
                UsageError::new(format!("invalid --layer {n}: the image has {have}")).into(),
            );
        }
        None => 0..layers.len(),
    };
    let mut out = printer.text_out();
    let mut buf = Vec::new();
    for i in range {
        let Some(desc) = layers.get(i) else { break };
        if only.is_none() {
            out.line(&format!(
                "# layer {i} {} {} ({} bytes)",
                desc.digest(),
                desc.media_type(),
                desc.size()
            ))
            .context("writing to stdout")?;
        }
        let diff_id = diff_ids.get(i).map(String::as_str);
        let what = format!("layer {i}");
        read_layer(image, desc, diff_id, limits, &what, cancel, |tar| {
            while let Some(e) = tar.next_entry()? {
                cancel.check()?;
                buf.clear();
                line_into(&e, &mut buf);
                out.line_bytes(&buf).context("writing to stdout")?;
            }
            Ok(())
        })?;
    }
    out.finish().context("writing to stdout")?;
    Ok(())
}

/// One listing line, raw (the caller escapes it), appended to `out`: type and mode,
/// uid/gid, size (major,minor for devices), mtime (UTC), the name as stored, then
/// `-> target`, `link to target`, or what a whiteout does.
fn line_into(e: &TarEntry, out: &mut Vec<u8>) {
    let size = match e.kind {
        Kind::Char | Kind::Block => format!("{},{}", e.dev.0, e.dev.1),
        _ => e.size.to_string(),
    };
    let when = rfc3339(e.mtime.clamp(-62_135_596_800, 253_402_300_799))
        .replace('T', " ")
        .replace('Z', "");
    // Writes into a Vec cannot fail.
    let _ = write!(
        out,
        "{}{} {}/{} {size:>10} {when} ",
        e.kind.letter(),
        perms(e.mode),
        e.uid,
        e.gid,
    );
    out.extend_from_slice(&e.path);
    match (e.kind, &e.link) {
        (Kind::Symlink, Some(t)) => {
            out.extend_from_slice(b" -> ");
            out.extend_from_slice(t);
        }
        (Kind::HardLink, Some(t)) => {
            out.extend_from_slice(b" link to ");
            out.extend_from_slice(t);
        }
        _ => {}
    }
    whiteout_note(&e.path, out);
}

/// What a whiteout entry does (`  [whiteout: deletes NAME]`), appended if the entry is one.
fn whiteout_note(path: &[u8], out: &mut Vec<u8>) {
    let trimmed = path.strip_suffix(b"/").unwrap_or(path);
    let (dir, name) = match trimmed.iter().rposition(|&b| b == b'/') {
        Some(i) => trimmed.split_at(i + 1),
        None => (&b""[..], trimmed),
    };
    if name == b".wh..wh..opq" {
        let dir = if dir.is_empty() { &b"/"[..] } else { dir };
        out.extend_from_slice(b"  [opaque: hides what lower layers have in ");
        out.extend_from_slice(dir);
        out.push(b']');
    } else if let Some(target) = name.strip_prefix(b".wh.") {
        out.extend_from_slice(b"  [whiteout: deletes ");
        out.extend_from_slice(dir);
        out.extend_from_slice(target);
        out.push(b']');
    }
}

/// `rwxr-xr-x` with setuid/setgid/sticky shown as `ls` does.
pub fn perms(mode: u32) -> String {
    let mut s: Vec<u8> = b"rwxrwxrwx"
        .iter()
        .enumerate()
        .map(|(i, &c)| if mode & (0o400 >> i) != 0 { c } else { b'-' })
        .collect();
    for (flag, at, set) in [(0o4000, 2, b's'), (0o2000, 5, b's'), (0o1000, 8, b't')] {
        if mode & flag != 0 {
            s[at] = if s[at] == b'x' {
                set
            } else {
                set.to_ascii_uppercase()
            };
        }
    }
    String::from_utf8_lossy(&s).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &[u8], kind: Kind, link: Option<&[u8]>) -> TarEntry {
        TarEntry {
            path: path.to_vec(),
            kind,
            link: link.map(<[u8]>::to_vec),
            size: 0,
            mode: 0o644,
            uid: 0,
            gid: 0,
            mtime: 0,
            dev: (0, 0),
        }
    }

    /// The line as the listing shows it: escaped by the one escape function.
    fn shown(e: &TarEntry) -> String {
        let mut raw = Vec::new();
        line_into(e, &mut raw);
        crate::ui::escape_bytes(&raw).into_owned()
    }

    #[test]
    fn lines() {
        let mut f = entry(b"etc/passwd", Kind::File, None);
        f.size = 12;
        f.mode = 0o4755;
        assert_eq!(
            shown(&f),
            "-rwsr-xr-x 0/0         12 1970-01-01 00:00:00 etc/passwd"
        );
        let l = entry(b"a", Kind::Symlink, Some(b"/"));
        assert!(shown(&l).ends_with(" a -> /"), "{}", shown(&l));
        let h = entry(b"b", Kind::HardLink, Some(b"a"));
        assert!(shown(&h).ends_with(" b link to a"), "{}", shown(&h));
        let w = entry(b"etc/.wh.passwd", Kind::File, None);
        assert!(
            shown(&w).ends_with("[whiteout: deletes etc/passwd]"),
            "{}",
            shown(&w)
        );
        let o = entry(b"var/.wh..wh..opq", Kind::File, None);
        assert!(shown(&o).ends_with("in var/]"), "{}", shown(&o));
        let evil = entry(b"x\x1b[31m\n", Kind::File, None);
        assert!(
            shown(&evil).ends_with("x\\u{1b}[31m\\n"),
            "{}",
            shown(&evil)
        );
        let mut c = entry(b"dev/null", Kind::Char, None);
        c.dev = (1, 3);
        assert!(
            shown(&c).starts_with("crw-r--r-- 0/0        1,3 "),
            "{}",
            shown(&c)
        );
        assert_eq!(perms(0o1777), "rwxrwxrwt");
        assert_eq!(perms(0o2644), "rw-r-Sr--");
    }
}
