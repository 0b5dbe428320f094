#!/bin/sh
# Builds vsockt (both ends of the e2e vsock checks) into OUT/vsockt: a static arm64 program made
# with Debian's aarch64-linux-gnu-gcc and its glibc, run in the guest and in the emulated host.
# Usage: build.sh OUT
set -eu
src=$(cd "$(dirname "$0")" && pwd)
out=$1
cc=${VSOCKT_CC:-aarch64-linux-gnu-gcc}
command -v "$cc" >/dev/null || {
	echo "vsockt: $cc not found (scripts/deps.sh aarch64 installs it)" >&2
	exit 1
}
mkdir -p "$out"
"$cc" -std=gnu11 -O2 -Wall -Wextra -Werror -static -o "$out/vsockt" "$src/vsockt.c"
aarch64-linux-gnu-strip "$out/vsockt" 2>/dev/null || true
