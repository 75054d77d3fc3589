"""The node's container runtime and version, and the pull semantics that depend on them.

Why: the same registry answers differently to different runtimes. containerd 1.6 talks plain HTTP to a
loopback registry; 1.7+ tries HTTPS first when TLS is configured for it; CRI-O (containers/image) never
treats loopback specially; containerd 2.0 refuses schema 1 manifests. The probe follows the node's runtime
(``containerRuntimeVersion``, or ``probe --runtime``) so its verdict is the one that node would reach.
Sources: containerd ``core/remotes/docker/config/hosts.go`` (HTTPS first, ``NewHTTPFallback``),
``core/remotes/docker/resolver.go`` (``isTLSError``: a plain-HTTP record header or a handshake timeout),
containers/image ``docker/docker_client.go`` (``detectProperties``: HTTPS, then HTTP only when insecure).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pulldoctor.errors import UsageError

_VERSION = re.compile(r"^([a-z0-9.-]+)://v?(\d{1,4})\.(\d{1,4})(?:\.(\d{1,4}))?")
_NAMES = {"containerd": "containerd", "cri-o": "cri-o", "crio": "cri-o", "docker": "docker"}


@dataclass(frozen=True, slots=True)
class Runtime:
    """A runtime kind (``containerd``, ``cri-o``, ``docker`` for cri-dockerd) and its version."""

    kind: str
    version: tuple[int, int, int]

    def __str__(self) -> str:
        shown = {"cri-o": "CRI-O", "docker": "Docker (cri-dockerd)"}.get(self.kind, self.kind)
        return f"{shown} {'.'.join(map(str, self.version))}"

    @property
    def loopback_is_plain_http(self) -> bool:
        """containerd and Docker use HTTP for localhost/127.0.0.0/8/::1; containers/image does not."""
        return self.kind != "cri-o"

    @property
    def https_first_when_tls_configured(self) -> bool:
        """containerd 1.7+: a plain-HTTP host with a TLS configuration and a port other than 80 is tried over
        HTTPS first, falling back to HTTP only on a plain-HTTP answer or a TLS handshake timeout."""
        return self.kind == "containerd" and self.version >= (1, 7, 0)

    @property
    def insecure_tries_https_first(self) -> bool:
        """containers/image: an ``insecure`` registry is tried over HTTPS without verification, then HTTP."""
        return self.kind == "cri-o"

    @property
    def rejects_schema1(self) -> bool:
        """containerd 2.0 removed Docker schema 1 manifests ("no longer supported since containerd v2.0")."""
        return self.kind == "containerd" and self.version >= (2, 0, 0)


#: What the probe assumes when it is not told: the newest behaviour (containerd 2.x).
NEWEST = Runtime("containerd", (2, 1, 0))
#: With a CRI-O registries.conf and no runtime named: the newest CRI-O.
CRIO_NEWEST = Runtime("cri-o", (1, 34, 0))


def parse_runtime(text: str | None) -> Runtime | None:
    """``containerd://1.7.2`` / ``cri-o://1.33.0`` (a node's ``containerRuntimeVersion``) → Runtime; None when
    it names no version pulldoctor knows (an unknown runtime keeps the newest behaviour)."""
    m = _VERSION.match((text or "").strip().lower())
    if m is None or m.group(1) not in _NAMES:
        return None
    return Runtime(_NAMES[m.group(1)], (int(m.group(2)), int(m.group(3)), int(m.group(4) or 0)))


def runtime_option(text: str) -> Runtime:
    """``--runtime`` as given on a command line; anything unreadable is a one-line usage error."""
    found = parse_runtime(text)
    if found is None:
        raise UsageError(f"--runtime {text[:80]!r}: give the node's runtime as containerd://VERSION, "
                         "cri-o://VERSION or docker://VERSION (its containerRuntimeVersion, e.g. containerd://2.1.4)")
    return found
