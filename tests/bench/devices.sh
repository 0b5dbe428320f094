#!/bin/sh
# make bench-devices: virtio-blk device-model throughput against raw pread/pwrite on the same
# file in the same run, and instructions per MMIO access counted with callgrind.
# Prints figures; asserts nothing. BUILD_BENCH and TMPDIR may be overridden.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_BENCH:-$top/build-bench}
n=${MMIO_ACCESSES:-200000}

if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" --werror -Dbuildtype=release >/dev/null
fi
ninja -C "$build" -j2 tests/bench/bench_devices >/dev/null
bench=$build/tests/bench/bench_devices

"$bench" throughput --size-mib "${BENCH_SIZE_MIB:-256}"
# The 4 KiB rows again with one preadv/pwritev per request instead of the workers' io_uring.
echo "the 4 KiB rows without io_uring (IGNITION_NO_IO_URING=1):"
IGNITION_NO_IO_URING=1 "$bench" throughput --size-mib "${BENCH_SIZE_MIB:-256}" --only "4 KiB" |
	sed -n 's/^4 KiB/no io_uring: 4 KiB/p'
echo

# Instructions of the whole program with n accesses minus the same program with none.
instr() {
	out=$(mktemp)
	valgrind --tool=callgrind --callgrind-out-file="$out" "$bench" mmio "$1" "$2" 2>/dev/null
	sed -n 's/^summary: *//p' "$out"
	rm -f "$out"
}

per_access() {
	base=$(instr "$1" 0)
	full=$(instr "$1" "$n")
	awk -v a="$full" -v b="$base" -v n="$n" 'BEGIN { printf "%.1f", (a - b) / n }'
}

printf 'instructions per MMIO access (callgrind, %s accesses; goal <= 500)\n' "$n"
printf '  %-46s %8s\n' "UART THR write (bus_write -> serial)" "$(per_access uart)"
printf '  %-46s %8s\n' "virtio-mmio InterruptStatus read (bus_read)" "$(per_access virtio)"
