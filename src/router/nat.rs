//! Source and destination NAT. The nat table's rules are consulted only for a connection's first
//! packet; the mapping they choose is stored in the conntrack entry as the tuple replies will
//! carry, and every later packet in either direction is rewritten from that entry.
//!
//! Masquerade takes the out-interface's address when the connection starts and keeps the host's
//! source port unless another connection already uses that mapping. Then it searches the port
//! range the way Linux 5.x does (`nf_nat_l4proto_unique_tuple`, the kernel of RouterOS 7): up to
//! 128 ports in a row from a pseudo-random offset, then 64, 32 and 16 from fresh offsets. The
//! kernel draws the offsets at random; here they come from a hash of the connection's tuple, so
//! runs repeat. A bounded search keeps a nearly exhausted range (a CGNAT's popular destination)
//! as cheap as an empty one, where a scan from the host's port would walk every taken port.

use crate::packet::Packet;
use crate::router::conntrack::{Conntrack, Dir, Flags};
use std::net::Ipv4Addr;

/// Ports tried from the first offset; each later round tries half as many, down to this floor.
const FIRST_ATTEMPTS: u32 = 128;
const LAST_ATTEMPTS: u32 = 16;

/// Gives connection `id` the source address `to`, choosing a port no other entry uses.
pub fn map_source(ct: &mut Conntrack, id: u32, to: Ipv4Addr) {
    let mut reply = ct.get(id).reply;
    reply.dst = to;
    let free = |ct: &Conntrack, reply: &crate::packet::FiveTuple| {
        ct.get(id).reply == *reply || !ct.reply_tuple_taken(reply)
    };
    if !free(ct, &reply) {
        let (min, size) = port_range(reply.dst_port);
        let mut seed = offset_seed(&ct.get(id).original);
        let mut attempts = FIRST_ATTEMPTS.min(size);
        'rounds: while attempts >= LAST_ATTEMPTS.min(size) {
            let off = next_offset(&mut seed);
            for i in 0..attempts {
                reply.dst_port = (min + (off.wrapping_add(i) % size)) as u16;
                if free(ct, &reply) {
                    break 'rounds;
                }
            }
            attempts /= 2;
        }
        // No free port found: the last one tried clashes, as a full range does in the kernel.
    }
    ct.set_reply(id, reply);
}

/// The ports masquerade may move a source port to: Linux keeps a privileged port privileged.
fn port_range(port: u16) -> (u32, u32) {
    match port {
        0..512 => (1, 511),
        512..1024 => (600, 424),
        _ => (1024, 64_512),
    }
}

/// A seed for the search offsets from the connection's own tuple, so connections clashing on
/// the same mapping search from different places (the kernel uses a random draw).
fn offset_seed(t: &crate::packet::FiveTuple) -> u64 {
    (u32::from(t.src) as u64) << 32
        ^ u32::from(t.dst) as u64
        ^ (t.src_port as u64) << 16
        ^ t.dst_port as u64
}

/// splitmix64: the next pseudo-random offset.
fn next_offset(state: &mut u64) -> u32 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)) as u32
}

/// Sends connection `id`'s original direction to `to` (and `port`, if given).
pub fn map_destination(ct: &mut Conntrack, id: u32, to: Ipv4Addr, port: Option<u16>) {
    let mut reply = ct.get(id).reply;
    reply.src = to;
    if let Some(p) = port {
        reply.src_port = p;
    }
    ct.set_reply(id, reply);
    ct.get_mut(id).set(Flags::DST_NAT, true);
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
