//! The router's CPU against MikroTik's own figures: each model in the data file, run through
//! the test each published figure comes from (routing through 25 filter rules, 25 simple
//! queues, or the fast path; UDP streams of one packet size, more than the box can take),
//! forwards within 10 % of the packets per second MikroTik publishes; and one flow, which RPS
//! keeps on one CPU, is held to that CPU's share while the rest is dropped. And a run of
//! `hap_limits` (a hEX at its limit) says which core filled and what FastTrack would leave.

mod common;

use pccsim::packet::{FiveTuple, Packet, Protocol};
use pccsim::router::cpu::{self, Cpu, Model, Profile};
use pccsim::units::{MS, SEC, Time};
use pccsim::{DropReason, Router, Verdict, routeros};
use std::net::Ipv4Addr;

/// Traffic generator on ether1, receiver on ether2, as in MikroTik's routing tests.
const BASE: &str = "
/ip address add address=10.1.0.1/16 interface=ether1
/ip address add address=10.2.0.1/16 interface=ether2
";

/// The configuration a test profile runs: rules no packet matches, queues none fills.
fn config(profile: Profile) -> String {
    let mut text = BASE.to_string();
    match profile {
        Profile::FilterRules(n) => {
            for i in 0..n {
                let port = 1000 + i;
                text += &format!(
                    "/ip firewall filter add chain=forward protocol=tcp dst-port={port} action=drop\n"
                );
            }
        }
        Profile::SimpleQueues(n) => {
            for i in 0..n {
                text += &format!("/queue simple add target=10.1.{i}.0/24 max-limit=10G/10G\n");
            }
        }
        Profile::FastPath => {
            text += "/ip firewall filter add chain=forward action=fasttrack-connection connection-state=established,related\n";
            text += "/ip firewall filter add chain=forward action=accept connection-state=established,related\n";
        }
    }
    text
}

fn router(model: &'static Model, profile: Profile) -> Router {
    let cfg = routeros::load("profile.rsc", &config(profile)).unwrap_or_else(|e| panic!("{e}"));
    let mut r = Router::new(cfg);
    r.cpu = Some(Cpu::new(model));
    r
}

/// Stream `i` of `flows`: UDP from the generator's side (within the queues' targets) to the
/// receiver's.
fn stream(i: u32) -> FiveTuple {
    FiveTuple {
        src: Ipv4Addr::new(10, 1, (i % 25) as u8, 10 + (i / 25) as u8),
        dst: Ipv4Addr::new(10, 2, 0, 10 + (i % 200) as u8),
        src_port: 10_000 + i as u16,
        dst_port: 5001,
        protocol: Protocol::Udp,
    }
}

/// What came of offering `pps` packets per second of `bytes`-byte frames across `flows`
/// streams for `span`, from the router's last step on: packets per second forwarded after the
/// first tenth, and drops for a busy CPU.
fn offer(r: &mut Router, pps: f64, bytes: u32, flows: u32, span: Time) -> (f64, u64) {
    let start = r.now();
    // The published sizes are Ethernet frames: 14 bytes of header and 4 of checksum around
    // the IP packet.
    let payload = bytes - 18 - 28;
    let gap = SEC as f64 / pps;
    let (warm, span) = (start + span / 10, start + span);
    let (mut forwarded, mut busy) = (0u64, 0u64);
    let mut count = |r: &mut Router, now: Time| {
        while let Some(t) = r.poll_timeout().filter(|&t| t <= now) {
            r.handle_timeout(t);
            while r.poll_forward().is_some() {
                if t >= warm {
                    forwarded += 1;
                }
            }
        }
    };
    let ether1 = r.config.iface("ether1").unwrap();
    let mut i = 0u64;
    loop {
        let now = start + (i as f64 * gap) as Time;
        if now >= span {
            break;
        }
        count(r, now);
        let flow = (i % flows as u64) as u32;
        let mut pkt = Packet::udp(stream(flow), flow, i as u32, payload);
        // With a CPU, a packet leaves when its CPU is done with it: by `poll_forward`.
        if r.receive(now, ether1, &mut pkt) == Verdict::Drop(DropReason::CpuBusy) {
            busy += 1;
        }
        i += 1;
    }
    count(r, span);
    let rate = forwarded as f64 / ((span - warm) as f64 / SEC as f64);
    (rate, busy)
}

/// A packet each way on each stream, so that their connections are set up before the clock
/// starts (MikroTik's streams run long enough for their setup not to count) and established,
/// for FastTrack to take them (a stream one way only stays `new` to connection tracking).
fn establish(r: &mut Router, flows: u32) {
    let (ether1, ether2) = (
        r.config.iface("ether1").unwrap(),
        r.config.iface("ether2").unwrap(),
    );
    for flow in 0..flows {
        let mut out = Packet::udp(stream(flow), flow, 0, 100);
        r.receive(0, ether1, &mut out);
        let mut back = Packet::udp(stream(flow).reversed(), flow, 0, 100);
        r.receive(0, ether2, &mut back);
        let mut again = Packet::udp(stream(flow), flow, 1, 100);
        r.receive(0, ether1, &mut again);
    }
    while let Some(t) = r.poll_timeout() {
        r.handle_timeout(t);
        while r.poll_forward().is_some() {}
    }
}

#[test]
fn every_model_forwards_within_ten_percent_of_what_mikrotik_publishes() {
    let mut report = Vec::new();
    for model in cpu::models() {
        for figure in &model.published {
            let profile = figure.profile().expect("a test pccsim runs");
            let mut r = router(model, profile);
            establish(&mut r, 512);
            let published = figure.kpps * 1000.0;
            // Half again as much as the box takes, over enough streams that every CPU is full.
            let (pps, _) = offer(&mut r, published * 1.5, figure.bytes, 512, 40 * MS);
            let off = (pps - published) / published;
            report.push(format!(
                "{} {} {} B: {:.1} kpps modelled, {:.1} published ({:+.1} %)",
                model.name,
                figure.configuration,
                figure.bytes,
                pps / 1000.0,
                figure.kpps,
                off * 100.0
            ));
            assert!(off.abs() < 0.10, "{}", report.join("\n"));
        }
    }
    eprintln!("{}", report.join("\n"));
}

#[test]
fn one_flow_fills_one_cpu_and_the_rest_of_it_is_dropped() {
    // The hEX routes 64.75 kpps of 512-byte frames through 25 filter rules on its 4 CPUs: one
    // CPU takes a quarter, 16.19 kpps. One stream at twice that stays on one CPU (its flow
    // hash): it gets 16.19 kpps through and loses the rest once the backlog is full.
    let hex = cpu::find("hEX").unwrap();
    let mut r = router(hex, Profile::FilterRules(25));
    let (pps, busy) = offer(&mut r, 2.0 * 16_187.0, 512, 1, SEC);
    assert!(
        (pps - 16_187.0).abs() / 16_187.0 < 0.03,
        "{pps:.0} pps through one CPU"
    );
    // Offered 32.4 k in the second; 16.2 k through, 1000 waiting at the end, the rest dropped.
    let expected = 2.0 * 16_187.0 - 16_187.0 - 1000.0;
    assert!(
        (busy as f64 - expected).abs() / expected < 0.05,
        "{busy} dropped"
    );
    let cpu = r.cpu.as_ref().unwrap();
    let busy_cpus = (cpu.seconds())
        .filter(|s| s.iter().any(|second| second.packets > 0))
        .count();
    assert_eq!(busy_cpus, 1, "one flow, one CPU");
}

#[test]
fn a_small_router_at_its_limit_says_which_core_filled_and_what_fasttrack_would_do() {
    let loaded = common::scenario("hap_limits.ron");
    let ran = common::run(&loaded, 60 * SEC);
    let c = ran
        .summary
        .cpu
        .as_ref()
        .expect("the scenario names a model");
    assert_eq!((c.model.as_str(), c.cpus), ("hEX", 4));
    // The office wants more than the CPUs take: a core is full for seconds on end, drops, and
    // FastTrack (every established connection on the fast path) would leave it under a third.
    let full = c.per_cpu.iter().filter(|k| k.full_from_s.is_some()).count();
    assert!(full >= 1 && c.dropped > 0, "{c:#?}");
    assert!(
        c.verdict.starts_with("core ") && c.verdict.contains("at 100 % from"),
        "{}",
        c.verdict
    );
    assert!(
        c.per_cpu
            .iter()
            .all(|k| k.peak_utilization_fasttracked < 0.33),
        "{c:#?}"
    );
    // The same world without a model: no CPU account, nothing dropped for one.
    let mut plain = loaded.clone();
    plain.model = None;
    assert!(common::run(&plain, 10 * SEC).summary.cpu.is_none());
}

#[test]
fn a_model_pccsim_has_no_figures_for_is_refused_at_its_line() {
    let text = common::read(&common::root().join("scenarios/hap_limits.ron"))
        .replace("model: \"hEX\"", "model: \"CCR2116\"");
    let dir = std::env::temp_dir().join(format!("pccsim-cpu-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hap_limits.ron"), &text).unwrap();
    std::fs::copy(
        common::root().join("scenarios/hap_limits.rsc"),
        dir.join("hap_limits.rsc"),
    )
    .unwrap();
    let err = pccsim::world::builder::load(&dir.join("hap_limits.ron"))
        .unwrap_err()
        .to_string();
    std::fs::remove_dir_all(&dir).unwrap();
    let line = text.lines().position(|l| l.contains("CCR2116")).unwrap() + 1;
    assert!(
        err.contains("no router model 'CCR2116'") && err.contains("hAP ax²"),
        "{err}"
    );
    assert!(err.contains(&format!(":{line}:")), "{err}");
}

#[test]
fn check_names_the_rules_every_packet_is_tried_against() {
    let path = common::root().join("scenarios/hap_limits.rsc");
    let cfg = routeros::load("hap_limits.rsc", &common::read(&path)).unwrap();
    let report = pccsim::check::check(&cfg);
    let f = (report.findings.iter())
        .find(|f| f.id == "costly-rules")
        .expect("15 rules per packet are noted");
    // The accept of established connections, and the eight forward rules above it.
    let text = common::read(&path);
    let accept = 1 + text
        .lines()
        .position(|l| l.contains("chain=forward connection-state=established"))
        .unwrap();
    assert_eq!(f.line as usize, accept);
    assert!(
        f.message.contains("tried against 15 rules") && f.message.contains("(lines 50, 51"),
        "{}",
        f.message
    );
    // With the accept first, the note goes.
    let moved = text.replace("/ip firewall filter add chain=forward connection-state=established,related action=accept\n", "")
        .replace("/ip firewall filter add chain=forward src-address-list", "/ip firewall filter add chain=forward connection-state=established,related action=accept\n/ip firewall filter add chain=forward src-address-list");
    let cfg = routeros::load("hap_limits.rsc", &moved).unwrap();
    assert!(
        pccsim::check::check(&cfg)
            .findings
            .iter()
            .all(|f| f.id != "costly-rules")
    );
}
