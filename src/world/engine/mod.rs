//! The discrete-event core: a world of LAN hosts, the router, ISP links and internet servers,
//! advanced one event at a time in simulated nanoseconds.
//!
//! Events are ordered by (time, insertion sequence), a total order, so a scenario and seed give
//! the same run on any machine. Packets travel inside events by value; links compute arrival
//! times when a packet is offered ([`crate::world::link`]), so each packet costs one event per hop. The
//! router, flows and links are sans-IO values the engine feeds; the engine owns the only clock.
//! A [`Simulation`] is a self-contained value: many can run in parallel.

pub mod queue;

use crate::packet::{FiveTuple, Packet, Protocol};
use crate::router::conntrack::Moved;
use crate::router::cpu::Cpu;
use crate::router::dhcp_client::Message;
use crate::router::firewall::{AddrRange, IfaceId};
use crate::router::pppoe_client::Frame;
use crate::router::{DropReason, Event as RouterEvent, Router, Verdict};
use crate::routeros::value::Value;
use crate::scenario::Loaded;
use crate::units::{MS, SEC, Time};
use crate::world::flow::{Cause, Flow, Outbox, Outcome, Side};
use crate::world::internet::Internet;
use crate::world::isp::{Isp, Refusal};
use crate::world::lan::Lan;
use crate::world::link::{Capture, Channel, Link, LinkDrop, Lossy, PeerMac, Way, Wire};
use crate::world::metrics::{
    ConnectionLog, ConnectionRecord, Hosts, Metrics, WanMetrics, WanState,
};
use crate::world::session::{self, Next, Session};
use crate::world::topology::Topology;
use crate::world::workload::{Connection, ConnectionKind, Workload};
use queue::{EventQueue, Upcoming};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::Ipv4Addr;

/// Where in the world a packet arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    /// The router, on one of its ports.
    Router(IfaceId),
    /// The LAN host a packet is for (the client end of its flow).
    Host,
    /// The far end of a flow: a server on the internet, reached through WAN `u8`.
    Server(u8),
    /// An ISP's gateway, from the router's side: a packet for the gateway itself.
    Gateway(u8),
    /// An ISP's gateway, from the internet's side: a packet to queue towards the router.
    GatewayFromInternet(u8),
}

/// What a node's timer is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    /// A flow's retransmission, stream or give-up deadline.
    Flow(u32),
    /// The router's own clock: check-gateway and netwatch probes, the scheduler.
    Router,
    /// Connection tracking's expiry sweep.
    Conntrack,
}

/// Something that happens at a moment of simulated time; events say where.
#[derive(Clone, Copy, Debug)]
enum Event {
    /// A packet reaches a node.
    Arrive(Node, Packet),
    Timer(Timer),
    /// Something on the timeline happens to the world (an index into the changes).
    Change(u32),
    /// A host starts a session of an application.
    SessionStart {
        host: u32,
        app: u16,
    },
    /// A session of several connections goes on to its next step.
    SessionStep(u32),
    /// A client on the internet connects to inbound service `k` (a port forward).
    InboundStart(u16),
    /// The time series closes an interval.
    Sample,
}

/// A flow's timer travels in its queue key.
impl queue::Packable for Event {
    fn unpack(flow: u32) -> Event {
        Event::Timer(Timer::Flow(flow))
    }
}

/// The queue's lanes: one per direction of each FIFO wire whose deliveries go through it.
mod lane {
    /// LAN hosts to the router, and the router to LAN hosts.
    pub const LAN_UP: usize = 0;
    pub const LAN_DOWN: usize = 1;
    /// Then per WAN: its access line to the router, and from the router to its gateway.
    pub const WAN: usize = 2;

    pub fn down(wan: u8) -> usize {
        WAN + 2 * wan as usize
    }

    pub fn up(wan: u8) -> usize {
        WAN + 2 * wan as usize + 1
    }
}

/// The two ways of an internet crossing, for its lane.
const TO_SERVER: u32 = 0;
const FROM_SERVER: u32 = 1;

/// Past this many flow slots their state outgrows the cache, and each event starts loading
/// what the next one will touch.
const PREFETCH_FROM_FLOWS: usize = 1 << 16;

/// Flow slots are reused only after packets of the old flow can no longer be in flight.
const SLOT_QUARANTINE: Time = 120 * SEC;

pub struct Simulation {
    now: Time,
    end: Time,
    queue: EventQueue<Event>,
    pub router: Router,
    /// The world's graph: nodes and the links on its edges, kept for the run.
    topology: Topology,
    lan: Lan,
    wans: Vec<Isp>,
    /// Per router interface, the WAN index plugged into it.
    wan_of_iface: Vec<Option<u8>>,
    workload: Workload,
    internet: Internet,
    flows: Vec<Option<Flow>>,
    free_slots: VecDeque<(Time, u32)>,
    /// Sessions of several connections under way, and free places among them.
    sessions: Vec<Option<Session>>,
    free_sessions: Vec<u32>,
    outbox: Outbox,
    sample_interval: Time,
    pub metrics: Metrics,
    connection_log: Option<Box<dyn ConnectionLog>>,
    /// The scenario's timeline, and when the router's pending timer event fires.
    changes: Vec<crate::scenario::Change>,
    router_timer_at: Time,
    /// The routes' generation the WANs' service was last judged at
    /// ([`Metrics::service`] holds the verdicts).
    judged_generation: u64,
    /// Connections an outage left on another WAN, by flow, watched since its failback.
    strands: rustc_hash::FxHashMap<u32, Strand>,
    /// Connections booked already whose ends still close (TCP's FINs), by flow.
    closing: rustc_hash::FxHashSet<u32>,
}

/// A connection on `wan` since a failback at `since`, with its bytes then.
#[derive(Clone, Copy, Debug)]
struct Strand {
    wan: u8,
    since: Time,
    bytes: u64,
}

/// Where a capture can be taken: the router's LAN port or one of its WANs (scenario order).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TapPoint {
    Lan,
    Wan(usize),
}

/// A file the engine streams into during a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    Connections,
    Capture(TapPoint),
}

impl Simulation {
    pub fn new(loaded: &Loaded, seed: u64) -> Simulation {
        let sc = &loaded.scenario;
        let config = &loaded.config;
        let mut router = Router::new(config.clone());
        // Probes run at a phase of their own from the seed: a failure meets them anywhere in
        // their round, not always at its start.
        let mut phases = Pcg64Mcg::seed_from_u64(seed ^ 0x9e_0000_0000);
        router.stagger_probes(|interval| phases.random_range(0..interval.max(1)));
        let link_rng = |i: u64| Pcg64Mcg::seed_from_u64(seed ^ (0x11_4e4b_0000 + i));
        let topology = Topology::new(loaded);
        let wire = |l: &crate::world::topology::Link, inbound: bool| {
            let rate = if inbound {
                l.inbound_bps
            } else {
                l.outbound_bps
            };
            Wire::new(rate.unwrap_or(u64::MAX), l.latency, l.queue)
        };
        let mut wan_of_iface = vec![None; config.interfaces.len()];
        let mut wans = Vec::new();
        let mut wan_metrics = Vec::new();
        for (i, (w, &iface)) in sc.wans.iter().zip(&loaded.wan_ifaces).enumerate() {
            wan_of_iface[iface as usize] = Some(i as u8);
            let address = config
                .address_of(iface)
                .map_or(Ipv4Addr::UNSPECIFIED, |a| a.address);
            let line = topology.link(topology.access[i]);
            let access = Link::new(
                Lossy::new(wire(line, false), line.loss, link_rng(2 * i as u64)),
                Lossy::new(wire(line, true), line.loss, link_rng(2 * i as u64 + 1)),
            );
            let upstream = topology.link(topology.upstream[i]).latency;
            let mut isp = Isp::new(iface, address, w.gateway, access, line, upstream);
            match &w.addressing {
                crate::scenario::Addressing::Static => {}
                crate::scenario::Addressing::Dhcp { pool, lease } => {
                    let pool = pool.parse().expect("checked by scenario::check");
                    let server = crate::world::isp::DhcpServer::new(pool, w.gateway, lease.0);
                    isp.address = server.address();
                    isp.dhcp = Some(server);
                }
                crate::scenario::Addressing::Pppoe { pool } => {
                    let pool = pool.parse().expect("checked by scenario::check");
                    isp.pppoe = Some(crate::world::isp::DhcpServer::for_sessions(pool, w.gateway));
                }
            }
            wans.push(isp);
            let name = config.iface_name(iface).to_string();
            wan_metrics.push(WanMetrics::new(name, w.isp.clone(), w.down.0, w.up.0));
        }
        let lan_addr = config
            .address_of(loaded.lan_iface)
            .expect("checked by scenario::check");
        let mask = crate::router::routing::prefix_mask(lan_addr.prefix_len);
        let lan_subnet = AddrRange {
            first: u32::from(lan_addr.address) & mask,
            last: u32::from(lan_addr.address) | !mask,
        };
        let mut reserved = vec![lan_subnet];
        reserved.extend(config.addresses.iter().map(|a| {
            let m = crate::router::routing::prefix_mask(a.prefix_len);
            AddrRange {
                first: u32::from(a.address) & m,
                last: u32::from(a.address) | !m,
            }
        }));
        let (workload, servers) = Workload::new(sc, &loaded.inbound_wans, seed, &reserved);
        let internet = Internet::new(servers);
        let lan_line = topology.link(topology.lan_link);
        let lan = Link::new(wire(lan_line, false), wire(lan_line, true));
        let mut sim = Simulation {
            now: 0,
            end: loaded.duration(),
            queue: EventQueue::with_lanes(lane::WAN + 2 * sc.wans.len()),
            router,
            topology,
            lan: Lan {
                iface: loaded.lan_iface,
                subnet: lan_subnet,
                link: lan,
            },
            wans,
            wan_of_iface,
            workload,
            internet,
            flows: Vec::new(),
            sessions: Vec::new(),
            free_sessions: Vec::new(),
            free_slots: VecDeque::new(),
            outbox: Vec::with_capacity(64),
            sample_interval: sc.sample_interval.0.max(1),
            metrics: Metrics::new(
                wan_metrics,
                loaded.scenario.app_names(),
                (sc.lan.classes.iter()).map(|c| c.name.clone()).collect(),
                sc.lan.host_classes(),
            ),
            connection_log: None,
            changes: loaded.changes.clone(),
            router_timer_at: Time::MAX,
            judged_generation: 0,
            strands: Default::default(),
            closing: Default::default(),
        };
        sim.metrics.hosts = Hosts::new(sc.lan.first_host, sc.lan.hosts, sc.wans.len());
        sim.router.cpu = loaded.model.map(Cpu::new);
        sim.metrics.service = (sim.wans.iter())
            .map(|w| vec![(0, sim.router.fib.has_default_out(w.iface))])
            .collect();
        sim.judged_generation = sim.router.fib.generation();
        sim.metrics.route_lines = sim.router.config.routes.iter().map(|r| r.line).collect();
        sim.metrics.netwatch = sim
            .router
            .netwatch
            .watches
            .iter()
            .map(|w| crate::world::metrics::NetwatchLog {
                host: w.host,
                line: w.line,
                changes: Vec::new(),
            })
            .collect();
        for i in 0..sim.changes.len() {
            sim.schedule(sim.changes[i].at, Event::Change(i as u32));
        }
        sim.after_router_step();
        for k in 0..loaded.scenario.inbound.len() {
            if let Some(at) = sim.workload.next_inbound(0, k) {
                sim.schedule(at, Event::InboundStart(k as u16));
            }
        }
        if let Some((at, host, app)) = sim.workload.next_session(0) {
            sim.schedule(at, Event::SessionStart { host, app });
        }
        sim.schedule(sim.sample_interval, Event::Sample);
        sim.schedule(SEC, Event::Timer(Timer::Conntrack));
        sim
    }

    /// Records every packet the router sends or receives at `point` into `out`, as pcap.
    pub fn capture(&mut self, point: TapPoint, out: Box<dyn Write + Send>) -> io::Result<()> {
        let (link_iface, peer) = match point {
            TapPoint::Lan => (self.lan.iface, PeerMac::FromAddress),
            TapPoint::Wan(i) => {
                let gateway = crate::world::link::host_mac(self.wans[i].gateway);
                (self.wans[i].iface, PeerMac::Fixed(gateway))
            }
        };
        let capture = Capture::new(out, router_mac(link_iface), peer)?;
        match point {
            TapPoint::Lan => self.lan.link.capture(capture),
            TapPoint::Wan(i) => self.wans[i].access.capture(capture),
        }
        Ok(())
    }

    /// Hands every connection to `log` when it ends (and those still open when the run does).
    pub fn log_connections(&mut self, log: Box<dyn ConnectionLog>) {
        self.connection_log = Some(log);
    }

    pub fn now(&self) -> Time {
        self.now
    }

    pub fn end(&self) -> Time {
        self.end
    }

    pub fn is_finished(&self) -> bool {
        self.now >= self.end || self.queue.is_empty()
    }

    fn schedule(&mut self, time: Time, event: Event) {
        self.queue.push(time, event);
    }

    /// Schedules what a FIFO wire delivers, in that wire's lane of the queue.
    fn deliver(&mut self, lane: usize, time: Time, event: Event) {
        self.queue.push_in_lane(lane, time, event);
    }

    /// Runs every event up to and including `until` (or the end of the scenario).
    pub fn run_until(&mut self, until: Time) {
        let until = until.min(self.end);
        while let Some((time, event)) = self.queue.pop_due(until) {
            self.now = time;
            self.metrics.events += 1;
            if self.flows.len() > PREFETCH_FROM_FLOWS {
                self.prefetch_upcoming();
            }
            self.handle(event);
        }
        self.now = self.now.max(until);
    }

    /// Starts loading what the next event will touch — its flow, and for a packet at the
    /// router its conntrack index cell — while this one is handled. With a million
    /// connections those are in memory, not the cache, and a wait for each is most of a
    /// packet's cost.
    fn prefetch_upcoming(&mut self) {
        let flow = match self.queue.upcoming() {
            Some(Upcoming::Packed(flow)) => flow,
            Some(Upcoming::Event(Event::Arrive(node, pkt))) => {
                if let Node::Router(_) = node {
                    self.router.conntrack.prefetch(&pkt.tuple);
                }
                pkt.flow
            }
            _ => return,
        };
        if let Some(f) = self.flows.get(flow as usize) {
            crate::units::prefetch(f);
        }
    }

    /// Connections still open.
    pub fn active_connections(&self) -> u64 {
        self.flows
            .iter()
            .flatten()
            .filter(|f| f.outcome.is_none())
            .count() as u64
    }

    fn handle(&mut self, event: Event) {
        match event {
            Event::Arrive(Node::Router(iface), pkt) => self.at_router(iface, pkt),
            Event::Arrive(Node::Host, pkt) => self.at_host(pkt),
            Event::Arrive(Node::Server(wan), pkt) => self.at_server(wan, pkt),
            Event::Arrive(Node::Gateway(wan), pkt) => self.gateway_hears(wan, pkt),
            Event::Arrive(Node::GatewayFromInternet(wan), pkt) => self.at_gateway(wan, pkt),
            Event::Timer(Timer::Flow(flow)) => self.timer(flow),
            Event::Timer(Timer::Router) => self.router_timer(),
            Event::Timer(Timer::Conntrack) => {
                self.router.expire(self.now);
                self.schedule(self.now + SEC, Event::Timer(Timer::Conntrack));
            }
            Event::Change(i) => self.apply_change(i as usize),
            Event::SessionStart { host, app } => self.session_start(host, app),
            Event::SessionStep(id) => self.session_step(id),
            Event::InboundStart(k) => self.inbound_start(k as usize),
            Event::Sample => {
                self.sample();
                self.schedule(self.now + self.sample_interval, Event::Sample);
            }
        }
    }

    fn session_start(&mut self, host: u32, app: u16) {
        if let Some((at, next_host, next_app)) = self.workload.next_session(self.now) {
            self.schedule(
                at,
                Event::SessionStart {
                    host: next_host,
                    app: next_app,
                },
            );
        }
        let shape = self.workload.shape(app);
        if shape == crate::world::workload::Shape::SINGLE {
            let server = self.workload.server(host, app);
            return self.open_connection(host, app, server, session::NONE, 0);
        }
        let id = match self.free_sessions.pop() {
            Some(id) => id,
            None => {
                self.sessions.push(None);
                (self.sessions.len() - 1) as u32
            }
        };
        self.sessions[id as usize] = Some(Session::new(host, app, shape, self.now));
        self.session_step(id);
    }

    /// The app index of the first inbound service: they follow the scenario's apps.
    fn inbound_first_app(&self) -> u16 {
        (self.metrics.app_count() - self.workload.inbound_services()) as u16
    }

    /// A client on the internet opens a connection to a WAN address's forwarded port.
    fn inbound_start(&mut self, k: usize) {
        if let Some(at) = self.workload.next_inbound(self.now, k) {
            self.schedule(at, Event::InboundStart(k as u16));
        }
        let app = self.inbound_first_app() + k as u16;
        let c = self.workload.inbound_connection(k, app);
        let id = self.allocate_slot();
        let tuple = FiveTuple {
            src: self.internet.server_ip(c.conn.server),
            dst: self.wans[c.wan].address,
            src_port: c.conn.src_port,
            dst_port: c.conn.dst_port,
            protocol: Protocol::Tcp,
        };
        let mut flow = Flow::new(id, 0, tuple, &c.conn, self.now).into_inbound();
        self.metrics.connections_total += 1;
        self.metrics.account(app, None).connections += 1;
        flow.open(self.now, &mut self.outbox);
        self.flows[id as usize] = Some(flow);
        self.after_flow_step(id);
    }

    /// A session's next step: its burst of connections, spread over the step's servers.
    fn session_step(&mut self, id: u32) {
        let Some(s) = self.sessions[id as usize].as_mut() else {
            return;
        };
        s.begin_step(self.now);
        let (host, app, shape) = (s.host, s.app, s.shape);
        let mut servers = [0u32; crate::scenario::MAX_BURST as usize];
        for server in servers.iter_mut().take(shape.servers as usize) {
            *server = self.workload.server(host, app);
        }
        // An IP-sensitive session's service, or a video's, is one server throughout.
        if (shape.affinity || shape.playback.is_some()) && s.steps_done > 0 {
            servers[0] = s.public_server;
        }
        s.public_server = servers[0];
        let step = s.steps_done;
        for k in 0..shape.burst {
            let server = servers[(k % shape.servers) as usize];
            self.open_connection(host, app, server, id, step);
        }
    }

    fn open_connection(&mut self, host: u32, app: u16, server: u32, session: u32, step: u32) {
        let conn = self.workload.connection(self.now, host, app, server, step);
        let id = self.allocate_slot();
        let tuple = FiveTuple {
            src: self.workload.host_ip(host),
            dst: self.internet.server_ip(conn.server),
            src_port: conn.src_port,
            dst_port: conn.dst_port,
            protocol: protocol_of(&conn),
        };
        let mut flow = Flow::new(id, host, tuple, &conn, self.now);
        flow.session = session;
        self.metrics.connections_total += 1;
        self.metrics.account(app, Some(host)).connections += 1;
        if !self.metrics.failures.is_empty() {
            self.metrics.started(self.now);
        }
        flow.open(self.now, &mut self.outbox);
        self.flows[id as usize] = Some(flow);
        self.after_flow_step(id);
    }

    /// A connection of a session ended: the session waits for the step's others, goes on to
    /// its next step after a pause, or ends.
    fn session_connection_ended(&mut self, id: u32, outcome: Outcome) {
        let Some(s) = self.sessions[id as usize].as_mut() else {
            return;
        };
        let next = s.connection_ended(outcome, self.now);
        let app = self.metrics.account(s.app, Some(s.host));
        if let Next::Step(Some(took)) | Next::End(Some(took)) = next {
            app.steps += 1;
            app.step_time += took;
        }
        // A video's next segment is due when its buffer runs low, not after a pause.
        let fetch_at = match (&mut s.player, next) {
            (Some(p), Next::Step(Some(_)) | Next::End(Some(_))) => {
                Some(p.segment_arrived(self.now, s.started))
            }
            _ => None,
        };
        match next {
            Next::Wait => {}
            Next::Step(_) => {
                let at = match fetch_at {
                    Some(at) => at.max(self.now + 1),
                    None => self.now + 1 + self.workload.pause(s.host, s.shape.gap),
                };
                self.schedule(at, Event::SessionStep(id));
            }
            Next::End(_) => {
                app.sessions += 1;
                if let Some(cause) = s.broken {
                    *app.sessions_failed.entry(cause).or_default() += 1;
                }
                if let Some(p) = &s.player
                    && p.segments > 0
                {
                    app.videos += 1;
                    app.startup_time += p.startup;
                    app.played += p.played();
                    app.stalled += p.stalled;
                }
                self.sessions[id as usize] = None;
                self.free_sessions.push(id);
            }
        }
    }

    fn allocate_slot(&mut self) -> u32 {
        match self.free_slots.front() {
            Some(&(free_at, id)) if free_at <= self.now => {
                self.free_slots.pop_front();
                id
            }
            _ => {
                self.flows.push(None);
                (self.flows.len() - 1) as u32
            }
        }
    }

    /// Sends what the flow put in the outbox, re-arms its timer and settles its outcome.
    fn after_flow_step(&mut self, id: u32) {
        let mut outbox = std::mem::take(&mut self.outbox);
        let inbound = self.flows[id as usize].as_ref().is_some_and(|f| f.inbound);
        for (from, pkt, at) in outbox.drain(..) {
            // A port forward's client is on the internet and its server on the LAN.
            match (from == Side::Host) != inbound {
                true => self.send_from_host(pkt),
                false => self.send_from_server(pkt, at),
            }
        }
        self.outbox = outbox;
        let Some(flow) = self.flows[id as usize].as_mut() else {
            return;
        };
        // A connection booked already that still closes: freed once it has.
        if flow.outcome.is_some() && self.closing.contains(&id) {
            if flow.lingers() {
                return arm_timer(flow, &mut self.queue);
            }
            self.closing.remove(&id);
            self.flows[id as usize] = None;
            self.free_slots.push_back((self.now + SLOT_QUARANTINE, id));
            return;
        }
        if let Some(mut outcome) = flow.outcome {
            if let (Some(cause), Outcome::Broken(_)) = (flow.flushed, outcome) {
                outcome = Outcome::Broken(cause);
                flow.outcome = Some(outcome);
            }
            let (wan, started) = (flow.wan, flow.started);
            let (app, session, bytes) = (flow.app, flow.session, flow.bytes_up + flow.bytes_down);
            let host = flow.lan_host();
            let tuple = flow.tuple;
            if let (Some(w), true) = (wan, flow.classified) {
                self.metrics.wans[w as usize].classified_bytes += bytes;
            }
            let mos = flow.mos();
            let dead = flow.dead_time();
            if let Some(log) = &mut self.connection_log {
                log.record(&record_of(flow, Some(self.now)));
            }
            if flow.lingers() {
                self.closing.insert(id);
                arm_timer(flow, &mut self.queue);
            } else {
                self.flows[id as usize] = None;
                self.free_slots.push_back((self.now + SLOT_QUARANTINE, id));
            }
            self.metrics
                .record_outcome(outcome, (app, wan), started, self.now);
            if !self.strands.is_empty()
                && let Some(strand) = self.strands.remove(&id)
                && outcome == Outcome::Completed
                && stays_on(&self.router, self.wans[strand.wan as usize].iface, &tuple)
            {
                self.metrics
                    .stranded(strand.wan, self.now - strand.since, bytes - strand.bytes);
            }
            let a = self.metrics.account(app, host);
            match outcome {
                Outcome::Completed => {
                    a.completed += 1;
                    a.transfer_time += self.now - started;
                    a.transfer_bytes += bytes;
                }
                Outcome::Broken(_) => a.broken += 1,
            }
            if let Some(w) = wan.map(usize::from) {
                if a.per_wan.len() <= w {
                    a.per_wan.resize(w + 1, Default::default());
                }
                let u = &mut a.per_wan[w];
                u.connections += 1;
                u.bytes += bytes;
                u.broken += u64::from(matches!(outcome, Outcome::Broken(_)));
            }
            if let Some(m) = mos {
                a.mos_sum += m;
                a.calls += 1;
            }
            if let Some(d) = dead {
                a.dead(d);
            }
            if session != session::NONE {
                self.session_connection_ended(session, outcome);
            }
            match wan {
                Some(w) => self.metrics.wans[w as usize].active -= 1,
                None => self.metrics.never_left += 1,
            }
            return;
        }
        arm_timer(flow, &mut self.queue);
    }

    fn timer(&mut self, id: u32) {
        let now = self.now;
        let Some(flow) = self.flows[id as usize].as_mut() else {
            return;
        };
        if flow.timer_at != now {
            return; // superseded by an earlier timer that already ran
        }
        flow.timer_at = Time::MAX;
        if flow.next_deadline().is_some_and(|d| d <= now) {
            flow.on_timer(now, &mut self.outbox);
        }
        self.after_flow_step(id);
    }

    fn fault(&mut self, flow: u32, cause: Cause) {
        if let Some(f) = live(&mut self.flows, flow) {
            f.fault = Some(cause);
        }
    }

    fn send_from_host(&mut self, pkt: Packet) {
        self.metrics.hosts.sent(pkt.tuple.src, pkt.payload);
        if let Ok(at) = self.lan.link.send(Way::ToRouter, self.now, &pkt) {
            self.deliver(
                lane::LAN_UP,
                at,
                Event::Arrive(Node::Router(self.lan.iface), pkt),
            );
        }
    }

    /// A server's packet leaves at `departs` (later than now when paced).
    fn send_from_server(&mut self, pkt: Packet, departs: Time) {
        // The internet delivers to whichever ISP owns the destination address.
        let Some(wan) = self.wans.iter().position(|w| w.address == pkt.tuple.dst) else {
            return;
        };
        let arrive = Event::Arrive(Node::GatewayFromInternet(wan as u8), pkt);
        let at = departs + self.wans[wan].upstream_latency;
        self.cross(&pkt, pkt.tuple.src, wan as u8, FROM_SERVER, at, arrive);
    }

    /// Schedules `event`, the end of `pkt`'s crossing of the internet to or from `server_ip`,
    /// the server's one-way latency after `at`. Each server, WAN and way has a lane of the
    /// queue: its crossings take the same time, so they arrive in the order sent — unless a
    /// paced packet leaves later than one its server sends after it, which waits in the heap.
    /// Packets of no flow (pings, the router's DNS) take no time and wait in the heap.
    fn cross(
        &mut self,
        pkt: &Packet,
        server_ip: Ipv4Addr,
        wan: u8,
        way: u32,
        at: Time,
        event: Event,
    ) {
        let Some(f) = self.flows.get(pkt.flow as usize).and_then(Option::as_ref) else {
            return self.schedule(at, event);
        };
        let latency = self.internet.latency(f.server, server_ip);
        let lane = (f.server * self.wans.len() as u32 + wan as u32) * 2 + way;
        match latency {
            0 => self.schedule(at, event),
            _ => self
                .queue
                .push_in_many_if_in_order(lane, at + latency, event),
        }
    }

    fn at_router(&mut self, iface: IfaceId, mut pkt: Packet) {
        if let Some(wan) = self.wan_of_iface[iface as usize] {
            self.metrics.received_down(wan as usize, pkt.len);
        }
        self.metrics.router_packets += 1;
        match self.router.receive(self.now, iface, &mut pkt) {
            Verdict::Forward(hop) => self.forward(hop, pkt, iface),
            // The router's services may answer (DNS), its probers conclude; a queue holds it
            // until its timer lets it go.
            Verdict::Local | Verdict::Queued => self.after_router_step(),
            // A full queue, or a CPU with a full backlog, drops it as a full link would: TCP
            // finds out.
            Verdict::Drop(DropReason::QueueFull | DropReason::CpuBusy) => {}
            Verdict::Drop(DropReason::OutInterfaceChanged { to, why }) => {
                // The router forgot the connection's NAT: whatever happens to it next is why.
                let cause = match self.wan_of_iface[to as usize] {
                    Some(wan) => self.moved_cause(wan, pkt.flow, why),
                    None => Cause::NatAddressChanged,
                };
                if let Some(f) = live(&mut self.flows, pkt.flow) {
                    f.flushed = Some(cause);
                }
            }
            Verdict::Drop(reason) => {
                let cause = match reason {
                    DropReason::NoRoute => Cause::NoRoute,
                    DropReason::ConntrackFull => Cause::ConntrackFull,
                    _ => Cause::Filtered,
                };
                self.fault(pkt.flow, cause);
            }
        }
    }

    /// A packet the router forwards, out of `hop.iface`, that came in by `in_iface`.
    fn forward(&mut self, hop: crate::router::routing::Hop, pkt: Packet, in_iface: IfaceId) {
        if hop.iface == self.lan.iface {
            if let Ok(at) = self.lan.link.send(Way::FromRouter, self.now, &pkt) {
                self.deliver(lane::LAN_DOWN, at, Event::Arrive(Node::Host, pkt));
            }
            return;
        }
        match self.wan_of_iface[hop.iface as usize] {
            Some(wan) => self.send_to_wan(wan, in_iface == self.lan.iface, pkt),
            None => self.fault(pkt.flow, Cause::Blackholed),
        }
    }

    /// A packet the router itself sends (a ping, a DNS query or answer), out of `hop.iface`.
    fn send_own(&mut self, hop: crate::router::routing::Hop, pkt: Packet) {
        if hop.iface == self.lan.iface {
            if let Ok(at) = self.lan.link.send(Way::FromRouter, self.now, &pkt) {
                self.deliver(lane::LAN_DOWN, at, Event::Arrive(Node::Host, pkt));
            }
        } else if let Some(wan) = self.wan_of_iface[hop.iface as usize] {
            self.send_to_wan(wan, false, pkt);
        }
    }

    /// The router sends a packet out of a WAN.
    fn send_to_wan(&mut self, wan: u8, from_lan: bool, pkt: Packet) {
        let w = wan as usize;
        self.metrics.sent_up(w, pkt.len);
        if from_lan {
            self.note_wan(wan, &pkt);
        }
        let side = &mut self.wans[w];
        // DHCP and PPPoE go to the gateway too; they are the router's own, of no flow.
        let to_gateway = pkt.tuple.dst == side.gateway
            || (pkt.flow == Packet::NO_FLOW
                && (Message::of(&pkt).is_some() || Frame::of(&pkt).is_some()));
        match side.access.send(Way::FromRouter, self.now, &pkt) {
            Ok(at) if to_gateway => {
                self.deliver(lane::up(wan), at, Event::Arrive(Node::Gateway(wan), pkt));
            }
            Ok(at) => {
                let at = at + side.upstream_latency;
                let arrive = Event::Arrive(Node::Server(wan), pkt);
                self.cross(&pkt, pkt.tuple.dst, wan, TO_SERVER, at, arrive);
            }
            Err(LinkDrop::Down) => self.fault(pkt.flow, Cause::Blackholed),
            Err(_) => {}
        }
    }

    /// Books which WAN a LAN connection's packet left by, and with which address.
    fn note_wan(&mut self, wan: u8, pkt: &Packet) {
        if pkt.tuple.src != self.wans[wan as usize].address {
            self.metrics.packets_wrong_source += 1;
        }
        let Some(flow) = live(&mut self.flows, pkt.flow) else {
            return;
        };
        match flow.wan {
            None => {
                flow.wan = Some(wan);
                flow.classified = self.router.classified(&flow.tuple);
                let pair =
                    (u32::from(flow.tuple.src) as u64) << 32 | u32::from(flow.tuple.dst) as u64;
                let m = &mut self.metrics.wans[wan as usize];
                m.connections += 1;
                m.active += 1;
                m.address_pairs.insert(pair);
            }
            Some(first) if first != wan => self.metrics.packets_off_wan += 1,
            Some(_) => {}
        }
    }

    /// The ISP's gateway and the internet beyond it handle a packet from the router.
    fn at_server(&mut self, wan: u8, pkt: Packet) {
        match self.wans[wan as usize].carries(&pkt, &self.lan.subnet) {
            Ok(()) => {}
            Err(Refusal::NoRouteBack) => return self.fault(pkt.flow, Cause::ReplySentOutWan),
            Err(Refusal::Dead) => return self.fault(pkt.flow, Cause::Blackholed),
            Err(Refusal::Spoofed) => {
                let flow = self.flows.get(pkt.flow as usize).and_then(Option::as_ref);
                let moved = flow.and_then(|f| self.router.moved(&f.tuple));
                let cause = self.moved_cause(wan, pkt.flow, moved);
                return self.fault(pkt.flow, cause);
            }
        }
        if pkt.flow == Packet::NO_FLOW {
            return self.internet_answers(wan, &pkt);
        }
        let now = self.now;
        let Some(flow) = live(&mut self.flows, pkt.flow) else {
            return;
        };
        if flow.inbound {
            // A reply of a port forward reaching its client on the internet.
            flow.bytes_down += pkt.len as u64;
            if let Err(cause) = flow.at_host(now, &pkt, &mut self.outbox) {
                flow.fault = Some(cause);
            }
            return self.after_flow_step(pkt.flow);
        }
        if pkt.tuple.dst != flow.tuple.dst {
            return self.fault(pkt.flow, Cause::NoRoute);
        }
        if flow.peer.is_none()
            && let Some(s) = self
                .sessions
                .get_mut(flow.session as usize)
                .and_then(Option::as_mut)
            && !s.admits(pkt.tuple.src)
        {
            flow.refuse(Cause::IpAffinity);
            return self.after_flow_step(pkt.flow);
        }
        flow.bytes_up += pkt.len as u64;
        if let Err(cause) = flow.at_server(now, &pkt, &mut self.outbox) {
            flow.fault = Some(cause);
        }
        book_rtt(flow, &mut self.metrics);
        self.after_flow_step(pkt.flow);
    }

    fn at_gateway(&mut self, wan: u8, pkt: Packet) {
        // A port forward belongs to the WAN its client came in by.
        if live(&mut self.flows, pkt.flow).is_some_and(|f| f.inbound && f.wan.is_none()) {
            let address = self.wans[wan as usize].address;
            self.note_wan(
                wan,
                &Packet {
                    tuple: FiveTuple {
                        src: address,
                        ..pkt.tuple
                    },
                    ..pkt
                },
            );
        }
        let side = &mut self.wans[wan as usize];
        if !side.forwards() {
            return self.fault(pkt.flow, Cause::Blackholed);
        }
        match side.access.send(Way::ToRouter, self.now, &pkt) {
            Ok(at) => {
                let iface = side.iface;
                self.deliver(lane::down(wan), at, Event::Arrive(Node::Router(iface), pkt));
            }
            Err(LinkDrop::Down) => self.fault(pkt.flow, Cause::Blackholed),
            Err(_) => {}
        }
    }

    fn at_host(&mut self, pkt: Packet) {
        let now = self.now;
        let Some(flow) = live(&mut self.flows, pkt.flow) else {
            return;
        };
        if flow.inbound {
            // A port forward's packet reaching its server on the LAN.
            flow.bytes_up += pkt.len as u64;
            if let Err(cause) = flow.at_server(now, &pkt, &mut self.outbox) {
                flow.fault = Some(cause);
            }
            return self.after_flow_step(pkt.flow);
        }
        flow.bytes_down += pkt.len as u64;
        self.metrics
            .hosts
            .received(pkt.tuple.dst, flow.wan, pkt.payload);
        if let Err(cause) = flow.at_host(now, &pkt, &mut self.outbox) {
            flow.fault = Some(cause);
        }
        book_rtt(flow, &mut self.metrics);
        self.after_flow_step(pkt.flow);
    }

    /// Why a connection's packet left by WAN `wan`, another than its first, broke it (its ISP
    /// dropped it for its source address, or the router forgot its NAT): a connection moved by
    /// a failover lost its NAT address; one opened on a backup WAN during an outage moves back
    /// when the first WAN returns; `moved` says what else in the router moved it; anything
    /// else is a configuration that forgot NAT.
    fn moved_cause(&self, wan: u8, flow: u32, moved: Option<Moved>) -> Cause {
        let Some(flow) = self.flows.get(flow as usize).and_then(Option::as_ref) else {
            return Cause::WrongSourceAddress;
        };
        match flow.wan {
            Some(first) if first != wan && flow.inbound => Cause::InboundReplyMisrouted,
            Some(first)
                if first != wan
                    && (self.wans[first as usize].failed()
                        || !self.metrics.in_service(first as usize)) =>
            {
                Cause::NatAddressChanged
            }
            Some(first)
                if first != wan
                    && (self.wans[wan as usize].recovered_at() > flow.started
                        || self.metrics.back_in_service_at(wan as usize) > flow.started) =>
            {
                Cause::Failback
            }
            Some(first) if first != wan => match moved {
                Some(Moved::Fasttrack) => Cause::FasttrackMisroute,
                Some(Moved::Remarked) => Cause::ConnectionRemarked,
                Some(Moved::Ecmp) => Cause::EcmpMoved,
                None => Cause::WrongSourceAddress,
            },
            _ => Cause::WrongSourceAddress,
        }
    }

    /// The internet answers the router's pings (netwatch, recursive check-gateway) as long as
    /// the path through this WAN works: every public address pinged is assumed alive.
    fn internet_answers(&mut self, wan: u8, pkt: &Packet) {
        // An ISP's gateway sits on its own access line, not on the internet.
        if self.wans.iter().any(|w| w.gateway == pkt.tuple.dst) {
            return;
        }
        if let Some(reply) = self.internet.answer(pkt) {
            let at = self.now + self.wans[wan as usize].upstream_latency;
            self.schedule(at, Event::Arrive(Node::GatewayFromInternet(wan), reply));
        }
    }

    /// The ISP's gateway hears a packet the router sent it: its DHCP server, its PPPoE
    /// concentrator or the gateway itself (pings, while it is alive) answers.
    fn gateway_hears(&mut self, wan: u8, pkt: Packet) {
        let side = &mut self.wans[wan as usize];
        let reply = if let Some(m) = Message::of(&pkt) {
            let answer = side.dhcp_answer(&m);
            answer.map(|a| a.to_packet(side.gateway, Ipv4Addr::BROADCAST))
        } else if let Some(f) = Frame::of(&pkt) {
            side.pppoe_answer(&f).map(|a| a.to_packet(false))
        } else if side.gateway_answers()
            && pkt.tuple.protocol == Protocol::Icmp
            && !pkt.is_echo_reply()
        {
            Some(pkt.echo_reply())
        } else {
            None
        };
        let Some(reply) = reply else { return };
        if let Ok(at) = side.access.send(Way::ToRouter, self.now, &reply) {
            let iface = side.iface;
            self.deliver(
                lane::down(wan),
                at,
                Event::Arrive(Node::Router(iface), reply),
            );
        }
    }

    /// A failure or repair from the timeline.
    fn apply_change(&mut self, i: usize) {
        use crate::scenario::FailureKind;
        let c = self.changes[i];
        let isp = &mut self.wans[c.wan];
        isp.apply(&c, self.now);
        if c.kind == FailureKind::Renumber {
            return; // nothing fails: the router finds out at its next renewal
        }
        if c.kind == FailureKind::Link {
            self.router.set_interface_running(isp.iface, !c.down);
            if c.down {
                // The router forgot their NAT: whatever happens to them next is why.
                for flow in self.flows.iter_mut().flatten() {
                    if flow.wan == Some(c.wan as u8) && flow.outcome.is_none() {
                        flow.flushed = Some(Cause::WanDownFlush);
                    }
                }
            }
        }
        if c.down {
            self.metrics.failed(c.wan, c.kind, self.now);
        } else {
            self.metrics.recovered(c.wan, c.kind, self.now);
        }
        self.judge_wans();
    }

    /// Books each WAN the router took out of service or put back since the last look: what
    /// the router decides on is whether a default route through the WAN is active, however it
    /// came to be (a link, check-gateway on a gateway or a recursive target, a netwatch
    /// script, a lease).
    fn judge_wans(&mut self) {
        let generation = self.router.fib.generation();
        if generation == self.judged_generation {
            return;
        }
        self.judged_generation = generation;
        let mut failed_back = Vec::new();
        for (i, w) in self.wans.iter().enumerate() {
            let in_service = self.router.fib.has_default_out(w.iface);
            if in_service != self.metrics.in_service(i) {
                failed_back.extend(self.metrics.wan_judged(i, in_service, self.now));
            }
        }
        for f in failed_back {
            self.strand(f);
        }
    }

    /// The router used a failed WAN again: the connections started elsewhere during its
    /// outage that a new connection of theirs would now leave it by are watched, to book those
    /// that stay where they are ([`crate::world::metrics::Stranded`]).
    fn strand(&mut self, failure: usize) {
        let f = &self.metrics.failures[failure];
        let (back, since) = (f.wan as u8, f.failed_at);
        let mut what_if = self.router.clone_for_trace();
        for flow in self.flows.iter().flatten() {
            let Some(wan) = flow.wan.filter(|&w| w != back) else {
                continue;
            };
            if flow.outcome.is_some() || flow.inbound || flow.started < since {
                continue;
            }
            let mut first = flow.first_packet();
            let now_by = match what_if.receive(self.now, self.lan.iface, &mut first) {
                Verdict::Forward(hop) => self.wan_of_iface[hop.iface as usize],
                _ => None,
            };
            if now_by == Some(back) {
                let bytes = flow.bytes_up + flow.bytes_down;
                let strand = Strand {
                    wan,
                    since: self.now,
                    bytes,
                };
                self.strands.insert(flow.id, strand);
            }
        }
    }

    fn netwatch_changed(&mut self, c: crate::router::netwatch::Change) {
        use crate::router::netwatch::Status;
        let up = c.status == Status::Up;
        self.metrics.netwatch[c.watch]
            .changes
            .push((c.at, up, c.run_script));
        if !c.run_script {
            return;
        }
        let watch = &self.router.netwatch.watches[c.watch];
        let (which, script) = if up {
            ("up-script", watch.up_script.clone())
        } else {
            ("down-script", watch.down_script.clone())
        };
        let (host, line) = (watch.host, watch.line);
        let name = format!("netwatch {host} {which} (line {line})");
        self.run_script(&name, &script);
    }

    /// Runs a script of the router's on the running router; its errors go to the log.
    fn run_script(&mut self, name: &str, source: &str) {
        self.run_script_with(name, source, Vec::new());
    }

    /// [`Simulation::run_script`] with variables set, as RouterOS sets them for the scripts it
    /// calls (a DHCP client's `$bound`).
    fn run_script_with(&mut self, name: &str, source: &str, vars: Vec<(String, Value)>) {
        if let Err(e) = crate::routeros::live::run_script_with(&mut self.router, name, source, vars)
        {
            self.metrics.script_errors.push(e.to_string());
        }
    }

    /// An address a WAN got, changed or lost (a DHCP lease, a PPPoE session): connections
    /// NATed to an address the WAN no longer has are broken by that, and the client's script
    /// runs.
    fn address_changed(&mut self, c: crate::router::AddressChange) {
        if let (Some(before), Some(wan)) = (c.before, self.wan_of_iface[c.iface as usize])
            && c.after != Some(before)
        {
            let cause = match c.interface_down {
                true => Cause::WanDownFlush,
                false => Cause::AddressChanged,
            };
            for flow in self.flows.iter_mut().flatten() {
                if flow.wan == Some(wan) && flow.outcome.is_none() {
                    flow.flushed = Some(cause);
                }
            }
        }
        if let Some(call) = c.script {
            let vars = call
                .vars
                .iter()
                .map(|(k, v)| (k.clone(), Value::from_word(v)))
                .collect();
            self.run_script_with(&call.name, &call.source, vars);
        }
    }

    fn router_timer(&mut self) {
        if self.router_timer_at != self.now {
            return; // superseded by an earlier timer that already ran
        }
        self.router_timer_at = Time::MAX;
        self.router.handle_timeout(self.now);
        self.after_router_step();
    }

    /// Sends what the router sent on its own, acts on what happened in it (runs the scripts
    /// netwatch, the scheduler and the clients call for, which may send and happen more),
    /// books the WANs it took out or put back, and arms its next timer.
    fn after_router_step(&mut self) {
        let now = self.now;
        loop {
            if let Some((hop, pkt)) = self.router.poll_transmit() {
                self.send_own(hop, pkt);
                continue;
            }
            if let Some((hop, pkt, in_iface)) = self.router.poll_forward() {
                self.forward(hop, pkt, in_iface);
                continue;
            }
            let Some(event) = self.router.poll_event() else {
                break;
            };
            match event {
                RouterEvent::Netwatch(c) => self.netwatch_changed(c),
                RouterEvent::Address(c) => self.address_changed(c),
                RouterEvent::Scheduled(i) => {
                    let e = &self.router.scheduler.entries[i];
                    let name = format!("scheduler {} (line {})", e.name, e.line);
                    let source = e.source.clone();
                    self.run_script(&name, &source);
                }
                // The routes followed; what the router decides on is booked below.
                RouterEvent::Gateway(_) => {}
                RouterEvent::Probe(p) => self.metrics.probes.push(p),
            }
        }
        self.judge_wans();
        if let Some(t) = self.router.poll_timeout()
            && t < self.router_timer_at
        {
            self.router_timer_at = t;
            self.schedule(t.max(now), Event::Timer(Timer::Router));
        }
    }

    /// Closes the time series' current interval at `now`.
    fn sample(&mut self) {
        let router = &self.router;
        // Each gateway check-gateway watches speaks for the WAN the router reaches it by.
        let towards = |gateway: Ipv4Addr| {
            let hop = router
                .fib
                .lookup(crate::router::firewall::TableId::MAIN, gateway)?;
            self.wans.iter().position(|w| w.iface == hop.iface)
        };
        let checked: Vec<(Option<usize>, bool)> = (router.checked_gateways())
            .map(|(g, reachable)| (towards(g), reachable))
            .collect();
        let links = self.wans.iter().enumerate().map(|(i, w)| {
            let (queue_drops, losses) = link_totals(&w.access);
            WanState {
                queue_drops,
                losses,
                link_up: w.access.is_up(),
                gateway_reachable: (checked.iter())
                    .all(|&(wan, reachable)| reachable || wan != Some(i)),
            }
        });
        let since = self.metrics.samples.last().map_or(0, |s| s.time);
        self.metrics.sample(self.now, self.now - since, links);
        let routes = self.router.config.routes.len() as u32;
        let netwatch = &self.router.netwatch;
        self.metrics
            .router_states
            .push(crate::world::metrics::RouterState {
                routes_active: (0..routes)
                    .map(|i| self.router.fib.is_selected(i))
                    .collect(),
                netwatch_up: (0..netwatch.watches.len())
                    .map(|i| match netwatch.status(i) {
                        crate::router::netwatch::Status::Unknown => None,
                        status => Some(status == crate::router::netwatch::Status::Up),
                    })
                    .collect(),
            });
    }

    /// Ends the run: logs the connections still open, closes the captures. Returns the first
    /// write error of each stream that had one.
    fn close(&mut self) -> Vec<(Stream, io::Error)> {
        let mut errors = Vec::new();
        if let Some(mut log) = self.connection_log.take() {
            // Those that only still close were logged when they ended.
            for flow in self.flows.iter().flatten().filter(|f| f.outcome.is_none()) {
                log.record(&record_of(flow, None));
            }
            if let Err(e) = log.finish() {
                errors.push((Stream::Connections, e));
            }
        }
        let end = self.now;
        if let Err(e) = self.lan.link.finish_capture(end) {
            errors.push((Stream::Capture(TapPoint::Lan), e));
        }
        for (i, w) in self.wans.iter_mut().enumerate() {
            if let Err(e) = w.access.finish_capture(end) {
                errors.push((Stream::Capture(TapPoint::Wan(i)), e));
            }
        }
        errors
    }
}

/// A WAN link's totals so far, both directions: (queue drops, losses).
fn link_totals(link: &Link<Lossy<Wire>>) -> (u64, u64) {
    let (up, down) = (link.from_router.stats(), link.to_router.stats());
    (up.queue_drops + down.queue_drops, up.losses + down.losses)
}

/// The router's MAC address on an interface (locally administered).
fn router_mac(iface: IfaceId) -> [u8; 6] {
    [0x02, 0x00, 0x5e, 0x00, 0x00, iface]
}

fn record_of(flow: &Flow, ended: Option<Time>) -> ConnectionRecord {
    ConnectionRecord {
        started: flow.started,
        ended,
        tuple: flow.tuple,
        app: flow.app,
        wan: flow.wan,
        bytes_up: flow.bytes_up,
        bytes_down: flow.bytes_down,
        outcome: flow.outcome,
    }
}

/// Books an RTT the flow's TCP just measured on the WAN it uses (the flow is in hand: no
/// second lookup per packet).
fn book_rtt(flow: &mut Flow, metrics: &mut Metrics) {
    if let Some(wan) = flow.wan
        && let Some(rtt) = flow.take_rtt_sample()
    {
        metrics.rtt(wan, rtt);
    }
}

/// Whether the router still sends the connection of `tuple` out of `iface` with that
/// interface's address (it did not move, or moved only to be dropped).
fn stays_on(router: &Router, iface: IfaceId, tuple: &FiveTuple) -> bool {
    use crate::router::conntrack::SrcNat;
    (router.conntrack.find(tuple)).is_some_and(|e| e.src_nat == SrcNat::Masquerade(iface))
}

/// Asks the queue for the flow's next deadline, if it comes before the timer already set.
fn arm_timer(flow: &mut Flow, queue: &mut EventQueue<Event>) {
    if let Some(deadline) = flow.next_deadline()
        && deadline < flow.timer_at
    {
        flow.timer_at = deadline;
        queue.push_packed(deadline, flow.id);
    }
}

/// The flow with this id, if it is still running.
fn live(flows: &mut [Option<Flow>], id: u32) -> Option<&mut Flow> {
    flows.get_mut(id as usize).and_then(Option::as_mut)
}

fn protocol_of(conn: &Connection) -> Protocol {
    match conn.kind {
        ConnectionKind::Tcp { .. } => Protocol::Tcp,
        _ => Protocol::Udp,
    }
}

/// A finished run: what was measured, and the router as the run left it. `report` turns it
/// into the summary, tables and files; the engine knows nothing of them.
pub struct Run {
    pub seed: u64,
    /// Simulated time the run covered.
    pub duration: Time,
    pub metrics: Metrics,
    /// The router as the run left it, for `--exec` commands.
    pub router: Router,
    /// Connections still open at the end.
    pub active_connections: u64,
    /// Per WAN, the one-way latency from the LAN to the internet core through it, without
    /// queueing (`None` if the topology has no such path).
    pub base_latency: Vec<Option<Time>>,
    /// Streamed files that could not be written completely, with the first error of each.
    pub stream_errors: Vec<(Stream, io::Error)>,
}

/// Simulates `loaded` for `duration` with `seed`, calling `progress(now, end)` as it goes.
pub fn simulate(
    loaded: &Loaded,
    seed: u64,
    duration: Time,
    progress: impl FnMut(Time, Time),
) -> Run {
    Simulation::new(loaded, seed).run(seed, duration, progress)
}

impl Simulation {
    /// Runs to `duration`, calling `progress(now, end)` at least every simulated second.
    pub fn run(mut self, seed: u64, duration: Time, mut progress: impl FnMut(Time, Time)) -> Run {
        self.end = duration;
        let step = (duration / 1000).clamp(MS, SEC);
        while !self.is_finished() {
            let next = self.now() + step;
            self.run_until(next);
            progress(self.now().min(duration), duration);
        }
        // A run that does not end on a sampling boundary gets a last, shorter interval.
        if self.metrics.samples.last().map_or(0, |s| s.time) < self.now {
            self.sample();
        }
        for (id, strand) in std::mem::take(&mut self.strands) {
            let iface = self.wans[strand.wan as usize].iface;
            if let Some(f) = &self.flows[id as usize]
                && stays_on(&self.router, iface, &f.tuple)
            {
                let bytes = f.bytes_up + f.bytes_down - strand.bytes;
                self.metrics
                    .stranded(strand.wan, self.now - strand.since, bytes);
            }
        }
        // Tunnels still up at the end count with the dead time they had.
        for f in self.flows.iter().flatten().filter(|f| f.outcome.is_none()) {
            if let Some(d) = f.dead_time() {
                self.metrics.account(f.app, f.lan_host()).dead(d);
            }
        }
        // Connections a fault holds back when the run ends would break, given time: counted.
        for f in self.flows.iter().flatten().filter(|f| f.outcome.is_none()) {
            if let Some(cause) = f.stalled(self.now) {
                *self.metrics.stalled.entry(cause).or_default() += 1;
            }
        }
        let active_connections = self.active_connections();
        for (m, side) in self.metrics.wans.iter_mut().zip(&self.wans) {
            (m.queue_drops, m.losses) = link_totals(&side.access);
        }
        let stream_errors = self.close();
        let base_latency = (0..self.wans.len())
            .map(|i| self.topology.base_latency_via(i))
            .collect();
        Run {
            seed,
            duration,
            metrics: self.metrics,
            router: self.router,
            active_connections,
            base_latency,
            stream_errors,
        }
    }
}
