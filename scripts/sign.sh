#!/bin/sh
# Ad-hoc signs ignition with the hypervisor entitlement (macOS). Without it hv_vm_create fails,
# and every relink drops it, so the build runs this after each link (and after meson install).
# Usage: scripts/sign.sh BINARY [STAMP]
# A relative BINARY under meson install is taken inside the install prefix (DESTDIR included).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
bin=$1
case $bin in
/*) ;;
*) [ -z "${MESON_INSTALL_DESTDIR_PREFIX:-}" ] || bin=$MESON_INSTALL_DESTDIR_PREFIX/$bin ;;
esac
codesign --entitlements "$here/ignition.entitlements" --force -s - "$bin"
[ $# -lt 2 ] || touch "$2"
