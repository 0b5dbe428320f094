#!/bin/sh
# Sourced by scenario.sh: the vCPU's features (--cpu: PMU, SVE, pointer authentication) and a
# raw (headerless) kernel. The emulated host is qemu's -cpu max: what it reports is printed, and
# a feature it lacks is a note, not a failure.

cpu_words='sve paca pacg'

# cpu_has TEXT: which of $cpu_words TEXT (a Features line of /proc/cpuinfo) lists, in that order
cpu_has() {
	t=" $* " have=
	for w in $cpu_words; do
		case $t in *" $w "*) have="$have $w" ;; esac
	done
	echo "${have# }"
}

# the VMM's choice, from its "cpu    : pmu=on sve=on pauth=off" line
vm_cpu_line() { sed -n 's/^cpu    : //p' /tmp/$vm_name.stderr | head -n 1; }

cpu_host_facts() {
	[ -n "${host_words+set}" ] && return
	host_features=$(grep -m 1 '^Features' /proc/cpuinfo)
	host_words=$(cpu_has "$host_features")
	host_pmu=no
	for d in /sys/bus/event_source/devices/armv8_pmuv3*; do [ -e "$d" ] && host_pmu=yes; done
	note "cpu: the emulated host's $host_features"
	note "cpu: the emulated host has [$host_words] of [$cpu_words], a PMUv3 perf device: $host_pmu"
	record "VALUE host_cpu words=[$host_words] pmu=$host_pmu"
}

# cpu_guest_facts: the guest's flags and perf devices into $guest_words $guest_pmu $guest_pmu_irq
guest_probe='grep -m 1 ^Features /proc/cpuinfo; echo DEVICES; ls /sys/bus/event_source/devices'
guest_probe="$guest_probe; echo IRQS; grep -c arm-pmu /proc/interrupts"
cpu_guest_facts() {
	run FEATURES "$guest_probe"
	guest_words=$(cpu_has "${result%%DEVICES*}")
	devs=${result#*DEVICES}
	devs=${devs%%IRQS*}
	case $devs in *armv8_pmuv3*) guest_pmu=yes ;; *) guest_pmu=no ;; esac
	guest_pmu_irq=${result##*IRQS }
	note "cpu: guest $vm_name has [$guest_words], perf devices:$devs"
}

cpu_boot() { # cpu_boot NAME ARGS...
	name=$1
	shift
	vm_start $name --kernel $G/Image --initrd $G/initramfs.cpio.gz --smp 2 --append quiet "$@"
	expect "initramfs shell" '*ignition-initrd:/*# *' 150
}

# the defaults: every feature the host has and KVM offers reaches the guest
cpufeat() {
	if [ "$E2E_VMM" != ignition ]; then note "cpufeat: skipped (ignition's --cpu)"; return; fi
	cpu_host_facts
	wait_exit=5
	if cpu_boot cpufeat; then
		chose=$(vm_cpu_line)
		note "cpufeat: ignition chose: $chose"
		cpu_guest_facts
		for w in $host_words; do
			case " $guest_words " in
			*" $w "*) pass "cpufeat: the guest's /proc/cpuinfo lists the host's '$w'" ;;
			*) fail "cpufeat: the host has '$w', the guest's flags [$guest_words] lack it ($chose)" ;;
			esac
		done
		for w in $cpu_words; do
			case " $host_words " in *" $w "*) ;; *)
				note "cpufeat: the emulated host itself lacks '$w' (its $host_features)" ;;
			esac
		done
		if [ "$host_pmu" = yes ]; then
			check "cpufeat: ignition gave the PMU (KVM_CAP_ARM_PMU_V3)" '^pmu=on ' "$chose"
			check "cpufeat: the guest has /sys/bus/event_source/devices/armv8_pmuv3*" '^yes$' \
				"$guest_pmu"
			check "cpufeat: the guest's PMU interrupt is registered (arm-pmu lines)" \
				'^[1-9]' "$guest_pmu_irq"
		else
			note "cpufeat: the emulated host has no PMUv3 perf device: PMU not checked"
		fi
		send poweroff
		wait_exit=120
	fi
	vm_stop $wait_exit
	check "cpufeat: VMM exit status after poweroff" '^0$' "$vm_rc"
	cpu_dtb
}

# --dump-dtb asks KVM too: the PMU node is there when the PMU is, and gone with pmu=off
cpu_dtb() {
	[ "$host_pmu" = yes ] || return
	/bin/ignition --quiet --kernel $G/Image --cpu pmu=on --dump-dtb /tmp/cpu-on.dtb 2>/tmp/cpu-dtb.err
	check "cpufeat: --cpu pmu=on --dump-dtb has an arm,armv8-pmuv3 node" '^1$' \
		"$(grep -c arm,armv8-pmuv3 /tmp/cpu-on.dtb 2>&1)$(cat /tmp/cpu-dtb.err)"
	/bin/ignition --quiet --kernel $G/Image --cpu pmu=off --dump-dtb /tmp/cpu-off.dtb 2>/tmp/cpu-dtb.err
	check "cpufeat: --cpu pmu=off --dump-dtb has none" '^0$' \
		"$(grep -c arm,armv8-pmuv3 /tmp/cpu-off.dtb 2>&1)$(cat /tmp/cpu-dtb.err)"
}

# everything hidden: no flag, no PMU
cpuoff() {
	if [ "$E2E_VMM" != ignition ]; then note "cpuoff: skipped (ignition's --cpu)"; return; fi
	cpu_host_facts
	wait_exit=5
	if cpu_boot cpuoff --cpu pmu=off,sve=off,pauth=off; then
		check "cpuoff: ignition hid all three" '^pmu=off sve=off pauth=off$' "$(vm_cpu_line)"
		cpu_guest_facts
		check "cpuoff: the guest's /proc/cpuinfo lists none of [$cpu_words]" '^$' "$guest_words"
		check "cpuoff: the guest has no armv8_pmuv3 perf device" '^no$' "$guest_pmu"
		send poweroff
		wait_exit=120
	fi
	vm_stop $wait_exit
	check "cpuoff: VMM exit status after poweroff" '^0$' "$vm_rc"
}

# a raw bare-metal program (badguest/raw.S): loaded at RAM + 0x80000, entered at its first byte
# with X0 = the DTB, powers off with PSCI SYSTEM_OFF
rawimage() {
	if [ "$E2E_VMM" != ignition ]; then note "rawimage: skipped (its UART is ignition's)"; return; fi
	wait_exit=5
	vm_start rawimage --kernel $G/raw.bin
	if expect "final marker" '*RAW done*' 60; then
		pass "rawimage: reached its final marker $(since $vm_t0) s after the VMM started"
		wait_exit=30
	fi
	vm_stop $wait_exit
	check "rawimage: VMM exit status after the program's SYSTEM_OFF" '^0$' "$vm_rc"
	check "rawimage: entered at RAM + 0x80000" 'RAW entry=0x40080000' \
		"$(tr -d '\r' <"$logs/rawimage.console" | grep '^RAW entry')"
	check "rawimage: X0 held the DTB" '^RAW x0=dtb$' \
		"$(tr -d '\r' <"$logs/rawimage.console" | grep '^RAW x0')"
	check "rawimage: ignition's note on stderr" \
		'raw.bin: no arm64 Image header: loaded raw at 0x40080000, entered at its first byte' \
		"$(grep 'no arm64 Image header' "$logs/rawimage.stderr")"
}
