//! The simulated world around the router: the [`lan`] and the connections its hosts open
//! ([`flow`], with [`tcp`], and a call's [`quality`]), the links on the router's ports ([`link`], with [`pcap`] captures),
//! the ISPs ([`isp`]: access line, gateway, upstream), the [`internet`] beyond them, the graph
//! they form ([`topology`]), the traffic ([`workload`], run as application [`session`]s), and the [`engine`] that
//! advances it all in simulated time, counting what happens in [`metrics`]. [`builder`] makes a
//! world from a scenario file or in code (the scenario itself is a plain description);
//! [`bottleneck`] runs the same TCP and links alone, as the dumbbell TCP is judged on.

pub mod bottleneck;
pub mod builder;
pub mod engine;
pub mod flow;
pub mod internet;
pub mod isp;
pub mod lan;
pub mod link;
pub mod metrics;
pub mod pcap;
pub mod quality;
pub mod session;
pub mod tcp;
pub mod topology;
pub mod workload;
