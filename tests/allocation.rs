//! The packet path allocates nothing in the steady state: what allocations a run makes come
//! with connections (their transport state) and bookkeeping, not with packets.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn steady_state_allocates_per_connection_not_per_packet() {
    let loaded = common::scenario("dual_wan.ron");
    let mut sim = pccsim::Simulation::new(&loaded, loaded.scenario.seed);
    sim.run_until(60 * pccsim::units::SEC);
    let (allocs, packets, conns) = (
        ALLOCATIONS.load(Ordering::Relaxed),
        sim.metrics.router_packets,
        sim.metrics.connections_total,
    );
    sim.run_until(180 * pccsim::units::SEC);
    let allocs = ALLOCATIONS.load(Ordering::Relaxed) - allocs;
    let packets = sim.metrics.router_packets - packets;
    let conns = sim.metrics.connections_total - conns;
    println!("{allocs} allocations, {packets} packets, {conns} connections");
    assert!(packets > 100_000, "{packets} packets");
    // A TCP connection boxes its state once and makes room for each direction's scoreboard
    // (again as a large window grows); the rest is occasional growth of tables.
    assert!(
        allocs <= 4 * conns + packets / 1000,
        "{allocs} allocations for {packets} packets and {conns} connections"
    );
}
