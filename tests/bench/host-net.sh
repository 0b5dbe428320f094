#!/bin/sh
# The network benchmark scenario inside the emulated arm64 host (installed as /e2e/bench.sh by
# tests/bench/net.sh): ignition and Debian's qemu, alternating, boot the same network bench guest
# (tests/bench/net-guest-init) with the same backend: user-mode networking (ignition --net user,
# qemu -netdev user: libslirp both) and a tap (qemu's without vhost, which ignition has not).
# Each run: RSS beyond guest RAM with the NIC up, ping median, iperf3 both ways against an iperf3
# server in this host. Lines RUN TAG ... and NET TAG k=v go to /work/logs/results.
. /e2e/bench-lib.sh
SECS=${BENCH_NET_SECS:-5}

ip link set lo up
tunctl -t tap0 >/dev/null && ip addr add 192.168.77.1/24 dev tap0 && ip link set tap0 up ||
	note "cannot make tap0"
/e2e/netbin iperf3 -s >$logs/iperf3-server.log 2>&1 &
srv=$!

record() {
	echo "RUN $1 $2" >>$results
	sed -n "s/^BENCH net /NET $1 /p" $B/$1.console | tr -d '\r' >>$results
	case $2 in *status=0*) ;; *) note "$1 failed: $2" ;; esac
	grep -q '^bench: ' $B/$1.console && grep '^bench: ' $B/$1.console
	cp $B/$1.console $B/$1.stderr $logs/ 2>/dev/null
}

# run VMM NET TAG
run() {
	tag=$3
	app="quiet bench_net=$2 bench_secs=$SECS bench_pings=${BENCH_NET_PINGS:-21}"
	if [ $1 = ignition ]; then
		case $2 in user) nic="--net user" ;; tap) nic="--net tap=tap0" ;; esac
		r=$($S -m BENCH-READY -r $RAM -p -o $B/$tag.console -e $B/$tag.stderr -t 300 -- \
			/bin/ignition --kernel $K --initrd $I --mem $MEM --no-rng $nic --append "$app")
	else
		case $2 in
		user) nd=user,id=n0 ;;
		tap) nd=tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=off ;;
		esac
		r=$($S -m BENCH-READY -r $RAM -p -c /tools -o $B/$tag.console -e $B/$tag.stderr \
			-t 300 -- /usr/bin/qemu-system-aarch64 -accel kvm -M virt,gic-version=3 \
			-cpu host -smp 1 -m $MEM -nic none -no-reboot -display none -monitor none \
			-chardev stdio,id=c0,signal=off -serial chardev:c0 -netdev $nd \
			-device virtio-net-device,netdev=n0 -kernel $K -initrd $I \
			-append "$QEMU_CMDLINE $app $QEMU_EARLYCON")
	fi
	record $tag "$r"
}

i=1
while [ $i -le ${BENCH_NET_RUNS:-2} ]; do
	for net in ${BENCH_NET_KINDS:-user tap}; do
		run ignition $net net-$net-ignition-$i
		run qemu $net net-$net-qemu-$i
	done
	note "network round $i done"
	i=$((i + 1))
done
kill $srv 2>/dev/null
echo DONE >>$results
sync
