//! Routing tables and the routing decision.
//!
//! Routes sit in tables (`main` plus one per routing mark, v6, or declared table, v7). Connected
//! networks come from `/ip address` and live in `main` only, so a marked table holds exactly the
//! routes that name it — which is why a routing-marked reply to a LAN host leaves by the WAN.
//! A lookup takes the most specific active route, lowest distance first; a marked table with no
//! active route for the destination falls back to `main`, as in RouterOS v6 and v7.
//!
//! Whether a route is active (gateway resolvable, interface running, check-gateway passing) is
//! worked out once per change in [`Fib::recompute`], not per packet.
//!
//! A route may have several gateways (`gateway=A,B`, a gateway repeated for weight), and in v7
//! routes of one destination and distance share traffic: ECMP. The lookup then says which next
//! hops the route offers; choosing among them needs state (v6's routing cache) or the packet
//! (v7's hash), so [`crate::router::ecmp`] does it.

use crate::router::firewall::{IfaceId, TableId};
use std::net::Ipv4Addr;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gateway {
    Address(Ipv4Addr),
    Interface(IfaceId),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckGateway {
    Ping,
    Arp,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    pub dst: Ipv4Addr,
    pub prefix_len: u8,
    /// At least one; more make an ECMP route.
    pub gateways: Vec<Gateway>,
    pub distance: u8,
    pub table: TableId,
    pub check_gateway: Option<CheckGateway>,
    pub scope: u8,
    pub target_scope: u8,
    pub disabled: bool,
    /// Made from an `/ip address` rather than an `/ip route` line.
    pub connected: bool,
    pub line: u32,
    pub comment: Option<String>,
}

impl Route {
    /// A default route in `main` with RouterOS's defaults (scope 30, target-scope 10), as
    /// `/ip route add` and the clients that add routes (DHCP, PPPoE) make it.
    pub fn default_via(gateways: Vec<Gateway>, distance: u8, line: u32) -> Route {
        Route {
            dst: Ipv4Addr::UNSPECIFIED,
            prefix_len: 0,
            gateways,
            distance,
            table: TableId::MAIN,
            check_gateway: None,
            scope: 30,
            target_scope: 10,
            disabled: false,
            connected: false,
            line,
            comment: None,
        }
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        let mask = prefix_mask(self.prefix_len);
        u32::from(ip) & mask == u32::from(self.dst) & mask
    }
}

pub fn prefix_mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - len as u32)
    }
}

/// Where the routing decision sends a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hop {
    pub iface: IfaceId,
    /// The gateway to hand the packet to; `None` for a directly connected destination.
    pub gateway: Option<Ipv4Addr>,
    /// Index of the route chosen.
    pub route: u32,
    /// The route offers other next hops too ([`Fib::multipath`]).
    pub multipath: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Fib {
    pub routes: Vec<Route>,
    /// Per route, where it leads while active (its first usable gateway).
    active: Vec<Option<Hop>>,
    /// Per route, the range of `group_hops` a lookup that lands on it chooses among: empty
    /// unless there is more than one next hop.
    groups: Vec<(u32, u32)>,
    group_hops: Vec<Hop>,
    /// v7 spreads traffic over equal routes as well as over one route's gateways.
    equal_routes_share: bool,
    /// Per table, route indices: most specific first, then lowest distance.
    by_table: Vec<Vec<u32>>,
    iface_running: Vec<bool>,
    /// Gateways check-gateway currently finds unreachable.
    unreachable: Vec<Ipv4Addr>,
    /// Counts the recomputations, so a caller can tell that routes may have changed.
    generation: u64,
}

/// Recursive gateways resolve through at most this many routes.
const MAX_RECURSION: usize = 4;

/// Per gateway address and target scope, the routes of `main` that may lead to it.
type Vias = rustc_hash::FxHashMap<(Ipv4Addr, u8), Vec<u32>>;

impl Fib {
    pub fn new(routes: Vec<Route>, tables: usize, interfaces: usize) -> Fib {
        let mut by_table = vec![Vec::new(); tables.max(1)];
        for (i, r) in routes.iter().enumerate() {
            if !r.disabled {
                by_table[r.table.0 as usize].push(i as u32);
            }
        }
        for list in &mut by_table {
            list.sort_by_key(|&i| {
                let r = &routes[i as usize];
                (std::cmp::Reverse(r.prefix_len), r.distance, i)
            });
        }
        let mut fib = Fib {
            active: vec![None; routes.len()],
            groups: vec![(0, 0); routes.len()],
            group_hops: Vec::new(),
            equal_routes_share: false,
            routes,
            by_table,
            iface_running: vec![true; interfaces],
            unreachable: Vec::new(),
            generation: 0,
        };
        fib.recompute();
        fib
    }

    /// New routes (a script enabled, disabled or changed some); interface and check-gateway
    /// states stay.
    pub fn replace_routes(&mut self, routes: Vec<Route>, tables: usize) {
        let mut fresh = Fib::new(routes, tables, self.iface_running.len());
        fresh.equal_routes_share = self.equal_routes_share;
        fresh.iface_running = std::mem::take(&mut self.iface_running);
        fresh.unreachable = std::mem::take(&mut self.unreachable);
        fresh.generation = self.generation;
        fresh.recompute();
        *self = fresh;
    }

    /// Makes routes of one destination and distance share traffic (RouterOS 7).
    pub fn share_equal_routes(&mut self) {
        self.equal_routes_share = true;
        self.recompute();
    }

    /// Whether any route has more than one next hop just now.
    pub fn has_multipath(&self) -> bool {
        !self.group_hops.is_empty()
    }

    /// The next hops a packet that the lookup sent by `hop` may take instead, when its route
    /// offers more than one (weights as repeats); `None` for a single next hop.
    pub fn multipath(&self, hop: &Hop) -> Option<&[Hop]> {
        if !hop.multipath {
            return None;
        }
        let (from, to) = self.groups[hop.route as usize];
        (to > from).then(|| &self.group_hops[from as usize..to as usize])
    }

    /// The routing decision for a packet to `dst` carrying routing mark `table`.
    pub fn lookup(&self, table: TableId, dst: Ipv4Addr) -> Option<Hop> {
        self.lookup_in(table, dst)
            .or_else(|| (table != TableId::MAIN).then(|| self.lookup_in(TableId::MAIN, dst))?)
    }

    /// Looks only in `table`, without falling back to `main`.
    pub fn lookup_in(&self, table: TableId, dst: Ipv4Addr) -> Option<Hop> {
        let list = self.by_table.get(table.0 as usize)?;
        list.iter()
            .filter(|&&i| self.routes[i as usize].contains(dst))
            .find_map(|&i| self.active[i as usize])
    }

    /// Changes whenever which routes are active may have changed.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether the default route some table uses just now sends traffic out of `iface` (as its
    /// next hop, or one of several): the router counts on that interface as a way out. A
    /// standby route (a higher distance behind an active one) does not count.
    pub fn has_default_out(&self, iface: IfaceId) -> bool {
        let by = |h: &Hop| h.iface == iface;
        self.by_table.iter().any(|list| {
            let default = list.iter().find_map(|&i| {
                let active = self.active[i as usize];
                active.filter(|_| self.routes[i as usize].prefix_len == 0)
            });
            default.is_some_and(|h| {
                by(&h) || self.multipath(&h).is_some_and(|hops| hops.iter().any(by))
            })
        })
    }

    /// The route can carry traffic: enabled, interface running, gateway reachable.
    pub fn is_active(&self, route: u32) -> bool {
        self.active[route as usize].is_some()
    }

    /// The route is the one in use for its destination in its table: usable, and no usable
    /// route to the same prefix has a lower distance (RouterOS's `A` flag).
    pub fn is_selected(&self, route: u32) -> bool {
        let r = &self.routes[route as usize];
        let Some(list) = self.by_table.get(r.table.0 as usize) else {
            return false;
        };
        list.iter()
            .find(|&&i| {
                let o = &self.routes[i as usize];
                o.dst == r.dst && o.prefix_len == r.prefix_len && self.is_active(i)
            })
            .is_some_and(|&i| i == route)
    }

    pub fn is_running(&self, iface: IfaceId) -> bool {
        self.iface_running
            .get(iface as usize)
            .copied()
            .unwrap_or(true)
    }

    pub fn set_interface_running(&mut self, iface: IfaceId, running: bool) {
        self.iface_running[iface as usize] = running;
        self.recompute();
    }

    /// What check-gateway concluded about a gateway.
    pub fn set_gateway_reachable(&mut self, gateway: Ipv4Addr, reachable: bool) {
        self.unreachable.retain(|g| *g != gateway);
        if !reachable {
            self.unreachable.push(gateway);
        }
        self.recompute();
    }

    /// Works out which routes are active, where each leads, and which share traffic.
    pub fn recompute(&mut self) {
        self.generation += 1;
        self.active.iter_mut().for_each(|a| *a = None);
        // Connected routes first, then gateways resolved through what is already active.
        let vias = self.vias();
        for _ in 0..=MAX_RECURSION {
            let mut changed = false;
            for i in 0..self.routes.len() {
                if self.active[i].is_none() {
                    let hop = self.next_hops(i as u32, &vias).next();
                    changed |= hop.is_some();
                    self.active[i] = hop;
                }
            }
            // Nothing new became active: later passes would find nothing either.
            if !changed {
                break;
            }
        }
        self.group_routes(&vias);
    }

    /// For each gateway address and target scope the routes name, the routes of `main` that
    /// could lead to it, in lookup order (whether active or not): resolving a gateway then
    /// looks at a few routes, not the whole table.
    fn vias(&self) -> Vias {
        let mut vias = Vias::default();
        for r in &self.routes {
            for g in &r.gateways {
                let Gateway::Address(gw) = *g else { continue };
                vias.entry((gw, r.target_scope)).or_insert_with(|| {
                    let main = self.by_table.first().map_or(&[][..], Vec::as_slice);
                    let leads = |&&j: &&u32| {
                        let v = &self.routes[j as usize];
                        v.contains(gw) && v.scope <= r.target_scope
                    };
                    main.iter().filter(leads).copied().collect()
                });
            }
        }
        vias
    }

    /// For each active route, the next hops traffic it carries is spread over: its own usable
    /// gateways, and in v7 those of the active routes with the same destination and distance.
    fn group_routes(&mut self, vias: &Vias) {
        let mut hops = Vec::new();
        let mut groups = vec![(0, 0); self.routes.len()];
        // Active routes by table, destination and distance, each group in its table's order.
        let mut equal: rustc_hash::FxHashMap<_, Vec<u32>> = Default::default();
        if self.equal_routes_share {
            for list in &self.by_table {
                for &j in list.iter().filter(|&&j| self.active[j as usize].is_some()) {
                    let o = &self.routes[j as usize];
                    let key = (o.table.0, o.dst, o.prefix_len, o.distance);
                    equal.entry(key).or_default().push(j);
                }
            }
        }
        for (i, r) in self.routes.iter().enumerate() {
            if self.active[i].is_none() {
                continue;
            }
            let from = hops.len() as u32;
            let own = [i as u32];
            let key = (r.table.0, r.dst, r.prefix_len, r.distance);
            let peers = equal.get(&key).map_or(&own[..], Vec::as_slice);
            for &j in peers {
                // The hop keeps the route the lookup found, so the choice stays per route.
                hops.extend(self.next_hops(j, vias).map(|h| Hop {
                    route: i as u32,
                    ..h
                }));
            }
            if hops.len() as u32 - from > 1 {
                groups[i] = (from, hops.len() as u32);
                if let Some(hop) = &mut self.active[i] {
                    hop.multipath = true;
                }
            } else {
                hops.truncate(from as usize);
            }
        }
        self.groups = groups;
        self.group_hops = hops;
    }

    /// The usable next hops of route `i`, one per gateway (repeats kept).
    fn next_hops<'s>(&'s self, i: u32, vias: &'s Vias) -> impl Iterator<Item = Hop> + 's {
        let r = &self.routes[i as usize];
        let gateways = if r.disabled { &[][..] } else { &r.gateways[..] };
        gateways
            .iter()
            .filter_map(move |&g| self.resolve(i, r, g, vias))
    }

    fn resolve(&self, i: u32, r: &Route, gateway: Gateway, vias: &Vias) -> Option<Hop> {
        match gateway {
            Gateway::Interface(iface) => self.iface_running[iface as usize].then_some(Hop {
                iface,
                gateway: None,
                route: i,
                multipath: false,
            }),
            Gateway::Address(gw) => {
                if r.check_gateway.is_some() && self.unreachable.contains(&gw) {
                    return None;
                }
                // The gateway must be reachable through an active route of `main` whose scope
                // is within this route's target scope.
                let via = vias[&(gw, r.target_scope)]
                    .iter()
                    .filter(|&&j| j != i)
                    .find_map(|&j| self.active[j as usize])?;
                Some(Hop {
                    iface: via.iface,
                    gateway: Some(via.gateway.unwrap_or(gw)),
                    route: i,
                    multipath: false,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(dst: &str, gw: Gateway, distance: u8, table: u16) -> Route {
        let net: ipnet::Ipv4Net = dst.parse().unwrap();
        Route {
            dst: net.network(),
            prefix_len: net.prefix_len(),
            gateways: vec![gw],
            distance,
            table: TableId(table),
            check_gateway: Some(CheckGateway::Ping),
            scope: 30,
            target_scope: 10,
            disabled: false,
            connected: false,
            line: 0,
            comment: None,
        }
    }

    fn connected(dst: &str, iface: IfaceId) -> Route {
        Route {
            scope: 10,
            distance: 0,
            connected: true,
            check_gateway: None,
            ..route(dst, Gateway::Interface(iface), 0, 0)
        }
    }

    fn gw(s: &str) -> Gateway {
        Gateway::Address(s.parse().unwrap())
    }

    fn fib() -> Fib {
        Fib::new(
            vec![
                connected("192.168.1.0/24", 0),
                connected("192.168.2.0/24", 1),
                connected("10.0.0.0/24", 2),
                route("0.0.0.0/0", gw("192.168.1.1"), 1, 1),
                route("0.0.0.0/0", gw("192.168.2.1"), 1, 2),
                route("0.0.0.0/0", gw("192.168.1.1"), 1, 0),
                route("0.0.0.0/0", gw("192.168.2.1"), 2, 0),
            ],
            3,
            3,
        )
    }

    #[test]
    fn marked_table_sends_even_lan_destinations_to_its_gateway() {
        let f = fib();
        let lan_host = "10.0.0.23".parse().unwrap();
        assert_eq!(f.lookup(TableId(2), lan_host).unwrap().iface, 1);
        assert_eq!(f.lookup(TableId::MAIN, lan_host).unwrap().iface, 2);
    }

    #[test]
    fn lowest_distance_wins_and_check_gateway_fails_over() {
        let mut f = fib();
        let dst = "93.184.216.34".parse().unwrap();
        assert_eq!(f.lookup(TableId::MAIN, dst).unwrap().iface, 0);
        f.set_gateway_reachable("192.168.1.1".parse().unwrap(), false);
        assert_eq!(f.lookup(TableId::MAIN, dst).unwrap().iface, 1);
        // The WAN1 table has no active route left, so the lookup falls back to main.
        assert_eq!(f.lookup(TableId(1), dst).unwrap().iface, 1);
        assert_eq!(f.lookup_in(TableId(1), dst), None);
    }

    #[test]
    fn only_the_lowest_distance_usable_route_is_selected() {
        let mut f = fib();
        // Two default routes in main: distance 1 (index 5) is in use, distance 2 stands by.
        assert!(f.is_active(5) && f.is_active(6));
        assert!(f.is_selected(5) && !f.is_selected(6));
        assert!(f.is_selected(3), "alone in its table");
        f.set_gateway_reachable("192.168.1.1".parse().unwrap(), false);
        assert!(!f.is_selected(5) && f.is_selected(6));
    }

    #[test]
    fn interface_down_deactivates_its_routes() {
        let mut f = fib();
        f.set_interface_running(0, false);
        let dst = "93.184.216.34".parse().unwrap();
        assert_eq!(
            f.lookup(TableId::MAIN, dst).unwrap().gateway,
            "192.168.2.1".parse().ok()
        );
    }
}
