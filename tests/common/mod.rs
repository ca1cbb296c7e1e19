//! Helpers shared by the integration tests: scenarios loaded from `scenarios/`, optionally with
//! another router configuration or a shorter duration.

#![allow(dead_code)]

use pccsim::report::Summary;
use pccsim::scenario::Loaded;
use pccsim::units::Time;
use pccsim::world::engine::{Run, simulate};
use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn scenario(name: &str) -> Loaded {
    pccsim::world::builder::load(&root().join("scenarios").join(name))
        .expect("shipped scenario loads")
}

/// A shipped scenario's world with another configuration file from the repository.
pub fn scenario_with_config(name: &str, config: &str) -> Loaded {
    pccsim::WorldBuilder::from_file(&root().join("scenarios").join(name))
        .and_then(|w| w.config_file(&root().join(config)))
        .and_then(pccsim::WorldBuilder::build)
        .expect("world builds")
}

/// A finished run with the summary the report makes of it.
pub struct Ran {
    pub summary: Summary,
    pub metrics: pccsim::metrics::Metrics,
    pub router: pccsim::Router,
}

pub fn run(loaded: &Loaded, duration: Time) -> Ran {
    run_with_seed(loaded, loaded.scenario.seed, duration)
}

pub fn run_with_seed(loaded: &Loaded, seed: u64, duration: Time) -> Ran {
    let run: Run = simulate(loaded, seed, duration, |_, _| {});
    Ran {
        summary: Summary::new(loaded, &run),
        metrics: run.metrics,
        router: run.router,
    }
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}

/// Runs headless Chromium with `args` and the page `url`; returns what it printed on standard
/// output and the console lines the page produced, or `None` when Chromium is not installed
/// (never on CI: `.ci/run` installs it).
pub fn chromium(args: &[&str], url: &str) -> Option<(String, Vec<String>)> {
    let Ok(o) = std::process::Command::new("chromium")
        .args(["--headless", "--no-sandbox", "--disable-gpu"])
        .args(["--enable-logging=stderr", "--log-level=0"])
        .args(args)
        .arg(url)
        .output()
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is missing on CI: .ci/run installs it"
        );
        eprintln!("skipped the browser: chromium is not installed (apt-get install chromium)");
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
