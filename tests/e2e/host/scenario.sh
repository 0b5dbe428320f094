#!/bin/sh
# The end-to-end scenario, run by busybox sh inside the emulated arm64 host (which has /dev/kvm).
# Three boots of the same Debian guest through /e2e/vmm; the x86 side checks the disk afterwards.
. /e2e/expect.sh

G=/guest
rootfs=/work/rootfs.ext4
mounts="awk '\$2 == \"/\" { print \$1, \$3, \$4 }' /proc/mounts"
# the per-CPU columns of the UART's and the virtio devices' lines of /proc/interrupts, summed
irqsum='awk '"'"'NR == 1 { n = NF }'
irqsum="$irqsum"' /ttyS|serial|uart|pl011/ { for (i = 2; i <= n + 1; i++) u += $i }'
irqsum="$irqsum"' /virtio/ { for (i = 2; i <= n + 1; i++) v += $i }'
irqsum="$irqsum"' END { print "uart=" u + 0, "virtio=" v + 0 }'"'"' /proc/interrupts'
blob='dd if=/dev/urandom of=/root/e2e-blob bs=1M count=4 2>/dev/null && sync'
blob="$blob && sha256sum /root/e2e-blob"

# boot 1: ext4 root on virtio-blk, 2 vCPUs; log in on the serial console and look around
boot1() {
	vm_start boot1 --kernel $G/Image --initrd $G/initramfs.cpio.gz --disk $rootfs --smp 2 \
		--append quiet
	wait_exit=5
	if login; then
		run UNAME 'uname -m'
		check "boot1: uname -m" '^0 aarch64$' "$result"
		run CPUS 'grep -c ^processor /proc/cpuinfo; cat /sys/devices/system/cpu/online'
		check "boot1: CPUs online" '^0 2 0-1$' "$result"
		run ROOT "$mounts"
		check "boot1: root fs" '^0 /dev/vda ext4 rw' "$result"
		run IRQS 'cat /proc/interrupts' # for the transcript
		run IRQSUM "$irqsum"
		check "boot1: interrupts counting" '^0 uart=[1-9][0-9]* virtio=[1-9][0-9]*$' "$result"
		run BLOB "$blob" 120
		check "boot1: 4 MiB file written and synced" '^0 [0-9a-f]{64} +/root/e2e-blob$' "$result"
		record "VALUE blob_sha256 $(echo "$result" | cut -d' ' -f2)"
		send poweroff
		wait_exit=120
	fi
	vm_stop $wait_exit
	check "boot1: VMM exit status after poweroff" '^0$' "$vm_rc"
}

# boot 2: the same disk read-only; writes fail in the guest and the image does not change
boot2() {
	before=$(md5sum $rootfs | cut -d' ' -f1)
	vm_start boot2 --kernel $G/Image --initrd $G/initramfs.cpio.gz --disk $rootfs,ro --append quiet
	wait_exit=5
	if login; then
		run ROOT "$mounts"
		check "boot2: root fs" '^0 /dev/vda ext4 ro' "$result"
		run BLKRO 'cat /sys/block/vda/ro'
		check "boot2: block device read-only" '^0 1$' "$result"
		run WRITE 'echo x >/e2e-ro-test'
		check "boot2: write to the root fs fails" '^[1-9][0-9]* .*Read-only file system' "$result"
		run REMOUNT 'mount -o remount,rw /'
		check "boot2: remount rw fails" '^[1-9][0-9]* ' "$result"
		send poweroff
		wait_exit=120
	fi
	vm_stop $wait_exit
	check "boot2: VMM exit status after poweroff" '^0$' "$vm_rc"
	after=$(md5sum $rootfs | cut -d' ' -f1)
	check "boot2: image unchanged (md5sum)" "^$before\$" "$after"
}

# boot 3: gzip-compressed kernel, no disk: the initramfs is the whole system
boot3() {
	vm_start boot3 --kernel $G/Image.gz --initrd $G/initramfs.cpio.gz --append quiet
	wait_exit=5
	if expect "initramfs shell" '*ignition-initrd:/*# *' 150; then
		pass "boot3: shell $(since $vm_t0) s after the VMM started"
		run UNAME 'uname -m'
		check "boot3: uname -m" '^0 aarch64$' "$result"
		run ROOT "$mounts; ls /dev/vd* 2>/dev/null || echo none"
		check "boot3: root is the initramfs, no disk" '^0 rootfs .* none$' "$result"
		send poweroff
		wait_exit=120
	fi
	vm_stop $wait_exit
	check "boot3: VMM exit status after poweroff" '^0$' "$vm_rc"
}

# The misbehaving guest's result line "BGR KEY VALUES", VALUES only ("" when absent).
bgr() { tr -d '\r' <"$logs/badguest.console" | sed -n "s/^BGR $1 //p" | head -n 1; }

# check_all NAME N/M MIN: PASS when N = M >= MIN (every case of a kind came out as it must)
check_all() {
	n=${2%/*} m=${2#*/}
	if [ -n "$2" ] && [ "$n" = "$m" ] && [ "$m" -ge "$3" ] 2>/dev/null; then pass "$1: $2"; else
		fail "$1: got '$2', want N/N with N >= $3"; fi
}

# the misbehaving guest (tests/e2e/badguest): a bare-metal program that abuses the UART,
# unmapped MMIO, virtio-mmio, virtqueues and PSCI. ignition must survive it (exit 0 after its
# SYSTEM_OFF, within the deadline) and leave the writable disk it was given byte-identical.
badguest() {
	if [ "$E2E_VMM" != ignition ]; then
		note "badguest: skipped (the stand-in's machine has a PL011, not ignition's 16550)"
		return
	fi
	before=$(md5sum $rootfs | cut -d' ' -f1)
	vm_start badguest --kernel $G/badguest.Image --disk $rootfs --smp 2
	wait_exit=10
	if expect "final marker" '*BGR done*' 60; then
		pass "badguest: reached its final marker $(since $vm_t0) s after the VMM started"
		wait_exit=30
	fi
	vm_stop $wait_exit
	check "badguest: VMM exit status after the guest's SYSTEM_OFF" '^0$' "$vm_rc"
	[ "$vm_rc" != KILLED ] && pass "badguest: no hang: the VMM exited on its own" ||
		fail "badguest: the VMM was still running $wait_exit s after the final marker"
	after=$(md5sum $rootfs | cut -d' ' -f1)
	check "badguest: writable disk unchanged (md5sum)" "^$before\$" "$after"
	badguest_results
}

badguest_results() {
	check "badguest: found the machine in the DTB" '^dtb=1 virtio=2 cpus=2$' "$(bgr machine)"
	check "badguest: 16550 refused wide and out-of-window accesses, took a byte, overran" \
		'^refused=1 byte_ok=1 overrun=1 ' "$(bgr uart)"
	set -- $(bgr mmio) # zero=N/M aborts=N/M
	check_all "badguest: unmapped MMIO inside the IPA read as zero" "${1#zero=}" 10
	check_all "badguest: accesses beyond the IPA aborted and were survived" "${2#aborts=}" 3
	check "badguest: loads KVM cannot decode (LDP, writeback) became aborts in the guest" \
		'^faults=2 ' "$(bgr nisv)"
	for d in blk rng; do
		check "badguest: virtio-$d refused out-of-order and nonsense register writes" \
			'^refused=1 needs_reset=0x4b$' "$(bgr vio.$d)"
	done
	check_all "badguest: every broken blk ring ended in DEVICE_NEEDS_RESET" "$(bgr blk.broken)" 20
	set -- $(bgr blk.requests) # refused=N/M ok=N/M live=1 status=S
	check_all "badguest: blk refused every invalid request (IOERR/UNSUPP)" "${1#refused=}" 15
	check_all "badguest: blk served the odd but valid ones" "${2#ok=}" 2
	check "badguest: blk stayed live through them" '^live=1$' "${3:-}"
	check "badguest: blk read the ext4 superblock after a reset" \
		'^st=0 used=513 magic=0xef53 last_sector_st=0$' "$(bgr blk.read_after_reset)"
	check "badguest: rng capped a 16 MiB request, refused broken rings, recovered" \
		'^small=16 capped=65536 readonly=0 outside=needs_reset jump=needs_reset after_reset=32$' \
		"$(bgr rng)"
	check "badguest: PSCI CPU_ON of nonexistent MPIDRs: INVALID_PARAMETERS" \
		'^(-2 ?){5}$' "$(bgr psci.cpu_on.bad_mpidr)"
	check "badguest: PSCI CPU_ON of CPU 1 ran the guest's code, then CPU_OFF" \
		'^ret=0 again=-4 seen=0x5ec0d mpidr=0x1 then_off=1$' "$(bgr psci.cpu_on.good)"
	check "badguest: no exception the guest could not survive" '^$' "$(bgr fatal)"
}

for b in ${E2E_BOOTS:-boot1 boot2 boot3 badguest}; do
	now_cs
	t=$now
	$b
	note "$b: $(since $t) s"
	record "TIME $b $(since $t)"
	sync # the results survive a host killed by run.sh's timeout
done
sync
record "DONE"
note "scenario done"
