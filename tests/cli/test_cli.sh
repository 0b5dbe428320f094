#!/bin/sh
# The CLI's good paths without a hypervisor: --help, a full machine build on the null backend
# (validates kernel, initrd, disks, DTB, then powers off at the first vCPU entry), and
# --dump-dtb decompiled with dtc.
set -u
. "$(dirname "$0")/lib.sh"
IGNITION=${IGNITION:?path to ignition}
DTC=${DTC:-dtc}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
pass=0
fail=0

check() { # check NAME CONDITION-STATUS [detail]
	if [ "$2" -eq 0 ]; then
		pass=$((pass + 1))
		echo "PASS $1"
	else
		fail=$((fail + 1))
		echo "FAIL $1 ${3:-}"
	fi
}

arm64_image "$W/Image" 4194304 10 ARMd /dev/urandom 65536
gzip -c "$W/Image" >"$W/Image.gz"
printf 'an initrd' >"$W/initrd"
head -c 1048576 /dev/zero >"$W/root.img"
head -c 1048576 /dev/zero >"$W/data.img"

"$IGNITION" --help >"$W/help" 2>&1
check help-exit-0 $?
grep -q 'Ctrl-A x' "$W/help"
check help-mentions-ctrl-a-x $?

"$IGNITION" --kernel "$W/Image" --backend null </dev/null >"$W/out" 2>"$W/err"
check null-boot-exit-0 $? "$(cat "$W/err")"
grep -q '^kernel : ' "$W/err" && grep -q 'gic    : dist=\[0x3ffd0000, 0x10000\] redist=\[0x3ffe0000, 0x20000\]' "$W/err"
check diagnostics-on-stderr $? "$(cat "$W/err")"
[ ! -s "$W/out" ]
check stdout-is-guest-only $?

"$IGNITION" --kernel "$W/Image.gz" --backend null --quiet </dev/null >"$W/out" 2>"$W/err"
check image-gz-boots $? "$(cat "$W/err")"
[ ! -s "$W/err" ]
check quiet-is-quiet $? "$(cat "$W/err")"

sum_before=$(md5sum <"$W/root.img")
mtime_before=$(stat -c %Y.%y "$W/root.img")
"$IGNITION" --kernel "$W/Image" --initrd "$W/initrd" --disk "$W/root.img,ro" \
	--disk "$W/data.img" --smp 2 --append "quiet" --dump-dtb "$W/out.dtb" 2>"$W/err"
check dump-dtb-exit-0 $? "$(cat "$W/err")"
"$DTC" -I dtb -O dts -o "$W/out.dts" "$W/out.dtb" 2>/dev/null
check dtc-decompiles $?
for want in 'compatible = "linux,dummy-virt"' 'cpu@0 {' 'cpu@1 {' 'method = "hvc"' \
	'compatible = "arm,gic-v3"' 'compatible = "arm,armv8-timer"' 'compatible = "ns16550a"' \
	'virtio_mmio@a000000 {' 'virtio_mmio@a000200 {' 'virtio_mmio@a000400 {' \
	'root=/dev/vda ro quiet' 'linux,initrd-start' 'linux,initrd-end' 'stdout-path'; do
	grep -qF "$want" "$W/out.dts"
	check "dtb-has: $want" $?
done
grep -qF 'cpu@2' "$W/out.dts"
[ $? -ne 0 ]
check dtb-has-exactly-2-cpus $?
[ "$sum_before" = "$(md5sum <"$W/root.img")" ] && [ "$mtime_before" = "$(stat -c %Y.%y "$W/root.img")" ]
check ro-disk-untouched $?

"$IGNITION" --kernel "$W/Image" --smp 8 --no-rng --dump-dtb "$W/eight.dtb" 2>/dev/null &&
	"$DTC" -I dtb -O dts "$W/eight.dtb" 2>/dev/null | grep -c 'device_type = "cpu"' | grep -qx 8
check dtb-8-vcpus $?

# A file without the arm64 magic boots raw at RAM + 0x80000, with a note, as QEMU loads it.
printf '\000\001\200\122\000\200\260\162\002\000\000\324' >"$W/raw.bin"
"$IGNITION" --kernel "$W/raw.bin" --backend null </dev/null >"$W/out" 2>"$W/err"
check raw-image-boots $? "$(cat "$W/err")"
grep -qF "$W/raw.bin: no arm64 Image header: loaded raw at 0x40080000, entered at its first byte" \
	"$W/err" && grep -q '^kernel : 12 bytes (raw), entry=0x40080000' "$W/err"
check raw-image-note $? "$(cat "$W/err")"
gzip -c "$W/raw.bin" >"$W/raw.bin.gz"
"$IGNITION" --kernel "$W/raw.bin.gz" --backend null </dev/null >"$W/out" 2>"$W/err"
check raw-image-gz-boots $? "$(cat "$W/err")"
grep -q '^kernel : 12 bytes (gunzipped) (raw), entry=0x40080000' "$W/err"
check raw-image-gz-gunzipped $? "$(cat "$W/err")"

# --cpu with the null backend: it offers nothing, so the defaults and "off" mean no PMU node
"$IGNITION" --kernel "$W/Image" --backend null </dev/null >"$W/out" 2>"$W/err"
grep -q '^cpu    : pmu=off sve=off pauth=off$' "$W/err"
check cpu-null-offers-nothing $? "$(cat "$W/err")"
"$IGNITION" --kernel "$W/Image" --cpu pmu=off,sve=off,pauth=off --dump-dtb "$W/off.dtb" \
	--backend null 2>"$W/err" && ! "$DTC" -I dtb -O dts "$W/off.dtb" 2>/dev/null | grep -q pmuv3
check cpu-off-no-pmu-node $? "$(cat "$W/err")"

echo "cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
