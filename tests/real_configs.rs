//! Real configurations users bring (`tests/data/real-configs/`, as their authors published
//! them): every one reads as its router would — `check` finds its authors' mistakes but never
//! refuses the file — and its export reads back.

use pccsim::routeros;
use std::path::PathBuf;

fn configs() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/real-configs");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("the configurations are in the repository")
        .map(|e| e.expect("readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rsc"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(&p).unwrap())
        })
        .collect()
}

#[test]
fn every_real_configuration_reads_and_its_export_reads_back() {
    let all = configs();
    assert_eq!(all.len(), 16, "the whole set is here");
    for (name, text) in &all {
        let cfg = routeros::load(name, text).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let report = pccsim::check::check(&cfg);
        assert!(report.exit_code() <= 1, "{name}");
        let exported = routeros::export::export(&cfg, cfg.dialect, false);
        let again = routeros::load("exported.rsc", &exported)
            .unwrap_or_else(|e| panic!("{name}'s export: {e:?}\n{exported}"));
        assert_eq!(again.mangle.rules.len(), cfg.mangle.rules.len(), "{name}");
        assert_eq!(again.routes.len(), cfg.routes.len(), "{name}");
    }
}

fn findings(name: &str) -> Vec<(&'static str, u32)> {
    let (_, text) = configs().into_iter().find(|(n, _)| n == name).unwrap();
    let cfg = routeros::load(name, &text).unwrap();
    let report = pccsim::check::check(&cfg);
    report.findings.iter().map(|f| (f.id, f.line)).collect()
}

#[test]
fn what_real_configurations_hold_is_found_on_its_line() {
    // A v7.1 export, wrapped after `=`: every PCC rule is read, and the one whose remainder
    // is its denominator never matches.
    let f = findings("06_tmaskpl-v711-export-2wan-pcc.rsc");
    assert!(f.contains(&("pcc-remainder-out-of-range", 63)), "{f:?}");
    // A script with a line of prose in it.
    let f = findings("07_tmaskpl-pcc-script.rsc");
    assert!(f.contains(&("not-routeros-text", 39)), "{f:?}");
    // A README: addresses hidden by the author, a menu no RouterOS has (`/ip bridge port`).
    let f = findings("16_finlaydag33k-lte-wg-pbr.rsc");
    assert!(f.contains(&("placeholder-value", 45)), "{f:?}");
    assert!(f.contains(&("unknown-menu", 118)), "{f:?}");
    // MSS clamping is kept, with what pccsim assumes of what it does not model.
    let f = findings("04_vishnunuk-v720-pcc-failover.rsc");
    assert!(f.contains(&("action-not-simulated", 310)), "{f:?}");
    assert!(f.contains(&("matcher-assumed", 310)), "{f:?}");
    // PCC rules that see only new connections from an interface list of LAN ports need no
    // `no-mark`, and their routing marks catch no replies.
    let f = findings("08_sujirou-v7-hotspot-pcc-cake.rsc");
    assert!(
        !f.iter()
            .any(|(id, _)| *id == "pcc-missing-no-mark" || *id == "mark-routing-catches-replies"),
        "{f:?}"
    );
}

/// Each configuration, after the routers of `bases/` a script of it needs (scripts meant to
/// run on a router already set up: a WAN monitor on its author's own setup, a failover
/// script on two DHCP or PPPoE WANs).
const WORLDS: [(&str, &[&str]); 16] = [
    ("01_sugiruu-v7-ecmp-fasttrack.rsc", &[]),
    (
        "02_sugiruu-wan-monitor.rsc",
        &["01_sugiruu-v7-ecmp-fasttrack.rsc"],
    ),
    (
        "03_sugiruu-vivo-pppoe-switch.rsc",
        &["01_sugiruu-v7-ecmp-fasttrack.rsc"],
    ),
    ("04_vishnunuk-v720-pcc-failover.rsc", &[]),
    (
        "05_dmxbreaker-v720-dualisp-pbr.rsc",
        &["bases/wan_ports_172.rsc"],
    ),
    ("06_tmaskpl-v711-export-2wan-pcc.rsc", &[]),
    (
        "07_tmaskpl-pcc-script.rsc",
        &["06_tmaskpl-v711-export-2wan-pcc.rsc"],
    ),
    ("08_sujirou-v7-hotspot-pcc-cake.rsc", &[]),
    (
        "09_webasdf-dhcp-dual-isp-failover.rsc",
        &["bases/two_dhcp.rsc"],
    ),
    ("10_leijian-pcc-loop.rsc", &["bases/two_dhcp.rsc"]),
    (
        "11_thanosnm-dhcp-failover-script.rsc",
        &["bases/two_dhcp.rsc"],
    ),
    (
        "12_pothi-forum-wan-monitor.rsc",
        &["bases/two_pppoe_one_static.rsc"],
    ),
    (
        "13_rz3n-failover-ecmp.rsc",
        &["bases/two_pppoe_one_static.rsc"],
    ),
    (
        "14_rz3n-failover-v3.rsc",
        &["bases/two_pppoe_one_static.rsc"],
    ),
    (
        "15_utrumo-speed-balance.rsc",
        &["bases/two_static_commented.rsc"],
    ),
    ("16_finlaydag33k-lte-wg-pbr.rsc", &["bases/lte_modem.rsc"]),
];

#[test]
fn every_real_configuration_runs_five_minutes_in_the_world_init_builds_for_it() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/real-configs");
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
    for (file, bases) in WORLDS {
        let text = read(file);
        // A base goes first; inside a Markdown file, in a fence of its own.
        let fenced = text.lines().any(|l| l.starts_with("```"));
        let mut config = String::new();
        for b in bases {
            let base = read(b);
            match fenced {
                true => config.push_str(&format!("```\n{base}\n```\n")),
                false => config.push_str(&format!("{base}\n")),
            }
        }
        config.push_str(&text);
        let (loaded, guess) =
            pccsim::init::world(file, &config).unwrap_or_else(|e| panic!("{file}: {e:?}"));
        assert!(
            !guess.assumptions.is_empty(),
            "{file}: what was guessed is said"
        );
        let run = pccsim::simulate(
            &loaded,
            loaded.scenario.seed,
            5 * 60 * pccsim::units::SEC,
            |_, _| {},
        );
        let summary = pccsim::report::Summary::new(&loaded, &run);
        let c = &summary.connections;
        assert!(
            c.total > 1000 && c.completed * 10 > c.total * 9,
            "{file}: {c:?}"
        );
        assert!(summary.wans.iter().any(|w| w.connections > 0), "{file}");
    }
}
