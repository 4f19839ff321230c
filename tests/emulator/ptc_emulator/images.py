"""Test images served by the loopback upstream registries.

The list below is the single source of truth: the emulator generates each image as an OCI
image layout (real gzip'd tar layers, config blobs, sha256 digests), pushes it with skopeo to
the named upstream registry and reports it in the ready file.

Kinds (what the upstream registry serves):
  docker       single-arch Docker v2 schema 2 manifest
  oci          single-arch OCI image manifest
  oci-index    multi-arch OCI image index
  docker-list  multi-arch Docker manifest list

Layouts are always written in OCI form (skopeo's OCI layout transport reads only OCI media
types); the Docker kinds are converted by `skopeo copy --format v2s2` while pushing, so the
digests reported in the ready file are the ones the registry serves.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
from dataclasses import dataclass, field

IMAGES: list[dict] = [
    # authenticated upstream (stands in for docker hub, ghcr, gitlab, azure)
    {"upstream": "authenticated", "repository": "library/nginx", "tag": "1.27", "kind": "docker"},
    {"upstream": "authenticated", "repository": "library/alpine", "tag": "3.20", "kind": "oci-index",
     "platforms": ["linux/amd64", "linux/arm64"]},
    {"upstream": "authenticated", "repository": "library/busybox", "tag": "1.36", "kind": "docker-list",
     "platforms": ["linux/amd64", "linux/arm64"]},
    {"upstream": "authenticated", "repository": "fluxcd/source-controller", "tag": "v1.4.1", "kind": "oci"},
    {"upstream": "authenticated", "repository": "grafana/grafana", "tag": "11.3.0", "kind": "docker"},
    # Docker Hub serves it for reading the pull limit (`HEAD` only, never pulled): "To view your current pull rate
    # and limit" in "Docker Hub pull usage and limits", https://docs.docker.com/docker-hub/usage/pulls/ (a HEAD of
    # registry-1.docker.io/v2/ratelimitpreview/test/manifests/latest does not count as a pull).
    {"upstream": "authenticated", "repository": "ratelimitpreview/test", "tag": "latest", "kind": "docker"},
    # anonymous upstream (stands in for quay, registry.k8s.io, public ECR, chainguard, ECR)
    {"upstream": "anonymous", "repository": "pause", "tag": "3.10", "kind": "oci-index",
     "platforms": ["linux/amd64", "linux/arm64"]},
    {"upstream": "anonymous", "repository": "coredns/coredns", "tag": "v1.11.3", "kind": "docker"},
    {"upstream": "anonymous", "repository": "prometheus/node-exporter", "tag": "v1.8.2", "kind": "oci"},
    {"upstream": "anonymous", "repository": "karpenter/controller", "tag": "1.0.6", "kind": "oci"},
]

GENERATOR_VERSION = "2"

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

ALL_MANIFEST_TYPES = [DOCKER_MANIFEST, DOCKER_LIST, OCI_MANIFEST, OCI_INDEX]

_FIXED_MTIME = 1704067200  # 2024-01-01T00:00:00Z: keeps every digest reproducible


@dataclass
class Layout:
    """A generated OCI layout for one image."""

    path: str
    media_type: str
    digest: str
    spec: dict = field(default_factory=dict)


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _dumps(obj: dict) -> bytes:
    return json.dumps(obj, indent=2, sort_keys=False).encode()


class _Blobs:
    def __init__(self, root: str) -> None:
        self.dir = os.path.join(root, "blobs", "sha256")
        os.makedirs(self.dir, exist_ok=True)

    def put(self, media_type: str, data: bytes, **extra) -> dict:
        digest = _sha(data)
        with open(os.path.join(self.dir, digest.split(":", 1)[1]), "wb") as fh:
            fh.write(data)
        desc = {"mediaType": media_type, "digest": digest, "size": len(data)}
        desc.update(extra)
        return desc


def _layer_tar(spec: dict, arch: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        def add_dir(name: str) -> None:
            info = tarfile.TarInfo(name)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            info.mtime = _FIXED_MTIME
            tar.addfile(info)

        def add_file(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = _FIXED_MTIME
            tar.addfile(info, io.BytesIO(data))

        add_dir("etc")
        add_file(
            "etc/ptc-test-image",
            f"repository={spec['repository']}\ntag={spec['tag']}\narch={arch}\n".encode(),
        )
    return buf.getvalue()


def _gzip(data: bytes) -> bytes:
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0, compresslevel=6) as gz:
        gz.write(data)
    return out.getvalue()


def _single(blobs: _Blobs, spec: dict, platform: str) -> dict:
    os_name, arch = platform.split("/", 1)
    tar = _layer_tar(spec, arch)
    layer = blobs.put(OCI_LAYER, _gzip(tar))
    config = {
        "architecture": arch,
        "os": os_name,
        "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["/bin/sh"], "Labels": {"ptc.test.image": f"{spec['repository']}:{spec['tag']}"}},
        "rootfs": {"type": "layers", "diff_ids": [_sha(tar)]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "ptc emulator test image"}],
    }
    cfg = blobs.put(OCI_CONFIG, _dumps(config))
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": cfg, "layers": [layer]}
    return blobs.put(manifest["mediaType"], _dumps(manifest),
                     platform={"architecture": arch, "os": os_name})


def generate_layout(spec: dict, root: str) -> Layout:
    """Write one image as an OCI layout under root (replacing what is there)."""
    if os.path.exists(root):
        shutil.rmtree(root)
    os.makedirs(root)
    blobs = _Blobs(root)
    kind = spec["kind"]
    if kind in ("docker", "oci"):
        top = _single(blobs, spec, "linux/amd64")
        top.pop("platform", None)
    elif kind in ("oci-index", "docker-list"):
        children = [_single(blobs, spec, p) for p in spec["platforms"]]
        index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}
        top = blobs.put(index["mediaType"], _dumps(index))
    else:
        raise ValueError(f"unknown image kind {kind!r}")
    top_ref = dict(top)
    top_ref["annotations"] = {"org.opencontainers.image.ref.name": spec["tag"]}
    with open(os.path.join(root, "oci-layout"), "w") as fh:
        json.dump({"imageLayoutVersion": "1.0.0"}, fh)
    with open(os.path.join(root, "index.json"), "w") as fh:
        json.dump({"schemaVersion": 2, "manifests": [top_ref]}, fh)
    return Layout(path=root, media_type=top["mediaType"], digest=top["digest"], spec=spec)


def layout_dir_name(spec: dict) -> str:
    return f"{spec['upstream']}--{spec['repository'].replace('/', '_')}--{spec['tag']}"


def ensure_layout(spec: dict, cache_dir: str) -> Layout:
    """Return the cached layout for spec, generating it when missing or stale."""
    root = os.path.join(cache_dir, layout_dir_name(spec))
    meta_path = os.path.join(root, "ptc-meta.json")
    want = {"generator": GENERATOR_VERSION, "spec": spec}
    try:
        with open(meta_path) as fh:
            meta = json.load(fh)
        if meta.get("want") == want:
            return Layout(path=root, media_type=meta["media_type"], digest=meta["digest"], spec=spec)
    except (OSError, ValueError, KeyError):
        pass
    layout = generate_layout(spec, root)
    with open(meta_path, "w") as fh:
        json.dump({"want": want, "media_type": layout.media_type, "digest": layout.digest}, fh)
    return layout


def skopeo_format(spec: dict) -> str | None:
    """The `skopeo copy --format` value that turns the OCI layout into the wanted kind."""
    return "v2s2" if spec["kind"] in ("docker", "docker-list") else None
