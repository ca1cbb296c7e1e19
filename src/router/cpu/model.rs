//! MikroTik's router models as pccsim runs them, from the figures MikroTik publishes for each
//! (its product pages' "Test results", kept with their sources in `models.ron`), and what one
//! packet costs a CPU of each.
//!
//! The cost of a packet is a sum of parts: the slow path (connection lookup, routing, the
//! chains' overhead), each firewall rule it is tried against, each queue it passes, a new
//! connection's setup, and each of its bytes; or, fast-tracked, the fast path and its bytes.
//! One model's full table (the `reference`) fixes how those parts relate; each model's own
//! figures scale them. The derivation, from the reference's figures (per CPU, `T` being the
//! CPUs divided by the packets per second):
//! - per byte: the slope between 64 and 1518-byte packets through 25 filter rules;
//! - per rule: what 25 filter rules cost beyond 25 simple queues, over 24 — taking a queue as
//!   costing what a rule does, as nothing published tells them apart;
//! - the slow path: the 64-byte queue figure less one queue and 64 bytes;
//! - the fast path: the 64-byte fast-path figure less 64 bytes (the larger packets' fast-path
//!   figures are the test ports' limit, not the CPU's);
//! - a connection's setup: one more slow path (no figure isolates it).

use serde::Deserialize;
use std::sync::OnceLock;

/// `models.ron`, as read once.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Catalogue {
    reference: String,
    models: Vec<Model>,
}

/// One router model: its CPU and MikroTik's figures for it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub name: String,
    pub aliases: Vec<String>,
    pub cpu: String,
    /// The CPUs RouterOS shows, over which packets are spread.
    pub cpus: u32,
    pub cpus_source: String,
    /// The figures the CPU sets.
    pub published: Vec<Figure>,
    /// Figures the test's ports set, kept to say why they are not used.
    pub line_limited: Vec<Figure>,
    pub source: String,
}

/// One cell of a "Test results" table: packets per second for a test.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Figure {
    /// `Routing` or `Bridging`.
    pub mode: String,
    /// `25 ip filter rules`, `25 simple queues`, `none (fast path)`.
    pub configuration: String,
    pub bytes: u32,
    pub kpps: f64,
}

/// What a published test runs, as pccsim's router would.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Profile {
    /// Routing through this many filter rules, none matching.
    FilterRules(u32),
    /// Routing through this many simple queues, none limiting.
    SimpleQueues(u32),
    /// No rules, no queues: the fast path.
    FastPath,
}

impl Figure {
    pub fn profile(&self) -> Option<Profile> {
        let count = || self.configuration.split(' ').next()?.parse().ok();
        match self.configuration.as_str() {
            "none (fast path)" => Some(Profile::FastPath),
            c if c.ends_with(" ip filter rules") => count().map(Profile::FilterRules),
            c if c.ends_with(" simple queues") => count().map(Profile::SimpleQueues),
            _ => None,
        }
    }
}

/// What a packet costs one CPU of a model, in picoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Costs {
    pub slow: u64,
    pub rule: u64,
    pub queue: u64,
    pub setup: u64,
    pub fast: u64,
    pub byte: u64,
}

impl Costs {
    /// A packet of `bytes` through `profile`, in picoseconds.
    pub fn of_profile(&self, profile: Profile, bytes: u32) -> u64 {
        let bytes = bytes as u64 * self.byte;
        match profile {
            Profile::FilterRules(n) => self.slow + n as u64 * self.rule + bytes,
            Profile::SimpleQueues(_) => self.slow + self.queue + bytes,
            Profile::FastPath => self.fast + bytes,
        }
    }
}

fn catalogue() -> &'static Catalogue {
    static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
    CATALOGUE.get_or_init(|| {
        // Checked by a unit test: a mistake in the file fails the build's tests, not a run.
        ron::from_str(include_str!("models.ron")).expect("src/router/cpu/models.ron reads")
    })
}

/// Every model pccsim knows, in the file's order.
pub fn models() -> &'static [Model] {
    &catalogue().models
}

/// The model `name` names (its name or an alias, in any case, `2` for `²`), or the names there
/// are.
pub fn find(name: &str) -> Result<&'static Model, String> {
    let key = |s: &str| s.to_lowercase().replace('²', "2").replace('³', "3");
    let wanted = key(name.trim());
    let named = |m: &&Model| key(&m.name) == wanted || m.aliases.iter().any(|a| key(a) == wanted);
    models().iter().find(named).ok_or_else(|| {
        let known: Vec<&str> = models().iter().map(|m| m.name.as_str()).collect();
        format!(
            "no router model '{name}': pccsim knows {} (only models whose published test \
             results it has)",
            known.join(", ")
        )
    })
}

/// Picoseconds per packet on one of `cpus` CPUs at `kpps` for the whole box.
fn per_cpu(cpus: u32, kpps: f64) -> f64 {
    cpus as f64 * 1e9 / kpps
}

impl Model {
    /// Its published figure for `profile` at `bytes`.
    fn figure(&self, profile: Profile, bytes: u32) -> Option<&Figure> {
        (self.published.iter()).find(|f| f.profile() == Some(profile) && f.bytes == bytes)
    }

    /// What a packet costs one of its CPUs: the reference's shape, scaled to its own figures
    /// (by the geometric mean of its figures' ratios to the shape's, where it has several).
    pub fn costs(&self) -> Costs {
        let shape = shape();
        let ratios: Vec<f64> = (self.published.iter())
            .filter_map(|f| {
                let ps = shape.of_profile(f.profile()?, f.bytes) as f64;
                Some(per_cpu(self.cpus, f.kpps) / ps)
            })
            .collect();
        let scale = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len().max(1) as f64).exp();
        let s = |ps: u64| (ps as f64 * scale).round() as u64;
        Costs {
            slow: s(shape.slow),
            rule: s(shape.rule),
            queue: s(shape.queue),
            setup: s(shape.setup),
            fast: s(shape.fast),
            byte: s(shape.byte),
        }
    }
}

/// The reference model's costs, derived from its figures as the module says: how the parts of
/// a packet's cost relate, on any model.
pub fn shape() -> Costs {
    static SHAPE: OnceLock<Costs> = OnceLock::new();
    *SHAPE.get_or_init(|| {
        let reference = find(&catalogue().reference).expect("the reference model is listed");
        let t = |profile: Profile, bytes: u32| {
            let f = (reference.figure(profile, bytes))
                .unwrap_or_else(|| panic!("the reference has {profile:?} at {bytes} bytes"));
            per_cpu(reference.cpus, f.kpps)
        };
        let rules = (reference.published.iter())
            .find_map(|f| match f.profile() {
                Some(Profile::FilterRules(n)) => Some(n),
                _ => None,
            })
            .expect("the reference has a filter-rule figure");
        let (r, q) = (Profile::FilterRules(rules), Profile::SimpleQueues(rules));
        let byte = (t(r, 1518) - t(r, 64)) / (1518.0 - 64.0);
        let rule = (t(r, 64) - t(q, 64)) / (rules - 1) as f64;
        let slow = t(q, 64) - rule - 64.0 * byte;
        let fast = t(Profile::FastPath, 64) - 64.0 * byte;
        let ps = |x: f64| x.round() as u64;
        Costs {
            slow: ps(slow),
            rule: ps(rule),
            queue: ps(rule),
            setup: ps(slow),
            fast: ps(fast),
            byte: ps(byte),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_reads_and_every_figure_is_a_test_pccsim_can_run() {
        for m in models() {
            assert!(m.cpus > 0 && !m.published.is_empty(), "{}", m.name);
            for f in m.published.iter().chain(&m.line_limited) {
                assert!(f.profile().is_some(), "{}: {}", m.name, f.configuration);
            }
        }
    }

    #[test]
    fn models_are_found_by_name_alias_and_plain_digits() {
        assert_eq!(find("hAP ax2").unwrap().name, "hAP ax²");
        assert_eq!(find("rb750gr3").unwrap().name, "hEX");
        let err = find("CCR2116").unwrap_err();
        assert!(
            err.contains("hAP ax²") && err.contains("published"),
            "{err}"
        );
    }

    #[test]
    fn the_shape_holds_the_parts_in_the_order_the_figures_imply() {
        let c = shape();
        // Per CPU of the reference: a rule about 0.12 µs, the slow path about 4 µs, the fast
        // path about 0.7 µs, a byte about 0.19 ns.
        assert!((110_000..135_000).contains(&c.rule), "{c:?}");
        assert!((3_800_000..4_200_000).contains(&c.slow), "{c:?}");
        assert!((600_000..750_000).contains(&c.fast), "{c:?}");
        assert!((150..230).contains(&c.byte), "{c:?}");
    }
}
