//! The firewall features real configurations use beside PCC — TCP flags, ports, packet marks,
//! rate limits, address lists filled by rules, redirect — fed packets directly: the WAN each
//! packet leaves by says which rules matched.

use pccsim::packet::{FiveTuple, Packet, Protocol, TcpFlags};
use pccsim::units::SEC;
use pccsim::{DropReason, Router, Verdict, routeros};
use std::net::Ipv4Addr;

/// Two WANs; whatever mangle routing-marks `to_wan2` leaves by WAN2, the rest by WAN1.
const BASE: &str = "
/interface ethernet set [ find default-name=ether1 ] name=WAN1
/interface ethernet set [ find default-name=ether2 ] name=WAN2
/interface ethernet set [ find default-name=ether3 ] name=LAN
/ip address add address=192.168.1.2/24 interface=WAN1
/ip address add address=192.168.2.2/24 interface=WAN2
/ip address add address=10.0.0.1/24 interface=LAN
/routing table add name=to_wan2 fib
/ip route add gateway=192.168.1.1
/ip route add gateway=192.168.2.1 routing-table=to_wan2
/ip firewall nat add chain=srcnat out-interface=WAN1 action=masquerade
/ip firewall nat add chain=srcnat out-interface=WAN2 action=masquerade
";

fn router(rules: &str) -> Router {
    let text = format!("{BASE}{rules}");
    Router::new(routeros::load("t.rsc", &text).unwrap_or_else(|e| panic!("{e}")))
}

fn tuple(host: u8, sport: u16, dport: u16, protocol: Protocol) -> FiveTuple {
    FiveTuple {
        src: Ipv4Addr::new(10, 0, 0, host),
        dst: Ipv4Addr::new(93, 184, 216, 34),
        src_port: sport,
        dst_port: dport,
        protocol,
    }
}

/// The WAN (1 or 2) a packet from the LAN leaves by.
fn wan(r: &mut Router, now: u64, mut p: Packet) -> u8 {
    let lan = r.config.iface("LAN").unwrap();
    match r.receive(now, lan, &mut p) {
        Verdict::Forward(hop) if Some(hop.iface) == r.config.iface("WAN1") => 1,
        Verdict::Forward(hop) if Some(hop.iface) == r.config.iface("WAN2") => 2,
        other => panic!("not forwarded to a WAN: {other:?}"),
    }
}

fn tcp(t: FiveTuple, flags: TcpFlags) -> Packet {
    Packet::tcp(t, 0, flags, 0, 0, 0)
}

#[test]
fn tcp_flags_ports_and_packet_marks_choose_the_packets_they_name() {
    let mut r = router(
        "/ip firewall mangle
add chain=prerouting protocol=tcp tcp-flags=syn,!ack port=443 action=mark-packet new-packet-mark=tls-open passthrough=yes
add chain=prerouting packet-mark=tls-open action=mark-routing new-routing-mark=to_wan2
",
    );
    // The SYN to 443 is marked and routed by the mark; a data packet of the connection, and a
    // SYN to another port, are not. The data packet so turns to WAN1 with WAN2's address:
    // RouterOS 7 forgets the connection and drops the packet (its next one starts afresh).
    assert_eq!(
        wan(
            &mut r,
            0,
            tcp(tuple(5, 40000, 443, Protocol::Tcp), TcpFlags::SYN)
        ),
        2
    );
    let ack = TcpFlags::ACK | TcpFlags::PSH;
    let lan = r.config.iface("LAN").unwrap();
    let mut data = tcp(tuple(5, 40000, 443, Protocol::Tcp), ack);
    assert_eq!(
        r.receive(1, lan, &mut data),
        Verdict::Drop(DropReason::OutInterfaceChanged {
            to: r.config.iface("WAN1").unwrap(),
            why: None
        })
    );
    assert_eq!(
        wan(&mut r, 1, tcp(tuple(5, 40000, 443, Protocol::Tcp), ack)),
        1
    );
    assert_eq!(
        wan(
            &mut r,
            2,
            tcp(tuple(5, 40001, 80, Protocol::Tcp), TcpFlags::SYN)
        ),
        1
    );
    // `port` is either port: a packet from port 443 matches too.
    assert_eq!(
        wan(
            &mut r,
            3,
            tcp(tuple(6, 443, 9000, Protocol::Tcp), TcpFlags::SYN)
        ),
        2
    );
}

#[test]
fn a_rule_fills_an_address_list_whose_entries_expire() {
    let mut r = router(
        "/ip firewall mangle
add chain=prerouting protocol=tcp dst-port=22 action=add-src-to-address-list address-list=admins address-list-timeout=10s
add chain=prerouting src-address-list=admins action=mark-routing new-routing-mark=to_wan2
",
    );
    let syn = |host, sport, dport| tcp(tuple(host, sport, dport, Protocol::Tcp), TcpFlags::SYN);
    // The address joins the list after the packet that put it there has gone.
    assert_eq!(wan(&mut r, 0, syn(7, 50000, 22)), 1);
    // For ten seconds every new connection of that host follows the list; others do not.
    assert_eq!(wan(&mut r, SEC, syn(7, 50001, 80)), 2);
    assert_eq!(wan(&mut r, SEC, syn(8, 50001, 80)), 1);
    assert_eq!(wan(&mut r, 9 * SEC, syn(7, 50002, 80)), 2);
    // Then the entry has expired.
    assert_eq!(wan(&mut r, 11 * SEC, syn(7, 50003, 80)), 1);
    let list = r.config.address_lists.find("admins").unwrap();
    assert_eq!(r.env().dynamic_lists[list as usize].len(), 1);
}

#[test]
fn limit_passes_the_burst_then_the_rate() {
    let mut r = router(
        "/ip firewall mangle
add chain=prerouting protocol=udp limit=2/1s,3:packet action=mark-routing new-routing-mark=to_wan2
",
    );
    let udp = |port| Packet::udp(tuple(9, port, 5000, Protocol::Udp), 0, 0, 100);
    // Ten datagrams at once: the burst of three is within the limit.
    let at_once: Vec<u8> = (0..10).map(|i| wan(&mut r, 0, udp(1000 + i))).collect();
    assert_eq!(at_once, [2, 2, 2, 1, 1, 1, 1, 1, 1, 1]);
    // A second later, two more: the rate is two a second.
    let later: Vec<u8> = (0..4).map(|i| wan(&mut r, SEC, udp(2000 + i))).collect();
    assert_eq!(later, [2, 2, 1, 1]);
}

#[test]
fn redirect_sends_lan_dns_to_the_router() {
    let mut r = router(
        "/ip firewall nat add chain=dstnat protocol=udp dst-port=53 in-interface=LAN action=redirect to-ports=53\n",
    );
    let lan = r.config.iface("LAN").unwrap();
    let mut query = Packet::udp(tuple(4, 33000, 53, Protocol::Udp), 0, 0, 40);
    query.tuple.dst = Ipv4Addr::new(8, 8, 8, 8);
    assert_eq!(r.receive(0, lan, &mut query), Verdict::Local);
    assert_eq!(
        query.tuple.dst,
        Ipv4Addr::new(10, 0, 0, 1),
        "to the LAN port's address"
    );
}

#[test]
fn what_pccsim_cannot_test_exactly_is_read_with_its_assumption_on_the_rules_line() {
    let cfg = routeros::load(
        "t.rsc",
        &format!(
            "{BASE}/ip firewall mangle\nadd chain=forward protocol=tcp tcp-flags=syn action=change-mss new-mss=1400\nadd chain=prerouting layer7-protocol=games action=mark-routing new-routing-mark=to_wan2\n"
        ),
    )
    .unwrap();
    let found: Vec<_> = cfg.assumptions.iter().map(|a| (a.id, a.line)).collect();
    assert_eq!(
        found,
        [("action-not-simulated", 14), ("matcher-assumed", 15)]
    );
    assert!(cfg.assumptions[1].message.contains("never matches"));
}

#[test]
fn dynamic_entries_print_with_their_timeout_until_they_expire_and_scripts_can_remove_them() {
    let mut r = router(
        "/ip firewall mangle
add chain=prerouting protocol=tcp dst-port=22 action=add-src-to-address-list address-list=admins address-list-timeout=1m
",
    );
    let syn = |host, sport| tcp(tuple(host, sport, 22, Protocol::Tcp), TcpFlags::SYN);
    wan(&mut r, 0, syn(7, 50000));
    wan(&mut r, 10 * SEC, syn(8, 50001));
    let rows = pccsim::inspect::menu_items(&r, "ip firewall address-list").unwrap();
    let shown: Vec<_> = rows
        .iter()
        .map(|(_, p)| {
            let get = |k: &str| p.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
            (get("address").unwrap(), get("dynamic"), get("timeout"))
        })
        .collect();
    let d = |a: &str, t: &str| (a.to_string(), Some("yes".to_string()), Some(t.to_string()));
    assert_eq!(shown, [d("10.0.0.7", "50s"), d("10.0.0.8", "1m")]);
    // A script that removes the first leaves the second.
    pccsim::routeros::live::run_script(
        &mut r,
        "s.rsc",
        "/ip firewall address-list remove [find address=10.0.0.7]",
    )
    .unwrap();
    let rows = pccsim::inspect::menu_items(&r, "ip firewall address-list").unwrap();
    assert_eq!(rows.len(), 1);
    // At 75 s the second has expired too.
    wan(
        &mut r,
        75 * SEC,
        tcp(tuple(9, 50002, 80, Protocol::Tcp), TcpFlags::SYN),
    );
    assert!(
        pccsim::inspect::menu_items(&r, "ip firewall address-list")
            .unwrap()
            .is_empty()
    );
}

/// A generated chain of one rule per address (how WISPs mark customers) is indexed by address,
/// and the walk gives exactly what the rule-by-rule walk gives: the first matching rule in
/// order, a second rule for the same address tried after the first, the rules after the run.
#[test]
fn a_long_run_of_per_address_rules_matches_as_the_chain_reads() {
    let mut rules = String::from("/ip firewall mangle\n");
    rules.push_str("add chain=prerouting src-address=10.0.0.100 protocol=udp action=mark-routing new-routing-mark=to_wan2 passthrough=no\n");
    for h in 1..=250u8 {
        let action = if h % 2 == 1 {
            "action=mark-routing new-routing-mark=to_wan2 passthrough=no"
        } else {
            "action=accept"
        };
        rules.push_str(&format!(
            "add chain=prerouting src-address=10.0.0.{h} {action}\n"
        ));
    }
    rules.push_str("add chain=prerouting action=mark-routing new-routing-mark=to_wan2\n");
    let mut r = router(&rules);
    let expected = |h: u8, udp: bool| match h {
        100 if udp => 2,
        251.. => 2,
        h if h % 2 == 1 => 2,
        _ => 1,
    };
    for h in (1..=254u8).filter(|h| *h != 1) {
        for udp in [false, true] {
            let t = tuple(
                h,
                40_000,
                443,
                if udp { Protocol::Udp } else { Protocol::Tcp },
            );
            let p = if udp {
                Packet::udp(t, 0, 0, 100)
            } else {
                tcp(t, TcpFlags::SYN)
            };
            assert_eq!(wan(&mut r, 0, p), expected(h, udp), "10.0.0.{h} udp={udp}");
        }
    }
}
