#!/bin/bash
# make demo: boot the default guest (Debian's arm64 kernel, busybox ext4 rootfs) to a login prompt
# on this terminal. Log in as root, no password; Ctrl-A x quits.
#  - arm64 Linux with a usable /dev/kvm: ignition runs the guest directly.
#  - anywhere else (x86_64): ignition runs inside an emulated arm64 host (qemu TCG with EL2, so
#    KVM works inside it) whose console is wired to this terminal; when ignition exits, the host
#    powers off. Slow (emulated), but the same binary and guest as on real hardware.
# The guest gets a fresh copy of the rootfs every time (build-demo/), never the cached image.
# Environment: IGNITION=PATH, E2E_VMM=qemu (Debian's qemu instead of ignition, inside the host),
# E2E_CACHE (as make e2e), E2E_OUT (default build-demo).
set -euo pipefail
export E2E_OUT=${E2E_OUT:-$(cd "$(dirname "$0")/.." && pwd)/build-demo}
. "$(dirname "$0")/../tests/e2e/lib.sh"

E2E_VMM=${E2E_VMM:-ignition}
E2E_BOOTS=
case $E2E_VMM in ignition | qemu) ;; *) die "E2E_VMM must be ignition or qemu" ;; esac

native=
if [ "$(uname -m)" = aarch64 ] && [ "$(uname -s)" = Linux ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] &&
	[ "$E2E_VMM" = ignition ]; then
	native=1
	[ -x "$top/build/ignition" ] && IGNITION=${IGNITION:-$top/build/ignition}
fi
if [ "$(uname -s)" = Darwin ]; then
	# HVF: the native binary. The guest images are built with Debian's tools, so they come from
	# a Debian machine's tests/e2e/build.sh (docs/macos.md); their paths are relative here.
	native=1
	IGNITION=${IGNITION:-$top/build/ignition}
	kernel_image=$cache/kernel/Image
	guest_initramfs=$cache/guest/initramfs.cpio.gz
	guest_rootfs=$cache/guest/rootfs.ext4
	for f in "$kernel_image" "$guest_initramfs" "$guest_rootfs"; do
		[ -f "$f" ] || die "no $f: run tests/e2e/build.sh on a Debian machine and copy its \
.cache/e2e/kernel/Image and .cache/e2e/guest/ here (docs/macos.md)"
	done
fi
IGNITION=${IGNITION:-$top/build-aarch64/ignition}
[ -f "$IGNITION" ] || [ "$E2E_VMM" = qemu ] || die "no $IGNITION: run make aarch64 first"

build_args=()
[ -z "$native" ] && [ "$E2E_VMM" = qemu ] && build_args=(--qemu)
if [ "$(uname -s)" != Darwin ]; then
	say "preparing the guest (cached after the first run)"
	"$e2e/build.sh" "${build_args[@]}" || die "building the guest images failed"
	. "$cache/artifacts.env"
fi

banner() {
	cat >&2 <<EOF

  ignition demo: $1
  Log in as root (no password). Ctrl-A x quits.

EOF
}

if [ -n "$native" ]; then
	rm -rf "$out"
	mkdir -p "$out"
	cp --sparse=always "$guest_rootfs" "$out/rootfs.ext4" 2>/dev/null ||
		cp "$guest_rootfs" "$out/rootfs.ext4" # macOS cp has no --sparse
	banner "Debian arm64 guest on KVM"
	exec "$IGNITION" --kernel "$kernel_image" --initrd "$guest_initramfs" \
		--disk "$out/rootfs.ext4" --smp 2 --append quiet
fi

host_prepare demo.sh
host_command
banner "emulated arm64 host (~5 s), then the Debian arm64 guest on KVM inside it (~10-20 s).
  Ctrl-A reaches ignition: the outer qemu's console has no escape key (signal=off, no mux)."
# No -nographic: its mux would take Ctrl-A for itself. stdio raw, Ctrl-C passed through.
exec "${host_cmd[@]}" -display none -monitor none -chardev stdio,id=c0,signal=off \
	-serial chardev:c0
