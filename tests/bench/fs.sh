#!/bin/bash
# make bench's shared-directory rows on their own: ignition --fs and Debian's qemu + virtiofsd,
# alternating in the emulated arm64 host, BENCH_FS_RUNS (3) rounds; prints the rows as make bench
# does and every round's figures. Usage: tests/bench/fs.sh [RUNS]. Environment: as
# tests/bench/rig.sh; BENCH_IGNITION_B=old/ignition adds that build to every round (before/after).
set -uo pipefail
bench=$(cd "$(dirname "$0")" && pwd)
export BENCH_OUT=${BENCH_OUT:-$bench/../../build-bench-fs}
export BENCH_FS_RUNS=${1:-${BENCH_FS_RUNS:-3}} BENCH_RUNS=0
export BENCH_PARTS=${BENCH_PARTS:-fs${BENCH_IGNITION_B:+ b}}
"$bench/rig.sh" || exit 1
: >"$BENCH_OUT/none"
"$bench/table.py" "$BENCH_OUT/none" "$BENCH_OUT/rig/results" "$BENCH_OUT/none" |
	grep -E '^\| (measure|---|6 shared)'
# every round: files/s and MB/s per VMM, and ignition's ratio to qemu's in the same round
awk '$1 == "FS" {
	tag = $2; sub(/-[0-9]+$/, "", tag); r = $2; sub(/.*-/, "", r)
	op = ""; v = 0
	for (i = 3; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
	if (f["us"] <= 0) v = -1
	else if (f["op"] == "files") v = f["n"] / f["us"] * 1e6
	else v = f["bytes"] / f["us"]
	val[r, f["op"], tag] = v; rounds[r] = 1; tags[tag] = 1
}
END {
	for (r in rounds) for (o = 1; o <= 3; o++) {
		op = o == 1 ? "files" : o == 2 ? "write" : "read"
		line = sprintf("round %s %-5s", r, op)
		for (t in tags) line = line sprintf("  %s %.1f", t, val[r, op, t])
		q = val[r, op, "fs-qemu"]
		if (q > 0) for (t in tags) if (t != "fs-qemu")
			line = line sprintf("  %s/qemu %.2f", t, val[r, op, t] / q)
		print line
	}
}' "$BENCH_OUT/rig/results" | sort
echo "per run: $BENCH_OUT/rig/results"
