//! Geneve headers (RFC 8926): 8 bytes plus variable options.

use crate::{DecodeError, be16, be32};

/// The IANA destination port.
pub const PORT: u16 = 6081;
/// Protocol types this decoder opens: Ethernet, IPv4, IPv6.
const OPENED: [u16; 3] = [0x6558, 0x0800, 0x86dd];

mod field {
    use crate::{Field, Rest};

    /// Version (2 bits) and the options' length in 4-byte words.
    pub const VER_OPT_LEN: usize = 0;
    /// The O (control) and C (critical options) flags.
    pub const FLAGS: usize = 1;
    pub const PROTOCOL: Field = 2..4;
    /// The 24-bit VNI, then a reserved byte.
    pub const VNI_RESERVED: Field = 4..8;
    pub const OPTIONS: Rest = 8..;
}

/// The length of a Geneve header without options.
pub const MIN_HEADER_LEN: usize = field::OPTIONS.start;

/// Whether `buffer` starts with a Geneve version 0 header carrying Ethernet
/// or IP: anything else on port 6081 stays ordinary UDP, which keeps random
/// payloads from being miscounted as broken tunnels.
pub fn probe(buffer: &[u8]) -> bool {
    buffer
        .get(..MIN_HEADER_LEN)
        .is_some_and(|h| h[field::VER_OPT_LEN] >> 6 == 0 && OPENED.contains(&be16(h, field::PROTOCOL)))
}

/// A view of a Geneve header.
#[derive(Debug, Clone, Copy)]
pub struct Header<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Header<T> {
    /// A view of `buffer` as it is; the accessors panic if it is shorter
    /// than a header, and `options` and `payload` if it is shorter than its
    /// options' length says.
    pub const fn new_unchecked(buffer: T) -> Self {
        Header { buffer }
    }

    /// A view of `buffer`, once it holds the header and its options.
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let b = buffer.as_ref();
        if b.len() < MIN_HEADER_LEN || b.len() < header_len(b) {
            return Err(DecodeError::GeneveTruncated);
        }
        Ok(Header { buffer })
    }

    /// The buffer the view was made of.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The version (0 is the only one defined).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_OPT_LEN] >> 6
    }

    /// The O flag: a control message, not data.
    pub fn is_control(&self) -> bool {
        self.buffer.as_ref()[field::FLAGS] & 0x80 != 0
    }

    /// The payload's ethertype (0x6558 for Ethernet).
    pub fn protocol(&self) -> u16 {
        be16(self.buffer.as_ref(), field::PROTOCOL)
    }

    /// The 24-bit virtual network identifier.
    pub fn vni(&self) -> u32 {
        be32(self.buffer.as_ref(), field::VNI_RESERVED) >> 8
    }

    /// The header's length with its options.
    pub fn header_len(&self) -> usize {
        header_len(self.buffer.as_ref())
    }
}

impl<'a, T: AsRef<[u8]> + ?Sized> Header<&'a T> {
    /// The options, undecoded.
    pub fn options(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        &b[MIN_HEADER_LEN..header_len(b)]
    }

    /// The bytes after the options: an Ethernet frame or an IP packet, as
    /// [`protocol`](Header::protocol) says.
    pub fn payload(&self) -> &'a [u8] {
        let b = self.buffer.as_ref();
        &b[header_len(b)..]
    }
}

/// The header length the options' length of `b` says.
fn header_len(b: &[u8]) -> usize {
    MIN_HEADER_LEN + usize::from(b[field::VER_OPT_LEN] & 0x3f) * 4
}

/// A Geneve option TLV (RFC 8926 3.5); `data` is a multiple of 4 bytes long.
#[cfg(feature = "emit")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneveOption {
    /// The option class (who defines the type).
    pub class: u16,
    /// The type within the class.
    pub kind: u8,
    /// The option's data, a multiple of 4 bytes up to 124.
    pub data: Vec<u8>,
}

#[cfg(feature = "emit")]
impl GeneveOption {
    fn encode(&self, out: &mut Vec<u8>) {
        assert!(self.data.len() % 4 == 0 && self.data.len() <= 124, "Geneve option data of {} bytes", self.data.len());
        out.extend_from_slice(&self.class.to_be_bytes());
        out.push(self.kind);
        out.push(crate::len8(self.data.len() / 4));
        out.extend_from_slice(&self.data);
    }
}

/// What [`Repr::emit`] writes: a Geneve version 0 data header with its
/// options.
#[cfg(feature = "emit")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr<'a> {
    /// The VNI (its low 24 bits).
    pub vni: u32,
    /// [`crate::gre::PROTO_TEB`] for Ethernet, or an IP ethertype.
    pub protocol: u16,
    /// The options, in order.
    pub options: &'a [GeneveOption],
}

#[cfg(feature = "emit")]
impl Repr<'_> {
    /// The header, then `payload`.
    ///
    /// # Panics
    ///
    /// If an option's data is not a multiple of 4 bytes up to 124, or the
    /// options are longer than the 6-bit length field can say.
    pub fn emit(&self, payload: &[u8]) -> Vec<u8> {
        let mut opts = Vec::new();
        for o in self.options {
            o.encode(&mut opts);
        }
        assert!(opts.len() / 4 <= 0x3f, "Geneve options too long");
        let mut g = vec![crate::len8(opts.len() / 4), 0x00];
        g.extend_from_slice(&self.protocol.to_be_bytes());
        g.extend_from_slice(&((self.vni & 0x00ff_ffff) << 8).to_be_bytes());
        g.extend_from_slice(&opts);
        g.extend_from_slice(payload);
        g
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_options() {
        // Two option words, Ethernet, VNI 0x000102.
        let h = [0x02, 0x00, 0x65, 0x58, 0x00, 0x01, 0x02, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 0xee];
        assert!(probe(&h));
        let g = Header::new_checked(&h).unwrap();
        assert_eq!((g.version(), g.is_control(), g.protocol(), g.vni()), (0, false, 0x6558, 0x102));
        assert_eq!((g.header_len(), g.options(), g.payload()), (16, &h[8..16], &[0xee][..]));
        assert_eq!(Header::new_checked(&h[..15]).err(), Some(DecodeError::GeneveTruncated));
        assert_eq!(Header::new_checked(&h[..7]).err(), Some(DecodeError::GeneveTruncated));
    }

    #[test]
    fn other_versions_and_protocols_are_not_geneve() {
        let v1 = [0x42, 0x00, 0x65, 0x58, 0, 0, 1, 0];
        assert!(!probe(&v1));
        let nsh = [0x00, 0x00, 0x89, 0x4f, 0, 0, 1, 0];
        assert!(!probe(&nsh));
        assert!(!probe(&[0x00, 0x00, 0x65, 0x58, 0, 0, 1]));
    }

    #[cfg(feature = "emit")]
    #[test]
    fn reads_what_repr_writes() {
        let options = [GeneveOption { class: 0x0103, kind: 0x80, data: vec![1, 2, 3, 4] }];
        let g = Repr { vni: 77, protocol: 0x0800, options: &options }.emit(&[0x45]);
        assert!(probe(&g));
        let h = Header::new_checked(&g[..]).unwrap();
        assert_eq!((h.vni(), h.protocol(), h.options().len(), h.payload()), (77, 0x0800, 8, &[0x45][..]));
    }
}
