//! The router's configuration as the RouterOS reader leaves it: interfaces (by their names after
//! renaming), addresses, address lists, the mangle / nat / filter tables, routes, connection
//! tracking settings — and what the script asked for that pccsim does not simulate.
//!
//! Names (interfaces, connection marks, routing tables, address lists) are interned once here, so
//! the router compares small integers per packet, never strings.

use crate::router::conntrack;
use crate::router::firewall::{AddrRange, ConnMark, IfaceId, ListId, Table, TableId};
use crate::router::routing::Route;
use std::net::Ipv4Addr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    V6,
    V7,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::V6 => "v6",
            Dialect::V7 => "v7",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Interface {
    /// The factory name (`ether1`), which the scenario wires.
    pub default_name: String,
    /// The name after `/interface set … name=`.
    pub name: String,
    pub comment: Option<String>,
    /// Where a script first named an interface it never declared (no factory port has that
    /// name and nothing renamed one to it): a typo, or a script meant for a router that has it.
    pub undeclared_use: Option<(usize, usize)>,
    /// The line that first named the interface (0 for ports no command touched).
    pub line: u32,
    /// The menu that made it (`wireguard` for `/interface wireguard add`); `None` for a port.
    pub made_by: Option<String>,
}

/// Interfaces that carry traffic inside another WAN's (tunnels): no ISP is plugged into them.
pub const TUNNELS: &[&str] = &[
    "wireguard",
    "ovpn-client",
    "l2tp-client",
    "sstp-client",
    "pptp-client",
    "gre",
    "eoip",
    "ipip",
    "6to4",
    "vxlan",
    "zerotier",
];

#[derive(Clone, Debug, PartialEq)]
pub struct Address {
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    pub iface: IfaceId,
    pub line: u32,
}

impl Address {
    pub fn network_contains(&self, ip: Ipv4Addr) -> bool {
        let mask = crate::router::routing::prefix_mask(self.prefix_len);
        u32::from(ip) & mask == u32::from(self.address) & mask
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct AddressListEntry {
    pub list: ListId,
    pub range: AddrRange,
    pub disabled: bool,
    pub comment: Option<String>,
    pub line: u32,
}

/// A menu the script used that the simulation does not model.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct NotSimulated {
    pub menu: String,
    pub lines: Vec<u32>,
}

/// A place where the simulation departs from what RouterOS would do with the text, and why.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Assumption {
    /// A stable id, as `check`'s findings have (`not-routeros-text`, `matcher-assumed`).
    pub id: &'static str,
    pub line: u32,
    pub message: String,
}

/// A set of names where index 0 is the built-in one (`no-mark`, `main`), each found by a hash
/// lookup: an export may name thousands of address lists, each entry naming one.
#[derive(Clone, Debug, Default)]
pub struct Names {
    names: Vec<String>,
    index: rustc_hash::FxHashMap<String, u16>,
}

impl PartialEq for Names {
    fn eq(&self, other: &Names) -> bool {
        self.names == other.names
    }
}

impl Names {
    pub fn with_default(name: &str) -> Names {
        let mut names = Names::default();
        names.intern(name);
        names
    }

    pub fn intern(&mut self, name: &str) -> u16 {
        match self.find(name) {
            Some(i) => i,
            None => {
                let i = self.names.len() as u16;
                self.names.push(name.to_string());
                self.index.insert(name.to_string(), i);
                i
            }
        }
    }

    pub fn find(&self, name: &str) -> Option<u16> {
        self.index.get(name).copied()
    }

    pub fn name(&self, i: u16) -> &str {
        &self.names[i as usize]
    }

    /// The names in the order of their indices.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

#[derive(Clone, Debug)]
pub struct RouterConfig {
    pub dialect: Dialect,
    pub interfaces: Vec<Interface>,
    pub addresses: Vec<Address>,
    pub address_lists: Names,
    pub address_list_entries: Vec<AddressListEntry>,
    /// Interface lists firewall rules name; members are the `/interface list member` items.
    pub interface_lists: Names,
    pub connection_marks: Names,
    /// `new-packet-mark` names (index 0: `no-mark`).
    pub packet_marks: Names,
    pub routing_tables: Names,
    pub mangle: Table,
    pub nat: Table,
    pub filter: Table,
    pub routes: Vec<Route>,
    pub conntrack: conntrack::Settings,
    /// `/routing settings` check-gateway timing.
    pub check_gateway: crate::router::gateway_check::Settings,
    /// `/ip dns`: the router's DNS service.
    pub dns: crate::router::dns::Settings,
    /// `/ip settings ipv4-multipath-hash-policy` (v7 ECMP).
    pub multipath_hash_policy: crate::router::ecmp::HashPolicy,
    pub not_simulated: Vec<NotSimulated>,
    /// Where the reader could not take the configuration exactly as RouterOS would run it,
    /// and what it assumed instead (`check` lists them).
    pub assumptions: Vec<Assumption>,
    /// Items of menus kept but not simulated yet (netwatch, scheduler, scripts), per menu, as
    /// the parameters they were given.
    pub stored: std::collections::BTreeMap<String, Vec<StoredItem>>,
    /// Tables declared with `/routing table add … fib` (v7).
    pub declared_tables: Vec<TableId>,
}

/// An item of a menu that is read but not simulated, with its line and parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredItem {
    pub line: u32,
    pub props: Vec<(std::borrow::Cow<'static, str>, String)>,
}

impl StoredItem {
    /// The value of one of its parameters.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.props
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn disabled(&self) -> bool {
        matches!(self.get("disabled"), Some("yes" | "true"))
    }
}

impl RouterConfig {
    /// The members of interface list `list`, as a bit per interface: RouterOS's built-in lists
    /// (`all`, `none`, `static`, `dynamic` — pccsim's interfaces are all static), or the
    /// enabled `/interface list member` items naming it. Lists included in lists (`include=`)
    /// are not followed.
    pub fn interface_list_members(&self, list: &str) -> u64 {
        match list {
            "all" | "static" => u64::MAX,
            "none" | "dynamic" => 0,
            _ => self
                .stored_enabled("interface list member")
                .filter(|m| m.get("list") == Some(list))
                .filter_map(|m| self.iface(m.get("interface")?))
                .filter(|&i| i < 64)
                .fold(0, |set, i| set | 1 << i),
        }
    }

    /// The enabled items a script stored under `menu` (netwatch, scheduler, scripts).
    /// Whether `list` already holds exactly `range` (RouterOS refuses a second one).
    pub fn has_address_list_entry(
        &self,
        list: u16,
        range: crate::router::firewall::AddrRange,
    ) -> bool {
        (self.address_list_entries.iter()).any(|e| e.list == list && e.range == range)
    }

    pub fn stored_enabled<'c>(&'c self, menu: &str) -> impl Iterator<Item = &'c StoredItem> {
        self.stored
            .get(menu)
            .into_iter()
            .flatten()
            .filter(|i| !i.disabled())
    }
}

impl Default for RouterConfig {
    fn default() -> RouterConfig {
        RouterConfig {
            dialect: Dialect::V6,
            interfaces: Vec::new(),
            addresses: Vec::new(),
            address_lists: Names::default(),
            interface_lists: Names::default(),
            address_list_entries: Vec::new(),
            connection_marks: Names::with_default("no-mark"),
            packet_marks: Names::with_default("no-mark"),
            routing_tables: Names::with_default("main"),
            mangle: Table::new("mangle"),
            nat: Table::new("nat"),
            filter: Table::new("filter"),
            routes: Vec::new(),
            conntrack: conntrack::Settings::default(),
            check_gateway: Default::default(),
            multipath_hash_policy: Default::default(),
            dns: Default::default(),
            not_simulated: Vec::new(),
            assumptions: Vec::new(),
            stored: Default::default(),
            declared_tables: Vec::new(),
        }
    }
}

impl RouterConfig {
    /// Makes every PCC matcher hash with `hash`.
    pub fn use_pcc_hash(&mut self, hash: crate::router::pcc::PccHash) {
        for table in [&mut self.mangle, &mut self.nat, &mut self.filter] {
            for rule in &mut table.rules {
                for m in &mut rule.matchers {
                    if let crate::router::firewall::Match::Pcc(c) = &mut m.kind {
                        c.hash = hash;
                    }
                }
            }
        }
    }

    /// An interface by its current or factory name.
    pub fn iface(&self, name: &str) -> Option<IfaceId> {
        self.interfaces
            .iter()
            .position(|i| i.name == name)
            .or_else(|| self.interfaces.iter().position(|i| i.default_name == name))
            .map(|i| i as IfaceId)
    }

    pub fn iface_name(&self, i: IfaceId) -> &str {
        &self.interfaces[i as usize].name
    }

    /// The first address configured on an interface.
    pub fn address_of(&self, iface: IfaceId) -> Option<&Address> {
        self.addresses.iter().find(|a| a.iface == iface)
    }

    pub fn connection_mark(&self, name: &str) -> Option<ConnMark> {
        self.connection_marks.find(name).map(ConnMark)
    }

    pub fn table(&self, name: &str) -> Option<TableId> {
        self.routing_tables.find(name).map(TableId)
    }
}
