#!/bin/sh
# The vsock boot, sourced by scenario.sh: host<->guest sockets through --vsock (Firecracker's
# unix-socket protocol) with vsockt (tests/e2e/vsock) at both ends. 64 MiB go host -> guest ->
# host with a checksum; 100 connections at once; 16 MiB go guest -> host through PATH_6000 with
# a checksum; every transfer ends with a half-close one way and a close the other way, each seen
# by the other side; a refusal each way; the guest keeps running and powers off with status 0.

# vs_wait_line FILE GLOB SECONDS: wait until a line of FILE matches GLOB
vs_wait_line() {
	now_cs
	vs_end=$((now + $3 * 100))
	while [ $now -lt $vs_end ]; do
		while IFS= read -r vs_l; do
			case $vs_l in $2) return 0 ;; esac
		done <"$1"
		read -t 0.05 _ <&5
		now_cs
	done
	return 1
}

vsock() {
	if [ "$E2E_VMM" != ignition ]; then
		note "vsock: skipped (the stand-in is started without a vsock device)"
		return
	fi
	vs=/tmp/v.sock
	vm_start vsock --kernel $G/Image --initrd $G/initramfs.cpio.gz \
		--vsock cid=3,socket=$vs --append quiet
	wait_exit=5
	if expect "initramfs shell" '*ignition-initrd:/*# *' 150; then
		# up to 30 s for the server to listen: a fixed second is a race on a busy rig
		run SERVE 'vsockt serve 5000 >/tmp/serve.log 2>&1 &
			i=0; until grep -q LISTENING /tmp/serve.log || [ $i -ge 300 ]; do
			sleep 0.1; i=$((i + 1)); done; cat /tmp/serve.log' 60
		check "vsock: the guest listens on vsock port 5000" '^0 (\[1\] [0-9]+ )?LISTENING 5000$' \
			"$result"
		r=$(vsockt connect $vs 5000 67108864 2>&1)
		check "vsock: 64 MiB host->guest->host, checksums equal, both closes seen" \
			'^PASS conns=1 bytes=67108864 .*eof=1' "$r"
		record "VALUE vsock_echo $r"
		r=$(vsockt many $vs 5000 100 262144 2>&1)
		check "vsock: 100 connections at once, each echoed with its checksum" \
			'^PASS conns=100 bytes=262144 .*eof=1' "$r"
		record "VALUE vsock_many $r"
		vsockt sink ${vs}_6000 >/tmp/vsock-sink.log 2>&1 &
		sink_pid=$!
		vs_wait_line /tmp/vsock-sink.log 'LISTENING*' 10 ||
			fail "vsock: the host sink did not start"
		run SEND 'vsockt send 6000 16777216' 300
		check "vsock: 16 MiB guest->host through PATH_6000, checksum equal, closes seen" \
			'^0 PASS bytes=16777216 .*eof=1' "$result"
		record "VALUE vsock_send $result"
		wait $sink_pid
		check "vsock: the host end got it all and saw the guest's half-close" \
			'^SINK bytes=16777216 .*eof=1$' "$(tail -n 1 /tmp/vsock-sink.log)"
		run REFUSED 'vsockt send 6001 10'
		check "vsock: guest connect with nothing at PATH_6001 gets ECONNRESET" \
			'^3 REFUSED ECONNRESET$' "$result"
		r=$(vsockt connect $vs 5999 10 2>&1)
		check "vsock: host CONNECT to a guest port nobody listens on: closed, no reply" \
			'^REFUSED closed-without-reply$' "$r"
		run ALIVE 'uname -m; cat /tmp/serve.log'
		check "vsock: the guest still runs" '^0 aarch64 LISTENING 5000$' "$result"
		send poweroff
		wait_exit=120
	fi
	vm_stop $wait_exit
	check "vsock: VMM exit status after poweroff" '^0$' "$vm_rc"
	[ "$vm_rc" = 0 ] || cat /tmp/vsock.stderr >&2
}
