//! `pccsim check`: every finding pinned by a configuration that triggers it, against clean
//! configurations that trigger nothing.

mod common;

use pccsim::check::{Report, Severity, check};

fn report(src: &str) -> Report {
    check(&pccsim::routeros::load("t.rsc", src).unwrap_or_else(|e| panic!("{e}")))
}

fn shipped(file: &str) -> String {
    common::read(&common::root().join(file))
}

fn ids(r: &Report) -> Vec<&'static str> {
    r.findings.iter().map(|f| f.id).collect()
}

fn edit(file: &str, from: &str, to: &str) -> String {
    let text = shipped(file);
    assert!(text.contains(from), "{file} lacks {from:?}");
    text.replacen(from, to, 1)
}

fn append(file: &str, extra: &str) -> String {
    format!("{}\n{extra}\n", shipped(file))
}

#[test]
fn clean_configurations_pass() {
    for file in [
        "scenarios/dual_wan.rsc",
        "scenarios/weighted_5_2.rsc",
        "scenarios/three_wan.rsc",
        "scenarios/small_business.rsc",
    ] {
        let r = report(&shipped(file));
        assert!(r.findings.is_empty(), "{file}: {:#?}", r.findings);
        assert_eq!(r.exit_code(), 0);
    }
    let r = report(&shipped("scenarios/dual_wan.rsc"));
    assert!((r.shares["isp1_conn"] - 2.0 / 3.0).abs() < 1e-9);
    assert!((r.shares["isp2_conn"] - 1.0 / 3.0).abs() < 1e-9);
}

#[test]
fn each_finding_is_triggered_by_its_mistake() {
    const DUAL: &str = "scenarios/dual_wan.rsc";
    let pcc_3_0 = "in-interface=LAN connection-mark=no-mark \\\n    dst-address-type=!local per-connection-classifier=both-addresses:3/0";
    let cases: Vec<(&str, Severity, String)> = vec![
        (
            "pcc-missing-no-mark",
            Severity::Error,
            edit(
                DUAL,
                pcc_3_0,
                "in-interface=LAN \\\n    dst-address-type=!local per-connection-classifier=both-addresses:3/0",
            ),
        ),
        (
            "pcc-missing-dst-local",
            Severity::Warning,
            edit(
                DUAL,
                "dst-address-type=!local per-connection-classifier=both-addresses:3/0",
                "per-connection-classifier=both-addresses:3/0",
            ),
        ),
        (
            "pcc-remainder-gap",
            Severity::Warning,
            append(
                DUAL,
                "/ip firewall mangle disable [find per-connection-classifier=\"both-addresses:3/2\"]",
            ),
        ),
        (
            "pcc-remainder-overlap",
            Severity::Warning,
            edit(DUAL, "both-addresses:3/2", "both-addresses:3/1"),
        ),
        (
            "pcc-mixed-classifier",
            Severity::Warning,
            edit(DUAL, "both-addresses:3/2", "src-address:3/2"),
        ),
        (
            "incoming-mark-missing",
            Severity::Warning,
            append(DUAL, "/ip firewall mangle disable [find in-interface=ISP2]"),
        ),
        (
            "routing-mark-without-route",
            Severity::Error,
            append(DUAL, "/ip route disable [find routing-mark=to_isp2]"),
        ),
        (
            "route-mark-unused",
            Severity::Warning,
            append(
                DUAL,
                "/ip route add gateway=192.168.1.1 routing-mark=spare check-gateway=ping",
            ),
        ),
        (
            "route-table-undeclared",
            Severity::Error,
            edit(
                "scenarios/three_wan.rsc",
                "/routing/table/add name=via-c fib\n",
                "",
            ),
        ),
        (
            "nat-missing",
            Severity::Error,
            append(DUAL, "/ip firewall nat disable [find out-interface=ISP2]"),
        ),
        (
            "fasttrack-with-pcc",
            Severity::Error,
            append(
                DUAL,
                "/ip firewall filter add chain=forward connection-state=established,related action=fasttrack-connection",
            ),
        ),
        (
            "exception-after-pcc",
            Severity::Warning,
            append(
                DUAL,
                "/ip firewall mangle add chain=prerouting in-interface=LAN connection-mark=no-mark protocol=udp dst-port=5060 action=mark-connection new-connection-mark=isp1_conn",
            ),
        ),
        (
            "exception-after-pcc",
            Severity::Warning,
            append(
                DUAL,
                "/ip firewall mangle add chain=prerouting src-address=10.0.0.50 action=mark-connection new-connection-mark=isp2_conn place-before=0",
            ),
        ),
        (
            "mark-crossed",
            Severity::Error,
            edit(
                DUAL,
                "connection-mark=isp2_conn \\\n    action=mark-routing new-routing-mark=to_isp2",
                "connection-mark=isp2_conn \\\n    action=mark-routing new-routing-mark=to_isp1",
            ),
        ),
        (
            "check-gateway-missing",
            Severity::Warning,
            edit(
                DUAL,
                "gateway=192.168.1.1 routing-mark=to_isp1 check-gateway=ping",
                "gateway=192.168.1.1 routing-mark=to_isp1",
            ),
        ),
        (
            "fallback-route-missing",
            Severity::Warning,
            append(DUAL, "/ip route disable [find distance=2]"),
        ),
        (
            "address-list-unused",
            Severity::Warning,
            append(
                DUAL,
                "/ip firewall address-list add list=spare address=1.2.3.4",
            ),
        ),
        (
            "address-list-undefined",
            Severity::Warning,
            append(
                DUAL,
                "/ip firewall filter add chain=forward src-address-list=ghosts action=drop",
            ),
        ),
        (
            "mark-routing-catches-replies",
            Severity::Error,
            shipped("tests/configs/reply_bug.rsc"),
        ),
        (
            "netwatch-not-pinned",
            Severity::Warning,
            append(DUAL, "/tool netwatch add host=8.8.8.8 interval=10s"),
        ),
        (
            "interface-undefined",
            Severity::Error,
            edit(
                DUAL,
                "in-interface=ISP2 connection-mark=no-mark",
                "in-interface=ISP9 connection-mark=no-mark",
            ),
        ),
        (
            "output-marks-catch-probes",
            Severity::Warning,
            append(
                DUAL,
                "/ip firewall mangle add chain=output connection-mark=isp1_conn action=mark-routing new-routing-mark=to_isp1\n/ip route add gateway=192.168.2.1 routing-mark=to_isp1 distance=2 check-gateway=ping",
            ),
        ),
    ];
    for (id, severity, src) in cases {
        let r = report(&src);
        let f = r
            .findings
            .iter()
            .find(|f| f.id == id)
            .unwrap_or_else(|| panic!("{id} not found: {:?}", ids(&r)));
        assert_eq!(f.severity, severity, "{id}");
        assert!(
            f.line > 0 && f.line as usize <= src.lines().count(),
            "{id}: line {}",
            f.line
        );
        assert!(!f.message.is_empty());
        assert_eq!(r.exit_code(), 1, "{id}");
    }
}

#[test]
fn findings_point_at_the_right_line() {
    let r = report(&shipped("tests/configs/reply_bug.rsc"));
    let lines: Vec<u32> = r
        .findings
        .iter()
        .filter(|f| f.id == "mark-routing-catches-replies")
        .map(|f| f.line)
        .collect();
    assert_eq!(lines, [23, 25], "the two mark-routing rules");
    // A pinned netwatch host is fine; disabled rules are ignored.
    let pinned = append(
        "scenarios/dual_wan.rsc",
        "/tool netwatch add host=8.8.8.8\n/ip route add dst-address=8.8.8.8/32 gateway=192.168.1.1 scope=10\n/ip firewall filter add chain=forward action=fasttrack-connection disabled=yes",
    );
    assert!(
        report(&pinned).findings.is_empty(),
        "{:#?}",
        report(&pinned).findings
    );
}

#[test]
fn connections_pinned_before_pcc_are_named_beside_the_split() {
    let r = report(&shipped("scenarios/small_business.rsc"));
    assert_eq!(r.pinned.len(), 1, "{:?}", r.pinned);
    assert_eq!(r.pinned[0].mark, "fibre_conn");
    assert_eq!(r.pinned[0].matching, "src-address-list=desk-phones");
    // PCC splits only the rest, evenly.
    assert!((r.shares["fibre_conn"] - 0.5).abs() < 1e-9);
    assert!(report(&shipped("scenarios/dual_wan.rsc")).pinned.is_empty());
}

/// `dual_wan` with its PCC rules made `nth`: `nth` gives the three values in order, `guard`
/// replaces the rules' `connection-mark=no-mark`.
fn nth(values: [&str; 3], guard: &str) -> Report {
    let mut text = shipped("scenarios/dual_wan.rsc").replace(
        "connection-mark=no-mark \\\n    dst-address-type=!local",
        &format!("{guard} dst-address-type=!local"),
    );
    for (i, v) in values.iter().enumerate() {
        let pcc = format!("per-connection-classifier=both-addresses:3/{i}");
        assert!(text.contains(&pcc));
        text = text.replace(&pcc, &format!("nth={v}"));
    }
    report(&text)
}

#[test]
fn nth_rules_must_be_guarded_and_numbered_for_what_reaches_them() {
    let guard = "connection-mark=no-mark connection-state=new";
    assert!(nth(["3,1", "2,1", "1,1"], guard).findings.is_empty());
    let pcc_style = nth(["3,1", "3,2", "3,3"], guard);
    assert_eq!(ids(&pcc_style), ["nth-uneven"]);
    let msg = &pcc_style.findings[0].message;
    assert!(
        msg.contains("isp1_conn 56%") && msg.contains("isp2_conn 15%"),
        "{msg}"
    );
    assert!(msg.contains("leave 30% unmarked"), "{msg}");
    let unguarded = nth(["3,1", "3,2", "3,3"], "");
    assert_eq!(ids(&unguarded), ["nth-missing-no-mark"; 3]);
    assert_eq!(unguarded.exit_code(), 1);
}
