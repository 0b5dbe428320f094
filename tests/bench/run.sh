#!/bin/bash
# make bench: ignition against its peers, every ratio from figures measured in this one run, as one
# table (docs/benchmarks.md, with date and machine). make bench-smoke (--smoke): one run of each,
# small sizes, the table in $BENCH_OUT/benchmarks.md only. See docs/benchmarks.md for the method.
#
#   1 boot time   rig: ignition vs Debian's arm64 qemu -accel kvm, alternating (tests/bench/rig.sh)
#   2 memory      rig: RSS beyond guest RAM from /proc/PID/smaps after boot
#   3 set-up      x86: callgrind from main to the first vCPU entry (null backend), kernel bytes
#                 read vs mapped (strace), wall time (hyperfine)          (tests/bench/setup.sh)
#   4 disk        x86: make bench-devices (device model vs raw I/O); rig: guest dd, ignition vs
#                 qemu, and ignition with and without ioeventfd
#   5 exits       x86: callgrind per MMIO exit through the real run loop  (tests/bench/exits.sh)
#   6 network     rig: iperf3 both ways, ping, RSS; ignition vs qemu, same backend (net.sh)
#   7 shared dir  rig: guest fsbench on ignition --fs vs qemu + virtiofsd (tests/bench/fsbench.c)
#
# Environment: IGNITION (static arm64 build, default build-aarch64/ignition), BUILD_BENCH (x86
# release build with the bench programs, default build-bench), BENCH_OUT (default
# build-bench-rig), and rig.sh's BENCH_RUNS, BENCH_DD_RUNS, BENCH_DD4K_MIB, BENCH_MEM, BENCH_SMP.
set -uo pipefail
bench=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$bench/../.." && pwd)
export BENCH_OUT=${BENCH_OUT:-$top/build-bench-rig}
export BUILD_BENCH=${BUILD_BENCH:-$top/build-bench}
out=$BENCH_OUT
smoke=
[ "${1:-}" = --smoke ] && smoke=1
if [ -n "$smoke" ]; then
	export BENCH_RUNS=${BENCH_RUNS:-1} BENCH_DD_RUNS=${BENCH_DD_RUNS:-1}
	export BENCH_DD4K_MIB=${BENCH_DD4K_MIB:-4} BENCH_SIZE_MIB=${BENCH_SIZE_MIB:-16}
	export BENCH_FS_RUNS=${BENCH_FS_RUNS:-1} BENCH_FS_FILES=${BENCH_FS_FILES:-200}
	export BENCH_FS_MIB=${BENCH_FS_MIB:-16}
	export MMIO_ACCESSES=${MMIO_ACCESSES:-20000}
	exit_n=10000 setup_runs=5
else
	exit_n=100000 setup_runs=30
fi
say() { printf 'bench: %s\n' "$*" >&2; }
die() { printf 'bench: error: %s\n' "$*" >&2; exit 1; }
t_start=$EPOCHREALTIME
mkdir -p "$out"

# The x86 build runs in this same script: its packages, and the bench programs.
"$top/scripts/deps.sh" build unit bench || die "installing packages failed"
if [ ! -f "$BUILD_BENCH/build.ninja" ]; then
	meson setup "$BUILD_BENCH" --werror -Dbuildtype=release >/dev/null || die "meson setup"
fi
ninja -C "$BUILD_BENCH" -j2 ignition tests/bench/bench_devices tests/bench/bench_exits \
	>/dev/null || die "building $BUILD_BENCH failed"

say "== rig: boot, memory and guest dd (ignition and qemu alternating in the emulated host)"
"$bench/rig.sh" || die "the rig part failed"
. "${E2E_CACHE:-$top/.cache/e2e}/artifacts.env"

figures=$out/figures.env
: >"$figures"
say "== set-up cost (x86, null backend)"
"$bench/setup.sh" "$BUILD_BENCH/ignition" "$kernel_image" "$out/bench-initramfs.cpio.gz" \
	"$setup_runs" >>"$figures" || die "set-up measurement failed"
say "== exits (x86, callgrind)"
"$bench/exits.sh" "$BUILD_BENCH/tests/bench/bench_exits" "$exit_n" >>"$figures" ||
	die "exit measurement failed"
say "== network (rig: ignition vs qemu, same backends; tests/bench/net.sh)"
[ -n "$smoke" ] && export BENCH_NET_RUNS=${BENCH_NET_RUNS:-1} BENCH_NET_SECS=${BENCH_NET_SECS:-3}
"$bench/net.sh" >>"$figures" || die "the network measurement failed"
say "== device model (make bench-devices)"
"$bench/devices.sh" >"$out/devices.txt" || die "bench-devices failed"

table=$("$bench/table.py" "$figures" "$out/rig/results" "$out/devices.txt") ||
	die "cannot render the table"
cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)
machine="$(uname -m), $(nproc) CPUs ($cpu), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' \
	/proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg), $(. /etc/os-release && echo "$PRETTY_NAME")"
rev=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
runs="boot runs: ${BENCH_RUNS:-5} each; disk/memory runs: ${BENCH_DD_RUNS:-3} each"
runs="$runs; shared-directory runs: ${BENCH_FS_RUNS:-3} each"
report=$(cat <<REPORT
# Benchmarks

Written by \`make bench\` ($(date -u '+%Y-%m-%d %H:%M UTC'), commit $rev).
Machine: $machine.
Rig: guests run with KVM inside an emulated arm64 host (qemu TCG, docs/rig.md); $runs;
guest: $kernel_pkg, 1 vCPU, ${BENCH_MEM:-256} MiB, bench initramfs (tests/bench/guest-init).

$table

How each figure is made, and what the goals mean: see the end of this file.
REPORT
)
echo
echo "$report"
if [ -n "$smoke" ]; then
	echo "$report" >"$out/benchmarks.md"
	say "smoke run: table in $out/benchmarks.md (docs/benchmarks.md untouched)"
else
	{
		echo "$report"
		sed -n '/^## Method/,$p' "$top/docs/benchmarks.md" 2>/dev/null
	} >"$out/benchmarks.md"
	cp "$out/benchmarks.md" "$top/docs/benchmarks.md"
	say "written to docs/benchmarks.md"
fi
say "total $(printf '%.0f' "$(echo "$EPOCHREALTIME - $t_start" | bc)") s; logs in $out"
