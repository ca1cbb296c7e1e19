//! The simulated world around the router: LAN hosts and the connections they open
//! ([`flow`], with [`tcp`]), the links on the router's ports ([`link`], with [`pcap`] captures),
//! the ISPs ([`isp`]: access line, gateway, upstream) and the internet ([`topology`]), the traffic ([`workload`]), and the [`engine`] that
//! advances it all in simulated time. [`builder`] makes a world from a scenario file or in code.

pub mod builder;
pub mod engine;
pub mod flow;
pub mod isp;
pub mod link;
pub mod pcap;
pub mod tcp;
pub mod topology;
pub mod workload;
