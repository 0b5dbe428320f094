#!/bin/sh
# The virtio-fs boot of the scenario (sourced by scenario.sh): an initramfs-only guest mounts a
# writable and a read-only share of the emulated host. Checked from both sides: an 8 MiB file
# each way with the same sha256, mkdir / rename / symlink / readlink / chmod / truncate / unlink
# seen on the host, host symlinks out of the share that reach nothing of the host's, and a
# read-only share that refuses writes with EROFS and stays byte-identical.

fs_share=/tmp/fs-share
fs_ro=/tmp/fs-ro
fs_out=/tmp/fs-outside

# the read-only tree, as one line: every entry's type, mode, size and mtime, every file's sha256
fs_tree() {
	(cd "$1" && find . | sort | while read -r p; do
		stat -c '%n %F %a %s %Y' "$p"
		[ -f "$p" ] && [ ! -L "$p" ] && sha256sum "$p"
	done) | md5sum | cut -d' ' -f1
}

fs_setup() {
	rm -rf $fs_share $fs_ro $fs_out
	mkdir -p $fs_share $fs_ro/sub $fs_out
	echo "the host's secret" >$fs_out/secret
	dd if=/dev/urandom of=$fs_share/host.bin bs=1M count=8 2>/dev/null
	fs_host_sum=$(sha256sum $fs_share/host.bin | cut -d' ' -f1)
	ln -s $fs_out $fs_share/escape
	ln -s $fs_out/secret $fs_share/escape_file
	ln -s ../fs-outside/secret $fs_share/escape_rel
	echo "read me" >$fs_ro/file
	echo "deeper" >$fs_ro/sub/inner
	ln -s file $fs_ro/link
	fs_ro_before=$(fs_tree $fs_ro)
	fs_secret_before=$(stat -c '%s %Y %Z' $fs_out/secret)
}

fsboot() {
	if [ "$E2E_VMM" != ignition ]; then
		note "fsboot: skipped (the stand-in has no --fs)"
		return
	fi
	fs_setup
	vm_start fsboot --kernel $G/Image --initrd $G/initramfs.cpio.gz --smp 2 --append quiet \
		--fs tag=share,path=$fs_share --fs tag=ro,path=$fs_ro,ro
	wait_exit=5
	if expect "initramfs shell" '*ignition-initrd:/*# *' 150; then
		fs_guest
		send poweroff
		wait_exit=120
	fi
	vm_stop $wait_exit
	check "fsboot: VMM exit status after poweroff" '^0$' "$vm_rc"
	fs_host_checks
}

fs_guest() {
	run MOUNT 'mkdir -p /mnt/s /mnt/r && mount -t virtiofs share /mnt/s &&
		mount -t virtiofs ro /mnt/r && grep virtiofs /proc/mounts | wc -l'
	check "fsboot: both shares mounted" '^0 2$' "$result"
	run HOSTSUM 'sha256sum /mnt/s/host.bin' 300
	check "fsboot: the host's 8 MiB file read in the guest" "^0 $fs_host_sum " "$result"
	run GUESTW 'dd if=/dev/urandom of=/mnt/s/guest.bin bs=1M count=8 2>/dev/null && sync &&
		sha256sum /mnt/s/guest.bin' 300
	check "fsboot: 8 MiB written by the guest" '^0 [0-9a-f]{64} ' "$result"
	fs_guest_sum=$(echo "$result" | cut -d' ' -f2)
	run OPS 'cd /mnt/s && mkdir d && echo hello >a && mv a d/b && ln -s b d/l &&
		chmod 600 d/b && echo 0123456789 >t && truncate -s 4 t && echo x >u && rm u &&
		readlink d/l && cd /'
	check "fsboot: mkdir, rename, symlink, chmod, truncate, unlink in the guest" '^0 b$' \
		"$result"
	run LS 'ls -la /mnt/s /mnt/s/d' # for the transcript
	# the guest resolves the host's symlinks in its own tree: they lead to nothing of the host's
	run ESCAPE 'readlink /mnt/s/escape_file;
		cat /mnt/s/escape_file /mnt/s/escape/secret /mnt/s/escape_rel 2>/dev/null |
		grep -c "host.s secret"; { echo pwned >/mnt/s/escape_file; } 2>/dev/null;
		{ echo pwned >/mnt/s/escape_rel; } 2>/dev/null; echo done'
	check "fsboot: host symlinks out of the share reach nothing" "^0 $fs_out/secret 0 done\$" \
		"$result"
	run ROW 'echo x >/mnt/r/new 2>&1; echo x >>/mnt/r/file 2>&1; rm /mnt/r/file 2>&1;
		mkdir /mnt/r/dir 2>&1; touch /mnt/r/sub/inner 2>&1; mv /mnt/r/file /mnt/r/f2 2>&1;
		true'
	check "fsboot: the read-only share refuses writes with EROFS" \
		'^0 (.*Read-only file system.*){6}$' "$result"
	run ROREAD 'cat /mnt/r/file /mnt/r/link /mnt/r/sub/inner'
	check "fsboot: the read-only share reads" '^0 read me read me deeper$' "$result"
	run UMOUNT 'umount /mnt/s && umount /mnt/r'
	check "fsboot: both shares unmounted" '^0' "$result"
}

fs_host_checks() {
	got=$(sha256sum $fs_share/guest.bin 2>/dev/null | cut -d' ' -f1)
	check "fsboot: the guest's 8 MiB file on the host has the guest's sha256" \
		"^${fs_guest_sum:-none}\$" "${got:-missing}"
	got="$(test -d $fs_share/d && echo dir) $(cat $fs_share/d/b 2>/dev/null)"
	got="$got $(test -e $fs_share/a || echo moved) $(readlink $fs_share/d/l)"
	got="$got $(stat -c %a $fs_share/d/b 2>/dev/null) $(stat -c %s $fs_share/t 2>/dev/null)"
	got="$got $(test -e $fs_share/u || echo removed)"
	check "fsboot: the guest's changes seen on the host" '^dir hello moved b 600 4 removed$' \
		"$got"
	check "fsboot: the host's secret untouched" "^the host's secret $fs_secret_before\$" \
		"$(cat $fs_out/secret) $(stat -c '%s %Y %Z' $fs_out/secret)"
	check "fsboot: the read-only share is byte-identical" "^$fs_ro_before\$" "$(fs_tree $fs_ro)"
	rm -rf $fs_share $fs_ro $fs_out
}
