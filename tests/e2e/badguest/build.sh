#!/bin/sh
# Builds the misbehaving guest (a bare-metal arm64 Image) into OUT/Image with Debian's
# aarch64-linux-gnu-gcc, freestanding, and checks its Image header. Usage: build.sh OUT
set -eu
src=$(cd "$(dirname "$0")" && pwd)
out=$1
cc=${BADGUEST_CC:-aarch64-linux-gnu-gcc}
objcopy=${BADGUEST_OBJCOPY:-aarch64-linux-gnu-objcopy}
command -v "$cc" >/dev/null || {
	echo "badguest: $cc not found (scripts/deps.sh aarch64 installs it)" >&2
	exit 1
}
# MMU off: every access is to Device memory, so no unaligned accesses (-mstrict-align), no
# FP/SIMD (CPACR traps it), no outline atomics from libgcc, nothing from the C library.
cflags="-std=gnu11 -O2 -Wall -Wextra -Werror -ffreestanding -nostdlib -nostartfiles -static
	-fno-pie -no-pie -fno-pic -mgeneral-regs-only -mstrict-align -mno-outline-atomics
	-fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables
	-fno-tree-loop-distribute-patterns -mbranch-protection=none -Wl,--build-id=none
	-Wl,-T,$src/badguest.lds -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments"
mkdir -p "$out"
# shellcheck disable=SC2086
"$cc" $cflags -o "$out/badguest.elf" "$src"/head.S "$src"/*.c -lgcc
"$objcopy" -O binary "$out/badguest.elf" "$out/Image"
# magic "ARM\x64" at 56 and a branch at 0 (b: top six bits 000101)
magic=$(od -An -tx1 -j56 -N4 "$out/Image" | tr -d ' \n')
[ "$magic" = 41524d64 ] || { echo "badguest: bad Image magic '$magic'" >&2; exit 1; }
op=$(od -An -tx1 -j3 -N1 "$out/Image" | tr -d ' \n')
[ "$op" = 14 ] || [ "$op" = 17 ] || { echo "badguest: no branch at offset 0 ($op)" >&2; exit 1; }
# The raw-image program (raw.S): no header at all, as kvm-unit-tests and firmware come.
"$cc" -nostdlib -nostartfiles -static -no-pie -Wl,-Ttext=0x40080000 -Wl,--build-id=none \
	-Wl,-z,noexecstack -o "$out/raw.elf" "$src/raw.S"
"$objcopy" -O binary "$out/raw.elf" "$out/raw.bin"
head=$(od -An -tx1 -N2 "$out/raw.bin" | tr -d ' \n')
[ "$head" != 4d5a ] || { echo "badguest: raw.bin starts with MZ" >&2; exit 1; }
