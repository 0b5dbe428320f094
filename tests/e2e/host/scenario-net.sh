# The network boots, sourced by scenario.sh (so expect.sh's helpers are here). All traffic stays
# inside the emulated host: its loopback (busybox httpd on 127.0.0.1, which the guest reaches as
# slirp's 10.0.2.2), a tap device with an address, a passt process on a unix socket.
#
#   netuser    --net user,hostfwd=...: DHCP gives 10.0.2.15/24 via 10.0.2.2; 16 MiB from the host's
#              httpd through 10.0.2.2 and 16 MiB from an httpd in the guest through the hostfwd
#              port, both checked by sha256
#   nettap     --net tap=tap0: tap0 192.168.77.1/24 in the host, a static 192.168.77.2 in the
#              guest; ping both ways and the same two transfers
#   netnone    --net none: the guest has no NIC (/sys/class/net holds only lo)
#   netstream  --net stream=SOCKET against Debian's passt: DHCP from passt and the download; then
#              passt killed and started again on the same path, and the guest reaches the host
#   netdgram   --net dgram=SOCKET against dgrambr (tests/e2e/net/dgrambr.c: gvproxy's side of the
#              vfkit protocol, bridged to tap1 192.168.79.1/24): static 192.168.79.2, ping and the
#              download; the peer killed and started again on the same path, pings pass again

NET_MIB=${NET_MIB:-16}
net_ready=
net_pids=

# net_setup: loopback up, a file of random bytes served by busybox httpd on the host's loopback
net_setup() {
	[ -n "$net_ready" ] && return 0
	ip link set lo up
	mkdir -p /tmp/www
	dd if=/dev/urandom of=/tmp/www/blob bs=1M count=$NET_MIB 2>/dev/null
	net_sum=$(sha256sum /tmp/www/blob | cut -d' ' -f1)
	httpd -f -p 127.0.0.1:8080 -h /tmp/www &
	net_pids="$net_pids $!"
	net_ready=1
	note "net: $NET_MIB MiB blob ${net_sum%${net_sum#????????????????}}... on http://127.0.0.1:8080"
}

net_teardown() {
	[ -n "$net_pids" ] && kill $net_pids 2>/dev/null
	net_pids=
	net_ready=
}

# KiB/s for $NET_MIB MiB in $1 centiseconds
net_rate() { [ "$1" -gt 0 ] && echo "$((NET_MIB * 102400 / $1)) KiB/s" || echo "? KiB/s"; }

# net_get NAME URL: the guest downloads URL (the host's blob); its sha256 must be the host's
net_get() {
	now_cs
	net_t=$now
	run GET "wget -q -O - $2 | sha256sum" 300
	dt=$(($(now_cs; echo $now) - net_t))
	check "$1: guest downloaded $NET_MIB MiB from $2, sha256 matches" "^0 $net_sum +-\$" \
		"$result"
	note "$1: download took $(secs $dt) s ($(net_rate $dt))"
}

# net_serve NAME PORT URL: a fresh random file served by httpd in the guest on PORT, fetched by
# the host from URL; the sha256 the host reads must be the guest's
net_serve() {
	run SERVE "mkdir -p /tmp/www && dd if=/dev/urandom of=/tmp/www/gblob bs=1M count=$NET_MIB \
2>/dev/null && sha256sum /tmp/www/gblob | cut -d' ' -f1 && httpd -p $2 -h /tmp/www" 120
	check "$1: guest serves $NET_MIB MiB on port $2" '^0 [0-9a-f]{64}$' "$result"
	gsum=${result#0 }
	now_cs
	net_t=$now
	hsum=$(timeout 300 wget -q -O - "$3" | sha256sum | cut -d' ' -f1)
	dt=$(($(now_cs; echo $now) - net_t))
	check "$1: host downloaded the guest's file from $3, sha256 matches" "^$gsum\$" "$hsum"
	note "$1: upload took $(secs $dt) s ($(net_rate $dt))"
}

netuser() {
	net_setup
	vm_start netuser --kernel $G/Image --initrd $G/initramfs.cpio.gz --disk $rootfs,ro \
		--net user,hostfwd=tcp:127.0.0.1:5580-:8081 --append quiet
	wait_exit=5
	if login; then
		run ADDR 'ip -4 addr show dev eth0 | grep -o "inet [0-9./]*"; ip route | grep ^default'
		check "netuser: DHCP lease 10.0.2.15/24, default route via 10.0.2.2" \
			'^0 inet 10\.0\.2\.15/24 default via 10\.0\.2\.2 ' "$result"
		run DNS 'cat /etc/resolv.conf'
		check "netuser: DNS server 10.0.2.3 from DHCP" '^0 nameserver 10\.0\.2\.3' "$result"
		net_get netuser http://10.0.2.2:8080/blob
		net_serve netuser 8081 http://127.0.0.1:5580/gblob
		send poweroff
		wait_exit=120
	fi
	vm_stop $wait_exit
	check "netuser: VMM exit status after poweroff" '^0$' "$vm_rc"
}

# net_tap NAME TAP ADDR: a tap with ADDR/24 in the host and the blob served on ADDR:8080
net_tap() {
	net_setup
	if ! tunctl -t $2 >/dev/null || ! ip addr add $3/24 dev $2 || ! ip link set $2 up; then
		fail "$1: cannot create $2 in the host"
		return 1
	fi
	httpd -f -p $3:8080 -h /tmp/www &
	net_pids="$net_pids $!"
}

nettap() {
	net_tap nettap tap0 192.168.77.1 || return
	# e2e.nodhcp: the guest's rcS leaves eth0 alone; the test gives it a static address
	vm_start nettap --kernel $G/Image --initrd $G/initramfs.cpio.gz --disk $rootfs,ro \
		--net tap=tap0 --append 'quiet e2e.nodhcp'
	wait_exit=5
	if login; then
		run STATIC 'ip addr add 192.168.77.2/24 dev eth0 && ip link set eth0 up && '\
'ping -c 3 -W 10 192.168.77.1 | grep -o "[0-9]* packets received"'
		check "nettap: static 192.168.77.2, the guest pings the host's tap0" \
			'^0 3 packets received$' "$result"
		got=$(ping -c 3 -W 10 192.168.77.2 | grep -o '[0-9]* packets received')
		check "nettap: the host pings the guest" '^3 packets received$' "$got"
		net_get nettap http://192.168.77.1:8080/blob
		net_serve nettap 8081 http://192.168.77.2:8081/gblob
		send poweroff
		wait_exit=120
	fi
	vm_stop $wait_exit
	check "nettap: VMM exit status after poweroff" '^0$' "$vm_rc"
	tunctl -d tap0 >/dev/null
}

netnone() {
	vm_start netnone --kernel $G/Image --initrd $G/initramfs.cpio.gz --net none --append quiet
	wait_exit=5
	if expect "initramfs shell" '*ignition-initrd:/*# *' 150; then
		run NICS 'ls /sys/class/net'
		check "netnone: no NIC, /sys/class/net has only lo" '^0 lo$' "$result"
		send poweroff
		wait_exit=120
	fi
	vm_stop $wait_exit
	check "netnone: VMM exit status after poweroff" '^0$' "$vm_rc"
}

# passt copies the host's addresses and routes: the emulated host, with no network, gets a
# dummy interface with an address and a default route for it to copy; passt's gateway address
# reaches the host's loopback (where httpd listens).
netstream() {
	net_setup
	if ! /e2e/netbin passt --version >/tmp/passt.version 2>&1; then
		fail "netstream: Debian's passt does not start in the host: $(head -c 300 /tmp/passt.version)"
		return
	fi
	ip link add dummy0 type dummy 2>/dev/null
	ip addr add 192.168.78.1/24 dev dummy0 2>/dev/null
	ip link set dummy0 up
	ip route add default via 192.168.78.254 dev dummy0 2>/dev/null
	rm -f /tmp/passt.sock
	/e2e/netbin passt -f -1 -s /tmp/passt.sock >/tmp/passt.log 2>&1 &
	passt_pid=$!
	n=0
	while [ ! -S /tmp/passt.sock ] && [ $n -lt 100 ] && kill -0 $passt_pid 2>/dev/null; do
		read -t 0.1 _ <&5
		n=$((n + 1))
	done
	if [ ! -S /tmp/passt.sock ]; then
		fail "netstream: passt made no socket: $(tr '\n' ' ' </tmp/passt.log | head -c 400)"
		kill $passt_pid 2>/dev/null
		return
	fi
	vm_start netstream --kernel $G/Image --initrd $G/initramfs.cpio.gz --disk $rootfs,ro \
		--net stream=/tmp/passt.sock --append quiet
	wait_exit=5
	if login; then
		run ADDR 'ip -4 addr show dev eth0 | grep -o "inet [0-9./]*"; ip route | grep ^default'
		check "netstream: DHCP lease from passt (the host's 192.168.78.1/24)" \
			'^0 inet 192\.168\.78\.1/24 default via 192\.168\.78\.254 ' "$result"
		net_get netstream http://192.168.78.254:8080/blob
		# passt killed and started again on the same path: the VMM reconnects (every second)
		kill $passt_pid
		wait $passt_pid 2>/dev/null
		rm -f /tmp/passt.sock
		/e2e/netbin passt -f -1 -s /tmp/passt.sock >/tmp/passt2.log 2>&1 &
		passt_pid=$!
		echo again >/tmp/www/again
		run AGAIN 'for i in 1 2 3 4 5 6 7 8 9 10; do timeout 5 wget -q -O - '\
'http://192.168.78.254:8080/again && break; sleep 1; done' 90
		check "netstream: after passt restarted, the guest reaches the host again" '^0 again$' \
			"$result"
		send poweroff
		wait_exit=120
	fi
	vm_stop $wait_exit
	check "netstream: VMM exit status after poweroff" '^0$' "$vm_rc"
	check "netstream: the VMM said the peer went and came back" \
		'link down.*connected again; link up' \
		"$(grep -E 'link down|link up' $logs/netstream.stderr | tr '\n' ' ')"
	cat /tmp/passt.log /tmp/passt2.log >"$logs/netstream.passt.log" 2>/dev/null
	kill $passt_pid 2>/dev/null
	ip link del dummy0 2>/dev/null
}

# dgram_peer: dgrambr on /tmp/dgram.sock bridged to tap1, its output in /tmp/dgrambr.N.log
dgram_peer() {
	rm -f /tmp/dgram.sock
	/bin/dgrambr tap1 /tmp/dgram.sock >/tmp/dgrambr.$1.log 2>&1 &
	dgram_pid=$!
	n=0
	while [ ! -S /tmp/dgram.sock ] && [ $n -lt 100 ] && kill -0 $dgram_pid 2>/dev/null; do
		read -t 0.1 _ <&5
		n=$((n + 1))
	done
	[ -S /tmp/dgram.sock ]
}

netdgram() {
	if [ "$E2E_VMM" != ignition ]; then note "netdgram: skipped (qemu does not greet a vfkit peer)"; return; fi
	net_tap netdgram tap1 192.168.79.1 || return
	if ! dgram_peer 1; then
		fail "netdgram: dgrambr made no socket: $(head -c 300 /tmp/dgrambr.1.log)"
		tunctl -d tap1 >/dev/null
		return
	fi
	vm_start netdgram --kernel $G/Image --initrd $G/initramfs.cpio.gz --disk $rootfs,ro \
		--net dgram=/tmp/dgram.sock --append 'quiet e2e.nodhcp'
	wait_exit=5
	if login; then
		check "netdgram: the VMM said VFKT to the peer" '^dgrambr: hello from ' \
			"$(grep -m1 hello /tmp/dgrambr.1.log)"
		run STATIC 'ip addr add 192.168.79.2/24 dev eth0 && ip link set eth0 up && '\
'ping -c 3 -W 10 192.168.79.1 | grep -o "[0-9]* packets received"'
		check "netdgram: static 192.168.79.2, the guest pings the host through the peer" \
			'^0 3 packets received$' "$result"
		net_get netdgram http://192.168.79.1:8080/blob
		# gvproxy restarted: the VMM finds out at its next send, says so, and greets the
		# new peer on the same path within its one-second retry
		kill $dgram_pid
		wait $dgram_pid 2>/dev/null
		dgram_peer 2 || fail "netdgram: the second dgrambr made no socket"
		run AGAIN 'ping -c 8 -i 1 -W 2 192.168.79.1 | grep -o "[0-9]* packets received"' 60
		check "netdgram: pings pass again through the restarted peer" \
			'^[01] [1-8] packets received$' "$result"
		check "netdgram: the VMM greeted the restarted peer" '^dgrambr: hello from ' \
			"$(grep -m1 hello /tmp/dgrambr.2.log)"
		send poweroff
		wait_exit=120
	fi
	vm_stop $wait_exit
	check "netdgram: VMM exit status after poweroff" '^0$' "$vm_rc"
	check "netdgram: the VMM logged the peer going away" 'went away' \
		"$(grep -m1 'went away' $logs/netdgram.stderr)"
	kill $dgram_pid 2>/dev/null
	cat /tmp/dgrambr.1.log /tmp/dgrambr.2.log >"$logs/netdgram.peer.log" 2>/dev/null
	tunctl -d tap1 >/dev/null
}
