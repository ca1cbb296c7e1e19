//! The world around the router as a graph: the LAN, the router, each ISP's gateway and
//! upstream, and the internet core, joined by links that carry their rates, latency, loss and
//! buffers. The engine builds its links from the edges; paths through the graph give each WAN's
//! base round-trip time, and later failure kinds (link, gateway, upstream) name nodes and edges
//! of it.

use crate::scenario::{Loaded, Queue};
use crate::units::Time;
use petgraph::algo::dijkstra;
use petgraph::graph::{EdgeIndex, NodeIndex, UnGraph};
use petgraph::visit::{EdgeFiltered, EdgeRef};

#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    Lan,
    Router,
    /// The ISP's gateway on WAN `wan`.
    Gateway {
        wan: usize,
    },
    /// The ISP's network between its gateway and the internet core.
    Upstream {
        wan: usize,
    },
    Internet,
}

/// A link: rates in each direction as seen from the router side, one-way latency.
#[derive(Clone, Debug, PartialEq)]
pub struct Link {
    /// Towards the router (bits/s); `None` for an unconstrained hop.
    pub inbound_bps: Option<u64>,
    /// Away from the router.
    pub outbound_bps: Option<u64>,
    pub latency: Time,
    pub loss: f64,
    pub queue: Queue,
}

pub struct Topology {
    pub graph: UnGraph<Node, Link>,
    pub lan: NodeIndex,
    pub router: NodeIndex,
    pub internet: NodeIndex,
    /// Per WAN, the edge router ↔ gateway and gateway ↔ upstream.
    pub access: Vec<EdgeIndex>,
    pub upstream: Vec<EdgeIndex>,
    pub lan_link: EdgeIndex,
}

impl Topology {
    pub fn new(loaded: &Loaded) -> Topology {
        let sc = &loaded.scenario;
        let mut g = UnGraph::new_undirected();
        let lan = g.add_node(Node::Lan);
        let router = g.add_node(Node::Router);
        let internet = g.add_node(Node::Internet);
        let lan_link = g.add_edge(
            lan,
            router,
            Link {
                inbound_bps: Some(sc.lan.bandwidth.0),
                outbound_bps: Some(sc.lan.bandwidth.0),
                latency: sc.lan.latency.0,
                loss: 0.0,
                // Switch ports buffer generously; the LAN is not the bottleneck here.
                queue: Queue::Packets(4096),
            },
        );
        let (mut access, mut upstream) = (Vec::new(), Vec::new());
        for (wan, w) in sc.wans.iter().enumerate() {
            let gateway = g.add_node(Node::Gateway { wan });
            let beyond = g.add_node(Node::Upstream { wan });
            access.push(g.add_edge(
                router,
                gateway,
                Link {
                    inbound_bps: Some(w.down.0),
                    outbound_bps: Some(w.up.0),
                    latency: w.latency.0,
                    loss: w.loss,
                    queue: w.queue,
                },
            ));
            upstream.push(g.add_edge(gateway, beyond, unconstrained(w.upstream_latency.0)));
            g.add_edge(beyond, internet, unconstrained(0));
        }
        Topology {
            graph: g,
            lan,
            router,
            internet,
            access,
            upstream,
            lan_link,
        }
    }

    pub fn link(&self, e: EdgeIndex) -> &Link {
        &self.graph[e]
    }

    /// One-way latency from the LAN to the internet core when only WAN `wan` is used.
    pub fn base_latency_via(&self, wan: usize) -> Option<Time> {
        let other_access = |e: petgraph::graph::EdgeReference<'_, Link>| {
            !self
                .access
                .iter()
                .enumerate()
                .any(|(i, &a)| i != wan && a == e.id())
        };
        let graph = EdgeFiltered::from_fn(&self.graph, other_access);
        let costs = dijkstra(&graph, self.lan, Some(self.internet), |e| {
            e.weight().latency
        });
        costs.get(&self.internet).copied()
    }
}

fn unconstrained(latency: Time) -> Link {
    Link {
        inbound_bps: None,
        outbound_bps: None,
        latency,
        loss: 0.0,
        queue: Queue::Packets(u32::MAX),
    }
}

#[cfg(test)]
mod tests {
    use crate::units::{MS, US};

    #[test]
    fn base_latency_follows_each_wan_alone() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/weighted_5_2.ron");
        let loaded = crate::world::builder::load(std::path::Path::new(path)).unwrap();
        let t = super::Topology::new(&loaded);
        // LAN 100 us + fibre 1 ms + upstream 2 ms; cable 8 + 4 ms.
        assert_eq!(t.base_latency_via(0), Some(100 * US + 3 * MS));
        assert_eq!(t.base_latency_via(1), Some(100 * US + 12 * MS));
    }
}
