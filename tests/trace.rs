//! `pccsim trace`: the walk of a packet and its reply, as a student would read it.

mod common;

use pccsim::trace::{Walk, parse_packet, trace};
use pccsim::{Router, routeros};

fn router(file: &str) -> Router {
    let text = common::read(&common::root().join(file));
    Router::new(routeros::load(file, &text).unwrap())
}

fn walks(file: &str, packet: &str, in_iface: &str) -> Vec<Walk> {
    let mut r = router(file);
    let iface = r.config.iface(in_iface).unwrap();
    trace(&mut r, 0, Some(iface), parse_packet(packet).unwrap())
}

fn matched(w: &Walk) -> Vec<String> {
    w.steps
        .iter()
        .filter(|s| s.matched == Some(true))
        .map(|s| format!("{} {}", s.stage, s.detail))
        .collect()
}

#[test]
fn a_lan_packet_is_classified_marked_routed_and_masqueraded() {
    let w = walks(
        "tests/configs/reply_bug.rsc",
        "tcp 10.0.0.23:51514 -> 93.184.216.34:443",
        "LAN",
    );
    let m = matched(&w[0]);
    assert!(
        m.iter()
            .any(|s| s.starts_with("mangle prerouting") && s.contains("new-connection-mark=isp")),
        "{m:#?}"
    );
    assert!(
        m.iter().any(|s| s.contains("new-routing-mark=to_isp")),
        "{m:#?}"
    );
    let routing = w[0].steps.iter().find(|s| s.stage == "routing").unwrap();
    assert!(
        routing.detail.contains("table to_isp") && routing.line.is_some(),
        "{}",
        routing.detail
    );
    assert!(
        m.iter()
            .any(|s| s.starts_with("nat srcnat") && s.contains("masquerade")),
        "{m:#?}"
    );
    let isp_addr = if w[0].verdict.contains("ISP1") {
        "192.168.1.2"
    } else {
        "192.168.2.2"
    };
    assert!(
        w[0].left.contains(&format!("{isp_addr}:51514")),
        "{}",
        w[0].left
    );
    // The guide's rule marks the reply for routing too: it is sent back out of the WAN.
    assert!(w[1].verdict.contains("forward out ISP"), "{}", w[1].verdict);
    assert!(w[1].left.ends_with("10.0.0.23:51514"));
}

#[test]
fn with_in_interface_lan_the_reply_reaches_the_host() {
    let w = walks(
        "scenarios/dual_wan.rsc",
        "tcp 10.0.0.23:51514 -> 93.184.216.34:443",
        "LAN",
    );
    assert!(w[1].verdict.contains("out LAN"), "{}", w[1].verdict);
    let routing = w[1].steps.iter().find(|s| s.stage == "routing").unwrap();
    assert!(
        routing.detail.starts_with("no routing mark: table main"),
        "{}",
        routing.detail
    );
}

#[test]
fn an_inbound_connection_on_wan2_is_answered_through_wan2() {
    let w = walks(
        "tests/configs/reply_bug.rsc",
        "tcp 198.51.100.7:40000 -> 192.168.2.2:8291",
        "ISP2",
    );
    assert_eq!(w[0].verdict, "deliver to the router itself");
    assert!(
        matched(&w[0])
            .iter()
            .any(|s| s.contains("new-connection-mark=isp2_conn"))
    );
    assert_eq!(w[1].in_interface, "the router itself");
    assert!(
        matched(&w[1])
            .iter()
            .any(|s| s.starts_with("mangle output") && s.contains("to_isp2"))
    );
    assert!(
        w[1].verdict.starts_with("forward out ISP2"),
        "{}",
        w[1].verdict
    );
}

#[test]
fn routes_not_taken_say_why() {
    let mut r = router("scenarios/dual_wan.rsc");
    r.set_gateway_reachable("192.168.1.1".parse().unwrap(), false);
    let lan = r.config.iface("LAN").unwrap();
    // Find a connection PCC gives to ISP1, whose gateway is now down.
    let w = (2..250)
        .map(|h| {
            trace(
                &mut r.clone_for_trace(),
                0,
                Some(lan),
                parse_packet(&format!("tcp 10.0.0.{h}:40000 -> 93.184.216.34:443")).unwrap(),
            )
        })
        .find(|w| {
            w[0].steps
                .iter()
                .any(|s| s.detail.contains("table to_isp1"))
        })
        .unwrap();
    let routing = w[0].steps.iter().find(|s| s.stage == "routing").unwrap();
    assert!(
        routing.detail.contains("falls back to main"),
        "{}",
        routing.detail
    );
    assert!(routing.detail.contains("inactive"), "{}", routing.detail);
    assert!(w[0].verdict.contains("ISP2"));
}

#[test]
fn the_cli_traces_inside_a_scenario_and_as_json() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_pccsim"))
        .current_dir(common::root())
        .args([
            "trace",
            "scenarios/dual_wan.ron",
            "--connection",
            "tcp 10.0.0.100:50000 -> 93.184.216.34:443",
            "--at",
            "10s",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["direction"], "packet");
    assert_eq!(v[1]["direction"], "reply");
    assert!(v[1]["verdict"].as_str().unwrap().contains("out LAN"));
}

#[test]
fn the_routers_own_ping_starts_in_the_output_chain_and_its_answer_is_delivered_to_it() {
    let mut r = router("scenarios/dual_wan.rsc");
    let ping = parse_packet("icmp 192.168.1.2:50688 -> 192.168.1.1:0").unwrap();
    let w = trace(&mut r, 0, None, ping);
    assert_eq!(w.len(), 3, "the ping, its answer, the next ping");
    assert!(
        !w[0].steps.iter().any(|s| s.stage.contains("prerouting")),
        "{:#?}",
        w[0]
    );
    assert!(w[0].verdict.contains("out ISP1"), "{}", w[0].verdict);
    assert_eq!(w[1].in_interface, "ISP1");
    assert!(w[1].verdict.contains("router itself"), "{}", w[1].verdict);
}

/// The walk teaches PCC: the classifier's arithmetic on the way, and the connection's next
/// packet, which finds its mark in conntrack and passes every classifier by.
#[test]
fn a_trace_shows_the_buckets_and_the_next_packet_skipping_the_classifier() {
    let mut r = router("scenarios/dual_wan.rsc");
    let lan = r.config.iface("LAN");
    let t = parse_packet("tcp 10.0.0.100:40000 -> 93.184.216.34:443").unwrap();
    let w = trace(&mut r, 0, lan, t);
    assert_eq!(w.len(), 3);
    let hashed: Vec<&str> = (w[0].steps.iter())
        .filter(|s| s.detail.contains("hash 0x"))
        .map(|s| s.detail.as_str())
        .collect();
    assert_eq!(hashed.len(), 3, "three PCC rules reached: {hashed:?}");
    // One bucket for all three, equal to one rule's remainder: that rule matched.
    assert!(
        hashed.iter().filter(|d| d.contains("= remainder")).count() == 1,
        "{hashed:?}"
    );
    assert!(hashed.iter().all(|d| d.contains("mod 3 = 2")), "{hashed:?}");
    let later = &w[2];
    assert_eq!(later.direction, "later packet");
    assert!(later.steps[0].detail.contains("original direction"));
    assert!(
        later.steps.iter().all(|s| !s.detail.contains("hash 0x")),
        "the mark set, no classifier is reached: {later:#?}"
    );
    assert_eq!(later.verdict, w[0].verdict, "it leaves as the first did");
}
