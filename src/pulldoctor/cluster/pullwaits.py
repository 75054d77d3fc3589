"""How long the kubelet's pulls waited in its own queue, per node, from the ``Pulled`` events.

Why: with ``serializeImagePulls: true`` (the default) or ``maxParallelImagePulls`` reached, a pull waits for the
ones before it; since 1.29 the kubelet's event says so: ``Successfully pulled image "X" in 2.03s (41.5s including
waiting)`` (kubernetes pkg/kubelet/images/image_manager.go). A cancelled or slow pull on a node whose other
pulls mostly waited is a queue, not (only) a slow registry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pulldoctor.cluster.snapshot import Snapshot

_D = r"([0-9hmsµun.]{1,32})"  # a Go duration
_PULLED = re.compile(r'pulled image "([^"]{1,1024})" in ' + _D + r" \(" + _D + r" including waiting\)")
_PART = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|µs|us|ns)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "µs": 1e-6, "us": 1e-6, "ns": 1e-9}
MAX_PER_NODE = 20


def go_duration(text: str) -> float | None:
    """Seconds of a Go ``time.Duration`` string (``1m2.5s``, ``450ms``); None if it is not one."""
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(n) * _UNIT[u] for n, u in parts)


@dataclass(frozen=True, slots=True)
class PullWait:
    image: str
    pulling: float    # seconds the pull itself took
    total: float      # seconds including the wait in the kubelet's queue

    @property
    def waited(self) -> float:
        return max(self.total - self.pulling, 0.0)


def by_node(snapshot: Snapshot) -> dict[str, list[PullWait]]:
    """The waits of the ``Pulled`` events of each node's pods, in the input's order (at most 20 per node)."""
    node_of = {p.metadata.uid: p.spec.node_name for p in snapshot.pods if p.metadata.uid and p.spec.node_name}
    by_name = {(p.metadata.namespace, p.metadata.name): p.spec.node_name for p in snapshot.pods if p.spec.node_name}
    out: dict[str, list[PullWait]] = {}
    for ev in snapshot.events:
        if ev.reason != "Pulled":
            continue
        text = ev.message or ev.note
        if "including waiting" not in text:
            continue
        m = _PULLED.search(text)
        obj = ev.involved_object or ev.regarding
        if m is None or obj is None:
            continue
        node = node_of.get(obj.uid) or by_name.get((obj.namespace, obj.name))
        pulling, total = go_duration(m.group(2)), go_duration(m.group(3))
        if node and pulling is not None and total is not None:
            waits = out.setdefault(node, [])
            waits.append(PullWait(m.group(1), pulling, total))
            if len(waits) > MAX_PER_NODE:
                del waits[0]
    return out
