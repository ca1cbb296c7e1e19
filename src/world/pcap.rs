//! The classic pcap file format (nanosecond timestamps, Ethernet frames), which Wireshark,
//! tshark and tcpdump read. [`crate::world::link::Capture`] decides what goes in and when; this module
//! only lays out the bytes.

use crate::units::{SEC, Time};
use std::io::{self, Write};

/// The magic number of a pcap file whose timestamps are in nanoseconds.
const MAGIC_NS: u32 = 0xa1b2_3c4d;
const LINKTYPE_ETHERNET: u32 = 1;
pub const SNAPLEN: u32 = 65_535;

pub struct PcapWriter<W: Write> {
    out: W,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header.
    pub fn new(mut out: W) -> io::Result<PcapWriter<W>> {
        let mut header = Vec::with_capacity(24);
        header.extend_from_slice(&MAGIC_NS.to_le_bytes());
        header.extend_from_slice(&2u16.to_le_bytes());
        header.extend_from_slice(&4u16.to_le_bytes());
        header.extend_from_slice(&0i32.to_le_bytes()); // GMT offset
        header.extend_from_slice(&0u32.to_le_bytes()); // timestamp accuracy
        header.extend_from_slice(&SNAPLEN.to_le_bytes());
        header.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
        out.write_all(&header)?;
        Ok(PcapWriter { out })
    }

    /// One frame seen at simulated time `at` (the capture's clock starts at the epoch).
    pub fn frame(&mut self, at: Time, frame: &[u8]) -> io::Result<()> {
        let mut record = [0u8; 16];
        record[0..4].copy_from_slice(&((at / SEC) as u32).to_le_bytes());
        record[4..8].copy_from_slice(&((at % SEC) as u32).to_le_bytes());
        record[8..12].copy_from_slice(&(frame.len() as u32).to_le_bytes());
        record[12..16].copy_from_slice(&(frame.len() as u32).to_le_bytes());
        self.out.write_all(&record)?;
        self.out.write_all(frame)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_records_are_laid_out_as_libpcap_reads_them() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.frame(3 * SEC + 5, &[0xaa; 60]).unwrap();
        let bytes = w.out;
        assert_eq!(bytes.len(), 24 + 16 + 60);
        assert_eq!(&bytes[0..4], &[0x4d, 0x3c, 0xb2, 0xa1]);
        assert_eq!(&bytes[20..24], &[1, 0, 0, 0]);
        assert_eq!(&bytes[24..28], &[3, 0, 0, 0]);
        assert_eq!(&bytes[28..32], &[5, 0, 0, 0]);
        assert_eq!(&bytes[32..36], &[60, 0, 0, 0]);
    }
}
