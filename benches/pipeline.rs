//! Per-packet cost of the replay data path on an in-memory capture, so that
//! regressions show without a capture file: `cargo bench --bench pipeline`.
//!
//! - `decode/*`: one frame through `decode::decode` (mid-flow TCP data, a
//!   DNS query, IPv6 TCP, QinQ-tagged UDP).
//! - `read/pcap`: `CaptureReader` over an in-memory pcap, frames only.
//! - `pipeline/*`: `Pipeline::process` per packet over a traffic mix like a
//!   real link (mostly mid-flow data, some handshakes with ClientHellos,
//!   some DNS), and over mid-flow data alone (the common case).
//!
//! Throughput is reported per packet (elements/s).

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use vendorwatch::classify::signatures::SignatureSet;
use vendorwatch::decode;
use vendorwatch::pipeline::{DEFAULT_MAX_FLOWS, FlowRecords, Pipeline, Rules};
use vendorwatch::segment::Config;
use vendorwatch::source::file::CaptureReader;
use vendorwatch::source::{Frame, LinkType};

const ETH_IPV4: [u8; 14] = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];

fn ipv4(src: Ipv4Addr, dst: Ipv4Addr, protocol: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = ETH_IPV4.to_vec();
    let total = (20 + l4.len()) as u16;
    f.extend_from_slice(&[0x45, 0, (total >> 8) as u8, total as u8, 0, 0, 0x40, 0, 64, protocol, 0, 0]);
    f.extend_from_slice(&src.octets());
    f.extend_from_slice(&dst.octets());
    f.extend_from_slice(l4);
    f
}

fn tcp(sp: u16, dp: u16, seq: u32, flags: u8, data: &[u8]) -> Vec<u8> {
    let mut s = Vec::with_capacity(20 + data.len());
    s.extend_from_slice(&sp.to_be_bytes());
    s.extend_from_slice(&dp.to_be_bytes());
    s.extend_from_slice(&seq.to_be_bytes());
    s.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    s.extend_from_slice(data);
    s
}

fn udp(sp: u16, dp: u16, data: &[u8]) -> Vec<u8> {
    let mut d = Vec::with_capacity(8 + data.len());
    d.extend_from_slice(&sp.to_be_bytes());
    d.extend_from_slice(&dp.to_be_bytes());
    d.extend_from_slice(&((8 + data.len()) as u16).to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(data);
    d
}

/// A TLS record holding a ClientHello with SNI `name` and ALPN h2.
fn client_hello(name: &str) -> Vec<u8> {
    let n = name.as_bytes();
    let mut sni = Vec::new();
    sni.extend_from_slice(&((n.len() + 3) as u16).to_be_bytes());
    sni.push(0);
    sni.extend_from_slice(&(n.len() as u16).to_be_bytes());
    sni.extend_from_slice(n);
    let mut ext = vec![0, 0];
    ext.extend_from_slice(&(sni.len() as u16).to_be_bytes());
    ext.extend_from_slice(&sni);
    ext.extend_from_slice(&[0, 16, 0, 5, 0, 3, 2, b'h', b'2']);
    let mut body = vec![3, 3];
    body.extend_from_slice(&[0x5a; 32]);
    body.extend_from_slice(&[0, 0, 4, 0x13, 0x01, 0x13, 0x02, 1, 0]);
    body.extend_from_slice(&(ext.len() as u16).to_be_bytes());
    body.extend_from_slice(&ext);
    let mut hs = vec![1];
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 3, 1];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

fn dns_query(id: u16, name: &str) -> Vec<u8> {
    let mut m = id.to_be_bytes().to_vec();
    m.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    m
}

const NAMES: [&str; 6] = [
    "1-courier.push.apple.com",
    "api16-normal-c-useast1a.tiktokv.com",
    "www.google.com",
    "update.huawei.com",
    "example.org",
    "login.microsoftonline.com",
];

/// A deterministic mix of frames: `flows` TLS flows, each a handshake with a
/// ClientHello then `data_per_flow` server data segments (1448 bytes) with an
/// ACK every other one, interleaved round-robin; one DNS query per flow.
fn traffic(flows: u32, data_per_flow: u32) -> Vec<(u64, Vec<u8>)> {
    let mut per_flow: Vec<Vec<Vec<u8>>> = Vec::new();
    for i in 0..flows {
        let c = Ipv4Addr::from(0x0a00_0000 | (i * 7 + 1));
        let s = Ipv4Addr::from(0x1100_0000 | (i * 13 + 5));
        let cp = 20_000 + (i % 40_000) as u16;
        let (mut cs, mut ss) = (i.wrapping_mul(2_654_435_761), i.wrapping_mul(40_503));
        let mut v = Vec::new();
        v.push(ipv4(c, Ipv4Addr::new(10, 0, 0, 53), 17, &udp(cp ^ 1, 53, &dns_query(i as u16, NAMES[i as usize % 6]))));
        v.push(ipv4(c, s, 6, &tcp(cp, 443, cs, 0x02, &[])));
        cs = cs.wrapping_add(1);
        v.push(ipv4(s, c, 6, &tcp(443, cp, ss, 0x12, &[])));
        ss = ss.wrapping_add(1);
        v.push(ipv4(c, s, 6, &tcp(cp, 443, cs, 0x10, &[])));
        let hello = client_hello(NAMES[i as usize % NAMES.len()]);
        v.push(ipv4(c, s, 6, &tcp(cp, 443, cs, 0x18, &hello)));
        cs = cs.wrapping_add(hello.len() as u32);
        let data = [0x17u8; 1448];
        for j in 0..data_per_flow {
            v.push(ipv4(s, c, 6, &tcp(443, cp, ss, 0x10, &data)));
            ss = ss.wrapping_add(1448);
            if j % 2 == 1 {
                v.push(ipv4(c, s, 6, &tcp(cp, 443, cs, 0x10, &[])));
            }
        }
        per_flow.push(v);
    }
    let mut out = Vec::new();
    let mut ts = 1_700_000_000_000_000_000u64;
    let longest = per_flow.iter().map(Vec::len).max().unwrap_or(0);
    for k in 0..longest {
        for f in &mut per_flow {
            if let Some(frame) = f.get_mut(k) {
                ts += 20_000;
                out.push((ts, std::mem::take(frame)));
            }
        }
    }
    out
}

fn pcap_file(frames: &[(u64, Vec<u8>)]) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [0xa1b2_3c4du32, 0x0004_0002, 0, 0, 65535, 1] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    for (ts, data) in frames {
        let len = data.len() as u32;
        for x in [(ts / 1_000_000_000) as u32, (ts % 1_000_000_000) as u32, len, len] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v.extend_from_slice(data);
    }
    v
}

fn rules() -> Arc<Rules> {
    Arc::new(Rules::new(SignatureSet::embedded(), Config::default_auto()).expect("embedded rules are valid"))
}

fn frame(ts_ns: u64, data: &[u8]) -> Frame<'_> {
    Frame { ts_ns, link: LinkType::Ethernet, data, wire_len: data.len() as u32, interface: 0 }
}

fn bench_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    let data = ipv4(Ipv4Addr::new(17, 0, 0, 5), Ipv4Addr::new(10, 0, 0, 1), 6, &tcp(443, 50_000, 1, 0x10, &[0; 1448]));
    g.bench_function("ipv4_tcp_data", |b| b.iter(|| decode::decode(LinkType::Ethernet, black_box(&data)).is_ok()));
    let dns =
        ipv4(Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 53), 17, &udp(5353, 53, &dns_query(7, NAMES[0])));
    g.bench_function("ipv4_udp_dns", |b| b.iter(|| decode::decode(LinkType::Ethernet, black_box(&dns)).is_ok()));
    let mut v6 = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd];
    let seg = tcp(443, 50_000, 1, 0x10, &[0; 1200]);
    v6.extend_from_slice(&[0x60, 0, 0, 0]);
    v6.extend_from_slice(&(seg.len() as u16).to_be_bytes());
    v6.extend_from_slice(&[6, 64]);
    v6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    v6.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    v6.extend_from_slice(&seg);
    g.bench_function("ipv6_tcp_data", |b| b.iter(|| decode::decode(LinkType::Ethernet, black_box(&v6)).is_ok()));
    let mut qinq = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x88, 0xa8, 0x00, 0x64, 0x81, 0x00, 0x00, 0x1e];
    qinq.extend_from_slice(&dns[12..]);
    g.bench_function("qinq_udp", |b| b.iter(|| decode::decode(LinkType::Ethernet, black_box(&qinq)).is_ok()));
    g.finish();
}

fn bench_read(c: &mut Criterion) {
    let frames = traffic(200, 100);
    let file = pcap_file(&frames);
    let mut g = c.benchmark_group("read");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("pcap", |b| {
        b.iter(|| {
            let mut r = CaptureReader::from_reader(black_box(&file[..])).expect("valid pcap");
            let mut bytes = 0usize;
            while let Ok(Some(f)) = r.next_frame() {
                bytes += f.data.len();
            }
            bytes
        })
    });
    g.finish();
}

fn bench_pipeline(c: &mut Criterion) {
    let rules = rules();
    let mut g = c.benchmark_group("pipeline");
    g.sample_size(20);

    // A link's mix: 500 flows from their first packet, ~150 packets each.
    let mix = traffic(500, 100);
    g.throughput(Throughput::Elements(mix.len() as u64));
    g.bench_function("mix_from_start", |b| {
        b.iter_batched(
            || Pipeline::new(rules.clone(), DEFAULT_MAX_FLOWS, FlowRecords::Off),
            |mut p| {
                let source = p.add_source("bench");
                for (ts, data) in &mix {
                    p.process(&frame(*ts, data), source);
                }
                p.finish();
                p
            },
            BatchSize::LargeInput,
        )
    });

    // Mid-flow data only: the flows are set up (and inspection is done)
    // before timing, so this is the per-packet cost that dominates a link.
    let warm = traffic(500, 40);
    // Server data segments and bare client ACKs (TCP flags byte 0x10).
    let mid: Vec<(u64, Vec<u8>)> =
        warm.iter().filter(|(_, d)| d.len() > 1000 || (d.len() == 54 && d[47] == 0x10)).cloned().collect();
    let mut p = Pipeline::new(rules.clone(), DEFAULT_MAX_FLOWS, FlowRecords::Off);
    let source = p.add_source("bench");
    for (ts, data) in &warm {
        p.process(&frame(*ts, data), source);
    }
    let last = warm.last().map_or(0, |(ts, _)| *ts);
    g.throughput(Throughput::Elements(mid.len() as u64));
    g.bench_function("mid_flow", |b| {
        b.iter(|| {
            // Same timestamp each round: flows stay alive, nothing expires.
            for (_, data) in &mid {
                p.process(&frame(last, black_box(data)), source);
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench_decode, bench_read, bench_pipeline);
criterion_main!(benches);
