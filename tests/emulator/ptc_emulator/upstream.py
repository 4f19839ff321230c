"""Loopback upstream registries (CNCF Distribution) and the map from real upstream names."""

from __future__ import annotations

import base64
import ctypes
import fnmatch
import json
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from . import images

REGISTRY_BINARY = "/usr/bin/docker-registry"

UPSTREAM_USERNAME = "ptc-user"
UPSTREAM_TOKEN = "ptc-upstream-token-5f2b9c7e41d8"

# Real upstream registry host (glob) -> loopback registry standing in for it.
UPSTREAM_MAP: dict[str, str] = {
    "registry-1.docker.io": "authenticated",
    "docker.io": "authenticated",
    "ghcr.io": "authenticated",
    "registry.gitlab.com": "authenticated",
    "*.azurecr.io": "authenticated",
    "quay.io": "anonymous",
    "registry.k8s.io": "anonymous",
    "public.ecr.aws": "anonymous",
    "cgr.dev": "anonymous",
    "*.dkr.ecr.*.amazonaws.com": "anonymous",
}

DEFAULT_ACCEPT = images.ALL_MANIFEST_TYPES + [
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
]


class UpstreamError(Exception):
    """An upstream fetch failed; kind is one of not-found, auth, unreachable, error."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def normalize_host(url: str) -> str:
    host = url.strip()
    for scheme in ("https://", "http://"):
        if host.lower().startswith(scheme):
            host = host[len(scheme):]
    return host.split("/", 1)[0].lower()


class Upstreams:
    """Holds the running registries; resolves upstream URLs to loopback addresses."""

    def __init__(self) -> None:
        self.addresses: dict[str, str] = {}  # "anonymous"/"authenticated" -> "127.0.0.1:port"
        self.procs: list[subprocess.Popen] = []

    def resolve(self, upstream_registry_url: str) -> str | None:
        """Loopback host:port for a rule's upstreamRegistryUrl, None when unmapped."""
        host = normalize_host(upstream_registry_url)
        for name, addr in self.addresses.items():
            if host == addr:
                return addr
        for pattern, name in UPSTREAM_MAP.items():
            if fnmatch.fnmatchcase(host, pattern):
                return self.addresses.get(name)
        return None

    # ---- process management -------------------------------------------------------------

    def start(self, state_dir: str) -> None:
        for name in ("anonymous", "authenticated"):
            self.addresses[name] = self._start_registry(name, state_dir)

    def _start_registry(self, name: str, state_dir: str) -> str:
        base = os.path.join(state_dir, "registries", name)
        os.makedirs(base, exist_ok=True)
        port = free_port()
        lines = [
            "version: 0.1",
            "log:",
            "  level: error",
            "  accesslog:",
            "    disabled: true",
            "storage:",
            "  filesystem:",
            f"    rootdirectory: {os.path.join(base, 'data')}",
            "  delete:",
            "    enabled: true",
            "  maintenance:",
            "    uploadpurging:",
            "      enabled: false",
            "http:",
            f"  addr: 127.0.0.1:{port}",
        ]
        if name == "authenticated":
            htpasswd = os.path.join(base, "htpasswd")
            _write_htpasswd(htpasswd, UPSTREAM_USERNAME, UPSTREAM_TOKEN)
            lines += ["auth:", "  htpasswd:", "    realm: ptc-upstream", f"    path: {htpasswd}"]
        config = os.path.join(base, "config.yml")
        with open(config, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        log = open(os.path.join(base, "registry.log"), "ab")
        proc = subprocess.Popen(
            [REGISTRY_BINARY, "serve", config],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            preexec_fn=_die_with_parent,
        )
        log.close()
        self.procs.append(proc)
        addr = f"127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} registry exited with {proc.returncode}; see {base}/registry.log")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} registry did not start on {addr}")
                time.sleep(0.02)
        return addr

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs = []

    # ---- test images ------------------------------------------------------------------------

    def seed(self, state_dir: str) -> list[dict]:
        """Make sure every test image is in its registry; returns the ready-file image list."""
        cache = os.path.join(state_dir, "layouts")
        os.makedirs(cache, exist_ok=True)

        def one(spec: dict) -> dict:
            addr = self.addresses[spec["upstream"]]
            creds = self.credentials_for(spec["upstream"])
            found = self._head(addr, spec["repository"], spec["tag"], creds)
            if found is None:
                layout = images.ensure_layout(spec, cache)
                cmd = ["skopeo", "copy", "--quiet", "--all", "--dest-tls-verify=false", "--retry-times", "2"]
                fmt = images.skopeo_format(spec)
                if fmt:
                    cmd += ["--format", fmt]
                if creds:
                    cmd += ["--dest-creds", f"{creds[0]}:{creds[1]}"]
                cmd += [f"oci:{layout.path}:{spec['tag']}", f"docker://{addr}/{spec['repository']}:{spec['tag']}"]
                res = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
                if res.returncode != 0:
                    raise RuntimeError(f"skopeo push of {spec['repository']}:{spec['tag']} failed: {res.stderr.strip()}")
                found = self._head(addr, spec["repository"], spec["tag"], creds)
                if found is None:
                    raise RuntimeError(f"{spec['repository']}:{spec['tag']} missing after push")
            media_type, digest = found
            return {"upstream": spec["upstream"], "repository": spec["repository"], "tag": spec["tag"],
                    "media_type": media_type, "digest": digest}

        with ThreadPoolExecutor(max_workers=len(images.IMAGES)) as pool:
            return list(pool.map(one, images.IMAGES))

    def credentials_for(self, upstream: str) -> tuple[str, str] | None:
        return (UPSTREAM_USERNAME, UPSTREAM_TOKEN) if upstream == "authenticated" else None

    def _head(self, addr: str, repository: str, tag: str, creds) -> tuple[str, str] | None:
        try:
            status, headers, _ = http_get(f"http://{addr}/v2/{repository}/manifests/{tag}",
                                          accept=images.ALL_MANIFEST_TYPES, creds=creds, method="HEAD")
        except OSError:
            return None
        if status != 200:
            return None
        return headers.get("Content-Type", "").split(";")[0].strip(), headers.get("Docker-Content-Digest", "")


def http_get(url: str, accept=None, creds=None, method: str = "GET", timeout: float = 10.0):
    """Plain HTTP request; returns (status, headers, body). Network errors raise OSError."""
    req = urllib.request.Request(url, method=method)
    if accept:
        req.add_header("Accept", ", ".join(accept))
    if creds:
        token = base64.b64encode(f"{creds[0]}:{creds[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        body = err.read() if err.fp else b""
        return err.code, err.headers, body


def fetch_manifest(addr: str, path: str, tag: str, accept: list[str], creds) -> tuple[bytes, str, str]:
    """GET a manifest from a loopback upstream; returns (body, media type, digest)."""
    url = f"http://{addr}/v2/{path}/manifests/{tag}"
    try:
        status, headers, body = http_get(url, accept=accept, creds=creds)
    except OSError as err:
        raise UpstreamError("unreachable", f"the upstream registry could not be reached: {err}") from None
    if status == 200:
        media_type = headers.get("Content-Type", "").split(";")[0].strip()
        if not media_type or media_type == "application/json":
            try:
                media_type = json.loads(body).get("mediaType") or media_type
            except ValueError:
                pass
        return body, media_type, headers.get("Docker-Content-Digest", "")
    if status == 401:
        raise UpstreamError("auth", "authentication to the upstream registry failed")
    if status == 403:
        raise UpstreamError("auth", "the upstream registry denied access to the repository")
    if status == 404:
        raise UpstreamError("not-found", f"the image {path}:{tag} was not found in the upstream registry")
    raise UpstreamError("error", f"the upstream registry answered HTTP {status}")


def login(addr: str, creds) -> int:
    """GET /v2/ with basic auth; returns the HTTP status (raises OSError when unreachable)."""
    status, _, _ = http_get(f"http://{addr}/v2/", creds=creds, timeout=5.0)
    return status


def _write_htpasswd(path: str, user: str, password: str) -> None:
    import bcrypt

    try:
        with open(path) as fh:
            line = fh.read().strip()
        u, h = line.split(":", 1)
        if u == user and bcrypt.checkpw(password.encode(), h.encode()):
            return
    except (OSError, ValueError):
        pass
    hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(f"{user}:{hashed}\n")
    os.replace(tmp, path)


def _die_with_parent() -> None:
    """Child side of fork: ask Linux to SIGTERM the registry when the emulator dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        os.setpgid(0, 0)
    except OSError:
        pass
