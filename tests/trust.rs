//! What a user must be able to trust: pccsim never destroys their files, refuses mistakes
//! before simulating, and makes a broken network look broken.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn pccsim_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pccsim"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn pccsim(args: &[&str]) -> Output {
    pccsim_in(&common::root(), args)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn shipped(name: &str) -> String {
    common::read(&common::root().join("scenarios").join(name))
}

/// The dual-WAN scenario and its config copied into `dir`, as a user keeps them.
fn user_folder(dir: &Path) -> String {
    std::fs::write(dir.join("dual_wan.rsc"), shipped("dual_wan.rsc")).unwrap();
    std::fs::write(dir.join("dual_wan.ron"), shipped("dual_wan.ron")).unwrap();
    std::fs::create_dir(dir.join("notes")).unwrap();
    std::fs::write(dir.join("notes/plan.txt"), "my plan").unwrap();
    dir.join("dual_wan.ron").display().to_string()
}

fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn out_dot_in_a_folder_of_the_users_files_is_refused_and_nothing_is_touched() {
    let tmp = tempfile::tempdir().unwrap();
    let scenario = user_folder(tmp.path());
    let before = listing(tmp.path());
    let o = pccsim_in(
        tmp.path(),
        &["run", &scenario, "--duration", "10s", "--out", "."],
    );
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("did not write"), "{}", stderr(&o));
    assert!(
        stdout(&o).is_empty(),
        "refused before simulating: {}",
        stdout(&o)
    );
    assert_eq!(listing(tmp.path()), before);
    assert_eq!(common::read(&tmp.path().join("notes/plan.txt")), "my plan");
}

#[test]
fn out_into_the_scenarios_own_folder_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let sc2 = tmp.path().join("sc2");
    std::fs::create_dir(&sc2).unwrap();
    let scenario = user_folder(&sc2);
    let o = pccsim(&[
        "run",
        &scenario,
        "--duration",
        "10s",
        "--out",
        sc2.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert_eq!(
        common::read(&sc2.join("dual_wan.rsc")),
        shipped("dual_wan.rsc")
    );
    assert_eq!(listing(&sc2), ["dual_wan.ron", "dual_wan.rsc", "notes"]);
}

#[test]
fn a_users_file_in_a_results_folder_survives_the_next_run() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("res");
    let run = |extra: &[&str]| {
        let mut args = vec!["run", "scenarios/dual_wan.ron", "--duration", "10s"];
        args.extend(["--out", out.to_str().unwrap()]);
        args.extend(extra);
        pccsim(&args)
    };
    assert!(run(&["--connections"]).status.success());
    std::fs::write(out.join("my-notes.txt"), "keep me").unwrap();
    let o = run(&[]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(common::read(&out.join("my-notes.txt")), "keep me");
    assert!(
        !out.join("connections.csv").exists(),
        "pccsim's own stale file goes"
    );
    assert!(out.join("summary.json").exists());
}

#[test]
fn mistakes_in_flags_are_refused_before_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("a-file");
    std::fs::write(&file, "mine").unwrap();
    let readonly = tmp.path().join("ro");
    std::fs::create_dir(&readonly).unwrap();
    let mut perms = std::fs::metadata(&readonly).unwrap().permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&readonly, perms).unwrap();
    let fresh = tmp.path().join("fresh").display().to_string();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "--out".into(),
                fresh.clone(),
                "--exec".into(),
                ":put [".into(),
            ],
            "--exec",
        ),
        (
            vec![
                "--out".into(),
                fresh.clone(),
                "--exec".into(),
                "/ip route remove 0".into(),
            ],
            "cannot change it",
        ),
        (
            vec!["--out".into(), "/proc/x".into()],
            "--out /proc/x: cannot write there",
        ),
        (
            vec!["--out".into(), file.display().to_string()],
            "a file of that name exists",
        ),
        (
            vec![
                "--out".into(),
                fresh.clone(),
                "--duration".into(),
                "0s".into(),
            ],
            "longer than 0",
        ),
        (
            vec![
                "--out".into(),
                fresh.clone(),
                "--pcap".into(),
                "ISP7".into(),
            ],
            "--pcap ISP7",
        ),
    ];
    for (args, words) in cases {
        let mut all = vec!["run".to_string(), "scenarios/dual_wan.ron".into()];
        all.extend(args);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let o = pccsim(&all);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{all:?}: {err}");
        assert!(err.contains(words), "{all:?}: expected {words}: {err}");
        assert!(
            !err.contains("partial") && !err.contains("panicked"),
            "{err}"
        );
        assert!(stdout(&o).is_empty(), "{all:?} simulated: {}", stdout(&o));
    }
    assert!(!Path::new(&fresh).exists());
    assert_eq!(common::read(&file), "mine");
    // Root writes into read-only folders, so only check that case where permissions bind.
    let probe = readonly.join("probe");
    if std::fs::write(&probe, "").is_err() {
        let o = pccsim(&[
            "run",
            "scenarios/dual_wan.ron",
            "--out",
            readonly.join("r").to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(2));
        assert!(stderr(&o).contains("cannot write there"), "{}", stderr(&o));
    }
    let o = pccsim(&[
        "trace",
        "scenarios/dual_wan.ron",
        "--at",
        "5h",
        "--connection",
        "tcp 10.0.0.100:5000 -> 1.2.3.4:443",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--at 5h: the scenario lasts only 20m"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn scenario_values_that_are_surely_mistakes_are_refused_with_their_place() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("router.rsc"), shipped("dual_wan.rsc")).unwrap();
    let base = shipped("dual_wan.ron").replace("File(\"dual_wan.rsc\")", "File(\"router.rsc\")");
    let cases = [
        (
            base.replace("down: \"100Mbit\"", "down: \"100MB\""),
            "s.ron:10:",
            "not a rate",
        ),
        (
            base.replace("queue: Packets(250)", "queue: Packets(0)"),
            "s.ron:11:10",
            "holds no packet",
        ),
        (
            base.replace("queue: Packets(150)", "queue: Packets(0)"),
            "s.ron:14:10",
            "holds no packet",
        ),
        (
            base.replace("popularity: 1.0", "popularity: -3.0"),
            "s.ron:17:31",
            "popularity -3",
        ),
        (
            base.replace("hosts: 40", "hosts: 0"),
            "s.ron:16:27",
            "at least one host",
        ),
        (
            base.replace(
                "duration: \"20m\"",
                "duration: \"20m\", sample_interval: \"1h\"",
            ),
            "s.ron:6:",
            "longer than the run",
        ),
        (
            base.replace("duration: \"20m\"", "duration: \"0s\""),
            "s.ron:6:5",
            "longer than 0",
        ),
    ];
    for (scenario, location, words) in cases {
        let path = tmp.path().join("s.ron");
        std::fs::write(&path, scenario).unwrap();
        let out = tmp.path().join("o");
        let o = pccsim(&[
            "run",
            path.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{err}");
        assert!(
            err.contains(location) && err.contains(words),
            "expected {location} {words}: {err}"
        );
    }
    // Bytes per second are bytes: 100MBps is 800 Mbit/s, never 100.
    let path = tmp.path().join("s.ron");
    std::fs::write(
        &path,
        base.replace("down: \"100Mbit\"", "down: \"100MBps\""),
    )
    .unwrap();
    let out = tmp.path().join("bytes");
    let o = pccsim(&[
        "run",
        path.to_str().unwrap(),
        "--duration",
        "10s",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let summary: serde_json::Value =
        serde_json::from_str(&common::read(&out.join("summary.json"))).unwrap();
    assert_eq!(summary["wans"][0]["capacity_down_bps"], 800_000_000u64);
}

#[test]
fn a_broken_network_is_reported_as_broken_with_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("router.rsc"),
        common::read(&common::root().join("tests/configs/reply_bug.rsc")),
    )
    .unwrap();
    let scenario =
        shipped("dual_wan.ron").replace("File(\"dual_wan.rsc\")", "File(\"router.rsc\")");
    let path = tmp.path().join("s.ron");
    std::fs::write(&path, scenario).unwrap();
    let out = tmp.path().join("o");
    let o = pccsim(&[
        "run",
        path.to_str().unwrap(),
        "--duration",
        "1m",
        "--out",
        out.to_str().unwrap(),
        "--connections",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let text = stdout(&o);
    // check's findings come first, before the table.
    let finding = text
        .find("check: error[mark-routing-catches-replies]")
        .expect(&text);
    assert!(finding < text.find("WAN ").unwrap(), "{text}");
    assert!(text.contains("!! BROKEN:"), "{text}");
    assert!(text.contains("reply-sent-out-wan"), "{text}");
    let summary: serde_json::Value =
        serde_json::from_str(&common::read(&out.join("summary.json"))).unwrap();
    let per_wan: u64 = (0..2)
        .map(|i| summary["wans"][i]["broken"].as_u64().unwrap())
        .sum();
    assert_eq!(per_wan, summary["connections"]["broken"].as_u64().unwrap());
    assert!(per_wan > 0);
    assert!(summary["connections"]["broken_share"].as_f64().unwrap() > 0.5);
    assert!(!summary["findings"].as_array().unwrap().is_empty());
    // The time series shows the breaks where they happened, by cause.
    let csv = common::read(&out.join("timeseries.csv"));
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let col = header
        .iter()
        .position(|h| *h == "broken.reply-sent-out-wan")
        .unwrap();
    let in_series: u64 = csv
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(col).unwrap().parse::<u64>().unwrap())
        .sum();
    assert_eq!(in_series, per_wan);
    // Every connection is listed once with its outcome.
    let rows = common::read(&out.join("connections.csv"));
    let broken_rows = rows
        .lines()
        .filter(|l| l.ends_with(",broken,reply-sent-out-wan"))
        .count();
    assert_eq!(
        broken_rows as u64,
        summary["connections"]["broken_by_cause"]["reply-sent-out-wan"]
            .as_u64()
            .unwrap()
    );
    assert_eq!(
        rows.lines().count() as u64 - 1,
        summary["connections"]["total"].as_u64().unwrap()
    );
    // A looser threshold accepts it.
    let o = pccsim(&[
        "run",
        path.to_str().unwrap(),
        "--duration",
        "1m",
        "--out",
        out.to_str().unwrap(),
        "--max-broken",
        "100%",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(!stdout(&o).contains("BROKEN"));
}

#[test]
fn every_argument_of_every_command_is_explained_in_help() {
    for command in [
        "run",
        "compare",
        "sweep",
        "merge",
        "check",
        "parse",
        "trace",
        "export",
        "completions",
        "lesson",
    ] {
        let o = pccsim(&[command, "--help"]);
        let help = stdout(&o);
        let mut undocumented = Vec::new();
        let mut lines = help.lines().peekable();
        while let Some(line) = lines.next() {
            let t = line.trim_start();
            // Items sit 2 or 6 spaces in; deeper lines continue a wrapped explanation.
            let indent = line.len() - t.len();
            let is_item = ((t.starts_with('-') && !t.starts_with("- "))
                || t.starts_with('<')
                || t.starts_with('['))
                && (2..=6).contains(&indent);
            // An item is documented when text follows it on its line or on the next.
            let words_after = t.split("  ").filter(|s| !s.trim().is_empty()).count() > 1;
            let next_is_text = lines
                .peek()
                .is_some_and(|n| n.starts_with("          ") && !n.trim().is_empty());
            if is_item && !words_after && !next_is_text {
                undocumented.push(t.to_string());
            }
        }
        assert!(
            undocumented.is_empty(),
            "pccsim {command} --help: {undocumented:?}\n{help}"
        );
    }
}

#[test]
fn a_missing_file_says_its_cause_once() {
    let o = pccsim(&["check", "/nonexistent/router.rsc"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    assert!(err.contains("/nonexistent/router.rsc"), "{err}");
}
