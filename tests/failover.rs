//! The bad day: failures on a timeline, check-gateway's detection, and the sessions that pay.

mod common;

use pccsim::WorldBuilder;
use pccsim::scenario::What;
use pccsim::scenario::{self, Loaded};
use pccsim::units::{Duration, MS, SEC, Time};

/// The failover scenario's world without its timeline, to give it another in code.
fn failover_world() -> WorldBuilder {
    let path = common::root().join("scenarios/failover_gateway.ron");
    WorldBuilder::from_file(&path).unwrap().no_timeline()
}

/// The failover scenario's world with another timeline written in RON (for errors that must
/// point into the file).
fn with_timeline(timeline: &str) -> Result<Loaded, pccsim::Error> {
    let root = common::root().join("scenarios");
    let text = common::read(&root.join("failover_gateway.ron"));
    let start = text.find("    timeline: [").unwrap();
    let text = format!("{}    timeline: [{timeline}],\n)\n", &text[..start]);
    let config = common::read(&root.join("failover_gateway.rsc"));
    let sc = scenario::parse("t.ron", &text)?;
    let cfg = pccsim::routeros::load("t.rsc", &config)?;
    scenario::check(sc, cfg, "t.ron", &text, "t.rsc", &config)
}

fn broken(run: &common::Ran, wan: usize, cause: &str) -> u64 {
    run.summary.wans[wan]
        .broken_by_cause
        .get(cause)
        .copied()
        .unwrap_or(0)
}

#[test]
fn a_dead_gateway_is_detected_within_check_gateways_bounds_and_traffic_moves() {
    for died_ms in [300_000, 304_900, 309_999, 310_001] {
        let died = died_ms as Time * 1_000_000;
        let loaded = failover_world()
            .at(&format!("{died_ms}ms"), "isp1", What::GatewayDown)
            .and_then(|w| w.at("420s", "isp1", What::GatewayUp))
            .and_then(WorldBuilder::build)
            .unwrap();
        let run = common::run(&loaded, 480 * SEC);
        let f = &run.summary.failover[0];
        assert_eq!((f.wan.as_str(), f.kind.as_str()), ("ISP1", "gateway"));
        let detected = f.detected_at_s.unwrap() - died as f64 / 1e9;
        // Probes every 10 s, 1 s timeout, two misses; a probe already on its way when the
        // gateway dies (3 ms to it) goes unanswered too.
        assert!(
            detected > 10.99 && detected <= 21.0,
            "died {died_ms} ms: {detected} s"
        );
        // The first good reply after the repair brings the WAN back: the next probe round.
        let back = f.failback_at_s.unwrap();
        assert!((420.0..431.0).contains(&back), "{back}");
        // Connections on ISP1 paid; ISP2's own connections did not (those opened on ISP2
        // during the outage break only at the failback).
        assert!(f.broken_at_failover > 0);
        let isp2 = run.summary.wans[1].broken;
        assert_eq!(
            isp2,
            broken(&run, 1, "failback"),
            "{:?}",
            run.summary.wans[1]
        );
        assert_eq!(
            f.broken_at_failback,
            run.summary
                .connections
                .broken_by_cause
                .get("failback")
                .copied()
                .unwrap_or(0)
        );
        // Until detection ISP1 still takes new connections (into the dead gateway); from the
        // first full interval after it, only check-gateway's pings leave by ISP1.
        let detected_at = f.detected_at_s.unwrap();
        let isp1_up = |s: &pccsim::metrics::Sample| {
            s.wan == 0 && s.time as f64 / 1e9 >= detected_at + 10.0 && s.time as f64 / 1e9 <= 420.0
        };
        let after: Vec<f64> = run
            .metrics
            .samples
            .iter()
            .filter(|s| isp1_up(s))
            .map(|s| s.up_bps)
            .collect();
        assert!(
            !after.is_empty() && after.iter().all(|&bps| bps < 1_000.0),
            "{after:?}"
        );
    }
}

#[test]
fn a_link_down_is_acted_on_at_once_and_flushes_its_connections() {
    let mut world = failover_world();
    // Large downloads, so that some are under way on ISP1 when its link goes down.
    world.scenario().apps[1].kind = pccsim::scenario::AppKind::Tcp {
        port: 443,
        request: pccsim::scenario::SizeDist::Fixed(pccsim::units::Size(800)),
        response: pccsim::scenario::SizeDist::Fixed(pccsim::units::Size(100_000_000)),
    };
    let loaded = world
        .at("300s", "isp1", What::LinkDown)
        .and_then(|w| w.at("400s", "ISP1", What::LinkUp))
        .and_then(WorldBuilder::build)
        .unwrap();
    let run = common::run(&loaded, 500 * SEC);
    let f = &run.summary.failover[0];
    assert_eq!(f.kind, "link");
    assert_eq!((f.failed_at_s, f.detected_at_s), (300.0, Some(300.0)));
    assert_eq!(f.recovered_at_s, Some(400.0));
    // Its routes are used again once check-gateway's next ping is answered.
    let back = f.failback_at_s.unwrap();
    assert!((400.0..410.1).contains(&back), "{f:?}");
    // Connections open on ISP1 were flushed with the interface; that is why they broke.
    assert!(
        broken(&run, 0, "wan-down-flush") > 0,
        "{:?}",
        run.summary.wans[0]
    );
    assert_eq!(run.summary.wans[1].broken, broken(&run, 1, "failback"));
}

#[test]
fn a_failure_beyond_the_gateway_is_invisible_to_plain_check_gateway() {
    let loaded = failover_world()
        .at("300s", "isp1", What::UpstreamDown)
        .and_then(|w| w.at("600s", "isp1", What::UpstreamUp))
        .and_then(WorldBuilder::build)
        .unwrap();
    let run = common::run(&loaded, 700 * SEC);
    let f = &run.summary.failover[0];
    assert_eq!(f.kind, "upstream");
    assert_eq!(f.detected_at_s, None, "the gateway still answers its pings");
    // Every new connection PCC gives ISP1 during the outage is blackholed, but for those whose
    // SYN retries (127 s of them) outlast it.
    assert!(f.new_connection_failures > f.new_connections / 2, "{f:?}");
    assert!(broken(&run, 0, "blackholed") > 0);
}

#[test]
fn healthy_runs_have_no_failover_entries_and_probes_do_not_break_anything() {
    let run = common::run(&common::scenario("dual_wan.ron"), 60 * SEC);
    assert!(run.summary.failover.is_empty());
    assert_eq!(run.summary.connections.broken, 0);
}

#[test]
fn a_hostile_timeline_is_refused_with_its_place_or_runs() {
    let cases = [
        (
            "(at: \"1h\", wan: \"isp1\", what: LinkDown)",
            "after the end of the run",
        ),
        (
            "(at: \"1m\", wan: \"isp9\", what: LinkDown)",
            "`isp9` is not a WAN",
        ),
        (
            "(at: \"1m\", wan: \"ips1\", what: LinkDown)",
            "did you mean `isp1`?",
        ),
        (
            "(at: \"1m\", wan: \"isp1\", what: Flap(down: \"20s\", every: \"1m\", times: 3)),
             (at: \"2m10s\", wan: \"isp1\", what: LinkDown), (at: \"4m\", wan: \"isp1\", what: LinkUp)",
            "meets the link failure of timeline entry 1",
        ),
        (
            "(at: \"1m\", wan: \"isp1\", what: Flap(down: \"2s\", every: \"1s\", times: 3))",
            "shorter than `every`",
        ),
        (
            "(at: \"0s\", wan: \"isp1\", what: Flap(down: \"1ms\", every: \"2ms\", times: 4000000))",
            "at most",
        ),
    ];
    for (timeline, words) in cases {
        let e = with_timeline(timeline).unwrap_err().to_string();
        assert!(e.contains("t.ron:") && e.contains(words), "{timeline}: {e}");
    }
    // Repeated and rapid changes run, and the router follows the last word.
    let loaded = with_timeline(
        "(at: \"10s\", wan: \"isp1\", what: LinkDown), (at: \"10s\", wan: \"isp1\", what: LinkDown),
         (at: \"30s\", wan: \"isp1\", what: Flap(down: \"1ms\", every: \"2ms\", times: 5000)),
         (at: \"20s\", wan: \"isp1\", what: LinkUp), (at: \"15s\", wan: \"isp2\", what: GatewayUp)",
    )
    .unwrap();
    let run = common::run(&loaded, 60 * SEC);
    assert!(run.summary.connections.total > 0);
    assert!(
        run.summary
            .failover
            .iter()
            .all(|f| f.recovered_at_s.is_some())
    );
}

#[test]
fn the_time_series_shows_each_wans_link_and_gateway_state() {
    let loaded = failover_world()
        .at("30s", "isp1", What::GatewayDown)
        .and_then(|w| w.at("60s", "isp2", What::LinkDown))
        .and_then(WorldBuilder::build)
        .unwrap();
    let run = common::run(&loaded, 90 * SEC);
    let state = |wan: usize, t: u64| {
        let s = run
            .metrics
            .samples
            .iter()
            .find(|s| s.wan == wan && s.time == t * SEC)
            .unwrap();
        (s.link_up, s.gateway_reachable)
    };
    assert_eq!(state(0, 30), (true, true), "not yet detected");
    assert_eq!(state(0, 60), (true, false));
    assert_eq!(state(1, 50), (true, true));
    assert_eq!(
        state(1, 70),
        (false, true),
        "carrier lost; its gateway is not pinged"
    );
}

#[test]
fn run_draws_the_failover_chart_and_prints_each_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("fo");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_pccsim"))
        .args([
            "run",
            "scenarios/failover_gateway.ron",
            "--duration",
            "7m",
            "--out",
        ])
        .arg(&out)
        .current_dir(common::root())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let table = String::from_utf8_lossy(&o.stdout);
    // check-gateway's rounds run at a phase of their own: detection within its 11–21 s.
    let detected: f64 = table
        .split("failover: ISP1 gateway failed at 300.0 s, detected ")
        .nth(1)
        .and_then(|rest| rest.split(" s,").next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{table}"));
    assert!((310.0..=321.0).contains(&detected), "{table}");
    for ext in ["png", "svg"] {
        assert!(
            out.join(format!("failover.{ext}"))
                .metadata()
                .unwrap()
                .len()
                > 1000
        );
    }
    let summary: serde_json::Value =
        serde_json::from_str(&common::read(&out.join("summary.json"))).unwrap();
    let f = &summary["failover"][0];
    for key in [
        "wan",
        "kind",
        "failed_at_s",
        "detected_at_s",
        "recovered_at_s",
        "failback_at_s",
        "broken_at_failover",
        "broken_at_failback",
        "new_connection_failures",
    ] {
        assert!(f.get(key).is_some(), "failover.{key}");
    }
    assert!(
        f["recovered_at_s"].is_null(),
        "the run ended before the repair"
    );
}

#[test]
fn recursive_routes_catch_the_upstream_failure_plain_check_gateway_misses() {
    let root = common::root().join("scenarios");
    let scenario = root.join("failover_upstream.ron");
    let plain = pccsim::world::builder::load(&scenario).unwrap();
    let recursive = pccsim::world::builder::load_with_config(
        &scenario,
        Some(&root.join("failover_upstream_recursive.rsc")),
    )
    .unwrap();
    let end = 660 * SEC;
    let missed = &common::run(&plain, end).summary.failover[0];
    assert_eq!(
        (missed.kind.as_str(), missed.detected_at_s),
        ("upstream", None)
    );
    assert!(
        missed.new_connection_failures > missed.new_connections / 2,
        "{missed:?}"
    );
    let run = common::run(&recursive, end);
    let caught = &run.summary.failover[0];
    let detected = caught.detected_at_s.unwrap() - caught.failed_at_s;
    assert!(detected > 10.99 && detected <= 21.0, "{detected}");
    // The time series shows what the router decided on: the recursive target beyond ISP1
    // unreachable and ISP1 out of service, though ISP1's own gateway answered throughout.
    let isp1_at = |t: u64| {
        let x = (run.metrics.samples.iter())
            .find(|x| x.wan == 0 && x.time == t * SEC)
            .unwrap();
        (x.link_up, x.gateway_reachable, x.in_service)
    };
    assert_eq!(isp1_at(290), (true, true, true));
    assert_eq!(isp1_at(450), (true, false, false));
    assert_eq!(isp1_at(650), (true, true, true));
    assert!(caught.failback_at_s.unwrap() < 611.0, "{caught:?}");
    assert!(
        caught.new_connection_failures * 20 < caught.new_connections,
        "{caught:?}"
    );
}

#[test]
fn fasttrack_on_sends_marked_traffic_by_main_and_the_fix_stops_it() {
    let root = common::root().join("scenarios");
    let scenario = root.join("fasttrack_on.ron");
    let on = common::run(&pccsim::world::builder::load(&scenario).unwrap(), 300 * SEC);
    let fixed = pccsim::world::builder::load_with_config(
        &scenario,
        Some(&root.join("fasttrack_fixed.rsc")),
    )
    .unwrap();
    let fixed = common::run(&fixed, 300 * SEC);
    // FastTracked packets of ISP2's connections follow main out of ISP1 with ISP2's address.
    assert!(on.summary.checks.packets_off_wan > 0);
    assert_eq!(
        on.summary.checks.packets_off_wan,
        on.summary.checks.packets_wrong_source
    );
    let misrouted = broken(&on, 1, "fasttrack-misroute");
    assert!(misrouted > 0);
    assert_eq!(
        on.summary.connections.broken, misrouted,
        "only ISP2's, only this cause"
    );
    // Fast-tracking only unmarked connections: nothing leaves by the wrong WAN, nothing breaks.
    assert_eq!(fixed.summary.checks.packets_off_wan, 0);
    assert_eq!(fixed.summary.connections.broken, 0);
}

#[test]
fn a_flapping_link_is_acted_on_each_time_and_every_break_is_booked_once() {
    let loaded =
        pccsim::world::builder::load(&common::root().join("scenarios/flapping_lte.ron")).unwrap();
    let run = common::run(&loaded, 590 * SEC);
    let flaps = &run.summary.failover;
    assert_eq!(
        flaps.len(),
        4,
        "flaps at 2, 4, 6 and 8 minutes fit in 590 s"
    );
    for (k, f) in flaps.iter().enumerate() {
        let at = 120.0 * (k + 1) as f64;
        assert_eq!(
            (f.kind.as_str(), f.failed_at_s, f.detected_at_s),
            ("link", at, Some(at))
        );
        // Used again once the route is: the link is up and check-gateway's next ping answered.
        let back = f.failback_at_s.unwrap();
        assert!((at + 20.0..at + 30.1).contains(&back), "{f:?}");
    }
    let booked: u64 = flaps
        .iter()
        .map(|f| f.broken_at_failover + f.broken_at_failback)
        .sum();
    assert_eq!(
        booked, run.summary.connections.broken,
        "{:?}",
        run.summary.connections
    );
    assert!(broken(&run, 1, "wan-down-flush") > 0);
}

#[test]
fn an_impairment_adds_loss_and_delay_for_a_while() {
    let impair = What::Impair {
        loss: 0.05,
        latency: Duration(100 * MS),
        lasting: Duration(60 * SEC),
    };
    let loaded = failover_world()
        .at("60s", "isp1", impair)
        .and_then(WorldBuilder::build)
        .unwrap();
    let run = common::run(&loaded, 180 * SEC);
    let isp1 = |t: u64| {
        run.metrics
            .samples
            .iter()
            .find(|s| s.wan == 0 && s.time == t * SEC)
            .unwrap()
    };
    let rtt_ms = |t: u64| isp1(t).mean_rtt.unwrap() as f64 / 1e6;
    // 100 ms more each way: TCP measures about 200 ms more (servers differ, so not exactly).
    assert!(
        rtt_ms(100) > rtt_ms(50) + 150.0,
        "{} vs {}",
        rtt_ms(100),
        rtt_ms(50)
    );
    assert!(
        rtt_ms(170) < rtt_ms(100) - 150.0,
        "back to normal: {}",
        rtt_ms(170)
    );
    assert!(isp1(100).losses > 0 && isp1(50).losses == 0 && isp1(170).losses == 0);
    let f = &run.summary.failover[0];
    assert_eq!(
        (f.kind.as_str(), f.recovered_at_s),
        ("impairment", Some(120.0))
    );
}

#[test]
fn netwatch_runs_its_scripts_at_its_probe_times_and_they_move_the_traffic() {
    let root = common::root().join("scenarios");
    let loaded = pccsim::world::builder::load_with_config(
        &root.join("failover_upstream.ron"),
        Some(&root.join("failover_upstream_netwatch.rsc")),
    )
    .unwrap();
    let run = common::run(&loaded, 660 * SEC);
    let nw = &run.summary.netwatch[0];
    assert_eq!(nw.host, "9.9.9.9");
    let changes: Vec<(f64, &str, bool)> = nw
        .changes
        .iter()
        .map(|c| (c.at_s, c.status, c.script_ran))
        .collect();
    // Up at the first reply (no script: it was unknown). The probes run every 10 s at a phase
    // from the seed: the first after the upstream died at 300 s times out 2 s later, and the
    // first after the repair at 600 s is answered. (One probe is one packet: a queue drop
    // before the failure reads as a short outage, as on a real router.)
    assert_eq!((changes[0].1, changes[0].2), ("up", false));
    let phase = changes[0].0 % 10.0;
    let down = changes.iter().find(|c| c.0 >= 300.0).unwrap();
    assert_eq!((down.1, down.2), ("down", true), "{changes:?}");
    assert!((302.0..312.1).contains(&down.0), "{changes:?}");
    let up = changes.last().unwrap();
    assert!(
        up.1 == "up" && up.2 && (600.0..610.2).contains(&up.0),
        "{changes:?}"
    );
    assert!(((up.0 - phase) % 10.0) < 0.2, "on its round: {changes:?}");
    assert!(
        run.summary.script_errors.is_empty(),
        "{:?}",
        run.summary.script_errors
    );
    // The down-script disabled ISP1's default routes: the router acted then, and new
    // connections went to ISP2 from then on.
    let f = &run.summary.failover[0];
    assert_eq!(f.detected_at_s, Some(down.0));
    assert!(f.new_connection_failures * 50 < f.new_connections, "{f:?}");
    // The time series shows each route's state and the netwatch host's, every interval.
    let csv = pccsim::report::timeseries_csv(&run.metrics);
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let row = |t: &str| -> Vec<&str> {
        csv.lines()
            .find(|l| l.starts_with(&format!("{t},ISP1,")))
            .unwrap()
            .split(',')
            .collect()
    };
    let (isp1_default, isp2_backup, watch) = (
        col("route.line31"),
        col("route.line32"),
        col("netwatch.9.9.9.9"),
    );
    let before = row("300");
    assert_eq!(
        (before[isp1_default], before[isp2_backup], before[watch]),
        ("1", "0", "1")
    );
    let during = row("310");
    assert_eq!(
        (during[isp1_default], during[isp2_backup], during[watch]),
        ("0", "1", "0")
    );
}

#[test]
fn scheduler_entries_run_their_scripts_on_the_running_router() {
    let root = common::root().join("scenarios");
    let config = netwatch_replaced(
        "/system script add name=isp1-off source=\"/ip route disable [find comment=isp1-default]\"\n\
         /system scheduler add name=evening interval=2m on-event=isp1-off\n",
    );
    let loaded = WorldBuilder::from_file(&root.join("dual_wan.ron"))
        .unwrap()
        .config(&config)
        .build()
        .unwrap();
    let run = common::run(&loaded, 240 * SEC);
    assert!(
        run.summary.script_errors.is_empty(),
        "{:?}",
        run.summary.script_errors
    );
    // From 120 s on ISP1's default routes are disabled: nothing new leaves by ISP1.
    let isp1 = |t: u64| {
        run.metrics
            .samples
            .iter()
            .find(|s| s.wan == 0 && s.time == t * SEC)
            .unwrap()
            .up_bps
    };
    assert!(isp1(100) > 0.0);
    assert!(
        isp1(200) < isp1(100) / 20.0,
        "{} vs {}",
        isp1(200),
        isp1(100)
    );
    assert!(
        run.router
            .config
            .routes
            .iter()
            .filter(|r| r.comment.as_deref() == Some("isp1-default"))
            .all(|r| r.disabled)
    );
}

/// The netwatch configuration with its `/tool netwatch` entry replaced by `with`.
fn netwatch_replaced(with: &str) -> String {
    let path = common::root().join("scenarios/failover_upstream_netwatch.rsc");
    let rsc = common::read(&path);
    let start = rsc.find("/tool netwatch").unwrap();
    let end = rsc[start..].find("\n\n").unwrap() + start;
    format!("{}{with}{}", &rsc[..start], &rsc[end..])
}

/// The upstream-failure world with the netwatch configuration, edited.
fn netwatch_world(from: &str, to: &str) -> Loaded {
    netwatch_builder(from, to).build().unwrap()
}

fn netwatch_builder(from: &str, to: &str) -> WorldBuilder {
    let root = common::root().join("scenarios");
    let config = common::read(&root.join("failover_upstream_netwatch.rsc"));
    assert!(config.contains(from), "{from:?}");
    WorldBuilder::from_file(&root.join("failover_upstream.ron"))
        .unwrap()
        .config(&config.replace(from, to))
}

#[test]
fn a_netwatch_script_that_moves_no_route_is_no_detection() {
    // The down-script's `find` matches no route: the router keeps sending ISP1's share into
    // the dead upstream, so nothing was detected and nothing failed back.
    let loaded = netwatch_world(
        "disable [find comment=\\\"isp1-default\\\"]",
        "disable [find comment=\\\"no-such-route\\\"]",
    );
    let run = common::run(&loaded, 660 * SEC);
    let nw = &run.summary.netwatch[0];
    assert!(
        nw.changes
            .iter()
            .any(|c| c.status == "down" && c.script_ran)
    );
    let f = &run.summary.failover[0];
    assert_eq!((f.detected_at_s, f.failback_at_s), (None, None), "{f:?}");
    assert!(f.new_connection_failures * 4 > f.new_connections, "{f:?}");
}

#[test]
fn a_wan_put_back_before_the_repair_is_used_again_then_and_each_premature_return_is_a_flap() {
    // Netwatch's host is not pinned: once ISP1's routes are out, its probes go by ISP2 and
    // are answered, so the up-script puts ISP1 back while its upstream is still dead — and
    // the next probe takes it out again.
    let loaded = netwatch_world(
        "/ip route add dst-address=9.9.9.9/32 gateway=192.168.1.1",
        "",
    );
    let run = common::run(&loaded, 500 * SEC);
    let f = &run.summary.failover[0];
    let detected = f.detected_at_s.unwrap();
    assert!((300.0..312.1).contains(&detected), "{f:?}");
    assert_eq!(f.recovered_at_s, None, "the run ends before the repair");
    assert!(f.flaps >= 5, "{f:?}");
    // The last return holds if no probe took it back before the end.
    let back = f.failback_at_s.map(|t| t < 500.0);
    let nw = &run.summary.netwatch[0];
    let last = nw.changes.last().unwrap();
    assert_eq!(back.is_some(), last.status == "up", "{f:?} {last:?}");
}

#[test]
fn a_call_moved_back_at_failback_loses_its_upstream_and_is_booked_broken() {
    // Calls set up on LTE while the fibre was down move back to the fibre when it returns; the
    // provider hears nothing more from the address it knows. One-way media is a broken call.
    let run = common::run(&common::scenario("failback_voip.ron"), 900 * SEC);
    let f = &run.summary.failover[0];
    assert_eq!(f.recovered_at_s, Some(540.0));
    assert!(f.broken_at_failback > 0, "{f:?}");
    let calls = run.summary.apps.iter().find(|a| a.name == "calls").unwrap();
    let at_failback = calls.sessions_failed_by_cause.get("failback").copied();
    assert!(at_failback.unwrap_or(0) > 0, "{calls:?}");
    // Tunnels never give up: those on the fibre were dead until check-gateway moved them
    // (RouterOS 7 then starts each afresh on LTE, and its peer takes the new address).
    let vpn = run.summary.apps.iter().find(|a| a.name == "vpn").unwrap();
    assert_eq!(vpn.broken, 0, "{vpn:?}");
    assert!(vpn.flows_dead.unwrap() > 0, "{vpn:?}");
    assert!(vpn.longest_dead_s.unwrap() <= 21.0, "{vpn:?}");
}

#[test]
fn flows_stranded_on_the_backup_after_failback_are_counted_with_the_bytes_they_cost() {
    // The tunnel rule keeps tunnels that started on LTE there: after the failback they stay on
    // the metered line, and the summary says how many, for how long and how many bytes.
    let run = common::run(&common::scenario("failback_voip.ron"), 900 * SEC);
    let (fibre, lte) = (&run.summary.wans[0], &run.summary.wans[1]);
    let f = &run.summary.failover[0];
    let outage_s = f.failback_at_s.unwrap() - f.failed_at_s;
    // LTE carried at least its own share's worth while the fibre was out.
    assert!(lte.bytes_during_outage > 10_000_000, "{lte:?}");
    assert_eq!(fibre.bytes_during_outage, 0, "no other WAN was out");
    let st = &lte.stranded_after_failback;
    assert!(st.connections > 0 && st.bytes > 0, "{st:?}");
    assert!(
        st.longest_s > 60.0 && st.longest_s <= 900.0 - 540.0,
        "{st:?}"
    );
    assert_eq!(fibre.stranded_after_failback.connections, 0);
    assert!(outage_s > 299.0);
    // Without the rule, the tunnels move back (and break) instead of staying.
    let text = common::read(&common::root().join("scenarios/failback_voip.rsc"));
    let rule = text.lines().find(|l| l.contains("dst-port=4500")).unwrap();
    let loaded = WorldBuilder::from_file(&common::root().join("scenarios/failback_voip.ron"))
        .unwrap()
        .config(&text.replace(rule, ""))
        .build()
        .unwrap();
    let without = common::run(&loaded, 900 * SEC);
    let st = &without.summary.wans[1].stranded_after_failback;
    assert!(
        st.connections < lte.stranded_after_failback.connections,
        "{st:?}"
    );
    // New calls worked again once check-gateway moved them: within its 10–20 s.
    let restored = f.service_restored_after_s.get("calls").copied().unwrap();
    assert!(restored < 21.0, "{restored}");
}

#[test]
fn a_dead_gateway_pinged_through_another_wan_does_not_answer() {
    // Netwatch watches ISP1's gateway itself. With ISP1's link down the ping goes out by ISP2;
    // the internet routes no private address, so the gateway must read down, not alive.
    let config = common::read(&common::root().join("scenarios/failover_gateway.rsc"));
    let loaded = failover_world()
        .config(&format!(
            "{config}\n/tool netwatch add host=192.168.1.1 interval=5s timeout=1s\n"
        ))
        .at("60s", "isp1", What::LinkDown)
        .and_then(|w| w.at("120s", "isp1", What::LinkUp))
        .and_then(WorldBuilder::build)
        .unwrap();
    let run = common::run(&loaded, 150 * SEC);
    let changes: Vec<(f64, &str)> = run.summary.netwatch[0]
        .changes
        .iter()
        .map(|c| (c.at_s, c.status))
        .collect();
    assert!(
        changes
            .iter()
            .any(|&(t, s)| s == "down" && (60.0..67.0).contains(&t)),
        "{changes:?}"
    );
    assert_eq!(changes.last().map(|c| c.1), Some("up"), "{changes:?}");
}

#[test]
fn connections_moved_off_an_impaired_wan_are_booked_as_nat_address_changed() {
    // 95 % loss for a minute: no failure of the ISP's as such, but check-gateway gives up on
    // the gateway and the connections move to ISP2 with ISP1's address — a failover's doing.
    let impair = What::Impair {
        loss: 0.95,
        latency: Duration(0),
        lasting: Duration(60 * SEC),
    };
    let loaded = failover_world()
        .at("60s", "isp1", impair)
        .and_then(WorldBuilder::build)
        .unwrap();
    let run = common::run(&loaded, 180 * SEC);
    let f = &run.summary.failover[0];
    assert!(
        f.detected_at_s.is_some() && f.failback_at_s.is_some(),
        "{f:?}"
    );
    let causes = &run.summary.connections.broken_by_cause;
    assert!(!causes.contains_key("wrong-source-address"), "{causes:?}");
    assert!(
        causes.get("nat-address-changed").copied().unwrap_or(0) > 0,
        "{causes:?}"
    );
}

#[test]
fn netwatch_icmp_judges_a_lossy_path_by_its_thresholds_not_by_one_ping() {
    // 30 % loss each way for three minutes. One lost ping makes `simple` netwatch call the host
    // down; `type=icmp` with ten pings a test calls it down only past 85 % loss.
    let downs = |kind: &str| {
        let loaded = netwatch_builder("interval=10s timeout=2s", kind)
            .no_timeline()
            .at(
                "60s",
                "isp1",
                What::Impair {
                    loss: 0.3,
                    latency: Duration(0),
                    lasting: Duration(180 * SEC),
                },
            )
            .and_then(WorldBuilder::build)
            .unwrap();
        let run = common::run(&loaded, 240 * SEC);
        let nw = &run.summary.netwatch[0];
        nw.changes.iter().filter(|c| c.status == "down").count()
    };
    let simple = downs("interval=10s timeout=2s");
    let icmp = downs("interval=10s timeout=2s type=icmp packet-count=10 thr-loss-percent=85%");
    assert!(simple >= 4, "simple: {simple} downs");
    assert!(icmp <= 1, "icmp: {icmp} downs");
}

#[test]
fn a_scheduler_script_reads_netwatch_status_and_acts_on_it() {
    // Netwatch runs no script of its own; a scheduler looks at its status every 5 s, as many
    // failover scripts do. The script must see what netwatch sees.
    let root = common::root().join("scenarios");
    let config = netwatch_replaced(
        "/tool netwatch add host=9.9.9.9 interval=10s timeout=2s
/system scheduler add name=judge interval=5s on-event=\":if ([/tool netwatch get [find host=9.9.9.9] status] = \\\"down\\\") do={ /ip route disable [find comment=isp1-default] } else={ /ip route enable [find comment=isp1-default] }\"
",
    );
    let loaded = WorldBuilder::from_file(&root.join("failover_upstream.ron"))
        .unwrap()
        .config(&config)
        .build()
        .unwrap();
    let run = common::run(&loaded, 700 * SEC);
    assert!(
        run.summary.script_errors.is_empty(),
        "{:?}",
        run.summary.script_errors
    );
    // They run, so they are not listed as "not simulated".
    let listed: Vec<&str> = (run.summary.not_simulated.iter())
        .map(|n| n.menu.as_str())
        .collect();
    assert!(
        !listed
            .iter()
            .any(|m| m.contains("netwatch") || m.contains("scheduler")),
        "{listed:?}"
    );
    let f = &run.summary.failover[0];
    let detected = f.detected_at_s.unwrap_or_else(|| panic!("{f:?}"));
    // Netwatch's test (every 10 s, 2 s timeout) then the scheduler's next look (5 s).
    assert!((302.0..318.0).contains(&detected), "{f:?}");
    let back = f.failback_at_s.unwrap();
    assert!((600.0..616.0).contains(&back), "{f:?}");
    // `print` shows the entry with its status.
    let rows = pccsim::inspect::menu_items(&run.router, "tool netwatch").unwrap();
    assert!(
        rows[0].1.iter().any(|(k, v)| k == "status" && v == "up"),
        "{rows:?}"
    );
}

#[test]
fn a_gateway_failure_overlapped_by_a_link_failure_is_used_again_when_both_end() {
    let loaded = failover_world()
        .at("100s", "isp1", What::GatewayDown)
        .and_then(|w| w.at("150s", "isp1", What::LinkDown))
        .and_then(|w| w.at("200s", "isp1", What::LinkUp))
        .and_then(|w| w.at("300s", "isp1", What::GatewayUp))
        .and_then(WorldBuilder::build)
        .unwrap();
    let run = common::run(&loaded, 400 * SEC);
    let f = &run.summary.failover;
    assert_eq!(f.len(), 2, "{f:?}");
    for failure in f {
        // Nothing carries ISP1 until its gateway answers again, after 300 s.
        let back = failure
            .failback_at_s
            .unwrap_or_else(|| panic!("{failure:?}"));
        assert!((300.0..310.1).contains(&back), "{failure:?}");
    }
}

#[test]
fn a_host_gives_up_a_connection_after_linux_s_six_syn_retries() {
    // ISP1's upstream is dead from the start and plain check-gateway never notices: the SYNs
    // of connections PCC sends there go unanswered. Linux retries 6 times (1, 2, 4 … 32 s) and
    // gives up 127 s after the first SYN.
    use std::sync::{Arc, Mutex};
    struct Log(Arc<Mutex<Vec<pccsim::metrics::ConnectionRecord>>>);
    impl pccsim::metrics::ConnectionLog for Log {
        fn record(&mut self, c: &pccsim::metrics::ConnectionRecord) {
            self.0.lock().unwrap().push(c.clone());
        }
        fn finish(self: Box<Self>) -> std::io::Result<()> {
            Ok(())
        }
    }
    let loaded = failover_world()
        .at("1s", "isp1", What::UpstreamDown)
        .and_then(WorldBuilder::build)
        .unwrap();
    let records = Arc::new(Mutex::new(Vec::new()));
    let mut sim = pccsim::Simulation::new(&loaded, 1);
    sim.log_connections(Box::new(Log(Arc::clone(&records))));
    sim.run(1, 200 * SEC, |_, _| {});
    let records = records.lock().unwrap();
    let blackholed: Vec<_> = records
        .iter()
        .filter(|c| c.tuple.protocol == pccsim::packet::Protocol::Tcp && c.wan == Some(0))
        .filter(|c| c.started > SEC && c.bytes_down == 0 && c.ended.is_some())
        .collect();
    assert!(!blackholed.is_empty());
    for c in blackholed {
        assert_eq!(c.ended.unwrap() - c.started, 127 * SEC, "{c:?}");
    }
}

#[test]
fn a_tunnel_stuck_on_a_failed_wan_in_routeros_6_is_freed_by_removing_its_connection() {
    // RouterOS 6 keeps a masqueraded entry whose WAN's routes moved: the tunnel's keepalives
    // leave ISP2 with ISP1's address, each one refreshing the entry, so the tunnel stays dead
    // until ISP1 returns (and one that started afresh on ISP2 is stranded the same way when
    // ISP1 comes back). Scripts that also remove the tunnel's connections let its next packet
    // start afresh by the WAN the routes now say.
    let tunnel = pccsim::scenario::AppKind::UdpStream {
        port: 4500,
        packet: pccsim::units::Size(160),
        interval: Duration(SEC),
        duration: (Duration(600 * SEC), Duration(601 * SEC)),
        persistent: true,
    };
    let dead = |script: &str| {
        let config = common::read(&common::root().join("scenarios/failover_gateway.rsc"));
        let mut world = failover_world().config(&format!(
            "{config}\n/tool netwatch add host=192.168.1.1 interval=5s timeout=1s \\
             down-script=\"/ip route disable [find gateway=192.168.1.1]{script}\" \\
             up-script=\"/ip route enable [find gateway=192.168.1.1]{script}\"\n"
        ));
        let sc = world.scenario();
        sc.apps.truncate(1);
        sc.apps[0].kind = tunnel.clone();
        sc.apps[0].per_host_per_minute = 0.5;
        // The run ends during the outage: after it, up-script and check-gateway race to put
        // ISP1 back, and a tunnel restarted in between is stranded on ISP2 again.
        let loaded = world
            .at("120s", "isp1", What::GatewayDown)
            .and_then(WorldBuilder::build)
            .unwrap();
        let run = common::run(&loaded, 290 * SEC);
        assert!(
            run.summary.script_errors.is_empty(),
            "{:?}",
            run.summary.script_errors
        );
        let a = &run.summary.apps[0];
        (a.flows_dead.unwrap(), a.longest_dead_s.unwrap())
    };
    let (stuck, longest_stuck) = dead("");
    let (freed, longest_freed) =
        dead("; /ip firewall connection remove [find dst-address~\\\":4500\\\"]");
    assert!(
        stuck > 0 && longest_stuck > 160.0,
        "{stuck} dead, longest {longest_stuck} s"
    );
    // Netwatch saw the gateway die within 6 s, and the tunnels moved at once.
    assert!(
        freed < stuck && longest_freed < 15.0,
        "{freed} dead, longest {longest_freed} s"
    );
}
