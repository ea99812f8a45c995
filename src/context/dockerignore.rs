//! `.dockerignore` with Docker's semantics (root-anchored patterns, `**`, `!` exceptions
//! that re-include files under an excluded directory). Part of the walk stage.
//!
//! Reading mirrors buildkit's `dockerignore.ReadAll` followed by moby's
//! `patternmatcher.New`: a UTF-8 BOM is dropped, lines starting with `#` in column 1 are
//! comments, patterns are trimmed, `!` marks an exception (trimmed again after the `!`),
//! and patterns go through Go's `filepath.Clean` with one leading `/` removed.
//!
//! Matching mirrors `patternmatcher.MatchesOrParentMatches`: a rule matches a path when its
//! pattern matches the whole path or one of its parent directories, and the last matching
//! rule decides. Docker turns each pattern into a regular expression (`*` is `[^/]*`, `?` is
//! `[^/]`, `**` is `(.*/)?`, or `.*` at the end); here it becomes a short token program run
//! over the path's characters as a set of reachable positions, so matching costs
//! O(tokens × path length) with no backtracking. Like Go's regexp, `?` and character
//! classes consume one UTF-8 character, or one byte where the path is not valid UTF-8.

use anyhow::{Result, anyhow};

/// One parsed rule, kept for `-v` reporting ("excluded by .dockerignore:3: docs").
#[derive(Debug, Clone)]
pub struct Rule {
    /// File name as shown to the user.
    pub source: String,
    /// 1-based line number in `source`.
    pub line: usize,
    /// The pattern as written, after trimming, without the leading `!`.
    pub pattern: String,
    /// An `!pattern` rule: what it matches is included again.
    pub exception: bool,
    glob: Glob,
}

/// The rules of one or more ignore files, in order.
#[derive(Debug, Clone, Default)]
pub struct DockerIgnore {
    rules: Vec<Rule>,
}

impl DockerIgnore {
    /// Parse the text of one file. `source` is how the file is named in messages. Invalid
    /// patterns (e.g. an unterminated `[`) give an error naming source:line and the pattern.
    ///
    /// # Errors
    ///
    /// The first invalid pattern, e.g.
    /// `invalid pattern 'a[' at .dockerignore:3: unterminated character class`.
    pub fn parse(text: &str, source: &str) -> Result<DockerIgnore> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut rules = Vec::new();
        for (index, raw) in text.split('\n').enumerate() {
            let line = index + 1;
            let raw = raw.strip_suffix('\r').unwrap_or(raw);
            if raw.starts_with('#') {
                continue;
            }
            let trimmed = raw.trim();
            if trimmed.is_empty() {
                continue;
            }
            let invalid =
                |reason: &str| anyhow!("invalid pattern '{trimmed}' at {source}:{line}: {reason}");
            let Some((exception, cleaned)) = normalize(trimmed).map_err(invalid)? else {
                continue;
            };
            let glob = Glob::compile(&cleaned).map_err(|reason| invalid(&reason))?;
            let written = trimmed.strip_prefix('!').map_or(trimmed, str::trim);
            rules.push(Rule {
                source: source.to_owned(),
                line,
                pattern: written.to_owned(),
                exception,
                glob,
            });
        }
        Ok(DockerIgnore { rules })
    }

    /// Append the rules of another file after this one's (used for `--ignore-file`): later
    /// rules win.
    pub fn extend(&mut self, other: DockerIgnore) {
        self.rules.extend(other.rules);
    }

    /// Whether there are no rules at all.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rule deciding `rel_path` (slash-separated, relative to the context root, no leading
    /// "./" or "/", no trailing slash; raw bytes since file names need not be UTF-8), or None
    /// when no rule matches. The path is excluded when the returned rule is not an exception.
    pub fn decide(&self, rel_path: &[u8]) -> Option<&Rule> {
        self.decide_index(rel_path)
            .and_then(|index| self.rules.get(index))
    }

    /// Convenience: decide(..) is Some(rule) with !rule.exception.
    pub fn is_excluded(&self, rel_path: &[u8]) -> bool {
        self.decide(rel_path).is_some_and(|rule| !rule.exception)
    }

    /// True when some exception rule could match a path strictly beneath the directory
    /// `rel_dir`, so the walk must descend into it even though it is excluded. Conservative:
    /// may return true when unsure, must never return false when an exception could match.
    ///
    /// When `rel_dir` is excluded by rule R, only exceptions after R are considered: a rule
    /// before R that matches a path below `rel_dir` is always overridden by R, which matches
    /// that path through its parent `rel_dir`.
    pub fn may_reinclude_below(&self, rel_dir: &[u8]) -> bool {
        if is_root(rel_dir) {
            return self.rules.iter().any(|rule| rule.exception);
        }
        let first = match self.decide_index(rel_dir) {
            Some(index) if self.rules.get(index).is_some_and(|rule| !rule.exception) => index + 1,
            _ => 0,
        };
        let mut dir = decode(rel_dir);
        dir.push(Some('/'));
        let mut scratch = Scratch::default();
        self.rules
            .iter()
            .skip(first)
            .filter(|rule| rule.exception)
            .any(|rule| rule.glob.may_match_below(&dir, &mut scratch))
    }

    /// Index of the last rule matching `rel_path` or one of its parent directories.
    fn decide_index(&self, rel_path: &[u8]) -> Option<usize> {
        if is_root(rel_path) {
            // Docker: "Don't let them exclude everything, kind of silly."
            return None;
        }
        let units = decode(rel_path);
        let mut scratch = Scratch::default();
        self.rules
            .iter()
            .rposition(|rule| rule.glob.matches_self_or_parent(&units, &mut scratch))
    }
}

fn is_root(rel_path: &[u8]) -> bool {
    rel_path.is_empty() || rel_path == b"."
}

/// Turns a trimmed, non-comment line into `(exception, cleaned pattern)` exactly as buildkit's
/// reader and then `patternmatcher.New` do; `None` when nothing is left.
fn normalize(trimmed: &str) -> Result<Option<(bool, String)>, &'static str> {
    // buildkit `ReadAll`.
    let (invert, body) = match trimmed.strip_prefix('!') {
        Some(rest) => (true, rest.trim()),
        None => (false, trimmed),
    };
    let mut pattern = String::new();
    if !body.is_empty() {
        let cleaned = clean(body);
        pattern = match cleaned.strip_prefix('/') {
            Some(rest) if !rest.is_empty() => rest.to_owned(),
            _ => cleaned,
        };
    }
    if invert {
        pattern.insert(0, '!');
    }
    // patternmatcher `New` trims and cleans the whole string again, `!` included, so a
    // leading "/!" or a space left behind by the first pass still change the outcome.
    let pattern = pattern.trim();
    if pattern.is_empty() {
        return Ok(None);
    }
    let pattern = clean(pattern);
    match pattern.strip_prefix('!') {
        Some("") => Err("exception pattern is empty"),
        Some(rest) => Ok(Some((true, rest.to_owned()))),
        None => Ok(Some((false, pattern))),
    }
}

/// Go's `filepath.Clean` for '/'-separated paths: collapses separators, drops `.` elements,
/// resolves `..` lexically (never above a leading '/'), and gives "." for an empty result.
fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|last| *last != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            name => parts.push(name),
        }
    }
    let joined = parts.join("/");
    if rooted {
        format!("/{joined}")
    } else if joined.is_empty() {
        ".".to_owned()
    } else {
        joined
    }
}

/// A path as Go's regexp sees it: one entry per UTF-8 character, `None` for each byte that
/// is not part of valid UTF-8.
fn decode(path: &[u8]) -> Vec<Option<char>> {
    let mut units = Vec::with_capacity(path.len());
    for chunk in path.utf8_chunks() {
        units.extend(chunk.valid().chars().map(Some));
        units.extend(chunk.invalid().iter().map(|_| None));
    }
    units
}

#[derive(Debug, Clone)]
enum Token {
    /// One literal character.
    Lit(char),
    /// `?`: one character other than '/'.
    AnyChar,
    /// `*`: any run of characters other than '/'.
    Star,
    /// `[...]`: one character (any, '/' included) in or out of the class.
    Class(Class),
    /// `**` followed by more pattern: empty, or anything ending with '/'.
    AnyDirs,
    /// `**` at the end: anything.
    AnyTail,
}

#[derive(Debug, Clone)]
struct Class {
    negated: bool,
    ranges: Vec<(char, char)>,
}

impl Class {
    fn matches(&self, c: char) -> bool {
        self.ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != self.negated
    }
}

/// A compiled pattern, anchored at both ends.
#[derive(Debug, Clone)]
struct Glob {
    tokens: Vec<Token>,
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

impl Glob {
    /// Compiles a cleaned pattern. Syntax errors are those of Go's `filepath.Match`, which
    /// Docker uses to validate patterns, plus reversed ranges, which its regexp rejects.
    fn compile(pattern: &str) -> Result<Glob, String> {
        let mut chars = pattern.chars().peekable();
        let mut tokens = Vec::new();
        // Docker matches a pattern made of a leading `**` and plain text by string suffix,
        // so `**foo` also matches `xfoo`; `**/foo` is unaffected. Track when that applies.
        let mut leading_bare_any = false;
        let mut plain_rest = true;
        let mut first = true;
        while let Some(c) = chars.next() {
            let at_start = std::mem::replace(&mut first, false);
            let token = match c {
                '*' if chars.next_if_eq(&'*').is_some() => {
                    let slash = chars.next_if_eq(&'/').is_some();
                    if at_start {
                        leading_bare_any = !slash;
                    }
                    if chars.peek().is_none() {
                        Token::AnyTail
                    } else {
                        Token::AnyDirs
                    }
                }
                '*' => Token::Star,
                '?' => Token::AnyChar,
                '[' => Token::Class(parse_class(&mut chars)?),
                '\\' => match chars.next() {
                    Some(escaped) => Token::Lit(escaped),
                    None => return Err("trailing backslash".to_owned()),
                },
                // Harmless for matching, but in Docker it turns the pattern into a regexp.
                ']' => Token::Lit(']'),
                literal => Token::Lit(literal),
            };
            if matches!(c, '*' | '?' | '[' | '\\' | ']') && !at_start {
                plain_rest = false;
            }
            tokens.push(token);
        }
        if leading_bare_any && plain_rest {
            let head = tokens.first_mut();
            if let Some(head) = head.filter(|token| matches!(token, Token::AnyDirs)) {
                *head = Token::AnyTail;
            }
        }
        Ok(Glob { tokens })
    }

    /// Whether the pattern matches the whole path or one of its parent directories.
    fn matches_self_or_parent(&self, units: &[Option<char>], scratch: &mut Scratch) -> bool {
        self.ends(units, scratch);
        let ends = &scratch.cur;
        // ends[k] means the pattern matches units[..k]; a parent is such a prefix that is
        // followed by '/'.
        ends.last() == Some(&true)
            || ends
                .iter()
                .zip(units)
                .skip(1)
                .any(|(&end, &unit)| end && unit == Some('/'))
    }

    /// Leaves in `scratch.cur` the positions k such that the pattern matches `units[..k]`.
    fn ends(&self, units: &[Option<char>], scratch: &mut Scratch) {
        scratch.reset(units.len());
        for token in &self.tokens {
            if !scratch.cur.contains(&true) {
                return;
            }
            scratch.step(token, units);
        }
    }

    /// Whether the pattern could match some path `dir` + s with s non-empty, where `dir`
    /// ends with '/'. Exact up to which characters the remaining tokens accept.
    fn may_match_below(&self, dir: &[Option<char>], scratch: &mut Scratch) -> bool {
        scratch.reset(dir.len());
        for token in &self.tokens {
            let reached = scratch.cur.contains(&true);
            // Either the whole prefix is consumed and tokens are left to match more, or a
            // `**` has started and can stretch past the end of the prefix.
            if scratch.cur.last() == Some(&true)
                || (reached && matches!(token, Token::AnyDirs | Token::AnyTail))
            {
                return true;
            }
            if !reached {
                return false;
            }
            scratch.step(token, dir);
        }
        false
    }
}

/// Parses a character class after its `[`, with `filepath.Match` syntax: an optional `^`,
/// then one or more characters or ranges `a-z`, each possibly escaped with `\`, then `]`.
fn parse_class(chars: &mut Chars<'_>) -> Result<Class, String> {
    let negated = chars.next_if_eq(&'^').is_some();
    let mut ranges = Vec::new();
    loop {
        if !ranges.is_empty() && chars.next_if_eq(&']').is_some() {
            return Ok(Class { negated, ranges });
        }
        let lo = class_char(chars, ranges.is_empty())?;
        let hi = match chars.next_if_eq(&'-') {
            Some(_) => class_char(chars, false)?,
            None => lo,
        };
        if lo > hi {
            return Err(format!("invalid range '{lo}-{hi}' in character class"));
        }
        ranges.push((lo, hi));
    }
}

fn class_char(chars: &mut Chars<'_>, first: bool) -> Result<char, String> {
    let reason = match chars.next() {
        None => "unterminated character class",
        Some(']') if first => "empty character class",
        Some(']') => "incomplete range in character class",
        Some('-') => "unescaped '-' in character class",
        Some('\\') => match chars.next() {
            Some(escaped) => return Ok(escaped),
            None => "unterminated character class",
        },
        Some(c) => return Ok(c),
    };
    Err(reason.to_owned())
}

/// Reachable-position sets for the token program, reused across rules.
#[derive(Default)]
struct Scratch {
    cur: Vec<bool>,
    next: Vec<bool>,
}

impl Scratch {
    /// Only position 0 is reachable, in a path of `len` characters.
    fn reset(&mut self, len: usize) {
        self.cur.clear();
        self.cur.resize(len + 1, false);
        if let Some(start) = self.cur.first_mut() {
            *start = true;
        }
        self.next.clear();
        self.next.resize(len + 1, false);
    }

    /// Advances `cur` over one token.
    fn step(&mut self, token: &Token, units: &[Option<char>]) {
        let (cur, next) = (&self.cur, &mut self.next);
        next.fill(false);
        match token {
            Token::Lit(c) => one(units, cur, next, |unit| unit == Some(*c)),
            Token::AnyChar => one(units, cur, next, |unit| unit != Some('/')),
            Token::Class(class) => one(units, cur, next, |unit| {
                class.matches(unit.unwrap_or(char::REPLACEMENT_CHARACTER))
            }),
            Token::Star => {
                let mut active = false;
                for (j, slot) in next.iter_mut().enumerate() {
                    active |= cur.get(j) == Some(&true);
                    *slot = active;
                    if units.get(j) == Some(&Some('/')) {
                        active = false;
                    }
                }
            }
            Token::AnyDirs => {
                let mut started = false;
                for (j, slot) in next.iter_mut().enumerate() {
                    let here = cur.get(j) == Some(&true);
                    let after_slash = j
                        .checked_sub(1)
                        .is_some_and(|k| units.get(k) == Some(&Some('/')));
                    *slot = here || (started && after_slash);
                    started |= here;
                }
            }
            Token::AnyTail => {
                let mut started = false;
                for (slot, &here) in next.iter_mut().zip(cur) {
                    started |= here;
                    *slot = started;
                }
            }
        }
        std::mem::swap(&mut self.cur, &mut self.next);
    }
}

/// Steps over a token that consumes exactly one character accepted by `accept`.
fn one(
    units: &[Option<char>],
    cur: &[bool],
    next: &mut [bool],
    accept: impl Fn(Option<char>) -> bool,
) {
    for ((slot, &here), &unit) in next.iter_mut().skip(1).zip(cur).zip(units) {
        *slot = here && accept(unit);
    }
}

#[cfg(test)]
mod tests;
