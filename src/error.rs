//! Errors a user sees. Anything wrong with an input file is a [`SourceError`]: the file, line and
//! column, the offending text and what was expected, rendered with a source snippet by miette.
//! The CLI maps every error to exit status 2.

use miette::{Diagnostic, NamedSource, SourceSpan};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{file}:{line}:{column}: {message}")]
pub struct SourceError {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
    #[source_code]
    pub source_code: NamedSource<String>,
    #[label("{label}")]
    pub span: SourceSpan,
    pub label: String,
}

impl SourceError {
    /// An error at byte range `start..end` of `text`, the contents of `file`.
    pub fn new(
        file: &str,
        text: &str,
        start: usize,
        end: usize,
        message: impl Into<String>,
    ) -> Self {
        let start = floor_boundary(text, start);
        let end = floor_boundary(text, end.clamp(start, text.len()));
        let (line, column) = line_column(text, start);
        let message = message.into();
        SourceError {
            file: file.to_string(),
            line,
            column,
            label: message.clone(),
            message,
            source_code: NamedSource::new(file, text.to_string()),
            span: (start, ceil_boundary(text, end.max(start + 1)) - start).into(),
        }
    }

    /// An error at a 1-based line and column, as parsers that count lines report them.
    pub fn at_line(
        file: &str,
        text: &str,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        let start = offset_of(text, line, column);
        let end = text[start..]
            .find(|c: char| c.is_whitespace() || c == ',' || c == ')')
            .map_or(text.len(), |n| start + n.max(1));
        SourceError::new(file, text, start, end, message)
    }
}

/// Line starts of a text, for turning many byte offsets into line numbers quickly.
#[derive(Clone, Debug)]
pub struct LineIndex(Vec<usize>);

impl LineIndex {
    pub fn new(text: &str) -> LineIndex {
        let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex(starts.collect())
    }

    /// The 1-based line holding byte `offset`.
    pub fn line(&self, offset: usize) -> u32 {
        self.0.partition_point(|&start| start <= offset) as u32
    }
}

/// The nearest char boundary at or before byte `i` (callers may point into a character).
fn floor_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(text: &str, i: usize) -> usize {
    let mut i = i.min(text.len());
    while !text.is_char_boundary(i) {
        i += 1;
    }
    i
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (u32, u32) {
    let before = &text[..floor_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line as u32, col as u32)
}

fn offset_of(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    let rest = &text[line_start.min(text.len())..];
    line_start
        + rest
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(rest.len(), |(i, _)| i)
}

#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum Error {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Source(Box<SourceError>),
    /// Not a `#[source]`: the message already says the cause, and miette would repeat it.
    #[error("{}: {}", path.display(), plain_io(cause))]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{0}")]
    Invalid(String),
}

impl From<SourceError> for Error {
    fn from(e: SourceError) -> Error {
        Error::Source(Box::new(e))
    }
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            cause,
        }
    }
}

/// An I/O error as people read it: without the "(os error N)" std appends.
pub fn plain_io(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_lines_and_columns() {
        let text = "first\nsecond line\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 7), (2, 2));
        let e = SourceError::at_line("f.rsc", text, 2, 8, "bad");
        assert_eq!((e.line, e.column), (2, 8));
        assert_eq!(e.to_string(), "f.rsc:2:8: bad");
    }
}
