#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make deb: Debian packages of the patched kernel for a real machine.
set -euo pipefail

usage() {
	cat <<USAGE
usage: scripts/build-deb.sh [--tree DIR] [--out DIR] [--no-check] [--help]

Builds Debian packages of the patched kernel for a test box or a cloud VM
(make deb): tinyconfig + configs/base.config + configs/native.config
(modules, PCI, EFI, NVMe/SATA/virtio disks, ext4, LVM, the common NICs,
systemd's needs) + configs/cowlab.config, version suffix -cowlab, with
make bindeb-pkg in OUT/obj (progress every 30 s; ~25 min cold on 2
cores, ccache shared with the other kernel builds). The packages land in
OUT: linux-image-<version>-cowlab, linux-headers-..., linux-libc-dev. Then
scripts/check-deb OUT checks them (their files, the config, a QEMU boot).
  --tree DIR   kernel source with the series (default build/linux: make tree)
  --out DIR    packages directory (default build/deb); its old .deb files
               are removed first
  --no-check   do not run scripts/check-deb
Install on the machine: dpkg -i linux-image-*-cowlab_*.deb, reboot into it;
then docs/native.md.
USAGE
}

top=$(cd "$(dirname "$0")/.." && pwd)
tree=$top/build/linux out=$top/build/deb check=1
while [ $# -gt 0 ]; do
	case "$1" in
	--tree) tree=$2; shift ;;
	--out) out=$2; shift ;;
	--no-check) check=0 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "build-deb.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
[ -f "$tree/.cowlab-applied" ] || { echo "build-deb.sh: $tree has no cowlab series applied (make tree)" >&2; exit 1; }
for t in dpkg-buildpackage dh_listpackages fakeroot rsync depmod; do
	command -v $t >/dev/null || { echo "build-deb.sh: $t missing (scripts/deps.sh installs it)" >&2; exit 1; }
done
mkdir -p "$out"
rm -f "$out"/*.deb "$out"/*.buildinfo "$out"/*.changes
"$top/scripts/build-kernel.sh" --config native --tree "$tree" --out "$out/obj" --target bindeb-pkg
echo "[deb] packages in ${out#"$top"/}:"
ls -s --block-size=K "$out"/*.deb | sed 's/^/[deb]   /'
[ $check = 0 ] || exec "$top/scripts/check-deb" "$out"
