//! `run --pcap`: captures on the router's ports that Wireshark reads, with the addresses as
//! NATed on each side, correct checksums and TCP streams that can be followed.

mod common;

use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

/// One captured frame: time in ns, and the bytes.
struct Frame {
    at: u64,
    bytes: Vec<u8>,
}

fn read_pcap(path: &Path) -> Vec<Frame> {
    let data = std::fs::read(path).unwrap();
    assert_eq!(
        &data[0..4],
        &0xa1b2_3c4du32.to_le_bytes(),
        "nanosecond pcap"
    );
    assert_eq!(
        u32::from_le_bytes(data[20..24].try_into().unwrap()),
        1,
        "Ethernet"
    );
    let mut frames = Vec::new();
    let mut at = 24;
    while at < data.len() {
        let word = |i: usize| u32::from_le_bytes(data[at + i..at + i + 4].try_into().unwrap());
        let (secs, nanos, len) = (word(0) as u64, word(4) as u64, word(8) as usize);
        assert_eq!(len, word(12) as usize, "whole frames are captured");
        frames.push(Frame {
            at: secs * 1_000_000_000 + nanos,
            bytes: data[at + 16..at + 16 + len].to_vec(),
        });
        at += 16 + len;
    }
    assert_eq!(at, data.len(), "no trailing bytes");
    frames
}

fn sum(data: &[u8], initial: u32) -> u16 {
    let mut s = initial as u64;
    for c in data.chunks(2) {
        s += u64::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

fn addr(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

fn capture(dir: &Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_pccsim"))
        .args([
            "run",
            "scenarios/dual_wan.ron",
            "--duration",
            "10s",
            "--connections",
        ])
        .args(["--pcap", "ISP1,lan", "--out", dir.to_str().unwrap()])
        .current_dir(common::root())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

#[test]
fn captures_hold_valid_frames_in_time_order_with_each_sides_addresses() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cap");
    capture(&dir);
    let wan_address = Ipv4Addr::new(192, 168, 1, 2);
    let lan: ipnet::Ipv4Net = "10.0.0.0/24".parse().unwrap();
    let connections = common::read(&dir.join("connections.csv"));
    let tcp_on_isp1 = connections
        .lines()
        .filter(|l| l.contains(",tcp,") && l.split(',').nth(8) == Some("ISP1"))
        .count();
    for (file, wan_side) in [("ISP1.pcap", true), ("LAN.pcap", false)] {
        let frames = read_pcap(&dir.join(file));
        assert!(frames.len() > 1000, "{file}: {} frames", frames.len());
        assert!(
            frames.windows(2).all(|w| w[0].at <= w[1].at),
            "{file}: time order"
        );
        let mut syns = std::collections::BTreeSet::new();
        for f in &frames {
            let ip = &f.bytes[14..];
            assert_eq!(u16::from_be_bytes([f.bytes[12], f.bytes[13]]), 0x0800);
            assert_eq!(sum(&ip[..20], 0), 0, "{file}: IPv4 header checksum");
            let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
            assert_eq!(total, ip.len(), "{file}: IP length is the frame's");
            let (src, dst, proto) = (addr(&ip[12..16]), addr(&ip[16..20]), ip[9]);
            let l4 = &ip[20..];
            let pseudo = [&ip[12..20], &[0, proto], &(l4.len() as u16).to_be_bytes()].concat();
            // ICMP (check-gateway's pings) has no pseudo-header.
            let pseudo_sum = if proto == 1 {
                0
            } else {
                !sum(&pseudo, 0) as u32
            };
            assert_eq!(sum(l4, pseudo_sum), 0, "{file}: transport checksum");
            // Each side shows its own addresses: the WAN the NATed one, the LAN the hosts'.
            let ours = if wan_side {
                src == wan_address || dst == wan_address
            } else {
                lan.contains(&src) || lan.contains(&dst)
            };
            assert!(ours, "{file}: {src} -> {dst}");
            if proto == 6 && l4[13] == 0x02 {
                syns.insert((src, l4[0], l4[1], dst));
            }
        }
        if wan_side {
            // One SYN per TCP connection that left by ISP1 (retries are the same tuple).
            assert_eq!(syns.len(), tcp_on_isp1, "{file}");
        }
    }
}

/// tshark, from Debian's package, must read the files without a complaint and follow their
/// TCP streams. `.ci/run` installs it; elsewhere the test says it was skipped.
#[test]
fn tshark_reads_the_captures_and_follows_tcp_streams() {
    if Command::new("tshark").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "tshark is missing on CI: .ci/run installs it"
        );
        eprintln!("skipped: tshark is not installed (apt-get install tshark)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("cap");
    capture(&dir);
    for file in ["ISP1.pcap", "LAN.pcap"] {
        let path = dir.join(file);
        let tshark = |args: &[&str]| {
            let o = Command::new("tshark")
                .arg("-r")
                .arg(&path)
                .args(args)
                .output()
                .unwrap();
            let complaints: Vec<String> = String::from_utf8_lossy(&o.stderr)
                .lines()
                .filter(|l| !l.trim().is_empty() && !l.contains("Running as user"))
                .map(str::to_string)
                .collect();
            assert!(
                o.status.success() && complaints.is_empty(),
                "{file} {args:?}: {complaints:?}"
            );
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        let checked = [
            "-o",
            "ip.check_checksum:TRUE",
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "udp.check_checksum:TRUE",
        ];
        let bad = tshark(&[&checked[..], &["-Y", "ip.checksum.status == 0 || tcp.checksum.status == 0 || udp.checksum.status == 0 || _ws.malformed"]].concat());
        assert!(
            bad.is_empty(),
            "{file}: frames with bad checksums or malformed:\n{bad}"
        );
        let list = tshark(&[]);
        let first_tcp = list.lines().find(|l| l.contains(" TCP ")).unwrap();
        assert!(first_tcp.contains("[SYN]"), "{file}: {list:.300}");
        if file == "ISP1.pcap" {
            // check-gateway's pings to the ISP's gateway, and its answers.
            assert!(
                list.lines()
                    .any(|l| l.contains("→ 192.168.1.1") && l.contains("Echo (ping) request"))
                    && list.contains("Echo (ping) reply"),
                "{list:.400}"
            );
        }
        // SYNs carry timestamps as Linux sends them; later segments echo the other end's.
        let stamps = tshark(&[
            "-Y",
            "tcp.stream == 0",
            "-T",
            "fields",
            "-e",
            "tcp.flags.syn",
            "-e",
            "tcp.options.timestamp.tsval",
            "-e",
            "tcp.options.timestamp.tsecr",
        ]);
        let rows: Vec<Vec<&str>> = stamps.lines().map(|l| l.split('\t').collect()).collect();
        assert!(
            rows.len() >= 3 && rows[0][0] == "1" && !rows[0][1].is_empty(),
            "{stamps}"
        );
        assert!(
            rows[1..]
                .iter()
                .any(|r| r[2].parse::<u32>().is_ok_and(|e| e > 0)),
            "{file}: no segment echoes a timestamp: {stamps}"
        );
        let follow = tshark(&["-q", "-z", "follow,tcp,raw,0"]);
        assert!(
            follow.contains("Node 0:") && follow.contains("Node 1:"),
            "{file}: {follow:.500}"
        );
        let conversations = tshark(&["-q", "-z", "conv,tcp"]);
        assert!(
            conversations.lines().filter(|l| l.contains("<->")).count() > 10,
            "{file}"
        );
    }
}
