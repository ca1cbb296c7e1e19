//! Whole simulations: what a user reads off a run.

mod common;

use pccsim::units::{MS, SEC};

#[test]
fn same_seed_gives_an_identical_summary() {
    let loaded = common::scenario("dual_wan.ron");
    let a = common::run(&loaded, 60 * SEC).summary.to_json();
    let b = common::run(&loaded, 60 * SEC).summary.to_json();
    assert_eq!(a, b);
    let other = common::run_with_seed(&loaded, 99, 60 * SEC);
    assert_ne!(a, other.summary.to_json(), "the seed must matter");
}

#[test]
fn shipped_scenarios_break_almost_no_connections_and_keep_pcc_promises() {
    for name in [
        "weighted_5_2.ron",
        "dual_wan.ron",
        "three_wan.ron",
        "small_business.ron",
    ] {
        let loaded = common::scenario(name);
        let run = common::run(&loaded, 120 * SEC);
        let c = &run.summary.connections;
        assert!(c.total > 100, "{name}: {} connections", c.total);
        assert!(
            (c.broken as f64) < 0.002 * c.total as f64,
            "{name}: {} of {} broken: {:?}",
            c.broken,
            c.total,
            c.broken_by_cause
        );
        // Every packet of a connection leaves by its first WAN, with that WAN's address.
        assert_eq!(run.summary.checks.packets_off_wan, 0, "{name}");
        assert_eq!(run.summary.checks.packets_wrong_source, 0, "{name}");
    }
}

#[test]
fn routing_marks_that_catch_replies_break_nearly_every_connection() {
    let loaded = common::scenario_with_config("dual_wan.ron", "tests/configs/reply_bug.rsc");
    let run = common::run(&loaded, 120 * SEC);
    let c = &run.summary.connections;
    let finished = c.completed + c.broken;
    assert!(c.broken as f64 > 0.95 * finished as f64, "{c:?}");
    assert_eq!(c.broken, c.broken_by_cause["reply-sent-out-wan"], "{c:?}");
}

#[test]
fn weighted_5_2_shares_and_the_idle_lte() {
    let loaded = common::scenario("weighted_5_2.ron");
    let run = common::run(&loaded, 600 * SEC);
    let w = &run.summary.wans;
    // LTE idles while gateways are up: it carries only check-gateway's pings to its gateway,
    // 28 bytes each way every 10 s, 60 rounds in 600 s (at a phase of their own: the last
    // reply may still be on its way at the end).
    assert_eq!(w[2].connections, 0, "LTE idles while gateways are up");
    assert_eq!(w[2].bytes_up, 28 * 60);
    assert!([28 * 59, 28 * 60].contains(&w[2].bytes_down), "{:?}", w[2]);
    // both-addresses splits address pairs 5:2; connections follow popular pairs and may differ.
    let pairs = w[0].address_pairs + w[1].address_pairs;
    assert!(pairs > 5_000, "{pairs} pairs");
    assert!(
        (w[0].address_pair_share - 5.0 / 7.0).abs() < 0.015,
        "{:?}",
        w[0]
    );
    assert!((w[0].configured_share.unwrap() - 5.0 / 7.0).abs() < 1e-9);
    assert!((w[1].configured_share.unwrap() - 2.0 / 7.0).abs() < 1e-9);
    assert!(w[0].bytes_down > w[1].bytes_down);
}

#[test]
fn a_saturated_link_delivers_at_least_90_percent_of_its_capacity_to_tcp() {
    let mut loaded = common::scenario("dual_wan.ron");
    let sc = &mut loaded.scenario;
    // One 20 Mbit WAN worth of big downloads, far more than it can carry.
    sc.wans[0].down = pccsim::units::Bandwidth(20_000_000);
    sc.wans[0].latency = pccsim::units::Duration(10 * MS);
    sc.lan.hosts = 4;
    sc.apps.truncate(1);
    sc.apps[0].per_host_per_minute = 6.0;
    sc.apps[0].kind = pccsim::scenario::AppKind::Tcp {
        port: 443,
        request: pccsim::scenario::SizeDist::Fixed(pccsim::units::Size(500)),
        response: pccsim::scenario::SizeDist::Fixed(pccsim::units::Size(20_000_000)),
    };
    let run = common::run(&loaded, 120 * SEC);
    let isp1: Vec<f64> = run
        .metrics
        .samples
        .iter()
        .filter(|s| s.wan == 0 && s.time > 30 * SEC)
        .map(|s| s.down_bps)
        .collect();
    let mean = isp1.iter().sum::<f64>() / isp1.len() as f64;
    assert!(
        mean >= 0.9 * 20e6,
        "ISP1 carried {:.1} Mbit/s of 20",
        mean / 1e6
    );
}

#[test]
fn progress_is_reported_from_the_first_simulated_second_on() {
    let loaded = common::scenario("dual_wan.ron");
    let mut seen = Vec::new();
    pccsim::world::engine::simulate(&loaded, 1, 20 * SEC, |now, end| seen.push((now, end)));
    assert!(seen[0].0 <= SEC, "first report at {} ns", seen[0].0);
    assert!(seen.windows(2).all(|w| w[1].0 - w[0].0 <= SEC));
    assert_eq!(seen.last(), Some(&(20 * SEC, 20 * SEC)));
}

#[test]
fn a_run_that_ends_between_samples_gets_a_last_shorter_interval() {
    let loaded = common::scenario("dual_wan.ron");
    let run = common::run(&loaded, 25 * SEC);
    let times: Vec<u64> = run
        .metrics
        .samples
        .iter()
        .filter(|s| s.wan == 0)
        .map(|s| s.time)
        .collect();
    assert_eq!(times, [10 * SEC, 20 * SEC, 25 * SEC]);
    // The last interval's rate is over its own 5 s: bytes and rate agree.
    let total: f64 = run
        .metrics
        .samples
        .iter()
        .filter(|s| s.wan == 0)
        .zip([10.0, 10.0, 5.0])
        .map(|(s, secs)| s.down_bps * secs / 8.0)
        .sum();
    let bytes = run.metrics.wans[0].bytes_down as f64;
    assert!((total - bytes).abs() < 1.0, "{total} vs {bytes}");
}

#[test]
fn a_small_world_built_in_code_runs_like_one_read_from_a_file() {
    use pccsim::WorldBuilder;
    let path = common::root().join("scenarios/dual_wan.ron");
    let mut world = WorldBuilder::from_file(&path).unwrap();
    // Three hosts that only browse.
    world.scenario().lan.hosts = 3;
    world.scenario().apps.truncate(1);
    let loaded = world.build().unwrap();
    let run = common::run(&loaded, 60 * SEC);
    let c = &run.summary.connections;
    assert!(c.total > 10 && c.broken == 0, "{c:?}");
    // (The router's own check-gateway pings are tracked too, from its WAN addresses.)
    let hosts: std::collections::BTreeSet<_> = run
        .router
        .conntrack
        .iter()
        .map(|(_, e)| e.original.src)
        .filter(|a| a.octets()[0] == 10)
        .collect();
    assert!(hosts.len() <= 3, "{hosts:?}");
    // A world the checks refuse is refused the same way as a file.
    let mut bad = WorldBuilder::from_file(&path).unwrap();
    bad.scenario().lan.hosts = 0;
    assert!(
        bad.build()
            .unwrap_err()
            .to_string()
            .contains("at least one host")
    );
}

#[test]
fn quiet_udp_sessions_break_when_the_udp_timeout_is_shorter_than_their_keepalive() {
    // isp_1m's first two minutes: 20,000 subscribers open quiet UDP sessions (a keepalive each
    // way every 25 s, answered only on the far end's own tick) and short web fetches.
    let shipped = common::root().join("scenarios/isp_1m.ron");
    let config = common::read(&common::root().join("scenarios/isp_1m.rsc"));
    let run_with = |config: &str| {
        let loaded = pccsim::WorldBuilder::from_file(&shipped)
            .unwrap()
            .config(config)
            .build()
            .unwrap();
        common::run(&loaded, 120 * SEC)
    };
    // Its UDP timeout (30 s) outlasts the silent first 25 s: no mapping is lost.
    let kept = run_with(&config);
    let c = &kept.summary.connections;
    assert!(c.total > 300_000, "{} connections", c.total);
    assert_eq!(c.broken, 0, "{:?}", c.broken_by_cause);
    for w in &kept.summary.wans {
        assert!(
            (w.connection_share - 0.5).abs() < 0.01,
            "{}: {}",
            w.name,
            w.connection_share
        );
    }
    // v6's default of 10 s forgets a session's mapping before the first answer; the next
    // keepalive is masqueraded afresh, and where another subscriber took its port to a popular
    // server meanwhile, the server sees a new address and drops the session.
    let lost = run_with(&config.replace(" udp-timeout=30s", ""));
    let c = &lost.summary.connections;
    assert!(c.broken > 100, "{:?}", c.broken_by_cause);
    assert_eq!(
        c.broken, c.broken_by_cause["nat-address-changed"],
        "{:?}",
        c.broken_by_cause
    );
}

#[test]
fn base_rtt_is_the_round_trip_to_a_server_not_to_the_core() {
    // dual_wan's ISP1: 3 ms access and 5 ms upstream; every server 17 ms beyond the core. A
    // path of 50 ms round trip must read 50, not the 16 to the core.
    let mut world =
        pccsim::WorldBuilder::from_file(&common::root().join("scenarios/dual_wan.ron")).unwrap();
    let ms = pccsim::units::MS;
    world.scenario().internet.server_latency = (
        pccsim::units::Duration(17 * ms),
        pccsim::units::Duration(17 * ms),
    );
    let loaded = world.build().unwrap();
    let run = common::run(&loaded, 5 * SEC);
    let isp1 = &run.summary.wans[0];
    let one_way = run.summary.wans[0].base_rtt_ms / 2.0;
    assert!((one_way - (3.0 + 5.0 + 17.0)).abs() < 0.5, "{isp1:?}");
}

#[test]
fn a_hosts_rate_is_as_written_however_few_hosts_there_are() {
    // One host, "60 a minute": activity_spread's factors average exactly 1, so a lone host
    // (whose single draw may be far from 1) still runs at 60 a minute.
    for seed in [1, 2, 3] {
        let mut world =
            pccsim::WorldBuilder::from_file(&common::root().join("scenarios/dual_wan.ron"))
                .unwrap();
        let sc = world.scenario();
        sc.lan.hosts = 1;
        sc.apps.truncate(1);
        sc.apps[0].per_host_per_minute = 60.0;
        let loaded = world.build().unwrap();
        let run = common::run_with_seed(&loaded, seed, 600 * SEC);
        let n = run.summary.connections.total as f64;
        assert!(
            (510.0..690.0).contains(&n),
            "seed {seed}: {n} in 10 minutes"
        );
    }
}

#[test]
fn connections_close_both_ways_and_conntrack_walks_time_wait() {
    // Servers answer the host's FIN with their own and the host sends the last ACK, as Linux
    // ends do: finished connections sit in TIME_WAIT (10 s), not half-closed in FIN_WAIT.
    let run = common::run(&common::scenario("dual_wan.ron"), 120 * SEC);
    let said = pccsim::inspect::exec(
        &run.router,
        "t",
        ":put [:len [/ip firewall connection find tcp-state=time-wait]]
:put [:len [/ip firewall connection find tcp-state=fin-wait]]",
    )
    .unwrap();
    let counts: Vec<u64> = said.iter().map(|l| l.trim().parse().unwrap()).collect();
    assert!(counts[0] > 20, "time-wait: {said:?}");
    assert!(counts[1] * 10 < counts[0], "fin-wait: {said:?}");
}
