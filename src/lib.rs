//! pccsim: a packet-level discrete-event simulator of a MikroTik RouterOS router doing PCC
//! (per-connection-classifier) load balancing across several WAN links.
//!
//! Data flows one way: a [`scenario`] (the world around the router) and a RouterOS script
//! ([`routeros`] → [`RouterConfig`]) become a [`world`] run by its [`Simulation`], which drives
//! the [`Router`] state machine with packets and collects [`metrics`]; [`report`] turns those
//! into tables, JSON, CSV and charts. The analyses [`check`] and [`trace`] read a configuration
//! without simulating.
//!
//! The folders are the layers: `routeros/` reads configurations, `router/` is the sans-IO router
//! and its parts (firewall, conntrack, routing, NAT, PCC), `world/` is everything around it,
//! `report/` writes what people read.

// Errors carry their file's text for the snippet; they are rare, so their size does not matter.
#![allow(clippy::result_large_err)]

pub mod check;
pub mod compare;
pub mod error;
pub mod init;
pub mod input;
pub mod inspect;
pub mod lesson;
pub mod packet;
pub mod provenance;
pub mod report;
pub mod router;
pub mod routeros;
pub mod scenario;
pub mod trace;
pub mod units;
pub mod world;

pub use error::Error;
pub use router::config::RouterConfig;
pub use router::{DropReason, Router, Verdict};
pub use scenario::Scenario;
pub use world::builder::WorldBuilder;
pub use world::engine::{Run, Simulation, simulate};
pub use world::metrics;
