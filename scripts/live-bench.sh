#!/usr/bin/env bash
# Live-capture load test: replays a capture into a veth pair at tcpreplay's
# top speed and reports frames per second captured, drops and CPU for
#   - tcpdump -w /dev/null          (libpcap's ring, no processing: the baseline)
#   - vendorwatch live, 1 worker    (ring + the whole pipeline)
#   - vendorwatch live, 2 workers   (PACKET_FANOUT hash over two rings)
#   - a capture-only probe, libpcap TPACKET_V3 ring   (--pnet)
#   - a capture-only probe, pnet 0.35 datalink channel (--pnet)
#
# Usage: sudo scripts/live-bench.sh [--pnet] [--loops N] [CAPTURE...]
# Without CAPTURE it uses the generator's bench capture when the project
# has one (cargo run --release --example genpcaps -- --bench FILE), else a
# set of nDPI corpus captures, looped. Traffic stays inside two network
# namespaces made for the run and deleted on exit. Needs root, iproute2,
# tcpreplay, tcpdump, curl and libpcap-dev; --pnet also fetches pnet from
# crates.io to build the probe.
set -euo pipefail
cd "$(dirname "$0")/.."

pnet=0
loops=20
files=()
while [ $# -gt 0 ]; do
    case "$1" in
        --pnet) pnet=1 ;;
        --loops) loops="$2"; shift ;;
        *) files+=("$1") ;;
    esac
    shift
done

[ "$(id -u)" = 0 ] || { echo "live-bench: needs root (network namespaces)" >&2; exit 1; }
for t in ip tcpreplay tcpdump curl; do
    command -v "$t" >/dev/null || { echo "live-bench: $t is not installed" >&2; exit 1; }
done

target="${CARGO_TARGET_DIR:-target}"
work="$(mktemp -d /tmp/vw-bench.XXXXXX)"
id="vwb$$"
ns_s="${id}s"; ns_t="${id}t"; if_s="${id}a"; if_t="${id}b"
cleanup() {
    ip netns del "$ns_s" 2>/dev/null || true
    ip netns del "$ns_t" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

cargo build --release --quiet
vw="$target/release/vendorwatch"

if [ ${#files[@]} -eq 0 ]; then
    if cargo run --release --quiet --example genpcaps -- --bench "$work/bench.pcap" 2>/dev/null; then
        files=("$work/bench.pcap")
    else
        corpus="${VENDORWATCH_CORPUS:-../shared/corpus/ndpi/pcap}"
        for f in netflix reddit wechat instagram telegram KakaoTalk_talk webex youtube_quic; do
            files+=("$corpus/$f.pcap")
        done
    fi
fi

# Two namespaces, one veth pair, no addresses, no route out, IPv6 off.
for ns in "$ns_s" "$ns_t"; do
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip link add "$if_s" netns "$ns_s" mtu 9000 type veth peer name "$if_t" netns "$ns_t" mtu 9000
ip -n "$ns_s" link set lo up
ip -n "$ns_s" link set "$if_s" up
ip -n "$ns_t" link set "$if_t" up

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)

# Sends the capture set $loops times at top speed; sets sent, secs.
send() {
    local out
    out=$(ip netns exec "$ns_t" tcpreplay --intf1="$if_t" --topspeed --preload-pcap --loop="$loops" "${files[@]}" 2>&1)
    sent=$(sed -n 's/.*Actual: \([0-9]*\) packets.*/\1/p' <<<"$out")
    secs=$(sed -n 's/.*sent in \([0-9.]*\) seconds.*/\1/p' <<<"$out")
}

results=()
row() { # name sent secs captured drops cpu_seconds
    local pps cpu
    pps=$(awk -v c="$4" -v s="$3" 'BEGIN{printf "%.0f", c/s}')
    cpu=$(awk -v t="$6" -v s="$3" 'BEGIN{printf "%.0f", 100*t/s}')
    results+=("$(printf '| %-34s | %10s | %9s | %11s | %9s | %8s | %6s%% |' "$1" "$2" "$(awk -v s="$2" -v t="$3" 'BEGIN{printf "%.0f", s/t}')" "$4" "$5" "$pps" "$cpu")")
}

bench_tcpdump() {
    ip netns exec "$ns_s" tcpdump -i "$if_s" -Q in -s 262144 -B 65536 -w /dev/null 2>"$work/tcpdump.err" &
    local pid=$!
    sleep 1
    local c0; c0=$(cpu_ticks "$pid")
    send
    sleep 1
    local c1; c1=$(cpu_ticks "$pid")
    kill -INT "$pid"; wait "$pid" || true
    local cap drop
    cap=$(sed -n 's/^\([0-9]*\) packets captured.*/\1/p' "$work/tcpdump.err")
    drop=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$work/tcpdump.err")
    row "tcpdump -w /dev/null" "$sent" "$secs" "$cap" "$drop" "$(awk -v a="$c0" -v b="$c1" -v h="$hz" 'BEGIN{print (b-a)/h}')"
}

metric() { # name labels-text
    ip netns exec "$ns_s" curl -s http://127.0.0.1:9799/metrics | awk -v n="$1{$2}" '$1 == n {print $2}'
}

bench_vendorwatch() {
    local workers=$1
    ip netns exec "$ns_s" "$vw" live --interface "$if_s" --workers "$workers" --listen 127.0.0.1:9799 2>"$work/vw.err" &
    local pid=$!
    for _ in $(seq 50); do ip netns exec "$ns_s" curl -sf http://127.0.0.1:9799/healthz >/dev/null && break; sleep 0.1; done
    local c0; c0=$(cpu_ticks "$pid")
    send
    sleep 2.5
    local c1; c1=$(cpu_ticks "$pid")
    local cap drop
    cap=$(metric vendorwatch_capture_packets_total "source=\"$if_s\"")
    drop=$(metric vendorwatch_capture_drops_total "interface=\"$if_s\"")
    kill -TERM "$pid"; wait "$pid" || true
    row "vendorwatch live --workers $workers" "$sent" "$secs" "${cap%.*}" "${drop%.*}" "$(awk -v a="$c0" -v b="$c1" -v h="$hz" 'BEGIN{print (b-a)/h}')"
}

build_probe() {
    local dir="${PROBE_DIR:-/tmp/vendorwatch-capture-probe}"
    mkdir -p "$dir/src"
    cat >"$dir/Cargo.toml" <<'EOF'
[package]
name = "capture-probe"
version = "0.1.0"
edition = "2024"
[dependencies]
pnet_datalink = "0.35"
pcap = "2.5"
libc = "0.2"
[profile.release]
debug = false
EOF
    cat >"$dir/src/main.rs" <<'EOF'
//! Counts frames on an interface for a while, with pnet's datalink channel
//! or libpcap's TPACKET_V3 ring; prints "received dropped cpu_seconds".
use std::time::{Duration, Instant};

fn cpu_seconds() -> f64 {
    let mut r: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut r) };
    let t = |v: libc::timeval| v.tv_sec as f64 + v.tv_usec as f64 / 1e6;
    t(r.ru_utime) + t(r.ru_stime)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (mode, ifname, secs) = (&args[1], &args[2], args[3].parse::<f64>().unwrap());
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let mut received = 0u64;
    let mut bytes = 0u64;
    let mut dropped = 0u64;
    if mode == "pnet" {
        use pnet_datalink::{Channel, Config};
        let iface = pnet_datalink::interfaces().into_iter().find(|i| &i.name == ifname).expect("interface");
        let config = Config { read_buffer_size: 65536, read_timeout: Some(Duration::from_millis(100)), promiscuous: true, ..Config::default() };
        let Ok(Channel::Ethernet(_tx, mut rx)) = pnet_datalink::channel(&iface, config) else { panic!("channel") };
        while Instant::now() < deadline {
            if let Ok(frame) = rx.next() {
                received += 1;
                bytes += frame.len() as u64;
            }
        }
    } else {
        let mut cap = pcap::Capture::from_device(ifname.as_str()).unwrap()
            .promisc(true).snaplen(262144).buffer_size(64 << 20).timeout(50).open().unwrap()
            .setnonblock().unwrap();
        cap.direction(pcap::Direction::In).unwrap();
        while Instant::now() < deadline {
            let n = cap.dispatch(Some(4096), |p| { received += 1; bytes += p.header.len as u64; }).unwrap();
            if n == 0 { std::thread::sleep(Duration::from_millis(1)); }
        }
        dropped = cap.stats().unwrap().dropped as u64;
    }
    let _ = bytes;
    println!("{received} {dropped} {:.3}", cpu_seconds());
}
EOF
    (cd "$dir" && CARGO_TARGET_DIR="$dir/target" cargo build --release --quiet)
    probe="$dir/target/release/capture-probe"
}

bench_probe() {
    local mode=$1 window=$2
    ip netns exec "$ns_s" "$probe" "$mode" "$if_s" "$window" >"$work/probe.out" &
    local pid=$!
    sleep 1
    send
    wait "$pid"
    read -r cap drop cpu <"$work/probe.out"
    [ "$mode" = pnet ] && drop="n/a ($((sent - cap)) lost)"
    # The probe's CPU covers its whole window; idle time costs next to nothing.
    row "probe: $mode" "$sent" "$secs" "$cap" "$drop" "$cpu"
}

bench_tcpdump
bench_vendorwatch 1
bench_vendorwatch 2
if [ "$pnet" = 1 ]; then
    build_probe
    # Probe windows cover the sending time with a margin.
    window=$(awk -v s="$secs" 'BEGIN{printf "%.1f", s + 3}')
    bench_probe ring "$window"
    bench_probe pnet "$window"
fi

echo
echo "machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), kernel $(uname -r)"
echo "input: ${#files[@]} file(s) x $loops loops, tcpreplay --topspeed over a veth pair (MTU 9000)"
echo
echo "| capture | frames sent | sent/s | frames read | drops | read/s | CPU |"
echo "|---|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${results[@]}"
