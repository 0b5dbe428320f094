#!/bin/bash
# make bench's network rows: boots the emulated arm64 host of tests/e2e (docs/rig.md) with
# tests/bench/host-net.sh as its scenario, where ignition and Debian's arm64 qemu take turns
# with the same backend (user-mode networking: libslirp in both; a tap: qemu without vhost).
# Prints key=value figures (medians over the runs) on stdout for table.py; the raw lines stay in
# $BENCH_OUT/net/results.
# Environment: IGNITION, BENCH_OUT, BENCH_NET_RUNS (default 2), BENCH_NET_SECS (iperf3 seconds,
# default 5; 0: round trips only), BENCH_NET_KINDS (default "user tap"), BENCH_NET_PINGS (default
# 21), BENCH_HOST_ARGS (as tests/bench/rig.sh), BENCH_MEM, E2E_CACHE, E2E_TIMEOUT (default 1200 s).
set -uo pipefail
bench=$(cd "$(dirname "$0")" && pwd)
export E2E_OUT=${BENCH_OUT:-$bench/../../build-bench-rig}
. "$bench/../e2e/lib.sh"
IGNITION=${IGNITION:-$top/build-aarch64/ignition}
[ -f "$IGNITION" ] || die "no $IGNITION: run make aarch64 first"

"$e2e/build.sh" --qemu >&2 || die "building the rig's images failed"
. "$cache/artifacts.env"
n=$out/net
rm -rf "$n"
mkdir -p "$n"
aarch64-linux-gnu-gcc -static -O2 -Wall -Wextra -Werror -o "$n/stamp" "$bench/stamp.c" ||
	die "cannot build tests/bench/stamp.c"

# The guest: Debian's iperf3 and its libraries (the rig's /net tree), busybox, virtio-net.
g=$n/guest
mkdir -p "$g"
cp -a "$cache/net/tree/." "$g/"
mkdir -p "$g"/{bin,sys,tmp}
cp "$cache/busybox/busybox" "$g/bin/"
bench_guest_pack "$g" "$bench/net-guest-init" "$n/initramfs.cpio.gz" virtio_mmio failover \
	net_failover virtio_net

# The host: the cached base plus this run's files.
r=$n/run
mkdir -p "$r"/{e2e,bin,bench}
install -m 755 "$e2e/host/init" "$r/init"
install -m 755 "$bench/host-net.sh" "$r/e2e/bench.sh"
install -m 644 "$bench/host-lib.sh" "$r/e2e/bench-lib.sh"
install -m 755 "$e2e/host/netbin" "$r/e2e/netbin"
install -m 755 "$IGNITION" "$r/bin/ignition"
install -m 755 "$n/stamp" "$r/bin/stamp"
cp "$n/initramfs.cpio.gz" "$r/bench/initramfs.cpio.gz"
cat >"$r/e2e/conf" <<CONF
E2E_VMM=qemu
E2E_SCENARIO=bench.sh
BENCH_NET_RUNS=${BENCH_NET_RUNS:-2}
BENCH_NET_SECS=${BENCH_NET_SECS:-5}
BENCH_NET_KINDS="${BENCH_NET_KINDS:-user tap}"
BENCH_MEM=${BENCH_MEM:-256}
BENCH_NET_PINGS=${BENCH_NET_PINGS:-21}
CONF
(cd "$r" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$n/run.cpio.gz"
cat "$host_base_cpio" "$n/run.cpio.gz" >"$out/host-initramfs.cpio"
rm -rf "$r" "$g"
mkdir -p "$n/work/logs"
: >"$out/work.ext4"
mke2fs -q -F -t ext4 -L work -E root_owner=0:0 -d "$n/work" "$out/work.ext4" 32M
rm -rf "$n/work"

E2E_VMM=qemu host_command
log=$n/host-console.log
echo "host: ${host_cmd[*]}" >"$log"
say "emulated host: network, ignition and qemu alternating (console: $log)"
export T0=$EPOCHREALTIME
timeout -k 10 "${E2E_TIMEOUT:-1200}" "${host_cmd[@]}" ${BENCH_HOST_ARGS:-} -display none -monitor none -serial stdio \
	</dev/null 2>&1 | "$e2e/tsfilter.sh" | tee -a "$log" |
	grep --line-buffered -E 'bench: |e2e: host (ready|scenario)|Kernel panic|Oops|BUG' >&2
rc=${PIPESTATUS[0]}
echo "host: qemu exit $rc" >>"$log"
debugfs -R "rdump /logs $n" "$out/work.ext4" >/dev/null 2>&1
[ -f "$n/logs/results" ] || die "the host left no results (qemu exit $rc; see $log)"
grep -qx DONE "$n/logs/results" || die "the network scenario did not finish (see $log)"
cp "$n/logs/results" "$n/results"

# medians per backend and VMM: net_<user|tap>_<up_mbps|down_mbps|rtt_ms|rss_kib>_<vmm>=V
python3 - "$n/results" <<'PY'
import re, statistics, sys
vals = {}
for line in open(sys.argv[1]):
    m = re.match(r"^(RUN|NET) net-(\w+)-(\w+)-\d+ (.*)$", line.strip())
    if not m:
        continue
    kind, net, vmm, rest = m.groups()
    kv = dict(re.findall(r"(\w+)=(\S+)", rest))
    if kind == "RUN":
        if kv.get("status") == "0" and "other_rss_kib" in kv:
            vals.setdefault((net, "rss_kib", vmm), []).append(float(kv["other_rss_kib"]))
        continue
    for k, v in kv.items():
        if float(v) >= 0:
            vals.setdefault((net, k, vmm), []).append(float(v))
for (net, k, vmm), v in sorted(vals.items()):
    print(f"net_{net}_{k}_{vmm}={statistics.median(v):g}")
PY
