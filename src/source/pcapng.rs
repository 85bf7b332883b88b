//! pcapng files: several sections, several interfaces each with its own link
//! type and timestamp resolution, either byte order.
//!
//! Blocks are `type, total_length, body, total_length`; we read Section
//! Header, Interface Description, Enhanced/Simple/obsolete Packet blocks and
//! skip the rest.

use std::io::Read;

use super::buffer::ReadBuffer;
use super::{Frame, LinkType, MAX_INTERFACE_NAMES, MAX_RECORD_LEN, ReadError};

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const PB: u32 = 2;
const SPB: u32 = 3;
const EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// A packet block holding the largest record, with room for its header and
/// options; other blocks (name tables, statistics, custom) are skipped
/// whole. Anything bigger is taken as corruption.
const MAX_BLOCK_LEN: u32 = MAX_RECORD_LEN + 64 * 1024;
/// Finest `if_tsresol` accepted: picoseconds (10^-12, or 2^-40). Finer
/// units leave a 64-bit stamp less than seven months from 1970: no real
/// capture clock ticks that way, and such a value is a corrupt header.
const MAX_DECIMAL_RESOLUTION: u32 = 12;
const MAX_BINARY_RESOLUTION: u32 = 40;
/// Interfaces one section may declare: real captures have a handful; a
/// file of nothing but descriptions would otherwise grow the list with
/// its size.
const MAX_SECTION_INTERFACES: usize = 65_536;
/// An `if_name` longer than this is not kept: interface names are short
/// (Linux: 15 bytes; Windows' `\Device\NPF_{GUID}`: 50).
const MAX_NAME_LEN: usize = 256;

#[derive(Debug, Clone, Copy)]
enum TsScale {
    Micros,
    Nanos,
    /// Units per second, for the unusual resolutions.
    PerSecond(u64),
}

impl TsScale {
    fn to_nanos(self, ts: u64) -> u64 {
        match self {
            TsScale::Micros => ts.saturating_mul(1_000),
            TsScale::Nanos => ts,
            TsScale::PerSecond(units) => {
                let ns = u128::from(ts) * 1_000_000_000 / u128::from(units.max(1));
                u64::try_from(ns).unwrap_or(u64::MAX)
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Interface {
    link: LinkType,
    snaplen: u32,
    scale: TsScale,
}

/// An `if_name` option's value: UTF-8, though writers may end it with NULs.
fn interface_name(value: &[u8]) -> Option<Box<str>> {
    let value = value.split(|&b| b == 0).next().unwrap_or(value);
    if value.is_empty() || value.len() > MAX_NAME_LEN {
        return None;
    }
    std::str::from_utf8(value).ok().map(Box::from)
}

/// Reads a pcapng stream frame by frame through one reused buffer: its
/// sections, interfaces and packet blocks (enhanced, simple and the
/// obsolete packet block); blocks of other types are passed over.
pub struct PcapNgReader<R> {
    buf: ReadBuffer<R>,
    big_endian: bool,
    interfaces: Vec<Interface>,
    /// Interfaces of earlier sections, so interface numbers stay unique per file.
    interface_base: u32,
    /// `if_name` of every interface of the file so far, by frame interface
    /// number (the first [`MAX_INTERFACE_NAMES`]).
    names: Vec<Option<Box<str>>>,
    records: u64,
    /// Where the block handed out last starts.
    record_offset: u64,
}

impl<R: Read> PcapNgReader<R> {
    pub(crate) fn new(buf: ReadBuffer<R>) -> Self {
        PcapNgReader {
            buf,
            big_endian: false,
            interfaces: Vec::new(),
            interface_base: 0,
            names: Vec::new(),
            records: 0,
            record_offset: 0,
        }
    }

    /// The `if_name` of `interface` (a frame's interface number), once its
    /// description has been read.
    pub fn interface_name(&self, interface: u32) -> Option<&str> {
        self.names.get(interface as usize)?.as_deref()
    }

    fn u32_at(&self, b: &[u8], at: usize) -> u32 {
        let raw = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.big_endian { u32::from_be_bytes(raw) } else { u32::from_le_bytes(raw) }
    }

    fn u16_at(&self, b: &[u8], at: usize) -> u16 {
        let raw = [b[at], b[at + 1]];
        if self.big_endian { u16::from_be_bytes(raw) } else { u16::from_le_bytes(raw) }
    }

    /// Where the block of the frame handed out last starts.
    pub fn record_offset(&self) -> u64 {
        self.record_offset
    }

    /// The next frame, `Ok(None)` at the clean end of the file.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, ReadError> {
        loop {
            self.buf.release();
            let offset = self.buf.offset();
            let record = self.records;
            let io = |source| ReadError::reading(offset, record, source);
            if !self.buf.fill(12).map_err(io)? {
                if self.buf.available().is_empty() {
                    return Ok(None);
                }
                return Err(ReadError::Truncated { offset, record, what: "block header" });
            }
            let h = self.buf.available();
            let mut block_type = self.u32_at(h, 0);
            if u32::from_le_bytes([h[0], h[1], h[2], h[3]]) == SHB {
                block_type = SHB;
                // The section's byte order is whatever makes the magic read right.
                let magic = [h[8], h[9], h[10], h[11]];
                self.big_endian = if u32::from_le_bytes(magic) == BYTE_ORDER_MAGIC {
                    false
                } else if u32::from_be_bytes(magic) == BYTE_ORDER_MAGIC {
                    true
                } else {
                    return Err(ReadError::Malformed { offset, record, what: "section byte-order magic" });
                };
            }
            let h = self.buf.available();
            let len = self.u32_at(h, 4);
            if len > MAX_BLOCK_LEN {
                return Err(ReadError::TooLarge { offset, record, len: u64::from(len) });
            }
            if len < 12 || len % 4 != 0 {
                return Err(ReadError::Malformed { offset, record, what: "block length" });
            }
            if !self.buf.fill(len as usize).map_err(io)? {
                return Err(ReadError::Truncated { offset, record, what: "block body" });
            }
            let len = len as usize;
            // Both lengths must agree, or the next block would be looked
            // for at a place nobody wrote one.
            if self.u32_at(self.buf.available(), len - 4) as usize != len {
                return Err(ReadError::Malformed {
                    offset,
                    record,
                    what: "trailing block length differs from the leading one",
                });
            }
            match block_type {
                SHB => {
                    // Interface numbers saturate rather than wrap onto earlier sections'.
                    let declared = u32::try_from(self.interfaces.len()).unwrap_or(u32::MAX);
                    self.interface_base = self.interface_base.saturating_add(declared);
                    self.interfaces.clear();
                    self.buf.consume(len);
                }
                IDB => {
                    if self.interfaces.len() >= MAX_SECTION_INTERFACES {
                        return Err(ReadError::Malformed {
                            offset,
                            record,
                            what: "more than 65,536 interfaces in one section",
                        });
                    }
                    let (iface, name) = self
                        .parse_idb(&self.buf.available()[8..len - 4])
                        .map_err(|what| ReadError::Malformed { offset, record, what })?;
                    let number =
                        self.interface_base.saturating_add(u32::try_from(self.interfaces.len()).unwrap_or(u32::MAX));
                    self.interfaces.push(iface);
                    // Numbers run on from section to section: the list has
                    // one entry for each number before this one.
                    if (number as usize) == self.names.len() && self.names.len() < MAX_INTERFACE_NAMES {
                        self.names.push(name);
                    }
                    self.buf.consume(len);
                }
                EPB | SPB | PB => {
                    let body = &self.buf.available()[8..len - 4];
                    let Some((start, caplen, wire_len, iface_id, ts)) = self.packet_fields(block_type, body) else {
                        return Err(ReadError::Malformed { offset, record, what: "packet block" });
                    };
                    let Some(iface) = self.interfaces.get(iface_id as usize).copied() else {
                        return Err(ReadError::Malformed { offset, record, what: "packet for undeclared interface" });
                    };
                    let data_start = 8 + start;
                    self.buf.hand_out(len);
                    self.records += 1;
                    self.record_offset = offset;
                    return Ok(Some(Frame {
                        ts_ns: iface.scale.to_nanos(ts),
                        link: iface.link,
                        data: &self.buf.available()[data_start..data_start + caplen],
                        wire_len: wire_len.max(u32::try_from(caplen).unwrap_or(u32::MAX)),
                        interface: self.interface_base.saturating_add(iface_id),
                    }));
                }
                _ => self.buf.consume(len),
            }
        }
    }

    /// (data offset in body, captured length, wire length, interface, timestamp)
    fn packet_fields(&self, block_type: u32, body: &[u8]) -> Option<(usize, usize, u32, u32, u64)> {
        let ts = |hi: u32, lo: u32| (u64::from(hi) << 32) | u64::from(lo);
        let (start, caplen, wire_len, iface, stamp) = match block_type {
            EPB if body.len() >= 20 => {
                let iface = self.u32_at(body, 0);
                let stamp = ts(self.u32_at(body, 4), self.u32_at(body, 8));
                (20, self.u32_at(body, 12), self.u32_at(body, 16), iface, stamp)
            }
            PB if body.len() >= 20 => {
                let iface = u32::from(self.u16_at(body, 0));
                let stamp = ts(self.u32_at(body, 4), self.u32_at(body, 8));
                (20, self.u32_at(body, 12), self.u32_at(body, 16), iface, stamp)
            }
            SPB if body.len() >= 4 => {
                // A simple packet carries no captured length: it is whatever
                // fits, cut to the interface's snap length.
                let wire = self.u32_at(body, 0);
                let room = u32::try_from(body.len() - 4).unwrap_or(u32::MAX);
                let snap =
                    self.interfaces.first().map_or(u32::MAX, |i| if i.snaplen == 0 { u32::MAX } else { i.snaplen });
                (4, wire.min(room).min(snap), wire, 0, 0)
            }
            _ => return None,
        };
        if caplen > MAX_RECORD_LEN || start + caplen as usize > body.len() {
            return None;
        }
        Some((start, caplen as usize, wire_len, iface, stamp))
    }

    fn parse_idb(&self, body: &[u8]) -> Result<(Interface, Option<Box<str>>), &'static str> {
        if body.len() < 8 {
            return Err("interface description");
        }
        let link = LinkType::from_number(u32::from(self.u16_at(body, 0)));
        let snaplen = self.u32_at(body, 4);
        let mut scale = TsScale::Micros;
        let mut name = None;
        let mut opts = &body[8..];
        while opts.len() >= 4 {
            let code = self.u16_at(opts, 0);
            let olen = usize::from(self.u16_at(opts, 2));
            let padded = (olen + 3) & !3;
            if code == 0 || opts.len() < 4 + padded {
                break;
            }
            if code == 2 {
                name = interface_name(&opts[4..4 + olen]);
            }
            if code == 9 && olen >= 1 {
                // if_tsresol: high bit set means a power of two, else of ten.
                let v = opts[4];
                let exp = u32::from(v & 0x7f);
                let binary = v & 0x80 != 0;
                if exp > if binary { MAX_BINARY_RESOLUTION } else { MAX_DECIMAL_RESOLUTION } {
                    return Err("interface timestamp resolution (if_tsresol) finer than a picosecond");
                }
                scale = match (binary, exp) {
                    (true, e) => TsScale::PerSecond(1 << e),
                    (false, 6) => TsScale::Micros,
                    (false, 9) => TsScale::Nanos,
                    (false, e) => TsScale::PerSecond(10u64.pow(e)),
                };
            }
            opts = &opts[4 + padded..];
        }
        Ok((Interface { link, snaplen, scale }, name))
    }
}
