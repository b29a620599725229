#!/usr/bin/env bash
# Issue 7, the first slice: the PXE set tools/mkimage builds (Debian's kernel, an initramfs whose
# /init is the static agent) boots under QEMU (software emulation) to the agent as the node's
# first process and its console on ttyS0; a test drives the console (status, members, ip, ps,
# help) and powers the node off; a broken agent.* key on the kernel command line lands the node
# in maintenance mode with the reason on the console. Both boots share one image build. Then the
# hybrid ISO (under 40 MiB) boots by BIOS (SeaBIOS) and by UEFI (OVMF) to a healthy agent; the raw
# GPT disk image boots by UEFI and takes the config written into its config partition.
set -uo pipefail
AGENT=$(readlink -f "${1:?usage: $0 path/to/agent}")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v qemu-system-x86_64 >/dev/null || ! command -v cpio >/dev/null || ! command -v grub-mkrescue >/dev/null || ! file -L "$AGENT" | grep -q 'statically linked'; then
  echo "skip: needs qemu-system-x86_64, cpio (tools/deps installs them) and the static release agent"
  exit 0
fi
WORK=$(mktemp -d /tmp/weft-image.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
"$ROOT/tools/mkimage" --profile worker --format pxe --agent "$AGENT" --out "$WORK/img" || { echo "FAIL: mkimage"; exit 1; }
rc=0
python3 "$(dirname "$0")/console.py" "$WORK/img" node || rc=1
python3 "$(dirname "$0")/console.py" "$WORK/img" maintenance || rc=1
"$ROOT/tools/mkimage" --profile worker --format iso --agent "$AGENT" --out "$WORK/iso" || { echo "FAIL: mkimage --format iso"; exit 1; }
iso_bytes=$(stat -c %s "$WORK/iso/weft-worker.iso")
if [ "$iso_bytes" -lt $((40 << 20)) ]; then echo "ok: the ISO is under 40 MiB ($iso_bytes bytes)"; else echo "FAIL: the ISO is $iso_bytes bytes, over 40 MiB"; rc=1; fi
python3 "$(dirname "$0")/console.py" "$WORK/iso/weft-worker.iso" iso-bios || rc=1
if [ -f /usr/share/ovmf/OVMF.fd ]; then
  python3 "$(dirname "$0")/console.py" "$WORK/iso/weft-worker.iso" iso-uefi || rc=1
else
  echo "FAIL: no OVMF firmware for the UEFI boot (tools/deps installs ovmf)"
  rc=1
fi
# The raw disk image: config written into its config partition after the build, as an operator
# would (mtools, at the offset mkimage prints), takes effect when it boots by UEFI.
out=$("$ROOT/tools/mkimage" --profile worker --format disk --agent "$AGENT" --out "$WORK/disk") || { echo "FAIL: mkimage --format disk"; exit 1; }
echo "$out"
target=$(sed -n 's/^config partition: \(.*\) (mcopy.*/\1/p' <<<"$out")
echo '{"node_name": "disk1", "service": {"name": "db", "id": "db-1", "port": 5432}}' >"$WORK/node.json"
if [ -n "$target" ] && mcopy -o -i "$target" "$WORK/node.json" ::/node.json; then
  python3 "$(dirname "$0")/console.py" "$WORK/disk/weft-worker.img" disk || rc=1
else
  echo "FAIL: node.json written into the disk image's config partition"
  rc=1
fi
exit $rc
