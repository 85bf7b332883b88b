//! Stable-Rust smoke fuzzer: runs each target body over its seeds
//! (`seeds/<target>/`, plus `corpus/<target>/` when libFuzzer has grown one)
//! and then over random mutations of them, for a bounded time.
//!
//! Not coverage-guided like libFuzzer, but it needs no nightly compiler and
//! catches the shallow panics (bounds, arithmetic overflow in debug builds,
//! broken contracts) that mutations of valid inputs reach.
//!
//! ```text
//! smoke [--seconds S] [--seed N] [--pcaps DIR] [TARGET...]   fuzz (default: all targets, 20 s each)
//! smoke --repro TARGET FILE...                                 run one target on files, panics shown
//! ```
//!
//! A crashing input is written to `artifacts/smoke/<target>/crash-<hash>`
//! with its panic message and stack printed; the exit status is 1 if any
//! target crashed.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::panic;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use vendorwatch_fuzz::TARGETS;

/// The last panic's message, location and stack, filled in by the hook.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

const INTERESTING: [u8; 10] = [0, 1, 0x7f, 0x80, 0xff, 0x16, 0x03, 0xc0, 0x40, 0x3f];

/// One to four random edits: the usual byte-level mutations, plus 16-bit
/// big-endian length fields set to boundary values and splices from other
/// seeds.
fn mutate(rng: &mut Rng, input: &[u8], seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let len = v.len();
        match rng.below(10) {
            0 if len > 0 => {
                let i = rng.below(len);
                v[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                v[i] = rng.next() as u8;
            }
            2 if len > 0 => {
                let i = rng.below(len);
                v[i] = INTERESTING[rng.below(INTERESTING.len())];
            }
            3 if len > 1 => {
                let i = rng.below(len - 1);
                let value: u16 = match rng.below(5) {
                    0 => 0,
                    1 => 0xffff,
                    2 => (rng.below(64)) as u16,
                    3 => len as u16,
                    _ => u16::from_be_bytes([v[i], v[i + 1]]).wrapping_add(rng.below(9) as u16).wrapping_sub(4),
                };
                v[i..i + 2].copy_from_slice(&value.to_be_bytes());
            }
            4 => v.truncate(rng.below(len + 1)),
            5 if len > 0 => {
                let at = rng.below(len);
                let n = 1 + rng.below((len - at).min(64));
                v.drain(at..at + n);
            }
            6 => {
                let at = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                v.splice(at..at, bytes);
            }
            7 if len > 0 => {
                // Duplicate a chunk in place (repeated records, labels, ...).
                let from = rng.below(len);
                let n = 1 + rng.below((len - from).min(128));
                let chunk = v[from..from + n].to_vec();
                let at = rng.below(len + 1);
                v.splice(at..at, chunk);
            }
            8 if !seeds.is_empty() => {
                let other = &seeds[rng.below(seeds.len())];
                let from = rng.below(other.len() + 1);
                let to = from + rng.below(other.len() - from + 1);
                let at = rng.below(len + 1);
                v.splice(at.., other[from..to].iter().copied());
            }
            _ if len > 0 => {
                let i = rng.below(len);
                v[i] = v[i].wrapping_add(rng.below(7) as u8).wrapping_sub(3);
            }
            _ => v.push(rng.next() as u8),
        }
    }
    v.truncate(1 << 16);
    v
}

fn read_dir_files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect();
    files.sort();
    files.into_iter().filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b))).collect()
}

/// Small captures from `dir` (e.g. a pcap corpus) as extra seeds for the
/// targets that take captures or frames.
fn capture_seeds(dir: &Path, target: &str) -> Vec<Vec<u8>> {
    let files = read_dir_files(dir);
    let small = files.into_iter().filter(|(_, b)| b.len() <= 256 * 1024);
    match target {
        "capture_reader" => small.map(|(_, b)| b).collect(),
        "pipeline" => small.filter_map(|(_, b)| vendorwatch_fuzz::seeds::pipeline_input_from_capture(&b, 64)).collect(),
        "decode" => small.flat_map(|(_, b)| vendorwatch_fuzz::seeds::decode_inputs_from_capture(&b, 8)).collect(),
        _ => Vec::new(),
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::new();
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 32 == 0 {
            s.push('\n');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Runs `body` on `input`; `Err(panic report)` if it panicked.
fn run_one(body: fn(&[u8]), input: &[u8]) -> Result<(), String> {
    match panic::catch_unwind(|| body(input)) {
        Ok(()) => Ok(()),
        Err(_) => Err(LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).take().unwrap_or_default()),
    }
}

fn report_crash(root: &Path, target: &str, input: &[u8], report: &str) -> PathBuf {
    let mut h = DefaultHasher::new();
    input.hash(&mut h);
    let dir = root.join("artifacts").join("smoke").join(target);
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(format!("crash-{:016x}", h.finish()));
    let _ = std::fs::write(&path, input);
    eprintln!("=== CRASH in target {target}: {} ({} bytes)", path.display(), input.len());
    eprintln!("input (hex):\n{}", hex(&input[..input.len().min(512)]));
    eprintln!("{report}");
    path
}

fn main() -> ExitCode {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut seconds = 20.0f64;
    let mut seed = 0x5eed_u64;
    let mut pcaps: Option<PathBuf> = None;
    let mut repro = false;
    let mut names = Vec::new();
    while !args.is_empty() {
        let a = args.remove(0);
        match a.as_str() {
            "--seconds" => seconds = args.remove(0).parse().expect("--seconds takes a number"),
            "--seed" => seed = args.remove(0).parse().expect("--seed takes a number"),
            "--pcaps" => pcaps = Some(PathBuf::from(args.remove(0))),
            "--repro" => repro = true,
            "-h" | "--help" => {
                println!("smoke [--seconds S] [--seed N] [--pcaps DIR] [TARGET...] | smoke --repro TARGET FILE...");
                println!("targets: {}", TARGETS.iter().map(|t| t.0).collect::<Vec<_>>().join(" "));
                return ExitCode::SUCCESS;
            }
            _ => names.push(a),
        }
    }

    panic::set_hook(Box::new(|info| {
        let bt = std::backtrace::Backtrace::force_capture();
        *LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()) = Some(format!("panic: {info}\nstack:\n{bt}"));
    }));

    if repro {
        let Some((target, files)) = names.split_first() else {
            eprintln!("usage: smoke --repro TARGET FILE...");
            return ExitCode::from(2);
        };
        let Some(&(_, body)) = TARGETS.iter().find(|t| t.0 == target) else {
            eprintln!("unknown target {target}");
            return ExitCode::from(2);
        };
        let mut failed = false;
        for f in files {
            let input = std::fs::read(f).expect("readable input");
            match run_one(body, &input) {
                Ok(()) => println!("{f}: ok"),
                Err(report) => {
                    failed = true;
                    println!("{f}: CRASH\n{report}");
                }
            }
        }
        return if failed { ExitCode::from(1) } else { ExitCode::SUCCESS };
    }

    let selected: Vec<_> =
        TARGETS.iter().filter(|(n, _)| names.is_empty() || names.iter().any(|x| x == n)).copied().collect();
    if selected.is_empty() {
        eprintln!("no such target; known: {}", TARGETS.iter().map(|t| t.0).collect::<Vec<_>>().join(" "));
        return ExitCode::from(2);
    }
    let mut crashed_targets = 0;
    println!("| target | seeds | execs | execs/s | slowest input | crashes |");
    println!("|---|---|---|---|---|---|");
    for (name, body) in selected {
        let mut seeds: Vec<Vec<u8>> = read_dir_files(&root.join("seeds").join(name)).into_iter().map(|f| f.1).collect();
        if seeds.is_empty() {
            // Not written yet: the generated ones.
            seeds = vendorwatch_fuzz::seeds::all()
                .into_iter()
                .find(|(t, _)| *t == name)
                .map(|(_, s)| s.into_iter().map(|f| f.1).collect())
                .unwrap_or_default();
        }
        seeds.extend(read_dir_files(&root.join("corpus").join(name)).into_iter().map(|f| f.1));
        if let Some(dir) = &pcaps {
            seeds.extend(capture_seeds(dir, name));
        }
        let n_seeds = seeds.len();
        let mut rng = Rng(seed ^ (name.len() as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let mut crashes = 0usize;
        let mut seen_reports = std::collections::HashSet::new();
        let mut execs = 0u64;
        let mut slowest = Duration::ZERO;
        let start = Instant::now();
        let deadline = start + Duration::from_secs_f64(seconds);
        let mut queue: Vec<Vec<u8>> = seeds.clone();
        loop {
            let input = if let Some(s) = queue.pop() {
                s
            } else {
                if Instant::now() >= deadline {
                    break;
                }
                let base = if seeds.is_empty() { Vec::new() } else { seeds[rng.below(seeds.len())].clone() };
                mutate(&mut rng, &base, &seeds)
            };
            let t = Instant::now();
            let result = run_one(body, &input);
            slowest = slowest.max(t.elapsed());
            execs += 1;
            if let Err(report) = result {
                // One report per distinct panic location.
                let key = report.lines().next().unwrap_or_default().to_owned();
                if seen_reports.insert(key) {
                    report_crash(&root, name, &input, &report);
                }
                crashes += 1;
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "| {name} | {n_seeds} | {execs} | {:.0} | {:.1} ms | {crashes} ({} distinct) |",
            execs as f64 / secs,
            slowest.as_secs_f64() * 1e3,
            seen_reports.len()
        );
        if crashes > 0 {
            crashed_targets += 1;
        }
    }
    if crashed_targets > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS }
}
