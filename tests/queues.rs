//! `/queue simple` and `/queue tree` in the packet path: a simple queue holds its target to its
//! `max-limit` (or, bursting, to its threshold on average), the first simple queue that
//! matches is the one that counts, FastTrack's packets skip simple queues, a tree under the
//! LAN port with PCQ shares it equally per user and CAKE shapes and shares it per host — each
//! against a rate worked out by hand from the configuration; and applications' figures per
//! host class.

mod common;

use pccsim::WorldBuilder;
use pccsim::units::SEC;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};

/// One 100 Mbit ISP, four desks, each starting a 50 MiB download every 2 s or so (more than
/// any queue here lets through).
const SCENARIO: &str = r#"Scenario(
    name: "queues",
    seed: 5,
    duration: "2m",
    router: Inline(""),
    wans: [(port: "wan", isp: "fibre", gateway: "198.51.100.1", down: "100Mbit", up: "100Mbit",
            latency: "2ms", queue: Packets(300))],
    lan: (port: "lan", hosts: 4, first_host: "192.168.88.10"),
    internet: (servers: 50, server_latency: ("5ms", "10ms")),
    apps: [(name: "bulk", per_host_per_minute: 30.0,
            kind: Tcp(port: 443, request: Fixed("300B"), response: Fixed("50MiB")))],
)"#;

const BASE: &str = "
/interface ethernet set [ find default-name=ether1 ] name=wan
/interface ethernet set [ find default-name=ether2 ] name=lan
/ip address add address=198.51.100.2/30 interface=wan
/ip address add address=192.168.88.1/24 interface=lan
/ip route add gateway=198.51.100.1
/ip firewall nat add chain=srcnat out-interface=wan action=masquerade
";

/// Download bit/s per desk over the run, with `extra` added to the base config.
fn download_rates(extra: &str) -> BTreeMap<Ipv4Addr, f64> {
    rates(SCENARIO, extra, false)
}

/// Bit/s per desk over the run of `scenario`, down or up, with `extra` added to the base
/// config.
fn rates(scenario: &str, extra: &str, up: bool) -> BTreeMap<Ipv4Addr, f64> {
    let scenario = pccsim::scenario::parse("queues.ron", scenario).unwrap();
    let config = format!("{BASE}{extra}");
    let loaded = WorldBuilder::new(scenario, &config)
        .build()
        .unwrap_or_else(|e| panic!("{e:?}"));
    let bytes = Arc::new(Mutex::new(BTreeMap::new()));
    let mut sim = pccsim::Simulation::new(&loaded, loaded.scenario.seed);
    sim.log_connections(Box::new(PerDesk(Arc::clone(&bytes), up)));
    let run = sim.run(loaded.scenario.seed, DURATION, |_, _| {});
    let secs = run.duration as f64 / SEC as f64;
    let bytes = bytes.lock().unwrap();
    bytes
        .iter()
        .map(|(desk, b)| (*desk, *b as f64 * 8.0 / secs))
        .collect()
}

/// Long enough that the first seconds, before every desk is busy, hardly count.
const DURATION: u64 = 120 * SEC;

/// Bytes down (or up) per desk, of every connection (those still open count what they got).
struct PerDesk(Arc<Mutex<BTreeMap<Ipv4Addr, u64>>>, bool);

impl pccsim::metrics::ConnectionLog for PerDesk {
    fn record(&mut self, c: &pccsim::metrics::ConnectionRecord) {
        let bytes = if self.1 { c.bytes_up } else { c.bytes_down };
        *self.0.lock().unwrap().entry(c.tuple.src).or_default() += bytes;
    }

    fn finish(self: Box<Self>) -> std::io::Result<()> {
        Ok(())
    }
}

const DESK: Ipv4Addr = Ipv4Addr::new(192, 168, 88, 10);

fn near(got: f64, want: f64, within: f64) -> bool {
    (got / want - 1.0).abs() < within
}

/// max-limit=1M/8M on one desk: its downloads get 8 Mbit/s; the others share the rest of the
/// line.
#[test]
fn a_simple_queue_holds_its_target_to_max_limit() {
    let rates = download_rates(
        "/queue simple add name=desk target=192.168.88.10/32 max-limit=1M/8M queue=default/default\n",
    );
    assert!(near(rates[&DESK], 8e6, 0.1), "{rates:?}");
    let others: f64 = rates
        .iter()
        .filter(|(d, _)| **d != DESK)
        .map(|(_, r)| r)
        .sum();
    assert!(others > 75e6, "{rates:?}");
}

/// Burst with `burst-threshold` between `max-limit` and `burst-limit` (4M < 6M < 16M, 16 s):
/// the queue bursts while its 16-second average is under 6M and falls to 4M once it is not,
/// so a desk that never stops downloading averages the threshold, 6M — not the 4M without.
#[test]
fn a_bursting_queue_holds_a_busy_desk_to_its_threshold_on_average() {
    let rates = download_rates(
        "/queue simple add name=desk target=192.168.88.10/32 max-limit=1M/4M burst-limit=1M/16M burst-threshold=1M/6M burst-time=16s/16s queue=default/default\n",
    );
    assert!(near(rates[&DESK], 6e6, 0.1), "{rates:?}");
}

/// Two queues match the desk: the first in the list counts (4M), not the second (12M).
#[test]
fn the_first_simple_queue_that_matches_is_the_one() {
    let rates = download_rates(
        "/queue simple add name=first target=192.168.88.10/32 max-limit=1M/4M queue=default/default
/queue simple add name=second target=192.168.88.10/32 max-limit=1M/12M queue=default/default\n",
    );
    assert!(near(rates[&DESK], 4e6, 0.1), "{rates:?}");
}

/// With FastTrack on, the desk's connections are fast-tracked after their first packets and
/// skip the simple queue: it gets far more than its 8M.
#[test]
fn fasttracked_packets_skip_simple_queues() {
    let rates = download_rates(
        "/ip firewall filter add chain=forward connection-state=established,related action=fasttrack-connection
/queue simple add name=desk target=192.168.88.10/32 max-limit=1M/8M queue=default/default\n",
    );
    assert!(rates[&DESK] > 16e6, "{rates:?}");
}

/// A tree on the LAN port, 20M, PCQ by destination: each of the four desks gets 5M.
#[test]
fn a_pcq_tree_on_the_lan_port_gives_each_desk_an_equal_share() {
    let rates = download_rates(
        "/ip firewall mangle add chain=forward out-interface=lan action=mark-packet new-packet-mark=down passthrough=no
/queue type add name=per-desk kind=pcq pcq-classifier=dst-address
/queue tree add name=down parent=lan packet-mark=down queue=per-desk max-limit=20M\n",
    );
    assert_eq!(rates.len(), 4);
    assert!(rates.values().all(|r| near(*r, 5e6, 0.1)), "{rates:?}");
}

/// CAKE on the LAN port, shaping to 20M itself (`cake-bandwidth`, no `max-limit`). The
/// desks download from the same 50 servers, each with as many downloads going as its own
/// random arrivals gave it. Per connection (`cake-flowmode=flows`) a desk's share follows its
/// count of connections: the desk with fewest gets under a quarter of the even 5M. Fair per
/// destination host (`dual-dsthost`, as CAKE is set on a LAN's downloads) every desk gets
/// within a fifth of 5M — not exactly 5M: a desk whose few connections are between TCP
/// windows leaves its turns to the others. The shaper holds the total to 20M either way.
#[test]
fn cake_on_the_lan_port_shapes_and_shares_per_desk() {
    let per_desk = |mode: &str| {
        download_rates(&format!(
            "/ip firewall mangle add chain=forward out-interface=lan action=mark-packet new-packet-mark=down passthrough=no
/queue type add name=cake-down kind=cake cake-bandwidth=20M cake-flowmode={mode}
/queue tree add name=down parent=lan packet-mark=down queue=cake-down\n"
        ))
    };
    for mode in ["flows", "dual-dsthost"] {
        let rates = per_desk(mode);
        assert_eq!(rates.len(), 4);
        let total: f64 = rates.values().sum();
        assert!(near(total, 20e6, 0.03), "{mode}: {rates:?}");
        let lightest = rates.values().copied().fold(f64::MAX, f64::min);
        match mode {
            "flows" => assert!(lightest < 0.25 * 5e6, "{mode}: {rates:?}"),
            _ => assert!(
                rates.values().all(|r| near(*r, 5e6, 0.2)),
                "{mode}: {rates:?}"
            ),
        }
    }
}

/// `wisp_pcq`'s LAN has two host classes, the heavy downloader and the 79 others: each
/// application's figures are kept per class too, adding up to the application's. The heavy
/// host's web pages share its 8 Mbit PCQ sub-queue with its own downloads, so they take
/// longer with PCQ than without, where they share the whole backhaul.
#[test]
fn app_quality_is_kept_per_host_class() {
    let web = |config: &str| {
        let ran = common::run(
            &common::scenario_with_config("wisp_pcq.ron", config),
            60 * SEC,
        );
        let s = ran.summary;
        let classes: Vec<(&str, u32)> = (s.apps_by_class.iter())
            .map(|c| (c.class.as_str(), c.hosts))
            .collect();
        assert_eq!(classes, [("heavy", 1), ("subscribers", 79)]);
        for app in &s.apps {
            let per_class: u64 = (s.apps_by_class.iter())
                .flat_map(|c| c.apps.iter().filter(|a| a.name == app.name))
                .map(|a| a.connections)
                .sum();
            assert_eq!(per_class, app.connections, "{}", app.name);
        }
        let subscribers = &s.apps_by_class[1].apps;
        assert!(subscribers.iter().all(|a| a.name != "downloads"));
        (s.apps_by_class[0].apps.iter())
            .find(|a| a.name == "web")
            .and_then(|a| a.mean_completion_ms)
            .expect("the heavy host browses")
    };
    let with_pcq = web("scenarios/wisp_pcq.rsc");
    let without = web("scenarios/wisp_fifo.rsc");
    assert!(with_pcq > 1.3 * without, "{with_pcq} ms vs {without} ms");
}

/// Uploads under `global` with PCQ by `src-address`, as MikroTik's own example sets it: the
/// queue sees the desks' addresses before masquerade, so each of the four gets 8M / 4 = 2M.
#[test]
fn a_global_pcq_tells_uploaders_apart_before_masquerade() {
    let uploads = SCENARIO.replace(
        r#"request: Fixed("300B"), response: Fixed("50MiB")"#,
        r#"request: Fixed("50MiB"), response: Fixed("300B")"#,
    );
    let rates = rates(
        &uploads,
        "/ip firewall mangle add chain=forward in-interface=lan action=mark-packet new-packet-mark=up passthrough=no
/queue type add name=per-desk-up kind=pcq pcq-classifier=src-address
/queue tree add name=up parent=global packet-mark=up queue=per-desk-up max-limit=8M\n",
        true,
    );
    assert_eq!(rates.len(), 4);
    assert!(rates.values().all(|r| near(*r, 2e6, 0.1)), "{rates:?}");
}

fn findings(config: &str) -> Vec<(&'static str, u32)> {
    let cfg = pccsim::routeros::load("q.rsc", &format!("{BASE}{config}")).unwrap();
    let report = pccsim::check::check(&cfg);
    report.findings.iter().map(|f| (f.id, f.line)).collect()
}

/// `check` names the FastTrack rule that lets connections skip the simple queues, and a queue
/// that waits for a packet mark no rule sets — each at its line.
#[test]
fn check_finds_queues_that_never_see_their_packets() {
    let found = findings(
        "/ip firewall filter add chain=forward connection-state=established action=fasttrack-connection
/ip firewall mangle add chain=forward out-interface=lan action=mark-packet new-packet-mark=down
/queue simple add name=desk target=192.168.88.10/32 max-limit=1M/8M
/queue tree add name=t parent=global packet-mark=dwn max-limit=10M
",
    );
    assert!(found.contains(&("fasttrack-skips-queues", 8)), "{found:?}");
    assert!(found.contains(&("queue-mark-never-set", 11)), "{found:?}");
    // Queues only on an interface's tree: FastTrack's packets go through them.
    let found = findings(
        "/ip firewall filter add chain=forward connection-state=established action=fasttrack-connection
/queue tree add name=t parent=lan max-limit=10M
",
    );
    assert!(
        !found.iter().any(|(id, _)| *id == "fasttrack-skips-queues"),
        "{found:?}"
    );
}

/// A queue's values are read strictly: a parent or queue type that does not exist, a rate
/// that is not one, at their line and column.
#[test]
fn queue_mistakes_are_refused_at_their_place() {
    for (bad, says) in [
        (
            "/queue simple add name=a target=192.168.88.10 parent=nobody",
            "no simple queue `nobody`",
        ),
        (
            "/queue simple add name=a target=192.168.88.10 queue=fast/fast",
            "no queue type `fast`",
        ),
        (
            "/queue tree add name=a parent=global max-limit=10Q",
            "is not a rate",
        ),
        (
            "/queue type add name=p kind=pcq pcq-classifier=user",
            "is not a PCQ classifier",
        ),
        (
            "/queue simple add name=a target=192.168.88.10 burst-time=8x/8s",
            "is not a time unit",
        ),
    ] {
        let e = pccsim::routeros::load("q.rsc", &format!("{BASE}{bad}\n")).unwrap_err();
        assert!(e.message.contains(says), "{bad}: {}", e.message);
        assert_eq!(e.line, 8, "{bad}");
    }
}

/// `compare --pcq on,off` ranks PCQ per host against no queues on the same traffic: with one
/// heavy downloader among 80 subscribers, PCQ raises Jain's index, seed by seed.
#[test]
fn compare_tells_pcq_on_from_off_by_fairness() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cmp");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_pccsim"))
        .current_dir(common::root())
        .args([
            "compare",
            "scenarios/wisp_pcq.ron",
            "--pcq",
            "on,off",
            "--seeds",
            "3",
        ])
        .args(["--duration", "1m", "--format", "json", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let c: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let variant = |label: &str| {
        (c["variants"].as_array().unwrap().iter())
            .find(|v| v["label"] == label)
            .unwrap_or_else(|| panic!("no {label}: {c}"))
            .clone()
    };
    let (on, off) = (variant("pcq on"), variant("pcq off"));
    assert_eq!(c["baseline"], "pcq on", "the configuration queues already");
    let jain = |v: &serde_json::Value| v["metrics"]["jain_index"]["mean"].as_f64().unwrap();
    assert!(jain(&on) > 2.0 * jain(&off), "{} {}", jain(&on), jain(&off));
    // Paired by seed, the whole interval of the difference is below zero.
    let d = &off["versus_baseline"]["jain_index"];
    assert!(d["ci95_high"].as_f64().unwrap() < 0.0, "{d}");
    assert!(off["rewrites"][0].as_str().unwrap().contains("disabled"));
}
