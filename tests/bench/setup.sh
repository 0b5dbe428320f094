#!/bin/sh
# Set-up cost of the x86_64 build with the null backend (every vCPU powers off at its first run),
# on Debian's arm64 kernel Image and the bench initramfs. Prints key=value lines:
#   setup_instr        instructions from main to the first vCPU entry (callgrind: collection on
#                      in main and the vCPU thread, dumped when null_vcpu_run is first entered)
#   kernel_read_bytes  bytes of the kernel file read (read/pread; the 64-byte header included)
#   kernel_mapped_bytes bytes of the kernel file mmap'ed into guest RAM (strace -y)
#   setup_wall_ms      whole process, start to exit, median of hyperfine runs
#   setup_wall_map_ms  the same with IGNITION_KERNEL_MAP=1 (the kernel mapped, not copied)
# Usage: setup.sh IGNITION KERNEL INITRD [RUNS]
set -eu
ign=$1 kernel=$2 initrd=$3 runs=${4:-30}
args="--backend null --no-seccomp --quiet --kernel $kernel --initrd $initrd --mem 256 --no-rng"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# shellcheck disable=SC2086
valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" --collect-atstart=no \
	--toggle-collect=main --toggle-collect=vcpu_thread --toggle-collect=console_writer \
	--dump-before=null_vcpu_run "$ign" $args </dev/null >/dev/null 2>"$tmp/vg" ||
	{ cat "$tmp/vg" >&2; exit 1; }
first=$(ls "$tmp"/cg.1 2>/dev/null || true)
[ -n "$first" ] || { echo "setup.sh: callgrind never saw null_vcpu_run" >&2; exit 1; }
echo "setup_instr=$(sed -n 's/^summary: *//p' "$first")"

# shellcheck disable=SC2086
strace -f -y -e trace=read,pread64,readv,preadv,mmap -o "$tmp/st" "$ign" $args \
	</dev/null >/dev/null 2>&1
real=$(readlink -f "$kernel")
awk -v k="<$real>" '
	index($0, k) == 0 { next }
	/(^|[ (])(read|pread64|readv|preadv)\(/ { n = $NF; if (n ~ /^[0-9]+$/) rd += n }
	/(^|[ (])mmap\(/ { split($0, a, ", "); mp += a[2] }
	END { printf "kernel_read_bytes=%d\nkernel_mapped_bytes=%d\n", rd, mp }' "$tmp/st"

# The same, with the kernel mapped instead of copied.
# shellcheck disable=SC2086
hyperfine -N -w 3 -r "$runs" --export-json "$tmp/h.json" "$ign $args" \
	"env IGNITION_KERNEL_MAP=1 $ign $args" >/dev/null 2>&1
python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))["results"]
print("setup_wall_ms=%.2f" % (r[0]["median"] * 1e3))
print("setup_wall_map_ms=%.2f" % (r[1]["median"] * 1e3))' \
	"$tmp/h.json"
