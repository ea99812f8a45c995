//! The one escaping of untrusted text for the terminal. Everything the [`Printer`] writes to
//! stderr (status, detail, warning, error, causes, hint) and the human text it writes to
//! stdout (the inspect summary and the `--files` listing) goes through [`escape`] or
//! [`escape_bytes`]; templates need not (and should not) escape on their own.
//!
//! The style is that of a Rust string literal (`char::escape_default`), chosen so that the
//! text stays on its line and no byte of it can drive a terminal:
//!
//! | input | shown as |
//! |---|---|
//! | tab, newline, carriage return | `\t`, `\n`, `\r` |
//! | any other C0 control (U+0000–U+001F), DEL (U+007F) | `\u{1b}` (ESC), `\u{7}` (BEL), `\u{7f}` … |
//! | a C1 control (U+0080–U+009F, which some terminals take as CSI and the like) | `\u{9b}` … |
//! | a byte that is not part of valid UTF-8 | `\xff` … (so a raw 0x9b byte is `\x9b`) |
//! | anything else, backslash included | unchanged |
//!
//! An embedded newline is shown as `\n`, so one message stays on one line and cannot forge
//! an `error:` line of its own; the only newlines written are those that end the Printer's
//! own lines. Backslashes are not doubled: normal text is printed unchanged and escaping is
//! idempotent (text escaped once, by a template through `error::escape_bytes`, comes out the
//! same), at the price that a literal `\u{1b}` in an image reads like an escaped ESC.
//!
//! [`Printer`]: super::Printer

use std::borrow::Cow;

/// `text` with every control character escaped (see the module doc); borrowed when there is
/// nothing to escape, which is the common case.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    push_escaped(text.as_bytes(), &mut out);
    Cow::Owned(out)
}

/// `bytes` as text: valid UTF-8 kept, control characters escaped, every invalid byte shown
/// as `\xNN`. Borrowed when the bytes are valid UTF-8 with nothing to escape.
pub fn escape_bytes(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => escape(text),
        Err(_) => {
            let mut out = String::with_capacity(bytes.len() + 8);
            push_escaped(bytes, &mut out);
            Cow::Owned(out)
        }
    }
}

/// Append the escaped form of `bytes` to `out`: the one implementation behind [`escape`],
/// [`escape_bytes`] and the Printer's stdout writer.
pub fn push_escaped(bytes: &[u8], out: &mut String) {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\x");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // See: issue #9
    macro_rules! escapes {
        ($input:expr, $shown:expr) => {
            assert_eq!(escape_bytes($input), $shown, "input {:?}", $input);
        };
    }

    // See: issue #9
    #[test]
    fn issue_9_escape_table() {
        // Normal text is unchanged (and borrowed).
        escapes!(b"", "");
        escapes!(b"linux/amd64", "linux/amd64");
        escapes!(b"caf\xc3\xa9 \xe2\x86\x92 \xf0\x9f\x90\xb3", "café → 🐳");
        escapes!(b"a\\b 'q' \"dq\"", "a\\b 'q' \"dq\"");
        assert!(matches!(escape("plain text"), Cow::Borrowed(_)));
        assert!(matches!(escape_bytes(b"plain"), Cow::Borrowed(_)));
        // C0 controls: named for tab, newline and CR, \u{..} for the rest.
        escapes!(b"a\tb", "a\\tb");
        escapes!(b"a\nerror: forged", "a\\nerror: forged");
        escapes!(b"100%\rdone", "100%\\rdone");
        escapes!(b"\x00", "\\u{0}");
        escapes!(b"\x07", "\\u{7}");
        escapes!(b"\x1b]0;title\x07", "\\u{1b}]0;title\\u{7}");
        escapes!(b"\x1b[2J", "\\u{1b}[2J");
        escapes!(b"\x1f", "\\u{1f}");
        // DEL and the C1 controls (CSI is U+009B, UTF-8 c2 9b).
        escapes!(b"\x7f", "\\u{7f}");
        escapes!(b"\xc2\x80", "\\u{80}");
        escapes!(b"\xc2\x9b2J", "\\u{9b}2J");
        escapes!(b"\xc2\x9f", "\\u{9f}");
        // Just past C1: printable (NBSP), kept.
        escapes!(b"\xc2\xa0", "\u{a0}");
        // Invalid UTF-8: each bad byte as \xNN, valid text around it kept.
        escapes!(b"\x9b", "\\x9b");
        escapes!(b"x\xff\x1b[31m", "x\\xff\\u{1b}[31m");
        escapes!(b"\xe2\x86", "\\xe2\\x86");
        escapes!(b"ok\xc2", "ok\\xc2");
        // Idempotent: escaped text is printable, so escaping it again changes nothing.
        let once = escape_bytes(b"\x1b]0;t\x07\r\n\xc2\x9b\xff").into_owned();
        assert_eq!(escape(&once), once);
        assert_eq!(once, "\\u{1b}]0;t\\u{7}\\r\\n\\u{9b}\\xff");
    }

    #[test]
    fn no_control_survives_any_byte() {
        for b in 0..=255u8 {
            let shown = escape_bytes(&[b, b'x', 0xc2, b]).into_owned();
            assert!(!shown.chars().any(char::is_control), "{b:#x}: {shown:?}");
        }
    }
}
