//! The whole engine on the shipped enterprise scenario: simulated minutes per iteration. Divide
//! the router packets in the printed summary by the time per iteration for packets per second.

use pccsim::units::SEC;
use pccsim::world::engine::simulate;

fn main() {
    divan::main();
}

#[divan::bench(sample_count = 5)]
fn weighted_5_2_one_minute() -> u64 {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/weighted_5_2.ron");
    let loaded = pccsim::world::builder::load(std::path::Path::new(path)).unwrap();
    let run = simulate(&loaded, loaded.scenario.seed, 60 * SEC, |_, _| {});
    run.metrics.router_packets
}
