//! Source and destination NAT. The nat table's rules are consulted only for a connection's first
//! packet; the mapping they choose is stored in the conntrack entry as the tuple replies will
//! carry, and every later packet in either direction is rewritten from that entry.
//!
//! Masquerade takes the out-interface's address when the connection starts and keeps the host's
//! source port unless another connection already uses that mapping (then it picks the next free
//! port), as Linux and RouterOS do.

use crate::packet::Packet;
use crate::router::conntrack::{Conntrack, Dir};
use std::net::Ipv4Addr;

/// Lowest port masquerade moves a clashing connection to.
const FIRST_PORT: u16 = 1024;

/// Gives connection `id` the source address `to`, choosing a port no other entry uses.
pub fn map_source(ct: &mut Conntrack, id: u32, to: Ipv4Addr) {
    let mut reply = ct.get(id).reply;
    reply.dst = to;
    let original_port = reply.dst_port;
    let mut port = original_port;
    loop {
        reply.dst_port = port;
        let ours = ct.get(id).reply == reply;
        if ours || !ct.reply_tuple_taken(&reply) {
            break;
        }
        port = if port == u16::MAX {
            FIRST_PORT
        } else {
            port + 1
        };
        if port == original_port {
            // Every port is in use for this server: keep the clash, as a full table would.
            break;
        }
    }
    ct.set_reply(id, reply);
}

/// Sends connection `id`'s original direction to `to` (and `port`, if given).
pub fn map_destination(ct: &mut Conntrack, id: u32, to: Ipv4Addr, port: Option<u16>) {
    let mut reply = ct.get(id).reply;
    reply.src = to;
    if let Some(p) = port {
        reply.src_port = p;
    }
    ct.set_reply(id, reply);
    ct.get_mut(id).dst_nat = true;
}

/// Rewrites the destination as the entry says (prerouting: dst-nat, and un-NAT of replies).
pub fn translate_destination(ct: &Conntrack, id: u32, dir: Dir, pkt: &mut Packet) {
    let t = ct.get(id).translated(dir);
    pkt.tuple.dst = t.dst;
    pkt.tuple.dst_port = t.dst_port;
}

/// Rewrites the source as the entry says (postrouting: src-nat, and un-DNAT of replies).
pub fn translate_source(ct: &Conntrack, id: u32, dir: Dir, pkt: &mut Packet) {
    let t = ct.get(id).translated(dir);
    pkt.tuple.src = t.src;
    pkt.tuple.src_port = t.src_port;
}
