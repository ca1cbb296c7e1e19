//! `pccsim init`: the world a real export describes, guessed from it — the WANs, their
//! gateways and rates, the LAN and its hosts — and written as a scenario a person can edit.

mod common;

use std::process::{Command, Output};

fn pccsim(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pccsim"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn init_reads_a_v6_export_into_a_world_with_its_wans_rates_and_hosts() {
    let root = common::root();
    let o = pccsim(&["init", "tests/configs/v6_export.rsc"], &root);
    let ron = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let scenario = pccsim::scenario::parse("init.ron", &ron).unwrap();
    let wans: Vec<_> = scenario
        .wans
        .iter()
        .map(|w| (w.port.as_str(), w.gateway.to_string(), w.down.0))
        .collect();
    assert_eq!(
        wans,
        [
            ("ether1-isp1", "198.51.100.9".to_string(), 100_000_000),
            ("ether2-isp2", "203.0.113.17".to_string(), 40_000_000)
        ]
    );
    // The LAN the PCC rules classify, its hosts from the DHCP server's pool (at most 50).
    assert_eq!(scenario.lan.port, "ether5-lan");
    assert_eq!(scenario.lan.first_host.to_string(), "192.168.50.100");
    assert_eq!(scenario.lan.hosts, 50);
    // What was guessed is marked for the person who edits it.
    assert!(ron.contains("ASSUMED"), "{ron}");
    // The scenario names the configuration as it was given, and runs.
    let (loaded, guess) = pccsim::init::world(
        "tests/configs/v6_export.rsc",
        &common::read(&root.join("tests/configs/v6_export.rsc")),
    )
    .unwrap();
    assert_eq!(loaded.config.dialect, pccsim::router::config::Dialect::V6);
    assert!(guess.assumptions.iter().any(|a| a.contains("5 ms")));
}

#[test]
fn init_reads_a_v7_export_and_writes_beside_it_never_over_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let export = common::read(
        &common::root().join("tests/data/real-configs/06_tmaskpl-v711-export-2wan-pcc.rsc"),
    );
    std::fs::write(tmp.path().join("router.rsc"), export).unwrap();
    let o = pccsim(&["init", "router.rsc", "--out", "router.ron"], tmp.path());
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let ron = std::fs::read_to_string(tmp.path().join("router.ron")).unwrap();
    assert!(ron.contains("router: File(\"router.rsc\")"), "{ron}");
    assert!(
        ron.contains("gateway: \"192.168.122.1\"") && ron.contains("gateway: \"10.3.3.2\""),
        "{ron}"
    );
    // A second init would write over the scenario the user may have edited: refused.
    std::fs::write(tmp.path().join("router.ron"), "// mine").unwrap();
    let again = pccsim(&["init", "router.rsc", "--out", "router.ron"], tmp.path());
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("router.ron")).unwrap(),
        "// mine"
    );
    // `run` takes the configuration alone and says where its world came from.
    let run = pccsim(
        &["run", "router.rsc", "--duration", "30s", "--out", "out"],
        tmp.path(),
    );
    let out = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{out}{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        out.contains("world: built from router.rsc by pccsim init"),
        "{out}"
    );
    assert!(tmp.path().join("out/summary.json").exists());
}

#[test]
fn a_configuration_whose_world_cannot_be_guessed_says_what_to_add() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("r.rsc"),
        "/ip route add gateway=172.16.0.1\n/ip address add address=10.0.0.1/24 interface=ether3\n",
    )
    .unwrap();
    let o = pccsim(&["init", "r.rsc"], tmp.path());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err.contains("172.16.0.1 (line 1) reach no addressed interface"),
        "{err}"
    );
}
