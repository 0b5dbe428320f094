#!/bin/sh
# Compiles, without linking, every C file that `make` builds on macOS (Apple Silicon), against a
# macOS SDK, from any host with clang. The file set and flags come from meson itself: a cross
# configuration with host_machine.system() == 'darwin' evaluates meson.build exactly as a Mac
# would, and each entry of its compile_commands.json is run with -fsyntax-only.
#
#   MACOS_SDK=/path/to/MacOSX15.sdk scripts/macos-check.sh
#
# Exit status: 0 all files compile, 1 some do not, 77 skipped (no SDK). See docs/macos.md.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
CLANG=${CLANG:-clang}
STD=${MACOS_CHECK_STD:-c11}

sdk=${MACOS_SDK:-}
if [ -z "$sdk" ] || [ ! -f "$sdk/usr/include/stdio.h" ]; then
	echo "macos-check: SKIPPED, nothing compiled: set MACOS_SDK to an extracted macOS SDK" \
		"(a directory with usr/include/stdio.h${sdk:+; $sdk has none})" >&2
	exit 77
fi
hv=$sdk/System/Library/Frameworks/Hypervisor.framework/Headers
if [ ! -f "$hv/Hypervisor.h" ]; then
	echo "macos-check: $sdk has no Hypervisor.framework headers" >&2
	exit 1
fi
if [ ! -f "$hv/hv_gic.h" ]; then
	echo "macos-check: $sdk is older than macOS 15 (no hv_gic.h): src/hv/hvf.c needs the 15 SDK" >&2
	exit 1
fi
command -v "$CLANG" >/dev/null || { echo "macos-check: no $CLANG" >&2; exit 1; }
command -v meson >/dev/null || { echo "macos-check: no meson" >&2; exit 1; }

tmp=$(mktemp -d)
trap '[ -n "${MACOS_CHECK_KEEP:-}" ] && echo "macos-check: kept $tmp" >&2 || rm -rf "$tmp"' EXIT INT TERM

# meson's configure-time probes (find_library, appleframeworks) link test programs; without
# Apple's linker and libraries here, a link only produces an empty output, and the linker probe
# is told it talks to Apple's ld64 (what a Mac has). Compiles are real.
cat >"$tmp/cc" <<EOF
#!/bin/sh
link=1 out=
for a; do
	case \$a in
	-Wl,--version) echo "ld: unknown option: --version" >&2; exit 1;;
	-Wl,-v) echo "@(#)PROGRAM:ld  PROJECT:ld64-1053.12" >&2; exit 0;;
	-c|-E|-S|-fsyntax-only|-M|-MM|--version|-v|-dumpversion|-print-*) link=0;;
	esac
done
[ \$link = 1 ] || exec "$CLANG" "\$@"
prev=
for a; do [ "\$prev" = -o ] && out=\$a; prev=\$a; done
: >"\${out:-a.out}"
EOF
chmod +x "$tmp/cc"

# libfdt is portable C from dtc (Homebrew's dtc installs the same headers); take the host's.
mkdir "$tmp/shim"
headers="libfdt.h libfdt_env.h fdt.h"
tests=false
# MACOS_CHECK_TESTS=1: the unit tests too (make unit on a Mac), with the host's cmocka.h.
if [ -n "${MACOS_CHECK_TESTS:-}" ]; then
	headers="$headers cmocka.h"
	tests=true
fi
for h in $headers; do
	for d in ${LIBFDT_INCLUDE:-} /opt/homebrew/include /usr/local/include /usr/include; do
		[ -f "$d/$h" ] && { cp "$d/$h" "$tmp/shim/"; break; }
	done
	[ -f "$tmp/shim/$h" ] || { echo "macos-check: no $h (install libfdt-dev or dtc)" >&2; exit 1; }
done

# find_library() looks for the file: an empty stand-in off a Mac (nothing is linked), Homebrew's
# real one on a Mac (there meson checks its architecture with lipo and skips the stand-in).
mkdir "$tmp/lib"
: >"$tmp/lib/libfdt.dylib"
: >"$tmp/lib/libcmocka.dylib"
lib_dirs="'$tmp/lib'"
command -v brew >/dev/null && lib_dirs="'$(brew --prefix)/lib', $lib_dirs"

target=--target=arm64-apple-macos13.0
cat >"$tmp/cross.ini" <<EOF
[binaries]
c = '$tmp/cc'
ar = 'ar'
strip = 'strip'
# The host's pkg-config: libslirp's and glib's headers are the host's (Linux) build of them.
pkgconfig = 'pkg-config'

[built-in options]
c_args = ['$target', '-isysroot', '$sdk', '-I$tmp/shim']
c_link_args = ['$target', '-isysroot', '$sdk']

[properties]
lib_dirs = [$lib_dirs]

[host_machine]
system = 'darwin'
cpu_family = 'aarch64'
cpu = 'arm64'
endian = 'little'
EOF

if ! meson setup "$tmp/build" "$top" --cross-file "$tmp/cross.ini" --werror -Dtests=$tests \
	>"$tmp/setup.log" 2>&1; then
	cat "$tmp/setup.log" >&2
	echo "macos-check: meson setup for darwin failed" >&2
	exit 1
fi
grep -E '^ *(Run-time dependency|Library|Dependency) .*(found|YES|NO)' "$tmp/setup.log" || true

python3 - "$tmp/build/compile_commands.json" "$STD" "$top" <<'EOF'
import json, shlex, subprocess, sys, os
db, std, top = sys.argv[1], sys.argv[2], sys.argv[3]
entries = json.load(open(db))
fails = 0
for e in sorted(entries, key=lambda e: e['file']):
    args = shlex.split(e['command'])
    out, skip = [], 0
    for a in args:
        if skip:
            skip -= 1
            continue
        if a in ('-o', '-MQ', '-MF'):
            skip = 1
            continue
        if a in ('-c', '-MD'):
            continue
        out.append(a)
    # Project warnings (meson's, such as -Wno-unused-parameter) come after these and win.
    out[1:1] = ['-Wall', '-Wextra', '-Werror']
    out += ['-std=' + std, '-fno-color-diagnostics', '-fsyntax-only']
    src = os.path.relpath(os.path.join(e['directory'], e['file']), top)
    r = subprocess.run(out, cwd=e['directory'], capture_output=True, text=True)
    print(('ok    ' if r.returncode == 0 else 'FAIL  ') + src, flush=True)
    if r.returncode:
        fails += 1
        sys.stdout.write(r.stderr)
print('macos-check: %d of %d files compile for arm64-apple-macos13.0 (-std=%s -Werror)'
      % (len(entries) - fails, len(entries), std))
sys.exit(1 if fails else 0)
EOF
