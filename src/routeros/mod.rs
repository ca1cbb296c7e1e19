//! Reads router configuration written in RouterOS's own command language: a hand-written script
//! or the output of `/export`, v6 or v7.
//!
//! Three stages, each testable alone: [`lexer`] turns text into tokens with byte spans,
//! [`parse`] turns tokens into commands (menu path, verb, arguments), and [`build`] runs those
//! commands against an empty router model to give a [`RouterConfig`]. Every error points at the
//! offending text with file, line and column.

pub mod build;
pub mod lexer;
pub mod parse;

use crate::config::RouterConfig;
use crate::error::SourceError;

/// Reads a whole configuration script; `file` names it in error messages.
pub fn load(file: &str, src: &str) -> Result<RouterConfig, SourceError> {
    let script = parse::parse(file, src)?;
    build::build(file, src, &script)
}
