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
# Then, unpinned, `vendorwatch replay --workers 1` and `--workers 2` on the
# capture, on ten zstd copies of it in one run, and on a capture of
# connection openings (400k packets, flows of 10 packets on average, all
# caught opening: what the inspectors work on) (out/bench-workers.md);
# with BASELINE=/path/to/an/older/vendorwatch, that binary's six runs too,
# in the same hyperfine run (before and after a change).
#
# Environment: PACKETS (800000), RUNS (10 for the fast tools), SLOW_RUNS (3,
# tshark), CORE (0), SEED (genpcaps' default when unset), CAPTURE (an
# existing capture to use instead of generating one), CARGO_TARGET_DIR,
# ONLY=workers (just the multi-worker table), WORKER_RUNS (5), BASELINE.
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

ONLY=${ONLY:-}
WORKER_RUNS=${WORKER_RUNS:-5}
tools="hyperfine zstd python3"
[ "$ONLY" = workers ] || tools="$tools taskset ndpiReader tshark"
for tool in $tools; do
    command -v "$tool" >/dev/null || { echo "bench.sh: $tool not found (apt-get install hyperfine libndpi-bin tshark zstd)" >&2; exit 2; }
done

echo "== building (release)" >&2
cargo build --release --quiet --bin vendorwatch
VW=$CARGO_TARGET_DIR/release/vendorwatch
GEN=$CARGO_TARGET_DIR/release/examples/genpcaps

CAP=${CAPTURE:-$OUT/bench-$PACKETS${SEED:+-seed$SEED}.pcap}
if [ ! -s "$CAP" ]; then
    echo "== generating $CAP" >&2
    cargo build --release --quiet --example genpcaps
    "$GEN" --bench "$CAP.tmp" --packets "$PACKETS" ${SEED:+--seed "$SEED"} >&2
    mv "$CAP.tmp" "$CAP"
fi

# Several workers: the capture alone, ten zstd copies in one run (a
# directory of them) and the openings capture, each with one and with two
# workers. Not pinned: the point is to use the cores. Every copy repeats
# the same flows, so the report is that of one copy with ten times the
# traffic.
workers_table() {
    local ten=$OUT/bench-zstd-x10 opening=$OUT/bench-opening-400000${SEED:+-seed$SEED}.pcap
    if [ ! -s "$opening" ]; then
        cargo build --release --quiet --example genpcaps
        "$GEN" --bench "$opening.tmp" --packets 400000 --flow-packets 10 --opening 100 ${SEED:+--seed "$SEED"} >&2
        mv "$opening.tmp" "$opening"
    fi
    if [ ! -s "$ten/copy-9.pcap.zst" ]; then
        mkdir -p "$ten"
        zstd -q -3 -f "$CAP" -o "$ten/copy-0.pcap.zst"
        for i in 1 2 3 4 5 6 7 8 9; do cp "$ten/copy-0.pcap.zst" "$ten/copy-$i.pcap.zst"; done
    fi
    cat "$CAP" "$ten"/* "$opening" >/dev/null
    local load_before load_after frames
    load_before=$(cut -d' ' -f1-3 /proc/loadavg)
    echo "== multi-worker timing ($WORKER_RUNS runs); load average $load_before" >&2
    local runs=()
    local bin tag
    for bin in "$VW" ${BASELINE:+"$BASELINE"}; do
        tag=""
        [ "$bin" = "$VW" ] || tag="baseline "
        runs+=(-n "${tag}1 worker, capture" "$bin replay --workers 1 $CAP"
            -n "${tag}2 workers, capture" "$bin replay --workers 2 $CAP"
            -n "${tag}1 worker, 10 x zstd" "$bin replay --workers 1 $ten"
            -n "${tag}2 workers, 10 x zstd" "$bin replay --workers 2 $ten"
            -n "${tag}1 worker, openings" "$bin replay --workers 1 $opening"
            -n "${tag}2 workers, openings" "$bin replay --workers 2 $opening")
    done
    hyperfine -N --style basic --warmup 1 --runs "$WORKER_RUNS" --export-json "$OUT/bench-workers.json" "${runs[@]}" >&2
    load_after=$(cut -d' ' -f1-3 /proc/loadavg)
    local packets='import sys, json; print(json.load(sys.stdin)["capture"]["packets"])' opening_frames
    frames=$("$VW" replay --format json "$CAP" | python3 -c "$packets")
    opening_frames=$("$VW" replay --format json "$opening" | python3 -c "$packets")
    python3 - "$OUT/bench-workers.json" "$frames" "$(du -mL "$CAP" | cut -f1)" "$(du -mL "$ten/copy-0.pcap.zst" | cut -f1)" \
        "$opening_frames" "$(du -mL "$opening" | cut -f1)" \
        "$(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); $(rustc --version)" \
        "$load_before -> $load_after" <<'PY' | tee "$OUT/bench-workers.md"
import json, sys
results, frames, mib, zmib, oframes, omib, machine, load = sys.argv[1:]
frames, oframes = int(frames), int(oframes)
by = {r["command"]: r for r in json.load(open(results))["results"]}
runs = len(next(iter(by.values()))["times"])
print(f"Capture: {frames} packets, {mib} MiB; ten zstd -3 copies of it, {zmib} MiB each, in one directory; "
      f"openings: {oframes} packets, {omib} MiB, flows of 10 packets on average, all caught opening. "
      f"Median of {runs} runs, not pinned, stdout discarded, files in the page cache.")
print()
print("| binary | input | workers | median s | min s | max s | user+sys s | packets/s | speed-up |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
for tag in ("", "baseline "):
    if f"{tag}1 worker, capture" not in by:
        continue
    for label, packets in [("capture", frames), ("10 x zstd", 10 * frames), ("openings", oframes)]:
        one = by[f"{tag}1 worker, {label}"]["median"]
        for w in (1, 2):
            r = by[f"{tag}{w} worker{'s' if w > 1 else ''}, {label}"]
            print(f"| {tag.strip() or 'this tree'} | {label} | {w} | {r['median']:.3f} | {r['min']:.3f} | {r['max']:.3f} | "
                  f"{r['user'] + r['system']:.3f} | {packets / r['median'] / 1e6:.2f} M | {one / r['median']:.2f}x |")
print()
print(f"Machine: {machine}. Load average (1/5/15 min) before -> after timing: {load}.")
PY
}
if [ "$ONLY" = workers ]; then
    workers_table
    exit 0
fi
# The bench profile inherits release; --no-run prints the executable's path.
BARE=$(cargo bench --quiet --no-run --bench bare_loop --message-format=json \
    | python3 -c 'import sys, json
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "bare_loop" and m.get("executable"):
        print(m["executable"])')
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
workers_table
