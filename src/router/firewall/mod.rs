//! Firewall rules shared by the mangle, nat and filter tables: matchers, actions, chains, and the
//! walk of a chain for one packet.
//!
//! A rule is a list of matchers (all must hold; each may be negated with `!`) and one action.
//! Chains are lists of rule indices, so `jump` and `return` are a small explicit stack. Matchers
//! are ordered cheapest first when a rule is built, so the PCC hash is computed only for packets
//! every other matcher let by.
//!
//! Tables are configuration and stay read-only while packets flow; what rules count (RouterOS's
//! packet and byte counters, `nth`'s counter) lives in a [`TableState`] the router owns, so a
//! trace or a second run shares the configuration and starts its own counts.

mod matcher;

pub use self::matcher::{
    AddrRange, ConnStates, Ctx, Env, Intern, KEYS as MATCHER_KEYS, Match, Matcher, NatState, Nth,
    PortSet,
};
use std::net::Ipv4Addr;

/// An interface of the router, by index into the configuration's interface list.
pub type IfaceId = u8;

/// A connection mark, by index into the configuration's mark names; 0 is `no-mark`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnMark(pub u16);

impl ConnMark {
    pub const NONE: ConnMark = ConnMark(0);
}

/// A routing table (v6: a routing mark), by index; 0 is `main`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TableId(pub u16);

impl TableId {
    pub const MAIN: TableId = TableId(0);
}

/// An address list, by index into the configuration's list names.
pub type ListId = u16;

#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Accept,
    Drop,
    Passthrough,
    Log,
    Jump(ChainId),
    Return,
    MarkConnection(ConnMark),
    MarkRouting(TableId),
    MarkPacket(u16),
    FasttrackConnection,
    Masquerade,
    SrcNat(Ipv4Addr),
    DstNat {
        to: Ipv4Addr,
        port: Option<u16>,
    },
    /// `redirect`: destination NAT to the router itself (the address of the port the packet
    /// came in by).
    Redirect {
        port: Option<u16>,
    },
    /// `add-src-to-address-list` (`dst` false) or `add-dst-to-address-list`: the address goes
    /// on the list, for `timeout` or for good.
    AddToAddressList {
        dst: bool,
        list: ListId,
        timeout: Option<crate::units::Time>,
    },
    /// An action whose effect pccsim does not model (`change-mss`, `change-dscp`, `sniff-tzsp`
    /// …): the rule counts the packet and the walk goes on, as after `passthrough`.
    Unmodeled(&'static str),
}

/// An address a rule put on a list during a walk, for the router to add.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListAddition {
    pub list: ListId,
    pub address: Ipv4Addr,
    /// When the entry expires (`None`: never).
    pub expires: Option<crate::units::Time>,
}

/// A chain, by index: the built-in ones first, then user chains in order of appearance.
pub type ChainId = u16;

pub const BUILTIN_CHAINS: [&str; 7] = [
    "prerouting",
    "input",
    "forward",
    "output",
    "postrouting",
    "srcnat",
    "dstnat",
];
pub const PREROUTING: ChainId = 0;
pub const INPUT: ChainId = 1;
pub const FORWARD: ChainId = 2;
pub const OUTPUT: ChainId = 3;
pub const POSTROUTING: ChainId = 4;
pub const SRCNAT: ChainId = 5;
pub const DSTNAT: ChainId = 6;

/// What a rule has counted: the packets and bytes it matched (`print stats`), and the packets
/// that reached its `nth` matcher.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RuleState {
    pub packets: u64,
    pub bytes: u64,
    pub nth: u64,
    /// `limit`'s theoretical arrival time, in picoseconds (a u64 keeps the counts of a rule
    /// in 32 bytes; it lasts 200 days of simulated time).
    pub limit_tat: u64,
}

/// The counts of one table's rules, by rule index.
#[derive(Clone, Debug, Default)]
pub struct TableState {
    pub rules: Vec<RuleState>,
    /// Addresses the walk's rules put on lists, for the router to take.
    pub list_additions: Vec<ListAddition>,
    /// Rules tried, all walks together: what a packet's walks cost the CPU.
    pub tried: u64,
    /// The id of the rule each count belongs to.
    ids: Vec<u32>,
}

impl TableState {
    pub fn new(table: &Table) -> TableState {
        TableState {
            rules: vec![RuleState::default(); table.rules.len()],
            list_additions: Vec::new(),
            tried: 0,
            ids: table.ids(),
        }
    }

    /// The counts again after a script added, removed or changed rules: each rule that is
    /// still there (by its id) keeps its own.
    pub fn realign(&mut self, table: &Table) {
        let count = |id: u32| {
            let was = self.ids.iter().position(|&old| old == id);
            was.map(|i| self.rules[i]).unwrap_or_default()
        };
        let rules = table.rules.iter().map(|r| count(r.id)).collect();
        *self = TableState {
            rules,
            list_additions: std::mem::take(&mut self.list_additions),
            tried: self.tried,
            ids: table.ids(),
        };
    }
}

#[derive(Clone, Debug)]
pub struct Rule {
    pub chain: ChainId,
    pub matchers: Vec<Matcher>,
    pub action: Action,
    /// For mark actions: go on with the next rule after this one (RouterOS default `yes`).
    pub passthrough: bool,
    pub disabled: bool,
    /// Line of the `add` command in the configuration file.
    pub line: u32,
    pub comment: Option<String>,
    /// Which rule this is across additions and removals (RouterOS's `.id`).
    pub id: u32,
    /// The rule's in-interface and connection-mark matchers again, tested before the matcher
    /// list is touched: most rules of a PCC setup fail on one of them, and this keeps the walk
    /// of a chain within the rule array.
    quick: Quick,
}

/// Copies of a rule's in-interface and connection-mark conditions as plain values.
#[derive(Clone, Copy, Debug, Default)]
struct Quick {
    /// Interface and whether the condition is negated.
    in_iface: Option<(IfaceId, bool)>,
    connection_mark: Option<(ConnMark, bool)>,
    /// The rule spreads connections (a PCC or `nth` matcher).
    classifies: bool,
}

impl Quick {
    fn of(matchers: &[Matcher]) -> Quick {
        let mut q = Quick::default();
        for m in matchers {
            match m.kind {
                Match::InInterface(i) if q.in_iface.is_none() => q.in_iface = Some((i, m.negate)),
                Match::ConnectionMark(c) if q.connection_mark.is_none() => {
                    q.connection_mark = Some((c, m.negate))
                }
                Match::Pcc(_) | Match::Nth(_) => q.classifies = true,
                _ => {}
            }
        }
        q
    }

    #[inline]
    fn holds(&self, c: &Ctx) -> bool {
        self.in_iface
            .is_none_or(|(i, neg)| (c.in_iface == Some(i)) != neg)
            && self
                .connection_mark
                .is_none_or(|(m, neg)| (c.connection_mark == m) != neg)
    }
}

impl Rule {
    /// Whether `other` does what this rule does, wherever and however it was written (line,
    /// `.id`, comment aside).
    pub fn same_as(&self, other: &Rule) -> bool {
        self.chain == other.chain
            && self.matchers == other.matchers
            && self.action == other.action
            && self.passthrough == other.passthrough
            && self.disabled == other.disabled
    }

    pub fn new(chain: ChainId, mut matchers: Vec<Matcher>, action: Action, line: u32) -> Rule {
        matchers.sort_by_key(|m| m.kind.cost());
        let quick = Quick::of(&matchers);
        Rule {
            quick,
            chain,
            matchers,
            action,
            passthrough: true,
            disabled: false,
            line,
            comment: None,
            id: 0,
        }
    }
}

/// How a chain walk ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Fell off the end of the chain, or `accept` in mangle: the packet goes on.
    Continue,
    Accept,
    Drop,
    Fasttrack,
    Masquerade,
    SrcNat(Ipv4Addr),
    DstNat(Ipv4Addr, Option<u16>),
}

/// Sees each rule a walk tries: `trace` prints them; the simulation passes `()`.
pub trait Observer {
    /// Whether it is shown the rules the packet's in-interface rules out (a trace is; the
    /// packet path skips them).
    const SEES_EVERY_RULE: bool = false;

    fn rule_tried(&mut self, _table: &Table, _rule: &Rule, _matched: bool, _ctx: &Ctx, _env: &Env) {
    }
}

impl Observer for () {}

/// One table (mangle, nat or filter): its rules in order and its chains.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// `mangle`, `nat` or `filter`.
    pub name: &'static str,
    pub rules: Vec<Rule>,
    pub chain_names: Vec<String>,
    /// Per chain, its enabled rules in order; rebuilt by [`Table::index`].
    chains: Vec<Vec<Step>>,
    /// The same per in-interface (`[0]`: none, as for the router's own packets; `[1 + i]`:
    /// interface `i`; the last: any interface no rule names), keeping only the rules whose
    /// `in-interface` can hold — most packets then test a fraction of the chain — and skipping
    /// runs of rules that fail together. Order, and so every counter, is the chain's.
    by_in_iface: Vec<Vec<Vec<Step>>>,
    /// Long runs of rules in those lists that each match one address block of one size (a
    /// generated per-customer configuration), indexed by the block: see [`AddressRun`].
    address_runs: Vec<AddressRun>,
    /// The last id given to a rule.
    next_id: u32,
}

/// A run of consecutive steps whose rules each hold only for a packet whose source (or
/// destination) lies in one aligned block of `size` addresses: a packet can match only the
/// rules of its own block, so the walk goes from one of those to the next and skips the rest
/// — a generated chain of 200,000 per-address rules costs what its few candidates cost. The
/// candidates are tried in order, so counters and actions are the chain's.
#[derive(Clone, Debug)]
struct AddressRun {
    dst: bool,
    /// Addresses per block (a power of two; 1 for single addresses).
    size: u64,
    /// Past the run's last step.
    end: u32,
    /// Per block (its first address), the positions of its rules, in order.
    blocks: rustc_hash::FxHashMap<u32, Vec<u32>>,
}

impl AddressRun {
    /// The first step from `pos` on whose rule can hold for the packet, or the run's end.
    fn next(&self, pos: u32, tuple: &crate::packet::FiveTuple) -> u32 {
        let addr = u32::from(if self.dst { tuple.dst } else { tuple.src });
        let block = (u64::from(addr) & !(self.size - 1)) as u32;
        let candidates = self.blocks.get(&block).map_or(&[][..], Vec::as_slice);
        let at = candidates.partition_point(|&p| p < pos);
        candidates.get(at).copied().unwrap_or(self.end)
    }
}

/// Runs shorter than this are walked rule by rule: the index pays off only for long ones.
const MIN_INDEXED_RUN: usize = 64;

/// A step's `past_run` with this bit set names an [`AddressRun`] (in the low bits) instead.
const IN_ADDRESS_RUN: u32 = 1 << 31;

/// A rule in a chain's list, and where the walk goes on when its quick test fails.
#[derive(Clone, Copy, Debug)]
struct Step {
    rule: u32,
    /// The next step, or past the rules right after this one with the same connection-mark
    /// condition: they fail with it (a PCC setup's rules for unmarked connections, say).
    past_run: u32,
}

/// `jump` nests at most this deep, as a guard against loops of chains.
const MAX_JUMP_DEPTH: usize = 16;

impl Table {
    pub fn new(name: &'static str) -> Table {
        Table {
            name,
            rules: Vec::new(),
            chain_names: BUILTIN_CHAINS.iter().map(|s| s.to_string()).collect(),
            chains: Vec::new(),
            by_in_iface: Vec::new(),
            address_runs: Vec::new(),
            next_id: 0,
        }
    }

    pub fn chain_id(&mut self, name: &str) -> ChainId {
        match self.chain_names.iter().position(|n| n == name) {
            Some(i) => i as ChainId,
            None => {
                self.chain_names.push(name.to_string());
                (self.chain_names.len() - 1) as ChainId
            }
        }
    }

    /// Rebuilds the per-chain rule lists after rules were added, removed or toggled.
    pub fn index(&mut self) {
        let mut chains = vec![Vec::new(); self.chain_names.len()];
        for (i, r) in self.rules.iter().enumerate() {
            if !r.disabled {
                chains[r.chain as usize].push(i as u32);
            }
        }
        // Interfaces up to one past the highest a rule names: that one stands for all the
        // interfaces no rule names.
        let named = self.rules.iter().filter_map(|r| r.quick.in_iface);
        let past = named
            .map(|(i, _)| i as usize + 1)
            .max()
            .unwrap_or(0)
            .min(255);
        let ifaces = (0..=past).map(|i| Some(i as IfaceId));
        let ifaces: Vec<Option<IfaceId>> = std::iter::once(None).chain(ifaces).collect();
        let mut by_in_iface: Vec<Vec<Vec<Step>>> = ifaces
            .iter()
            .map(|&iface| {
                let can_hold = |ri: &&u32| {
                    let q = &self.rules[**ri as usize].quick;
                    q.in_iface.is_none_or(|(i, neg)| (iface == Some(i)) != neg)
                };
                let only = |rules: &Vec<u32>| {
                    // In one interface's list the in-interface test holds, so a quick test
                    // that fails is a connection mark that does not match.
                    self.steps(rules.iter().filter(can_hold).copied(), true)
                };
                chains.iter().map(only).collect()
            })
            .collect();
        self.address_runs.clear();
        for list in by_in_iface.iter_mut().flatten() {
            self.index_address_runs(list);
        }
        self.by_in_iface = by_in_iface;
        // A trace is shown every rule, and there a quick test may fail on the interface.
        let every = |rules: Vec<u32>| self.steps(rules.into_iter(), false);
        self.chains = chains.into_iter().map(every).collect();
    }

    /// `rules` as steps of a walk, each skipping the rules after it with its connection-mark
    /// condition when `skip_runs`.
    fn steps(&self, rules: impl Iterator<Item = u32>, skip_runs: bool) -> Vec<Step> {
        let mut steps: Vec<Step> = (rules.enumerate())
            .map(|(p, rule)| Step {
                rule,
                past_run: p as u32 + 1,
            })
            .collect();
        if !skip_runs {
            return steps;
        }
        let mark = |s: &Step| self.rules[s.rule as usize].quick.connection_mark;
        for p in (1..steps.len()).rev() {
            let (this, next) = (mark(&steps[p - 1]), mark(&steps[p]));
            if this.is_some() && this == next {
                steps[p - 1].past_run = steps[p].past_run;
            }
        }
        steps
    }

    /// The block of addresses a rule's only address condition names: `(dst, size, first)` for
    /// a rule with one plain (not negated) `src-address` or `dst-address` of an aligned block.
    fn address_key(&self, rule: u32) -> Option<(bool, u64, u32)> {
        let mut keys = self.rules[rule as usize].matchers.iter().filter_map(|m| {
            let (dst, r) = match &m.kind {
                Match::SrcAddress(r) => (false, r),
                Match::DstAddress(r) => (true, r),
                _ => return None,
            };
            let size = u64::from(r.last) - u64::from(r.first) + 1;
            let aligned = size.is_power_of_two() && u64::from(r.first) % size == 0;
            Some((!m.negate && aligned).then_some((dst, size, r.first)))
        });
        match (keys.next(), keys.next()) {
            (Some(key), None) => key,
            _ => None,
        }
    }

    /// Finds the long runs of `list` whose rules each name one block of one size on the
    /// same address, and marks their steps to go by an [`AddressRun`].
    fn index_address_runs(&mut self, list: &mut [Step]) {
        let keys: Vec<Option<(bool, u64, u32)>> =
            list.iter().map(|s| self.address_key(s.rule)).collect();
        let mut start = 0;
        while start < list.len() {
            let Some((dst, size, _)) = keys[start] else {
                start += 1;
                continue;
            };
            let same =
                |k: &Option<(bool, u64, u32)>| k.is_some_and(|(d, z, _)| d == dst && z == size);
            let end = start + keys[start..].iter().take_while(|k| same(k)).count();
            if end - start >= MIN_INDEXED_RUN
                && self.address_runs.len() < (IN_ADDRESS_RUN - 1) as usize
            {
                let mut blocks: rustc_hash::FxHashMap<u32, Vec<u32>> = Default::default();
                for (p, k) in (start..end).zip(&keys[start..end]) {
                    let (_, _, first) = k.expect("in the run");
                    blocks.entry(first).or_default().push(p as u32);
                }
                let id = self.address_runs.len() as u32;
                self.address_runs.push(AddressRun {
                    dst,
                    size,
                    end: end as u32,
                    blocks,
                });
                for step in &mut list[start..end] {
                    step.past_run = IN_ADDRESS_RUN | id;
                }
            }
            start = end;
        }
    }

    /// The rule lists a packet from `in_iface` walks.
    fn lists_for(&self, in_iface: Option<IfaceId>) -> &[Vec<Step>] {
        let last = self.by_in_iface.len().saturating_sub(1);
        let slot = in_iface.map_or(0, |i| (i as usize + 1).min(last));
        self.by_in_iface.get(slot).map_or(&[], Vec::as_slice)
    }

    /// Adds a rule at `at`, giving it the next id.
    pub fn insert(&mut self, at: usize, mut rule: Rule) {
        self.next_id += 1;
        rule.id = self.next_id;
        self.rules.insert(at, rule);
    }

    /// Puts `rule` in the place of rule `i` (a `set`), which keeps its id and so its counts.
    pub fn replace(&mut self, i: usize, mut rule: Rule) {
        rule.id = self.rules[i].id;
        self.rules[i] = rule;
    }

    /// The ids of the rules, in order.
    pub fn ids(&self) -> Vec<u32> {
        self.rules.iter().map(|r| r.id).collect()
    }

    /// Whether a packet from `in_iface` meets no rule in `chain` — true of most chains a
    /// packet passes (a forward or postrouting with no rules), which then cost a test, not a
    /// call of [`Table::run`].
    #[inline]
    pub fn passes_no_rule(&self, chain: ChainId, in_iface: Option<IfaceId>) -> bool {
        let lists = self.lists_for(in_iface);
        lists.get(chain as usize).is_none_or(Vec::is_empty)
    }

    /// Walks `chain` for the packet in `ctx`, applying mark actions to `ctx` as it goes and
    /// counting in `state`. (The router skips the call for a chain that has no rules for the
    /// packet: see [`Table::passes_no_rule`].)
    pub fn run<O: Observer>(
        &self,
        state: &mut TableState,
        chain: ChainId,
        ctx: &mut Ctx,
        env: &Env,
        obs: &mut O,
    ) -> Verdict {
        let lists = if O::SEES_EVERY_RULE {
            &self.chains
        } else {
            self.lists_for(ctx.in_iface)
        };
        let mut stack: [(ChainId, u32); MAX_JUMP_DEPTH] = [(0, 0); MAX_JUMP_DEPTH];
        let mut depth = 0;
        let (mut chain, mut pos) = (chain, 0u32);
        loop {
            let Some(&step) = lists.get(chain as usize).and_then(|c| c.get(pos as usize)) else {
                // End of chain: return to the caller, or fall off the built-in chain.
                if depth == 0 {
                    return Verdict::Continue;
                }
                depth -= 1;
                (chain, pos) = stack[depth];
                continue;
            };
            if step.past_run & IN_ADDRESS_RUN != 0 {
                let run = &self.address_runs[(step.past_run & !IN_ADDRESS_RUN) as usize];
                let next = run.next(pos, &ctx.tuple);
                if next != pos {
                    // RouterOS tries the rules this skips, one by one.
                    state.tried += (next - pos) as u64;
                    pos = next;
                    continue;
                }
            }
            let ri = step.rule;
            let rule = &self.rules[ri as usize];
            let quick = rule.quick.holds(ctx);
            let next = match (quick, step.past_run & IN_ADDRESS_RUN) {
                (false, 0) => step.past_run,
                _ => pos + 1,
            };
            // A run of rules the quick test rules out together counts as RouterOS tries them.
            state.tried += (next - pos) as u64;
            pos = next;
            // The counts are touched only past the quick test, which most rules fail.
            let matched = quick && {
                let counts = &mut state.rules[ri as usize];
                rule.matchers.iter().all(|m| m.holds(ctx, env, counts))
            };
            obs.rule_tried(self, rule, matched, ctx, env);
            if !matched {
                continue;
            }
            let counts = &mut state.rules[ri as usize];
            counts.packets += 1;
            counts.bytes += ctx.len as u64;
            match rule.action {
                Action::Passthrough | Action::Log | Action::Unmodeled(_) => {}
                Action::MarkPacket(m) => ctx.packet_mark = m,
                Action::AddToAddressList { dst, list, timeout } => {
                    let t = &ctx.tuple;
                    state.list_additions.push(ListAddition {
                        list,
                        address: if dst { t.dst } else { t.src },
                        expires: timeout.map(|d| ctx.now + d),
                    });
                }
                Action::Redirect { port } => {
                    if let Some(to) = env.iface_address(ctx.in_iface) {
                        return Verdict::DstNat(to, port);
                    }
                }
                Action::MarkConnection(m) => {
                    ctx.connection_mark = m;
                    ctx.classified = rule.quick.classifies;
                }
                Action::MarkRouting(t) => ctx.routing_mark = t,
                Action::Accept => return Verdict::Accept,
                Action::Drop => return Verdict::Drop,
                Action::FasttrackConnection => return Verdict::Fasttrack,
                Action::Masquerade => return Verdict::Masquerade,
                Action::SrcNat(a) => return Verdict::SrcNat(a),
                Action::DstNat { to, port } => return Verdict::DstNat(to, port),
                Action::Return => {
                    if depth == 0 {
                        return Verdict::Continue;
                    }
                    depth -= 1;
                    (chain, pos) = stack[depth];
                    continue;
                }
                Action::Jump(target) => {
                    if depth < MAX_JUMP_DEPTH {
                        stack[depth] = (chain, pos);
                        depth += 1;
                        (chain, pos) = (target, 0);
                    }
                    continue;
                }
            }
            let marks = matches!(
                rule.action,
                Action::MarkConnection(_) | Action::MarkRouting(_) | Action::MarkPacket(_)
            );
            if marks && !rule.passthrough {
                return Verdict::Continue;
            }
        }
    }
}
