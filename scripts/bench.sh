#!/usr/bin/env bash
# Replay benchmark, end to end: builds release binaries, generates the
# benchmark capture (examples/genpcaps.rs --bench) into out/, then times on
# one core, in one run:
#   - bare loop      benches/bare_loop.rs: CaptureReader + decode + hash of
#                    the flow key (hashbrown's default hasher), nothing else
#   - vendorwatch    vendorwatch replay FILE (stdout discarded)
#   - ndpiReader     ndpiReader -i FILE (Debian's libndpi-bin; stdout discarded)
#   - tshark         tshark -r FILE -q -z conv,tcp (TCP conversation table)
#   - tshark SNI     tshark -r FILE -T fields -e tls.handshake.extensions_server_name
# and prints a markdown table (median wall time, packets/s, ratios) plus the
# machine, also written to out/bench.md; raw hyperfine JSON in out/.
#
# Targets (issue): vendorwatch >= 5x faster than ndpiReader, and within 1.5x
# of the bare loop. The script exits 0 either way; the table says PASS/FAIL.
#
# Environment: PACKETS (800000), RUNS (10 for the fast tools), SLOW_RUNS (3,
# tshark), CORE (0), SEED (genpcaps' default when unset), CAPTURE (an
# existing capture to use instead of generating one), CARGO_TARGET_DIR.
# Needs hyperfine, taskset (util-linux), ndpiReader (libndpi-bin), tshark,
# python3: apt-get install hyperfine libndpi-bin tshark.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKETS=${PACKETS:-800000}
RUNS=${RUNS:-10}
SLOW_RUNS=${SLOW_RUNS:-3}
CORE=${CORE:-0}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
OUT=out
mkdir -p "$OUT"

for tool in hyperfine taskset ndpiReader tshark python3; do
    command -v "$tool" >/dev/null || { echo "bench.sh: $tool not found (apt-get install hyperfine libndpi-bin tshark)" >&2; exit 2; }
done

echo "== building (release)" >&2
cargo build --release --quiet --bin vendorwatch
# The bench profile inherits release; --no-run prints the executable's path.
BARE=$(cargo bench --quiet --no-run --bench bare_loop --message-format=json \
    | python3 -c 'import sys, json
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "bare_loop" and m.get("executable"):
        print(m["executable"])')
VW=$CARGO_TARGET_DIR/release/vendorwatch
GEN=$CARGO_TARGET_DIR/release/examples/genpcaps

CAP=${CAPTURE:-$OUT/bench-$PACKETS${SEED:+-seed$SEED}.pcap}
if [ ! -s "$CAP" ]; then
    echo "== generating $CAP" >&2
    cargo build --release --quiet --example genpcaps
    "$GEN" --bench "$CAP.tmp" --packets "$PACKETS" ${SEED:+--seed "$SEED"} >&2
    mv "$CAP.tmp" "$CAP"
fi
# Every tool reads the file from the page cache, not the disk.
cat "$CAP" >/dev/null
FRAMES=$("$BARE" "$CAP" | sed -n 's/^frames \([0-9]*\) .*/\1/p')

# Other work on the machine skews wall times: say how busy it was.
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "== timing on core $CORE ($RUNS runs; tshark $SLOW_RUNS); load average $load_before" >&2
pin="taskset -c $CORE"
hyperfine -N --style basic --warmup 2 --runs "$RUNS" --export-json "$OUT/bench-fast.json" \
    -n "bare loop" "$pin $BARE $CAP" \
    -n "vendorwatch" "$pin $VW replay $CAP" \
    -n "ndpiReader" "$pin ndpiReader -i $CAP" >&2
hyperfine -N --style basic --warmup 1 --runs "$SLOW_RUNS" --export-json "$OUT/bench-slow.json" \
    -n "tshark conv" "$pin tshark -r $CAP -q -z conv,tcp" \
    -n "tshark SNI" "$pin tshark -r $CAP -T fields -e tls.handshake.extensions_server_name" >&2

load_after=$(cut -d' ' -f1-3 /proc/loadavg)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
ndpi=$(dpkg-query -W -f='${Version}' libndpi-bin 2>/dev/null || echo unknown)
tsv=$(tshark --version | head -1 | sed 's/\.$//')
machine="$(nproc) cores, $cpu; Linux $(uname -r); $(rustc --version); libndpi-bin $ndpi; $tsv; $(hyperfine --version)"

python3 - "$OUT/bench-fast.json" "$OUT/bench-slow.json" "$FRAMES" "$CAP" "$(du -m "$CAP" | cut -f1)" "$machine" "$CORE" \
    "$load_before -> $load_after" \
    <<'EOF' | tee "$OUT/bench.md"
import json, sys
fast, slow, frames, cap, mib, machine, core, load = sys.argv[1:]
frames = int(frames)
results = json.load(open(fast))["results"] + json.load(open(slow))["results"]
by = {r["command"]: r for r in results}
commands = {
    "bare loop": "bare_loop FILE",
    "vendorwatch": "vendorwatch replay FILE",
    "ndpiReader": "ndpiReader -i FILE",
    "tshark conv": "tshark -r FILE -q -z conv,tcp",
    "tshark SNI": "tshark -r FILE -T fields -e tls.handshake.extensions_server_name",
}
vw = by["vendorwatch"]["median"]
print(f"Capture: `{cap}`, {frames} packets, {mib} MiB. Pinned to core {core} (`taskset -c {core}`); "
      f"median of {len(by['vendorwatch']['times'])} runs ({len(by['tshark conv']['times'])} for tshark), "
      "stdout discarded, file in the page cache.")
print()
print("| tool | command | median s | min s | max s | user+sys s | packets/s | time vs vendorwatch |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for name, cmd in commands.items():
    r = by[name]
    print(f"| {name} | `{cmd}` | {r['median']:.3f} | {r['min']:.3f} | {r['max']:.3f} | {r['user'] + r['system']:.3f} | "
          f"{frames / r['median'] / 1e6:.2f} M | {r['median'] / vw:.2f}x |")
print()
ndpi = by["ndpiReader"]["median"] / vw
bare = vw / by["bare loop"]["median"]
print(f"- vendorwatch vs ndpiReader: {ndpi:.2f}x faster (target >= 5x): **{'PASS' if ndpi >= 5 else 'FAIL'}**")
print(f"- vendorwatch vs bare loop: {bare:.2f}x the bare loop's time (target <= 1.5x): **{'PASS' if bare <= 1.5 else 'FAIL'}**")
print(f"- vendorwatch vs tshark conv: {by['tshark conv']['median'] / vw:.1f}x faster; vs tshark SNI: {by['tshark SNI']['median'] / vw:.1f}x faster")
print()
print(f"Machine: {machine}. Load average (1/5/15 min) before -> after timing: {load}.")
EOF
