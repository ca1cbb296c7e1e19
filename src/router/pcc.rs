//! The per-connection classifier: `per-connection-classifier=FIELDS:DENOMINATOR/REMAINDER`.
//!
//! A PCC matcher hashes the chosen header fields of the packet as it arrives and matches when the
//! hash modulo the denominator equals the remainder. MikroTik does not publish its hash, so by
//! default the hash is pccsim's own ([`hash`]): a well-mixed 32-bit function (the murmur3
//! finaliser over the packed fields), which tests check for uniformity with a chi-square test for
//! every field choice. [`PccHash::Jhash`] instead computes what a Linux router computes for
//! `nft … jhash FIELDS mod N seed 0` ([`jhash_bucket`]), so a run can be set beside a real
//! kernel connection by connection.

use crate::packet::FiveTuple;
use crate::router::firewall::{Action, ConnMark, Match, PREROUTING, Table};
use serde::Deserialize;
use std::fmt;

/// Which function a PCC matcher hashes with.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Deserialize)]
pub enum PccHash {
    /// pccsim's own (MikroTik's is not published).
    #[default]
    Pccsim,
    /// nftables' `jhash FIELDS mod N seed 0`: Jenkins' lookup3 over the fields as nft
    /// concatenates them, scaled to N buckets as the kernel scales it.
    Jhash,
}

/// Which header fields feed the hash — exactly the nine RouterOS offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fields {
    SrcAddress,
    DstAddress,
    BothAddresses,
    SrcPort,
    DstPort,
    BothPorts,
    SrcAddressAndPort,
    DstAddressAndPort,
    BothAddressesAndPorts,
}

impl Fields {
    pub const ALL: [Fields; 9] = [
        Fields::SrcAddress,
        Fields::DstAddress,
        Fields::BothAddresses,
        Fields::SrcPort,
        Fields::DstPort,
        Fields::BothPorts,
        Fields::SrcAddressAndPort,
        Fields::DstAddressAndPort,
        Fields::BothAddressesAndPorts,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Fields::SrcAddress => "src-address",
            Fields::DstAddress => "dst-address",
            Fields::BothAddresses => "both-addresses",
            Fields::SrcPort => "src-port",
            Fields::DstPort => "dst-port",
            Fields::BothPorts => "both-ports",
            Fields::SrcAddressAndPort => "src-address-and-port",
            Fields::DstAddressAndPort => "dst-address-and-port",
            Fields::BothAddressesAndPorts => "both-addresses-and-ports",
        }
    }

    pub fn from_name(name: &str) -> Option<Fields> {
        Fields::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The values these fields take in `t`, as RouterOS would print them.
    pub fn values(self, t: &FiveTuple) -> String {
        let (s, d) = (t.src, t.dst);
        let (sp, dp) = (t.src_port, t.dst_port);
        match self {
            Fields::SrcAddress => s.to_string(),
            Fields::DstAddress => d.to_string(),
            Fields::BothAddresses => format!("{s}, {d}"),
            Fields::SrcPort => sp.to_string(),
            Fields::DstPort => dp.to_string(),
            Fields::BothPorts => format!("{sp}, {dp}"),
            Fields::SrcAddressAndPort => format!("{s}:{sp}"),
            Fields::DstAddressAndPort => format!("{d}:{dp}"),
            Fields::BothAddressesAndPorts => format!("{s}:{sp}, {d}:{dp}"),
        }
    }
}

/// One classifier: `fields:denominator/remainder`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Classifier {
    pub fields: Fields,
    pub denominator: u32,
    pub remainder: u32,
    pub hash: PccHash,
}

impl Classifier {
    /// Parses `both-addresses:7/3`, rejecting what RouterOS rejects.
    pub fn parse(text: &str) -> Result<Classifier, String> {
        let (fields, ratio) = text
            .split_once(':')
            .ok_or_else(|| format!("`{text}` is not FIELDS:DENOMINATOR/REMAINDER"))?;
        let fields = Fields::from_name(fields).ok_or_else(|| {
            format!(
                "`{fields}` is not a PCC field (one of: {})",
                Fields::ALL.map(Fields::name).join(", ")
            )
        })?;
        let (den, rem) = ratio
            .split_once('/')
            .ok_or_else(|| format!("`{ratio}` is not DENOMINATOR/REMAINDER"))?;
        let denominator: u32 = den
            .parse()
            .map_err(|_| format!("PCC denominator `{den}` is not a number"))?;
        let remainder: u32 = rem
            .parse()
            .map_err(|_| format!("PCC remainder `{rem}` is not a number"))?;
        if denominator == 0 {
            return Err("PCC denominator must be at least 1".into());
        }
        // RouterOS takes a remainder at or past the denominator (exports hold `2/2`): the
        // rule never matches, and `check` says so.
        Ok(Classifier {
            fields,
            denominator,
            remainder,
            hash: PccHash::default(),
        })
    }

    pub fn matches(&self, tuple: &FiveTuple) -> bool {
        self.bucket(tuple) == self.remainder
    }

    /// The bucket, `0..denominator`, a packet of `tuple` falls in.
    pub fn bucket(&self, tuple: &FiveTuple) -> u32 {
        match self.hash {
            PccHash::Pccsim => hash(self.fields, tuple) % self.denominator,
            PccHash::Jhash => jhash_bucket(self.fields, tuple, self.denominator),
        }
    }

    /// How the bucket comes about, for a trace or a lesson: the fields hashed, the hash, the
    /// bucket against the remainder the rule wants.
    pub fn explain(&self, tuple: &FiveTuple) -> String {
        let b = self.bucket(tuple);
        let fields = self.fields.values(tuple);
        let how = match self.hash {
            PccHash::Pccsim => format!(
                "hash {:#010x} mod {} = {b}",
                hash(self.fields, tuple),
                self.denominator
            ),
            PccHash::Jhash => format!("jhash scaled to {} buckets = {b}", self.denominator),
        };
        let verdict = if b == self.remainder { "=" } else { "≠" };
        format!(
            "{} of {fields}: {how} {verdict} remainder {}",
            self.fields.name(),
            self.remainder
        )
    }
}

impl fmt::Display for Classifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}/{}",
            self.fields.name(),
            self.denominator,
            self.remainder
        )
    }
}

/// The classifier hash of the selected fields. Unselected fields are zero, and the field choice
/// itself is mixed in so that, say, `src-port` and `dst-port` of the same number differ.
pub fn hash(fields: Fields, t: &FiveTuple) -> u32 {
    let src = u32::from(t.src) as u64;
    let dst = u32::from(t.dst) as u64;
    let (sp, dp) = (t.src_port as u64, t.dst_port as u64);
    let (addrs, ports) = match fields {
        Fields::SrcAddress => (src, 0),
        Fields::DstAddress => (dst << 32, 0),
        Fields::BothAddresses => (src | dst << 32, 0),
        Fields::SrcPort => (0, sp),
        Fields::DstPort => (0, dp << 16),
        Fields::BothPorts => (0, sp | dp << 16),
        Fields::SrcAddressAndPort => (src, sp),
        Fields::DstAddressAndPort => (dst << 32, dp << 16),
        Fields::BothAddressesAndPorts => (src | dst << 32, sp | dp << 16),
    };
    let mut h = mix64(addrs ^ 0x9e37_79b9_7f4a_7c15);
    h = mix64(h ^ ports ^ (fields as u64) << 40);
    (h >> 32) as u32 ^ h as u32
}

/// What `nft … jhash FIELDS mod n seed 0` gives a packet of this tuple, in `0..n`.
///
/// nft concatenates the fields in registers of four bytes, each in network order and a port
/// padded with two zero bytes (`ip saddr . tcp sport` is 8 bytes) — but a lone port is its two
/// bytes (`jhash(reg, 2, …)` in `nft --debug=netlink`); `nft_jhash_eval` hashes them with the
/// kernel's `jhash` and maps the hash to a bucket with `reciprocal_scale` (`hash × n >> 32`,
/// not a remainder).
pub fn jhash_bucket(fields: Fields, t: &FiveTuple, n: u32) -> u32 {
    let addr = |a: std::net::Ipv4Addr| a.octets();
    let port = |p: u16| {
        let [hi, lo] = p.to_be_bytes();
        [hi, lo, 0, 0]
    };
    let words: &[[u8; 4]] = match fields {
        Fields::SrcAddress => &[addr(t.src)],
        Fields::DstAddress => &[addr(t.dst)],
        Fields::BothAddresses => &[addr(t.src), addr(t.dst)],
        Fields::SrcPort => &[port(t.src_port)],
        Fields::DstPort => &[port(t.dst_port)],
        Fields::BothPorts => &[port(t.src_port), port(t.dst_port)],
        Fields::SrcAddressAndPort => &[addr(t.src), port(t.src_port)],
        Fields::DstAddressAndPort => &[addr(t.dst), port(t.dst_port)],
        Fields::BothAddressesAndPorts => {
            &[addr(t.src), addr(t.dst), port(t.src_port), port(t.dst_port)]
        }
    };
    let len = match fields {
        Fields::SrcPort | Fields::DstPort => 2,
        _ => 4 * words.len() as u32,
    };
    let h = jhash(words, len, 0);
    ((h as u64 * n as u64) >> 32) as u32
}

/// The kernel's `jhash()` (Bob Jenkins' lookup3, `include/linux/jhash.h`) over `len` bytes held
/// in whole words (the tail zero-padded), each read in the CPU's order as the kernel reads them
/// on x86 (little-endian); the length enters the initial value.
fn jhash(words: &[[u8; 4]], len: u32, seed: u32) -> u32 {
    let init = 0xdead_beef_u32.wrapping_add(len).wrapping_add(seed);
    let (mut a, mut b, mut c) = (init, init, init);
    let word = |i: usize| words.get(i).map_or(0, |w| u32::from_le_bytes(*w));
    let mut i = 0;
    // Whole blocks of three words are mixed; the last block (1–3 words) gets the final mix.
    while words.len() - i > 3 {
        a = a.wrapping_add(word(i));
        b = b.wrapping_add(word(i + 1));
        c = c.wrapping_add(word(i + 2));
        (a, b, c) = jhash_mix(a, b, c);
        i += 3;
    }
    if i == words.len() {
        return c;
    }
    a = a.wrapping_add(word(i));
    b = b.wrapping_add(word(i + 1));
    c = c.wrapping_add(word(i + 2));
    jhash_final(a, b, c)
}

fn jhash_mix(mut a: u32, mut b: u32, mut c: u32) -> (u32, u32, u32) {
    a = a.wrapping_sub(c) ^ c.rotate_left(4);
    c = c.wrapping_add(b);
    b = b.wrapping_sub(a) ^ a.rotate_left(6);
    a = a.wrapping_add(c);
    c = c.wrapping_sub(b) ^ b.rotate_left(8);
    b = b.wrapping_add(a);
    a = a.wrapping_sub(c) ^ c.rotate_left(16);
    c = c.wrapping_add(b);
    b = b.wrapping_sub(a) ^ a.rotate_left(19);
    a = a.wrapping_add(c);
    c = c.wrapping_sub(b) ^ b.rotate_left(4);
    b = b.wrapping_add(a);
    (a, b, c)
}

fn jhash_final(mut a: u32, mut b: u32, mut c: u32) -> u32 {
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(14));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(11));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(25));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(16));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(4));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(14));
    c ^= b;
    c.wrapping_sub(b.rotate_left(24))
}

/// The murmur3 64-bit finaliser: every input bit affects every output bit.
pub(crate) fn mix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    x
}

/// The share of new LAN connections each connection mark gets from the PCC rules in mangle
/// prerouting: each remainder counts for the first enabled rule that claims it.
pub fn configured_shares(mangle: &Table) -> Vec<(ConnMark, f64)> {
    let mut claimed = std::collections::HashSet::new();
    let mut shares: Vec<(ConnMark, f64)> = Vec::new();
    for rule in mangle
        .rules
        .iter()
        .filter(|r| !r.disabled && r.chain == PREROUTING)
    {
        let Action::MarkConnection(mark) = rule.action else {
            continue;
        };
        let Some(pcc) = rule.matchers.iter().find_map(|m| match m.kind {
            Match::Pcc(c) if !m.negate => Some(c),
            _ => None,
        }) else {
            continue;
        };
        if pcc.remainder >= pcc.denominator
            || !claimed.insert((pcc.fields, pcc.denominator, pcc.remainder))
        {
            continue;
        }
        let share = 1.0 / pcc.denominator as f64;
        match shares.iter_mut().find(|(m, _)| *m == mark) {
            Some((_, s)) => *s += share,
            None => shares.push((mark, share)),
        }
    }
    shares
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::Protocol;
    use std::net::Ipv4Addr;

    #[test]
    fn parses_and_rejects_like_routeros() {
        let c = Classifier::parse("both-addresses:7/3").unwrap();
        assert_eq!(c.fields, Fields::BothAddresses);
        assert_eq!((c.denominator, c.remainder), (7, 3));
        assert_eq!(c.to_string(), "both-addresses:7/3");
        // RouterOS stores a remainder past the denominator (a 7.11 export holds `2/2`); it
        // never matches.
        let never = Classifier::parse("both-addresses:2/2").unwrap();
        assert_eq!(never.remainder, 2);
        assert!(Classifier::parse("both-addresses:0/0").is_err());
        assert!(Classifier::parse("src-mac:2/0").is_err());
        assert!(Classifier::parse("both-addresses").is_err());
    }

    /// For each field choice, hash consecutive values of every field (consecutive hosts,
    /// ephemeral ports, server addresses: the case users report weak hashes get wrong) into 7
    /// buckets and run a chi-square test.
    #[test]
    fn hash_is_uniform_for_every_field_choice() {
        hash_is_uniform(|fields, t| hash(fields, t) % 7);
    }

    #[test]
    fn jhash_is_uniform_for_every_field_choice() {
        hash_is_uniform(|fields, t| jhash_bucket(fields, t, 7));
    }

    fn hash_is_uniform(bucket: impl Fn(Fields, &FiveTuple) -> u32) {
        const BUCKETS: usize = 7;
        const SAMPLES: u32 = 60_000;
        // 99.9th percentile of chi-square with 6 degrees of freedom.
        const CRITICAL: f64 = 22.46;
        for fields in Fields::ALL {
            let mut counts = [0u32; BUCKETS];
            for i in 0..SAMPLES {
                let t = FiveTuple {
                    src: Ipv4Addr::from(0x0a00_0000 + i),
                    dst: Ipv4Addr::from(0x5db8_0000 + 3 * i),
                    src_port: 1024 + i as u16,
                    dst_port: (i * 7 % 65_536) as u16,
                    protocol: Protocol::Tcp,
                };
                counts[bucket(fields, &t) as usize] += 1;
            }
            let expected = SAMPLES as f64 / BUCKETS as f64;
            let chi2: f64 = counts
                .iter()
                .map(|&c| (c as f64 - expected).powi(2) / expected)
                .sum();
            assert!(
                chi2 < CRITICAL,
                "{fields:?}: chi-square {chi2:.1}, counts {counts:?}"
            );
        }
    }

    #[test]
    fn hash_uses_only_the_selected_fields() {
        let a = FiveTuple {
            src: Ipv4Addr::new(10, 0, 0, 5),
            dst: Ipv4Addr::new(93, 184, 216, 34),
            src_port: 50000,
            dst_port: 443,
            protocol: Protocol::Tcp,
        };
        let other_port = FiveTuple {
            src_port: 50001,
            ..a
        };
        assert_eq!(
            hash(Fields::BothAddresses, &a),
            hash(Fields::BothAddresses, &other_port)
        );
        assert_ne!(
            hash(Fields::BothAddressesAndPorts, &a),
            hash(Fields::BothAddressesAndPorts, &other_port)
        );
    }
}
