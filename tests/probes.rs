//! The router's own probes (netwatch, check-gateway) pass its firewall and NAT like any
//! connection: fed to the router directly, the WAN each probe leaves by and its source address
//! say whether a failover strands them.

use pccsim::packet::Packet;
use pccsim::router::routing::Hop;
use pccsim::units::SEC;
use pccsim::{Router, routeros};
use std::net::Ipv4Addr;

/// The guide's dual WAN in RouterOS 7 words, with its `chain=output` rules that route the
/// router's own connections by their connection marks. WAN1's marked table fails over to WAN2
/// when check-gateway loses WAN1's gateway; netwatch's host is pinned to WAN1 in `main`.
const GUIDE_WITH_OUTPUT_MARKS: &str = "
/interface ethernet set [ find default-name=ether1 ] name=WAN1
/interface ethernet set [ find default-name=ether2 ] name=WAN2
/interface ethernet set [ find default-name=ether3 ] name=LAN
/routing table add name=to_wan1 fib
/routing table add name=to_wan2 fib
/ip address add address=192.168.1.2/24 interface=WAN1
/ip address add address=192.168.2.2/24 interface=WAN2
/ip address add address=10.0.0.1/24 interface=LAN
/ip firewall mangle
add chain=prerouting in-interface=WAN1 connection-mark=no-mark action=mark-connection new-connection-mark=wan1_conn
add chain=prerouting in-interface=WAN2 connection-mark=no-mark action=mark-connection new-connection-mark=wan2_conn
add chain=prerouting in-interface=LAN connection-mark=no-mark dst-address-type=!local per-connection-classifier=both-addresses:2/0 action=mark-connection new-connection-mark=wan1_conn
add chain=prerouting in-interface=LAN connection-mark=no-mark dst-address-type=!local per-connection-classifier=both-addresses:2/1 action=mark-connection new-connection-mark=wan2_conn
add chain=prerouting in-interface=LAN connection-mark=wan1_conn action=mark-routing new-routing-mark=to_wan1
add chain=prerouting in-interface=LAN connection-mark=wan2_conn action=mark-routing new-routing-mark=to_wan2
add chain=output connection-mark=wan1_conn action=mark-routing new-routing-mark=to_wan1
add chain=output connection-mark=wan2_conn action=mark-routing new-routing-mark=to_wan2
/ip route
add gateway=192.168.1.1 routing-table=to_wan1 check-gateway=ping
add gateway=192.168.2.1 routing-table=to_wan1 distance=2
add gateway=192.168.2.1 routing-table=to_wan2
add gateway=192.168.1.1 distance=1 check-gateway=ping
add gateway=192.168.2.1 distance=2
add dst-address=9.9.9.9/32 gateway=192.168.1.1
/ip firewall nat
add chain=srcnat out-interface=WAN1 action=masquerade
add chain=srcnat out-interface=WAN2 action=masquerade
/tool netwatch add host=9.9.9.9 interval=5s timeout=2s
";

const HOST: Ipv4Addr = Ipv4Addr::new(9, 9, 9, 9);

fn router(text: &str) -> Router {
    Router::new(routeros::load("probes.rsc", text).unwrap_or_else(|e| panic!("{e}")))
}

/// The netwatch probes the router sends at `now`, with the interface each leaves by.
fn probes(r: &mut Router, now: u64) -> Vec<(Hop, Packet)> {
    r.handle_timeout(now);
    let sent = std::iter::from_fn(|| r.poll_transmit());
    sent.filter(|(_, p)| p.tuple.dst == HOST).collect()
}

#[test]
fn a_probe_marked_by_pcc_moves_when_its_wan_fails_as_linux_masquerade_does() {
    let mut r = router(GUIDE_WITH_OUTPUT_MARKS);
    let (wan1, wan2) = (
        r.config.iface("WAN1").unwrap(),
        r.config.iface("WAN2").unwrap(),
    );
    let first = probes(&mut r, 0);
    assert_eq!(first.len(), 1);
    let (hop, ping) = first[0];
    assert_eq!(hop.iface, wan1);
    assert_eq!(ping.tuple.src, Ipv4Addr::new(192, 168, 1, 2));
    // The answer comes in by WAN1: the `in-interface=WAN1` rule marks the probe's connection,
    // and from then on the output rules route it by `to_wan1`.
    let mut reply = ping.echo_reply();
    r.receive(SEC / 50, wan1, &mut reply);

    // WAN1's gateway dies. The probe's connection is routed by `to_wan1`, now out of WAN2,
    // still with WAN1's address: it could never be answered. RouterOS 7 (Linux's
    // nf_nat_oif_changed) drops it and forgets the connection…
    r.set_gateway_reachable(Ipv4Addr::new(192, 168, 1, 1), false);
    let moved = probes(&mut r, 5 * SEC);
    assert!(
        moved
            .iter()
            .all(|(h, p)| h.iface != wan2 || p.tuple.src != ping.tuple.src),
        "a probe left WAN2 with WAN1's address: {moved:?}"
    );
    // …so the next one starts afresh, unmarked, and goes where `main` pins its host: it tests
    // WAN1, as the configuration meant.
    let fresh = probes(&mut r, 10 * SEC);
    assert_eq!(fresh.len(), 1);
    assert_eq!(fresh[0].0.iface, wan1);
    assert_eq!(fresh[0].1.tuple.src, Ipv4Addr::new(192, 168, 1, 2));
}
