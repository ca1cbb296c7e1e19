//! One ISP as the world has it: the access line on a router port, the ISP's gateway at its far
//! end and the network beyond it up to the internet core. It knows what the timeline did to it
//! — carrier, a dead gateway, a dead upstream, an impairment — and what it lets through: its
//! gateway answers pings while alive and forwards while it and the upstream are, and it accepts
//! from the router only the address it assigned (anti-spoofing, BCP 38).

use crate::packet::Packet;
use crate::router::dhcp_client::{Kind, Message};
use crate::router::firewall::AddrRange;
use crate::router::pppoe_client::{Frame, Kind as FrameKind};
use crate::scenario::{Change, FailureKind};
use crate::units::Time;
use crate::world::link::{Link, Lossy, Wire};
use crate::world::topology;
use std::net::Ipv4Addr;

/// Why an ISP did not carry a packet from the router.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// It was for an address behind the router (a reply the router sent out of the WAN).
    NoRouteBack,
    /// The gateway or the upstream is down.
    Dead,
    /// Its source is not the address this ISP assigned (BCP 38 anti-spoofing).
    Spoofed,
}

pub struct Isp {
    /// The router port it is plugged into.
    pub iface: crate::router::firewall::IfaceId,
    /// The router's address on this WAN: the only source the ISP accepts from it.
    pub address: Ipv4Addr,
    pub gateway: Ipv4Addr,
    pub access: Link<Lossy<Wire>>,
    /// One-way delay from the gateway to the internet core.
    pub upstream_latency: Time,
    gateway_alive: bool,
    upstream_alive: bool,
    /// The last time the timeline repaired it (0: never failed).
    recovered_at: Time,
    /// The access line's own loss and latency, restored when an impairment ends.
    base_loss: f64,
    base_latency: Time,
    /// Its DHCP server, on a WAN whose address it hands out.
    pub dhcp: Option<DhcpServer>,
    /// Its PPPoE access concentrator, which hands out addresses from a pool as a DHCP
    /// server does (a new one for each session).
    pub pppoe: Option<DhcpServer>,
    /// The concentrator answers (PPPoE sessions come up and LCP echoes are answered).
    pppoe_alive: bool,
}

/// An ISP's DHCP server: it leases the router one address of its pool at a time.
#[derive(Clone, Debug)]
pub struct DhcpServer {
    pool: ipnet::Ipv4Net,
    gateway: Ipv4Addr,
    lease_secs: u32,
    /// The address it leases the router now.
    current: Ipv4Addr,
    answering: bool,
}

impl DhcpServer {
    pub fn new(pool: ipnet::Ipv4Net, gateway: Ipv4Addr, lease: Time) -> DhcpServer {
        let mut server = DhcpServer {
            pool,
            gateway,
            lease_secs: (lease / crate::units::SEC).min(u32::MAX as u64) as u32,
            current: pool.network(),
            answering: true,
        };
        server.current = server.next_address();
        server
    }

    /// A pool that gives each new session the next address, starting with the first.
    pub fn for_sessions(pool: ipnet::Ipv4Net, gateway: Ipv4Addr) -> DhcpServer {
        DhcpServer {
            current: pool.network(),
            ..DhcpServer::new(pool, gateway, 0)
        }
    }

    /// The address it leases first, which the ISP then accepts from the router.
    pub fn address(&self) -> Ipv4Addr {
        self.current
    }

    /// The pool's next host address after `current`, past the gateway, round the pool.
    fn next_address(&self) -> Ipv4Addr {
        let (first, last) = (
            u32::from(self.pool.network()) + 1,
            u32::from(self.pool.broadcast()) - 1,
        );
        let mut a = u32::from(self.current);
        loop {
            a = if a >= last || a < first { first } else { a + 1 };
            if Ipv4Addr::from(a) != self.gateway {
                return Ipv4Addr::from(a);
            }
        }
    }

    /// Its answer to a message from the router, if it gives one.
    fn answer(&mut self, m: &Message) -> Option<Message> {
        if !self.answering {
            return None;
        }
        let reply = |kind, address| Message {
            kind,
            address,
            prefix_len: self.pool.prefix_len(),
            lease_secs: self.lease_secs,
        };
        match m.kind {
            Kind::Discover => Some(reply(Kind::Offer, self.current)),
            Kind::Request if m.address == self.current => Some(reply(Kind::Ack, self.current)),
            // A renewal of an address it took back, or of one it never offered.
            Kind::Request => Some(reply(Kind::Nak, m.address)),
            _ => None,
        }
    }
}

impl Isp {
    pub fn new(
        iface: crate::router::firewall::IfaceId,
        address: Ipv4Addr,
        gateway: Ipv4Addr,
        access: Link<Lossy<Wire>>,
        line: &topology::Link,
        upstream_latency: Time,
    ) -> Isp {
        Isp {
            iface,
            address,
            gateway,
            access,
            upstream_latency,
            gateway_alive: true,
            upstream_alive: true,
            recovered_at: 0,
            base_loss: line.loss,
            base_latency: line.latency,
            dhcp: None,
            pppoe: None,
            pppoe_alive: true,
        }
    }

    /// Its PPPoE concentrator's answer to a frame from the router: a session (with a new
    /// address, which the ISP then accepts) for a PADI, an echo for an echo.
    pub fn pppoe_answer(&mut self, f: &Frame) -> Option<Frame> {
        if !self.pppoe_alive || !self.access.is_up() {
            return None;
        }
        let pool = self.pppoe.as_mut()?;
        match f.kind {
            FrameKind::Padi => {
                pool.current = pool.next_address();
                self.address = pool.current;
                Some(Frame {
                    kind: FrameKind::Session,
                    local: pool.current,
                    remote: self.gateway,
                })
            }
            FrameKind::EchoRequest => Some(Frame {
                kind: FrameKind::EchoReply,
                ..*f
            }),
            _ => None,
        }
    }

    /// Its DHCP server's answer to a message from the router, if it has a server and the
    /// gateway it runs on is alive; an ACK makes the address leased the one the ISP accepts.
    pub fn dhcp_answer(&mut self, m: &Message) -> Option<Message> {
        if !self.gateway_alive {
            return None;
        }
        let answer = self.dhcp.as_mut()?.answer(m)?;
        if answer.kind == Kind::Ack {
            self.address = answer.address;
        }
        Some(answer)
    }

    /// Some part of it is down.
    pub fn failed(&self) -> bool {
        !self.gateway_alive || !self.upstream_alive || !self.access.is_up()
    }

    /// Packets from the router get beyond the gateway, and the internet's get back to it.
    pub fn forwards(&self) -> bool {
        self.gateway_alive && self.upstream_alive
    }

    /// The gateway itself answers (pings to it get replies).
    pub fn gateway_answers(&self) -> bool {
        self.gateway_alive
    }

    pub fn recovered_at(&self) -> Time {
        self.recovered_at
    }

    /// Whether the ISP carries a packet the router sent it on towards the internet, and if
    /// not, why. `private` is the LAN behind the router, which no ISP routes to.
    pub fn carries(&self, pkt: &Packet, private: &AddrRange) -> Result<(), Refusal> {
        if private.contains(pkt.tuple.dst) {
            return Err(Refusal::NoRouteBack);
        }
        if !self.forwards() {
            return Err(Refusal::Dead);
        }
        if pkt.tuple.src != self.address {
            return Err(Refusal::Spoofed);
        }
        Ok(())
    }

    /// What a change on the timeline does to this ISP's side of the world. (The router's side
    /// — its interface losing carrier — is the engine's to tell the router.)
    pub fn apply(&mut self, c: &Change, now: Time) {
        let was_failed = self.failed();
        match c.kind {
            FailureKind::Link => self.access.set_up(!c.down),
            FailureKind::Gateway => self.gateway_alive = !c.down,
            FailureKind::Upstream => self.upstream_alive = !c.down,
            FailureKind::Impairment => {
                let (loss, extra) = if c.down {
                    (c.loss, c.extra_latency)
                } else {
                    (self.base_loss, 0)
                };
                self.access.impair(loss, self.base_latency + extra);
            }
            FailureKind::Dhcp => {
                if let Some(s) = &mut self.dhcp {
                    s.answering = !c.down;
                }
            }
            FailureKind::Pppoe => self.pppoe_alive = !c.down,
            FailureKind::Renumber => {
                if let Some(s) = &mut self.dhcp {
                    s.current = s.next_address();
                }
            }
        }
        if was_failed && !self.failed() {
            self.recovered_at = now;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::{FiveTuple, Protocol};
    use crate::scenario::Queue;
    use rand::SeedableRng;

    fn isp() -> Isp {
        let line = topology::Link {
            inbound_bps: Some(1_000_000),
            outbound_bps: Some(1_000_000),
            latency: 0,
            loss: 0.0,
            queue: Queue::Packets(10),
        };
        let wire = || Wire::new(1_000_000, 0, Queue::Packets(10));
        let rng = rand_pcg::Pcg64Mcg::seed_from_u64(0);
        let access = Link::new(
            Lossy::new(wire(), 0.0, rng.clone()),
            Lossy::new(wire(), 0.0, rng),
        );
        let addr = Ipv4Addr::new(192, 0, 2, 2);
        Isp::new(0, addr, Ipv4Addr::new(192, 0, 2, 1), access, &line, 0)
    }

    fn from(src: [u8; 4], dst: [u8; 4]) -> Packet {
        let t = FiveTuple {
            src: src.into(),
            dst: dst.into(),
            src_port: 1,
            dst_port: 2,
            protocol: Protocol::Udp,
        };
        Packet::new(t, 0)
    }

    #[test]
    fn an_isp_carries_only_its_customers_address_to_routable_places_while_alive() {
        let lan = AddrRange::parse("10.0.0.0/24").unwrap();
        let mut isp = isp();
        assert_eq!(
            isp.carries(&from([192, 0, 2, 2], [8, 8, 8, 8]), &lan),
            Ok(())
        );
        let spoofed = from([198, 51, 100, 2], [8, 8, 8, 8]);
        assert_eq!(isp.carries(&spoofed, &lan), Err(Refusal::Spoofed));
        let to_lan = from([192, 0, 2, 2], [10, 0, 0, 5]);
        assert_eq!(isp.carries(&to_lan, &lan), Err(Refusal::NoRouteBack));
        let down = |kind, down| Change {
            at: 5,
            wan: 0,
            kind,
            down,
            loss: 0.0,
            extra_latency: 0,
        };
        isp.apply(&down(FailureKind::Upstream, true), 5);
        assert!(isp.gateway_answers() && isp.failed());
        let ok = from([192, 0, 2, 2], [8, 8, 8, 8]);
        assert_eq!(isp.carries(&ok, &lan), Err(Refusal::Dead));
        isp.apply(&down(FailureKind::Upstream, false), 9);
        assert_eq!((isp.carries(&ok, &lan), isp.recovered_at()), (Ok(()), 9));
    }
}
