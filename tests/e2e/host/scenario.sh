#!/bin/sh
# The end-to-end scenario, run by busybox sh inside the emulated arm64 host (which has /dev/kvm).
# Three boots of the same Debian guest through /e2e/vmm; the x86 side checks the disk afterwards.
. /e2e/expect.sh
. /e2e/scenario-net.sh

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
		check "boot1: the disk's workers have their io_uring" '^2$' "$(uring_fds)"
		record "VALUE blob_sha256 $(echo "$result" | cut -d' ' -f2)"
		send poweroff
		wait_exit=120
	fi
	vm_stop $wait_exit
	check "boot1: VMM exit status after poweroff" '^0$' "$vm_rc"
}

# fd_modes PATH: the access mode (r, w or rw) of each file the VMM has open on PATH
fd_modes() {
	modes=
	for f in /proc/$vm_pid/fd/*; do
		case $(readlink "$f") in */"${1##*/}") ;; *) continue ;; esac
		fl=3 # unreadable flags count as read-write
		while read -r k v; do [ "$k" = flags: ] && fl=$v; done <"/proc/$vm_pid/fdinfo/${f##*/}"
		case $((fl & 3)) in
		0) modes="$modes r" ;;
		1) modes="$modes w" ;;
		*) modes="$modes rw" ;;
		esac
	done
	echo "${modes# }"
}

# uring_fds: how many io_uring instances the VMM holds (one per virtio-blk worker)
uring_fds() {
	n=0
	for f in /proc/$vm_pid/fd/*; do
		[ "$(readlink "$f")" = "anon_inode:[io_uring]" ] && n=$((n + 1))
	done
	echo $n
}

# check_same NAME BEFORE AFTER: PASS when the two strings are equal
check_same() {
	if [ "$2" = "$3" ]; then pass "$1: $3"; else fail "$1: '$2' became '$3'"; fi
}

# boot 2: the same disk read-only; writes fail in the guest and the image does not change (its
# bytes nor its mtime); the VMM never holds it open for writing
boot2() {
	before=$(md5sum $rootfs | cut -d' ' -f1)
	mtime=$(stat -c %y $rootfs)
	vm_start boot2 --kernel $G/Image --initrd $G/initramfs.cpio.gz --disk $rootfs,ro --append quiet
	wait_exit=5
	if login; then
		check "boot2: the VMM's open files on the image are read-only" '^r( r)*$' \
			"$(fd_modes $rootfs)"
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
	check_same "boot2: image mtime unchanged" "$mtime" "$(stat -c %y $rootfs)"
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
	# --net none: it knows the blk and rng devices only (the default NIC would be a third)
	vm_start badguest --kernel $G/badguest.Image --disk $rootfs --smp 2 --net none
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

# ---- durability: what the guest wrote reaches the image, and clean stops flush every disk.
# run.sh gives the emulated host two raw 8 MiB data disks (serials e2e-dur0, e2e-dur1), which
# the VMM gets as block devices (the guest's vdb and vdc). Their /sys/block/*/stat counts the
# sectors that really reached them, which shows when the VMM flushed: the flusher threads are
# kept away (below), and this script holds both devices open so that the VMM's close is never
# the last one (the last close of a block device syncs it). Each boot writes 1 MiB of random
# data to each disk at its own offset; run.sh compares those bytes in the images afterwards.
dur_ready=
dur_setup() {
	[ -n "$dur_ready" ] && return 0
	if [ "$E2E_VMM" != ignition ]; then
		# /e2e/vmm maps one disk only: qemu's virt machine numbers virtio-mmio from the top
		note "durability: skipped under the stand-in (its guest would see the disks reversed)"
		return 1
	fi
	dur0= dur1=
	for blk in /sys/block/vd*; do
		s= # virtio-blk's serial has no newline: read fails, yet fills $s
		read -r s 2>/dev/null <"$blk/serial"
		case $s in e2e-dur0) dur0=${blk##*/} ;; e2e-dur1) dur1=${blk##*/} ;; esac
	done
	if [ -z "$dur0" ] || [ -z "$dur1" ]; then
		fail "durability: the host has no data disks e2e-dur0/e2e-dur1 (see run.sh)"
		return 1
	fi
	# Periodic writeback an hour away. Not 0 ("off"): Linux then wakes a disk's flusher as soon
	# as the disk gets a dirty page, and a disk whose writeback history has decayed has next to
	# no share of the background threshold, so that flusher writes the page back. Measured
	# here: one unsynced 64 KiB write to a fresh disk reaches it by itself (128 sectors) with 0,
	# never with an hour; a slow durterm once saw its first request on disk before the stop.
	read -r wb_saved </proc/sys/vm/dirty_writeback_centisecs
	read -r exp_saved </proc/sys/vm/dirty_expire_centisecs
	echo 360000 >/proc/sys/vm/dirty_writeback_centisecs
	echo 360000 >/proc/sys/vm/dirty_expire_centisecs
	exec 6<"/dev/$dur0" 7<"/dev/$dur1"
	dur_ready=1
	note "durability: data disks /dev/$dur0 /dev/$dur1, periodic writeback in an hour"
}

dur_teardown() {
	[ -n "$dur_ready" ] || return 0
	exec 6<&- 7<&-
	echo "$exp_saved" >/proc/sys/vm/dirty_expire_centisecs
	echo "$wb_saved" >/proc/sys/vm/dirty_writeback_centisecs
	dur_ready=
}

# dur_stat: sectors written to and flushes completed by both data disks so far, in $w0 $f0 $w1 $f1
dur_stat() {
	read -r _ _ _ _ _ _ w0 _ _ _ _ _ _ _ _ f0 _ <"/sys/block/$dur0/stat"
	read -r _ _ _ _ _ _ w1 _ _ _ _ _ _ _ _ f1 _ <"/sys/block/$dur1/stat"
}

# dur_boot NAME INDEX FLAG: boot with both data disks, log in, write 1 MiB of random data to each
# at INDEX MiB with dd FLAG (oflag=direct: to the device, no flush; conv=fsync: and flush), read
# it back from the device (through the VMM) for its sha256; $dur_mid_* are the counters after.
dur_boot() {
	dur_ok=
	sync
	dur_stat
	dur_w0=$w0 dur_f0=$f0 dur_w1=$w1 dur_f1=$f1
	vm_start $1 --kernel $G/Image --initrd $G/initramfs.cpio.gz --disk $rootfs,ro \
		--disk /dev/$dur0 --disk /dev/$dur1 --append quiet
	login || return 1
	run SERIALS 'cat /sys/block/vdb/serial /sys/block/vdc/serial' # the transcript's map
	seek=$(($2 * 16))
	cmd='for d in vdb vdc; do dd if=/dev/urandom of=/dev/$d bs=64k count=16 seek='$seek
	cmd="$cmd $3"' 2>/dev/null || echo FAILED; done; for d in vdb vdc; do dd if=/dev/$d'
	cmd="$cmd bs=64k count=16 skip=$seek"' iflag=direct 2>/dev/null | sha256sum; done'
	run WRITE "$cmd" 60
	wrote='^0 [0-9a-f]{64} +- [0-9a-f]{64} +-$'
	check "$1: 1 MiB written to each data disk ($3)" "$wrote" "$result"
	echo "$result" | grep -qE "$wrote" || return 1
	set -- "$1" "$2" $result
	record "VALUE dur $1 0 $2 $4"
	record "VALUE dur $1 1 $2 $6"
	dur_stat
	dur_mid0=$((w0 - dur_w0)) dur_mid1=$((w1 - dur_w1))
	dur_ok=1
}

# dur_after NAME: the counters once the VMM is gone; $dur_end* sectors, $dur_fl* flushes
dur_after() {
	dur_stat
	dur_end0=$((w0 - dur_w0)) dur_end1=$((w1 - dur_w1))
	dur_fl0=$((f0 - dur_f0)) dur_fl1=$((f1 - dur_f1))
	note "$1: sectors written to the data disks: $dur_mid0 $dur_mid1 before the stop," \
		"$dur_end0 $dur_end1 after ($dur_fl0 $dur_fl1 flushes)"
}

# the 2048 sectors each disk got reached the host disk, not just the host's page cache
dur_check_flushed() {
	if [ "$dur_end0" -ge 2048 ] && [ "$dur_end1" -ge 2048 ]; then
		pass "$1: $2 ($dur_end0 and $dur_end1 sectors, $dur_fl0 $dur_fl1 flushes)"
	else
		fail "$1: $2: only $dur_end0 and $dur_end1 of 2048 sectors reached the disks"
	fi
}

# before a clean stop the data is only in the host's page cache: the probe can tell the difference
dur_check_unflushed() {
	if [ "$dur_mid0" = 0 ] && [ "$dur_mid1" = 0 ]; then
		pass "$1: before the stop the data was in the host's page cache only (0 sectors)"
	else
		fail "$1: $dur_mid0 $dur_mid1 sectors reached the disks before the stop: flush not provable"
	fi
}

# SIGKILL after the guest's fsync: the fsync (a virtio FLUSH) made the data durable already
durkill() {
	wait_exit=5
	dur_setup || return
	if dur_boot durkill 0 conv=fsync; then
		if [ "$dur_mid0" -ge 2048 ] && [ "$dur_mid1" -ge 2048 ]; then
			pass "durkill: the guest's fsync reached the host disks ($dur_mid0 $dur_mid1 sectors)"
		else
			fail "durkill: after the guest's fsync only $dur_mid0 $dur_mid1 sectors on disk"
		fi
		kill -KILL $vm_pid
		wait_exit=30
	fi
	vm_stop $wait_exit
	check "durkill: VMM killed by SIGKILL" '^137$' "$vm_rc"
	[ -n "$dur_ok" ] && dur_after durkill
}

# O_DIRECT writes (no flush) then the guest powers off without syncing: the VMM flushes
duroff() {
	wait_exit=5
	dur_setup || return
	if dur_boot duroff 1 oflag=direct; then
		dur_check_unflushed duroff
		send 'poweroff -n -f'
		wait_exit=120
	fi
	vm_stop $wait_exit
	check "duroff: VMM exit status after poweroff" '^0$' "$vm_rc"
	[ -n "$dur_ok" ] && dur_after duroff && dur_check_flushed duroff "power-off flushed both disks"
}

# the same, then Ctrl-A x on the console
durquit() {
	wait_exit=5
	dur_setup || return
	if dur_boot durquit 2 oflag=direct; then
		dur_check_unflushed durquit
		printf '\001x' >&3
		wait_exit=30
	fi
	vm_stop $wait_exit
	check "durquit: VMM exit status after Ctrl-A x" '^0$' "$vm_rc"
	[ -n "$dur_ok" ] && dur_after durquit && dur_check_flushed durquit "Ctrl-A x flushed both disks"
}

# the same, then SIGTERM: the VMM flushes and exits 128 + 15
durterm() {
	wait_exit=5
	dur_setup || return
	if dur_boot durterm 3 oflag=direct; then
		dur_check_unflushed durterm
		kill -TERM $vm_pid
		wait_exit=30
	fi
	vm_stop $wait_exit
	check "durterm: VMM exit status after SIGTERM" '^143$' "$vm_rc"
	[ -n "$dur_ok" ] && dur_after durterm && dur_check_flushed durterm "SIGTERM flushed both disks"
}

. /e2e/scenario-cpu.sh
. /e2e/scenario-vsock.sh
. /e2e/scenario-fs.sh

for b in ${E2E_BOOTS:-boot1 boot2 boot3 fsboot badguest durkill duroff durquit durterm cpufeat \
	cpuoff rawimage netuser nettap netnone netstream netdgram vsock}; do
	now_cs
	t=$now
	$b
	note "$b: $(since $t) s"
	record "TIME $b $(since $t)"
	sync # the results survive a host killed by run.sh's timeout
done
dur_teardown
net_teardown
sync
record "DONE"
note "scenario done"
