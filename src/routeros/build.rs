//! Runs parsed commands against an empty router model, as the router would when the script is
//! pasted into its terminal: `add` appends (or inserts at `place-before`), `set`, `remove`,
//! `enable` and `disable` act on items chosen by number or `[ find … ]`.
//!
//! Every parameter of a modeled menu is checked and converted here, so a typo is an error on its
//! line rather than a rule that silently never matches. Menus outside the model are recorded as
//! "not simulated"; operational commands (`print`, `monitor`, …) change nothing.

use super::parse::{Arg, Command, Condition, Op, Script, Value};
use crate::config::{Address, AddressListEntry, Dialect, Interface, NotSimulated, RouterConfig};
use crate::error::{SourceError, line_column};
use crate::firewall::{
    Action, AddrRange, ConnMark, ConnStates, IfaceId, Match, Matcher, PortSet, Rule, Table, TableId,
};
use crate::packet::Protocol;
use crate::pcc::Classifier;
use crate::routing::{CheckGateway, Gateway, Route};
use crate::units::parse_duration;
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
    "find",
];

/// The parameters an item was given, as text, so `[ find … ]` can select on them.
type Props = Vec<(String, String)>;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Collection {
    Mangle,
    Nat,
    Filter,
    AddressList,
    Route,
    Address,
}

pub fn build(file: &str, src: &str, script: &Script) -> Result<RouterConfig, SourceError> {
    let mut b = Builder {
        file,
        src,
        cfg: RouterConfig::default(),
        props: Default::default(),
        not_simulated: Vec::new(),
        v7: false,
    };
    for cmd in &script.commands {
        b.command(cmd)?;
    }
    b.cfg.dialect = if b.v7 { Dialect::V7 } else { Dialect::V6 };
    b.cfg.not_simulated = b.not_simulated;
    b.cfg.mangle.index();
    b.cfg.nat.index();
    b.cfg.filter.index();
    Ok(b.cfg)
}

struct Builder<'a> {
    file: &'a str,
    src: &'a str,
    cfg: RouterConfig,
    /// Per collection, the props of each item, parallel to the config's own lists.
    props: [Vec<Props>; 6],
    not_simulated: Vec<NotSimulated>,
    v7: bool,
}

fn text(arg: &Arg) -> &str {
    match &arg.value {
        Value::Text(t) => t,
        Value::Find(_) => "",
    }
}

fn yes(v: &str) -> Option<bool> {
    match v {
        "yes" | "true" => Some(true),
        "no" | "false" => Some(false),
        _ => None,
    }
}

impl Builder<'_> {
    fn err(&self, at: &Arg, msg: impl Into<String>) -> SourceError {
        SourceError::new(self.file, self.src, at.start, at.end, msg)
    }

    fn cmd_err(&self, cmd: &Command, msg: impl Into<String>) -> SourceError {
        SourceError::new(self.file, self.src, cmd.start, cmd.end, msg)
    }

    fn line(&self, cmd: &Command) -> u32 {
        line_column(self.src, cmd.start).0
    }

    fn command(&mut self, cmd: &Command) -> Result<(), SourceError> {
        if cmd.slash_form {
            self.v7 = true;
        }
        if OPERATIONAL.contains(&cmd.verb.as_str()) {
            return Ok(());
        }
        match cmd.menu().as_str() {
            "interface" | "interface ethernet" if cmd.verb == "set" => self.interface_set(cmd),
            "ip address" => self.collection(Collection::Address, cmd),
            "ip firewall mangle" => self.collection(Collection::Mangle, cmd),
            "ip firewall nat" => self.collection(Collection::Nat, cmd),
            "ip firewall filter" => self.collection(Collection::Filter, cmd),
            "ip firewall address-list" => self.collection(Collection::AddressList, cmd),
            "ip route" => self.collection(Collection::Route, cmd),
            "routing table" if cmd.verb == "add" => self.routing_table(cmd),
            "ip firewall connection tracking" if cmd.verb == "set" => self.conntrack(cmd),
            menu => {
                let line = self.line(cmd);
                let menu = format!("/{menu} {}", cmd.verb);
                match self.not_simulated.iter_mut().find(|n| n.menu == menu) {
                    Some(n) => n.lines.push(line),
                    None => self.not_simulated.push(NotSimulated {
                        menu,
                        lines: vec![line],
                    }),
                }
                Ok(())
            }
        }
    }

    /// An interface by name; factory port names (`ether5`) exist without being declared.
    fn iface(&mut self, name: &str, at: &Arg) -> Result<IfaceId, SourceError> {
        if let Some(i) = self.cfg.iface(name) {
            return Ok(i);
        }
        let is_port = ["ether", "sfp-sfpplus", "sfp", "wlan", "lte", "combo"]
            .iter()
            .any(|p| {
                name.strip_prefix(p)
                    .is_some_and(|n| n.parse::<u8>().is_ok())
            });
        if !is_port {
            return Err(self.err(at, format!("interface `{name}` does not exist")));
        }
        if self.cfg.interfaces.len() >= u8::MAX as usize {
            return Err(self.err(at, "too many interfaces"));
        }
        self.cfg.interfaces.push(Interface {
            default_name: name.to_string(),
            name: name.to_string(),
            comment: None,
        });
        Ok((self.cfg.interfaces.len() - 1) as IfaceId)
    }

    fn interface_set(&mut self, cmd: &Command) -> Result<(), SourceError> {
        let Some(target) = cmd.args.iter().find(|a| a.key.is_none()) else {
            return Err(self.cmd_err(
                cmd,
                "expected the interface to set (e.g. set ether1 name=WAN1)",
            ));
        };
        let name = match &target.value {
            Value::Text(t) => t.clone(),
            Value::Find(conds) => match conds.iter().find(|c| c.key.ends_with("name")) {
                Some(c) => c.value.clone(),
                None => return Err(self.err(target, "expected [ find default-name=… ]")),
            },
        };
        let id = self.iface(&name, target)?;
        for a in cmd.args.iter().filter(|a| a.key.is_some()) {
            let iface = &mut self.cfg.interfaces[id as usize];
            match a.key.as_deref().unwrap_or_default() {
                "name" => iface.name = text(a).to_string(),
                "comment" => iface.comment = Some(text(a).to_string()),
                "disabled" | "mtu" | "l2mtu" | "arp" | "speed" | "auto-negotiation" => {}
                k => return Err(self.err(a, format!("unknown parameter `{k}` for /interface set"))),
            }
        }
        Ok(())
    }

    fn routing_table(&mut self, cmd: &Command) -> Result<(), SourceError> {
        self.v7 = true;
        let Some(name) = cmd.arg("name") else {
            return Err(self.cmd_err(cmd, "expected name= for the routing table"));
        };
        self.cfg.routing_tables.intern(text(name));
        Ok(())
    }

    fn conntrack(&mut self, cmd: &Command) -> Result<(), SourceError> {
        for a in &cmd.args {
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
            } else if !matches!(
                key,
                "enabled" | "loose-tcp-tracking" | "tcp-max-retrans-timeout"
            ) {
                return Err(self.err(
                    a,
                    format!("unknown parameter `{key}` for connection tracking"),
                ));
            }
        }
        Ok(())
    }

    fn len(&self, c: Collection) -> usize {
        self.props[c as usize].len()
    }

    fn collection(&mut self, c: Collection, cmd: &Command) -> Result<(), SourceError> {
        match cmd.verb.as_str() {
            "add" => self.add(c, cmd),
            "remove" | "disable" | "enable" => {
                let mut ids = self.selected(c, cmd)?;
                if cmd.verb == "remove" {
                    ids.sort_unstable_by(|a, b| b.cmp(a));
                    for id in ids {
                        self.remove(c, id);
                    }
                } else {
                    for id in ids {
                        self.set_disabled(c, id, cmd.verb == "disable");
                    }
                }
                Ok(())
            }
            verb => Err(self.cmd_err(cmd, format!("`{verb}` is not read for /{} yet", cmd.menu()))),
        }
    }

    /// Items chosen by `[ find … ]` or by number.
    fn selected(&self, c: Collection, cmd: &Command) -> Result<Vec<usize>, SourceError> {
        let Some(arg) = cmd
            .args
            .iter()
            .find(|a| a.key.is_none() || a.key.as_deref() == Some("numbers"))
        else {
            return Err(self.cmd_err(cmd, "expected which items, by number or [ find … ]"));
        };
        match &arg.value {
            Value::Find(conds) => {
                let mut ids = Vec::new();
                for (i, props) in self.props[c as usize].iter().enumerate() {
                    if self.all_hold(conds, props, arg)? {
                        ids.push(i);
                    }
                }
                Ok(ids)
            }
            Value::Text(t) => t
                .split(',')
                .map(|n| match n.parse::<usize>() {
                    Ok(i) if i < self.len(c) => Ok(i),
                    _ => Err(self.err(arg, format!("no such item `{n}`"))),
                })
                .collect(),
        }
    }

    fn all_hold(&self, conds: &[Condition], props: &Props, at: &Arg) -> Result<bool, SourceError> {
        for cond in conds {
            let value = props
                .iter()
                .find(|(k, _)| *k == cond.key)
                .map_or("", |(_, v)| v.as_str());
            let holds = match cond.op {
                Op::Eq => value == cond.value,
                Op::NotEq => value != cond.value,
                Op::Tilde => regex_lite::Regex::new(&cond.value)
                    .map_err(|e| self.err(at, format!("bad regular expression: {e}")))?
                    .is_match(value),
            };
            if !holds {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn remove(&mut self, c: Collection, id: usize) {
        self.props[c as usize].remove(id);
        match c {
            Collection::Mangle => drop(self.cfg.mangle.rules.remove(id)),
            Collection::Nat => drop(self.cfg.nat.rules.remove(id)),
            Collection::Filter => drop(self.cfg.filter.rules.remove(id)),
            Collection::AddressList => drop(self.cfg.address_list_entries.remove(id)),
            Collection::Route => drop(self.cfg.routes.remove(id)),
            Collection::Address => drop(self.cfg.addresses.remove(id)),
        }
    }

    fn set_disabled(&mut self, c: Collection, id: usize, disabled: bool) {
        let flag = if disabled { "yes" } else { "no" };
        let props = &mut self.props[c as usize][id];
        props.retain(|(k, _)| k != "disabled");
        props.push(("disabled".into(), flag.into()));
        match c {
            Collection::Mangle => self.cfg.mangle.rules[id].disabled = disabled,
            Collection::Nat => self.cfg.nat.rules[id].disabled = disabled,
            Collection::Filter => self.cfg.filter.rules[id].disabled = disabled,
            Collection::AddressList => self.cfg.address_list_entries[id].disabled = disabled,
            Collection::Route => self.cfg.routes[id].disabled = disabled,
            // RouterOS disables addresses too; an address is modeled as always present.
            Collection::Address => {}
        }
    }

    fn add(&mut self, c: Collection, cmd: &Command) -> Result<(), SourceError> {
        if let Some(a) = cmd.args.iter().find(|a| a.key.is_none()) {
            return Err(self.err(a, "expected parameter=value"));
        }
        let props: Props = cmd
            .args
            .iter()
            .filter(|a| a.key.as_deref() != Some("place-before"))
            .map(|a| (a.key.clone().unwrap_or_default(), text(a).to_string()))
            .collect();
        let mut at = self.len(c);
        if let Some(pb) = cmd.arg("place-before") {
            at = text(pb)
                .parse::<usize>()
                .ok()
                .filter(|&i| i <= self.len(c))
                .ok_or_else(|| self.err(pb, "place-before must name an existing item number"))?;
        }
        let line = self.line(cmd);
        match c {
            Collection::Mangle | Collection::Nat | Collection::Filter => {
                let rule = self.rule(c, cmd, line)?;
                let table = self.table_mut(c);
                table.rules.insert(at, rule);
            }
            Collection::AddressList => {
                let entry = self.address_list_entry(cmd, line)?;
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
        }
        self.props[c as usize].insert(at, props);
        Ok(())
    }

    fn table_mut(&mut self, c: Collection) -> &mut Table {
        match c {
            Collection::Nat => &mut self.cfg.nat,
            Collection::Filter => &mut self.cfg.filter,
            _ => &mut self.cfg.mangle,
        }
    }

    fn address(&mut self, cmd: &Command, line: u32) -> Result<Address, SourceError> {
        let mut address = None;
        let mut iface = None;
        for a in &cmd.args {
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
                k => {
                    return Err(self.err(a, format!("unknown parameter `{k}` for /ip address add")));
                }
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
        cmd: &Command,
        line: u32,
    ) -> Result<AddressListEntry, SourceError> {
        let mut list = None;
        let mut range = None;
        let mut disabled = false;
        for a in &cmd.args {
            match a.key.as_deref().unwrap_or_default() {
                "list" => list = Some(self.cfg.address_lists.intern(text(a))),
                "address" => range = Some(AddrRange::parse(text(a)).map_err(|e| self.err(a, e))?),
                "disabled" => {
                    disabled = yes(text(a)).ok_or_else(|| self.err(a, "expected yes or no"))?
                }
                "comment" | "timeout" | "dynamic" => {}
                k => {
                    return Err(
                        self.err(a, format!("unknown parameter `{k}` for address-list add"))
                    );
                }
            }
        }
        let (Some(list), Some(range)) = (list, range) else {
            return Err(self.cmd_err(cmd, "expected list= and address="));
        };
        Ok(AddressListEntry {
            list,
            range,
            disabled,
            line,
        })
    }

    fn route(&mut self, cmd: &Command, line: u32) -> Result<Route, SourceError> {
        let mut route = Route {
            dst: Ipv4Addr::UNSPECIFIED,
            prefix_len: 0,
            gateway: Gateway::Address(Ipv4Addr::UNSPECIFIED),
            distance: 1,
            table: TableId::MAIN,
            check_gateway: None,
            scope: 30,
            target_scope: 10,
            disabled: false,
            connected: false,
            line,
            comment: None,
        };
        let mut has_gateway = false;
        for a in &cmd.args {
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
                "gateway" => {
                    has_gateway = true;
                    let gw = v.split('%').next().unwrap_or(v);
                    route.gateway = match gw.parse::<Ipv4Addr>() {
                        Ok(ip) => Gateway::Address(ip),
                        Err(_) => Gateway::Interface(self.iface(gw, a)?),
                    };
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
                k => return Err(self.err(a, format!("unknown parameter `{k}` for /ip route add"))),
            }
        }
        if !has_gateway {
            return Err(self.cmd_err(cmd, "expected gateway= for the route"));
        }
        Ok(route)
    }

    fn rule(&mut self, c: Collection, cmd: &Command, line: u32) -> Result<Rule, SourceError> {
        let mut matchers = Vec::new();
        let mut chain = None;
        let mut action_arg = None;
        let mut passthrough = true;
        let mut disabled = false;
        let mut comment = None;
        for a in &cmd.args {
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
                | "place-before" => continue,
                "in-interface" => Match::InInterface(self.iface(v, a)?),
                "out-interface" => Match::OutInterface(self.iface(v, a)?),
                "connection-mark" => Match::ConnectionMark(self.conn_mark(v)),
                "routing-mark" => Match::RoutingMark(TableId(self.cfg.routing_tables.intern(v))),
                "dst-address-type" if v == "local" => Match::DstAddressLocal,
                "dst-address-type" => {
                    return Err(self.err(a, "only dst-address-type=local (or !local) is simulated"));
                }
                "src-address" => {
                    Match::SrcAddress(AddrRange::parse(v).map_err(|e| self.err(a, e))?)
                }
                "dst-address" => {
                    Match::DstAddress(AddrRange::parse(v).map_err(|e| self.err(a, e))?)
                }
                "src-address-list" => Match::SrcAddressList(self.cfg.address_lists.intern(v)),
                "dst-address-list" => Match::DstAddressList(self.cfg.address_lists.intern(v)),
                "protocol" => Match::Protocol(
                    Protocol::from_name(v)
                        .ok_or_else(|| self.err(a, "expected protocol tcp, udp or icmp"))?,
                ),
                "src-port" => Match::SrcPort(PortSet::parse(v).map_err(|e| self.err(a, e))?),
                "dst-port" => Match::DstPort(PortSet::parse(v).map_err(|e| self.err(a, e))?),
                "connection-state" => {
                    Match::ConnectionState(ConnStates::parse(v).map_err(|e| self.err(a, e))?)
                }
                "per-connection-classifier" => {
                    Match::Pcc(Classifier::parse(v).map_err(|e| self.err(a, e))?)
                }
                _ => {
                    let menu = cmd.menu();
                    return Err(self.err(a, format!("unknown parameter `{key}` for /{menu} add")));
                }
            };
            matchers.push(Matcher { negate, kind });
        }
        let Some(chain) = chain else {
            return Err(self.cmd_err(cmd, "expected chain= for the rule"));
        };
        let action = self.action(c, cmd, action_arg)?;
        let mut rule = Rule::new(chain, matchers, action, line);
        rule.passthrough = passthrough;
        rule.disabled = disabled;
        rule.comment = comment;
        Ok(rule)
    }

    fn conn_mark(&mut self, name: &str) -> ConnMark {
        ConnMark(self.cfg.connection_marks.intern(name))
    }

    fn action(
        &mut self,
        c: Collection,
        cmd: &Command,
        arg: Option<&Arg>,
    ) -> Result<Action, SourceError> {
        let name = arg.map_or("accept", text);
        let target = |key: &str| -> Result<&Arg, SourceError> {
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
            (Collection::Mangle, "mark-packet") => Action::MarkPacket(0),
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
                    let port = match cmd.arg("to-ports") {
                        Some(p) => Some(
                            text(p)
                                .parse()
                                .map_err(|_| self.err(p, "expected a port"))?,
                        ),
                        None => None,
                    };
                    Action::DstNat { to, port }
                }
            }
            _ => {
                let at = arg.expect("the default action is always valid");
                return Err(self.err(
                    at,
                    format!("action `{name}` is not simulated in /{}", cmd.menu()),
                ));
            }
        };
        Ok(action)
    }
}
