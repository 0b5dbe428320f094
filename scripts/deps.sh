#!/bin/sh
# Installs the Debian packages a make target needs, only when some are missing, so every target
# works on a bare Debian 12 machine. Usage: scripts/deps.sh GROUP...
#   build    native build (meson, ninja, libfdt, zlib, libseccomp, liburing, libslirp)
#   unit     unit tests (cmocka, dtc for DTB checks, clang for the fuzz targets)
#   aarch64  static cross build; arm64 libraries are unpacked into .deps/arm64 (not installed:
#            libfdt-dev cannot be co-installed for two architectures); libslirp, which Debian
#            ships only as a shared library, is built there from Debian's source package
#   e2e      the emulated arm64 host (qemu-system-arm) and guest image tools
#   fuzz     libFuzzer (clang + compiler-rt)
#   bench    valgrind, hyperfine, strace
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)

pkgs_build="meson ninja-build pkg-config gcc libc6-dev libfdt-dev zlib1g-dev libseccomp-dev liburing-dev libslirp-dev libglib2.0-dev"
pkgs_unit="$pkgs_build libcmocka-dev device-tree-compiler e2fsprogs"
pkgs_aarch64="meson ninja-build pkg-config gcc-aarch64-linux-gnu libc6-dev-arm64-cross
	binutils-aarch64-linux-gnu dpkg-dev bzip2 xz-utils"
pkgs_e2e="qemu-system-arm kmod cpio e2fsprogs gzip coreutils dpkg-dev bc device-tree-compiler python3"
pkgs_fuzz="clang libclang-rt-14-dev"
pkgs_bench="valgrind hyperfine strace"
# glib (libglib-2.0.a) and pcre2 (its regex engine) are for the static libslirp
arm64_libs="libfdt-dev libfdt1 zlib1g-dev zlib1g libseccomp-dev libseccomp2 liburing-dev liburing2
	libglib2.0-dev libpcre2-dev"

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
	[ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(echo $arm64_libs)" ] && return 0
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
	echo $arm64_libs >"$stamp"
}

# A static libslirp for arm64, built once from Debian's own source package (the binary package
# has only the shared library) with the cross compiler against the unpacked arm64 glib, cached in
# .deps/slirp-arm64 under a key of the versions that shape it, then copied into the sysroot, where
# the cross file's pkg-config finds slirp.pc.
slirp_arm64() {
	dir=$top/.deps/slirp-arm64
	ver=$(apt-cache show --no-all-versions libslirp-dev 2>/dev/null | sed -n 's/^Version: //p')
	if [ -z "$ver" ]; then
		apt_update
		ver=$(apt-cache show --no-all-versions libslirp-dev | sed -n 's/^Version: //p')
	fi
	[ -n "$ver" ] || { echo "deps.sh: apt knows no libslirp-dev" >&2; exit 1; }
	key="libslirp=$ver $(cd "$top/.deps/debs-arm64" && ls | grep -E '^lib(glib|pcre2)' | tr '\n' ' ')"
	key="$key $(aarch64-linux-gnu-gcc -dumpfullversion) $(sed -n -e '/^slirp_arm64()/,/^}/p' \
		-e '/^slirp_build()/,/^}/p' "$0" | cat - "$top/meson/aarch64-linux.ini" | cksum)"
	if ! [ -f "$dir/.stamp" ] || [ "$(cat "$dir/.stamp")" != "$key" ]; then
		slirp_build "$ver" "$dir"
		echo "$key" >"$dir/.stamp"
	fi
	(cd "$dir/root" && find . -type f) | while read -r f; do
		cmp -s "$dir/root/$f" "$top/.deps/arm64/$f" && continue
		mkdir -p "$(dirname "$top/.deps/arm64/$f")"
		cp -p "$dir/root/$f" "$top/.deps/arm64/$f"
	done
}

# slirp_build VERSION DIR: apt-get source through a private deb-src list (the system's apt
# configuration and lists stay as they are), then a meson cross build into DIR/root.
slirp_build() {
	tmp=$top/.deps/slirp-arm64.tmp
	rm -rf "$tmp" "$2"
	mkdir -p "$tmp/lists/partial" "$tmp/dl"
	chmod -R 777 "$tmp/lists" "$tmp/dl" # apt drops privileges to _apt for downloads
	keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	signed=
	[ -f "$keyring" ] && signed="[signed-by=$keyring] "
	# deb-src lines for the repositories apt already uses for this system's packages
	apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(COMPONENT)' 'Identifier: Packages' |
		sort -u | while read -r uri rel comp; do echo "deb-src $signed$uri $rel $comp"; done \
		>"$tmp/sources.list"
	grep -q . "$tmp/sources.list" ||
		echo "deb-src ${signed}http://deb.debian.org/debian bookworm main" >"$tmp/sources.list"
	set -- "$1" "$2" -o Dir::Etc::SourceList="$tmp/sources.list" \
		-o Dir::Etc::SourceParts="$tmp/none" -o Dir::State::Lists="$tmp/lists" \
		-o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache=
	v=$1 out=$2
	shift 2
	echo "deps.sh: building a static arm64 libslirp $v from Debian's source package" >&2
	apt-get "$@" update -q >"$tmp/apt.log" 2>&1 ||
		{ cat "$tmp/apt.log" >&2; echo "deps.sh: apt-get update (deb-src) failed" >&2; exit 1; }
	(cd "$tmp/dl" && apt-get "$@" source -q --download-only "libslirp=$v" >>"$tmp/apt.log" 2>&1) ||
		{ cat "$tmp/apt.log" >&2; echo "deps.sh: apt-get source libslirp=$v failed" >&2; exit 1; }
	dpkg-source --no-check -x "$tmp"/dl/libslirp_*.dsc "$tmp/src" >>"$tmp/apt.log" 2>&1 ||
		{ cat "$tmp/apt.log" >&2; echo "deps.sh: dpkg-source -x failed" >&2; exit 1; }
	meson setup "$tmp/build" "$tmp/src" --cross-file "$top/.deps/aarch64-linux.ini" \
		--prefix=/usr --libdir=lib/aarch64-linux-gnu -Ddefault_library=static \
		-Dbuildtype=release -Db_ndebug=false >>"$tmp/build.log" 2>&1 &&
		ninja -C "$tmp/build" >>"$tmp/build.log" 2>&1 &&
		DESTDIR="$tmp/root" meson install -C "$tmp/build" --no-rebuild >>"$tmp/build.log" 2>&1 ||
		{ tail -n 40 "$tmp/build.log" >&2; echo "deps.sh: building libslirp failed" >&2; exit 1; }
	mkdir -p "$out"
	mv "$tmp/root" "$out/root"
	rm -rf "$tmp"
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
	aarch64) need $pkgs_aarch64 && arm64_sysroot && cross_file && slirp_arm64 ;;
	e2e) need $pkgs_e2e ;;
	fuzz) need $pkgs_fuzz ;;
	bench) need $pkgs_bench ;;
	*) echo "deps.sh: unknown group '$group'" >&2; exit 2 ;;
	esac
done
