//! What the LAN asks of the internet: the server population and the sessions hosts start.
//!
//! A session is what a user does with an application: one connection (a download, a DNS
//! query, a call's media), or a pattern of them — a web page's burst of parallel connections to
//! a few servers with think time between pages, a banking session's connections to one service
//! over minutes. [`Shape`] says which; the world runs the pattern.
//!
//! Servers get public addresses and a one-way latency (log-uniform between the scenario's
//! bounds), and a Zipf popularity, so a few destinations carry most connections as on real
//! networks — which is what makes `both-addresses` split connections differently from address
//! pairs. Each host runs each of its applications as a Poisson process; transfer sizes come from
//! heavy-tailed distributions, so a handful of transfers carry most bytes and PCC's byte shares
//! wander from its connection shares. Hosts differ in how busy they are (a log-normal factor
//! per host), so a few heavy users carry much of the load — what makes per-address PCC lumpy.
//! Every host draws from its own seeded random stream.

use crate::router::firewall::AddrRange;
use crate::scenario::{AppKind, Congestion, Scenario, SizeDist};
use crate::units::{SEC, Time};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Exp, LogNormal, Pareto, Zipf};
use rand_pcg::Pcg64Mcg;
use std::net::Ipv4Addr;

#[derive(Clone, Debug)]
pub struct Server {
    pub ip: Ipv4Addr,
    /// One-way delay from the internet core.
    pub latency: Time,
}

/// One connection of a session.
#[derive(Clone, Copy, Debug)]
pub struct Connection {
    pub app: u16,
    pub server: u32,
    pub src_port: u16,
    pub dst_port: u16,
    pub kind: ConnectionKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionKind {
    Tcp {
        request: u32,
        response: u32,
        /// Both ends' congestion control.
        congestion: Congestion,
    },
    UdpExchange {
        request: u32,
        response: u32,
    },
    UdpStream {
        packet: u32,
        interval: Time,
        until: Time,
        /// A call's media: its delay, jitter and loss are measured for its MOS.
        quality: bool,
        /// A tunnel or registration that never gives up ([`crate::scenario::AppKind`]).
        persistent: bool,
    },
}

pub struct Workload {
    apps: Vec<AppPlan>,
    arrivals: Arrivals,
    hosts: Vec<HostState>,
    first_host: u32,
    inbound: Vec<InboundPlan>,
    /// Clients of inbound services are internet hosts, drawn by popularity like servers.
    clients: Option<Zipf<f64>>,
}

/// One port-forwarded service's clients: their arrivals and what they ask.
struct InboundPlan {
    per_second: f64,
    port: u16,
    request: SizeDist,
    response: SizeDist,
    wans: Vec<usize>,
    rng: Pcg64Mcg,
}

/// A connection from the internet to a forwarded port.
#[derive(Clone, Copy, Debug)]
pub struct InboundConnection {
    pub conn: Connection,
    /// The WAN (index into the scenario's) whose address the client connects to.
    pub wan: usize,
}

struct AppPlan {
    kind: AppKind,
    /// Mean time between sessions per host, in seconds; infinite for rate 0.
    mean_gap_s: f64,
    hosts: Option<AddrRange>,
    /// Indices of fixed servers, or the popularity distribution over the population.
    fixed: Vec<u32>,
    popular: Option<Zipf<f64>>,
    congestion: Congestion,
}

/// Session starts of the whole LAN. The hosts' Poisson processes superpose into one Poisson
/// process whose events fall to each (host, app) pair in proportion to its rate, so one pending
/// event in the engine stands for all of them.
struct Arrivals {
    pairs: Vec<(u32, u16)>,
    /// Running sum of the pairs' rates, in sessions per second.
    cumulative: Vec<f64>,
    /// Where to start looking for a draw in each of `pairs.len()` equal slices of the total:
    /// the first pair whose running sum passes the slice's start (a guide table — the same
    /// pick as a binary search, in a step or two instead of log₂ of 40,000 cache misses).
    guide: Vec<u32>,
    /// The width of a slice: the total over the number of pairs.
    step: f64,
    rng: Pcg64Mcg,
}

impl Arrivals {
    fn new(pairs: Vec<(u32, u16)>, cumulative: Vec<f64>, rng: Pcg64Mcg) -> Arrivals {
        let total = cumulative.last().copied().unwrap_or(0.0);
        let step = total / cumulative.len().max(1) as f64;
        let guide = (0..cumulative.len())
            .map(|k| cumulative.partition_point(|&c| c <= k as f64 * step) as u32)
            .collect();
        Arrivals {
            pairs,
            cumulative,
            guide,
            step,
            rng,
        }
    }

    /// The pair whose share of the running sum holds `pick` (0 ≤ pick < total): the first
    /// whose running sum exceeds it.
    fn pair_at(&self, pick: f64) -> usize {
        let (n, step) = (self.cumulative.len(), self.step);
        let mut k = ((pick / step) as usize).min(n - 1);
        // Rounding may put the slice one too far on; the guide's own products decide.
        while k > 0 && k as f64 * step > pick {
            k -= 1;
        }
        let mut i = self.guide[k] as usize;
        while i < n && self.cumulative[i] <= pick {
            i += 1;
        }
        i.min(n - 1)
    }
}

struct HostState {
    rng: Pcg64Mcg,
    next_port: u16,
}

const EPHEMERAL_FIRST: u16 = 32768;
const EPHEMERAL_LAST: u16 = 60999;

impl Workload {
    /// The workload and the servers it draws on (for the internet to hold); `reserved` are
    /// ranges server addresses must avoid (the router's own subnets).
    pub fn new(
        scenario: &Scenario,
        inbound_wans: &[Vec<usize>],
        seed: u64,
        reserved: &[AddrRange],
    ) -> (Workload, Vec<Server>) {
        let mut rng = Pcg64Mcg::seed_from_u64(seed ^ 0x5e7e_5e7e);
        let (lo, hi) = scenario.internet.server_latency;
        let mut servers = Vec::new();
        let mut taken: rustc_hash::FxHashSet<Ipv4Addr> = Default::default();
        let latency = |rng: &mut Pcg64Mcg| {
            let (a, b) = ((lo.0.max(1)) as f64, (hi.0.max(lo.0).max(1)) as f64);
            (a.ln() + rng.random::<f64>() * (b.ln() - a.ln())).exp() as Time
        };
        while servers.len() < scenario.internet.servers as usize {
            let ip = Ipv4Addr::from(rng.random::<u32>());
            if is_public(ip) && !reserved.iter().any(|r| r.contains(ip)) && taken.insert(ip) {
                servers.push(Server {
                    ip,
                    latency: latency(&mut rng),
                });
            }
        }
        let population = servers.len() as u32;
        let mut apps = Vec::new();
        for app in &scenario.apps {
            let mut fixed = Vec::new();
            let asks_names = matches!(app.kind, AppKind::UdpExchange { port: 53, .. });
            let resolver = scenario
                .lan
                .resolver
                .filter(|_| asks_names)
                .map(|r| vec![r]);
            for ip in resolver
                .as_ref()
                .or(app.servers.as_ref())
                .into_iter()
                .flatten()
            {
                let index = match servers.iter().position(|s| s.ip == *ip) {
                    Some(i) => i as u32,
                    None => {
                        servers.push(Server {
                            ip: *ip,
                            latency: latency(&mut rng),
                        });
                        (servers.len() - 1) as u32
                    }
                };
                fixed.push(index);
            }
            let popular = fixed
                .is_empty()
                .then(|| Zipf::new(population as f64, scenario.internet.popularity.max(0.0)).ok())
                .flatten();
            apps.push(AppPlan {
                kind: app.kind.clone(),
                mean_gap_s: 60.0 / app.per_host_per_minute,
                hosts: app.hosts.as_deref().and_then(|h| AddrRange::parse(h).ok()),
                fixed,
                popular,
                congestion: app.congestion,
            });
        }
        let first_host: u32 = scenario.lan.first_host.into();
        let mut pairs = Vec::new();
        let mut cumulative = Vec::new();
        let mut total = 0.0;
        // Each host's factor, scaled so that their mean is exactly 1: the office's total is
        // what the apps' rates say however few hosts draw (one host runs at its rate).
        let sigma = scenario.lan.activity_spread;
        let spread = LogNormal::new(0.0, sigma).ok();
        let mut activity_rng = Pcg64Mcg::seed_from_u64(seed ^ 0xac71_7e55);
        let mut factors: Vec<f64> = (0..scenario.lan.hosts)
            .map(|_| spread.map_or(1.0, |d| d.sample(&mut activity_rng)))
            .collect();
        let mean = factors.iter().sum::<f64>() / factors.len().max(1) as f64;
        factors.iter_mut().for_each(|f| *f /= mean);
        for (host, &activity) in (0..scenario.lan.hosts).zip(&factors) {
            for (a, plan) in apps.iter().enumerate() {
                let ip = Ipv4Addr::from(first_host + host);
                let runs = plan.hosts.is_none_or(|r| r.contains(ip))
                    && scenario.lan.runs(ip, &scenario.apps[a].name);
                if runs && plan.mean_gap_s.is_finite() && plan.mean_gap_s > 0.0 {
                    total += activity / plan.mean_gap_s;
                    pairs.push((host, a as u16));
                    cumulative.push(total);
                }
            }
        }
        let arrivals = Arrivals::new(
            pairs,
            cumulative,
            Pcg64Mcg::seed_from_u64(seed ^ 0xa441_7a15),
        );
        let hosts = (0..scenario.lan.hosts)
            .map(|h| {
                let mut rng = Pcg64Mcg::seed_from_u64(
                    seed.wrapping_mul(0x9e37_79b9).wrapping_add(h as u64 + 1),
                );
                let next_port = rng.random_range(EPHEMERAL_FIRST..=EPHEMERAL_LAST);
                HostState { rng, next_port }
            })
            .collect();
        let inbound = (scenario.inbound.iter().zip(inbound_wans).enumerate())
            .map(|(k, (service, wans))| InboundPlan {
                per_second: service.per_minute / 60.0,
                port: service.port,
                request: service.request,
                response: service.response,
                wans: wans.clone(),
                rng: Pcg64Mcg::seed_from_u64(seed ^ 0x1b0_0000 ^ k as u64),
            })
            .collect();
        let clients = Zipf::new(population as f64, scenario.internet.popularity.max(0.0)).ok();
        let workload = Workload {
            apps,
            arrivals,
            hosts,
            first_host: scenario.lan.first_host.into(),
            inbound,
            clients,
        };
        (workload, servers)
    }

    pub fn host_ip(&self, host: u32) -> Ipv4Addr {
        Ipv4Addr::from(self.first_host + host)
    }

    /// The next session start on the LAN after `now`: when, which host, which app. `None` if
    /// no host runs anything.
    pub fn next_session(&mut self, now: Time) -> Option<(Time, u32, u16)> {
        let a = &mut self.arrivals;
        let total = *a.cumulative.last()?;
        let gap = Exp::new(total).ok()?.sample(&mut a.rng);
        let pick = a.rng.random::<f64>() * total;
        let (host, app) = a.pairs[a.pair_at(pick)];
        Some((now + (gap * SEC as f64) as Time + 1, host, app))
    }

    /// How many inbound services there are.
    pub fn inbound_services(&self) -> usize {
        self.inbound.len()
    }

    /// When inbound service `k`'s next client connects after `now`; `None` at rate 0.
    pub fn next_inbound(&mut self, now: Time, k: usize) -> Option<Time> {
        let plan = &mut self.inbound[k];
        let gap = Exp::new(plan.per_second).ok()?.sample(&mut plan.rng);
        gap.is_finite()
            .then(|| now + (gap * SEC as f64) as Time + 1)
    }

    /// A client's connection to inbound service `k`, booked as app `app`.
    pub fn inbound_connection(&mut self, k: usize, app: u16) -> InboundConnection {
        let plan = &mut self.inbound[k];
        let rng = &mut plan.rng;
        let server = self
            .clients
            .as_ref()
            .map_or(0, |z| z.sample(rng) as u32 - 1);
        let wan = plan.wans[rng.random_range(0..plan.wans.len())];
        let conn = Connection {
            app,
            server,
            src_port: rng.random_range(EPHEMERAL_FIRST..=EPHEMERAL_LAST),
            dst_port: plan.port,
            kind: ConnectionKind::Tcp {
                request: sample_size(&plan.request, rng),
                response: sample_size(&plan.response, rng),
                congestion: Congestion::default(),
            },
        };
        InboundConnection { conn, wan }
    }

    /// The pattern of connections a session of `app` follows.
    pub fn shape(&self, app: u16) -> Shape {
        match self.apps[app as usize].kind {
            AppKind::Web {
                pages,
                objects,
                servers,
                think,
                ..
            } => Shape {
                steps: pages,
                burst: objects,
                servers,
                gap: think.0,
                ..Shape::SINGLE
            },
            AppKind::Call { .. } => Shape {
                steps: 2,
                affinity: true,
                ..Shape::SINGLE
            },
            AppKind::Video {
                chunks,
                chunk_seconds,
                buffer,
                ..
            } => Shape {
                steps: chunks,
                playback: Some((chunk_seconds.0, buffer.0)),
                ..Shape::SINGLE
            },
            AppKind::IpSensitive {
                connections, over, ..
            } => Shape {
                steps: connections,
                burst: 1,
                servers: 1,
                gap: over.0 / connections.max(1) as Time,
                affinity: true,
                ..Shape::SINGLE
            },
            _ => Shape::SINGLE,
        }
    }

    /// A server for `host`'s next step of `app`: a popular one, or one of the app's own.
    pub fn server(&mut self, host: u32, app: u16) -> u32 {
        let plan = &self.apps[app as usize];
        let rng = &mut self.hosts[host as usize].rng;
        match &plan.popular {
            Some(zipf) => zipf.sample(rng) as u32 - 1,
            None => plan.fixed[rng.random_range(0..plan.fixed.len())],
        }
    }

    /// A pause of `mean` on average (exponential), from `host`'s stream.
    pub fn pause(&mut self, host: u32, mean: Time) -> Time {
        let rng = &mut self.hosts[host as usize].rng;
        Exp::new(1.0)
            .map(|e| (e.sample(rng) * mean as f64) as Time)
            .unwrap_or(mean)
    }

    /// A connection `host` opens now to `server` for `app`, at step `step` of its session.
    pub fn connection(
        &mut self,
        now: Time,
        host: u32,
        app: u16,
        server: u32,
        step: u32,
    ) -> Connection {
        let plan = &self.apps[app as usize];
        let state = &mut self.hosts[host as usize];
        let rng = &mut state.rng;
        let src_port = state.next_port;
        state.next_port = if src_port >= EPHEMERAL_LAST {
            EPHEMERAL_FIRST
        } else {
            src_port + 1
        };
        let (dst_port, kind) = match &plan.kind {
            AppKind::Tcp {
                port,
                request,
                response,
            }
            | AppKind::IpSensitive {
                port,
                request,
                response,
                ..
            }
            | AppKind::Web {
                port,
                request,
                object: response,
                ..
            } => (
                *port,
                ConnectionKind::Tcp {
                    request: sample_size(request, rng),
                    response: sample_size(response, rng),
                    congestion: plan.congestion,
                },
            ),
            AppKind::Video { port, chunk, .. } => (
                *port,
                ConnectionKind::Tcp {
                    request: VIDEO_REQUEST,
                    response: sample_size(chunk, rng),
                    congestion: plan.congestion,
                },
            ),
            AppKind::UdpExchange {
                port,
                request,
                response,
            } => (
                *port,
                ConnectionKind::UdpExchange {
                    request: request.0 as u32,
                    response: response.0 as u32,
                },
            ),
            AppKind::Call { sip_port, .. } if step == 0 => (
                *sip_port,
                ConnectionKind::UdpExchange {
                    request: SIP_INVITE,
                    response: SIP_OK,
                },
            ),
            AppKind::UdpStream {
                port,
                packet,
                interval,
                duration,
                ..
            }
            | AppKind::Call {
                rtp_port: port,
                packet,
                interval,
                duration,
                ..
            } => {
                let (lo, hi) = (duration.0.0, duration.1.0.max(duration.0.0 + 1));
                (
                    *port,
                    ConnectionKind::UdpStream {
                        packet: packet.0 as u32,
                        interval: interval.0.max(1),
                        until: now + rng.random_range(lo..hi),
                        quality: matches!(plan.kind, AppKind::Call { .. }),
                        persistent: matches!(
                            plan.kind,
                            AppKind::UdpStream {
                                persistent: true,
                                ..
                            }
                        ),
                    },
                )
            }
        };
        Connection {
            app,
            server,
            src_port,
            dst_port,
            kind,
        }
    }
}

/// The pattern of a session: `steps` times, `burst` connections at once (to `servers`
/// servers, round-robin); the next step a pause of `gap` on average after the step's last
/// connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub steps: u32,
    pub burst: u32,
    pub servers: u32,
    pub gap: Time,
    /// The service refuses a connection from another public address than the session's first.
    pub affinity: bool,
    /// A video player: each step fetches this much playback, and the next step starts when
    /// less than this much is buffered ahead (segment length, buffer target).
    pub playback: Option<(Time, Time)>,
}

impl Shape {
    /// One connection.
    pub const SINGLE: Shape = Shape {
        steps: 1,
        burst: 1,
        servers: 1,
        gap: 0,
        affinity: false,
        playback: None,
    };
}

/// An HTTP request for a video segment, in bytes.
const VIDEO_REQUEST: u32 = 600;

/// A SIP INVITE with its SDP, and the 200 OK that answers it, in bytes.
const SIP_INVITE: u32 = 900;
const SIP_OK: u32 = 700;

/// Transfer sizes are capped at 1 GiB, which keeps sequence numbers in 32 bits; the scenario
/// check refuses sizes that would meet the cap more than rarely.
const MAX_TRANSFER: f64 = crate::scenario::MAX_TRANSFER as f64;

fn sample_size(d: &SizeDist, rng: &mut Pcg64Mcg) -> u32 {
    let bytes = match *d {
        SizeDist::Fixed(s) => s.0 as f64,
        SizeDist::LogNormal { median, sigma } => {
            LogNormal::new((median.0.max(1) as f64).ln(), sigma.max(0.0))
                .map(|l| l.sample(rng))
                .unwrap_or(median.0 as f64)
        }
        SizeDist::Pareto { min, shape, max } => {
            let pareto = Pareto::new(min.0.max(1) as f64, shape.max(0.01));
            // Bounded Pareto by rejection: keep the tail's shape below the cap.
            let mut v = min.0 as f64;
            if let Ok(p) = pareto {
                for _ in 0..64 {
                    v = p.sample(rng);
                    if v <= max.0 as f64 {
                        break;
                    }
                }
            }
            v.min(max.0 as f64)
        }
    };
    bytes.clamp(1.0, MAX_TRANSFER) as u32
}

/// Addresses a server on the internet could have: no private, shared, loopback, link-local,
/// documentation, multicast or reserved space.
pub fn is_public(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || o[0] == 0
        || o[0] >= 240
        || (o[0] == 100 && (64..128).contains(&o[1]))
        || (o[0] == 198 && (18..20).contains(&o[1])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The guide table picks exactly the pair a binary search over the running sums does.
        #[test]
        fn the_guide_table_picks_as_a_binary_search_does(
            rates in prop::collection::vec(prop_oneof![Just(1e-9), 1e-6f64..10.0], 1..300),
            picks in prop::collection::vec(0.0f64..1.0, 1..200),
        ) {
            let cumulative: Vec<f64> = rates
                .iter()
                .scan(0.0, |sum, r| {
                    *sum += r;
                    Some(*sum)
                })
                .collect();
            let pairs = (0..rates.len() as u32).map(|h| (h, 0)).collect();
            let a = Arrivals::new(pairs, cumulative.clone(), Pcg64Mcg::seed_from_u64(1));
            let total = *cumulative.last().unwrap();
            for u in picks {
                let pick = u * total;
                let expected = cumulative.partition_point(|&c| c <= pick).min(rates.len() - 1);
                prop_assert_eq!(a.pair_at(pick), expected);
            }
        }
    }
}
