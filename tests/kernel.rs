//! pccsim's router beside a real one, connection by connection: a Linux kernel in network
//! namespaces doing what a PCC configuration does — nftables gives each new connection a
//! mark from `jhash FIELDS mod 3 seed 0` (pccsim's `PccHash::Jhash`), `ip rule` sends marks
//! to per-WAN tables, both WANs masquerade — and pccsim's router with the same RouterOS rules.
//! The same connections go through both; every one must leave by the same WAN.
//!
//! Needs root, `ip` and `nft` (`.ci/run` installs nftables): skipped with a message elsewhere,
//! a failure on CI. Only addresses inside the namespaces it makes are used, and it removes
//! them when it ends.

mod common;

use pccsim::packet::{FiveTuple, Packet, Protocol};
use pccsim::router::pcc::PccHash;
use pccsim::{Router, Verdict, routeros};
use std::net::{Ipv4Addr, UdpSocket};
use std::process::Command;

const HOSTS: u8 = 40;
const SERVERS: u8 = 20;
const CONNECTIONS: u16 = 300;

/// The kernel's rule for each PCC field choice: the same fields in the same order.
const FIELDS: [(&str, &str); 3] = [
    ("both-addresses", "ip saddr . ip daddr"),
    ("src-address", "ip saddr"),
    (
        "both-addresses-and-ports",
        "ip saddr . ip daddr . udp sport . udp dport",
    ),
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
fn build(lab: &Lab, kernel_fields: &str, guarded: bool) {
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
    let guard = if guarded { "ct mark 0 " } else { "" };
    lab.nft(
        "rtr",
        &format!(
            "table ip pcc {{\n\
             \tchain prerouting {{ type filter hook prerouting priority mangle; policy accept;\n\
             \t\tiifname \"LAN\" {guard}ct mark set jhash {kernel_fields} mod 3 seed 0x0 offset 1\n\
             \t\tiifname \"LAN\" meta mark set ct mark\n\
             \t}}\n\
             \tchain postrouting {{ type nat hook postrouting priority srcnat; policy accept;\n\
             \t\toifname \"ISP1\" masquerade\n\
             \t\toifname \"ISP2\" masquerade\n\
             \t}}\n\
             }}\n"
        ),
    );
}

/// Sends every connection's datagrams from inside the LAN namespace.
fn send(lab: &Lab, conns: &[FiveTuple], per_connection: usize) {
    let path = format!("/run/netns/{}", lab.ns("lan"));
    let conns = conns.to_vec();
    std::thread::spawn(move || {
        let ns = std::fs::File::open(&path).unwrap();
        use std::os::fd::AsRawFd;
        // This thread only: its sockets are the LAN's.
        assert_eq!(
            unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) },
            0
        );
        for t in &conns {
            let socket = UdpSocket::bind((t.src, t.src_port)).unwrap();
            for _ in 0..per_connection {
                socket.send_to(b"pcc", (t.dst, t.dst_port)).unwrap();
            }
        }
    })
    .join()
    .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
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

/// The WAN (1 or 2) pccsim's router sends each connection out of.
fn pccsim_wans(fields: &str, guarded: bool, conns: &[FiveTuple]) -> Vec<u8> {
    let text = common::read(&common::root().join("scenarios/dual_wan.rsc"))
        .replace("both-addresses:", &format!("{fields}:"));
    let text = if guarded {
        text
    } else {
        // The guide's mistake: PCC rules without the `connection-mark=no-mark` guard.
        text.lines()
            .map(|l| match l.contains("per-connection-classifier") {
                true => l.replace(" connection-mark=no-mark", ""),
                false => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
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
            match r.receive(0, lan, &mut p) {
                Verdict::Forward(hop) if hop.iface == isp1 => 1,
                Verdict::Forward(_) => 2,
                other => panic!("{t}: {other:?}"),
            }
        })
        .collect()
}

#[test]
fn every_connection_leaves_by_the_same_wan_as_in_a_linux_router() {
    if !lab_possible() {
        return;
    }
    let conns = connections();
    for (fields, kernel_fields) in FIELDS {
        for guarded in [true, false] {
            let lab = Lab {
                prefix: format!("pcc{}", std::process::id()),
            };
            build(&lab, kernel_fields, guarded);
            send(&lab, &conns, 2);
            let (isp1, isp2) = (seen(&lab, "isp1"), seen(&lab, "isp2"));
            drop(lab);
            let expected = pccsim_wans(fields, guarded, &conns);
            let mut differ = Vec::new();
            for (t, &wan) in conns.iter().zip(&expected) {
                let kernel = match (isp1.contains(&t.src_port), isp2.contains(&t.src_port)) {
                    (true, false) => 1,
                    (false, true) => 2,
                    (a, b) => panic!("{fields}: {t} reached ISP1 {a}, ISP2 {b}"),
                };
                if kernel != wan {
                    differ.push(format!("{t}: kernel ISP{kernel}, pccsim ISP{wan}"));
                }
            }
            assert!(
                differ.is_empty(),
                "{fields} (guarded {guarded}): {} of {} differ: {:#?}",
                differ.len(),
                conns.len(),
                &differ[..differ.len().min(5)]
            );
            // The 2:1 weighting shows in both.
            let on_isp1 = expected.iter().filter(|&&w| w == 1).count();
            assert!(on_isp1 > conns.len() / 2, "{fields}: {on_isp1} on ISP1");
        }
    }
}
