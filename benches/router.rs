//! The packet path through the router alone: a new connection's first packet (conntrack
//! insert, mangle with PCC, routing, masquerade) and an established connection's packets;
//! and a packet through each kind of queue.

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

/// A configuration of 200,000 mangle rules, one per LAN address (per-customer marking, as
/// WISPs generate them): a new connection's first packet must not walk them all.
fn large_chain() -> Router {
    let mut text = String::from(
        "/interface set ether1 name=WAN1\n/interface set ether2 name=WAN2\n\
         /ip address add address=192.168.1.2/24 interface=WAN1\n\
         /ip address add address=192.168.2.2/24 interface=WAN2\n\
         /ip address add address=10.0.0.1/8 interface=ether3\n/ip firewall mangle\n",
    );
    for i in 0..200_000u32 {
        let [_, b, c, d] = (0x0a00_0000 + i).to_be_bytes();
        text.push_str(&format!(
            "add chain=prerouting src-address=10.{b}.{c}.{d} action=mark-connection \
             new-connection-mark=c{} passthrough=no\n",
            i % 2
        ));
    }
    text.push_str("/ip route add gateway=192.168.1.1\n");
    text.push_str("/ip firewall nat add chain=srcnat action=masquerade out-interface=WAN1\n");
    Router::new(routeros::load("large.rsc", &text).unwrap())
}

#[divan::bench(sample_size = 1_000)]
fn new_connection_200k_rules(b: Bencher) {
    let mut r = large_chain();
    let lan = r.config.iface("ether3").unwrap();
    let mut i = 0u32;
    b.bench_local(|| {
        i = i.wrapping_add(1);
        let t = FiveTuple {
            src: Ipv4Addr::from(0x0a00_0000 + (i * 7919) % 200_000),
            dst: Ipv4Addr::new(93, 184, 216, 34),
            src_port: 32768 + (i % 28_000) as u16,
            dst_port: 443,
            protocol: Protocol::Tcp,
        };
        let mut p = Packet::tcp(t, 0, TcpFlags::SYN, 0, 0, 0);
        let now = u64::from(i) * 100_000;
        if i.is_multiple_of(10_000) {
            r.expire(now);
        }
        black_box(r.receive(now, lan, &mut p))
    });
}

/// A packet through a 100 Mbit/s HTB queue of each kind, one in and one out every 120 µs
/// (1500 bytes at the line's rate) from 1,000 connections of 200 hosts, 1,000 waiting at the
/// start (CoDel's kinds drain that standing queue): the cost a queue adds to each packet.
#[divan::bench(args = ["pfifo", "pcq", "sfq", "red", "fq-codel", "cake"], sample_size = 10_000)]
fn through_a_queue(b: Bencher, kind: &str) {
    use pccsim::router::config::{Dialect, StoredItem};
    use pccsim::router::queue::Entry;
    use pccsim::router::queue::config::QueueType;
    use pccsim::router::queue::htb::{ClassSpec, Htb};
    let props = match kind {
        "pfifo" => vec![("pfifo-limit", "2000")],
        "pcq" => vec![
            ("pcq-classifier", "dst-address"),
            ("pcq-total-limit", "5000"),
        ],
        _ => vec![],
    };
    let mut props: Vec<(&str, &str)> = props;
    props.extend([("name", "q"), ("kind", kind)]);
    let item = StoredItem {
        line: 1,
        props: (props.iter())
            .map(|(k, v)| (k.to_string().into(), v.to_string()))
            .collect(),
    };
    let kind = QueueType::from_item(&item, Dialect::V7).unwrap().kind;
    let spec = ClassSpec {
        parent: None,
        limit_at: 0,
        max_limit: 100_000_000,
        priority: 8,
        bucket_size: 0.1,
        kind,
        burst: None,
    };
    let mut htb: Htb<u32> = Htb::new(&[spec]);
    // A 1500-byte packet of connection `i % 1000` offered at `now`; refused ones are lost.
    let offer = |htb: &mut Htb<u32>, i: u32, now: u64| {
        let entry = Entry {
            item: i,
            len: 1500,
            at: now,
        };
        let _ = htb.enqueue(0, entry, &packet(i % 1_000).tuple);
    };
    // 1500-byte packets at 100 Mbit/s: one leaves every 120 µs.
    let (mut now, mut i) = (0u64, 0u32);
    for _ in 0..1_000 {
        i += 1;
        offer(&mut htb, i, now);
    }
    b.bench_local(|| {
        now += 120_000;
        i = i.wrapping_add(1);
        offer(&mut htb, i, now);
        black_box(htb.dequeue(now))
    });
}
