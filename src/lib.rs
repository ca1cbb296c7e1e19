//! pccsim: a packet-level discrete-event simulator of a MikroTik RouterOS router doing PCC
//! (per-connection-classifier) load balancing across several WAN links.
//!
//! Data flows one way: a [`scenario`] (the world around the router) and a RouterOS script
//! ([`routeros`] → [`config::RouterConfig`]) become a [`engine::Simulation`], which drives the
//! [`router::Router`] state machine with packets and collects [`metrics`]; [`report`] turns
//! those into tables, JSON, CSV and charts.

// Errors carry their file's text for the snippet; they are rare, so their size does not matter.
#![allow(clippy::result_large_err)]

pub mod check;
pub mod config;
pub mod conntrack;
pub mod engine;
pub mod error;
pub mod firewall;
pub mod flow;
pub mod inspect;
pub mod link;
pub mod metrics;
pub mod nat;
pub mod packet;
pub mod pcap;
pub mod pcc;
pub mod report;
pub mod router;
pub mod routeros;
pub mod routing;
pub mod scenario;
pub mod tcp;
pub mod topology;
pub mod trace;
pub mod units;
pub mod workload;

pub use config::RouterConfig;
pub use engine::Simulation;
pub use error::Error;
pub use router::{Router, Verdict};
pub use scenario::Scenario;
