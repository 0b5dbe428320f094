#!/bin/sh
# make demo, inside the emulated host: the default guest on the user's terminal (the host's
# console), a fresh copy of the rootfs on the work disk. Ctrl-A x quits.
echo
echo "  ignition demo: booting the Debian arm64 guest; log in as root (no password)."
echo "  Ctrl-A x quits ignition; the emulated host then powers off."
echo
# a session with the console as controlling tty, so ignition's raw mode and job control work
setsid cttyhack /e2e/vmm --kernel /guest/Image --initrd /guest/initramfs.cpio.gz \
	--disk /work/rootfs.ext4 --smp 2 --append quiet
echo "e2e: demo: VMM exit $?"
