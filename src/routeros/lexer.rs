//! Splits RouterOS script text into tokens, keeping the byte span of each.
//!
//! RouterOS separates words by white space; `\` before a line break continues the line (inside
//! quotes too); `#` at the start of a word comments out the rest of the line; quoted strings take
//! the escapes `\" \\ \$ \n \r \t \?` and `\XX` in hex. A token remembers whether white space came
//! before it, because `comment="a b"` is one argument made of two tokens.

use crate::error::SourceError;
use std::borrow::Cow;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A run of characters other than white space, quotes, brackets, braces and `;`.
    Word,
    /// A quoted string; `text` holds what stands between the quotes, escapes intact (the
    /// parser resolves them together with `$` substitutions), line continuations removed.
    Str,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    LParen,
    RParen,
    /// End of a command: a line break or `;`.
    End,
}

/// A token's text borrows the script's where it can (most tokens): reading allocates only for
/// words and strings broken over lines or holding `$[…]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Token<'a> {
    pub kind: Kind,
    pub text: Cow<'a, str>,
    pub start: usize,
    pub end: usize,
    /// No white space between this token and the previous one.
    pub glued: bool,
}

impl<'a> Token<'a> {
    /// The token from byte `from` of its text on (`comment=` split off `comment=x`).
    pub fn tail(&self, from: usize) -> Token<'a> {
        let text = match &self.text {
            Cow::Borrowed(s) => Cow::Borrowed(&s[from..]),
            Cow::Owned(s) => Cow::Owned(s[from..].to_string()),
        };
        Token {
            text,
            start: self.start + from,
            ..self.clone()
        }
    }

    /// The token, owning its text.
    pub fn into_owned(self) -> Token<'static> {
        Token {
            kind: self.kind,
            text: Cow::Owned(self.text.into_owned()),
            start: self.start,
            end: self.end,
            glued: self.glued,
        }
    }
}

pub fn tokenize<'a>(file: &'a str, src: &'a str) -> Result<Vec<Token<'a>>, SourceError> {
    match tokenize_until_error(file, src) {
        (tokens, None) => Ok(tokens),
        (_, Some(e)) => Err(e),
    }
}

/// The tokens up to the first error, and the error: RouterOS reads a script as far as it can,
/// so an error of syntax before a broken string is the one it reports.
pub fn tokenize_until_error<'a>(
    file: &'a str,
    src: &'a str,
) -> (Vec<Token<'a>>, Option<SourceError>) {
    let mut lexer = Lexer::new(file, src);
    lexer.one_command = false;
    let error = lexer.run().err();
    (lexer.tokens, error)
}

/// Reads tokens a top-level command at a time ([`Lexer::next_command`]), so a long script is
/// never held as tokens all at once.
pub struct Lexer<'a> {
    file: &'a str,
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    tokens: Vec<Token<'a>>,
    /// Stop after the end of a command outside any bracket.
    one_command: bool,
    /// How many `[`, `{` and `(` are open.
    depth: i32,
}

impl<'a> Lexer<'a> {
    pub fn new(file: &'a str, src: &'a str) -> Lexer<'a> {
        Lexer {
            file,
            src,
            bytes: src.as_bytes(),
            pos: 0,
            tokens: Vec::new(),
            one_command: true,
            depth: 0,
        }
    }

    /// The tokens of the next top-level command into `out` (emptied first), its end
    /// included; `out` stays empty at the end of the text. On an error, `out` holds the
    /// tokens before it.
    pub fn next_command(&mut self, out: &mut Vec<Token<'a>>) -> Result<(), SourceError> {
        out.clear();
        std::mem::swap(&mut self.tokens, out);
        let r = self.run();
        std::mem::swap(&mut self.tokens, out);
        r
    }

    fn run(&mut self) -> Result<(), SourceError> {
        let mut glued = false;
        while self.pos < self.bytes.len() {
            let start = self.pos;
            match self.bytes[self.pos] {
                b'\\' if self.continuation_len(self.pos) > 0 => {
                    self.pos += self.continuation_len(self.pos);
                    glued = false;
                    continue;
                }
                b' ' | b'\t' | b'\r' => {
                    self.pos += 1;
                    glued = false;
                    continue;
                }
                b'\n' | b';' => {
                    self.pos += 1;
                    self.push(Kind::End, Cow::Borrowed(""), start, false);
                    if self.one_command && self.depth <= 0 {
                        self.depth = 0;
                        return Ok(());
                    }
                    glued = false;
                    continue;
                }
                b'#' if !glued => {
                    while self.pos < self.bytes.len() && self.bytes[self.pos] != b'\n' {
                        self.pos += 1;
                    }
                    continue;
                }
                b'"' => {
                    let text = self.string()?;
                    self.push(Kind::Str, text, start, glued);
                }
                b'[' | b']' | b'{' | b'}' | b'(' | b')' => {
                    let kind = match self.bytes[self.pos] {
                        b'[' => Kind::LBracket,
                        b']' => Kind::RBracket,
                        b'{' => Kind::LBrace,
                        b'}' => Kind::RBrace,
                        b'(' => Kind::LParen,
                        _ => Kind::RParen,
                    };
                    self.depth += match kind {
                        Kind::LBracket | Kind::LBrace | Kind::LParen => 1,
                        _ => -1,
                    };
                    self.pos += 1;
                    self.push(
                        kind,
                        Cow::Borrowed(&self.src[start..self.pos]),
                        start,
                        glued,
                    );
                }
                _ => {
                    let text = self.word();
                    self.push(Kind::Word, text, start, glued);
                }
            }
            glued = true;
        }
        Ok(())
    }

    fn push(&mut self, kind: Kind, text: Cow<'a, str>, start: usize, glued: bool) {
        self.tokens.push(Token {
            kind,
            text,
            start,
            end: self.pos,
            glued,
        });
    }

    /// Length of a `\` line continuation at `at` (`\` + optional spaces + line break + the
    /// next line's indentation), or 0. The indentation goes with it because `/export` indents
    /// the lines it wraps, also in the middle of a value (`host=\` then `    10.2.2.2`), and
    /// RouterOS reads the value whole (its `:parse` of a wrapped string shows no spaces).
    fn continuation_len(&self, at: usize) -> usize {
        let blank = |i: &mut usize, also: &[u8]| {
            while *i < self.bytes.len()
                && (self.bytes[*i] == b' ' || also.contains(&self.bytes[*i]))
            {
                *i += 1;
            }
        };
        let mut i = at + 1;
        blank(&mut i, b"\t\r");
        if i >= self.bytes.len() || self.bytes[i] != b'\n' {
            return 0;
        }
        i += 1;
        blank(&mut i, b"\t");
        i - at
    }

    fn word(&mut self) -> Cow<'a, str> {
        let start = self.pos;
        let end = self.bytes[start..]
            .iter()
            .position(|&b| Self::ends_word(b) || b == b'\\')
            .map_or(self.bytes.len(), |n| start + n);
        if end == self.bytes.len() || Self::ends_word(self.bytes[end]) {
            self.pos = end;
            return Cow::Borrowed(&self.src[start..end]);
        }
        Cow::Owned(self.word_with_continuations())
    }

    fn ends_word(b: u8) -> bool {
        matches!(
            b,
            b' ' | b'\t' | b'\r' | b'\n' | b';' | b'"' | b'[' | b']' | b'{' | b'}' | b'(' | b')'
        )
    }

    /// A word with a `\` in it, which may continue it on the next line.
    fn word_with_continuations(&mut self) -> String {
        let mut text = String::new();
        while self.pos < self.bytes.len() {
            let b = self.bytes[self.pos];
            if b == b'\\' && self.continuation_len(self.pos) > 0 {
                self.pos += self.continuation_len(self.pos);
                continue;
            }
            if Self::ends_word(b) {
                break;
            }
            let ch = self.src[self.pos..].chars().next().unwrap_or('\u{fffd}');
            text.push(ch);
            self.pos += ch.len_utf8();
        }
        text
    }

    /// A quoted string's inside, borrowed unless a line continuation or a `$[…]`, `$(…)` or
    /// `$"…"` in it must be rewritten.
    fn string(&mut self) -> Result<Cow<'a, str>, SourceError> {
        let open = self.pos;
        let mut i = open + 1;
        while i < self.bytes.len() {
            match self.bytes[i] {
                b'"' => {
                    self.pos = i + 1;
                    return Ok(Cow::Borrowed(&self.src[open + 1..i]));
                }
                b'$' | b'\\' => break,
                _ => i += 1,
            }
        }
        Ok(Cow::Owned(self.string_rewritten()?))
    }

    fn string_rewritten(&mut self) -> Result<String, SourceError> {
        let open = self.pos;
        self.pos += 1;
        let mut text = String::new();
        loop {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(
                    self.never_closed(open, "string is never closed (expected a closing `\"`)")
                );
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    return Ok(text);
                }
                // `$[…]` and `$(…)` hold script, whose strings may use quotes of their own;
                // `$"name"` is a variable with a quoted name.
                b'$' if matches!(self.bytes.get(self.pos + 1), Some(b'[' | b'(')) => {
                    text.push('$');
                    self.pos += 1;
                    self.substitution(&mut text)?;
                }
                b'$' if self.bytes.get(self.pos + 1) == Some(&b'"') => {
                    text.push('$');
                    self.pos += 1;
                    let name = self.string_rewritten()?;
                    text.push('"');
                    text.push_str(&name);
                    text.push('"');
                }
                b'\\' => {
                    let cont = self.continuation_len(self.pos);
                    if cont > 0 {
                        self.pos += cont;
                        continue;
                    }
                    let at = self.pos;
                    self.escape()?;
                    text.push_str(&self.src[at..self.pos]);
                }
                _ => {
                    let ch = self.src[self.pos..].chars().next().unwrap_or('\u{fffd}');
                    text.push(ch);
                    self.pos += ch.len_utf8();
                }
            }
        }
    }

    /// The text ran out before what opened at `open` was closed.
    fn never_closed(&self, open: usize, what: &str) -> SourceError {
        SourceError::new(self.file, self.src, open, open + 1, format!("this {what}"))
    }

    /// The raw text of a `$[…]` or `$(…)` inside a string, from its opening bracket to the
    /// matching close, with the strings inside it read whole.
    fn substitution(&mut self, text: &mut String) -> Result<(), SourceError> {
        let open = self.pos;
        let mut depth = 0usize;
        loop {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(self.never_closed(open, "substitution is never closed"));
            };
            match b {
                b'[' | b'(' => depth += 1,
                b']' | b')' => depth = depth.saturating_sub(1),
                b'"' => {
                    let inner = self.string()?;
                    text.push('"');
                    text.push_str(&inner);
                    text.push('"');
                    continue;
                }
                b'\\' if self.pos + 1 < self.bytes.len() => {
                    let ch = self.src[self.pos + 1..]
                        .chars()
                        .next()
                        .unwrap_or('\u{fffd}');
                    text.push('\\');
                    text.push(ch);
                    self.pos += 1 + ch.len_utf8();
                    continue;
                }
                _ => {}
            }
            let ch = self.src[self.pos..].chars().next().unwrap_or('\u{fffd}');
            text.push(ch);
            self.pos += ch.len_utf8();
            if depth == 0 {
                return Ok(());
            }
        }
    }

    fn escape(&mut self) -> Result<char, SourceError> {
        let at = self.pos;
        let (ch, len) = unescape_at(&self.bytes[at..]).ok_or_else(|| self.bad_escape(at))?;
        self.pos += len;
        Ok(ch)
    }

    fn bad_escape(&self, at: usize) -> SourceError {
        let end = (at + 2).min(self.src.len());
        let end = (end..=self.src.len())
            .find(|&e| self.src.is_char_boundary(e))
            .unwrap_or(self.src.len());
        SourceError::new(
            self.file,
            self.src,
            at,
            end,
            "unknown escape in string (expected \\\" \\\\ \\$ \\n \\r \\t \\? or two hex digits)",
        )
    }
}

/// The character an escape at the start of `bytes` (a `\\` and what follows) stands for, and
/// how many bytes it takes; `None` if RouterOS has no such escape. Hex escapes use digits and
/// capital letters (`\\4A`), which keeps them apart from `\\a`, `\\b` and `\\f`.
pub fn unescape_at(bytes: &[u8]) -> Option<(char, usize)> {
    let hex = |b: u8| b.is_ascii_digit() || (b'A'..=b'F').contains(&b);
    match (bytes.get(1).copied(), bytes.get(2).copied()) {
        (Some(h), Some(l)) if hex(h) && hex(l) => {
            let text = std::str::from_utf8(&bytes[1..3]).ok()?;
            Some((u8::from_str_radix(text, 16).ok()? as char, 3))
        }
        (Some(c), _) => {
            let ch = match c {
                b'"' => '"',
                b'\\' => '\\',
                b'$' => '$',
                b'?' => '?',
                b'_' => ' ',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'a' => '\u{7}',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'v' => '\u{b}',
                _ => return None,
            };
            Some((ch, 2))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(Kind, String, bool)> {
        tokenize("t", src)
            .unwrap()
            .into_iter()
            .map(|t| (t.kind, t.text.into_owned(), t.glued))
            .collect()
    }

    #[test]
    fn continuation_comments_and_glued_strings() {
        let toks = kinds("/ip route add \\\n   comment=\"a \\\"b\\\"\" # note\n");
        assert_eq!(
            toks,
            vec![
                (Kind::Word, "/ip".into(), false),
                (Kind::Word, "route".into(), false),
                (Kind::Word, "add".into(), false),
                (Kind::Word, "comment=".into(), false),
                (Kind::Str, "a \\\"b\\\"".into(), true),
                (Kind::End, "".into(), false),
            ]
        );
    }

    #[test]
    fn export_wraps_join_values_without_the_indentation() {
        // `/export` breaks after `=` and inside quoted strings, and indents what follows.
        let toks = kinds("/tool netwatch\nadd host=\\\n    10.2.2.2 interval=3s\n");
        assert_eq!(toks[4], (Kind::Word, "host=10.2.2.2".into(), false));
        assert_eq!(toks[5], (Kind::Word, "interval=3s".into(), false));
        let toks = kinds("add comment=\"first half, \\\n    second half\"\n");
        assert_eq!(toks[2], (Kind::Str, "first half, second half".into(), true));
        // A space before the `\\` still separates two arguments.
        let toks = kinds("add a=b \\\n    c=d\n");
        assert_eq!(toks[1].1, "a=b");
        assert_eq!(toks[2].1, "c=d");
    }

    #[test]
    fn escapes_and_unterminated_strings() {
        assert_eq!(kinds("\"\\41\\t\\$x\"")[0].1, "\\41\\t\\$x");
        assert_eq!(unescape_at(b"\\41"), Some(('A', 3)));
        assert_eq!(unescape_at(b"\\ab"), Some(('\u{7}', 2)));
        let err = tokenize("f.rsc", "add comment=\"open\n").unwrap_err();
        assert_eq!((err.line, err.column), (1, 13));
        assert!(tokenize("f.rsc", "\"\\q\"").is_err());
    }
}
