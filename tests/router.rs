//! The router alone, fed packets directly: classification shares, NAT, and where replies go.

mod common;

use pccsim::packet::{FiveTuple, Packet, Protocol, TcpFlags};
use pccsim::routeros;
use pccsim::{Router, Verdict};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;

fn router(file: &str, edit: impl Fn(&str) -> String) -> Router {
    let text = edit(&common::read(&common::root().join(file)));
    Router::new(routeros::load(file, &text).unwrap())
}

fn syn(src: Ipv4Addr, sport: u16, dst: Ipv4Addr, dport: u16) -> Packet {
    let t = FiveTuple {
        src,
        dst,
        src_port: sport,
        dst_port: dport,
        protocol: Protocol::Tcp,
    };
    Packet::tcp(t, 0, TcpFlags::SYN, 0, 0, 0)
}

/// The far end's SYN-ACK to `p`, as it arrives (`p` as it left the router).
fn syn_ack(p: &Packet) -> Packet {
    let mut reply = *p;
    reply.tuple = p.tuple.reversed();
    reply.flags = TcpFlags::SYN | TcpFlags::ACK;
    reply
}

fn out_iface(r: &mut Router, now: u64, iface: u8, p: &mut Packet) -> u8 {
    match r.receive(now, iface, p) {
        Verdict::Forward(hop) => hop.iface,
        other => panic!("packet not forwarded: {other:?}"),
    }
}

/// Random LAN tuples towards a skewed set of servers, as an office produces them.
fn tuples(n: usize, seed: u64) -> Vec<(Ipv4Addr, u16, Ipv4Addr, u16)> {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let host = Ipv4Addr::new(10, 10, 0, 10 + rng.random_range(0..200u8));
            let server = Ipv4Addr::from(0x5db8_0000 + rng.random_range(0..3000u32).pow(2) / 3000);
            (
                host,
                32768 + (i % 28000) as u16,
                server,
                [443, 80, 53][i % 3],
            )
        })
        .collect()
}

#[test]
fn both_addresses_and_ports_splits_connections_5_to_2() {
    let mut r = router("scenarios/weighted_5_2.rsc", |t| {
        t.replace("both-addresses:", "both-addresses-and-ports:")
    });
    let lan = r.config.iface("LAN").unwrap();
    let wan1 = r.config.iface("WAN1-Fibre").unwrap();
    let wan2 = r.config.iface("WAN2-Cable").unwrap();
    let mut counts: HashMap<u8, usize> = HashMap::new();
    let all = tuples(60_000, 1);
    for &(h, sp, s, dp) in &all {
        let mut p = syn(h, sp, s, dp);
        *counts.entry(out_iface(&mut r, 0, lan, &mut p)).or_default() += 1;
    }
    let share1 = counts[&wan1] as f64 / all.len() as f64;
    let share2 = counts[&wan2] as f64 / all.len() as f64;
    assert!((share1 - 5.0 / 7.0).abs() < 0.015, "WAN1 {share1:.4}");
    assert!((share2 - 2.0 / 7.0).abs() < 0.015, "WAN2 {share2:.4}");
    assert_eq!(counts.len(), 2, "WAN3 must carry nothing: {counts:?}");
}

#[test]
fn both_addresses_splits_address_pairs_5_to_2() {
    let mut r = router("scenarios/weighted_5_2.rsc", |t| t.to_string());
    let lan = r.config.iface("LAN").unwrap();
    let wan1 = r.config.iface("WAN1-Fibre").unwrap();
    let mut pair_wan: HashMap<(Ipv4Addr, Ipv4Addr), u8> = HashMap::new();
    for &(h, sp, s, dp) in &tuples(80_000, 2) {
        let mut p = syn(h, sp, s, dp);
        let wan = out_iface(&mut r, 0, lan, &mut p);
        // The same address pair must always get the same WAN.
        assert_eq!(*pair_wan.entry((h, s)).or_insert(wan), wan);
    }
    assert!(pair_wan.len() >= 50_000, "{} pairs", pair_wan.len());
    let share1 = pair_wan.values().filter(|&&w| w == wan1).count() as f64 / pair_wan.len() as f64;
    assert!((share1 - 5.0 / 7.0).abs() < 0.015, "WAN1 pairs {share1:.4}");
}

#[test]
fn masquerade_uses_the_wan_address_and_replies_reach_the_host() {
    let mut r = router("scenarios/dual_wan.rsc", |t| t.to_string());
    let lan = r.config.iface("LAN").unwrap();
    let host = Ipv4Addr::new(10, 0, 0, 23);
    let server = Ipv4Addr::new(93, 184, 216, 34);
    let mut seen = HashSet::new();
    for port in 40000..40200 {
        let mut p = syn(host, port, server, 443);
        let wan = out_iface(&mut r, 0, lan, &mut p);
        seen.insert(wan);
        let wan_addr = r.config.address_of(wan).unwrap().address;
        assert_eq!(p.tuple.src, wan_addr, "NAT to the WAN's own address");
        assert_eq!(
            p.tuple.src_port, port,
            "masquerade keeps a free source port"
        );
        // The server answers the public address; the router un-NATs it to the host.
        let mut reply = syn_ack(&p);
        assert_eq!(out_iface(&mut r, 1, wan, &mut reply), lan);
        assert_eq!((reply.tuple.dst, reply.tuple.dst_port), (host, port));
        assert_eq!(reply.tuple.src, server);
    }
    // both-addresses: one host talking to one server always uses the same WAN.
    assert_eq!(seen.len(), 1);
}

#[test]
fn masquerade_moves_clashing_ports_to_free_ones_and_every_reply_finds_its_host() {
    // A CGNAT's popular destination: 20,000 subscribers, each with the same three source
    // ports, all to one server — 60,000 connections over two public addresses.
    let mut r = router("scenarios/isp_1m.rsc", |t| t.to_string());
    let lan = r.config.iface("subscribers").unwrap();
    let server = Ipv4Addr::new(93, 184, 216, 34);
    let mut public = HashMap::new();
    let mut kept = 0;
    for port in 40000..40003u16 {
        for h in 0..20_000u32 {
            let host = Ipv4Addr::from(u32::from(Ipv4Addr::new(100, 80, 0, 10)) + h);
            let mut p = syn(host, port, server, 443);
            let wan = out_iface(&mut r, 0, lan, &mut p);
            kept += usize::from(port == 40000 && p.tuple.src_port == port);
            let mapping = (p.tuple.src, p.tuple.src_port);
            assert!(
                p.tuple.src_port >= 1024,
                "an unprivileged port stays unprivileged"
            );
            assert_eq!(
                public.insert(mapping, (host, port)),
                None,
                "{mapping:?} given twice"
            );
            let mut reply = syn_ack(&p);
            assert_eq!(out_iface(&mut r, 1, wan, &mut reply), lan);
            assert_eq!((reply.tuple.dst, reply.tuple.dst_port), (host, port));
        }
    }
    // The first connection on each public address keeps its port.
    assert_eq!(kept, 2, "hosts' own ports kept while free");
}

#[test]
fn routing_marked_replies_are_sent_back_out_of_the_wan() {
    let mut r = router("tests/configs/reply_bug.rsc", |t| t.to_string());
    let lan = r.config.iface("LAN").unwrap();
    let mut p = syn(
        Ipv4Addr::new(10, 0, 0, 23),
        40000,
        Ipv4Addr::new(93, 184, 216, 34),
        443,
    );
    let wan = out_iface(&mut r, 0, lan, &mut p);
    let mut reply = syn_ack(&p);
    // Un-NATed to the host, but routed by the marked table, whose only route is the WAN.
    assert_eq!(out_iface(&mut r, 1, wan, &mut reply), wan);
    assert_eq!(reply.tuple.dst, Ipv4Addr::new(10, 0, 0, 23));
}

#[test]
fn inbound_connections_are_answered_through_the_wan_they_came_in_on() {
    let mut r = router("scenarios/dual_wan.rsc", |t| {
        format!(
            "{t}\n/ip firewall nat add chain=dstnat in-interface=ISP2 protocol=tcp dst-port=8080 action=dst-nat to-addresses=10.0.0.5 to-ports=80\n"
        )
    });
    let (lan, isp2) = (
        r.config.iface("LAN").unwrap(),
        r.config.iface("ISP2").unwrap(),
    );
    let client = Ipv4Addr::new(198, 51, 100, 77);
    let mut p = syn(client, 50000, Ipv4Addr::new(192, 168, 2, 2), 8080);
    assert_eq!(out_iface(&mut r, 0, isp2, &mut p), lan);
    assert_eq!(
        (p.tuple.dst, p.tuple.dst_port),
        (Ipv4Addr::new(10, 0, 0, 5), 80)
    );
    let mut reply = syn_ack(&p);
    assert_eq!(
        out_iface(&mut r, 1, lan, &mut reply),
        isp2,
        "isp2_conn routes the reply by to_isp2"
    );
    assert_eq!(
        (reply.tuple.src, reply.tuple.src_port),
        (Ipv4Addr::new(192, 168, 2, 2), 8080)
    );
}

#[test]
fn fasttracked_packets_skip_mangle_and_follow_main() {
    let mut r = router("scenarios/dual_wan.rsc", |t| {
        format!(
            "{t}\n/ip firewall filter add chain=forward connection-state=established,related action=fasttrack-connection\n"
        )
    });
    let lan = r.config.iface("LAN").unwrap();
    let isp1 = r.config.iface("ISP1").unwrap();
    // Find a connection PCC sends to ISP2.
    let server = Ipv4Addr::new(93, 184, 216, 34);
    let (host, mut first) = (2..250u8)
        .map(|i| {
            let h = Ipv4Addr::new(10, 0, 0, i);
            (h, syn(h, 40000, server, 443))
        })
        .find(|(_, p)| {
            let mut q = *p;
            let mut probe = router("scenarios/dual_wan.rsc", |t| t.to_string());
            out_iface(&mut probe, 0, lan, &mut q) != isp1
        })
        .unwrap();
    let wan = out_iface(&mut r, 0, lan, &mut first);
    assert_ne!(wan, isp1);
    let mut reply = syn_ack(&first);
    // The reply is the first `established` packet: the filter fast-tracks the connection.
    assert_eq!(out_iface(&mut r, 1, wan, &mut reply), lan);
    let mut data = syn(host, 40000, server, 443);
    data.flags = TcpFlags::ACK;
    // Fast-tracked: no routing mark, so main's default (ISP1) — with ISP2's NAT address.
    assert_eq!(out_iface(&mut r, 3, lan, &mut data), isp1);
    assert_eq!(data.tuple.src, Ipv4Addr::new(192, 168, 2, 2));
}

#[test]
fn mangle_counters_count_packets_and_bytes() {
    let mut r = router("scenarios/dual_wan.rsc", |t| t.to_string());
    let lan = r.config.iface("LAN").unwrap();
    for &(h, sp, s, dp) in &tuples(3_000, 3) {
        let mut p = syn(Ipv4Addr::new(10, 0, 0, h.octets()[3]), sp, s, dp);
        out_iface(&mut r, 0, lan, &mut p);
    }
    let pcc = &r.counts.mangle.rules[2..5];
    let total: u64 = pcc.iter().map(|s| s.packets).sum();
    assert_eq!(
        total, 3_000,
        "every new LAN connection is classified exactly once"
    );
    // A SYN is 60 bytes: IP, TCP and Linux's 20 bytes of SYN options.
    assert!(pcc.iter().all(|s| s.bytes == s.packets * 60));
}

/// check-gateway as a state machine: the test is the clock and the gateway.
#[test]
fn check_gateway_probes_and_fails_over_without_the_engine() {
    use pccsim::units::{MS, SEC};
    let mut r = router("scenarios/dual_wan.rsc", str::to_string);
    let (isp1, isp2, lan) = (0u8, 1u8, 2u8);
    let gw1: Ipv4Addr = "192.168.1.1".parse().unwrap();
    let server: Ipv4Addr = "93.184.216.34".parse().unwrap();
    let replies_from = |r: &mut Router, now: u64, alive: bool| {
        r.handle_timeout(now);
        let sent: Vec<_> = std::iter::from_fn(|| r.poll_transmit()).collect();
        for (hop, probe) in sent {
            let probe: Packet = probe;
            assert_eq!(probe.tuple.protocol, Protocol::Icmp);
            let gw = probe.tuple.dst;
            // Each probe leaves by the WAN its gateway is on, from that WAN's address.
            let wan = if gw == gw1 { isp1 } else { isp2 };
            assert_eq!(hop.iface, wan);
            if alive || gw != gw1 {
                let mut reply = probe.echo_reply();
                assert_eq!(r.receive(now + 5 * MS, wan, &mut reply), Verdict::Local);
            }
        }
    };
    // What check-gateway concluded, of all the router says happened.
    let gateway_changes = |r: &mut Router| {
        let events = std::iter::from_fn(|| r.poll_event());
        let changes = events.filter_map(|e| match e {
            pccsim::router::Event::Gateway(c) => Some(c),
            _ => None,
        });
        changes.collect::<Vec<_>>()
    };
    assert_eq!(r.poll_timeout(), Some(0));
    replies_from(&mut r, 0, true);
    assert!(gateway_changes(&mut r).is_empty());
    // ISP1's gateway dies after the first round: two rounds of silence later it is out.
    let mut now = 0;
    while now < 30 * SEC {
        now = r.poll_timeout().unwrap();
        replies_from(&mut r, now, false);
        if let Some(&c) = gateway_changes(&mut r).first() {
            assert_eq!((c.gateway, c.reachable), (gw1, false));
            assert_eq!(c.at, 21 * SEC);
            break;
        }
    }
    assert_eq!(now, 21 * SEC);
    // New connections PCC gives ISP1 now leave by ISP2: the marked table falls back to main.
    let isp1_bound = (0..200u16)
        .map(|p| syn("10.0.0.50".parse().unwrap(), 40_000 + p, server, 443))
        .map(|mut p| out_iface(&mut r, now, lan, &mut p))
        .collect::<HashSet<u8>>();
    assert_eq!(isp1_bound, HashSet::from([isp2]));
    // One good reply brings it back.
    now = r.poll_timeout().unwrap();
    replies_from(&mut r, now, true);
    let back = gateway_changes(&mut r);
    assert!(
        back.iter().any(|c| c.gateway == gw1 && c.reachable),
        "{back:?}"
    );
}

#[test]
fn a_link_down_flushes_exactly_the_masqueraded_connections_of_that_interface() {
    let mut r = router("scenarios/dual_wan.rsc", str::to_string);
    let lan = r.config.iface("LAN").unwrap();
    let isp1 = r.config.iface("ISP1").unwrap();
    let server: Ipv4Addr = "93.184.216.34".parse().unwrap();
    let mut by_wan: HashMap<u8, usize> = HashMap::new();
    for p in 0..600u16 {
        let host = Ipv4Addr::new(10, 0, 0, 10 + (p % 200) as u8);
        let mut pkt = syn(host, 30_000 + p, server, 443);
        *by_wan
            .entry(out_iface(&mut r, 0, lan, &mut pkt))
            .or_default() += 1;
    }
    assert!(by_wan[&isp1] > 0 && by_wan.len() == 2, "{by_wan:?}");
    let before = r.conntrack.len();
    r.set_interface_running(isp1, false);
    assert_eq!(
        before - r.conntrack.len(),
        by_wan[&isp1],
        "only ISP1's, all of them"
    );
    // ISP2's connections are untouched: their entries still hold ISP2's address.
    assert!(
        r.conntrack
            .iter()
            .all(|(_, e)| e.reply.dst == "192.168.2.2".parse::<Ipv4Addr>().unwrap())
    );
}

/// `dual_wan` with its PCC rules replaced by `nth`. Guarded, each rule sees only the new,
/// unmarked connections the rules before it left, so round-robin over three is `3,1`, `2,1`,
/// `1,1`; unguarded, every rule sees every packet, so `3,1`, `3,2`, `3,3`.
fn nth_router(guarded: bool) -> Router {
    router("scenarios/dual_wan.rsc", |t| {
        let (guard, nth) = if guarded {
            (
                "connection-mark=no-mark connection-state=new",
                ["3,1", "2,1", "1,1"],
            )
        } else {
            ("", ["3,1", "3,2", "3,3"])
        };
        let mut t = t.replace(
            "connection-mark=no-mark \\\n    dst-address-type=!local",
            guard,
        );
        for (i, n) in nth.iter().enumerate() {
            let pcc = format!("per-connection-classifier=both-addresses:3/{i}");
            t = t.replace(&pcc, &format!("nth={n}"));
        }
        t
    })
}

#[test]
fn guarded_nth_deals_new_connections_round_robin() {
    let mut r = nth_router(true);
    let lan = r.config.iface("LAN").unwrap();
    let isp2 = r.config.iface("ISP2").unwrap();
    let wans: Vec<u8> = tuples(300, 4)
        .iter()
        .map(|&(h, sp, s, dp)| out_iface(&mut r, 0, lan, &mut syn(h, sp, s, dp)))
        .collect();
    // Two of every three to ISP1, as the marks say.
    for (i, w) in wans.iter().enumerate() {
        assert_eq!(*w == isp2, i % 3 == 2, "connection {i} left by {w}");
    }
    // A later packet of the first connection keeps its mark.
    let (h, sp, s, dp) = tuples(300, 4)[0];
    let mut again = syn(h, sp, s, dp);
    again.flags = TcpFlags::ACK;
    assert_ne!(out_iface(&mut r, 1, lan, &mut again), isp2);
}

#[test]
fn unguarded_nth_moves_a_connection_between_wans() {
    let mut r = nth_router(false);
    let lan = r.config.iface("LAN").unwrap();
    let (h, sp, s, dp) = tuples(1, 5)[0];
    let mut seen = HashSet::new();
    let mut sources = HashSet::new();
    for now in 0..6 {
        let mut p = syn(h, sp, s, dp);
        p.flags = if now == 0 {
            TcpFlags::SYN
        } else {
            TcpFlags::ACK
        };
        seen.insert(out_iface(&mut r, now, lan, &mut p));
        sources.insert(p.tuple.src);
    }
    assert_eq!(seen.len(), 2, "the mark is dealt again per packet");
    assert_eq!(
        sources.len(),
        1,
        "but the NAT address was fixed by the first packet"
    );
}

/// Two WANs, masquerade, and no mangle: `routes` alone spread the traffic.
fn ecmp_router(routes: &str) -> Router {
    let text = format!(
        "/interface set ether1 name=ISP1\n/interface set ether2 name=ISP2\n\
         /interface set ether3 name=LAN\n\
         /ip address add address=192.168.1.2/24 interface=ISP1\n\
         /ip address add address=192.168.2.2/24 interface=ISP2\n\
         /ip address add address=10.0.0.1/24 interface=LAN\n\
         /ip firewall nat add chain=srcnat out-interface=ISP1 action=masquerade\n\
         /ip firewall nat add chain=srcnat out-interface=ISP2 action=masquerade\n{routes}"
    );
    Router::new(routeros::load("ecmp.rsc", &text).unwrap())
}

/// Where each of `conns` leaves, one packet each at `now` (SYNs at 0, ACKs after).
fn wans_at(r: &mut Router, now: u64, conns: &[(Ipv4Addr, u16, Ipv4Addr, u16)]) -> Vec<u8> {
    let lan = r.config.iface("LAN").unwrap();
    conns
        .iter()
        .map(|&(h, sp, s, dp)| {
            let mut p = syn(h, sp, s, dp);
            if now > 0 {
                p.flags = TcpFlags::ACK;
            }
            out_iface(r, now, lan, &mut p)
        })
        .collect()
}

#[test]
fn v6_ecmp_keeps_address_pairs_until_the_routing_cache_is_flushed() {
    let mut r = ecmp_router("/ip route add gateway=192.168.1.1,192.168.2.1\n");
    let conns = tuples(2_000, 6);
    let first = wans_at(&mut r, 0, &conns);
    let isp1 = first.iter().filter(|&&w| w == 0).count() as f64 / first.len() as f64;
    assert!((0.4..0.6).contains(&isp1), "ISP1 took {isp1:.3}");
    // Every connection of an address pair goes the pair's way.
    let mut pair_wan = HashMap::new();
    for (c, w) in conns.iter().zip(&first) {
        assert_eq!(*pair_wan.entry((c.0, c.2)).or_insert(*w), *w);
    }
    let sec = 1_000_000_000;
    assert_eq!(wans_at(&mut r, 5 * sec, &conns), first, "cached");
    // The cache is flushed after ten minutes and pairs are dealt out again.
    let flush = r.poll_timeout().unwrap();
    assert_eq!(flush, 600 * sec);
    r.handle_timeout(flush);
    let after = wans_at(&mut r, flush + sec, &conns);
    let moved: Vec<usize> = (0..conns.len()).filter(|&i| after[i] != first[i]).collect();
    assert!(moved.len() > conns.len() / 5, "{} moved", moved.len());
    for &i in &moved {
        let (h, sp, s, dp) = conns[i];
        let t = syn(h, sp, s, dp).tuple;
        assert_eq!(r.moved(&t), Some(pccsim::router::conntrack::Moved::Ecmp));
    }
}

#[test]
fn v7_ecmp_hashes_addresses_or_ports_and_never_moves_a_connection() {
    let routes = "/ip route add gateway=192.168.1.1\n/ip route add gateway=192.168.2.1\n";
    for (policy, per_pair) in [("l3", true), ("l4", false)] {
        let settings = format!("/ip settings set ipv4-multipath-hash-policy={policy}\n");
        let mut r = ecmp_router(&format!("{settings}{routes}"));
        let conns = tuples(3_000, 7);
        let first = wans_at(&mut r, 0, &conns);
        let isp1 = first.iter().filter(|&&w| w == 0).count() as f64 / first.len() as f64;
        assert!(
            (0.45..0.55).contains(&isp1),
            "{policy}: ISP1 took {isp1:.3}"
        );
        let mut pair_wans: HashMap<_, HashSet<u8>> = HashMap::new();
        for (c, w) in conns.iter().zip(&first) {
            pair_wans.entry((c.0, c.2)).or_default().insert(*w);
        }
        let split_pairs = pair_wans.values().filter(|w| w.len() > 1).count();
        assert_eq!(
            split_pairs == 0,
            per_pair,
            "{policy}: {split_pairs} pairs split"
        );
        let later = wans_at(&mut r, 3_600_000_000_000, &conns);
        assert_eq!(later, first, "{policy}: no cache to flush");
    }
}

#[test]
fn interface_lists_and_nat_state_work_as_in_routeros_7s_default_configuration() {
    // v7's default firewall: masquerade out of the WAN list (not into IPsec), and drop new
    // connections from the WAN list that no dst-nat let in.
    let mut r = router("scenarios/weighted_5_2.rsc", |t| {
        let lists = "/interface list\nadd name=WAN\nadd name=LAN\n/interface list member\n\
            add interface=WAN1-Fibre list=WAN\nadd interface=WAN2-Cable list=WAN\n\
            add interface=WAN3-LTE list=WAN\nadd interface=LAN list=LAN\n";
        let masquerade = "add chain=srcnat out-interface=WAN1-Fibre action=masquerade\n\
            add chain=srcnat out-interface=WAN2-Cable action=masquerade\n\
            add chain=srcnat out-interface=WAN3-LTE action=masquerade";
        let filter = "/ip firewall filter\nadd action=drop chain=forward connection-state=new \
            connection-nat-state=!dstnat in-interface-list=WAN\n";
        let text = t.replace(
            masquerade,
            "add chain=srcnat action=masquerade ipsec-policy=out,none out-interface-list=WAN",
        );
        format!("{lists}{text}\n{filter}")
    });
    let lan = r.config.iface("LAN").unwrap();
    let wan1 = r.config.iface("WAN1-Fibre").unwrap();
    let server = Ipv4Addr::new(93, 184, 216, 34);
    let mut p = syn(Ipv4Addr::new(10, 10, 0, 23), 51514, server, 443);
    let out = out_iface(&mut r, 0, lan, &mut p);
    let wan_address = r
        .config
        .addresses
        .iter()
        .find(|a| a.iface == out)
        .unwrap()
        .address;
    assert_eq!(p.tuple.src, wan_address, "masqueraded through the WAN list");
    // A customer reaching the port-forwarded web server gets in ...
    let fibre = Ipv4Addr::new(203, 0, 113, 2);
    let mut inbound = syn(Ipv4Addr::new(198, 18, 0, 9), 40000, fibre, 443);
    assert_eq!(out_iface(&mut r, 1, wan1, &mut inbound), lan);
    assert_eq!(inbound.tuple.dst, Ipv4Addr::new(10, 10, 0, 5));
    // ... a connection straight to a LAN host does not.
    let mut probe = syn(
        Ipv4Addr::new(198, 18, 0, 9),
        40001,
        Ipv4Addr::new(10, 10, 0, 23),
        22,
    );
    assert!(matches!(r.receive(2, wan1, &mut probe), Verdict::Drop(_)));
}

/// A TCP packet from `src` to `dst` with these flags.
fn tcp(src: (Ipv4Addr, u16), dst: (Ipv4Addr, u16), flags: TcpFlags) -> Packet {
    let t = FiveTuple {
        src: src.0,
        dst: dst.0,
        src_port: src.1,
        dst_port: dst.1,
        protocol: Protocol::Tcp,
    };
    Packet::tcp(t, 0, flags, 1, 1, 0)
}

#[test]
fn tcp_packets_that_cannot_open_a_connection_are_invalid_and_leave_no_entry() {
    // The config's own "drop invalid" filter rule, as RouterOS's default firewall has it.
    let with_drop = |t: &str| {
        format!(
            "{t}\n/ip firewall filter\nadd chain=forward connection-state=invalid action=drop\n"
        )
    };
    let mut r = router("scenarios/dual_wan.rsc", with_drop);
    let lan = r.config.iface("LAN").unwrap();
    let host = (Ipv4Addr::new(10, 0, 0, 23), 40_000);
    let server = (Ipv4Addr::new(93, 184, 216, 34), 443);
    let ack = TcpFlags::ACK;
    for flags in [
        TcpFlags::SYN | ack,
        TcpFlags::FIN | ack,
        TcpFlags::RST,
        TcpFlags::RST | ack,
    ] {
        let mut p = tcp(host, server, flags);
        assert_eq!(
            r.receive(0, lan, &mut p),
            Verdict::Drop(pccsim::router::DropReason::Filtered),
            "{flags:?}"
        );
        assert_eq!(r.conntrack.len(), 0, "{flags:?} made an entry");
    }
    // A plain ACK is picked up mid-stream: loose tracking, on by default.
    let mut p = tcp(host, server, ack);
    assert!(matches!(r.receive(0, lan, &mut p), Verdict::Forward(_)));
    assert_eq!(r.conntrack.len(), 1);
    let (_, e) = r.conntrack.iter().next().unwrap();
    assert_eq!(e.state, pccsim::router::conntrack::State::Established);

    // Without loose tracking it is invalid too.
    let strict =
        |t: &str| with_drop(t) + "/ip firewall connection tracking\nset loose-tcp-tracking=no\n";
    let mut r = router("scenarios/dual_wan.rsc", strict);
    let mut p = tcp(host, server, ack);
    assert_eq!(
        r.receive(0, lan, &mut p),
        Verdict::Drop(pccsim::router::DropReason::Filtered)
    );
    assert_eq!(r.conntrack.len(), 0);
    // A SYN still opens one.
    let mut p = tcp(host, server, TcpFlags::SYN);
    assert!(matches!(r.receive(0, lan, &mut p), Verdict::Forward(_)));
    assert_eq!(r.conntrack.len(), 1);
}

#[test]
fn an_invalid_packet_is_not_natted_when_no_rule_drops_it() {
    let mut r = router("scenarios/dual_wan.rsc", |t| t.to_string());
    let lan = r.config.iface("LAN").unwrap();
    let host = (Ipv4Addr::new(10, 0, 0, 23), 40_000);
    let mut p = tcp(host, (Ipv4Addr::new(93, 184, 216, 34), 443), TcpFlags::FIN);
    assert!(matches!(r.receive(0, lan, &mut p), Verdict::Forward(_)));
    // No entry, so no masquerade: it leaves with the host's private address.
    assert_eq!((p.tuple.src, p.tuple.src_port), host);
    assert_eq!(r.conntrack.len(), 0);
}

/// A run of rules with the same connection-mark test is skipped as one when the mark fails it
/// — a rule's mark changing inside the run included — and every counter, `nth`'s own too,
/// is what walking each rule gives.
#[test]
fn rules_that_fail_together_are_skipped_with_every_count_kept() {
    let config = "\
/interface set ether1 name=ISP1
/interface set ether3 name=LAN
/ip address add address=192.168.1.2/24 interface=ISP1
/ip address add address=10.0.0.1/24 interface=LAN
/ip firewall mangle
add chain=prerouting in-interface=LAN connection-mark=no-mark nth=2,1 \\
    action=mark-connection new-connection-mark=a
add chain=prerouting in-interface=LAN connection-mark=no-mark \\
    action=mark-connection new-connection-mark=b
add chain=prerouting in-interface=LAN connection-mark=no-mark \\
    action=mark-connection new-connection-mark=c
add chain=prerouting in-interface=LAN connection-mark=a action=passthrough
add chain=prerouting in-interface=LAN connection-mark=no-mark action=passthrough
add chain=prerouting in-interface=LAN connection-mark=b action=passthrough
/ip route add gateway=192.168.1.1
/ip firewall nat add chain=srcnat out-interface=ISP1 action=masquerade
";
    let mut r = Router::new(routeros::load("runs.rsc", config).unwrap());
    let lan = r.config.iface("LAN").unwrap();
    let n = 1_000u64;
    let server = Ipv4Addr::new(93, 184, 216, 34);
    for i in 0..n {
        let mut p = syn(Ipv4Addr::new(10, 0, 0, 10), 40_000 + i as u16, server, 443);
        out_iface(&mut r, 0, lan, &mut p);
        // The connection's second packet comes marked: the three no-mark rules fail at once.
        p = syn(Ipv4Addr::new(10, 0, 0, 10), 40_000 + i as u16, server, 443);
        p.flags = TcpFlags::ACK;
        out_iface(&mut r, 1, lan, &mut p);
    }
    let counts: Vec<u64> = r.counts.mangle.rules.iter().map(|c| c.packets).collect();
    // First packets: every second marked a by rule 1, the others b by rule 2; rule 3 and the
    // later no-mark rule never match; then each connection's two packets meet its mark's rule.
    assert_eq!(counts, [n / 2, n / 2, 0, n, 0, n]);
    // nth counts the packets that reached it: the unmarked ones only.
    assert_eq!(r.counts.mangle.rules[0].nth, n);
}
