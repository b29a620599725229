#!/usr/bin/env bash
# busybox_image.sh BUSYBOX WORK: a two-layer image made from Debian's busybox-static (layer 1:
# /bin/busybox and sh, ls, echo, cat links; layer 2: /etc/hostname), written into WORK as a
# `docker save` archive (docker.tar, tag busybox:docker), an OCI archive with gzip layers
# (oci.tar, ref busybox:oci), and a hostile OCI archive whose layer writes "../../evil"
# (evil.tar). Used by image_test.sh and oci_test.sh.
set -euo pipefail
BUSYBOX=$1
WORK=$2
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
