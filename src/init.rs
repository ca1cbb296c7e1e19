//! `pccsim init`: a scenario guessed from a router configuration, so that a real export runs
//! without a world written by hand. The WANs are the ports of DHCP, PPPoE and LTE clients (each
//! a pool of its own, assumed), the interfaces default routes leave by (their gateways from the
//! routes, a recursive gateway from the host route that reaches it) and those masquerade sends
//! out of — tunnels excepted, which ride on them; the LAN is the addressed interface the PCC rules classify (else the
//! largest), its hosts from its DHCP server's pool; link rates from comments people write
//! (`"ISP 1 - 100 Mbps"`). Everything else — latencies, queues, the internet, the
//! applications — is pccsim's default, and every guess is said in the file and in
//! [`Guess::assumptions`].

use crate::router::config::RouterConfig;
use crate::router::firewall::{Action, IfaceId, Match};
use crate::router::routing::Gateway;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// A scenario written for a configuration.
pub struct Guess {
    /// The scenario as RON, with comments a person can edit.
    pub ron: String,
    /// What pccsim assumed, one sentence each.
    pub assumptions: Vec<String>,
}

/// The world `init` guesses for the configuration `text` (named `file`), built as `pccsim run
/// CONFIG.rsc` runs it, with what was guessed.
pub fn world(file: &str, text: &str) -> Result<(crate::scenario::Loaded, Guess), crate::Error> {
    let config = crate::routeros::load(file, text)?;
    let guess = init(&config, &scenario_name(file), file).map_err(crate::Error::Invalid)?;
    let scenario = crate::scenario::parse("<pccsim init>", &guess.ron)?;
    let loaded = crate::WorldBuilder::new(scenario, text)
        .config_named(file)
        .build()?;
    Ok((loaded, guess))
}

/// The scenario's name for a configuration file: its stem (`router` for `router.rsc`).
pub fn scenario_name(file: &str) -> String {
    let stem = std::path::Path::new(file).file_stem();
    stem.map_or("router".into(), |s| s.to_string_lossy().into_owned())
}

/// Hosts a guessed LAN has at most: enough to load the WANs, few enough for a quick run.
const MAX_HOSTS: u32 = 50;
/// A link's rate when nothing in the configuration says it.
const DEFAULT_RATE: &str = "100Mbit";

/// One WAN as guessed.
struct Wan {
    /// The interface its traffic leaves by (a PPPoE session's own).
    iface: IfaceId,
    /// The port the ISP is plugged into, as the scenario names it.
    port: String,
    gateway: Ipv4Addr,
    /// Where the gateway was found.
    why: String,
    rate: Option<String>,
    /// `Dhcp(…)` for a WAN the ISP addresses by DHCP; empty for a static one.
    addressing: String,
}

/// Writes a scenario for `cfg`, read from `config_file` (named in the scenario as
/// `router: File(…)`, relative to where the scenario will be). An error says what the
/// configuration lacks and what to add to the scenario by hand.
pub fn init(cfg: &RouterConfig, name: &str, config_file: &str) -> Result<Guess, String> {
    let mut assumptions = Vec::new();
    let (wans, tunnels) = wans(cfg)?;
    assumptions.extend(tunnels);
    let (lan, lan_why) = lan(cfg, &wans)?;
    let (first_host, hosts, hosts_why) = hosts(cfg, lan)?;
    let mut ron = String::new();
    let _ = writeln!(
        ron,
        "// The world around the router of {config_file}, as `pccsim init` guessed it from the\n\
         // configuration. Edit what you know better: lines marked ASSUMED are guesses."
    );
    ron.push_str("Scenario(\n");
    let _ = writeln!(ron, "    name: {name:?},");
    let _ = writeln!(
        ron,
        "    description: \"built from {config_file} by pccsim init\","
    );
    ron.push_str("    seed: 1,\n    duration: \"10m\",\n");
    let _ = writeln!(ron, "    router: File({config_file:?}),");
    ron.push_str("    wans: [\n");
    for w in &wans {
        let iface = w.port.as_str();
        let rate = match &w.rate {
            Some(r) => {
                let _ = writeln!(ron, "        // {iface}: {}; {r} from its comment", w.why);
                r.clone()
            }
            None => {
                let _ = writeln!(
                    ron,
                    "        // {iface}: {}; ASSUMED {DEFAULT_RATE} each way (no comment says)",
                    w.why
                );
                assumptions.push(format!(
                    "{iface} runs at {DEFAULT_RATE} each way (no comment in the configuration gives its rate)"
                ));
                DEFAULT_RATE.to_string()
            }
        };
        let _ = writeln!(
            ron,
            "        (port: {iface:?}, isp: {iface:?}, gateway: \"{}\",\n         down: {rate:?}, up: {rate:?}, latency: \"5ms\", upstream_latency: \"10ms\",\n         queue: Packets(200){}), // ASSUMED latencies and queue",
            w.gateway, w.addressing
        );
    }
    assumptions.push(
        "every WAN is 5 ms to its gateway and 10 ms more to the internet, with a 200-packet queue"
            .into(),
    );
    ron.push_str("    ],\n");
    let lan_name = cfg.iface_name(lan);
    let _ = writeln!(ron, "    // {lan_name}: {lan_why}; {hosts_why}");
    let _ = writeln!(
        ron,
        "    lan: (port: {lan_name:?}, hosts: {hosts}, first_host: \"{first_host}\"),"
    );
    // Other addressed ports, and names rules use that nothing makes (check reports them).
    let addressed = cfg.addresses.iter().map(|a| a.iface);
    let undeclared = (0..cfg.interfaces.len() as IfaceId)
        .filter(|&i| cfg.interfaces[i as usize].undeclared_use.is_some());
    let idle: Vec<&str> = addressed
        .chain(undeclared)
        .filter(|&i| i != lan && !wans.iter().any(|w| w.iface == i))
        .map(|i| cfg.iface_name(i))
        .fold(Vec::new(), |mut v, n| {
            if !v.contains(&n) {
                v.push(n);
            }
            v
        });
    if !idle.is_empty() {
        let _ = writeln!(
            ron,
            "    // Ports no simulated traffic comes or goes by: other addressed ones, and names the\n    // rules use that no command makes (check: interface-undefined).\n    idle_ports: {idle:?},"
        );
    }
    assumptions.push(format!("{hosts} hosts on {lan_name} ({hosts_why})"));
    ron.push_str(
        "    // ASSUMED: 2,000 internet servers of Zipf popularity; pccsim's default mix of\n    \
         // applications (web, video, calls, DNS, downloads) — list `apps: [...]` to change it.\n    \
         internet: (servers: 2000, popularity: 1.0, server_latency: (\"2ms\", \"100ms\")),\n",
    );
    assumptions.push("the internet and the applications are pccsim's defaults".into());
    ron.push_str(")\n");
    Ok(Guess { ron, assumptions })
}

/// The WANs: where default routes go, then where masquerade sends, in the order the
/// configuration names them.
fn wans(cfg: &RouterConfig) -> Result<(Vec<Wan>, Vec<String>), String> {
    let mut found: Vec<Wan> = Vec::new();
    let mut dynamic: Vec<(IfaceId, String)> = Vec::new();
    let mut tunnels: Vec<(IfaceId, u32)> = Vec::new();
    // A DHCP client (an LTE modem's included) is on a WAN: the ISP's server gives it its
    // address and gateway; a PPPoE client makes one of its port. Each gets a pool of its own
    // in the shared address space (RFC 6598), ASSUMED.
    let clients = crate::router::dhcp_client::DhcpClients::from_config(cfg);
    for c in &clients.clients {
        let n = found.len() as u8;
        let (net, gateway) = (Ipv4Addr::new(100, 64, n, 0), Ipv4Addr::new(100, 64, n, 1));
        found.push(Wan {
            iface: c.iface,
            port: cfg.iface_name(c.iface).to_string(),
            gateway,
            why: format!(
                "DHCP client (line {}); ASSUMED the ISP leases from {net}/24 for 1h, gateway {gateway}",
                c.line
            ),
            rate: rate_of(cfg, c.iface, None),
            addressing: format!(",\n         addressing: Dhcp(pool: \"{net}/24\", lease: \"1h\")"),
        });
    }
    for item in cfg.stored_enabled("interface pppoe-client") {
        let session = item.get("name").and_then(|n| cfg.iface(n));
        let port = item.get("interface").and_then(|n| cfg.iface(n));
        let (Some(session), Some(port)) = (session, port) else {
            continue;
        };
        let n = found.len() as u8;
        let (net, gateway) = (Ipv4Addr::new(100, 64, n, 0), Ipv4Addr::new(100, 64, n, 1));
        found.push(Wan {
            iface: session,
            port: cfg.iface_name(port).to_string(),
            gateway,
            why: format!(
                "PPPoE client {} (line {}); ASSUMED the concentrator gives addresses of {net}/24, its end {gateway}",
                cfg.iface_name(session),
                item.line
            ),
            rate: rate_of(cfg, session, item.get("comment")).or_else(|| rate_of(cfg, port, None)),
            addressing: format!(",\n         addressing: Pppoe(pool: \"{net}/24\")"),
        });
    }
    let defaults = cfg
        .routes
        .iter()
        .filter(|r| !r.disabled && r.prefix_len == 0);
    for r in defaults {
        for &g in &r.gateways {
            let (iface, gateway, why) = match g {
                Gateway::Address(gw) => match on_subnet(cfg, gw) {
                    Some(i) => (i, gw, format!("default route via {gw} (line {})", r.line)),
                    None => match recursive(cfg, gw) {
                        Some((i, real)) => (
                            i,
                            real,
                            format!(
                                "default route via {gw} (line {}), reached by {real}",
                                r.line
                            ),
                        ),
                        None => continue,
                    },
                },
                Gateway::Interface(i) => {
                    let made_by = cfg.interfaces[i as usize].made_by.as_deref();
                    if made_by.is_some_and(|k| crate::router::config::TUNNELS.contains(&k)) {
                        tunnels.push((i, r.line));
                    } else {
                        dynamic.push((i, format!("default route by interface (line {})", r.line)));
                    }
                    continue;
                }
            };
            if !found.iter().any(|w| w.iface == iface) {
                let rate = rate_of(cfg, iface, r.comment.as_deref());
                found.push(Wan {
                    iface,
                    port: cfg.iface_name(iface).to_string(),
                    gateway,
                    why,
                    rate,
                    addressing: String::new(),
                });
            }
        }
    }
    for rule in cfg.nat.rules.iter().filter(|r| !r.disabled) {
        if !matches!(rule.action, Action::Masquerade | Action::SrcNat(_)) {
            continue;
        }
        let Some(iface) = rule.matchers.iter().find_map(|m| match m.kind {
            Match::OutInterface(i) if !m.negate => Some(i),
            _ => None,
        }) else {
            continue;
        };
        // A tunnel rides on a WAN; a name no interface has is a mistake check reports.
        let port = &cfg.interfaces[iface as usize];
        let tunnel = port
            .made_by
            .as_deref()
            .is_some_and(|k| crate::router::config::TUNNELS.contains(&k));
        if found.iter().any(|w| w.iface == iface) || tunnel || port.undeclared_use.is_some() {
            continue;
        }
        match cfg.address_of(iface) {
            Some(a) => {
                // No route names a gateway: the first other address of the subnet.
                let net = u32::from(a.address) & crate::router::routing::prefix_mask(a.prefix_len);
                let mut gw = Ipv4Addr::from(net + 1);
                if gw == a.address {
                    gw = Ipv4Addr::from(net + 2);
                }
                let why = format!(
                    "masquerade out of it (line {}), ASSUMED gateway {gw}",
                    rule.line
                );
                found.push(Wan {
                    iface,
                    port: cfg.iface_name(iface).to_string(),
                    gateway: gw,
                    why,
                    rate: rate_of(cfg, iface, None),
                    addressing: String::new(),
                });
            }
            None => dynamic.push((iface, format!("masquerade out of it (line {})", rule.line))),
        }
    }
    // A WAN reached by an interface is one with an address of its own on a subnet.
    dynamic.retain(|(i, _)| !found.iter().any(|w| w.iface == *i));
    if let Some((iface, why)) = dynamic.first() {
        let name = cfg.iface_name(*iface);
        return Err(format!(
            "{name} is a WAN ({why}) with no address of its own and no DHCP or PPPoE client \
             (a tunnel?): pccsim can't build its ISP from the configuration; give {name} a \
             static /ip address and a default route through its gateway, or write the \
             scenario by hand"
        ));
    }
    if found.is_empty() {
        let unreached: Vec<String> = cfg
            .routes
            .iter()
            .filter(|r| !r.disabled && r.prefix_len == 0)
            .flat_map(|r| r.gateways.iter().map(move |g| (g, r.line)))
            .filter_map(|(g, line)| match g {
                Gateway::Address(gw) => Some(format!("{gw} (line {line})")),
                Gateway::Interface(_) => None,
            })
            .collect();
        let said = if unreached.is_empty() {
            "no default route (dst-address=0.0.0.0/0)".to_string()
        } else {
            format!(
                "default routes via {} reach no addressed interface",
                unreached.join(", ")
            )
        };
        return Err(format!(
            "no WAN found: {said}, and no DHCP or PPPoE client or masquerade rule names a WAN \
             port; add the WAN ports' /ip address or clients (a script meant to run on a \
             router needs that router's configuration first), or write the scenario by hand"
        ));
    }
    let tunnels = tunnels.iter().map(|&(i, line)| {
        format!(
            "{} is a tunnel (default route, line {line}): what the routes send into it is not simulated",
            cfg.iface_name(i)
        )
    });
    Ok((found, tunnels.collect()))
}

/// The interface whose subnet holds `ip`.
fn on_subnet(cfg: &RouterConfig, ip: Ipv4Addr) -> Option<IfaceId> {
    let a = cfg.addresses.iter().find(|a| a.network_contains(ip))?;
    Some(a.iface)
}

/// A recursive gateway (`8.8.8.8` reached by a host route through the ISP's): the interface
/// and the ISP's own gateway.
fn recursive(cfg: &RouterConfig, target: Ipv4Addr) -> Option<(IfaceId, Ipv4Addr)> {
    cfg.routes
        .iter()
        .filter(|r| !r.disabled && r.prefix_len > 0 && r.contains(target))
        .find_map(|r| match r.gateways.first()? {
            Gateway::Address(gw) => Some((on_subnet(cfg, *gw)?, *gw)),
            Gateway::Interface(_) => None,
        })
}

/// A rate people wrote in the interface's or the route's comment, or in the interface's own
/// name: `100 Mbps`, `50M`, `1Gbit`.
fn rate_of(cfg: &RouterConfig, iface: IfaceId, route_comment: Option<&str>) -> Option<String> {
    let i = &cfg.interfaces[iface as usize];
    [i.comment.as_deref(), route_comment, Some(i.name.as_str())]
        .into_iter()
        .flatten()
        .find_map(rate_in)
}

/// The first `NUMBER UNIT` in `text` that reads as a link rate, as pccsim writes one.
fn rate_in(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() || (i > 0 && bytes[i - 1].is_ascii_alphanumeric()) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        let number: u64 = text[start..i].parse().ok()?;
        let rest = text[i..].trim_start();
        let unit = rest.chars().next().map(|c| c.to_ascii_lowercase());
        let after = rest.get(1..).unwrap_or("").to_ascii_lowercase();
        // `100M`, `100 Mbps`, `1 Gbit`, but not `10 minutes` or `5 ms`.
        let unit_word = after.is_empty()
            || !after.starts_with(|c: char| c.is_ascii_alphabetic())
            || after.starts_with("bps")
            || after.starts_with("bit")
            || after.starts_with("b/")
            || after.starts_with("b ")
            || after == "b";
        let scale = match unit {
            Some('g') if unit_word => "Gbit",
            Some('m') if unit_word => "Mbit",
            Some('k') if unit_word => "kbit",
            _ => continue,
        };
        if number > 0 {
            return Some(format!("{number}{scale}"));
        }
    }
    None
}

/// The LAN: the addressed interface the PCC rules classify traffic from, else the one with
/// the largest subnet that is no WAN.
fn lan(cfg: &RouterConfig, wans: &[Wan]) -> Result<(IfaceId, String), String> {
    let is_wan = |i: IfaceId| wans.iter().any(|w| w.iface == i);
    let classified = cfg
        .mangle
        .rules
        .iter()
        .filter(|r| !r.disabled)
        .find_map(|r| {
            let pcc = r
                .matchers
                .iter()
                .any(|m| matches!(m.kind, Match::Pcc(_) | Match::Nth(_)));
            let from = r.matchers.iter().find_map(|m| match m.kind {
                Match::InInterface(i) if !m.negate && pcc => Some(i),
                _ => None,
            })?;
            (!is_wan(from) && cfg.address_of(from).is_some()).then_some((from, r.line))
        });
    if let Some((i, line)) = classified {
        return Ok((
            i,
            format!("the PCC rules classify what comes in by it (line {line})"),
        ));
    }
    let largest = cfg
        .addresses
        .iter()
        .filter(|a| !is_wan(a.iface))
        .min_by_key(|a| (a.prefix_len, a.line));
    match largest {
        Some(a) => Ok((
            a.iface,
            format!("the largest subnet that is no WAN's (line {})", a.line),
        )),
        None => Err(
            "no LAN found: no addressed interface is left once the WANs are taken; \
                     add the LAN's /ip address, or write the scenario by hand"
                .into(),
        ),
    }
}

/// The LAN's hosts: the first address and how many, from the DHCP server's pool on the LAN
/// when there is one, else from the subnet; and where they came from.
fn hosts(cfg: &RouterConfig, lan: IfaceId) -> Result<(Ipv4Addr, u32, String), String> {
    let a = cfg.address_of(lan).ok_or("the LAN has no address")?;
    let mask = crate::router::routing::prefix_mask(a.prefix_len);
    let net = u32::from(a.address) & mask;
    let broadcast = net | !mask;
    let name = cfg.iface_name(lan);
    let pool = cfg
        .stored_enabled("ip dhcp-server")
        .filter(|s| s.get("interface") == Some(name))
        .find_map(|s| {
            let pool = s.get("address-pool")?;
            let item = cfg
                .stored_enabled("ip pool")
                .find(|p| p.get("name") == Some(pool))?;
            let range = item.get("ranges")?.split(',').next()?;
            let r = crate::router::firewall::AddrRange::parse(range).ok()?;
            Some((pool.to_string(), r.first, r.last))
        });
    let (first, last, from) = match pool {
        Some((pool, first, last)) if first > net && last < broadcast => {
            (first, last, format!("from DHCP pool {pool}"))
        }
        _ => (
            net + 10,
            broadcast - 1,
            "from the subnet (no DHCP server pool on it)".to_string(),
        ),
    };
    // The router's own address is no host's.
    let router = u32::from(a.address);
    let first = if first == router { first + 1 } else { first };
    let room = if (first..=last).contains(&router) {
        router - first
    } else {
        last.saturating_sub(first) + 1
    };
    let hosts = room.min(MAX_HOSTS);
    if hosts == 0 {
        return Err(format!("no room for hosts on {name}'s subnet"));
    }
    Ok((
        Ipv4Addr::from(first),
        hosts,
        format!("{hosts} hosts {from}, at most {MAX_HOSTS}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_read_from_what_people_write() {
        assert_eq!(rate_in("ISP 1 - 100 Mbps").as_deref(), Some("100Mbit"));
        assert_eq!(rate_in("fibre 1G").as_deref(), Some("1Gbit"));
        assert_eq!(rate_in("WAN2 50M/10M").as_deref(), Some("50Mbit"));
        assert_eq!(rate_in("lte 20mbit").as_deref(), Some("20Mbit"));
        assert_eq!(rate_in("ether1"), None);
        assert_eq!(rate_in("backup, checked every 10 minutes"), None);
        assert_eq!(rate_in("5 ms away"), None);
    }
}
