use super::*;

fn parse(text: &str) -> DockerIgnore {
    match DockerIgnore::parse(text, ".dockerignore") {
        Ok(ignore) => ignore,
        Err(err) => panic!("{text:?} should parse: {err:#}"),
    }
}

fn bytes<P: AsRef<[u8]> + ?Sized>(path: &P) -> &[u8] {
    path.as_ref()
}

macro_rules! excluded {
    ($patterns:expr, $path:expr) => {
        assert!(
            parse($patterns).is_excluded(bytes($path)),
            "{:?} should exclude {:?}",
            $patterns,
            $path
        )
    };
}

macro_rules! included {
    ($patterns:expr, $path:expr) => {
        assert!(
            !parse($patterns).is_excluded(bytes($path)),
            "{:?} should include {:?}",
            $patterns,
            $path
        )
    };
}

macro_rules! reinclude_below {
    ($patterns:expr, $dir:expr, $expected:expr) => {
        assert_eq!(
            parse($patterns).may_reinclude_below(bytes($dir)),
            $expected,
            "{:?}: may_reinclude_below({:?})",
            $patterns,
            $dir
        )
    };
}

macro_rules! invalid {
    ($patterns:expr, $message:expr) => {
        match DockerIgnore::parse($patterns, ".dockerignore") {
            Ok(_) => panic!("{:?} should not parse", $patterns),
            Err(err) => assert_eq!(err.to_string(), $message),
        }
    };
}

#[test]
fn reading() {
    excluded!("foo", "foo");
    excluded!("  foo  \n", "foo");
    excluded!("\tfoo\t", "foo");
    excluded!("\n\n  \nfoo\n\n", "foo");
    excluded!("foo\r\nbar\r\n", "bar");
    excluded!("foo\r", "foo");
    included!("#foo", "#foo");
    included!("# foo\n#bar", "bar");
    excluded!(" #foo", "#foo");
    excluded!("\\#foo", "#foo");
    excluded!("\u{feff}foo", "foo");
    included!("\u{feff}#foo", "#foo");
    excluded!("bar\n\u{feff}foo", "\u{feff}foo");
    excluded!("/foo", "foo");
    excluded!("/foo/bar/", "foo/bar");
    excluded!("./foo", "foo");
    excluded!("foo/", "foo");
    excluded!("foo//bar", "foo/bar");
    excluded!("foo/./bar", "foo/bar");
    excluded!("foo/../bar", "bar");
    excluded!("/../bar", "bar");
    included!("foo/../bar", "foo");
    included!("../foo", "foo");
    included!(".", "foo");
    included!("./", "foo");
    included!("/", "foo");
    included!("foo/..", "foo");
    excluded!("*\n! foo", "bar");
    included!("*\n! foo", "foo");
    included!("*\n!/foo/", "foo/x");
    included!("*\n!  ./foo", "foo");
    included!("*\n/!foo", "foo");
    excluded!("/ foo", "foo");
}

#[test]
fn rules_keep_their_origin() {
    let ignore = parse("# comment\n\n  /docs/  \n! docs/keep.md");
    let docs = ignore.decide(b"docs/x").expect("docs/x is decided");
    assert_eq!(
        (docs.line, docs.pattern.as_str(), docs.exception),
        (3, "/docs/", false)
    );
    assert_eq!(docs.source, ".dockerignore");
    let keep = ignore
        .decide(b"docs/keep.md")
        .expect("docs/keep.md is decided");
    assert_eq!(
        (keep.line, keep.pattern.as_str(), keep.exception),
        (4, "docs/keep.md", true)
    );
    assert!(ignore.decide(b"src").is_none());
    assert!(!ignore.is_empty());
    assert!(parse("# only a comment\n\n").is_empty());
    assert!(DockerIgnore::default().decide(b"x").is_none());
}

#[test]
fn extend_appends_later_rules() {
    let mut ignore = parse("docs\n!docs/keep.md");
    let extra = DockerIgnore::parse("docs/keep.md", "extra.ignore").expect("parses");
    ignore.extend(extra);
    let rule = ignore.decide(b"docs/keep.md").expect("decided");
    assert_eq!(
        (rule.source.as_str(), rule.line, rule.exception),
        ("extra.ignore", 1, false)
    );
    assert!(ignore.is_excluded(b"docs/other"));
}

#[test]
fn invalid_patterns() {
    invalid!(
        "ok\n\na[",
        "invalid pattern 'a[' at .dockerignore:3: unterminated character class"
    );
    invalid!(
        "[",
        "invalid pattern '[' at .dockerignore:1: unterminated character class"
    );
    invalid!(
        "[^",
        "invalid pattern '[^' at .dockerignore:1: unterminated character class"
    );
    invalid!(
        "[^bc",
        "invalid pattern '[^bc' at .dockerignore:1: unterminated character class"
    );
    invalid!(
        "[a\\",
        "invalid pattern '[a\\' at .dockerignore:1: unterminated character class"
    );
    invalid!(
        "[]a]",
        "invalid pattern '[]a]' at .dockerignore:1: empty character class"
    );
    invalid!(
        "[^]",
        "invalid pattern '[^]' at .dockerignore:1: empty character class"
    );
    invalid!(
        "[-x]",
        "invalid pattern '[-x]' at .dockerignore:1: unescaped '-' in character class"
    );
    invalid!(
        "[a-b-c]",
        "invalid pattern '[a-b-c]' at .dockerignore:1: unescaped '-' in character class"
    );
    invalid!(
        "[x-]",
        "invalid pattern '[x-]' at .dockerignore:1: incomplete range in character class"
    );
    invalid!(
        "[z-a]",
        "invalid pattern '[z-a]' at .dockerignore:1: invalid range 'z-a' in character class"
    );
    invalid!(
        "a\\",
        "invalid pattern 'a\\' at .dockerignore:1: trailing backslash"
    );
    invalid!(
        "!",
        "invalid pattern '!' at .dockerignore:1: exception pattern is empty"
    );
    invalid!(
        "  !  ",
        "invalid pattern '!' at .dockerignore:1: exception pattern is empty"
    );
    invalid!(
        "!/",
        "invalid pattern '!/' at .dockerignore:1: exception pattern is empty"
    );
    invalid!(
        "!a[",
        "invalid pattern '!a[' at .dockerignore:1: unterminated character class"
    );
}

#[test]
fn anchoring_and_directories() {
    excluded!("foo", "foo/bar");
    excluded!("foo", "foo/bar/baz");
    included!("foo", "a/foo");
    included!("foo", "foobar");
    included!("foo", "fo");
    excluded!("a/b", "a/b");
    excluded!("a/b", "a/b/c");
    included!("a/b", "a");
    included!("a/b", "x/a/b");
    excluded!("docs", "docs/a/b.md");
    excluded!(".dockerignore", ".dockerignore");
    excluded!("*", ".dockerignore");
    excluded!(".*", ".dockerignore");
    included!("*\n!.dockerignore", ".dockerignore");
    included!("*", "");
    included!("*", ".");
    assert!(parse("*").decide(b"").is_none());
}

#[test]
fn star_and_question_mark() {
    excluded!("*", "x");
    excluded!("*", "x/y");
    excluded!("*", ".hidden");
    excluded!("*.md", "README.md");
    included!("*.md", "docs/a.md");
    excluded!("*c", "abc");
    excluded!("a*", "a");
    excluded!("a*/b", "abc/b");
    included!("a*/b", "a/c/b");
    excluded!("*/temp*", "somedir/temporary.txt");
    excluded!("*/temp*", "somedir/temp");
    included!("*/temp*", "temporary.txt");
    excluded!("*/*/temp*", "a/b/temp/x");
    included!("*/*/temp*", "a/temp");
    excluded!("a*b*c*d*e*/f", "axbxcxdxexxx/f");
    included!("a*b*c*d*e*/f", "axbxcxdxe/xxx/f");
    excluded!("a*b?c*x", "abxbbxdbxebxczzx");
    included!("a*b?c*x", "abxbbxdbxebxczzy");
    excluded!("temp?", "tempa");
    included!("temp?", "temp");
    included!("temp?", "tempab");
    included!("a?b", "a/b");
    included!("a*b", "a/b");
    excluded!("a?b", "a☺b");
    included!("a???b", "a☺b");
    excluded!("abc?def", "abcZdef");
    included!("abc?def", "abcdef");
    excluded!("*x", "xxx");
}

#[test]
fn classes_and_escapes() {
    excluded!("a[b-d]e", "ace");
    included!("a[b-d]e", "aae");
    included!("a[b-d]e", "ae");
    excluded!("a[^b-d]e", "aze");
    included!("a[^b-d]e", "ace");
    excluded!("ab[c]", "abc");
    included!("ab[^c]", "abc");
    excluded!("[a-ζ]*", "α");
    included!("*[a-ζ]", "A");
    excluded!("a[^a]b", "a☺b");
    included!("a[^a][^a][^a]b", "a☺b");
    excluded!("[\\]a]", "]");
    excluded!("[\\-]", "-");
    excluded!("[x\\-]", "-");
    included!("[x\\-]", "z");
    excluded!("[\\-x]", "x");
    excluded!("[!a]", "!");
    included!("[!a]", "b");
    excluded!("[*]", "*");
    included!("[*]", "x");
    excluded!("[[]", "[");
    excluded!("a]", "a]");
    excluded!("a[^x]b", "a/b");
    excluded!("a\\*b", "a*b");
    included!("a\\*b", "axb");
    excluded!("a\\\\", "a\\");
    excluded!("\\a\\d", "ad");
    excluded!("a(b)c/def", "a(b)c/def");
    excluded!("a.|)$(}+{bc", "a.|)$(}+{bc");
    excluded!("^foo$", "^foo$");
    included!("^foo", "foo");
    excluded!(".*", ".foo");
    included!(".*", "foo");
    included!("abc.def", "abcZdef");
    excluded!(
        "dist/*.whl",
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl"
    );
}

#[test]
fn double_star() {
    excluded!("**", "file");
    excluded!("**", "dir/file");
    excluded!("**/**", "dir/file");
    excluded!("**/foo", "foo");
    excluded!("**/foo", "a/foo");
    excluded!("**/foo", "a/b/foo");
    excluded!("**/foo", "a/foo/bar");
    included!("**/foo", "afoo");
    included!("**/foo", "a/foobar");
    excluded!("**/foo/bar", "foo/bar");
    excluded!("**/foo/bar", "dir/dir2/foo/bar");
    excluded!("**/*.go", "main.go");
    excluded!("**/*.go", "a/b/c.go");
    included!("**/*.go", "a/b/c.goo");
    excluded!("**/**/*.txt", "file.txt");
    included!("**/**/*.txt2", "dir/dir/file.txt");
    excluded!("**/dir2/*", "dir/dir2/file");
    excluded!("**/dir2/**", "dir/dir2/dir3/file");
    excluded!("**/.foo", ".foo");
    included!("**/.foo", "bar.foo");
    excluded!("**file", "file");
    excluded!("**file", "dir/dir/file");
    excluded!("**file", "xfile");
    excluded!("**file", "dir/xfile");
    included!("**file*", "dir/xfile");
    excluded!("**/file*txt", "dir/dir/file.txt");
    excluded!("foo/**", "foo/x");
    excluded!("foo/**", "foo/x/y");
    included!("foo/**", "foo");
    included!("foo/**", "foobar");
    excluded!("foo**", "foobar");
    excluded!("a/**/b", "a/b");
    excluded!("a/**/b", "a/x/b");
    excluded!("a/**/b", "a/x/y/b");
    excluded!("a/**/b", "a/x/y/b/c");
    included!("a/**/b", "a/xb");
    included!("a/**/b", "a/x/yb");
    excluded!("a**/*.txt", "a/file.txt");
    excluded!("a**/*.txt", "a/dir/dir/file.txt");
    excluded!("a**/*.txt", "ab/file.txt");
    included!("a/*.txt", "a/dir/file.txt");
    excluded!("a/*.txt**", "a/file.txt");
    excluded!("***", "a/b");
}

#[test]
fn exceptions_and_order() {
    excluded!("*.md\n!README.md", "CHANGES.md");
    included!("*.md\n!README.md", "README.md");
    excluded!("*.md\n!README*.md\nREADME-secret.md", "README-secret.md");
    included!("*.md\n!README*.md\nREADME-secret.md", "README-x.md");
    included!("*.md\nREADME-secret.md\n!README*.md", "README-secret.md");
    excluded!("!fileutils.go\n*.go", "fileutils.go");
    included!("*.go\n!fileutils.go", "fileutils.go");
    included!("docs\n!docs/keep.md", "docs/keep.md");
    excluded!("docs\n!docs/keep.md", "docs/other");
    excluded!("docs\n!docs/keep.md", "docs");
    included!("docs/\n!docs/README.md", "docs/README.md");
    included!("docs/*\n!docs/README.md", "docs/README.md");
    excluded!("!docs/keep.md\ndocs", "docs/keep.md");
    included!("docs\n!docs/keep", "docs/keep/a");
    excluded!("docs\n!docs/keep\ndocs/keep/secret", "docs/keep/secret");
    excluded!("docs\n!docs/keep\ndocs/keep/secret", "docs/keep/secret/x");
    included!("docs\n!docs/keep\ndocs/keep/secret", "docs/keep/public");
    included!("*\n!src", "src/main.rs");
    excluded!("*\n!src", "target/debug");
    excluded!("**\n!util/docker/web", "util/docker/other");
    included!("**\n!util/docker/web", "util/docker/web/foo");
    excluded!(
        "**\n!util/docker/web\nutil/docker/web/foo",
        "util/docker/web/foo"
    );
    included!("**\n!dist/*.whl", "dist/a-1.0-py3-none-any.whl");
    let ignore = parse("a\n!a/b\na");
    assert_eq!(ignore.decide(b"a/b/c").map(|rule| rule.line), Some(3));
}

#[test]
fn non_utf8_paths() {
    excluded!("foo*", b"foo\xff");
    excluded!("?", b"\xff");
    included!("?", b"\xff\xfe");
    excluded!("??", b"\xff\xfe");
    included!("a?b", b"a\xff\xfeb");
    excluded!("*", b"\xff\xfe/x");
    excluded!("[^a]", b"\xff");
    excluded!("é", b"\xc3\xa9");
    included!("?", b"\xc3\xa9\xff");
    excluded!("**/x", b"\xff/\xfe/x");
    included!("dir\n!dir/\\x", b"dir/x");
    assert!(parse("*").decide(b"\xc3").is_some());
}

#[test]
fn may_reinclude_below() {
    reinclude_below!("docs\n!docs/keep.md", "docs", true);
    reinclude_below!("node_modules\ndocs\n!docs/keep.md", "node_modules", false);
    reinclude_below!("node_modules\n!**/keep", "node_modules", true);
    reinclude_below!("node_modules\n!**", "node_modules", true);
    reinclude_below!("node_modules\n!*/keep", "node_modules", true);
    reinclude_below!("node_modules\n!*", "node_modules", false);
    reinclude_below!("node_modules\n!*.md", "node_modules", false);
    reinclude_below!("node_modules\n!*/*.md", "node_modules/sub", false);
    reinclude_below!("node_modules\n!**.md", "node_modules", true);
    reinclude_below!("node_modules\n!node_modules/**", "node_modules", true);
    reinclude_below!("x\n!x*/y", "x", true);
    reinclude_below!("x\n!x[^a]y", "x", true);
    reinclude_below!("a\n!a/b/c", "a", true);
    reinclude_below!("a\n!a/b/c", "a/b", true);
    reinclude_below!("a\n!a/b/c", "a/x", false);
    reinclude_below!("a\n!a/b/c", "a/b/c", false);
    reinclude_below!("a\n!a/?/c", "a/b", true);
    reinclude_below!("docs\n!docs/keep.md\ndocs", "docs", false);
    reinclude_below!("*\n!src\nsrc/gen", "src/gen", false);
    reinclude_below!("*\n!src\nsrc/gen\n!src/gen/keep", "src/gen", true);
    reinclude_below!("docs", "docs", false);
    reinclude_below!("", "docs", false);
    reinclude_below!("*\n!x", "", true);
    reinclude_below!("*", "", false);
    reinclude_below!("d\n!d/\\ff", b"d", true);
    reinclude_below!("*\n!**/keep", b"\xff\xfe", true);
}

#[test]
fn no_blowup_on_long_paths() {
    let path = "x/".repeat(2000) + "b";
    included!("**/**/**/**/**/**/**/**/a", &path);
    excluded!("**/**/**/**/**/**/**/**/b", &path);
    excluded!("*/*/*/**/*/*/*", &path);
    reinclude_below!("x\n!**/**/**/**/a", path.as_str(), true);
}

#[test]
fn never_panics() {
    let alphabet: &[&str] = &["*", "?", "[", "]", "^", "!", "-", "\\", "/", "a", ".", "é"];
    let paths: &[&[u8]] = &[b"a", b"a/b", b"\xff", b"a/\xc3", b"/", b"a//b", b"", b"-/]"];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..3000 {
        let mut pattern = String::new();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let mut bits = seed;
        for _ in 0..(bits % 7) {
            bits /= 7;
            let index = usize::try_from(bits % 12).expect("small");
            pattern.push_str(alphabet.get(index).copied().unwrap_or("a"));
        }
        if let Ok(ignore) = DockerIgnore::parse(&pattern, "fuzz") {
            for path in paths {
                let _ = ignore.decide(path);
                let _ = ignore.may_reinclude_below(path);
            }
        }
    }
}
