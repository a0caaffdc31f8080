#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Install, with apt-get, exactly what cowlab needs. Idempotent: prints nothing
# and exits 0 when everything is already there.
set -euo pipefail

PKGS=(
	linux-source-6.12 quilt gcc make bc bison flex libelf-dev libssl-dev
	cpio xz-utils busybox-static qemu-system-x86 ccache gnuplot-nox
	libc6-dev perl python3 kmod rsync patch trinity stress-ng redis-server redis-tools
	dpkg-dev fakeroot debhelper
)

usage() {
	cat <<USAGE
usage: scripts/deps.sh [--check] [--help]

Installs the Debian packages cowlab needs:
  ${PKGS[*]}
--check   only list what is missing (exit 1 if anything is)
USAGE
}

check_only=0
case "${1:-}" in
-h | --help) usage; exit 0 ;;
--check) check_only=1 ;;
"") ;;
*) echo "deps.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
esac

missing=()
for p in "${PKGS[@]}"; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	[ "$st" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$check_only" = 1 ]; then
	echo "missing packages: ${missing[*]}"
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: not root; install these first:" >&2
	echo "  sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo ">> apt-get install ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo ">> dependencies installed"
