//! Turns tokens into a syntax tree ([`super::ast`]): statements, menu commands, global
//! `:commands`, function calls, and the values and expressions inside them.
//!
//! Menu paths come as a prefix (`/ip firewall mangle add …`), in slash form
//! (`/ip/firewall/mangle/add`), relative to the current menu, with `..`, or as a context line
//! followed by commands (as `/export` writes them); which words belong to the path is decided by
//! the menu tree in [`MENUS`], as RouterOS's console does. A bare word is a value; `$name`,
//! `$[…]`, `$(…)` and the same inside quoted strings are substitutions; `( … )` is an
//! expression; `{ … }` is a code block after `do=`, `else=`, `on-error=` and `:do`, and an
//! array elsewhere. `find` and `where` take conditions on the properties of items.

use std::borrow::Cow;

use super::ast::{Arg, BinOp, Command, Expr, MenuPath, Span, Stmt, StrPart, UnOp};
use super::lexer::{Kind, Lexer, Token, tokenize, unescape_at};
use super::schema::{MenuId, Packages, ROOT, Word, tree};
use crate::error::SourceError;

/// Menus of RouterOS 6 that RouterOS 7 dropped and pccsim simulates; they stay readable, as
/// v6 configurations use them (`/ip route rule` is v7's `/routing rule`).
const V6_MENUS: &[&[&str]] = &[&["ip", "route", "rule"]];

/// Whether `path`, then `word`, is one of [`V6_MENUS`].
fn is_v6_menu(path: &[String], word: Option<&str>) -> bool {
    let words = path.iter().map(String::as_str).chain(word);
    V6_MENUS.iter().any(|m| m.iter().copied().eq(words.clone()))
}

/// Arguments of RouterOS 6 that RouterOS 7 dropped and pccsim simulates: menu, command, argument.
const V6_ARGS: &[(&[&str], &str, &str)] = &[
    (&["ip", "route"], "add", "routing-mark"),
    (&["ip", "route"], "set", "routing-mark"),
    (&["ip", "route"], "check", "routing-mark"),
    (
        &["ip", "firewall", "connection", "tracking"],
        "set",
        "max-entries",
    ),
    (&["tool", "sniffer"], "set", "interface"),
];

/// Properties whose value is a script the router stores and runs later.
const SCRIPT_PROPERTIES: &[&str] = &[
    "on-event",
    "source",
    "up-script",
    "down-script",
    "test-script",
    "script",
    "on-up",
    "on-down",
    "lease-script",
    "on-login",
    "on-logout",
];

/// The commands that menus have in common, so a menu RouterOS 7 lacks still reads.
const COMMON_VERBS: &[&str] = &[
    "add", "comment", "disable", "edit", "enable", "export", "find", "get", "monitor", "move",
    "print", "remove", "reset", "set", "unset",
];

/// What a word of a command line is, read against the command tree.
enum Step {
    Menu(String, Option<MenuId>),
    Command(Cow<'static, str>),
    /// A name RouterOS 7 doesn't have here.
    Unknown,
}

/// A parsed script.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Script {
    pub stmts: Vec<Stmt>,
}

/// Parses a whole script; `file` names it in errors.
pub fn parse(file: &str, src: &str) -> Result<Script, SourceError> {
    parse_all(file, src).map_err(|mut errors| errors.swap_remove(0))
}

/// Parses a whole script as a real router's ([`Reading::AnyRouter`]): a script stored in a
/// configuration, run by the router.
pub fn parse_any(file: &str, src: &str) -> Result<Script, SourceError> {
    let mut reader = Reader::reading(file, src, Packages::All, Reading::AnyRouter);
    let mut stmts = Vec::new();
    while let Some(more) = reader.next_command() {
        stmts.extend(more);
    }
    match reader.finish().into_iter().next() {
        Some(e) => Err(e),
        None => Ok(Script { stmts }),
    }
}

/// [`parse_all`] for a router with only these packages.
pub fn parse_for(file: &str, src: &str, packages: Packages) -> Result<Script, Vec<SourceError>> {
    let mut reader = Reader::new(file, src, packages);
    let mut stmts = Vec::new();
    while let Some(more) = reader.next_command() {
        stmts.extend(more);
    }
    let errors = reader.finish();
    if errors.is_empty() {
        Ok(Script { stmts })
    } else {
        Err(errors)
    }
}

/// Most errors one reading reports.
pub const MAX_ERRORS: usize = 20;

/// Reads the whole script; after an error it goes on with the next top-level command, so one
/// pass reports every error it can, as a compiler does (at most [`MAX_ERRORS`]).
///
/// Errors come in RouterOS's order: errors of syntax first, then names the command tree lacks
/// (`bad command name`) — RouterOS reports a bad name only when the whole text reads, so a
/// syntax error after it is what it says.
pub fn parse_all(file: &str, src: &str) -> Result<Script, Vec<SourceError>> {
    parse_for(file, src, Packages::All)
}

/// Reads a script a top-level command at a time, so a long one need not be held whole (as
/// tokens or as a tree): `pccsim parse` outlines each command and lets it go.
pub struct Reader<'a> {
    lexer: Lexer<'a>,
    parser: Parser<'a>,
    errors: Vec<SourceError>,
    lexer_error: Option<SourceError>,
}

/// How strictly a script is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// As RouterOS 7.22.1's own `:parse` (what `pccsim parse` reports).
    RouterOs7,
    /// As a real router's configuration, whatever its release or device: names another
    /// release or device has are read and noted ([`Reader::foreign`]), and scripts written
    /// for RouterOS 6 (`:set` of a variable declared elsewhere, `:set $x`) read as v6 ran them.
    AnyRouter,
}

/// A name 7.22.1 lacks that some other router has, read where it stood.
#[derive(Clone, Debug)]
pub struct Foreign {
    /// `/menu command name`.
    pub what: String,
    pub origin: super::releases::Origin,
    pub span: Span,
}

impl<'a> Reader<'a> {
    pub fn new(file: &'a str, src: &'a str, packages: Packages) -> Reader<'a> {
        Self::reading(file, src, packages, Reading::RouterOs7)
    }

    pub fn reading(
        file: &'a str,
        src: &'a str,
        packages: Packages,
        reading: Reading,
    ) -> Reader<'a> {
        let parser = Parser {
            file,
            src,
            tokens: Vec::new(),
            pos: 0,
            context: Context {
                path: MenuPath::default(),
                menu: Some(ROOT),
            },
            offset: 0,
            depth: 0,
            packages,
            exported: super::export_release(src).is_some(),
            reading,
            foreign: Vec::new(),
            prose: Vec::new(),
            unknown_read: Vec::new(),
            unknown_names: Vec::new(),
            scopes: vec![Vec::new()],
            found: Default::default(),
        };
        Reader {
            lexer: Lexer::new(file, src),
            parser,
            errors: Vec::new(),
            lexer_error: None,
        }
    }

    /// The statements of the next top-level command (none if it has an error, which
    /// [`Reader::finish`] reports), or `None` past the end of the text.
    pub fn next_command(&mut self) -> Option<Vec<Stmt>> {
        if self.lexer_error.is_some() || self.errors.len() >= MAX_ERRORS {
            return None;
        }
        let mut tokens = std::mem::take(&mut self.parser.tokens);
        if let Err(e) = self.lexer.next_command(&mut tokens) {
            self.lexer_error = Some(e);
        }
        if tokens.is_empty() {
            return None;
        }
        let p = &mut self.parser;
        if p.reading == Reading::AnyRouter && is_prose(&tokens[0]) {
            let end = tokens
                .iter()
                .rev()
                .find(|t| t.kind != Kind::End)
                .map_or(tokens[0].end, |t| t.end);
            p.prose.push((tokens[0].start, end));
            p.tokens = tokens;
            return Some(Vec::new());
        }
        (p.tokens, p.pos, p.depth) = (tokens, 0, 0);
        match p.statements(None) {
            Ok(stmts) => Some(stmts),
            Err(e) => {
                self.errors.push(e);
                Some(Vec::new())
            }
        }
    }

    /// Names of other releases and devices read so far ([`Reading::AnyRouter`]), taken.
    pub fn take_foreign(&mut self) -> Vec<Foreign> {
        std::mem::take(&mut self.parser.foreign)
    }

    /// Lines of prose read past ([`Reading::AnyRouter`]), taken.
    pub fn take_prose(&mut self) -> Vec<Span> {
        std::mem::take(&mut self.parser.prose)
    }

    /// Names no RouterOS has, read past as not simulated ([`Reading::AnyRouter`]), taken.
    pub fn take_unknown(&mut self) -> Vec<(String, Span)> {
        std::mem::take(&mut self.parser.unknown_read)
    }

    /// Whether an error has been found so far (the script will not run).
    pub fn failed(&self) -> bool {
        !self.errors.is_empty()
            || self.lexer_error.is_some()
            || !self.parser.unknown_names.is_empty()
    }

    /// Every error found, in RouterOS's order (see [`parse_all`]), at most [`MAX_ERRORS`].
    pub fn finish(mut self) -> Vec<SourceError> {
        let mut errors = self.errors;
        if let Some(e) = self.lexer_error {
            // The text ends early at the broken token: what that cut leaves unclosed is no error.
            errors.retain(|found| (found.line, found.column) < (e.line, e.column));
            errors.push(e);
        }
        errors.append(&mut self.parser.unknown_names);
        errors.truncate(MAX_ERRORS);
        errors
    }
}

struct Parser<'a> {
    file: &'a str,
    src: &'a str,
    tokens: Vec<Token<'a>>,
    pos: usize,
    /// The current menu, as context lines set it.
    context: Context,
    /// Where this parser's text starts in `src` (for `$[…]` inside strings).
    offset: usize,
    /// How many `[`, `(`, `{` and `$[…]` enclose what is being read.
    depth: u16,
    packages: Packages,
    /// The text is an `/export` (its first line says `… by RouterOS 6.49` or `7.14`): RouterOS
    /// wrote it, so a name the tree lacks is that router's (another version, a device's
    /// switch chip, a package) — not simulated, not an error.
    exported: bool,
    reading: Reading,
    /// Names of other releases and devices read ([`Reading::AnyRouter`]).
    foreign: Vec<Foreign>,
    /// Commands that are prose, not RouterOS ([`Reading::AnyRouter`]).
    prose: Vec<Span>,
    /// Names no RouterOS has, far from anything simulated, read past ([`Reading::AnyRouter`]).
    unknown_read: Vec<(String, Span)>,
    /// `bad command name` errors, reported after those of syntax.
    unknown_names: Vec<SourceError>,
    /// Variables declared (`:local`, `:global`, loop counters) in each enclosing block.
    scopes: Vec<Vec<String>>,
    /// The command [`Parser::resolve`] last found, and its menu.
    found: std::cell::Cell<Option<(MenuId, &'static super::schema::Command)>>,
}

/// A menu and where it is in the command tree (`None`: a menu RouterOS 7 lacks — v6's, or one
/// already reported as a bad name).
#[derive(Clone)]
struct Context {
    path: MenuPath,
    menu: Option<MenuId>,
}

/// Scripts nest at most this deep, and an expression has at most this many operators, so that
/// reading and running them never exhausts the stack, whatever the input.
pub const MAX_DEPTH: u16 = 100;
pub const MAX_OPERATORS: usize = 1_000;

/// Operators of expressions, longest first so `<=` is not read as `<`.
const OPERATORS: [&str; 24] = [
    "<%%", "&&", "||", "<=", ">=", "!=", "->", "<<", ">>", "+", "-", "*", "/", "%", ".", "<", ">",
    "=", "!", "~", "&", "|", "^", ",",
];

/// A piece of an expression before precedence is applied.
#[derive(Clone, Debug)]
enum Item {
    Operand(Expr),
    Op(String, Span),
    Open,
    Close,
}

fn binop(op: &str) -> Option<(BinOp, u8)> {
    Some(match op {
        "," => (BinOp::Comma, 0),
        "||" | "or" => (BinOp::Or, 1),
        "&&" | "and" => (BinOp::And, 2),
        "|" => (BinOp::BitOr, 3),
        "^" => (BinOp::BitXor, 4),
        "&" => (BinOp::BitAnd, 5),
        "=" => (BinOp::Eq, 6),
        "!=" => (BinOp::Ne, 6),
        "~" => (BinOp::Regex, 6),
        "in" => (BinOp::In, 6),
        "<" => (BinOp::Lt, 7),
        ">" => (BinOp::Gt, 7),
        "<=" => (BinOp::Le, 7),
        ">=" => (BinOp::Ge, 7),
        "<<" => (BinOp::Shl, 8),
        ">>" => (BinOp::Shr, 8),
        "." => (BinOp::Concat, 9),
        "+" => (BinOp::Add, 10),
        "-" => (BinOp::Sub, 10),
        "*" => (BinOp::Mul, 11),
        "/" => (BinOp::Div, 11),
        "%" => (BinOp::Mod, 11),
        "->" => (BinOp::Index, 13),
        // `$f <%% args`: calls function `$f` (what `[$f args]` is in RouterOS's own trees).
        "<%%" => (BinOp::Apply, 6),
        _ => return None,
    })
}

fn is_key(k: &str) -> bool {
    !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// `configuration.mode=ap .ssid=x`: RouterOS 7 writes a run of properties of one group with the
/// group's name once; each `.name` is the previous group's.
fn expand_dotted(args: &mut [Arg], command: Option<&'static super::schema::Command>) {
    let mut group: Option<String> = None;
    for arg in args.iter_mut() {
        let Some(key) = &arg.key else { continue };
        if key.starts_with('.') {
            if let Some(g) = &group {
                let full = format!("{g}{key}");
                arg.key = Some(match command.and_then(|c| tree().arg(c, &full)) {
                    Some(name) => Cow::Borrowed(name),
                    None => Cow::Owned(full),
                });
            }
        } else {
            group = key.rfind('.').map(|dot| key[..dot].to_string());
        }
    }
}

/// Whether a top-level command that starts with `first` is prose a person wrote around the
/// script (`Step 5: Create NAT Policy`, a mail's `-----…--` boundary): no RouterOS command
/// starts with a capital letter or a run of dashes.
fn is_prose(first: &Token) -> bool {
    first.kind == Kind::Word
        && (first.text.starts_with(|c: char| c.is_ascii_uppercase())
            || first.text.starts_with("--"))
}

/// Characters of a command's name, as RouterOS reads them (`[admin@router]` is a syntax error).
fn is_command_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

impl<'a> Parser<'a> {
    fn error(&self, span: Span, msg: impl Into<String>) -> SourceError {
        SourceError::new(self.file, self.src, span.0, span.1, msg)
    }

    fn peek(&self) -> Option<&Token<'a>> {
        self.tokens.get(self.pos)
    }

    fn peek_kind(&self) -> Option<Kind> {
        self.peek().map(|t| t.kind.clone())
    }

    fn span_of(&self, t: &Token) -> Span {
        (t.start + self.offset, t.end + self.offset)
    }

    /// The span from token `from` to the last one consumed.
    fn span_from(&self, from: usize) -> Span {
        let start = self.tokens.get(from).map_or(self.src.len(), |t| t.start);
        let end = self
            .tokens
            .get(self.pos.saturating_sub(1))
            .map_or(start, |t| t.end.max(start));
        (start + self.offset, end + self.offset)
    }

    fn at_end_of_command(&self) -> bool {
        matches!(
            self.peek_kind(),
            None | Some(Kind::End | Kind::RBrace | Kind::RBracket)
        )
    }

    /// The menu of the tree at `path`; `None` for one RouterOS 7 lacks (v6's, or a name
    /// already reported).
    fn menu_id(&self, path: &[String]) -> Option<MenuId> {
        let words: Vec<&str> = path.iter().map(String::as_str).collect();
        tree().menu(&words, self.packages)
    }

    /// Whether the token at `at` is an argument of a command (`name=value`, `$x`, `[…]`, a
    /// string), not another word of a menu path or the end of the line.
    fn args_follow(&self, at: usize) -> bool {
        self.tokens.get(at).is_some_and(|t| match t.kind {
            Kind::End | Kind::RBrace | Kind::RBracket => false,
            Kind::Word => t.text.contains('=') || t.text.starts_with('$'),
            _ => true,
        })
    }

    /// What `word` is in the menu `at` (a command found is kept in `found`); `args_follow`
    /// says whether arguments come after it, which decides under a menu the tree lacks.
    fn resolve(&self, at: &Context, word: &str, args_follow: bool) -> Step {
        let v6_menu = || is_v6_menu(&at.path, Some(word));
        let Some(menu) = at.menu else {
            // Under a menu RouterOS 7 lacks, the words RouterOS 7.22.1 judges are all that
            // menu's commands. A real router's menu has submenus: the verbs every menu has,
            // and a word arguments follow, are commands, and other words submenus
            // (`/interface ethernet switch port set …`, `/system routerboard usb power-reset
            // duration=1s`).
            let command = match self.reading {
                Reading::RouterOs7 => !v6_menu(),
                Reading::AnyRouter => !v6_menu() && (COMMON_VERBS.contains(&word) || args_follow),
            };
            return if command {
                Step::Command(Cow::Owned(word.to_string()))
            } else {
                Step::Menu(word.to_string(), None)
            };
        };
        match tree().word(menu, word, self.packages) {
            Word::Menu(id) => Step::Menu(tree().name(id).to_string(), Some(id)),
            Word::Command(c) => {
                self.found.set(Some((menu, c)));
                Step::Command(Cow::Borrowed(c.name))
            }
            Word::Unknown if v6_menu() => Step::Menu(word.to_string(), None),
            Word::Unknown => Step::Unknown,
        }
    }

    /// Notes a name the command tree lacks at `path` (RouterOS's `bad command name`, with a
    /// suggestion), to report once the whole text has been read.
    fn unknown_name(&mut self, menu: &Context, word: &str, at: Span) {
        let mut msg = format!("bad command name {word}");
        let path = &menu.path;
        if let Some(menu) = menu.menu {
            if !path.is_empty() {
                msg.push_str(&format!(" in /{}", path.join(" ")));
            }
            if let Word::Command(_) | Word::Menu(_) = tree().word(menu, word, Packages::All) {
                msg.push_str(" (it comes with an extra package: wireless, caps-man, …)");
            } else if let Some(close) = super::did_you_mean(word, tree().names(menu, self.packages))
            {
                msg.push_str(&format!("; did you mean `{close}`?"));
            }
        }
        let e = self.error(at, msg);
        self.unknown_names.push(e);
    }

    /// Statements up to `close` (`}` or `]`), or to the end of the text.
    fn statements(&mut self, close: Option<Kind>) -> Result<Vec<Stmt>, SourceError> {
        let mut stmts = Vec::new();
        loop {
            match self.peek_kind() {
                None if close.is_none() => return Ok(stmts),
                None => {
                    // RouterOS points at the end of the text.
                    let end = self.src.len();
                    let msg = match close {
                        Some(Kind::RBracket) => "expected closing bracket: a `[` is never closed",
                        _ => "expected closing brace: a `{` is never closed",
                    };
                    return Err(self.error((end, end), msg));
                }
                Some(Kind::End) => self.pos += 1,
                Some(k) if Some(&k) == close.as_ref() => {
                    self.pos += 1;
                    return Ok(stmts);
                }
                Some(Kind::RBrace | Kind::RBracket | Kind::RParen) => {
                    let t = self.tokens[self.pos].clone();
                    return Err(self.error(self.span_of(&t), format!("unexpected `{}`", t.text)));
                }
                Some(_) => {
                    stmts.push(self.statement()?);
                    if !self.at_end_of_command() {
                        let t = self.tokens[self.pos].clone();
                        return Err(self.error(self.span_of(&t), "expected end of command"));
                    }
                }
            }
        }
    }

    fn statement(&mut self) -> Result<Stmt, SourceError> {
        let tok = self.tokens[self.pos].clone();
        match tok.kind {
            Kind::LBrace => Ok(Stmt::Block(self.block()?)),
            // `[…] args`: the substitution's value is run as a command (code from `:parse`,
            // a function), as RouterOS reads it.
            Kind::LBracket => {
                let start = self.pos;
                let func = self.sub()?;
                let args = self.args(None)?;
                Ok(Stmt::Call {
                    func,
                    args,
                    span: self.span_from(start),
                })
            }
            Kind::Word if tok.text.starts_with(':') && tok.text.len() > 1 => {
                let name = &tok.text[1..];
                match tree().word(ROOT, name, self.packages) {
                    Word::Command(c) => self.script_command(c.name.to_string()),
                    // `:log info …`: a menu's command, colon and all.
                    Word::Menu(_) => self.script_command(name.to_string()),
                    Word::Unknown => {
                        let (start, _) = self.span_of(&tok);
                        let root = Context {
                            path: MenuPath::default(),
                            menu: Some(ROOT),
                        };
                        self.unknown_name(&root, name, (start + 1, tok.end + self.offset));
                        self.script_command(name.to_string())
                    }
                }
            }
            // `[( … )]`: an expression as a command; its value is the command's.
            Kind::LParen => {
                let start = self.pos;
                let func = self.paren(false)?;
                let args = self.args(None)?;
                Ok(Stmt::Call {
                    func,
                    args,
                    span: self.span_from(start),
                })
            }
            Kind::Word if tok.text.starts_with('$') => {
                let start = self.pos;
                let func = self.value_group(false)?;
                let args = self.args(None)?;
                Ok(Stmt::Call {
                    func,
                    args,
                    span: self.span_from(start),
                })
            }
            Kind::Word => self.command(),
            _ => Err(self.error(self.span_of(&tok), "expected a command")),
        }
    }

    /// A script command (`:put`, `:local`, `if` …); the current token is its name.
    fn script_command(&mut self, name: String) -> Result<Stmt, SourceError> {
        let start = self.pos;
        self.pos += 1;
        let declares = matches!(name.as_str(), "local" | "global");
        if declares {
            self.variable_name()?;
        }
        // A loop's counter is declared inside the loop.
        let counter = matches!(name.as_str(), "foreach" | "for");
        if counter {
            let names = self.peek().map_or("", |t| &*t.text);
            let names = names.split(',').map(str::to_string).collect();
            self.scopes.push(names);
        }
        let args = self.args(Some(&name));
        if counter {
            self.scopes.pop();
        }
        let args = args?;
        if let Word::Command(c) = tree().word(ROOT, &name, self.packages) {
            self.check_args(c, &args, &[], &name)?;
        }
        let first = args.iter().find(|a| a.key.is_none());
        if let Some(Arg {
            value: Expr::Word(var) | Expr::Var(var, _),
            span,
            ..
        }) = first
        {
            if declares {
                self.scopes.last_mut().expect("a scope").push(var.clone());
            } else if name == "set" && !self.declared(var) && self.reading == Reading::RouterOs7 {
                // RouterOS refuses to set a variable no `:local` or `:global` declared; it
                // points at the variable's first use in the command, else at its name.
                let at = args
                    .iter()
                    .find_map(|a| first_use(&a.value, var))
                    .unwrap_or(*span);
                return Err(self.error(at, "syntax error"));
            }
        }
        Ok(Stmt::Script {
            name,
            args,
            span: self.span_from(start),
        })
    }

    fn declared(&self, var: &str) -> bool {
        self.scopes.iter().any(|s| s.iter().any(|v| v == var))
    }

    /// The variable name after `:local` and `:global`: a plain word of ASCII letters,
    /// digits, `-` and `_` (`:global $x` is a syntax error, `:local café` ends at the `é`).
    fn variable_name(&self) -> Result<(), SourceError> {
        let Some(t) = self.peek().filter(|t| t.kind == Kind::Word) else {
            return Ok(());
        };
        let (start, _) = self.span_of(t);
        if t.text.starts_with('$') {
            return Err(self.error((start, start + 1), "syntax error"));
        }
        if let Some(at) = t.text.find(|c: char| !c.is_ascii()) {
            let c = t.text[at..].chars().next().expect("a character");
            let msg = "expected end of command (variable names are ASCII letters, digits, - and _)";
            return Err(self.error((start + at, start + at + c.len_utf8()), msg));
        }
        Ok(())
    }

    /// Refuses a named argument the command does not take (RouterOS: `expected end of
    /// command`), with a suggestion; and a value without a name for `add`, which takes none.
    fn check_args(
        &mut self,
        command: &super::schema::Command,
        args: &[Arg],
        path: &[String],
        verb: &str,
    ) -> Result<(), SourceError> {
        for arg in args {
            // A name the tree gave (`arg` resolves abbreviations: `dst-addr=` is
            // `dst-address=`) is one the command has.
            if let Some(Cow::Borrowed(_)) = arg.key {
                continue;
            }
            let Some(key) = &arg.key else {
                // A bare argument name is a flag (`/routing table add name=x fib`).
                let flag = matches!(&arg.value, Expr::Word(w) if tree().arg(command, w).is_some());
                if verb == "add" && !flag {
                    let msg = "expected end of command (`add` takes only name=value arguments)";
                    return Err(self.error(arg.span, msg));
                }
                continue;
            };
            let v6 = V6_ARGS
                .iter()
                .any(|(m, c, a)| *c == verb && *a == key && m.iter().eq(path.iter()));
            if v6 || self.exported || self.foreign_name(path, &[verb, key], arg.span).is_some() {
                continue;
            }
            let menu = if path.is_empty() {
                format!(":{verb}")
            } else {
                format!("/{} {verb}", path.join(" "))
            };
            let mut msg = format!("expected end of command (`{menu}` has no argument `{key}`");
            let in_tree = super::did_you_mean(key, tree().args(command).iter().copied());
            let words: Vec<&str> = path.iter().map(String::as_str).chain([verb]).collect();
            if let Some(close) = in_tree.or_else(|| super::releases::did_you_mean(&words, key)) {
                msg.push_str(&format!("; did you mean `{close}`?"));
            }
            msg.push(')');
            let at = arg.span.0;
            return Err(self.error((at, at + key.len()), msg));
        }
        Ok(())
    }

    fn command(&mut self) -> Result<Stmt, SourceError> {
        let start = self.pos;
        let first = self.tokens[self.pos].clone();
        let mut menu = self.context.clone();
        let mut verb = Cow::Borrowed("");
        let mut slash_form = false;
        if first.text.starts_with('/') {
            menu = Context {
                path: MenuPath::default(),
                menu: Some(ROOT),
            };
            self.pos += 1;
            slash_form = first.text.split('/').filter(|s| !s.is_empty()).count() > 1;
            let (at, _) = self.span_of(&first);
            let mut offset = 0;
            let mut unknown = false;
            for part in first.text.split('/') {
                let span = (at + offset, at + offset + part.len());
                offset += part.len() + 1;
                if part.is_empty() {
                    continue;
                }
                if unknown || !verb.is_empty() {
                    return Err(self.path_goes_on(&mut menu, unknown, span.0 - 1));
                }
                let last = offset > first.text.len();
                let args_follow = last && self.args_follow(self.pos);
                unknown = !self.path_word(&mut menu, &mut verb, part, span, args_follow);
            }
        }
        while verb.is_empty() && !self.at_end_of_command() {
            let t = self.tokens[self.pos].clone();
            let glued_to_previous = t.glued && self.pos != start;
            if t.kind != Kind::Word
                || t.text.contains('=')
                || t.text.starts_with('$')
                || glued_to_previous
            {
                break;
            }
            // A word of the current menu's commands that the menu lacks may be a script
            // command written without its colon (`if`, `foreach`, `put`).
            let step = self.resolve(&menu, &t.text, self.args_follow(self.pos + 1));
            if self.pos == start {
                let script = match &step {
                    Step::Command(name) if menu.menu == Some(ROOT) => Some(name.to_string()),
                    Step::Unknown => match tree().word(ROOT, &t.text, self.packages) {
                        Word::Command(c) => Some(c.name.to_string()),
                        _ => None,
                    },
                    _ => None,
                };
                if let Some(name) = script {
                    return self.script_command(name);
                }
            }
            // `/ip route/get …`: a real router reads the rest of a path in slash form too.
            if self.reading == Reading::AnyRouter && self.pos != start && t.text.contains('/') {
                self.pos += 1;
                let (at, _) = self.span_of(&t);
                let mut offset = 0;
                for part in t.text.split('/') {
                    let span = (at + offset, at + offset + part.len());
                    offset += part.len() + 1;
                    if part.is_empty() || !verb.is_empty() {
                        continue;
                    }
                    let last = offset > t.text.len();
                    let args_follow = last && self.args_follow(self.pos);
                    self.path_word(&mut menu, &mut verb, part, span, args_follow);
                }
                continue;
            }
            self.pos += 1;
            self.command_word(&t)?;
            self.take_step(&mut menu, &mut verb, &t.text, self.span_of(&t), step);
        }
        // `/certificate { … }`: the block's commands act on that menu.
        if verb.is_empty() && self.peek_kind() == Some(Kind::LBrace) {
            let saved = std::mem::replace(&mut self.context, menu);
            let block = self.statement();
            self.context = saved;
            return block;
        }
        if verb.is_empty() && self.at_end_of_command() {
            let path = menu.path.clone();
            self.context = menu;
            return Ok(Stmt::Menu {
                path,
                span: self.span_from(start),
            });
        }
        if verb.is_empty() {
            let t = self.tokens[self.pos].clone();
            return Err(self.error(self.span_of(&t), "expected a command name"));
        }
        // Commands inside brackets of this command act on its menu.
        let saved = std::mem::replace(&mut self.context, menu.clone());
        let result = self.command_args(&menu, &verb);
        self.context = saved;
        let (args, condition) = result?;
        Ok(Stmt::Command(Command {
            path: menu.path,
            verb,
            args,
            condition,
            slash_form,
            span: self.span_from(start),
        }))
    }

    /// `/ip/cloud/no-such-menu/remove`: a slash path goes on past a command, or past a name
    /// RouterOS lacks; RouterOS says `syntax error` at the `/`.
    fn path_goes_on(&mut self, menu: &mut Context, unknown: bool, at: usize) -> SourceError {
        let mut msg = "syntax error".to_string();
        if unknown {
            // Said here, with the name, rather than again as a bad name.
            self.unknown_names.pop();
            let path = MenuPath::make_mut(&mut menu.path);
            if let Some(bad) = path.pop()
                && let Some(id) = self.menu_id(path)
            {
                msg = format!("syntax error (/{} has no `{bad}`", path.join(" "));
                let names = tree().names(id, self.packages);
                if let Some(close) = super::did_you_mean(&bad, names) {
                    msg.push_str(&format!("; did you mean `{close}`?"));
                }
                msg.push(')');
            }
        }
        self.error((at, at + 1), msg)
    }

    /// Takes one word of a command line: a submenu extends the menu, a command becomes
    /// `verb`, and a name RouterOS 7 lacks is noted and read on as a menu of its own (says
    /// `false`).
    fn path_word(
        &mut self,
        menu: &mut Context,
        verb: &mut Cow<'static, str>,
        word: &str,
        at: Span,
        args_follow: bool,
    ) -> bool {
        let step = self.resolve(menu, word, args_follow);
        self.take_step(menu, verb, word, at, step)
    }

    /// [`Parser::path_word`] with `word` already resolved.
    fn take_step(
        &mut self,
        menu: &mut Context,
        verb: &mut Cow<'static, str>,
        word: &str,
        at: Span,
        step: Step,
    ) -> bool {
        if word == ".." {
            MenuPath::make_mut(&mut menu.path).pop();
            menu.menu = menu.menu.map(|id| tree().parent(id));
            return true;
        }
        match step {
            Step::Menu(name, id) => {
                MenuPath::make_mut(&mut menu.path).push(name);
                menu.menu = id;
            }
            Step::Command(name) => *verb = name,
            Step::Unknown => {
                if let Some(kind) = self.foreign_name(&menu.path, &[word], at) {
                    if kind == super::releases::Kind::Command {
                        *verb = Cow::Owned(word.to_string());
                    } else {
                        MenuPath::make_mut(&mut menu.path).push(word.to_string());
                        menu.menu = None;
                    }
                    return true;
                }
                if self.reading == Reading::AnyRouter && !self.near_simulated(menu, word) {
                    let path = menu.path.iter().map(String::as_str).chain([word]);
                    let what = format!("/{}", path.collect::<Vec<_>>().join(" "));
                    self.unknown_read.push((what, at));
                    MenuPath::make_mut(&mut menu.path).push(word.to_string());
                    menu.menu = None;
                    return true;
                }
                if !self.exported {
                    self.unknown_name(menu, word, at);
                }
                MenuPath::make_mut(&mut menu.path).push(word.to_string());
                menu.menu = None;
                return self.exported;
            }
        }
        true
    }

    /// Whether `word`, a name the tree lacks under `menu`, may be a typo of a simulated menu or
    /// command: then it must stay an error, or the simulation would quietly lose it.
    fn near_simulated(&self, menu: &Context, word: &str) -> bool {
        let Some(id) = menu.menu else { return false };
        let Some(close) = super::did_you_mean(word, tree().names(id, Packages::All)) else {
            return false;
        };
        let meant = menu
            .path
            .iter()
            .map(String::as_str)
            .chain([close])
            .collect::<Vec<_>>();
        let meant = meant.join(" ");
        let under = |a: &str, b: &str| a == b || a.starts_with(b) && a.as_bytes()[b.len()] == b' ';
        super::build::SIMULATED_MENUS
            .iter()
            .any(|m| under(m, &meant) || under(&meant, m))
    }

    /// What `path` then `words` is, if another release or device has that name; notes it.
    fn foreign_name(
        &mut self,
        path: &[String],
        words: &[&str],
        at: Span,
    ) -> Option<super::releases::Kind> {
        if self.reading != Reading::AnyRouter {
            return None;
        }
        let full: Vec<&str> = path
            .iter()
            .map(String::as_str)
            .chain(words.iter().copied())
            .collect();
        let (kind, origin) = super::releases::origin(&full)?;
        let what = match (words, kind) {
            ([verb, key], _) => format!("`{key}` of /{} {verb}", path.join(" ")),
            _ => format!("/{}", full.join(" ")),
        };
        self.foreign.push(Foreign {
            what,
            origin,
            span: at,
        });
        Some(kind)
    }

    /// A command's name is lowercase ASCII letters, digits, `-`, `_` and `.` (`..`); RouterOS
    /// stops at anything else (`Hello`, `[admin@router] >`, `owner=x` on a line of its own).
    fn command_word(&self, t: &Token) -> Result<(), SourceError> {
        let (start, _) = self.span_of(t);
        let first = t.text.chars().next().expect("words are not empty");
        if !(first.is_ascii_lowercase() || first.is_ascii_digit() || first == '.') {
            let len = first.len_utf8();
            return Err(self.error((start, start + len), "expected command name"));
        }
        // A name starting with a digit is read as a number: it ends where the digits do.
        let end = if first.is_ascii_digit() {
            t.text.find(|c: char| !(c.is_ascii_digit() || c == '.'))
        } else {
            t.text.find(|c: char| !is_command_char(c))
        };
        match end {
            Some(at) => Err(self.error((start + at, start + at + 1), "syntax error")),
            None => Ok(()),
        }
    }

    fn command_args(
        &mut self,
        menu: &Context,
        verb: &str,
    ) -> Result<(Vec<Arg>, Option<Expr>), SourceError> {
        // Under a menu RouterOS 7 lacks, `where` can name no property.
        let known = menu.menu.is_some() || is_v6_menu(&menu.path, None);
        if verb == "find" {
            return Ok((Vec::new(), self.condition(known)?));
        }
        let command = match (menu.menu, self.found.get()) {
            // The command `resolve` just found (most often).
            (Some(id), Some((at, c))) if at == id && std::ptr::eq(c.name, verb) => Some(c),
            (Some(id), _) => match tree().word(id, verb, self.packages) {
                Word::Command(c) => Some(c),
                _ => None,
            },
            (None, _) => None,
        };
        let mut args = Vec::new();
        let mut condition = None;
        while !self.at_end_of_command() {
            let t = &self.tokens[self.pos];
            if t.kind == Kind::Word && t.text == "where" {
                condition = self.condition(known)?;
                break;
            }
            args.push(self.arg(None, command)?);
        }
        expand_dotted(&mut args, command);
        if let Some(c) = command {
            self.check_args(c, &args, &menu.path, verb)?;
        }
        Ok((args, condition))
    }

    fn args(&mut self, script: Option<&str>) -> Result<Vec<Arg>, SourceError> {
        let command = match script.map(|name| tree().word(ROOT, name, self.packages)) {
            Some(Word::Command(c)) => Some(c),
            _ => None,
        };
        let mut args = Vec::new();
        while !self.at_end_of_command() {
            args.push(self.arg(script, command)?);
        }
        Ok(args)
    }

    /// One argument: `key=value` or a positional value, as a run of glued tokens. A key the
    /// `command` has is kept as the tree's own name (no copy).
    fn arg(
        &mut self,
        script: Option<&str>,
        command: Option<&'static super::schema::Command>,
    ) -> Result<Arg, SourceError> {
        let start = self.pos;
        let t = self.tokens[self.pos].clone();
        if t.kind == Kind::Word
            && let Some((k, v)) = t.text.clone().split_once('=')
            && is_key(k)
        {
            let code = matches!(k, "do" | "else" | "on-error");
            let value = if v.is_empty() {
                self.pos += 1;
                match self.peek() {
                    // `on-event={ … }`: a script the router stores as its text, read as code
                    // here so that its mistakes are found now.
                    Some(n)
                        if n.glued && n.kind == Kind::LBrace && SCRIPT_PROPERTIES.contains(&k) =>
                    {
                        let open = self.pos;
                        self.block()?;
                        let (from, to) = (self.tokens[open].end, self.tokens[self.pos - 1].start);
                        let text = self.src[from + self.offset..to + self.offset].to_string();
                        Expr::Str(vec![StrPart::Lit(text)])
                    }
                    Some(n)
                        if n.glued
                            && !matches!(n.kind, Kind::End | Kind::RBrace | Kind::RBracket) =>
                    {
                        self.value_group(code)?
                    }
                    _ => Expr::Word(String::new()),
                }
            } else {
                // The value starts inside this token: parse the rest of it, then what is glued on.
                self.tokens[self.pos] = t.tail(k.len() + 1);
                let value = self.value_group(code);
                self.tokens[start] = t;
                value?
            };
            return Ok(Arg {
                key: Some(match command.and_then(|c| tree().arg(c, k)) {
                    Some(name) => Cow::Borrowed(name),
                    None => Cow::Owned(k.to_string()),
                }),
                value,
                span: self.span_from(start),
            });
        }
        // `:do { … }` takes its body as a positional block.
        let code = script == Some("do") && t.kind == Kind::LBrace;
        let value = self.value_group(code)?;
        Ok(Arg {
            key: None,
            value,
            span: self.span_from(start),
        })
    }

    /// A value: tokens glued together, joined.
    fn value_group(&mut self, code: bool) -> Result<Expr, SourceError> {
        // Most values are one part: it waits here, and a vector is made only for a second.
        let mut parts = Parts::default();
        let mut first = true;
        let start = self.pos;
        while let Some(t) = self.peek().cloned() {
            if !first && !t.glued {
                break;
            }
            first = false;
            match t.kind {
                Kind::End | Kind::RBrace | Kind::RBracket | Kind::RParen => break,
                Kind::Word if t.text == "$" => parts.push(self.dollar()?),
                Kind::Word => {
                    self.pos += 1;
                    self.word_parts(&t, &mut parts)?;
                }
                Kind::Str => {
                    self.pos += 1;
                    parts.push(self.string(&t)?);
                }
                Kind::LBracket => parts.push(self.sub()?),
                Kind::LParen => parts.push(self.paren(false)?),
                Kind::LBrace if code => parts.push(self.code_block()?),
                Kind::LBrace => parts.push(self.array()?),
            }
        }
        if self.pos == start {
            // Nothing here makes a value: a closing bracket with no opening one, say.
            let t = self.tokens.get(self.pos).cloned();
            let span = t
                .as_ref()
                .map_or((self.src.len(), self.src.len()), |t| self.span_of(t));
            let what = t.map_or("end of text".to_string(), |t| format!("`{}`", t.text));
            return Err(self.error(span, format!("expected a value, found {what}")));
        }
        Ok(parts.into_expr())
    }

    /// Splits a bare word at `$name` references.
    fn word_parts(&self, t: &Token, parts: &mut Parts) -> Result<(), SourceError> {
        let text = &t.text;
        if !text.contains('$') {
            parts.push(Expr::Word(text.to_string()));
            return Ok(());
        }
        let mut lit = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c != '$' {
                lit.push(c);
                continue;
            }
            let name: String = text[i + 1..]
                .chars()
                .take_while(|&c| is_name_char(c))
                .collect();
            if name.is_empty() {
                return Err(self.error(self.span_of(t), "expected a variable name after `$`"));
            }
            if !lit.is_empty() {
                parts.push(Expr::Word(std::mem::take(&mut lit)));
            }
            for _ in 0..name.chars().count() {
                chars.next();
            }
            let at = t.start + self.offset + i;
            parts.push(Expr::Var(name.clone(), (at, at + 1 + name.len())));
        }
        if !lit.is_empty() {
            parts.push(Expr::Word(lit));
        }
        Ok(())
    }

    /// `$` glued to `[…]`, `(…)` or a quoted name.
    fn dollar(&mut self) -> Result<Expr, SourceError> {
        let d = self.tokens[self.pos].clone();
        self.pos += 1;
        match self.peek().filter(|n| n.glued).map(|n| n.kind.clone()) {
            Some(Kind::LBracket) => self.sub(),
            Some(Kind::LParen) => self.paren(false),
            Some(Kind::Str) => {
                let s = self.tokens[self.pos].clone();
                self.pos += 1;
                Ok(Expr::Var(
                    self.unescape(&s)?,
                    (d.start + self.offset, s.end + self.offset),
                ))
            }
            _ => Err(self.error(
                self.span_of(&d),
                "expected a variable name, [ command ] or ( expression ) after `$`",
            )),
        }
    }

    /// `[ command ]`.
    fn sub(&mut self) -> Result<Expr, SourceError> {
        let open = self.tokens[self.pos].clone();
        self.pos += 1;
        let outer = self.depth;
        self.depth = self.deeper(self.span_of(&open))?;
        let stmts = self.statements(Some(Kind::RBracket));
        self.depth = outer;
        let mut stmts = stmts?;
        let stmt = match stmts.len() {
            1 => stmts.pop().expect("one statement"),
            _ => Stmt::Block(stmts),
        };
        Ok(Expr::Sub(Box::new(stmt)))
    }

    fn code_block(&mut self) -> Result<Expr, SourceError> {
        Ok(Expr::Code(self.block()?))
    }

    /// `{ statements }`: one level deeper, with a scope of its own for variables, in the menu
    /// it was written in.
    fn block(&mut self) -> Result<Vec<Stmt>, SourceError> {
        let open = self.tokens[self.pos].clone();
        self.pos += 1;
        let (saved, outer) = (self.context.clone(), self.depth);
        self.depth = self.deeper(self.span_of(&open))?;
        self.scopes.push(Vec::new());
        let body = self.statements(Some(Kind::RBrace));
        self.scopes.pop();
        (self.context, self.depth) = (saved, outer);
        body
    }

    /// The depth one level inside the current one, or an error at `at` past the limit.
    fn deeper(&self, at: Span) -> Result<u16, SourceError> {
        if self.depth >= MAX_DEPTH {
            let msg = format!("nested more than {MAX_DEPTH} levels deep (`[`, `(`, `{{`, `$[`)");
            return Err(self.error(at, msg));
        }
        Ok(self.depth + 1)
    }

    /// `{ a; b; "k"=v }`.
    fn array(&mut self) -> Result<Expr, SourceError> {
        let open = self.tokens[self.pos].clone();
        let outer = self.depth;
        self.depth = self.deeper(self.span_of(&open))?;
        let array = self.array_items(open);
        self.depth = outer;
        array
    }

    fn array_items(&mut self, open: Token) -> Result<Expr, SourceError> {
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            match self.peek_kind() {
                None => return Err(self.error(self.span_of(&open), "this `{` is never closed")),
                Some(Kind::End) => self.pos += 1,
                Some(Kind::RBrace) => {
                    self.pos += 1;
                    return Ok(Expr::Array(items));
                }
                Some(Kind::Str)
                    if self.tokens.get(self.pos + 1).is_some_and(|n| {
                        n.glued && n.kind == Kind::Word && n.text.starts_with('=')
                    }) =>
                {
                    let key = self.tokens[self.pos].clone();
                    self.pos += 1;
                    let key = Expr::Word(self.unescape(&key)?);
                    let arg = self.arg(None, None)?;
                    let value = match arg.value {
                        // The `=` was left at the front of the value's first word.
                        Expr::Word(w) => Expr::Word(w.trim_start_matches('=').to_string()),
                        Expr::Concat(mut parts) => {
                            if let Some(Expr::Word(w)) = parts.first_mut() {
                                *w = w.trim_start_matches('=').to_string();
                            }
                            Expr::Concat(parts)
                        }
                        other => other,
                    };
                    items.push((Some(key), value));
                }
                Some(_) => {
                    let arg = self.arg(None, None)?;
                    items.push((arg.key.map(|k| Expr::Word(k.into_owned())), arg.value));
                }
            }
        }
    }

    /// The text of a quoted string with its escapes resolved and no substitutions.
    fn unescape(&mut self, t: &Token) -> Result<String, SourceError> {
        match self.string(t)? {
            Expr::Str(parts) => {
                let mut out = String::new();
                for p in parts {
                    match p {
                        StrPart::Lit(s) => out.push_str(&s),
                        _ => {
                            return Err(
                                self.error(self.span_of(t), "a name cannot contain substitutions")
                            );
                        }
                    }
                }
                Ok(out)
            }
            _ => unreachable!("string() returns Expr::Str"),
        }
    }

    /// A quoted string: escapes resolved, `$name`, `$"name"`, `$[…]` and `$(…)` found.
    fn string(&mut self, t: &Token) -> Result<Expr, SourceError> {
        let raw = t.text.as_bytes();
        let base = t.start + 1 + self.offset;
        let mut parts = Vec::new();
        let mut lit = String::new();
        let mut i = 0;
        while i < raw.len() {
            match raw[i] {
                b'\\' => {
                    let (ch, len) = unescape_at(&raw[i..]).ok_or_else(|| {
                        self.error((base + i, base + i + 2), "unknown escape in string")
                    })?;
                    lit.push(ch);
                    i += len;
                }
                b'$' => {
                    let rest = &t.text[i + 1..];
                    let (part, len) = self.interpolation(rest, base + i)?;
                    if !lit.is_empty() {
                        parts.push(StrPart::Lit(std::mem::take(&mut lit)));
                    }
                    parts.push(part);
                    i += 1 + len;
                }
                _ => {
                    // A run of plain text up to the next escape or substitution, at once.
                    let run = raw[i..]
                        .iter()
                        .position(|&b| b == b'\\' || b == b'$')
                        .map_or(raw.len(), |n| i + n);
                    lit.push_str(&t.text[i..run]);
                    i = run;
                }
            }
        }
        if !lit.is_empty() || parts.is_empty() {
            parts.push(StrPart::Lit(lit));
        }
        Ok(Expr::Str(parts))
    }

    /// A substitution inside a string, `rest` being what follows the `$`; returns it and the
    /// bytes it took.
    fn interpolation(&mut self, rest: &str, at: usize) -> Result<(StrPart, usize), SourceError> {
        let bad = |msg: &str| self.error((at, at + 1), msg.to_string());
        match rest.chars().next() {
            Some('[') | Some('(') => {
                let (open, close) = if rest.starts_with('[') {
                    ('[', ']')
                } else {
                    ('(', ')')
                };
                let len = matching(rest, open, close)
                    .ok_or_else(|| bad("this substitution is never closed"))?;
                // The inner text is script written inside a string: resolve its escapes first.
                let inner = unescape_all(&rest[1..len - 1]);
                let tokens = tokenize(self.file, &inner).map_err(|e| bad(&e.message))?;
                let tokens = tokens.into_iter().map(Token::into_owned).collect();
                let mut sub = self.nested(tokens, at + 2, self.deeper((at, at + 2))?);
                let relocate = |e: SourceError| bad(&e.message);
                let part = if open == '[' {
                    let mut stmts = sub.statements(None).map_err(relocate)?;
                    let stmt = if stmts.len() == 1 {
                        stmts.pop().expect("one")
                    } else {
                        Stmt::Block(stmts)
                    };
                    StrPart::Sub(Box::new(stmt))
                } else {
                    StrPart::Expr(Box::new(sub.expression_items(false).map_err(relocate)?))
                };
                self.unknown_names.append(&mut sub.unknown_names);
                Ok((part, len))
            }
            Some('"') => {
                let end = rest[1..]
                    .find('"')
                    .ok_or_else(|| bad("this variable name is never closed"))?;
                let name = rest[1..1 + end].to_string();
                Ok((StrPart::Var(name, (at, at + end + 3)), end + 2))
            }
            _ => {
                let name: String = rest.chars().take_while(|&c| is_name_char(c)).collect();
                if name.is_empty() {
                    return Err(bad(
                        "expected a variable name after `$` (write \\$ for a dollar sign)",
                    ));
                }
                Ok((
                    StrPart::Var(name.clone(), (at, at + 1 + name.len())),
                    name.len(),
                ))
            }
        }
    }

    /// `( expression )`, as a value.
    fn paren(&mut self, props: bool) -> Result<Expr, SourceError> {
        let open = self.tokens[self.pos].clone();
        self.pos += 1;
        let mut depth = 1;
        let start = self.pos;
        while depth > 0 {
            match self.peek_kind() {
                None => return Err(self.error(self.span_of(&open), "this `(` is never closed")),
                Some(Kind::LParen) => depth += 1,
                Some(Kind::RParen) => depth -= 1,
                _ => {}
            }
            self.pos += 1;
        }
        let end = self.pos - 1;
        let tokens = self.tokens[start..end].to_vec();
        let mut inner = self.nested(tokens, self.offset, self.deeper(self.span_of(&open))?);
        let expr = inner.expression_items(props);
        self.unknown_names.append(&mut inner.unknown_names);
        expr
    }

    /// A parser for text inside this one (an expression's parentheses, `$[…]` in a string),
    /// in the same menu and scope.
    fn nested(&self, tokens: Vec<Token<'a>>, offset: usize, depth: u16) -> Parser<'a> {
        Parser {
            file: self.file,
            src: self.src,
            tokens,
            pos: 0,
            context: self.context.clone(),
            offset,
            depth,
            packages: self.packages,
            exported: self.exported,
            reading: self.reading,
            foreign: Vec::new(),
            prose: Vec::new(),
            unknown_read: Vec::new(),
            unknown_names: Vec::new(),
            scopes: self.scopes.clone(),
            found: Default::default(),
        }
    }

    /// Parses every remaining token as one expression.
    fn expression_items(&mut self, props: bool) -> Result<Expr, SourceError> {
        let mut items = Vec::new();
        while let Some(t) = self.peek().cloned() {
            match t.kind {
                Kind::End => self.pos += 1,
                Kind::Word if t.text == "$" => items.push(Item::Operand(self.dollar()?)),
                Kind::Word => {
                    self.pos += 1;
                    self.expr_word(&t, &mut items)?;
                }
                Kind::Str => {
                    self.pos += 1;
                    items.push(Item::Operand(self.string(&t)?));
                }
                Kind::LBracket => items.push(Item::Operand(self.sub()?)),
                Kind::LBrace => items.push(Item::Operand(self.array()?)),
                Kind::LParen => {
                    self.pos += 1;
                    items.push(Item::Open);
                }
                Kind::RParen => {
                    self.pos += 1;
                    items.push(Item::Close);
                }
                Kind::RBrace | Kind::RBracket => {
                    return Err(self.error(self.span_of(&t), format!("unexpected `{}`", t.text)));
                }
            }
        }
        let whole = self.span_from(0);
        self.bounded(&items, whole)?;
        let mut at = 0;
        let expr = self.pratt(&items, &mut at, 0, whole)?;
        if at < items.len() {
            return Err(self.error(whole, "expected an operator between values"));
        }
        Ok(if props { to_props(expr) } else { expr })
    }

    /// Splits a word inside an expression into operands and operators.
    fn expr_word(&self, t: &Token, items: &mut Vec<Item>) -> Result<(), SourceError> {
        let text = &*t.text;
        let base = t.start + self.offset;
        let mut i = 0;
        while i < text.len() {
            let rest = &text[i..];
            let c = rest.chars().next().expect("non-empty");
            if c == '$' {
                let name: String = rest[1..].chars().take_while(|&c| is_name_char(c)).collect();
                if name.is_empty() {
                    return Err(self.error(
                        (base + i, base + i + 1),
                        "expected a variable name after `$`",
                    ));
                }
                items.push(Item::Operand(Expr::Var(
                    name.clone(),
                    (base + i, base + i + 1 + name.len()),
                )));
                i += 1 + name.len();
            } else if c.is_ascii_digit() {
                let len = literal_len(rest);
                items.push(Item::Operand(Expr::Word(rest[..len].to_string())));
                i += len;
            } else if c.is_alphabetic() || c == '_' {
                let len = rest
                    .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-'))
                    .unwrap_or(rest.len());
                let word = &rest[..len];
                if matches!(word, "in" | "and" | "or") {
                    items.push(Item::Op(word.to_string(), (base + i, base + i + len)));
                } else {
                    items.push(Item::Operand(Expr::Word(word.to_string())));
                }
                i += len;
            } else if let Some(op) = OPERATORS.iter().find(|op| rest.starts_with(**op)) {
                items.push(Item::Op(op.to_string(), (base + i, base + i + op.len())));
                i += op.len();
            } else {
                let msg = format!("unexpected `{c}` in an expression");
                return Err(self.error((base + i, base + i + c.len_utf8()), msg));
            }
        }
        Ok(())
    }

    /// Refuses expressions whose parentheses nest, or whose operators chain, past the limits
    /// (precedence climbing recurses on both).
    fn bounded(&self, items: &[Item], whole: Span) -> Result<(), SourceError> {
        let (mut depth, mut operators) = (self.depth, 0);
        for item in items {
            match item {
                Item::Open => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        let msg = format!("parentheses nested more than {MAX_DEPTH} deep");
                        return Err(self.error(whole, msg));
                    }
                }
                Item::Close => depth = depth.saturating_sub(1),
                Item::Op(_, span) => {
                    operators += 1;
                    if operators > MAX_OPERATORS {
                        let msg = format!("an expression of more than {MAX_OPERATORS} operators");
                        return Err(self.error(*span, msg));
                    }
                }
                Item::Operand(_) => {}
            }
        }
        Ok(())
    }

    /// Precedence climbing over the items.
    fn pratt(
        &self,
        items: &[Item],
        at: &mut usize,
        min: u8,
        whole: Span,
    ) -> Result<Expr, SourceError> {
        let mut lhs = match items.get(*at) {
            Some(Item::Operand(e)) => {
                *at += 1;
                e.clone()
            }
            Some(Item::Open) => {
                *at += 1;
                let e = self.pratt(items, at, 0, whole)?;
                match items.get(*at) {
                    Some(Item::Close) => *at += 1,
                    _ => return Err(self.error(whole, "expected `)`")),
                }
                e
            }
            Some(Item::Op(op, span)) => {
                let un = match op.as_str() {
                    "!" => UnOp::Not,
                    "-" => UnOp::Neg,
                    "~" => UnOp::BitNot,
                    // `>[…]`: the code itself, not its value (RouterOS's trees write a
                    // function call as `<%% (> $f)`).
                    ">" => UnOp::Code,
                    _ => return Err(self.error(*span, format!("`{op}` needs a value before it"))),
                };
                *at += 1;
                let operand = self.pratt(items, at, 12, whole)?;
                Expr::Unary(un, Box::new(operand), *span)
            }
            Some(Item::Close) => return Err(self.error(whole, "unexpected `)`")),
            None => return Err(self.error(whole, "expected a value")),
        };
        while let Some(Item::Op(op, span)) = items.get(*at) {
            let Some((bin, prec)) = binop(op) else {
                return Err(self.error(*span, format!("`{op}` is not an operator between values")));
            };
            if prec < min {
                break;
            }
            *at += 1;
            let rhs = self.pratt(items, at, prec + 1, whole)?;
            lhs = Expr::Binary(bin, Box::new(lhs), Box::new(rhs), *span);
        }
        Ok(lhs)
    }

    /// Conditions of `find` and `where`: `comment~"PCC"`, `chain=prerouting && !disabled`,
    /// `(a=1 || b=2)`; conditions written side by side must all hold.
    ///
    /// `known` says whether the menu's properties are known: under a menu RouterOS 7 lacks,
    /// `where name=x` cannot be read (RouterOS: `expected end of command` at the `=`).
    fn condition(&mut self, known: bool) -> Result<Option<Expr>, SourceError> {
        let mut items = Vec::new();
        let mut after_where = false;
        while !self.at_end_of_command() {
            let t = self.tokens[self.pos].clone();
            match t.kind {
                Kind::Word if t.text == "where" => {
                    self.pos += 1;
                    after_where = true;
                }
                Kind::Word if matches!(&*t.text, "&&" | "||" | "and" | "or") => {
                    self.pos += 1;
                    items.push(Item::Op(t.text.to_string(), self.span_of(&t)));
                }
                // An operator written on its own (`(routing-mark)."" = ""`).
                Kind::Word if OPERATORS.contains(&&*t.text) => {
                    self.pos += 1;
                    items.push(Item::Op(t.text.to_string(), self.span_of(&t)));
                }
                Kind::Str => {
                    self.pos += 1;
                    items.push(Item::Operand(self.string(&t)?));
                }
                Kind::LParen => items.push(Item::Operand(self.paren(true)?)),
                Kind::Word => {
                    let (negate, body) = match t.text.strip_prefix('!') {
                        Some(rest) if !rest.starts_with('=') => (true, rest.to_string()),
                        _ => (false, t.text.to_string()),
                    };
                    let cond = match ["!=", "~", "<=", ">=", "=", "<", ">"]
                        .iter()
                        .find_map(|op| body.find(op).map(|at| (at, *op)))
                        .filter(|&(at, _)| at > 0)
                    {
                        Some((at, _)) if after_where && !known => {
                            let at = self.span_of(&t).0 + (t.text.len() - body.len()) + at;
                            return Err(self.error((at, at + 1), "expected end of command"));
                        }
                        Some((at, op)) => {
                            let key = body[..at].to_string();
                            self.tokens[self.pos] =
                                t.tail(t.text.len() - body.len() + at + op.len());
                            let value = self.value_group(false)?;
                            let (bin, _) = binop(op).expect("condition operators are operators");
                            Expr::Binary(
                                bin,
                                Box::new(Expr::Prop(key)),
                                Box::new(value),
                                self.span_of(&t),
                            )
                        }
                        None => {
                            self.pos += 1;
                            Expr::Prop(body)
                        }
                    };
                    let cond = if negate {
                        Expr::Unary(UnOp::Not, Box::new(cond), self.span_of(&t))
                    } else {
                        cond
                    };
                    if matches!(items.last(), Some(Item::Operand(_))) {
                        items.push(Item::Op("&&".into(), self.span_of(&t)));
                    }
                    items.push(Item::Operand(cond));
                }
                _ => {
                    return Err(self.error(
                        self.span_of(&t),
                        "expected a condition such as comment~\"PCC\"",
                    ));
                }
            }
        }
        if items.is_empty() {
            return Ok(None);
        }
        let whole = self.span_from(self.pos.saturating_sub(1));
        let mut at = 0;
        let expr = self.pratt(&items, &mut at, 0, whole)?;
        Ok(Some(expr))
    }
}

/// Where `var` is first used (`$var`) in `e`.
fn first_use(e: &Expr, var: &str) -> Option<Span> {
    match e {
        Expr::Var(name, span) if name == var => Some(*span),
        Expr::Concat(parts) => parts.iter().find_map(|p| first_use(p, var)),
        Expr::Array(items) => items.iter().find_map(|(_, v)| first_use(v, var)),
        Expr::Str(parts) => parts.iter().find_map(|p| match p {
            StrPart::Var(name, span) if name == var => Some(*span),
            StrPart::Expr(e) => first_use(e, var),
            _ => None,
        }),
        Expr::Binary(_, l, r, _) => first_use(l, var).or_else(|| first_use(r, var)),
        Expr::Unary(_, e, _) => first_use(e, var),
        _ => None,
    }
}

/// In a condition's parentheses, a bare word on the left of a comparison, or standing alone,
/// names a property of the item.
/// The parts of a value written without space between them.
#[derive(Default)]
enum Parts {
    #[default]
    None,
    One(Expr),
    Many(Vec<Expr>),
}

impl Parts {
    fn push(&mut self, e: Expr) {
        *self = match std::mem::take(self) {
            Parts::None => Parts::One(e),
            Parts::One(first) => Parts::Many(vec![first, e]),
            Parts::Many(mut v) => {
                v.push(e);
                Parts::Many(v)
            }
        };
    }

    fn into_expr(self) -> Expr {
        match self {
            Parts::None => Expr::Word(String::new()),
            Parts::One(e) => e,
            Parts::Many(v) => Expr::Concat(v),
        }
    }
}

fn to_props(e: Expr) -> Expr {
    match e {
        Expr::Binary(op, l, r, s) => match (op, *l) {
            (BinOp::And | BinOp::Or, l) => {
                Expr::Binary(op, Box::new(to_props(l)), Box::new(to_props(*r)), s)
            }
            (_, Expr::Word(w)) => Expr::Binary(op, Box::new(Expr::Prop(w)), r, s),
            (_, l) => Expr::Binary(op, Box::new(l), r, s),
        },
        Expr::Unary(UnOp::Not, inner, s) => Expr::Unary(UnOp::Not, Box::new(to_props(*inner)), s),
        Expr::Word(w) => Expr::Prop(w),
        other => other,
    }
}

/// Length of a literal that starts with a digit: a number, address, prefix, range or time.
fn literal_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    let mut dots = 0;
    while i < b.len() {
        let c = b[i];
        let next_digit = b.get(i + 1).is_some_and(u8::is_ascii_digit);
        if c.is_ascii_alphanumeric() || c == b':' {
            i += 1;
        } else if c == b'.' && next_digit {
            dots += 1;
            i += 1;
        } else if c == b'/' && dots == 3 && next_digit {
            i += 1;
        } else {
            break;
        }
    }
    i
}

/// The byte length of a bracketed run starting at `s[0] == open`, quotes respected.
fn matching(s: &str, open: char, close: char) -> Option<usize> {
    let mut depth = 0;
    let mut in_str = false;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' => in_str = !in_str,
            c if c == open && !in_str => depth += 1,
            c if c == close && !in_str => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// Resolves `\"`-style escapes of script text written inside a string.
fn unescape_all(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && let Some((c, len)) = unescape_at(&b[i..])
            && matches!(c, '"' | '\\')
        {
            out.push(c);
            i += len;
            continue;
        }
        let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(ch);
        i += ch.len_utf8();
    }
    out
}
