//! Firewall matchers, each defined once: its RouterOS parameter name, how its value is read and
//! written back, how costly it is to test, and what it matches. The configuration reader, export,
//! `print`, `check` and the chain walk all go through [`Match`], so a new matcher is a variant
//! and an arm in each method of this file.

use crate::packet::{FiveTuple, Protocol, TcpFlags};
use crate::router::config::RouterConfig;
use crate::router::firewall::{ConnMark, IfaceId, ListId, TableId};
use crate::router::pcc::Classifier;
use crate::units::Time;
use std::net::Ipv4Addr;

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

    /// As RouterOS writes it: one address, a prefix when the range is one, else `a-b`.
    pub fn text(&self) -> String {
        let (first, last) = (Ipv4Addr::from(self.first), Ipv4Addr::from(self.last));
        if self.first == self.last {
            return first.to_string();
        }
        let span = self.last - self.first;
        if span == u32::MAX {
            return format!("{first}/0");
        }
        if span.wrapping_add(1).is_power_of_two() && self.first & span == 0 {
            let len = 32 - (span.wrapping_add(1)).trailing_zeros();
            return format!("{first}/{len}");
        }
        format!("{first}-{last}")
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

    pub fn text(&self) -> String {
        let part = |&(lo, hi): &(u16, u16)| {
            if lo == hi {
                lo.to_string()
            } else {
                format!("{lo}-{hi}")
            }
        };
        self.0.iter().map(part).collect::<Vec<_>>().join(",")
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
    const NAMES: [&'static str; 5] = ["new", "established", "related", "invalid", "untracked"];

    pub fn parse(text: &str) -> Result<ConnStates, String> {
        let mut set = 0;
        for name in text.split(',') {
            let Some(bit) = Self::NAMES.iter().position(|n| *n == name) else {
                return Err(format!("`{name}` is not a connection state"));
            };
            set |= 1 << bit;
        }
        Ok(ConnStates(set))
    }

    pub fn text(self) -> String {
        let names = Self::NAMES.iter().enumerate();
        let set: Vec<_> = names.filter(|(i, _)| self.0 & (1 << i) != 0).collect();
        set.into_iter()
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join(",")
    }

    pub fn intersects(self, other: ConnStates) -> bool {
        self.0 & other.0 != 0
    }
}

/// `nth=EVERY,PACKET`: the PACKET-th of every EVERY packets that reach the rule, counted by the
/// rule's own counter (kept with the router's rule state, not here).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nth {
    pub every: u32,
    pub packet: u32,
}

impl Nth {
    pub fn parse(text: &str) -> Result<Nth, String> {
        let bad = || format!("`{text}` is not EVERY,PACKET (e.g. nth=3,1)");
        let (every, packet) = text.split_once(',').ok_or_else(bad)?;
        let every: u32 = every.parse().map_err(|_| bad())?;
        let packet: u32 = packet.parse().map_err(|_| bad())?;
        if every == 0 || packet == 0 || packet > every {
            return Err(format!(
                "nth={text}: PACKET must be between 1 and EVERY, and EVERY at least 1"
            ));
        }
        Ok(Nth { every, packet })
    }

    /// Whether the `count`-th packet to reach the rule (from 1) matches.
    pub fn matches(&self, count: u64) -> bool {
        (count - 1) % self.every as u64 == (self.packet - 1) as u64
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Match {
    InInterface(IfaceId),
    OutInterface(IfaceId),
    /// `in-interface-list=LAN`: the packet came in by a member of the list.
    InInterfaceList(u16),
    OutInterfaceList(u16),
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
    /// `connection-nat-state=dstnat`: the connection's NAT so far (bits of [`NatState`]).
    ConnectionNatState(u8),
    /// `ipsec-policy=out,none`: whether an IPsec policy applies (never, in pccsim: it models
    /// no IPsec), with the direction written.
    IpsecPolicy {
        out: bool,
        ipsec: bool,
    },
    Pcc(Classifier),
    Nth(Nth),
    /// `tcp-flags=syn,!ack`: the flags that must be set, and those that must be clear.
    TcpFlags {
        set: u8,
        clear: u8,
    },
    /// `tcp-mss=1401-65535`: the MSS option of a SYN; simulated hosts offer [`HOST_MSS`].
    TcpMss(u16, u16),
    /// `dscp=46`: simulated traffic is all best effort (DSCP 0).
    Dscp(u8),
    /// `port=80,443`: the source or the destination port.
    Port(PortSet),
    /// `packet-mark=voip`: the mark `mark-packet` gave this packet earlier in the router.
    PacketMark(u16),
    /// `connection-bytes=500000-0`: bytes the connection has carried both ways, from the
    /// first to the last (`0` as the last: no end).
    ConnectionBytes(u64, u64),
    /// `limit=50/5s,10:packet`: a token bucket per rule.
    Limit(Box<Limit>),
    /// `hotspot=auth`: what a hotspot server would say of the packet. None is simulated: every
    /// packet that came in by a port is taken as a logged-in client's (`auth`, `from-client`).
    Hotspot(String),
    /// A matcher on what pccsim does not model (payloads, per-destination limits, rates),
    /// read with the answer it assumes; `check` lists it with that assumption.
    Assumed(Box<Assumed>),
}

/// A matcher pccsim does not model and the answer it assumes for it (boxed: rare, and the
/// matchers every packet meets stay small).
#[derive(Clone, Debug, PartialEq)]
pub struct Assumed {
    pub key: &'static str,
    pub value: String,
    pub matches: bool,
}

/// The MSS simulated hosts put in their SYN (Ethernet's 1500 less 40 bytes of headers).
pub const HOST_MSS: u16 = 1460;

/// `limit=COUNT[/TIME],BURST[:MODE]`: on average COUNT packets (or bits) per TIME, with bursts
/// of BURST above it, as a generic cell rate algorithm: each match moves the rule's
/// theoretical arrival time on by the cost's share of TIME, and a packet matches while that
/// time is at most BURST's worth ahead of now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// Picoseconds one packet (or bit) is worth (a bit at 1 Tbit/s is one).
    per_unit_ps: u64,
    burst: u32,
    bits: bool,
    count: u64,
    period_ns: u64,
}

impl Limit {
    fn parse(v: &str) -> Result<Limit, String> {
        let bad =
            || format!("`{v}` is not COUNT[/TIME],BURST[:packet|bit] (e.g. limit=50/5s,10:packet)");
        let (rate, rest) = v.split_once(',').unwrap_or((v, "5"));
        let (burst, mode) = rest.split_once(':').unwrap_or((rest, "packet"));
        let (count, per) = rate.split_once('/').unwrap_or((rate, "1s"));
        let count = count_with_unit(count).ok_or_else(bad)?;
        let period = match per {
            "sec" | "second" => crate::units::SEC,
            "min" | "minute" => 60 * crate::units::SEC,
            "hour" => 3600 * crate::units::SEC,
            other => crate::units::parse_duration(other).map_err(|_| bad())?,
        };
        let burst: u32 = burst.parse().map_err(|_| bad())?;
        let bits = match mode {
            "packet" => false,
            "bit" => true,
            _ => return Err(bad()),
        };
        if count == 0 || period == 0 {
            return Err(bad());
        }
        Ok(Limit {
            per_unit_ps: (period.saturating_mul(1000) / count).max(1),
            burst,
            bits,
            count,
            period_ns: period,
        })
    }

    fn text(&self) -> String {
        let mode = if self.bits { "bit" } else { "packet" };
        let period = crate::units::format_duration(self.period_ns);
        format!("{}/{period},{}:{mode}", self.count, self.burst)
    }

    /// Whether a packet of `len` bytes at `now` is within the limit; if so it is counted in
    /// `tat` (the theoretical arrival time, in picoseconds).
    fn admit(&self, now: Time, len: u32, tat: &mut u64) -> bool {
        let now = now.saturating_mul(1000);
        let cost = if self.bits { len as u64 * 8 } else { 1 };
        // A full bucket holds BURST packets (Linux's xt_limit starts with that credit).
        let tolerance = (self.burst.saturating_sub(1) as u64).saturating_mul(self.per_unit_ps);
        if tat.saturating_sub(now) > tolerance {
            return false;
        }
        *tat = (*tat)
            .max(now)
            .saturating_add(cost.saturating_mul(self.per_unit_ps));
        true
    }
}

/// What reading a matcher's value needs from the configuration being built: names made into
/// the small integers the router compares.
pub trait Intern {
    fn iface(&mut self, name: &str) -> Result<IfaceId, String>;
    fn connection_mark(&mut self, name: &str) -> ConnMark;
    fn routing_table(&mut self, name: &str) -> TableId;
    fn address_list(&mut self, name: &str) -> ListId;
    fn interface_list(&mut self, name: &str) -> u16;
    fn packet_mark(&mut self, name: &str) -> u16;
}

/// The matcher parameters, as RouterOS names them.
pub const KEYS: [&str; 31] = [
    "in-interface",
    "out-interface",
    "in-interface-list",
    "out-interface-list",
    "connection-mark",
    "routing-mark",
    "dst-address-type",
    "src-address",
    "dst-address",
    "src-address-list",
    "dst-address-list",
    "protocol",
    "src-port",
    "dst-port",
    "connection-state",
    "connection-nat-state",
    "ipsec-policy",
    "per-connection-classifier",
    "nth",
    "tcp-flags",
    "tcp-mss",
    "dscp",
    "port",
    "packet-mark",
    "connection-bytes",
    "limit",
    "hotspot",
    "layer7-protocol",
    "content",
    "dst-limit",
    "connection-rate",
];

impl Match {
    /// The parameter that sets it.
    pub fn key(&self) -> &'static str {
        match self {
            Match::InInterface(_) => "in-interface",
            Match::OutInterface(_) => "out-interface",
            Match::InInterfaceList(_) => "in-interface-list",
            Match::OutInterfaceList(_) => "out-interface-list",
            Match::ConnectionMark(_) => "connection-mark",
            Match::RoutingMark(_) => "routing-mark",
            Match::DstAddressLocal => "dst-address-type",
            Match::SrcAddress(_) => "src-address",
            Match::DstAddress(_) => "dst-address",
            Match::SrcAddressList(_) => "src-address-list",
            Match::DstAddressList(_) => "dst-address-list",
            Match::Protocol(_) => "protocol",
            Match::SrcPort(_) => "src-port",
            Match::DstPort(_) => "dst-port",
            Match::ConnectionState(_) => "connection-state",
            Match::ConnectionNatState(_) => "connection-nat-state",
            Match::IpsecPolicy { .. } => "ipsec-policy",
            Match::Pcc(_) => "per-connection-classifier",
            Match::Nth(_) => "nth",
            Match::TcpFlags { .. } => "tcp-flags",
            Match::TcpMss(..) => "tcp-mss",
            Match::Dscp(_) => "dscp",
            Match::Port(_) => "port",
            Match::PacketMark(_) => "packet-mark",
            Match::ConnectionBytes(..) => "connection-bytes",
            Match::Limit(_) => "limit",
            Match::Hotspot(_) => "hotspot",
            Match::Assumed(a) => a.key,
        }
    }

    /// What a matcher pccsim can't test exactly is taken to answer, and why; `None` for the
    /// matchers it tests as RouterOS does.
    pub fn assumption(&self) -> Option<String> {
        Some(match self {
            Match::Dscp(_) => "simulated traffic is all best effort: DSCP 0".into(),
            Match::TcpMss(..) => format!("simulated hosts offer an MSS of {HOST_MSS} in their SYN"),
            Match::Hotspot(_) => {
                "no hotspot server is simulated: every host behind a port counts as a logged-in client".into()
            }
            Match::Assumed(a) if a.key == "dst-limit" => {
                "per-destination limits are not simulated: assumed never reached, the rule matches".into()
            }
            Match::Assumed(a) if a.key == "connection-rate" => {
                "connection rates are not simulated: assumed within the range, the rule matches".into()
            }
            Match::Assumed(_) => {
                "payloads are not simulated (they are zeros): the rule never matches".into()
            }
            _ => return None,
        })
    }

    /// Reads `key=value` (the value without its `!`); `None` when `key` is not a matcher.
    pub fn parse(key: &str, v: &str, names: &mut impl Intern) -> Option<Result<Match, String>> {
        let m = match key {
            "in-interface" => names.iface(v).map(Match::InInterface),
            "out-interface" => names.iface(v).map(Match::OutInterface),
            "in-interface-list" => Ok(Match::InInterfaceList(names.interface_list(v))),
            "out-interface-list" => Ok(Match::OutInterfaceList(names.interface_list(v))),
            "connection-mark" => Ok(Match::ConnectionMark(names.connection_mark(v))),
            "routing-mark" => Ok(Match::RoutingMark(names.routing_table(v))),
            "dst-address-type" if v == "local" => Ok(Match::DstAddressLocal),
            "dst-address-type" => {
                Err("only dst-address-type=local (or !local) is simulated".into())
            }
            "src-address" => AddrRange::parse(v).map(Match::SrcAddress),
            "dst-address" => AddrRange::parse(v).map(Match::DstAddress),
            "src-address-list" => Ok(Match::SrcAddressList(names.address_list(v))),
            "dst-address-list" => Ok(Match::DstAddressList(names.address_list(v))),
            "protocol" => Protocol::from_name(v)
                .map(Match::Protocol)
                .ok_or_else(|| "expected protocol tcp, udp or icmp".into()),
            "src-port" => PortSet::parse(v).map(Match::SrcPort),
            "dst-port" => PortSet::parse(v).map(Match::DstPort),
            "connection-state" => ConnStates::parse(v).map(Match::ConnectionState),
            "connection-nat-state" => NatState::parse(v).map(Match::ConnectionNatState),
            "ipsec-policy" => match v.split_once(',') {
                Some((dir @ ("in" | "out"), policy @ ("none" | "ipsec"))) => {
                    Ok(Match::IpsecPolicy {
                        out: dir == "out",
                        ipsec: policy == "ipsec",
                    })
                }
                _ => Err("expected in or out, then none or ipsec (ipsec-policy=out,none)".into()),
            },
            "per-connection-classifier" => Classifier::parse(v).map(Match::Pcc),
            "nth" => Nth::parse(v).map(Match::Nth),
            "tcp-flags" => parse_tcp_flags(v).map(|(set, clear)| Match::TcpFlags { set, clear }),
            "tcp-mss" => {
                number_range(v, u16::MAX as u64).map(|(a, b)| Match::TcpMss(a as u16, b as u16))
            }
            "dscp" => match v.parse::<u8>() {
                Ok(d) if d < 64 => Ok(Match::Dscp(d)),
                _ => Err(format!("`{v}` is not a DSCP value (0-63)")),
            },
            "port" => PortSet::parse(v).map(Match::Port),
            "packet-mark" => Ok(Match::PacketMark(names.packet_mark(v))),
            "connection-bytes" => {
                number_range(v, u64::MAX).map(|(a, b)| Match::ConnectionBytes(a, b))
            }
            "limit" => Limit::parse(v).map(|l| Match::Limit(Box::new(l))),
            "hotspot" => {
                let known = ["auth", "from-client", "local-dst", "http", "to-client"];
                match v.split(',').find(|f| !known.contains(f)) {
                    Some(bad) => Err(format!(
                        "`{bad}` is not a hotspot state (one of: {})",
                        known.join(", ")
                    )),
                    None => Ok(Match::Hotspot(v.to_string())),
                }
            }
            "layer7-protocol" | "content" | "dst-limit" | "connection-rate" => {
                let key = KEYS
                    .iter()
                    .copied()
                    .find(|k| *k == key)
                    .expect("listed above");
                Ok(Match::Assumed(Box::new(Assumed {
                    key,
                    value: v.to_string(),
                    matches: matches!(key, "dst-limit" | "connection-rate"),
                })))
            }
            _ => return None,
        };
        Some(m)
    }

    /// The value as RouterOS writes it, names resolved through `cfg`.
    pub fn value_text(&self, cfg: &RouterConfig) -> String {
        match self {
            Match::InInterface(i) | Match::OutInterface(i) => cfg.iface_name(*i).to_string(),
            Match::InInterfaceList(l) | Match::OutInterfaceList(l) => {
                cfg.interface_lists.name(*l).to_string()
            }
            Match::ConnectionMark(c) => cfg.connection_marks.name(c.0).to_string(),
            Match::RoutingMark(t) => cfg.routing_tables.name(t.0).to_string(),
            Match::DstAddressLocal => "local".into(),
            Match::SrcAddress(a) | Match::DstAddress(a) => a.text(),
            Match::SrcAddressList(l) | Match::DstAddressList(l) => {
                cfg.address_lists.name(*l).to_string()
            }
            Match::Protocol(p) => p.name().to_string(),
            Match::SrcPort(p) | Match::DstPort(p) => p.text(),
            Match::ConnectionState(s) => s.text(),
            Match::ConnectionNatState(bits) => NatState::text(*bits),
            Match::IpsecPolicy { out, ipsec } => {
                let dir = if *out { "out" } else { "in" };
                format!("{dir},{}", if *ipsec { "ipsec" } else { "none" })
            }
            Match::Pcc(c) => c.to_string(),
            Match::Nth(n) => format!("{},{}", n.every, n.packet),
            Match::TcpFlags { set, clear } => tcp_flags_text(*set, *clear),
            Match::TcpMss(a, b) => format!("{a}-{b}"),
            Match::ConnectionBytes(a, b) => format!("{a}-{b}"),
            Match::Dscp(d) => d.to_string(),
            Match::Port(p) => p.text(),
            Match::PacketMark(m) => cfg.packet_marks.name(*m).to_string(),
            Match::Limit(l) => l.text(),
            Match::Hotspot(v) => v.clone(),
            Match::Assumed(a) => a.value.clone(),
        }
    }

    /// Relative cost, so a rule tests cheap matchers before hashing. `nth` comes last of all:
    /// its counter counts only packets every other matcher of the rule let through, which is
    /// what makes `connection-state=new nth=…` deal out new connections round-robin.
    pub fn cost(&self) -> u8 {
        match self {
            Match::Nth(_) => 4,
            Match::Pcc(_) => 3,
            // A limit counts only packets every other matcher let through.
            Match::Limit(_) => 4,
            Match::SrcAddressList(_) | Match::DstAddressList(_) | Match::DstAddressLocal => 2,
            Match::SrcPort(_) | Match::DstPort(_) | Match::Port(_) => 1,
            _ => 0,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Matcher {
    pub negate: bool,
    pub kind: Match,
}

impl Matcher {
    /// `key=value` as export writes it, with `!` for a negated matcher.
    pub fn text(&self, cfg: &RouterConfig) -> (&'static str, String) {
        let neg = if self.negate { "!" } else { "" };
        (
            self.kind.key(),
            format!("{neg}{}", self.kind.value_text(cfg)),
        )
    }
}

/// What a matcher can see of a packet (router-wide facts come separately, as [`Env`]).
pub struct Ctx {
    pub tuple: FiveTuple,
    pub len: u32,
    pub in_iface: Option<IfaceId>,
    pub out_iface: Option<IfaceId>,
    pub connection_mark: ConnMark,
    /// The connection mark was set by a rule with a classifier (PCC, `nth`).
    pub classified: bool,
    pub routing_mark: TableId,
    pub state: ConnStates,
    /// What NAT the connection has had so far ([`NatState`] bits).
    pub nat: u8,
    pub flags: TcpFlags,
    /// The packet mark `mark-packet` gave it in this pass through the router (0: none).
    pub packet_mark: u16,
    /// Bytes the connection has carried, both ways.
    pub connection_bytes: u64,
    pub now: Time,
}

/// `syn,!ack` as the flags to be set and to be clear.
fn parse_tcp_flags(v: &str) -> Result<(u8, u8), String> {
    let mut set_clear = (0u8, 0u8);
    for word in v.split(',') {
        let (clear, name) = match word.strip_prefix('!') {
            Some(n) => (true, n),
            None => (false, word),
        };
        let bit = match TCP_FLAG_NAMES.iter().position(|n| *n == name) {
            Some(i) => 1u8 << i,
            None => {
                return Err(format!(
                    "`{name}` is not a TCP flag (one of: {})",
                    TCP_FLAG_NAMES.join(", ")
                ));
            }
        };
        if clear {
            set_clear.1 |= bit;
        } else {
            set_clear.0 |= bit;
        }
    }
    Ok(set_clear)
}

/// `50`, `64k`, `10M`: a count with an optional SI prefix (limits in bits use them).
fn count_with_unit(v: &str) -> Option<u64> {
    let (digits, scale) = match v.char_indices().last()? {
        (i, 'k') => (&v[..i], 1_000),
        (i, 'M') => (&v[..i], 1_000_000),
        (i, 'G') => (&v[..i], 1_000_000_000),
        _ => (v, 1),
    };
    digits.parse::<u64>().ok()?.checked_mul(scale)
}

/// TCP's flags by bit, as `tcp-flags` names them.
const TCP_FLAG_NAMES: [&str; 8] = ["fin", "syn", "rst", "psh", "ack", "urg", "ece", "cwr"];

fn tcp_flags_text(set: u8, clear: u8) -> String {
    let names = TCP_FLAG_NAMES.iter().enumerate();
    let words = names.filter_map(|(i, n)| {
        let bit = 1u8 << i;
        (set & bit != 0)
            .then(|| n.to_string())
            .or_else(|| (clear & bit != 0).then(|| format!("!{n}")))
    });
    words.collect::<Vec<_>>().join(",")
}

/// `A-B` or `A` (at most `max`), as a range; a last of 0 means no end (`connection-bytes`).
fn number_range(v: &str, max: u64) -> Result<(u64, u64), String> {
    let bad = || format!("`{v}` is not a number or a range FROM-TO");
    let (a, b) = v.split_once('-').unwrap_or((v, v));
    let a: u64 = a.parse().map_err(|_| bad())?;
    let b: u64 = b.parse().map_err(|_| bad())?;
    if a > max || b > max {
        return Err(bad());
    }
    Ok((a, b))
}

/// The NAT a connection has had, as `connection-nat-state` names it.
pub struct NatState;

impl NatState {
    pub const SRCNAT: u8 = 1;
    pub const DSTNAT: u8 = 2;

    fn parse(v: &str) -> Result<u8, String> {
        v.split(',').try_fold(0, |bits, s| match s {
            "srcnat" => Ok(bits | Self::SRCNAT),
            "dstnat" => Ok(bits | Self::DSTNAT),
            other => Err(format!("expected srcnat or dstnat, not `{other}`")),
        })
    }

    fn text(bits: u8) -> String {
        let names = [(Self::SRCNAT, "srcnat"), (Self::DSTNAT, "dstnat")];
        let on = names.iter().filter(|(b, _)| bits & b != 0).map(|(_, n)| *n);
        on.collect::<Vec<_>>().join(",")
    }
}

/// Router-wide facts matchers consult: its own addresses, the address lists and the
/// interface lists.
#[derive(Clone, Debug, Default)]
pub struct Env {
    pub local_addresses: Vec<Ipv4Addr>,
    /// Per interface: its first address, if it has one (where `redirect` sends).
    pub iface_addresses: Vec<Option<Ipv4Addr>>,
    /// Per list: its enabled entries.
    pub address_lists: Vec<Vec<AddrRange>>,
    /// Per list: the entries rules added while packets flowed, with when each expires
    /// ([`Time::MAX`]: never). RouterOS shows them as dynamic.
    pub dynamic_lists: Vec<Vec<(Ipv4Addr, Time)>>,
    /// Per interface list: its members, bit `i` for interface `i`.
    pub interface_lists: Vec<u64>,
}

impl Env {
    fn iface_in_list(&self, list: u16, iface: Option<IfaceId>) -> bool {
        let members = self
            .interface_lists
            .get(list as usize)
            .copied()
            .unwrap_or(0);
        iface.is_some_and(|i| i < 64 && members >> i & 1 == 1)
    }

    fn in_list(&self, list: ListId, ip: Ipv4Addr, now: Time) -> bool {
        let fixed = self.address_lists.get(list as usize);
        let dynamic = self.dynamic_lists.get(list as usize);
        fixed.is_some_and(|entries| entries.iter().any(|r| r.contains(ip)))
            || dynamic.is_some_and(|entries| entries.iter().any(|&(a, t)| a == ip && t > now))
    }

    pub fn iface_address(&self, iface: Option<IfaceId>) -> Option<Ipv4Addr> {
        *self.iface_addresses.get(iface? as usize)?
    }

    /// Puts an address a rule added on its list: a second addition of an address already
    /// there renews its timeout (RouterOS keeps one dynamic entry).
    pub fn add_dynamic(&mut self, add: super::ListAddition) {
        let list = add.list as usize;
        if self.dynamic_lists.len() <= list {
            self.dynamic_lists.resize(list + 1, Vec::new());
        }
        let expires = add.expires.unwrap_or(Time::MAX);
        let entries = &mut self.dynamic_lists[list];
        match entries.iter_mut().find(|(a, _)| *a == add.address) {
            Some(entry) => entry.1 = expires,
            None => entries.push((add.address, expires)),
        }
    }
}

impl Matcher {
    /// Whether the packet passes; `count` is how many packets (this one included) have reached
    /// the rule's `nth` counter, read only by `nth`.
    pub fn holds(&self, c: &Ctx, env: &Env, state: &mut super::RuleState) -> bool {
        let t = &c.tuple;
        let raw = match &self.kind {
            Match::InInterface(i) => c.in_iface == Some(*i),
            Match::OutInterface(i) => c.out_iface == Some(*i),
            Match::InInterfaceList(l) => env.iface_in_list(*l, c.in_iface),
            Match::OutInterfaceList(l) => env.iface_in_list(*l, c.out_iface),
            Match::ConnectionMark(m) => c.connection_mark == *m,
            Match::RoutingMark(m) => c.routing_mark == *m,
            Match::DstAddressLocal => env.local_addresses.contains(&t.dst),
            Match::SrcAddress(r) => r.contains(t.src),
            Match::DstAddress(r) => r.contains(t.dst),
            Match::SrcAddressList(l) => env.in_list(*l, t.src, c.now),
            Match::DstAddressList(l) => env.in_list(*l, t.dst, c.now),
            Match::Protocol(p) => t.protocol == *p,
            Match::SrcPort(p) => t.protocol != Protocol::Icmp && p.contains(t.src_port),
            Match::DstPort(p) => t.protocol != Protocol::Icmp && p.contains(t.dst_port),
            Match::ConnectionState(s) => c.state.intersects(*s),
            Match::ConnectionNatState(bits) => c.nat & bits != 0,
            Match::IpsecPolicy { ipsec, .. } => !ipsec,
            Match::Pcc(pcc) => pcc.matches(t),
            Match::Nth(n) => {
                state.nth += 1;
                n.matches(state.nth)
            }
            Match::TcpFlags { set, clear } => {
                t.protocol == Protocol::Tcp && c.flags.0 & set == *set && c.flags.0 & clear == 0
            }
            Match::TcpMss(lo, hi) => {
                t.protocol == Protocol::Tcp
                    && c.flags.has(TcpFlags::SYN)
                    && (*lo..=*hi).contains(&HOST_MSS)
            }
            Match::Dscp(d) => *d == 0,
            Match::Port(p) => {
                t.protocol != Protocol::Icmp && (p.contains(t.src_port) || p.contains(t.dst_port))
            }
            Match::PacketMark(m) => c.packet_mark == *m,
            Match::ConnectionBytes(lo, hi) => {
                *lo <= c.connection_bytes && (*hi == 0 || c.connection_bytes <= *hi)
            }
            Match::Limit(l) => l.admit(c.now, c.len, &mut state.limit_tat),
            Match::Hotspot(v) => {
                let client = c.in_iface.is_some();
                v.split(',').all(|f| match f {
                    "auth" | "from-client" | "http" => client,
                    "to-client" => !client,
                    _ => env.local_addresses.contains(&t.dst),
                })
            }
            Match::Assumed(a) => a.matches,
        };
        raw != self.negate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_print_as_routeros_writes_them() {
        for text in [
            "10.0.0.5",
            "10.0.0.0/24",
            "0.0.0.0/0",
            "192.168.1.50-192.168.1.60",
        ] {
            assert_eq!(AddrRange::parse(text).unwrap().text(), text);
        }
    }

    #[test]
    fn a_matcher_stays_small_for_the_walk_every_packet_makes() {
        // Rare matchers (limits, assumed ones) are boxed so the common ones stay dense.
        assert!(
            std::mem::size_of::<Match>() <= 32,
            "{}",
            std::mem::size_of::<Match>()
        );
    }

    #[test]
    fn nth_takes_the_packet_th_of_every_every() {
        let n = Nth::parse("3,2").unwrap();
        let hits: Vec<u64> = (1..=9).filter(|&c| n.matches(c)).collect();
        assert_eq!(hits, [2, 5, 8]);
        for bad in ["3", "0,1", "3,0", "3,4", "a,b"] {
            assert!(Nth::parse(bad).is_err(), "{bad}");
        }
    }
}
