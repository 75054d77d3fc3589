"""Probe each distinct (image, credentials, platform) once, the way the node would pull it.

Requests are deduplicated so that forty pods of one Deployment cost one probe; ``probe_many`` runs them
concurrently under the registry part's own per-request timeouts, and the whole batch has a deadline too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING

from pulldoctor.causes import Cause
from pulldoctor.diagnosis.evidence import Evidence
from pulldoctor.keyring import Credential

if TYPE_CHECKING:  # the registry part loads only when a probe runs (``--no-probe`` never pays for it)
    from pulldoctor.registry.models import ProbeOptions, ProbeRequest, ProbeResult

#: Failures a probe of the registry cannot tell anything about.
_NODE_ONLY = frozenset({Cause.INVALID_IMAGE_NAME, Cause.NEVER_PULL_ABSENT, Cause.SIGNATURE_INVALID})
#: Short timeouts: a diagnosis should answer in seconds, even when registries are unreachable.
DIAGNOSE_TIMEOUTS: dict[str, float] = {"dns_timeout": 3.0, "connect_timeout": 3.0, "request_timeout": 8.0}
BATCH_DEADLINE = 30.0


def _key(ev: Evidence) -> tuple[str, tuple[str, ...], str, bool] | None:
    if ev.ref is None or ev.ref_error is not None:
        return None
    if ev.message_cause in _NODE_ONLY or ev.waiting_reason in ("ErrImageNeverPull", "InvalidImageName"):
        return None
    fps = tuple(c.fingerprint for c in _credentials(ev))
    return (ev.ref.normalized, fps, _platform(ev), wants_throughput(ev))


def wants_throughput(ev: Evidence) -> bool:
    """A timed-out or cancelled pull: the diagnosis needs the registry's download rate, so the probe times a
    bounded ranged GET of the largest layer (a blob GET, not a Docker Hub pull). Nobody else pays for it."""
    return ev.message_cause is Cause.PULL_TIMEOUT_OR_PROGRESS_DEADLINE


def _credentials(ev: Evidence) -> list[Credential]:
    matches = ev.lookup.matches if ev.lookup is not None else []
    return [m.credential for m in matches if m.credential is not None]


def _platform(ev: Evidence) -> str:
    return (ev.node.platform if ev.node else None) or "linux/amd64"


def request_for(ev: Evidence) -> ProbeRequest | None:
    """The ``ProbeRequest`` a node's pull of this container amounts to, or None when a probe cannot tell
    anything (node-side failures, invalid references). ``serve`` uses it too, so both probe alike."""
    k = _key(ev)
    if k is None or ev.ref is None:  # _key is None without a reference; the second test is for the type
        return None
    from pulldoctor.registry.models import ProbeRequest

    return ProbeRequest(ev.ref, credentials=tuple(_credentials(ev)), platform=k[2], sample_throughput=k[3])


def options(insecure: Sequence[str] = (), ca_file: str | None = None,
            hosts_dir: str | None = None) -> ProbeOptions:
    """Probe options for a diagnosis; ``hosts_dir`` is the nodes' containerd certs.d (malformed → InputError)."""
    from pulldoctor.registry.models import ProbeOptions

    t = DIAGNOSE_TIMEOUTS
    return ProbeOptions.build(insecure, ca_file, hosts_dir=hosts_dir, dns_timeout=t["dns_timeout"],
                              connect_timeout=t["connect_timeout"], request_timeout=t["request_timeout"])


def attach(evidences: Sequence[Evidence], opts: ProbeOptions, deadline: float = BATCH_DEADLINE) -> list[str]:
    """Probe every distinct request once and set ``ev.probe`` (or ``ev.probe_note``). Returns notes."""
    from pulldoctor.registry import probe_many

    keys: dict[tuple[str, tuple[str, ...], str, bool], int] = {}
    requests: list[ProbeRequest] = []
    for ev in evidences:
        k = _key(ev)
        if k is None:
            ev.probe_note = "not probed (a node-side failure)"
            continue
        if k not in keys and (request := request_for(ev)) is not None:
            keys[k] = len(requests)
            requests.append(request)
    if not requests:
        return []

    async def run() -> list[ProbeResult]:
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


def _host(request: ProbeRequest) -> str:
    return request.image if isinstance(request.image, str) else request.image.registry


def _unreachable(result: ProbeResult) -> bool:
    return result.cause in (Cause.DNS_FAILURE, Cause.NETWORK_UNREACHABLE)
