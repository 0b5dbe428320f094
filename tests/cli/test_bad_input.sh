#!/bin/sh
# Bad host input: each case must give exactly one line on stderr starting with "ignition: ",
# a non-zero exit status, and must leave every file in the work directory as it was.
# Cases that need a machine built use --backend null, which validates everything a real boot
# does and then powers off at the first vCPU entry (no hypervisor needed).
set -u
. "$(dirname "$0")/lib.sh"
IGNITION=${IGNITION:?path to ignition}
W=$(mktemp -d)
# ignition's output goes elsewhere: W itself is what must stay unchanged
O=$(mktemp -d)
trap 'rm -rf "$W" "$O"; [ -n "${LOCKPID:-}" ] && pkill -P $LOCKPID 2>/dev/null' EXIT
chmod 755 "$W"
pass=0
fail=0
AS_USER=

image() { # image FILE IMAGE_SIZE FLAGS MAGIC
	arm64_image "$1" "$2" "$3" "$4" /dev/zero 4032
}

image "$W/Image" 1048576 10 'ARMd'
image "$W/bigendian" 1048576 11 'ARMd'
image "$W/huge" 2147483648 10 'ARMd'
# a partial copy of an EFI-stub Image: "MZ", the PE header at 0x40 with one section whose raw
# data runs to 0x101000, and the file stops at 4096 bytes
cp "$W/Image" "$W/partial"
printf 'MZ' | dd of="$W/partial" conv=notrunc 2>/dev/null
printf '\100\000\000\000PE\000\000\000\000\001' | dd of="$W/partial" bs=1 seek=60 conv=notrunc 2>/dev/null
printf '\000\000\020\000\000\020\000\000' | dd of="$W/partial" bs=1 seek=104 conv=notrunc 2>/dev/null
# a file without the arm64 magic is a raw image, but one starting "MZ" (as EFI-stub Images, EFI
# applications and x86 bzImages do) is refused: cut inside the header, or with a wrong magic
head -c 40 "$W/partial" >"$W/truncated"
cp "$W/partial" "$W/pe"
printf 'XRMd' | dd of="$W/pe" bs=1 seek=56 conv=notrunc 2>/dev/null
# a raw image (zeros) as large as all of RAM: no room once the DTB is placed
truncate -s 64M "$W/rawhuge"
: >"$W/empty"
gzip -c "$W/Image" >"$W/Image.gz"
# flip bytes in the middle of the deflate stream
{ head -c 20 "$W/Image.gz"; printf 'garbage-garbage'; tail -c +36 "$W/Image.gz"; } >"$W/corrupt.gz"
mkdir "$W/adir"
head -c 1048576 /dev/zero >"$W/disk.img"
head -c 1000 /dev/zero >"$W/odd.img"
truncate -s 200M "$W/big-initrd"
printf 'initrd' >"$W/initrd"
long=$(head -c 2100 /dev/zero | tr '\0' 'a')
chmod 644 "$W"/*

snapshot() { (cd "$W" && find . -exec ls -ld --time-style=+%s.%N {} + | sort && md5sum disk.img odd.img Image) 2>/dev/null; }

# case NAME EXPECTED-SUBSTRING ARGS...
case_() {
	name=$1
	want=$2
	shift 2
	before=$(snapshot)
	$AS_USER "$IGNITION" "$@" </dev/null >"$O/out" 2>"$O/err"
	status=$?
	after=$(snapshot)
	lines=$(wc -l <"$O/err")
	msg=$(head -n 1 "$O/err")
	why=
	[ $status -ne 0 ] || why="exit status 0"
	[ $status -lt 128 ] || why="crashed (status $status)"
	[ "$lines" -eq 1 ] || why="$why; $lines lines on stderr"
	case $msg in "ignition: "*) ;; *) why="$why; no 'ignition: ' prefix" ;; esac
	case $msg in *"$want"*) ;; *) why="$why; message lacks '$want'" ;; esac
	[ "$before" = "$after" ] || why="$why; files changed"
	[ -s "$O/out" ] && why="$why; wrote to stdout"
	if [ -z "$why" ]; then
		pass=$((pass + 1))
		printf 'PASS %-28s %s\n' "$name" "$msg"
	else
		fail=$((fail + 1))
		printf 'FAIL %-28s %s -- %s\n' "$name" "$why" "$msg"
		sed 's/^/     | /' "$O/err"
	fi
	rm -f "$O/out" "$O/err"
}

N="--backend null --quiet"
case_ kernel-missing "nope: " $N --kernel "$W/nope"
case_ kernel-empty "empty" $N --kernel "$W/empty"
case_ kernel-truncated "truncated" $N --kernel "$W/truncated"
case_ kernel-partial-copy "partial: truncated" $N --kernel "$W/partial"
case_ kernel-pe-bad-magic "pe: a PE/EFI file, not an arm64 Image" $N --kernel "$W/pe"
case_ kernel-raw-larger-than-ram "rawhuge: kernel needs 64.0 MiB at offset 0x80000" $N \
	--kernel "$W/rawhuge" --mem 64
case_ kernel-big-endian "big-endian" $N --kernel "$W/bigendian"
case_ kernel-directory "adir" $N --kernel "$W/adir"
case_ kernel-corrupt-gzip "corrupt.gz" $N --kernel "$W/corrupt.gz"
case_ kernel-larger-than-ram "huge" $N --kernel "$W/huge" --mem 64
case_ initrd-too-large "initrd" $N --kernel "$W/Image" --initrd "$W/big-initrd" --mem 64
case_ initrd-missing "nope.cpio" $N --kernel "$W/Image" --initrd "$W/nope.cpio"
case_ mem-zero "--mem 0" $N --kernel "$W/Image" --mem 0
case_ mem-huge "--mem 99999999999" $N --kernel "$W/Image" --mem 99999999999
case_ mem-not-a-number "--mem abc" $N --kernel "$W/Image" --mem abc
case_ mem-negative "--mem -5" $N --kernel "$W/Image" --mem -5
case_ smp-zero "--smp 0" $N --kernel "$W/Image" --smp 0
case_ smp-above-limit "--smp 100000" $N --kernel "$W/Image" --smp 100000
case_ smp-not-a-number "--smp two" $N --kernel "$W/Image" --smp two
case_ disk-missing "nope.img" $N --kernel "$W/Image" --disk "$W/nope.img"
case_ disk-directory "adir" $N --kernel "$W/Image" --disk "$W/adir"
case_ disk-not-512-multiple "odd.img" $N --kernel "$W/Image" --disk "$W/odd.img"
case_ cmdline-too-long "2047" $N --kernel "$W/Image" --cmdline "$long"
case_ append-too-long "2047" $N --kernel "$W/Image" --append "$long"
case_ unknown-option "--frobnicate" $N --kernel "$W/Image" --frobnicate
case_ option-missing-value "--mem" $N --kernel "$W/Image" --mem
case_ no-kernel "--kernel" $N
case_ stray-argument "stray" $N --kernel "$W/Image" stray
case_ dump-dtb-missing-dir "nodir" --kernel "$W/Image" --dump-dtb "$W/nodir/out.dtb"
case_ cpu-unknown-key "--cpu: unknown option 'turbo'" $N --kernel "$W/Image" --cpu turbo=on
case_ cpu-bad-value "--cpu pmu=maybe" $N --kernel "$W/Image" --cpu pmu=maybe
# the null backend offers no vCPU feature: asking for one explicitly is refused
case_ cpu-pmu-host-lacks "--cpu pmu=on: the null backend offers no PMU" $N --kernel "$W/Image" \
	--cpu pmu=on
case_ cpu-sve-host-lacks "--cpu sve=on: the null backend offers no SVE" $N --kernel "$W/Image" \
	--cpu pmu=off,sve=on
case_ cpu-pauth-host-lacks "--cpu pauth=on: the null backend offers no pointer auth" $N \
	--kernel "$W/Image" --cpu pauth=on
case_ cpu-lacks-dump-dtb "--cpu sve=on" --kernel "$W/Image" --backend null --cpu sve=on \
	--dump-dtb "$O/out.dtb"
case_ net-unknown-mode "unknown option 'bogus'" $N --kernel "$W/Image" --net bogus
case_ net-bad-mac "mac=52:54:zz" $N --kernel "$W/Image" --net user,mac=52:54:zz:00:00:01
case_ net-multicast-mac "multicast" $N --kernel "$W/Image" --net user,mac=01:00:5e:00:00:01
case_ net-bad-hostfwd "hostfwd=tcp:2222" $N --kernel "$W/Image" --net user,hostfwd=tcp:2222
case_ net-hostfwd-port-range "hostfwd=tcp::70000-:22" $N --kernel "$W/Image" \
	--net user,hostfwd=tcp::70000-:22
case_ net-hostfwd-on-tap "hostfwd needs user" $N --kernel "$W/Image" \
	--net tap=tap0,hostfwd=tcp::2222-:22
case_ net-tap-no-name "--net tap" $N --kernel "$W/Image" --net tap
case_ net-tap-missing "no such interface" $N --kernel "$W/Image" --net tap=ignnosuch0
case_ net-stream-missing "cannot connect" $N --kernel "$W/Image" --net stream="$W/nope.sock"
case_ net-dgram-missing "cannot reach the peer" $N --kernel "$W/Image" --net dgram="$W/nope.sock"
# user networking's own checks need libslirp; a build without it says so instead
if "$IGNITION" $N --kernel "$W/Image" --net user 2>&1 </dev/null | grep -q 'without libslirp'; then
	case_ net-user-no-slirp "without libslirp" $N --kernel "$W/Image" --net user
else
case_ net-hostfwd-not-ipv4 "not an IPv4 address" $N --kernel "$W/Image" \
	--net user,hostfwd=tcp:localhost:2222-:22
# a host port someone else listens on
python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
print(s.getsockname()[1], flush=True); sys.stdout.close(); time.sleep(60)' >"$O/port" &
PORTPID=$!
for _ in 1 2 3 4 5 6 7 8 9 10; do [ -s "$O/port" ] && break; sleep 0.2; done
case_ net-hostfwd-port-in-use "cannot listen there" $N --kernel "$W/Image" \
	--net user,hostfwd=tcp:127.0.0.1:"$(cat "$O/port")"-:22
kill $PORTPID 2>/dev/null
wait $PORTPID 2>/dev/null
fi
case_ vsock-no-cid "cid=N is required" $N --kernel "$W/Image" --vsock socket="$W/v.sock"
case_ vsock-cid-2 "--vsock cid=2" $N --kernel "$W/Image" --vsock cid=2,socket="$W/v.sock"
case_ vsock-no-socket "socket=PATH is required" $N --kernel "$W/Image" --vsock cid=3
case_ vsock-twice "only one" $N --kernel "$W/Image" --vsock cid=3,socket="$W/a.sock" \
	--vsock cid=4,socket="$W/b.sock"
case_ vsock-not-a-socket "exists and is not a socket" $N --kernel "$W/Image" \
	--vsock cid=3,socket="$W/disk.img"
case_ vsock-no-dir "directory $W/nodir" $N --kernel "$W/Image" --vsock cid=3,socket="$W/nodir/v.sock"
case_ vsock-dir-is-file "Not a directory" $N --kernel "$W/Image" \
	--vsock cid=3,socket="$W/disk.img/v.sock"
case_ vsock-path-too-long "too long for a unix socket" $N --kernel "$W/Image" \
	--vsock cid=3,socket="$W/$(head -c 100 /dev/zero | tr '\0' 'v')"
case_ fs-no-tag "tag=TAG is required" $N --kernel "$W/Image" --fs path="$W/adir"
case_ fs-empty-tag "tag=TAG is required" $N --kernel "$W/Image" --fs tag=,path="$W/adir"
case_ fs-long-tag "longer than 36" $N --kernel "$W/Image" \
	--fs tag=0123456789012345678901234567890123456,path="$W/adir"
case_ fs-duplicate-tag "given twice" $N --kernel "$W/Image" --fs tag=a,path="$W/adir" \
	--fs tag=a,path="$W/adir"
case_ fs-missing-path "nope" $N --kernel "$W/Image" --fs tag=a,path="$W/nope"
case_ fs-path-not-dir "not a directory" $N --kernel "$W/Image" --fs tag=a,path="$W/Image"
case_ fs-no-path "path=DIR is required" $N --kernel "$W/Image" --fs tag=a
case_ backend-unknown "--backend bogus" --kernel "$W/Image" --backend bogus

# Another process holds the image, as a running ignition does (flock on writable disks).
# (its output goes nowhere: a test runner waits for everything holding its pipes)
flock -x "$W/disk.img" sleep 60 </dev/null >/dev/null 2>&1 &
LOCKPID=$!
sleep 0.3
case_ disk-locked "disk.img" $N --kernel "$W/Image" --disk "$W/disk.img"
pkill -P $LOCKPID sleep 2>/dev/null
wait $LOCKPID 2>/dev/null
LOCKPID=

# Unreadable files: root reads everything, so this case runs as nobody when we are root.
cp "$W/Image" "$W/secret"
chmod 000 "$W/secret"
if [ "$(id -u)" = 0 ]; then
	AS_USER="setpriv --reuid=65534 --regid=65534 --clear-groups"
fi
case_ kernel-unreadable "secret" $N --kernel "$W/secret"
AS_USER=

echo "bad-input: $pass passed, $fail failed"
[ $fail -eq 0 ] && [ $pass -ge 20 ]
