#!/bin/sh
# Flakiness probe (E2E_SCENARIO=repeat.sh): boot the default guest E2E_REPEAT times (default 10)
# to its login prompt, quit each with Ctrl-A x, and report every time-to-login and failure.
# E2E_SMP sets --smp (default 2), E2E_APPEND the --append (default quiet); E2E_DMESG=1 logs in,
# leaves the guest's uptime and dmesg in each boot's transcript and notes each VMM thread's CPU
# time.
. /e2e/expect.sh
n=${E2E_REPEAT:-10}
smp=${E2E_SMP:-2}
i=1
while [ $i -le $n ]; do
	vm_start rep$i --kernel /guest/Image --initrd /guest/initramfs.cpio.gz \
		--disk /work/rootfs.ext4 --smp $smp --append "${E2E_APPEND-quiet}"
	if expect "login prompt" '*login: ' 45; then
		pass "rep$i: login: prompt $(since $vm_t0) s after the VMM started"
		if [ -n "$E2E_DMESG" ]; then
			# where a slow boot waited: the guest's clock and its log, in the transcript
			send root
			expect "shell prompt" '*ignition:/*# *' 60 && run UPTIME 'cat /proc/uptime' &&
				note "rep$i: guest uptime at the shell: $result" && run DMESG dmesg 300
			# and each VMM thread's CPU time so far (utime + stime, clock ticks)
			cpu=
			for t in /proc/$vm_pid/task/*; do
				read -r _ _ _ _ _ _ _ _ _ _ _ _ _ ut st _ <"$t/stat"
				cpu="$cpu ${t##*/}:$((ut + st))"
			done
			note "rep$i: VMM threads' CPU ticks:$cpu"
		fi
	elif kill -0 $vm_pid 2>/dev/null; then
		# stalled: does a received byte (an RX interrupt) get the output going again?
		send ''
		expect "login prompt after a keypress" '*login: ' 15 &&
			note "rep$i: output resumed after one received byte"
	fi
	printf '\001x' >&3 # Ctrl-A x
	vm_stop 10
	check "rep$i: exit status after Ctrl-A x" '^0$' "$vm_rc"
	i=$((i + 1))
done
record "DONE"
