#!/usr/bin/env bash
# Live load benchmark with netsniff-ng's trafgen: mixed traffic into a veth
# pair, the sensor at its own limit, with 1 and 2 workers.
#
# The traffic (one trafgen cycle, repeated; addresses and ports change at
# run time, so every SYN and every hello opens a new flow):
#   1 DNS answer   10.10.0.1:53 -> 10.10.1.k: gateway.icloud.com A 198.51.100.k
#   1 SYN          10.10.1.k:random -> 198.51.100.k:443 (a new flow the answer names)
#   1 ClientHello  10.10.2.random:random -> 203.0.113.10:443, SNI www.apple.com (a new flow)
#   D data         10.10.3.k:40000 -> 203.0.113.20:443, PAYLOAD bytes each (256 running flows)
# For each worker count it reports frames sent (the sender's veth counter),
# captured (vendorwatch_capture_packets_total), dropped by the kernel
# (vendorwatch_capture_drops_total), the sensor's CPU (utime + stime from
# /proc/PID/stat) and CPU per captured frame, and the flows it attributed.
#
# Usage: sudo scripts/load-bench.sh [--seconds S] [--rate R] [--data D] [--payload BYTES] [--workers "1 2"]
#        sudo scripts/load-bench.sh --soak [--seconds 600] [--rate 20000pps]
# --rate is trafgen's (e.g. 50000pps; default: as fast as it goes). --soak runs
# one sensor (1 worker) at a steady rate and samples its VmRSS every 10 s:
# memory must stay flat. The sender and the sensor are pinned to different
# cores when the machine has two (taskset). Needs root, iproute2, trafgen
# (Debian netsniff-ng) and curl. Traffic stays inside two namespaces made for
# the run and deleted on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=10
rate=
data=5
payload=1000
workers_list="1 2"
soak=0
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift ;;
        --rate) rate="$2"; shift ;;
        --data) data="$2"; shift ;;
        --payload) payload="$2"; shift ;;
        --workers) workers_list="$2"; shift ;;
        --soak) soak=1 ;;
        *) echo "load-bench: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
if [ "$soak" = 1 ]; then
    [ "$seconds" = 10 ] && seconds=600
    [ -n "$rate" ] || rate=20000pps
    workers_list=1
fi

[ "$(id -u)" = 0 ] || { echo "load-bench: needs root (network namespaces)" >&2; exit 1; }
for t in ip trafgen curl; do
    command -v "$t" >/dev/null || { echo "load-bench: $t is not installed" >&2; exit 1; }
done

target="${CARGO_TARGET_DIR:-target}"
work="$(mktemp -d /tmp/vw-load.XXXXXX)"
id="vwl$$"
ns_s="${id}s"; ns_t="${id}t"; if_s="${id}a"; if_t="${id}b"
sensor_pid=
cleanup() {
    [ -n "$sensor_pid" ] && kill "$sensor_pid" 2>/dev/null || true
    ip netns del "$ns_s" 2>/dev/null || true
    ip netns del "$ns_t" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
[ -n "${LOAD_BENCH_DEBUG:-}" ] && set -x

cargo build --release --quiet
vw="$target/release/vendorwatch"

for ns in "$ns_s" "$ns_t"; do
    ip netns add "$ns"
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip link add "$if_s" netns "$ns_s" type veth peer name "$if_t" netns "$ns_t"
ip -n "$ns_s" link set lo up
ip -n "$ns_s" link set "$if_s" up
ip -n "$ns_t" link set "$if_t" up

# With two cores or more, the sender gets one and the sensor the others.
cores=$(nproc)
sender_pin=(); sensor_pin=()
if [ "$cores" -ge 2 ] && command -v taskset >/dev/null; then
    sender_pin=(taskset -c $((cores - 1)))
    sensor_pin=(taskset -c "0-$((cores - 2))")
fi

eth='eth(da=02:00:00:00:00:01, sa=02:00:00:00:00:02)'
{
    echo "/* DNS answer: gateway.icloud.com A 198.51.100.k to client 10.10.1.k */"
    echo "{ $eth, ipv4(sa=10.10.0.1, da=10.10.1.0, da[3]=dinc(1, 254), ttl=64), udp(sp=53, dp=drnd(40000, 60000)),"
    echo "  drnd(2), 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,"
    echo "  7, \"gateway\", 6, \"icloud\", 3, \"com\", 0, 0x00, 0x01, 0x00, 0x01,"
    echo "  0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x04, 198, 51, 100, dinc(1, 254) }"
    echo "/* SYN: the client connects to the address it was given */"
    echo "{ $eth, ipv4(sa=10.10.1.0, sa[3]=dinc(1, 254), da=198.51.100.0, da[3]=dinc(1, 254), ttl=64),"
    echo "  tcp(sp=drnd(1024, 65535), dp=443, seq=drnd(), syn, win=64240) }"
    echo "/* A ClientHello naming www.apple.com on a new flow */"
    echo "{ $eth, ipv4(sa=10.10.2.0, sa[3]=drnd(1, 254), da=203.0.113.10, ttl=64),"
    # (trafgen 0.6.8 fails, "xfree: NULL pointer", with more runtime
    # randoms in this packet: the hello's random is constant.)
    echo "  tcp(sp=drnd(1024, 65535), dp=443, seq=1, aseq=1, psh, ack, win=64240),"
    echo "  0x16, 0x03, 0x01, 0x00, 0x45, 0x01, 0x00, 0x00, 0x41, 0x03, 0x03, fill(0x42, 32), 0x00,"
    echo "  0x00, 0x02, 0x13, 0x01, 0x01, 0x00, 0x00, 0x16,"
    echo "  0x00, 0x00, 0x00, 0x12, 0x00, 0x10, 0x00, 0x00, 0x0d, \"www.apple.com\" }"
    for _ in $(seq "$data"); do
        echo "/* Data on one of 256 running flows */"
        echo "{ $eth, ipv4(sa=10.10.3.0, sa[3]=dinc(1, 254), da=203.0.113.20, ttl=64),"
        echo "  tcp(sp=40000, dp=443, seq=dinc(), aseq=1, psh, ack, win=64240), fill(0x17, $payload) }"
    done
} >"$work/mix.cfg"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
tx_packets() { ip netns exec "$ns_t" cat "/sys/class/net/$if_t/statistics/tx_packets"; }

metrics() { ip netns exec "$ns_s" curl -s --max-time 5 http://127.0.0.1:9799/metrics; }
metric() { # exposition name labels-text ("" for an unlabelled sample)
    local series="$2"
    [ -n "$3" ] && series="$2{$3}"
    awk -v n="$series" '$1 == n {printf "%.0f", $2}' <<<"$1"
}
sum_family() { # exposition family
    awk -v f="$2{" 'index($1, f) == 1 {s += $2} END {printf "%.0f", s}' <<<"$1"
}
rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

start_sensor() {
    "${sensor_pin[@]}" ip netns exec "$ns_s" "$vw" live --interface "$if_s" --workers "$1" \
        --listen 127.0.0.1:9799 --flush-interval 1s 2>"$work/vw.err" &
    sensor_pid=$!
    for _ in $(seq 100); do
        ip netns exec "$ns_s" curl -sf http://127.0.0.1:9799/healthz >/dev/null && return
        sleep 0.1
    done
    echo "load-bench: the sensor did not start:" >&2
    cat "$work/vw.err" >&2
    exit 1
}

stop_sensor() {
    kill -TERM "$sensor_pid"
    wait "$sensor_pid" || true
    sensor_pid=
}

# Runs trafgen for $1 seconds; rate from --rate.
send() {
    local args=(--dev "$if_t" --conf "$work/mix.cfg" --cpus 1 --no-sock-mem)
    [ -n "$rate" ] && args+=(--rate "$rate")
    "${sender_pin[@]}" ip netns exec "$ns_t" timeout -s INT "$1" trafgen "${args[@]}" >"$work/trafgen.out" 2>&1 || true
    grep -qi "error\|fail\|xfree\|unrecognized" "$work/trafgen.out" && { echo "load-bench: trafgen:" >&2; cat "$work/trafgen.out" >&2; } || true
}

echo "load-bench: $(nproc) cores, sender ${sender_pin[*]:-unpinned}, sensor ${sensor_pin[*]:-unpinned}," \
    "cycle: 1 answer, 1 SYN, 1 hello, $data x $payload-byte data; ${rate:-top speed}, ${seconds}s"

if [ "$soak" = 1 ]; then
    start_sensor 1
    send "$seconds" &
    sender=$!
    echo "| t (s) | VmRSS (MB) | captured | drops | flows in table |"
    echo "|---|---|---|---|---|"
    t0=$(date +%s)
    while kill -0 "$sender" 2>/dev/null; do
        m=$(metrics)
        printf '| %d | %.1f | %s | %s | %s |\n' $(($(date +%s) - t0)) "$(awk -v k="$(rss_kb "$sensor_pid")" 'BEGIN{print k/1024}')" \
            "$(metric "$m" vendorwatch_capture_packets_total "source=\"$if_s\"")" \
            "$(metric "$m" vendorwatch_capture_drops_total "interface=\"$if_s\"")" \
            "$(metric "$m" vendorwatch_flow_table_flows "")"
        sleep 10
    done
    wait "$sender" || true
    stop_sensor
    exit 0
fi

echo "| workers | sent | sent/s | captured | captured/s | drops | sensor CPU | CPU per frame | flows | attributed |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for workers in $workers_list; do
    start_sensor "$workers"
    tx0=$(tx_packets)
    c0=$(cpu_ticks "$sensor_pid")
    s0=$(date +%s.%N)
    send "$seconds"
    s1=$(date +%s.%N)
    tx1=$(tx_packets)
    # Let the rings drain and one flush interval pass before reading.
    sleep 2
    c1=$(cpu_ticks "$sensor_pid")
    m=$(metrics)
    stop_sensor
    sent=$((tx1 - tx0))
    captured=$(metric "$m" vendorwatch_capture_packets_total "source=\"$if_s\"")
    drops=$(metric "$m" vendorwatch_capture_drops_total "interface=\"$if_s\"")
    flows=$(sum_family "$m" vendorwatch_flows_total)
    none=$(awk '/^vendorwatch_flows_total\{.*vendor="none"/ {s += $2} END {printf "%.0f", s}' <<<"$m")
    awk -v w="$workers" -v sent="$sent" -v cap="$captured" -v drops="$drops" -v t0="$s0" -v t1="$s1" \
        -v c="$((c1 - c0))" -v hz="$hz" -v flows="$flows" -v none="$none" 'BEGIN {
        secs = t1 - t0; cpu = c / hz
        printf "| %d | %d | %.0f | %d | %.0f | %d | %.1f s (%.0f%% of a core) | %.0f ns | %d | %d |\n",
            w, sent, sent / secs, cap, cap / secs, drops, cpu, 100 * cpu / secs, cap ? 1e9 * cpu / cap : 0,
            flows, flows - none
    }'
done
