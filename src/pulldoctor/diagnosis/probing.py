"""Which containers a registry probe can settle, with which request, and where the answers come from.

``request_for`` is the node's pull as a probe request; ``attach`` hands the requests to a ``Prober`` and
puts its answers (or the reason there is none) on the evidence. ``live`` probes each distinct (image,
credentials, platform) once, so that forty pods of one Deployment cost one probe; ``probe_many`` runs them
concurrently under the registry part's own per-request timeouts, and the whole batch has a deadline too.
The exporter's prober answers from its cache instead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pulldoctor.causes import Cause
from pulldoctor.diagnosis.evidence import Evidence
from pulldoctor.keyring import Credential
from pulldoctor.runtime import Runtime, parse_runtime

if TYPE_CHECKING:  # the registry part loads only when a probe runs (``--no-probe`` never pays for it)
    from pulldoctor.registry.models import ProbeOptions, ProbeRequest, ProbeResult

#: Failures a probe of the registry cannot tell anything about.
_NODE_ONLY = frozenset({Cause.INVALID_IMAGE_NAME, Cause.NEVER_PULL_ABSENT, Cause.SIGNATURE_INVALID,
                        Cause.AMBIGUOUS_SHORT_NAME})
#: Short timeouts: a diagnosis should answer in seconds, even when registries are unreachable.
DIAGNOSE_TIMEOUTS: dict[str, float] = {"dns_timeout": 3.0, "connect_timeout": 3.0, "request_timeout": 8.0}
BATCH_DEADLINE = 30.0


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
    anything (node-side failures, invalid references). ``serve`` and ``diagnose`` both go through it."""
    if ev.ref is None or ev.ref_error is not None:
        return None
    if ev.message_cause in _NODE_ONLY or ev.waiting_reason in ("ErrImageNeverPull", "InvalidImageName"):
        return None
    from pulldoctor.registry.models import ProbeRequest

    return ProbeRequest(ev.ref, credentials=tuple(_credentials(ev)), platform=_platform(ev),
                        sample_throughput=wants_throughput(ev), runtime=node_runtime(ev))


def node_runtime(ev: Evidence) -> Runtime | None:
    """The container's node's runtime (``containerRuntimeVersion``), whose scheme rules its probe follows; None
    when unknown (the probe's default, the newest behaviour)."""
    return parse_runtime(ev.node.runtime_version if ev.node else None)


def options(insecure: Sequence[str] = (), ca_file: str | None = None,
            hosts_dir: str | None = None, registries_conf: str | None = None) -> ProbeOptions:
    """Probe options for a diagnosis; ``hosts_dir`` is the nodes' containerd certs.d, ``registries_conf`` a CRI-O
    node's registries.conf (malformed → InputError)."""
    from pulldoctor.registry.models import ProbeOptions

    t = DIAGNOSE_TIMEOUTS
    return ProbeOptions.build(insecure, ca_file, hosts_dir=hosts_dir, registries_conf=registries_conf,
                              dns_timeout=t["dns_timeout"],
                              connect_timeout=t["connect_timeout"], request_timeout=t["request_timeout"])


@dataclass(slots=True)
class ProbeAnswers:
    """What a prober found for the requests it was given, in their order."""

    results: list[ProbeResult | None]   # None: no result for that request (``missing`` says why)
    missing: str = "probe pending"      # the probe note of a container without a result
    distinct: int | None = None         # how many distinct probes ran now (None: answered from a cache)
    notes: list[str] = field(default_factory=list)


#: Where the probe results come from: ``live`` (probe now, ``diagnose``) or the exporter's cache (``serve``).
#: It gets each container that a probe can settle with its request, and answers in the same order.
Prober = Callable[[Sequence[tuple[Evidence, "ProbeRequest"]]], ProbeAnswers]


def attach(evidences: Sequence[Evidence], probe: Prober) -> list[str]:
    """Ask ``probe`` about every container a probe can settle and set ``ev.probe`` (or ``ev.probe_note``).
    Returns the notes for the diagnosis."""
    wanted: list[tuple[Evidence, ProbeRequest]] = []
    for ev in evidences:
        request = request_for(ev)
        if request is None:
            ev.probe_note = "not probed (a node-side failure)"
        else:
            wanted.append((ev, request))
    if not wanted:
        return []
    answers = probe(wanted)
    for (ev, _), result in zip(wanted, answers.results, strict=True):
        if result is None:
            ev.probe_note = answers.missing
        else:
            ev.probe = result
    if answers.distinct is None:
        return list(answers.notes)
    return [f"probed {answers.distinct} distinct image/credential pair(s) for {len(evidences)} container(s)",
            *answers.notes]


def _request_key(r: ProbeRequest) -> tuple[str, tuple[str, ...], str, bool, str]:
    image = r.image if isinstance(r.image, str) else r.image.normalized
    return (image, tuple(c.fingerprint for c in r.credentials), r.platform, r.sample_throughput, str(r.runtime))


def live(opts: ProbeOptions, deadline: float = BATCH_DEADLINE,
         progress: Callable[[int, int], None] | None = None) -> Prober:
    """A prober that probes every distinct request once, now, concurrently, within ``deadline`` seconds;
    ``progress(done, total)`` hears of each probe that ends."""
    def probe(wanted: Sequence[tuple[Evidence, ProbeRequest]]) -> ProbeAnswers:
        import asyncio  # here, not at the top: a diagnosis without probes never loads it

        from pulldoctor.registry import probe_many

        keys: dict[tuple[str, tuple[str, ...], str, bool, str], int] = {}
        requests: list[ProbeRequest] = []
        for _, request in wanted:
            k = _request_key(request)
            if k not in keys:
                keys[k] = len(requests)
                requests.append(request)

        async def run() -> list[ProbeResult]:
            # progress only when asked: a prober given another probe_many (tests, serve) need not know it
            batch = probe_many(requests, opts) if progress is None else probe_many(requests, opts, progress=progress)
            return list(await asyncio.wait_for(batch, deadline))

        try:
            results = asyncio.run(run())
        except TimeoutError:
            return ProbeAnswers([None] * len(wanted), f"the probes did not finish within {deadline:.0f}s",
                                notes=[f"registry probes stopped after {deadline:.0f}s; verdicts rest on the messages"])
        notes = []
        unreachable = sorted({_host(r) for r, res in zip(requests, results, strict=False) if _unreachable(res)})
        if unreachable:
            notes.append(f"could not probe {len(unreachable)} registr{'y' if len(unreachable) == 1 else 'ies'} "
                         f"from here ({', '.join(unreachable[:8])}{', …' if len(unreachable) > 8 else ''}): DNS or "
                         "the connection failed, so verdicts about them rest on the node's messages (a node "
                         "failing the same way off loopback is confirmed)")
        return ProbeAnswers([results[keys[_request_key(r)]] for _, r in wanted], distinct=len(requests),
                            notes=notes)
    return probe


def _host(request: ProbeRequest) -> str:
    return request.image if isinstance(request.image, str) else request.image.registry


def _unreachable(result: ProbeResult) -> bool:
    return result.cause in (Cause.DNS_FAILURE, Cause.NETWORK_UNREACHABLE)
