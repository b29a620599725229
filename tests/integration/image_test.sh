#!/usr/bin/env bash
# The node's image store (issue 6 item 6) end to end: an image made here from Debian's
# busybox-static (/bin/busybox and a few symlinks, plus a second layer), written as a `docker
# save` archive and as an OCI archive with gzip layers by tar, sha256sum and python3, is loaded
# through agentctl image load (a relative path made absolute by agentctl), listed, its unpacked
# busybox runs; a hostile archive (a layer entry "../../evil") is refused with a message naming
# the entry and leaves nothing behind; removing one image keeps the layers the other still uses.
source "$(dirname "$0")/lib.sh"

BUSYBOX=$(command -v busybox || true)
[ -x /bin/busybox ] && BUSYBOX=/bin/busybox
if [ -z "$BUSYBOX" ] || ! file -L "$BUSYBOX" | grep -q 'statically linked'; then
  echo "skip: needs Debian's busybox-static (tools/deps installs it)"
  exit 0
fi

bash "$(dirname "$0")/tools/busybox_image.sh" "$BUSYBOX" "$WORK"
[ -f "$WORK/evil.tar" ] || { fail "python3 builds the archives"; finish; }

start_dev img -node_name=imgtest || { fail "agent dev starts"; finish; }
ctl() { "$AGENTCTL" -socket "$SOCK" "$@"; }

out=$(cd "$WORK" && ctl image load docker.tar 2>&1)
check "agentctl image load of a docker save archive by a relative path" grep -q "Loaded image busybox:docker" <<<"$out"
out=$(ctl image load "$WORK/oci.tar" -name busybox:oci-named 2>&1)
check "agentctl image load of an OCI archive with -name" grep -q "Loaded image busybox:oci-named" <<<"$out"
list=$(ctl image list)
check "image list shows the docker image" grep -q "^busybox:docker " <<<"$list"
check "image list shows the OCI image" grep -q "^busybox:oci-named " <<<"$list"
check "both images have two layers" bash -c '[ "$(grep -c "  2  " <<<"$1")" = 2 ]' _ "$list"
check "the JSON list names both" bash -c '"$1" -socket "$2" -format json image list | python3 -c "import json,sys; d=json.load(sys.stdin); assert sorted(n for i in d for n in i[\"Names\"]) == [\"busybox:docker\", \"busybox:oci-named\"]"' _ "$AGENTCTL" "$SOCK"
layers=$(ls "$DATA/images/layers/sha256" | grep -vc json)
check "the two images share their two layers (same diff_ids)" [ "$layers" = 2 ]
bb=$(find "$DATA/images/layers/sha256" -path '*/bin/busybox' | head -n 1)
check "the unpacked busybox runs" bash -c '[ "$("$1" echo unpacked-ok)" = unpacked-ok ]' _ "$bb"
check "its symlinks are kept" bash -c '[ "$(readlink "$(dirname "$1")/sh")" = busybox ]' _ "$bb"

out=$(ctl image load "$WORK/evil.tar" 2>&1); rc=$?
check "a hostile archive is refused (exit 1)" [ "$rc" = 1 ]
check "with a message naming the entry and why" grep -q 'entry "../../evil": path with a ".." component' <<<"$out"
echo "  $out"
check "nothing escaped the store" bash -c '! [ -e "$1/evil" ] && ! [ -e "$1/images/evil" ] && ! [ -e "$1/../evil" ]' _ "$DATA"
check "and nothing of it was kept" bash -c '[ "$(ls "$1/images/layers/sha256" | grep -vc json)" = 2 ] && [ -z "$(ls "$1/images/tmp")" ]' _ "$DATA"
check "a missing file is refused" bash -c '! "$1" -socket "$2" image load /nonexistent.tar 2>/dev/null' _ "$AGENTCTL" "$SOCK"

check "agentctl image rm removes a name" ctl image rm busybox:docker
list=$(ctl image list)
check "the removed image is gone from the list" bash -c '! grep -q busybox:docker <<<"$1" && grep -q busybox:oci-named <<<"$1"' _ "$list"
check "the layers the other image uses stay" bash -c '[ "$(ls "$1/images/layers/sha256" | grep -vc json)" = 2 ]' _ "$DATA"
check "removing an unknown image fails" bash -c '! "$1" -socket "$2" image rm nope:1 2>/dev/null' _ "$AGENTCTL" "$SOCK"
check "removing the last image collects its layers" bash -c '"$1" -socket "$2" image rm busybox:oci-named && [ -z "$(ls "$3/images/layers/sha256")" ]' _ "$AGENTCTL" "$SOCK" "$DATA"
finish
