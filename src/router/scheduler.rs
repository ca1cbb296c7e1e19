//! `/system scheduler`: entries that run their `on-event` every `interval`. `on-event` is either
//! the name of a `/system script` (its `source` runs) or script text itself, as in RouterOS.
//!
//! **Assumed** where RouterOS leaves it to the clock: an entry first runs one interval after the
//! start of the run (a `start-time` of day is not modeled: the run has no calendar); an entry
//! with `interval=0` (run once at `start-time=startup`) runs at the start. Like netwatch, the
//! router only says which scripts are due; whoever drives it runs them.

use crate::router::config::RouterConfig;
use crate::units::Time;

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub name: String,
    pub interval: Time,
    /// The script to run: the source of the named `/system script`, or the text itself.
    pub source: String,
    pub line: u32,
    next: Option<Time>,
}

#[derive(Clone, Debug, Default)]
pub struct Scheduler {
    pub entries: Vec<Entry>,
}

/// The `source` of the `/system script` called `name`.
pub fn script_source<'c>(config: &'c RouterConfig, name: &str) -> Option<&'c str> {
    config
        .stored
        .get("system script")?
        .iter()
        .find(|item| item.get("name") == Some(name))
        .map(|item| item.get("source").unwrap_or_default())
}

impl Scheduler {
    /// The enabled entries of a configuration (those whose interval does not read are left
    /// out: the reader kept the text, it is not a time).
    pub fn from_config(config: &RouterConfig) -> Scheduler {
        let entries = config
            .stored_enabled("system scheduler")
            .filter_map(|item| {
                let interval = match item.get("interval") {
                    Some(v) => crate::units::parse_duration(v).ok()?,
                    None => 0,
                };
                let event = item.get("on-event").unwrap_or_default();
                let source = script_source(config, event).unwrap_or(event).to_string();
                Some(Entry {
                    name: item.get("name").unwrap_or_default().to_string(),
                    interval,
                    source,
                    line: item.line,
                    next: Some(interval),
                })
            })
            .collect();
        Scheduler { entries }
    }

    pub fn poll_timeout(&self) -> Option<Time> {
        self.entries.iter().filter_map(|e| e.next).min()
    }

    /// The entries due at `now`, by index, in order; each is set for its next run.
    pub fn handle_timeout(&mut self, now: Time, due: &mut Vec<usize>) {
        for (i, e) in self.entries.iter_mut().enumerate() {
            if e.next.is_some_and(|t| t <= now) {
                due.push(i);
                e.next = (e.interval > 0).then(|| now + e.interval);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::units::SEC;

    #[test]
    fn entries_run_every_interval_and_name_scripts_or_carry_them() {
        let cfg = crate::routeros::load(
            "t.rsc",
            "/system script add name=flip source=\":log info flip\"
/system scheduler add name=a interval=30s on-event=flip
/system scheduler add name=b on-event=\":log info once\"
/system scheduler add name=c interval=1m on-event=flip disabled=yes
",
        )
        .unwrap();
        let mut s = Scheduler::from_config(&cfg);
        assert_eq!(s.entries.len(), 2);
        assert_eq!(s.entries[0].source, ":log info flip");
        assert_eq!(s.entries[1].source, ":log info once");
        let mut due = Vec::new();
        let mut runs = Vec::new();
        while let Some(t) = s.poll_timeout().filter(|t| *t <= 100 * SEC) {
            s.handle_timeout(t, &mut due);
            runs.extend(due.drain(..).map(|i| (t / SEC, i)));
        }
        assert_eq!(runs, [(0, 1), (30, 0), (60, 0), (90, 0)]);
    }
}
