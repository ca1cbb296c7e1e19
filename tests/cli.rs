//! The `pccsim` binary as a user meets it: output files, and clear errors with exit status 2.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn pccsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pccsim"))
        .args(args)
        .current_dir(common::root())
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Writes a scenario (and its config) into a temporary folder.
fn world(dir: &Path, scenario: &str, config: &str) -> String {
    std::fs::write(dir.join("router.rsc"), config).unwrap();
    let path = dir.join("s.ron");
    std::fs::write(&path, scenario).unwrap();
    path.display().to_string()
}

fn shipped(name: &str) -> String {
    common::read(&common::root().join("scenarios").join(name))
}

#[test]
fn run_writes_the_summary_timeseries_and_charts() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("res");
    let o = pccsim(&[
        "run",
        "scenarios/dual_wan.ron",
        "--duration",
        "30s",
        "--seed",
        "3",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let table = String::from_utf8_lossy(&o.stdout);
    assert!(
        table.contains("ISP1") && table.contains("configured"),
        "{table}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&common::read(&out.join("summary.json"))).unwrap();
    assert_eq!(summary["scenario"], "dual_wan");
    assert_eq!(summary["seed"], 3);
    assert_eq!(summary["duration_s"], 30.0);
    for key in ["name", "connections", "bytes_down", "bytes_up"] {
        assert!(!summary["wans"][0][key].is_null(), "wans[0].{key}");
    }
    for key in ["total", "broken", "broken_by_cause"] {
        assert!(!summary["connections"][key].is_null(), "connections.{key}");
    }
    let csv = common::read(&out.join("timeseries.csv"));
    assert!(csv.starts_with("time_s,wan,down_bps,up_bps,active_connections\n"));
    assert_eq!(
        csv.lines().count(),
        1 + 3 * 2,
        "3 samples of 10 s for 2 WANs"
    );
    for chart in ["throughput", "shares"] {
        for ext in ["png", "svg"] {
            assert!(out.join(format!("{chart}.{ext}")).metadata().unwrap().len() > 1000);
        }
    }
}

#[test]
fn malformed_scenarios_are_located_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let config = shipped("dual_wan.rsc");
    let base = shipped("dual_wan.ron").replace("File(\"dual_wan.rsc\")", "File(\"router.rsc\")");
    let cases = [
        (
            base.replace("seed: 7,", "seed: 7,\n    colour: \"blue\","),
            "s.ron:6:5",
            "colour",
        ),
        (
            base.replace("duration: \"20m\"", "duration: \"20 fortnights\""),
            "s.ron:",
            "fortnights",
        ),
        (
            base.replace("gateway: \"192.168.2.1\"", "gateway: \"192.168.9.1\""),
            "s.ron:",
            "not on ether2's subnet",
        ),
        (
            base.replace("port: \"ether2\"", "port: \"ether7\""),
            "s.ron:",
            "ether7",
        ),
        (
            base.trim_end().trim_end_matches(')').to_string(),
            "s.ron:",
            "",
        ),
    ];
    for (scenario, location, words) in cases {
        let path = world(tmp.path(), &scenario, &config);
        let o = pccsim(&[
            "run",
            &path,
            "--out",
            tmp.path().join("o").to_str().unwrap(),
        ]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains(location) && err.contains(words),
            "expected {location} {words}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn config_errors_name_the_rsc_line() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario =
        shipped("dual_wan.ron").replace("File(\"dual_wan.rsc\")", "File(\"router.rsc\")");
    let good = shipped("dual_wan.rsc");
    let cases = [
        (
            good.replace(
                "chain=srcnat out-interface=ISP2",
                "chian=srcnat out-interface=ISP2",
            ),
            "router.rsc:34:",
            "chian",
        ),
        (
            good.replace("both-addresses:3/2", "both-addresses:3/3"),
            "router.rsc:21:29",
            "remainder",
        ),
        (
            good.replace(
                "in-interface=ISP2 connection-mark=no-mark",
                "in-interface=ISP9 connection-mark=no-mark",
            ),
            "router.rsc:12:42",
            "ISP9",
        ),
        (
            format!("{good}\n/ip address add address=192.168.5.2/24 interface=ether5\n"),
            "router.rsc:36:",
            "wires nothing",
        ),
    ];
    for (config, location, words) in cases {
        let path = world(tmp.path(), &scenario, &config);
        let o = pccsim(&["run", &path]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains(location) && err.contains(words),
            "expected {location} {words}: {err}"
        );
    }
}

#[test]
fn an_unwritable_output_folder_fails_cleanly_and_keeps_earlier_results() {
    let tmp = tempfile::tempdir().unwrap();
    let blocker = tmp.path().join("file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let o = pccsim(&[
        "run",
        "scenarios/dual_wan.ron",
        "--duration",
        "5s",
        "--out",
        blocker.join("res").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(common::read(&blocker), "not a folder");

    let out = tmp.path().join("res");
    let ok = pccsim(&[
        "run",
        "scenarios/dual_wan.ron",
        "--duration",
        "5s",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok.status.success());
    let before = common::read(&out.join("summary.json"));
    let bad = pccsim(&["run", "scenarios/nope.ron", "--out", out.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(
        common::read(&out.join("summary.json")),
        before,
        "earlier results untouched"
    );
}
