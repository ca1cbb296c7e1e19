//! Runs a parsed script as the router would: variables and scopes, expressions, arrays,
//! conditions, loops, functions, `[ find … ]`, and menu commands handed to a [`Menus`] model.
//!
//! Nothing here touches the world outside the model: `:execute`, `:resolve`, `/terminal` and the
//! like are recorded and skipped, and a step budget and a call-depth limit stop scripts that
//! would never end, with an error at the statement where they were stopped.

use super::ast::{Arg, BinOp, Expr, Span, Stmt, StrPart, UnOp};
use super::value::Value;
use crate::error::SourceError;
use std::sync::Arc;

/// Statements and loop turns a script may take before it is stopped.
pub const STEP_BUDGET: u64 = 5_000_000;
/// Array elements a script may copy (each read of an array variable copies it, as RouterOS
/// does): an array built element by element costs the square of its length, so this bounds
/// the time such a script takes where counting statements does not.
pub const COPY_BUDGET: u64 = 50_000_000;
/// The longest string a script may build; doubling a string in a loop reaches it quickly.
const MAX_TEXT: usize = 1 << 24;
const MAX_DEPTH: u32 = 64;

/// An argument as a menu receives it: text.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalArg<'a> {
    /// The argument's name: the command tree's own (no copy) unless the tree lacks it.
    pub key: Option<std::borrow::Cow<'static, str>>,
    /// The script's own word where the value is one, else the value's text.
    pub text: std::borrow::Cow<'a, str>,
    pub span: Span,
}

/// A menu command ready for the model.
#[derive(Clone, Debug)]
pub struct Invocation<'a> {
    pub path: &'a [String],
    pub verb: &'a str,
    pub args: Vec<EvalArg<'a>>,
    /// Items a `where` condition selected, for `print … where …`.
    pub matched: Option<Vec<u32>>,
    /// Run as a statement of its own, not inside `[ … ]`: what it prints is shown.
    pub top_level: bool,
    pub slash_form: bool,
    pub span: Span,
}

impl Invocation<'_> {
    pub fn menu(&self) -> String {
        self.path.join(" ")
    }

    pub fn arg(&self, key: &str) -> Option<&EvalArg<'_>> {
        self.args.iter().find(|a| a.key.as_deref() == Some(key))
    }
}

/// An item's properties as text, by name (the command tree's own names: no copy of them).
pub type Props = Vec<(std::borrow::Cow<'static, str>, String)>;

/// What a script's menu commands act on.
pub trait Menus {
    /// The items of a menu and their properties; `None` if the menu is not modeled.
    fn items(&self, menu: &str) -> Option<Vec<(u32, Props)>>;
    /// Runs a command; returns its value (the new item's id for `add`, a count, …).
    fn command(&mut self, inv: &Invocation) -> Result<Value, SourceError>;
    /// A line the script printed (`:put`), for models that show output as it comes.
    fn put(&mut self, _line: &str) {}
}

enum Unwind {
    Return(Value),
    /// `:error`, or a failed operation: caught by `:do … on-error=`.
    Raise(String, Span),
    /// The script cannot go on (budget spent, an undefined variable, a model error).
    Fatal(SourceError),
}

impl From<SourceError> for Unwind {
    fn from(e: SourceError) -> Unwind {
        Unwind::Fatal(e)
    }
}

type Flow<T> = Result<T, Unwind>;

pub struct Interpreter<'a, M: Menus> {
    file: &'a str,
    src: &'a str,
    pub menus: &'a mut M,
    scopes: Vec<Vec<(String, Value)>>,
    globals: Vec<(String, Value)>,
    /// The properties of the item a `find` condition is looking at.
    item: Option<Props>,
    /// How many `[ … ]` substitutions are being evaluated.
    nested: u32,
    steps: u64,
    /// Array elements copied so far (see [`COPY_BUDGET`]).
    copied: u64,
    depth: u32,
    /// What `:put` printed.
    pub output: Vec<String>,
    /// Variables as a real router's scripts use them, RouterOS 6's included: one no command
    /// declared reads as nothing, and `:set` of it declares it where it stands.
    pub undeclared_ok: bool,
    /// With `undeclared_ok`: the variables read that nothing declared, where first read.
    pub undeclared: Vec<(String, Span)>,
    /// A function went past [`MAX_DEPTH`] calls deep, or a string past [`MAX_TEXT`].
    runaway: bool,
    /// Global commands skipped because they reach outside the model, with where they were.
    pub skipped: Vec<(String, Span)>,
}

impl<'a, M: Menus> Interpreter<'a, M> {
    pub fn new(file: &'a str, src: &'a str, menus: &'a mut M) -> Self {
        Interpreter {
            file,
            src,
            menus,
            scopes: vec![Vec::new()],
            globals: Vec::new(),
            item: None,
            nested: 0,
            steps: 0,
            copied: 0,
            depth: 0,
            output: Vec::new(),
            undeclared_ok: false,
            undeclared: Vec::new(),
            runaway: false,
            skipped: Vec::new(),
        }
    }

    /// Runs statements at the top level.
    pub fn run(&mut self, stmts: &[Stmt]) -> Result<Value, SourceError> {
        self.top_level(stmts).map(|(value, _)| value)
    }

    /// Runs one top-level command of a script read a command at a time; `Ok(false)` when it
    /// ended the script (`:return`).
    pub fn run_command(&mut self, stmts: &[Stmt]) -> Result<bool, SourceError> {
        self.top_level(stmts).map(|(_, goes_on)| goes_on)
    }

    /// Statements at the top level: their value, and whether the script goes on after them.
    fn top_level(&mut self, stmts: &[Stmt]) -> Result<(Value, bool), SourceError> {
        match self.block(stmts) {
            Ok(v) => Ok((v, true)),
            Err(Unwind::Return(v)) => Ok((v, false)),
            Err(Unwind::Raise(msg, span)) => Err(self.error(span, format!("script error: {msg}"))),
            Err(Unwind::Fatal(e)) => Err(e),
        }
    }

    fn error(&self, span: Span, msg: impl Into<String>) -> SourceError {
        SourceError::new(self.file, self.src, span.0, span.1, msg)
    }

    fn step(&mut self, span: Span) -> Flow<()> {
        self.steps += 1;
        if self.steps > STEP_BUDGET {
            let msg = format!(
                "script stopped after {} steps (a loop that never ends?)",
                STEP_BUDGET
            );
            return Err(Unwind::Fatal(self.error(span, msg)));
        }
        Ok(())
    }

    fn block(&mut self, stmts: &[Stmt]) -> Flow<Value> {
        let mut last = Value::Nothing;
        for s in stmts {
            last = self.stmt(s)?;
        }
        Ok(last)
    }

    fn scoped(&mut self, stmts: &[Stmt]) -> Flow<Value> {
        self.scopes.push(Vec::new());
        let r = self.block(stmts);
        self.scopes.pop();
        r
    }

    fn stmt(&mut self, s: &Stmt) -> Flow<Value> {
        match s {
            Stmt::Block(b) => {
                self.step(span_of_stmt(s))?;
                self.scoped(b)
            }
            Stmt::Menu { span, .. } => {
                self.step(*span)?;
                Ok(Value::Nothing)
            }
            Stmt::Command(c) => {
                self.step(c.span)?;
                let args = self.eval_args(&c.args)?;
                if c.verb == "find" {
                    return Ok(Value::Array(
                        self.find(&c.menu(), c.condition.as_ref())?
                            .into_iter()
                            .map(|id| (None, Value::Id(id)))
                            .collect(),
                    ));
                }
                if c.verb == "get"
                    && let Some(items) = self.menus.items(&c.menu())
                {
                    return Ok(get(&items, &args));
                }
                let matched = match &c.condition {
                    Some(cond) => Some(self.find(&c.menu(), Some(cond))?),
                    None => None,
                };
                let inv = Invocation {
                    path: &c.path,
                    verb: &c.verb,
                    args,
                    matched,
                    top_level: self.nested == 0,
                    slash_form: c.slash_form,
                    span: c.span,
                };
                Ok(self.menus.command(&inv)?)
            }
            Stmt::Script { name, args, span } => {
                self.step(*span)?;
                self.script(name, args, *span)
            }
            Stmt::Call { func, args, span } => {
                self.step(*span)?;
                let f = self.eval(func)?;
                self.call(f, args, *span)
            }
        }
    }

    fn eval_args<'s>(&mut self, args: &'s [Arg]) -> Flow<Vec<EvalArg<'s>>> {
        args.iter()
            .map(|a| {
                Ok(EvalArg {
                    key: a.key.clone(),
                    text: match &a.value {
                        Expr::Word(w) => Value::word_text(w),
                        Expr::Str(parts) if let [StrPart::Lit(s)] = parts.as_slice() => s.into(),
                        other => self.eval(other)?.into_text().into(),
                    },
                    span: a.span,
                })
            })
            .collect()
    }

    /// Ids of the items of `menu` for which `cond` holds.
    fn find(&mut self, menu: &str, cond: Option<&Expr>) -> Flow<Vec<u32>> {
        let Some(items) = self.menus.items(menu) else {
            return Ok(Vec::new());
        };
        let mut ids = Vec::new();
        for (id, props) in items {
            let holds = match cond {
                None => true,
                Some(c) => {
                    let saved = self.item.replace(props);
                    let r = self.eval(c);
                    self.item = saved;
                    r?.truthy()
                }
            };
            if holds {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    fn call(&mut self, f: Value, args: &[Arg], span: Span) -> Flow<Value> {
        // `[( … )]` and `[$value]`: a value that is no function is the command's value.
        if args.is_empty() && !matches!(f, Value::Code(_)) {
            return Ok(f);
        }
        let mut frame = Vec::new();
        let mut positional = 0;
        for a in args {
            let v = self.eval(&a.value)?;
            match &a.key {
                Some(k) => frame.push((k.to_string(), v)),
                None => {
                    positional += 1;
                    frame.push((positional.to_string(), v));
                }
            }
        }
        self.call_with(f, frame, span)
    }

    /// Runs function `f` with its arguments (`$1`, `$2`, … and named ones) in `frame`.
    fn call_with(&mut self, f: Value, frame: Vec<(String, Value)>, span: Span) -> Flow<Value> {
        // `[[:parse "…"]]`: the inner substitution already ran the code; its value, nothing,
        // is run as a command too, which does nothing.
        if f == Value::Nothing {
            return Ok(Value::Nothing);
        }
        let Value::Code(body) = f else {
            return Err(Unwind::Raise(
                format!("a {} is not a function", f.type_name()),
                span,
            ));
        };
        if self.depth >= MAX_DEPTH {
            self.runaway = true;
            return Err(Unwind::Fatal(
                self.error(span, "functions call each other too deeply"),
            ));
        }
        // A function sees its arguments and the globals, not its caller's locals.
        let saved = std::mem::replace(&mut self.scopes, vec![frame]);
        self.depth += 1;
        let r = self.block(&body);
        self.depth -= 1;
        self.scopes = saved;
        match r {
            Ok(v) | Err(Unwind::Return(v)) => Ok(v),
            Err(e) => Err(e),
        }
    }

    /// Whether the script ran away (a loop that never ends, a function that calls itself
    /// for ever): that stops a load however lenient it is.
    pub fn ran_away(&self) -> bool {
        self.steps > STEP_BUDGET || self.copied > COPY_BUDGET || self.runaway
    }

    fn lookup(&mut self, name: &str, span: Span) -> Flow<Value> {
        let found = self
            .scopes
            .iter()
            .rev()
            .flat_map(|s| s.iter().rev())
            .chain(self.globals.iter().rev())
            .find(|(n, _)| n == name);
        match found.map(|(_, v)| v.clone()) {
            Some(v) => {
                if let Value::Array(items) = &v {
                    self.copied += items.len() as u64;
                    if self.copied > COPY_BUDGET {
                        let msg = format!(
                            "script stopped after copying {COPY_BUDGET} array elements (an array built element by element copies itself each time, in RouterOS too: build it with one :toarray, or keep it small)"
                        );
                        return Err(Unwind::Fatal(self.error(span, msg)));
                    }
                }
                Ok(v)
            }
            None if self.undeclared_ok => {
                if !self.undeclared.iter().any(|(n, _)| n == name) {
                    self.undeclared.push((name.to_string(), span));
                }
                Ok(Value::Nothing)
            }
            None => Err(Unwind::Fatal(self.error(
                span,
                format!("variable `${name}` is not defined (declare it with :local or :global)"),
            ))),
        }
    }

    fn assign(&mut self, name: &str, v: Value, span: Span) -> Flow<()> {
        for scope in self.scopes.iter_mut().rev() {
            if let Some(slot) = scope.iter_mut().rev().find(|(n, _)| n == name) {
                slot.1 = v;
                return Ok(());
            }
        }
        if let Some(slot) = self.globals.iter_mut().find(|(n, _)| n == name) {
            slot.1 = v;
            return Ok(());
        }
        if self.undeclared_ok {
            self.define_local(name.to_string(), v);
            return Ok(());
        }
        Err(Unwind::Fatal(self.error(
            span,
            format!("variable `${name}` is not defined (declare it with :local or :global)"),
        )))
    }

    /// Sets a variable before the script runs, as RouterOS does for the scripts it calls.
    pub fn define(&mut self, name: String, v: Value) {
        self.define_local(name, v);
    }

    fn define_local(&mut self, name: String, v: Value) {
        let scope = self.scopes.last_mut().expect("a scope is always open");
        scope.retain(|(n, _)| *n != name);
        scope.push((name, v));
    }

    fn eval(&mut self, e: &Expr) -> Flow<Value> {
        Ok(match e {
            Expr::Word(w) => Value::from_word(w),
            Expr::Str(parts) => {
                let mut s = String::new();
                for p in parts {
                    match p {
                        StrPart::Lit(l) => s.push_str(l),
                        StrPart::Var(n, span) => s.push_str(&self.lookup(n, *span)?.to_string()),
                        StrPart::Sub(st) => s.push_str(&self.substitute(st)?.to_string()),
                        StrPart::Expr(ex) => s.push_str(&self.eval(ex)?.to_string()),
                    }
                }
                Value::Str(s)
            }
            Expr::Var(n, span) => self.lookup(n, *span)?,
            Expr::Sub(st) => self.substitute(st)?,
            Expr::Array(items) => {
                let mut out = Vec::new();
                for (k, v) in items {
                    let key = match k {
                        Some(k) => Some(self.eval(k)?.to_string()),
                        None => None,
                    };
                    out.push((key, self.eval(v)?));
                }
                Value::array(out)
            }
            Expr::Code(body) => Value::Code(Arc::new(body.clone())),
            Expr::Prop(name) => match &self.item {
                Some(props) => props
                    .iter()
                    .find(|(k, _)| k == name)
                    .map_or(Value::Nothing, |(_, v)| Value::from_word(v)),
                None => Value::Str(name.clone()),
            },
            Expr::Concat(parts) => {
                let mut s = String::new();
                for p in parts {
                    s.push_str(&self.eval(p)?.to_string());
                }
                Value::from_word(&s)
            }
            Expr::Unary(op, inner, span) => {
                let v = self.eval(inner)?;
                match op {
                    UnOp::Not => Value::Bool(!v.truthy()),
                    UnOp::Code => v,
                    UnOp::Neg => match v {
                        Value::Num(n) => Value::Num(n.wrapping_neg()),
                        other => {
                            return Err(Unwind::Raise(
                                format!("cannot negate a {}", other.type_name()),
                                *span,
                            ));
                        }
                    },
                    UnOp::BitNot => match v {
                        Value::Num(n) => Value::Num(!n),
                        Value::Ip(ip) => Value::Ip((!u32::from(ip)).into()),
                        other => {
                            return Err(Unwind::Raise(
                                format!("cannot invert a {}", other.type_name()),
                                *span,
                            ));
                        }
                    },
                }
            }
            Expr::Binary(op, l, r, span) => self.binary(*op, l, r, *span)?,
        })
    }

    fn binary(&mut self, op: BinOp, l: &Expr, r: &Expr, span: Span) -> Flow<Value> {
        // Logical operators look at their right side only when needed.
        match op {
            BinOp::And => {
                return Ok(Value::Bool(
                    self.eval(l)?.truthy() && self.eval(r)?.truthy(),
                ));
            }
            BinOp::Or => {
                return Ok(Value::Bool(
                    self.eval(l)?.truthy() || self.eval(r)?.truthy(),
                ));
            }
            BinOp::Apply => {
                let f = self.eval(l)?;
                let arg = self.eval(r)?;
                return self.call_with(f, vec![("1".to_string(), arg)], span);
            }
            _ => {}
        }
        let a = self.eval(l)?;
        let b = self.eval(r)?;
        let value = binary_values(op, a, b);
        // Concatenation fails only on a string past MAX_TEXT: a script that runs away.
        self.runaway |= value.is_err() && op == BinOp::Concat;
        value.map_err(|msg| Unwind::Raise(msg, span))
    }

    /// The value of a command inside `[ … ]`.
    fn substitute(&mut self, st: &Stmt) -> Flow<Value> {
        self.nested += 1;
        let r = self.stmt(st);
        self.nested -= 1;
        r
    }

    fn positional<'x>(&self, args: &'x [Arg], n: usize) -> Option<&'x Arg> {
        args.iter().filter(|a| a.key.is_none()).nth(n)
    }

    fn keyed<'x>(&self, args: &'x [Arg], key: &str) -> Option<&'x Arg> {
        args.iter().find(|a| a.key.as_deref() == Some(key))
    }

    /// The name a `:local`, `:for` or `:foreach` declares: a bare word, not a value.
    fn name_of(&self, args: &[Arg], span: Span) -> Flow<String> {
        match self.positional(args, 0).map(|a| &a.value) {
            Some(Expr::Word(w)) if !w.is_empty() => Ok(w.clone()),
            // `:set $x 1`, as scripts for RouterOS 6 write it.
            Some(Expr::Var(name, _)) => Ok(name.clone()),
            Some(Expr::Str(parts)) if parts.len() == 1 => match &parts[0] {
                StrPart::Lit(s) => Ok(s.clone()),
                _ => Err(Unwind::Fatal(self.error(span, "expected a variable name"))),
            },
            _ => Err(Unwind::Fatal(self.error(span, "expected a variable name"))),
        }
    }

    fn code_arg(&mut self, a: Option<&Arg>) -> Flow<Option<Arc<Vec<Stmt>>>> {
        match a {
            None => Ok(None),
            Some(a) => match self.eval(&a.value)? {
                Value::Code(c) => Ok(Some(c)),
                Value::Nothing => Ok(None),
                other => Err(Unwind::Raise(
                    format!("expected a code block {{ … }}, got a {}", other.type_name()),
                    a.span,
                )),
            },
        }
    }

    fn value_arg(&mut self, a: Option<&Arg>) -> Flow<Value> {
        match a {
            Some(a) => self.eval(&a.value),
            None => Ok(Value::Nothing),
        }
    }

    fn script(&mut self, name: &str, args: &[Arg], span: Span) -> Flow<Value> {
        match name {
            "local" | "global" => {
                let var = self.name_of(args, span)?;
                // `:local f do={ … }` declares a function.
                let v = self.value_arg(self.positional(args, 1).or(self.keyed(args, "do")))?;
                if name == "local" {
                    self.define_local(var, v);
                } else {
                    self.globals.retain(|(n, _)| *n != var);
                    self.globals.push((var, v));
                }
                Ok(Value::Nothing)
            }
            "set" => {
                let var = self.name_of(args, span)?;
                let v = self.value_arg(self.positional(args, 1).or(self.keyed(args, "do")))?;
                self.assign(&var, v, span)?;
                Ok(Value::Nothing)
            }
            "put" => {
                let v = self.value_arg(self.positional(args, 0))?.to_string();
                self.menus.put(&v);
                self.output.push(v);
                Ok(Value::Nothing)
            }
            "log" | "delay" | "beep" | "nothing" => {
                for a in args {
                    self.eval(&a.value)?;
                }
                Ok(Value::Nothing)
            }
            "if" => {
                let cond = self.value_arg(self.positional(args, 0))?;
                let branch = if cond.truthy() {
                    self.keyed(args, "do")
                } else {
                    self.keyed(args, "else")
                };
                match self.code_arg(branch)? {
                    Some(code) => self.scoped(&code),
                    None => Ok(Value::Nothing),
                }
            }
            "while" => {
                let body = self.code_arg(self.keyed(args, "do"))?;
                while self.value_arg(self.positional(args, 0))?.truthy() {
                    self.step(span)?;
                    if let Some(b) = &body {
                        self.scoped(b)?;
                    }
                }
                Ok(Value::Nothing)
            }
            "do" => {
                let body = self
                    .code_arg(self.positional(args, 0).or(self.keyed(args, "command")))?
                    .unwrap_or_default();
                let on_error = self.code_arg(self.keyed(args, "on-error"))?;
                loop {
                    self.step(span)?;
                    match self.scoped(&body) {
                        Err(Unwind::Raise(..)) if on_error.is_some() => {
                            let handler = on_error.clone().expect("checked");
                            return self.scoped(&handler);
                        }
                        r => {
                            r?;
                        }
                    }
                    match self.keyed(args, "while") {
                        Some(w) if self.eval(&w.value)?.truthy() => continue,
                        _ => return Ok(Value::Nothing),
                    }
                }
            }
            "for" => self.for_loop(args, span),
            "foreach" => self.foreach(args, span),
            "return" => Err(Unwind::Return(self.value_arg(self.positional(args, 0))?)),
            "error" => {
                let msg = self.value_arg(self.positional(args, 0))?;
                Err(Unwind::Raise(msg.to_string(), span))
            }
            "parse" => {
                let text = self.value_arg(self.positional(args, 0))?.to_string();
                let parsed = if self.undeclared_ok {
                    super::parse::parse_any(self.file, &text)
                } else {
                    super::parse::parse(self.file, &text)
                };
                match parsed {
                    Ok(script) => Ok(Value::Code(Arc::new(script.stmts))),
                    Err(e) => Err(Unwind::Raise(format!("cannot parse: {}", e.message), span)),
                }
            }
            "resolve" => {
                let name = self.value_arg(self.positional(args, 0))?.to_string();
                Ok(Value::Ip(resolve(&name)))
            }
            "typeof" => Ok(Value::Str(
                self.value_arg(self.positional(args, 0))?.type_name().into(),
            )),
            "len" => Ok(Value::Num(
                match self.value_arg(self.positional(args, 0))? {
                    Value::Array(a) => a.len() as i64,
                    Value::Nothing => 0,
                    v => v.to_string().chars().count() as i64,
                },
            )),
            "tostr" => Ok(Value::Str(
                self.value_arg(self.positional(args, 0))?.to_string(),
            )),
            "tonum" => Ok(self
                .value_arg(self.positional(args, 0))?
                .as_num()
                .map_or(Value::Nothing, Value::Num)),
            "tobool" => Ok(Value::Bool(
                self.value_arg(self.positional(args, 0))?.truthy(),
            )),
            "toip" | "totime" => {
                let v = Value::from_word(&self.value_arg(self.positional(args, 0))?.to_string());
                let want = if name == "toip" { "ip" } else { "time" };
                Ok(if v.type_name() == want {
                    v
                } else {
                    Value::Nothing
                })
            }
            "toarray" => Ok(match self.value_arg(self.positional(args, 0))? {
                Value::Array(a) => Value::Array(a),
                Value::Nothing => Value::Array(Vec::new()),
                v => Value::Array(
                    v.to_string()
                        .split(',')
                        .map(|s| (None, Value::from_word(s)))
                        .collect(),
                ),
            }),
            "pick" => {
                let v = self.value_arg(self.positional(args, 0))?;
                let from = self
                    .value_arg(self.positional(args, 1))?
                    .as_num()
                    .unwrap_or(0)
                    .max(0) as usize;
                let to = self
                    .value_arg(self.positional(args, 2))?
                    .as_num()
                    .map(|n| n.max(0) as usize);
                Ok(pick(v, from, to))
            }
            "find" => {
                let v = self.value_arg(self.positional(args, 0))?;
                let needle = self.value_arg(self.positional(args, 1))?;
                let from = self
                    .value_arg(self.positional(args, 2))?
                    .as_num()
                    .map_or(0, |n| (n + 1).max(0) as usize);
                Ok(find_in(&v, &needle, from))
            }
            "execute" | "environment" | "terminal" | "time" | "timestamp" | "jobname" | "retry"
            | "rndnum" | "rndstr" | "serialize" | "deserialize" | "convert" | "onerror" => {
                self.skipped.push((format!(":{name}"), span));
                Ok(Value::Nothing)
            }
            other => Err(Unwind::Fatal(
                self.error(span, format!("`:{other}` is not a RouterOS command")),
            )),
        }
    }

    fn for_loop(&mut self, args: &[Arg], span: Span) -> Flow<Value> {
        let var = self.name_of(args, span)?;
        let num = |me: &mut Self, key: &str| -> Flow<Option<i64>> {
            match me.keyed(args, key) {
                Some(a) => match me.eval(&a.value)?.as_num() {
                    Some(n) => Ok(Some(n)),
                    None => Err(Unwind::Raise(format!("{key}= must be a number"), a.span)),
                },
                None => Ok(None),
            }
        };
        let from = num(self, "from")?.unwrap_or(0);
        let to = num(self, "to")?.unwrap_or(from);
        let step = num(self, "step")?.unwrap_or(if to >= from { 1 } else { -1 });
        if step == 0 {
            return Err(Unwind::Raise("step=0 never ends".into(), span));
        }
        let body = self.code_arg(self.keyed(args, "do"))?.unwrap_or_default();
        let mut i = from;
        while (step > 0 && i <= to) || (step < 0 && i >= to) {
            self.step(span)?;
            self.scopes.push(vec![(var.clone(), Value::Num(i))]);
            let r = self.block(&body);
            self.scopes.pop();
            r?;
            i += step;
        }
        Ok(Value::Nothing)
    }

    fn foreach(&mut self, args: &[Arg], span: Span) -> Flow<Value> {
        let names = self.name_of(args, span)?;
        let (key_name, value_name) = match names.split_once(',') {
            Some((k, v)) => (Some(k.to_string()), v.to_string()),
            None => (None, names),
        };
        let items = self.value_arg(self.keyed(args, "in"))?.elements();
        let body = self.code_arg(self.keyed(args, "do"))?.unwrap_or_default();
        for (i, (k, v)) in items.into_iter().enumerate() {
            self.step(span)?;
            let mut scope = vec![(value_name.clone(), v)];
            if let Some(kn) = &key_name {
                let key = k.map_or(Value::Num(i as i64), Value::Str);
                scope.push((kn.clone(), key));
            }
            self.scopes.push(scope);
            let r = self.block(&body);
            self.scopes.pop();
            r?;
        }
        Ok(Value::Nothing)
    }
}

fn span_of_stmt(s: &Stmt) -> Span {
    match s {
        Stmt::Command(c) => c.span,
        Stmt::Menu { span, .. } | Stmt::Script { span, .. } | Stmt::Call { span, .. } => *span,
        Stmt::Block(b) => b.first().map_or((0, 0), span_of_stmt),
    }
}

fn pick(v: Value, from: usize, to: Option<usize>) -> Value {
    match v {
        Value::Array(items) => {
            let to = to.unwrap_or(from + 1).min(items.len());
            if from >= to {
                return Value::Nothing;
            }
            if to == from + 1 {
                return items[from].1.clone();
            }
            Value::Array(items[from..to].to_vec())
        }
        v => {
            let s: Vec<char> = v.to_string().chars().collect();
            let to = to.unwrap_or(from + 1).min(s.len());
            if from >= to {
                return Value::Str(String::new());
            }
            Value::Str(s[from..to].iter().collect())
        }
    }
}

/// `get ITEM [PROPERTY]` (or `number=`, `value-name=`): the property's value, or all of the
/// item's properties as an array; nothing for an item that is not there. The item is an id
/// (`*3`, what `find` gives) or a number as `print` shows them.
fn get(items: &[(u32, Props)], args: &[EvalArg<'_>]) -> Value {
    let named = |key: &str| args.iter().find(|a| a.key.as_deref() == Some(key));
    let mut positional = args.iter().filter(|a| a.key.is_none());
    let Some(which) = named("number").or_else(|| positional.next()) else {
        return Value::Nothing;
    };
    let property = named("value-name").or_else(|| positional.next());
    let first = which.text.split(';').next().unwrap_or_default();
    let item = match Value::from_word(first) {
        Value::Id(id) => items.iter().find(|(i, _)| *i == id),
        Value::Num(n) if n >= 0 => items.get(n as usize),
        _ => None,
    };
    let Some((_, props)) = item else {
        return Value::Nothing;
    };
    match property {
        Some(p) => props
            .iter()
            .find(|(k, _)| *k == p.text)
            .map_or(Value::Nothing, |(_, v)| Value::from_word(v)),
        None => Value::Array(
            props
                .iter()
                .map(|(k, v)| (Some(k.to_string()), Value::from_word(v)))
                .collect(),
        ),
    }
}

fn find_in(v: &Value, needle: &Value, from: usize) -> Value {
    match v {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .skip(from)
            .find(|(_, (_, x))| x.to_string() == needle.to_string())
            .map_or(Value::Nothing, |(i, _)| Value::Num(i as i64)),
        v => {
            let s = v.to_string();
            let n = needle.to_string();
            let start = s.char_indices().nth(from).map_or(s.len(), |(i, _)| i);
            s[start..].find(&n).map_or(Value::Nothing, |at| {
                Value::Num((s[..start + at].chars().count()) as i64)
            })
        }
    }
}

/// Applies a binary operator to two values, as RouterOS's expression evaluator does.
pub fn binary_values(op: BinOp, a: Value, b: Value) -> Result<Value, String> {
    use Value::*;
    let type_error = |a: &Value, b: &Value| {
        format!(
            "cannot apply {op:?} to a {} and a {}",
            a.type_name(),
            b.type_name()
        )
    };
    Ok(match op {
        BinOp::Apply => return Err("a function call needs the script's state".to_string()),
        BinOp::Comma => {
            let mut items = match a {
                Array(items) => items,
                other => vec![(None, other)],
            };
            match b {
                Array(more) => items.extend(more),
                other => items.push((None, other)),
            }
            Array(items)
        }
        BinOp::Concat => {
            let s = format!("{a}{b}");
            if s.len() > MAX_TEXT {
                return Err("string too long (16 MiB at most)".into());
            }
            Str(s)
        }
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => match (&a, &b) {
            (Time(x), Time(y)) => match op {
                BinOp::Add => Time(x.saturating_add(*y)),
                BinOp::Sub => Time(x.saturating_sub(*y)),
                _ => return Err(type_error(&a, &b)),
            },
            (Time(x), _) if b.as_num().is_some() => {
                let n = b.as_num().unwrap_or(1).max(0) as u64;
                match op {
                    BinOp::Mul => Time(x.saturating_mul(n)),
                    BinOp::Div if n > 0 => Time(x / n),
                    _ => return Err(type_error(&a, &b)),
                }
            }
            (Ip(x), Ip(y)) if op == BinOp::Sub => Num(u32::from(*x) as i64 - u32::from(*y) as i64),
            (Ip(x), _) if b.as_num().is_some() => {
                let n = b.as_num().unwrap_or(0);
                let base = u32::from(*x) as i64;
                let r = if op == BinOp::Add {
                    base + n
                } else if op == BinOp::Sub {
                    base - n
                } else {
                    return Err(type_error(&a, &b));
                };
                Ip((r as u32).into())
            }
            _ => {
                let (Some(x), Some(y)) = (a.as_num(), b.as_num()) else {
                    return Err(type_error(&a, &b));
                };
                match op {
                    BinOp::Add => Num(x.wrapping_add(y)),
                    BinOp::Sub => Num(x.wrapping_sub(y)),
                    BinOp::Mul => Num(x.wrapping_mul(y)),
                    _ if y == 0 => return Err("division by zero".into()),
                    BinOp::Div => Num(x.wrapping_div(y)),
                    _ => Num(x.wrapping_rem(y)),
                }
            }
        },
        BinOp::Eq => Bool(equal(&a, &b)),
        BinOp::Ne => Bool(!equal(&a, &b)),
        BinOp::Lt | BinOp::Gt | BinOp::Le | BinOp::Ge => {
            let ord = compare(&a, &b).ok_or_else(|| type_error(&a, &b))?;
            Bool(match op {
                BinOp::Lt => ord.is_lt(),
                BinOp::Gt => ord.is_gt(),
                BinOp::Le => ord.is_le(),
                _ => ord.is_ge(),
            })
        }
        BinOp::In => Bool(match (&a, &b) {
            (Ip(ip), Prefix(net, len)) => {
                let mask = crate::router::routing::prefix_mask(*len);
                u32::from(*ip) & mask == u32::from(*net) & mask
            }
            (_, Array(items)) => items.iter().any(|(_, v)| equal(v, &a)),
            _ => b.to_string().contains(&a.to_string()),
        }),
        BinOp::Regex => {
            let re = regex_lite::Regex::new(&b.to_string())
                .map_err(|e| format!("bad regular expression: {e}"))?;
            Bool(re.is_match(&a.to_string()))
        }
        BinOp::Index => match a {
            Array(items) => {
                let key = b.to_string();
                let by_key = items
                    .iter()
                    .find(|(k, _)| k.as_deref() == Some(key.as_str()));
                match (by_key, b.as_num()) {
                    (Some((_, v)), _) => v.clone(),
                    (None, Some(i)) if i >= 0 => {
                        items.get(i as usize).map_or(Nothing, |(_, v)| v.clone())
                    }
                    _ => Nothing,
                }
            }
            // An element of nothing is nothing, as RouterOS reads `$unset->"key"`.
            Nothing => Nothing,
            _ => return Err(type_error(&a, &b)),
        },
        BinOp::BitAnd | BinOp::BitOr | BinOp::BitXor | BinOp::Shl | BinOp::Shr => {
            let (x, y) = match (&a, &b) {
                (Ip(x), Ip(y)) => (u32::from(*x) as i64, u32::from(*y) as i64),
                _ => (
                    a.as_num().ok_or_else(|| type_error(&a, &b))?,
                    b.as_num().ok_or_else(|| type_error(&a, &b))?,
                ),
            };
            let r = match op {
                BinOp::BitAnd => x & y,
                BinOp::BitOr => x | y,
                BinOp::BitXor => x ^ y,
                BinOp::Shl => x.wrapping_shl(y as u32),
                _ => x.wrapping_shr(y as u32),
            };
            if matches!(a, Ip(_)) {
                Ip((r as u32).into())
            } else {
                Num(r)
            }
        }
        BinOp::And | BinOp::Or => unreachable!("handled before the operands are evaluated"),
    })
}

fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Num(x), Value::Num(y)) => x == y,
        (Value::Bool(x), y) | (y, Value::Bool(x)) => {
            *x == y.truthy() && matches!(y, Value::Bool(_) | Value::Str(_))
        }
        _ => a.to_string() == b.to_string(),
    }
}

fn compare(a: &Value, b: &Value) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Value::Time(x), Value::Time(y)) => Some(x.cmp(y)),
        (Value::Ip(x), Value::Ip(y)) => Some(x.cmp(y)),
        (Value::Str(x), Value::Str(y)) => Some(x.cmp(y)),
        _ => Some(a.as_num()?.cmp(&b.as_num()?)),
    }
}

/// What `:resolve` answers: an address is itself; a name gets an address of the simulated
/// internet, in 198.18.0.0/15 (the range set aside for benchmarks), the same for the same name
/// on every run — scripts that route or ping what they resolve then have somewhere to go.
fn resolve(name: &str) -> std::net::Ipv4Addr {
    if let Ok(ip) = name.parse() {
        return ip;
    }
    let hash = name.bytes().fold(0x811c_9dc5u32, |h, b| {
        (h ^ b as u32).wrapping_mul(0x0100_0193)
    });
    let host = 1 + hash % ((1 << 17) - 2);
    std::net::Ipv4Addr::from(u32::from(std::net::Ipv4Addr::new(198, 18, 0, 0)) + host)
}
