//! The LAN on the router's LAN port: its subnet, where the hosts live, and the cable between
//! them and the router. The hosts themselves are the client ends of the flows
//! ([`crate::world::flow`]); their addresses and sessions come from the workload.

use crate::router::firewall::{AddrRange, IfaceId};
use crate::world::link::{Link, Wire};

pub struct Lan {
    /// The router port it is plugged into.
    pub iface: IfaceId,
    /// The LAN's subnet: no ISP routes to it.
    pub subnet: AddrRange,
    pub link: Link<Wire>,
}
