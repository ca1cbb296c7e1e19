//! One ISP as the world has it: the access line on a router port, the ISP's gateway at its far
//! end and the network beyond it up to the internet core. It knows what the timeline did to it
//! — carrier, a dead gateway, a dead upstream, an impairment — and what it lets through: its
//! gateway answers pings while alive and forwards while it and the upstream are, and it accepts
//! from the router only the address it assigned (anti-spoofing, BCP 38).

use crate::scenario::{Change, FailureKind};
use crate::units::Time;
use crate::world::link::{Link, Lossy, Wire};
use crate::world::topology;
use std::net::Ipv4Addr;

pub struct Isp {
    /// The router port it is plugged into.
    pub iface: crate::router::firewall::IfaceId,
    /// The router's address on this WAN: the only source the ISP accepts from it.
    pub address: Ipv4Addr,
    pub gateway: Ipv4Addr,
    pub access: Link<Lossy<Wire>>,
    /// One-way delay from the gateway to the internet core.
    pub upstream_latency: Time,
    gateway_alive: bool,
    upstream_alive: bool,
    /// The last time the timeline repaired it (0: never failed).
    recovered_at: Time,
    /// The access line's own loss and latency, restored when an impairment ends.
    base_loss: f64,
    base_latency: Time,
}

impl Isp {
    pub fn new(
        iface: crate::router::firewall::IfaceId,
        address: Ipv4Addr,
        gateway: Ipv4Addr,
        access: Link<Lossy<Wire>>,
        line: &topology::Link,
        upstream_latency: Time,
    ) -> Isp {
        Isp {
            iface,
            address,
            gateway,
            access,
            upstream_latency,
            gateway_alive: true,
            upstream_alive: true,
            recovered_at: 0,
            base_loss: line.loss,
            base_latency: line.latency,
        }
    }

    /// Some part of it is down.
    pub fn failed(&self) -> bool {
        !self.gateway_alive || !self.upstream_alive || !self.access.is_up()
    }

    /// Packets from the router get beyond the gateway, and the internet's get back to it.
    pub fn forwards(&self) -> bool {
        self.gateway_alive && self.upstream_alive
    }

    /// The gateway itself answers (pings to it get replies).
    pub fn gateway_answers(&self) -> bool {
        self.gateway_alive
    }

    pub fn recovered_at(&self) -> Time {
        self.recovered_at
    }

    /// What a change on the timeline does to this ISP's side of the world. (The router's side
    /// — its interface losing carrier — is the engine's to tell the router.)
    pub fn apply(&mut self, c: &Change, now: Time) {
        let was_failed = self.failed();
        match c.kind {
            FailureKind::Link => self.access.set_up(!c.down),
            FailureKind::Gateway => self.gateway_alive = !c.down,
            FailureKind::Upstream => self.upstream_alive = !c.down,
            FailureKind::Impairment => {
                let (loss, extra) = if c.down {
                    (c.loss, c.extra_latency)
                } else {
                    (self.base_loss, 0)
                };
                self.access.impair(loss, self.base_latency + extra);
            }
        }
        if was_failed && !self.failed() {
            self.recovered_at = now;
        }
    }
}
