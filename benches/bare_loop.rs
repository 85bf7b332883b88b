//! The floor for `vendorwatch replay`: read a capture, decode each frame and
//! hash its flow key, nothing else.
//!
//! It uses the very reader (`CaptureReader`), decoder (`decode::decode`),
//! key (`FlowKey::of`) and hasher (hashbrown's default, as in the flow table)
//! that the pipeline uses, so the gap between this loop and the real binary
//! is the cost of flow tracking, inspection, classification and counting.
//!
//! Built by `scripts/bench.sh` with `cargo bench --no-run --bench bare_loop`
//! and run as `bare_loop FILE`. Run by `cargo bench` without a file, it only
//! says so and exits, so that `cargo bench` still runs the other benches.

use std::hash::BuildHasher;
use std::path::Path;
use std::process::ExitCode;

use hashbrown::DefaultHashBuilder;
use vendorwatch::decode::{self, Decoded};
use vendorwatch::flow::FlowKey;
use vendorwatch::source::file::CaptureReader;

fn main() -> ExitCode {
    // `cargo bench` passes `--bench` (and maybe a filter); only a path counts.
    let Some(file) = std::env::args().skip(1).find(|a| !a.starts_with('-')) else {
        eprintln!("bare_loop: no capture file given; skipped (usage: bare_loop FILE)");
        return ExitCode::SUCCESS;
    };
    let mut reader = match CaptureReader::open(Path::new(&file)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("bare_loop: {e:#}");
            return ExitCode::from(2);
        }
    };
    let hasher = DefaultHashBuilder::default();
    let (mut frames, mut packets, mut other) = (0u64, 0u64, 0u64);
    // Folded into the output so the compiler cannot drop the hashing.
    let mut digest = 0u64;
    loop {
        match reader.next_frame() {
            Ok(Some(frame)) => {
                frames += 1;
                match decode::decode(frame.link, frame.data) {
                    Ok(Decoded::Packet(p)) => {
                        packets += 1;
                        let (key, _) = FlowKey::of(&p);
                        digest = digest.wrapping_add(hasher.hash_one(key));
                    }
                    _ => other += 1,
                }
            }
            Ok(None) => break,
            Err(e) => {
                eprintln!("bare_loop: {file}: {e}");
                break;
            }
        }
    }
    println!("frames {frames} packets {packets} other {other} digest {digest:016x}");
    ExitCode::SUCCESS
}
