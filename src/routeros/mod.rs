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
pub mod export;
pub mod interp;
pub mod lexer;
pub mod live;
pub mod markdown;
pub mod parse;
pub mod releases;
pub mod schema;
pub mod value;

pub use schema::Packages;

use crate::error::SourceError;
use crate::router::config::RouterConfig;

/// The RouterOS release that wrote an `/export` (`# 2024-01-02 by RouterOS 7.14.3`), from the
/// comment block that opens it (people add lines of their own above the header).
pub fn export_release(src: &str) -> Option<&str> {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let header = src
        .lines()
        .map(str::trim)
        .take_while(|l| l.is_empty() || l.starts_with('#'));
    header.into_iter().find_map(|l| {
        let (_, after) = l.split_once(" by RouterOS ")?;
        after.split_whitespace().next()
    })
}

/// Runs a whole configuration script; `file` names it in error messages.
pub fn load(file: &str, src: &str) -> Result<RouterConfig, SourceError> {
    Ok(run(file, src)?.config)
}

/// What running a script gave: the configuration and what `:put` printed.
pub struct Loaded {
    pub config: RouterConfig,
    pub output: Vec<String>,
}

/// Parses and runs a script against an empty router, a top-level command at a time (a
/// 100,000-line export is never held as one tree). As on RouterOS, a script that does not
/// read does not run: an error of reading anywhere in it is reported before any error of
/// running, so commands run ahead of the reader only while it has found none.
pub fn run(file: &str, src: &str) -> Result<Loaded, SourceError> {
    let published = markdown::script_of(src);
    let src = published.as_ref().map_or(src, |p| p.text.as_str());
    let mut reader = parse::Reader::reading(file, src, Packages::All, parse::Reading::AnyRouter);
    let mut model = build::Model::new(file, src);
    let mut interp = interp::Interpreter::new(file, src, &mut model);
    interp.undeclared_ok = true;
    let mut running = Ok(true);
    while let Some(stmts) = reader.next_command() {
        if matches!(running, Ok(true)) && !reader.failed() {
            running = match interp.run_command(&stmts) {
                // A script's values come from the router it runs on (its DNS cache, what a
                // ping answered): where the simulated one differs, RouterOS's /import would
                // stop, and pccsim says so and reads on. A plain command's mistake stays fatal.
                Err(e) if is_scripted(&stmts) && !interp.ran_away() => {
                    let msg = format!(
                        "{}: RouterOS's /import would stop here; pccsim reads on",
                        e.message
                    );
                    interp.menus.assume_line("script-error", e.line, msg);
                    Ok(true)
                }
                r => r,
            };
        }
    }
    let reader_foreign = reader.take_foreign();
    let prose = reader.take_prose();
    let unknown = reader.take_unknown();
    if let Some(e) = reader.finish().into_iter().next() {
        return Err(e);
    }
    running?;
    let output = std::mem::take(&mut interp.output);
    let undeclared = std::mem::take(&mut interp.undeclared);
    let skipped = std::mem::take(&mut interp.skipped);
    for (name, span) in undeclared {
        let msg = format!(
            "variable ${name} is read but declared nowhere in this script (a typo, or a global \
             another script sets): RouterOS reads it as nothing"
        );
        model.assume("variable-undeclared", span, msg);
    }
    for (what, span) in skipped {
        model.not_simulated(what, span);
    }
    for at in published.iter().flat_map(|p| &p.closed_strings) {
        let msg = "this code block ends inside a quoted string: read as closed here";
        model.assume("not-routeros-text", (*at, at + 1), msg.to_string());
    }
    for (what, span) in unknown {
        let msg = format!(
            "{what} is in no RouterOS release pccsim knows (7.9 to 7.24, 6, devices): a mistake \
             RouterOS would stop at, or another router's; read past, not simulated"
        );
        model.assume("unknown-menu", span, msg);
    }
    for span in prose {
        let msg = "this is not RouterOS (prose around the script?): read past it, although \
                   RouterOS's /import would stop here";
        model.assume("not-routeros-text", span, msg.to_string());
    }
    for f in reader_foreign {
        model.not_simulated(format!("{} ({})", f.what, f.origin), f.span);
    }
    Ok(Loaded {
        config: model.into_config(),
        output,
    })
}

/// Whether a top-level command computes what it does (variables, substitutions, blocks,
/// functions), rather than being a plain menu command with its values written out.
fn is_scripted(stmts: &[ast::Stmt]) -> bool {
    use ast::{Expr, Stmt, StrPart};
    let literal = |e: &Expr| match e {
        Expr::Word(_) => true,
        Expr::Str(parts) => parts.iter().all(|p| matches!(p, StrPart::Lit(_))),
        _ => false,
    };
    stmts.iter().any(|s| match s {
        Stmt::Command(c) => c.condition.is_some() || c.args.iter().any(|a| !literal(&a.value)),
        Stmt::Menu { .. } => false,
        _ => true,
    })
}

/// What `pccsim parse` reports of a script without running it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Outline {
    pub dialect: crate::router::config::Dialect,
    /// Menu and global commands, blocks and loop bodies included.
    pub commands: usize,
    /// Per menu, how many commands use it.
    pub menus: std::collections::BTreeMap<String, usize>,
    /// Menus the simulation does not model, with their lines.
    pub not_simulated: Vec<crate::router::config::NotSimulated>,
}

/// Reads a script and summarises it — its dialect, its commands per menu, what is not
/// simulated — a command at a time, never holding the whole tree; or every error found.
pub fn outline(
    file: &str,
    src: &str,
    packages: Packages,
) -> Result<Outline, Vec<crate::error::SourceError>> {
    let mut reader = parse::Reader::new(file, src, packages);
    let mut outliner = Outliner {
        src,
        line_starts: Vec::new(),
        last: None,
        o: Outline {
            dialect: crate::router::config::Dialect::V6,
            commands: 0,
            menus: Default::default(),
            not_simulated: Vec::new(),
        },
    };
    while let Some(stmts) = reader.next_command() {
        outliner.visit(&stmts);
    }
    outliner.flush();
    let errors = reader.finish();
    if errors.is_empty() {
        Ok(outliner.o)
    } else {
        Err(errors)
    }
}

/// Walks a script for [`outline`]. Commands under one context line share their path, so what
/// is known of a menu and command is worked out once per run of them.
struct Outliner<'s> {
    src: &'s str,
    /// Where each line starts, made on first need.
    line_starts: Vec<usize>,
    /// The menu and command of the run of commands being counted.
    last: Option<Run>,
    o: Outline,
}

struct Run {
    path: ast::MenuPath,
    verb: String,
    /// `/menu`, as `menus` counts it.
    key: String,
    /// `/menu verb`, as `not_simulated` lists it; `None` if simulated.
    not_simulated: Option<String>,
    v7_menu: bool,
    count: usize,
}

impl Outliner<'_> {
    fn visit(&mut self, stmts: &[ast::Stmt]) {
        use ast::{Expr, Stmt};
        for s in stmts {
            match s {
                Stmt::Command(c) => {
                    self.o.commands += 1;
                    self.command(c);
                    for a in &c.args {
                        if let Expr::Code(body) = &a.value {
                            self.visit(body);
                        }
                    }
                }
                Stmt::Script { args, .. } | Stmt::Call { args, .. } => {
                    self.o.commands += 1;
                    for a in args {
                        if let Expr::Code(body) = &a.value {
                            self.visit(body);
                        }
                    }
                }
                Stmt::Block(b) => self.visit(b),
                Stmt::Menu { .. } => {}
            }
        }
    }

    fn command(&mut self, c: &ast::Command) {
        let same = self
            .last
            .as_ref()
            .is_some_and(|r| std::sync::Arc::ptr_eq(&r.path, &c.path) && r.verb == c.verb);
        if !same {
            self.flush();
            let menu = c.menu();
            let not_simulated = (!build::is_modeled(&menu, &c.verb)).then(|| {
                if menu.is_empty() {
                    format!("/{}", c.verb)
                } else {
                    format!("/{menu} {}", c.verb)
                }
            });
            self.last = Some(Run {
                path: c.path.clone(),
                verb: c.verb.to_string(),
                key: format!("/{menu}"),
                not_simulated,
                v7_menu: menu == "routing table",
                count: 0,
            });
        }
        let run = self.last.as_mut().expect("set above");
        run.count += 1;
        let v7 = c.slash_form
            || run.v7_menu
            || c.args
                .iter()
                .any(|a| a.key.as_deref() == Some("routing-table"));
        if v7 {
            self.o.dialect = crate::router::config::Dialect::V7;
        }
        if let Some(what) = run.not_simulated.clone() {
            let line = self.line_of(c.span.0);
            match self.o.not_simulated.iter_mut().find(|n| n.menu == what) {
                Some(n) => n.lines.push(line),
                None => self
                    .o
                    .not_simulated
                    .push(crate::router::config::NotSimulated {
                        menu: what,
                        lines: vec![line],
                    }),
            }
        }
    }

    /// Counts the finished run of commands into `menus`.
    fn flush(&mut self) {
        if let Some(run) = self.last.take() {
            *self.o.menus.entry(run.key).or_default() += run.count;
        }
    }

    fn line_of(&mut self, offset: usize) -> u32 {
        if self.line_starts.is_empty() {
            let breaks = self.src.match_indices('\n').map(|(i, _)| i + 1);
            self.line_starts = std::iter::once(0).chain(breaks).collect();
        }
        self.line_starts.partition_point(|&start| start <= offset) as u32
    }
}

/// The candidate closest to `word` by edit distance, if it is close enough to be a typo of it
/// (at most a third of its letters off, and at most 3).
pub fn did_you_mean<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance by characters, a swap of two neighbours counting as one edit (optimal string
/// alignment): `ips1` is one typo from `isp1`.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    // Three rows of the table: two back, one back, this one.
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut last: Vec<usize> = (0..=b.len()).collect();
    let mut row = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        row[0] = i;
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            row[j] = (last[j - 1] + cost).min(last[j] + 1).min(row[j - 1] + 1);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                row[j] = row[j].min(before[j - 2] + 1);
            }
        }
        std::mem::swap(&mut before, &mut last);
        std::mem::swap(&mut last, &mut row);
    }
    last[b.len()]
}

#[cfg(test)]
mod suggestion_tests {
    use super::*;

    #[test]
    fn typos_find_their_word_and_strangers_find_none() {
        let words = ["mark-connection", "mark-routing", "mark-packet", "accept"];
        assert_eq!(
            did_you_mean("mark-conection", words.into_iter()),
            Some("mark-connection")
        );
        assert_eq!(
            did_you_mean("mark-routeing", words.into_iter()),
            Some("mark-routing")
        );
        assert_eq!(did_you_mean("acept", words.into_iter()), Some("accept"));
        assert_eq!(did_you_mean("frobnicate", words.into_iter()), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
