//! The packet as the router sees it: an IPv4 5-tuple, TCP flags and sequence numbers, a length on
//! the wire — and, out of the router's sight, the id of the simulated connection it belongs to.
//!
//! A packet is a small `Copy` value (40 bytes) so that queues and events move it without
//! allocating; the router rewrites its addresses in place when it applies NAT.

use std::fmt;
use std::net::Ipv4Addr;

/// IP protocol numbers the router distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Protocol {
    Icmp = 1,
    Tcp = 6,
    Udp = 17,
}

impl Protocol {
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Icmp => "icmp",
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }

    pub fn from_name(name: &str) -> Option<Protocol> {
        match name {
            "icmp" | "1" => Some(Protocol::Icmp),
            "tcp" | "6" => Some(Protocol::Tcp),
            "udp" | "17" => Some(Protocol::Udp),
            _ => None,
        }
    }
}

/// Source and destination address and port, and protocol: what connection tracking keys on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FiveTuple {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub src_port: u16,
    pub dst_port: u16,
    pub protocol: Protocol,
}

impl FiveTuple {
    /// The tuple of a packet travelling the other way.
    pub fn reversed(&self) -> FiveTuple {
        FiveTuple {
            src: self.dst,
            dst: self.src,
            src_port: self.dst_port,
            dst_port: self.src_port,
            protocol: self.protocol,
        }
    }
}

impl fmt::Display for FiveTuple {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}:{} -> {}:{}",
            self.protocol.name(),
            self.src,
            self.src_port,
            self.dst,
            self.dst_port
        )
    }
}

/// TCP header flags, as a bit set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    pub const FIN: TcpFlags = TcpFlags(0x01);
    pub const SYN: TcpFlags = TcpFlags(0x02);
    pub const RST: TcpFlags = TcpFlags(0x04);
    pub const PSH: TcpFlags = TcpFlags(0x08);
    pub const ACK: TcpFlags = TcpFlags(0x10);

    pub fn has(self, f: TcpFlags) -> bool {
        self.0 & f.0 != 0
    }
}

impl std::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

/// Bytes of IP and TCP header (with timestamps) on every TCP segment.
pub const TCP_HEADER: u32 = 52;
/// Bytes of IP and UDP header.
pub const UDP_HEADER: u32 = 28;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Packet {
    pub tuple: FiveTuple,
    pub flags: TcpFlags,
    /// Bytes on the wire (IP total length).
    pub len: u32,
    /// First payload byte's sequence number (TCP), or a datagram counter (UDP).
    pub seq: u32,
    /// Cumulative acknowledgement (TCP).
    pub ack: u32,
    /// Payload bytes.
    pub payload: u32,
    /// The simulated connection this packet belongs to. Bookkeeping of the simulator; no part
    /// of the router looks at it.
    pub flow: u32,
}

impl Packet {
    pub fn new(tuple: FiveTuple, flow: u32) -> Packet {
        Packet {
            tuple,
            flags: TcpFlags::default(),
            len: match tuple.protocol {
                Protocol::Tcp => TCP_HEADER,
                _ => UDP_HEADER,
            },
            seq: 0,
            ack: 0,
            payload: 0,
            flow,
        }
    }

    /// A TCP segment with `payload` bytes of data.
    pub fn tcp(
        tuple: FiveTuple,
        flow: u32,
        flags: TcpFlags,
        seq: u32,
        ack: u32,
        payload: u32,
    ) -> Packet {
        Packet {
            tuple,
            flags,
            len: TCP_HEADER + payload,
            seq,
            ack,
            payload,
            flow,
        }
    }

    /// A UDP datagram with `payload` bytes of data.
    pub fn udp(tuple: FiveTuple, flow: u32, seq: u32, payload: u32) -> Packet {
        Packet {
            tuple,
            flags: TcpFlags::default(),
            len: UDP_HEADER + payload,
            seq,
            ack: 0,
            payload,
            flow,
        }
    }
}
