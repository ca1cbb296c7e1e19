//! `/interface pppoe-client`: a WAN that is a PPPoE session over an Ethernet port. The client
//! looks for the ISP's access concentrator (PADI), takes the session it offers (PADS: the
//! router's address and the remote end's, as IPCP settles them), and sends an LCP echo every
//! second; when none has come back for `keepalive-timeout` seconds (10 by default) the session
//! is down and the client looks again every 5 seconds. The `/ppp profile` it names runs its
//! `on-up` and `on-down` scripts. The session's interface (`pppoe-out1`) has an MTU of 1480.
//!
//! PPPoE's frames are not IP. The simulation carries them as datagrams between ports 34915 and
//! 34916 (PPPoE's two ethertypes) on the session's interface, which a capture shows as such;
//! what a frame says travels in its header fields ([`Frame`]).

use crate::packet::Packet;
use crate::router::config::RouterConfig;
use crate::router::firewall::IfaceId;
use crate::units::{SEC, Time};
use std::net::Ipv4Addr;

/// PPPoE discovery's ethertype, as the port the client sends from.
pub const DISCOVERY_PORT: u16 = 0x8863;
/// PPPoE session's ethertype, as the port the concentrator sends from.
pub const SESSION_PORT: u16 = 0x8864;
const FRAME_LEN: u32 = 60;
const ECHO_EVERY: Time = SEC;
const RETRY_EVERY: Time = 5 * SEC;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// PADI: looking for a concentrator.
    Padi = 1,
    /// PADS with IPCP done: the session is up, with the addresses in the frame.
    Session = 2,
    EchoRequest = 3,
    EchoReply = 4,
}

/// What a PPPoE frame says, as far as the simulation needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    pub kind: Kind,
    /// The router's address (in a session offer).
    pub local: Ipv4Addr,
    /// The concentrator's end of the link.
    pub remote: Ipv4Addr,
}

impl Frame {
    pub fn to_packet(self, from_client: bool) -> Packet {
        let ports = match from_client {
            true => (DISCOVERY_PORT, SESSION_PORT),
            false => (SESSION_PORT, DISCOVERY_PORT),
        };
        let none = Ipv4Addr::UNSPECIFIED;
        let fields = [self.local.into(), self.remote.into(), 0];
        Packet::control(none, none, ports, FRAME_LEN, self.kind as u32, fields)
    }

    pub fn of(p: &Packet) -> Option<Frame> {
        let (kind, [local, remote, _]) = p.control_fields((DISCOVERY_PORT, SESSION_PORT))?;
        let kind = match kind {
            1 => Kind::Padi,
            2 => Kind::Session,
            3 => Kind::EchoRequest,
            4 => Kind::EchoReply,
            _ => return None,
        };
        Some(Frame {
            kind,
            local: Ipv4Addr::from(local),
            remote: Ipv4Addr::from(remote),
        })
    }
}

/// A session's two ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Session {
    pub local: Ipv4Addr,
    pub remote: Ipv4Addr,
}

/// One `/interface pppoe-client` entry.
#[derive(Clone, Debug)]
pub struct Client {
    /// The session's interface (`pppoe-out1`).
    pub iface: IfaceId,
    pub name: String,
    pub line: u32,
    pub user: String,
    pub add_default_route: bool,
    pub default_route_distance: u8,
    pub keepalive: Time,
    pub on_up: String,
    pub on_down: String,
    pub session: Option<Session>,
    /// When it next sends (a PADI, an echo).
    next: Time,
    last_heard: Time,
}

/// A session that came up or went down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SessionChange {
    pub client: usize,
    pub before: Option<Session>,
    pub after: Option<Session>,
}

#[derive(Clone, Debug, Default)]
pub struct PppoeClients {
    pub clients: Vec<Client>,
    changes: Vec<SessionChange>,
}

impl PppoeClients {
    /// The enabled `/interface pppoe-client` entries of `config`, with the scripts of the
    /// `/ppp profile` each names.
    pub fn from_config(config: &RouterConfig) -> PppoeClients {
        let items = config.stored_enabled("interface pppoe-client");
        let clients = items.filter_map(|item| {
            let name = item.get("name")?;
            let iface = config.iface(name)?;
            let profile = item.get("profile").unwrap_or("default");
            let script = |key: &str| {
                let p = config
                    .stored_enabled("ppp profile")
                    .find(|p| p.get("name") == Some(profile));
                p.and_then(|p| p.get(key)).unwrap_or_default().to_string()
            };
            let keepalive = item
                .get("keepalive-timeout")
                .and_then(|k| k.trim_end_matches('s').parse::<u64>().ok())
                .filter(|&k| k > 0)
                .unwrap_or(10);
            Some(Client {
                iface,
                name: name.to_string(),
                line: item.line,
                user: item.get("user").unwrap_or_default().to_string(),
                add_default_route: item.get("add-default-route") == Some("yes"),
                default_route_distance: item
                    .get("default-route-distance")
                    .and_then(|d| d.parse().ok())
                    .unwrap_or(1),
                keepalive: keepalive * SEC,
                on_up: script("on-up"),
                on_down: script("on-down"),
                session: None,
                next: 0,
                last_heard: 0,
            })
        });
        PppoeClients {
            clients: clients.collect(),
            changes: Vec::new(),
        }
    }

    pub fn serves(&self, iface: IfaceId) -> bool {
        self.clients.iter().any(|c| c.iface == iface)
    }

    pub fn poll_timeout(&self) -> Option<Time> {
        self.clients.iter().map(|c| c.next).min()
    }

    /// Sends what is due (a PADI, an LCP echo) and takes down sessions whose echoes went
    /// unanswered for the keepalive timeout.
    pub fn handle_timeout(&mut self, now: Time, out: &mut Vec<(IfaceId, Packet)>) {
        for (k, c) in self.clients.iter_mut().enumerate() {
            if c.next > now {
                continue;
            }
            let frame = |kind| Frame {
                kind,
                local: Ipv4Addr::UNSPECIFIED,
                remote: Ipv4Addr::UNSPECIFIED,
            };
            match c.session {
                Some(s) if now.saturating_sub(c.last_heard) >= c.keepalive => {
                    c.session = None;
                    c.next = now + RETRY_EVERY;
                    self.changes.push(SessionChange {
                        client: k,
                        before: Some(s),
                        after: None,
                    });
                }
                Some(_) => {
                    out.push((c.iface, frame(Kind::EchoRequest).to_packet(true)));
                    c.next = now + ECHO_EVERY;
                }
                None => {
                    out.push((c.iface, frame(Kind::Padi).to_packet(true)));
                    c.next = now + RETRY_EVERY;
                }
            }
        }
    }

    /// A frame from the concentrator on the session's interface.
    pub fn on_packet(&mut self, now: Time, iface: IfaceId, pkt: &Packet) {
        let Some(f) = Frame::of(pkt) else { return };
        let Some(k) = self.clients.iter().position(|c| c.iface == iface) else {
            return;
        };
        let c = &mut self.clients[k];
        c.last_heard = now;
        if f.kind == Kind::Session && c.session.is_none() {
            let s = Session {
                local: f.local,
                remote: f.remote,
            };
            c.session = Some(s);
            c.next = now + ECHO_EVERY;
            self.changes.push(SessionChange {
                client: k,
                before: None,
                after: Some(s),
            });
        }
    }

    pub fn take_changes(&mut self) -> std::vec::Drain<'_, SessionChange> {
        self.changes.drain(..)
    }
}
