//! Values of the scripting language. RouterOS types a bare word by its look (`5` is a number,
//! `10.0.0.1` an address, `10s` a time); menus receive every value as text again.

use super::ast::Stmt;
use crate::units::{format_duration, parse_duration};
use std::fmt;
use std::net::Ipv4Addr;
use std::sync::Arc;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Nothing,
    Str(String),
    Num(i64),
    Bool(bool),
    Ip(Ipv4Addr),
    Prefix(Ipv4Addr, u8),
    /// Nanoseconds.
    Time(u64),
    /// Elements with optional keys; keyed elements are kept sorted by key, as RouterOS does.
    Array(Vec<(Option<String>, Value)>),
    Code(Arc<Vec<Stmt>>),
    /// An item of a menu: `*1A`.
    Id(u32),
}

impl Value {
    /// The value a bare word stands for.
    pub fn from_word(w: &str) -> Value {
        if let Ok(n) = w.parse::<i64>() {
            return Value::Num(n);
        }
        if let Ok(ip) = w.parse::<Ipv4Addr>() {
            return Value::Ip(ip);
        }
        if let Some((a, len)) = w.split_once('/')
            && let (Ok(ip), Ok(len)) = (a.parse::<Ipv4Addr>(), len.parse::<u8>())
            && len <= 32
        {
            return Value::Prefix(ip, len);
        }
        match w {
            "true" => return Value::Bool(true),
            "false" => return Value::Bool(false),
            _ => {}
        }
        if let Some(hex) = w.strip_prefix('*')
            && let Ok(id) = u32::from_str_radix(hex, 16)
        {
            return Value::Id(id);
        }
        let starts_with_digit = w.as_bytes().first().is_some_and(u8::is_ascii_digit);
        if starts_with_digit && let Ok(t) = parse_duration(w) {
            return Value::Time(t);
        }
        Value::Str(w.to_string())
    }

    /// The text a bare word gives a command as an argument: what [`Value::from_word`] reads
    /// it as, written back — which for most words (names, addresses) is the word itself, so
    /// those skip the reading and the writing.
    pub fn word_text(w: &str) -> std::borrow::Cow<'_, str> {
        // A word starting with a letter reads as a string or a bool, written as it came.
        if w.as_bytes().first().is_some_and(u8::is_ascii_alphabetic) {
            return w.into();
        }
        match Value::from_word(w) {
            // The address parser takes only the written form (no leading zeros); a prefix
            // length is written as read unless it had a sign or leading zeros.
            Value::Ip(_) => w.into(),
            Value::Prefix(..)
                if w.rsplit_once('/')
                    .is_some_and(|(_, len)| len == "0" || !len.starts_with(['0', '+'])) =>
            {
                w.into()
            }
            v => v.into_text().into(),
        }
    }

    /// The value as text, as a command receives it (a string is handed over, not copied).
    pub fn into_text(self) -> String {
        match self {
            Value::Str(s) => s,
            v => v.to_string(),
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nothing => "nothing",
            Value::Str(_) => "str",
            Value::Num(_) => "num",
            Value::Bool(_) => "bool",
            Value::Ip(_) => "ip",
            Value::Prefix(..) => "ip-prefix",
            Value::Time(_) => "time",
            Value::Array(_) => "array",
            Value::Code(_) => "code",
            Value::Id(_) => "id",
        }
    }

    pub fn truthy(&self) -> bool {
        match self {
            Value::Bool(b) => *b,
            Value::Num(n) => *n != 0,
            Value::Str(s) => matches!(s.as_str(), "true" | "yes"),
            Value::Nothing => false,
            Value::Array(a) => !a.is_empty(),
            _ => true,
        }
    }

    pub fn as_num(&self) -> Option<i64> {
        match self {
            Value::Num(n) => Some(*n),
            Value::Bool(b) => Some(*b as i64),
            Value::Str(s) => s.trim().parse().ok(),
            Value::Time(t) => Some((*t / 1_000_000_000) as i64),
            Value::Ip(ip) => Some(u32::from(*ip) as i64),
            _ => None,
        }
    }

    /// Elements of an array; a lone value is an array of one.
    pub fn elements(&self) -> Vec<(Option<String>, Value)> {
        match self {
            Value::Array(a) => a.clone(),
            Value::Nothing => Vec::new(),
            v => vec![(None, v.clone())],
        }
    }

    /// Builds an array, keeping keyed elements sorted by key.
    pub fn array(mut items: Vec<(Option<String>, Value)>) -> Value {
        if items.iter().all(|(k, _)| k.is_some()) {
            items.sort_by(|a, b| a.0.cmp(&b.0));
            items.dedup_by(|later, earlier| {
                if later.0 == earlier.0 {
                    earlier.1 = later.1.clone();
                    true
                } else {
                    false
                }
            });
        }
        Value::Array(items)
    }
}

/// The items a `numbers` argument names (`*1A,2`, `ether1`): item ids, row numbers (0 is the
/// first row), or names; `rows` gives each row's id and name in print order. Says which part
/// names no item.
pub fn numbered_items<'a>(
    text: &'a str,
    rows: &[(u32, Option<&str>)],
) -> Result<Vec<u32>, &'a str> {
    text.split([',', ';'])
        .filter(|p| !p.is_empty())
        .map(|part| match Value::from_word(part) {
            Value::Id(id) if rows.iter().any(|r| r.0 == id) => Ok(id),
            Value::Num(n) if n >= 0 && (n as usize) < rows.len() => Ok(rows[n as usize].0),
            _ => rows
                .iter()
                .find(|r| r.1 == Some(part))
                .map(|r| r.0)
                .ok_or(part),
        })
        .collect()
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nothing => Ok(()),
            Value::Str(s) => f.write_str(s),
            Value::Num(n) => write!(f, "{n}"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Ip(ip) => write!(f, "{ip}"),
            Value::Prefix(ip, len) => write!(f, "{ip}/{len}"),
            Value::Time(t) => f.write_str(&format_duration(*t)),
            Value::Array(items) => {
                for (i, (k, v)) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(";")?;
                    }
                    if let Some(k) = k {
                        write!(f, "{k}=")?;
                    }
                    write!(f, "{v}")?;
                }
                Ok(())
            }
            Value::Code(_) => f.write_str("(code)"),
            Value::Id(id) => write!(f, "*{id:X}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_typed_by_their_look() {
        assert_eq!(Value::from_word("5"), Value::Num(5));
        assert_eq!(Value::from_word("10.0.0.1").type_name(), "ip");
        assert_eq!(Value::from_word("10.0.0.0/24").type_name(), "ip-prefix");
        assert_eq!(Value::from_word("10s"), Value::Time(10_000_000_000));
        assert_eq!(Value::from_word("*1A"), Value::Id(26));
        assert_eq!(Value::from_word("prerouting").type_name(), "str");
        assert_eq!(Value::from_word("5060-5061").type_name(), "str");
        for w in [
            "10.0.0.1",
            "10.0.0.0/24",
            "10s",
            "*1A",
            "both-addresses:7/0",
            "yes",
        ] {
            assert_eq!(Value::from_word(w).to_string(), w);
        }
    }

    proptest::proptest! {
        /// A word's argument text is what reading it and writing it back gives.
        #[test]
        fn a_words_text_is_its_value_written_back(w in "[0-9a-z./:+*-]{1,16}") {
            let slow = Value::from_word(&w).into_text();
            proptest::prop_assert_eq!(Value::word_text(&w), slow);
        }
    }

    #[test]
    fn words_read_as_other_values_are_written_as_routeros_writes_them() {
        assert_eq!(Value::word_text("10.0.0.0/024"), "10.0.0.0/24");
        assert_eq!(Value::word_text("007"), "7");
        assert_eq!(Value::word_text("customers-7"), "customers-7");
        assert_eq!(Value::word_text("100.64.0.0/10"), "100.64.0.0/10");
    }
}
