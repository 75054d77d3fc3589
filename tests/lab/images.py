"""Build OCI images from random bytes and push them over the registry v2 upload API (no docker).

Every call makes new random content, so a runtime's digest cache never hides a request from a test that
counts them. Single-platform pushes give an OCI manifest; several platforms (or ``index=True``) give an OCI
index whose children are pushed by digest first.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.client
import io
import json
import os
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
TIMEOUT = 60.0
MAX_REPLY = 1 << 20  # registry replies to pushes are small JSON documents


class PushError(RuntimeError):
    """The registry refused a push step; the message has the step and status (never credentials)."""


@dataclass(frozen=True)
class Pushed:
    """What was pushed. ``digest``/``size``/``media_type`` describe the document the tag points at."""

    registry: str
    repo: str
    tag: str
    digest: str
    size: int                      # bytes of the tagged manifest or index document
    media_type: str                # MANIFEST or INDEX
    platforms: tuple[str, ...]
    manifests: dict[str, str] = field(default_factory=dict)   # platform -> manifest digest
    layers_size: int = 0           # compressed layer bytes of one platform's image
    layer_digests: tuple[str, ...] = ()   # every layer blob pushed (all platforms)

    @property
    def ref(self) -> str:
        """``registry/repo:tag`` as a pod spec would name it."""
        return f"{self.registry}/{self.repo}:{self.tag}"

    @property
    def by_digest(self) -> str:
        return f"{self.registry}/{self.repo}@{self.digest}"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def make_layer(size: int) -> bytes:
    """A gzip'd tar holding one file of ``size`` random bytes (random, so gzip cannot shrink it)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info = tarfile.TarInfo("lab/random.bin")
        info.size = size
        info.mode = 0o644
        tar.addfile(info, io.BytesIO(os.urandom(size)))
    return gzip.compress(raw.getvalue(), compresslevel=1, mtime=0)


@dataclass(frozen=True)
class _Reply:
    status: int
    location: str
    body: bytes


class _Client:
    """One keep-alive connection to a registry; every request has a timeout and a bounded read."""

    def __init__(self, registry: str, auth: tuple[str, str] | None) -> None:
        host, _, port = registry.rpartition(":")
        self._conn = http.client.HTTPConnection(host, int(port), timeout=TIMEOUT)
        self._headers: dict[str, str] = {}
        if auth is not None:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> _Reply:
        all_headers = {**self._headers, **(headers or {})}
        if body is not None:
            all_headers.setdefault("Content-Type", "application/octet-stream")
        self._conn.request(method, path, body=body, headers=all_headers)
        resp = self._conn.getresponse()
        data = resp.read(MAX_REPLY)
        if not resp.isclosed():  # over the cap: do not reuse a connection with unread bytes
            self._conn.close()
        return _Reply(resp.status, resp.headers.get("Location", ""), data)

    def close(self) -> None:
        self._conn.close()


def _check(reply: _Reply, step: str, ok: Sequence[int]) -> None:
    if reply.status not in ok:
        body = reply.body[:300].decode("utf-8", "replace")
        raise PushError(f"{step}: HTTP {reply.status} {body}")


def _push_blob(client: _Client, repo: str, data: bytes) -> str:
    digest = _digest(data)
    if client.request("HEAD", f"/v2/{repo}/blobs/{digest}").status == 200:
        return digest
    resp = client.request("POST", f"/v2/{repo}/blobs/uploads/")
    _check(resp, f"start upload to {repo}", (202,))
    loc = urlsplit(resp.location)  # absolute URL with a _state query; keep our own host
    path = f"{loc.path}?{loc.query}&digest={digest}" if loc.query else f"{loc.path}?digest={digest}"
    resp = client.request("PUT", path, body=data)
    _check(resp, f"upload blob to {repo}", (201,))
    return digest


def _push_manifest(client: _Client, repo: str, ref: str, doc: dict[str, object], media_type: str) -> tuple[str, int]:
    data = json.dumps(doc, separators=(",", ":")).encode()
    resp = client.request("PUT", f"/v2/{repo}/manifests/{ref}", body=data, headers={"Content-Type": media_type})
    _check(resp, f"put manifest {repo}:{ref}", (201,))
    return _digest(data), len(data)


def _push_image(client: _Client, repo: str, ref: str | None, platform: str, layer_bytes: int,
                layers: int) -> tuple[str, int, int, list[str]]:
    """Push layers, config and manifest; the manifest goes under ``ref`` (its own digest when None)."""
    os_name, _, arch = platform.partition("/")
    arch, _, variant = arch.partition("/")
    blobs = [make_layer(layer_bytes) for _ in range(layers)]
    layer_descs = [{"mediaType": LAYER, "digest": _push_blob(client, repo, b), "size": len(b)} for b in blobs]
    config: dict[str, object] = {
        "architecture": arch, "os": os_name,
        "config": {"Cmd": ["/lab/none"]},
        "rootfs": {"type": "layers",
                   "diff_ids": [_digest(gzip.decompress(b)) for b in blobs]},
    }
    if variant:
        config["variant"] = variant
    config_data = json.dumps(config).encode()
    manifest = {
        "schemaVersion": 2, "mediaType": MANIFEST,
        "config": {"mediaType": CONFIG, "digest": _push_blob(client, repo, config_data), "size": len(config_data)},
        "layers": layer_descs,
    }
    ref = ref or _digest(json.dumps(manifest, separators=(",", ":")).encode())
    digest, size = _push_manifest(client, repo, ref, manifest, MANIFEST)
    return digest, size, sum(len(b) for b in blobs), [str(d["digest"]) for d in layer_descs]


def push(registry: str, repo: str, tag: str, *, platforms: Sequence[str] = ("linux/amd64",),
         layer_bytes: int = 1024, layers: int = 1, index: bool | None = None,
         auth: tuple[str, str] | None = None) -> Pushed:
    """Push a fresh random image to ``registry`` ("127.0.0.1:PORT") as ``repo:tag``.

    ``index=None`` makes an OCI index when more than one platform is given; ``True`` forces one (e.g. an
    index holding only linux/arm64 and linux/s390x, to reproduce a platform mismatch). ``auth`` is
    (user, password) sent as Basic auth, for the htpasswd registry.
    """
    if not platforms:
        raise ValueError("push needs at least one platform")
    make_index = len(platforms) > 1 if index is None else index
    if not make_index and len(platforms) > 1:
        raise ValueError("several platforms need an index")
    client = _Client(registry, auth)
    try:
        children: dict[str, tuple[str, int]] = {}
        layers_size = 0
        layer_digests: list[str] = []
        for platform in platforms:
            digest, size, lsize, ldigests = _push_image(client, repo, None if make_index else tag, platform,
                                                        layer_bytes, layers)
            children[platform] = (digest, size)
            layers_size = layers_size or lsize
            layer_digests += ldigests
        if not make_index:
            (digest, size), = children.values()
            media_type = MANIFEST
        else:
            entries = []
            for platform, (child, child_size) in children.items():
                os_name, _, arch = platform.partition("/")
                arch, _, variant = arch.partition("/")
                plat = {"architecture": arch, "os": os_name, **({"variant": variant} if variant else {})}
                entries.append({"mediaType": MANIFEST, "digest": child, "size": child_size, "platform": plat})
            digest, size = _push_manifest(client, repo, tag, {"schemaVersion": 2, "mediaType": INDEX,
                                                              "manifests": entries}, INDEX)
            media_type = INDEX
    finally:
        client.close()
    return Pushed(registry=registry, repo=repo, tag=tag, digest=digest, size=size, media_type=media_type,
                  platforms=tuple(platforms), manifests={p: d for p, (d, _) in children.items()},
                  layers_size=layers_size, layer_digests=tuple(layer_digests))
