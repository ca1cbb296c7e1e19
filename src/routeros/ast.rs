//! The syntax tree of a RouterOS script. Every node that can fail at run time keeps the byte span
//! of its source, so an error names the line and column of what went wrong.

pub type Span = (usize, usize);

/// A menu's path, e.g. `["ip", "firewall", "mangle"]`: shared by the commands under one
/// context line rather than copied into each.
pub type MenuPath = std::sync::Arc<Vec<String>>;

#[derive(Clone, Debug, PartialEq)]
pub enum Stmt {
    /// A menu command: `/ip firewall mangle add chain=prerouting …`.
    Command(Command),
    /// A line that only changes the current menu (`/ip firewall mangle`).
    Menu {
        path: MenuPath,
        span: Span,
    },
    /// A global command: `:local`, `:if`, `:for`, `:put`, …
    Script {
        name: String,
        args: Vec<Arg>,
        span: Span,
    },
    /// Calling a function held in a variable: `$f a=1 b=2`.
    Call {
        func: Expr,
        args: Vec<Arg>,
        span: Span,
    },
    Block(Vec<Stmt>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    /// The menu, e.g. `["ip", "firewall", "mangle"]`.
    pub path: MenuPath,
    /// `add`, `set`, `find`, `print`, … (RouterOS's own name, shared, when the tree has it).
    pub verb: std::borrow::Cow<'static, str>,
    pub args: Vec<Arg>,
    /// `find …` and `print … where …` conditions.
    pub condition: Option<Expr>,
    /// The path was written with slashes between words (a v7 habit).
    pub slash_form: bool,
    pub span: Span,
}

impl Command {
    pub fn menu(&self) -> String {
        self.path.join(" ")
    }

    pub fn arg(&self, key: &str) -> Option<&Arg> {
        self.args.iter().find(|a| a.key.as_deref() == Some(key))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    /// `None` for a positional argument (`set ether1 …`, `remove 0`, a flag such as `fib`).
    /// RouterOS's own name, shared, when the command tree has it.
    pub key: Option<std::borrow::Cow<'static, str>>,
    pub value: Expr,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// A bare word: `prerouting`, `10.0.0.0/24`, `yes`, `!local`, `10s`.
    Word(String),
    /// A quoted string, its `$var`, `$[…]` and `$(…)` parts still to be filled in.
    Str(Vec<StrPart>),
    Var(String, Span),
    /// `[ command ]` or `$[ command ]`: the command's value.
    Sub(Box<Stmt>),
    /// `{ a; b }` or `{ "k"=v }`.
    Array(Vec<(Option<Expr>, Expr)>),
    /// A code block given as a value: `do={ … }`.
    Code(Vec<Stmt>),
    Unary(UnOp, Box<Expr>, Span),
    Binary(BinOp, Box<Expr>, Box<Expr>, Span),
    /// A property of the item a `find` or `where` condition is looking at.
    Prop(String),
    /// Several parts written without space between them: their texts joined.
    Concat(Vec<Expr>),
}

#[derive(Clone, Debug, PartialEq)]
pub enum StrPart {
    Lit(String),
    Var(String, Span),
    Sub(Box<Stmt>),
    Expr(Box<Expr>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnOp {
    Not,
    Neg,
    BitNot,
    /// `>x`: `x` as code, not run.
    Code,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Concat,
    Lt,
    Gt,
    Le,
    Ge,
    Eq,
    Ne,
    And,
    Or,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
    In,
    Regex,
    /// `$array->key`
    Index,
    /// `(a,b)`: an array of both (an array operand gives its items).
    Comma,
    /// `$f <%% args`: the value of calling `$f` with `args`.
    Apply,
}
