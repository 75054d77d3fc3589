"""Groups: the same cause across many containers on one image, one registry or one node, reported once.

Forty pods failing with ``dns_failure`` against one registry are one outage, not forty typos. Each finding
joins at most one group: the first scope (in the cause's order of scopes) where it shares its cause with
another finding.
"""

from __future__ import annotations

from collections import defaultdict

from pulldoctor.causes import Cause
from pulldoctor.diagnosis.model import Finding, Group

C = Cause
_NODE_FIRST = frozenset({C.DISK_FULL, C.NEVER_PULL_ABSENT, C.PLATFORM_MISMATCH,
                         C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE, C.SIGNATURE_INVALID})
_REGISTRY_FIRST = frozenset({C.DNS_FAILURE, C.NETWORK_UNREACHABLE, C.TLS_ERROR, C.HTTP_VS_HTTPS,
                             C.RATE_LIMITED, C.REGISTRY_SERVER_ERROR, C.FORBIDDEN})
_WHAT = {"image": "image", "registry": "registry", "node": "node"}


def _scopes(cause: Cause) -> tuple[str, ...]:
    """Where a shared cause means one problem. A missing tag or secret is per image (two typos on one
    registry are two problems); an unreachable or refusing registry is one problem for all its images."""
    if cause in _NODE_FIRST:
        return ("node", "image")
    if cause in _REGISTRY_FIRST:
        return ("registry", "node", "image")
    return ("image",)


def _key(f: Finding, scope: str) -> str | None:
    if scope == "image":
        return f.image
    if scope == "registry":
        return f.registry
    return f.node


def group(findings: list[Finding]) -> list[Group]:
    """Groups of two or more findings; the largest first, then by cause and key for a stable order."""
    grouped: set[int] = set()
    out: list[Group] = []
    by_cause: dict[Cause, list[Finding]] = defaultdict(list)
    for f in findings:
        if f.cause != C.OTHER:
            by_cause[f.cause].append(f)
    for cause, members in by_cause.items():
        for scope in _scopes(cause):
            buckets: dict[str, list[Finding]] = defaultdict(list)
            for f in members:
                k = _key(f, scope)
                if k and id(f) not in grouped:
                    buckets[k].append(f)
            for key, fs in buckets.items():
                if len(fs) < 2:
                    continue
                grouped.update(id(f) for f in fs)
                out.append(Group(cause, scope, key, fs, _summary(cause, scope, key, fs)))
    out.sort(key=lambda g: (-len(g.members), g.cause.value, g.key))
    return out


def _summary(cause: Cause, scope: str, key: str, fs: list[Finding]) -> str:
    pods = {(f.namespace, f.pod) for f in fs}
    nss = {f.namespace for f in fs}
    where = f"{len(pods)} pod{'s' if len(pods) != 1 else ''}" + (
        f" in {len(nss)} namespaces" if len(nss) > 1 else "")
    kind = "one shared problem" if scope == "image" else f"one {_WHAT[scope]}-wide problem"
    return f"{cause.value} on {scope} {key}: {len(fs)} containers, {where} — {kind}, fix it once"
