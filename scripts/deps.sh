#!/bin/sh
# Installs the Debian packages a make target needs, only when some are missing, so every target
# works on a bare Debian 12 machine. Usage: scripts/deps.sh GROUP...
#   build    native build (meson, ninja, libfdt, zlib, libseccomp, liburing, libslirp)
#   unit     unit tests (cmocka, dtc for DTB checks, clang for the fuzz targets)
#   aarch64  static cross build; arm64 libraries are unpacked into .deps/arm64 (not installed:
#            libfdt-dev cannot be co-installed for two architectures)
#   e2e      the emulated arm64 host (qemu-system-arm) and guest image tools
#   fuzz     libFuzzer (clang + compiler-rt)
#   bench    valgrind, hyperfine, strace
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)

pkgs_build="meson ninja-build pkg-config gcc libc6-dev libfdt-dev zlib1g-dev libseccomp-dev liburing-dev libslirp-dev libglib2.0-dev"
pkgs_unit="$pkgs_build libcmocka-dev device-tree-compiler e2fsprogs"
pkgs_aarch64="meson ninja-build gcc-aarch64-linux-gnu libc6-dev-arm64-cross binutils-aarch64-linux-gnu"
pkgs_e2e="qemu-system-arm kmod cpio e2fsprogs gzip coreutils dpkg-dev bc device-tree-compiler python3"
pkgs_fuzz="clang libclang-rt-14-dev"
pkgs_bench="valgrind hyperfine strace"
arm64_libs="libfdt-dev libfdt1 zlib1g-dev zlib1g libseccomp-dev libseccomp2 liburing-dev liburing2"

sudo_cmd() {
	if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
		echo "deps.sh: need root (or sudo) to install: $*" >&2; exit 1; fi
}

apt_updated=
apt_update() {
	[ -n "$apt_updated" ] && return 0
	sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
	apt_updated=1
}

missing() {
	for p in "$@"; do
		dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
			printf '%s ' "$p"
	done
}

need() {
	m=$(missing "$@")
	[ -z "$m" ] && return 0
	echo "deps.sh: installing $m" >&2
	apt_update
	sudo_cmd env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $m >&2
}

arm64_sysroot() {
	root=$top/.deps/arm64
	stamp=$root/.stamp
	[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$arm64_libs" ] && return 0
	if ! dpkg --print-foreign-architectures | grep -qx arm64; then
		sudo_cmd dpkg --add-architecture arm64
		apt_updated=
	fi
	apt_update
	dl=$top/.deps/debs-arm64
	rm -rf "$dl" "$root"
	mkdir -p "$dl" "$root"
	pkgs=
	for p in $arm64_libs; do pkgs="$pkgs $p:arm64"; done
	# apt-get download drops privileges to _apt, which needs to write here
	(cd "$dl" && chmod 777 . && apt-get download -q $pkgs >/dev/null 2>&1 ||
		(cd "$dl" && apt-get download -q $pkgs >&2))
	for d in "$dl"/*.deb; do dpkg-deb -x "$d" "$root"; done
	echo "$arm64_libs" >"$stamp"
}

cross_file() {
	sed "s|@SYSROOT@|$top/.deps/arm64|" "$top/meson/aarch64-linux.ini" >"$top/.deps/aarch64-linux.ini.new"
	mv "$top/.deps/aarch64-linux.ini.new" "$top/.deps/aarch64-linux.ini"
}

# macOS: Homebrew instead of apt; only what a Mac can do (build, unit tests, the HVF demo).
if [ "$(uname -s)" = Darwin ]; then
	brew_build="meson ninja dtc pkg-config libslirp"
	for group in "$@"; do
		case $group in
		build) want=$brew_build ;;
		unit) want="$brew_build cmocka" ;;
		e2e) want="" ;; # the demo's guest images are built on Debian (see docs/macos.md)
		*) echo "deps.sh: '$group' needs a Debian machine (see docs/macos.md)" >&2; exit 2 ;;
		esac
		missing=
		for p in $want; do brew list --formula "$p" >/dev/null 2>&1 || missing="$missing $p"; done
		[ -z "$missing" ] && continue
		command -v brew >/dev/null || { echo "deps.sh: install Homebrew, then: brew install$missing" >&2; exit 1; }
		echo "deps.sh: brew install$missing" >&2
		brew install $missing >&2
	done
	exit 0
fi

for group in "$@"; do
	case $group in
	build) need $pkgs_build ;;
	unit) need $pkgs_unit ;;
	aarch64) need $pkgs_aarch64 && arm64_sysroot && cross_file ;;
	e2e) need $pkgs_e2e ;;
	fuzz) need $pkgs_fuzz ;;
	bench) need $pkgs_bench ;;
	*) echo "deps.sh: unknown group '$group'" >&2; exit 2 ;;
	esac
done
