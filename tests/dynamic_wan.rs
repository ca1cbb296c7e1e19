//! WANs that get their address from the ISP: a DHCP client takes a lease, renews it at half
//! its length, loses it when the ISP renumbers, and what that does to connections and scripts.

mod common;

use pccsim::router::dhcp_client::{DhcpClients, Kind, Message};
use pccsim::units::SEC;
use pccsim::{Router, WorldBuilder, routeros};
use std::net::Ipv4Addr;

/// WAN1 static, WAN2 by DHCP (its default route from the lease, in `main` at distance 1:
/// connections PCC leaves unrouted take it), PCC 1:1; the
/// lease script keeps the lease address in an address list, as people's scripts keep state.
const CONFIG: &str = r#"
/interface ethernet set [ find default-name=ether1 ] name=WAN1
/interface ethernet set [ find default-name=ether2 ] name=WAN2
/interface ethernet set [ find default-name=ether3 ] name=LAN
/ip address add address=192.168.1.2/24 interface=WAN1
/ip address add address=10.0.0.1/24 interface=LAN
/ip dhcp-client add interface=WAN2 add-default-route=yes default-route-distance=1 \
    script=":if (\$bound=1) do={ /ip firewall address-list add list=leased address=\$\"lease-address\" comment=\$\"gateway-address\" }"
/routing table add name=to_wan1 fib
/routing table add name=to_wan2 fib
/ip route add gateway=192.168.1.1 distance=2
/ip route add gateway=192.168.1.1 routing-table=to_wan1
/ip firewall mangle
add chain=prerouting in-interface=LAN connection-mark=no-mark dst-address-type=!local per-connection-classifier=both-addresses-and-ports:2/0 action=mark-connection new-connection-mark=c1
add chain=prerouting in-interface=LAN connection-mark=no-mark dst-address-type=!local per-connection-classifier=both-addresses-and-ports:2/1 action=mark-connection new-connection-mark=c2
add chain=prerouting in-interface=LAN connection-mark=c1 action=mark-routing new-routing-mark=to_wan1
/ip firewall nat
add chain=srcnat out-interface=WAN1 action=masquerade
add chain=srcnat out-interface=WAN2 action=masquerade
"#;

const SCENARIO: &str = r#"Scenario(
    name: "dhcp",
    seed: 3,
    duration: "6m",
    router: Inline(""),
    wans: [
        (port: "WAN1", isp: "fibre", gateway: "192.168.1.1", down: "50Mbit", up: "50Mbit",
         latency: "2ms", queue: Packets(200)),
        (port: "WAN2", isp: "cable", gateway: "100.64.7.1", down: "50Mbit", up: "50Mbit",
         latency: "2ms", queue: Packets(200),
         addressing: Dhcp(pool: "100.64.7.0/24", lease: "2m")),
    ],
    lan: (port: "LAN", hosts: 10, first_host: "10.0.0.10"),
    internet: (servers: 200, server_latency: ("5ms", "20ms")),
    apps: [
        (name: "web", per_host_per_minute: 10.0,
         kind: Tcp(port: 443, request: Fixed("700B"), response: LogNormal(median: "30KiB", sigma: 1.0))),
        // Long-lived flows: some are surely open on the old address when it changes.
        (name: "tunnel", per_host_per_minute: 1.0,
         kind: UdpStream(port: 4500, packet: "120B", interval: "5s", duration: ("3m", "5m"))),
    ],
    timeline: [(at: "3m10s", wan: "cable", what: NewAddress)],
)"#;

fn world() -> pccsim::scenario::Loaded {
    let scenario = pccsim::scenario::parse("dhcp.ron", SCENARIO).unwrap();
    WorldBuilder::new(scenario, CONFIG)
        .build()
        .unwrap_or_else(|e| panic!("{e:?}"))
}

#[test]
fn a_dhcp_client_discovers_requests_and_renews_at_half_the_lease() {
    let cfg = routeros::load("t.rsc", CONFIG).unwrap();
    let wan2 = cfg.iface("WAN2").unwrap();
    let mut r = Router::new(cfg);
    r.handle_timeout(0);
    let (hop, discover) = r.poll_transmit().expect("a DISCOVER at start");
    assert_eq!(hop.iface, wan2);
    assert_eq!(Message::of(&discover).unwrap().kind, Kind::Discover);
    let gateway = Ipv4Addr::new(100, 64, 7, 1);
    let server = |kind, address: [u8; 4]| {
        let m = Message {
            kind,
            address: address.into(),
            prefix_len: 24,
            lease_secs: 120,
        };
        m.to_packet(gateway, Ipv4Addr::BROADCAST)
    };
    // The OFFER is answered by a REQUEST for it; the ACK binds the address and the route.
    let mut offer = server(Kind::Offer, [100, 64, 7, 2]);
    r.receive(SEC / 100, wan2, &mut offer);
    let (_, request) = r.poll_transmit().expect("a REQUEST");
    let request = Message::of(&request).unwrap();
    assert_eq!(
        (request.kind, request.address),
        (Kind::Request, Ipv4Addr::new(100, 64, 7, 2))
    );
    let mut ack = server(Kind::Ack, [100, 64, 7, 2]);
    r.receive(SEC / 50, wan2, &mut ack);
    let leased = r.config.address_of(wan2).expect("the lease's address");
    assert_eq!(
        (leased.address, leased.prefix_len),
        (Ipv4Addr::new(100, 64, 7, 2), 24)
    );
    let route = r
        .config
        .routes
        .iter()
        .find(|r| r.prefix_len == 0 && r.distance == 1);
    assert!(
        route.is_some(),
        "the default route from the lease, at distance 1"
    );
    let leased = leased.address;
    let events: Vec<_> = std::iter::from_fn(|| r.poll_event()).collect();
    assert!(
        matches!(&events[..], [pccsim::router::Event::Address(c)] if c.after == Some(leased)),
        "{events:?}"
    );
    // T1 is half the lease: the renewal goes to the server itself.
    assert_eq!(r.poll_timeout(), Some(SEC / 50 + 60 * SEC));
    r.handle_timeout(SEC / 50 + 60 * SEC);
    let (_, renew) = r.poll_transmit().expect("a renewal");
    assert_eq!(renew.tuple.dst, gateway);
    assert_eq!(renew.tuple.src, Ipv4Addr::new(100, 64, 7, 2));
    // With no answer, the lease ends and takes the address and route with it.
    let clients: &DhcpClients = &r.dhcp;
    assert_eq!(clients.clients.len(), 1);
    let mut t = SEC / 50 + 60 * SEC;
    while let Some(next) = r.poll_timeout().filter(|&n| n <= SEC / 50 + 121 * SEC) {
        t = next.max(t);
        r.handle_timeout(t);
    }
    assert!(r.config.address_of(wan2).is_none(), "the lease ended");
}

#[test]
fn a_renumbered_dhcp_wan_breaks_its_connections_as_address_changed_and_runs_the_script() {
    let ran = common::run(&world(), 6 * 60 * SEC);
    let s = &ran.summary;
    // The lease came at once and was renewed at 1m, 2m, 3m…: the WAN carried connections.
    let cable = s.wans.iter().find(|w| w.isp == "cable").unwrap();
    assert!(cable.connections > 100, "{}", cable.connections);
    // At 3m10s the ISP renumbered; the renewal at 4m was refused and a new lease taken.
    let wan2 = ran.router.config.iface("WAN2").unwrap();
    assert_eq!(
        ran.router.config.address_of(wan2).unwrap().address,
        Ipv4Addr::new(100, 64, 7, 3)
    );
    // The script saw both leases, each with its gateway.
    let leased = ran.router.config.address_lists.find("leased").unwrap();
    let entries: Vec<_> = ran
        .router
        .config
        .address_list_entries
        .iter()
        .filter(|e| e.list == leased)
        .map(|e| (e.range.text(), e.comment.clone().unwrap_or_default()))
        .collect();
    assert_eq!(
        entries,
        [
            ("100.64.7.2".to_string(), "100.64.7.1".to_string()),
            ("100.64.7.3".into(), "100.64.7.1".into())
        ]
    );
    // Connections open on the old address broke for that reason, and no others broke by it.
    let by_cause = &s.connections.broken_by_cause;
    assert!(
        by_cause.get("address-changed").copied().unwrap_or(0) > 0,
        "{by_cause:?}"
    );
    assert!(s.script_errors.is_empty(), "{:?}", s.script_errors);
    // Scripts read the lease as RouterOS shows it.
    let said = pccsim::inspect::exec(
        &ran.router,
        "x.rsc",
        ":put [/ip dhcp-client get [find interface=WAN2] address]\n:put [/ip dhcp-client get [find interface=WAN2] status]",
    )
    .unwrap();
    assert_eq!(said, ["100.64.7.3/24", "bound"]);
}

#[test]
fn a_pppoe_session_that_drops_comes_back_with_a_new_address_and_runs_its_profiles_scripts() {
    let loaded = common::scenario("pppoe_dhcp.ron");
    let ran = common::run(&loaded, 6 * 60 * SEC);
    let cfg = &ran.router.config;
    // Each session's on-up script listed the address it came up with: the fibre twice, the
    // second time with the concentrator's next address.
    let up = cfg.address_lists.find("wan-up").unwrap();
    let mut sessions: Vec<(String, String)> = cfg
        .address_list_entries
        .iter()
        .filter(|e| e.list == up)
        .map(|e| (e.comment.clone().unwrap_or_default(), e.range.text()))
        .collect();
    sessions.sort();
    let s = |iface: &str, ip: &str| (iface.to_string(), ip.to_string());
    assert_eq!(
        sessions,
        [
            s("pppoe-dsl", "100.66.0.2"),
            s("pppoe-fibre", "100.65.0.2"),
            s("pppoe-fibre", "100.65.0.3")
        ]
    );
    let fibre = cfg.iface("pppoe-fibre").unwrap();
    assert_eq!(
        cfg.address_of(fibre).unwrap().address,
        Ipv4Addr::new(100, 65, 0, 3)
    );
    // The session dropped 10 s (the keepalive timeout) after the concentrator went silent,
    // and the WAN was used again as soon as a new session came up at 5 min.
    let f = &ran.summary.failover[0];
    assert_eq!((f.wan.as_str(), f.kind.as_str()), ("pppoe-fibre", "pppoe"));
    assert!(
        (f.detected_at_s.unwrap() - 190.0).abs() < 0.1,
        "{:?}",
        f.detected_at_s
    );
    assert!(
        (f.failback_at_s.unwrap() - 300.0).abs() < 0.1,
        "{:?}",
        f.failback_at_s
    );
    // Connections masqueraded out of the fibre were forgotten when its interface went down,
    // and broke for that reason; the LTE backup, at distance 3, carried nothing.
    let by_cause = &ran.summary.connections.broken_by_cause;
    assert!(
        by_cause.get("wan-down-flush").copied().unwrap_or(0) > 0,
        "{by_cause:?}"
    );
    let lte = ran.summary.wans.iter().find(|w| w.isp == "lte").unwrap();
    assert_eq!(lte.connections, 0);
    let lte_iface = cfg.iface("lte1").unwrap();
    assert!(
        cfg.address_of(lte_iface).is_some(),
        "the carrier gave the modem its address"
    );
}

#[test]
fn a_dhcp_clients_check_gateway_pings_the_leased_gateway() {
    let cfg = routeros::load(
        "t.rsc",
        "/ip dhcp-client add interface=ether1 check-gateway=ping\n/ip address add address=10.0.0.1/24 interface=ether3\n",
    )
    .unwrap();
    let wan = cfg.iface("ether1").unwrap();
    let mut r = Router::new(cfg);
    let gateway = Ipv4Addr::new(100, 64, 0, 1);
    let server = |kind| {
        let m = Message {
            kind,
            address: Ipv4Addr::new(100, 64, 0, 2),
            prefix_len: 24,
            lease_secs: 3600,
        };
        m.to_packet(gateway, Ipv4Addr::BROADCAST)
    };
    r.handle_timeout(0);
    r.receive(SEC / 100, wan, &mut server(Kind::Offer));
    r.receive(SEC / 50, wan, &mut server(Kind::Ack));
    let route = r
        .config
        .routes
        .iter()
        .find(|r| r.prefix_len == 0)
        .expect("the lease's route");
    assert_eq!(
        route.check_gateway,
        Some(pccsim::router::routing::CheckGateway::Ping)
    );
    // The next check-gateway round pings the leased gateway.
    let mut out = Vec::new();
    let mut t = SEC / 50;
    while out.is_empty() && t < 30 * SEC {
        t = r.poll_timeout().unwrap().max(t);
        r.handle_timeout(t);
        out.extend(std::iter::from_fn(|| r.poll_transmit()));
    }
    assert!(
        out.iter()
            .any(|(_, p)| p.tuple.dst == gateway
                && p.tuple.protocol == pccsim::packet::Protocol::Icmp),
        "{out:?}"
    );
}
