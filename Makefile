# The stable interface: README, CI and benchmarks call these targets; Meson/Ninja do the work.
# Every target first installs the Debian packages it lacks (scripts/deps.sh).

BUILD      ?= build
BUILD_UNIT ?= build-unit
BUILD_PLAIN ?= build-unit-plain
BUILD_A64  ?= build-aarch64
BUILD_FUZZ ?= build-fuzz
DEPS       := scripts/deps.sh
MESON_WERROR := --werror
# On a Mac the demo runs build/ignition natively with HVF; elsewhere the static arm64 binary.
ifeq ($(shell uname -s),Darwin)
DEMO_BINARY := build
else
DEMO_BINARY := aarch64
endif

.PHONY: all build unit aarch64 e2e check demo bench bench-devices bench-smoke fuzz fuzz-smoke \
	macos-check format clean help

all: build

help:
	@echo "make            build/ignition (native)"
	@echo "make unit       unit tests under ASan + UBSan"
	@echo "make aarch64    static build-aarch64/ignition"
	@echo "make e2e        boot real guests with KVM inside an emulated arm64 host"
	@echo "make check      what CI runs: unit, fuzz-smoke, e2e"
	@echo "make demo       boot the default guest to a login prompt (Ctrl-A x quits)"
	@echo "make bench      benchmarks against peers (prints a table)"
	@echo "make macos-check MACOS_SDK=dir  compile the macOS build against an SDK (docs/macos.md)"

$(BUILD)/build.ninja:
	$(DEPS) build
	meson setup $(BUILD) $(MESON_WERROR) -Dtests=false

build: $(BUILD)/build.ninja
	$(DEPS) build
	ninja -C $(BUILD)

$(BUILD_UNIT)/build.ninja:
	$(DEPS) unit
	meson setup $(BUILD_UNIT) $(MESON_WERROR) -Db_sanitize=address,undefined -Db_lundef=false \
		-Dbuildtype=debug

# The sandbox tests also run without sanitizers: ASan's pthread_create waits for the new thread
# to start, which hides the start-up-after-the-filter race they look for.
$(BUILD_PLAIN)/build.ninja:
	$(DEPS) unit
	meson setup $(BUILD_PLAIN) $(MESON_WERROR) -Dbuildtype=debugoptimized

unit: $(BUILD_UNIT)/build.ninja $(BUILD_PLAIN)/build.ninja
	$(DEPS) unit
	ninja -C $(BUILD_UNIT)
	meson test -C $(BUILD_UNIT) --print-errorlogs --num-processes 2
	ninja -C $(BUILD_PLAIN) tests/unit/vmm/test_sandbox
	meson test -C $(BUILD_PLAIN) --no-rebuild --print-errorlogs sandbox

$(BUILD_A64)/build.ninja:
	$(DEPS) aarch64
	meson setup $(BUILD_A64) $(MESON_WERROR) --cross-file .deps/aarch64-linux.ini \
		-Dstatic=true -Dtests=false -Dbuildtype=release -Db_ndebug=false

aarch64: $(BUILD_A64)/build.ninja
	$(DEPS) aarch64
	ninja -C $(BUILD_A64)
	@file $(BUILD_A64)/ignition 2>/dev/null || true

e2e: aarch64
	$(DEPS) e2e
	tests/e2e/run.sh

fuzz-smoke:
	$(DEPS) fuzz unit
	tests/fuzz/run.sh smoke

fuzz:
	$(DEPS) fuzz unit
	tests/fuzz/run.sh long $(TARGET) $(SECONDS)

check: unit fuzz-smoke e2e

demo: $(DEMO_BINARY)
	$(DEPS) e2e
	scripts/demo.sh

bench-devices:
	$(DEPS) unit bench
	tests/bench/devices.sh

bench: aarch64
	$(DEPS) e2e bench
	tests/bench/run.sh

bench-smoke: aarch64
	$(DEPS) e2e bench
	tests/bench/run.sh --smoke

# Not part of check: it needs a macOS SDK, which this repository cannot ship. Without one the
# script exits 77 (skipped); that is reported and is not a failure.
macos-check:
	@scripts/macos-check.sh || { r=$$?; [ $$r -eq 77 ] && \
		echo "make macos-check: skipped (no MACOS_SDK), nothing was checked"; exit $$((r == 77 ? 0 : r)); }

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(BUILD_UNIT) $(BUILD_PLAIN) $(BUILD_A64) $(BUILD_FUZZ)
