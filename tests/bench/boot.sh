#!/bin/bash
# make bench's boot rows on their own (a few minutes instead of the whole bench): ignition as a
# user runs it (default devices) and Debian's arm64 qemu, alternating in the emulated arm64 host,
# then ignition --no-rng, BENCH_RUNS (5) rounds; prints the rows as make bench does, each round's
# ratio included. Usage: tests/bench/boot.sh [RUNS]. Environment: as tests/bench/rig.sh (e.g.
# BENCH_PARTS="boot b" BENCH_IGNITION_B=old/ignition for before/after, BENCH_HOST_ARGS).
set -uo pipefail
bench=$(cd "$(dirname "$0")" && pwd)
export BENCH_OUT=${BENCH_OUT:-$bench/../../build-bench-boot}
export BENCH_RUNS=${1:-${BENCH_RUNS:-5}} BENCH_PARTS=${BENCH_PARTS:-boot norng}
"$bench/rig.sh" || exit 1
: >"$BENCH_OUT/none"
"$bench/table.py" "$BENCH_OUT/none" "$BENCH_OUT/rig/results" "$BENCH_OUT/none" |
	grep -E '^\| (measure|---|1 boot)'
echo "per run (RUN tag marker_us exit_us ...): $BENCH_OUT/rig/results"
