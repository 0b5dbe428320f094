#!/bin/sh
# Ad-hoc signs ignition with the hypervisor entitlement (macOS). Without it hv_vm_create fails,
# and every relink drops it, so the build runs this after each link.
# Usage: scripts/sign.sh BINARY [STAMP]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
codesign --entitlements "$here/ignition.entitlements" --force -s - "$1"
[ $# -lt 2 ] || touch "$2"
