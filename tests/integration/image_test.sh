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

# The image: layer 1 is busybox and its links, layer 2 adds /etc/hostname.
mkdir -p "$WORK/l1/bin" "$WORK/l2/etc"
cp "$BUSYBOX" "$WORK/l1/bin/busybox"
for app in sh ls echo cat; do ln -s busybox "$WORK/l1/bin/$app"; done
echo weft-image >"$WORK/l2/etc/hostname"
for l in l1 l2; do
  tar -C "$WORK/$l" --owner=0 --group=0 --numeric-owner --sort=name --mtime=@1700000000 -cf "$WORK/$l.tar" .
done

python3 - "$WORK" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
work = sys.argv[1]
def sha(b): return hashlib.sha256(b).hexdigest()
def tar_of(files, path, gz=False):
    with tarfile.open(path, "w:gz" if gz else "w", format=tarfile.PAX_FORMAT) as t:
        for name, data in sorted(files.items()):
            ti = tarfile.TarInfo(name); ti.size = len(data); ti.mtime = 1700000000
            t.addfile(ti, io.BytesIO(data))
layers = [open(os.path.join(work, l + ".tar"), "rb").read() for l in ("l1", "l2")]
diff_ids = ["sha256:" + sha(l) for l in layers]
config = json.dumps({"architecture": "amd64", "os": "linux",
                     "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
                     "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
# docker save, old layout.
files = {sha(config) + ".json": config,
         "manifest.json": json.dumps([{"Config": sha(config) + ".json", "RepoTags": ["busybox:docker"],
                                       "Layers": ["%d/layer.tar" % i for i in range(len(layers))]}]).encode()}
for i, l in enumerate(layers): files["%d/layer.tar" % i] = l
tar_of(files, os.path.join(work, "docker.tar"))
# OCI archive, gzip layers.
def oci(layer_blobs, config, ref, path):
    files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "blobs/sha256/" + sha(config): config}
    descs = []
    for b in layer_blobs:
        files["blobs/sha256/" + sha(b)] = b
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": "sha256:" + sha(b), "size": len(b)})
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + sha(config), "size": len(config)},
                           "layers": descs}).encode()
    files["blobs/sha256/" + sha(manifest)] = manifest
    files["index.json"] = json.dumps({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:" + sha(manifest), "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": ref}}]}).encode()
    tar_of(files, path)
oci([gzip.compress(l, mtime=0) for l in layers], config, "busybox:oci", os.path.join(work, "oci.tar"))
# Hostile: a layer that writes outside the root.
bad = io.BytesIO()
with tarfile.open(fileobj=bad, mode="w") as t:
    ti = tarfile.TarInfo("../../evil"); data = b"pwned"; ti.size = len(data); t.addfile(ti, io.BytesIO(data))
bad = bad.getvalue()
bad_config = json.dumps({"rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(bad)]}}).encode()
oci([gzip.compress(bad, mtime=0)], bad_config, "evil:1", os.path.join(work, "evil.tar"))
PY
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
