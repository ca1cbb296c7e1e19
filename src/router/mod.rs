//! The router: a state machine that takes `(now, in-interface, packet)` and says where the packet
//! goes. No clock, randomness or I/O lives here, so tests feed it packets directly. Whoever
//! drives it asks [`Router::poll_timeout`] when it next needs the clock, calls
//! [`Router::handle_timeout`] then, and after each step polls [`Router::poll_transmit`] for the
//! packets it sends on its own and [`Router::poll_event`] for what happened in it.
//!
//! The order is RouterOS's (and Linux's): connection tracking → mangle prerouting → dst-nat,
//! which also un-NATs replies → routing decision with the routing mark → mangle forward → filter
//! forward → mangle postrouting → src-nat. FastTracked connections skip mangle and filter and are
//! routed by `main`, as on the real router.

pub mod config;
pub mod conntrack;
pub mod cpu;
pub mod dhcp_client;
pub mod dns;
pub mod ecmp;
pub mod firewall;
pub mod gateway_check;
pub mod nat;
pub mod netwatch;
pub mod pcc;
pub mod pinger;
pub mod pppoe_client;
pub mod queue;
pub mod routing;
pub mod scheduler;

use self::config::{Dialect, RouterConfig};
use self::conntrack::{Conntrack, Dir, Entry, Flags, Moved, SrcNat, Untracked};
use self::cpu::{Cpu, Work};
use self::dns::Dns;
use self::ecmp::{Ecmp, RouteCache};
use self::firewall::{
    ChainId, ConnMark, ConnStates, Ctx, DSTNAT, Env, FORWARD, INPUT, IfaceId, NatState, OUTPUT,
    Observer, POSTROUTING, PREROUTING, SRCNAT, Table, TableId, TableState, Verdict as ChainVerdict,
};
use self::gateway_check::{Change as GatewayChange, GatewayChecks};
use self::netwatch::Netwatch;
use self::pinger::Probe;
use self::queue::config::QueueSetup;
use self::queue::{Held, Offer, Queues};
use self::routing::{Fib, Gateway, Hop, Route};
use self::scheduler::Scheduler;
use crate::packet::{FiveTuple, Packet};
use crate::units::Time;
use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// What became of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send it out of `hop.iface`, to `hop.gateway` if there is one.
    Forward(Hop),
    /// Addressed to the router itself.
    Local,
    /// A queue holds it; it leaves later, by [`Router::poll_forward`].
    Queued,
    Drop(DropReason),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    NoRoute,
    ConntrackFull,
    Filtered,
    /// A masqueraded connection's packet was routed out of another interface than the one its
    /// address belongs to: RouterOS 7 (Linux's `nf_nat_oif_changed`) forgets the connection and
    /// drops the packet, so the next one starts afresh. `why` is what moved it, when not a
    /// route change.
    OutInterfaceChanged {
        to: IfaceId,
        why: Option<Moved>,
    },
    /// A queue on its way was full.
    QueueFull,
    /// The CPU its flow hashes to had a full backlog.
    CpuBusy,
}

impl DropReason {
    pub fn name(self) -> &'static str {
        match self {
            DropReason::NoRoute => "no-route",
            DropReason::ConntrackFull => "conntrack-full",
            DropReason::Filtered => "filtered",
            DropReason::OutInterfaceChanged { .. } => "out-interface-changed",
            DropReason::QueueFull => "queue-full",
            DropReason::CpuBusy => "cpu-busy",
        }
    }
}

/// Extra things a trace wants to see besides rules: set by `trace`, `()` in the simulation.
pub trait Tracer: Observer {
    fn conntrack(&mut self, _id: u32, _dir: Dir, _new: bool) {}
    fn untracked(&mut self, _why: Untracked) {}
    fn routed(&mut self, _table: TableId, _hop: Option<Hop>) {}
}

impl Tracer for () {}

/// The counts of the rules of each table.
#[derive(Clone, Debug, Default)]
pub struct RuleCounts {
    pub mangle: TableState,
    pub nat: TableState,
    pub filter: TableState,
}

impl RuleCounts {
    fn new(config: &RouterConfig) -> RuleCounts {
        RuleCounts {
            mangle: TableState::new(&config.mangle),
            nat: TableState::new(&config.nat),
            filter: TableState::new(&config.filter),
        }
    }

    /// The counts of `table`, one of the configuration's three.
    pub fn of(&self, table: &Table) -> &TableState {
        match table.name {
            "nat" => &self.nat,
            "filter" => &self.filter,
            _ => &self.mangle,
        }
    }
}

/// Which of the three tables a chain walk uses.
#[derive(Clone, Copy)]
enum Which {
    Mangle,
    Nat,
    Filter,
}

pub struct Router {
    /// What the configuration says; shared, and changed only by scripts (through
    /// [`Router::config_mut`]).
    pub config: Arc<RouterConfig>,
    /// What the rules have counted.
    pub counts: RuleCounts,
    pub conntrack: Conntrack,
    pub fib: Fib,
    /// How a route with several next hops picks one.
    ecmp: Ecmp,
    env: Env,
    checks: GatewayChecks,
    pub netwatch: Netwatch,
    pub scheduler: Scheduler,
    /// The router's DNS service.
    pub dns: Dns,
    /// `/ip dhcp-client` entries; their leases give WANs their addresses and default routes.
    pub dhcp: dhcp_client::DhcpClients,
    /// `/interface pppoe-client` entries: sessions that make their interfaces WANs.
    pub pppoe: pppoe_client::PppoeClients,
    scratch: Scratch,
    /// What the router sends on its own and what happened in it, not yet polled.
    transmits: VecDeque<(Hop, Packet)>,
    /// `/queue simple` and `/queue tree`, with the packets they hold.
    pub queues: Queues,
    /// The model's CPUs, when the scenario names one; without, every packet costs nothing.
    pub cpu: Option<Cpu>,
    /// What the packet at hand has cost so far, and where it goes once its CPU is done.
    work: Work,
    outgoing: Option<Held>,
    /// Packets done with (by their CPU and the queues), to send.
    ready: VecDeque<Held>,
    events: VecDeque<Event>,
    /// The latest time the router was driven at: what `print` reads an expiry against.
    now: Time,
    /// Whether a masqueraded connection that changes its out-interface is forgotten (RouterOS
    /// 7's Linux 5.6 does it; RouterOS 6's Linux 3.3 predates the check, added in 3.7, and
    /// keeps the entry with its old address).
    forgets_moved_masquerade: bool,
}

/// Buffers reused from step to step: the probes due, the probers' changes of state and what
/// the clients send.
#[derive(Clone, Debug, Default)]
struct Scratch {
    probes: Vec<Probe>,
    gateway_changes: Vec<GatewayChange>,
    netwatch_changes: Vec<netwatch::Change>,
    scheduled: Vec<usize>,
    control_out: Vec<(IfaceId, Packet)>,
}

/// Something that happened in the router, for whoever drives it to act on ([`Router::poll_event`]).
#[derive(Clone, Debug)]
pub enum Event {
    /// check-gateway found a gateway reachable or not; the routes through it follow.
    Gateway(GatewayChange),
    /// A check-gateway probe went unanswered, or an answer ended a run of misses.
    Probe(gateway_check::Probed),
    /// A netwatch host's status changed; its script, if due, is the caller's to run.
    Netwatch(netwatch::Change),
    /// A DHCP lease or PPPoE session gave, changed or took a WAN's address.
    Address(AddressChange),
    /// A scheduler entry (an index into `scheduler.entries`) is due: its script is the
    /// caller's to run.
    Scheduled(usize),
}

/// An address a WAN got, changed or lost (a DHCP lease, a PPPoE session), and the script its
/// client runs for it.
#[derive(Clone, Debug)]
pub struct AddressChange {
    pub iface: IfaceId,
    pub before: Option<Ipv4Addr>,
    pub after: Option<Ipv4Addr>,
    /// The interface went down with it (a PPPoE session); a DHCP lease leaves its port up.
    pub interface_down: bool,
    pub script: Option<ScriptCall>,
}

/// A script the router runs, with the variables RouterOS sets for it (as text).
#[derive(Clone, Debug)]
pub struct ScriptCall {
    pub name: String,
    pub source: String,
    pub vars: Vec<(String, String)>,
}

impl Router {
    pub fn new(mut config: RouterConfig) -> Router {
        config.mangle.index();
        config.nat.index();
        config.filter.index();
        Router::with_config(Arc::new(config))
    }

    /// A router running `config`, shared with other routers (runs of the same configuration).
    /// Its tables must be indexed ([`Router::new`] does it).
    pub fn with_config(config: Arc<RouterConfig>) -> Router {
        let mut fib = Fib::new(
            all_routes(&config),
            config.routing_tables.len(),
            config.interfaces.len(),
        );
        let ecmp = match config.dialect {
            Dialect::V6 => Ecmp::Cache(RouteCache::new()),
            Dialect::V7 => {
                fib.share_equal_routes();
                Ecmp::Hash(config.multipath_hash_policy)
            }
        };
        let env = build_env(&config);
        let pppoe = pppoe_client::PppoeClients::from_config(&config);
        // A PPPoE interface runs once its session is up.
        for c in &pppoe.clients {
            fib.set_interface_running(c.iface, false);
        }
        let checked = config
            .routes
            .iter()
            .filter(|r| r.check_gateway.is_some() && !r.disabled)
            .flat_map(|r| &r.gateways)
            .filter_map(|g| match g {
                Gateway::Address(gw) => Some(*gw),
                Gateway::Interface(_) => None,
            });
        Router {
            counts: RuleCounts::new(&config),
            conntrack: Conntrack::new(config.conntrack.clone()),
            fib,
            ecmp,
            env,
            checks: GatewayChecks::new(config.check_gateway, checked),
            netwatch: Netwatch::new(netwatch::from_config(&config)),
            scheduler: Scheduler::from_config(&config),
            dns: Dns::new(config.dns.clone()),
            dhcp: dhcp_client::DhcpClients::from_config(&config),
            pppoe,
            scratch: Scratch::default(),
            transmits: VecDeque::new(),
            queues: Queues::new(QueueSetup::from_config(&config)),
            cpu: None,
            work: Work::default(),
            outgoing: None,
            ready: VecDeque::new(),
            events: VecDeque::new(),
            now: 0,
            forgets_moved_masquerade: config.dialect == Dialect::V7,
            config,
        }
    }

    /// Takes in a change to `config` a script made: rule indexes, address lists and routes are
    /// rebuilt; connections, check-gateway's and netwatch's state and link states are kept.
    pub fn reconfigure(&mut self) {
        let config = Arc::make_mut(&mut self.config);
        config.mangle.index();
        config.nat.index();
        config.filter.index();
        self.counts.mangle.realign(&self.config.mangle);
        self.counts.nat.realign(&self.config.nat);
        self.counts.filter.realign(&self.config.filter);
        // Entries rules added live on; the rest is the configuration's.
        let dynamic = std::mem::take(&mut self.env.dynamic_lists);
        self.env = build_env(&self.config);
        self.env.dynamic_lists = dynamic;
        self.fib
            .replace_routes(all_routes(&self.config), self.config.routing_tables.len());
        self.ecmp.routes_changed();
        // A script that changed the queues rebuilds them; what they held is lost.
        let setup = QueueSetup::from_config(&self.config);
        if setup != *self.queues.setup() {
            self.queues = Queues::new(setup);
        }
    }

    /// The configuration, for a script to change; call [`Router::reconfigure`] after.
    pub fn config_mut(&mut self) -> &mut RouterConfig {
        Arc::make_mut(&mut self.config)
    }

    /// Walks `chain` of one table, counting in that table's state. Inlined: most chains a
    /// packet passes have no rule for it, and the test for that is all this costs then.
    #[inline(always)]
    fn run_chain<T: Tracer>(
        &mut self,
        which: Which,
        chain: ChainId,
        ctx: &mut Ctx,
        tracer: &mut T,
    ) -> ChainVerdict {
        let (table, state) = match which {
            Which::Mangle => (&self.config.mangle, &mut self.counts.mangle),
            Which::Nat => (&self.config.nat, &mut self.counts.nat),
            Which::Filter => (&self.config.filter, &mut self.counts.filter),
        };
        if !T::SEES_EVERY_RULE && table.passes_no_rule(chain, ctx.in_iface) {
            return ChainVerdict::Continue;
        }
        let before = state.tried;
        let verdict = table.run(state, chain, ctx, &self.env, tracer);
        self.work.rules += (state.tried - before) as u32;
        if !state.list_additions.is_empty() {
            add_to_lists(&mut state.list_additions, &mut self.env);
        }
        verdict
    }

    /// What the firewall consults beyond the packet: the router's addresses, and the address
    /// lists with the entries rules added.
    pub fn env(&self) -> &Env {
        &self.env
    }

    /// A packet the router sends on its own — a probe, a DHCP or PPPoE message, its DNS
    /// service's query or answer — with its hop, in order. Call it after
    /// [`Router::receive`], [`Router::handle_timeout`] and a script's run, until it returns
    /// `None`.
    pub fn poll_transmit(&mut self) -> Option<(Hop, Packet)> {
        self.transmits.pop_front()
    }

    /// A forwarded packet a queue let go, to send out of `hop.iface` now, with the interface
    /// it came in by. Call it after each step, as [`Router::poll_transmit`].
    pub fn poll_forward(&mut self) -> Option<(Hop, Packet, IfaceId)> {
        let held = self
            .ready
            .pop_front()
            .or_else(|| self.queues.poll_released());
        held.map(|h| (h.hop, h.pkt, h.in_iface))
    }

    /// What happened in the router since the last call, in order. Call it after each step,
    /// as [`Router::poll_transmit`], until it returns `None`; running the scripts an event
    /// calls for may make more events and packets.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When the router next needs the clock: check-gateway's probes and their timeouts.
    pub fn poll_timeout(&self) -> Option<Time> {
        let ecmp = self.fib.has_multipath().then(|| self.ecmp.poll_timeout());
        [
            self.checks.poll_timeout(),
            self.netwatch.poll_timeout(),
            self.scheduler.poll_timeout(),
            self.dhcp.poll_timeout(),
            self.pppoe.poll_timeout(),
            ecmp.flatten(),
            self.queues.poll_timeout(),
            self.cpu.as_ref().and_then(Cpu::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Removes the `k`-th address-list entry rules added that has not expired, in the order
    /// `/ip firewall address-list print` lists them after the configured ones.
    pub fn remove_dynamic_entry(&mut self, k: usize) {
        let now = self.now;
        let mut seen = 0;
        for entries in &mut self.env.dynamic_lists {
            let live = entries.iter().enumerate().filter(|(_, e)| e.1 > now);
            if let Some((at, _)) = live.clone().nth(k - seen) {
                entries.remove(at);
                return;
            }
            seen += live.count();
        }
    }

    /// Moves the first round of check-gateway and of each netwatch entry to `phase(interval)`
    /// (less than the interval): a real router's probes run at whatever phase it booted with,
    /// so a failure meets them anywhere in their round. The caller draws the phases.
    pub fn stagger_probes(&mut self, mut phase: impl FnMut(Time) -> Time) {
        self.checks.start_at(phase(self.checks.settings().interval));
        self.netwatch.start_at(phase);
    }

    /// The latest time the router was driven at.
    pub fn now(&self) -> Time {
        self.now
    }

    /// Does what is due at `now` (see [`Router::poll_timeout`]); then poll what it sent and
    /// what happened.
    pub fn handle_timeout(&mut self, now: Time) {
        self.now = now;
        self.ecmp.handle_timeout(now);
        if let Some(cpu) = self.cpu.as_mut().filter(|c| c.poll_timeout() <= Some(now)) {
            let (queues, ready) = (&mut self.queues, &mut self.ready);
            cpu.release(now, |held| {
                if queues.is_empty() || queues.offer(now, held) == Offer::Pass {
                    ready.push_back(held);
                }
            });
        }
        if self.queues.poll_timeout().is_some_and(|t| t <= now) {
            self.queues.release(now);
        }
        let mut probes = std::mem::take(&mut self.scratch.probes);
        let mut changes = std::mem::take(&mut self.scratch.gateway_changes);
        self.checks.handle_timeout(now, &mut probes, &mut changes);
        self.events
            .extend(self.checks.take_probed().map(Event::Probe));
        for c in changes.drain(..) {
            self.set_gateway_reachable(c.gateway, c.reachable);
            self.events.push_back(Event::Gateway(c));
        }
        self.scratch.gateway_changes = changes;
        let mut changes = std::mem::take(&mut self.scratch.netwatch_changes);
        self.netwatch.handle_timeout(now, &mut probes, &mut changes);
        self.events.extend(changes.drain(..).map(Event::Netwatch));
        self.scratch.netwatch_changes = changes;
        for p in probes.drain(..) {
            self.ping(now, p.host, p.ident, p.seq);
        }
        self.scratch.probes = probes;
        self.scheduler
            .handle_timeout(now, &mut self.scratch.scheduled);
        self.events
            .extend(self.scratch.scheduled.drain(..).map(Event::Scheduled));
        let mut sent = std::mem::take(&mut self.scratch.control_out);
        self.dhcp.handle_timeout(now, &mut sent);
        self.pppoe.handle_timeout(now, &mut sent);
        (self.transmits).extend(sent.drain(..).map(|(iface, pkt)| (direct(iface), pkt)));
        self.scratch.control_out = sent;
        self.apply_addresses();
    }

    /// Puts each address a DHCP lease or a PPPoE session gave, changed or took away in place:
    /// the interface's address and the default route its client adds. Connections
    /// masqueraded to an address the interface no longer has are forgotten, as RouterOS
    /// flushes them; what changed is handed out with the script the client runs.
    fn apply_addresses(&mut self) {
        let leases: Vec<_> = self.dhcp.take_changes().collect();
        let sessions: Vec<_> = self.pppoe.take_changes().collect();
        if leases.is_empty() && sessions.is_empty() {
            return;
        }
        for change in leases {
            let c = self.dhcp.clients[change.client].clone();
            let route = |l: &dhcp_client::Lease| (Gateway::Address(l.gateway), l.prefix_len);
            let before = change.before.map(|l| (l.address, route(&l)));
            let after = change.after.map(|l| (l.address, route(&l)));
            let added = change.after.filter(|_| c.add_default_route);
            self.readdress(
                c.iface,
                c.line,
                before,
                after,
                added.is_some().then_some(c.default_route_distance),
            );
            // `check-gateway=ping` on the client: its route's gateway is checked as any other.
            if let Some(lease) = added.filter(|_| c.check_gateway) {
                let config = Arc::make_mut(&mut self.config);
                let route = config
                    .routes
                    .iter_mut()
                    .rfind(|r| r.line == c.line && r.prefix_len == 0);
                if let Some(route) = route {
                    route.check_gateway = Some(routing::CheckGateway::Ping);
                }
                self.checks.watch(lease.gateway);
            }
            let lease = change.after.or(change.before);
            let ip = |f: fn(&dhcp_client::Lease) -> Ipv4Addr| {
                lease.map_or(String::new(), |l| f(&l).to_string())
            };
            let vars = vec![
                (
                    "bound".to_string(),
                    u8::from(change.after.is_some()).to_string(),
                ),
                ("lease-address".to_string(), ip(|l| l.address)),
                ("gateway-address".to_string(), ip(|l| l.gateway)),
                (
                    "interface".to_string(),
                    self.config.iface_name(c.iface).to_string(),
                ),
            ];
            let script = (!c.script.is_empty()).then(|| ScriptCall {
                name: format!("dhcp-client script (line {})", c.line),
                source: c.script.clone(),
                vars,
            });
            self.events.push_back(Event::Address(AddressChange {
                iface: c.iface,
                before: change.before.map(|l| l.address),
                after: change.after.map(|l| l.address),
                interface_down: false,
                script,
            }));
        }
        for change in sessions {
            let c = self.pppoe.clients[change.client].clone();
            let ends = |s: pppoe_client::Session| (s.local, (Gateway::Interface(c.iface), 32));
            let distance = c.add_default_route.then_some(c.default_route_distance);
            self.readdress(
                c.iface,
                c.line,
                change.before.map(ends),
                change.after.map(ends),
                distance,
            );
            self.set_interface_running(c.iface, change.after.is_some());
            let (which, source) = match change.after {
                Some(_) => ("on-up", &c.on_up),
                None => ("on-down", &c.on_down),
            };
            let s = change
                .after
                .or(change.before)
                .expect("a change has a session");
            let script = (!source.is_empty()).then(|| ScriptCall {
                name: format!("ppp profile {which} of {} (line {})", c.name, c.line),
                source: source.clone(),
                vars: vec![
                    ("user".to_string(), c.user.clone()),
                    ("local-address".to_string(), s.local.to_string()),
                    ("remote-address".to_string(), s.remote.to_string()),
                    ("interface".to_string(), c.name.clone()),
                ],
            });
            self.events.push_back(Event::Address(AddressChange {
                iface: c.iface,
                before: change.before.map(|s| s.local),
                after: change.after.map(|s| s.local),
                interface_down: change.after.is_none(),
                script,
            }));
        }
        self.reconfigure();
    }

    /// Replaces the address (and the default route, at `distance` if the client adds one) a
    /// client of `line` gave `iface`: `before` and `after` are the address with the route's
    /// gateway and the address's prefix length.
    fn readdress(
        &mut self,
        iface: IfaceId,
        line: u32,
        before: Option<(Ipv4Addr, (Gateway, u8))>,
        after: Option<(Ipv4Addr, (Gateway, u8))>,
        distance: Option<u8>,
    ) {
        let config = Arc::make_mut(&mut self.config);
        if let Some((old, _)) = before {
            config
                .addresses
                .retain(|a| !(a.iface == iface && a.address == old));
            // The client's own route carries its line (no /ip route has it).
            config
                .routes
                .retain(|r| r.line != line || r.prefix_len != 0);
        }
        if let Some((address, (gateway, prefix_len))) = after {
            config.addresses.push(config::Address {
                address,
                prefix_len,
                iface,
                line,
            });
            if let Some(distance) = distance {
                config
                    .routes
                    .push(Route::default_via(vec![gateway], distance, line));
            }
        }
        if before.is_some() && before.map(|b| b.0) != after.map(|a| a.0) {
            self.conntrack.flush_masquerade(iface);
        }
    }

    /// Sends an echo request of the router's own, from the address of the interface the
    /// routing table reaches `to` by; nothing if there is no way there.
    fn ping(&mut self, now: Time, to: Ipv4Addr, ident: u16, seq: u16) {
        let pkt = Packet::echo_request(Ipv4Addr::UNSPECIFIED, to, ident, seq);
        self.send_own(now, pkt);
    }

    /// Sends a packet of the router's own through the output path; without a source address
    /// it gets that of the interface `main` reaches its destination by.
    fn send_own(&mut self, now: Time, mut pkt: Packet) {
        if pkt.tuple.src.is_unspecified() {
            let Some(via) = self.fib.lookup(TableId::MAIN, pkt.tuple.dst) else {
                return;
            };
            let Some(a) = self.config.address_of(via.iface) else {
                return;
            };
            pkt.tuple.src = a.address;
        }
        if let Verdict::Forward(hop) = self.originate_traced(now, &mut pkt, &mut ()) {
            self.transmits.push_back((hop, pkt));
        }
    }

    /// Whether a classifier (PCC, `nth`) chose the connection mark of the connection of this
    /// tuple (as its first packet had it), rather than a rule that pins it.
    pub fn classified(&self, tuple: &FiveTuple) -> bool {
        self.conntrack
            .find(tuple)
            .is_some_and(|e| e.has(Flags::CLASSIFIED))
    }

    /// What, in the router, sent the connection of this tuple (as its first packet had it)
    /// out of another WAN than its address belongs to.
    pub fn moved(&self, tuple: &FiveTuple) -> Option<Moved> {
        self.conntrack.find(tuple).and_then(|e| e.moved)
    }

    /// Each gateway check-gateway watches, and whether it finds it reachable just now.
    pub fn checked_gateways(&self) -> impl Iterator<Item = (Ipv4Addr, bool)> + '_ {
        self.checks.gateways()
    }

    /// Whether check-gateway currently finds `gateway` (true for a gateway nobody checks).
    pub fn gateway_reachable(&self, gateway: Ipv4Addr) -> bool {
        self.checks.is_reachable(gateway)
    }

    /// An echo reply to the router: an answer to a check-gateway probe, perhaps.
    fn echo_reply(&mut self, now: Time, pkt: &Packet) {
        let (from, ident, seq) = (pkt.tuple.src, pkt.tuple.dst_port, pkt.seq as u16);
        let change = self.checks.on_reply(now, from, ident, seq);
        self.events
            .extend(self.checks.take_probed().map(Event::Probe));
        if let Some(c) = change {
            self.set_gateway_reachable(c.gateway, c.reachable);
            self.events.push_back(Event::Gateway(c));
        }
        let netwatch = self.netwatch.on_reply(now, from, ident, seq);
        self.events.extend(netwatch.map(Event::Netwatch));
    }

    pub fn receive(&mut self, now: Time, in_iface: IfaceId, pkt: &mut Packet) -> Verdict {
        self.receive_traced(now, in_iface, pkt, &mut ())
    }

    /// [`Router::receive`], telling `tracer` each step.
    pub fn receive_traced<T: Tracer>(
        &mut self,
        now: Time,
        in_iface: IfaceId,
        pkt: &mut Packet,
        tracer: &mut T,
    ) -> Verdict {
        let Some(cpu) = self.cpu.as_mut() else {
            return self.process(now, in_iface, pkt, tracer);
        };
        let Some(core) = cpu.admit(now, &pkt.tuple) else {
            return Verdict::Drop(DropReason::CpuBusy);
        };
        let (len, tracked) = (pkt.len, cpu::fasttrackable(pkt.tuple.protocol));
        let verdict = self.process(now, in_iface, pkt, tracer);
        let cpu = self.cpu.as_mut().expect("the CPU stays");
        let done = cpu.charge(now, core, self.work, len, tracked);
        if let Some(held) = self.outgoing.take() {
            cpu.hold(core, done, held);
        }
        verdict
    }

    /// What the router does with a packet that came in, whatever it costs.
    fn process<T: Tracer>(
        &mut self,
        now: Time,
        in_iface: IfaceId,
        pkt: &mut Packet,
        tracer: &mut T,
    ) -> Verdict {
        self.now = now;
        self.work = Work::default();
        // A DHCP server's answer goes to the client on that port, before the firewall (the
        // client listens on a raw socket, as Linux's does).
        if pkt.tuple.dst_port == dhcp_client::CLIENT_PORT && self.dhcp.serves(in_iface) {
            let mut sent = std::mem::take(&mut self.scratch.control_out);
            self.dhcp.on_packet(now, in_iface, pkt, &mut sent);
            (self.transmits).extend(sent.drain(..).map(|(iface, pkt)| (direct(iface), pkt)));
            self.scratch.control_out = sent;
            self.apply_addresses();
            return Verdict::Local;
        }
        // So does a PPPoE concentrator's frame, to the session's client.
        if pkt.tuple.dst_port == pppoe_client::DISCOVERY_PORT && self.pppoe.serves(in_iface) {
            self.pppoe.on_packet(now, in_iface, pkt);
            self.apply_addresses();
            return Verdict::Local;
        }
        let (id, dir, new) = match self.track(now, pkt, tracer) {
            Ok(tracked) => tracked,
            Err(Untracked::TableFull) => return Verdict::Drop(DropReason::ConntrackFull),
            Err(Untracked::Invalid) => return self.receive_invalid(now, in_iface, pkt, tracer),
        };
        self.work.new = new;
        let entry = self.conntrack.get(id);
        if entry.has(Flags::FASTTRACKED) {
            return self.fast_path(now, id, dir, in_iface, pkt);
        }
        let mut ctx = packet_ctx(now, pkt, Some(in_iface), entry, dir, new);

        self.run_chain(Which::Mangle, PREROUTING, &mut ctx, tracer);
        self.store_mark(id, &ctx);

        if new
            && let ChainVerdict::DstNat(to, port) =
                self.run_chain(Which::Nat, DSTNAT, &mut ctx, tracer)
        {
            nat::map_destination(&mut self.conntrack, id, to, port);
            ctx.nat |= NatState::DSTNAT;
        }
        nat::translate_destination(&self.conntrack, id, dir, pkt);
        ctx.tuple = pkt.tuple;

        if self.env.local_addresses.contains(&pkt.tuple.dst) {
            self.run_chain(Which::Mangle, INPUT, &mut ctx, tracer);
            let verdict = self.run_chain(Which::Filter, INPUT, &mut ctx, tracer);
            self.conntrack.update(now, id, dir, pkt);
            if verdict == ChainVerdict::Drop {
                return Verdict::Drop(DropReason::Filtered);
            }
            if pkt.is_echo_reply() {
                self.echo_reply(now, pkt);
            } else if let Some(reply) = self.dns.on_local(pkt) {
                self.send_own(now, reply);
            }
            return Verdict::Local;
        }

        let hop = self.route(now, ctx.routing_mark, &pkt.tuple);
        tracer.routed(ctx.routing_mark, hop.map(|(h, _)| h));
        let Some((hop, multipath)) = hop else {
            return Verdict::Drop(DropReason::NoRoute);
        };
        if !new {
            let entry = self.conntrack.get(id);
            let why = if entry.has(Flags::REMARKED) {
                Some(Moved::Remarked)
            } else {
                multipath.then_some(Moved::Ecmp)
            };
            self.note_path(id, hop, why);
        }
        ctx.out_iface = Some(hop.iface);

        self.run_chain(Which::Mangle, FORWARD, &mut ctx, tracer);
        match self.run_chain(Which::Filter, FORWARD, &mut ctx, tracer) {
            ChainVerdict::Drop => return Verdict::Drop(DropReason::Filtered),
            ChainVerdict::Fasttrack if !new => {
                self.conntrack.get_mut(id).set(Flags::FASTTRACKED, true)
            }
            _ => {}
        }
        self.leave(now, (id, dir, new), hop, &mut ctx, pkt, tracer)
    }

    /// A packet connection tracking calls invalid: it has no entry, so no connection mark and
    /// no NAT; the firewall sees `connection-state=invalid` (where the usual `drop invalid`
    /// rules catch it), mangle may still routing-mark it, and it is routed as it is.
    fn receive_invalid<T: Tracer>(
        &mut self,
        now: Time,
        in_iface: IfaceId,
        pkt: &mut Packet,
        tracer: &mut T,
    ) -> Verdict {
        let mut ctx = Ctx {
            tuple: pkt.tuple,
            len: pkt.len,
            in_iface: Some(in_iface),
            out_iface: None,
            connection_mark: ConnMark::NONE,
            classified: false,
            routing_mark: TableId::MAIN,
            state: ConnStates::INVALID,
            nat: 0,
            flags: pkt.flags,
            packet_mark: 0,
            connection_bytes: 0,
            now,
        };
        self.run_chain(Which::Mangle, PREROUTING, &mut ctx, tracer);
        if self.env.local_addresses.contains(&pkt.tuple.dst) {
            self.run_chain(Which::Mangle, INPUT, &mut ctx, tracer);
            return match self.run_chain(Which::Filter, INPUT, &mut ctx, tracer) {
                ChainVerdict::Drop => Verdict::Drop(DropReason::Filtered),
                _ => Verdict::Local,
            };
        }
        let hop = self.route(now, ctx.routing_mark, &pkt.tuple);
        tracer.routed(ctx.routing_mark, hop.map(|(h, _)| h));
        let Some((hop, _)) = hop else {
            return Verdict::Drop(DropReason::NoRoute);
        };
        ctx.out_iface = Some(hop.iface);
        self.run_chain(Which::Mangle, FORWARD, &mut ctx, tracer);
        if self.run_chain(Which::Filter, FORWARD, &mut ctx, tracer) == ChainVerdict::Drop {
            return Verdict::Drop(DropReason::Filtered);
        }
        self.run_chain(Which::Mangle, POSTROUTING, &mut ctx, tracer);
        Verdict::Forward(hop)
    }

    /// A packet the router itself sends (a reply from its own services, a ping): connection
    /// tracking, mangle output (where routing marks for its own traffic are set), the routing
    /// decision, mangle postrouting and src-nat.
    pub fn originate_traced<T: Tracer>(
        &mut self,
        now: Time,
        pkt: &mut Packet,
        tracer: &mut T,
    ) -> Verdict {
        // The router's own packets are pings and DNS: never invalid TCP.
        let Ok((id, dir, new)) = self.track(now, pkt, tracer) else {
            return Verdict::Drop(DropReason::ConntrackFull);
        };
        let entry = self.conntrack.get(id);
        let mut ctx = packet_ctx(now, pkt, None, entry, dir, new);
        self.run_chain(Which::Mangle, OUTPUT, &mut ctx, tracer);
        self.store_mark(id, &ctx);
        nat::translate_destination(&self.conntrack, id, dir, pkt);
        let hop = self
            .route(now, ctx.routing_mark, &pkt.tuple)
            .map(|(h, _)| h);
        tracer.routed(ctx.routing_mark, hop);
        let Some(hop) = hop else {
            return Verdict::Drop(DropReason::NoRoute);
        };
        ctx.out_iface = Some(hop.iface);
        self.leave(now, (id, dir, new), hop, &mut ctx, pkt, tracer)
    }

    /// The routing decision, with ECMP's choice where the route has several next hops; says
    /// whether it was such a choice.
    fn route(&mut self, now: Time, table: TableId, tuple: &FiveTuple) -> Option<(Hop, bool)> {
        let hop = self.fib.lookup(table, tuple.dst)?;
        Some(match self.fib.multipath(&hop) {
            Some(hops) => (self.ecmp.choose(now, tuple, hops), true),
            None => (hop, false),
        })
    }

    /// Keeps the connection mark the mangle chains left on the connection's entry, noting
    /// when it replaces an earlier one.
    fn store_mark(&mut self, id: u32, ctx: &Ctx) {
        let e = self.conntrack.get_mut(id);
        if e.connection_mark != ctx.connection_mark {
            if e.connection_mark != ConnMark::NONE {
                e.set(Flags::REMARKED, true);
            }
            e.set(Flags::CLASSIFIED, ctx.classified);
        }
        e.connection_mark = ctx.connection_mark;
    }

    /// Notes `why` on a connection whose packet leaves by another interface than the one its
    /// masquerade address belongs to.
    fn note_path(&mut self, id: u32, hop: Hop, why: Option<Moved>) {
        let e = self.conntrack.get_mut(id);
        if let SrcNat::Masquerade(iface) = e.src_nat
            && iface != hop.iface
            && e.moved.is_none()
        {
            e.moved = why;
        }
    }

    /// The way out, shared by forwarded packets and the router's own: mangle postrouting,
    /// src-nat for a connection's first packet, and the NAT its entry holds.
    fn leave<T: Tracer>(
        &mut self,
        now: Time,
        (id, dir, new): (u32, Dir, bool),
        hop: Hop,
        ctx: &mut Ctx,
        pkt: &mut Packet,
        tracer: &mut T,
    ) -> Verdict {
        self.run_chain(Which::Mangle, POSTROUTING, ctx, tracer);
        self.store_mark(id, ctx);
        if new {
            self.source_nat(id, hop.iface, ctx, tracer);
        } else if dir == Dir::Original && self.forgets_moved_masquerade {
            let e = self.conntrack.get(id);
            if let SrcNat::Masquerade(iface) = e.src_nat
                && iface != hop.iface
            {
                let why = e.moved;
                self.conntrack.remove(id);
                return Verdict::Drop(DropReason::OutInterfaceChanged { to: hop.iface, why });
            }
        }
        let lan_side = pkt.tuple;
        nat::translate_source(&self.conntrack, id, dir, pkt);
        self.conntrack.update(now, id, dir, pkt);
        match ctx.in_iface {
            Some(in_iface) if self.holds_packets() => {
                let held = Held::new(*pkt, hop, in_iface, lan_side);
                self.send_on(now, held.marked(ctx.packet_mark, false))
            }
            _ => Verdict::Forward(hop),
        }
    }

    /// Runs the srcnat chain for a connection's first packet and records the mapping it chooses.
    fn source_nat<T: Tracer>(&mut self, id: u32, out: IfaceId, ctx: &mut Ctx, tracer: &mut T) {
        let (to, kind) = match self.run_chain(Which::Nat, SRCNAT, ctx, tracer) {
            ChainVerdict::Masquerade => match self.config.address_of(out) {
                Some(a) => (a.address, SrcNat::Masquerade(out)),
                None => return,
            },
            ChainVerdict::SrcNat(to) => (to, SrcNat::Static),
            _ => return,
        };
        nat::map_source(&mut self.conntrack, id, to);
        self.conntrack.get_mut(id).src_nat = kind;
    }

    /// The connection a packet belongs to — started if this is its first packet — as (entry,
    /// direction, new), or why it has none.
    fn track<T: Tracer>(
        &mut self,
        now: Time,
        pkt: &Packet,
        tracer: &mut T,
    ) -> Result<(u32, Dir, bool), Untracked> {
        let found = match self.conntrack.lookup(now, &pkt.tuple) {
            Some((id, dir)) => (id, dir, false),
            None => match self.conntrack.create(now, pkt) {
                Ok(id) => (id, Dir::Original, true),
                Err(why) => {
                    tracer.untracked(why);
                    return Err(why);
                }
            },
        };
        tracer.conntrack(found.0, found.1, found.2);
        Ok(found)
    }

    /// A FastTracked packet: NAT from the entry, routing by `main`, no firewall.
    fn fast_path(
        &mut self,
        now: Time,
        id: u32,
        dir: Dir,
        in_iface: IfaceId,
        pkt: &mut Packet,
    ) -> Verdict {
        self.work.fast = true;
        nat::translate_destination(&self.conntrack, id, dir, pkt);
        let Some((hop, _)) = self.route(now, TableId::MAIN, &pkt.tuple) else {
            return Verdict::Drop(DropReason::NoRoute);
        };
        self.note_path(id, hop, Some(Moved::Fasttrack));
        let lan_side = pkt.tuple;
        nat::translate_source(&self.conntrack, id, dir, pkt);
        self.conntrack.update(now, id, dir, pkt);
        if !self.holds_packets() {
            return Verdict::Forward(hop);
        }
        let held = Held::new(*pkt, hop, in_iface, lan_side).marked(0, true);
        self.send_on(now, held)
    }

    /// Whether a forwarded packet may be held on its way out: by its CPU or a queue.
    fn holds_packets(&self) -> bool {
        self.cpu.is_some() || !self.queues.is_empty()
    }

    /// A forwarded packet on its way out of `held.hop.iface`: to its CPU, which hands it to the
    /// queues once done with it; or, without a CPU model, to the queues now.
    fn send_on(&mut self, now: Time, held: Held) -> Verdict {
        if self.cpu.is_some() {
            self.work.queues = u32::from(!self.queues.is_empty());
            self.outgoing = Some(held);
            return Verdict::Queued;
        }
        match self.queues.offer(now, held) {
            Offer::Pass => Verdict::Forward(held.hop),
            Offer::Held => Verdict::Queued,
            Offer::Dropped => Verdict::Drop(DropReason::QueueFull),
        }
    }

    /// Forgets connections whose timeouts have passed. Call it now and then (once a second).
    pub fn expire(&mut self, now: Time) -> usize {
        self.conntrack.expire(now)
    }

    /// A WAN interface lost link: its routes go inactive and masqueraded connections through it
    /// are forgotten.
    pub fn set_interface_running(&mut self, iface: IfaceId, running: bool) {
        self.fib.set_interface_running(iface, running);
        self.ecmp.routes_changed();
        if !running {
            self.conntrack.flush_masquerade(iface);
        }
    }

    pub fn set_gateway_reachable(&mut self, gateway: Ipv4Addr, reachable: bool) {
        self.fib.set_gateway_reachable(gateway, reachable);
        self.ecmp.routes_changed();
    }

    /// A copy with the same configuration and routing state and an empty connection table, for
    /// tracing what-ifs without disturbing this router.
    pub fn clone_for_trace(&self) -> Router {
        Router {
            config: Arc::clone(&self.config),
            counts: RuleCounts::new(&self.config),
            conntrack: Conntrack::new(self.config.conntrack.clone()),
            fib: self.fib.clone(),
            ecmp: self.ecmp.clone(),
            env: self.env.clone(),
            checks: self.checks.clone(),
            netwatch: self.netwatch.clone(),
            scheduler: self.scheduler.clone(),
            dns: Dns::new(self.config.dns.clone()),
            dhcp: self.dhcp.clone(),
            pppoe: self.pppoe.clone(),
            scratch: Scratch::default(),
            transmits: VecDeque::new(),
            queues: Queues::new(QueueSetup::from_config(&self.config)),
            // A trace walks one packet at a time: no CPU holds it.
            cpu: None,
            work: Work::default(),
            outgoing: None,
            ready: VecDeque::new(),
            events: VecDeque::new(),
            now: self.now,
            forgets_moved_masquerade: self.forgets_moved_masquerade,
        }
    }

    /// The interface LAN connections with `mark` leave by: through the prerouting rule that
    /// routing-marks them and the default route of that table.
    pub fn wan_of_mark(&self, mark: ConnMark) -> Option<IfaceId> {
        self.hop_of_mark(mark).map(|h| h.iface)
    }

    /// The hop of the default route LAN connections with `mark` take.
    pub fn hop_of_mark(&self, mark: ConnMark) -> Option<Hop> {
        use self::firewall::{Action, Match};
        let table = self.config.mangle.rules.iter().find_map(|r| {
            let marks_this = r
                .matchers
                .iter()
                .any(|m| !m.negate && m.kind == Match::ConnectionMark(mark));
            match r.action {
                Action::MarkRouting(t) if !r.disabled && r.chain == PREROUTING && marks_this => {
                    Some(t)
                }
                _ => None,
            }
        })?;
        self.fib.lookup_in(table, Ipv4Addr::new(1, 1, 1, 1))
    }
}

/// What the matchers see of a packet: `connection-state` is `new` until a reply has been seen.
fn packet_ctx(
    now: Time,
    pkt: &Packet,
    in_iface: Option<IfaceId>,
    entry: &Entry,
    dir: Dir,
    new: bool,
) -> Ctx {
    let state = if new || (dir == Dir::Original && !entry.has(Flags::SEEN_REPLY)) {
        ConnStates::NEW
    } else {
        ConnStates::ESTABLISHED
    };
    Ctx {
        tuple: pkt.tuple,
        len: pkt.len,
        in_iface,
        out_iface: None,
        connection_mark: entry.connection_mark,
        classified: entry.has(Flags::CLASSIFIED),
        routing_mark: TableId::MAIN,
        state,
        nat: nat_state(entry),
        flags: pkt.flags,
        packet_mark: 0,
        connection_bytes: entry.bytes[0] + entry.bytes[1],
        now,
    }
}

fn nat_state(entry: &Entry) -> u8 {
    let mut bits = 0;
    if entry.src_nat != SrcNat::None {
        bits |= NatState::SRCNAT;
    }
    if entry.has(Flags::DST_NAT) {
        bits |= NatState::DSTNAT;
    }
    bits
}

/// Puts on their lists the addresses a walk's rules added (rare: kept out of the walk's way).
#[cold]
fn add_to_lists(additions: &mut Vec<firewall::ListAddition>, env: &mut Env) {
    for add in additions.drain(..) {
        env.add_dynamic(add);
    }
}

/// A packet sent straight out of an interface (a broadcast, a DHCP message), routed by nothing.
fn direct(iface: IfaceId) -> Hop {
    Hop {
        iface,
        gateway: None,
        route: u32::MAX,
        multipath: false,
    }
}

/// Configured routes plus one connected route per address, in `main`.
fn all_routes(config: &RouterConfig) -> Vec<Route> {
    let mut routes = config.routes.clone();
    for a in &config.addresses {
        let mask = crate::router::routing::prefix_mask(a.prefix_len);
        routes.push(Route {
            dst: Ipv4Addr::from(u32::from(a.address) & mask),
            prefix_len: a.prefix_len,
            gateways: vec![Gateway::Interface(a.iface)],
            distance: 0,
            table: TableId::MAIN,
            check_gateway: None,
            scope: 10,
            target_scope: 0,
            disabled: false,
            connected: true,
            line: a.line,
            comment: None,
        });
    }
    routes
}

fn build_env(config: &RouterConfig) -> Env {
    let mut lists = vec![Vec::new(); config.address_lists.len()];
    for e in config.address_list_entries.iter().filter(|e| !e.disabled) {
        lists[e.list as usize].push(e.range);
    }
    let mut iface_addresses = vec![None; config.interfaces.len()];
    for a in config.addresses.iter().rev() {
        iface_addresses[a.iface as usize] = Some(a.address);
    }
    Env {
        local_addresses: config.addresses.iter().map(|a| a.address).collect(),
        iface_addresses,
        address_lists: lists,
        dynamic_lists: Vec::new(),
        interface_lists: config
            .interface_lists
            .iter()
            .map(|l| config.interface_list_members(l))
            .collect(),
    }
}
