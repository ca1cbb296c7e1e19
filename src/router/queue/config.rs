//! The queues a configuration sets up: `/queue type` (the built-in types and the user's),
//! `/queue simple` (first match by `target`, `dst` and `packet-marks`; each a pair of HTB
//! queues, upload and download) and `/queue tree` (by `packet-mark`, under `global`, an
//! interface or another tree queue). The reader keeps their items as written and checks each
//! value with the parsers here; [`QueueSetup::from_config`] builds what the router runs.
//!
//! Units as RouterOS takes them: rates in bit/s with `k`, `M` or `G` (1000s); `pcq-limit` and
//! `pcq-total-limit` in packets on RouterOS 6 and KiB on RouterOS 7 (**assumed** from the v7
//! defaults, 50 and 2000); `bfifo-limit` in bytes.

use super::burst::BurstSpec;
use super::codel::CodelParams;
use super::discipline::{Kind, Limit};
use super::fair::{CakeFlows, FlowKey, FlowParams, PcqClassifier, WhenFull};
use super::red::RedParams;
use crate::router::config::{Dialect, RouterConfig, StoredItem};
use crate::router::firewall::{AddrRange, IfaceId};
use crate::units::{MS, SEC, Time, US, parse_duration};

/// A rate: `10M`, `512k`, `1.5G`, `64000`; `0` is no limit.
pub fn parse_rate(v: &str) -> Result<u64, String> {
    let bad = || format!("`{v}` is not a rate (like 10M, 512k or 64000)");
    let (num, scale) = match v.trim().char_indices().last() {
        Some((i, 'k' | 'K')) => (&v[..i], 1e3),
        Some((i, 'M')) => (&v[..i], 1e6),
        Some((i, 'G' | 'g')) => (&v[..i], 1e9),
        _ => (v.trim(), 1.0),
    };
    let n: f64 = num.parse().map_err(|_| bad())?;
    if !n.is_finite() || n < 0.0 || n * scale > 1e12 {
        return Err(bad());
    }
    Ok((n * scale).round() as u64)
}

/// `upload/download`, or one value for both.
pub fn pair<T: Copy>(v: &str, one: impl Fn(&str) -> Result<T, String>) -> Result<(T, T), String> {
    match v.split_once('/') {
        Some((up, down)) => Ok((one(up)?, one(down)?)),
        None => one(v).map(|x| (x, x)),
    }
}

pub fn parse_priority(v: &str) -> Result<u8, String> {
    v.trim()
        .parse()
        .ok()
        .filter(|p| (1..=8).contains(p))
        .ok_or_else(|| format!("`{v}` is not a priority from 1 (first) to 8"))
}

pub fn parse_bucket_size(v: &str) -> Result<f64, String> {
    v.trim()
        .parse()
        .ok()
        .filter(|b: &f64| (0.0..=10.0).contains(b))
        .ok_or_else(|| format!("`{v}` is not a bucket size from 0 to 10"))
}

fn parse_count(v: &str) -> Result<u32, String> {
    let v = v.trim().trim_end_matches("KiB");
    v.parse().map_err(|_| format!("`{v}` is not a number"))
}

/// `pcq-classifier=src-address,dst-port`.
pub fn parse_classifier(v: &str) -> Result<PcqClassifier, String> {
    let mut c = PcqClassifier::NONE;
    for part in v.split(',') {
        match part.trim() {
            "src-address" => c.src_address = true,
            "dst-address" => c.dst_address = true,
            "src-port" => c.src_port = true,
            "dst-port" => c.dst_port = true,
            other => {
                return Err(format!(
                    "`{other}` is not a PCQ classifier (src-address, dst-address, src-port, dst-port)"
                ));
            }
        }
    }
    Ok(c)
}

/// The kinds of `/queue type`.
pub const KINDS: [&str; 10] = [
    "pfifo", "bfifo", "pcq", "sfq", "red", "codel", "fq-codel", "cake", "mq-pfifo", "none",
];

/// A queue type as the router runs it.
#[derive(Clone, Debug, PartialEq)]
pub struct QueueType {
    pub name: String,
    pub kind: Kind,
    pub line: u32,
}

/// `sfq`: the connection's hash into 1024 buckets, salted anew every `perturb`, `allot` bytes
/// a turn, 127 packets in all (Linux's `sfq` defaults).
fn sfq(perturb: Time, allot: u32) -> Kind {
    Kind::Flows(FlowParams {
        key: FlowKey::Hashed {
            buckets: 1024,
            perturb,
        },
        when_full: WhenFull::DropFattestNewest,
        quantum: allot,
        ..FlowParams::pcq(
            PcqClassifier::NONE,
            0,
            Limit::Packets(127),
            Limit::Packets(127),
        )
    })
}

/// What a `/queue type` parameter is to pccsim.
pub enum TypeKey {
    /// Read and run.
    Modelled,
    /// Read; the queue runs without it, for the reason given.
    Noted(&'static str),
    Unknown,
}

/// CAKE's named round-trip times (`cake-rtt-scheme`).
fn cake_rtt_scheme(v: &str) -> Result<Time, String> {
    Ok(match v {
        "datacentre" => 100 * US,
        "lan" => MS,
        "metro" => 10 * MS,
        "regional" => 30 * MS,
        "internet" => 100 * MS,
        "oceanic" => 300 * MS,
        "satellite" => SEC,
        "interplanetary" => 3600 * SEC,
        _ => {
            return Err(format!(
                "`{v}` is not a cake rtt scheme (datacentre, lan, metro, regional, internet, oceanic, satellite, interplanetary)"
            ));
        }
    })
}

/// Checks `/queue type`'s `key=v` as the type reads it; says whether it is run or noted.
pub fn check_type_key(key: &str, v: &str) -> Result<TypeKey, String> {
    let run = |r: Result<(), String>| r.map(|()| TypeKey::Modelled);
    match key {
        "pcq-rate" | "pcq-burst-rate" | "pcq-burst-threshold" | "cake-bandwidth" => {
            run(parse_rate(v).map(drop))
        }
        "pcq-classifier" => run(parse_classifier(v).map(drop)),
        "pcq-burst-time" | "sfq-perturb" | "codel-target" | "codel-interval"
        | "fq-codel-target" | "fq-codel-interval" | "cake-rtt" => run(parse_duration(v).map(drop)),
        "pfifo-limit" | "bfifo-limit" | "mq-pfifo-limit" | "pcq-limit" | "pcq-total-limit"
        | "red-limit" | "red-min-threshold" | "red-max-threshold" | "red-burst"
        | "red-avg-packet" | "sfq-allot" | "codel-limit" | "fq-codel-limit"
        | "fq-codel-quantum" | "fq-codel-flows" => run(parse_count(v).map(drop)),
        "pcq-src-address-mask" | "pcq-dst-address-mask" => run(v
            .parse::<u8>()
            .ok()
            .filter(|m| *m <= 32)
            .map(drop)
            .ok_or(format!("`{v}` is not a mask from 0 to 32"))),
        "cake-flowmode" => run(CakeFlows::parse(v).map(drop)),
        "cake-rtt-scheme" => run(cake_rtt_scheme(v).map(drop)),
        "pcq-src-address6-mask" | "pcq-dst-address6-mask" => {
            Ok(TypeKey::Noted("IPv6 is not simulated"))
        }
        "codel-ecn" | "fq-codel-ecn" | "codel-ce-threshold" | "fq-codel-ce-threshold" => {
            Ok(TypeKey::Noted("ECN is not simulated: CoDel drops"))
        }
        "fq-codel-memlimit" | "cake-memlimit" => {
            Ok(TypeKey::Noted("the queue is held to its packet limit"))
        }
        "cake-diffserv" => Ok(TypeKey::Noted("one tin: DSCP marks are not simulated")),
        "cake-nat" => Ok(TypeKey::Noted(
            "hosts are told apart by the addresses the queue sees",
        )),
        "cake-ack-filter" | "cake-wash" | "cake-autorate-ingress" => {
            Ok(TypeKey::Noted("not simulated"))
        }
        "cake-overhead" | "cake-overhead-scheme" | "cake-atm" | "cake-mpu" => Ok(TypeKey::Noted(
            "the shaper counts IP bytes: link framing is not simulated",
        )),
        _ => Ok(TypeKey::Unknown),
    }
}

impl QueueType {
    /// RouterOS's built-in types.
    pub fn built_in(dialect: Dialect) -> Vec<QueueType> {
        let pcq = |src: bool| {
            let (limit, total) = match dialect {
                Dialect::V6 => (Limit::Packets(50), Limit::Packets(2000)),
                Dialect::V7 => (Limit::Bytes(50 * 1024), Limit::Bytes(2000 * 1024)),
            };
            let classifier = PcqClassifier {
                src_address: src,
                dst_address: !src,
                ..PcqClassifier::NONE
            };
            Kind::Flows(FlowParams::pcq(classifier, 0, limit, total))
        };
        let types = [
            ("default", Kind::Fifo(Limit::Packets(50))),
            ("ethernet-default", Kind::Fifo(Limit::Packets(50))),
            (
                "multi-queue-ethernet-default",
                Kind::Fifo(Limit::Packets(50)),
            ),
            ("only-hardware-queue", Kind::Fifo(Limit::Packets(50))),
            ("default-small", Kind::Fifo(Limit::Packets(10))),
            ("wireless-default", sfq(5 * SEC, 1514)),
            ("hotspot-default", sfq(5 * SEC, 1514)),
            ("synchronous-default", Kind::Fifo(Limit::Packets(50))),
            ("pcq-upload-default", pcq(true)),
            ("pcq-download-default", pcq(false)),
        ];
        (types.into_iter())
            .map(|(name, kind)| QueueType {
                name: name.into(),
                kind,
                line: 0,
            })
            .collect()
    }

    /// A `/queue type add` item.
    pub fn from_item(item: &StoredItem, dialect: Dialect) -> Result<QueueType, String> {
        let name = item.get("name").ok_or("a queue type needs a name")?;
        let count = |key: &str, default: u32| item.get(key).map_or(Ok(default), parse_count);
        let time = |key: &str, default: Time| item.get(key).map_or(Ok(default), parse_duration);
        let rate = |key: &str| item.get(key).map_or(Ok(0), parse_rate);
        let kilo = |n: u32| match dialect {
            Dialect::V6 => Limit::Packets(n),
            Dialect::V7 => Limit::Bytes(u64::from(n) * 1024),
        };
        let codel = |prefix: &str| -> Result<CodelParams, String> {
            let d = CodelParams::default();
            Ok(CodelParams {
                target: time(&format!("{prefix}-target"), d.target)?,
                interval: time(&format!("{prefix}-interval"), d.interval)?,
            })
        };
        let kind = match item.get("kind").ok_or("a queue type needs a kind")? {
            "pfifo" | "mq-pfifo" | "none" => Kind::Fifo(Limit::Packets(count("pfifo-limit", 50)?)),
            "bfifo" => Kind::Fifo(Limit::Bytes(u64::from(count("bfifo-limit", 15_000)?))),
            "red" => Kind::Red(RedParams {
                limit: count("red-limit", 60)?,
                min: count("red-min-threshold", 10)?,
                max: count("red-max-threshold", 50)?,
                burst: count("red-burst", 20)?,
                avg_packet: count("red-avg-packet", 1000)?,
            }),
            "sfq" => sfq(time("sfq-perturb", 5 * SEC)?, count("sfq-allot", 1514)?),
            "codel" => {
                let limit = Limit::Packets(count("codel-limit", 1000)?);
                Kind::Flows(FlowParams {
                    key: FlowKey::Hashed {
                        buckets: 1,
                        perturb: 0,
                    },
                    codel: Some(codel("codel")?),
                    ..FlowParams::pcq(PcqClassifier::NONE, 0, limit, limit)
                })
            }
            "fq-codel" => {
                let limit = Limit::Packets(count("fq-codel-limit", 10_240)?);
                Kind::Flows(FlowParams {
                    key: FlowKey::Hashed {
                        buckets: count("fq-codel-flows", 1024)?.max(1),
                        perturb: 0,
                    },
                    when_full: WhenFull::DropFattestOldest,
                    quantum: count("fq-codel-quantum", 1514)?.max(64),
                    codel: Some(codel("fq-codel")?),
                    new_flows_first: true,
                    ..FlowParams::pcq(PcqClassifier::NONE, 0, limit, limit)
                })
            }
            "cake" => {
                let rtt = match item.get("cake-rtt-scheme") {
                    Some(s) => cake_rtt_scheme(s)?,
                    None => time("cake-rtt", 100 * MS)?,
                };
                let flows =
                    CakeFlows::parse(item.get("cake-flowmode").unwrap_or("triple-isolate"))?;
                let limit = Limit::Bytes(CAKE_BUFFER);
                Kind::Flows(FlowParams {
                    key: FlowKey::Cake(flows),
                    when_full: WhenFull::DropFattestOldest,
                    codel: Some(CodelParams {
                        target: (rtt / 20).max(US),
                        interval: rtt.max(US),
                    }),
                    new_flows_first: true,
                    shaper: rate("cake-bandwidth")?,
                    ..FlowParams::pcq(PcqClassifier::NONE, 0, limit, limit)
                })
            }
            "pcq" => {
                let mut classifier =
                    parse_classifier(item.get("pcq-classifier").unwrap_or("src-address"))?;
                let mask = |key: &str| {
                    item.get(key).map_or(Ok(32), |v| {
                        v.parse()
                            .ok()
                            .filter(|m| *m <= 32)
                            .ok_or(format!("`{v}` is not a mask"))
                    })
                };
                classifier.src_mask = mask("pcq-src-address-mask")?;
                classifier.dst_mask = mask("pcq-dst-address-mask")?;
                Kind::Flows(FlowParams {
                    burst: BurstSpec::new(
                        rate("pcq-burst-rate")?,
                        rate("pcq-burst-threshold")?,
                        time("pcq-burst-time", 10 * SEC)?,
                    ),
                    ..FlowParams::pcq(
                        classifier,
                        rate("pcq-rate")?,
                        kilo(count("pcq-limit", 50)?),
                        kilo(count("pcq-total-limit", 2000)?),
                    )
                })
            }
            other => {
                return Err(format!(
                    "`{other}` is not a queue kind ({})",
                    KINDS.join(", ")
                ));
            }
        };
        Ok(QueueType {
            name: name.to_string(),
            kind,
            line: item.line,
        })
    }
}

/// CAKE's buffer when `cake-memlimit` is not set: 4 MiB (**assumed**: Linux sizes it from
/// the shaper's rate, at least 4 MiB).
const CAKE_BUFFER: u64 = 4 << 20;

/// Where a simple queue's `target` or `dst` points: addresses, or an interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Net(AddrRange),
    Iface(IfaceId),
}

/// One direction of a queue: its HTB parameters and type.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    pub limit_at: u64,
    pub max_limit: u64,
    pub priority: u8,
    pub bucket_size: f64,
    /// Index into [`QueueSetup::types`].
    pub queue: usize,
    pub burst: Option<BurstSpec>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SimpleQueue {
    pub name: String,
    pub line: u32,
    pub target: Vec<Target>,
    pub dst: Option<Target>,
    pub packet_marks: Vec<u16>,
    /// Index of its parent among the simple queues.
    pub parent: Option<usize>,
    pub upload: Limits,
    pub download: Limits,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TreeParent {
    Global,
    Iface(IfaceId),
    /// Another tree queue, by index.
    Queue(usize),
}

#[derive(Clone, Debug, PartialEq)]
pub struct TreeQueue {
    pub name: String,
    pub line: u32,
    pub parent: TreeParent,
    pub packet_marks: Vec<u16>,
    pub limits: Limits,
}

/// The queues of a configuration, enabled ones only, in their order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QueueSetup {
    pub types: Vec<QueueType>,
    pub simple: Vec<SimpleQueue>,
    pub trees: Vec<TreeQueue>,
}

impl QueueSetup {
    pub fn is_empty(&self) -> bool {
        self.simple.is_empty() && self.trees.is_empty()
    }

    /// Builds the queues from the configuration's `/queue` items. The reader has checked every
    /// value, so an item that still does not make sense is left out.
    pub fn from_config(cfg: &RouterConfig) -> QueueSetup {
        let mut setup = QueueSetup {
            types: QueueType::built_in(cfg.dialect),
            ..QueueSetup::default()
        };
        for item in cfg.stored.get("queue type").into_iter().flatten() {
            if let Ok(t) = QueueType::from_item(item, cfg.dialect) {
                match setup.types.iter_mut().find(|x| x.name == t.name) {
                    Some(x) => *x = t,
                    None => setup.types.push(t),
                }
            }
        }
        for item in cfg.stored_enabled("queue simple") {
            if let Ok(q) = setup.simple_queue(cfg, item) {
                setup.simple.push(q);
            }
        }
        for item in cfg.stored_enabled("queue tree") {
            if let Ok(q) = setup.tree_queue(cfg, item) {
                setup.trees.push(q);
            }
        }
        setup
    }

    pub fn type_index(&self, name: &str) -> Result<usize, String> {
        (self.types.iter())
            .position(|t| t.name == name)
            .ok_or_else(|| format!("no queue type `{name}`"))
    }

    fn limits(&self, item: &StoredItem, default_queue: &str) -> Result<(Limits, Limits), String> {
        // Each value `upload/download` or one for both: [upload, download].
        fn both<T: Copy>(
            item: &StoredItem,
            key: &str,
            default: T,
            one: impl Fn(&str) -> Result<T, String>,
        ) -> Result<[T; 2], String> {
            let (up, down) = item
                .get(key)
                .map_or(Ok((default, default)), |v| pair(v, one))?;
            Ok([up, down])
        }
        let at = both(item, "limit-at", 0, parse_rate)?;
        let max = both(item, "max-limit", 0, parse_rate)?;
        let priority = both(item, "priority", 8, parse_priority)?;
        let bucket = both(item, "bucket-size", 0.1, parse_bucket_size)?;
        let (up_queue, down_queue) = pair(item.get("queue").unwrap_or(default_queue), |q| {
            self.type_index(q)
        })?;
        let queue = [up_queue, down_queue];
        let burst = both(item, "burst-limit", 0, parse_rate)?;
        let threshold = both(item, "burst-threshold", 0, parse_rate)?;
        let time = both(item, "burst-time", 0, parse_duration)?;
        let way = |d: usize| Limits {
            limit_at: at[d],
            max_limit: max[d],
            priority: priority[d],
            bucket_size: bucket[d],
            queue: queue[d],
            burst: BurstSpec::new(burst[d], threshold[d], time[d]),
        };
        Ok((way(0), way(1)))
    }

    fn simple_queue(&self, cfg: &RouterConfig, item: &StoredItem) -> Result<SimpleQueue, String> {
        let targets = match item.get("target").or(item.get("target-addresses")) {
            Some(v) => v
                .split(',')
                .map(|t| target(cfg, t))
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let dst = item.get("dst").map(|d| target(cfg, d)).transpose()?;
        let (upload, download) = self.limits(item, "default-small/default-small")?;
        let parent = match item.get("parent") {
            None | Some("none") => None,
            Some(p) => Some(
                (self.simple.iter())
                    .position(|q| q.name == p)
                    .ok_or_else(|| format!("no simple queue `{p}` before this one"))?,
            ),
        };
        Ok(SimpleQueue {
            name: item.get("name").unwrap_or_default().to_string(),
            line: item.line,
            target: targets,
            dst,
            packet_marks: marks(cfg, item.get("packet-marks")),
            parent,
            upload,
            download,
        })
    }

    fn tree_queue(&self, cfg: &RouterConfig, item: &StoredItem) -> Result<TreeQueue, String> {
        let parent = match item.get("parent").ok_or("a tree queue needs a parent")? {
            "global" | "global-out" | "global-in" | "global-total" => TreeParent::Global,
            p => match cfg.iface(p) {
                Some(i) => TreeParent::Iface(i),
                None => TreeParent::Queue(
                    (self.trees.iter())
                        .position(|q| q.name == p)
                        .ok_or_else(|| format!("no interface or tree queue `{p}`"))?,
                ),
            },
        };
        // A tree queue has one rate each way: the pair's first half.
        let (limits, _) = self.limits(item, "default-small")?;
        Ok(TreeQueue {
            name: item.get("name").unwrap_or_default().to_string(),
            line: item.line,
            parent,
            packet_marks: marks(cfg, item.get("packet-mark")),
            limits,
        })
    }
}

fn target(cfg: &RouterConfig, t: &str) -> Result<Target, String> {
    match cfg.iface(t.trim()) {
        Some(i) => Ok(Target::Iface(i)),
        None => AddrRange::parse(t.trim()).map(Target::Net),
    }
}

/// Packet marks by id; one no rule sets matches no packet.
fn marks(cfg: &RouterConfig, v: Option<&str>) -> Vec<u16> {
    let Some(v) = v.filter(|v| !v.is_empty()) else {
        return Vec::new();
    };
    (v.split(','))
        .map(|m| cfg.packet_marks.find(m.trim()).unwrap_or(u16::MAX))
        .collect()
}
