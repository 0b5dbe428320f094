# Shared by the x86 (or native arm64) side of the end-to-end rig: paths, logging, phase timing and
# the content-keyed cache. Source it from bash; it sets $top, $e2e, $cache and $out.

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
e2e=$top/tests/e2e
cache=${E2E_CACHE:-$top/.cache/e2e}
out=${E2E_OUT:-$top/build-e2e}

say() { printf 'e2e: %s\n' "$*" >&2; }
die() { printf 'e2e: error: %s\n' "$*" >&2; exit 1; }

# Wall-clock phase timing: phase_begin NAME ... phase_end; phase_report prints the table.
phase_names=()
phase_secs=()
phase_begin() { phase_name=$1; phase_t0=$EPOCHREALTIME; say "== $1"; }
phase_end() {
	local s
	s=$(echo "$EPOCHREALTIME - $phase_t0" | bc)
	phase_names+=("$phase_name")
	phase_secs+=("$s")
	say "== $phase_name: $(printf '%.1f' "$s") s"
}
phase_report() {
	local i
	for i in "${!phase_names[@]}"; do
		printf 'e2e: phase %-34s %7.1f s\n' "${phase_names[$i]}" "${phase_secs[$i]}"
	done
}

# A cache key is a hash over package versions and the bytes of every file that shapes an artifact,
# so editing a script rebuilds exactly what depends on it.
hash_files() { cat "$@" | sha256sum | cut -c1-16; }
hash_str() { printf '%s' "$*" | sha256sum | cut -c1-16; }

# cache_fresh DIR KEY: true when DIR was built with KEY.
cache_fresh() { [ -f "$1/.key" ] && [ "$(cat "$1/.key")" = "$2" ]; }
# cache_commit TMPDIR DIR KEY: atomically replace DIR by the freshly built TMPDIR.
cache_commit() {
	echo "$3" >"$1/.key"
	rm -rf "$2"
	mv "$1" "$2"
}

# bench_guest_pack DIR INIT OUT MODULE...: a bench guest's initramfs from DIR (its files so far):
# the modules as lib/modules/NAME.ko, INIT as /init, /dev/console; gzip'ed to OUT. Needs
# artifacts.env sourced.
bench_guest_pack() {
	local g=$1 init=$2 o=$3 m
	shift 3
	mkdir -p "$g"/{bin,dev,proc,lib/modules}
	for m in "$@"; do
		cp "$(modinfo -b "$cache/kernel" -k "$kver" -n "$m")" "$g/lib/modules/$m.ko" ||
			die "no module $m in the guest kernel"
	done
	install -m 755 "$init" "$g/init"
	mknod -m 600 "$g/dev/console" c 5 1
	(cd "$g" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -9 -n >"$o"
}

# host_prepare SCENARIO: the emulated host's initramfs ($out/host-initramfs.cpio: the cached base
# plus this run's /init, scripts and ignition) and its work disk ($out/work.ext4: a fresh copy of
# the guest rootfs, and logs/ where the scenario leaves its results). Needs artifacts.env sourced.
host_prepare() {
	rm -rf "$out/run" "$out/work" "$out/logs" "$out/rootfs.ext4"
	mkdir -p "$out/run/e2e" "$out/run/bin" "$out/work/logs"
	install -m 755 "$e2e/host/init" "$out/run/init"
	install -m 755 "$e2e"/host/*.sh "$e2e/host/vmm" "$e2e/host/netbin" "$out/run/e2e/"
	[ -f "$IGNITION" ] && install -m 755 "$IGNITION" "$out/run/bin/ignition"
	# netdgram's peer: a second of cross compiling, so built per run rather than cached
	aarch64-linux-gnu-gcc -std=gnu11 -O2 -Wall -Wextra -Werror -static -s \
		-o "$out/run/bin/dgrambr" "$e2e/net/dgrambr.c" || die "cannot build tests/e2e/net/dgrambr.c"
	{
		printf 'E2E_VMM=%s\nE2E_SCENARIO=%s\n' "$E2E_VMM" "$1"
		printf 'E2E_BOOTS="%s"\nE2E_REPEAT=%s\nE2E_SMP=%s\nE2E_DMESG=%s\n' "${E2E_BOOTS:-}" \
			"${E2E_REPEAT:-}" "${E2E_SMP:-}" "${E2E_DMESG:-}"
		[ -n "${E2E_APPEND+set}" ] && printf 'E2E_APPEND="%s"\n' "$E2E_APPEND"
	} >"$out/run/e2e/conf"
	(cd "$out/run" && find . | cpio -o -H newc -R 0:0 --quiet | gzip -1) >"$out/run.cpio.gz"
	cat "$host_base_cpio" "$out/run.cpio.gz" >"$out/host-initramfs.cpio"
	cp --sparse=always "$guest_rootfs" "$out/work/rootfs.ext4"
	: >"$out/work.ext4" # else mke2fs says it creates a regular file
	mke2fs -q -F -t ext4 -L work -E root_owner=0:0 -d "$out/work" "$out/work.ext4" 128M
	rm -rf "$out/run" "$out/work"
}

# host_command: sets host_cmd, the emulated arm64 host (EL2, so KVM works inside it) booting
# Debian's kernel with that initramfs and disk, its console (ttyAMA0) on stdio. -smp 2 so guests
# can have two vCPUs; pauth-impdef=on because the architected pointer auth is 2.5-3x slower in TCG.
host_command() {
	local drives=(-drive "if=none,id=work,format=raw,file=$out/work.ext4"
		-device virtio-blk-device,drive=work)
	[ "$E2E_VMM" = qemu ] && drives+=(-drive
		"if=none,id=tools,format=raw,readonly=on,file=$qemu_tools_disk"
		-device virtio-blk-device,drive=tools)
	host_cmd=(qemu-system-aarch64 -M virt,virtualization=on,gic-version=3
		-cpu max,pauth-impdef=on -smp 2 -m 2048 -nic none -no-reboot
		-kernel "$kernel_image" -initrd "$out/host-initramfs.cpio"
		-append "console=ttyAMA0 rdinit=/init panic=-1 quiet" "${drives[@]}")
}
