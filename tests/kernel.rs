//! pccsim's router beside a real one, connection by connection: a Linux kernel in network
//! namespaces doing what a PCC configuration does — nftables gives each new connection a
//! mark from `jhash FIELDS mod 3 seed 0` (pccsim's `PccHash::Jhash`), `ip rule` sends marks
//! to per-WAN tables, both WANs masquerade — and pccsim's router with the same RouterOS rules.
//! The same connections go through both; every one must leave by the same WAN, and its
//! server's answer must reach the host in both or in neither: with the fixed rules it does,
//! with the guide's (routing marks that also catch the replies) it never does.
//!
//! Needs root, `ip` and `nft` (`.ci/run` installs nftables): skipped with a message elsewhere,
//! a failure on CI. Only addresses inside the namespaces it makes are used, and it removes
//! them when it ends.

mod common;

use pccsim::packet::{FiveTuple, Packet, Protocol};
use pccsim::router::pcc::PccHash;
use pccsim::{Router, Verdict, routeros};
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// The rules both routers get.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Rules {
    /// PCC with the `connection-mark=no-mark` guard, routing marks for the LAN's packets only.
    Fixed,
    /// PCC without the guard: every packet is hashed again.
    Unguarded,
    /// The guide's: routing marks for every packet of a marked connection, replies too.
    Guide,
}

const HOSTS: u8 = 40;
const SERVERS: u8 = 20;
const CONNECTIONS: u16 = 300;

/// The kernel's rule for each PCC field choice: the same fields in the same order.
const FIELDS: [(&str, &str); 5] = [
    ("both-addresses", "ip saddr . ip daddr"),
    ("src-address", "ip saddr"),
    (
        "both-addresses-and-ports",
        "ip saddr . ip daddr . udp sport . udp dport",
    ),
    // A lone port is hashed as its two bytes, not a padded register.
    ("src-port", "udp sport"),
    ("dst-port", "udp dport"),
];

/// The namespaces of one lab; removed when dropped.
struct Lab {
    prefix: String,
}

impl Lab {
    fn ns(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }

    /// Runs `args` inside namespace `ns` (or outside with `None`); panics on failure.
    fn run(&self, ns: Option<&str>, args: &[&str]) -> String {
        let mut cmd = Command::new("ip");
        match ns {
            Some(n) => cmd.args(["netns", "exec", &self.ns(n)]).args(args),
            None => cmd.args(args),
        };
        let out = cmd.output().expect("ip runs");
        assert!(
            out.status.success(),
            "{ns:?} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn nft(&self, ns: &str, ruleset: &str) {
        let path = std::env::temp_dir().join(format!("{}-{ns}.nft", self.prefix));
        std::fs::write(&path, ruleset).unwrap();
        self.run(Some(ns), &["nft", "-f", path.to_str().unwrap()]);
        std::fs::remove_file(path).unwrap();
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for n in ["lan", "rtr", "isp1", "isp2"] {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.ns(n)])
                .status();
        }
    }
}

/// Whether this machine can build the lab; says why not when it cannot (fails on CI).
fn lab_possible() -> bool {
    let root = unsafe { libc::geteuid() } == 0;
    let has = |tool: &str| {
        Command::new(tool)
            .arg(if tool == "ip" { "-V" } else { "--version" })
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let why_not = if !root {
        "it needs root"
    } else if !has("nft") {
        "nftables (`nft`) is not installed"
    } else if !has("ip") {
        "iproute2 (`ip`) is not installed"
    } else {
        return true;
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "the kernel lab cannot run on CI: {why_not} (.ci/run installs nftables)"
    );
    eprintln!("skipped: the kernel lab {why_not}");
    false
}

/// The connections: UDP from hosts 10.0.0.10–49 to servers 203.0.113.1–20, one source port
/// each (so the servers' side can tell them apart after masquerade).
fn connections() -> Vec<FiveTuple> {
    (0..CONNECTIONS)
        .map(|i| FiveTuple {
            src: Ipv4Addr::new(10, 0, 0, 10 + (i % HOSTS as u16) as u8),
            dst: Ipv4Addr::new(203, 0, 113, 1 + (i * 7 % SERVERS as u16) as u8),
            src_port: 20_000 + i,
            dst_port: 9,
            protocol: Protocol::Udp,
        })
        .collect()
}

/// Builds the lab: LAN ─ router ─ ISP1 / ISP2, each ISP holding every server address.
fn build(lab: &Lab, kernel_fields: &str, rules: Rules) {
    for n in ["lan", "rtr", "isp1", "isp2"] {
        lab.run(None, &["netns", "add", &lab.ns(n)]);
        lab.run(Some(n), &["ip", "link", "set", "lo", "up"]);
    }
    for (a, a_if, b, b_if) in [
        ("lan", "eth0", "rtr", "LAN"),
        ("isp1", "eth0", "rtr", "ISP1"),
        ("isp2", "eth0", "rtr", "ISP2"),
    ] {
        let (na, nb) = (lab.ns(a), lab.ns(b));
        lab.run(
            None,
            &[
                "link", "add", a_if, "netns", &na, "type", "veth", "peer", "name", b_if, "netns",
                &nb,
            ],
        );
        lab.run(Some(a), &["ip", "link", "set", a_if, "up"]);
        lab.run(Some(b), &["ip", "link", "set", b_if, "up"]);
    }
    for h in 0..HOSTS {
        let addr = format!("10.0.0.{}/24", 10 + h);
        lab.run(Some("lan"), &["ip", "addr", "add", &addr, "dev", "eth0"]);
    }
    lab.run(
        Some("lan"),
        &["ip", "route", "add", "default", "via", "10.0.0.1"],
    );
    for (isp, net) in [("isp1", 1), ("isp2", 2)] {
        let gw = format!("192.168.{net}.1/24");
        lab.run(Some(isp), &["ip", "addr", "add", &gw, "dev", "eth0"]);
        for s in 1..=SERVERS {
            let server = format!("203.0.113.{s}/32");
            lab.run(Some(isp), &["ip", "addr", "add", &server, "dev", "lo"]);
        }
        // Each ISP notes the source port of every datagram that reaches a server.
        lab.nft(
            isp,
            "table ip seen {\n\
             \tset ports { type inet_service; flags dynamic; size 65535; }\n\
             \tchain input { type filter hook input priority 0; policy accept;\n\
             \t\tudp dport 9 add @ports { udp sport }\n\
             \t}\n\
             }\n",
        );
    }
    // The router's commands, written as one would type them.
    let r = |command: &str| {
        lab.run(Some("rtr"), &command.split(' ').collect::<Vec<_>>());
    };
    r("ip addr add 10.0.0.1/24 dev LAN");
    r("ip addr add 192.168.1.2/24 dev ISP1");
    r("ip addr add 192.168.2.2/24 dev ISP2");
    r("sysctl -qw net.ipv4.ip_forward=1");
    r("ip route add default via 192.168.1.1");
    r("ip route add default via 192.168.1.1 table 101");
    r("ip route add default via 192.168.2.1 table 102");
    // Marks 1 and 2 (remainders 0 and 1) are ISP1's, 3 (remainder 2) is ISP2's: 3/0 and 3/1
    // to isp1_conn, 3/2 to isp2_conn, as the RouterOS rules say.
    r("ip rule add fwmark 1 lookup 101");
    r("ip rule add fwmark 2 lookup 101");
    r("ip rule add fwmark 3 lookup 102");
    // The guard keeps a connection's first mark; without it every packet is hashed again.
    let guard = if rules == Rules::Unguarded {
        ""
    } else {
        "ct mark 0 "
    };
    // Only the LAN's packets take their connection's mark as routing mark — or, in the
    // guide's rules, every packet, the replies from the ISPs too.
    let routed = if rules == Rules::Guide {
        ""
    } else {
        "iifname \"LAN\" "
    };
    lab.nft(
        "rtr",
        &format!(
            "table ip pcc {{\n\
             \tchain prerouting {{ type filter hook prerouting priority mangle; policy accept;\n\
             \t\tiifname \"LAN\" {guard}ct mark set jhash {kernel_fields} mod 3 seed 0x0 offset 1\n\
             \t\t{routed}meta mark set ct mark\n\
             \t}}\n\
             \tchain postrouting {{ type nat hook postrouting priority srcnat; policy accept;\n\
             \t\toifname \"ISP1\" masquerade\n\
             \t\toifname \"ISP2\" masquerade\n\
             \t}}\n\
             }}\n"
        ),
    );
}

/// Runs `f` on a thread of its own inside namespace `ns`.
fn in_ns<T: Send + 'static>(
    lab: &Lab,
    ns: &str,
    f: impl FnOnce() -> T + Send + 'static,
) -> JoinHandle<T> {
    let path = format!("/run/netns/{}", lab.ns(ns));
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap();
        // This thread only: its sockets are the namespace's.
        let entered = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(entered, 0, "setns into {path}");
        f()
    })
}

/// Every server of an ISP answers each datagram with its copy, until `stop`; `ready` hears
/// when they listen.
fn echo(
    lab: &Lab,
    isp: &str,
    stop: Arc<AtomicBool>,
    ready: std::sync::mpsc::Sender<()>,
) -> JoinHandle<()> {
    in_ns(lab, isp, move || {
        let sockets: Vec<UdpSocket> = (1..=SERVERS)
            .map(|s| {
                let u = UdpSocket::bind((Ipv4Addr::new(203, 0, 113, s), 9)).unwrap();
                u.set_nonblocking(true).unwrap();
                u
            })
            .collect();
        ready.send(()).unwrap();
        let mut buf = [0u8; 64];
        while !stop.load(Ordering::Relaxed) {
            let mut idle = true;
            for u in &sockets {
                while let Ok((n, from)) = u.recv_from(&mut buf) {
                    let _ = u.send_to(&buf[..n], from);
                    idle = false;
                }
            }
            if idle {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
    })
}

/// Sends every connection's datagrams from inside the LAN namespace; says for each whether
/// an answer came back.
fn send(lab: &Lab, conns: &[FiveTuple], per_connection: usize) -> Vec<bool> {
    let conns = conns.to_vec();
    in_ns(lab, "lan", move || {
        let sockets: Vec<UdpSocket> = conns
            .iter()
            .map(|t| {
                let socket = UdpSocket::bind((t.src, t.src_port)).unwrap();
                for _ in 0..per_connection {
                    socket.send_to(b"pcc", (t.dst, t.dst_port)).unwrap();
                }
                socket
            })
            .collect();
        // Answers come within milliseconds; wait for all of them, two seconds at most (the
        // guide's rules send them astray: then none comes, and the wait is the whole bound).
        let mut answered = vec![false; sockets.len()];
        let mut buf = [0u8; 64];
        let give_up = std::time::Instant::now() + Duration::from_secs(2);
        for s in &sockets {
            s.set_nonblocking(true).unwrap();
        }
        while answered.contains(&false) && std::time::Instant::now() < give_up {
            std::thread::sleep(Duration::from_millis(5));
            for (s, a) in sockets.iter().zip(&mut answered) {
                *a |= s.recv_from(&mut buf).is_ok();
            }
        }
        answered
    })
    .join()
    .unwrap()
}

/// The source ports each ISP's servers saw.
fn seen(lab: &Lab, isp: &str) -> Vec<u16> {
    let out = lab.run(Some(isp), &["nft", "list", "set", "ip", "seen", "ports"]);
    let Some(elements) = out.split("elements = {").nth(1) else {
        return Vec::new();
    };
    let elements = elements.split('}').next().unwrap();
    elements
        .split(',')
        .map(|p| p.trim().parse().expect("a port"))
        .collect()
}

/// The WAN (1 or 2) pccsim's router sends each connection out of, and whether the server's
/// answer reaches the host.
fn pccsim_paths(fields: &str, rules: Rules, conns: &[FiveTuple]) -> Vec<(u8, bool)> {
    let text = common::read(&common::root().join("scenarios/dual_wan.rsc"))
        .replace("both-addresses:", &format!("{fields}:"));
    let text = match rules {
        Rules::Fixed => text,
        // PCC rules without the `connection-mark=no-mark` guard.
        Rules::Unguarded => (text.lines())
            .map(|l| match l.contains("per-connection-classifier") {
                true => l.replace(" connection-mark=no-mark", ""),
                false => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        // Routing marks from the connection mark on whatever interface a packet came in by.
        Rules::Guide => text
            .replace(
                "in-interface=LAN connection-mark=isp1_conn",
                "connection-mark=isp1_conn",
            )
            .replace(
                "in-interface=LAN connection-mark=isp2_conn",
                "connection-mark=isp2_conn",
            ),
    };
    let mut config = routeros::load("dual_wan.rsc", &text).unwrap();
    config.use_pcc_hash(PccHash::Jhash);
    let mut r = Router::new(config);
    let lan = r.config.iface("LAN").unwrap();
    let isp1 = r.config.iface("ISP1").unwrap();
    conns
        .iter()
        .map(|t| {
            let mut p = Packet::udp(*t, 0, 0, 3);
            let Verdict::Forward(out) = r.receive(0, lan, &mut p) else {
                panic!("{t} not forwarded");
            };
            let mut answer = Packet::udp(p.tuple.reversed(), 0, 0, 3);
            let back = r.receive(1, out.iface, &mut answer);
            let reached = matches!(back, Verdict::Forward(hop) if hop.iface == lan);
            (if out.iface == isp1 { 1 } else { 2 }, reached)
        })
        .collect()
}

#[test]
fn every_connection_takes_the_same_path_as_in_a_linux_router() {
    if !lab_possible() {
        return;
    }
    let conns = connections();
    for (fields, kernel_fields) in FIELDS {
        for rules in [Rules::Fixed, Rules::Unguarded, Rules::Guide] {
            let lab = Lab {
                prefix: format!("pcc{}", std::process::id()),
            };
            build(&lab, kernel_fields, rules);
            let stop = Arc::new(AtomicBool::new(false));
            let (ready, listening) = std::sync::mpsc::channel();
            let servers =
                ["isp1", "isp2"].map(|isp| echo(&lab, isp, Arc::clone(&stop), ready.clone()));
            for _ in &servers {
                listening.recv().unwrap();
            }
            let answered = send(&lab, &conns, 2);
            stop.store(true, Ordering::Relaxed);
            for s in servers {
                s.join().unwrap();
            }
            let (isp1, isp2) = (seen(&lab, "isp1"), seen(&lab, "isp2"));
            drop(lab);
            let expected = pccsim_paths(fields, rules, &conns);
            let mut differ = Vec::new();
            for (i, t) in conns.iter().enumerate() {
                let kernel = match (isp1.contains(&t.src_port), isp2.contains(&t.src_port)) {
                    (true, false) => 1,
                    (false, true) => 2,
                    (a, b) => panic!("{fields}: {t} reached ISP1 {a}, ISP2 {b}"),
                };
                let (wan, reached) = expected[i];
                if (kernel, answered[i]) != (wan, reached) {
                    differ.push(format!(
                        "{t}: kernel ISP{kernel} answered {}, pccsim ISP{wan} answered {reached}",
                        answered[i]
                    ));
                }
            }
            assert!(
                differ.is_empty(),
                "{fields} ({rules:?}): {} of {} differ: {:#?}",
                differ.len(),
                conns.len(),
                &differ[..differ.len().min(5)]
            );
            // What the rules promise, seen in both: the 2:1 weighting, and answers that reach
            // the hosts — all of them, or with the guide's rules none.
            let on_isp1 = expected.iter().filter(|&&(w, _)| w == 1).count();
            assert!(on_isp1 > conns.len() / 2, "{fields}: {on_isp1} on ISP1");
            let reached = answered.iter().filter(|&&a| a).count();
            let promised = if rules == Rules::Guide {
                0
            } else {
                conns.len()
            };
            assert_eq!(reached, promised, "{fields} ({rules:?})");
        }
    }
}
