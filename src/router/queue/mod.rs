//! The router's queues (`/queue simple`, `/queue tree`, `/queue type`): HTB trees ([`htb`])
//! whose leaves hold packets as their queue type says ([`discipline`]), built from the
//! configuration ([`config`]).
//!
//! Where they sit in the packet path, as RouterOS runs them: a forwarded packet leaving
//! postrouting goes through the simple queues (the first that matches it, in order, then down
//! its children), then the tree under `global` (by packet mark), then the tree of the interface
//! it leaves by; each may hold it until its HTB lets it go, or drop it when full. A
//! fast-tracked packet skips the simple queues and the `global` tree, but not an interface's
//! (help.mikrotik.com "FastTrack"). Simple queues and `global`'s queue types see the LAN side
//! of a connection — the source before source NAT — as every per-user setup relies on
//! (**assumed**: RouterOS's Queue Types page classifies uploads per user by `src-address`
//! under `global`, which only works so; it does not say where in postrouting they look).

pub mod burst;
pub mod codel;
pub mod config;
pub mod discipline;
pub mod fair;
pub mod htb;
pub mod red;

use self::config::{Limits, QueueSetup, SimpleQueue, Target, TreeParent};
use self::htb::{ClassSpec, ClassStats, Htb};
use crate::packet::{FiveTuple, Packet};
use crate::router::firewall::IfaceId;
use crate::router::routing::Hop;
use crate::units::Time;
use std::collections::VecDeque;

/// A packet waiting in a queue: what the caller keeps with it, its size, and when it came.
#[derive(Clone, Debug)]
pub struct Entry<T> {
    pub item: T,
    pub len: u32,
    pub at: Time,
}

/// A forwarded packet the queues hold, with what the router needs to send it on.
#[derive(Clone, Copy, Debug)]
pub struct Held {
    pub pkt: Packet,
    pub hop: Hop,
    pub in_iface: IfaceId,
    /// Its connection as the LAN side sees it (before source NAT): what simple queues match.
    pub lan_side: FiveTuple,
    pub packet_mark: u16,
    pub fasttracked: bool,
    /// The stage it waits in or goes to next.
    stage: u8,
}

impl Held {
    pub fn new(pkt: Packet, hop: Hop, in_iface: IfaceId, lan_side: FiveTuple) -> Held {
        Held {
            pkt,
            hop,
            in_iface,
            lan_side,
            packet_mark: 0,
            fasttracked: false,
            stage: 0,
        }
    }

    pub fn marked(self, packet_mark: u16, fasttracked: bool) -> Held {
        Held {
            packet_mark,
            fasttracked,
            ..self
        }
    }
}

/// What became of a packet offered to the queues.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    /// No queue takes it: send it now.
    Pass,
    Held,
    Dropped,
}

/// One HTB tree and the queues (by name and line) whose classes it holds.
#[derive(Clone, Debug)]
struct Tree {
    htb: Htb<Held>,
    /// Per class: the queue's name, its line, and the direction for a simple queue.
    names: Vec<(String, u32, &'static str)>,
    /// A queue tree's interface (`None`: `global`), and the leaf each packet mark goes to
    /// (`None`: a leaf without `packet-mark`, which takes what no other leaf does).
    root: Option<IfaceId>,
    by_mark: Vec<(Option<u16>, usize)>,
}

/// Per simple queue: its classes, upload and download; for one with children, the hidden
/// leaves its unmatched traffic goes to.
#[derive(Clone, Copy, Debug)]
struct SimpleClasses {
    up: usize,
    down: usize,
    default: Option<(usize, usize)>,
}

/// The queues of one router.
#[derive(Clone, Debug, Default)]
pub struct Queues {
    setup: QueueSetup,
    simple: Option<Tree>,
    simple_classes: Vec<SimpleClasses>,
    /// `global`'s tree, and each interface's.
    trees: Vec<Tree>,
    released: VecDeque<Held>,
    next: Option<Time>,
    /// The queue that last took a packet, and the packet's way out (for `trace`).
    last: Option<(String, u32, &'static str, Hop)>,
}

/// The stages a packet goes through, in order: simple queues, `global`, the interface's.
const SIMPLE: u8 = 0;
const GLOBAL: u8 = 1;
const IFACE: u8 = 2;
const DONE: u8 = 3;

impl Queues {
    pub fn new(setup: QueueSetup) -> Queues {
        let mut q = Queues::default();
        if !setup.simple.is_empty() {
            let (tree, classes) = simple_tree(&setup);
            q.simple = Some(tree);
            q.simple_classes = classes;
        }
        let roots: Vec<Option<IfaceId>> = {
            let mut r: Vec<Option<IfaceId>> = Vec::new();
            for t in &setup.trees {
                let root = root_of(&setup, t.parent);
                if !r.contains(&root) {
                    r.push(root);
                }
            }
            r
        };
        for root in roots {
            q.trees.push(tree_of(&setup, root));
        }
        q.setup = setup;
        q
    }

    pub fn is_empty(&self) -> bool {
        self.simple.is_none() && self.trees.is_empty()
    }

    pub fn setup(&self) -> &QueueSetup {
        &self.setup
    }

    /// Puts `held` into the first queue on its way that takes it.
    pub fn offer(&mut self, now: Time, mut held: Held) -> Offer {
        let first = if held.fasttracked { IFACE } else { SIMPLE };
        held.stage = first;
        let offer = self.advance(now, held);
        self.next = self.compute_next(now);
        offer
    }

    /// Moves `held` to the next stage that takes it, from its `stage` on.
    fn advance(&mut self, now: Time, mut held: Held) -> Offer {
        while held.stage < DONE {
            let stage = held.stage;
            held.stage += 1;
            let Some((tree, class)) = self.classify(stage, &held) else {
                continue;
            };
            let entry = Entry {
                item: held,
                len: held.pkt.len,
                at: now,
            };
            // Simple queues and `global` sit between destination and source NAT: they see
            // the LAN side's addresses (MikroTik's own PCQ example classifies uploads by
            // `src-address` under `global`); an interface's tree sees what leaves.
            let tuple = match stage {
                SIMPLE | GLOBAL => held.lan_side,
                _ => held.pkt.tuple,
            };
            let htb = match tree {
                None => &mut self.simple.as_mut().expect("classified").htb,
                Some(t) => &mut self.trees[t].htb,
            };
            let result = htb.enqueue(class, entry, &tuple);
            let tree = match tree {
                None => self.simple.as_ref(),
                Some(t) => Some(&self.trees[t]),
            };
            if let Some((name, line, way)) = tree.and_then(|t| t.names.get(class)) {
                self.last = Some((name.clone(), *line, *way, held.hop));
            }
            return match result {
                Ok(()) => Offer::Held,
                Err(_) => Offer::Dropped,
            };
        }
        Offer::Pass
    }

    /// The tree (`None`: the simple queues; else an index into `trees`) and leaf class that
    /// `held` goes to at `stage`, if any.
    fn classify(&self, stage: u8, held: &Held) -> Option<(Option<usize>, usize)> {
        match stage {
            SIMPLE => self.simple_leaf(held).map(|c| (None, c)),
            GLOBAL => self.tree_leaf(None, held),
            _ => self.tree_leaf(Some(held.hop.iface), held),
        }
    }

    fn simple_leaf(&self, held: &Held) -> Option<usize> {
        let sq = &self.setup.simple;
        let matches = |q: &SimpleQueue| direction(q, held);
        let mut at = sq.iter().position(|q| matches(q).is_some())?;
        loop {
            let upload = matches(&sq[at])?;
            let children = (sq.iter().enumerate()).filter(|(_, c)| c.parent == Some(at));
            let mut matched_child = None;
            let mut has_children = false;
            for (i, c) in children {
                has_children = true;
                if matches(c).is_some() {
                    matched_child = Some(i);
                    break;
                }
            }
            let classes = self.simple_classes[at];
            match (matched_child, has_children) {
                (Some(c), _) => at = c,
                (None, true) => {
                    let (up, down) = classes.default?;
                    return Some(if upload { up } else { down });
                }
                (None, false) => return Some(if upload { classes.up } else { classes.down }),
            }
        }
    }

    fn tree_leaf(&self, root: Option<IfaceId>, held: &Held) -> Option<(Option<usize>, usize)> {
        let t = self.trees.iter().position(|t| t.root == root)?;
        let by_mark = &self.trees[t].by_mark;
        let exact = by_mark.iter().find(|(m, _)| *m == Some(held.packet_mark));
        let any = by_mark.iter().find(|(m, _)| m.is_none());
        exact.or(any).map(|&(_, class)| (Some(t), class))
    }

    /// Lets go every packet the queues may send at `now`: on to its next stage, or out.
    pub fn release(&mut self, now: Time) {
        loop {
            let mut moved = false;
            let mut out = Vec::new();
            if let Some(s) = self.simple.as_mut() {
                while let Some(e) = s.htb.dequeue(now) {
                    out.push(e.item);
                }
            }
            for tree in &mut self.trees {
                while let Some(e) = tree.htb.dequeue(now) {
                    out.push(e.item);
                }
            }
            for held in out {
                moved = true;
                if self.advance(now, held) == Offer::Pass {
                    self.released.push_back(held);
                }
            }
            if !moved {
                break;
            }
        }
        self.next = self.compute_next(now);
    }

    fn compute_next(&mut self, now: Time) -> Option<Time> {
        let simple = self.simple.as_mut().and_then(|s| s.htb.next_ready(now));
        let trees = (self.trees.iter_mut()).filter_map(|t| t.htb.next_ready(now));
        simple.into_iter().chain(trees).min()
    }

    /// The queue that last took a packet — name, line, which way — and where the packet goes.
    pub fn last_held(&self) -> Option<(String, u32, &'static str, Hop)> {
        self.last.clone()
    }

    /// When [`Queues::release`] must next run.
    pub fn poll_timeout(&self) -> Option<Time> {
        self.next
    }

    /// A packet the queues let go, to send on.
    pub fn poll_released(&mut self) -> Option<Held> {
        self.released.pop_front()
    }

    /// Each queue with what it did: (name, line, direction, stats), simple queues first.
    pub fn stats(&self) -> Vec<(String, u32, &'static str, ClassStats)> {
        let trees = self.simple.iter().chain(&self.trees);
        trees
            .flat_map(|t| {
                (t.names.iter().enumerate())
                    .filter(|(i, _)| t.htb.is_leaf(*i))
                    .map(|(i, (name, line, dir))| (name.clone(), *line, *dir, t.htb.stats(i)))
            })
            .collect()
    }
}

/// Whether simple queue `q` matches `held`, and which way: `Some(true)` upload (from its
/// target), `Some(false)` download (to it).
fn direction(q: &SimpleQueue, held: &Held) -> Option<bool> {
    let t = &held.lan_side;
    let out = held.hop.iface;
    let is = |target: &Target, addr: std::net::Ipv4Addr, iface: IfaceId| match target {
        Target::Net(r) => r.contains(addr),
        Target::Iface(i) => *i == iface,
    };
    let upload = q.target.iter().any(|x| is(x, t.src, held.in_iface));
    let download = !upload && q.target.iter().any(|x| is(x, t.dst, out));
    if !upload && !download {
        return None;
    }
    if let Some(d) = &q.dst {
        let other = if upload {
            is(d, t.dst, out)
        } else {
            is(d, t.src, held.in_iface)
        };
        if !other {
            return None;
        }
    }
    if !q.packet_marks.is_empty() && !q.packet_marks.contains(&held.packet_mark) {
        return None;
    }
    Some(upload)
}

fn spec(parent: Option<usize>, l: &Limits, setup: &QueueSetup) -> ClassSpec {
    ClassSpec {
        parent,
        limit_at: l.limit_at,
        max_limit: l.max_limit,
        priority: l.priority,
        bucket_size: l.bucket_size,
        kind: setup.types[l.queue].kind,
        burst: l.burst,
    }
}

/// The simple queues' tree: per queue an upload and a download class, children under their
/// parent's; a queue with children gets two more, for what none of its children matches.
fn simple_tree(setup: &QueueSetup) -> (Tree, Vec<SimpleClasses>) {
    let mut specs = Vec::new();
    let mut names = Vec::new();
    let mut classes: Vec<SimpleClasses> = Vec::new();
    for q in &setup.simple {
        let parent = q.parent.map(|p| classes[p]);
        let up = specs.len();
        specs.push(spec(parent.map(|p| p.up), &q.upload, setup));
        names.push((q.name.clone(), q.line, "upload"));
        specs.push(spec(parent.map(|p| p.down), &q.download, setup));
        names.push((q.name.clone(), q.line, "download"));
        classes.push(SimpleClasses {
            up,
            down: up + 1,
            default: None,
        });
    }
    for (i, q) in setup.simple.iter().enumerate() {
        if setup.simple.iter().any(|c| c.parent == Some(i)) {
            let rest = |l: &Limits| Limits {
                limit_at: 0,
                max_limit: 0,
                priority: 8,
                burst: None,
                ..*l
            };
            let up = specs.len();
            specs.push(spec(Some(classes[i].up), &rest(&q.upload), setup));
            names.push((format!("{} (others)", q.name), q.line, "upload"));
            specs.push(spec(Some(classes[i].down), &rest(&q.download), setup));
            names.push((format!("{} (others)", q.name), q.line, "download"));
            classes[i].default = Some((up, up + 1));
        }
    }
    let htb = Htb::new(&specs);
    let tree = Tree {
        htb,
        names,
        root: None,
        by_mark: Vec::new(),
    };
    (tree, classes)
}

/// The interface (`None`: `global`) a tree queue hangs under, through its parents.
fn root_of(setup: &QueueSetup, mut parent: TreeParent) -> Option<IfaceId> {
    for _ in 0..=setup.trees.len() {
        match parent {
            TreeParent::Global => return None,
            TreeParent::Iface(i) => return Some(i),
            TreeParent::Queue(q) => parent = setup.trees[q].parent,
        }
    }
    None
}

/// The tree under `root`: its queues' classes, and the leaf each packet mark goes to.
fn tree_of(setup: &QueueSetup, root: Option<IfaceId>) -> Tree {
    let mine: Vec<usize> = (0..setup.trees.len())
        .filter(|&i| root_of(setup, setup.trees[i].parent) == root)
        .collect();
    let class_of = |i: usize| mine.iter().position(|&m| m == i);
    let mut specs = Vec::new();
    let mut names = Vec::new();
    for &i in &mine {
        let t = &setup.trees[i];
        let parent = match t.parent {
            TreeParent::Queue(p) => class_of(p),
            _ => None,
        };
        specs.push(spec(parent, &t.limits, setup));
        names.push((t.name.clone(), t.line, "tree"));
    }
    let htb = Htb::new(&specs);
    let mut by_mark: Vec<(Option<u16>, usize)> = Vec::new();
    for (c, &i) in mine.iter().enumerate() {
        if !htb.is_leaf(c) {
            continue;
        }
        let marks = &setup.trees[i].packet_marks;
        if marks.is_empty() {
            by_mark.push((None, c));
        }
        for &m in marks {
            if !by_mark.iter().any(|(x, _)| *x == Some(m)) {
                by_mark.push((Some(m), c));
            }
        }
    }
    Tree {
        htb,
        names,
        root,
        by_mark,
    }
}
