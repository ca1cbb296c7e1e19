//! `pccsim lesson`'s material, computed ahead so the page needs no simulation: the scenario run
//! as configured and as a few what-ifs — the other classifiers a class compares (`src-address`,
//! `both-addresses`, `both-addresses-and-ports`, `nth`), FastTrack on (or off, where the
//! configuration has it on), and the reply-marking
//! mistake guides print — each with one connection's walk through its router and the first
//! connections of its run. The what-ifs are [`crate::compare`]'s rewrites, so the page says
//! what changed by line, as `compare` does; [`crate::report::lesson`] draws it all.

use crate::compare::{Spread, mark_replies, set_fasttrack, set_spread};
use crate::packet::{FiveTuple, Protocol};
use crate::router::Router;
use crate::router::pcc::Fields;
use crate::scenario::Loaded;
use crate::trace::Walk;
use crate::units::Time;
use crate::world::engine::{Run, Simulation};
use crate::world::metrics::{ConnectionLog, ConnectionRecord};
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// The classifiers a class compares: one address, both, both with ports, and `nth`.
const CLASSIFIERS: [Spread; 4] = [
    Spread::Pcc(Fields::SrcAddress),
    Spread::Pcc(Fields::BothAddresses),
    Spread::Pcc(Fields::BothAddressesAndPorts),
    Spread::Nth,
];

/// What a variant changes in the configuration as given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhatIf {
    AsConfigured,
    /// New connections spread another way.
    Spread(Spread),
    /// FastTrack turned on (`true`) or off.
    FastTrack(bool),
    /// The mark-routing rules catch replies from the WANs too.
    MarkReplies,
}

impl WhatIf {
    pub fn label(self) -> String {
        match self {
            WhatIf::AsConfigured => "as configured".into(),
            WhatIf::Spread(s) => s.name().into(),
            WhatIf::FastTrack(true) => "FastTrack on".into(),
            WhatIf::FastTrack(false) => "FastTrack off".into(),
            WhatIf::MarkReplies => "reply-marking mistake".into(),
        }
    }
}

/// The scenario run with one configuration.
pub struct Variant {
    pub what: WhatIf,
    /// What the rewrite did, by line; `None` as configured.
    pub rewrote: Option<String>,
    /// The scenario with this variant's configuration.
    pub loaded: Loaded,
    /// The walked connection through a fresh router of this configuration.
    pub walks: Vec<Walk>,
    /// The run's first connections, in the order they started.
    pub first: Vec<ConnectionRecord>,
    pub run: Run,
}

pub struct Lesson {
    pub duration: Time,
    /// The connection every variant walks: the as-configured run's first outbound one (a TCP
    /// one if there is one: its walk shows a handshake's packets).
    pub walked: Option<FiveTuple>,
    /// As configured first, then the what-ifs.
    pub variants: Vec<Variant>,
    /// What-ifs the configuration does not allow, and why (no PCC rules to rewrite, …).
    pub not_offered: Vec<(String, String)>,
}

/// Runs `loaded` as configured and as each what-if for `duration`, keeping the first
/// `connections` of each run. `progress` hears the simulated time done, summed over the runs
/// (they run in parallel), out of `duration` times the number of variants it is told first.
pub fn prepare(
    loaded: &Loaded,
    duration: Time,
    connections: usize,
    progress: &(dyn Fn(Time, Time) + Sync),
) -> Lesson {
    let configured = pcc_fields(loaded);
    let mut wanted = vec![(WhatIf::AsConfigured, None, loaded.config.clone())];
    let mut not_offered = Vec::new();
    let spreads = CLASSIFIERS.into_iter().filter(|s| Some(*s) != configured);
    let fasttrack = WhatIf::FastTrack(!has_fasttrack(&loaded.config));
    let what_ifs = (spreads.map(WhatIf::Spread)).chain([fasttrack, WhatIf::MarkReplies]);
    for what in what_ifs {
        let mut cfg = loaded.config.clone();
        let rewrote = match what {
            WhatIf::Spread(s) => set_spread(&mut cfg, s),
            WhatIf::FastTrack(on) => Ok(set_fasttrack(&mut cfg, on)),
            WhatIf::MarkReplies => mark_replies(&mut cfg),
            WhatIf::AsConfigured => continue,
        };
        match rewrote {
            Ok(text) => wanted.push((what, Some(text), cfg)),
            Err(why) => not_offered.push((what.label(), why)),
        }
    }
    let total = duration * wanted.len() as Time;
    let done: Vec<AtomicU64> = wanted.iter().map(|_| AtomicU64::new(0)).collect();
    let runs: Vec<(Run, Vec<ConnectionRecord>)> = (wanted.par_iter().enumerate())
        .map(|(i, (_, _, cfg))| {
            let mut variant = loaded.clone();
            variant.config = cfg.clone();
            run(&variant, duration, connections, |now| {
                done[i].store(now, Ordering::Relaxed);
                progress(done.iter().map(|d| d.load(Ordering::Relaxed)).sum(), total);
            })
        })
        .collect();
    let walked = walked(&runs[0].1);
    let variants = (wanted.into_iter().zip(runs))
        .map(|((what, rewrote, config), (run, first))| {
            let mut variant = loaded.clone();
            variant.config = config;
            let walks = walked.map_or_else(Vec::new, |t| {
                let mut router = Router::new(variant.config.clone());
                crate::trace::trace(&mut router, 0, Some(loaded.lan_iface), t)
            });
            Variant {
                what,
                rewrote,
                loaded: variant,
                walks,
                first,
                run,
            }
        })
        .collect();
    Lesson {
        duration,
        walked,
        variants,
        not_offered,
    }
}

fn has_fasttrack(cfg: &crate::RouterConfig) -> bool {
    let fasttrack = crate::router::firewall::Action::FasttrackConnection;
    (cfg.filter.rules.iter()).any(|r| !r.disabled && r.action == fasttrack)
}

/// The configuration's classifier, as a spread (its first PCC rule's fields).
fn pcc_fields(loaded: &Loaded) -> Option<Spread> {
    let rules = loaded.config.mangle.rules.iter().filter(|r| !r.disabled);
    rules.flat_map(|r| &r.matchers).find_map(|m| match m.kind {
        crate::router::firewall::Match::Pcc(c) => Some(Spread::Pcc(c.fields)),
        _ => None,
    })
}

fn walked(first: &[ConnectionRecord]) -> Option<FiveTuple> {
    let outbound = |c: &&ConnectionRecord| c.wan.is_some() && !c.tuple.dst.is_private();
    (first.iter().filter(outbound))
        .find(|c| c.tuple.protocol == Protocol::Tcp)
        .or_else(|| first.iter().find(outbound))
        .map(|c| c.tuple)
}

fn run(
    loaded: &Loaded,
    duration: Time,
    keep: usize,
    progress: impl FnMut(Time),
) -> (Run, Vec<ConnectionRecord>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut sim = Simulation::new(loaded, loaded.scenario.seed);
    sim.log_connections(Box::new(FirstConnections {
        keep,
        seen: Arc::clone(&seen),
    }));
    let mut progress = progress;
    let run = sim.run(loaded.scenario.seed, duration, |now, _| progress(now));
    let first = seen.lock().map(|s| s.clone()).unwrap_or_default();
    (run, first)
}

/// The first connections of a run, in the order they started.
struct FirstConnections {
    keep: usize,
    seen: Arc<Mutex<Vec<ConnectionRecord>>>,
}

impl ConnectionLog for FirstConnections {
    fn record(&mut self, c: &ConnectionRecord) {
        if let Ok(mut seen) = self.seen.lock() {
            // Records come as connections end: keep the `keep` that started first.
            let at = seen.partition_point(|s| s.started <= c.started);
            if at < self.keep {
                seen.insert(at, c.clone());
                seen.truncate(self.keep);
            }
        }
    }

    fn finish(self: Box<Self>) -> std::io::Result<()> {
        Ok(())
    }
}
