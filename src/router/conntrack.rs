//! Connection tracking: every packet belongs to an entry keyed by its 5-tuple in either
//! direction. The entry holds the connection mark, the NAT mapping (as the tuple replies will
//! carry) and a TCP/UDP state whose timeout comes from `/ip firewall connection tracking`.
//!
//! Entries live in a slab (`Vec` plus free list) and an index maps both the original and the
//! reply tuple to a slot, so a finished connection's slot is reused without allocating. The
//! index is open addressing with linear probing over 8-byte cells — 32 bits of the tuple's hash
//! and the slot — so a lookup reads one line of the index and then the entry itself: two cache
//! misses at a million connections, where a general hash map's control bytes, buckets and
//! entries cost three. Time only arrives as the `now` argument: expiry is checked on lookup,
//! and [`Conntrack::expire`] (which the owner calls periodically) removes what has timed out.
//! It does not scan the table: each entry is filed under the second it would expire, and only
//! that second's entries are looked at — the ones renewed since are filed again further on.

use crate::packet::{FiveTuple, Packet, Protocol, TcpFlags};
use crate::router::firewall::{ConnMark, IfaceId};
use crate::units::{SEC, Time};
use std::collections::BTreeMap;

/// Timeouts and size of the table (`/ip firewall connection tracking set …`); the defaults are
/// RouterOS v6's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub tcp_syn_sent: Time,
    pub tcp_syn_received: Time,
    pub tcp_established: Time,
    pub tcp_fin_wait: Time,
    pub tcp_close_wait: Time,
    pub tcp_last_ack: Time,
    pub tcp_time_wait: Time,
    pub tcp_close: Time,
    pub udp: Time,
    pub udp_stream: Time,
    pub icmp: Time,
    pub generic: Time,
    pub max_entries: u32,
    /// `loose-tcp-tracking`: a TCP ACK without an entry picks up the connection mid-stream
    /// (Linux's `nf_conntrack_tcp_loose`); without it such a packet is invalid.
    pub loose_tcp_tracking: bool,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            tcp_syn_sent: 5 * SEC,
            tcp_syn_received: 5 * SEC,
            tcp_established: 86_400 * SEC,
            tcp_fin_wait: 10 * SEC,
            tcp_close_wait: 10 * SEC,
            tcp_last_ack: 10 * SEC,
            tcp_time_wait: 10 * SEC,
            tcp_close: 10 * SEC,
            udp: 10 * SEC,
            udp_stream: 180 * SEC,
            icmp: 10 * SEC,
            generic: 600 * SEC,
            max_entries: 262_144,
            loose_tcp_tracking: true,
        }
    }
}

impl Settings {
    /// Sets one `connection tracking` property by its RouterOS name.
    pub fn set(&mut self, key: &str, value: Time) -> bool {
        let slot = match key {
            "tcp-syn-sent-timeout" => &mut self.tcp_syn_sent,
            "tcp-syn-received-timeout" => &mut self.tcp_syn_received,
            "tcp-established-timeout" => &mut self.tcp_established,
            "tcp-fin-wait-timeout" => &mut self.tcp_fin_wait,
            "tcp-close-wait-timeout" => &mut self.tcp_close_wait,
            "tcp-last-ack-timeout" => &mut self.tcp_last_ack,
            "tcp-time-wait-timeout" => &mut self.tcp_time_wait,
            "tcp-close-timeout" => &mut self.tcp_close,
            "udp-timeout" => &mut self.udp,
            "udp-stream-timeout" => &mut self.udp_stream,
            "icmp-timeout" => &mut self.icmp,
            "generic-timeout" => &mut self.generic,
            _ => return false,
        };
        *slot = value;
        true
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    Original,
    Reply,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    SynSent,
    SynReceived,
    Established,
    /// One side sent a FIN.
    FinWait,
    /// The other side acknowledged that FIN and has not sent its own.
    CloseWait,
    LastAck,
    TimeWait,
    Close,
    /// UDP, ICMP and other protocols: only whether replies were seen matters.
    Datagram,
}

impl State {
    /// As `/ip firewall connection print` shows it (`tcp-state`); empty for datagrams.
    pub fn name(self) -> &'static str {
        match self {
            State::SynSent => "syn-sent",
            State::SynReceived => "syn-received",
            State::Established => "established",
            State::FinWait => "fin-wait",
            State::CloseWait => "close-wait",
            State::LastAck => "last-ack",
            State::TimeWait => "time-wait",
            State::Close => "close",
            State::Datagram => "",
        }
    }
}

/// Source NAT applied when the connection started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SrcNat {
    None,
    /// Masquerade through this interface: removed if the interface goes down.
    Masquerade(IfaceId),
    Static,
}

#[derive(Clone, Debug)]
pub struct Entry {
    /// The tuple of the first packet, as it arrived.
    pub original: FiveTuple,
    /// The tuple replies carry: the reverse of the original after NAT.
    pub reply: FiveTuple,
    pub state: State,
    pub connection_mark: ConnMark,
    pub src_nat: SrcNat,
    pub flags: Flags,
    /// Why the router sent it out of another interface than its source NAT belongs to.
    pub moved: Option<Moved>,
    pub expires: Time,
    /// The second of the expiry wheel this entry is filed under (see [`Wheel`]).
    filed: u32,
    pub packets: [u32; 2],
    pub bytes: [u64; 2],
}

/// Yes/no facts about a connection, a bit each (so an entry stays within 72 bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(u8);

impl Flags {
    pub const DST_NAT: Flags = Flags(1);
    pub const SEEN_REPLY: Flags = Flags(1 << 1);
    pub const FASTTRACKED: Flags = Flags(1 << 2);
    /// A mangle rule changed its connection mark after it had one.
    pub const REMARKED: Flags = Flags(1 << 3);
    /// Its connection mark was set by a classifier (PCC, `nth`).
    pub const CLASSIFIED: Flags = Flags(1 << 4);
    /// A FIN seen from the original side, and from the reply side.
    const FIN: [Flags; 2] = [Flags(1 << 5), Flags(1 << 6)];
}

impl Entry {
    pub fn has(&self, flag: Flags) -> bool {
        self.flags.0 & flag.0 != 0
    }

    pub fn set(&mut self, flag: Flags, on: bool) {
        match on {
            true => self.flags.0 |= flag.0,
            false => self.flags.0 &= !flag.0,
        }
    }

    /// The tuple the packet will carry once its own direction's NAT is applied.
    pub fn translated(&self, dir: Dir) -> FiveTuple {
        match dir {
            Dir::Original => self.reply.reversed(),
            Dir::Reply => self.original.reversed(),
        }
    }
}

/// What made the router send a connection's packets out of another WAN than the one its
/// masquerade address belongs to (a failover aside: the world knows about those).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moved {
    /// FastTrack took it out of the firewall, so its packets lost their routing mark.
    Fasttrack,
    /// Its connection mark was changed, and with it the routing mark.
    Remarked,
    /// ECMP chose another next hop for it.
    Ecmp,
}

/// Why a packet without an entry starts none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Untracked {
    /// `max-entries` are live.
    TableFull,
    /// A TCP packet that cannot open a connection (`connection-state=invalid`): a SYN-ACK,
    /// FIN or RST of a connection the router does not know — or any non-SYN without loose
    /// tracking (`nf_conntrack_proto_tcp`'s `tcp_new`).
    Invalid,
}

#[derive(Clone, Debug, Default)]
pub struct Conntrack {
    pub settings: Settings,
    slots: Vec<Option<Entry>>,
    free: Vec<u32>,
    /// Both directions' tuples → slot << 1 | direction.
    index: Index,
    wheel: Wheel,
    live: u32,
}

impl Conntrack {
    pub fn new(settings: Settings) -> Conntrack {
        Conntrack {
            settings,
            ..Conntrack::default()
        }
    }

    pub fn len(&self) -> usize {
        self.live as usize
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    pub fn get(&self, id: u32) -> &Entry {
        self.slots[id as usize].as_ref().expect("live conntrack id")
    }

    pub fn get_mut(&mut self, id: u32) -> &mut Entry {
        self.slots[id as usize].as_mut().expect("live conntrack id")
    }

    pub fn iter(&self) -> impl Iterator<Item = (u32, &Entry)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (i as u32, e)))
    }

    /// The entry a tuple (either direction) belongs to, expired or not, without touching it.
    pub fn find(&self, tuple: &FiveTuple) -> Option<&Entry> {
        self.index
            .get(&self.slots, tuple)
            .map(|key| self.get(key >> 1))
    }

    /// Starts fetching the index cell a lookup of `tuple` will read first.
    pub fn prefetch(&self, tuple: &FiveTuple) {
        let (_, home) = self.index.tag_and_home(tuple);
        crate::units::prefetch(&self.index.cells[home]);
    }

    /// The live entry this tuple belongs to, and the direction of the packet.
    pub fn lookup(&mut self, now: Time, tuple: &FiveTuple) -> Option<(u32, Dir)> {
        let key = self.index.get(&self.slots, tuple)?;
        let id = key >> 1;
        if self.get(id).expires <= now {
            self.remove(id);
            return None;
        }
        let dir = if key & 1 == 0 {
            Dir::Original
        } else {
            Dir::Reply
        };
        Some((id, dir))
    }

    /// Starts tracking a connection whose first packet is `pkt`.
    pub fn create(&mut self, now: Time, pkt: &Packet) -> Result<u32, Untracked> {
        let tuple = pkt.tuple;
        let state = match tuple.protocol {
            Protocol::Tcp => opening_state(pkt.flags, self.settings.loose_tcp_tracking)?,
            _ => State::Datagram,
        };
        if self.live >= self.settings.max_entries {
            return Err(Untracked::TableFull);
        }
        let entry = Entry {
            original: tuple,
            reply: tuple.reversed(),
            state,
            connection_mark: ConnMark::NONE,
            src_nat: SrcNat::None,
            flags: Flags::default(),
            moved: None,
            expires: now + self.timeout(state, tuple.protocol, false),
            filed: 0,
            packets: [0; 2],
            bytes: [0; 2],
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(entry);
                id
            }
            None => {
                self.slots.push(Some(entry));
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(&self.slots, &tuple, id << 1);
        self.index
            .insert(&self.slots, &tuple.reversed(), id << 1 | 1);
        self.file(id);
        self.live += 1;
        Ok(id)
    }

    /// Replaces the reply tuple once NAT has chosen the translated addresses.
    pub fn set_reply(&mut self, id: u32, reply: FiveTuple) {
        let old = self.get(id).reply;
        if old == reply {
            return;
        }
        self.index.remove(&self.slots, &old);
        self.get_mut(id).reply = reply;
        self.index.insert(&self.slots, &reply, id << 1 | 1);
    }

    /// Whether some live entry already expects replies on this tuple.
    pub fn reply_tuple_taken(&self, tuple: &FiveTuple) -> bool {
        self.index.get(&self.slots, tuple).is_some()
    }

    /// Advances the state machine for one packet and renews the timeout.
    pub fn update(&mut self, now: Time, id: u32, dir: Dir, pkt: &Packet) {
        // Borrow the entry and the settings apart: copying the settings per packet costs.
        let e = self.slots[id as usize].as_mut().expect("live conntrack id");
        let d = dir as usize;
        e.packets[d] += 1;
        e.bytes[d] += pkt.len as u64;
        if dir == Dir::Reply {
            e.set(Flags::SEEN_REPLY, true);
        }
        if e.original.protocol == Protocol::Tcp {
            e.state = next_tcp_state(e, dir, pkt.flags);
        }
        let stream = e.has(Flags::SEEN_REPLY);
        let renewed = now + timeout_of(&self.settings, e.state, e.original.protocol, stream);
        let sooner = renewed < e.expires;
        e.expires = renewed;
        // A later expiry needs nothing (the wheel finds it filed too early and files it again);
        // an earlier one (a FIN after a day's timeout) must be filed where it will be found.
        if sooner {
            self.file(id);
        }
    }

    /// Files entry `id` under the second in which the sweep will find it expired.
    fn file(&mut self, id: u32) {
        let e = self.slots[id as usize].as_mut().expect("live conntrack id");
        e.filed = Wheel::second_of(e.expires);
        self.wheel.file(e.filed, id);
    }

    fn timeout(&self, state: State, proto: Protocol, stream: bool) -> Time {
        timeout_of(&self.settings, state, proto, stream)
    }

    pub fn remove(&mut self, id: u32) {
        if let Some(e) = &self.slots[id as usize] {
            let (original, reply) = (e.original, e.reply);
            self.index.remove(&self.slots, &original);
            self.index.remove(&self.slots, &reply);
            self.slots[id as usize] = None;
            self.free.push(id);
            self.live -= 1;
        }
    }

    /// Removes every entry whose timeout has passed; returns how many. Only the seconds of the
    /// wheel that have come are looked at; an entry renewed since it was filed is filed again.
    pub fn expire(&mut self, now: Time) -> usize {
        let mut expired = Vec::new();
        let mut later = Vec::new();
        while let Some(second) = self.wheel.due(now) {
            for id in self.wheel.take(second) {
                match &self.slots[id as usize] {
                    // Filed again since (or the slot's entry is another): a stale note.
                    Some(e) if e.filed != second => {}
                    Some(e) if e.expires <= now => expired.push(id),
                    Some(_) => later.push(id),
                    None => {}
                }
            }
            for id in later.drain(..) {
                self.file(id);
            }
            // The second `now` is in may still hold entries due later in it.
            if Wheel::second_of(now) == second {
                break;
            }
        }
        // In slot order, as a scan of the table would free them (the free list's order).
        expired.sort_unstable();
        for &id in &expired {
            self.remove(id);
        }
        expired.len()
    }

    /// What RouterOS does when an interface goes down or changes address: every connection
    /// masqueraded through it is forgotten.
    pub fn flush_masquerade(&mut self, iface: IfaceId) -> usize {
        let doomed: Vec<u32> = self
            .iter()
            .filter(|(_, e)| e.src_nat == SrcNat::Masquerade(iface))
            .map(|(i, _)| i)
            .collect();
        for &id in &doomed {
            self.remove(id);
        }
        doomed.len()
    }
}

/// Tuple → slot << 1 | direction, by open addressing with linear probing. A cell holds the
/// high 32 bits of the tuple's hash (its home cell comes from them, so growing needs no
/// rehash) and the key; the tuple itself is read from the entry to confirm a match. Removal
/// shifts the cells after it back, so there are no tombstones and probes stay short.
#[derive(Clone, Debug)]
struct Index {
    cells: Vec<u64>,
    len: usize,
}

const EMPTY: u64 = u64::MAX;

impl Default for Index {
    fn default() -> Index {
        Index {
            cells: vec![EMPTY; 1 << 10],
            len: 0,
        }
    }
}

impl Index {
    fn mask(&self) -> usize {
        self.cells.len() - 1
    }

    fn home(&self, cell: u64) -> usize {
        (cell >> 32) as usize & self.mask()
    }

    /// The hash bits a cell keeps for `tuple`, and the cell its probe starts at.
    fn tag_and_home(&self, tuple: &FiveTuple) -> (u64, usize) {
        let tag = hash(tuple) >> 32;
        (tag, tag as usize & self.mask())
    }

    /// The cell holding `tuple`, if any.
    fn position(&self, slots: &[Option<Entry>], tuple: &FiveTuple) -> Option<usize> {
        let (tag, mut i) = self.tag_and_home(tuple);
        loop {
            let cell = self.cells[i];
            if cell == EMPTY {
                return None;
            }
            if cell >> 32 == tag && keyed_tuple(slots, cell as u32) == Some(tuple) {
                return Some(i);
            }
            i = (i + 1) & self.mask();
        }
    }

    fn get(&self, slots: &[Option<Entry>], tuple: &FiveTuple) -> Option<u32> {
        self.position(slots, tuple).map(|i| self.cells[i] as u32)
    }

    /// Maps `tuple` to `key`, replacing what it mapped to. The entry `key` names must already
    /// carry `tuple`.
    fn insert(&mut self, slots: &[Option<Entry>], tuple: &FiveTuple, key: u32) {
        let cell = self.tag_and_home(tuple).0 << 32 | key as u64;
        if let Some(i) = self.position(slots, tuple) {
            self.cells[i] = cell;
            return;
        }
        if (self.len + 1) * 4 > self.cells.len() * 3 {
            self.grow();
        }
        self.place(cell);
        self.len += 1;
    }

    fn place(&mut self, cell: u64) {
        let mut i = self.home(cell);
        while self.cells[i] != EMPTY {
            i = (i + 1) & self.mask();
        }
        self.cells[i] = cell;
    }

    fn grow(&mut self) {
        let bigger = vec![EMPTY; self.cells.len() * 2];
        let old = std::mem::replace(&mut self.cells, bigger);
        for cell in old.into_iter().filter(|&c| c != EMPTY) {
            self.place(cell);
        }
    }

    /// Forgets `tuple`; the entry it names must still carry it.
    fn remove(&mut self, slots: &[Option<Entry>], tuple: &FiveTuple) {
        let Some(mut hole) = self.position(slots, tuple) else {
            return;
        };
        self.len -= 1;
        // Backward shift: move up each later cell of the run whose home is not between the
        // hole and it, so every cell stays reachable from its home.
        let mut i = hole;
        loop {
            i = (i + 1) & self.mask();
            let cell = self.cells[i];
            if cell == EMPTY {
                break;
            }
            let home = self.home(cell);
            let stays = if hole <= i {
                hole < home && home <= i
            } else {
                hole < home || home <= i
            };
            if !stays {
                self.cells[hole] = cell;
                hole = i;
            }
        }
        self.cells[hole] = EMPTY;
    }
}

/// The tuple index key `key` stands for: the entry's original or reply tuple.
fn keyed_tuple(slots: &[Option<Entry>], key: u32) -> Option<&FiveTuple> {
    let e = slots[(key >> 1) as usize].as_ref()?;
    Some(if key & 1 == 0 { &e.original } else { &e.reply })
}

/// A 64-bit hash of a tuple whose every bit depends on every field (a folded multiply).
fn hash(t: &FiveTuple) -> u64 {
    let a = (u32::from(t.src) as u64) << 32 | u32::from(t.dst) as u64;
    let b = (t.src_port as u64) << 24 | (t.dst_port as u64) << 8 | t.protocol as u64;
    let p = (a ^ 0x243f_6a88_85a3_08d3) as u128 * (b ^ 0x1319_8a2e_0370_7344) as u128;
    let h = (p as u64) ^ (p >> 64) as u64;
    let p = h as u128 * 0x9e37_79b9_7f4a_7c15u128;
    (p as u64) ^ (p >> 64) as u64
}

/// Entries filed by the second their timeout ends in, so the sweep looks only at those due.
#[derive(Clone, Debug, Default)]
struct Wheel {
    seconds: BTreeMap<u32, Vec<u32>>,
}

impl Wheel {
    /// The second a sweep at a whole second first finds `expires` past: ⌈expires / 1 s⌉.
    fn second_of(expires: Time) -> u32 {
        expires.div_ceil(SEC).min(u32::MAX as u64) as u32
    }

    fn file(&mut self, second: u32, id: u32) {
        self.seconds.entry(second).or_default().push(id);
    }

    /// The earliest filed second that may hold entries expired by `now`.
    fn due(&self, now: Time) -> Option<u32> {
        let (&second, _) = self.seconds.first_key_value()?;
        (second <= Wheel::second_of(now)).then_some(second)
    }

    fn take(&mut self, second: u32) -> Vec<u32> {
        self.seconds.remove(&second).unwrap_or_default()
    }
}

/// The state a TCP packet without an entry opens, as `tcp_conntracks[0][…][sNO]`: a SYN
/// starts one, a plain ACK is picked up mid-stream when tracking is loose, the rest are invalid.
fn opening_state(flags: TcpFlags, loose: bool) -> Result<State, Untracked> {
    if flags.has(TcpFlags::RST) || flags.has(TcpFlags::FIN) {
        return Err(Untracked::Invalid);
    }
    match (flags.has(TcpFlags::SYN), flags.has(TcpFlags::ACK)) {
        (true, false) => Ok(State::SynSent),
        (false, true) if loose => Ok(State::Established),
        _ => Err(Untracked::Invalid),
    }
}

fn next_tcp_state(e: &mut Entry, dir: Dir, flags: TcpFlags) -> State {
    use State::*;
    if flags.has(TcpFlags::RST) {
        return Close;
    }
    if flags.has(TcpFlags::FIN) {
        e.set(Flags::FIN[dir as usize], true);
    }
    let both_fin = e.has(Flags::FIN[0]) && e.has(Flags::FIN[1]);
    // The side that has not sent a FIN (yet).
    let other_side = !e.has(Flags::FIN[dir as usize]);
    match (e.state, dir) {
        (SynSent, Dir::Reply) if flags.has(TcpFlags::SYN) => SynReceived,
        (SynReceived, Dir::Original) if flags.has(TcpFlags::ACK) => Established,
        (Established, _) if flags.has(TcpFlags::FIN) => FinWait,
        (FinWait | CloseWait, _) if both_fin => LastAck,
        (FinWait, _) if other_side && flags.has(TcpFlags::ACK) => CloseWait,
        (LastAck, _) if flags.has(TcpFlags::ACK) => TimeWait,
        (s, _) => s,
    }
}

fn timeout_of(s: &Settings, state: State, proto: Protocol, stream: bool) -> Time {
    match (state, proto) {
        (State::SynSent, _) => s.tcp_syn_sent,
        (State::SynReceived, _) => s.tcp_syn_received,
        (State::Established, _) => s.tcp_established,
        (State::FinWait, _) => s.tcp_fin_wait,
        (State::CloseWait, _) => s.tcp_close_wait,
        (State::LastAck, _) => s.tcp_last_ack,
        (State::TimeWait, _) => s.tcp_time_wait,
        (State::Close, _) => s.tcp_close,
        (State::Datagram, Protocol::Udp) if stream => s.udp_stream,
        (State::Datagram, Protocol::Udp) => s.udp,
        (State::Datagram, Protocol::Icmp) => s.icmp,
        (State::Datagram, Protocol::Tcp) => s.generic,
    }
}

/// A bound on memory per tracked connection, checked by a test: the entry plus its two index
/// cells at the index's emptiest (3/8 full, just after it doubles).
pub const BYTES_PER_ENTRY_BOUND: usize = 128;

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn syn() -> Packet {
        let t = FiveTuple {
            src: Ipv4Addr::new(10, 0, 0, 2),
            dst: Ipv4Addr::new(93, 184, 216, 34),
            src_port: 40000,
            dst_port: 443,
            protocol: Protocol::Tcp,
        };
        Packet::tcp(t, 0, TcpFlags::SYN, 0, 0, 0)
    }

    #[test]
    fn handshake_walks_the_tcp_states_and_timeouts() {
        let mut ct = Conntrack::new(Settings::default());
        let p = syn();
        let id = ct.create(0, &p).unwrap();
        ct.update(0, id, Dir::Original, &p);
        assert_eq!(ct.get(id).state, State::SynSent);
        assert_eq!(ct.get(id).expires, 5 * SEC);
        let mut synack = p;
        synack.tuple = p.tuple.reversed();
        synack.flags = TcpFlags::SYN | TcpFlags::ACK;
        assert_eq!(ct.lookup(SEC, &synack.tuple), Some((id, Dir::Reply)));
        ct.update(SEC, id, Dir::Reply, &synack);
        let mut ack = p;
        ack.flags = TcpFlags::ACK;
        ct.update(SEC, id, Dir::Original, &ack);
        assert_eq!(ct.get(id).state, State::Established);
        assert_eq!(ct.get(id).expires, SEC + 86_400 * SEC);
        // The close, as nf_conntrack_proto_tcp walks it: FIN, its ACK, the other FIN, the
        // last ACK — each state with its own RouterOS timeout.
        let s = Settings {
            tcp_fin_wait: 11 * SEC,
            tcp_close_wait: 12 * SEC,
            tcp_last_ack: 13 * SEC,
            tcp_time_wait: 14 * SEC,
            ..Settings::default()
        };
        ct.settings = s;
        let mut fin = ack;
        fin.flags = TcpFlags::FIN | TcpFlags::ACK;
        let mut back = synack;
        back.flags = TcpFlags::ACK;
        let mut back_fin = synack;
        back_fin.flags = TcpFlags::FIN | TcpFlags::ACK;
        for (t, dir, pkt, state, timeout) in [
            (2, Dir::Original, fin, State::FinWait, 11),
            (3, Dir::Reply, back, State::CloseWait, 12),
            (4, Dir::Reply, back_fin, State::LastAck, 13),
            (5, Dir::Original, ack, State::TimeWait, 14),
        ] {
            ct.update(t * SEC, id, dir, &pkt);
            assert_eq!(ct.get(id).state, state, "at {t} s");
            assert_eq!(ct.get(id).expires, (t + timeout) * SEC, "at {t} s");
        }
    }

    #[test]
    fn expired_entries_disappear_and_slots_are_reused() {
        let mut ct = Conntrack::new(Settings::default());
        let p = syn();
        let id = ct.create(0, &p).unwrap();
        assert_eq!(ct.lookup(6 * SEC, &p.tuple), None);
        assert!(ct.is_empty());
        assert_eq!(ct.create(7 * SEC, &p).unwrap(), id);
    }

    #[test]
    fn full_table_refuses_new_connections() {
        let mut ct = Conntrack::new(Settings {
            max_entries: 1,
            ..Settings::default()
        });
        let p = syn();
        ct.create(0, &p).unwrap();
        let mut q = p;
        q.tuple.src_port += 1;
        assert_eq!(ct.create(0, &q), Err(Untracked::TableFull));
    }

    #[test]
    fn an_entry_fits_the_memory_budget() {
        // Two index cells, with the index between 3/8 and 3/4 full.
        let index = 2 * std::mem::size_of::<u64>() * 8 / 3;
        let entry = std::mem::size_of::<Option<Entry>>();
        assert!(entry <= 72, "{entry} bytes per entry");
        assert!(
            entry + index <= BYTES_PER_ENTRY_BOUND,
            "{} bytes",
            entry + index
        );
    }

    #[test]
    fn the_index_finds_every_tuple_after_growing_and_removals() {
        let mut ct = Conntrack::new(Settings::default());
        let tuple = |i: u32| FiveTuple {
            src: Ipv4Addr::from(0x0a00_0000 + i % 5_000),
            dst: Ipv4Addr::new(93, 184, 216, 34),
            src_port: 1024 + (i / 5_000) as u16,
            dst_port: 443,
            protocol: Protocol::Udp,
        };
        let ids: Vec<u32> = (0..20_000)
            .map(|i| ct.create(0, &Packet::udp(tuple(i), 0, 1, 100)).unwrap())
            .collect();
        // Remove every third, so backward shifts run through long probe sequences.
        for (i, &id) in ids.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
            assert_eq!(ct.lookup(1, &tuple(i as u32)), Some((id, Dir::Original)));
            ct.remove(id);
        }
        for (i, &id) in ids.iter().enumerate() {
            let t = tuple(i as u32);
            let expected = (i % 3 != 0).then_some((id, Dir::Original));
            assert_eq!(ct.lookup(1, &t), expected, "original of {i}");
            let reply = (i % 3 != 0).then_some((id, Dir::Reply));
            assert_eq!(ct.lookup(1, &t.reversed()), reply, "reply of {i}");
        }
        assert_eq!(ct.len(), 20_000 - 6_667);
    }

    #[test]
    fn the_sweep_removes_exactly_what_has_expired_however_often_it_runs() {
        // UDP entries renewed at different times, swept at whole and at odd moments.
        let mut ct = Conntrack::new(Settings::default());
        let udp = |port: u16| {
            let t = FiveTuple {
                src: Ipv4Addr::new(10, 0, 0, 2),
                dst: Ipv4Addr::new(1, 1, 1, 1),
                src_port: port,
                dst_port: 53,
                protocol: Protocol::Udp,
            };
            Packet::udp(t, 0, 1, 100)
        };
        let mut expiries = Vec::new();
        for port in 0..300u16 {
            let p = udp(port);
            let now = port as u64 * 37 * crate::units::MS;
            let id = ct.create(now, &p).unwrap();
            ct.update(now, id, Dir::Original, &p);
            if port % 4 == 0 {
                // Renewed later: filed too early, it must be filed again, not removed.
                ct.update(now + 3 * SEC, id, Dir::Original, &p);
            }
            expiries.push(ct.get(id).expires);
        }
        let mut now = 0;
        while !ct.is_empty() {
            now += 777 * crate::units::MS;
            ct.expire(now);
            let alive = expiries.iter().filter(|&&e| e > now).count();
            assert_eq!(ct.len(), alive, "at {now}");
        }
    }
}
