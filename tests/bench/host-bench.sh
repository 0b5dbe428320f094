#!/bin/sh
# The benchmark scenario inside the emulated arm64 host (installed as /e2e/bench.sh and run by the
# rig's /init). ignition and Debian's qemu boot the same kernel and bench initramfs with the same
# vCPUs, RAM and command line, alternating; /bin/stamp times each run and samples memory. Every
# figure goes to /work/logs/results for tests/bench/run.sh to read back.
. /e2e/bench-lib.sh
SMP=${BENCH_SMP:-1}
DD4K=${BENCH_DD4K_MIB:-8}
PARTS=${BENCH_PARTS:-setup boot norng map dd vsock fs}
QUIET=${BENCH_QUIET-quiet}
has() { case " $PARTS " in *" $1 "*) return 0 ;; esac; return 1; }
FSN=${BENCH_FS_FILES:-2000}
FSMIB=${BENCH_FS_MIB:-64}

dd if=/dev/zero of=$B/disk.img bs=1M count=64 2>/dev/null

note "host THP: enabled $(cat /sys/kernel/mm/transparent_hugepage/enabled)," \
	"defrag $(cat /sys/kernel/mm/transparent_hugepage/defrag)"

# The host's transparent huge page faults so far: "alloc fallback"
thp() { awk '/^thp_fault_alloc / { a = $2 } /^thp_fault_fallback / { f = $2 }
	END { print a + 0, f + 0 }' /proc/vmstat; }
# thp_delta BEFORE: what the run in between got, as figures for its RUN line
thp_delta() {
	set -- $1 $(thp)
	echo "thp_alloc=$(($3 - $1)) thp_fallback=$(($4 - $2))"
}
# BENCH_SMAPS=1: boot runs also read the VMM's smaps at the marker (guest RAM in huge pages)
boot_smaps=
[ -n "${BENCH_SMAPS:-}" ] && boot_smaps="-r $RAM -s 0"

# BENCH_KVMTRACE=1 (experiments): every boot run under the host's kvm tracepoints; each run's
# trace goes to logs/TAG.kvm.gz and a summary (events, exits, time blocked in WFI) to TAG.kvmsum
T=/sys/kernel/tracing
if [ -n "${BENCH_KVMTRACE:-}" ]; then
	mount -t tracefs nodev $T 2>/dev/null
	echo 16384 >$T/buffer_size_kb
	echo 1 >$T/events/kvm/enable
	echo 1 >$T/events/sched/sched_switch/enable
	echo 1 >$T/events/sched/sched_wakeup/enable
	echo 1 >$T/events/sched/sched_migrate_task/enable
	echo 0 >$T/tracing_on
fi
trace_begin() {
	[ -n "${BENCH_KVMTRACE:-}" ] || return 0
	: >$T/trace
	echo 1 >$T/tracing_on
}
trace_end() {
	[ -n "${BENCH_KVMTRACE:-}" ] || return 0
	echo 0 >$T/tracing_on
	gzip -c $T/trace >$logs/$1.kvm.gz
	awk '
	/^#/ { next }
	{
		for (i = 1; i <= NF; i++) if ($i ~ /^[0-9]+\.[0-9]+:$/) break
		t = substr($i, 1, length($i) - 1) + 0; ev = $(i + 1); sub(":$", "", ev)
		if (!t0) t0 = t
		n[ev]++; last = t
		b = int((t - t0) * 4); bucket[b]++; if (b > maxb) maxb = b
		if (ev == "kvm_exit") { m = $0; sub(/.*HSR_EC: /, "", m); sub(/,.*/, "", m); ec[m]++ }
		if (ev == "kvm_userspace_exit") { m = $0; sub(/.*reason /, "", m); ue[m]++ }
		if (ev == "kvm_wfx_arm64") { wfx = t; nw++ }
		if (ev == "kvm_entry" && wfx) { d = t - wfx; blk += d; if (d > maxblk) maxblk = d
			if (d > 0.05) long = long sprintf(" %.3f@%.3f", d, wfx - t0); wfx = 0 }
	}
	END {
		printf "span %.3f s, wfx %d, blocked %.3f s (max %.3f), long:%s\n", last - t0, nw,
			blk, maxblk, long
		for (e in n) printf "event %s %d\n", e, n[e]
		for (e in ec) printf "exit %s %d\n", e, ec[e]
		for (e in ue) printf "uexit %s %d\n", e, ue[e]
		for (b = 0; b <= maxb; b++) printf "%s%d", b ? " " : "per 250 ms: ", bucket[b]
		print ""
	}' $T/trace >$logs/$1.kvmsum
}

# jit_mark WHAT TAG: with BENCH_JIT, a timestamped console line for tests/bench/jitlog.py --runs
jit_mark() {
	[ -n "${BENCH_JIT:-}" ] && note "jit $1 $2"
	return 0
}

# record TAG STAMP-LINE [MORE]: the run's figures, and the guest's dd lines from its console
record() {
	jit_mark end $1
	echo "RUN $1 $2${3:+ $3}" >>$results
	grep '^BENCH dd ' $B/$1.console | sed "s/^BENCH dd /DD $1 /" >>$results
	grep '^BENCH fs ' $B/$1.console | sed "s/^BENCH fs /FS $1 /" >>$results
	case $2 in *status=0*) ;; *)
		note "$1 failed: $2"
		cp $B/$1.console $B/$1.stderr $logs/ 2>/dev/null
		;;
	esac
	[ -n "${BENCH_KEEP:-}" ] && cp $B/$1.console $B/$1.stderr $logs/ 2>/dev/null
	return 0
}

# ignition MODE TAG [stamp options] -- [ignition options]; $VMM_BIN is the build to run
VMM_BIN=/bin/ignition
ignition() {
	mode=$1 tag=$2
	shift 2
	opts=
	while [ "$1" != -- ]; do opts="$opts $1"; shift; done
	shift
	t=$(thp)
	trace_begin
	jit_mark start $tag
	r=$($S -m BENCH-READY $opts -o $B/$tag.console -e $B/$tag.stderr -t ${STAMP_T:-300} -- \
		$VMM_BIN --kernel $K --initrd $I --smp $SMP --mem $MEM "$@" \
		--append "$QUIET bench=$mode bench_dd4k=$DD4K bench_files=$FSN bench_mib=$FSMIB ${BENCH_APPEND:-}")
	trace_end $tag
	record $tag "$r" "$(thp_delta "$t")"
}

qemu() {
	mode=$1 tag=$2
	shift 2
	opts=
	while [ "$1" != -- ]; do opts="$opts $1"; shift; done
	shift
	t=$(thp)
	trace_begin
	jit_mark start $tag
	r=$($S -m BENCH-READY $opts -c /tools -o $B/$tag.console -e $B/$tag.stderr \
		-t ${STAMP_T:-300} -- \
		/usr/bin/qemu-system-aarch64 -accel kvm -M virt,gic-version=3 -cpu host \
		-smp $SMP -m $MEM -nic none -no-reboot -display none -monitor none \
		-chardev stdio,id=c0,signal=off -serial chardev:c0 \
		-kernel $K -initrd $I "$@" \
		-append "$QEMU_CMDLINE $QUIET bench=$mode bench_dd4k=$DD4K bench_files=$FSN bench_mib=$FSMIB ${BENCH_APPEND:-} $QEMU_EARLYCON")
	trace_end $tag
	record $tag "$r" "$(thp_delta "$t")"
}

ign_disk="--disk $B/disk.img,ro"
qemu_disk="-drive if=none,id=d0,format=raw,file=$B/disk.img,readonly=on
	-device virtio-blk-device,drive=d0"

# setup TAG: ignition with the null backend, start to exit: its set-up cost in this host
setup() {
	jit_mark start $1
	r=$($S -o $B/$1.console -e $B/$1.stderr -t 120 -- /bin/ignition --backend null \
		--kernel $K --initrd $I --smp $SMP --mem $MEM --append "quiet bench=boot")
	record $1 "$r"
}

# flush: an unmeasured boot after null-backend runs, so that every measured boot follows a full
# guest boot. The rig's TCG charges a VM for rewriting pages that held the previous VM's
# translated code; a null-backend run leaves none, so a boot right after one starts cheaper than
# its rival (0.49 instead of 0.67 of qemu's time in the same rig, docs/benchmarks.md).
flush() {
	jit_mark start flush
	$S -m BENCH-READY -o $B/flush.console -e $B/flush.stderr -t ${STAMP_T:-300} -- \
		/bin/ignition --kernel $K --initrd $I --smp $SMP --mem $MEM --no-rng \
		--append "$QUIET bench=boot" >/dev/null
	jit_mark end flush
}

# the first round's boots follow a full boot too, not a fresh host's untouched memory
if has boot || has norng || has map; then flush; fi

# BENCH_PARTS picks what runs (default: setup boot norng map dd vsock fs): setup, boot (ignition
# as a user runs it, default devices, then qemu), norng (ignition --no-rng), map (IGNITION_KERNEL_MAP=1), dd;
# for experiments: alt (--cmdline "$BENCH_ALT_CMDLINE"), b (the BENCH_IGNITION_B build).
i=1
while [ $i -le ${BENCH_RUNS:-5} ]; do
	if has setup; then
		setup setup-ignition-$i
		flush
	fi
	if has boot; then
		ignition boot boot-ignition-$i $boot_smaps -- ${BENCH_IGN_OPTS:-}
		qemu boot boot-qemu-$i $boot_smaps --
	fi
	if has alt; then
		ignition boot boot-ignition-alt-$i $boot_smaps -- --cmdline "$BENCH_ALT_CMDLINE"
	fi
	# another build of ignition (BENCH_IGNITION_B), for before/after comparisons
	if has b; then
		VMM_BIN=/bin/ignition-b
		ignition boot boot-ignition-b-$i $boot_smaps -- ${BENCH_IGN_OPTS:-}
		VMM_BIN=/bin/ignition
	fi
	if has norng; then
		ignition boot boot-ignition-norng-$i $boot_smaps -- --no-rng ${BENCH_IGN_OPTS:-}
	fi
	# the kernel mapped from its file instead of copied: faster set-up, but the guest's faults
	if has map; then
		export IGNITION_KERNEL_MAP=1
		if has setup; then
			setup setup-ignition-map-$i
			flush
		fi
		ignition boot boot-ignition-map-$i -- ${BENCH_IGN_OPTS:-}
		unset IGNITION_KERNEL_MAP
	fi
	note "boot round $i done"
	i=$((i + 1))
done

# The disk and memory runs give ignition the devices qemu has: one disk, no rng.
i=1
has dd || i=$((${BENCH_DD_RUNS:-3} + 1))
while [ $i -le ${BENCH_DD_RUNS:-3} ]; do
	ignition dd dd-ignition-$i -r $RAM -d $logs/dd-ignition-$i.smaps -p -- --no-rng $ign_disk
	qemu dd dd-qemu-$i -r $RAM -d $logs/dd-qemu-$i.smaps -p -- $qemu_disk
	export IGNITION_NO_NOTIFY_FD=1
	ignition dd dd-ignition-nonotify-$i -r $RAM -p -- --no-rng $ign_disk
	unset IGNITION_NO_NOTIFY_FD
	note "disk round $i done"
	i=$((i + 1))
done
# ---- vsock: throughput each way and connection set-up, ignition (--vsock: unix sockets on its
# event loop) against qemu's vhost-vsock-device (the kernel's vhost), the same guest, vsockt at
# both ends (tests/e2e/vsock). Not through stamp: the host side runs while the VM does.
has vsock || BENCH_VSOCK_RUNS=0
VS_MIB=${BENCH_VSOCK_MIB:-32}
VS_BYTES=$((VS_MIB * 1048576))
for m in vhost_iotlb vhost vhost_vsock; do
	insmod /bench/modules/$m.ko || note "insmod $m failed"
done
rm -f /tmp/.vsnap
mkfifo /tmp/.vsnap
exec 5<>/tmp/.vsnap

# vs_wait FILE PATTERN SECONDS [PID]: until FILE has a line matching PATTERN (naps, no busy
# loop), or PID is gone
vs_wait() {
	vs_n=0
	while [ $vs_n -lt $(($3 * 10)) ]; do
		grep -q "$2" "$1" 2>/dev/null && return 0
		[ -n "${4:-}" ] && ! kill -0 $4 2>/dev/null && return 1
		read -t 0.1 _ <&5
		vs_n=$((vs_n + 1))
	done
	return 1
}

# vs_run TAG ignition|qemu: one VM of the vsock bench guest; lines "VS TAG what ..." in results
vs_run() {
	tag=$1
	rm -f $B/$tag.in $B/v.sock $B/v.sock_6000
	mkfifo $B/$tag.in
	exec 6<>$B/$tag.in
	app="quiet bench=vsock bench_vsock_mib=$VS_MIB"
	if [ "$2" = ignition ]; then
		/bin/ignition --kernel $K --initrd $I --smp $SMP --mem $MEM --no-rng \
			--vsock cid=3,socket=$B/v.sock --append "$app" \
			<&6 >$B/$tag.console 2>$B/$tag.stderr &
		addr=$B/v.sock sinkaddr=$B/v.sock_6000
	else
		chroot /tools /usr/bin/qemu-system-aarch64 -accel kvm -M virt,gic-version=3 \
			-cpu host -smp $SMP -m $MEM -nic none -no-reboot -display none \
			-monitor none -chardev stdio,id=c0,signal=off -serial chardev:c0 \
			-device vhost-vsock-device,guest-cid=3 -kernel $K -initrd $I \
			-append "$QEMU_CMDLINE $app" <&6 >$B/$tag.console 2>$B/$tag.stderr &
		addr=vsock:3 sinkaddr=vsock:6000
	fi
	vm=$!
	sink=
	if vs_wait $B/$tag.console BENCH-READY 120 $vm; then
		echo "VS $tag setup $(/bin/vsockt setup $addr 5000 20 2>&1)" >>$results
		echo "VS $tag h2g $(/bin/vsockt push $addr 5001 $VS_BYTES 2>&1)" >>$results
		/bin/vsockt sink $sinkaddr >$B/$tag.sink 2>&1 &
		sink=$!
		vs_wait $B/$tag.sink LISTENING 10 || note "$tag: the host sink did not start"
		echo >&6
		vs_wait $B/$tag.console 'BENCH vsock g2h .*mbps=' 300 $vm || note "$tag: no guest result"
	else
		note "$tag: the guest never got ready"
	fi
	# The guest powers off after its result line: give it that long, no more.
	vs_wait $B/$tag.console 'reboot: Power down' 30 $vm || kill $vm 2>/dev/null
	wait $vm
	st=$?
	[ -n "$sink" ] && { kill $sink 2>/dev/null; wait $sink; }
	tr -d '\r' <$B/$tag.console | sed -n "s/^BENCH vsock g2h /VS $tag g2h /p" >>$results
	echo "VS $tag exit status=$st" >>$results
	[ $st = 0 ] || cp $B/$tag.console $B/$tag.stderr $logs/ 2>/dev/null
	exec 6>&-
}

i=1
while [ $i -le ${BENCH_VSOCK_RUNS:-3} ]; do
	vs_run vsock-ignition-$i ignition
	vs_run vsock-qemu-$i qemu
	note "vsock round $i done"
	i=$((i + 1))
done
cp $B/vsock-ignition-1.console $B/vsock-qemu-1.console $B/vsock-ignition-1.stderr \
	$B/vsock-qemu-1.stderr $logs/ 2>/dev/null

# Shared directories: ignition's own FUSE server against qemu with Debian's virtiofsd (C, from
# qemu-system-common), which needs the guest's RAM in shared memory; both on the same tmpfs.
fs_share() {
	rm -rf $B/share
	mkdir -p $B/share
}

qemu_fs() {
	fs_share
	rm -f $B/vfsd.sock
	chroot /tools /usr/lib/qemu/virtiofsd --socket-path=$B/vfsd.sock -o source=$B/share \
		-o cache=auto -o sandbox=chroot >$B/$1.virtiofsd 2>&1 &
	vfsd=$!
	n=0
	while [ ! -S $B/vfsd.sock ] && [ $n -lt 100 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	# vhost-user needs a modern virtio-mmio device, which virt makes legacy by default
	qemu fs $1 -- -global virtio-mmio.force-legacy=false \
		-object memory-backend-memfd,id=mem,size=${MEM}M,share=on \
		-numa node,memdev=mem -chardev socket,id=vfs,path=$B/vfsd.sock \
		-device vhost-user-fs-device,chardev=vfs,tag=bench
	kill $vfsd 2>/dev/null
	wait $vfsd 2>/dev/null
	cp $B/$1.virtiofsd $logs/ 2>/dev/null
}

has fs || BENCH_FS_RUNS=0
# virtiofsd locks its socket under /var/run, which the read-only /tools does not have
[ "${BENCH_FS_RUNS:-3}" -gt 0 ] && mount -t tmpfs tmpfs /tools/var && mkdir -p /tools/var/run
# 2000 files cost about 160 ms each in the nested rig, under either VMM
export STAMP_T=900
i=1
while [ $i -le ${BENCH_FS_RUNS:-3} ]; do
	# ABBA: each run takes minutes, and a host whose load drifts meanwhile (other VMs, other
	# jobs) would favour whichever VMM always went second
	if [ $((i % 2)) = 0 ]; then qemu_fs fs-qemu-$i; fi
	fs_share
	ignition fs fs-ignition-$i -- --fs tag=bench,path=$B/share
	if [ $((i % 2)) = 1 ]; then qemu_fs fs-qemu-$i; fi
	if has b; then
		fs_share
		VMM_BIN=/bin/ignition-b
		ignition fs fs-ignition-b-$i -- --fs tag=bench,path=$B/share
		VMM_BIN=/bin/ignition
	fi
	note "shared directory round $i done"
	i=$((i + 1))
done
unset STAMP_T
[ "${BENCH_FS_RUNS:-3}" -gt 0 ] && umount /tools/var
cp $B/fs-ignition-1.console $B/fs-qemu-1.console $B/fs-ignition-1.stderr $B/fs-qemu-1.stderr \
	$logs/ 2>/dev/null
cp $B/boot-ignition-1.console $B/boot-qemu-1.console $B/dd-ignition-1.console \
	$B/dd-qemu-1.console $B/dd-ignition-1.stderr $B/dd-qemu-1.stderr $logs/ 2>/dev/null
echo DONE >>$results
sync
