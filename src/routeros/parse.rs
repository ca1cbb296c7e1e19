//! Turns tokens into commands: a menu path, a verb and arguments, each with its span.
//!
//! Paths come as a prefix (`/ip firewall mangle add …`), in slash form (`/ip/firewall/mangle/add`)
//! or as a context line followed by commands (as `/export` writes them). Which words belong to the
//! path is decided by the menu tree in [`MENUS`], as RouterOS's own console does. `:local`,
//! `:global` and `:set` bind variables that later `$name`s read; `:put` and `:log` print nothing
//! here. The rest of the scripting language (`:if`, `:for`, functions, `{ }` blocks) is the
//! business of the full interpreter and is reported, with its position, as not yet read.

use super::lexer::{Kind, Token, tokenize};
use crate::error::SourceError;

/// Menus RouterOS has, as paths; a word extends the path while the result is a prefix of one.
pub const MENUS: &[&str] = &[
    "interface",
    "interface ethernet",
    "interface list",
    "interface list member",
    "interface bridge",
    "interface bridge port",
    "interface vlan",
    "interface pppoe-client",
    "interface lte",
    "interface wireless",
    "ip address",
    "ip route",
    "ip route rule",
    "ip dns",
    "ip dns static",
    "ip pool",
    "ip dhcp-client",
    "ip dhcp-server",
    "ip dhcp-server network",
    "ip dhcp-server lease",
    "ip firewall mangle",
    "ip firewall nat",
    "ip firewall filter",
    "ip firewall raw",
    "ip firewall address-list",
    "ip firewall connection",
    "ip firewall connection tracking",
    "ip firewall service-port",
    "ip service",
    "ip settings",
    "ip neighbor discovery-settings",
    "routing table",
    "routing rule",
    "tool netwatch",
    "tool e-mail",
    "tool graphing interface",
    "tool sniffer",
    "tool sniffer packet",
    "tool romon",
    "system script",
    "system scheduler",
    "system backup",
    "system identity",
    "system clock",
    "system ntp client",
    "system logging",
    "system package",
    "snmp",
    "snmp community",
    "user",
    "queue simple",
    "queue tree",
    "queue type",
    "file",
    "log",
];

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Text(String),
    /// `[ find … ]` (or `[ find where … ]`): the items matching every condition.
    Find(Vec<Condition>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub key: String,
    pub op: Op,
    pub value: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Eq,
    NotEq,
    /// Regular expression match.
    Tilde,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    /// `None` for a positional argument (`set ether1 …`, `remove 0`, a flag such as `fib`).
    pub key: Option<String>,
    pub value: Value,
    pub start: usize,
    pub end: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Command {
    /// The menu, e.g. `["ip", "firewall", "mangle"]`.
    pub path: Vec<String>,
    /// `add`, `set`, `remove`, …; empty for a line that only changes the current menu.
    pub verb: String,
    pub args: Vec<Arg>,
    pub start: usize,
    pub end: usize,
    /// The path was written with slashes between words (a v7 habit).
    pub slash_form: bool,
}

impl Command {
    pub fn menu(&self) -> String {
        self.path.join(" ")
    }

    pub fn arg(&self, key: &str) -> Option<&Arg> {
        self.args.iter().find(|a| a.key.as_deref() == Some(key))
    }
}

/// A parsed script: its commands in order.
#[derive(Clone, Debug, Default)]
pub struct Script {
    pub commands: Vec<Command>,
}

pub fn parse(file: &str, src: &str) -> Result<Script, SourceError> {
    let tokens = tokenize(file, src)?;
    let mut p = Parser {
        file,
        src,
        tokens: &tokens,
        pos: 0,
        context: Vec::new(),
        vars: Vec::new(),
        commands: Vec::new(),
    };
    p.script()?;
    Ok(Script {
        commands: p.commands,
    })
}

struct Parser<'a> {
    file: &'a str,
    src: &'a str,
    tokens: &'a [Token],
    pos: usize,
    context: Vec<String>,
    vars: Vec<(String, String)>,
    commands: Vec<Command>,
}

fn is_menu_prefix(path: &[String]) -> bool {
    let joined = path.join(" ");
    MENUS
        .iter()
        .any(|m| *m == joined || m.starts_with(&format!("{joined} ")))
}

impl Parser<'_> {
    fn error(&self, start: usize, end: usize, msg: impl Into<String>) -> SourceError {
        SourceError::new(self.file, self.src, start, end, msg)
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn at_end_of_command(&self) -> bool {
        self.peek().is_none_or(|t| t.kind == Kind::End)
    }

    fn script(&mut self) -> Result<(), SourceError> {
        while let Some(tok) = self.peek() {
            if tok.kind == Kind::End {
                self.pos += 1;
                continue;
            }
            self.statement()?;
            if let Some(t) = self.peek().filter(|t| t.kind != Kind::End) {
                return Err(self.error(t.start, t.end, "expected end of command"));
            }
        }
        Ok(())
    }

    fn statement(&mut self) -> Result<(), SourceError> {
        let tok = self.peek().expect("statement starts at a token").clone();
        match tok.kind {
            Kind::Word if tok.text.starts_with(':') => self.script_command(),
            Kind::Word => self.command(),
            Kind::LBrace | Kind::LParen | Kind::LBracket => Err(self.error(
                tok.start,
                tok.end,
                "blocks and expressions at the top level are not read yet (scripting, issue #3)",
            )),
            _ => Err(self.error(tok.start, tok.end, "expected a command")),
        }
    }

    fn command(&mut self) -> Result<(), SourceError> {
        let first = self.tokens[self.pos].clone();
        let mut path = self.context.clone();
        let mut verb = String::new();
        let mut slash_form = false;
        if first.text.starts_with('/') {
            path.clear();
            self.pos += 1;
            let parts: Vec<&str> = first.text.split('/').filter(|s| !s.is_empty()).collect();
            slash_form = parts.len() > 1;
            for (i, part) in parts.iter().enumerate() {
                if part.contains('=') {
                    return Err(self.error(first.start, first.end, "expected a menu path"));
                }
                path.push(part.to_string());
                if !is_menu_prefix(&path) {
                    path.pop();
                    if i + 1 != parts.len() {
                        let msg = format!("no such menu or command `{part}`");
                        return Err(self.error(first.start, first.end, msg));
                    }
                    verb = part.to_string();
                }
            }
        }
        // Words that extend the menu path, then the verb.
        while verb.is_empty() && !self.at_end_of_command() {
            let t = self.tokens[self.pos].clone();
            if t.kind != Kind::Word || t.text.contains('=') || t.text.starts_with('$') {
                break;
            }
            if t.text == ".." {
                path.pop();
                self.pos += 1;
                continue;
            }
            path.push(t.text.clone());
            self.pos += 1;
            if !is_menu_prefix(&path) {
                path.pop();
                verb = t.text;
            }
        }
        let args = self.args()?;
        let end = self.tokens[self.pos.saturating_sub(1)].end;
        if verb.is_empty() && args.is_empty() {
            self.context = path;
            return Ok(());
        }
        if path.is_empty() {
            let msg = format!(
                "`{}` is not a command here (expected a menu such as /ip route)",
                first.text
            );
            return Err(self.error(first.start, first.end, msg));
        }
        self.commands.push(Command {
            path,
            verb,
            args,
            start: first.start,
            end,
            slash_form,
        });
        Ok(())
    }

    fn args(&mut self) -> Result<Vec<Arg>, SourceError> {
        let mut args = Vec::new();
        while !self.at_end_of_command() {
            if self.tokens[self.pos].kind == Kind::RBracket {
                break;
            }
            args.push(self.arg()?);
        }
        Ok(args)
    }

    /// One argument: a run of tokens with no white space between them.
    fn arg(&mut self) -> Result<Arg, SourceError> {
        let start = self.tokens[self.pos].start;
        let first = self.tokens[self.pos].clone();
        if first.kind == Kind::LBracket {
            let value = self.bracket()?;
            let end = self.tokens[self.pos - 1].end;
            return Ok(Arg {
                key: None,
                value,
                start,
                end,
            });
        }
        let (key, mut text) = match first.kind {
            Kind::Word => match first.text.split_once('=') {
                Some((k, v)) if !k.is_empty() => (Some(k.to_string()), self.substitute(v, &first)?),
                _ => (None, self.substitute(&first.text, &first)?),
            },
            Kind::Str => (None, first.text.clone()),
            _ => return Err(self.error(first.start, first.end, "expected an argument")),
        };
        self.pos += 1;
        let mut value = None;
        while let Some(t) = self
            .peek()
            .filter(|t| t.glued && t.kind != Kind::End)
            .cloned()
        {
            match t.kind {
                Kind::Str => text.push_str(&t.text),
                Kind::Word => text.push_str(&self.substitute(&t.text, &t)?),
                Kind::LBracket => {
                    value = Some(self.bracket()?);
                    continue;
                }
                _ => break,
            }
            self.pos += 1;
        }
        Ok(Arg {
            key,
            value: value.unwrap_or(Value::Text(text)),
            start,
            end: self.tokens[self.pos - 1].end,
        })
    }

    /// `[ find cond … ]` or `[ /menu find … ]`; other commands in brackets are not read yet.
    fn bracket(&mut self) -> Result<Value, SourceError> {
        let open = self.tokens[self.pos].clone();
        self.pos += 1;
        let mut conds = Vec::new();
        let mut saw_find = false;
        loop {
            let Some(t) = self.peek().cloned() else {
                return Err(self.error(open.start, open.end, "this `[` is never closed"));
            };
            self.pos += 1;
            match t.kind {
                Kind::RBracket => break,
                Kind::End => continue,
                Kind::Word if t.text == "find" => saw_find = true,
                Kind::Word if t.text == "where" && saw_find => {}
                Kind::Word if saw_find => conds.push(self.condition(&t)?),
                _ if !saw_find && t.kind == Kind::Word && t.text.starts_with('/') => {}
                _ => {
                    let msg = "only `[ find … ]` is read inside brackets yet (scripting, issue #3)";
                    return Err(self.error(t.start, t.end, msg));
                }
            }
        }
        if !saw_find {
            return Err(self.error(open.start, open.end, "expected `find` inside `[ ]`"));
        }
        Ok(Value::Find(conds))
    }

    fn condition(&mut self, t: &Token) -> Result<Condition, SourceError> {
        let text = &t.text;
        let (key, op, rest) = if let Some((k, v)) = text.split_once("!=") {
            (k, Op::NotEq, v)
        } else if let Some((k, v)) = text.split_once('~') {
            (k, Op::Tilde, v)
        } else if let Some((k, v)) = text.split_once('=') {
            (k, Op::Eq, v)
        } else {
            return Err(self.error(
                t.start,
                t.end,
                "expected a condition such as comment~\"PCC\"",
            ));
        };
        let mut value = self.substitute(rest, t)?;
        while let Some(next) = self.peek().filter(|n| n.glued && n.kind == Kind::Str) {
            value.push_str(&next.text);
            self.pos += 1;
        }
        Ok(Condition {
            key: key.to_string(),
            op,
            value,
        })
    }

    /// Replaces `$name` in a bare word with the variable's value.
    fn substitute(&self, text: &str, tok: &Token) -> Result<String, SourceError> {
        let Some(dollar) = text.find('$') else {
            return Ok(text.to_string());
        };
        let name_len = text[dollar + 1..]
            .find(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(text.len() - dollar - 1);
        let name = &text[dollar + 1..dollar + 1 + name_len];
        let Some((_, value)) = self.vars.iter().rev().find(|(n, _)| n == name) else {
            let msg =
                format!("variable `${name}` is not defined (expected :local {name} … before)");
            return Err(self.error(tok.start, tok.end, msg));
        };
        let rest = self.substitute(&text[dollar + 1 + name_len..], tok)?;
        Ok(format!("{}{value}{rest}", &text[..dollar]))
    }

    fn script_command(&mut self) -> Result<(), SourceError> {
        let tok = self.tokens[self.pos].clone();
        self.pos += 1;
        match tok.text.as_str() {
            ":local" | ":global" | ":set" => {
                let name = self.peek().filter(|t| t.kind == Kind::Word).cloned();
                let Some(name) = name else {
                    return Err(self.error(tok.start, tok.end, "expected a variable name"));
                };
                self.pos += 1;
                let value = if self.at_end_of_command() {
                    String::new()
                } else {
                    match self.arg()?.value {
                        Value::Text(t) => t,
                        Value::Find(_) => {
                            let msg = "only text values are read in variables yet (issue #3)";
                            return Err(self.error(name.start, name.end, msg));
                        }
                    }
                };
                self.vars.push((name.text, value));
            }
            ":put" | ":log" | ":delay" => {
                // Output and pauses have no effect on the configuration.
                while !self.at_end_of_command() {
                    self.arg()?;
                }
            }
            other => {
                let msg = format!("`{other}` is not read yet (scripting, issue #3)");
                return Err(self.error(tok.start, tok.end, msg));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(src: &str) -> Command {
        let s = parse("t.rsc", src).unwrap();
        assert_eq!(s.commands.len(), 1, "{:?}", s.commands);
        s.commands.into_iter().next().unwrap()
    }

    #[test]
    fn paths_in_every_form() {
        for src in [
            "/ip firewall mangle add chain=prerouting",
            "/ip/firewall/mangle/add chain=prerouting",
            "/ip firewall mangle\nadd chain=prerouting",
            "/ip firewall\nmangle add chain=prerouting",
        ] {
            let c = one(src);
            assert_eq!(c.menu(), "ip firewall mangle", "{src}");
            assert_eq!(c.verb, "add");
            assert_eq!(
                c.arg("chain").unwrap().value,
                Value::Text("prerouting".into())
            );
        }
    }

    #[test]
    fn variables_find_and_quoted_values() {
        let c = one(":local gw \"192.168.1.1\"\n/ip route add gateway=$gw comment=\"x y\"");
        assert_eq!(
            c.arg("gateway").unwrap().value,
            Value::Text("192.168.1.1".into())
        );
        assert_eq!(c.arg("comment").unwrap().value, Value::Text("x y".into()));
        let c = one("/ip firewall mangle remove [find comment~\"PCC:\"]");
        assert_eq!(
            c.args[0].value,
            Value::Find(vec![Condition {
                key: "comment".into(),
                op: Op::Tilde,
                value: "PCC:".into()
            }])
        );
    }

    #[test]
    fn unknown_variables_and_unread_scripting_are_located() {
        let e = parse("t.rsc", "/ip route add gateway=$nope").unwrap_err();
        assert_eq!((e.line, e.column), (1, 15));
        let e = parse("t.rsc", "\n:for i from=1 to=3 do={}").unwrap_err();
        assert_eq!((e.line, e.column), (2, 1));
    }
}
