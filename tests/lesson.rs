//! `pccsim lesson`: one self-contained page that steps a class through a connection's walk —
//! opened in headless Chromium (`.ci/run` installs it), pressed through with the arrow keys,
//! and checked at three steps against `pccsim trace --format json` of the same connection.

mod common;

use pccsim::compare::Spread;
use pccsim::lesson::WhatIf;
use pccsim::router::pcc::Fields;
use pccsim::units::SEC;
use pccsim::world::flow::Cause;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

fn pccsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pccsim"))
        .args(args)
        .current_dir(common::root())
        .output()
        .unwrap()
}

/// Writes the lesson of `scenario` with `args` into `dir` and returns its page.
fn lesson(dir: &Path, scenario: &str, args: &[&str]) -> std::path::PathBuf {
    let out = dir.join("lesson");
    let mut all = vec!["lesson", scenario, "--out", out.to_str().unwrap()];
    all.extend(args);
    let o = pccsim(&all);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    out.join("lesson.html")
}

/// The page as Chromium shows it after loading it with `fragment` (a variant, keys to press,
/// a time for the replays), and its console lines; `None` without Chromium (not on CI).
fn shown(page: &Path, fragment: &str) -> Option<(String, Vec<String>)> {
    let url = format!("file://{}#{fragment}", page.display());
    common::chromium(&["--virtual-time-budget=2000", "--dump-dom"], &url)
}

/// After pressing → `presses` times.
fn after_keys(page: &Path, presses: usize) -> Option<(String, Vec<String>)> {
    shown(
        page,
        &format!("keys={}", vec!["ArrowRight"; presses].join(",")),
    )
}

/// The text of variant `v`'s current step.
fn current(dom: &str, v: usize) -> String {
    let start = dom
        .find(&format!("id=\"v{v}-current\""))
        .expect("the step view");
    let from = start + dom[start..].find('>').unwrap() + 1;
    let to = from + dom[from..].find("</p>").unwrap();
    dom[from..to]
        .replace("&gt;", ">")
        .replace("&lt;", "<")
        .replace("&amp;", "&")
}

#[test]
fn a_class_steps_through_a_connection_as_trace_walks_it() {
    let tmp = tempfile::tempdir().unwrap();
    let page = lesson(
        tmp.path(),
        "scenarios/dual_wan.ron",
        &["--duration", "30s", "--connections", "60"],
    );
    let html = common::read(&page);
    for part in [
        "<h3>prerouting</h3>",
        "<h3>routing decision</h3>",
        "<h3>postrouting</h3>",
        "id=\"v0-rule-mangle-14\"",
        "id=\"v0-rule-routing-28\"",
        "id=\"v0-rule-nat-34\"",
        "The first 60 connections in their buckets",
    ] {
        assert!(html.contains(part), "lesson.html lacks {part}");
    }
    // No external resource: the only URL is SVG's namespace, which is a name, not a fetch.
    let urls = html.matches("http").count();
    let namespaces = html.matches("xmlns=\"http://www.w3.org/2000/svg\"").count();
    assert_eq!(urls, namespaces, "no external URL");
    assert!(!html.contains("src="), "no external resource");
    // The connection the page walks, from its first step, traced on its own.
    let first = html.split("data-target=").nth(1).unwrap();
    let first = &first[first.find('>').unwrap() + 1..];
    let spec = first
        .split(" — ")
        .next()
        .unwrap()
        .trim_start_matches("packet ");
    let spec = spec.replace("&gt;", ">");
    assert!(
        spec.starts_with("tcp "),
        "a TCP connection is walked: {spec}"
    );
    let o = pccsim(&[
        "trace",
        "--config",
        "scenarios/dual_wan.rsc",
        "--connection",
        &spec,
        "--format",
        "json",
    ]);
    assert!(
        o.status.success(),
        "{spec}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let walks: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let mut expected = Vec::new();
    for w in walks.as_array().unwrap() {
        let head = format!(
            "{} {} — arrives on {}",
            w["direction"].as_str().unwrap(),
            w["arrived"].as_str().unwrap(),
            w["in_interface"].as_str().unwrap()
        );
        for s in w["steps"].as_array().unwrap() {
            expected.push(format!(
                "{head}: {} {}",
                s["stage"].as_str().unwrap(),
                s["detail"].as_str().unwrap()
            ));
        }
        expected.push(format!("{head}: {}", w["verdict"].as_str().unwrap()));
    }
    assert!(expected.len() > 20, "{expected:?}");
    // Three steps: the classifier that matched, the routing decision, a step of the reply.
    let pcc = expected
        .iter()
        .position(|e| e.contains("= remainder"))
        .unwrap();
    let routing = expected
        .iter()
        .position(|e| e.contains("routing routing mark"))
        .unwrap();
    let reply = expected
        .iter()
        .position(|e| e.starts_with("reply"))
        .unwrap()
        + 1;
    for at in [pcc, routing, reply] {
        let Some((dom, console)) = after_keys(&page, at) else {
            return;
        };
        assert!(console.is_empty(), "console: {console:?}");
        assert_eq!(current(&dom, 0), expected[at], "after {at} presses");
        assert!(dom.contains(&format!("step {} of {}", at + 1, expected.len())));
    }
}

/// `trace --format html` writes the same step view for one connection, on standard output.
#[test]
fn trace_as_html_is_the_lessons_step_view_of_that_connection() {
    let o = pccsim(&[
        "trace",
        "--config",
        "scenarios/lesson_pcc.rsc",
        "--connection",
        "tcp 192.168.88.10:40000 -> 93.184.216.34:443",
        "--format",
        "html",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let html = String::from_utf8(o.stdout).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<h3>routing decision</h3>") && html.contains("class=\"steps\""));
    assert!(html.contains("both-addresses of 192.168.88.10, 93.184.216.34: hash"));
    assert!(html.contains("later packet tcp 192.168.88.10:40000"));
    assert!(!html.contains("https://") && !html.contains("src="));
}

/// The desks' WANs among a variant's first connections to the internet.
fn desks(v: &pccsim::lesson::Variant) -> BTreeMap<Ipv4Addr, BTreeSet<u8>> {
    let mut desks: BTreeMap<Ipv4Addr, BTreeSet<u8>> = BTreeMap::new();
    for c in v.first.iter().filter(|c| !c.tuple.dst.is_private()) {
        if let Some(w) = c.wan {
            desks.entry(c.tuple.src).or_default().insert(w);
        }
    }
    desks
}

/// The what-ifs are computed ahead from the same traffic: another classifier moves the same
/// desks' connections, FastTrack sends a later packet out of the wrong WAN, and the guide's
/// reply-marking mistake sends replies back out of the WAN they came in by.
#[test]
fn each_what_if_shows_what_its_change_does_to_the_same_connections() {
    let loaded = common::scenario("lesson_pcc.ron");
    let lesson = pccsim::lesson::prepare(&loaded, 2 * 60 * SEC, 200, &|_, _| {});
    let labels: Vec<String> = lesson.variants.iter().map(|v| v.what.label()).collect();
    assert_eq!(
        labels,
        [
            "as configured",
            "src-address",
            "both-addresses-and-ports",
            "nth",
            "FastTrack on",
            "reply-marking mistake"
        ],
        "both-addresses is the configuration's own, so it is no what-if"
    );
    let by = |what: WhatIf| lesson.variants.iter().find(|v| v.what == what).unwrap();
    let base = by(WhatIf::AsConfigured);
    // src-address keeps every desk on one WAN; both addresses spread a desk over both.
    let one_wan = desks(by(WhatIf::Spread(Spread::Pcc(Fields::SrcAddress))));
    assert!(
        one_wan.len() >= 5 && one_wan.values().all(|w| w.len() == 1),
        "{one_wan:?}"
    );
    assert!(desks(base).values().any(|w| w.len() == 2));
    // The walked connection goes by wan-b as configured, every packet of it.
    let verdicts = |v: &pccsim::lesson::Variant| -> Vec<String> {
        v.walks.iter().map(|w| w.verdict.clone()).collect()
    };
    let as_configured = verdicts(base);
    assert!(as_configured[0].contains("out wan-b"), "{as_configured:?}");
    assert!(as_configured[2].contains("out wan-b"), "{as_configured:?}");
    // FastTrack: the later packet skips mangle, so main's route sends it out of wan-a, still
    // with wan-b's address; in the run, packets leave with another WAN's address.
    let fasttrack = by(WhatIf::FastTrack(true));
    let later = &fasttrack.walks[2];
    assert!(later.verdict.contains("out wan-a"), "{}", later.verdict);
    assert!(later.left.contains("203.0.113.2:"), "{}", later.left);
    assert_eq!(base.run.metrics.packets_wrong_source, 0);
    assert!(fasttrack.run.metrics.packets_wrong_source > 0);
    // The mistake: the reply is routing-marked and leaves by wan-b again; connections break so.
    let mistake = by(WhatIf::MarkReplies);
    let reply = &verdicts(mistake)[1];
    assert!(reply.contains("out wan-b"), "{reply}");
    let sent_out = |v: &pccsim::lesson::Variant| {
        (v.run.metrics.broken_by_cause.get(&Cause::ReplySentOutWan))
            .copied()
            .unwrap_or(0)
    };
    assert_eq!(sent_out(base), 0);
    assert!(sent_out(mistake) > 50, "{}", sent_out(mistake));
}

/// The events of the first variant's replay: (seconds, text).
fn events(html: &str) -> Vec<(f64, String)> {
    let list = html
        .split("<ol class=\"events\">")
        .nth(1)
        .expect("a replay");
    let list = &list[..list.find("</ol>").unwrap()];
    (list.split("<li data-at=\"").skip(1))
        .map(|li| {
            let at: f64 = li[..li.find('"').unwrap()].parse().unwrap();
            let text = &li[li.find("</b> ").unwrap() + 5..li.find("</li>").unwrap()];
            (at, text.replace("&quot;", "\""))
        })
        .collect()
}

/// `--timeline` replays the bad day: the gateway fails at 4:00, check-gateway misses two
/// probes 10 s apart, the second takes the routes and the WAN out of service; the repair at
/// 7:00 and the next answer bring them back. A browser scrubbed to 4:10 shows the failure the
/// router has not noticed yet; to 5:00, the WAN out of service.
#[test]
fn the_timeline_replays_failover_and_failback_as_they_happened() {
    let tmp = tempfile::tempdir().unwrap();
    let page = lesson(
        tmp.path(),
        "scenarios/lesson_pcc.ron",
        &["--timeline", "--connections", "50"],
    );
    let events = events(&common::read(&page));
    let when = |what: &str| {
        (events.iter())
            .find(|(_, text)| text.contains(what))
            .unwrap_or_else(|| panic!("no {what:?} in {events:#?}"))
            .0
    };
    assert_eq!(when("the gateway fails"), 240.0);
    let first = when("(wan-a) missed (1 of 2)");
    let second = when("(wan-a) missed (2 of 2)");
    assert!(first > 240.0 && first <= 251.0, "{first}");
    assert!((second - first - 10.0).abs() < 0.01, "{first} {second}");
    assert!(when("lines 37, 39") == second);
    assert_eq!(when("route at line 40 is now in use"), second);
    assert_eq!(when("wan-a: out of service"), second);
    assert_eq!(when("the gateway is repaired"), 420.0);
    let back = when("answers again");
    assert!(back > 420.0 && back <= 431.0, "{back}");
    assert_eq!(when("wan-a: back in service"), back);
    let Some((before, console)) = shown(&page, "t=250") else {
        return;
    };
    assert!(console.is_empty(), "console: {console:?}");
    let card = |dom: &str| {
        let at = dom.find("<div class=\"card").unwrap();
        dom[at..at + dom[at..].find("</div>").unwrap()].to_string()
    };
    let noticed = card(&before);
    assert!(
        noticed.contains("wan-a: in service") && noticed.contains("gateway failed at 4:00"),
        "{noticed}"
    );
    let (after, _) = shown(&page, "t=300").unwrap();
    assert!(
        card(&after).contains("wan-a: out of service"),
        "{}",
        card(&after)
    );
}

/// The number keys switch what-ifs; the arrows step the one shown.
#[test]
fn a_number_key_switches_to_a_what_if_and_the_arrows_step_through_it() {
    let tmp = tempfile::tempdir().unwrap();
    let page = lesson(
        tmp.path(),
        "scenarios/lesson_pcc.ron",
        &["--connections", "20", "--duration", "20s"],
    );
    let html = common::read(&page);
    // FastTrack is the fifth; its third step as printed.
    let section = html
        .split("<section class=\"variant\" id=\"v4\">")
        .nth(1)
        .unwrap();
    assert!(section.starts_with("<h2>5. FastTrack on</h2>"));
    let steps = section.split("<ol class=\"steps\">").nth(1).unwrap();
    let third = steps.split("<li").nth(3).unwrap();
    let third = &third[third.find('>').unwrap() + 1..third.find("</li>").unwrap()];
    let Some((dom, console)) = shown(&page, "keys=5,ArrowRight,ArrowRight") else {
        return;
    };
    assert!(console.is_empty(), "console: {console:?}");
    assert_eq!(current(&dom, 4), third.replace("&gt;", ">"));
    assert!(
        dom.contains("<section class=\"variant shown\" id=\"v4\">"),
        "the fifth is shown"
    );
}

/// Same scenario, same seed: the same page, byte for byte, though its runs go in parallel.
#[test]
fn the_same_lesson_twice_is_the_same_page() {
    let tmp = tempfile::tempdir().unwrap();
    let pages: Vec<String> = ["a", "b"]
        .iter()
        .map(|name| {
            let dir = tmp.path().join(name);
            common::read(&lesson(&dir, "scenarios/lesson_pcc.ron", &["--timeline"]))
        })
        .collect();
    assert!(pages[0] == pages[1], "the pages differ");
    let urls = pages[0].matches("http").count();
    let namespaces = pages[0]
        .matches("xmlns=\"http://www.w3.org/2000/svg\"")
        .count();
    assert_eq!(urls, namespaces, "no external URL");
}
