#!/bin/sh
# Sourced by the benchmark scenarios inside the emulated arm64 host (host-bench.sh and host-net.sh,
# installed as /e2e/bench-lib.sh): the run's configuration, where the figures go, the stopwatch,
# the guest's kernel and initramfs, and qemu's side of the guest command line.
. /e2e/conf
logs=/work/logs
results=$logs/results
mkdir -p $logs
: >$results
S=/bin/stamp
B=/tmp/bench # under /tmp so that qemu, chrooted in /tools, sees the same paths
K=/guest/Image
I=$B/initramfs.cpio.gz
MEM=${BENCH_MEM:-256}
RAM=$((MEM * 1024 * 1024))
# ignition's default command line with qemu's console in place of ours: the appended text comes
# before the early console, so that "quiet" holds for it (src/arch/aarch64/cmdline.c)
QEMU_CMDLINE="console=ttyAMA0 reboot=k panic=1"
QEMU_EARLYCON="earlycon=pl011,0x9000000"
note() { echo "bench: $*"; }

mkdir -p $B
cp /bench/initramfs.cpio.gz $I
