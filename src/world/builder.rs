//! Builds a world — the scenario around the router and the router's configuration — in code,
//! the way turmoil's `Builder` does: start from a scenario file or from nothing, change what
//! the test or tool is about, and `build` checks it exactly as loading a file would. The
//! scenario loader uses it too, so a world built in code and one read from RON are the same
//! kind of value.

use crate::error::Error;
use crate::input::Wanted;
use crate::router::firewall::IfaceId;
use crate::scenario::{self, Happening, Loaded, Scenario, What};
use crate::units::Duration;
use crate::world::engine::TapPoint;
use std::path::{Path, PathBuf};

pub struct WorldBuilder {
    scenario: Scenario,
    /// The scenario's file and text, for errors that point into it (empty when built in code).
    file: String,
    text: String,
    config_file: String,
    config_text: String,
    path: PathBuf,
}

impl WorldBuilder {
    /// A scenario file, with the configuration it names.
    pub fn from_file(path: &Path) -> Result<WorldBuilder, Error> {
        let text = crate::input::read(path, Wanted::Scenario)?;
        let file = crate::input::name(path);
        let scenario = scenario::parse(&file, &text)?;
        let (config_file, config_text) = match &scenario.router.config {
            scenario::RouterSource::File(rel) => {
                let p = path.parent().unwrap_or(Path::new(".")).join(rel);
                let t = crate::input::read(&p, Wanted::Config)?;
                (p.display().to_string(), t)
            }
            scenario::RouterSource::Inline(t) => (format!("{file} (inline config)"), t.clone()),
        };
        Ok(WorldBuilder {
            scenario,
            file,
            text,
            config_file,
            config_text,
            path: path.to_path_buf(),
        })
    }

    /// A scenario given as a value, with its configuration as RouterOS script text.
    pub fn new(scenario: Scenario, config: &str) -> WorldBuilder {
        WorldBuilder {
            scenario,
            file: "<built>".into(),
            text: String::new(),
            config_file: "<built config>".into(),
            config_text: config.to_string(),
            path: PathBuf::new(),
        }
    }

    /// Another router configuration, read from a file.
    pub fn config_file(mut self, path: &Path) -> Result<WorldBuilder, Error> {
        self.config_text = crate::input::read(path, Wanted::Config)?;
        self.config_file = crate::input::name(path);
        Ok(self)
    }

    /// Names the configuration given as text, as errors and reports should call it.
    pub fn config_named(mut self, file: &str) -> WorldBuilder {
        self.config_file = file.to_string();
        self
    }

    /// Another router configuration, as script text.
    pub fn config(mut self, text: &str) -> WorldBuilder {
        self.config_text = text.to_string();
        self.config_file = "<built config>".into();
        self
    }

    /// The scenario, to change anything the other methods do not cover.
    pub fn scenario(&mut self) -> &mut Scenario {
        &mut self.scenario
    }

    /// Drops the timeline the scenario came with.
    pub fn no_timeline(mut self) -> WorldBuilder {
        self.scenario.timeline.clear();
        self
    }

    /// Adds a happening to the timeline: `at` as people write it ("5m"), `wan` by ISP, port
    /// or interface name.
    pub fn at(mut self, at: &str, wan: &str, what: What) -> Result<WorldBuilder, Error> {
        let at = crate::units::parse_duration(at).map_err(Error::Invalid)?;
        self.scenario.timeline.push(Happening {
            at: Duration(at),
            wan: wan.to_string(),
            what,
        });
        Ok(self)
    }

    /// Checks the world as loading a file does: the configuration, the scenario against it,
    /// the timeline.
    pub fn build(self) -> Result<Loaded, Error> {
        let config = crate::routeros::load(&self.config_file, &self.config_text)?;
        let mut loaded = scenario::check(
            self.scenario,
            config,
            &self.file,
            &self.text,
            &self.config_file,
            &self.config_text,
        )?;
        loaded.path = self.path;
        Ok(loaded)
    }
}

/// The capture point a user names with `--pcap`: `LAN`, or a WAN by its interface name, port
/// or ISP (any case). Returns the point and its file name, `<interface>.pcap`.
pub fn tap_point(loaded: &Loaded, name: &str) -> Result<(TapPoint, String), String> {
    let file = |iface: IfaceId| format!("{}.pcap", loaded.config.iface_name(iface));
    let is = |a: &str| a.eq_ignore_ascii_case(name.trim());
    if is("lan") || is(&loaded.scenario.lan.port) || is(loaded.config.iface_name(loaded.lan_iface))
    {
        return Ok((TapPoint::Lan, file(loaded.lan_iface)));
    }
    for (i, (w, &iface)) in loaded
        .scenario
        .wans
        .iter()
        .zip(&loaded.wan_ifaces)
        .enumerate()
    {
        if is(&w.port) || is(&w.isp) || is(loaded.config.iface_name(iface)) {
            return Ok((TapPoint::Wan(i), file(iface)));
        }
    }
    let mut known = vec!["LAN".to_string()];
    known.extend(
        loaded
            .wan_ifaces
            .iter()
            .map(|&i| loaded.config.iface_name(i).to_string()),
    );
    Err(format!(
        "--pcap {name}: no such port (capture points: {})",
        known.join(", ")
    ))
}

/// Reads a scenario file and the configuration it points at.
pub fn load(path: &Path) -> Result<Loaded, Error> {
    load_with_config(path, None)
}

/// Reads a scenario file with another router configuration than the one it names.
pub fn load_with_config(path: &Path, config: Option<&Path>) -> Result<Loaded, Error> {
    let mut builder = WorldBuilder::from_file(path)?;
    if let Some(config) = config {
        builder = builder.config_file(config)?;
    }
    builder.build()
}
