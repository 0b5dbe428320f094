#!/bin/bash
# The rig half of make bench: boots the emulated arm64 host of tests/e2e (docs/rig.md) with
# tests/bench/host-bench.sh as its scenario, ignition and Debian's arm64 qemu side by side inside
# it, and leaves the figures in $BENCH_OUT/rig/results (see host-bench.sh for the lines).
# Environment: IGNITION (static arm64 build), BENCH_RUNS, BENCH_DD_RUNS, BENCH_MEM, BENCH_SMP,
# BENCH_DD4K_MIB (MiB read with bs=4k; 1M always reads 64), BENCH_VSOCK_RUNS, BENCH_VSOCK_MIB
# (MiB each way per vsock run), BENCH_FS_RUNS, BENCH_FS_FILES, BENCH_FS_MIB (the
# shared-directory rounds: ignition --fs against qemu + virtiofsd),
# BENCH_OUT (default build-bench-rig), E2E_CACHE, E2E_TIMEOUT (default 3600 s: the shared
# directory rounds add about half an hour).
# For experiments (see host-bench.sh): BENCH_PARTS, BENCH_QUIET, BENCH_APPEND, BENCH_IGN_OPTS,
# BENCH_ALT_CMDLINE, BENCH_IGNITION_B (a second build), BENCH_KEEP=1 (every console and stderr),
# BENCH_SMAPS=1, BENCH_KVMTRACE=1 (the host's kvm and sched tracepoints per boot), and
# BENCH_HOST_ARGS (more options for the emulated host's qemu, e.g. "-icount shift=0": time in
# instructions, the same in every run), BENCH_JIT=1 (the host qemu's translation cache every half
# second in $BENCH_OUT/rig/jit.log: tests/bench/jitlog.py).
set -uo pipefail
bench=$(cd "$(dirname "$0")" && pwd)
export E2E_OUT=${BENCH_OUT:-$bench/../../build-bench-rig}
. "$bench/../e2e/lib.sh"
IGNITION=${IGNITION:-$top/build-aarch64/ignition}
[ -f "$IGNITION" ] || die "no $IGNITION: run make aarch64 first"

"$e2e/build.sh" --qemu || die "building the rig's images failed"
. "$cache/artifacts.env"
rm -rf "$out/rig"
mkdir -p "$out/rig"

# The stopwatch, for the host and for the guest; the guest's file system benchmark.
aarch64-linux-gnu-gcc -static -O2 -Wall -Wextra -Werror -o "$out/stamp" "$bench/stamp.c" ||
	die "cannot build tests/bench/stamp.c"
aarch64-linux-gnu-gcc -static -O2 -Wall -Wextra -Werror -o "$out/fsbench" "$bench/fsbench.c" ||
	die "cannot build tests/bench/fsbench.c"

# The bench guest's initramfs: busybox, the stopwatch, vsockt, fsbench, the modules of
# virtio-blk, vsock and virtio-fs, and /init.
g=$out/guest
rm -rf "$g"
mkdir -p "$g/bin"
cp "$cache/busybox/busybox" "$out/stamp" "$cache/vsockt/vsockt" "$out/fsbench" "$g/bin/"
bench_guest_pack "$g" "$bench/guest-init" "$out/bench-initramfs.cpio.gz" virtio_mmio virtio_blk \
	vsock vmw_vsock_virtio_transport_common vmw_vsock_virtio_transport fuse virtiofs

# The host's initramfs: the cached base (kernel, busybox, modules) plus this run's files.
r=$out/run
rm -rf "$r"
mkdir -p "$r"/{e2e,bin,bench}
install -m 755 "$e2e/host/init" "$r/init"
install -m 755 "$bench/host-bench.sh" "$r/e2e/bench.sh"
install -m 644 "$bench/host-lib.sh" "$r/e2e/bench-lib.sh"
install -m 755 "$IGNITION" "$r/bin/ignition"
[ -n "${BENCH_IGNITION_B:-}" ] && install -m 755 "$BENCH_IGNITION_B" "$r/bin/ignition-b"
install -m 755 "$out/stamp" "$r/bin/stamp"
# vhost-vsock for qemu's vhost-vsock-device, the reference of the vsock rows
mkdir -p "$r/bench/modules"
for m in vhost_iotlb vhost vhost_vsock; do
	cp "$(modinfo -b "$cache/kernel" -k "$kver" -n $m)" "$r/bench/modules/$m.ko" ||
		die "no module $m in the host kernel"
done
cp "$out/bench-initramfs.cpio.gz" "$r/bench/initramfs.cpio.gz"
cat >"$r/e2e/conf" <<CONF
E2E_VMM=qemu
E2E_SCENARIO=bench.sh
BENCH_RUNS=${BENCH_RUNS:-5}
BENCH_DD_RUNS=${BENCH_DD_RUNS:-3}
BENCH_MEM=${BENCH_MEM:-256}
BENCH_SMP=${BENCH_SMP:-1}
BENCH_DD4K_MIB=${BENCH_DD4K_MIB:-8}
BENCH_PARTS="${BENCH_PARTS:-}"
BENCH_QUIET="${BENCH_QUIET-quiet}"
BENCH_APPEND="${BENCH_APPEND:-}"
BENCH_IGN_OPTS="${BENCH_IGN_OPTS:-}"
BENCH_KEEP=${BENCH_KEEP:-}
BENCH_SMAPS=${BENCH_SMAPS:-}
BENCH_KVMTRACE=${BENCH_KVMTRACE:-}
BENCH_JIT=${BENCH_JIT:-}
BENCH_ALT_CMDLINE="${BENCH_ALT_CMDLINE:-}"
BENCH_VSOCK_RUNS=${BENCH_VSOCK_RUNS:-3}
BENCH_VSOCK_MIB=${BENCH_VSOCK_MIB:-32}
BENCH_FS_RUNS=${BENCH_FS_RUNS:-3}
BENCH_FS_FILES=${BENCH_FS_FILES:-2000}
BENCH_FS_MIB=${BENCH_FS_MIB:-64}
CONF
(cd "$r" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$out/run.cpio.gz"
cat "$host_base_cpio" "$out/run.cpio.gz" >"$out/host-initramfs.cpio"
rm -rf "$r" "$g"
mkdir -p "$out/work/logs"
: >"$out/work.ext4"
mke2fs -q -F -t ext4 -L work -E root_owner=0:0 -d "$out/work" "$out/work.ext4" \
	"$([ -n "${BENCH_KVMTRACE:-}" ] && echo 256M || echo 32M)"
rmdir "$out/work/logs" "$out/work"

E2E_VMM=qemu host_command
log=$out/host-console.log
echo "host: ${host_cmd[*]} ${BENCH_HOST_ARGS:-}" >"$log"
say "emulated host: ignition and qemu alternating (console: $log)"
export T0=$EPOCHREALTIME
monitor=(-monitor none)
if [ -n "${BENCH_JIT:-}" ]; then
	monitor=(-monitor "unix:$out/rig/monitor.sock,server=on,wait=off")
	"$bench/jitlog.py" "$out/rig/monitor.sock" "$out/rig/jit.log" &
	jitlog=$!
fi
timeout -k 10 "${E2E_TIMEOUT:-3600}" "${host_cmd[@]}" ${BENCH_HOST_ARGS:-} -display none \
	"${monitor[@]}" -serial stdio </dev/null 2>&1 | "$e2e/tsfilter.sh" | tee -a "$log" |
	grep --line-buffered -E 'bench: |e2e: host (ready|scenario)|Kernel panic|Oops|BUG' >&2
rc=${PIPESTATUS[0]}
echo "host: qemu exit $rc" >>"$log"
[ -n "${jitlog:-}" ] && { kill "$jitlog" 2>/dev/null; wait "$jitlog"; } # the host has gone
debugfs -R "rdump /logs $out/rig" "$out/work.ext4" >/dev/null 2>&1
[ -f "$out/rig/logs/results" ] || die "the host left no results (qemu exit $rc; see $log)"
grep -qx DONE "$out/rig/logs/results" || die "the bench scenario did not finish (see $log)"
cp "$out/rig/logs/results" "$out/rig/results"
