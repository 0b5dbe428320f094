#!/bin/sh
# The benchmark scenario inside the emulated arm64 host (installed as /e2e/bench.sh and run by the
# rig's /init). ignition and Debian's qemu boot the same kernel and bench initramfs with the same
# vCPUs, RAM and command line, alternating; /bin/stamp times each run and samples memory. Every
# figure goes to /work/logs/results for tests/bench/run.sh to read back.
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
SMP=${BENCH_SMP:-1}
DD4K=${BENCH_DD4K_MIB:-8}
FSN=${BENCH_FS_FILES:-2000}
FSMIB=${BENCH_FS_MIB:-64}
RAM=$((MEM * 1024 * 1024))
# ignition's default command line (plus --append), with qemu's console in place of ours
QEMU_CMDLINE="console=ttyAMA0 earlycon=pl011,0x9000000 reboot=k panic=1"

mkdir -p $B
cp /bench/initramfs.cpio.gz $I
dd if=/dev/zero of=$B/disk.img bs=1M count=64 2>/dev/null

note() { echo "bench: $*"; }

# record TAG STAMP-LINE: the run's figures, and the guest's dd lines from its console
record() {
	echo "RUN $1 $2" >>$results
	grep '^BENCH dd ' $B/$1.console | sed "s/^BENCH dd /DD $1 /" >>$results
	grep '^BENCH fs ' $B/$1.console | sed "s/^BENCH fs /FS $1 /" >>$results
	case $2 in *status=0*) ;; *)
		note "$1 failed: $2"
		cp $B/$1.console $B/$1.stderr $logs/ 2>/dev/null
		;;
	esac
}

# ignition MODE TAG [stamp options] -- [ignition options]
ignition() {
	mode=$1 tag=$2
	shift 2
	opts=
	while [ "$1" != -- ]; do opts="$opts $1"; shift; done
	shift
	r=$($S -m BENCH-READY $opts -o $B/$tag.console -e $B/$tag.stderr -t ${STAMP_T:-300} -- \
		/bin/ignition --kernel $K --initrd $I --smp $SMP --mem $MEM --no-rng "$@" \
		--append "quiet bench=$mode bench_dd4k=$DD4K bench_files=$FSN bench_mib=$FSMIB")
	record $tag "$r"
}

qemu() {
	mode=$1 tag=$2
	shift 2
	opts=
	while [ "$1" != -- ]; do opts="$opts $1"; shift; done
	shift
	r=$($S -m BENCH-READY $opts -c /tools -o $B/$tag.console -e $B/$tag.stderr \
		-t ${STAMP_T:-300} -- \
		/usr/bin/qemu-system-aarch64 -accel kvm -M virt,gic-version=3 -cpu host \
		-smp $SMP -m $MEM -nic none -no-reboot -display none -monitor none \
		-chardev stdio,id=c0,signal=off -serial chardev:c0 \
		-kernel $K -initrd $I "$@" \
		-append "$QEMU_CMDLINE quiet bench=$mode bench_dd4k=$DD4K bench_files=$FSN bench_mib=$FSMIB")
	record $tag "$r"
}

ign_disk="--disk $B/disk.img,ro"
qemu_disk="-drive if=none,id=d0,format=raw,file=$B/disk.img,readonly=on
	-device virtio-blk-device,drive=d0"

# setup TAG: ignition with the null backend, start to exit: its set-up cost in this host
setup() {
	r=$($S -o $B/$1.console -e $B/$1.stderr -t 120 -- /bin/ignition --backend null \
		--kernel $K --initrd $I --smp $SMP --mem $MEM --no-rng --append "quiet bench=boot")
	record $1 "$r"
}

i=1
while [ $i -le ${BENCH_RUNS:-5} ]; do
	setup setup-ignition-$i
	ignition boot boot-ignition-$i --
	qemu boot boot-qemu-$i --
	# the kernel mapped from its file instead of copied: faster set-up, but the guest's faults
	export IGNITION_KERNEL_MAP=1
	setup setup-ignition-map-$i
	ignition boot boot-ignition-map-$i --
	unset IGNITION_KERNEL_MAP
	note "boot round $i done"
	i=$((i + 1))
done

i=1
while [ $i -le ${BENCH_DD_RUNS:-3} ]; do
	ignition dd dd-ignition-$i -r $RAM -d $logs/dd-ignition-$i.smaps -p -- $ign_disk
	qemu dd dd-qemu-$i -r $RAM -d $logs/dd-qemu-$i.smaps -p -- $qemu_disk
	export IGNITION_NO_NOTIFY_FD=1
	ignition dd dd-ignition-nonotify-$i -r $RAM -p -- $ign_disk
	unset IGNITION_NO_NOTIFY_FD
	note "disk round $i done"
	i=$((i + 1))
done
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

# virtiofsd locks its socket under /var/run, which the read-only /tools does not have
[ "${BENCH_FS_RUNS:-3}" -gt 0 ] && mount -t tmpfs tmpfs /tools/var && mkdir -p /tools/var/run
# 2000 files cost about 160 ms each in the nested rig, under either VMM
export STAMP_T=900
i=1
while [ $i -le ${BENCH_FS_RUNS:-3} ]; do
	fs_share
	ignition fs fs-ignition-$i -- --fs tag=bench,path=$B/share
	qemu_fs fs-qemu-$i
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
