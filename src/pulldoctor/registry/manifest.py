"""Read what a node needs from manifests: the platforms an index offers, the one a node picks, the size.

Platform matching follows containerd's ``platforms`` package: names are normalised (``aarch64`` →
``arm64``, ``x86_64`` → ``amd64``), arm64's default variant is ``v8``, and a 32-bit arm node accepts
lower variants (v7 takes v7, v6, v5) in that order of preference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pulldoctor.errors import UsageError

_ARCH_ALIASES = {
    "x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64", "armhf": "arm", "armel": "arm", "i386": "386",
}


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        base = f"{self.os}/{self.architecture}"
        return f"{base}/{self.variant}" if self.variant else base


def normalize(os_: str, arch: str, variant: str = "") -> Platform:
    """containerd's ``platforms.Normalize``, reduced to what matters for pulls."""
    os_ = (os_ or "").lower()
    arch = _ARCH_ALIASES.get((arch or "").lower(), (arch or "").lower())
    variant = (variant or "").lower()
    if arch == "arm64" and variant in ("8", "v8"):
        variant = ""
    elif arch == "arm" and variant in ("", "7"):
        variant = "v7"
    elif arch == "arm" and variant in ("5", "6", "8"):
        variant = "v" + variant
    elif arch == "amd64" and variant == "v1":
        variant = ""
    return Platform(os_, arch, variant)


#: One part of OS/ARCH/VARIANT as OCI writes them (``linux``, ``arm64``, ``v8``, ``windows``).
_PLATFORM_PART = re.compile(r"[A-Za-z0-9._-]{1,64}")


def parse_platform(text: str) -> Platform:
    """``linux/arm64/v8`` → Platform; a malformed value is a usage error."""
    parts = text.strip().split("/")
    if not 2 <= len(parts) <= 3 or not all(_PLATFORM_PART.fullmatch(p) for p in parts):
        raise UsageError(f"--platform must be OS/ARCH[/VARIANT], got {text!r}")
    return normalize(*parts)


def accepts(node: Platform, candidate: Platform) -> int | None:
    """Preference rank (0 best) of ``candidate`` for ``node``, None when the node cannot run it."""
    if candidate.os != node.os or candidate.architecture != node.architecture:
        return None
    if candidate.variant == node.variant:
        return 0
    if node.architecture == "arm" and node.variant.startswith("v") and candidate.variant.startswith("v"):
        try:
            have, want = int(node.variant[1:]), int(candidate.variant[1:])
        except ValueError:
            return None
        return have - want if want < have else None
    if node.architecture == "amd64" and node.variant and not candidate.variant:
        return 1  # an amd64v3 node still runs plain amd64 images
    return None


def index_platforms(doc: dict[str, object], limit: int = 256) -> list[tuple[Platform, str, int]]:
    """(platform, digest, size) of each image in an index/manifest list; attestations are skipped."""
    out: list[tuple[Platform, str, int]] = []
    manifests = doc.get("manifests")
    if not isinstance(manifests, list):
        return out
    for m in manifests[:limit]:
        if not isinstance(m, dict):
            continue
        p = m.get("platform")
        digest = m.get("digest")
        if not isinstance(p, dict) or not isinstance(digest, str):
            continue
        plat = normalize(str(p.get("os", "")), str(p.get("architecture", "")), str(p.get("variant", "") or ""))
        if plat.os == "unknown" or plat.architecture == "unknown":
            continue  # BuildKit attestation manifests
        size = m.get("size")
        out.append((plat, digest, size if isinstance(size, int) else 0))
    return out


def choose(node: Platform, entries: list[tuple[Platform, str, int]]) -> tuple[Platform, str, int] | None:
    """The entry containerd would pick for ``node``: best rank, first in index order on ties."""
    best: tuple[int, int] | None = None
    chosen = None
    for i, entry in enumerate(entries):
        rank = accepts(node, entry[0])
        if rank is not None and (best is None or (rank, i) < best):
            best, chosen = (rank, i), entry
    return chosen


def layers_size(doc: dict[str, object], limit: int = 1024) -> tuple[int, int] | None:
    """Sum of compressed layer sizes and the layer count of an image manifest; None if it has no layers."""
    layers = doc.get("layers")
    if not isinstance(layers, list):
        return None
    total = 0
    count = 0
    for layer in layers[:limit]:
        if isinstance(layer, dict) and isinstance(layer.get("size"), int) and layer["size"] >= 0:
            total += layer["size"]
            count += 1
    return total, count


def largest_layer(doc: dict[str, object], limit: int = 1024) -> tuple[str, int] | None:
    """(digest, size) of the biggest layer: the blob whose download dominates a pull."""
    layers = doc.get("layers")
    best: tuple[str, int] | None = None
    if not isinstance(layers, list):
        return None
    for layer in layers[:limit]:
        if (isinstance(layer, dict) and isinstance(layer.get("digest"), str) and isinstance(layer.get("size"), int)
                and (best is None or layer["size"] > best[1])):
            best = (layer["digest"], layer["size"])
    return best


def config_digest(doc: dict[str, object]) -> str | None:
    cfg = doc.get("config")
    digest = cfg.get("digest") if isinstance(cfg, dict) else None
    return digest if isinstance(digest, str) else None


def human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"
