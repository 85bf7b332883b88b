//! Compressed captures, recognised by their first bytes rather than by their
//! names: gzip (`.pcap.gz`, as captures are usually handed over), zstd and xz.
//!
//! The decoders stream: each keeps a bounded window (gzip 32 KiB; zstd its
//! frame's window, which libzstd refuses above 128 MiB, what `zstd --long`
//! writes, default levels using at most 8 MiB; xz its dictionary, 64 MiB at
//! `xz -9`) and the capture reader still reads through its one reused
//! buffer, so memory does not grow with the file. Offsets in read errors
//! count bytes of the decompressed stream.

use std::fmt;
use std::io::{self, Cursor, Read};

/// How a capture stream is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Not compressed (or in a format not recognised: read as it is).
    None,
    /// gzip (RFC 1952); members one after another read as one stream.
    Gzip,
    /// Zstandard.
    Zstd,
    /// xz; streams one after another read as one stream.
    Xz,
}

/// Enough bytes to tell every format apart (xz's magic is the longest).
const MAGIC_LEN: usize = 6;
const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];

impl Compression {
    /// The compression whose magic `prefix` starts with.
    pub fn detect(prefix: &[u8]) -> Compression {
        if prefix.starts_with(GZIP_MAGIC) {
            Compression::Gzip
        } else if prefix.starts_with(ZSTD_MAGIC) {
            Compression::Zstd
        } else if prefix.starts_with(XZ_MAGIC) {
            Compression::Xz
        } else {
            Compression::None
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "uncompressed",
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
            Compression::Xz => "xz",
        })
    }
}

/// A readable stream of the capture's own bytes.
pub type Stream = Box<dyn Read + Send>;

/// Looks at the first bytes of `inner` and returns its decompressed
/// content (or `inner` itself, bytes untouched, when it is not compressed).
pub fn decompressed<R: Read + Send + 'static>(mut inner: R) -> io::Result<(Stream, Compression)> {
    let mut prefix = [0u8; MAGIC_LEN];
    let mut len = 0;
    // A pipe may hand out fewer bytes per read than the magic needs.
    while len < MAGIC_LEN {
        match inner.read(&mut prefix[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let compression = Compression::detect(&prefix[..len]);
    let whole = Cursor::new(prefix[..len].to_vec()).chain(inner);
    let stream: Stream = match compression {
        Compression::None => Box::new(whole),
        // Multi-member, as pigz and `cat a.gz b.gz` write.
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(whole)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(whole)?),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(whole)),
    };
    Ok((stream, compression))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn payload() -> Vec<u8> {
        (0..200_000u32).flat_map(|i| (i % 251).to_le_bytes()).collect()
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(data).unwrap();
        gz.finish().unwrap()
    }

    fn xz(data: &[u8]) -> Vec<u8> {
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
        xz.write_all(data).unwrap();
        xz.finish().unwrap()
    }

    fn read_all(stream: &mut Stream) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        stream.read_to_end(&mut out).map(|_| out)
    }

    #[test]
    fn each_format_is_recognised_by_content_and_decompressed() {
        let data = payload();
        let zst = zstd::stream::encode_all(&data[..], 3).unwrap();
        for (bytes, want) in [
            (gzip(&data), Compression::Gzip),
            (zst, Compression::Zstd),
            (xz(&data), Compression::Xz),
            (data.clone(), Compression::None),
        ] {
            let (mut stream, found) = decompressed(Cursor::new(bytes)).unwrap();
            assert_eq!(found, want);
            assert!(read_all(&mut stream).unwrap() == data, "{want} stream decodes to the original bytes");
        }
    }

    #[test]
    fn concatenated_gzip_members_are_one_stream() {
        let both = [gzip(b"first "), gzip(b"second")].concat();
        let (mut stream, _) = decompressed(Cursor::new(both)).unwrap();
        assert_eq!(read_all(&mut stream).unwrap(), b"first second");
    }

    #[test]
    fn short_and_empty_inputs_pass_through() {
        for bytes in [&b""[..], b"\x1f", b"ab"] {
            let (mut stream, found) = decompressed(Cursor::new(bytes.to_vec())).unwrap();
            assert_eq!(found, Compression::None, "too short for any magic");
            assert_eq!(read_all(&mut stream).unwrap(), bytes);
        }
    }

    #[test]
    fn a_cut_stream_ends_with_unexpected_eof_not_a_clean_end() {
        let data = payload();
        let zst = zstd::stream::encode_all(&data[..], 3).unwrap();
        for mut bytes in [gzip(&data), zst, xz(&data)] {
            bytes.truncate(bytes.len() / 2);
            let (mut stream, found) = decompressed(Cursor::new(bytes)).unwrap();
            let err = read_all(&mut stream).expect_err("a cut stream must not end cleanly");
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "{found}: {err}");
        }
    }
}
