//! Opens a replay's inputs: the raw bytes of a file or of standard input,
//! counted for the progress line, decompressed and, given a core for it,
//! read ahead on a thread of their own (see [`vendorwatch::source::readahead`]).

use std::fs::File;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use vendorwatch::source::compressed::Stream;
use vendorwatch::source::file::CaptureReader;
use vendorwatch::source::input::{Input, Origin};

use super::replay::{Unopened, classify};

/// Counts the raw (compressed) bytes read, for the progress line.
struct Counted<R> {
    inner: R,
    bytes: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens an input's raw bytes: a file, or standard input.
fn open_raw(input: &Input, bytes: &Arc<AtomicU64>) -> Result<Box<dyn Read + Send>, String> {
    match &input.origin {
        Origin::Stdin => Ok(Box::new(Counted { inner: io::stdin(), bytes: bytes.clone() })),
        Origin::File { path, .. } => match File::open(path) {
            Ok(file) => Ok(Box::new(Counted { inner: file, bytes: bytes.clone() })),
            Err(e) => Err(format!("cannot open: {e}")),
        },
    }
}

/// Opens an input as a capture: its raw bytes, decompressed, read ahead if
/// `read_ahead`.
pub fn open(input: &Input, bytes: &Arc<AtomicU64>, read_ahead: bool) -> Result<CaptureReader<Stream>, Unopened> {
    let raw = open_raw(input, bytes).map_err(Unopened::Failed)?;
    let reader = if read_ahead { CaptureReader::read_ahead(raw) } else { CaptureReader::from_stream(raw) };
    reader.map_err(|e| classify(input, &e))
}
