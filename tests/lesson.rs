//! `pccsim lesson`: one self-contained page that steps a class through a connection's walk —
//! opened in headless Chromium (`.ci/run` installs it), pressed through with the arrow keys,
//! and checked at three steps against `pccsim trace --format json` of the same connection.

mod common;

use std::path::Path;
use std::process::Command;

fn pccsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_pccsim"))
        .args(args)
        .current_dir(common::root())
        .output()
        .unwrap()
}

/// The page as Chromium shows it after pressing → `presses` times, and its console lines;
/// `None` without Chromium (not on CI).
fn after_keys(page: &Path, presses: usize) -> Option<(String, Vec<String>)> {
    let keys = vec!["ArrowRight"; presses].join(",");
    let Ok(o) = Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu"])
        .args(["--enable-logging=stderr", "--log-level=0"])
        .args(["--virtual-time-budget=2000", "--dump-dom"])
        .arg(format!("file://{}#keys={keys}", page.display()))
        .output()
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is missing on CI"
        );
        eprintln!("skipped the browser: chromium is not installed");
        return None;
    };
    assert!(o.status.success(), "{o:?}");
    let console = String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    Some((String::from_utf8_lossy(&o.stdout).into_owned(), console))
}

/// The text of the element with id `current`.
fn current(dom: &str) -> String {
    let start = dom.find("id=\"current\"").expect("the step view");
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
    let out = tmp.path().join("lesson");
    let o = pccsim(&[
        "lesson",
        "scenarios/dual_wan.ron",
        "--duration",
        "30s",
        "--connections",
        "60",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let page = out.join("lesson.html");
    let html = common::read(&page);
    for part in [
        "<h3>prerouting</h3>",
        "<h3>routing decision</h3>",
        "<h3>postrouting</h3>",
        "id=\"rule-mangle-14\"",
        "id=\"rule-routing-28\"",
        "id=\"rule-nat-34\"",
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
        assert_eq!(current(&dom), expected[at], "after {at} presses");
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
    assert!(html.contains("<h3>routing decision</h3>") && html.contains("id=\"steps\""));
    assert!(html.contains("both-addresses of 192.168.88.10, 93.184.216.34: hash"));
    assert!(html.contains("later packet tcp 192.168.88.10:40000"));
    assert!(!html.contains("https://") && !html.contains("src="));
}
