//! The packet as the router sees it: an IPv4 5-tuple, TCP flags and sequence numbers, a length on
//! the wire — and, out of the router's sight, the id of the simulated connection it belongs to.
//!
//! A packet is a small `Copy` value (48 bytes) so that queues and events move it without
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
/// Bytes a SYN's options add beyond a segment's timestamps: Linux's SYN carries MSS,
/// SACK-permitted, timestamps and window scale, 20 bytes in all.
pub const SYN_OPTIONS_EXTRA: u32 = 8;
/// Bytes a SACK option with one block adds (two NOPs, kind, length, two edges).
pub const SACK_OPTION: u32 = 12;
/// TCP's window scale: the window field counts units of 2^7 bytes (what Linux offers with
/// its 6 MiB receive buffer).
pub const WINDOW_SCALE: u32 = 7;
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
    /// Receive window (TCP), in units of 2^[`WINDOW_SCALE`] bytes.
    pub window: u16,
    /// One SACK block, `[start, end)` of data held above a hole (TCP); `(0, 0)`: none.
    pub sack: (u32, u32),
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
            window: u16::MAX,
            sack: (0, 0),
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
        let syn_extra = if flags.has(TcpFlags::SYN) {
            SYN_OPTIONS_EXTRA
        } else {
            0
        };
        Packet {
            tuple,
            flags,
            len: TCP_HEADER + syn_extra + payload,
            seq,
            ack,
            window: u16::MAX,
            sack: (0, 0),
            payload,
            flow,
        }
    }

    /// Adds the receive window and a SACK block to a TCP segment.
    pub fn with_window(mut self, window: u32, sack: Option<(u32, u32)>) -> Packet {
        self.window = (window >> WINDOW_SCALE).min(u16::MAX as u32) as u16;
        if let Some(block) = sack {
            self.sack = block;
            self.len += SACK_OPTION;
        }
        self
    }

    /// The receive window in bytes.
    pub fn window_bytes(&self) -> u32 {
        (self.window as u32) << WINDOW_SCALE
    }

    /// The SACK block, if the segment carries one.
    pub fn sack_block(&self) -> Option<(u32, u32)> {
        (self.sack != (0, 0)).then_some(self.sack)
    }

    /// The simulated connection of packets that belong to none (the router's own probes).
    pub const NO_FLOW: u32 = u32::MAX;

    /// A UDP datagram of a control protocol (DHCP, PPPoE's frames) between `ports`, of `len`
    /// bytes: what its message says — its kind and up to three fields — travels in header
    /// fields, as the simulation holds no payload bytes.
    pub fn control(
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ports: (u16, u16),
        len: u32,
        kind: u32,
        fields: [u32; 3],
    ) -> Packet {
        let tuple = FiveTuple {
            src,
            dst,
            src_port: ports.0,
            dst_port: ports.1,
            protocol: Protocol::Udp,
        };
        let mut p = Packet::new(tuple, Packet::NO_FLOW);
        p.len = len;
        p.seq = kind;
        p.ack = fields[0];
        p.sack = (fields[1], fields[2]);
        p
    }

    /// A control datagram's kind and fields ([`Packet::control`]) if it goes between these two
    /// ports, either way.
    pub fn control_fields(&self, ports: (u16, u16)) -> Option<(u32, [u32; 3])> {
        let t = &self.tuple;
        let between = (t.src_port, t.dst_port) == ports || (t.dst_port, t.src_port) == ports;
        (t.protocol == Protocol::Udp && between)
            .then_some((self.seq, [self.ack, self.sack.0, self.sack.1]))
    }

    /// An ICMP echo request. ICMP has no ports; the tuple carries the echo identifier as the
    /// source port of a request (and the destination port of its reply, whose source port is
    /// 0), so connection tracking pairs them like any other connection.
    pub fn echo_request(src: Ipv4Addr, dst: Ipv4Addr, ident: u16, seq: u16) -> Packet {
        let tuple = FiveTuple {
            src,
            dst,
            src_port: ident,
            dst_port: 0,
            protocol: Protocol::Icmp,
        };
        Packet {
            seq: seq as u32,
            ..Packet::new(tuple, Packet::NO_FLOW)
        }
    }

    /// The echo reply to this request.
    pub fn echo_reply(&self) -> Packet {
        Packet {
            tuple: self.tuple.reversed(),
            ..*self
        }
    }

    pub fn is_echo_reply(&self) -> bool {
        self.tuple.protocol == Protocol::Icmp && self.tuple.src_port == 0
    }

    /// A UDP datagram with `payload` bytes of data.
    pub fn udp(tuple: FiveTuple, flow: u32, seq: u32, payload: u32) -> Packet {
        Packet {
            tuple,
            flags: TcpFlags::default(),
            len: UDP_HEADER + payload,
            seq,
            ack: 0,
            window: 0,
            sack: (0, 0),
            payload,
            flow,
        }
    }
}

/// Bytes of the headers `Packet::emit` writes before the payload.
const IPV4_HEADER: usize = 20;

impl Packet {
    /// Writes the packet as it is on the wire — IPv4 header, then a TCP, UDP or ICMP header,
    /// with correct checksums, and a zero payload — into `buf`, and returns its length
    /// (`self.len`). `buf` must hold that many bytes.
    ///
    /// The simulator numbers each direction's bytes from 0 and treats the SYN as taking none;
    /// on the wire both ends start at sequence 0 (a valid initial sequence number), the SYN
    /// takes one, so data and acknowledgements are one higher. TCP headers carry timestamps —
    /// this end's clock `ts_ms`, and `ts_echo`, the latest the other end sent (0 on a SYN) —
    /// with a SACK block after them when there is one; a SYN carries MSS, SACK-permitted,
    /// timestamps and window scale, as Linux sends them.
    pub fn emit(&self, buf: &mut [u8], ts_ms: u32, ts_echo: u32) -> usize {
        let len = self.len as usize;
        let buf = &mut buf[..len];
        buf.fill(0);
        let t = &self.tuple;
        let (ip, l4) = buf.split_at_mut(IPV4_HEADER);
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&(self.len as u16).to_be_bytes());
        ip[6] = 0x40; // don't fragment
        ip[8] = 64;
        ip[9] = t.protocol as u8;
        ip[12..16].copy_from_slice(&t.src.octets());
        ip[16..20].copy_from_slice(&t.dst.octets());
        let sum = checksum(ip, 0);
        ip[10..12].copy_from_slice(&sum.to_be_bytes());
        match t.protocol {
            Protocol::Tcp => self.emit_tcp(l4, ts_ms, ts_echo),
            Protocol::Udp => {
                l4[0..2].copy_from_slice(&t.src_port.to_be_bytes());
                l4[2..4].copy_from_slice(&t.dst_port.to_be_bytes());
                let udp_len = l4.len() as u16;
                l4[4..6].copy_from_slice(&udp_len.to_be_bytes());
            }
            Protocol::Icmp => {
                let (kind, ident) = if self.is_echo_reply() {
                    (0, t.dst_port)
                } else {
                    (8, t.src_port)
                };
                l4[0] = kind;
                l4[4..6].copy_from_slice(&ident.to_be_bytes());
                l4[6..8].copy_from_slice(&(self.seq as u16).to_be_bytes());
                let sum = checksum(l4, 0);
                l4[2..4].copy_from_slice(&sum.to_be_bytes());
                return len;
            }
        }
        let sum = match checksum(l4, pseudo_header(t, l4.len())) {
            0 if t.protocol == Protocol::Udp => 0xffff, // 0 means "no checksum" in UDP
            s => s,
        };
        let at = if t.protocol == Protocol::Tcp { 16 } else { 6 };
        l4[at..at + 2].copy_from_slice(&sum.to_be_bytes());
        len
    }

    fn emit_tcp(&self, h: &mut [u8], ts_ms: u32, ts_echo: u32) {
        let t = &self.tuple;
        let syn = self.flags.has(TcpFlags::SYN);
        let seq = self.seq.wrapping_add(u32::from(!syn));
        let ack = if self.flags.has(TcpFlags::ACK) {
            self.ack.wrapping_add(1)
        } else {
            0
        };
        h[0..2].copy_from_slice(&t.src_port.to_be_bytes());
        h[2..4].copy_from_slice(&t.dst_port.to_be_bytes());
        h[4..8].copy_from_slice(&seq.to_be_bytes());
        h[8..12].copy_from_slice(&ack.to_be_bytes());
        let sack = self.sack_block().filter(|_| !syn);
        let options_len = match (syn, sack) {
            (true, _) => 12 + SYN_OPTIONS_EXTRA as usize,
            (false, Some(_)) => 12 + SACK_OPTION as usize,
            (false, None) => 12,
        };
        h[12] = (((20 + options_len) / 4) << 4) as u8;
        h[13] = self.flags.0;
        // A SYN's window is never scaled (RFC 7323); it offers the scale and SACK instead.
        let window = if syn { u16::MAX } else { self.window };
        h[14..16].copy_from_slice(&window.to_be_bytes());
        let options = &mut h[20..20 + options_len];
        // A SYN echoes nothing: it has heard nothing yet.
        let ts_echo = if self.flags.has(TcpFlags::ACK) {
            ts_echo
        } else {
            0
        };
        let stamps = |o: &mut [u8]| {
            o[..2].copy_from_slice(&[8, 10]);
            o[2..6].copy_from_slice(&ts_ms.to_be_bytes());
            o[6..10].copy_from_slice(&ts_echo.to_be_bytes());
        };
        if syn {
            options[..6].copy_from_slice(&[2, 4, 0x05, 0xb4, 4, 2]);
            stamps(&mut options[6..16]);
            options[16..].copy_from_slice(&[1, 3, 3, WINDOW_SCALE as u8]);
            return;
        }
        options[..2].copy_from_slice(&[1, 1]);
        stamps(&mut options[2..12]);
        if let Some((start, end)) = sack {
            options[12..16].copy_from_slice(&[1, 1, 5, 10]);
            options[16..20].copy_from_slice(&start.wrapping_add(1).to_be_bytes());
            options[20..24].copy_from_slice(&end.wrapping_add(1).to_be_bytes());
        }
    }
}

/// The ones' complement sum of the pseudo-header TCP and UDP checksums cover.
fn pseudo_header(t: &FiveTuple, l4_len: usize) -> u32 {
    let words = |a: Ipv4Addr| {
        let o = a.octets();
        u32::from(u16::from_be_bytes([o[0], o[1]])) + u32::from(u16::from_be_bytes([o[2], o[3]]))
    };
    words(t.src) + words(t.dst) + t.protocol as u32 + l4_len as u32
}

/// The Internet checksum (RFC 1071) of `data`, starting from a partial sum.
fn checksum(data: &[u8], initial: u32) -> u16 {
    let mut sum = initial as u64;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u64::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u64::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuple(protocol: Protocol) -> FiveTuple {
        FiveTuple {
            src: Ipv4Addr::new(192, 0, 2, 10),
            dst: Ipv4Addr::new(198, 51, 100, 7),
            src_port: 40_000,
            dst_port: 443,
            protocol,
        }
    }

    #[test]
    fn a_packet_stays_small() {
        // Events carry packets by value: the SACK block and window took it from 40 to 48.
        assert!(std::mem::size_of::<Packet>() <= 48);
    }

    #[test]
    fn emitted_headers_carry_valid_checksums() {
        let mut buf = [0u8; 2000];
        for pkt in [
            Packet::tcp(tuple(Protocol::Tcp), 0, TcpFlags::SYN, 0, 0, 0),
            Packet::tcp(tuple(Protocol::Tcp), 0, TcpFlags::ACK, 1448, 300, 1448),
            Packet::tcp(tuple(Protocol::Tcp), 0, TcpFlags::ACK, 0, 300, 0)
                .with_window(1 << 20, Some((2896, 4344))),
            Packet::udp(tuple(Protocol::Udp), 0, 1, 61),
            Packet::new(tuple(Protocol::Icmp), 0),
        ] {
            let n = pkt.emit(&mut buf, 1234, 1200);
            assert_eq!(n, pkt.len as usize);
            let (ip, l4) = buf[..n].split_at(IPV4_HEADER);
            assert_eq!(checksum(ip, 0), 0, "{pkt:?}: IPv4 header");
            let initial = match pkt.tuple.protocol {
                Protocol::Icmp => 0,
                _ => pseudo_header(&pkt.tuple, l4.len()),
            };
            assert_eq!(checksum(l4, initial), 0, "{pkt:?}: transport");
        }
    }

    #[test]
    fn the_syn_takes_one_sequence_number_on_the_wire() {
        let mut buf = [0u8; 200];
        let seq_ack = |pkt: Packet, buf: &mut [u8]| {
            pkt.emit(buf, 0, 0);
            let h = &buf[IPV4_HEADER..];
            (
                u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
                u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
            )
        };
        let t = tuple(Protocol::Tcp);
        assert_eq!(
            seq_ack(Packet::tcp(t, 0, TcpFlags::SYN, 0, 0, 0), &mut buf),
            (0, 0)
        );
        let syn_ack = TcpFlags::SYN | TcpFlags::ACK;
        assert_eq!(
            seq_ack(Packet::tcp(t, 0, syn_ack, 0, 0, 0), &mut buf),
            (0, 1)
        );
        assert_eq!(
            seq_ack(Packet::tcp(t, 0, TcpFlags::ACK, 100, 7, 10), &mut buf),
            (101, 8)
        );
    }
}
