//! Traffic that makes the configuration matter: port forwards that need incoming-mark rules,
//! calls and banking sessions that need one public address.

mod common;

use pccsim::units::SEC;

fn app<'r>(run: &'r common::Ran, name: &str) -> &'r pccsim::report::AppSummary {
    run.summary.apps.iter().find(|a| a.name == name).unwrap()
}

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
    let server = app(&run, "web-server");
    assert!(server.completed > 30, "{server:?}");
    assert_eq!(server.broken, 0, "{server:?}");

    let config = without_incoming_marks();
    assert!(!config.contains("in-interface=WAN1-Fibre connection-mark=no-mark"));
    let loaded = pccsim::WorldBuilder::from_file(&path)
        .unwrap()
        .config(&config)
        .build()
        .unwrap();
    // Long enough for clients whose SYN-ACKs are lost to give up (127 s of SYN retries).
    let run = common::run(&loaded, 300 * SEC);
    let server = app(&run, "web-server");
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
    let voip = app(&run, "voip");
    assert!(voip.mean_mos.unwrap() > 4.2, "{voip:?}");
    assert_eq!(voip.session_success, Some(1.0), "{voip:?}");

    let mut ports = common::scenario("weighted_5_2.ron");
    let text = common::read(&common::root().join("scenarios/weighted_5_2.rsc"))
        .replace("both-addresses:", "both-addresses-and-ports:");
    ports.config = pccsim::routeros::load("t.rsc", &text).unwrap();
    let run = common::run(&ports, 600 * SEC);
    let calls = app(&run, "calls");
    assert!(calls.session_success.unwrap() < 0.8, "{calls:?}");
    assert!(
        calls.sessions_failed_by_cause["ip-affinity"] > 0,
        "{calls:?}"
    );
}

/// Without classes every host runs the whole default mix.
fn run_default_everywhere() -> bool {
    let loaded = dual_wan_with_lan(r#"(port: "ether3", hosts: 40, first_host: "10.0.0.100")"#);
    let run = common::run(&loaded.unwrap(), 300 * SEC);
    let busy = |app: &str| {
        run.summary
            .apps
            .iter()
            .any(|a| a.name == app && a.connections > 0)
    };
    ["web", "video", "download", "upload", "dns", "banking"]
        .iter()
        .all(|a| busy(a))
}

/// `dual_wan` with no `apps` (the default mix) and `lan` replaced.
fn dual_wan_with_lan(lan: &str) -> Result<pccsim::scenario::Loaded, pccsim::Error> {
    let root = common::root().join("scenarios");
    let text = common::read(&root.join("dual_wan.ron"));
    let (lan_at, internet_at) = (
        text.find("    lan:").unwrap(),
        text.find("    internet:").unwrap(),
    );
    let apps_at = text.find("    apps:").unwrap();
    let internet = &text[internet_at..apps_at];
    let text = format!("{}    lan: {lan},\n{internet})\n", &text[..lan_at]);
    let config = common::read(&root.join("dual_wan.rsc"));
    let sc = pccsim::scenario::parse("t.ron", &text)?;
    let cfg = pccsim::routeros::load("t.rsc", &config)?;
    pccsim::scenario::check(sc, cfg, "t.ron", &text, "t.rsc", &config)
}

#[test]
fn host_classes_choose_from_the_default_mix() {
    let names: Vec<String> = pccsim::scenario::default_mix()
        .into_iter()
        .map(|a| a.name)
        .collect();
    for app in ["web", "video", "dns", "calls", "banking"] {
        assert!(names.iter().any(|n| n == app), "{names:?}");
    }
    let loaded = dual_wan_with_lan(
        r#"(port: "ether3", hosts: 40, first_host: "10.0.0.100", classes: [
            (name: "phones", hosts: "10.0.0.100-10.0.0.109", apps: ["dns"]),
            (name: "pcs", hosts: "10.0.0.110-10.0.0.139", apps: ["web"]),
        ])"#,
    )
    .unwrap();
    assert!(run_default_everywhere());
    let run = common::run(&loaded, 300 * SEC);
    let conns = |name: &str| app(&run, name).connections;
    // Ten hosts only query DNS, thirty only browse; the mix's other apps run nowhere.
    let counts = (conns("web"), conns("dns"));
    assert!(counts.0 > 100 && counts.1 > 100, "{counts:?}");
    for other in names
        .iter()
        .filter(|n| !["web", "dns"].contains(&n.as_str()))
    {
        assert_eq!(conns(other), 0, "{other}");
    }

    let err = dual_wan_with_lan(
        r#"(port: "ether3", hosts: 40, first_host: "10.0.0.100", classes: [
            (name: "pcs", hosts: "10.0.0.110-10.0.0.139", apps: ["wbe"]),
        ])"#,
    )
    .unwrap_err();
    let err = format!("{err:?}");
    assert!(
        err.contains("no app is called `wbe`") && err.contains("t.ron"),
        "{err}"
    );
}

#[test]
fn the_routers_dns_answers_the_lan_unless_pcc_marks_its_queries() {
    let loaded = common::scenario("weighted_5_2.ron");
    assert_eq!(
        loaded
            .scenario
            .lan
            .resolver
            .map(|r| r.to_string())
            .as_deref(),
        Some("10.10.0.1")
    );
    let run = common::run(&loaded, 90 * SEC);
    let dns = app(&run, "dns");
    assert!(dns.completed > 500 && dns.broken == 0, "{dns:?}");

    // PCC rules without dst-address-type=!local mark the queries to the router too; the output
    // chain then routing-marks the router's answers, which leave by a WAN.
    let mut marked = loaded.clone();
    let text = common::read(&common::root().join("scenarios/weighted_5_2.rsc"))
        .replace(" dst-address-type=!local", "");
    marked.config = pccsim::routeros::load("t.rsc", &text).unwrap();
    let run = common::run(&marked, 90 * SEC);
    let dns = app(&run, "dns");
    assert_eq!(dns.completed, 0, "{dns:?}");
    assert!(run.summary.connections.broken_by_cause["reply-sent-out-wan"] >= dns.broken);
    assert!(dns.broken > 500, "{dns:?}");
}
