//! The internet beyond the ISPs: the servers hosts talk to, each at its one-way latency from the
//! core, and everything else the router may ping (netwatch hosts, recursive gateways) or ask
//! for names (its DNS servers), all assumed alive — every public address, that is: the internet
//! routes no private, shared (carrier-grade NAT) or link-local address, so a ping to one gets
//! no answer. Packets reach it through an ISP whose gateway and upstream carried them.

use crate::packet::{Packet, Protocol};
use crate::units::Time;
use crate::world::workload::Server;
use std::net::Ipv4Addr;

pub struct Internet {
    servers: Vec<Server>,
}

impl Internet {
    /// The servers the workload drew (index = the server a session names).
    pub fn new(servers: Vec<Server>) -> Internet {
        Internet { servers }
    }

    pub fn server_ip(&self, server: u32) -> Ipv4Addr {
        self.servers[server as usize].ip
    }

    /// One-way delay from the core to `server`, if `ip` is that server's address (a packet of
    /// its flow sent somewhere else gets no server's latency).
    pub fn latency(&self, server: u32, ip: Ipv4Addr) -> Time {
        self.servers
            .get(server as usize)
            .filter(|s| s.ip == ip)
            .map_or(0, |s| s.latency)
    }

    /// The answer to a packet of the router's own: an echo reply to a ping, a DNS answer to a
    /// query (every address is a resolver), nothing else.
    pub fn answer(&self, pkt: &Packet) -> Option<Packet> {
        if !routed(pkt.tuple.dst) {
            return None;
        }
        match pkt.tuple.protocol {
            Protocol::Icmp if !pkt.is_echo_reply() => Some(pkt.echo_reply()),
            Protocol::Udp if pkt.tuple.dst_port == crate::router::dns::PORT => {
                let answer = crate::router::dns::ANSWER;
                Some(Packet::udp(pkt.tuple.reversed(), pkt.flow, pkt.seq, answer))
            }
            _ => None,
        }
    }
}

/// Whether the internet routes to `ip`: not RFC 1918, RFC 6598's shared space, link-local,
/// loopback, multicast or the like.
fn routed(ip: Ipv4Addr) -> bool {
    let shared = (u32::from(ip) & 0xffc0_0000) == u32::from(Ipv4Addr::new(100, 64, 0, 0));
    !(ip.is_private()
        || shared
        || ip.is_link_local()
        || ip.is_loopback()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_unspecified())
}
