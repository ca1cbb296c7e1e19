//! `report.html` for a run and for a comparison: self-contained, with the tables, the charts
//! inline, the findings and the sources — and, where Chromium is installed (`.ci/run` installs
//! it), opened headless with no console errors and a screenshot taken.

mod common;

use std::path::Path;
use std::process::Command;

fn pccsim(args: &[&str], out: &Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_pccsim"))
        .args(args)
        .arg("--out")
        .arg(out)
        .current_dir(common::root())
        .output()
        .unwrap();
    assert!(o.status.success(), "{o:?}");
}

/// Opens `page` in headless Chromium, screenshots it into `png`, and returns the console
/// lines the page produced; `None` when Chromium is not installed (and not on CI).
fn open_in_chromium(page: &Path, png: &Path) -> Option<Vec<String>> {
    let shot = format!("--screenshot={}", png.display());
    let url = format!("file://{}", page.display());
    common::chromium(&["--window-size=1200,2400", &shot], &url).map(|(_, console)| console)
}

fn looks_like_a_screenshot(png: &Path) {
    let bytes = std::fs::read(png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    assert!(
        bytes.len() > 50_000,
        "a page with charts, not a blank: {} B",
        bytes.len()
    );
}

#[test]
fn a_runs_report_is_one_self_contained_page_a_browser_opens_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("run");
    pccsim(
        &[
            "run",
            "scenarios/failover_gateway.ron",
            "--duration",
            "400s",
        ],
        &out,
    );
    let page = out.join("report.html");
    let html = common::read(&page);
    for part in [
        "<h2>What happened</h2>",
        // The breaks tied to their cause and to the failure, the failure to its detection.
        "most often blackholed",
        "pccsim check finds no classic mistake in the configuration: these breaks come from the failures on the timeline.",
        "ISP1's gateway failed at 300 s; the router stopped using it",
        "<h2>Load per WAN</h2>",
        "<h2>Applications</h2>",
        "<h3>Which WAN each application used</h3>",
        "<h2>Failover</h2>",
        "<h2>Why connections broke</h2>",
        "it was sent into a dead path",
        "<h2>What pccsim check finds</h2>",
        "<svg",
        "/ip firewall mangle",
        "failover_gateway.rsc",
        // Each line of the configuration has an anchor a finding can link to.
        "<span id=\"L1\">",
    ] {
        assert!(html.contains(part), "report.html lacks {part}");
    }
    assert_eq!(html.matches("<svg").count(), 5, "every chart inline");
    assert!(
        !html.contains("src=\"http") && !html.contains("<script"),
        "self-contained"
    );
    let png = tmp.path().join("run.png");
    if let Some(console) = open_in_chromium(&page, &png) {
        assert!(console.is_empty(), "console: {console:?}");
        looks_like_a_screenshot(&png);
    }
}

#[test]
fn a_comparisons_report_shows_the_ranking_chart_and_every_metric() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("cmp");
    let args = [
        "compare",
        "scenarios/dual_wan.ron",
        "--classifier",
        "both-addresses,both-addresses-and-ports",
        "--seeds",
        "2",
        "--duration",
        "30s",
    ];
    pccsim(&args, &out);
    let page = out.join("report.html");
    let html = common::read(&page);
    for part in [
        "<h2>Verdict</h2>",
        "<h2>Ranking</h2>",
        "Ranked by fewest connections broken or stalled",
        "<h2>Differences from the baseline</h2>",
        "<h2>Load and breaks</h2>",
        "<h2>Every metric</h2>",
        "connection_share.isp1",
        // Two seeds: the page says nothing is a claim.
        "too few to tell variants apart",
        "<svg",
    ] {
        assert!(html.contains(part), "report.html lacks {part}");
    }
    assert_eq!(
        html.matches("<svg").count(),
        2,
        "the forest plot and the share chart"
    );
    let png = tmp.path().join("cmp.png");
    if let Some(console) = open_in_chromium(&page, &png) {
        assert!(console.is_empty(), "console: {console:?}");
        looks_like_a_screenshot(&png);
    }
}
