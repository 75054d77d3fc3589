"""What a probe is asked and what it answers: plain dataclasses, no network, no aiohttp.

Kept apart from the client so that the diagnosis and the renderers can use the result types without
paying for aiohttp's import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pulldoctor.causes import Cause
from pulldoctor.errors import UsageError
from pulldoctor.runtime import CRIO_NEWEST, NEWEST, Runtime, runtime_option

if TYPE_CHECKING:
    from pulldoctor.keyring import Credential
    from pulldoctor.reference import ImageRef
    from pulldoctor.registry.hosts import HostsDir

KIB = 1024
MIB = 1024 * KIB


@dataclass(frozen=True)
class ProbeOptions:
    """How far and how long a probe may go. Every limit here bounds a network call or a loop."""

    insecure_registries: frozenset[str] = frozenset()
    #: Loopback registries the nodes reach over HTTPS anyway (a hosts.toml ``server = "https://…"``).
    https_registries: frozenset[str] = frozenset()
    ca_file: str | None = None
    dns_timeout: float = 5.0
    connect_timeout: float = 5.0
    request_timeout: float = 15.0  # whole request: connect, headers and capped body
    probe_timeout: float = 60.0  # one image, every request and credential included
    manifest_cap: int = 4 * MIB  # containerd refuses manifests above 4 MiB too
    body_cap: int = 64 * KIB  # error bodies, tokens, image configs
    tags_page_cap: int = 1 * MIB
    tags_max_pages: int = 20
    tags_page_size: int = 1000
    max_redirects: int = 5
    per_registry_concurrency: int = 64  # probes in flight per registry (and pooled connections per host)
    max_suggestions: int = 5
    fetch_manifest: bool = True  # GET the manifest body for platforms and size (a Docker Hub "pull")
    #: After an index, also GET the chosen platform's manifest for the compressed size (preflight needs none).
    fetch_size: bool = True
    min_ratelimit_remaining: int = 5  # below this, do not spend a Docker Hub pull on a GET
    sample_bytes: int = 4 * MIB  # throughput sample of the largest layer (requests that ask for it)
    sample_seconds: float = 3.0
    #: The node's containerd registry config (``--hosts-dir``), parsed; None = containerd's defaults.
    hosts: HostsDir | None = None
    #: The node's runtime, whose scheme and manifest rules the probe follows (default: the newest).
    runtime: Runtime = NEWEST

    @staticmethod
    def build(
        insecure_registries: Iterable[str] = (),
        ca_file: str | None = None,
        https_registries: Iterable[str] = (),
        hosts_dir: str | None = None,
        runtime: str | Runtime | None = None,
        registries_conf: str | None = None,
        **kwargs: Any,
    ) -> ProbeOptions:
        """Options from CLI-style values; host names are compared case-insensitively. ``hosts_dir`` is read
        here, so a malformed hosts.toml is an InputError before any probe starts."""
        hosts: HostsDir | None = None
        if hosts_dir and registries_conf:
            raise UsageError("--hosts-dir is containerd's registry config and --registries-conf CRI-O's: give the "
                             "one of the nodes' runtime")
        if hosts_dir:
            from pulldoctor.registry.hosts import load

            hosts = load(hosts_dir)
        elif registries_conf:
            from pulldoctor.registry import registries_conf as rc

            hosts = rc.load(registries_conf)
            runtime = runtime or CRIO_NEWEST
        return ProbeOptions(
            insecure_registries=_hosts(insecure_registries, "--insecure-registry"),
            https_registries=_hosts(https_registries, "https registry"),
            ca_file=ca_file,
            hosts=hosts,
            runtime=runtime_option(runtime) if isinstance(runtime, str) else (runtime or NEWEST),
            **kwargs,
        )


def _hosts(values: Iterable[str], option: str) -> frozenset[str]:
    """``HOST[:PORT]`` values as given on a command line; a scheme prefix is tolerated and dropped.
    Anything else (spaces, a path, a port outside 1–65535, nothing at all) is a usage error."""
    out = set()
    for given in values:
        v = given.strip().lower()
        for prefix in ("http://", "https://"):
            v = v.removeprefix(prefix)
        v = v.rstrip("/")
        m = _HOST_PORT.fullmatch(v)
        if not m or (m.group("port") and not 0 < int(m.group("port")) <= 65535):
            raise UsageError(f"{option} must be HOST[:PORT], got {given[:100]!r}")
        out.add(v)
    return frozenset(out)


#: A host name, an IPv4 address or a bracketed IPv6 address, with an optional port.
_HOST_PORT = re.compile(r"(?:[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?|\[[0-9a-f:.]{2,45}\])(?::(?P<port>[0-9]{1,5}))?")


def _size(n: int) -> str:
    from pulldoctor.registry.manifest import human_size

    return human_size(n)


@dataclass(frozen=True)
class ProbeRequest:
    """One image to probe with the credentials the kubelet would try, in its order."""

    image: str | ImageRef
    credentials: Sequence[Credential] = ()
    platform: str = "linux/amd64"
    #: Also time a bounded download of the largest layer (for slow/cancelled pulls; costs up to
    #: ``sample_bytes``/``sample_seconds``; blob GETs are not Docker Hub pulls).
    sample_throughput: bool = False
    #: The node's runtime, when it differs from ``ProbeOptions.runtime`` (``diagnose``: each node's own).
    runtime: Runtime | None = None


@dataclass
class Step:
    """One thing the probe did, as a node would do it, and how it went."""

    name: str
    ok: bool
    detail: str
    elapsed: float = 0.0  # seconds
    host: str | None = None  # the host tried ("https://mirror:5000") when a hosts.toml lists several

    def to_json(self) -> dict[str, object]:
        doc: dict[str, object] = {"name": self.name, "ok": self.ok, "detail": self.detail,
                                  "elapsed": round(self.elapsed, 4)}
        if self.host is not None:
            doc["host"] = self.host
        return doc


@dataclass
class Throughput:
    """A bounded sample of one blob download (``Range: bytes=0-N``, capped in bytes and time): how fast the
    registry serves layer bytes to us. Blob GETs do not count as Docker Hub pulls."""

    blob: str                      # digest sampled (the largest layer)
    blob_size: int                 # that layer's size
    received: int = 0              # bytes read within the caps
    seconds: float = 0.0           # from the request to the end of the sample (the time cap at most)
    ttfb: float | None = None      # seconds to the first body byte; None = none came
    rate: float | None = None      # sustained bytes/s (after the first chunk, which buffers inflate)
    status: int | None = None
    capped_by: str = ""            # "bytes" | "time" | "complete" | "error"
    error: str = ""

    @property
    def stalled(self) -> bool:
        """No body byte at all within the time cap: the symptom of a stall, not of a slow link."""
        return self.ttfb is None and not self.error

    def estimate(self, size: int | None) -> float | None:
        """Seconds to fetch ``size`` bytes at the measured rate."""
        if size is None or self.rate is None or self.rate <= 0:
            return None
        return size / self.rate

    def describe(self) -> str:
        if self.error:
            return f"sampling blob {self.blob[:19]}… failed: {self.error}"
        if self.ttfb is None:
            return f"no byte of blob {self.blob[:19]}… within {self.seconds:.1f} s (stalled)"
        shown = _size(int(self.rate)) + "/s" if self.rate is not None else "rate not measurable"
        return (f"{_size(self.received)} of blob {self.blob[:19]}… ({_size(self.blob_size)}) in "
                f"{self.seconds:.2f} s, first byte after {self.ttfb * 1000:.0f} ms: {shown}")

    def to_json(self) -> dict[str, object]:
        return {
            "blob": self.blob, "blob_size": self.blob_size, "received": self.received,
            "seconds": round(self.seconds, 4), "ttfb": round(self.ttfb, 4) if self.ttfb is not None else None,
            "rate": round(self.rate, 1) if self.rate is not None else None, "status": self.status,
            "capped_by": self.capped_by, "stalled": self.stalled, "error": self.error or None,
        }


@dataclass
class RateLimit:
    """Docker Hub's ``ratelimit-limit``/``ratelimit-remaining`` headers (``100;w=21600``)."""

    limit: int | None = None
    remaining: int | None = None
    window: int | None = None  # seconds
    source: str | None = None
    retry_after: int | None = None

    def describe(self) -> str:
        """``0 of 100 left per 21600 s, retry after 60 s`` (parts that are known)."""
        parts = []
        if self.remaining is not None and self.limit is not None:
            parts.append(f"{self.remaining} of {self.limit} left")
        elif self.limit is not None:
            parts.append(f"limit {self.limit}")
        elif self.remaining is not None:
            parts.append(f"{self.remaining} left")
        if self.window:
            parts.append(f"per {self.window} s")
        if self.retry_after is not None:
            parts.append(f"retry after {self.retry_after} s")
        return " ".join(parts) or "headers present"

    def to_json(self) -> dict[str, object]:
        return {
            "limit": self.limit,
            "remaining": self.remaining,
            "window": self.window,
            "source": self.source,
            "retry_after": self.retry_after,
        }


@dataclass
class ProbeResult:
    """The probe's verdict: ``cause`` is None when a node could pull the image."""

    image: str
    cause: Cause | None = None
    steps: list[Step] = field(default_factory=list)
    digest: str | None = None
    platforms: list[str] = field(default_factory=list)
    size: int | None = None  # compressed layer bytes for the node's platform
    ratelimit: RateLimit | None = None
    suggestions: list[str] = field(default_factory=list)
    credentials_sent: bool = False
    status: int | None = None  # last HTTP status the registry answered
    url: str | None = None  # manifest URL asked (no credentials in it)
    media_type: str | None = None
    platform: str = "linux/amd64"
    credential: str | None = None  # which credential worked (user and fingerprint, never the password)
    host: str | None = None  # the host whose answer is the verdict ("https://mirror:5000"), when configured
    throughput: Throughput | None = None  # measured blob download rate (only when asked: slow pulls)
    similar_repositories: list[str] = field(default_factory=list)  # repository missing: close names in _catalog

    @property
    def pullable(self) -> bool:
        return self.cause is None

    @property
    def failed_step(self) -> Step | None:
        """The step that decided the verdict (the last failed one of the deciding host), or None when
        pullable."""
        if self.cause is None:
            return None
        if self.host is not None:
            own = next((s for s in reversed(self.steps) if not s.ok and s.host == self.host), None)
            if own is not None:
                return own
        return next((s for s in reversed(self.steps) if not s.ok), None)

    def summary(self) -> str:
        """One line: the verdict and the image (``pullable: …`` or ``<cause>: …``)."""
        return f"{'pullable' if self.cause is None else self.cause.value}: {self.image}"

    def facts(self) -> str:
        """Digest, platform and size when known, e.g. ``sha256:1a2b3c4d5e6f…, linux/amd64, 12.0 MiB``."""
        parts = [self.digest[:19] + "…" if self.digest else None, self.platform if self.digest else None,
                 _size(self.size) if self.size is not None else None]
        return ", ".join(p for p in parts if p)

    def to_json(self) -> dict[str, object]:
        return {
            "image": self.image,
            "cause": self.cause.value if self.cause is not None else None,
            "pullable": self.cause is None,
            "steps": [s.to_json() for s in self.steps],
            "digest": self.digest,
            "media_type": self.media_type,
            "platform": self.platform,
            "platforms": list(self.platforms),
            "size": self.size,
            "ratelimit": self.ratelimit.to_json() if self.ratelimit else None,
            "suggestions": list(self.suggestions),
            "credentials_sent": self.credentials_sent,
            "credential": self.credential,
            "status": self.status,
            "url": self.url,
            "host": self.host,
            "throughput": self.throughput.to_json() if self.throughput else None,
        }
