//! The router model that scripts build: menu commands change it as they would change the router.
//! `add` appends (or inserts at `place-before`); `set`, `remove`, `enable` and `disable` act on
//! items chosen by id (`*1A`, as `[ find … ]` returns them) or by number.
//!
//! Every parameter of a modeled menu is checked and converted here, so a typo is an error on its
//! line rather than a rule that silently never matches. Menus the simulation does not model are
//! recorded as "not simulated" (their items are kept, so `find` and `set` on them work);
//! operational commands (`print`, `monitor`, …) change nothing.

use super::ast::Span;
use super::interp::{EvalArg, Invocation, Menus, Props};
use super::value::Value;
use crate::error::{LineIndex, SourceError};
use crate::router::config::{
    Address, AddressListEntry, Dialect, Interface, NotSimulated, RouterConfig, StoredItem,
};
use crate::router::ecmp::HashPolicy;
use crate::router::firewall::{
    Action, AddrRange, ConnMark, IfaceId, Intern, ListId, Match, Matcher, Rule, Table, TableId,
};
use crate::router::routing::{CheckGateway, Gateway, Route};
use crate::units::parse_duration;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Verbs that read or watch the router and never change its configuration.
const OPERATIONAL: &[&str] = &[
    "print",
    "export",
    "monitor",
    "monitor-traffic",
    "check",
    "ping",
    "torch",
    "bandwidth-test",
    "start",
    "stop",
    "save",
    "send",
    "get",
    "edit",
];

/// The actions RouterOS has in each firewall table (its documentation's lists), so a typo is
/// told from an action pccsim does not simulate.
const MANGLE_ACTIONS: &[&str] = &[
    "accept",
    "add-dst-to-address-list",
    "add-src-to-address-list",
    "change-dscp",
    "change-mss",
    "change-ttl",
    "clear-df",
    "fasttrack-connection",
    "jump",
    "log",
    "mark-connection",
    "mark-packet",
    "mark-routing",
    "passthrough",
    "return",
    "route",
    "set-priority",
    "sniff-pc",
    "sniff-tzsp",
    "strip-ipv4-options",
];
const NAT_ACTIONS: &[&str] = &[
    "accept",
    "add-dst-to-address-list",
    "add-src-to-address-list",
    "dst-nat",
    "endpoint-independent-nat",
    "jump",
    "log",
    "masquerade",
    "netmap",
    "passthrough",
    "redirect",
    "return",
    "same",
    "src-nat",
];
const FILTER_ACTIONS: &[&str] = &[
    "accept",
    "add-dst-to-address-list",
    "add-src-to-address-list",
    "drop",
    "fasttrack-connection",
    "jump",
    "log",
    "passthrough",
    "reject",
    "return",
    "tarpit",
];

/// Menus whose items are kept but not yet simulated (netwatch and scheduler scripts run in a
/// later version).
const STORED: &[&str] = &[
    "queue type",
    "queue simple",
    "queue tree",
    "interface pppoe-client",
    "ip dhcp-client",
    "ip dhcp-server",
    "ip pool",
    "ppp profile",
    "interface lte apn",
    "tool netwatch",
    "system scheduler",
    "system script",
    "routing rule",
    "interface list",
    "interface list member",
];

/// The menus whose items the simulation uses (or keeps for scripts to find).
pub const SIMULATED_MENUS: &[&str] = &[
    "interface",
    "interface ethernet",
    "interface list",
    "interface list member",
    "ip address",
    "ip dns",
    "ip firewall address-list",
    "ip firewall connection tracking",
    "ip firewall filter",
    "ip firewall mangle",
    "ip firewall nat",
    "ip route",
    "ip settings",
    "queue simple",
    "queue tree",
    "queue type",
    "routing rule",
    "routing settings",
    "routing table",
    "system scheduler",
    "system script",
    "tool netwatch",
];

/// Menus whose items the router runs while it simulates (kept here, acted on by the router).
const RUN_BY_ROUTER: &[&str] = &[
    "queue type",
    "queue simple",
    "queue tree",
    "interface lte apn",
    "interface pppoe-client",
    "ip dhcp-client",
    "ppp profile",
    "system scheduler",
    "system script",
    "tool netwatch",
];

/// Whether running `verb` in `menu` changes (or reads) the simulated model.
pub fn is_modeled(menu: &str, verb: &str) -> bool {
    OPERATIONAL.contains(&verb)
        || Collection::of(menu).is_some()
        || RUN_BY_ROUTER.contains(&menu)
        || matches!(
            menu,
            "routing table"
                | "ip firewall connection tracking"
                | "routing settings"
                | "ip settings"
                | "ip dns"
        )
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Collection {
    Mangle,
    Nat,
    Filter,
    AddressList,
    Route,
    Address,
    Interface,
}

impl Collection {
    fn of(menu: &str) -> Option<Collection> {
        Some(match menu {
            "ip firewall mangle" => Collection::Mangle,
            "ip firewall nat" => Collection::Nat,
            "ip firewall filter" => Collection::Filter,
            "ip firewall address-list" => Collection::AddressList,
            "ip route" => Collection::Route,
            "ip address" => Collection::Address,
            "interface" | "interface ethernet" => Collection::Interface,
            _ => return None,
        })
    }
}

/// An item's id and the parameters it was given, as text.
#[derive(Clone, Debug)]
struct Item {
    id: u32,
    /// Where the item was added (0 for ports that exist without a command).
    line: u32,
    props: Props,
}

/// The parameters of one `add` or `set`, with where they were written.
struct Spec<'a> {
    args: &'a [EvalArg<'a>],
    span: Span,
    menu: &'a str,
}

impl Spec<'_> {
    fn arg(&self, key: &str) -> Option<&EvalArg<'_>> {
        self.args.iter().find(|a| a.key.as_deref() == Some(key))
    }

    fn menu(&self) -> &str {
        self.menu
    }
}

/// Runs `script` against an empty router and returns the configuration it builds, what
/// `:put` printed, and the model (for further commands).
pub struct Model<'a> {
    file: &'a str,
    src: &'a str,
    lines: LineIndex,
    cfg: RouterConfig,
    items: [Vec<Item>; 7],
    stored: BTreeMap<String, Vec<Item>>,
    next_id: u32,
    not_simulated: Vec<NotSimulated>,
    v7: bool,
}

fn text<'a>(arg: &'a EvalArg<'_>) -> &'a str {
    &arg.text
}

fn yes(v: &str) -> Option<bool> {
    match v {
        "yes" | "true" => Some(true),
        "no" | "false" => Some(false),
        _ => None,
    }
}

impl<'a> Model<'a> {
    pub fn new(file: &'a str, src: &'a str) -> Model<'a> {
        Model {
            file,
            src,
            lines: LineIndex::new(src),
            cfg: RouterConfig::default(),
            items: Default::default(),
            stored: BTreeMap::new(),
            next_id: 1,
            not_simulated: Vec::new(),
            v7: false,
        }
    }

    /// The configuration built so far, ready for the router.
    pub fn into_config(mut self) -> RouterConfig {
        // The release an export names decides; else what the script uses (v7's slash paths,
        // routing tables, `routing-table=`).
        self.cfg.dialect = match super::export_release(self.src).and_then(|r| r.get(..2)) {
            Some("6.") => Dialect::V6,
            Some("7.") => Dialect::V7,
            _ if self.v7 => Dialect::V7,
            _ => Dialect::V6,
        };
        self.cfg.not_simulated = self.not_simulated;
        self.cfg.stored = self
            .stored
            .into_iter()
            .map(|(menu, items)| {
                let items = items.into_iter().map(|i| StoredItem {
                    line: i.line,
                    props: i.props,
                });
                (menu, items.collect())
            })
            .collect();
        self.cfg.mangle.index();
        self.cfg.nat.index();
        self.cfg.filter.index();
        self.cfg
    }

    /// Notes a menu or script command that the simulation leaves out.
    pub fn not_simulated(&mut self, what: String, span: Span) {
        let line = self.lines.line(span.0);
        match self.not_simulated.iter_mut().find(|n| n.menu == what) {
            Some(n) if !n.lines.contains(&line) => n.lines.push(line),
            Some(_) => {}
            None => self.not_simulated.push(NotSimulated {
                menu: what,
                lines: vec![line],
            }),
        }
    }

    /// Notes where the simulation departs from the text, and what it assumes instead.
    pub fn assume(&mut self, id: &'static str, span: Span, message: String) {
        let line = self.lines.line(span.0);
        self.assume_line(id, line, message);
    }

    pub fn assume_line(&mut self, id: &'static str, line: u32, message: String) {
        let a = crate::router::config::Assumption { id, line, message };
        self.cfg.assumptions.push(a);
    }

    /// A parameter the model does not take. One that another release or device has is that
    /// router's: noted as not simulated, and the item is built without it. One RouterOS 7 has
    /// is refused (the item would behave differently without it); any other is unknown, with
    /// the closest real one.
    fn unsupported(
        &mut self,
        at: &EvalArg,
        key: &str,
        menu: &str,
        verb: &str,
    ) -> Result<(), SourceError> {
        use super::schema::{Packages, Word, tree};
        let words: Vec<&str> = menu.split(' ').collect();
        let path: Vec<&str> = words.iter().copied().chain([verb, key]).collect();
        if let Some((_, origin)) = super::releases::origin(&path) {
            self.not_simulated(format!("`{key}` of /{menu} {verb} ({origin})"), at.span);
            return Ok(());
        }
        let command = match tree().menu(&words, Packages::All) {
            Some(id) => match tree().word(id, verb, Packages::All) {
                Word::Command(c) => Some(c),
                _ => None,
            },
            None => None,
        };
        let msg = match command {
            Some(c) if tree().arg(c, key).is_some() => format!(
                "`{key}` of /{menu} {verb} is not simulated: pccsim would build this item \
                 without it and behave otherwise, so it refuses it"
            ),
            Some(c) => match super::did_you_mean(key, tree().args(c).iter().copied()) {
                Some(close) => {
                    format!("unknown parameter `{key}` for /{menu} {verb}; did you mean `{close}`?")
                }
                None => format!("unknown parameter `{key}` for /{menu} {verb}"),
            },
            None => format!("unknown parameter `{key}` for /{menu} {verb}"),
        };
        Err(self.err(at, msg))
    }

    fn err(&self, at: &EvalArg, msg: impl Into<String>) -> SourceError {
        SourceError::new(self.file, self.src, at.span.0, at.span.1, msg)
    }

    fn cmd_err(&self, cmd: &Spec, msg: impl Into<String>) -> SourceError {
        SourceError::new(self.file, self.src, cmd.span.0, cmd.span.1, msg)
    }

    fn line(&self, cmd: &Spec) -> u32 {
        self.lines.line(cmd.span.0)
    }

    fn new_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id - 1
    }
}

/// Ids of factory ports no command has touched yet start here.
const FACTORY_ID: u32 = 0x8000_0000;

/// The ports a router has before any configuration: enough for every model in the guide.
fn factory_ports() -> impl Iterator<Item = String> {
    let ether = (1..=24).map(|n| format!("ether{n}"));
    let sfp = (1..=4).flat_map(|n| [format!("sfp{n}"), format!("sfp-sfpplus{n}")]);
    ether.chain(sfp)
}

impl Menus for Model<'_> {
    fn items(&self, menu: &str) -> Option<Vec<(u32, Props)>> {
        let list = match Collection::of(menu) {
            Some(Collection::Interface) => {
                return Some(
                    self.interface_items()
                        .into_iter()
                        .map(|i| (i.id, i.props))
                        .collect(),
                );
            }
            Some(c) => &self.items[c as usize],
            None => self.stored.get(menu)?,
        };
        Some(list.iter().map(|i| (i.id, i.props.clone())).collect())
    }

    fn command(&mut self, inv: &Invocation) -> Result<Value, SourceError> {
        if inv.slash_form {
            self.v7 = true;
        }
        let menu = inv.menu();
        let spec = Spec {
            args: &inv.args,
            span: inv.span,
            menu: &menu,
        };
        if inv.verb == "print" && inv.arg("count-only").is_some()
            || inv.args.iter().any(|a| a.text == "count-only")
        {
            let n = match &inv.matched {
                Some(m) => m.len(),
                None => self.items(&menu).map_or(0, |i| i.len()),
            };
            return Ok(Value::Num(n as i64));
        }
        if OPERATIONAL.contains(&inv.verb) {
            return Ok(Value::Nothing);
        }
        match (menu.as_str(), inv.verb) {
            ("routing table", "add") => return self.routing_table(&spec),
            ("ip firewall connection tracking", "set") => {
                return self.conntrack(&spec).map(|()| Value::Nothing);
            }
            ("routing settings", "set") => {
                return self.routing_settings(&spec).map(|()| Value::Nothing);
            }
            ("ip settings", "set") => return self.ip_settings(&spec, inv.span),
            ("ip dns", "set") => return self.dns(&spec, inv.span),
            _ => {}
        }
        if let Some(c) = Collection::of(&menu) {
            return self.collection(c, &spec, inv.verb);
        }
        let what = if menu.is_empty() {
            format!("/{}", inv.verb)
        } else {
            format!("/{menu} {}", inv.verb)
        };
        if !RUN_BY_ROUTER.contains(&menu.as_str()) {
            self.not_simulated(what, inv.span);
        }
        if inv.verb == "add"
            && let Some(name) = inv.arg("name")
        {
            // Interfaces other menus make (`/interface vlan`, `wireguard`, `bridge`, `bonding`,
            // a PPPoE client) are ports rules and routes can name; a VRF is a routing table.
            if let Some(kind) = menu.strip_prefix("interface ")
                && self.cfg.iface(&name.text).is_none()
            {
                let i = self.create_port(&name.text, None) as usize;
                self.cfg.interfaces[i].line = self.lines.line(inv.span.0);
                self.cfg.interfaces[i].made_by = Some(kind.to_string());
            } else if menu == "ip vrf" {
                let table = self.cfg.routing_tables.intern(&name.text);
                self.cfg.declared_tables.push(TableId(table));
            }
        }
        if menu.starts_with("queue ") && matches!(inv.verb, "add" | "set") {
            self.queue_item(&spec, inv.verb)?;
        }
        if STORED.contains(&menu.as_str()) {
            return self.store(&menu, &spec, inv.verb);
        }
        Ok(Value::Nothing)
    }
}

impl Model<'_> {
    /// Checks a `/queue type`, `simple` or `tree` item's values as RouterOS would before it
    /// takes them (names it refers to must exist already); parameters pccsim does not model
    /// yet are noted, the queue runs without them.
    fn queue_item(&mut self, cmd: &Spec, verb: &str) -> Result<(), SourceError> {
        use crate::router::queue::config as q;
        let menu = cmd.menu().to_string();
        let names = |model: &Model, menu: &str| -> Vec<String> {
            let items = model.stored.get(menu).into_iter().flatten();
            items
                .filter_map(|i| {
                    i.props
                        .iter()
                        .find(|(k, _)| k == "name")
                        .map(|(_, v)| v.clone())
                })
                .collect()
        };
        let types: Vec<String> = (q::QueueType::built_in(self.cfg.dialect).into_iter())
            .map(|t| t.name)
            .chain(names(self, "queue type"))
            .collect();
        let queue_type = |v: &str| -> Result<(), String> {
            match types.iter().any(|t| t == v) {
                true => Ok(()),
                false => Err(format!(
                    "no queue type `{v}` (there are {})",
                    types.join(", ")
                )),
            }
        };
        for arg in cmd.args {
            let Some(key) = arg.key.as_deref() else {
                continue;
            };
            let v = text(arg);
            let checked: Result<(), String> = match (menu.as_str(), key) {
                (_, "name" | "comment" | "disabled" | "copy-from" | "place-before") => Ok(()),
                ("queue type", "kind") => match q::KINDS.contains(&v) {
                    true => Ok(()),
                    false => Err(format!(
                        "`{v}` is not a queue kind ({})",
                        q::KINDS.join(", ")
                    )),
                },
                ("queue type", k) => match q::check_type_key(k, v) {
                    Ok(q::TypeKey::Modelled) => Ok(()),
                    Ok(q::TypeKey::Noted(why)) => {
                        self.not_simulated(format!("`{key}` of /{menu} {verb} ({why})"), arg.span);
                        Ok(())
                    }
                    Ok(q::TypeKey::Unknown) => return self.unsupported(arg, key, &menu, verb),
                    Err(e) => Err(e),
                },
                ("queue simple" | "queue tree", "burst-limit" | "burst-threshold") => {
                    q::pair(v, q::parse_rate).map(drop)
                }
                ("queue simple" | "queue tree", "burst-time") => {
                    q::pair(v, parse_duration).map(drop)
                }
                ("queue simple" | "queue tree", "limit-at" | "max-limit") => {
                    q::pair(v, q::parse_rate).map(drop)
                }
                ("queue simple" | "queue tree", "priority") => {
                    q::pair(v, q::parse_priority).map(drop)
                }
                ("queue simple" | "queue tree", "bucket-size") => {
                    q::pair(v, q::parse_bucket_size).map(drop)
                }
                ("queue simple" | "queue tree", "queue") => match v.split_once('/') {
                    Some((u, d)) => queue_type(u).and(queue_type(d)),
                    None => queue_type(v),
                },
                ("queue simple", "target" | "dst") => {
                    for t in v.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                        if self.cfg.iface(t).is_none()
                            && crate::router::firewall::AddrRange::parse(t).is_err()
                        {
                            return Err(self.err(
                                arg,
                                format!("`{t}` is neither an address, a prefix nor an interface"),
                            ));
                        }
                    }
                    Ok(())
                }
                ("queue simple", "packet-marks") | ("queue tree", "packet-mark") => {
                    for m in v.split(',').map(str::trim).filter(|m| !m.is_empty()) {
                        self.cfg.packet_marks.intern(m);
                    }
                    Ok(())
                }
                ("queue simple", "parent") if v == "none" => Ok(()),
                ("queue simple", "parent") => {
                    match names(self, "queue simple").iter().any(|n| n == v) {
                        true => Ok(()),
                        false => Err(format!(
                            "no simple queue `{v}` (a parent comes before its children)"
                        )),
                    }
                }
                ("queue tree", "parent") => {
                    let known = v.starts_with("global")
                        || self.cfg.iface(v).is_some()
                        || names(self, "queue tree").iter().any(|n| n == v);
                    match known {
                        true => Ok(()),
                        false => Err(format!(
                            "no interface or tree queue `{v}` (global, an interface, or a tree queue added before)"
                        )),
                    }
                }
                ("queue simple", "time")
                | (
                    "queue simple",
                    "total-limit-at" | "total-max-limit" | "total-priority" | "total-queue",
                )
                | (
                    "queue simple",
                    "total-burst-limit"
                    | "total-burst-threshold"
                    | "total-burst-time"
                    | "total-bucket-size",
                ) => {
                    if !v.is_empty()
                        && !matches!(
                            v,
                            "0" | "0/0" | "0s" | "0s/0s" | "default" | "default-small"
                        )
                    {
                        self.not_simulated(
                            format!("`{key}` of /{menu} {verb} (the queue runs without it)"),
                            arg.span,
                        );
                    }
                    Ok(())
                }
                _ => return self.unsupported(arg, key, &menu, verb),
            };
            checked.map_err(|m| self.err(arg, m))?;
        }
        let burst_limit = cmd.arg("burst-limit").map(text);
        if verb == "add"
            && burst_limit.is_some_and(|v| !matches!(v, "0" | "0/0"))
            && (cmd.arg("burst-threshold").is_none() || cmd.arg("burst-time").is_none())
        {
            // RouterOS takes the missing ones as 0: the queue never bursts.
            self.not_simulated(
                format!("burst-limit without burst-threshold or burst-time on /{menu} (RouterOS takes them as 0: the queue never bursts)"),
                cmd.span,
            );
        }
        Ok(())
    }

    /// Keeps items of menus that are read but not simulated, so later commands can find them.
    fn store(&mut self, menu: &str, cmd: &Spec, verb: &str) -> Result<Value, SourceError> {
        // A client on a port makes the port one the router uses (a factory port until then).
        if matches!(menu, "ip dhcp-client" | "interface pppoe-client")
            && let Some(port) = cmd.arg("interface")
        {
            self.iface(&port.text, port)?;
        }
        let props: Props = cmd
            .args
            .iter()
            .filter_map(|a| Some((a.key.clone()?, a.text.to_string())))
            .collect();
        match verb {
            "add" => {
                let id = self.new_id();
                let line = self.line(cmd);
                self.stored
                    .entry(menu.to_string())
                    .or_default()
                    .push(Item { id, line, props });
                Ok(Value::Id(id))
            }
            "set" | "remove" | "enable" | "disable" => {
                let list = self.stored.get(menu).cloned().unwrap_or_default();
                let targets = self.targets(&list, cmd)?;
                let list = self.stored.entry(menu.to_string()).or_default();
                if verb == "remove" {
                    list.retain(|i| !targets.contains(&i.id));
                }
                for item in list.iter_mut().filter(|i| targets.contains(&i.id)) {
                    let changes: Props = match verb {
                        "set" => props.clone(),
                        "disable" => vec![("disabled".into(), "yes".into())],
                        _ => vec![("disabled".into(), "no".into())],
                    };
                    merge(&mut item.props, changes);
                }
                Ok(Value::Nothing)
            }
            _ => Ok(Value::Nothing),
        }
    }

    /// An interface by name; factory port names (`ether5`) exist without being declared.
    fn iface(&mut self, name: &str, at: &EvalArg) -> Result<IfaceId, SourceError> {
        if let Some(i) = self.cfg.iface(name) {
            return Ok(i);
        }
        if self.cfg.interfaces.len() > u8::MAX as usize {
            return Err(self.err(at, "too many interfaces"));
        }
        let is_port = ["ether", "sfp-sfpplus", "sfp", "wlan", "lte", "combo"]
            .iter()
            .any(|p| {
                name.strip_prefix(p)
                    .is_some_and(|n| n.parse::<u8>().is_ok())
            });
        let undeclared = (!is_port).then_some(at.span);
        Ok(self.create_port(name, undeclared))
    }

    fn create_port(&mut self, name: &str, undeclared_use: Option<Span>) -> IfaceId {
        self.cfg.interfaces.push(Interface {
            default_name: name.to_string(),
            name: name.to_string(),
            comment: None,
            undeclared_use,
            line: undeclared_use.map_or(0, |s| self.lines.line(s.0)),
            made_by: None,
        });
        let id = self.new_id();
        let props = vec![
            ("name".into(), name.into()),
            ("default-name".into(), name.into()),
        ];
        self.items[Collection::Interface as usize].push(Item { id, line: 0, props });
        (self.cfg.interfaces.len() - 1) as IfaceId
    }

    /// Interfaces the script has named, then the factory ports it has not touched yet.
    fn interface_items(&self) -> Vec<Item> {
        let mut items = self.items[Collection::Interface as usize].clone();
        let untouched = factory_ports()
            .enumerate()
            .filter(|(_, p)| self.cfg.iface(p).is_none());
        for (k, port) in untouched {
            let props = vec![("name".into(), port.clone()), ("default-name".into(), port)];
            items.push(Item {
                id: FACTORY_ID + k as u32,
                line: 0,
                props,
            });
        }
        items
    }

    /// Applies `name=`, `comment=` and harmless settings to one interface.
    fn interface_set(&mut self, index: usize, cmd: &Spec) -> Result<(), SourceError> {
        for a in cmd
            .args
            .iter()
            .filter(|a| a.key.is_some() && a.key.as_deref() != Some("numbers"))
        {
            let iface = &mut self.cfg.interfaces[index];
            match a.key.as_deref().unwrap_or_default() {
                "name" => iface.name = text(a).to_string(),
                "comment" => iface.comment = Some(text(a).to_string()),
                "disabled" | "mtu" | "l2mtu" | "arp" | "speed" | "auto-negotiation"
                | "mac-address" => {}
                k => self.unsupported(a, k, cmd.menu(), "set")?,
            }
            let props = &mut self.items[Collection::Interface as usize][index].props;
            merge(
                props,
                vec![(a.key.clone().unwrap_or_default(), a.text.to_string())],
            );
        }
        Ok(())
    }

    fn routing_table(&mut self, cmd: &Spec) -> Result<Value, SourceError> {
        self.v7 = true;
        let Some(name) = cmd.arg("name") else {
            return Err(self.cmd_err(cmd, "expected name= for the routing table"));
        };
        let table = self.cfg.routing_tables.intern(text(name));
        self.cfg.declared_tables.push(TableId(table));
        Ok(Value::Nothing)
    }

    fn conntrack(&mut self, cmd: &Spec) -> Result<(), SourceError> {
        for a in cmd.args {
            let key = a.key.as_deref().unwrap_or_default();
            let v = text(a);
            if key == "max-entries" {
                self.cfg.conntrack.max_entries = v
                    .parse()
                    .map_err(|_| self.err(a, "expected a number of entries"))?;
            } else if key.ends_with("-timeout") {
                let t = parse_duration(v).map_err(|e| self.err(a, e))?;
                if !self.cfg.conntrack.set(key, t) {
                    return Err(self.err(a, format!("unknown timeout `{key}`")));
                }
            } else if key == "loose-tcp-tracking" {
                self.cfg.conntrack.loose_tcp_tracking = match v {
                    "yes" | "true" => true,
                    "no" | "false" => false,
                    _ => return Err(self.err(a, "expected yes or no")),
                };
            } else if !matches!(key, "enabled" | "tcp-max-retrans-timeout") {
                self.unsupported(a, key, "ip firewall connection tracking", "set")?;
            }
        }
        Ok(())
    }

    /// `/routing settings set`: check-gateway's timing; the rest does not affect the model.
    fn routing_settings(&mut self, cmd: &Spec) -> Result<(), SourceError> {
        for a in cmd.args {
            let key = a.key.as_deref().unwrap_or_default();
            let known = self
                .cfg
                .check_gateway
                .set(key, text(a))
                .map_err(|e| self.err(a, e))?;
            if !known
                && !matches!(
                    key,
                    "connected-in-chain" | "dynamic-in-chain" | "policy-rules" | "single-process"
                )
            {
                self.unsupported(a, key, "routing settings", "set")?;
            }
        }
        Ok(())
    }

    /// `/ip dns set`: the servers and whether LAN hosts may ask; the rest is not simulated.
    fn dns(&mut self, cmd: &Spec, span: Span) -> Result<Value, SourceError> {
        for a in cmd.args {
            match a.key.as_deref().unwrap_or_default() {
                "servers" => {
                    let servers = text(a).split(',').filter(|s| !s.is_empty());
                    self.cfg.dns.servers = servers
                        .map(|s| s.parse())
                        .collect::<Result<_, _>>()
                        .map_err(|_| self.err(a, "expected addresses, e.g. 8.8.8.8,1.1.1.1"))?;
                }
                "allow-remote-requests" => {
                    self.cfg.dns.allow_remote_requests =
                        yes(text(a)).ok_or_else(|| self.err(a, "expected yes or no"))?;
                }
                other => self.not_simulated(format!("/ip dns {other}"), span),
            }
        }
        Ok(Value::Nothing)
    }

    /// `/ip settings set`: ECMP's hash policy; the other settings are listed as not simulated.
    fn ip_settings(&mut self, cmd: &Spec, span: Span) -> Result<Value, SourceError> {
        for a in cmd.args {
            match a.key.as_deref().unwrap_or_default() {
                "ipv4-multipath-hash-policy" => {
                    self.v7 = true;
                    self.cfg.multipath_hash_policy = HashPolicy::parse(text(a))
                        .ok_or_else(|| self.err(a, "expected l3 or l4"))?;
                }
                other => self.not_simulated(format!("/ip settings {other}"), span),
            }
        }
        Ok(Value::Nothing)
    }

    fn collection(&mut self, c: Collection, cmd: &Spec, verb: &str) -> Result<Value, SourceError> {
        match verb {
            "add" if c == Collection::Interface => Err(self.cmd_err(
                cmd,
                "interfaces are the router's ports; rename them with set",
            )),
            "add" => self.add(c, cmd),
            "set" | "remove" | "disable" | "enable" => {
                let mut indices = self.selected(c, cmd)?;
                match verb {
                    "remove" => {
                        indices.sort_unstable_by(|a, b| b.cmp(a));
                        for i in indices {
                            self.remove(c, i);
                        }
                    }
                    "set" => {
                        for i in indices {
                            self.set(c, i, cmd)?;
                        }
                    }
                    _ => {
                        for i in indices {
                            self.set_disabled(c, i, verb == "disable");
                        }
                    }
                }
                Ok(Value::Nothing)
            }
            verb => Err(self.cmd_err(
                cmd,
                format!("`{verb}` on /{} is not supported by pccsim", cmd.menu()),
            )),
        }
    }

    /// Items named by id (`*1A`), number, interface name, or `numbers=`.
    fn targets(&self, list: &[Item], cmd: &Spec) -> Result<Vec<u32>, SourceError> {
        let Some(arg) = cmd
            .args
            .iter()
            .find(|a| a.key.is_none() || a.key.as_deref() == Some("numbers"))
        else {
            return Err(self.cmd_err(cmd, "expected which items, by number or [ find … ]"));
        };
        let rows: Vec<(u32, Option<&str>)> = list
            .iter()
            .map(|i| {
                let name = i.props.iter().find(|(k, _)| k == "name");
                (i.id, name.map(|(_, v)| v.as_str()))
            })
            .collect();
        super::value::numbered_items(&arg.text, &rows)
            .map_err(|part| self.err(arg, format!("no such item `{part}`")))
    }

    fn selected(&mut self, c: Collection, cmd: &Spec) -> Result<Vec<usize>, SourceError> {
        if c == Collection::Interface
            && let Some(arg) = cmd.args.iter().find(|a| a.key.is_none())
            && !arg.text.contains(['*', ';'])
            && arg.text.parse::<usize>().is_err()
        {
            // `set ether1 …` names a port that may not have been mentioned before.
            let name = arg.text.to_string();
            let index = self.iface(&name, arg)? as usize;
            return Ok(vec![index]);
        }
        if c == Collection::Interface {
            let list = self.interface_items();
            let mut indices = Vec::new();
            for id in self.targets(&list, cmd)? {
                let item = list
                    .iter()
                    .find(|i| i.id == id)
                    .expect("targets come from the list");
                let name = item.props[0].1.clone();
                indices.push(match self.cfg.iface(&name) {
                    Some(i) => i as usize,
                    None => self.create_port(&name, None) as usize,
                });
            }
            return Ok(indices);
        }
        let list = &self.items[c as usize];
        let ids = self.targets(list, cmd)?;
        Ok(ids
            .iter()
            .filter_map(|id| list.iter().position(|i| i.id == *id))
            .collect())
    }

    fn remove(&mut self, c: Collection, i: usize) {
        self.items[c as usize].remove(i);
        match c {
            Collection::Mangle => drop(self.cfg.mangle.rules.remove(i)),
            Collection::Nat => drop(self.cfg.nat.rules.remove(i)),
            Collection::Filter => drop(self.cfg.filter.rules.remove(i)),
            Collection::AddressList => drop(self.cfg.address_list_entries.remove(i)),
            Collection::Route => drop(self.cfg.routes.remove(i)),
            Collection::Address => drop(self.cfg.addresses.remove(i)),
            Collection::Interface => {}
        }
    }

    fn set_disabled(&mut self, c: Collection, i: usize, disabled: bool) {
        let flag = if disabled { "yes" } else { "no" };
        merge(
            &mut self.items[c as usize][i].props,
            vec![("disabled".into(), flag.into())],
        );
        match c {
            Collection::Mangle => self.cfg.mangle.rules[i].disabled = disabled,
            Collection::Nat => self.cfg.nat.rules[i].disabled = disabled,
            Collection::Filter => self.cfg.filter.rules[i].disabled = disabled,
            Collection::AddressList => self.cfg.address_list_entries[i].disabled = disabled,
            Collection::Route => self.cfg.routes[i].disabled = disabled,
            // Addresses and ports are modeled as always present.
            Collection::Address | Collection::Interface => {}
        }
    }

    /// `set`: the item's parameters with these changes, built again from scratch.
    fn set(&mut self, c: Collection, i: usize, cmd: &Spec) -> Result<(), SourceError> {
        if c == Collection::Interface {
            return self.interface_set(i, cmd);
        }
        let mut props = self.items[c as usize][i].props.clone();
        let changes: Props = cmd
            .args
            .iter()
            .filter(|a| a.key.is_some() && a.key.as_deref() != Some("numbers"))
            .map(|a| (a.key.clone().unwrap_or_default(), a.text.to_string()))
            .collect();
        merge(&mut props, changes);
        let args: Vec<EvalArg> = props
            .iter()
            .map(|(k, v)| EvalArg {
                key: Some(k.clone()),
                text: v.as_str().into(),
                span: cmd.span,
            })
            .collect();
        let rebuilt = Spec {
            args: &args,
            span: cmd.span,
            menu: cmd.menu,
        };
        let line = self.line(cmd);
        match c {
            Collection::Mangle | Collection::Nat | Collection::Filter => {
                let rule = self.rule(c, &rebuilt, line)?;
                self.table_mut(c).replace(i, rule);
            }
            Collection::AddressList => {
                self.cfg.address_list_entries[i] = self.address_list_entry(&rebuilt, line)?
            }
            Collection::Route => self.cfg.routes[i] = self.route(&rebuilt, line)?,
            Collection::Address => self.cfg.addresses[i] = self.address(&rebuilt, line)?,
            Collection::Interface => {}
        }
        self.items[c as usize][i].props = props;
        Ok(())
    }

    fn add(&mut self, c: Collection, cmd: &Spec) -> Result<Value, SourceError> {
        if let Some(a) = cmd.args.iter().find(|a| a.key.is_none()) {
            return Err(self.err(a, "expected parameter=value"));
        }
        let props: Props = cmd
            .args
            .iter()
            .filter(|a| a.key.as_deref() != Some("place-before"))
            .map(|a| (a.key.clone().unwrap_or_default(), a.text.to_string()))
            .collect();
        let len = self.items[c as usize].len();
        let mut at = len;
        if let Some(pb) = cmd.arg("place-before") {
            at = match Value::from_word(text(pb)) {
                Value::Num(n) if n >= 0 && n as usize <= len => n as usize,
                Value::Id(id) => self.items[c as usize]
                    .iter()
                    .position(|i| i.id == id)
                    .ok_or_else(|| self.err(pb, "place-before names no existing item"))?,
                _ => return Err(self.err(pb, "place-before must name an existing item")),
            };
        }
        let line = self.line(cmd);
        if let Err(e) = self.add_item(c, cmd, line, at) {
            // Published configurations hide their addresses (`address=REDACTED`): the item
            // can't be built, but the rest of the file can.
            let Some(p) = cmd.args.iter().find(|a| is_placeholder(text(a))) else {
                return Err(e);
            };
            let msg = format!(
                "`{}={}` is a placeholder, not a value: this item is left out ({})",
                p.key.as_deref().unwrap_or_default(),
                text(p),
                e.message
            );
            self.assume("placeholder-value", cmd.span, msg);
            return Ok(Value::Nothing);
        }
        let id = self.new_id();
        self.items[c as usize].insert(at, Item { id, line, props });
        Ok(Value::Id(id))
    }

    fn add_item(
        &mut self,
        c: Collection,
        cmd: &Spec,
        line: u32,
        at: usize,
    ) -> Result<(), SourceError> {
        match c {
            Collection::Mangle | Collection::Nat | Collection::Filter => {
                let rule = self.rule(c, cmd, line)?;
                self.table_mut(c).insert(at, rule);
            }
            Collection::AddressList => {
                let entry = self.address_list_entry(cmd, line)?;
                if self.cfg.has_address_list_entry(entry.list, entry.range) {
                    return Err(self.cmd_err(cmd, "failure: already have such entry"));
                }
                self.cfg.address_list_entries.insert(at, entry);
            }
            Collection::Route => {
                let route = self.route(cmd, line)?;
                self.cfg.routes.insert(at, route);
            }
            Collection::Address => {
                let address = self.address(cmd, line)?;
                self.cfg.addresses.insert(at, address);
            }
            Collection::Interface => unreachable!("refused above"),
        }
        Ok(())
    }

    fn table_mut(&mut self, c: Collection) -> &mut Table {
        match c {
            Collection::Nat => &mut self.cfg.nat,
            Collection::Filter => &mut self.cfg.filter,
            _ => &mut self.cfg.mangle,
        }
    }

    fn address(&mut self, cmd: &Spec, line: u32) -> Result<Address, SourceError> {
        let mut address = None;
        let mut iface = None;
        for a in cmd.args {
            match a.key.as_deref().unwrap_or_default() {
                "address" => {
                    let net: ipnet::Ipv4Net = text(a)
                        .parse()
                        .or_else(|_| text(a).parse::<Ipv4Addr>().map(ipnet::Ipv4Net::from))
                        .map_err(|_| {
                            self.err(a, "expected an address with prefix, e.g. 192.168.1.2/24")
                        })?;
                    address = Some(net);
                }
                "interface" => iface = Some(self.iface(text(a), a)?),
                "comment" | "disabled" | "network" => {}
                k => self.unsupported(a, k, "ip address", "add")?,
            }
        }
        let (Some(net), Some(iface)) = (address, iface) else {
            return Err(self.cmd_err(cmd, "expected address= and interface="));
        };
        Ok(Address {
            address: net.addr(),
            prefix_len: net.prefix_len(),
            iface,
            line,
        })
    }

    fn address_list_entry(
        &mut self,
        cmd: &Spec,
        line: u32,
    ) -> Result<AddressListEntry, SourceError> {
        let mut list = None;
        let mut range = None;
        let mut disabled = false;
        let mut comment = None;
        for a in cmd.args {
            match a.key.as_deref().unwrap_or_default() {
                "list" => list = Some(self.cfg.address_lists.intern(text(a))),
                "comment" => comment = Some(text(a).to_string()),
                "address" => range = Some(AddrRange::parse(text(a)).map_err(|e| self.err(a, e))?),
                "disabled" => {
                    disabled = yes(text(a)).ok_or_else(|| self.err(a, "expected yes or no"))?
                }
                "timeout" | "dynamic" => {}
                k => self.unsupported(a, k, "ip firewall address-list", "add")?,
            }
        }
        let (Some(list), Some(range)) = (list, range) else {
            return Err(self.cmd_err(cmd, "expected list= and address="));
        };
        Ok(AddressListEntry {
            list,
            range,
            disabled,
            comment,
            line,
        })
    }

    fn route(&mut self, cmd: &Spec, line: u32) -> Result<Route, SourceError> {
        let mut route = Route::default_via(Vec::new(), 1, line);
        for a in cmd.args {
            let v = text(a);
            let number = |b: &Self| {
                v.parse::<u8>()
                    .map_err(|_| b.err(a, "expected a number 0-255"))
            };
            match a.key.as_deref().unwrap_or_default() {
                "dst-address" => {
                    let net: ipnet::Ipv4Net = v
                        .parse()
                        .map_err(|_| self.err(a, "expected a prefix, e.g. 0.0.0.0/0"))?;
                    route.dst = net.network();
                    route.prefix_len = net.prefix_len();
                }
                "gateway" if v.is_empty() => {
                    return Err(self.err(a, "expected a gateway: an address or an interface"));
                }
                "gateway" => {
                    // `A,B` (a gateway repeated for weight) is an ECMP route.
                    route.gateways.clear();
                    for gw in v.split(',') {
                        let gw = gw.split('%').next().unwrap_or(gw);
                        route.gateways.push(match gw.parse::<Ipv4Addr>() {
                            Ok(ip) => Gateway::Address(ip),
                            Err(_) => Gateway::Interface(self.iface(gw, a)?),
                        });
                    }
                }
                "distance" => route.distance = number(self)?,
                "scope" => route.scope = number(self)?,
                "target-scope" => route.target_scope = number(self)?,
                "routing-mark" => route.table = TableId(self.cfg.routing_tables.intern(v)),
                "routing-table" => {
                    self.v7 = true;
                    route.table = TableId(self.cfg.routing_tables.intern(v));
                }
                "check-gateway" => {
                    route.check_gateway = match v {
                        "ping" => Some(CheckGateway::Ping),
                        "arp" => Some(CheckGateway::Arp),
                        "none" | "" => None,
                        _ => return Err(self.err(a, "expected check-gateway=ping, arp or none")),
                    }
                }
                "disabled" => {
                    route.disabled = yes(v).ok_or_else(|| self.err(a, "expected yes or no"))?
                }
                "comment" => route.comment = Some(v.to_string()),
                "pref-src" | "suppress-hw-offload" => {}
                k => self.unsupported(a, k, "ip route", "add")?,
            }
        }
        if route.gateways.is_empty() {
            return Err(self.cmd_err(cmd, "expected gateway= for the route"));
        }
        Ok(route)
    }

    fn rule(&mut self, c: Collection, cmd: &Spec, line: u32) -> Result<Rule, SourceError> {
        let mut matchers = Vec::new();
        let mut chain = None;
        let mut action_arg = None;
        let mut passthrough = true;
        let mut disabled = false;
        let mut comment = None;
        for a in cmd.args {
            let key = a.key.as_deref().unwrap_or_default();
            let raw = text(a);
            let (negate, v) = match raw.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, raw),
            };
            let kind = match key {
                "chain" => {
                    chain = Some(self.table_mut(c).chain_id(raw));
                    continue;
                }
                "action" => {
                    action_arg = Some(a);
                    continue;
                }
                "passthrough" => {
                    passthrough = yes(raw).ok_or_else(|| self.err(a, "expected yes or no"))?;
                    continue;
                }
                "disabled" => {
                    disabled = yes(raw).ok_or_else(|| self.err(a, "expected yes or no"))?;
                    continue;
                }
                "comment" => {
                    comment = Some(raw.to_string());
                    continue;
                }
                "new-connection-mark"
                | "new-routing-mark"
                | "new-packet-mark"
                | "jump-target"
                | "to-addresses"
                | "to-ports"
                | "log"
                | "log-prefix"
                // Switch-chip offload of FastTrack: the same connections, taken faster.
                | "hw-offload"
                | "address-list"
                | "address-list-timeout"
                | "new-mss"
                | "new-dscp"
                | "new-ttl"
                | "new-priority"
                | "route-dst"
                | "sniff-target"
                | "sniff-target-port"
                | "sniff-id"
                | "reject-with"
                | "place-before" => continue,
                _ => {
                    let mut names = RuleNames { model: self, at: a };
                    match Match::parse(key, v, &mut names) {
                        Some(kind) => kind.map_err(|e| self.err(a, e))?,
                        None => {
                            self.unsupported(a, key, cmd.menu(), "add")?;
                            continue;
                        }
                    }
                }
            };
            matchers.push(Matcher { negate, kind });
        }
        let Some(chain) = chain else {
            return Err(self.cmd_err(cmd, "expected chain= for the rule"));
        };
        let action = self.action(c, cmd, action_arg)?;
        // What the simulation can't test exactly stays visible, with what it assumes (a
        // disabled rule does nothing either way).
        for m in matchers.iter().filter(|_| !disabled) {
            if let Some(assumed) = m.kind.assumption() {
                let (key, value) = m.text(&self.cfg);
                let msg =
                    format!("this rule can't be simulated exactly: `{key}={value}` — {assumed}");
                self.assume("matcher-assumed", cmd.span, msg);
            }
        }
        if let Action::Unmodeled(name) = action
            && !disabled
        {
            let msg = format!(
                "action={name} is not simulated: the rule counts its packets and the walk goes on, as after passthrough"
            );
            self.assume("action-not-simulated", cmd.span, msg);
        }
        let mut rule = Rule::new(chain, matchers, action, line);
        rule.passthrough = passthrough;
        rule.disabled = disabled;
        rule.comment = comment;
        Ok(rule)
    }

    /// A NAT rule's `to-ports=`, if it has one.
    fn to_port(&self, cmd: &Spec) -> Result<Option<u16>, SourceError> {
        let Some(p) = cmd.arg("to-ports") else {
            return Ok(None);
        };
        let port = text(p)
            .parse()
            .map_err(|_| self.err(p, "expected a port"))?;
        Ok(Some(port))
    }

    fn conn_mark(&mut self, name: &str) -> ConnMark {
        ConnMark(self.cfg.connection_marks.intern(name))
    }

    fn action(
        &mut self,
        c: Collection,
        cmd: &Spec,
        arg: Option<&EvalArg>,
    ) -> Result<Action, SourceError> {
        let name = arg.map_or("accept", text);
        let target = |key: &str| -> Result<&EvalArg, SourceError> {
            cmd.arg(key)
                .ok_or_else(|| self.cmd_err(cmd, format!("action={name} needs {key}=")))
        };
        let action = match (c, name) {
            (_, "accept") => Action::Accept,
            (_, "passthrough") => Action::Passthrough,
            (_, "log") => Action::Log,
            (_, "return") => Action::Return,
            (_, "jump") => {
                let t = text(target("jump-target")?).to_string();
                Action::Jump(self.table_mut(c).chain_id(&t))
            }
            (Collection::Mangle, "mark-connection") => {
                let t = text(target("new-connection-mark")?).to_string();
                Action::MarkConnection(self.conn_mark(&t))
            }
            (Collection::Mangle, "mark-routing") => {
                let t = text(target("new-routing-mark")?).to_string();
                Action::MarkRouting(TableId(self.cfg.routing_tables.intern(&t)))
            }
            (Collection::Mangle, "mark-packet") => {
                let t = text(target("new-packet-mark")?).to_string();
                Action::MarkPacket(self.cfg.packet_marks.intern(&t))
            }
            (_, "add-src-to-address-list" | "add-dst-to-address-list") => {
                let list = text(target("address-list")?).to_string();
                let timeout = match cmd.arg("address-list-timeout").map(text) {
                    None | Some("none-dynamic" | "none-static" | "0s" | "00:00:00") => None,
                    Some(t) => {
                        Some(parse_duration(t).map_err(|e| self.err(arg.expect("named"), e))?)
                    }
                };
                Action::AddToAddressList {
                    dst: name == "add-dst-to-address-list",
                    list: self.cfg.address_lists.intern(&list),
                    timeout,
                }
            }
            (Collection::Nat, "redirect") => Action::Redirect {
                port: self.to_port(cmd)?,
            },
            (
                Collection::Mangle,
                a @ ("change-mss" | "change-dscp" | "change-ttl" | "clear-df" | "set-priority"
                | "sniff-pc" | "sniff-tzsp" | "strip-ipv4-options" | "route"),
            )
            | (Collection::Filter | Collection::Nat, a @ "sniff-tzsp") => {
                let a = MANGLE_ACTIONS
                    .iter()
                    .copied()
                    .find(|k| *k == a)
                    .unwrap_or("sniff-tzsp");
                Action::Unmodeled(a)
            }
            (Collection::Filter, "drop" | "reject" | "tarpit") => Action::Drop,
            (Collection::Filter, "fasttrack-connection") => Action::FasttrackConnection,
            (Collection::Nat, "masquerade") => Action::Masquerade,
            (Collection::Nat, "src-nat" | "dst-nat") => {
                let to_arg = target("to-addresses")?;
                let to: Ipv4Addr = text(to_arg)
                    .split('-')
                    .next()
                    .unwrap_or_default()
                    .parse()
                    .map_err(|_| self.err(to_arg, "expected an address"))?;
                if name == "src-nat" {
                    Action::SrcNat(to)
                } else {
                    let port = self.to_port(cmd)?;
                    Action::DstNat { to, port }
                }
            }
            _ => {
                let at = arg.expect("the default action is always valid");
                let known = match c {
                    Collection::Mangle => MANGLE_ACTIONS,
                    Collection::Nat => NAT_ACTIONS,
                    _ => FILTER_ACTIONS,
                };
                let menu = cmd.menu();
                let msg = if known.contains(&name) {
                    format!("action `{name}` is not simulated in /{menu}")
                } else {
                    let hint = super::did_you_mean(name, known.iter().copied())
                        .map_or_else(String::new, |s| format!("; did you mean `{s}`?"));
                    format!("/{menu} has no action `{name}`{hint}")
                };
                return Err(self.err(at, msg));
            }
        };
        Ok(action)
    }
}

/// Names a rule's matchers use, interned into the configuration being built.
struct RuleNames<'m, 'a, 'e> {
    model: &'m mut Model<'a>,
    at: &'e EvalArg<'e>,
}

impl Intern for RuleNames<'_, '_, '_> {
    fn iface(&mut self, name: &str) -> Result<IfaceId, String> {
        self.model.iface(name, self.at).map_err(|e| e.message)
    }

    fn connection_mark(&mut self, name: &str) -> ConnMark {
        self.model.conn_mark(name)
    }

    fn routing_table(&mut self, name: &str) -> TableId {
        TableId(self.model.cfg.routing_tables.intern(name))
    }

    fn address_list(&mut self, name: &str) -> ListId {
        self.model.cfg.address_lists.intern(name)
    }

    fn interface_list(&mut self, name: &str) -> u16 {
        self.model.cfg.interface_lists.intern(name)
    }

    fn packet_mark(&mut self, name: &str) -> u16 {
        self.model.cfg.packet_marks.intern(name)
    }
}

/// Whether a value is a stand-in an author left for the reader to fill (`REDACTED`,
/// `YOUR_WAN_IP`, `<gateway>`, `x.x.x.x`) — never a name a router could hold, as `LAN` is.
fn is_placeholder(v: &str) -> bool {
    const WORDS: [&str; 6] = ["REDACTED", "YOUR", "CHANGE", "XXX", "PLACEHOLDER", "HIDDEN"];
    let upper = v.to_ascii_uppercase();
    let worded = upper == v && WORDS.iter().any(|w| upper.contains(w));
    let angled = v.starts_with('<') && v.ends_with('>');
    let crossed = upper.starts_with("X.X.");
    worded || angled || crossed
}

/// Sets each changed property, keeping the order the item was written in.
fn merge(props: &mut Props, changes: Props) {
    for (k, v) in changes {
        match props.iter_mut().find(|(pk, _)| *pk == k) {
            Some(slot) => slot.1 = v,
            None => props.push((k, v)),
        }
    }
}
