//! `pccsim check`: the classic PCC mistakes, found in a configuration before it is deployed.
//!
//! Each check reads the model the RouterOS reader built (disabled items ignored) and reports a
//! finding with a stable id, a severity, the line of the command concerned and one sentence on
//! the consequence and the fix. The checks know which interfaces are WANs (those a default
//! route leaves by) and which are LANs (the other addressed ones), and resolve routing marks to
//! WANs with the router's own routing code, so they agree with what the simulation would do.

use crate::router::config::{Dialect, RouterConfig};
use crate::router::firewall::{
    Action, ConnMark, ConnStates, FORWARD, IfaceId, Match, OUTPUT, POSTROUTING, PREROUTING, Rule,
    SRCNAT, TableId,
};
use crate::router::routing::{Fib, Gateway, Route};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl Severity {
    /// The word a compiler would print: error, warning, note.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "note",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub severity: Severity,
    pub line: u32,
    pub message: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub dialect: Dialect,
    pub findings: Vec<Finding>,
    /// Each connection mark's share of the new LAN connections that reach the PCC rules.
    pub shares: BTreeMap<String, f64>,
    /// Rules before the PCC rules that give some new LAN connections a mark outright.
    pub pinned: Vec<Pinned>,
}

/// A rule that marks new LAN connections without PCC: the share it takes depends on traffic.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Pinned {
    pub mark: String,
    pub line: u32,
    /// Its matchers as RouterOS writes them, e.g. `src-address-list=phones`.
    pub matching: String,
}

impl Report {
    /// 0: nothing to fix; 1: warnings or errors.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.findings.iter().any(|f| f.severity != Severity::Info))
    }

    /// The findings for people: a header, each finding with its line of the configuration,
    /// then the connections pinned before PCC and the shares PCC gives; `colour` for a terminal.
    pub fn text(&self, name: &str, text: &str, colour: bool) -> String {
        use std::fmt::Write as _;
        let report = self;
        let count = |s: Severity| report.findings.iter().filter(|f| f.severity == s).count();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{name}: RouterOS {}, {} errors, {} warnings, {} notes",
            report.dialect.name(),
            count(Severity::Error),
            count(Severity::Warning),
            count(Severity::Info)
        );
        let lines: Vec<&str> = text.lines().collect();
        for severity in [Severity::Error, Severity::Warning, Severity::Info] {
            for f in report.findings.iter().filter(|f| f.severity == severity) {
                let label = severity.label();
                let code = match severity {
                    Severity::Error => "31",
                    Severity::Warning => "33",
                    Severity::Info => "34",
                };
                let label = if colour {
                    format!("\x1b[1;{code}m{label}\x1b[0m")
                } else {
                    label.to_string()
                };
                let _ = writeln!(out, "\n{label}[{}] {name}:{}", f.id, f.line);
                if let Some(src) = lines.get((f.line as usize).wrapping_sub(1)) {
                    let _ = writeln!(out, "{:>5} | {}", f.line, src.trim_end());
                }
                let _ = writeln!(out, "      = {}", f.message);
            }
        }
        let _ = writeln!(out);
        for p in &report.pinned {
            let which = if p.matching.is_empty() {
                "every new LAN connection goes".to_string()
            } else {
                format!("new LAN connections with {} go", p.matching)
            };
            let _ = writeln!(out, "line {}: {which} to {} (before PCC)", p.line, p.mark);
        }
        if !report.shares.is_empty() {
            let shares: Vec<String> = report
                .shares
                .iter()
                .map(|(m, s)| format!("{m} {:.1}%", s * 100.0))
                .collect();
            let of = if report.pinned.is_empty() {
                "new LAN connections"
            } else {
                "the other new LAN connections"
            };
            let _ = writeln!(out, "shares of {of}: {}", shares.join(", "));
        }
        out
    }

    /// The findings one line each, as `run` shows them before simulating.
    pub fn brief(&self, config: &str) -> String {
        let report = self;
        let mut out = String::new();
        for f in &report.findings {
            out.push_str(&format!(
                "check: {}[{}] {config}:{}: {}\n",
                f.severity.label(),
                f.id,
                f.line,
                f.message
            ));
        }
        out
    }
}

pub fn check(cfg: &RouterConfig) -> Report {
    let c = Checker::new(cfg);
    let mut findings = Vec::new();
    c.pcc_rules(&mut findings);
    c.nth_rules(&mut findings);
    c.pcc_groups(&mut findings);
    c.incoming_marks(&mut findings);
    c.routing_marks(&mut findings);
    c.nat(&mut findings);
    c.fasttrack(&mut findings);
    c.queues(&mut findings);
    c.costly_rules(&mut findings);
    c.exceptions(&mut findings);
    c.marks_crossed(&mut findings);
    c.gateways(&mut findings);
    c.address_lists(&mut findings);
    c.replies(&mut findings);
    c.netwatch(&mut findings);
    c.probes(&mut findings);
    c.interfaces(&mut findings);
    // Where the reader departed from the text, the simulation may depart from the router.
    findings.extend(
        cfg.assumptions
            .iter()
            .map(|a| finding(a.id, Severity::Warning, a.line, a.message.clone())),
    );
    findings.sort_by(|a, b| (a.line, a.severity, a.id).cmp(&(b.line, b.severity, b.id)));
    findings.dedup();
    let shares = crate::router::pcc::configured_shares(&cfg.mangle)
        .into_iter()
        .map(|(m, s)| (cfg.connection_marks.name(m.0).to_string(), s))
        .collect();
    Report {
        dialect: cfg.dialect,
        findings,
        shares,
        pinned: c.pinned(),
    }
}

struct Checker<'a> {
    cfg: &'a RouterConfig,
    fib: Fib,
    wans: Vec<IfaceId>,
}

/// Rules per packet from which `check` notes their cost: by the RB1100AHx4's figures a rule
/// costs about a thirtieth of the rest of a packet's slow path, so fifteen add about half.
const COSTLY_RULES: usize = 15;

fn finding(id: &'static str, severity: Severity, line: u32, message: String) -> Finding {
    Finding {
        id,
        severity,
        line,
        message,
    }
}

/// The rule's non-negated matcher of a kind, if it has one.
fn has(r: &Rule, want: impl Fn(&Match) -> bool) -> Option<&Match> {
    r.matchers
        .iter()
        .find(|m| !m.negate && want(&m.kind))
        .map(|m| &m.kind)
}

/// Whether a PCC rule leaves marked connections alone: it asks for `no-mark`, or sees only
/// a connection's first packet (`connection-state=new`).
fn needs_no_mark(r: &Rule) -> bool {
    has(r, |k| *k == Match::ConnectionMark(ConnMark::NONE)).is_some()
        || has(r, |k| *k == Match::ConnectionState(ConnStates::NEW)).is_some()
}

fn conn_mark_of(r: &Rule) -> Option<ConnMark> {
    match has(r, |k| matches!(k, Match::ConnectionMark(_))) {
        Some(Match::ConnectionMark(m)) if *m != ConnMark::NONE => Some(*m),
        _ => None,
    }
}

fn in_iface_of(r: &Rule) -> Option<IfaceId> {
    match has(r, |k| matches!(k, Match::InInterface(_))) {
        Some(Match::InInterface(i)) => Some(*i),
        _ => None,
    }
}

/// The interface a route's gateway is reached by: on an addressed subnet, or — a recursive
/// gateway beyond the ISP's — where its own route leads.
fn gateway_iface(cfg: &RouterConfig, fib: &Fib, gateway: Gateway) -> Option<IfaceId> {
    match gateway {
        Gateway::Interface(i) => Some(i),
        Gateway::Address(gw) => cfg
            .addresses
            .iter()
            .find(|a| a.network_contains(gw))
            .map(|a| a.iface)
            .or_else(|| fib.lookup(TableId::MAIN, gw).map(|h| h.iface)),
    }
}

impl<'a> Checker<'a> {
    fn new(cfg: &'a RouterConfig) -> Checker<'a> {
        let router = crate::router::Router::new(cfg.clone());
        let fib = router.fib;
        let mut wans = Vec::new();
        for r in cfg
            .routes
            .iter()
            .filter(|r| !r.disabled && r.prefix_len == 0)
        {
            for i in r
                .gateways
                .iter()
                .filter_map(|&g| gateway_iface(cfg, &fib, g))
            {
                if wans.contains(&i) {
                    continue;
                }
                wans.push(i);
            }
        }
        Checker { cfg, fib, wans }
    }

    fn name(&self, i: IfaceId) -> &str {
        self.cfg.iface_name(i)
    }

    fn mark(&self, m: ConnMark) -> &str {
        self.cfg.connection_marks.name(m.0)
    }

    fn table(&self, t: TableId) -> &str {
        self.cfg.routing_tables.name(t.0)
    }

    fn rules(&self) -> impl Iterator<Item = &'a Rule> {
        self.cfg.mangle.rules.iter().filter(|r| !r.disabled)
    }

    /// Enabled prerouting rules that mark connections by PCC.
    fn pcc(&self) -> impl Iterator<Item = (&'a Rule, crate::router::pcc::Classifier, ConnMark)> {
        self.rules()
            .filter(|r| r.chain == PREROUTING)
            .filter_map(|r| {
                let pcc = has(r, |k| matches!(k, Match::Pcc(_)))?;
                match (pcc, &r.action) {
                    (Match::Pcc(c), Action::MarkConnection(m)) => Some((r, *c, *m)),
                    _ => None,
                }
            })
    }

    /// Prerouting rules before the first PCC rule that mark new connections from the LAN
    /// without PCC (phones pinned to one ISP, say): PCC splits only what they leave.
    fn pinned(&self) -> Vec<Pinned> {
        let first_pcc = self.pcc().next().map_or(u32::MAX, |(r, _, _)| r.line);
        // Matchers that say where and when a rule applies, not which connections it picks.
        const SCOPE: [&str; 6] = [
            "chain",
            "action",
            "new-connection-mark",
            "passthrough",
            "in-interface",
            "connection-mark",
        ];
        self.rules()
            .filter(|r| r.chain == PREROUTING && r.line < first_pcc)
            .filter(|r| in_iface_of(r).is_none_or(|i| !self.wans.contains(&i)))
            .filter(|r| conn_mark_of(r).is_none())
            .filter_map(|r| match r.action {
                Action::MarkConnection(m) => Some((r, m)),
                _ => None,
            })
            .map(|(r, m)| {
                let params = crate::routeros::export::rule_params(self.cfg, &self.cfg.mangle, r);
                let matching: Vec<String> = params
                    .iter()
                    .filter(|(k, _)| !SCOPE.contains(k) && *k != "comment")
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                Pinned {
                    mark: self.mark(m).to_string(),
                    line: r.line,
                    matching: matching.join(" "),
                }
            })
            .collect()
    }

    /// The WAN a routing table's default route leaves by.
    fn wan_of_table(&self, t: TableId) -> Option<IfaceId> {
        self.fib
            .lookup_in(t, Ipv4Addr::new(1, 1, 1, 1))
            .map(|h| h.iface)
    }

    /// The line where a WAN is introduced: its address, else line 0.
    fn wan_line(&self, w: IfaceId) -> u32 {
        self.cfg.address_of(w).map_or(0, |a| a.line)
    }

    fn pcc_rules(&self, out: &mut Vec<Finding>) {
        for (r, c, _) in self.pcc() {
            if c.remainder >= c.denominator {
                out.push(finding("pcc-remainder-out-of-range", Severity::Error, r.line, format!(
                    "the PCC rule ({c}) never matches: a hash modulo {} is never {}; remainders run from 0 to {}, so this rule's share goes to whichever rule comes after",
                    c.denominator, c.remainder, c.denominator - 1
                )));
            }
            if !needs_no_mark(r) {
                out.push(finding("pcc-missing-no-mark", Severity::Error, r.line, format!(
                    "the PCC rule ({c}) has no connection-mark=no-mark, so it re-marks every packet, replies and connections marked on arrival included; add connection-mark=no-mark"
                )));
            }
            let excludes_local = r
                .matchers
                .iter()
                .any(|m| m.negate && m.kind == Match::DstAddressLocal);
            if !excludes_local {
                out.push(finding("pcc-missing-dst-local", Severity::Warning, r.line, format!(
                    "the PCC rule ({c}) also classifies traffic addressed to the router itself (DNS, Winbox, VPN); add dst-address-type=!local"
                )));
            }
        }
    }

    /// Balancing groups: PCC rules that see the same traffic (the same in-interface).
    fn pcc_groups(&self, out: &mut Vec<Finding>) {
        let mut groups: BTreeMap<Option<IfaceId>, Vec<(&Rule, crate::router::pcc::Classifier)>> =
            BTreeMap::new();
        for (r, c, _) in self.pcc() {
            groups.entry(in_iface_of(r)).or_default().push((r, c));
        }
        for rules in groups.values() {
            let (first, base) = rules[0];
            for &(r, c) in &rules[1..] {
                if (c.fields, c.denominator) != (base.fields, base.denominator) {
                    out.push(finding("pcc-mixed-classifier", Severity::Warning, r.line, format!(
                        "this PCC rule uses {}:{} but the group it balances with (line {}) uses {}:{}; shares no longer add up: use one field choice and one denominator",
                        c.fields.name(), c.denominator, first.line, base.fields.name(), base.denominator
                    )));
                }
            }
            let mut seen: Vec<u32> = Vec::new();
            for &(r, c) in rules
                .iter()
                .filter(|(_, c)| (c.fields, c.denominator) == (base.fields, base.denominator))
            {
                if seen.contains(&c.remainder) {
                    out.push(finding("pcc-remainder-overlap", Severity::Warning, r.line, format!(
                        "remainder {} of {} is already claimed by an earlier rule, so this rule never marks anything; give each remainder to one rule",
                        c.remainder, c.denominator
                    )));
                }
                seen.push(c.remainder);
            }
            let missing: Vec<String> = (0..base.denominator)
                .filter(|r| !seen.contains(r))
                .map(|r| r.to_string())
                .collect();
            if !missing.is_empty() {
                out.push(finding("pcc-remainder-gap", Severity::Warning, first.line, format!(
                    "remainder {} of {} is matched by no rule: {}/{} of new connections get no mark and leave by the main table; cover every remainder 0..{}",
                    missing.join(", "), base.denominator, missing.len(), base.denominator, base.denominator - 1
                )));
            }
        }
    }

    fn marks_on_arrival(&self, w: IfaceId) -> Vec<(&'a Rule, ConnMark)> {
        self.rules()
            .filter(|r| r.chain == PREROUTING && in_iface_of(r) == Some(w))
            .filter_map(|r| match r.action {
                Action::MarkConnection(m) => Some((r, m)),
                _ => None,
            })
            .collect()
    }

    fn incoming_marks(&self, out: &mut Vec<Finding>) {
        if self.pcc().next().is_none() {
            return;
        }
        for &w in &self.wans {
            if self.marks_on_arrival(w).is_empty() {
                out.push(finding("incoming-mark-missing", Severity::Warning, self.wan_line(w), format!(
                    "no rule marks connections that arrive on {}, so their replies are classified like LAN traffic and may leave by another WAN; add chain=prerouting in-interface={} connection-mark=no-mark action=mark-connection",
                    self.name(w), self.name(w)
                )));
            }
        }
    }

    fn routing_marks(&self, out: &mut Vec<Finding>) {
        let marking: Vec<(&Rule, TableId)> = self
            .rules()
            .filter_map(|r| match r.action {
                Action::MarkRouting(t) if t != TableId::MAIN => Some((r, t)),
                _ => None,
            })
            .collect();
        let routes: Vec<&Route> = self.cfg.routes.iter().filter(|r| !r.disabled).collect();
        for (r, t) in &marking {
            if !routes.iter().any(|route| route.table == *t) {
                out.push(finding("routing-mark-without-route", Severity::Error, r.line, format!(
                    "routing mark {} has no route, so marked packets fall back to main and the balancing does nothing; add a route with {}={}",
                    self.table(*t), if self.cfg.dialect == Dialect::V7 { "routing-table" } else { "routing-mark" }, self.table(*t)
                )));
            }
        }
        for route in &routes {
            if route.table != TableId::MAIN && !marking.iter().any(|(_, t)| *t == route.table) {
                out.push(finding("route-mark-unused", Severity::Warning, route.line, format!(
                    "no mangle rule marks packets for {}, so this route is never used; check the new-routing-mark names",
                    self.table(route.table)
                )));
            }
        }
        if self.cfg.dialect == Dialect::V7 {
            let mut used: Vec<(TableId, u32)> = marking.iter().map(|(r, t)| (*t, r.line)).collect();
            used.extend(
                routes
                    .iter()
                    .filter(|r| r.table != TableId::MAIN)
                    .map(|r| (r.table, r.line)),
            );
            used.sort_by_key(|&(_, line)| line);
            let mut reported = Vec::new();
            for (t, line) in used {
                if !self.cfg.declared_tables.contains(&t) && !reported.contains(&t) {
                    reported.push(t);
                    out.push(finding("route-table-undeclared", Severity::Error, line, format!(
                        "table {} is used but never declared; RouterOS v7 refuses it until /routing table add name={} fib",
                        self.table(t), self.table(t)
                    )));
                }
            }
        }
    }

    fn nat(&self, out: &mut Vec<Finding>) {
        let srcnat: Vec<&Rule> = self
            .cfg
            .nat
            .rules
            .iter()
            .filter(|r| {
                !r.disabled
                    && r.chain == SRCNAT
                    && matches!(r.action, Action::Masquerade | Action::SrcNat(_))
            })
            .collect();
        for &w in &self.wans {
            let covered =
                srcnat
                    .iter()
                    .any(|r| match has(r, |k| matches!(k, Match::OutInterface(_))) {
                        Some(Match::OutInterface(i)) => *i == w,
                        _ => !r
                            .matchers
                            .iter()
                            .any(|m| matches!(m.kind, Match::OutInterface(_))),
                    });
            if !covered {
                out.push(finding("nat-missing", Severity::Error, self.wan_line(w), format!(
                    "traffic can leave by {} without source NAT, and the ISP drops private source addresses; add chain=srcnat out-interface={} action=masquerade",
                    self.name(w), self.name(w)
                )));
            }
        }
    }

    fn fasttrack(&self, out: &mut Vec<Finding>) {
        let marks = self
            .rules()
            .any(|r| matches!(r.action, Action::MarkConnection(_)));
        for r in self.cfg.filter.rules.iter().filter(|r| !r.disabled) {
            if r.action == Action::FasttrackConnection && marks && !needs_no_mark(r) {
                out.push(finding("fasttrack-with-pcc", Severity::Error, r.line,
                    "FastTrack skips mangle for marked connections too: they lose their routing mark and leave by main with another WAN's address; add connection-mark=no-mark to this rule or disable it".into()));
            }
        }
    }

    /// Queues that never see their packets: FastTrack's packets skip simple queues and trees
    /// under `global`, and a queue waiting for a packet mark no mangle rule sets gets nothing.
    fn queues(&self, out: &mut Vec<Finding>) {
        use crate::router::queue::config::{QueueSetup, TreeParent};
        let setup = QueueSetup::from_config(self.cfg);
        let bypassed =
            !setup.simple.is_empty() || setup.trees.iter().any(|t| t.parent == TreeParent::Global);
        for r in self.cfg.filter.rules.iter().filter(|r| !r.disabled) {
            if r.action == Action::FasttrackConnection && bypassed {
                out.push(finding("fasttrack-skips-queues", Severity::Warning, r.line,
                    "fast-tracked packets skip simple queues and queue trees under global, so these connections are not shaped; keep the shaped traffic off FastTrack (a connection-mark or address-list condition on this rule) or disable it".into()));
            }
        }
        let set: Vec<u16> = (self.rules())
            .filter_map(|r| match r.action {
                Action::MarkPacket(m) => Some(m),
                _ => None,
            })
            .collect();
        let unset = |marks: &[u16]| marks.iter().find(|m| **m != 0 && !set.contains(m)).copied();
        let simple = setup
            .simple
            .iter()
            .map(|q| (&q.name, q.line, &q.packet_marks));
        let trees = setup
            .trees
            .iter()
            .map(|q| (&q.name, q.line, &q.packet_marks));
        for (name, line, marks) in simple.chain(trees) {
            if let Some(m) = unset(marks) {
                let mark = self.cfg.packet_marks.iter().nth(m as usize).unwrap_or("?");
                out.push(finding("queue-mark-never-set", Severity::Warning, line, format!(
                    "queue {name} waits for packet mark {mark}, which no mangle rule sets, so it gets no packets; add a mark-packet rule or fix the name"
                )));
            }
        }
    }

    /// The rules every packet of an established connection is tried against, one by one: what
    /// fills a small router's CPU. Filter forward stops at the first rule that accepts (or
    /// fast-tracks) established connections and asks nothing else; the rules above it are the
    /// ones to move below it.
    fn costly_rules(&self, out: &mut Vec<Finding>) {
        let in_chain = |chain| move |r: &&Rule| r.chain == chain;
        let mangle =
            [PREROUTING, FORWARD, POSTROUTING].map(|c| self.rules().filter(in_chain(c)).count());
        let forward: Vec<&Rule> = (self.cfg.filter.rules.iter())
            .filter(|r| !r.disabled && r.chain == FORWARD)
            .collect();
        let stops = |r: &Rule| {
            matches!(r.action, Action::Accept | Action::FasttrackConnection)
                && r.matchers.iter().all(|m| match m.kind {
                    Match::ConnectionState(s) => !m.negate && s.0 & ConnStates::ESTABLISHED.0 != 0,
                    _ => false,
                })
                && !r.matchers.is_empty()
        };
        let accept = forward.iter().position(|r| stops(r));
        let filter = accept.map_or(forward.len(), |i| i + 1);
        let total = mangle.iter().sum::<usize>() + filter;
        if total < COSTLY_RULES {
            return;
        }
        let before: Vec<String> = (forward.iter().take(accept.unwrap_or(0)))
            .map(|r| r.line.to_string())
            .collect();
        let one = |singular, plural| if before.len() == 1 { singular } else { plural };
        let (line, advice) = match accept {
            Some(i) if !before.is_empty() => (
                forward[i].line,
                format!(
                    "; the filter {} above this accept of established connections ({} {}) {} tried by every packet: below it, {} would be spared",
                    one("rule", "rules"),
                    one("line", "lines"),
                    before.join(", "),
                    one("is", "are"),
                    one("it", "they"),
                ),
            ),
            Some(i) => (forward[i].line, String::new()),
            None => (
                (forward.first().copied()).or(self.rules().next()).map_or(0, |r| r.line),
                "; filter forward has no rule that accepts established connections first, so every packet walks all of it".into(),
            ),
        };
        let shape = crate::router::cpu::shape();
        let share = total as f64 * shape.rule as f64 / shape.slow as f64;
        out.push(finding("costly-rules", Severity::Info, line, format!(
            "every packet of an established connection is tried against {total} rules ({} mangle prerouting, {} mangle forward, {} mangle postrouting, {filter} filter forward), one by one: by MikroTik's published figures that adds {:.0} % to the rest of each packet's cost, what fills a small router's CPU first{advice}",
            mangle[0], mangle[1], mangle[2], share * 100.0
        )));
    }

    /// `nth` rules that mark connections: each must keep to unmarked connections, and together
    /// they should deal all of them. Guarded, a rule sees only what the rules before it left,
    /// so `nth=3,1`, `nth=2,1`, `nth=1,1` splits evenly, and PCC-style `3,1`, `3,2`, `3,3`
    /// does not.
    fn nth_rules(&self, out: &mut Vec<Finding>) {
        let mut left = 1.0;
        let mut shares: Vec<(ConnMark, f64)> = Vec::new();
        let mut last = 0;
        for r in self.rules().filter(|r| r.chain == PREROUTING) {
            let (Action::MarkConnection(m), Some(Match::Nth(n))) =
                (&r.action, has(r, |k| matches!(k, Match::Nth(_))))
            else {
                continue;
            };
            if !needs_no_mark(r) {
                out.push(finding("nth-missing-no-mark", Severity::Error, r.line, format!(
                    "this nth rule has no connection-mark=no-mark, so it deals every packet again: a connection's packets alternate WANs while its NAT address stays, and it breaks; add connection-mark=no-mark connection-state=new (nth={},{})",
                    n.every, n.packet
                )));
                continue;
            }
            let take = left / f64::from(n.every);
            left -= take;
            last = r.line;
            match shares.iter_mut().find(|(mark, _)| mark == m) {
                Some((_, s)) => *s += take,
                None => shares.push((*m, take)),
            }
        }
        if shares.is_empty() || left < 1e-9 {
            return;
        }
        let split: Vec<String> = shares
            .iter()
            .map(|(m, s)| format!("{} {:.0}%", self.mark(*m), s * 100.0))
            .collect();
        out.push(finding("nth-uneven", Severity::Warning, last, format!(
            "each guarded nth rule sees only the new connections the rules before it left, so these deal {} and leave {:.0}% unmarked (they follow main); for an even split over N rules use nth=N,1, nth=N-1,1 … nth=1,1",
            split.join(", "),
            left * 100.0
        )));
    }

    /// Mark-connection rules without PCC that force traffic to a WAN.
    fn exceptions(&self, out: &mut Vec<Finding>) {
        let first_pcc = self.pcc().map(|(r, _, _)| r.line).min();
        for r in self.rules().filter(|r| r.chain == PREROUTING) {
            let Action::MarkConnection(m) = r.action else {
                continue;
            };
            let arrival = in_iface_of(r).is_some_and(|i| self.wans.contains(&i));
            let spreads = has(r, |k| matches!(k, Match::Pcc(_) | Match::Nth(_))).is_some();
            if arrival || spreads {
                continue;
            }
            if !needs_no_mark(r) {
                out.push(finding("exception-after-pcc", Severity::Warning, r.line, format!(
                    "this rule marks {} without connection-mark=no-mark, so it re-marks every packet of the connections it matches, replies and arrivals from other WANs included; add connection-mark=no-mark",
                    self.mark(m)
                )));
            } else if first_pcc.is_some_and(|p| r.line > p) {
                out.push(finding("exception-after-pcc", Severity::Warning, r.line,
                    "this forcing rule comes after the PCC rules, which have already marked the new connections it is meant for; move it before them (place-before=)".into()));
            }
        }
    }

    fn marks_crossed(&self, out: &mut Vec<Finding>) {
        let routing = |chain| -> Vec<(&'a Rule, ConnMark, TableId)> {
            self.rules()
                .filter(|r| r.chain == chain)
                .filter_map(|r| match r.action {
                    Action::MarkRouting(t) => conn_mark_of(r).map(|m| (r, m, t)),
                    _ => None,
                })
                .collect()
        };
        let pre = routing(PREROUTING);
        let main_wan = self.wan_of_table(TableId::MAIN);
        for &w in &self.wans {
            for (arrival, m) in self.marks_on_arrival(w) {
                let routed = pre.iter().any(|(_, rm, _)| *rm == m);
                if let Some(to) = main_wan
                    && !routed
                    && to != w
                {
                    out.push(finding("mark-crossed", Severity::Warning, arrival.line, format!(
                        "connections marked {} arrive on {}, but no prerouting rule routes their replies by {}'s table, so they leave by main through {} with the wrong address; add a mark-routing rule for {} from the LAN",
                        self.mark(m), self.name(w), self.name(w), self.name(to), self.mark(m)
                    )));
                }
                for &(r, _, t) in pre.iter().filter(|(_, rm, _)| *rm == m) {
                    if let Some(to) = self.wan_of_table(t)
                        && to != w
                    {
                        out.push(finding("mark-crossed", Severity::Error, r.line, format!(
                            "connections marked {} arrive on {}, but this rule routes them by {}, which leaves by {}: their packets go out the wrong WAN; route {} by {}'s table",
                            self.mark(m), self.name(w), self.table(t), self.name(to), self.mark(m), self.name(w)
                        )));
                    }
                }
            }
        }
        for &(r, m, t) in &routing(OUTPUT) {
            if let Some(&(_, _, pt)) = pre.iter().find(|(_, pm, _)| *pm == m)
                && pt != t
            {
                out.push(finding("mark-crossed", Severity::Warning, r.line, format!(
                    "the output chain routes {} by {} but prerouting routes it by {}: the router's own packets of these connections take another WAN",
                    self.mark(m), self.table(t), self.table(pt)
                )));
            }
        }
    }

    fn gateways(&self, out: &mut Vec<Finding>) {
        if self.wans.len() < 2 {
            return;
        }
        let defaults: Vec<&Route> = self
            .cfg
            .routes
            .iter()
            .filter(|r| !r.disabled && r.prefix_len == 0)
            .collect();
        // A route a netwatch script switches (named by its comment) is watched, just not by
        // check-gateway.
        let watches = crate::router::netwatch::from_config(self.cfg);
        let watched = |r: &Route| {
            r.comment.as_deref().is_some_and(|c| {
                watches
                    .iter()
                    .any(|w| w.up_script.contains(c) || w.down_script.contains(c))
            })
        };
        for r in &defaults {
            let by_address = r.gateways.iter().any(|g| matches!(g, Gateway::Address(_)));
            if by_address && r.check_gateway.is_none() && !watched(r) {
                out.push(finding("check-gateway-missing", Severity::Warning, r.line,
                    "this default route has no check-gateway, so it stays active when its gateway dies and traffic keeps going into it; add check-gateway=ping".into()));
            }
        }
        let main_wans: Vec<IfaceId> = defaults
            .iter()
            .filter(|r| r.table == TableId::MAIN)
            .flat_map(|r| &r.gateways)
            .filter_map(|&g| gateway_iface(self.cfg, &self.fib, g))
            .collect();
        let marked = defaults.iter().find(|r| r.table != TableId::MAIN);
        if let Some(first) = marked
            && main_wans
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                < 2
        {
            out.push(finding("fallback-route-missing", Severity::Warning, first.line,
                "the main table has no default route through a second WAN: when a marked table's gateway fails, its traffic falls back to main and finds no way out; add a default route per WAN in main with increasing distance".into()));
        }
    }

    fn address_lists(&self, out: &mut Vec<Finding>) {
        let all_rules = self
            .cfg
            .mangle
            .rules
            .iter()
            .chain(&self.cfg.nat.rules)
            .chain(&self.cfg.filter.rules);
        let mut used: Vec<(u16, u32)> = Vec::new();
        for r in all_rules.filter(|r| !r.disabled) {
            for m in &r.matchers {
                if let Match::SrcAddressList(l) | Match::DstAddressList(l) = m.kind {
                    used.push((l, r.line));
                }
            }
        }
        // Per list, its first entry and the first rule using it: one pass over each, as an
        // export may hold thousands of lists and a hundred thousand entries.
        let lists = self.cfg.address_lists.len();
        let mut first_entry = vec![None; lists];
        for e in self.cfg.address_list_entries.iter().rev() {
            first_entry[e.list as usize] = Some(e);
        }
        let mut first_use = vec![None; lists];
        for &(l, line) in used.iter().rev() {
            first_use[l as usize] = Some(line);
        }
        for (l, name) in self.cfg.address_lists.iter().enumerate() {
            match (first_entry[l], first_use[l]) {
                (Some(e), None) => out.push(finding("address-list-unused", Severity::Warning, e.line, format!(
                    "address list {name} is filled but no rule uses it, so it changes nothing; reference it (src-address-list=) or remove it"
                ))),
                (None, Some(line)) => out.push(finding("address-list-undefined", Severity::Warning, line, format!(
                    "address list {name} has no entries, so this rule never matches it; add entries or fix the name"
                ))),
                _ => {}
            }
        }
    }

    fn replies(&self, out: &mut Vec<Finding>) {
        for r in self
            .rules()
            .filter(|r| r.chain == PREROUTING && matches!(r.action, Action::MarkRouting(_)))
        {
            // An interface list with no WAN in it (`in-interface-list=LAN`) keeps it to the LAN.
            let lan_list = |l: u16| {
                let members = self
                    .cfg
                    .interface_list_members(self.cfg.interface_lists.name(l));
                !self.wans.iter().any(|&w| w < 64 && members >> w & 1 == 1)
            };
            let from_lan = in_iface_of(r).is_some_and(|i| !self.wans.contains(&i))
                || has(r, |k| {
                    matches!(k, Match::SrcAddress(_) | Match::SrcAddressList(_))
                        || matches!(k, Match::InInterfaceList(l) if lan_list(*l))
                })
                .is_some();
            if !from_lan {
                out.push(finding("mark-routing-catches-replies", Severity::Error, r.line,
                    "this rule also routing-marks replies and inbound connections arriving from a WAN; after un-NAT the marked table sends them back out of the WAN and the connections never work; add in-interface=<LAN> (or a LAN src-address-list)".into()));
            }
        }
    }

    fn netwatch(&self, out: &mut Vec<Finding>) {
        let Some(items) = self.cfg.stored.get("tool netwatch") else {
            return;
        };
        for item in items {
            if let Some(kind @ ("tcp-conn" | "http-get" | "dns")) = item.get("type") {
                out.push(finding("netwatch-type-approximated", Severity::Info, item.line, format!(
                    "pccsim tests this type={kind} entry with one echo request, not a {}; its host is up or down as a ping finds it",
                    match kind {
                        "tcp-conn" => "TCP connection",
                        "http-get" => "HTTP request",
                        _ => "DNS query",
                    }
                )));
            }
            let Some(host) = item.get("host").and_then(|h| h.parse::<Ipv4Addr>().ok()) else {
                continue;
            };
            let pinned = self
                .cfg
                .routes
                .iter()
                .any(|r| !r.disabled && r.prefix_len == 32 && r.dst == host);
            if !pinned {
                out.push(finding("netwatch-not-pinned", Severity::Warning, item.line, format!(
                    "netwatch probes {host} by whatever WAN the main table picks, so it cannot tell which WAN failed; add a host route dst-address={host}/32 through the WAN it should watch"
                )));
            }
        }
    }

    /// The router's own probes are connections too: the answer to a netwatch or check-gateway
    /// ping comes in by a WAN and gets that WAN's connection mark, and an output rule then
    /// routes every later probe of the connection by the mark's table. Harmless while that
    /// table only leads out of the same WAN; a backup route in it to another WAN takes the
    /// probe there when the WAN fails.
    fn probes(&self, out: &mut Vec<Finding>) {
        let netwatch = self
            .cfg
            .stored
            .get("tool netwatch")
            .is_some_and(|i| !i.is_empty());
        let checked = self.cfg.routes.iter().any(|r| r.check_gateway.is_some());
        if !netwatch && !checked {
            return;
        }
        let fate = match self.cfg.dialect {
            Dialect::V7 => "RouterOS 7 then drops the probe and starts it afresh (one probe lost)",
            Dialect::V6 => {
                "RouterOS 6 then sends the probes there with the first WAN's address, unanswered until the connection times out"
            }
        };
        for r in self.rules().filter(|r| r.chain == OUTPUT) {
            let (&Action::MarkRouting(table), Some(mark)) = (&r.action, conn_mark_of(r)) else {
                continue;
            };
            let arrival: Vec<IfaceId> = (self.wans.iter().copied())
                .filter(|&w| self.marks_on_arrival(w).iter().any(|(_, m)| *m == mark))
                .collect();
            let Some(&wan) = arrival.first() else {
                continue;
            };
            let mut in_table =
                (self.cfg.routes.iter()).filter(|route| route.table == table && !route.disabled);
            let elsewhere = in_table.find_map(|route| {
                let gateways = route.gateways.iter().copied();
                let mut leaves = gateways.filter_map(|g| gateway_iface(self.cfg, &self.fib, g));
                Some((route.line, leaves.find(|i| !arrival.contains(i))?))
            });
            if let Some((line, other)) = elsewhere {
                out.push(finding("output-marks-catch-probes", Severity::Warning, r.line, format!(
                    "this rule also routes the router's own probes (netwatch, check-gateway): their answers arrive on {} and get {}, so later probes follow {} — whose route at line {line} leaves by {} when {}'s fails; {fate}; add protocol=!icmp",
                    self.name(wan), self.mark(mark), self.table(table), self.name(other), self.name(wan)
                )));
            }
        }
    }

    fn interfaces(&self, out: &mut Vec<Finding>) {
        for i in &self.cfg.interfaces {
            if i.undeclared_use.is_some() {
                out.push(finding("interface-undefined", Severity::Error, i.line, format!(
                    "interface {} does not exist: no port has that name and nothing renames one to it; fix the name or add /interface set … name={}",
                    i.name, i.name
                )));
            }
        }
    }
}
