//! `/ip dhcp-client`: a WAN that gets its address, gateway and lease from the ISP, as RFC 2131
//! has a client do it — DISCOVER, OFFER, REQUEST, ACK; renew at half the lease (T1) with the
//! server that gave it, rebind with any server at seven eighths (T2), and give the address up
//! when the lease ends. Retries back off from 4 s to 64 s (without RFC 2131's random jitter:
//! pccsim is deterministic by design).
//!
//! Sans-IO like the rest of the router: `handle_timeout` says what to send, `on_packet` takes
//! what the server answered, and each change of lease is handed out ([`LeaseChange`]) for the
//! router to put the address and default route in place and for the world to run the
//! client's `script=` with `$bound`, `$"lease-address"` and `$"gateway-address"`.
//!
//! DHCP messages travel as UDP datagrams between ports 68 and 67 whose fields carry what a
//! message says (see [`Message`]); their payload is not simulated byte by byte.

use crate::packet::Packet;
use crate::router::config::RouterConfig;
use crate::router::firewall::IfaceId;
use crate::units::{SEC, Time};
use std::net::Ipv4Addr;

pub const CLIENT_PORT: u16 = 68;
pub const SERVER_PORT: u16 = 67;
/// IP total length of a DHCP message (a 300-byte BOOTP body and its headers).
const MESSAGE_LEN: u32 = 328;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Discover = 1,
    Offer = 2,
    Request = 3,
    Ack = 5,
    Nak = 6,
}

/// What a DHCP message says, as far as the simulation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Message {
    pub kind: Kind,
    /// The address offered or acknowledged (yiaddr), or requested.
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    /// Seconds of lease.
    pub lease_secs: u32,
}

impl Message {
    /// The datagram carrying it ([`Packet::control`]: the address, the lease, the prefix).
    pub fn to_packet(self, src: Ipv4Addr, dst: Ipv4Addr) -> Packet {
        let ports = match self.kind {
            Kind::Discover | Kind::Request => (CLIENT_PORT, SERVER_PORT),
            _ => (SERVER_PORT, CLIENT_PORT),
        };
        let fields = [self.address.into(), self.lease_secs, self.prefix_len as u32];
        Packet::control(src, dst, ports, MESSAGE_LEN, self.kind as u32, fields)
    }

    /// The message a datagram to or from the DHCP ports carries.
    pub fn of(p: &Packet) -> Option<Message> {
        let (kind, [address, lease_secs, prefix_len]) =
            p.control_fields((CLIENT_PORT, SERVER_PORT))?;
        let kind = match kind {
            1 => Kind::Discover,
            2 => Kind::Offer,
            3 => Kind::Request,
            5 => Kind::Ack,
            6 => Kind::Nak,
            _ => return None,
        };
        Some(Message {
            kind,
            address: Ipv4Addr::from(address),
            prefix_len: prefix_len.min(32) as u8,
            lease_secs,
        })
    }
}

/// An address held from a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    pub address: Ipv4Addr,
    pub prefix_len: u8,
    /// The server, which is the ISP's gateway too.
    pub gateway: Ipv4Addr,
    pub start: Time,
    pub length: Time,
}

impl Lease {
    fn t1(&self) -> Time {
        self.start + self.length / 2
    }

    fn t2(&self) -> Time {
        self.start + self.length / 8 * 7
    }

    fn end(&self) -> Time {
        self.start + self.length
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// DISCOVER sent, waiting for an OFFER.
    Selecting,
    /// REQUEST for an offer sent, waiting for the ACK.
    Requesting,
    Bound,
    /// Past T1: asking the server that gave the lease.
    Renewing,
    /// Past T2: asking any server.
    Rebinding,
}

/// One `/ip dhcp-client` entry.
#[derive(Clone, Debug)]
pub struct Client {
    pub iface: IfaceId,
    /// The configuration line that added it.
    pub line: u32,
    pub add_default_route: bool,
    pub default_route_distance: u8,
    /// `check-gateway=ping` on the default route it adds.
    pub check_gateway: bool,
    pub script: String,
    pub lease: Option<Lease>,
    state: State,
    /// When it next sends (or gives the lease up).
    next: Time,
    /// The current wait between retransmissions.
    backoff: Time,
}

/// A lease taken, changed or lost: what the router and the client's script act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseChange {
    /// The client, by index.
    pub client: usize,
    pub before: Option<Lease>,
    pub after: Option<Lease>,
}

const FIRST_BACKOFF: Time = 4 * SEC;
const MAX_BACKOFF: Time = 64 * SEC;

impl Client {
    fn restart(&mut self, now: Time) {
        self.state = State::Selecting;
        self.next = now;
        self.backoff = FIRST_BACKOFF;
    }
}

/// Every DHCP client of the router.
#[derive(Clone, Debug, Default)]
pub struct DhcpClients {
    pub clients: Vec<Client>,
    changes: Vec<LeaseChange>,
}

impl DhcpClients {
    /// The enabled `/ip dhcp-client` entries of `config` on interfaces it has.
    pub fn from_config(config: &RouterConfig) -> DhcpClients {
        let client = |iface, line, item: Option<&crate::router::config::StoredItem>, distance| {
            let get = |key| item.and_then(|i| i.get(key));
            Client {
                iface,
                line,
                add_default_route: get("add-default-route") != Some("no"),
                default_route_distance: get("default-route-distance")
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(distance),
                check_gateway: get("check-gateway") == Some("ping"),
                script: get("script").unwrap_or_default().to_string(),
                lease: None,
                state: State::Selecting,
                next: 0,
                backoff: FIRST_BACKOFF,
            }
        };
        let items = config.stored_enabled("ip dhcp-client");
        let mut clients: Vec<Client> = items
            .filter_map(|item| {
                let iface = config.iface(item.get("interface")?)?;
                Some(client(iface, item.line, Some(item), 1))
            })
            .collect();
        // An LTE modem gets its address from the carrier on its own, as a DHCP client would,
        // with the default route its APN profile asks for (RouterOS: distance 2).
        let apn = config.stored_enabled("interface lte apn").next();
        for (i, port) in config.interfaces.iter().enumerate() {
            let iface = i as IfaceId;
            if port.default_name.starts_with("lte") && !clients.iter().any(|c| c.iface == iface) {
                clients.push(client(iface, port.line, apn, 2));
            }
        }
        DhcpClients {
            clients,
            changes: Vec::new(),
        }
    }

    pub fn serves(&self, iface: IfaceId) -> bool {
        self.clients.iter().any(|c| c.iface == iface)
    }

    pub fn poll_timeout(&self) -> Option<Time> {
        self.clients.iter().map(|c| c.next).min()
    }

    /// Sends what is due — a DISCOVER, a REQUEST again, a renewal — and gives up leases that
    /// ended; packets go to `out` with the interface they leave by.
    pub fn handle_timeout(&mut self, now: Time, out: &mut Vec<(IfaceId, Packet)>) {
        for (k, c) in self.clients.iter_mut().enumerate() {
            if c.next > now {
                continue;
            }
            if let Some(lease) = c.lease
                && now >= lease.end()
            {
                c.lease = None;
                self.changes.push(LeaseChange {
                    client: k,
                    before: Some(lease),
                    after: None,
                });
                c.restart(now);
            }
            let broadcast = Ipv4Addr::BROADCAST;
            let ask = |kind, address| Message {
                kind,
                address,
                prefix_len: 0,
                lease_secs: 0,
            };
            match c.state {
                State::Selecting => {
                    let m = ask(Kind::Discover, Ipv4Addr::UNSPECIFIED);
                    out.push((c.iface, m.to_packet(Ipv4Addr::UNSPECIFIED, broadcast)));
                    c.next = now + c.backoff;
                    c.backoff = (c.backoff * 2).min(MAX_BACKOFF);
                }
                State::Requesting => {
                    // No ACK for the offer: start over.
                    c.restart(now);
                    c.next = now + FIRST_BACKOFF;
                    let m = ask(Kind::Discover, Ipv4Addr::UNSPECIFIED);
                    out.push((c.iface, m.to_packet(Ipv4Addr::UNSPECIFIED, broadcast)));
                }
                State::Bound | State::Renewing | State::Rebinding => {
                    let Some(lease) = c.lease else { continue };
                    let rebinding = now >= lease.t2();
                    c.state = if rebinding {
                        State::Rebinding
                    } else {
                        State::Renewing
                    };
                    let to = if rebinding { broadcast } else { lease.gateway };
                    let m = ask(Kind::Request, lease.address);
                    out.push((c.iface, m.to_packet(lease.address, to)));
                    // RFC 2131: wait half the time left to T2 (then to the end), at least 60 s.
                    let until = if rebinding { lease.end() } else { lease.t2() };
                    let wait = ((until - now) / 2).max(60 * SEC);
                    c.next = (now + wait).min(until);
                }
            }
        }
    }

    /// A message from a server arriving on `iface`; an answer to send goes to `out`.
    pub fn on_packet(
        &mut self,
        now: Time,
        iface: IfaceId,
        pkt: &Packet,
        out: &mut Vec<(IfaceId, Packet)>,
    ) {
        let Some(m) = Message::of(pkt) else { return };
        let Some(k) = self.clients.iter().position(|c| c.iface == iface) else {
            return;
        };
        let c = &mut self.clients[k];
        match (c.state, m.kind) {
            (State::Selecting, Kind::Offer) => {
                c.state = State::Requesting;
                c.next = now + FIRST_BACKOFF;
                let request = Message {
                    kind: Kind::Request,
                    ..m
                };
                out.push((
                    iface,
                    request.to_packet(Ipv4Addr::UNSPECIFIED, Ipv4Addr::BROADCAST),
                ));
            }
            (State::Requesting | State::Renewing | State::Rebinding, Kind::Ack) => {
                let before = c.lease;
                let lease = Lease {
                    address: m.address,
                    prefix_len: m.prefix_len,
                    gateway: pkt.tuple.src,
                    start: now,
                    length: (m.lease_secs as Time * SEC).max(SEC),
                };
                c.lease = Some(lease);
                c.state = State::Bound;
                c.next = lease.t1();
                if before.map(|b| (b.address, b.gateway)) != Some((lease.address, lease.gateway)) {
                    self.changes.push(LeaseChange {
                        client: k,
                        before,
                        after: Some(lease),
                    });
                }
            }
            (State::Requesting | State::Renewing | State::Rebinding, Kind::Nak) => {
                // The server takes the address back: give it up and start over.
                let before = c.lease.take();
                c.restart(now);
                if before.is_some() {
                    self.changes.push(LeaseChange {
                        client: k,
                        before,
                        after: None,
                    });
                }
            }
            _ => {}
        }
    }

    /// Leases taken, changed or lost since the last call, in order.
    pub fn take_changes(&mut self) -> std::vec::Drain<'_, LeaseChange> {
        self.changes.drain(..)
    }
}
