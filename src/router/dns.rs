//! The router's DNS service (`/ip dns set servers=… allow-remote-requests=yes`): LAN hosts ask
//! the router, the router asks its servers with queries of its own — through the output chain,
//! routing and source NAT like every packet it sends — and answers each host from the reply.
//!
//! Packets carry no names, so there is no cache to hit: every query goes upstream (**assumed**,
//! the worst case for the router's own traffic). What the service shows is the path of the
//! router's own packets: an answer to a host whose connection a PCC rule marked (a PCC rule
//! without `dst-address-type=!local`) is routing-marked by the output chain and leaves by a WAN.

use crate::packet::{FiveTuple, Packet, Protocol};
use rustc_hash::FxHashMap;
use std::net::Ipv4Addr;

pub const PORT: u16 = 53;

/// What a DNS answer carries, in bytes of payload.
pub const ANSWER: u32 = 160;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Settings {
    pub servers: Vec<Ipv4Addr>,
    pub allow_remote_requests: bool,
}

/// A host's query waiting for the upstream answer.
#[derive(Clone, Copy, Debug)]
struct Pending {
    /// The query as the host sent it.
    query: FiveTuple,
    flow: u32,
    seq: u32,
}

#[derive(Clone, Debug, Default)]
pub struct Dns {
    pub settings: Settings,
    /// By the source port of the router's upstream query.
    pending: FxHashMap<u16, Pending>,
    next_port: u16,
}

/// Ports of the router's own upstream queries.
const FIRST_PORT: u16 = 40_000;
const PORTS: u16 = 20_000;

impl Dns {
    pub fn new(settings: Settings) -> Dns {
        Dns {
            settings,
            pending: FxHashMap::default(),
            next_port: 0,
        }
    }

    /// A packet for one of the router's addresses: a host's query (returns the upstream query
    /// to send, its source left for routing to choose) or a server's answer (returns the answer
    /// for the host). `None` for anything else.
    pub fn on_local(&mut self, pkt: &Packet) -> Option<Packet> {
        if pkt.tuple.protocol != Protocol::Udp {
            return None;
        }
        if pkt.tuple.dst_port == PORT && self.settings.allow_remote_requests {
            return self.forward(pkt);
        }
        if pkt.tuple.src_port == PORT {
            let p = self.pending.remove(&pkt.tuple.dst_port)?;
            return Some(Packet::udp(p.query.reversed(), p.flow, p.seq, ANSWER));
        }
        None
    }

    fn forward(&mut self, pkt: &Packet) -> Option<Packet> {
        let server = *self.settings.servers.first()?;
        let port = FIRST_PORT + self.next_port;
        self.next_port = (self.next_port + 1) % PORTS;
        let pending = Pending {
            query: pkt.tuple,
            flow: pkt.flow,
            seq: pkt.seq,
        };
        self.pending.insert(port, pending);
        let upstream = FiveTuple {
            src: Ipv4Addr::UNSPECIFIED,
            dst: server,
            src_port: port,
            dst_port: PORT,
            protocol: Protocol::Udp,
        };
        Some(Packet::udp(upstream, Packet::NO_FLOW, 0, pkt.payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_goes_upstream_and_its_answer_back_to_the_host() {
        let mut dns = Dns::new(Settings {
            servers: vec![Ipv4Addr::new(8, 8, 8, 8)],
            allow_remote_requests: true,
        });
        let query = FiveTuple {
            src: Ipv4Addr::new(10, 0, 0, 23),
            dst: Ipv4Addr::new(10, 0, 0, 1),
            src_port: 50_000,
            dst_port: PORT,
            protocol: Protocol::Udp,
        };
        let up = dns.on_local(&Packet::udp(query, 7, 1, 40)).unwrap();
        assert_eq!(
            (up.tuple.dst, up.tuple.dst_port),
            (Ipv4Addr::new(8, 8, 8, 8), PORT)
        );
        let reply = Packet::udp(
            FiveTuple {
                src: up.tuple.dst,
                dst: Ipv4Addr::new(203, 0, 113, 2),
                ..up.tuple.reversed()
            },
            Packet::NO_FLOW,
            0,
            ANSWER,
        );
        let answer = dns.on_local(&reply).unwrap();
        assert_eq!(
            (answer.tuple, answer.flow, answer.seq),
            (query.reversed(), 7, 1)
        );
        assert!(dns.on_local(&reply).is_none(), "answered once");
    }
}
