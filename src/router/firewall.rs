//! Firewall rules shared by the mangle, nat and filter tables: matchers, actions, chains, and the
//! walk of a chain for one packet.
//!
//! A rule is a list of matchers (all must hold; each may be negated with `!`) and one action.
//! Chains are lists of rule indices, so `jump` and `return` are a small explicit stack, and
//! every rule keeps RouterOS's packet and byte counters. Matchers are ordered cheapest first
//! when a rule is built, so the PCC hash is computed only for packets every other matcher let by.

use crate::packet::{FiveTuple, Protocol};
use crate::router::pcc::Classifier;
use std::net::Ipv4Addr;

/// An interface of the router, by index into the configuration's interface list.
pub type IfaceId = u8;

/// A connection mark, by index into the configuration's mark names; 0 is `no-mark`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnMark(pub u16);

impl ConnMark {
    pub const NONE: ConnMark = ConnMark(0);
}

/// A routing table (v6: a routing mark), by index; 0 is `main`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId(pub u16);

impl TableId {
    pub const MAIN: TableId = TableId(0);
}

/// An address list, by index into the configuration's list names.
pub type ListId = u16;

/// An inclusive range of addresses: a prefix, a range `a-b`, or one address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AddrRange {
    pub first: u32,
    pub last: u32,
}

impl AddrRange {
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let ip = u32::from(ip);
        self.first <= ip && ip <= self.last
    }

    /// Parses `10.0.0.0/24`, `192.168.1.50-192.168.1.60` or `10.0.0.5`.
    pub fn parse(text: &str) -> Result<AddrRange, String> {
        let bad = || format!("`{text}` is not an address, prefix or range");
        if let Some((a, b)) = text.split_once('-') {
            let first: Ipv4Addr = a.parse().map_err(|_| bad())?;
            let last: Ipv4Addr = b.parse().map_err(|_| bad())?;
            if first > last {
                return Err(format!("range `{text}` ends before it starts"));
            }
            return Ok(AddrRange {
                first: first.into(),
                last: last.into(),
            });
        }
        if text.contains('/') {
            let net: ipnet::Ipv4Net = text.parse().map_err(|_| bad())?;
            let net = net.trunc();
            return Ok(AddrRange {
                first: net.network().into(),
                last: net.broadcast().into(),
            });
        }
        let ip: Ipv4Addr = text.parse().map_err(|_| bad())?;
        Ok(AddrRange {
            first: ip.into(),
            last: ip.into(),
        })
    }
}

/// A set of ports: `80`, `5060-5061`, `80,443,8000-8080`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSet(pub Vec<(u16, u16)>);

impl PortSet {
    pub fn contains(&self, port: u16) -> bool {
        self.0.iter().any(|&(lo, hi)| lo <= port && port <= hi)
    }

    pub fn parse(text: &str) -> Result<PortSet, String> {
        let port = |s: &str| {
            s.parse::<u16>()
                .map_err(|_| format!("`{s}` is not a port number (0-65535)"))
        };
        let mut ranges = Vec::new();
        for part in text.split(',') {
            let range = match part.split_once('-') {
                Some((lo, hi)) => (port(lo)?, port(hi)?),
                None => (port(part)?, port(part)?),
            };
            if range.0 > range.1 {
                return Err(format!("port range `{part}` ends before it starts"));
            }
            ranges.push(range);
        }
        Ok(PortSet(ranges))
    }
}

/// Connection states as `connection-state=` names them, as a bit set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnStates(pub u8);

impl ConnStates {
    pub const NEW: ConnStates = ConnStates(1);
    pub const ESTABLISHED: ConnStates = ConnStates(2);
    pub const RELATED: ConnStates = ConnStates(4);
    pub const INVALID: ConnStates = ConnStates(8);
    pub const UNTRACKED: ConnStates = ConnStates(16);

    pub fn parse(text: &str) -> Result<ConnStates, String> {
        let mut set = 0;
        for name in text.split(',') {
            set |= match name {
                "new" => Self::NEW.0,
                "established" => Self::ESTABLISHED.0,
                "related" => Self::RELATED.0,
                "invalid" => Self::INVALID.0,
                "untracked" => Self::UNTRACKED.0,
                other => return Err(format!("`{other}` is not a connection state")),
            };
        }
        Ok(ConnStates(set))
    }

    pub fn intersects(self, other: ConnStates) -> bool {
        self.0 & other.0 != 0
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Match {
    InInterface(IfaceId),
    OutInterface(IfaceId),
    ConnectionMark(ConnMark),
    RoutingMark(TableId),
    /// `dst-address-type=local`: addressed to the router itself.
    DstAddressLocal,
    SrcAddress(AddrRange),
    DstAddress(AddrRange),
    SrcAddressList(ListId),
    DstAddressList(ListId),
    Protocol(Protocol),
    SrcPort(PortSet),
    DstPort(PortSet),
    ConnectionState(ConnStates),
    Pcc(Classifier),
}

impl Match {
    /// Relative cost, so a rule tests cheap matchers before hashing.
    fn cost(&self) -> u8 {
        match self {
            Match::Pcc(_) => 3,
            Match::SrcAddressList(_) | Match::DstAddressList(_) | Match::DstAddressLocal => 2,
            Match::SrcPort(_) | Match::DstPort(_) => 1,
            _ => 0,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Matcher {
    pub negate: bool,
    pub kind: Match,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Accept,
    Drop,
    Passthrough,
    Log,
    Jump(ChainId),
    Return,
    MarkConnection(ConnMark),
    MarkRouting(TableId),
    MarkPacket(u16),
    FasttrackConnection,
    Masquerade,
    SrcNat(Ipv4Addr),
    DstNat { to: Ipv4Addr, port: Option<u16> },
}

/// A chain, by index: the built-in ones first, then user chains in order of appearance.
pub type ChainId = u16;

pub const BUILTIN_CHAINS: [&str; 7] = [
    "prerouting",
    "input",
    "forward",
    "output",
    "postrouting",
    "srcnat",
    "dstnat",
];
pub const PREROUTING: ChainId = 0;
pub const INPUT: ChainId = 1;
pub const FORWARD: ChainId = 2;
pub const OUTPUT: ChainId = 3;
pub const POSTROUTING: ChainId = 4;
pub const SRCNAT: ChainId = 5;
pub const DSTNAT: ChainId = 6;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Clone, Debug)]
pub struct Rule {
    pub chain: ChainId,
    pub matchers: Vec<Matcher>,
    pub action: Action,
    /// For mark actions: go on with the next rule after this one (RouterOS default `yes`).
    pub passthrough: bool,
    pub disabled: bool,
    /// Line of the `add` command in the configuration file.
    pub line: u32,
    pub comment: Option<String>,
    pub stats: Counters,
    /// The rule's in-interface and connection-mark matchers again, tested before the matcher
    /// list is touched: most rules of a PCC setup fail on one of them, and this keeps the walk
    /// of a chain within the rule array.
    quick: Quick,
}

/// Copies of a rule's in-interface and connection-mark conditions as plain values.
#[derive(Clone, Copy, Debug, Default)]
struct Quick {
    /// Interface and whether the condition is negated.
    in_iface: Option<(IfaceId, bool)>,
    connection_mark: Option<(ConnMark, bool)>,
}

impl Quick {
    fn of(matchers: &[Matcher]) -> Quick {
        let mut q = Quick::default();
        for m in matchers {
            match m.kind {
                Match::InInterface(i) if q.in_iface.is_none() => q.in_iface = Some((i, m.negate)),
                Match::ConnectionMark(c) if q.connection_mark.is_none() => {
                    q.connection_mark = Some((c, m.negate))
                }
                _ => {}
            }
        }
        q
    }

    #[inline]
    fn holds(&self, c: &Ctx) -> bool {
        self.in_iface
            .is_none_or(|(i, neg)| (c.in_iface == Some(i)) != neg)
            && self
                .connection_mark
                .is_none_or(|(m, neg)| (c.connection_mark == m) != neg)
    }
}

impl Rule {
    pub fn new(chain: ChainId, mut matchers: Vec<Matcher>, action: Action, line: u32) -> Rule {
        matchers.sort_by_key(|m| m.kind.cost());
        let quick = Quick::of(&matchers);
        Rule {
            quick,
            chain,
            matchers,
            action,
            passthrough: true,
            disabled: false,
            line,
            comment: None,
            stats: Counters::default(),
        }
    }
}

/// What a matcher can see of a packet (router-wide facts come separately, as [`Env`]).
pub struct Ctx {
    pub tuple: FiveTuple,
    pub len: u32,
    pub in_iface: Option<IfaceId>,
    pub out_iface: Option<IfaceId>,
    pub connection_mark: ConnMark,
    pub routing_mark: TableId,
    pub state: ConnStates,
}

/// Router-wide facts matchers consult: its own addresses and the address lists.
#[derive(Clone, Debug, Default)]
pub struct Env {
    pub local_addresses: Vec<Ipv4Addr>,
    /// Per list: its enabled entries.
    pub address_lists: Vec<Vec<AddrRange>>,
}

impl Env {
    fn in_list(&self, list: ListId, ip: Ipv4Addr) -> bool {
        self.address_lists
            .get(list as usize)
            .is_some_and(|entries| entries.iter().any(|r| r.contains(ip)))
    }
}

impl Matcher {
    pub fn holds(&self, c: &Ctx, env: &Env) -> bool {
        let t = &c.tuple;
        let raw = match &self.kind {
            Match::InInterface(i) => c.in_iface == Some(*i),
            Match::OutInterface(i) => c.out_iface == Some(*i),
            Match::ConnectionMark(m) => c.connection_mark == *m,
            Match::RoutingMark(m) => c.routing_mark == *m,
            Match::DstAddressLocal => env.local_addresses.contains(&t.dst),
            Match::SrcAddress(r) => r.contains(t.src),
            Match::DstAddress(r) => r.contains(t.dst),
            Match::SrcAddressList(l) => env.in_list(*l, t.src),
            Match::DstAddressList(l) => env.in_list(*l, t.dst),
            Match::Protocol(p) => t.protocol == *p,
            Match::SrcPort(p) => t.protocol != Protocol::Icmp && p.contains(t.src_port),
            Match::DstPort(p) => t.protocol != Protocol::Icmp && p.contains(t.dst_port),
            Match::ConnectionState(s) => c.state.intersects(*s),
            Match::Pcc(pcc) => pcc.matches(t),
        };
        raw != self.negate
    }
}

/// How a chain walk ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Fell off the end of the chain, or `accept` in mangle: the packet goes on.
    Continue,
    Accept,
    Drop,
    Fasttrack,
    Masquerade,
    SrcNat(Ipv4Addr),
    DstNat(Ipv4Addr, Option<u16>),
}

/// Sees each rule a walk tries: `trace` prints them; the simulation passes `()`.
pub trait Observer {
    fn rule_tried(&mut self, _table: &Table, _rule: &Rule, _matched: bool, _ctx: &Ctx, _env: &Env) {
    }
}

impl Observer for () {}

/// One table (mangle, nat or filter): its rules in order and its chains.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// `mangle`, `nat` or `filter`.
    pub name: &'static str,
    pub rules: Vec<Rule>,
    pub chain_names: Vec<String>,
    /// Per chain, indices of its enabled rules in order; rebuilt by [`Table::index`].
    chains: Vec<Vec<u32>>,
}

/// `jump` nests at most this deep, as a guard against loops of chains.
const MAX_JUMP_DEPTH: usize = 16;

impl Table {
    pub fn new(name: &'static str) -> Table {
        Table {
            name,
            rules: Vec::new(),
            chain_names: BUILTIN_CHAINS.iter().map(|s| s.to_string()).collect(),
            chains: Vec::new(),
        }
    }

    pub fn chain_id(&mut self, name: &str) -> ChainId {
        match self.chain_names.iter().position(|n| n == name) {
            Some(i) => i as ChainId,
            None => {
                self.chain_names.push(name.to_string());
                (self.chain_names.len() - 1) as ChainId
            }
        }
    }

    /// Rebuilds the per-chain rule lists after rules were added, removed or toggled.
    pub fn index(&mut self) {
        self.chains = vec![Vec::new(); self.chain_names.len()];
        for (i, r) in self.rules.iter().enumerate() {
            if !r.disabled {
                self.chains[r.chain as usize].push(i as u32);
            }
        }
    }

    /// Walks `chain` for the packet in `ctx`, applying mark actions to `ctx` as it goes.
    pub fn run<O: Observer>(
        &mut self,
        chain: ChainId,
        ctx: &mut Ctx,
        env: &Env,
        obs: &mut O,
    ) -> Verdict {
        let mut stack: [(ChainId, u32); MAX_JUMP_DEPTH] = [(0, 0); MAX_JUMP_DEPTH];
        let mut depth = 0;
        let (mut chain, mut pos) = (chain, 0u32);
        loop {
            let Some(&ri) = self
                .chains
                .get(chain as usize)
                .and_then(|c| c.get(pos as usize))
            else {
                // End of chain: return to the caller, or fall off the built-in chain.
                if depth == 0 {
                    return Verdict::Continue;
                }
                depth -= 1;
                (chain, pos) = stack[depth];
                continue;
            };
            pos += 1;
            let rule = &self.rules[ri as usize];
            let matched = rule.quick.holds(ctx) && rule.matchers.iter().all(|m| m.holds(ctx, env));
            obs.rule_tried(self, rule, matched, ctx, env);
            if !matched {
                continue;
            }
            let rule = &mut self.rules[ri as usize];
            rule.stats.packets += 1;
            rule.stats.bytes += ctx.len as u64;
            match rule.action {
                Action::Passthrough | Action::Log | Action::MarkPacket(_) => {}
                Action::MarkConnection(m) => ctx.connection_mark = m,
                Action::MarkRouting(t) => ctx.routing_mark = t,
                Action::Accept => return Verdict::Accept,
                Action::Drop => return Verdict::Drop,
                Action::FasttrackConnection => return Verdict::Fasttrack,
                Action::Masquerade => return Verdict::Masquerade,
                Action::SrcNat(a) => return Verdict::SrcNat(a),
                Action::DstNat { to, port } => return Verdict::DstNat(to, port),
                Action::Return => {
                    if depth == 0 {
                        return Verdict::Continue;
                    }
                    depth -= 1;
                    (chain, pos) = stack[depth];
                    continue;
                }
                Action::Jump(target) => {
                    if depth < MAX_JUMP_DEPTH {
                        stack[depth] = (chain, pos);
                        depth += 1;
                        (chain, pos) = (target, 0);
                    }
                    continue;
                }
            }
            let marks = matches!(
                rule.action,
                Action::MarkConnection(_) | Action::MarkRouting(_) | Action::MarkPacket(_)
            );
            if marks && !rule.passthrough {
                return Verdict::Continue;
            }
        }
    }
}
