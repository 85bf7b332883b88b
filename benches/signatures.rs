//! Signature sets at scale: `cargo bench --bench signatures`.
//!
//! - `load/200k_entries_70k_services`: `SignatureSet::from_files` over one
//!   generated file of 200,000 entries naming 70,000 services (hosts,
//!   suffixes, prefixes and port rules mixed). Loading must stay near-linear.
//! - `load/8000_prefixes_x_8000_ports`: one entry with 8,000 prefixes and
//!   8,000 port rules (it costs prefixes + ports, not their product).
//! - `match_port/60k_rules`: `match_port` with 60,000 port rules loaded.

use std::fmt::Write as _;
use std::hint::black_box;
use std::net::IpAddr;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use vendorwatch::classify::signatures::SignatureSet;

fn many_entries(entries: u32, services: u32) -> String {
    let mut text = String::from("vendor = \"v\"\ndisplay_name = \"V\"\n");
    for i in 0..entries {
        let service = i % services;
        let k = i / 4;
        let _ = writeln!(text, "[[entry]]\nservice = \"s{service}\"\nsource = \"generated\"");
        let _ = match i % 4 {
            0 => writeln!(text, "hosts = [\"h{i}.example.com\"]"),
            1 => writeln!(text, "suffixes = [\"d{i}.example.net\"]"),
            2 => writeln!(text, "cidrs = [\"10.{}.{}.{}/32\"]", k >> 16, (k >> 8) & 0xff, k & 0xff),
            _ => writeln!(
                text,
                "cidrs = [\"fd00:{:x}:{:x}::/48\"]\nports = [\"tcp/{}\"]",
                k >> 16,
                k & 0xffff,
                1 + i % 60000
            ),
        };
    }
    text
}

fn prefixes_by_ports(n: u32) -> String {
    let prefixes: Vec<String> = (0..n).map(|i| format!("\"10.{}.{}.0/24\"", i / 256, i % 256)).collect();
    let ports: Vec<String> = (0..n).map(|i| format!("\"udp/{}\"", 1 + 3 * i)).collect();
    format!(
        "vendor = \"v\"\ndisplay_name = \"V\"\n[[entry]]\nservice = \"s\"\nsource = \"generated\"\ncidrs = [{}]\nports = [{}]\n",
        prefixes.join(","),
        ports.join(",")
    )
}

fn load(text: &str) -> SignatureSet {
    SignatureSet::from_files([(PathBuf::from("v.toml"), text.to_owned())]).expect("generated set is valid")
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    let big = many_entries(200_000, 70_000);
    group.bench_function("200k_entries_70k_services", |b| b.iter(|| load(black_box(&big))));
    let product = prefixes_by_ports(8000);
    group.bench_function("8000_prefixes_x_8000_ports", |b| b.iter(|| load(black_box(&product))));
    group.finish();

    let rules: Vec<String> = (0..60_000u32).map(|i| format!("\"tcp/{}\"", 1 + i)).collect();
    let text = format!(
        "vendor = \"v\"\ndisplay_name = \"V\"\n[[entry]]\nservice = \"net\"\nsource = \"generated\"\ncidrs = [\"17.0.0.0/8\"]\n[[entry]]\nservice = \"s\"\nsource = \"generated\"\nports = [{}]\n",
        rules.join(",")
    );
    let set = load(&text);
    let addr: IpAddr = "17.1.2.3".parse().unwrap();
    let entry = set.match_addr(addr).unwrap();
    c.bench_function("match_port/60k_rules", |b| {
        let mut port = 0u16;
        b.iter(|| {
            port = port.wrapping_add(7919);
            set.match_port(black_box(entry), addr, 6, port)
        });
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
