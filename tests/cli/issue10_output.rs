//! #10 and #12: the Printer is the only way to the terminal and steps around the progress
//! bar; the bar's frames are styled from the first, count files as they are written, and
//! each counting stage ends with one line of its true totals. Checked on the screen a
//! terminal would show at the end (the transcript of `script` replayed by a small terminal
//! emulator), not only on the transcript.

use predicates::prelude::*;

use crate::ui::{bin, on_a_terminal};
use crate::util::{DIGEST_LINE, TestContext};

/// The screen after replaying `transcript`: enough of a VT100 for indicatif and our lines
/// (CR, LF, cursor up/down/column, erase in line and below, colors ignored), no wrapping.
fn screen(transcript: &str) -> Vec<String> {
    let mut lines: Vec<Vec<char>> = vec![Vec::new()];
    let (mut row, mut col) = (0usize, 0usize);
    let mut chars = transcript.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' => col = 0,
            '\n' => {
                row += 1;
                col = 0;
            }
            '\u{1b}' => {
                if chars.peek() != Some(&'[') {
                    chars.next();
                    continue;
                }
                chars.next();
                let mut params = String::new();
                let mut end = ' ';
                for p in chars.by_ref() {
                    if p.is_ascii_alphabetic() || p == '@' || p == '~' {
                        end = p;
                        break;
                    }
                    params.push(p);
                }
                let n = params.trim_start_matches('?').parse::<usize>().unwrap_or(0);
                while lines.len() <= row {
                    lines.push(Vec::new());
                }
                match end {
                    'A' => row = row.saturating_sub(n.max(1)),
                    'B' => row += n.max(1),
                    'G' => col = n.saturating_sub(1),
                    'K' if n == 2 => lines[row].clear(),
                    'K' => lines[row].truncate(col),
                    'J' => {
                        lines[row].truncate(col);
                        lines.truncate(row + 1);
                    }
                    _ => {}
                }
            }
            c if c.is_control() => {}
            c => {
                while lines.len() <= row {
                    lines.push(Vec::new());
                }
                let line = &mut lines[row];
                while line.len() < col {
                    line.push(' ');
                }
                if col < line.len() {
                    line[col] = c;
                } else {
                    line.push(c);
                }
                col += 1;
            }
        }
    }
    let mut out: Vec<String> = lines
        .into_iter()
        .map(|l| l.into_iter().collect::<String>().trim_end().to_owned())
        .collect();
    while out.last().is_some_and(String::is_empty) {
        out.pop();
    }
    out
}

/// A context of `n` small files and four of 4 MiB (so the bar has time to draw); returns
/// the file count and the content bytes.
fn many_files(t: &TestContext, n: u64) -> (u64, u64) {
    let mut bytes = 0;
    for i in 0..n {
        let body = format!("file {i}\n");
        bytes += body.len() as u64;
        t.file(format!("d{}/f{i}", i % 7), body);
    }
    for i in 0..4u8 {
        // Not compressible, so the layer takes a moment.
        let body: Vec<u8> = (0..4u32 << 20)
            .map(|j| (j.wrapping_mul(2_654_435_761) >> 13) as u8 ^ i)
            .collect();
        bytes += body.len() as u64;
        t.file(format!("big{i}"), body);
    }
    (n + 4, bytes)
}

fn human(n: u64) -> String {
    let mut v = n as f64;
    let mut unit = 0;
    let units = ["B", "KiB", "MiB", "GiB"];
    while v >= 1024.0 && unit < units.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", units[unit])
    }
}

/// Lines of `screen` that are a bar or spinner frame (indicatif's, in our templates).
fn frames(screen: &[String]) -> Vec<&String> {
    screen
        .iter()
        .filter(|l| l.contains("] ") || l.contains("ETA") || l.ends_with('s') && l.contains('⠁'))
        .collect()
}

// See: issue #12
#[test]
fn issue_12_build_bar_ends_with_the_true_totals_and_nothing_stale() {
    let t = TestContext::new();
    let (files, bytes) = many_files(&t, 500);
    // A warning while the Walking spinner is drawn: it must not tear it or leave it behind.
    t.file(".env.local", "SECRET=1\n");
    let (files, bytes) = (files + 1, bytes + 9);
    let cmd = format!(
        "'{}' build ctx -o out/img.tar --compression-level 9 > out/digest.txt",
        bin()
    );
    let Some(transcript) = on_a_terminal(&t, &cmd, &[]) else {
        return;
    };
    let screen = screen(&transcript);
    let text = screen.join("\n");
    let totals = format!("Layer file content: {files} files, {} in ", human(bytes));
    assert!(
        text.contains(&totals),
        "no {totals:?} on the screen:\n{text}"
    );
    assert!(
        !text.contains("Walking"),
        "a stale Walking line stays:\n{text}"
    );
    assert!(frames(&screen).is_empty(), "a bar frame stays:\n{text}");
    let warning = screen
        .iter()
        .find(|l| l.contains("looks like a secret"))
        .unwrap_or_else(|| panic!("no warning on the screen:\n{text}"));
    assert!(
        warning.starts_with("warning: '.env.local'"),
        "the warning line is torn: {warning:?}"
    );
    // The lines, in order: the status, the stage totals, the result.
    let at = |needle: &str| {
        screen
            .iter()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} on the screen:\n{text}"))
    };
    assert!(
        at("Building") < at(&totals) && at(&totals) < at("Wrote"),
        "{text}"
    );
    // Every count drawn on the way was true: never more files than there are, and the
    // transcript never shows indicatif's default style.
    assert!(!transcript.contains('░'), "{transcript:?}");
    for n in transcript
        .split(" files")
        .filter_map(|s| s.rsplit([' ', ',']).next()?.parse::<u64>().ok())
    {
        assert!(n <= files, "a frame counts {n} of {files} files");
    }
    let digest = std::fs::read_to_string(t.out("digest.txt")).unwrap();
    assert!(
        predicate::str::is_match(DIGEST_LINE).unwrap().eval(&digest),
        "{digest:?}"
    );
}

// See: issue #12
#[test]
fn issue_12_export_extracting_bar_counts_files_and_ends_with_totals() {
    let t = TestContext::new();
    let (files, _) = many_files(&t, 300);
    t.build("img.tar", &["-q"]).assert().success();
    for format in ["rootfs-dir", "rootfs-tar"] {
        let out = format!("out/{format}");
        let cmd = format!("'{}' export out/img.tar --format {format} -o {out}", bin());
        let Some(transcript) = on_a_terminal(&t, &cmd, &[]) else {
            return;
        };
        let screen = screen(&transcript);
        let text = screen.join("\n");
        let totals = format!("Extracting root filesystem: {files} files, ");
        assert!(text.contains(&totals), "{format}: no {totals:?}:\n{text}");
        assert!(text.contains("Reading layers: "), "{format}:\n{text}");
        assert!(
            frames(&screen).is_empty(),
            "{format}: a frame stays:\n{text}"
        );
        assert!(!transcript.contains('░'), "{format}: {transcript:?}");
        // Every Extracting frame counts files of the true total, never bytes of layers.
        for frame in transcript
            .split(['\r', '\n'])
            .filter(|f| f.contains("Extracting") && f.contains(']'))
        {
            assert!(
                frame.contains(&format!("/{files} files")),
                "{format}: an Extracting frame not in files: {frame:?}"
            );
        }
    }
}

// See: issue #12
#[test]
fn issue_12_the_screen_emulator_replays_indicatif_moves() {
    let s = screen("a\r\nbar 1\r\u{1b}[2Kbar 2\r\u{1b}[2K\u{1b}[1;32mdone\u{1b}[0m\r\nnext");
    assert_eq!(s, ["a", "done", "next"]);
    let s = screen("x\r\nline one\r\nline two\u{1b}[1A\r\u{1b}[2K\u{1b}[1B\r\u{1b}[2K\u{1b}[1Ay");
    assert_eq!(s, ["x", "y"]);
}

// See: issue #10
#[test]
fn issue_10_export_json_with_stdout_image_goes_whole_to_stderr() {
    let t = TestContext::new();
    t.file("a", "12345");
    t.build("img.tar", &["-q"]).assert().success();
    let out = t
        .cmd()
        .args([
            "export",
            "out/img.tar",
            "--format",
            "oci-archive",
            "-o",
            "-",
            "--json",
            "-q",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.starts_with(b"oci-layout") || out.stdout.len() > 512);
    // -q silences talk, not data: the document is all of stderr, and it parses.
    let err = String::from_utf8(out.stderr).unwrap();
    let doc: serde_json::Value =
        serde_json::from_str(&err).unwrap_or_else(|e| panic!("{e}: {err:?}"));
    assert!(
        doc["digest"].as_str().unwrap().starts_with("sha256:"),
        "{doc}"
    );
}

// See: issue #10
#[test]
fn issue_10_raw_data_keeps_its_bytes() {
    let t = TestContext::new();
    t.file("a", "12345");
    t.build("img.tar", &["-q"]).assert().success();
    let out = t
        .cmd()
        .args(["inspect", "out/img.tar", "--raw", "manifest"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    // The stored document exactly: no line end added.
    assert!(
        out.stdout.ends_with(b"}"),
        "{:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = t.cmd().args(["completions", "bash"]).output().unwrap();
    assert!(out.status.success());
    let committed = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("completions/imgbuild.bash"),
    )
    .unwrap();
    assert_eq!(
        out.stdout, committed,
        "completions bash is the committed script"
    );
}
