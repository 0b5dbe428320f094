#!/bin/bash
# Builds everything the end-to-end rig boots, from Debian packages only, into a content-keyed cache
# ($E2E_CACHE, default .cache/e2e): the guest kernel (Image, Image.gz, modules), busybox, the guest
# initramfs and ext4 rootfs, the misbehaving guest (badguest/, with Debian's cross compiler), the
# emulated host's base initramfs segment and, with --qemu, a disk holding Debian's arm64 qemu (the
# stand-in and reference VMM inside the emulated host).
# Writes $E2E_CACHE/artifacts.env for run.sh and demo.sh to source.
# Usage: tests/e2e/build.sh [--qemu]
set -euo pipefail
. "$(dirname "$0")/lib.sh"

want_qemu=
[ "${1:-}" = --qemu ] && want_qemu=1
mkdir -p "$cache/debs"
exec 9>"$cache/.lock" # make e2e and make demo may run at once: one builder at a time
flock 9
self_hash=$(hash_files "$e2e/build.sh")
# apt's chatter goes here; errors are shown
apt_log=$cache/apt.log
: >"$apt_log"

apt_ready=
apt_refresh() {
	[ -n "$apt_ready" ] && return 0
	if [ "$(dpkg --print-architecture)" != arm64 ] &&
		! dpkg --print-foreign-architectures | grep -qx arm64; then
		say "adding the arm64 architecture to apt"
		dpkg --add-architecture arm64
	fi
	say "apt-get update"
	DEBIAN_FRONTEND=noninteractive apt-get update -q >>"$apt_log" 2>&1 ||
		die "apt-get update failed (see $apt_log)"
	apt_ready=1
}

# apt here keeps no binary package cache (each call would spend ~1.5 s parsing the lists): keep ours
mkdir -p "$cache/apt"
apt_cache_opts=(-o Dir::Cache::pkgcache="$cache/apt/pkgcache.bin"
	-o Dir::Cache::srcpkgcache="$cache/apt/srcpkgcache.bin")

# candidates PKG...: "name version depends" of each package's candidate version
candidates() {
	apt-cache "${apt_cache_opts[@]}" show --no-all-versions "$@" 2>/dev/null | awk -F': ' '
		/^Package:/ { p = $2 } /^Version:/ { v = $2 } /^Depends:/ { d = $2 }
		/^$/ { if (p != "") print p, v, d; p = v = d = "" }
		END { if (p != "") print p, v, d }'
}

# fetch PKG VERSION: path of the .deb in the cache, downloaded with apt-get if absent.
fetch() {
	local f=$cache/debs/${1%%:*}_${2//:/%3a}_arm64.deb tmp
	if [ ! -s "$f" ]; then
		tmp=$(mktemp -d "$cache/debs/dl.XXXX")
		chmod 777 "$tmp" # apt-get download drops privileges to _apt
		say "downloading $1 $2"
		(cd "$tmp" && apt-get download -q "$1=$2" >>"$apt_log" 2>&1) ||
			die "apt-get download $1=$2 failed (see $apt_log)"
		mv "$tmp"/*.deb "$f"
		rm -rf "$tmp"
	fi
	echo "$f"
}

# applets BUSYBOX: the applet names compiled into a busybox binary of any architecture, read from
# its sorted, NUL-separated name table (we cannot run an arm64 binary here to ask it).
applets() {
	tr '\0' '\n' <"$1" | awk 'p == "[" && $0 == "[[" && !on { on = 1; print "[" }
		on == 1 { if ($0 == "") on = 2; else print } { p = $0 }'
}

# install_busybox ROOT: busybox and one symlink per applet, in a merged-/usr layout.
install_busybox() {
	local a
	mkdir -p "$1/bin" "$1/usr"
	ln -sfn bin "$1/sbin"
	ln -sfn ../bin "$1/usr/bin"
	ln -sfn ../bin "$1/usr/sbin"
	cp "$bb_dir/busybox" "$1/bin/busybox"
	while read -r a; do
		[ "$a" = busybox ] || ln -sf busybox "$1/bin/$a"
	done <"$bb_dir/applets"
}

# install_modules ROOT LIST...: the modules named in the LIST files, in load order, listed in
# /etc/modules.
install_modules() {
	local m f r=$1
	shift
	mkdir -p "$r/lib/modules" "$r/etc"
	: >"$r/etc/modules"
	while read -r m; do
		f=$(modinfo -b "$kernel_dir" -k "$kver" -n "$m")
		cp "$f" "$r/lib/modules/"
		basename "$f" >>"$r/etc/modules"
	done < <(cat "$@")
}

# cpio_dir DIR: a newc archive of DIR on stdout, entries owned by root.
cpio_dir() { (cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet); }

build_kernel() {
	local tmp=$cache/kernel.tmp deb img
	deb=$(fetch "$kpkg:arm64" "$kver_deb")
	rm -rf "$tmp" && mkdir -p "$tmp"
	dpkg-deb -x "$deb" "$tmp"
	depmod -b "$tmp" "$kver" # the .deb ships no modules.dep: its postinst makes it
	img=$tmp/boot/vmlinuz-$kver
	# Debian's arm64 vmlinuz is an uncompressed Image: "ARM\x64" at offset 56
	[ "$(dd if="$img" bs=1 skip=56 count=4 2>/dev/null | od -An -c | tr -d ' ')" = 'ARMd' ] ||
		die "$img is not an arm64 Image"
	ln "$img" "$tmp/Image"
	gzip -9 -n -c "$img" >"$tmp/Image.gz"
	echo "$kver" >"$tmp/kver"
	cache_commit "$tmp" "$kernel_dir" "$kernel_key"
}

build_busybox() {
	local tmp=$cache/busybox.tmp deb
	deb=$(fetch busybox-static:arm64 "$bb_ver")
	rm -rf "$tmp" && mkdir -p "$tmp/x"
	dpkg-deb -x "$deb" "$tmp/x"
	mv "$tmp/x/bin/busybox" "$tmp/busybox"
	rm -rf "$tmp/x"
	applets "$tmp/busybox" >"$tmp/applets"
	for a in sh init getty login switch_root insmod mount cttyhack poweroff sha256sum; do
		grep -qx "$a" "$tmp/applets" || die "busybox lacks the applet $a (applet table not found?)"
	done
	cache_commit "$tmp" "$bb_dir" "$bb_key"
}

build_guest() {
	local tmp=$cache/guest.tmp r i
	rm -rf "$tmp" && mkdir -p "$tmp"
	# initramfs: busybox, the modules, /init (mount /dev/vda and switch_root, or be the system)
	i=$tmp/initramfs
	install_busybox "$i"
	install_modules "$i" "$e2e/guest/modules.txt"
	mkdir -p "$i"/{dev,proc,sys,tmp,newroot,root}
	mknod -m 600 "$i/dev/console" c 5 1 # the kernel opens it for /init before devtmpfs exists
	install -m 755 "$e2e/guest/init" "$i/init"
	install -m 755 "$vsockt_dir/vsockt" "$i/bin/vsockt"
	install -m 644 "$e2e/guest/initrd-inittab" "$i/etc/inittab"
	install -m 644 "$e2e/guest/rootfs/etc/profile" "$i/etc/profile"
	echo ignition-initrd >"$i/etc/hostname"
	cpio_dir "$i" | gzip -9 -n >"$tmp/initramfs.cpio.gz"
	rm -rf "$i"
	# rootfs: busybox init, a getty on the console, root without a password
	r=$tmp/rootfs
	install_busybox "$r"
	mkdir -p "$r"/{dev,proc,sys,run,mnt,root,tmp}
	chmod 700 "$r/root"
	chmod 1777 "$r/tmp"
	cp -R "$e2e/guest/rootfs/." "$r/"
	chmod 755 "$r"/etc/init.d/* "$r/usr/share/udhcpc/default.script"
	ln -s ../run/resolv.conf "$r/etc/resolv.conf" # udhcpc writes it, also on a read-only root
	: >"$tmp/rootfs.ext4"
	mke2fs -q -F -t ext4 -L rootfs -E root_owner=0:0 -d "$r" "$tmp/rootfs.ext4" 64M
	rm -rf "$r"
	cache_commit "$tmp" "$guest_dir" "$guest_key"
}

# The misbehaving guest (badguest/): a bare-metal arm64 Image built with the cross compiler.
build_badguest() {
	local tmp=$cache/badguest.tmp
	rm -rf "$tmp" && mkdir -p "$tmp"
	"$e2e/badguest/build.sh" "$tmp" || die "building the misbehaving guest failed"
	cache_commit "$tmp" "$badguest_dir" "$badguest_key"
}

# vsockt (vsockt/): both ends of the vsock checks, a static arm64 program (cross compiler, glibc).
build_vsockt() {
	local tmp=$cache/vsockt.tmp
	rm -rf "$tmp" && mkdir -p "$tmp"
	"$e2e/vsock/build.sh" "$tmp" || die "building vsockt failed"
	cache_commit "$tmp" "$vsockt_dir" "$vsockt_key"
}

# The host's initramfs is two concatenated cpio archives: this cached one (busybox, the modules to
# mount its disks, the guest's kernel and initramfs) and a small per-run one (ignition, /init, the
# scenario) that run.sh appends. Uncompressed: inflating ~40 MB under TCG costs seconds.
build_host() {
	local tmp=$cache/host.tmp h
	rm -rf "$tmp" && mkdir -p "$tmp"
	h=$tmp/root
	install_busybox "$h"
	# the guest's modules (the durability boots mount nothing, but virtio-blk finds the work disk)
	# and the host's own (tun for the tap boot)
	install_modules "$h" "$e2e/guest/modules.txt" "$e2e/host/modules.txt"
	mkdir -p "$h"/{dev,proc,sys,tmp,run,mnt,work,tools,guest,root}
	mknod -m 600 "$h/dev/console" c 5 1
	cp "$kernel_dir/Image" "$kernel_dir/Image.gz" "$guest_dir/initramfs.cpio.gz" "$h/guest/"
	cp "$badguest_dir/Image" "$h/guest/badguest.Image"
	cp "$badguest_dir/raw.bin" "$h/guest/raw.bin"
	cp -a "$net_dir/tree" "$h/net"
	# passt, started as root, looks up "nobody" to drop to
	mkdir -p "$h/net/etc"
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' \
		>"$h/net/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$h/net/etc/group"
	install -m 755 "$vsockt_dir/vsockt" "$h/bin/vsockt"
	cpio_dir "$h" >"$tmp/base.cpio"
	rm -rf "$h"
	cache_commit "$tmp" "$host_dir" "$host_key"
}

# passt (for the --net stream boot) and iperf3 (for make bench) with their arm64 libraries, resolved
# like qemu below and unpacked into one tree the host carries at /net. The host has no arm64 libc
# of its own, so host/netbin runs them chrooted in that tree.
net_pkgs="passt:arm64 iperf3:arm64"
net_uris() {
	[ -f "$cache/emptystatus" ] || : >"$cache/emptystatus"
	apt-get "${apt_cache_opts[@]/pkgcache.bin/pkgcache-empty.bin}" install -qq --print-uris \
		--no-install-recommends \
		-o Dir::State::status="$cache/emptystatus" -o Debug::NoLocking=1 \
		$net_pkgs | awk '$2 ~ /_arm64\.deb$/ { gsub("\047", "", $1); print $1, $2 }'
}

build_net() {
	local tmp=$cache/net.tmp arch=$cache/debs/net f
	rm -rf "$tmp" && mkdir -p "$tmp/tree" "$arch/partial"
	chmod 777 "$arch" "$arch/partial"
	say "downloading $net_pkgs and their libraries"
	for f in $(echo "$net_list" | awk '{ print $2 }'); do
		[ -s "$arch/$f" ] && continue
		(cd "$arch" && apt-get download -q "$(echo "$f" | awk -F_ '{
			gsub("%3a", ":", $2); print $1 ":arm64=" $2 }')" >>"$apt_log" 2>&1) ||
			die "downloading $f failed (see $apt_log)"
	done
	for f in $(echo "$net_list" | awk '{ print $2 }'); do dpkg-deb -x "$arch/$f" "$tmp/tree"; done
	# what the binaries need is libc, libssl, libsctp and libiperf: not the docs and locales
	rm -rf "$tmp/tree/usr/share" "$tmp/tree/usr/lib/aarch64-linux-gnu/gconv"
	cache_commit "$tmp" "$net_dir" "$net_key"
}

# Debian's arm64 qemu and its libraries, resolved by apt against an empty dpkg status (so nothing
# of this machine's own packages counts as installed), extracted into a tree the emulated host
# chroots into.
qemu_uris() {
	[ -f "$cache/emptystatus" ] || : >"$cache/emptystatus"
	apt-get "${apt_cache_opts[@]/pkgcache.bin/pkgcache-empty.bin}" install -qq --print-uris \
		--no-install-recommends \
		-o Dir::State::status="$cache/emptystatus" -o Debug::NoLocking=1 \
		qemu-system-arm:arm64 qemu-system-data | awk '{ gsub("\047", "", $1); print $1, $2 }'
}

build_qemu() {
	local tmp=$cache/qemu.tmp arch=$cache/debs/qemu f
	rm -rf "$tmp" && mkdir -p "$tmp/tree" "$arch/partial"
	say "downloading qemu-system-arm:arm64 and its libraries"
	apt-get install -q -y --download-only --no-install-recommends \
		-o Dir::State::status="$cache/emptystatus" -o Debug::NoLocking=1 \
		-o Dir::Cache::archives="$arch" qemu-system-arm:arm64 qemu-system-data \
		>>"$apt_log" 2>&1 || die "downloading qemu failed (see $apt_log)"
	for f in $(echo "$qemu_list" | awk '{ print $2 }'); do
		case $f in *_arm64.deb | *_all.deb) dpkg-deb -x "$arch/$f" "$tmp/tree" ;; esac
	done
	mkdir -p "$tmp/tree"/{dev,proc,sys,tmp,work,guest}
	: >"$tmp/tools.ext4"
	mke2fs -q -F -t ext4 -L tools -E root_owner=0:0 -d "$tmp/tree" "$tmp/tools.ext4" 400M
	rm -rf "$tmp/tree"
	cache_commit "$tmp" "$qemu_dir" "$qemu_key"
}

# --- versions and keys
kmeta=linux-image-arm64
pkgs=$(candidates $kmeta:arm64 busybox-static:arm64)
if [ "$(echo "$pkgs" | grep -c .)" != 2 ]; then
	apt_refresh
	pkgs=$(candidates $kmeta:arm64 busybox-static:arm64)
fi
# the meta package depends on the versioned image package, exactly: "linux-image-X (= V)"
read -r kpkg kver_deb < <(echo "$pkgs" | awk -v m=$kmeta '$1 == m' |
	sed -n 's/.*\(linux-image-[^ ,:]*\)[^ ,]* (= \([^)]*\)).*/\1 \2/p')
[ -n "${kver_deb:-}" ] || die "cannot follow $kmeta:arm64 to a versioned kernel package"
kver=${kpkg#linux-image-}
bb_ver=$(echo "$pkgs" | awk '$1 == "busybox-static" { print $2 }')
[ -n "$bb_ver" ] || die "apt knows no busybox-static:arm64"

kernel_dir=$cache/kernel
bb_dir=$cache/busybox
guest_dir=$cache/guest
host_dir=$cache/host
badguest_dir=$cache/badguest
vsockt_dir=$cache/vsockt
qemu_dir=$cache/qemu
kernel_key=$(hash_str "$kpkg=$kver_deb $self_hash")
bb_key=$(hash_str "busybox=$bb_ver $self_hash")
badguest_cc=aarch64-linux-gnu-gcc
command -v $badguest_cc >/dev/null || die "no $badguest_cc (scripts/deps.sh aarch64 installs it)"
vsockt_key=$(hash_str "$($badguest_cc --version | head -1) $self_hash" \
	"$(cd "$e2e/vsock" && find . -type f | LC_ALL=C sort | xargs cat | sha256sum)")
guest_key=$(hash_str "$kernel_key $bb_key $vsockt_key" \
	"$(cd "$e2e/guest" && find . -type f | LC_ALL=C sort | xargs cat | sha256sum)")
badguest_key=$(hash_str "$($badguest_cc --version | head -1) $self_hash" \
	"$(cd "$e2e/badguest" && find . -type f | LC_ALL=C sort | xargs cat | sha256sum)")
net_dir=$cache/net
net_list=$(net_uris)
[ -n "$net_list" ] || { apt_refresh; net_list=$(net_uris); }
[ -n "$net_list" ] || die "apt cannot resolve $net_pkgs"
net_key=$(hash_str "$(echo "$net_list" | awk '{ print $2 }' | LC_ALL=C sort) $self_hash")
host_key=$(hash_str "$guest_key $badguest_key $net_key $self_hash" \
	"$(hash_files "$e2e/host/modules.txt")")

cache_fresh "$kernel_dir" "$kernel_key" || { say "building kernel $kpkg $kver_deb"; build_kernel; }
cache_fresh "$bb_dir" "$bb_key" || { say "building busybox $bb_ver"; build_busybox; }
cache_fresh "$vsockt_dir" "$vsockt_key" || { say "building vsockt"; build_vsockt; }
cache_fresh "$guest_dir" "$guest_key" || { say "building guest initramfs and rootfs"; build_guest; }
cache_fresh "$badguest_dir" "$badguest_key" || { say "building the bad guest"; build_badguest; }
cache_fresh "$net_dir" "$net_key" || { say "building the passt and iperf3 tree"; build_net; }
cache_fresh "$host_dir" "$host_key" || { say "building host base initramfs"; build_host; }
if [ -n "$want_qemu" ]; then
	qemu_list=$(qemu_uris)
	[ -n "$qemu_list" ] || { apt_refresh; qemu_list=$(qemu_uris); }
	qemu_key=$(hash_str "$(echo "$qemu_list" | awk '{ print $2 }' | LC_ALL=C sort) $self_hash")
	cache_fresh "$qemu_dir" "$qemu_key" || { say "building the arm64 qemu disk"; build_qemu; }
fi

cat >"$cache/artifacts.env" <<ENV
kver=$kver
kernel_pkg="$kpkg $kver_deb"
busybox_pkg="busybox-static $bb_ver"
kernel_image=$kernel_dir/Image
kernel_image_gz=$kernel_dir/Image.gz
guest_initramfs=$guest_dir/initramfs.cpio.gz
guest_rootfs=$guest_dir/rootfs.ext4
host_base_cpio=$host_dir/base.cpio
badguest_image=$badguest_dir/Image
qemu_tools_disk=${want_qemu:+$qemu_dir/tools.ext4}
ENV
say "artifacts: $kpkg $kver_deb, busybox-static $bb_ver (cache $cache)"
