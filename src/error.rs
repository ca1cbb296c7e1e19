//! Errors a user sees. Anything wrong with an input file is a [`SourceError`]: the file, line and
//! column, the offending text and what was expected, rendered with a source snippet by miette.
//! The CLI maps every error to exit status 2.

use miette::{Diagnostic, SourceSpan};
use std::path::PathBuf;

#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{file}:{line}:{column}: {message}")]
pub struct SourceError {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
    #[source_code]
    source_code: Excerpt,
    #[label("{label}")]
    span: SourceSpan,
    label: String,
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
        let end = ceil_boundary(text, end.max(start + 1));
        let (line, column) = line_column(text, start);
        let message = message.into();
        let (source_code, span) = Excerpt::around(file, text, start, end, line, column);
        SourceError {
            file: file.to_string(),
            line,
            column,
            label: message.clone(),
            message,
            source_code,
            span,
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

/// What an error shows of its file: the lines around it, each at most [`Excerpt::WIDTH`]
/// characters (a long line is cut to a window around the error, marked `…`), so the message
/// stays short and whole-charactered on any input, and an error never holds a copy of a huge
/// file. It reports the real line and column to miette, so the snippet's header and gutter
/// match the file.
#[derive(Debug)]
struct Excerpt {
    name: String,
    text: String,
    /// 0-based line of the file where `text` starts.
    first_line: usize,
    /// The error's span in `text`, and its real 0-based line and column in the file.
    primary: SourceSpan,
    line: usize,
    column: usize,
}

impl Excerpt {
    /// Characters of a line shown at most.
    const WIDTH: usize = 160;
    /// Lines shown before and after the error's.
    const CONTEXT: usize = 1;

    fn around(
        file: &str,
        text: &str,
        start: usize,
        end: usize,
        line: u32,
        column: u32,
    ) -> (Excerpt, SourceSpan) {
        let line0 = line as usize - 1;
        let first_line = line0.saturating_sub(Self::CONTEXT);
        let mut excerpt = String::new();
        let mut span = (0, 0);
        let mut line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        // Walk back to the first context line.
        for _ in first_line..line0 {
            line_start = text[..line_start - 1].rfind('\n').map_or(0, |i| i + 1);
        }
        let mut at = line_start;
        for n in first_line..=line0 + Self::CONTEXT {
            if at > text.len() || (n > line0 && at == text.len()) {
                break;
            }
            let line_end = text[at..].find('\n').map_or(text.len(), |i| at + i);
            let line_text = &text[at..line_end];
            if n == line0 {
                let (window, offset) = window(line_text, start - at);
                let base = excerpt.len() + offset;
                let in_window =
                    (end.min(line_end).max(start + 1) - start).min(window.len() - offset);
                span = (base, in_window.max(1));
                excerpt.push_str(&window);
            } else {
                excerpt.push_str(&window(line_text, 0).0);
            }
            excerpt.push('\n');
            at = line_end + 1;
        }
        let span: SourceSpan = (span.0.min(excerpt.len()), span.1).into();
        let span = clamp_span(&excerpt, span);
        let excerpt = Excerpt {
            name: file.to_string(),
            text: excerpt,
            first_line,
            primary: span,
            line: line0,
            column: column as usize - 1,
        };
        (excerpt, span)
    }
}

/// At most `Excerpt::WIDTH` characters of `line` around byte `at` (an error position); returns
/// the text and where `at` landed in it.
fn window(line: &str, at: usize) -> (String, usize) {
    const BEFORE: usize = Excerpt::WIDTH / 3;
    if line.chars().count() <= Excerpt::WIDTH {
        return (line.to_string(), at);
    }
    let chars_before = line[..at].chars().count();
    let skip = chars_before.saturating_sub(BEFORE);
    let from = line.char_indices().nth(skip).map_or(line.len(), |(i, _)| i);
    let to = line[from..]
        .char_indices()
        .nth(Excerpt::WIDTH)
        .map_or(line.len(), |(i, _)| from + i);
    let mut text = String::new();
    if from > 0 {
        text.push('…');
    }
    let offset = text.len() + (at - from);
    text.push_str(&line[from..to]);
    if to < line.len() {
        text.push('…');
    }
    let offset = offset.min(text.len());
    (text, offset)
}

fn clamp_span(text: &str, span: SourceSpan) -> SourceSpan {
    let start = floor_boundary(text, span.offset());
    let end = ceil_boundary(text, (start + span.len()).min(text.len()));
    (start, end - start).into()
}

impl miette::SourceCode for Excerpt {
    fn read_span<'a>(
        &'a self,
        span: &SourceSpan,
        before: usize,
        after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let inner = self.text.read_span(span, before, after)?;
        // The header's location: the error's real line and column, not the excerpt's.
        let (line, column) = if before == 0 && after == 0 && *span == self.primary {
            (self.line, self.column)
        } else {
            (self.first_line + inner.line(), inner.column())
        };
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.clone(),
            inner.data(),
            *inner.span(),
            line,
            column,
            inner.line_count(),
        )))
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
    /// Several errors of one input (a parser reports them all), under a summary.
    #[error("{summary}")]
    Several {
        summary: String,
        #[related]
        errors: Vec<SourceError>,
    },
}

impl From<SourceError> for Error {
    fn from(e: SourceError) -> Error {
        Error::Source(Box::new(e))
    }
}

impl Error {
    /// The error for tools: `{"errors": [{"message", "file", "line", "column"}, …]}`, each
    /// error with what is known of its place.
    pub fn to_json(&self) -> serde_json::Value {
        let source = |e: &SourceError| {
            serde_json::json!({
                "message": e.message, "file": e.file, "line": e.line, "column": e.column,
            })
        };
        let errors = match self {
            Error::Source(e) => vec![source(e)],
            Error::Io { path, .. } => vec![serde_json::json!({
                "message": self.to_string(), "file": path.display().to_string(),
            })],
            Error::Invalid(m) => vec![serde_json::json!({ "message": m })],
            Error::Several { errors, .. } => errors.iter().map(source).collect(),
        };
        serde_json::json!({ "errors": errors })
    }

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

    fn render(e: SourceError) -> String {
        let handler =
            miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor());
        let mut out = String::new();
        handler.render_report(&mut out, &e).unwrap();
        out
    }

    #[test]
    fn a_long_line_is_shown_as_a_window_of_whole_characters_with_the_real_column() {
        let line = format!("x=\"{}\" bogus=1 {}", "é".repeat(5000), "ü".repeat(5000));
        let text = format!("first\n{line}\nlast");
        let at = text.find("bogus").unwrap();
        let out = render(SourceError::new(
            "f.rsc",
            &text,
            at,
            at + 5,
            "unknown parameter",
        ));
        assert!(out.contains("[f.rsc:2:5006]"), "{out}");
        assert!(
            out.contains("…ééé") && out.contains("bogus=1 üüü") && out.contains("ü…"),
            "{out}"
        );
        assert!(!out.contains('\u{fffd}'), "{out}");
        assert!(out.len() < 2000, "{} bytes", out.len());
        assert!(
            out.contains(" 1 │ first") && out.contains(" 3 │ last"),
            "{out}"
        );
    }

    #[test]
    fn errors_as_json_say_where() {
        let text = "first\nsecond line\n";
        let e: Error = SourceError::at_line("f.rsc", text, 2, 8, "bad").into();
        assert_eq!(
            e.to_json().to_string(),
            r#"{"errors":[{"column":8,"file":"f.rsc","line":2,"message":"bad"}]}"#
        );
        let e = Error::Invalid("no".into());
        assert_eq!(e.to_json().to_string(), r#"{"errors":[{"message":"no"}]}"#);
    }

    #[test]
    fn errors_at_the_edges_of_a_file_render() {
        for (text, at) in [("", 0), ("abc", 3), ("a\n", 2), ("é", 1), ("\n\n", 1)] {
            let out = render(SourceError::new("f", text, at, at + 1, "here"));
            assert!(out.contains("here"), "{text:?}: {out}");
        }
    }
}
