//! Traffic that makes the configuration matter: port forwards that need incoming-mark rules,
//! calls and banking sessions that need one public address.

mod common;

use pccsim::units::SEC;

/// `weighted_5_2`'s configuration without the rules that mark connections arriving on a WAN.
fn without_incoming_marks() -> String {
    let text = common::read(&common::root().join("scenarios/weighted_5_2.rsc"));
    let kept: Vec<&str> = text.lines().collect();
    let mut out = String::new();
    let mut skip = false;
    for line in kept {
        if line.starts_with("add chain=prerouting in-interface=WAN") {
            skip = true;
        }
        if !skip {
            out.push_str(line);
            out.push('\n');
        }
        if skip && !line.ends_with('\\') {
            skip = false;
        }
    }
    out
}

#[test]
fn port_forwards_need_the_incoming_mark_rules() {
    let path = common::root().join("scenarios/weighted_5_2.ron");
    let with = common::scenario("weighted_5_2.ron");
    let run = common::run(&with, 120 * SEC);
    let server = run
        .summary
        .apps
        .iter()
        .find(|a| a.name == "web-server")
        .unwrap();
    assert!(server.completed > 30, "{server:?}");
    assert_eq!(server.broken, 0, "{server:?}");

    let config = without_incoming_marks();
    assert!(!config.contains("in-interface=WAN1-Fibre connection-mark=no-mark"));
    let loaded = pccsim::WorldBuilder::from_file(&path)
        .unwrap()
        .config(&config)
        .build()
        .unwrap();
    let run = common::run(&loaded, 120 * SEC);
    let server = run
        .summary
        .apps
        .iter()
        .find(|a| a.name == "web-server")
        .unwrap();
    // PCC classifies the server's replies like LAN traffic: those it sends to the other WAN
    // leave with the first WAN's address and are dropped.
    let misrouted = run.summary.connections.broken_by_cause["inbound-reply-misrouted"];
    assert!(misrouted > 10, "{:?}", run.summary.connections);
    assert!(server.broken >= misrouted, "{server:?}");
    let ended = (server.completed + server.broken) as f64;
    assert!(
        (0.2..0.6).contains(&(server.broken as f64 / ended)),
        "{server:?}"
    );
}

#[test]
fn calls_keep_their_mos_and_break_when_sip_and_rtp_leave_by_different_wans() {
    let ok = common::scenario("small_business.ron");
    let run = common::run(&ok, 600 * SEC);
    let voip = run.summary.apps.iter().find(|a| a.name == "voip").unwrap();
    assert!(voip.mean_mos.unwrap() > 4.2, "{voip:?}");
    assert_eq!(voip.session_success, Some(1.0), "{voip:?}");

    let mut ports = common::scenario("weighted_5_2.ron");
    let text = common::read(&common::root().join("scenarios/weighted_5_2.rsc"))
        .replace("both-addresses:", "both-addresses-and-ports:");
    ports.config = pccsim::routeros::load("t.rsc", &text).unwrap();
    let run = common::run(&ports, 600 * SEC);
    let calls = run.summary.apps.iter().find(|a| a.name == "calls").unwrap();
    assert!(calls.session_success.unwrap() < 0.8, "{calls:?}");
    assert!(
        calls.sessions_failed_by_cause["ip-affinity"] > 0,
        "{calls:?}"
    );
}
