//! Writes the capture fixtures, or the benchmark capture.
//!
//! ```sh
//! cargo run --release --example genpcaps                      # (re)writes pcaps/
//! cargo run --release --example genpcaps -- --out DIR        # the fixtures elsewhere
//! cargo run --release --example genpcaps -- --bench /tmp/bench.pcap [--packets 800000]
//! # flows of 10 packets on average, every one caught opening (handshakes to inspect):
//! cargo run --release --example genpcaps -- --bench /tmp/opening.pcap --flow-packets 10 --opening 100
//! ```
//!
//! Output is byte-for-byte reproducible: `tests/replay.rs` checks that the
//! committed `pcaps/` is what `synth::fixtures` generates.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::process::ExitCode;

use synth::fixtures;

const USAGE: &str =
    "usage: genpcaps [--out DIR] | --bench FILE [--packets N] [--seed N] [--flow-packets N] [--opening PERCENT]";

fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("genpcaps: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Vec<String>) -> Result<(), String> {
    let mut out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let mut bench: Option<PathBuf> = None;
    let mut packets = 800_000u64;
    let mut seed = 1u64;
    let mut shape = fixtures::BenchShape::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--out" => out = PathBuf::from(value()?),
            "--bench" => bench = Some(PathBuf::from(value()?)),
            "--packets" => packets = value()?.parse().map_err(|e| format!("--packets: {e}"))?,
            "--seed" => seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--flow-packets" => {
                shape.packets_per_flow = value()?.parse().map_err(|e| format!("--flow-packets: {e}"))?;
            }
            "--opening" => shape.opening_pct = value()?.parse().map_err(|e| format!("--opening: {e}"))?,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if let Some(path) = bench {
        let file = File::create(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
        let stats = fixtures::bench_shaped(BufWriter::with_capacity(1 << 20, file), packets, seed, shape)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("{}: {} packets, {} bytes, {} flows", path.display(), stats.packets, stats.bytes, stats.flows);
        return Ok(());
    }
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let all = fixtures::all();
    for f in &all {
        let path = out.join(f.name);
        std::fs::write(&path, &f.bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("{:>8}  {}", f.bytes.len(), path.display());
    }
    let readme = out.join("README.md");
    std::fs::write(&readme, fixtures::readme(&all)).map_err(|e| format!("cannot write {}: {e}", readme.display()))?;
    Ok(())
}
