"""Probe each distinct (image, credentials, platform) once, the way the node would pull it.

Requests are deduplicated so that forty pods of one Deployment cost one probe; ``probe_many`` runs them
concurrently under the registry part's own per-request timeouts, and the whole batch has a deadline too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from pulldoctor.causes import Cause
from pulldoctor.diagnosis.evidence import Evidence

#: Failures a probe of the registry cannot tell anything about.
_NODE_ONLY = frozenset({Cause.INVALID_IMAGE_NAME, Cause.NEVER_PULL_ABSENT, Cause.SIGNATURE_INVALID})
#: Short timeouts: a diagnosis should answer in seconds, even when registries are unreachable.
DIAGNOSE_TIMEOUTS: dict[str, Any] = {"dns_timeout": 3.0, "connect_timeout": 3.0, "request_timeout": 8.0}
BATCH_DEADLINE = 30.0


def _key(ev: Evidence) -> tuple[str, tuple[str, ...], str, bool] | None:
    if ev.ref is None or ev.ref_error is not None:
        return None
    if ev.message_cause in _NODE_ONLY or ev.waiting_reason in ("ErrImageNeverPull", "InvalidImageName"):
        return None
    fps = tuple(getattr(c, "fingerprint", "") for c in _credentials(ev))
    return (ev.ref.normalized, fps, _platform(ev), wants_throughput(ev))


def wants_throughput(ev: Evidence) -> bool:
    """A timed-out or cancelled pull: the diagnosis needs the registry's download rate, so the probe times a
    bounded ranged GET of the largest layer (a blob GET, not a Docker Hub pull). Nobody else pays for it."""
    return ev.message_cause is Cause.PULL_TIMEOUT_OR_PROGRESS_DEADLINE


def _credentials(ev: Evidence) -> list[Any]:
    return [m.credential for m in (getattr(ev.lookup, "matches", None) or []) if m.credential is not None]


def _platform(ev: Evidence) -> str:
    return (ev.node.platform if ev.node else None) or "linux/amd64"


def request_for(ev: Evidence) -> Any:
    """The ``ProbeRequest`` a node's pull of this container amounts to, or None when a probe cannot tell
    anything (node-side failures, invalid references). ``serve`` uses it too, so both probe alike."""
    k = _key(ev)
    if k is None:
        return None
    from pulldoctor.registry.models import ProbeRequest

    return ProbeRequest(ev.ref, credentials=tuple(_credentials(ev)), platform=k[2], sample_throughput=k[3])


def options(insecure: Sequence[str] = (), ca_file: str | None = None, hosts_dir: str | None = None) -> Any:
    """Probe options for a diagnosis; ``hosts_dir`` is the nodes' containerd certs.d (malformed → InputError)."""
    from pulldoctor.registry.models import ProbeOptions

    return ProbeOptions.build(insecure, ca_file, hosts_dir=hosts_dir, **DIAGNOSE_TIMEOUTS)


def attach(evidences: Sequence[Evidence], opts: Any, deadline: float = BATCH_DEADLINE) -> list[str]:
    """Probe every distinct request once and set ``ev.probe`` (or ``ev.probe_note``). Returns notes."""
    from pulldoctor.registry import probe_many

    keys: dict[tuple[str, tuple[str, ...], str, bool], int] = {}
    requests: list[Any] = []
    for ev in evidences:
        k = _key(ev)
        if k is None:
            ev.probe_note = "not probed (a node-side failure)"
            continue
        if k not in keys:
            keys[k] = len(requests)
            requests.append(request_for(ev))
    if not requests:
        return []

    async def run() -> list[Any]:
        return list(await asyncio.wait_for(probe_many(requests, opts), deadline))

    try:
        results = asyncio.run(run())
    except TimeoutError:
        for ev in evidences:
            if _key(ev) is not None:
                ev.probe_note = f"the probes did not finish within {deadline:.0f}s"
        return [f"registry probes stopped after {deadline:.0f}s; verdicts rest on the messages"]
    for ev in evidences:
        k = _key(ev)
        if k is not None:
            ev.probe = results[keys[k]]
    notes = [f"probed {len(requests)} distinct image/credential pair(s) for {len(evidences)} container(s)"]
    unreachable = sorted({_host(r) for r, res in zip(requests, results, strict=False) if _unreachable(res)})
    if unreachable:
        notes.append(f"could not probe {len(unreachable)} registr{'y' if len(unreachable) == 1 else 'ies'} from "
                     f"here ({', '.join(unreachable[:8])}{', …' if len(unreachable) > 8 else ''}): DNS or the "
                     "connection failed, so verdicts about them rest on the node's messages (a node failing "
                     "the same way off loopback is confirmed)")
    return notes


def _host(request: Any) -> str:
    return str(getattr(request.image, "registry", request.image))


def _unreachable(result: Any) -> bool:
    return getattr(result, "cause", None) in (Cause.DNS_FAILURE, Cause.NETWORK_UNREACHABLE)
