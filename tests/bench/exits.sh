#!/bin/sh
# Instructions per MMIO exit through the whole run loop (bench_exits: a scripted backend under
# the real vm_run), counted with callgrind: N exits minus none, over N. Prints key=value lines
# exit_uart_lsr, exit_virtio_isr, exit_uart_thr. Usage: exits.sh BENCH_EXITS [N]
set -eu
bin=$1 n=${2:-100000}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

count() {
	valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" "$bin" "$1" "$2" \
		</dev/null >/dev/null 2>"$tmp/vg" || { cat "$tmp/vg" >&2; exit 1; }
	sed -n 's/^summary: *//p' "$tmp/cg"
}

for kind in uart-lsr virtio-isr uart-thr; do
	base=$(count $kind 0)
	full=$(count $kind "$n")
	awk -v k="$kind" -v a="$full" -v b="$base" -v n="$n" \
		'BEGIN { gsub("-", "_", k); printf "exit_%s=%.1f\n", k, (a - b) / n }'
done
