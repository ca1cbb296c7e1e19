//! Reads router configuration written in RouterOS's own language — a hand-written script, the
//! output of `/export` (v6 or v7), or a script that builds configuration with variables and loops —
//! and runs it the way the router would.
//!
//! Four stages, each testable alone: [`lexer`] turns text into tokens with byte spans, [`parse`]
//! turns tokens into a syntax tree ([`ast`]), [`interp`] runs it (variables, expressions,
//! loops, functions, `find`), and [`build`] is the router model its menu commands change,
//! yielding a [`RouterConfig`]. Every error points at the offending text with file, line and
//! column.

pub mod ast;
pub mod build;
pub mod interp;
pub mod lexer;
pub mod parse;
pub mod value;

use crate::config::RouterConfig;
use crate::error::SourceError;

/// Runs a whole configuration script; `file` names it in error messages.
pub fn load(file: &str, src: &str) -> Result<RouterConfig, SourceError> {
    Ok(run(file, src)?.config)
}

/// What running a script gave: the configuration and what `:put` printed.
pub struct Loaded {
    pub config: RouterConfig,
    pub output: Vec<String>,
}

/// Parses and runs a script against an empty router.
pub fn run(file: &str, src: &str) -> Result<Loaded, SourceError> {
    let script = parse::parse(file, src)?;
    let mut model = build::Model::new(file, src);
    let mut interp = interp::Interpreter::new(file, src, &mut model);
    interp.run(&script.stmts)?;
    let output = std::mem::take(&mut interp.output);
    let skipped = std::mem::take(&mut interp.skipped);
    for (what, span) in skipped {
        model.not_simulated(what, span);
    }
    Ok(Loaded {
        config: model.into_config(),
        output,
    })
}
