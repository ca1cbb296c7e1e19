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
