#!/bin/bash
# make e2e: boots real Debian arm64 guests with KVM inside an emulated arm64 host (qemu TCG with
# EL2), drives their serial consoles, and checks the results from both sides. See docs/rig.md.
#
# Environment:
#   E2E_VMM=ignition|qemu   the VMM inside the host (default ignition; qemu is the stand-in)
#   IGNITION=PATH           static arm64 ignition (default build-aarch64/ignition)
#   E2E_BOOTS="boot1 ..."   which boots of host/scenario.sh to run (default all: boot1 boot2
#                           boot3 fsboot badguest durkill duroff durquit durterm cpufeat
#                           cpuoff rawimage netuser nettap netnone netstream netdgram vsock)
#   E2E_CACHE, E2E_OUT      cache (.cache/e2e) and per-run output (build-e2e) folders
#   E2E_TIMEOUT=S           hard limit for the emulated host (default 1800)
#   E2E_DEMO=0              skip the last phase, make demo driven through a pseudo-terminal
#   E2E_SCENARIO=repeat.sh  another script of host/ instead of scenario.sh (E2E_REPEAT=N ...;
#                           E2E_DMESG=1: each boot's guest uptime and dmesg, VMM threads' CPU)
set -uo pipefail
. "$(dirname "$0")/lib.sh"

E2E_VMM=${E2E_VMM:-ignition}
IGNITION=${IGNITION:-$top/build-aarch64/ignition}
all_boots="boot1 boot2 boot3 fsboot badguest durkill duroff durquit durterm"
all_boots="$all_boots cpufeat cpuoff rawimage" # host/scenario-cpu.sh
all_boots="$all_boots netuser nettap netnone netstream netdgram" # host/scenario-net.sh
all_boots="$all_boots vsock" # host/scenario-vsock.sh
E2E_BOOTS=${E2E_BOOTS:-$all_boots}
E2E_TIMEOUT=${E2E_TIMEOUT:-1800}
case $E2E_VMM in ignition | qemu) ;; *) die "E2E_VMM must be ignition or qemu" ;; esac
if [ ! -f "$IGNITION" ]; then
	[ "$E2E_VMM" = qemu ] || die "no $IGNITION: run make aarch64 first"
	say "no $IGNITION; the host gets none (E2E_VMM=qemu does not need it)"
fi
t_start=$EPOCHREALTIME

phase_begin "guest and host images"
build_args=()
[ "$E2E_VMM" = qemu ] && build_args=(--qemu)
"$e2e/build.sh" "${build_args[@]}" || die "building images failed"
. "$cache/artifacts.env"
phase_end

phase_begin "per-run host initramfs + disk"
host_prepare "${E2E_SCENARIO:-scenario.sh}"
phase_end

host_log=$out/host-console.log
phase_begin "emulated host ($E2E_VMM inside)"
host_command
# Two raw data disks for the durability boots (scenario.sh's dur*), named by their serials.
rm -f "$out"/dur[01].img
if [ "${E2E_SCENARIO:-scenario.sh}" = scenario.sh ]; then
	for i in 0 1; do
		truncate -s 8M "$out/dur$i.img"
		host_cmd+=(-drive "if=none,id=dur$i,format=raw,file=$out/dur$i.img"
			-device "virtio-blk-device,drive=dur$i,serial=e2e-dur$i")
	done
fi
echo "host: ${host_cmd[*]}" >"$host_log"
export T0=$EPOCHREALTIME
timeout -k 10 "$E2E_TIMEOUT" "${host_cmd[@]}" -display none -monitor none -serial stdio \
	</dev/null 2>&1 | "$e2e/tsfilter.sh" | tee -a "$host_log" |
	grep --line-buffered -E 'e2e: |Kernel panic|Oops|BUG' >&2
host_rc=${PIPESTATUS[0]}
echo "host: qemu exit $host_rc" >>"$host_log"
phase_end

phase_begin "checks on the x86 side"
xpass() { say "PASS $*"; echo "PASS $*" >>"$out/results"; }
xfail() { say "FAIL $*"; echo "FAIL $*" >>"$out/results"; }
: >"$out/results"
if [ "$host_rc" = 0 ]; then xpass "host: powered off (qemu exit 0)"; else
	xfail "host: qemu exit $host_rc (124: timeout after $E2E_TIMEOUT s)"; fi
debugfs -R "rdump /logs $out" "$out/work.ext4" >/dev/null 2>&1
debugfs -R "dump /rootfs.ext4 $out/rootfs.ext4" "$out/work.ext4" >/dev/null 2>&1
if [ -f "$out/logs/results" ]; then
	cat "$out/logs/results" >>"$out/results"
	if grep -qx DONE "$out/logs/results"; then xpass "host: scenario completed"; else
		xfail "host: scenario did not complete"; fi
else
	xfail "host: no results on the work disk"
fi
if [ "${E2E_SCENARIO:-scenario.sh}" = scenario.sh ] && [[ " $E2E_BOOTS " = *" boot1 "* ]] &&
	[ -f "$out/rootfs.ext4" ]; then
	if dumpe2fs -h "$out/rootfs.ext4" 2>/dev/null | grep -q needs_recovery; then
		xfail "rootfs: journal needs recovery after the guest powered off"
	else
		xpass "rootfs: clean after the guest powered off"
	fi
	if e2fsck -fn "$out/rootfs.ext4" >"$out/e2fsck.log" 2>&1; then
		xpass "rootfs: e2fsck -fn finds no errors"
	else
		xfail "rootfs: e2fsck -fn reports errors (see $out/e2fsck.log)"
	fi
	want=$(awk '$1 == "VALUE" && $2 == "blob_sha256" { print $3 }' "$out/results")
	rm -f "$out/e2e-blob"
	debugfs -R "dump /root/e2e-blob $out/e2e-blob" "$out/rootfs.ext4" >/dev/null 2>&1
	got=$( [ -f "$out/e2e-blob" ] && sha256sum "$out/e2e-blob" | cut -d' ' -f1)
	if [ -n "$want" ] && [ "$got" = "$want" ]; then
		xpass "rootfs: boot1's file read with debugfs has the guest's sha256 $got"
	else
		xfail "rootfs: boot1's file sha256 '${got:-missing}', guest printed '${want:-nothing}'"
	fi
fi
# Durability: each dur* boot's guest wrote 1 MiB of random data at its own offset of both data
# disks and printed what it read back; those bytes must be in the images.
dur_values=$(grep '^VALUE dur ' "$out/results")
while read -r _ _ name disk mib sum; do
	[ -n "$sum" ] || continue
	got=$(dd if="$out/dur$disk.img" bs=1M skip="$mib" count=1 2>/dev/null | sha256sum)
	got=${got%% *}
	if [ "$got" = "$sum" ]; then
		xpass "$name: data disk $disk holds the guest's MiB $mib (sha256 ${sum:0:16}...)"
	else
		xfail "$name: data disk $disk MiB $mib has sha256 $got, the guest wrote $sum"
	fi
done <<<"$dur_values"
phase_end

if [ "${E2E_DEMO:-1}" != 0 ]; then
	phase_begin "make demo through a pty"
	E2E_OUT=$out/demo E2E_VMM=$E2E_VMM IGNITION=$IGNITION timeout -k 10 900 \
		python3 "$e2e/demo-test.py" >"$out/demo-test.out" 2>&1
	demo_rc=$?
	sed -n 's/^demo-test: \(PASS\|FAIL\) /\1 demo: /p' "$out/demo-test.out" >>"$out/results"
	grep -E '^demo-test: (PASS|FAIL|login prompt [0-9])' "$out/demo-test.out" | sed 's/^/e2e: /' >&2
	[ "$demo_rc" = 0 ] || grep -q '^FAIL demo' "$out/results" ||
		xfail "demo: demo-test.py exit $demo_rc (see $out/demo-test.out)"
	phase_end
fi

npass=$(grep -c '^PASS' "$out/results")
nfail=$(grep -c '^FAIL' "$out/results")
say "------------------------------------------------------------"
vmm=$E2E_VMM
[ "$E2E_VMM" = ignition ] && vmm="ignition ($IGNITION)"
say "VMM: $vmm; guest: $kernel_pkg, $busybox_pkg"
grep -E '^(PASS|FAIL)' "$out/results" | sed 's/^/e2e: /' >&2
awk '$1 == "TIME" { printf "e2e: phase   %-32s %7.1f s\n", "in host: " $2, $3 }' "$out/results" >&2
phase_report
say "total $(printf '%.1f' "$(echo "$EPOCHREALTIME - $t_start" | bc)") s; host console: $host_log"
say "guest consoles: $out/logs/boot*.console (VMM stderr: *.stderr); demo: $out/demo/"
if [ "$nfail" -gt 0 ] || [ "$npass" = 0 ]; then
	# Again, last: CI keeps only the tail of what a run prints.
	grep '^FAIL' "$out/results" | sed 's/^/e2e: /' >&2
	say "RESULT: FAIL ($nfail failed, $npass passed)"
	exit 1
fi
say "RESULT: PASS ($npass checks)"
