//! The packet path through the router alone: a new connection's first packet (conntrack
//! insert, mangle with PCC, routing, masquerade) and an established connection's packets.

use divan::{Bencher, black_box};
use pccsim::packet::{FiveTuple, Packet, Protocol, TcpFlags};
use pccsim::{Router, routeros};
use std::net::Ipv4Addr;

fn main() {
    divan::main();
}

fn router() -> Router {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/weighted_5_2.rsc");
    let text = std::fs::read_to_string(path).unwrap();
    Router::new(routeros::load(path, &text).unwrap())
}

fn packet(i: u32) -> Packet {
    let t = FiveTuple {
        src: Ipv4Addr::from(0x0a0a_000a + i % 200),
        dst: Ipv4Addr::from(0x5db8_0000 + (i * 7919) % 50_000),
        src_port: 32768 + (i % 28_000) as u16,
        dst_port: 443,
        protocol: Protocol::Tcp,
    };
    Packet::tcp(t, 0, TcpFlags::SYN, 0, 0, 0)
}

/// First packets of new connections: classification and NAT set-up.
#[divan::bench(sample_size = 10_000)]
fn new_connection(b: Bencher) {
    let mut r = router();
    let lan = r.config.iface("LAN").unwrap();
    let mut i = 0u32;
    b.bench_local(|| {
        i = i.wrapping_add(1);
        let mut p = packet(i);
        // 10,000 connections a second, and the once-a-second sweep the engine also does, so
        // the table holds a steady ~50,000 half-open entries (SYN timeout 5 s).
        let now = u64::from(i) * 100_000;
        if i.is_multiple_of(10_000) {
            r.expire(now);
        }
        black_box(r.receive(now, lan, &mut p))
    });
}

/// Packets of 10,000 established connections, round robin: the common case.
#[divan::bench(sample_size = 10_000)]
fn established_packet(b: Bencher) {
    let mut r = router();
    let lan = r.config.iface("LAN").unwrap();
    let packets: Vec<Packet> = (0..10_000).map(packet).collect();
    for p in &packets {
        r.receive(0, lan, &mut p.clone());
    }
    let mut i = 0usize;
    b.bench_local(|| {
        i = (i + 1) % packets.len();
        let mut p = packets[i];
        p.flags = TcpFlags::ACK;
        black_box(r.receive(1, lan, &mut p))
    });
}
