#!/bin/bash
# make demo: boot the default guest (Debian's arm64 kernel, busybox ext4 rootfs) to a login prompt
# on this terminal. Log in as root, no password; Ctrl-A x quits.
#  - arm64 Linux with a usable /dev/kvm: ignition runs the guest directly.
#  - anywhere else (x86_64): ignition runs inside an emulated arm64 host (qemu TCG with EL2, so
#    KVM works inside it) whose console is wired to this terminal; when ignition exits, the host
#    powers off. Slow (emulated), but the same binary and guest as on real hardware.
# The guest gets a fresh copy of the rootfs every time (build-demo/), never the cached image.
# The guest runs busybox httpd on port 80, and the demo forwards this machine's 127.0.0.1:PORT to
# it (--net user,hostfwd=...; in the emulated case through the host's own NIC): while it runs,
# `curl http://127.0.0.1:8080/` answers from inside the guest.
# Environment: IGNITION=PATH, E2E_VMM=qemu (Debian's qemu instead of ignition, inside the host),
# E2E_CACHE (as make e2e), E2E_OUT (default build-demo), DEMO_HTTP_PORT (default 8080).
set -euo pipefail
export E2E_OUT=${E2E_OUT:-$(cd "$(dirname "$0")/.." && pwd)/build-demo}
. "$(dirname "$0")/../tests/e2e/lib.sh"

E2E_VMM=${E2E_VMM:-ignition}
E2E_BOOTS=
port=${DEMO_HTTP_PORT:-8080}
case $port in *[!0-9]* | "") die "DEMO_HTTP_PORT must be a port number" ;; esac
# a port already taken here would stop the VMM (or the emulated host) before it starts
(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null &&
	die "127.0.0.1:$port is in use: pick another with DEMO_HTTP_PORT=N"
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
  The guest's web server is forwarded here: curl http://127.0.0.1:$port/

EOF
}

if [ -n "$native" ]; then
	rm -rf "$out"
	mkdir -p "$out"
	cp --sparse=always "$guest_rootfs" "$out/rootfs.ext4" 2>/dev/null ||
		cp "$guest_rootfs" "$out/rootfs.ext4" # macOS cp has no --sparse
	banner "Debian arm64 guest on KVM"
	exec "$IGNITION" --kernel "$kernel_image" --initrd "$guest_initramfs" \
		--disk "$out/rootfs.ext4" --smp 2 --net "user,hostfwd=tcp:127.0.0.1:$port-:80" \
		--append quiet
fi

host_prepare demo.sh
host_command
banner "emulated arm64 host (~5 s), then the Debian arm64 guest on KVM inside it (~10-20 s).
  Ctrl-A reaches ignition: the outer qemu's console has no escape key (signal=off, no mux)."
# No -nographic: its mux would take Ctrl-A for itself. stdio raw, Ctrl-C passed through.
# The emulated host's NIC: this machine's port to its port 8080, where ignition forwards to the
# guest's port 80.
exec "${host_cmd[@]}" -display none -monitor none -chardev stdio,id=c0,signal=off \
	-serial chardev:c0 -netdev "user,id=hostnet,hostfwd=tcp:127.0.0.1:$port-:8080" \
	-device virtio-net-device,netdev=hostnet
