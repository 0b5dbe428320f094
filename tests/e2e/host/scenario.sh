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

for b in ${E2E_BOOTS:-boot1 boot2 boot3}; do
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
