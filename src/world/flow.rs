//! A simulated connection from both ends: the LAN host that opens it and the internet server that
//! answers. Like the router, a flow is driven by `(now, packet)` and timer calls and pushes the
//! packets it wants sent into an outbox; the engine carries them.
//!
//! Each end checks what a real stack checks: the server knows its client by the address and port
//! the first packet came from and drops anything else (so a connection whose NAT address changes
//! mid-way breaks), and the host accepts only replies from the server it called. A flow ends
//! `Completed` when the client has everything it asked for, or `Broken` with the cause of the
//! last fault seen on its packets.

use crate::packet::{FiveTuple, Packet, TcpFlags};
use crate::units::{MS, SEC, Time};
use crate::world::quality::Reception;
use crate::world::tcp::{Ack, AckNow, INITIAL_RTO, Receiver, Segment, Sender};
use crate::world::workload::{Connection, ConnectionKind};
use std::net::Ipv4Addr;

/// Why a connection broke (or what was last done to its packets). Names are the JSON keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Cause {
    /// The router sent a reply to a LAN host out of a WAN (a routing mark caught the reply).
    ReplySentOutWan,
    /// The server saw the connection's packets arrive from a different public address or port,
    /// or they left by another WAN with the old mapping (a failover) and that ISP dropped them.
    NatAddressChanged,
    /// A packet left a WAN with a source address that ISP did not assign (no NAT, or another
    /// WAN's address), and the ISP dropped it.
    WrongSourceAddress,
    NoRoute,
    ConntrackFull,
    Filtered,
    /// Its WAN's address changed (a DHCP lease renumbered or lost), so the router forgot its
    /// NAT and its next packets left with the new address, which the server does not know.
    AddressChanged,
    /// Sent into a dead path (a link down, a gateway or upstream that forwards nothing) until
    /// it gave up.
    Blackholed,
    /// Its conntrack entry was flushed when its WAN's interface went down, so its next packets
    /// were NATed afresh, to another address.
    WanDownFlush,
    /// It was opened on a backup WAN during an outage and moved back with that WAN's address
    /// when the first WAN returned.
    Failback,
    /// FastTrack took it out of the firewall, so its packets lost their routing mark, followed
    /// `main` out of another WAN with the first one's NAT address, and that ISP dropped them.
    FasttrackMisroute,
    /// A mangle rule gave it another connection mark mid-way (`nth` or PCC without the
    /// `connection-mark=no-mark` guard), so its packets left by another WAN with the first
    /// one's NAT address, and that ISP dropped them.
    ConnectionRemarked,
    /// ECMP sent it by another gateway than its first packets took (v6: the routing cache was
    /// flushed; v7: the next hops changed), with the first one's NAT address.
    EcmpMoved,
    /// A port forward's reply left by another WAN than the client came in by, with the first
    /// WAN's address, and that ISP dropped it (what incoming-mark rules prevent).
    InboundReplyMisrouted,
    /// An IP-sensitive service (a bank) refused it: it came from another public address than
    /// the session's first connection.
    IpAffinity,
    /// Nothing but congestion or random loss went wrong: the retries ran out.
    Timeout,
}

impl Cause {
    /// Every cause, in the order of the enum (`cause as usize` indexes this).
    pub const ALL: [Cause; 16] = [
        Cause::ReplySentOutWan,
        Cause::NatAddressChanged,
        Cause::WrongSourceAddress,
        Cause::NoRoute,
        Cause::ConntrackFull,
        Cause::Filtered,
        Cause::AddressChanged,
        Cause::Blackholed,
        Cause::WanDownFlush,
        Cause::Failback,
        Cause::FasttrackMisroute,
        Cause::ConnectionRemarked,
        Cause::EcmpMoved,
        Cause::InboundReplyMisrouted,
        Cause::IpAffinity,
        Cause::Timeout,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Cause::ReplySentOutWan => "reply-sent-out-wan",
            Cause::NatAddressChanged => "nat-address-changed",
            Cause::WrongSourceAddress => "wrong-source-address",
            Cause::NoRoute => "no-route",
            Cause::ConntrackFull => "conntrack-full",
            Cause::Filtered => "filtered",
            Cause::AddressChanged => "address-changed",
            Cause::Blackholed => "blackholed",
            Cause::WanDownFlush => "wan-down-flush",
            Cause::Failback => "failback",
            Cause::FasttrackMisroute => "fasttrack-misroute",
            Cause::ConnectionRemarked => "connection-remarked",
            Cause::EcmpMoved => "ecmp-moved",
            Cause::InboundReplyMisrouted => "inbound-reply-misrouted",
            Cause::IpAffinity => "ip-affinity",
            Cause::Timeout => "timeout",
        }
    }
}

impl Cause {
    pub fn from_name(name: &str) -> Option<Cause> {
        Cause::ALL.into_iter().find(|c| c.name() == name)
    }

    /// What happened to such a connection, and what usually prevents it: the glossary the
    /// reports print beside the counts.
    pub fn explain(self) -> (&'static str, &'static str) {
        match self {
            Cause::ReplySentOutWan => (
                "the router sent a reply meant for a LAN host out of a WAN: a routing mark caught the reply",
                "mark routing only for packets in from the LAN (in-interface=LAN in the prerouting mark-routing rules)",
            ),
            Cause::NatAddressChanged => (
                "its packets left by another WAN than its first, so the server saw another public address (or that ISP dropped them)",
                "keep a connection on its WAN: connection marks set once (connection-mark=no-mark) and routing by them; after a failover this is expected",
            ),
            Cause::WrongSourceAddress => (
                "a packet left a WAN with a source address that ISP did not assign, and the ISP dropped it",
                "masquerade (or src-nat) on every WAN: one rule per out-interface",
            ),
            Cause::NoRoute => (
                "the router had no route for it",
                "a default route in every routing table a mark names, with a fallback",
            ),
            Cause::ConntrackFull => (
                "the connection table was full, so the router refused new connections",
                "raise /ip firewall connection tracking max-entries or shorten its timeouts",
            ),
            Cause::Filtered => (
                "a filter rule dropped or rejected it",
                "see which filter rule (pccsim trace) and whether it was meant to",
            ),
            Cause::AddressChanged => (
                "its WAN's address changed (a DHCP or PPPoE renumbering), so its NAT mapping went",
                "nothing on the router: the ISP renumbered; long-lived sessions reconnect",
            ),
            Cause::Blackholed => (
                "it was sent into a dead path (a link, gateway or upstream down) until it gave up",
                "detect the failure sooner: check-gateway=ping on the routes, or netwatch/recursive routes for failures beyond the gateway",
            ),
            Cause::WanDownFlush => (
                "its WAN's interface went down, which flushed its conntrack entry; its next packets were NATed afresh",
                "expected when a link fails: the connection reconnects",
            ),
            Cause::Failback => (
                "opened on a backup WAN during an outage, it was moved back with the backup's address when the first WAN returned",
                "expected at failback; to keep such connections, route marked connections by their own mark (a table per WAN)",
            ),
            Cause::FasttrackMisroute => (
                "FastTrack took it out of the firewall, so its packets lost their routing mark and left by another WAN with the first one's address",
                "add connection-mark=no-mark to the fasttrack-connection rule, or disable FastTrack with PCC",
            ),
            Cause::ConnectionRemarked => (
                "a mangle rule gave it another connection mark mid-way, so its packets moved to another WAN",
                "connection-mark=no-mark on every PCC or nth rule",
            ),
            Cause::EcmpMoved => (
                "ECMP sent it by another gateway than its first packets took, with the first one's address",
                "use PCC rather than ECMP, or (v7) a hash policy that keeps a connection on one path",
            ),
            Cause::InboundReplyMisrouted => (
                "a port forward's reply left by another WAN than the client came in by",
                "mark incoming connections per WAN (in-interface=WAN) and route their replies by that mark",
            ),
            Cause::IpAffinity => (
                "an IP-sensitive service (a bank) refused it: it came from another public address than the session's first connection",
                "a classifier that keeps a host's connections on one WAN (src-address or both-addresses), not ports",
            ),
            Cause::Timeout => (
                "nothing but congestion or random loss: its retries ran out",
                "more capacity or less loss on its WAN",
            ),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    Broken(Cause),
}

/// Which end a packet is sent from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Host,
    Server,
}

/// Packets a flow sends: from which end, and when each leaves (now, or later when paced).
pub type Outbox = Vec<(Side, Packet, Time)>;

#[derive(Clone, Debug)]
pub struct Flow {
    pub id: u32,
    pub host: u32,
    pub server: u32,
    pub app: u16,
    /// The application session it belongs to ([`crate::world::session::NONE`]: none).
    pub session: u32,
    /// As the host sends it: host address and port → server address and port.
    pub tuple: FiveTuple,
    /// The address and port the server saw the first packet come from (after NAT).
    pub peer: Option<(Ipv4Addr, u16)>,
    /// The address and port the server was reached at: the destination, or for a port
    /// forward the LAN server the router sent it to.
    local: Option<(Ipv4Addr, u16)>,
    /// A client on the internet connecting to a server on the LAN (a port forward): the
    /// transport's host end is on the internet, its server end on the LAN.
    pub inbound: bool,
    pub started: Time,
    /// The WAN its first packet left by, and how many later packets left by another.
    pub wan: Option<u8>,
    /// Bytes on the wire that reached the server (up) and the host (down).
    pub bytes_up: u64,
    pub bytes_down: u64,
    pub fault: Option<Cause>,
    /// Its conntrack entry was flushed (a WAN went down, its address changed): if it breaks,
    /// that is why.
    pub flushed: Option<Cause>,
    /// A classifier (PCC, `nth`) chose its WAN, rather than a rule that pins it.
    pub classified: bool,
    pub outcome: Option<Outcome>,
    /// When the engine's pending timer event for this flow fires (`Time::MAX`: none).
    pub timer_at: Time,
    transport: Transport,
}

#[derive(Clone, Debug)]
enum Transport {
    Tcp(Box<TcpConn>),
    UdpExchange {
        request: u32,
        response: u32,
        tries: u8,
        deadline: Time,
    },
    /// A constant-rate stream: its k-th datagram each way leaves at `started + k × interval`.
    UdpStream {
        /// Payload bytes (a datagram's at most: 16 bits keep the flow within 128 bytes).
        packet: u16,
        interval: Time,
        until: Time,
        /// When the host and the server last heard the other, in ms after the start: either
        /// end hearing nothing for a while ends the stream (one-way media is no call) — or,
        /// for a persistent one, is time it was dead.
        heard_ms: [u32; 2],
        sent: u32,
        /// What it keeps beyond its schedule, where wanted (a million quiet streams keep
        /// nothing: they would carry 80 bytes each for nothing).
        log: Option<Box<StreamLog>>,
    },
}

/// A call's receptions at the host and at the server, for its MOS; or a persistent stream's
/// dead time: in all, the longest stretch, and the stretch under way.
#[derive(Clone, Debug)]
enum StreamLog {
    Call([Reception; 2]),
    Persistent {
        dead: Time,
        longest: Time,
        run: Time,
    },
}

#[derive(Clone, Debug)]
struct TcpConn {
    /// SYN retransmissions so far, and when the next is due while unanswered.
    syn_tries: u8,
    syn_deadline: Option<Time>,
    established: bool,
    /// The host sends the request and receives the response; the server the other way.
    host: End,
    server: End,
    response_started: bool,
    /// After the host sent its FIN: until when it waits for the server's, to close both ways
    /// as Linux ends do (conntrack then walks LAST_ACK and TIME_WAIT).
    fin_wait: Option<Time>,
}

/// One end of a TCP connection, the host's or the server's alike: what it sends and what it
/// has received, and how it takes a segment or a timer. The roles differ only in when an end
/// starts sending and how it closes ([`client_tcp`], [`server_tcp`]).
#[derive(Clone, Debug)]
struct End {
    tx: Sender,
    rx: Receiver,
}

/// Where an end's packets come from: its side, the tuple it sends with, the flow.
type From = (Side, FiveTuple, u32);

impl End {
    /// Takes a segment's data; whether an ACK is owed at once.
    fn receive(&mut self, now: Time, pkt: &Packet) -> bool {
        let push = pkt.flags.has(TcpFlags::PSH);
        pkt.payload > 0 && self.rx.on_segment(now, pkt.seq, pkt.payload, push) == AckNow::Yes
    }

    /// Sends its data from the start; whether it sent any.
    fn transmit(&mut self, now: Time, (side, tuple, id): From, out: &mut Outbox) -> bool {
        let (rx, mut sent) = (&mut self.rx, false);
        self.tx.transmit(now, &mut |s| {
            sent = true;
            out.push((side, data(tuple, id, s, rx.ack()), s.at));
        });
        sent
    }

    /// The other end's ACK moves the sender on; whether it sent data.
    fn acked(
        &mut self,
        now: Time,
        pkt: &Packet,
        (side, tuple, id): From,
        out: &mut Outbox,
    ) -> bool {
        let (rx, mut sent) = (&mut self.rx, false);
        self.tx.on_ack(now, ack_of(pkt), &mut |s| {
            sent = true;
            out.push((side, data(tuple, id, s, rx.ack()), s.at));
        });
        sent
    }

    /// Sends, now, the ACK it owes, alone.
    fn ack_alone(&mut self, now: Time, (side, tuple, id): From, out: &mut Outbox) {
        let pure = ack_only(tuple, id, self.tx.nxt, self.rx.ack(), TcpFlags::default());
        out.push((side, pure, now));
    }

    /// Its due timers: the sender's retransmission, the delayed ACK. False when it gives up.
    fn timers(&mut self, now: Time, from: From, out: &mut Outbox) -> bool {
        let mut alive = true;
        if self.tx.deadline().is_some_and(|d| d <= now) {
            let (side, tuple, id) = from;
            let rx = &mut self.rx;
            alive = self.tx.on_timer(now, &mut |s| {
                out.push((side, data(tuple, id, s, rx.ack()), s.at));
            });
        }
        if self.rx.ack_due.is_some_and(|d| d <= now) {
            self.ack_alone(now, from, out);
        }
        alive
    }
}

/// How long a host that sent its FIN waits for the server's before it forgets the connection.
const FIN_LINGER: Time = 10 * SEC;

/// SYNs are retried this many times (1 s, 2 s, 4 s … 32 s: Linux's `tcp_syn_retries`), then
/// the host gives up, 127 s after the first.
const SYN_RETRIES: u8 = 6;
/// A UDP stream with nothing heard for this long is considered dead — or for three of its
/// intervals, if they are longer (a keepalive every 25 s is not dead after 5 s).
const STREAM_SILENCE: Time = 5 * SEC;
const STREAM_MISSED_INTERVALS: Time = 3;
/// Largest UDP payload in one datagram.
const MAX_DATAGRAM: u32 = 1472;

impl Flow {
    pub fn new(id: u32, host: u32, tuple: FiveTuple, conn: &Connection, now: Time) -> Flow {
        let transport = match conn.kind {
            ConnectionKind::Tcp {
                request,
                response,
                congestion,
            } => Transport::Tcp(Box::new(TcpConn {
                syn_tries: 0,
                syn_deadline: None,
                established: false,
                host: End {
                    tx: Sender::new(request, congestion, false),
                    rx: Receiver::default(),
                },
                // Servers pace what they send, as Linux's `fq` qdisc does.
                server: End {
                    tx: Sender::new(response, congestion, true),
                    rx: Receiver::default(),
                },
                response_started: false,
                fin_wait: None,
            })),
            ConnectionKind::UdpExchange { request, response } => Transport::UdpExchange {
                request: request.min(MAX_DATAGRAM),
                response: response.min(MAX_DATAGRAM),
                tries: 0,
                deadline: Time::MAX,
            },
            ConnectionKind::UdpStream {
                packet,
                interval,
                until,
                quality,
                persistent,
            } => Transport::UdpStream {
                packet: packet.min(MAX_DATAGRAM) as u16,
                interval,
                until,
                heard_ms: [0; 2],
                sent: 0,
                log: match (quality, persistent) {
                    (true, _) => Some(Box::new(StreamLog::Call(Default::default()))),
                    (false, true) => Some(Box::new(StreamLog::Persistent {
                        dead: 0,
                        longest: 0,
                        run: 0,
                    })),
                    (false, false) => None,
                },
            },
        };
        Flow {
            id,
            host,
            server: conn.server,
            app: conn.app,
            session: crate::world::session::NONE,
            tuple,
            peer: None,
            local: None,
            inbound: false,
            started: now,
            wan: None,
            bytes_up: 0,
            bytes_down: 0,
            fault: None,
            flushed: None,
            classified: false,
            outcome: None,
            timer_at: Time::MAX,
            transport,
        }
    }

    /// The LAN host whose connection it is (`None` for a port forward's, whose client is on
    /// the internet).
    pub fn lan_host(&self) -> Option<u32> {
        (!self.inbound).then_some(self.host)
    }

    /// The flow of a client on the internet reaching a server on the LAN (a port forward).
    /// That server's segments are not paced: they leave on the LAN cable as sent.
    pub fn into_inbound(mut self) -> Flow {
        self.inbound = true;
        if let Transport::Tcp(c) = &mut self.transport {
            c.server.tx.unpace();
        }
        self
    }

    /// An RTT one of the connection's TCP senders measured since the last call.
    pub fn take_rtt_sample(&mut self) -> Option<Time> {
        match &mut self.transport {
            Transport::Tcp(c) => {
                (c.host.tx.take_rtt_sample()).or_else(|| c.server.tx.take_rtt_sample())
            }
            _ => None,
        }
    }

    /// The host opens the connection.
    pub fn open(&mut self, now: Time, out: &mut Outbox) {
        let first = self.first_packet();
        match &mut self.transport {
            Transport::Tcp(c) => {
                c.syn_tries = 0;
                c.syn_deadline = Some(now + INITIAL_RTO);
                out.push((Side::Host, first, now));
            }
            Transport::UdpExchange {
                tries, deadline, ..
            } => {
                *tries = 1;
                *deadline = now + SEC;
                out.push((Side::Host, first, now));
            }
            Transport::UdpStream { .. } => self.stream_tick(now, out),
        }
    }

    /// Whether the flow, though it has its outcome, still closes: a host that sent its FIN
    /// waits for the server's.
    pub fn lingers(&self) -> bool {
        matches!(&self.transport, Transport::Tcp(c) if c.fin_wait.is_some())
    }

    /// The fault that holds this open flow back at `now`, if one does: a packet of it met a
    /// fault and it has made no progress since — its SYN or request is being retried, an end
    /// is in retransmission timeouts, or a stream has heard nothing for two seconds. A run
    /// that ends before such a flow gives up counts it as stalled rather than not at all.
    pub fn stalled(&self, now: Time) -> Option<Cause> {
        let fault = self.fault?;
        let stuck = match &self.transport {
            Transport::Tcp(c) => {
                (!c.established && c.syn_tries > 0)
                    || c.host.tx.retries > 0
                    || c.server.tx.retries > 0
            }
            Transport::UdpExchange { tries, .. } => *tries > 1,
            Transport::UdpStream { heard_ms, .. } => {
                let heard = self.started + *heard_ms.iter().min().expect("two ends") as Time * MS;
                now.saturating_sub(heard) > 2 * crate::units::SEC
            }
        };
        stuck.then_some(fault)
    }

    /// The packet this flow would start with: for asking the router where it would go now.
    pub fn first_packet(&self) -> Packet {
        match &self.transport {
            Transport::Tcp(_) => syn(self.tuple, self.id),
            Transport::UdpExchange { request, .. } => Packet::udp(self.tuple, self.id, 0, *request),
            Transport::UdpStream { packet, .. } => {
                Packet::udp(self.tuple, self.id, 1, *packet as u32)
            }
        }
    }

    /// The earliest moment a timer of this flow is due.
    pub fn next_deadline(&self) -> Option<Time> {
        if self.outcome.is_some() {
            return match &self.transport {
                Transport::Tcp(c) => c.fin_wait,
                _ => None,
            };
        }
        match &self.transport {
            Transport::Tcp(c) => {
                let deadlines = [
                    c.syn_deadline,
                    c.host.tx.deadline(),
                    c.server.tx.deadline(),
                    c.server.rx.ack_due,
                    c.host.rx.ack_due,
                ];
                // As numbers, not `flatten()`: this runs after every event, and the branchy
                // form (here and in `Sender::deadline`) costs 3 % of the office's instructions.
                let earliest = deadlines.iter().map(|d| d.unwrap_or(Time::MAX)).min();
                earliest.filter(|&t| t < Time::MAX)
            }
            Transport::UdpExchange { deadline, .. } => Some(*deadline),
            Transport::UdpStream { interval, sent, .. } => {
                Some(self.started + *sent as Time * *interval)
            }
        }
    }

    /// Runs the timers that are due.
    pub fn on_timer(&mut self, now: Time, out: &mut Outbox) {
        if self.outcome.is_some() {
            if let Transport::Tcp(c) = &mut self.transport {
                c.fin_wait = c.fin_wait.filter(|&t| t > now);
            }
            return;
        }
        let (tuple, id) = (self.tuple, self.id);
        let peer = (self.peer, self.local);
        let mut give_up = false;
        match &mut self.transport {
            Transport::Tcp(c) => give_up = !tcp_timers(c, now, tuple, peer, id, out),
            Transport::UdpExchange {
                request,
                tries,
                deadline,
                ..
            } => {
                if *deadline <= now {
                    if *tries >= 2 {
                        give_up = true;
                    } else {
                        *tries += 1;
                        *deadline = now + 2 * SEC;
                        let retry = Packet::udp(tuple, id, *tries as u32, *request);
                        out.push((Side::Host, retry, now));
                    }
                }
            }
            Transport::UdpStream { .. } => self.stream_tick(now, out),
        }
        if give_up {
            self.break_now();
        }
    }

    /// The server refuses the connection (a reset): it ends now, broken by `cause`.
    pub fn refuse(&mut self, cause: Cause) {
        self.fault = Some(cause);
        self.break_now();
    }

    fn break_now(&mut self) {
        self.outcome = Some(Outcome::Broken(self.fault.unwrap_or(Cause::Timeout)));
    }

    fn stream_tick(&mut self, now: Time, out: &mut Outbox) {
        let (tuple, id, peer) = (self.tuple, self.id, (self.peer, self.local));
        debug_assert_eq!(
            self.next_deadline(),
            Some(now),
            "a stream ticks on its schedule"
        );
        let Transport::UdpStream {
            packet,
            interval,
            until,
            heard_ms,
            sent,
            log,
        } = &mut self.transport
        else {
            return;
        };
        if now >= *until {
            self.outcome = Some(Outcome::Completed);
            return;
        }
        let silence = STREAM_SILENCE.max(STREAM_MISSED_INTERVALS * *interval);
        let heard = self.started + *heard_ms.iter().min().expect("two ends") as Time * MS;
        let silent = now.saturating_sub(heard) > silence;
        match log.as_deref_mut() {
            // A tunnel keeps sending: the intervals it hears nothing in are dead time.
            Some(StreamLog::Persistent { dead, longest, run }) => {
                *run = if silent { *run + *interval } else { 0 };
                *dead += if silent { *interval } else { 0 };
                *longest = (*longest).max(*run);
            }
            _ if silent => {
                self.break_now();
                return;
            }
            _ => {}
        }
        *sent += 1;
        let payload = *packet as u32;
        out.push((Side::Host, Packet::udp(tuple, id, *sent, payload), now));
        if peer.0.is_some() {
            let back = Packet::udp(server_tuple(tuple, peer), id, *sent, payload);
            out.push((Side::Server, back, now));
        }
    }

    /// A packet reached the server. Returns the cause if the server drops it.
    pub fn at_server(&mut self, now: Time, pkt: &Packet, out: &mut Outbox) -> Result<(), Cause> {
        let from = (pkt.tuple.src, pkt.tuple.src_port);
        // A SYN or a query from a new address is a new start the server takes as it comes;
        // anything else must come from where the connection began.
        let fresh = match &self.transport {
            Transport::Tcp(_) => pkt.flags.has(TcpFlags::SYN),
            Transport::UdpExchange { .. } => true,
            // A tunnel or registration starts afresh from wherever it comes.
            Transport::UdpStream { log, .. } => {
                self.peer.is_none() || matches!(log.as_deref(), Some(StreamLog::Persistent { .. }))
            }
        };
        match self.peer {
            Some(p) if p != from && !fresh => return Err(Cause::NatAddressChanged),
            None if !fresh => return Err(Cause::NatAddressChanged),
            _ => {
                self.peer = Some(from);
                self.local = Some((pkt.tuple.dst, pkt.tuple.dst_port));
            }
        }
        let back = server_tuple(self.tuple, (self.peer, self.local));
        let id = self.id;
        if self.outcome.is_some() {
            // A finished connection still closes: the server answers the host's FIN.
            if let Transport::Tcp(c) = &mut self.transport
                && pkt.flags.has(TcpFlags::FIN)
            {
                server_tcp(c, now, back, id, pkt, out);
            }
            return Ok(());
        }
        match &mut self.transport {
            Transport::Tcp(c) => server_tcp(c, now, back, id, pkt, out),
            Transport::UdpExchange { response, .. } => {
                out.push((Side::Server, Packet::udp(back, id, pkt.seq, *response), now));
            }
            Transport::UdpStream { .. } => self.stream_heard(1, now, pkt),
        }
        Ok(())
    }

    /// A packet reached the host. Returns the cause if the host drops it.
    pub fn at_host(&mut self, now: Time, pkt: &Packet, out: &mut Outbox) -> Result<(), Cause> {
        if pkt.tuple != self.tuple.reversed() {
            return Err(Cause::NatAddressChanged);
        }
        let (tuple, id) = (self.tuple, self.id);
        if self.outcome.is_some() {
            // A finished connection still closes: the host acknowledges the server's FIN.
            if let Transport::Tcp(c) = &mut self.transport
                && pkt.flags.has(TcpFlags::FIN)
            {
                client_tcp(c, now, tuple, id, pkt, out);
            }
            return Ok(());
        }
        match &mut self.transport {
            Transport::Tcp(c) => {
                if client_tcp(c, now, tuple, id, pkt, out) {
                    self.outcome = Some(Outcome::Completed);
                }
            }
            Transport::UdpExchange { .. } => self.outcome = Some(Outcome::Completed),
            Transport::UdpStream { .. } => self.stream_heard(0, now, pkt),
        }
        Ok(())
    }

    /// A stream's datagram reached end `end` (0 the host, 1 the server): that end heard the
    /// other now, and a call books the datagram's delay.
    fn stream_heard(&mut self, end: usize, now: Time, pkt: &Packet) {
        let started = self.started;
        if let Transport::UdpStream {
            interval,
            heard_ms,
            log,
            ..
        } = &mut self.transport
        {
            heard_ms[end] = ms_since(started, now);
            if let Some(StreamLog::Call(rx)) = log.as_deref_mut() {
                let sent_at = started + pkt.seq.saturating_sub(1) as Time * *interval;
                rx[end].arrived(now, sent_at);
            }
        }
    }

    /// For a call (a constant-rate stream): the MOS of its worse direction.
    pub fn mos(&self) -> Option<f64> {
        match &self.transport {
            Transport::UdpStream { sent, log, .. } => match log.as_deref() {
                Some(StreamLog::Call(rx)) => {
                    let down = rx[0].mos(*sent)?;
                    let up = rx[1].mos(*sent)?;
                    Some(down.min(up))
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// For a persistent stream: the time it was dead in all, and its longest dead stretch.
    pub fn dead_time(&self) -> Option<(Time, Time)> {
        match &self.transport {
            Transport::UdpStream { log, .. } => match log.as_deref() {
                Some(&StreamLog::Persistent { dead, longest, .. }) => Some((dead, longest)),
                _ => None,
            },
            _ => None,
        }
    }
}

/// The tuple the server sends with: back to the address it saw.
fn server_tuple(
    tuple: FiveTuple,
    (peer, local): (Option<Endpoint>, Option<Endpoint>),
) -> FiveTuple {
    let (dst, dst_port) = peer.unwrap_or((tuple.src, tuple.src_port));
    let (src, src_port) = local.unwrap_or((tuple.dst, tuple.dst_port));
    FiveTuple {
        src,
        dst,
        src_port,
        dst_port,
        protocol: tuple.protocol,
    }
}

/// Whole milliseconds from `start` to `now` (a stream lasts far less than 49 days).
fn ms_since(start: Time, now: Time) -> u32 {
    ((now - start) / MS) as u32
}

/// An address and port.
type Endpoint = (Ipv4Addr, u16);

fn syn(tuple: FiveTuple, id: u32) -> Packet {
    Packet::tcp(tuple, id, TcpFlags::SYN, 0, 0, 0)
}

fn data(tuple: FiveTuple, id: u32, s: Segment, ack: Ack) -> Packet {
    let flags = if s.push {
        TcpFlags::ACK | TcpFlags::PSH
    } else {
        TcpFlags::ACK
    };
    Packet::tcp(tuple, id, flags, s.seq, ack.ack, s.len).with_window(ack.window, ack.sack)
}

/// A segment without data: its sequence number is the sender's next byte, as on the wire.
fn ack_only(tuple: FiveTuple, id: u32, seq: u32, ack: Ack, extra: TcpFlags) -> Packet {
    Packet::tcp(tuple, id, TcpFlags::ACK | extra, seq, ack.ack, 0).with_window(ack.window, ack.sack)
}

/// What a segment tells its receiver's peer about the other direction.
fn ack_of(pkt: &Packet) -> Ack {
    Ack {
        ack: pkt.ack,
        window: pkt.window_bytes(),
        sack: pkt.sack_block(),
    }
}

/// Runs a connection's due timers: the SYN's, both senders', both delayed ACKs. Returns
/// false when the connection is given up.
fn tcp_timers(
    c: &mut TcpConn,
    now: Time,
    tuple: FiveTuple,
    peer: (Option<Endpoint>, Option<Endpoint>),
    id: u32,
    out: &mut Outbox,
) -> bool {
    if c.syn_deadline.is_some_and(|d| d <= now) {
        if c.syn_tries >= SYN_RETRIES {
            return false;
        }
        c.syn_tries += 1;
        c.syn_deadline = Some(now + (INITIAL_RTO << c.syn_tries));
        out.push((Side::Host, syn(tuple, id), now));
    }
    let back = server_tuple(tuple, peer);
    let host = c.host.timers(now, (Side::Host, tuple, id), out);
    let server = c.server.timers(now, (Side::Server, back, id), out);
    host && server
}

fn server_tcp(
    c: &mut TcpConn,
    now: Time,
    back: FiveTuple,
    id: u32,
    pkt: &Packet,
    out: &mut Outbox,
) {
    let (f, from) = (pkt.flags, (Side::Server, back, id));
    if f.has(TcpFlags::SYN) {
        let syn_ack = Packet::tcp(back, id, TcpFlags::SYN | TcpFlags::ACK, 0, 0, 0);
        out.push((Side::Server, syn_ack, now));
        return;
    }
    if f.has(TcpFlags::FIN) {
        // The client's FIN takes a sequence number.
        let mut ack = c.server.rx.ack();
        ack.ack += 1;
        let fin = ack_only(back, id, c.server.tx.nxt, ack, TcpFlags::FIN);
        out.push((Side::Server, fin, now));
        return;
    }
    let owed = c.server.receive(now, pkt);
    // The response starts once the whole request is in.
    let sent = if !c.response_started && c.server.rx.nxt >= c.host.tx.total {
        c.response_started = true;
        c.server.transmit(now, from, out)
    } else {
        c.response_started && f.has(TcpFlags::ACK) && c.server.acked(now, pkt, from, out)
    };
    if owed && !sent {
        c.server.ack_alone(now, from, out);
    }
}

/// Returns true once the host has the whole response.
fn client_tcp(
    c: &mut TcpConn,
    now: Time,
    tuple: FiveTuple,
    id: u32,
    pkt: &Packet,
    out: &mut Outbox,
) -> bool {
    let (f, from) = (pkt.flags, (Side::Host, tuple, id));
    if f.has(TcpFlags::SYN) {
        if !c.established {
            c.established = true;
            c.syn_deadline = None;
            c.host.transmit(now, from, out);
        } else {
            c.host.ack_alone(now, from, out);
        }
        return false;
    }
    if f.has(TcpFlags::FIN) {
        // Both FINs take a sequence number. The last ACK closes the connection.
        let mut ack = c.host.rx.ack();
        ack.ack += 1;
        let last = ack_only(tuple, id, c.host.tx.nxt + 1, ack, TcpFlags::default());
        out.push((Side::Host, last, now));
        c.fin_wait = None;
        return false;
    }
    let owed = c.host.receive(now, pkt);
    if f.has(TcpFlags::ACK) && !c.host.tx.done() {
        c.host.acked(now, pkt, from, out);
    }
    if c.host.rx.nxt >= c.server.tx.total {
        // Everything arrived: acknowledge and close.
        let ack = c.host.rx.ack();
        let fin = ack_only(tuple, id, c.host.tx.nxt, ack, TcpFlags::FIN);
        out.push((Side::Host, fin, now));
        c.fin_wait = Some(now + FIN_LINGER);
        return true;
    }
    if owed {
        c.host.ack_alone(now, from, out);
    }
    false
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_flow_fits_two_cache_lines() {
        // A million quiet connections hold a million flows: their size is the world's memory.
        assert!(std::mem::size_of::<Option<super::Flow>>() <= 128);
    }
}
