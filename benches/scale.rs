//! Cost per packet as the router's connection table grows: established packets spread over
//! 1,000, 100,000 and 1,000,000 live connections (in random order, so the table is not in the
//! cache), and the once-a-second conntrack sweep the engine runs at each size. The setup prints
//! the router's memory per live connection.

use divan::{Bencher, black_box};
use pccsim::packet::{FiveTuple, Packet, Protocol, TcpFlags};
use pccsim::units::SEC;
use pccsim::{Router, routeros};
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicIsize, Ordering};

/// Counts the bytes the program holds, to report memory per connection.
struct Live;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Live {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Live = Live;

fn main() {
    divan::main();
}

const SIZES: [usize; 3] = [1_000, 100_000, 1_000_000];

fn packet(i: u32) -> Packet {
    let t = FiveTuple {
        src: Ipv4Addr::from(0x0a0a_000a + i % 200),
        dst: Ipv4Addr::from(0x5db8_0000 + (i.wrapping_mul(7919)) % 50_000),
        src_port: 1024 + ((i / 200) % 60_000) as u16,
        dst_port: 443,
        protocol: Protocol::Tcp,
    };
    Packet::tcp(t, 0, TcpFlags::SYN, 0, 0, 0)
}

/// A router of the enterprise configuration holding `n` established connections, and their
/// first packets in a shuffled order.
fn router_with(n: usize) -> (Router, Vec<Packet>) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/weighted_5_2.rsc");
    let text = std::fs::read_to_string(path).unwrap();
    let mut r = Router::new(routeros::load(path, &text).unwrap());
    r.conntrack.settings.max_entries = 2 * n as u32;
    // Only first packets are sent: keep their half-open entries for the whole bench.
    r.conntrack.settings.tcp_syn_sent = 86_400 * SEC;
    let lan = r.config.iface("LAN").unwrap();
    let before = LIVE_BYTES.load(Ordering::Relaxed);
    let mut packets: Vec<Packet> = (0..n as u32).map(packet).collect();
    for p in &packets {
        r.receive(0, lan, &mut p.clone());
    }
    let bytes = LIVE_BYTES.load(Ordering::Relaxed) - before - (n * size_of::<Packet>()) as isize;
    assert_eq!(r.conntrack.len(), n, "every connection is tracked");
    eprintln!(
        "{n} live connections: {} bytes each in the router",
        bytes / n as isize
    );
    // A fixed shuffle (xorshift), so each packet finds its entry somewhere else in memory.
    let mut x = 0x9e37_79b9_u32;
    for i in (1..packets.len()).rev() {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        packets.swap(i, x as usize % (i + 1));
    }
    for p in &mut packets {
        p.flags = TcpFlags::ACK;
    }
    (r, packets)
}

/// An established connection's packet at each table size.
#[divan::bench(args = SIZES, sample_size = 10_000, sample_count = 50)]
fn established_packet(b: Bencher, n: usize) {
    let (mut r, packets) = router_with(n);
    let lan = r.config.iface("LAN").unwrap();
    let mut i = 0usize;
    b.bench_local(|| {
        i = (i + 1) % packets.len();
        let mut p = packets[i];
        black_box(r.receive(SEC, lan, &mut p))
    });
}

/// The sweep for expired connections the engine runs once a simulated second, when none is due.
#[divan::bench(args = SIZES, sample_count = 20)]
fn conntrack_sweep(b: Bencher, n: usize) {
    let (mut r, _) = router_with(n);
    let mut now = SEC;
    b.bench_local(|| {
        now += SEC;
        black_box(r.expire(now))
    });
}
