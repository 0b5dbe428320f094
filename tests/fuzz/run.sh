#!/bin/sh
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs them. See tests/fuzz/README.md.
#
#   run.sh smoke                  every target for FUZZ_SMOKE_SECONDS (6) from its seed corpus
#                                 (copied to a temporary directory); fails on any crash
#   run.sh long [TARGET|all] [SECONDS]
#                                 one target, or all one after the other, for SECONDS (300) each,
#                                 with a persistent corpus in .cache/fuzz/<target>
#   run.sh repro TARGET FILE...   runs the inputs once (e.g. a crash from build-fuzz/artifacts/)
#   run.sh cover [TARGET|all]     line and branch coverage of the code each target is for, over
#                                 its seeds and .cache/fuzz/<target> (needs llvm-14: llvm-cov)
#   run.sh list                   the target names
#
# Environment: BUILD_FUZZ (build directory, default build-fuzz), FUZZ_ARGS (more libFuzzer flags,
# e.g. -runs=10000000). Crash inputs go to $BUILD_FUZZ/artifacts/<target>-crash-<sha1>.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_FUZZ:-build-fuzz}
case $build in /*) ;; *) build=$top/$build ;; esac
artifacts=$build/artifacts
targets="virtq virtio_blk virtio_mmio virtio_net net_stream virtio_vsock virtio_fs virtio_rng serial bus
loader fdt exit fuse"

usage() {
	sed -n '3,15p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

build_targets() {
	if [ ! -f "$build/build.ninja" ]; then
		CC=clang meson setup "$build" --werror -Dfuzz=true -Dtests=true \
			-Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized \
			-Dc_args="-fsanitize=fuzzer-no-link -fno-sanitize-recover=undefined" >&2
	fi
	ninja -C "$build" -j2 fuzz >&2
	mkdir -p "$artifacts"
}

is_target() {
	for t in $targets; do [ "$t" = "$1" ] && return 0; done
	return 1
}

# LeakSanitizer stops the world with ptrace, which some sandboxes refuse: leak checks are on
# where they work, and the run says when they are off.
leaks=1
leak_probe() {
	out=$(ASAN_OPTIONS=detect_leaks=1 "$build/tests/fuzz/fuzz_exit" -runs=1 2>&1 </dev/null) ||
		true
	case $out in
	*"LeakSanitizer has encountered a fatal error"*)
		leaks=0
		echo "fuzz: LeakSanitizer does not work here (ptrace refused?); leak checks off" >&2
		;;
	esac
}

# stat NAME LOG: a libFuzzer final statistic
stat() {
	sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

# Flags of one target, before FUZZ_ARGS (which can override them). virtio_vsock's operations are
# system calls on real sockets, so a run costs what its input asks for: 512 bytes (about 30
# operations) reach every limit it has (8 connections, 16 host peers, 16-entry rings) at several
# times the rate of libFuzzer's 4,096-byte default, with the same edge coverage.
target_args() {
	case $1 in
	virtio_vsock) echo -max_len=512 ;;
	esac
}

# run_target NAME SECONDS CORPUS...: runs one target; prints a summary line; fails on a crash.
run_target() {
	name=$1 secs=$2
	shift 2
	log=$artifacts/$name.log
	before=$(ls "$artifacts" | grep -c "^$name-" || true)
	rc=0
	# shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
	ASAN_OPTIONS="detect_leaks=$leaks:abort_on_error=1:allocator_may_return_null=1" \
		UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		"$build/tests/fuzz/fuzz_$name" -max_total_time="$secs" -timeout=10 \
		-detect_leaks="$leaks" -print_final_stats=1 -artifact_prefix="$artifacts/$name-" \
		$(target_args "$name") ${FUZZ_ARGS:-} "$@" >"$log" 2>&1 || rc=$?
	after=$(ls "$artifacts" | grep -c "^$name-" || true)
	last=$(grep -E '(DONE|pulse|NEW|REDUCE|INITED) +cov:' "$log" | tail -n 1)
	cov=$(echo "$last" | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$last" | sed -n 's/.*ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$last" | sed -n 's/.*corp: \([0-9]*\).*/\1/p')
	printf '%-12s %11s execs %7s/s  cov %5s  ft %6s  corpus %5s  crashes %s\n' "$name" \
		"$(stat number_of_executed_units "$log")" "$(stat average_exec_per_sec "$log")" \
		"${cov:-?}" "${ft:-?}" "${corp:-?}" "$((after - before))"
	if [ "$rc" -ne 0 ] || [ "$after" -ne "$before" ]; then
		echo "fuzz: $name failed (status $rc); the report, from $log:" >&2
		grep -E -A40 '^==[0-9]+==|fuzz: invariant|runtime error|ERROR: libFuzzer' "$log" |
			head -n 60 >&2
		ls -t "$artifacts" | grep "^$name-" | head -n 3 | sed "s|^|fuzz: input: $artifacts/|" >&2
		return 1
	fi
}

smoke() {
	secs=${FUZZ_SMOKE_SECONDS:-6}
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	failed=
	for t in $targets; do
		mkdir -p "$tmp/$t"
		cp "$top/tests/fuzz/corpus/$t/"* "$tmp/$t/"
		run_target "$t" "$secs" "$tmp/$t" || failed="$failed $t"
	done
	if [ -n "$failed" ]; then
		echo "fuzz-smoke: FAILED:$failed" >&2
		exit 1
	fi
	echo "fuzz-smoke: all targets ran ${secs}s each without a crash" >&2
}

long() {
	which=${1:-all} secs=${2:-300}
	# `make fuzz SECONDS=60` without TARGET passes only the number.
	case $which in [0-9]*) secs=$which which=all ;; esac
	[ "$which" = all ] && which=$targets
	for t in $which; do
		is_target "$t" || { echo "fuzz: unknown target '$t' (run.sh list)" >&2; exit 2; }
	done
	failed=
	for t in $which; do
		mkdir -p "$top/.cache/fuzz/$t"
		run_target "$t" "$secs" "$top/.cache/fuzz/$t" "$top/tests/fuzz/corpus/$t" ||
			failed="$failed $t"
	done
	[ -z "$failed" ] || { echo "fuzz: crashes in:$failed" >&2; exit 1; }
}

# The sources each target is for.
sources() {
	case $1 in
	virtq) echo devices/virtio/queue.c ;;
	virtio_blk) echo devices/virtio/blk_req.c devices/virtio/mmio.c devices/virtio/queue.c ;;
	virtio_mmio) echo devices/virtio/mmio.c devices/virtio/rng.c devices/bus.c ;;
	virtio_net) echo devices/virtio/net.c devices/virtio/mmio.c devices/virtio/queue.c ;;
	net_stream) echo host/net/stream.c ;;
	virtio_vsock) echo devices/virtio/vsock.c host/vsock/conn.c host/vsock/muxer.c ;;
	virtio_fs) echo devices/virtio/fs.c devices/virtio/mmio.c devices/virtio/queue.c ;;
	virtio_rng) echo devices/virtio/rng.c devices/virtio/mmio.c devices/virtio/queue.c ;;
	serial) echo devices/serial.c ;;
	bus) echo devices/bus.c ;;
	loader) echo arch/aarch64/loader.c util/file.c ;;
	fdt) echo arch/aarch64/fdt.c arch/aarch64/cmdline.c arch/aarch64/layout.c ;;
	exit) echo arch/aarch64/esr.c arch/aarch64/psci.c arch/aarch64/sysreg.c ;;
	fuse) echo fs/server.c fs/table.c fs/ops_node.c fs/ops_file.c fs/ops_dir.c fs/host.c ;;
	esac
}

tool() {
	command -v "$1-14" || command -v "$1" ||
		{ echo "fuzz: $1 not found (apt-get install llvm-14)" >&2; exit 1; }
}

# A build with clang's source-based coverage instead of the sanitizers, run over the corpora.
cover() {
	which=${1:-all}
	[ "$which" = all ] && which=$targets
	cbuild=$build-cov
	profdata=$(tool llvm-profdata) llvmcov=$(tool llvm-cov)
	if [ ! -f "$cbuild/build.ninja" ]; then
		CC=clang meson setup "$cbuild" -Dfuzz=true -Dtests=true -Db_lundef=false \
			-Dbuildtype=debugoptimized \
			-Dc_args="-fprofile-instr-generate -fcoverage-mapping" \
			-Dc_link_args=-fprofile-instr-generate >&2
	fi
	ninja -C "$cbuild" -j2 fuzz >&2
	for t in $which; do
		is_target "$t" || { echo "fuzz: unknown target '$t' (run.sh list)" >&2; exit 2; }
		rm -f "$cbuild/$t.profraw"
		cache=$top/.cache/fuzz/$t
		[ -d "$cache" ] || cache=
		LLVM_PROFILE_FILE=$cbuild/$t.profraw "$cbuild/tests/fuzz/fuzz_$t" -runs=0 \
			$cache "$top/tests/fuzz/corpus/$t" >"$cbuild/$t.log" 2>&1
		"$profdata" merge -o "$cbuild/$t.profdata" "$cbuild/$t.profraw"
		files= pattern=
		for f in $(sources "$t"); do
			files="$files $top/src/$f"
			pattern="$pattern|src/$f"
		done
		printf '%-28s %8s %8s %8s\n' "$t (${cache:+cache + }seeds)" regions lines branches
		# shellcheck disable=SC2086 # a list of files
		"$llvmcov" report "$cbuild/tests/fuzz/fuzz_$t" -instr-profile="$cbuild/$t.profdata" \
			$files | grep -E "^(${pattern#|}) " |
			awk '{ printf "  %-26s %8s %8s %8s\n", $1, $4, $10, $13 }'
	done
}

repro() {
	[ $# -ge 2 ] && is_target "$1" || usage
	t=$1
	shift
	ASAN_OPTIONS=detect_leaks=$leaks UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		FUZZ_VERBOSE=1 "$build/tests/fuzz/fuzz_$t" -detect_leaks="$leaks" "$@"
}

[ $# -ge 1 ] || usage
mode=$1
shift
case $mode in
list) echo "$targets" | tr ' ' '\n'; exit 0 ;;
smoke | long | repro) ;;
cover) cover "$@"; exit 0 ;;
*) usage ;;
esac
build_targets
leak_probe
$mode "$@"
