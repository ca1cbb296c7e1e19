//! Variants of one configuration: another PCC field choice, `nth`, ECMP, other weights,
//! FastTrack on or off, PCQ per host on or off. Each is a rewrite of the fewest rules that makes the difference, and
//! says what it rewrote, by line, so the user can make the same change on the router.
//!
//! The rewrites work on the PCC group: the enabled mangle prerouting rules that mark new
//! connections by `per-connection-classifier`. Their order and connection marks say which WAN
//! gets which share; everything else in the configuration stays as it is.

use crate::router::Router;
use crate::router::config::RouterConfig;
use crate::router::firewall::{
    Action, ConnMark, ConnStates, FORWARD, IfaceId, Match, Matcher, Nth, PREROUTING, Rule, TableId,
};
use crate::router::pcc::{Classifier, Fields};
use crate::router::routing::{Gateway, Route};
use std::net::Ipv4Addr;

/// How new connections are spread over the WANs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spread {
    /// PCC with these fields.
    Pcc(Fields),
    /// `nth`, keeping the rules' `connection-mark=no-mark` guards: round-robin.
    Nth,
    /// `nth` without the guards: the classic mistake.
    NthUnguarded,
    /// One default route with the WANs' gateways (weights as repeats).
    Ecmp,
}

impl Spread {
    pub fn parse(text: &str) -> Result<Spread, String> {
        match text {
            "nth" => Ok(Spread::Nth),
            "nth-unguarded" => Ok(Spread::NthUnguarded),
            "ecmp" => Ok(Spread::Ecmp),
            _ => Fields::from_name(text).map(Spread::Pcc).ok_or_else(|| {
                format!(
                    "`{text}` is not a classifier (one of: {}, nth, nth-unguarded, ecmp)",
                    Fields::ALL.map(Fields::name).join(", ")
                )
            }),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Spread::Pcc(f) => f.name(),
            Spread::Nth => "nth",
            Spread::NthUnguarded => "nth-unguarded",
            Spread::Ecmp => "ecmp",
        }
    }
}

/// Weights per WAN, in the order the PCC group first names their connection marks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Weights(pub Vec<u32>);

impl Weights {
    pub fn parse(text: &str) -> Result<Weights, String> {
        let bad = || format!("`{text}` is not a list of weights like 5:2 or 1:1:1");
        let w: Vec<u32> = text
            .split(':')
            .map(|p| p.trim().parse().map_err(|_| bad()))
            .collect::<Result<_, _>>()?;
        if w.len() < 2 || w.contains(&0) || w.iter().sum::<u32>() > 1000 {
            return Err(bad());
        }
        Ok(Weights(w))
    }

    pub fn text(&self) -> String {
        let parts: Vec<String> = self.0.iter().map(u32::to_string).collect();
        parts.join(":")
    }
}

/// The PCC group's rules, by index into mangle, in order.
fn pcc_group(cfg: &RouterConfig) -> Vec<usize> {
    let rules = cfg.mangle.rules.iter().enumerate();
    rules
        .filter(|(_, r)| !r.disabled && r.chain == PREROUTING)
        .filter(|(_, r)| matches!(r.action, Action::MarkConnection(_)))
        .filter(|(_, r)| pcc_of(r).is_some())
        .map(|(i, _)| i)
        .collect()
}

fn pcc_of(r: &Rule) -> Option<Classifier> {
    r.matchers.iter().find_map(|m| match m.kind {
        Match::Pcc(c) if !m.negate => Some(c),
        _ => None,
    })
}

fn mark_of(r: &Rule) -> ConnMark {
    match r.action {
        Action::MarkConnection(m) => m,
        _ => ConnMark::NONE,
    }
}

/// `line N` or `lines N–M`.
fn lines(cfg: &RouterConfig, group: &[usize]) -> String {
    let first = cfg.mangle.rules[group[0]].line;
    let last = cfg.mangle.rules[group[group.len() - 1]].line;
    if first == last {
        format!("line {first}")
    } else {
        format!("lines {first}–{last}")
    }
}

fn no_group() -> String {
    "the configuration has no PCC rules (mangle prerouting, action=mark-connection, \
     per-connection-classifier=…) to rewrite"
        .into()
}

/// Gives the PCC group `weights`: one rule per remainder, the first rules' template kept.
pub fn set_weights(cfg: &mut RouterConfig, weights: &Weights) -> Result<String, String> {
    let group = pcc_group(cfg);
    if group.is_empty() {
        return Err(no_group());
    }
    let mut marks: Vec<ConnMark> = Vec::new();
    for &i in &group {
        let m = mark_of(&cfg.mangle.rules[i]);
        if !marks.contains(&m) {
            marks.push(m);
        }
    }
    if marks.len() != weights.0.len() {
        return Err(format!(
            "weights {} name {} WANs, but the PCC rules mark {} ({})",
            weights.text(),
            weights.0.len(),
            marks.len(),
            marks
                .iter()
                .map(|m| cfg.connection_marks.name(m.0))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let where_ = lines(cfg, &group);
    let template = cfg.mangle.rules[group[0]].clone();
    let fields = pcc_of(&template).map_or(Fields::BothAddresses, |c| c.fields);
    let denominator: u32 = weights.0.iter().sum();
    for &i in group.iter().rev() {
        cfg.mangle.rules.remove(i);
    }
    let mut at = group[0];
    let mut remainder = 0;
    for (mark, &w) in marks.iter().zip(&weights.0) {
        for _ in 0..w {
            let mut rule = template.clone();
            for m in &mut rule.matchers {
                if let Match::Pcc(c) = &mut m.kind {
                    *c = Classifier {
                        fields,
                        denominator,
                        remainder,
                        hash: c.hash,
                    };
                }
            }
            rule.action = Action::MarkConnection(*mark);
            cfg.mangle.insert(at, rule);
            at += 1;
            remainder += 1;
        }
    }
    cfg.mangle.index();
    Ok(format!(
        "mangle {where_}: {} PCC rules → {denominator} rules, {fields}:{denominator}/0…{} split {}",
        group.len(),
        denominator - 1,
        weights.text(),
        fields = fields.name(),
    ))
}

/// Spreads new connections by `spread` instead of the PCC group's classifier.
pub fn set_spread(cfg: &mut RouterConfig, spread: Spread) -> Result<String, String> {
    let group = pcc_group(cfg);
    if group.is_empty() {
        return Err(no_group());
    }
    let where_ = lines(cfg, &group);
    let text = match spread {
        Spread::Pcc(fields) => {
            for &i in &group {
                for m in &mut cfg.mangle.rules[i].matchers {
                    if let Match::Pcc(c) = &mut m.kind {
                        c.fields = fields;
                    }
                }
            }
            format!(
                "mangle {where_}: per-connection-classifier={}:…",
                fields.name()
            )
        }
        Spread::Nth | Spread::NthUnguarded => nth(cfg, &group, spread == Spread::Nth, &where_),
        Spread::Ecmp => return ecmp(cfg, &group, &where_),
    };
    cfg.mangle.index();
    Ok(text)
}

/// Guarded, rule k of D sees what rules before it left, so it takes one of every D−k; unguarded,
/// every rule sees every packet, so rule k takes the (k+1)-th of every D.
fn nth(cfg: &mut RouterConfig, group: &[usize], guarded: bool, where_: &str) -> String {
    let d = group.len() as u32;
    for (k, &i) in group.iter().enumerate() {
        let rule = &mut cfg.mangle.rules[i];
        let nth = if guarded {
            Nth {
                every: d - k as u32,
                packet: 1,
            }
        } else {
            rule.matchers.retain(|m| !is_guard(m));
            Nth {
                every: d,
                packet: k as u32 + 1,
            }
        };
        let mut matchers: Vec<Matcher> = std::mem::take(&mut rule.matchers);
        for m in &mut matchers {
            if matches!(m.kind, Match::Pcc(_)) {
                m.kind = Match::Nth(nth);
            }
        }
        *rule = rebuilt(rule, matchers);
    }
    if guarded {
        format!("mangle {where_}: per-connection-classifier → nth={d},1 … nth=1,1 (guards kept)")
    } else {
        format!(
            "mangle {where_}: per-connection-classifier → nth={d},1 … nth={d},{d}, without connection-mark=no-mark and connection-state"
        )
    }
}

/// `connection-mark=no-mark` or `connection-state=…`: what keeps a rule to new connections.
fn is_guard(m: &Matcher) -> bool {
    let unmarked = m.kind == Match::ConnectionMark(ConnMark::NONE) && !m.negate;
    unmarked || matches!(m.kind, Match::ConnectionState(_))
}

/// The rule again with other matchers (so their order and quick checks are redone).
fn rebuilt(rule: &Rule, matchers: Vec<Matcher>) -> Rule {
    let mut r = Rule::new(rule.chain, matchers, rule.action.clone(), rule.line);
    r.passthrough = rule.passthrough;
    r.comment = rule.comment.clone();
    r.id = rule.id;
    r
}

/// The PCC group disabled, and one default route in `main` whose gateways are the group's
/// WANs, each as often as the group gives it remainders; the old default routes stand by.
fn ecmp(cfg: &mut RouterConfig, group: &[usize], where_: &str) -> Result<String, String> {
    let router = Router::new(cfg.clone());
    let mut gateways = Vec::new();
    for &i in group {
        let mark = mark_of(&cfg.mangle.rules[i]);
        let hop = router.hop_of_mark(mark).ok_or_else(|| {
            format!(
                "connection mark {} leads to no default route, so ECMP has no gateway for it",
                cfg.connection_marks.name(mark.0)
            )
        })?;
        let gw = hop
            .gateway
            .map_or(Gateway::Interface(hop.iface), Gateway::Address);
        gateways.push(gw);
    }
    for &i in group {
        cfg.mangle.rules[i].disabled = true;
    }
    cfg.mangle.index();
    let defaults = cfg
        .routes
        .iter_mut()
        .filter(|r| r.table == TableId::MAIN && r.prefix_len == 0 && !r.disabled);
    let mut distance = u8::MAX;
    let mut check_gateway = None;
    for r in defaults {
        distance = distance.min(r.distance);
        check_gateway = check_gateway.or(r.check_gateway);
        r.distance = r.distance.saturating_add(1);
    }
    let names: Vec<String> = gateways
        .iter()
        .map(|g| match g {
            Gateway::Address(a) => a.to_string(),
            Gateway::Interface(i) => cfg.iface_name(*i).to_string(),
        })
        .collect();
    cfg.routes.insert(
        0,
        Route {
            dst: Ipv4Addr::UNSPECIFIED,
            prefix_len: 0,
            gateways,
            distance: distance.clamp(1, 254),
            table: TableId::MAIN,
            check_gateway,
            scope: 30,
            target_scope: 10,
            disabled: false,
            connected: false,
            line: 0,
            comment: Some("ECMP (pccsim compare)".into()),
        },
    );
    let how = match cfg.dialect {
        crate::router::config::Dialect::V6 => {
            "RouterOS 6 keeps each address pair on its gateway until the routing cache is flushed, every 10 min"
        }
        crate::router::config::Dialect::V7 => "RouterOS 7 hashes each packet's addresses",
    };
    Ok(format!(
        "mangle {where_}: PCC rules disabled; /ip route add gateway={} (main's default routes' distance +1); {how}",
        names.join(",")
    ))
}

/// FastTrack on (a fasttrack rule for established connections at the top of filter forward,
/// unless one is enabled) or off (every fasttrack rule disabled).
pub fn set_fasttrack(cfg: &mut RouterConfig, on: bool) -> String {
    let is_fasttrack = |r: &Rule| r.action == Action::FasttrackConnection && !r.disabled;
    let text = if on {
        if cfg.filter.rules.iter().any(is_fasttrack) {
            return "FastTrack: already on".into();
        }
        let states = ConnStates(ConnStates::ESTABLISHED.0 | ConnStates::RELATED.0);
        let matchers = vec![Matcher {
            negate: false,
            kind: Match::ConnectionState(states),
        }];
        let rule = Rule::new(FORWARD, matchers, Action::FasttrackConnection, 0);
        cfg.filter.insert(0, rule);
        "filter: added chain=forward connection-state=established,related action=fasttrack-connection at the top".into()
    } else {
        let lines: Vec<String> = cfg
            .filter
            .rules
            .iter_mut()
            .filter(|r| is_fasttrack(r))
            .map(|r| {
                r.disabled = true;
                r.line.to_string()
            })
            .collect();
        if lines.is_empty() {
            return "FastTrack: already off".into();
        }
        format!(
            "filter line {}: fasttrack-connection disabled",
            lines.join(", ")
        )
    };
    cfg.filter.index();
    text
}

/// The reply-marking mistake, as guides often print it: the prerouting rules that turn a
/// connection mark into a routing mark lose what keeps them to the LAN (`in-interface`,
/// `in-interface-list`, `src-address`, `src-address-list`), so replies arriving from a WAN
/// are routing-marked too and routed back out of it.
pub fn mark_replies(cfg: &mut RouterConfig) -> Result<String, String> {
    let keeps_to_lan = |m: &Matcher| {
        matches!(
            m.kind,
            Match::InInterface(_)
                | Match::InInterfaceList(_)
                | Match::SrcAddress(_)
                | Match::SrcAddressList(_)
        )
    };
    let mut changed = Vec::new();
    for rule in &mut cfg.mangle.rules {
        let marks_routing = matches!(rule.action, Action::MarkRouting(_));
        if rule.disabled || rule.chain != PREROUTING || !marks_routing {
            continue;
        }
        let by_mark = rule
            .matchers
            .iter()
            .any(|m| matches!(m.kind, Match::ConnectionMark(c) if c != ConnMark::NONE));
        if by_mark && rule.matchers.iter().any(keeps_to_lan) {
            let matchers = rule.matchers.iter().filter(|m| !keeps_to_lan(m)).cloned();
            *rule = rebuilt(rule, matchers.collect());
            changed.push(rule.line.to_string());
        }
    }
    if changed.is_empty() {
        return Err(
            "no prerouting mark-routing rule is kept to the LAN, so there is no mistake to make"
                .into(),
        );
    }
    cfg.mangle.index();
    Ok(format!(
        "mangle line {}: in-interface (or src-address) removed from the rules that routing-mark by connection mark",
        changed.join(", ")
    ))
}

/// PCQ per host each way (`on`): downloads in a tree on the LAN port by destination address,
/// uploads in a tree under `global` by source, marked at the end of mangle forward, their
/// totals `down`/`up` bit/s (a little under the WANs' sum, so the router's queue, not the
/// ISPs', decides who waits) — unless the configuration has a PCQ queue already. Or every
/// simple and tree queue disabled (`off`).
pub fn set_pcq(cfg: &mut RouterConfig, on: bool, lan: IfaceId, down: u64, up: u64) -> String {
    use crate::router::config::StoredItem;
    use crate::router::queue::config::QueueSetup;
    let setup = QueueSetup::from_config(cfg);
    if !on {
        let mut lines = Vec::new();
        for menu in ["queue simple", "queue tree"] {
            for item in cfg.stored.get_mut(menu).into_iter().flatten() {
                if !item.disabled() {
                    item.props.retain(|(k, _)| k != "disabled");
                    item.props.push(("disabled".into(), "yes".into()));
                    lines.push(item.line.to_string());
                }
            }
        }
        return match lines.is_empty() {
            true => "queues: none to disable".into(),
            false => format!("queues at line {} disabled", lines.join(", ")),
        };
    }
    let uses_pcq = |l: &crate::router::queue::config::Limits| setup.types[l.queue].kind.is_pcq();
    let has_pcq = setup.trees.iter().any(|t| uses_pcq(&t.limits))
        || (setup.simple.iter()).any(|q| uses_pcq(&q.upload) || uses_pcq(&q.download));
    if has_pcq {
        return "PCQ: already on".into();
    }
    let lan_name = cfg.iface_name(lan).to_string();
    for (port, mark) in [
        (Match::OutInterface(lan), "pccsim-down"),
        (Match::InInterface(lan), "pccsim-up"),
    ] {
        let mark = cfg.packet_marks.intern(mark);
        let matchers = vec![Matcher {
            negate: false,
            kind: port,
        }];
        let rule = Rule::new(FORWARD, matchers, Action::MarkPacket(mark), 0);
        let at = cfg.mangle.rules.len();
        cfg.mangle.insert(at, rule);
    }
    cfg.mangle.index();
    let item = |props: &[(&'static str, String)]| StoredItem {
        line: 0,
        props: props
            .iter()
            .map(|(k, v)| ((*k).into(), v.clone()))
            .collect(),
    };
    let types = cfg.stored.entry("queue type".into()).or_default();
    for (name, classifier) in [
        ("pccsim-pcq-down", "dst-address"),
        ("pccsim-pcq-up", "src-address"),
    ] {
        types.push(item(&[
            ("name", name.into()),
            ("kind", "pcq".into()),
            ("pcq-classifier", classifier.into()),
        ]));
    }
    let trees = cfg.stored.entry("queue tree".into()).or_default();
    trees.push(item(&[
        ("name", "pccsim-down".into()),
        ("parent", lan_name.clone()),
        ("packet-mark", "pccsim-down".into()),
        ("queue", "pccsim-pcq-down".into()),
        ("max-limit", down.to_string()),
    ]));
    trees.push(item(&[
        ("name", "pccsim-up".into()),
        ("parent", "global".into()),
        ("packet-mark", "pccsim-up".into()),
        ("queue", "pccsim-pcq-up".into()),
        ("max-limit", up.to_string()),
    ]));
    format!(
        "mangle forward: mark-packet pccsim-down (out-interface={lan_name}) and pccsim-up (in-interface={lan_name}) added at the end; /queue type pcq by dst-address and by src-address; /queue tree pccsim-down parent={lan_name} max-limit={}M, pccsim-up parent=global max-limit={}M",
        down / 1_000_000,
        up / 1_000_000
    )
}
