//! The world around the router, as a RON file: ISP links on the router's ports (bandwidth each
//! way, latency, loss, queue), each with a gateway and an upstream beyond it; a LAN with its
//! hosts; a population of internet servers with skewed popularity; the applications hosts run;
//! how long and with which seed. The router's own configuration is RouterOS script, in a `.rsc`
//! file next to the scenario or inline.
//!
//! Loading checks the scenario against the configuration (every wired port exists, every
//! gateway is on its WAN's subnet, every addressed interface is wired), so a simulation never
//! starts on a world that cannot exist. Errors name the file, line and column.

use crate::error::{Error, SourceError};
use crate::router::config::RouterConfig;
use crate::router::firewall::{AddrRange, IfaceId};
pub use crate::router::pcc::PccHash;
use crate::units::{Bandwidth, Duration, Size, Time};
use serde::Deserialize;
use std::net::Ipv4Addr;
use std::path::PathBuf;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub seed: u64,
    pub duration: Duration,
    /// How often the time series samples per-WAN throughput.
    #[serde(default = "default_sample")]
    pub sample_interval: Duration,
    pub router: RouterSpec,
    pub wans: Vec<Wan>,
    pub lan: Lan,
    pub internet: Internet,
    /// What the hosts do; pccsim's default mix when left out.
    #[serde(default = "default_mix")]
    pub apps: Vec<App>,
    /// Connections from the internet to servers behind the router (port forwards).
    #[serde(default)]
    pub inbound: Vec<Inbound>,
    /// What happens to the WANs during the run, in any order.
    #[serde(default)]
    pub timeline: Vec<Happening>,
    /// Ports with addresses that carry no simulated traffic (a management VLAN, a second LAN
    /// without hosts): named here, so that an addressed port left unwired is not a mistake.
    #[serde(default)]
    pub idle_ports: Vec<String>,
    /// The hash PCC rules use: `Pccsim` (pccsim's own; MikroTik does not publish theirs) or
    /// `Jhash` (what nftables' `jhash … mod N seed 0` gives, to compare with a Linux router).
    #[serde(default)]
    pub pcc_hash: PccHash,
}

impl Scenario {
    /// The applications, then the inbound services: how metrics and reports number them.
    pub fn app_names(&self) -> Vec<String> {
        let apps = self.apps.iter().map(|a| a.name.clone());
        apps.chain(self.inbound.iter().map(|i| i.name.clone()))
            .collect()
    }
}

/// Something that happens to one WAN at a moment of the run.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Happening {
    pub at: Duration,
    /// The WAN, by its ISP, port or interface name.
    pub wan: String,
    pub what: What,
}

#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
pub enum What {
    /// Carrier lost: the router's interface is not running.
    LinkDown,
    LinkUp,
    /// The ISP's gateway stops answering and forwarding; the link stays up.
    GatewayDown,
    GatewayUp,
    /// Everything beyond the gateway fails; the gateway itself still answers pings.
    UpstreamDown,
    UpstreamUp,
    /// The link loses `loss` of its packets (each way) and takes `latency` longer, for a while.
    Impair {
        #[serde(default)]
        loss: f64,
        #[serde(default)]
        latency: Duration,
        #[serde(rename = "for")]
        lasting: Duration,
    },
    /// The ISP renumbers (a DHCP WAN): its server refuses the lease at the router's next
    /// renewal and hands out the next address of its pool.
    NewAddress,
    /// The ISP's DHCP server stops answering (a lease is not renewed), and answers again.
    DhcpDown,
    DhcpUp,
    /// The ISP's PPPoE concentrator stops answering (the session drops when its LCP echoes go
    /// unanswered), and answers again (a new session, with a new address).
    PppoeDown,
    PppoeUp,
    /// The link goes down for `down`, every `every`, `times` times, starting at `at`.
    Flap {
        down: Duration,
        every: Duration,
        times: u32,
    },
}

/// A failure or a recovery of one WAN, with the WAN as its index in `wans`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Change {
    pub at: Time,
    pub wan: usize,
    pub kind: FailureKind,
    pub down: bool,
    /// For an impairment: the loss and extra one-way latency it adds while on.
    pub loss: f64,
    pub extra_latency: Time,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FailureKind {
    Link,
    Gateway,
    Upstream,
    /// Loss and delay on the link; nothing is down.
    Impairment,
    /// The ISP's DHCP server does not answer.
    Dhcp,
    /// The ISP's PPPoE concentrator does not answer.
    Pppoe,
    /// The ISP moves the router to another address (at its next renewal): nothing is down.
    Renumber,
}

impl FailureKind {
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::Link => "link",
            FailureKind::Gateway => "gateway",
            FailureKind::Upstream => "upstream",
            FailureKind::Impairment => "impairment",
            FailureKind::Dhcp => "dhcp",
            FailureKind::Pppoe => "pppoe",
            FailureKind::Renumber => "renumber",
        }
    }
}

/// At most this many changes in a timeline (flaps expanded): a typo in `times` or `every`
/// must not become a run of nothing but flaps.
const MAX_CHANGES: usize = 100_000;

/// The applications hosts run when a scenario names none.
pub fn default_mix() -> Vec<App> {
    const MIX: &str = include_str!("world/default_mix.ron");
    from_ron("default_mix.ron", MIX).expect("the default mix is valid RON (a test checks it)")
}

fn default_sample() -> Duration {
    Duration(10 * crate::units::SEC)
}

#[derive(Clone, Debug, Deserialize)]
pub enum RouterSource {
    /// A `.rsc` file, relative to the scenario file.
    File(String),
    /// The script itself.
    Inline(String),
}

/// The router: its configuration, and the MikroTik model that runs it where its CPU should
/// count (`None`: a CPU that never tires). Written `File("router.rsc")` alone, or
/// `(config: File("router.rsc"), model: "hAP ax²")`.
#[derive(Clone, Debug, Deserialize)]
#[serde(from = "RouterForm")]
pub struct RouterSpec {
    pub config: RouterSource,
    pub model: Option<String>,
}

#[derive(Deserialize)]
#[serde(
    untagged,
    expecting = "File(\"router.rsc\"), Inline(\"…\") or (config: File(\"router.rsc\"), model: \"hAP ax²\")"
)]
enum RouterForm {
    Config(RouterSource),
    Model(RouterWithModel),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouterWithModel {
    config: RouterSource,
    #[serde(default)]
    model: Option<String>,
}

impl From<RouterForm> for RouterSpec {
    fn from(form: RouterForm) -> RouterSpec {
        match form {
            RouterForm::Config(config) => RouterSpec {
                config,
                model: None,
            },
            RouterForm::Model(r) => RouterSpec {
                config: r.config,
                model: r.model,
            },
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wan {
    /// The router port this ISP is plugged into (factory or configured name).
    pub port: String,
    /// What to call the ISP in reports.
    pub isp: String,
    pub gateway: Ipv4Addr,
    /// ISP → router.
    pub down: Bandwidth,
    /// Router → ISP.
    pub up: Bandwidth,
    /// One-way delay between the router and the gateway.
    pub latency: Duration,
    /// Extra one-way delay from the gateway to the internet core.
    #[serde(default)]
    pub upstream_latency: Duration,
    /// Probability that the link loses a packet, each way.
    #[serde(default)]
    pub loss: f64,
    /// Buffer of the drop-tail queue at each end of the link.
    pub queue: Queue,
    /// How the router's address on this WAN comes about: `Static` (its `/ip address`), or
    /// `Dhcp(pool: "100.64.7.0/24", lease: "1h")`: the ISP's DHCP server hands out addresses
    /// of `pool`, which holds the gateway, to the router's `/ip dhcp-client`.
    #[serde(default)]
    pub addressing: Addressing,
}

#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub enum Addressing {
    #[default]
    Static,
    Dhcp {
        pool: String,
        lease: Duration,
    },
    /// A PPPoE session over the port (`port` is the Ethernet port, the router's
    /// `/interface pppoe-client` runs on it): each session gets the next address of `pool`;
    /// the gateway is the concentrator's end.
    Pppoe {
        pool: String,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
pub enum Queue {
    Packets(u32),
    Bytes(Size),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lan {
    pub port: String,
    pub hosts: u32,
    /// Address of the first host; the rest follow it.
    pub first_host: Ipv4Addr,
    #[serde(default = "gigabit")]
    pub bandwidth: Bandwidth,
    #[serde(default = "lan_latency")]
    pub latency: Duration,
    /// How much users differ: each host's sessions come at its own rate, the apps' rates
    /// times a log-normal factor with this sigma (0: every host alike), the factors scaled to
    /// a mean of exactly 1 so the rates per host stay as written on average. The default, 1,
    /// gives a few heavy users as real offices have.
    #[serde(default = "activity_spread")]
    pub activity_spread: f64,
    /// The DNS server the hosts use, e.g. the router's LAN address (what MikroTik's DHCP
    /// server hands out): apps on port 53 ask it instead of their own servers.
    #[serde(default)]
    pub resolver: Option<Ipv4Addr>,
    /// Kinds of hosts with their own applications (office PCs, phones, servers). A host in a
    /// class runs that class's apps; a host in none runs every app.
    #[serde(default)]
    pub classes: Vec<HostClass>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostClass {
    pub name: String,
    /// The class's hosts: an address range or prefix, e.g. "10.0.0.50-10.0.0.60".
    pub hosts: String,
    /// The names of the apps its hosts run.
    pub apps: Vec<String>,
}

impl HostClass {
    /// Whether a host at `ip` in this class runs `app`; `None` if the host is not in it.
    pub fn runs(&self, ip: Ipv4Addr, app: &str) -> Option<bool> {
        let range = AddrRange::parse(&self.hosts).ok()?;
        range
            .contains(ip)
            .then(|| self.apps.iter().any(|a| a == app))
    }
}

impl Lan {
    /// Each host's class, 1 for the first in `classes` (0: none), as [`Lan::runs`] finds it.
    pub fn host_classes(&self) -> Vec<u8> {
        (0..self.hosts)
            .map(|i| {
                let ip = Ipv4Addr::from(u32::from(self.first_host).wrapping_add(i));
                let class = self.classes.iter().position(|c| c.runs(ip, "").is_some());
                class.map_or(0, |c| (c + 1).min(255) as u8)
            })
            .collect()
    }

    /// Whether the host at `ip` runs `app`, by the classes.
    pub fn runs(&self, ip: Ipv4Addr, app: &str) -> bool {
        self.classes
            .iter()
            .find_map(|c| c.runs(ip, app))
            .unwrap_or(true)
    }
}

fn activity_spread() -> f64 {
    1.0
}

fn gigabit() -> Bandwidth {
    Bandwidth(1_000_000_000)
}

fn lan_latency() -> Duration {
    Duration(100 * crate::units::US)
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Internet {
    /// How many distinct servers hosts talk to.
    pub servers: u32,
    /// Zipf exponent of server popularity: 0 is uniform; around 1 a few servers carry most
    /// connections, as measured on real networks.
    #[serde(default = "zipf_default")]
    pub popularity: f64,
    /// One-way delay from the internet core to a server, spread log-uniformly between these.
    pub server_latency: (Duration, Duration),
}

fn zipf_default() -> f64 {
    1.0
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    pub name: String,
    /// New sessions per host per minute (Poisson arrivals).
    pub per_host_per_minute: f64,
    /// Only hosts in this range run the app (e.g. the desk phones); all hosts if absent.
    #[serde(default)]
    pub hosts: Option<String>,
    /// Fixed servers (e.g. DNS resolvers, the SIP provider); the popular population if absent.
    #[serde(default)]
    pub servers: Option<Vec<Ipv4Addr>>,
    pub kind: AppKind,
    /// Congestion control of its TCP connections' ends: `Cubic` (Linux's default) or
    /// `NewReno`.
    #[serde(default)]
    pub congestion: Congestion,
}

#[derive(Clone, Debug, Deserialize)]
pub enum AppKind {
    /// A TCP connection: the client sends a request, the server answers, the client closes.
    Tcp {
        port: u16,
        request: SizeDist,
        response: SizeDist,
    },
    /// One UDP datagram each way (DNS-like); the client retries once.
    UdpExchange {
        port: u16,
        request: Size,
        response: Size,
    },
    /// Constant-rate UDP both ways (VoIP-like) for a while. A `persistent` stream is a tunnel
    /// or a registration (IPsec NAT-T, WireGuard, SIP): it never gives up while nothing is
    /// heard, and its server takes it from a new address; the time it was dead is booked.
    UdpStream {
        port: u16,
        packet: Size,
        interval: Duration,
        duration: (Duration, Duration),
        #[serde(default)]
        persistent: bool,
    },
    /// Web pages: each page opens `objects` connections at once, spread over `servers`
    /// servers; the next page follows `think` (on average) after the last object arrived.
    Web {
        port: u16,
        pages: u32,
        objects: u32,
        servers: u32,
        think: Duration,
        request: SizeDist,
        object: SizeDist,
    },
    /// Video on demand: `chunks` segments of `chunk_seconds` of playback each, fetched one
    /// after another from one server; the player starts with the first segment and fetches
    /// the next when less than `buffer` of video is left. A segment that arrives after the
    /// buffer ran dry stalls playback (rebuffering).
    Video {
        port: u16,
        chunks: u32,
        chunk_seconds: Duration,
        chunk: SizeDist,
        buffer: Duration,
    },
    /// A VoIP call: SIP signalling (one exchange on `sip_port`), then the call's RTP stream to
    /// the same provider on `rtp_port` at a constant rate for a while. The provider takes media
    /// only from the public address the call was signalled from (`ip-affinity`).
    Call {
        sip_port: u16,
        rtp_port: u16,
        packet: Size,
        interval: Duration,
        duration: (Duration, Duration),
    },
    /// An IP-sensitive session (online banking, a payment portal): `connections` connections
    /// to one service, one after another, about `over` in all. The service ends the session
    /// when a connection arrives from another public address than the first (`ip-affinity`).
    IpSensitive {
        port: u16,
        connections: u32,
        over: Duration,
        request: SizeDist,
        response: SizeDist,
    },
}

/// The congestion control algorithm of a connection's ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
pub enum Congestion {
    /// Linux's default.
    #[default]
    Cubic,
    NewReno,
}

/// Most connections a session opens at once, and in all.
pub const MAX_BURST: u32 = 64;
pub const MAX_SESSION_CONNECTIONS: u32 = 10_000;

/// Clients on the internet connecting to a port the router forwards to a server on the LAN
/// (`chain=dstnat … action=dst-nat`): the traffic incoming-mark rules exist for.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inbound {
    pub name: String,
    /// The TCP port clients connect to, on a WAN's address.
    pub port: u16,
    /// New connections per minute, all clients together (Poisson arrivals).
    pub per_minute: f64,
    /// The WANs clients come in by (ISP, port or interface names), evenly; all by default.
    #[serde(default)]
    pub wans: Option<Vec<String>>,
    pub request: SizeDist,
    pub response: SizeDist,
}

#[derive(Clone, Copy, Debug, Deserialize)]
pub enum SizeDist {
    Fixed(Size),
    /// Log-normal body: half the transfers are below `median`.
    LogNormal {
        median: Size,
        sigma: f64,
    },
    /// Bounded Pareto: heavy-tailed, as web objects and downloads are.
    Pareto {
        min: Size,
        shape: f64,
        max: Size,
    },
}

impl AppKind {
    /// The sizes its transfers are drawn from.
    fn sizes(&self) -> Vec<&SizeDist> {
        match self {
            AppKind::Tcp {
                request, response, ..
            }
            | AppKind::IpSensitive {
                request, response, ..
            } => vec![request, response],
            AppKind::Web {
                request, object, ..
            } => vec![request, object],
            AppKind::Video { chunk, .. } => vec![chunk],
            _ => Vec::new(),
        }
    }
}

impl SizeDist {
    /// What makes it no distribution at all, if anything.
    fn malformed(&self) -> Option<&'static str> {
        match *self {
            SizeDist::Pareto { min, shape, max } => {
                if max.0 < min.0 {
                    Some("a Pareto's max is below its min")
                } else if !(shape.is_finite() && shape > 0.0) {
                    Some("a Pareto's shape must be more than 0 (around 1.2 for web objects)")
                } else if min.0 == 0 {
                    Some("a Pareto's min must be at least 1B")
                } else {
                    None
                }
            }
            SizeDist::LogNormal { median, sigma } => {
                if !(sigma.is_finite() && sigma >= 0.0) {
                    Some("a log-normal's sigma must be 0 or more")
                } else if median.0 == 0 {
                    Some("a log-normal's median must be at least 1B")
                } else {
                    None
                }
            }
            SizeDist::Fixed(_) => None,
        }
    }

    /// Whether its draws go past `limit` bytes, but for one in 10,000 of a log-normal's.
    fn beyond(&self, limit: u64) -> bool {
        match *self {
            SizeDist::Fixed(s) => s.0 > limit,
            SizeDist::Pareto { max, .. } => max.0 > limit,
            // The 99.99th percentile is 3.719 standard deviations above the median.
            SizeDist::LogNormal { median, sigma } => {
                median.0 as f64 * (3.719 * sigma.max(0.0)).exp() > limit as f64
            }
        }
    }
}

/// The largest transfer a connection carries: sequence numbers stay within 32 bits.
pub const MAX_TRANSFER: u64 = 1 << 30;

const MAX_SERVERS: u32 = 1_000_000;
const MAX_HOSTS: u32 = 65_536;
/// Sessions per host per minute: 100 a second.
const MAX_RATE: f64 = 6000.0;

/// A scenario with its configuration read and checked against it.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub scenario: Scenario,
    /// Per inbound service, the WANs (indexes into `wans`) its clients come in by.
    pub inbound_wans: Vec<Vec<usize>>,
    pub config: RouterConfig,
    /// Per scenario WAN, the router interface it is plugged into.
    pub wan_ifaces: Vec<IfaceId>,
    pub lan_iface: IfaceId,
    pub path: PathBuf,
    /// The scenario's and the configuration's text as read, for reports and provenance.
    pub scenario_text: std::sync::Arc<str>,
    pub config_text: std::sync::Arc<str>,
    /// The configuration's file as errors name it.
    pub config_file: String,
    /// The timeline, flaps expanded, in time order (stable for equal times).
    pub changes: Vec<Change>,
    /// The MikroTik model whose CPUs run the router, if the scenario names one.
    pub model: Option<&'static crate::router::cpu::Model>,
}

impl Loaded {
    pub fn duration(&self) -> Time {
        self.scenario.duration.0
    }

    /// What to say before a run of `duration`, or why not to start it: the timeline's events
    /// it cuts off ([`Loaded::beyond`]), and whether it fits ([`Loaded::fits`]).
    pub fn preflight(&self, duration: Time) -> Result<Vec<String>, Error> {
        let mut warnings = self.beyond(duration);
        warnings.extend(self.fits(duration)?);
        Ok(warnings)
    }

    /// About how many connections a second the LAN's hosts and the inbound clients start.
    pub fn connection_rate(&self) -> f64 {
        let s = &self.scenario;
        let first = u32::from(s.lan.first_host);
        let lan: f64 = (s.apps.iter())
            .map(|app| {
                let per_session = match app.kind {
                    AppKind::Web { pages, objects, .. } => pages.saturating_mul(objects),
                    AppKind::IpSensitive { connections, .. } => connections,
                    AppKind::Video { chunks, .. } => chunks,
                    _ => 1,
                };
                let range = app.hosts.as_deref().and_then(|h| AddrRange::parse(h).ok());
                let hosts = (0..s.lan.hosts)
                    .map(|h| Ipv4Addr::from(first.wrapping_add(h)))
                    .filter(|ip| {
                        range.is_none_or(|r| r.contains(*ip)) && s.lan.runs(*ip, &app.name)
                    })
                    .count();
                app.per_host_per_minute / 60.0 * per_session as f64 * hosts as f64
            })
            .sum();
        lan + s.inbound.iter().map(|i| i.per_minute / 60.0).sum::<f64>()
    }

    /// Whether a run of `duration` fits: refused when its connections would not fit in
    /// memory, a warning when it is large. The estimate: the connections a second, each open
    /// and remembered by conntrack about a minute, at about half a kilobyte each (the flow,
    /// its conntrack entry, its timers).
    pub fn fits(&self, duration: Time) -> Result<Option<String>, Error> {
        const LIVE_FOR_S: f64 = 60.0;
        const BYTES_EACH: f64 = 512.0;
        const REFUSE: f64 = 16.0 * (1u64 << 30) as f64;
        const WARN: f64 = 2.0 * (1u64 << 30) as f64;
        let rate = self.connection_rate();
        let secs = duration as f64 / crate::units::SEC as f64;
        let live = rate * secs.min(LIVE_FOR_S);
        let memory = live * BYTES_EACH;
        let total = rate * secs;
        let gib = memory / (1u64 << 30) as f64;
        let what = format!(
            "this world starts about {rate:.0} connections a second ({:.0} in the run), about {live:.0} open at once: some {gib:.1} GiB",
            total
        );
        if memory > REFUSE {
            return Err(Error::Invalid(format!(
                "{}: {what}, more than pccsim will take on (16 GiB); use fewer hosts, lower rates or a shorter run",
                self.path.display()
            )));
        }
        Ok((memory > WARN || total > 50e6).then(|| format!("warning: {what}; expect a long run")))
    }

    /// A warning for each happening of the timeline that a run of `duration` ends before
    /// (wholly, or for a flap, in part): a shortened run must not drop them without a word.
    pub fn beyond(&self, duration: Time) -> Vec<String> {
        let fmt = crate::units::format_duration;
        (self.scenario.timeline.iter())
            .filter_map(|h| {
                let last = match h.what {
                    What::Flap { every, times, .. } => {
                        h.at.0 + every.0.saturating_mul(times.saturating_sub(1) as Time)
                    }
                    _ => h.at.0,
                };
                (last >= duration).then(|| {
                    let what = format!("{:?}", h.what);
                    let what = what.split([' ', '{', '(']).next().unwrap_or("");
                    let part = if h.at.0 < duration { "part of " } else { "" };
                    format!(
                        "warning: the run ends at {} before {part}the timeline's {what} on {} at {}: that does not happen",
                        fmt(duration),
                        h.wan,
                        fmt(h.at.0)
                    )
                })
            })
            .collect()
    }
}

/// Parses scenario text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Scenario, SourceError> {
    from_ron(file, text)
}

/// Any RON file pccsim reads, with errors at their line and column.
pub fn from_ron<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<T, SourceError> {
    ron::from_str(text).map_err(|e| {
        let pos = e.span.start;
        SourceError::at_line(file, text, pos.line, pos.col, e.code.to_string())
    })
}

/// A WAN by its ISP, port or interface name.
fn wan_index(
    scenario: &Scenario,
    config: &RouterConfig,
    wan_ifaces: &[IfaceId],
    name: &str,
) -> Option<usize> {
    scenario.wans.iter().zip(wan_ifaces).position(|(w, &i)| {
        [w.isp.as_str(), w.port.as_str(), config.iface_name(i)]
            .iter()
            .any(|n| n.eq_ignore_ascii_case(name))
    })
}

/// The timeline as changes in time order, each checked: a known WAN, within the run, flaps that
/// fit their period. Errors point at the happening's line.
fn timeline(
    scenario: &Scenario,
    config: &RouterConfig,
    wan_ifaces: &[IfaceId],
    file: &str,
    text: &str,
) -> Result<Vec<Change>, Error> {
    let mut changes = Vec::new();
    // Per change, the timeline entry it comes from.
    let mut origins = Vec::new();
    let err_at = |n: usize, msg: String| -> Error {
        let start = find_field(text, "what", n).unwrap_or(0);
        SourceError::new(file, text, start, start + 4, msg).into()
    };
    for (n, h) in scenario.timeline.iter().enumerate() {
        let err = |msg: String| err_at(n, msg);
        let wan = wan_index(scenario, config, wan_ifaces, &h.wan).ok_or_else(|| {
            let names: Vec<&str> = (scenario.wans.iter().zip(wan_ifaces))
                .flat_map(|(w, &i)| [w.isp.as_str(), w.port.as_str(), config.iface_name(i)])
                .collect();
            let hint = crate::routeros::did_you_mean(&h.wan, names.iter().copied())
                .map_or(String::new(), |m| format!(" (did you mean `{m}`?)"));
            let isps: Vec<&str> = scenario.wans.iter().map(|w| w.isp.as_str()).collect();
            err(format!(
                "`{}` is not a WAN of this scenario{hint}; its WANs are {}",
                h.wan,
                isps.join(", ")
            ))
        })?;
        if h.at.0 > scenario.duration.0 {
            return Err(err(format!(
                "at {} is after the end of the run ({})",
                crate::units::format_duration(h.at.0),
                crate::units::format_duration(scenario.duration.0)
            )));
        }
        let change = |at, kind, down| Change {
            at,
            wan,
            kind,
            down,
            loss: 0.0,
            extra_latency: 0,
        };
        match h.what {
            What::LinkDown => changes.push(change(h.at.0, FailureKind::Link, true)),
            What::LinkUp => changes.push(change(h.at.0, FailureKind::Link, false)),
            What::GatewayDown => changes.push(change(h.at.0, FailureKind::Gateway, true)),
            What::GatewayUp => changes.push(change(h.at.0, FailureKind::Gateway, false)),
            What::UpstreamDown => changes.push(change(h.at.0, FailureKind::Upstream, true)),
            What::UpstreamUp => changes.push(change(h.at.0, FailureKind::Upstream, false)),
            What::DhcpDown | What::DhcpUp | What::NewAddress
                if !matches!(scenario.wans[wan].addressing, Addressing::Dhcp { .. }) =>
            {
                return Err(err(format!(
                    "`{}` is no Dhcp WAN: only a Dhcp WAN gets a new address or loses its DHCP server",
                    h.wan
                )));
            }
            What::PppoeDown | What::PppoeUp
                if !matches!(scenario.wans[wan].addressing, Addressing::Pppoe { .. }) =>
            {
                return Err(err(format!("`{}` is no Pppoe WAN", h.wan)));
            }
            What::PppoeDown => changes.push(change(h.at.0, FailureKind::Pppoe, true)),
            What::PppoeUp => changes.push(change(h.at.0, FailureKind::Pppoe, false)),
            What::DhcpDown => changes.push(change(h.at.0, FailureKind::Dhcp, true)),
            What::DhcpUp => changes.push(change(h.at.0, FailureKind::Dhcp, false)),
            What::NewAddress => changes.push(change(h.at.0, FailureKind::Renumber, true)),
            What::Impair {
                loss,
                latency,
                lasting,
            } => {
                if !(0.0..1.0).contains(&loss) || (loss == 0.0 && latency.0 == 0) {
                    return Err(err(
                        "an impairment needs a loss in (0, 1) or a latency".into()
                    ));
                }
                let on = Change {
                    loss,
                    extra_latency: latency.0,
                    ..change(h.at.0, FailureKind::Impairment, true)
                };
                changes.push(on);
                let end = h.at.0.saturating_add(lasting.0);
                changes.push(change(end, FailureKind::Impairment, false));
            }
            What::Flap { down, every, times } => {
                if down.0 == 0 || down.0 >= every.0 {
                    return Err(err(
                        "a flap's `down` must be longer than 0 and shorter than `every`".into(),
                    ));
                }
                if times as usize > MAX_CHANGES / 2 {
                    return Err(err(format!("at most {} flaps", MAX_CHANGES / 2)));
                }
                for k in 0..times as u64 {
                    let start = h.at.0.saturating_add(k.saturating_mul(every.0));
                    changes.push(change(start, FailureKind::Link, true));
                    changes.push(change(
                        start.saturating_add(down.0),
                        FailureKind::Link,
                        false,
                    ));
                }
            }
        }
        if changes.len() > MAX_CHANGES {
            return Err(err(format!(
                "the timeline has more than {MAX_CHANGES} changes"
            )));
        }
        origins.resize(changes.len(), n);
    }
    // Changes past the end never happen; among equal times, the order written.
    let mut changes: Vec<(Change, usize)> = changes.into_iter().zip(origins).collect();
    changes.retain(|(c, _)| c.at <= scenario.duration.0);
    changes.sort_by_key(|(c, _)| c.at);
    flaps_overlap(scenario, &changes).map_err(|(n, msg)| err_at(n, msg))?;
    Ok(changes.into_iter().map(|(c, _)| c).collect())
}

/// A flap's downs and ups must not fall inside another entry's link failure, nor another's
/// inside the flap's: one would end the other early, and the timeline would not be what it
/// says. The entry at fault and why, if so.
fn flaps_overlap(scenario: &Scenario, changes: &[(Change, usize)]) -> Result<(), (usize, String)> {
    let is_flap = |n: usize| matches!(scenario.timeline[n].what, What::Flap { .. });
    // Per WAN, the entry whose link failure is on.
    let mut down_by: Vec<Option<usize>> = vec![None; scenario.wans.len()];
    for &(c, n) in changes.iter().filter(|(c, _)| c.kind == FailureKind::Link) {
        if let Some(k) = down_by[c.wan]
            && k != n
            && (is_flap(k) || is_flap(n))
        {
            let at = crate::units::format_duration(c.at);
            return Err((
                n,
                format!(
                    "at {at} this meets the link failure of timeline entry {} (at {}): one would end the other early; a flap must not share its link's downtime with another entry",
                    k + 1,
                    crate::units::format_duration(scenario.timeline[k].at.0)
                ),
            ));
        }
        down_by[c.wan] = c.down.then_some(n);
    }
    Ok(())
}

/// Byte offset of the `nth` field `name:` in RON text, skipping `//` comments and strings.
fn find_field(text: &str, name: &str, nth: usize) -> Option<usize> {
    let mut found = 0;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let code = line.find("//").map_or(line, |c| &line[..c]);
        let mut from = 0;
        while let Some(i) = code[from..].find(name) {
            let start = from + i;
            let end = start + name.len();
            let before_ok = code[..start]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '"'));
            let is_key = code[end..].trim_start().starts_with(':');
            if before_ok && is_key {
                if found == nth {
                    return Some(offset + start);
                }
                found += 1;
            }
            from = end;
        }
        offset += line.len();
    }
    None
}

/// The longest run, and the longest one-way delay a link or a server may have.
const MAX_DURATION: Time = 366 * 86_400 * crate::units::SEC;
const MAX_LATENCY: Time = 10 * crate::units::SEC;
/// The fastest link (1 Tbit/s), and the deepest queue a link may have.
const MAX_BANDWIDTH: u64 = 1_000_000_000_000;
const MAX_QUEUE_PACKETS: u32 = 1_000_000;
const MAX_QUEUE_BYTES: u64 = 1 << 30;

/// Values that would make a world no network has, or one the simulation cannot hold: each an
/// error at the field that says it.
fn check_plausible(
    scenario: &Scenario,
    router_lan: Ipv4Addr,
    at_nth: &dyn Fn(&str, usize, String) -> Error,
) -> Result<(), Error> {
    let at = |needle: &str, msg: String| at_nth(needle, 0, msg);
    let name = &scenario.name;
    let plain = !name.is_empty()
        && name.len() <= 100
        && !name.starts_with('.')
        && !name.contains(['/', '\\', ':'])
        && !name.chars().any(char::is_control);
    if !plain {
        return Err(at(
            "name",
            format!(
                "name `{name}` must be a plain file name (no `/`, `\\`, `:` or leading `.`): results go to output/<name>"
            ),
        ));
    }
    if scenario.duration.0 > MAX_DURATION {
        return Err(at("duration", "a run lasts at most 366 days".into()));
    }
    for (i, w) in scenario.wans.iter().enumerate() {
        if let Some(other) = scenario.wans[..i].iter().find(|o| o.isp == w.isp) {
            return Err(at_nth(
                "isp",
                i,
                format!(
                    "two WANs are called `{}` (on {} and {}): results are per ISP name, so each needs its own",
                    w.isp, other.port, w.port
                ),
            ));
        }
        for (field, rate) in [("down", w.down.0), ("up", w.up.0)] {
            if rate > MAX_BANDWIDTH {
                let msg = format!("{field} is faster than 1Tbit: no WAN is");
                return Err(at_nth(field, i, msg));
            }
        }
        for (field, t) in [
            ("latency", w.latency.0),
            ("upstream_latency", w.upstream_latency.0),
        ] {
            if t > MAX_LATENCY {
                let msg = format!("{field} is more than 10s one way: no link is that slow");
                return Err(at_nth(field, i, msg));
            }
        }
        let deep = match w.queue {
            Queue::Packets(n) => n > MAX_QUEUE_PACKETS,
            Queue::Bytes(b) => b.0 > MAX_QUEUE_BYTES,
        };
        if deep {
            return Err(at_nth(
                "queue",
                i,
                "a queue holds at most Packets(1000000) or Bytes(\"1GiB\")".into(),
            ));
        }
    }
    let (lo, hi) = &scenario.internet.server_latency;
    if lo.0 > hi.0 || hi.0 > MAX_LATENCY {
        let msg = "server_latency is (shortest, longest), at most 10s one way".into();
        return Err(at("server_latency", msg));
    }
    let first = u32::from(scenario.lan.first_host);
    let last = first.saturating_add(scenario.lan.hosts.saturating_sub(1));
    let hosts = AddrRange { first, last };
    if hosts.contains(router_lan) {
        return Err(at(
            "first_host",
            format!(
                "the hosts {}–{} include the router's own LAN address {router_lan}",
                scenario.lan.first_host,
                Ipv4Addr::from(last)
            ),
        ));
    }
    let lan_range = |range: &str| -> Result<(), Error> {
        let r = AddrRange::parse(range).map_err(|e| at(range, e))?;
        if r.last < first || r.first > last {
            return Err(at(
                range,
                format!(
                    "no LAN host is in {range} (the hosts are {}–{})",
                    scenario.lan.first_host,
                    Ipv4Addr::from(last)
                ),
            ));
        }
        Ok(())
    };
    for class in &scenario.lan.classes {
        lan_range(&class.hosts)?;
    }
    for app in &scenario.apps {
        if let Some(range) = &app.hosts {
            lan_range(range)?;
        }
        for server in app.servers.iter().flatten() {
            if hosts.contains(*server) || *server == router_lan {
                return Err(at(
                    &server.to_string(),
                    format!(
                        "server {server} of `{}` is a LAN address: servers are on the internet",
                        app.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A dynamic WAN's pool: a prefix of at least four addresses that holds the gateway.
fn check_pool(pool: &str, gateway: Ipv4Addr) -> Result<(), String> {
    let net: ipnet::Ipv4Net = pool
        .parse()
        .map_err(|_| format!("pool `{pool}` is not a prefix, e.g. 100.64.7.0/24"))?;
    if !net.contains(&gateway) || net.prefix_len() > 30 {
        return Err(format!(
            "gateway {gateway} is not in the pool {pool} (of at least 4 addresses)"
        ));
    }
    Ok(())
}

/// Ties a parsed scenario to its configuration, rejecting worlds that cannot exist.
pub fn check(
    scenario: Scenario,
    mut config: RouterConfig,
    file: &str,
    text: &str,
    config_file: &str,
    config_text: &str,
) -> Result<Loaded, Error> {
    // Errors about the scenario point at the field (`name:` outside comments) or, for
    // values, their first mention.
    let at_nth = |needle: &str, nth: usize, msg: String| -> Error {
        let start = find_field(text, needle, nth)
            .or_else(|| text.find(needle))
            .unwrap_or(0);
        SourceError::new(file, text, start, start + needle.len(), msg).into()
    };
    let at = |needle: &str, msg: String| at_nth(needle, 0, msg);
    // An interface a rule names that nothing makes is a typo, unless the scenario says the
    // port is idle (it carries nothing: a rule on it never matches).
    let idle = |name: &str| scenario.idle_ports.iter().any(|p| p == name);
    if let Some(i) = config
        .interfaces
        .iter()
        .find(|i| i.undeclared_use.is_some() && !idle(&i.name))
    {
        let (start, end) = i.undeclared_use.unwrap_or_default();
        let msg = format!(
            "interface `{}` does not exist (no port has that name and nothing renames one to it)",
            i.name
        );
        return Err(SourceError::new(config_file, config_text, start, end, msg).into());
    }
    if scenario.wans.is_empty() {
        return Err(at("wans", "a scenario needs at least one WAN".into()));
    }
    let model = match &scenario.router.model {
        Some(name) => Some(crate::router::cpu::find(name).map_err(|msg| at("model", msg))?),
        None => None,
    };
    let mut wan_ifaces = Vec::new();
    for w in &scenario.wans {
        let port = format!("\"{}\"", w.port);
        let mut iface = config.iface(&w.port).ok_or_else(|| {
            at(
                &port,
                format!(
                    "port `{}` is not an interface of the router configuration",
                    w.port
                ),
            )
        })?;
        match &w.addressing {
            Addressing::Pppoe { pool } => {
                check_pool(pool, w.gateway).map_err(|msg| at(pool, msg))?;
                // IP traffic runs over the session's interface, not the Ethernet port.
                let on_port = |c: &&crate::router::config::StoredItem| {
                    c.get("interface").and_then(|n| config.iface(n)) == Some(iface)
                };
                let session = config
                    .stored_enabled("interface pppoe-client")
                    .find(on_port);
                iface = session.and_then(|c| config.iface(c.get("name")?)).ok_or_else(|| {
                    let msg = format!(
                        "the ISP on `{}` runs PPPoE but the router has no /interface pppoe-client add interface={}",
                        w.port, w.port
                    );
                    at(&port, msg)
                })?;
            }
            Addressing::Static => {
                let addr = config.address_of(iface).ok_or_else(|| {
                    let dhcp = config
                        .stored_enabled("ip dhcp-client")
                        .any(|c| c.get("interface").and_then(|n| config.iface(n)) == Some(iface));
                    let hint = if dhcp {
                        " (it has an /ip dhcp-client: give the WAN `addressing: Dhcp(pool: \"…/24\", lease: \"1h\")`)"
                    } else {
                        ""
                    };
                    at(
                        &port,
                        format!("interface `{}` has no /ip address in the configuration{hint}", w.port),
                    )
                })?;
                if !addr.network_contains(w.gateway) {
                    let msg = format!(
                        "gateway {} is not on {}'s subnet {}/{}",
                        w.gateway, w.port, addr.address, addr.prefix_len
                    );
                    return Err(at(&w.gateway.to_string(), msg));
                }
            }
            Addressing::Dhcp { pool, lease } => {
                check_pool(pool, w.gateway).map_err(|msg| at(pool, msg))?;
                if lease.0 < 10 * crate::units::SEC {
                    return Err(at("lease", "a lease of at least 10s".into()));
                }
                let clients = crate::router::dhcp_client::DhcpClients::from_config(&config);
                if !clients.serves(iface) {
                    let msg = format!(
                        "the ISP on `{}` hands out addresses by DHCP but the router has no /ip dhcp-client add interface={}",
                        w.port, w.port
                    );
                    return Err(at(&port, msg));
                }
            }
        }
        if !(0.0..1.0).contains(&w.loss) {
            return Err(at("loss", format!("loss {} must be in [0, 1)", w.loss)));
        }
        if wan_ifaces.contains(&iface) {
            return Err(at(&port, format!("port `{}` is wired twice", w.port)));
        }
        wan_ifaces.push(iface);
    }
    let lan_port = format!("\"{}\"", scenario.lan.port);
    let lan_iface = config.iface(&scenario.lan.port).ok_or_else(|| {
        at(
            &lan_port,
            format!(
                "port `{}` is not an interface of the router configuration",
                scenario.lan.port
            ),
        )
    })?;
    let lan_addr = config.address_of(lan_iface).ok_or_else(|| {
        at(
            &lan_port,
            format!("interface `{}` has no /ip address", scenario.lan.port),
        )
    })?;
    if scenario.lan.hosts == 0 {
        return Err(at("hosts", "a LAN needs at least one host".into()));
    }
    let last_host =
        u32::from(scenario.lan.first_host).checked_add(scenario.lan.hosts.saturating_sub(1));
    let fits = last_host.is_some_and(|l| lan_addr.network_contains(Ipv4Addr::from(l)));
    if scenario.lan.hosts == 0 || !lan_addr.network_contains(scenario.lan.first_host) || !fits {
        let msg = format!(
            "{} hosts from {} do not fit the LAN subnet {}/{}",
            scenario.lan.hosts, scenario.lan.first_host, lan_addr.address, lan_addr.prefix_len
        );
        return Err(at("first_host", msg));
    }
    for p in &scenario.idle_ports {
        if config.iface(p).is_none() {
            let msg = format!("idle port `{p}` is not an interface of the router configuration");
            return Err(at(&format!("\"{p}\""), msg));
        }
    }
    // An addressed interface nobody plugged in is almost always a mistake in one of the files.
    for a in &config.addresses {
        let idle = scenario
            .idle_ports
            .iter()
            .any(|p| config.iface(p) == Some(a.iface));
        if a.iface != lan_iface && !wan_ifaces.contains(&a.iface) && !idle {
            let name = config.iface_name(a.iface);
            let line_start: usize = config_text
                .split_inclusive('\n')
                .take((a.line as usize).saturating_sub(1))
                .map(str::len)
                .sum();
            let line_len = config_text[line_start..]
                .find('\n')
                .unwrap_or(config_text.len() - line_start);
            return Err(SourceError::new(
                config_file,
                config_text,
                line_start,
                line_start + line_len,
                format!("interface `{name}` has an address but the scenario wires nothing to it"),
            )
            .into());
        }
    }
    check_plausible(&scenario, lan_addr.address, &at_nth)?;
    // Limits that keep a typo from turning into a run that never ends or fills the memory.
    if !(1..=MAX_SERVERS).contains(&scenario.internet.servers) {
        let msg = format!("servers must be between 1 and {MAX_SERVERS}");
        return Err(at("servers", msg));
    }
    if scenario.lan.hosts > MAX_HOSTS {
        return Err(at("hosts", format!("at most {MAX_HOSTS} hosts")));
    }
    if scenario.duration.0 == 0 {
        return Err(at("duration", "the run must last longer than 0".into()));
    }
    if scenario.sample_interval.0 < crate::units::MS {
        return Err(at(
            "sample_interval",
            "sample_interval must be at least 1ms".into(),
        ));
    }
    if scenario.sample_interval.0 > scenario.duration.0 {
        return Err(at(
            "sample_interval",
            "sample_interval is longer than the run: the time series would have one row".into(),
        ));
    }
    if !(0.0..=10.0).contains(&scenario.internet.popularity) {
        return Err(at(
            "popularity",
            format!(
                "popularity {} must be between 0 (uniform) and 10 (one server takes all); around 1 is typical",
                scenario.internet.popularity
            ),
        ));
    }
    if !(0.0..=3.0).contains(&scenario.lan.activity_spread) {
        return Err(at(
            "activity_spread",
            "activity_spread must be between 0 (every host alike) and 3".into(),
        ));
    }
    for (i, w) in scenario.wans.iter().enumerate() {
        if matches!(w.queue, Queue::Packets(0) | Queue::Bytes(Size(0))) {
            return Err(at_nth(
                "queue",
                i,
                "a queue of 0 holds no packet: every packet would be dropped (use e.g. Packets(100))".into(),
            ));
        }
    }
    for class in &scenario.lan.classes {
        AddrRange::parse(&class.hosts).map_err(|e| at(&class.hosts, e))?;
        for app in &class.apps {
            if !scenario.apps.iter().any(|a| &a.name == app) {
                let known: Vec<&str> = scenario.apps.iter().map(|a| a.name.as_str()).collect();
                let msg = format!("no app is called `{app}` (apps: {})", known.join(", "));
                return Err(at(app, msg));
            }
        }
    }
    for app in &scenario.apps {
        if let AppKind::UdpStream { interval, .. } | AppKind::Call { interval, .. } = &app.kind
            && interval.0 < crate::units::MS
        {
            return Err(at(
                "interval",
                "a stream's interval must be at least 1ms".into(),
            ));
        }
        if let Some(range) = &app.hosts {
            AddrRange::parse(range).map_err(|e| at(range, e))?;
        }
        let (burst, total) = match app.kind {
            AppKind::Web {
                pages,
                objects,
                servers,
                ..
            } => {
                if servers == 0 || servers > objects {
                    return Err(at(
                        &app.name,
                        "a page's servers must be between 1 and its objects".into(),
                    ));
                }
                (objects, pages.saturating_mul(objects))
            }
            AppKind::IpSensitive { connections, .. } => (1, connections),
            AppKind::Video { chunks, .. } => (1, chunks),
            _ => (1, 1),
        };
        if !(1..=MAX_BURST).contains(&burst) || !(1..=MAX_SESSION_CONNECTIONS).contains(&total) {
            return Err(at(
                &app.name,
                format!(
                    "a session opens 1 to {MAX_SESSION_CONNECTIONS} connections, at most {MAX_BURST} at once"
                ),
            ));
        }
        if !(0.0..=MAX_RATE).contains(&app.per_host_per_minute) {
            return Err(at(
                &app.name,
                format!("per_host_per_minute must be between 0 and {MAX_RATE}"),
            ));
        }
        let sizes = app.kind.sizes();
        if let Some(why) = sizes.iter().find_map(|d| d.malformed()) {
            return Err(at(&app.name, format!("`{}`: {why}", app.name)));
        }
        if sizes.iter().any(|d| d.beyond(MAX_TRANSFER)) {
            return Err(at(
                &app.name,
                "a transfer is at most 1GiB: a fixed size or a Pareto's max above it, or a log-normal whose 1-in-10,000 draw exceeds it, would be cut short".into(),
            ));
        }
    }
    let changes = timeline(&scenario, &config, &wan_ifaces, file, text)?;
    let mut inbound_wans = Vec::new();
    for (n, service) in scenario.inbound.iter().enumerate() {
        if !(0.0..=MAX_RATE * 100.0).contains(&service.per_minute) {
            return Err(at_nth(
                "per_minute",
                n,
                "per_minute must be between 0 and 600000".into(),
            ));
        }
        let names = service.wans.clone();
        let wans = match names {
            None => (0..scenario.wans.len()).collect(),
            Some(names) => names
                .iter()
                .map(|name| {
                    wan_index(&scenario, &config, &wan_ifaces, name)
                        .ok_or_else(|| at(name, format!("`{name}` is not a WAN of this scenario")))
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        if wans.is_empty() {
            return Err(at(&service.name, "an inbound service needs a WAN".into()));
        }
        inbound_wans.push(wans);
    }
    config.use_pcc_hash(scenario.pcc_hash);
    Ok(Loaded {
        inbound_wans,
        scenario,
        config,
        wan_ifaces,
        lan_iface,
        path: PathBuf::new(),
        scenario_text: text.into(),
        config_text: config_text.into(),
        config_file: config_file.to_string(),
        changes,
        model,
    })
}
