"""Write a single-layer OCI image archive from a root filesystem directory, without a container engine.

    python3 scripts/lib/oci_image.py ROOTFS OUT.tar --name localhost/standin/x:1 \
        [--entrypoint JSON] [--cmd JSON] [--workdir DIR] [--user USER] [--env K=V ...]

The archive is an OCI image layout (oci-layout, index.json, blobs/sha256/...) that
`ctr -n k8s.io images import` takes; the index names the image with the annotations containerd
reads (`io.containerd.image.name`, `org.opencontainers.image.ref.name`). File modes, owners and
symlinks are kept as they are in ROOTFS; times are clamped so that the same tree gives the same digest.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import tarfile
from pathlib import Path

EPOCH = 946684800  # 2000-01-01: reproducible layer bytes


def _layer(rootfs: Path) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for dirpath, dirnames, filenames in os.walk(rootfs):
            dirnames.sort()
            for name in sorted(dirnames) + sorted(filenames):
                path = Path(dirpath) / name
                arcname = str(path.relative_to(rootfs))
                info = tar.gettarinfo(str(path), arcname)
                info.mtime = min(info.mtime, EPOCH)
                info.uname = info.gname = ""
                if info.isfile():
                    with open(path, "rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
    return raw.getvalue()


def _blob(out: tarfile.TarFile, data: bytes) -> dict:
    digest = hashlib.sha256(data).hexdigest()
    info = tarfile.TarInfo(f"blobs/sha256/{digest}")
    info.size, info.mtime = len(data), EPOCH
    out.addfile(info, io.BytesIO(data))
    return {"digest": f"sha256:{digest}", "size": len(data)}


def build(rootfs: Path, target: Path, name: str, config: dict) -> str:
    layer_tar = _layer(rootfs)
    diff_id = "sha256:" + hashlib.sha256(layer_tar).hexdigest()
    layer_gz = gzip.compress(layer_tar, compresslevel=6, mtime=0)
    image_config = {
        "architecture": "amd64",
        "os": "linux",
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created_by": "clearml-openshift scripts/images.sh (stand-in image)"}],
    }
    tmp = target.with_suffix(".partial")
    with tarfile.open(tmp, "w") as out:
        layer = _blob(out, layer_gz) | {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip"}
        cfg = _blob(out, json.dumps(image_config, sort_keys=True).encode()) | {
            "mediaType": "application/vnd.oci.image.config.v1+json"}
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": cfg, "layers": [layer]}
        man = _blob(out, json.dumps(manifest, sort_keys=True).encode()) | {
            "mediaType": "application/vnd.oci.image.manifest.v1+json"}
        tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else "latest"
        man["annotations"] = {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag}
        for fname, data in (("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode()),
                            ("index.json", json.dumps({"schemaVersion": 2, "manifests": [man]}).encode())):
            info = tarfile.TarInfo(fname)
            info.size, info.mtime = len(data), EPOCH
            out.addfile(info, io.BytesIO(data))
    tmp.rename(target)
    return man["digest"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("rootfs", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--name", required=True)
    p.add_argument("--entrypoint", type=json.loads)
    p.add_argument("--cmd", type=json.loads)
    p.add_argument("--workdir")
    p.add_argument("--user")
    p.add_argument("--env", action="append", default=[])
    a = p.parse_args()
    config: dict = {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", *a.env]}
    for key, value in (("Entrypoint", a.entrypoint), ("Cmd", a.cmd), ("WorkingDir", a.workdir), ("User", a.user)):
        if value is not None:
            config[key] = value
    print(build(a.rootfs, a.out, a.name, config))


if __name__ == "__main__":
    main()
