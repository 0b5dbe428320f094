#!/bin/sh
# make demo, inside the emulated host: the default guest on the user's terminal (the host's
# console), a fresh copy of the rootfs on the work disk. Ctrl-A x quits.
# The host's own NIC (scripts/demo.sh gives the emulated host one, with the x86 side's demo port
# forwarded to its port 8080): the address the outer qemu's user network expects.
if [ -e /sys/class/net/eth0 ]; then
	ip addr add 10.0.2.15/24 dev eth0
	ip link set eth0 up
fi
echo
echo "  ignition demo: booting the Debian arm64 guest; log in as root (no password)."
echo "  Ctrl-A x quits ignition; the emulated host then powers off."
echo
# a session with the console as controlling tty, so ignition's raw mode and job control work;
# --net user with the host's port 8080 forwarded to the guest's web server
setsid cttyhack /e2e/vmm --kernel /guest/Image --initrd /guest/initramfs.cpio.gz \
	--disk /work/rootfs.ext4 --smp 2 --net user,hostfwd=tcp::8080-:80 --append quiet
echo "e2e: demo: VMM exit $?"
