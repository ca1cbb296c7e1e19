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
    assert!(csv.starts_with(
        "time_s,wan,down_bps,up_bps,active_connections,broken,broken.reply-sent-out-wan,"
    ));
    assert!(csv.lines().next().unwrap().contains(
        ",queue_drops,losses,mean_rtt_ms,link_up,gateway_reachable,in_service,route.line"
    ));
    assert_eq!(
        csv.lines().count(),
        1 + 3 * 2,
        "3 samples of 10 s for 2 WANs"
    );
    for chart in ["throughput", "shares", "health"] {
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
            good.replace("both-addresses:3/2", "both-adresses:3/2"),
            "router.rsc:21:29",
            "not a PCC field",
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

#[test]
fn exec_answers_operational_commands_after_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let o = pccsim(&[
        "run",
        "scenarios/dual_wan.ron",
        "--duration",
        "20s",
        "--out",
        tmp.path().join("o").to_str().unwrap(),
        "--exec",
        "/ip firewall mangle print stats",
        "--exec",
        ":put \"isp1=$[/ip firewall connection print count-only where connection-mark=isp1_conn]\"",
        "--exec",
        "/ip route print where gateway-status~\"reachable\"",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let stats_header = out
        .lines()
        .position(|l| l.contains("CHAIN") && l.contains("PACKETS"))
        .expect("stats table");
    // The three PCC rules counted the new LAN connections between them.
    let pcc_packets: u64 = out
        .lines()
        .skip(stats_header + 3)
        .take(3)
        .map(|l| l.split_whitespace().last().unwrap().parse::<u64>().unwrap())
        .sum();
    assert!(pcc_packets > 50, "{out}");
    let isp1: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("isp1="))
        .expect("put line")
        .parse()
        .unwrap();
    assert!(isp1 > 0, "{out}");
    assert_eq!(
        out.lines().filter(|l| l.contains("reachable")).count(),
        0,
        "gateway-status is not a column"
    );
    // Only the route in use is active: the distance-2 default in main stands by.
    assert_eq!(
        out.lines().filter(|l| l.contains(" AS ")).count(),
        3,
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains(" S ") && l.contains("192.168.2.1  2")),
        "{out}"
    );
    let refused = pccsim(&[
        "run",
        "scenarios/dual_wan.ron",
        "--duration",
        "5s",
        "--out",
        tmp.path().join("p").to_str().unwrap(),
        "--exec",
        "/ip route remove 0",
    ]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("cannot change it"));
}

#[test]
fn parse_reports_syntax_and_what_is_not_simulated() {
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.rsc");
    std::fs::write(&good, "/ip service set telnet disabled=yes\n/routing/table/add name=x fib\n:for i from=1 to=3 do={ /ip route add gateway=10.0.0.$i routing-table=x }\n").unwrap();
    let o = pccsim(&["parse", good.to_str().unwrap(), "--format", "json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["dialect"], "v7");
    assert_eq!(v["commands"], 4);
    assert_eq!(v["menus"]["/ip route"], 1);
    assert_eq!(v["not_simulated"][0]["menu"], "/ip service set");
    let bad = tmp.path().join("bad.rsc");
    std::fs::write(
        &bad,
        "/ip route add gateway=1.2.3.4\n:if (true) do={ :put \"unclosed }\n",
    )
    .unwrap();
    let o = pccsim(&["parse", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("bad.rsc:2:22"), "{}", stderr(&o));
}

#[test]
fn check_exit_codes_and_json() {
    let clean = pccsim(&["check", "scenarios/dual_wan.rsc"]);
    assert_eq!(
        clean.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );
    let bug = pccsim(&["check", "tests/configs/reply_bug.rsc", "--format", "json"]);
    assert_eq!(bug.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&bug.stdout).unwrap();
    assert_eq!(v["dialect"], "v6");
    let f = &v["findings"][0];
    assert_eq!(
        (f["id"].as_str(), f["severity"].as_str(), f["line"].as_u64()),
        (
            Some("mark-routing-catches-replies"),
            Some("error"),
            Some(23)
        )
    );
    assert!(f["message"].as_str().unwrap().contains("in-interface"));
    assert!((v["shares"]["isp1_conn"].as_f64().unwrap() - 2.0 / 3.0).abs() < 1e-9);
    let text = pccsim(&["check", "tests/configs/reply_bug.rsc"]);
    let out = String::from_utf8_lossy(&text.stdout);
    assert!(
        out.contains("error[mark-routing-catches-replies]") && out.contains("   23 | "),
        "{out}"
    );

    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("bad.rsc");
    std::fs::write(&bad, "/ip firewall mangle add chain=prerouting per-connection-classifier=both-adresses:2/0 action=accept\n").unwrap();
    let o = pccsim(&["check", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("bad.rsc:1:42") && stderr(&o).contains("not a PCC field"),
        "{}",
        stderr(&o)
    );
    // RouterOS stores a remainder past the denominator; the rule never matches, and check
    // says so on its line.
    std::fs::write(&bad, "/ip firewall mangle add chain=prerouting per-connection-classifier=both-addresses:2/2 action=mark-connection new-connection-mark=a\n").unwrap();
    let o = pccsim(&["check", bad.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("error[pcc-remainder-out-of-range]") && out.contains("never matches"),
        "{out}"
    );
    assert_eq!(pccsim(&["check", "no/such.rsc"]).status.code(), Some(2));
}

#[test]
fn values_that_would_never_finish_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let config = shipped("dual_wan.rsc");
    let base = shipped("dual_wan.ron").replace("File(\"dual_wan.rsc\")", "File(\"router.rsc\")");
    for (from, to, words) in [
        ("servers: 2000", "servers: 4000000000", "servers must be"),
        (
            "duration: \"20m\",",
            "duration: \"20m\",\n    sample_interval: \"1ns\",",
            "at least 1ms",
        ),
        (
            "per_host_per_minute: 10.0",
            "per_host_per_minute: 1e9",
            "per_host_per_minute",
        ),
        // A response past 1 GiB would be cut short without a word.
        ("max: \"50MiB\"", "max: \"4GiB\"", "at most 1GiB"),
        // Preallocating four billion packets' room once aborted the run.
        (
            "Packets(250)",
            "Packets(4000000000)",
            "a queue holds at most",
        ),
        (
            "down: \"100Mbit\"",
            "down: \"1000000000Gbit\"",
            "faster than 1Tbit",
        ),
        (
            "latency: \"3ms\"",
            "latency: \"36500d\"",
            "more than 10s one way",
        ),
        (
            "duration: \"20m\"",
            "duration: \"36500d\"",
            "at most 366 days",
        ),
    ] {
        let path = world(tmp.path(), &base.replacen(from, to, 1), &config);
        let o = pccsim(&[
            "run",
            &path,
            "--out",
            tmp.path().join("o").to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2), "{to}: {}", stderr(&o));
        assert!(stderr(&o).contains(words), "{to}: {}", stderr(&o));
    }
}

#[test]
fn a_reader_that_leaves_early_ends_pccsim_without_a_panic() {
    // `pccsim check big.rsc | head`: 3,000 findings, far more than a pipe holds.
    let tmp = tempfile::tempdir().unwrap();
    let mut config = String::from("/ip firewall mangle\n");
    for i in 0..3_000 {
        config.push_str(&format!(
            "add chain=prerouting connection-mark=no-mark per-connection-classifier=\
             both-addresses:3000/{i} action=mark-connection new-connection-mark=c{}\n",
            i % 2
        ));
    }
    let path = tmp.path().join("big.rsc");
    std::fs::write(&path, config).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pccsim"))
        .args(["check", &path.display().to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 100];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let o = child.wait_with_output().unwrap();
    assert!(
        String::from_utf8_lossy(&first).contains("big.rsc"),
        "{}",
        String::from_utf8_lossy(&first)
    );
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&o.status),
        Some(libc::SIGPIPE),
        "ended by SIGPIPE, as `cat` would be"
    );
}

#[test]
fn bottleneck_reports_the_experiment_and_its_figures_as_json() {
    let o = pccsim(&[
        "bottleneck",
        "--flows",
        "3",
        "--rate",
        "20Mbit",
        "--rtt",
        "40ms",
        "--buffer-bdp",
        "2",
        "--duration",
        "30s",
        "--warmup",
        "5s",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let x = &v["experiment"];
    assert_eq!(x["flows"], 3);
    assert_eq!(x["rate_bps"], 20_000_000);
    assert_eq!(x["buffer_bytes"], 200_000);
    let m = &v["measured"];
    for key in [
        "utilisation",
        "goodput_share",
        "jain",
        "queue_drops",
        "random_losses",
        "segments_per_ack",
        "longest_recovery_tail_ms",
        "files",
    ] {
        assert!(m.get(key).is_some(), "{key} missing: {m}");
    }
    assert_eq!(m["goodput_bps"].as_array().unwrap().len(), 3);
    assert!(m["utilisation"].as_f64().unwrap() > 0.95, "{m}");
    // A warm-up as long as the run leaves nothing to measure: refused.
    let o = pccsim(&["bottleneck", "--duration", "10s", "--warmup", "10s"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--warmup"), "{}", stderr(&o));
}

#[cfg(unix)]
#[test]
fn sigterm_during_a_run_removes_its_unfinished_results_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("res");
    let child = Command::new(env!("CARGO_BIN_EXE_pccsim"))
        .args([
            "run",
            "scenarios/weighted_5_2.ron",
            "--duration",
            "24h",
            "--pcap",
        ])
        .arg("LAN")
        .arg("--out")
        .arg(&out)
        .current_dir(common::root())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let partial = tmp
        .path()
        .join(format!(".res.pccsim-partial-{}", child.id()));
    let lock = tmp.path().join(".res.pccsim-lock");
    let started = std::time::Instant::now();
    let writing = |p: &Path| std::fs::read_dir(p).is_ok_and(|mut d| d.next().is_some());
    while !writing(&partial) && started.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        partial.exists() && lock.exists(),
        "the run claimed its folder"
    );
    // A second run into the same folder meanwhile is refused with the first's process id.
    let second = pccsim(&[
        "run",
        "scenarios/dual_wan.ron",
        "--out",
        &out.display().to_string(),
    ]);
    assert_eq!(second.status.code(), Some(2));
    assert!(
        stderr(&second).contains(&format!("another pccsim (process {})", child.id())),
        "{}",
        stderr(&second)
    );
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130));
    assert!(
        stderr(&o).contains("interrupted: unfinished results removed"),
        "{}",
        stderr(&o)
    );
    assert!(!partial.exists() && !lock.exists() && !out.exists());
}

#[test]
fn worlds_that_cannot_exist_are_refused_at_their_line() {
    let tmp = tempfile::tempdir().unwrap();
    let config = shipped("dual_wan.rsc");
    let base = shipped("dual_wan.ron").replace("File(\"dual_wan.rsc\")", "File(\"router.rsc\")");
    for (from, to, words) in [
        // Results would land outside output/.
        (
            "name: \"dual_wan\"",
            "name: \"../../x\"",
            "must be a plain file name",
        ),
        (
            "name: \"dual_wan\"",
            "name: \"/abs\"",
            "must be a plain file name",
        ),
        // Per-ISP metrics would collapse into one.
        (
            "isp: \"isp2\"",
            "isp: \"isp1\"",
            "two WANs are called `isp1`",
        ),
        // The router's LAN address is 10.0.0.1.
        (
            "first_host: \"10.0.0.100\"",
            "first_host: \"10.0.0.1\"",
            "include the router's own LAN address",
        ),
        (
            "(name: \"video\", per_host_per_minute: 0.6,",
            "(name: \"video\", per_host_per_minute: 0.6, hosts: Some(\"10.0.1.0/24\"),",
            "no LAN host is in 10.0.1.0/24",
        ),
        (
            "[\"8.8.8.8\", \"8.8.4.4\"]",
            "[\"10.0.0.110\"]",
            "server 10.0.0.110 of `dns` is a LAN address",
        ),
        (
            "shape: 1.2, max: \"50MiB\"",
            "shape: 1.2, max: \"1KiB\"",
            "max is below its min",
        ),
        ("shape: 1.2", "shape: 0.0", "shape must be more than 0"),
    ] {
        let scenario = base.replacen(from, to, 1);
        assert_ne!(scenario, base, "{from}");
        let path = world(tmp.path(), &scenario, &config);
        let o = pccsim(&[
            "run",
            &path,
            "--out",
            tmp.path().join("o").to_str().unwrap(),
        ]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{to}: {err}");
        assert!(err.contains(words) && err.contains("s.ron:"), "{to}: {err}");
    }
    // A world that cannot fit is refused with its figures, before anything runs: 40 hosts
    // opening 6,000 pages a minute of 10 × 64 objects is 2.6 million connections a second.
    let web = "kind: Web(port: 443, pages: 10, objects: 64, servers: 8, think: \"1s\", \
               request: Fixed(\"500B\"), object: Fixed(\"10KiB\"))";
    let scenario = base
        .replacen("per_host_per_minute: 10.0", "per_host_per_minute: 6000.0", 1)
        .replacen(
            "kind: Tcp(port: 443,\n                   request: LogNormal(median: \"700B\", sigma: 0.5),\n                   response: Pareto(min: \"8KiB\", shape: 1.2, max: \"50MiB\"))",
            web,
            1,
        );
    assert!(scenario.contains("pages: 10"));
    let path = world(tmp.path(), &scenario, &config);
    let o = pccsim(&[
        "run",
        &path,
        "--out",
        tmp.path().join("o").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("connections a second"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("more than pccsim will take on"),
        "{}",
        stderr(&o)
    );
    // A bare number of seconds or minutes is anyone's guess.
    let o = pccsim(&["run", "scenarios/dual_wan.ron", "--duration", "1"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("needs a unit"), "{}", stderr(&o));
    // The wrong kind of file is named as what it is.
    let o = pccsim(&["compare", "scenarios/dual_wan.rsc"]);
    assert!(
        stderr(&o).contains("is a RouterOS configuration, not a scenario"),
        "{}",
        stderr(&o)
    );
    let o = pccsim(&["check", "scenarios/dual_wan.ron"]);
    assert!(
        stderr(&o).contains("is a scenario, not a RouterOS configuration"),
        "{}",
        stderr(&o)
    );
    let o = pccsim(&["check", "/dev/zero"]);
    assert!(stderr(&o).contains("more than 64 MiB"), "{}", stderr(&o));
}

fn pccsim_in(args: &[&str], stdin: &[u8]) -> Output {
    use std::io::Write as _;
    let mut child = Command::new(env!("CARGO_BIN_EXE_pccsim"))
        .args(args)
        .current_dir(common::root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn json_of(o: &Output) -> serde_json::Value {
    let out = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {out}"))
}

#[test]
fn with_format_json_stdout_is_one_json_document_errors_included() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("res");
    let out = out.to_str().unwrap();
    // small_business's configuration has findings: they go to standard error beside JSON.
    let o = pccsim(&[
        "run",
        "scenarios/small_business.ron",
        "--duration",
        "20s",
        "--out",
        out,
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary = json_of(&o);
    assert_eq!(summary["scenario"], "small_business");
    assert!(
        summary["provenance"]["scenario_sha256"]
            .as_str()
            .unwrap()
            .len()
            == 64
    );
    assert!(stderr(&o).contains("results in"), "{}", stderr(&o));
    let o = pccsim(&[
        "compare",
        "scenarios/dual_wan.ron",
        "--classifier",
        "src-address",
        "--seeds",
        "2",
        "--duration",
        "10s",
        "--out",
        &format!("{out}-c"),
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(json_of(&o)["baseline"], "as configured");
    // Errors too: where, for a tool to point at.
    let bad = tmp.path().join("bad.rsc");
    std::fs::write(
        &bad,
        "/ip address\nadd address=1.2.3.4/24 interfce=ether1\n",
    )
    .unwrap();
    let bad = bad.to_str().unwrap();
    for args in [
        vec!["parse", bad, "--format", "json"],
        vec!["check", bad, "--format", "json"],
        vec![
            "trace",
            "--config",
            bad,
            "--connection",
            "tcp 10.0.0.2:1 -> 1.1.1.1:80",
            "--format",
            "json",
        ],
    ] {
        let o = pccsim(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = &json_of(&o)["errors"][0];
        assert_eq!(
            (e["line"].as_u64(), e["column"].as_u64()),
            (Some(2), Some(24)),
            "{args:?}: {e}"
        );
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("did you mean `interface`"),
            "{e}"
        );
        assert!(
            stderr(&o).contains("interfce"),
            "people still read it on stderr"
        );
    }
    let o = pccsim(&["check", "/nonexistent.rsc", "--format", "json"]);
    assert_eq!(json_of(&o)["errors"][0]["file"], "/nonexistent.rsc");
}

#[test]
fn a_dash_reads_the_configuration_or_the_scenario_from_standard_input() {
    let config = shipped("dual_wan.rsc");
    let o = pccsim_in(&["check", "-"], config.as_bytes());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("<stdin>: RouterOS v6"));
    let o = pccsim_in(
        &["parse", "-"],
        b"/ip address\nadd address=1.2.3.4/24 interfce=ether1\n",
    );
    assert!(stderr(&o).contains("<stdin>:2:24"), "{}", stderr(&o));
    // A scenario from standard input names its configuration relative to the working folder.
    let tmp = tempfile::tempdir().unwrap();
    let scenario = shipped("dual_wan.ron")
        .replace("File(\"dual_wan.rsc\")", "File(\"scenarios/dual_wan.rsc\")");
    let out = tmp.path().join("res");
    let o = pccsim_in(
        &[
            "run",
            "-",
            "--duration",
            "10s",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
        ],
        scenario.as_bytes(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        o.stdout.is_empty() && o.stderr.is_empty(),
        "--quiet says nothing on success"
    );
    assert!(out.join("summary.json").exists());
}

#[test]
fn completions_come_for_each_shell() {
    for (shell, words) in [
        ("bash", "_pccsim()"),
        ("zsh", "#compdef pccsim"),
        ("fish", "complete -c pccsim"),
    ] {
        let o = pccsim(&["completions", shell]);
        assert!(o.status.success());
        let text = String::from_utf8_lossy(&o.stdout);
        assert!(text.contains(words) && text.contains("compare"), "{shell}");
    }
    let help = pccsim(&["--help"]);
    assert!(String::from_utf8_lossy(&help.stdout).contains("Examples:"));
}

#[test]
fn a_short_run_counts_what_a_fault_holds_back_and_names_the_timeline_it_cuts() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("ft");
    // FastTrack strips the second WAN's connections of their mark: they leave by the first
    // with the second's address and hang. Two minutes end before any of them gives up.
    let o = pccsim(&[
        "run",
        "scenarios/fasttrack_on.ron",
        "--duration",
        "2m",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("stalled by a fault (fasttrack-misroute"),
        "{text}"
    );
    let summary: serde_json::Value =
        serde_json::from_str(&common::read(&out.join("summary.json"))).unwrap();
    let c = &summary["connections"];
    assert!(c["stalled"].as_u64().unwrap() > 200, "{c}");
    assert!(c["failed_share"].as_f64().unwrap() > 0.15, "{c}");
    assert_eq!(c["broken"], 0);
    let o = pccsim(&[
        "run",
        "scenarios/failover_gateway.ron",
        "--duration",
        "2m",
        "--out",
        tmp.path().join("fg").to_str().unwrap(),
    ]);
    let err = stderr(&o);
    assert!(
        err.contains("the run ends at 2m before the timeline's GatewayDown on isp1 at 5m"),
        "{err}"
    );
    assert!(err.contains("GatewayUp on isp1 at 10m"), "{err}");
}
