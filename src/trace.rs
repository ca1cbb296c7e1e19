//! `pccsim trace`: the walk of one packet and of its reply through the router — each rule tried
//! (by line) and why it matched or not, the conntrack entry, the routing table and route chosen
//! and why the others were not, the NAT applied — for a classroom projector or a tool.
//!
//! The walk is recorded by an observer the router calls as it works ([`Tracer`]), so what is
//! shown is what the simulation does, not a second model of it.

use crate::packet::{FiveTuple, Packet, Protocol, TcpFlags};
use crate::router::config::RouterConfig;
use crate::router::conntrack::{Dir, Untracked};
use crate::router::firewall::{Ctx, Env, IfaceId, Observer, Rule, Table, TableId};
use crate::router::routing::Hop;
use crate::router::{Router, Tracer, Verdict};
use crate::routeros::export::{quote, route_params, rule_params};
use crate::units::Time;
use serde::Serialize;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

#[derive(Clone, Debug, Serialize)]
pub struct Step {
    /// `conntrack`, `mangle prerouting`, `nat srcnat`, `routing`, `nat`, …
    pub stage: String,
    pub line: Option<u32>,
    pub matched: Option<bool>,
    pub detail: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Walk {
    /// `packet` or `reply`.
    pub direction: &'static str,
    pub in_interface: String,
    pub arrived: String,
    pub left: String,
    pub steps: Vec<Step>,
    pub verdict: String,
}

/// Parses `tcp 10.0.0.23:51514 -> 93.184.216.34:443` (or `udp …`, `icmp 10.0.0.1 -> 1.1.1.1`).
pub fn parse_packet(spec: &str) -> Result<FiveTuple, String> {
    let bad = || {
        format!(
            "`{spec}` is not a packet (expected e.g. \"tcp 10.0.0.23:51514 -> 93.184.216.34:443\")"
        )
    };
    let (proto, rest) = spec
        .trim()
        .split_once(char::is_whitespace)
        .ok_or_else(bad)?;
    let protocol = Protocol::from_name(proto).ok_or_else(bad)?;
    let (src, dst) = rest.split_once("->").ok_or_else(bad)?;
    let endpoint = |s: &str| -> Result<(Ipv4Addr, u16), String> {
        let s = s.trim();
        match s.split_once(':') {
            Some((ip, port)) => Ok((
                ip.parse().map_err(|_| bad())?,
                port.parse().map_err(|_| bad())?,
            )),
            None if protocol == Protocol::Icmp => Ok((s.parse().map_err(|_| bad())?, 0)),
            None => Err(bad()),
        }
    };
    let (src, src_port) = endpoint(src)?;
    let (dst, dst_port) = endpoint(dst)?;
    Ok(FiveTuple {
        src,
        dst,
        src_port,
        dst_port,
        protocol,
    })
}

/// The interface a packet from `src` would arrive on: the one whose subnet holds it.
pub fn arrival_interface(cfg: &RouterConfig, src: Ipv4Addr) -> Option<IfaceId> {
    cfg.addresses
        .iter()
        .find(|a| a.network_contains(src))
        .map(|a| a.iface)
}

/// Traces the first packet of a connection and the reply to it.
/// `in_iface` is where the first packet arrives; `None` for a packet the router itself sends.
pub fn trace(
    router: &mut Router,
    now: Time,
    in_iface: Option<IfaceId>,
    tuple: FiveTuple,
) -> Vec<Walk> {
    let first = match tuple.protocol {
        Protocol::Tcp => Packet::tcp(tuple, 0, TcpFlags::SYN, 0, 0, 0),
        Protocol::Udp => Packet::udp(tuple, 0, 0, 0),
        Protocol::Icmp => Packet::new(tuple, Packet::NO_FLOW),
    };
    let (first_walk, verdict, sent) = walk(router, now, in_iface, first, "packet");
    let mut walks = vec![first_walk];
    // The answer comes back to the address the packet left with.
    let mut reply = sent;
    reply.tuple = sent.tuple.reversed();
    if reply.tuple.protocol == Protocol::Tcp {
        reply.flags = TcpFlags::SYN | TcpFlags::ACK;
    }
    match verdict {
        // From the far side, on the interface the packet left by; then the connection's next
        // packet, which finds its entry and its mark and so passes the classifier by.
        Verdict::Forward(hop) => {
            walks.push(walk(router, now + 1, Some(hop.iface), reply, "reply").0);
            let mut later = first;
            if later.tuple.protocol == Protocol::Tcp {
                later.flags = TcpFlags::ACK;
            }
            walks.push(walk(router, now + 2, in_iface, later, "later packet").0);
        }
        // From the router itself.
        Verdict::Local => walks.push(walk(router, now + 1, None, reply, "reply").0),
        Verdict::Queued | Verdict::Drop(_) => {}
    }
    walks
}

/// One packet through the router: arriving on `in_iface`, or sent by the router itself.
fn walk(
    router: &mut Router,
    now: Time,
    in_iface: Option<IfaceId>,
    mut pkt: Packet,
    direction: &'static str,
) -> (Walk, Verdict, Packet) {
    let arrived = pkt.tuple;
    let mut rec = Recorder {
        names: std::sync::Arc::clone(&router.config),
        steps: Vec::new(),
        routed: None,
    };
    let mut verdict = match in_iface {
        Some(i) => router.receive_traced(now, i, &mut pkt, &mut rec),
        None => router.originate_traced(now, &mut pkt, &mut rec),
    };
    let mut steps = rec.steps;
    // A queue holds it: say which, and walk on as it leaves.
    let mut queued = None;
    if verdict == Verdict::Queued
        && let Some((name, line, way, hop)) = router.queues.last_held()
    {
        steps.push(Step {
            stage: "queue".into(),
            line: (line > 0).then_some(line),
            matched: Some(true),
            detail: format!(
                "held by queue {} ({way}) until its HTB lets it go",
                quote(&name)
            ),
        });
        queued = Some(name);
        verdict = Verdict::Forward(hop);
    }
    if let Some((at, table, hop)) = rec.routed {
        steps.insert(at, routing_step(router, table, hop, pkt.tuple.dst));
    }
    if pkt.tuple.src != arrived.src || pkt.tuple.src_port != arrived.src_port {
        steps.push(nat_step(
            "source",
            arrived.src,
            arrived.src_port,
            pkt.tuple.src,
            pkt.tuple.src_port,
        ));
    }
    if pkt.tuple.dst != arrived.dst || pkt.tuple.dst_port != arrived.dst_port {
        steps.push(nat_step(
            "destination",
            arrived.dst,
            arrived.dst_port,
            pkt.tuple.dst,
            pkt.tuple.dst_port,
        ));
    }
    let cfg = &router.config;
    let verdict_text = match verdict {
        Verdict::Forward(hop) => match hop.gateway {
            Some(gw) => format!("forward out {} to gateway {gw}", cfg.iface_name(hop.iface)),
            None => format!(
                "forward out {} (directly connected)",
                cfg.iface_name(hop.iface)
            ),
        },
        Verdict::Local => "deliver to the router itself".into(),
        Verdict::Queued => "queued".into(),
        Verdict::Drop(reason) => format!("drop: {}", reason.name()),
    };
    let verdict_text = match queued {
        Some(q) => format!("{verdict_text} after queue {}", quote(&q)),
        None => verdict_text,
    };
    let walk = Walk {
        direction,
        in_interface: in_iface.map_or("the router itself".into(), |i| {
            cfg.iface_name(i).to_string()
        }),
        arrived: arrived.to_string(),
        left: pkt.tuple.to_string(),
        steps,
        verdict: verdict_text,
    };
    (walk, verdict, pkt)
}

fn nat_step(which: &str, from: Ipv4Addr, from_port: u16, to: Ipv4Addr, to_port: u16) -> Step {
    Step {
        stage: "nat".into(),
        line: None,
        matched: None,
        detail: format!("{which} {from}:{from_port} → {to}:{to_port}"),
    }
}

/// Which route the decision took and why the other candidates were not taken.
fn routing_step(router: &Router, table: TableId, hop: Option<Hop>, dst: Ipv4Addr) -> Step {
    let cfg = &router.config;
    let fib = &router.fib;
    let mut detail = match table {
        TableId::MAIN => "no routing mark: table main".to_string(),
        t => format!("routing mark {0}: table {0}", cfg.routing_tables.name(t.0)),
    };
    let describe = |i: u32| {
        let r = &fib.routes[i as usize];
        let params: Vec<String> = route_params(cfg, r)
            .into_iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let line = if r.connected {
            "connected".to_string()
        } else {
            format!("line {}", r.line)
        };
        format!("{line} ({})", params.join(" "))
    };
    let Some(hop) = hop else {
        let _ = write!(detail, "; no active route to {dst}");
        return Step {
            stage: "routing".into(),
            line: None,
            matched: Some(false),
            detail,
        };
    };
    let chosen = &fib.routes[hop.route as usize];
    if chosen.table != table {
        let _ = write!(detail, "; no active route there, so it falls back to main");
    }
    let _ = write!(
        detail,
        "; takes {} → out {}",
        describe(hop.route),
        cfg.iface_name(hop.iface)
    );
    for (i, r) in fib.routes.iter().enumerate() {
        let i = i as u32;
        if i == hop.route
            || !r.contains(dst)
            || (r.table != table && r.table != chosen.table)
            || r.disabled
        {
            continue;
        }
        let why = if !fib.is_active(i) {
            "inactive (gateway unreachable or unresolved)".to_string()
        } else if r.prefix_len < chosen.prefix_len {
            format!(
                "less specific (/{} against /{})",
                r.prefix_len, chosen.prefix_len
            )
        } else if r.table != chosen.table {
            "in another table".to_string()
        } else {
            format!("distance {} is higher", r.distance)
        };
        let _ = write!(detail, "; not {}: {why}", describe(i));
    }
    Step {
        stage: "routing".into(),
        line: (!chosen.connected).then_some(chosen.line),
        matched: Some(true),
        detail,
    }
}

struct Recorder {
    /// The configuration, for names (the router itself is busy during the walk).
    names: std::sync::Arc<RouterConfig>,
    steps: Vec<Step>,
    /// Where in the steps the routing decision came, and what it was.
    routed: Option<(usize, TableId, Option<Hop>)>,
}

impl Observer for Recorder {
    const SEES_EVERY_RULE: bool = true;

    fn rule_tried(&mut self, table: &Table, rule: &Rule, matched: bool, ctx: &Ctx, env: &Env) {
        let params = rule_params(&self.names, table, rule);
        let text = |p: &[(&str, String)]| {
            p.iter()
                .map(|(k, v)| format!("{k}={}", quote(v)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        // The matcher that said no, where one did. `nth` is tested last and its counter has
        // moved on: when the walk got that far, it is the one that said no.
        let failed = (!matched).then(|| {
            rule.matchers
                .iter()
                .position(|m| {
                    matches!(m.kind, crate::router::firewall::Match::Nth(_))
                        || !m.holds(ctx, env, &mut Default::default())
                })
                .unwrap_or(0)
        });
        let detail = if matched {
            // The action's parameters follow the matchers.
            format!("match → {}", text(&params[1 + rule.matchers.len()..]))
        } else {
            let failed = failed.unwrap_or(0);
            format!("no: {}", text(&params[1 + failed..2 + failed]))
        };
        // A classifier the walk reached shows its arithmetic: the fields hashed, the bucket,
        // the remainder.
        let reached = |i: usize| failed.is_none_or(|f| f == i);
        let pcc = rule
            .matchers
            .iter()
            .enumerate()
            .find_map(|(i, m)| match &m.kind {
                crate::router::firewall::Match::Pcc(c) if reached(i) => Some(c.explain(&ctx.tuple)),
                _ => None,
            });
        let detail = match pcc {
            Some(how) => format!("{detail} ({how})"),
            None => detail,
        };
        self.steps.push(Step {
            stage: format!("{} {}", table.name, table.chain_names[rule.chain as usize]),
            line: Some(rule.line),
            matched: Some(matched),
            detail,
        });
    }
}

impl Tracer for Recorder {
    fn conntrack(&mut self, id: u32, dir: Dir, new: bool) {
        let detail = match (new, dir) {
            (true, _) => format!("new connection, entry #{id}"),
            (false, Dir::Original) => format!("entry #{id}, original direction"),
            (false, Dir::Reply) => format!("entry #{id}, reply direction: its mark and NAT apply"),
        };
        self.steps.push(Step {
            stage: "conntrack".into(),
            line: None,
            matched: None,
            detail,
        });
    }

    fn untracked(&mut self, why: Untracked) {
        let detail = match why {
            Untracked::TableFull => "no entry: the table is full (max-entries)",
            Untracked::Invalid => {
                "no entry: a TCP packet that cannot open a connection (connection-state=invalid)"
            }
        };
        self.steps.push(Step {
            stage: "conntrack".into(),
            line: None,
            matched: None,
            detail: detail.into(),
        });
    }

    fn routed(&mut self, table: TableId, hop: Option<Hop>) {
        self.routed = Some((self.steps.len(), table, hop));
    }
}

/// The walks as text for a terminal or a projector.
pub fn to_text(walks: &[Walk]) -> String {
    let mut out = String::new();
    for w in walks {
        let from = if w.in_interface == "the router itself" {
            "sent by".to_string()
        } else {
            "arrives on".to_string()
        };
        let _ = writeln!(
            out,
            "{} {} — {from} {}",
            w.direction, w.arrived, w.in_interface
        );
        for s in &w.steps {
            let line = s.line.map_or(String::new(), |l| format!("line {l}"));
            let mark = match s.matched {
                Some(true) => "✔",
                Some(false) => "·",
                None => " ",
            };
            let _ = writeln!(out, "  {mark} {:<22} {:<9} {}", s.stage, line, s.detail);
        }
        let _ = writeln!(out, "  → {} as {}\n", w.verdict, w.left);
    }
    out
}
