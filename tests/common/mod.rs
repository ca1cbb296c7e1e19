//! Helpers shared by the integration tests: scenarios loaded from `scenarios/`, optionally with
//! another router configuration or a shorter duration.

#![allow(dead_code)]

use pccsim::scenario::{self, Loaded};
use pccsim::units::Time;
use pccsim::world::engine::{Run, simulate};
use std::path::{Path, PathBuf};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn scenario(name: &str) -> Loaded {
    scenario::load(&root().join("scenarios").join(name)).expect("shipped scenario loads")
}

/// A shipped scenario's world with another configuration file from the repository.
pub fn scenario_with_config(name: &str, config: &str) -> Loaded {
    let path = root().join("scenarios").join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    let sc = scenario::parse(name, &text).unwrap();
    let config_text = std::fs::read_to_string(root().join(config)).unwrap();
    let cfg = pccsim::routeros::load(config, &config_text).unwrap();
    scenario::check(sc, cfg, name, &text, config, &config_text).unwrap()
}

pub fn run(loaded: &Loaded, duration: Time) -> Run {
    simulate(loaded, loaded.scenario.seed, duration, |_, _| {})
}

pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap()
}
