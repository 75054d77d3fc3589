"""Ask the registries, once per distinct image/credential pair, whether a node could pull each image — and
for which of the fleet's platforms.

Why once: a chart with 200 workloads over 40 images is 40 questions, asked concurrently through
``registry.probe_many`` (which also shares tokens, challenges and manifests). The probe asks for the first
``--platform``; the index it reads lists every platform, so the others are checked from the same answer.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pulldoctor.causes import Cause
from pulldoctor.preflight.checks import Planned, finding
from pulldoctor.preflight.findings import Check, Finding, Fix, Severity
from pulldoctor.reference import DOCKER_HUB

if TYPE_CHECKING:
    from pulldoctor.registry.manifest import Platform
    from pulldoctor.registry.models import ProbeOptions, ProbeResult

#: A CI step should answer in seconds even when a registry is unreachable from the runner.
TIMEOUTS: dict[str, Any] = {"dns_timeout": 3.0, "connect_timeout": 3.0, "request_timeout": 10.0,
                            "probe_timeout": 30.0}
BATCH_DEADLINE = 120.0

#: What the runner could not check, rather than what is wrong: the nodes may reach what the runner does not.
_UNCERTAIN = frozenset({Cause.DNS_FAILURE, Cause.NETWORK_UNREACHABLE, Cause.TLS_ERROR, Cause.HTTP_VS_HTTPS,
                        Cause.PULL_TIMEOUT_OR_PROGRESS_DEADLINE, Cause.RATE_LIMITED, Cause.REGISTRY_SERVER_ERROR,
                        Cause.OTHER})

Key = tuple[str, tuple[str, ...], str]


@dataclass
class Probed:
    findings: list[Finding]
    distinct: int  # probes made
    notes: list[str]


def options(insecure: Sequence[str] = (), ca_file: str | None = None, hosts_dir: str | None = None) -> ProbeOptions:
    from pulldoctor.registry.models import ProbeOptions

    # The platforms come from the index; the chosen manifest (its size) would be one more GET per image.
    return ProbeOptions.build(insecure, ca_file, hosts_dir=hosts_dir, fetch_size=False, **TIMEOUTS)


def _key(p: Planned, platform: str) -> Key:
    return (p.ref.normalized, tuple(c.fingerprint for c in p.credentials), platform)


def probe_planned(planned: Sequence[Planned], platforms: Sequence[Platform], opts: ProbeOptions,
                  deadline: float = BATCH_DEADLINE) -> Probed:
    """Probe every distinct (image, credentials) once for ``platforms[0]``; findings for every use."""
    from pulldoctor.registry import probe_many
    from pulldoctor.registry.models import ProbeRequest

    primary = str(platforms[0])
    keys: dict[Key, int] = {}
    requests: list[ProbeRequest] = []
    for p in planned:
        k = _key(p, primary)
        if k not in keys:
            keys[k] = len(requests)
            requests.append(ProbeRequest(p.ref, credentials=p.credentials, platform=primary))
    if not requests:
        return Probed([], 0, [])

    async def run() -> list[ProbeResult]:
        return list(await asyncio.wait_for(probe_many(requests, opts), deadline))

    try:
        results = asyncio.run(run())
    except TimeoutError:
        f = [finding(p.workload, p.use, Cause.PULL_TIMEOUT_OR_PROGRESS_DEADLINE, Severity.WARNING, Check.REGISTRY,
                     f"not checked: the registry probes did not finish within {deadline:.0f} s") for p in planned]
        return Probed(f, len(requests), [f"registry probes stopped after {deadline:.0f} s"])
    out: list[Finding] = []
    for p in planned:
        out += judge(p, results[keys[_key(p, primary)]], platforms)
    out += budget(planned, [results[keys[_key(p, primary)]] for p in planned])
    return Probed(out, len(requests), [])


def budget(planned: Sequence[Planned], results: Sequence[ProbeResult]) -> list[Finding]:
    """The rollout's pulls against the pull budget the registry reports (Docker Hub's ``ratelimit-remaining``,
    read from the HEADs, which do not count as pulls): one warning per registry and credentials when the
    pods would pull more images than are left. As seen from here: an anonymous budget is per IP address."""
    groups: dict[tuple[str, tuple[str, ...]], list[tuple[Planned, ProbeResult]]] = {}
    for p, res in zip(planned, results, strict=True):
        if res.cause is None and res.ratelimit is not None and res.ratelimit.remaining is not None:
            groups.setdefault((p.ref.endpoint, tuple(c.fingerprint for c in p.credentials)), []).append((p, res))
    out: list[Finding] = []
    for (_endpoint, fps), members in groups.items():
        remaining = min(r.ratelimit.remaining for _p, r in members if r.ratelimit and r.ratelimit.remaining is not None)
        pulls = sum(p.workload.pulls for p, _r in members)
        if pulls <= remaining:
            continue
        first, res = members[0]
        rl = res.ratelimit
        per_node = any(p.workload.pods is None for p, _r in members)
        who = "these credentials" if fps else "anonymous pulls from here (the nodes' addresses may differ)"
        summary = (f"the rollout may pull from {first.ref.registry} up to {pulls} times (one per pod and image, "
                   f"fewer where pods share a node{'; plus one per node for each DaemonSet' if per_node else ''}), "
                   f"but {first.ref.registry} reports {rl.describe() if rl else ''} for {who}: pods past the "
                   "budget fail with rate_limited")
        fixes = (Fix(f"Pull with an authenticated (paid) account or through a mirror of {first.ref.registry}, or "
                     "roll out in smaller steps (maxSurge) so the budget refills."),)
        out.append(finding(first.workload, first.use, Cause.RATE_LIMITED, Severity.WARNING, Check.REGISTRY,
                           summary, fixes))
    return out


def judge(p: Planned, res: ProbeResult, platforms: Sequence[Platform]) -> list[Finding]:
    """Findings for one use of an image from its probe: none when every platform can pull it."""
    if res.cause is None:
        missing = _missing_platforms(res, platforms[1:])
        if not missing:
            return []
        return [_platform_finding(p, res, missing)]
    if res.cause is Cause.PLATFORM_MISMATCH:
        missing = [platforms[0], *_missing_platforms(res, platforms[1:])]
        return [_platform_finding(p, res, missing)]
    severity = Severity.WARNING if res.cause in _UNCERTAIN else Severity.ERROR
    return [finding(p.workload, p.use, res.cause, severity, Check.REGISTRY, _summary(p, res), _fixes(p, res))]


def _missing_platforms(res: ProbeResult, wanted: Sequence[Platform]) -> list[Platform]:
    from pulldoctor.registry.manifest import accepts, parse_platform

    if not res.platforms:  # not read (a Docker Hub pull budget kept, say): nothing to say
        return []
    offered = [parse_platform(x) for x in res.platforms]
    return [w for w in wanted if not any(accepts(w, o) is not None for o in offered)]


def _platform_finding(p: Planned, res: ProbeResult, missing: Sequence[Platform]) -> Finding:
    names = ", ".join(str(m) for m in missing)
    offered = ", ".join(res.platforms) or "no platform it names"
    summary = f"{p.ref.normalized} has no image for {names} (it offers {offered}): pods on such nodes fail"
    every = ",".join(sorted({*res.platforms, *(str(m) for m in missing)}))
    fixes = (Fix(f"Build and push {p.ref.normalized} for {names} too, e.g.:",
                 (f"docker buildx build --platform {every} -t {shlex.quote(p.ref.normalized)} --push .",)),
             Fix(f"Or keep these pods off {names} nodes (a nodeSelector on kubernetes.io/arch)."))
    return finding(p.workload, p.use, Cause.PLATFORM_MISMATCH, Severity.ERROR, Check.PLATFORM, summary, fixes)


def _summary(p: Planned, res: ProbeResult) -> str:
    ref = p.ref
    cause = res.cause
    step = res.failed_step
    detail = f" ({step.detail})" if step is not None and step.detail else ""
    if cause is Cause.TAG_NOT_FOUND:
        what = f"digest {ref.digest}" if ref.digest else f"tag {ref.reference}"
        closest = f"; closest tags: {', '.join(res.suggestions)}" if res.suggestions else ""
        return f"{ref.registry}/{ref.repository} has no {what}{closest}"
    if cause is Cause.REPO_NOT_FOUND:
        return f"{ref.registry} has no repository {ref.repository} (as seen with these credentials: {p.explanation})"
    if cause in (Cause.AUTH_MISSING, Cause.AUTH_INVALID, Cause.FORBIDDEN, Cause.REPO_NOT_FOUND_OR_NO_ACCESS):
        return f"{ref.registry} refused {ref.normalized}{detail}; {p.explanation}"
    return f"could not check {ref.normalized} from here{detail}"


def _fixes(p: Planned, res: ProbeResult) -> list[Fix]:
    ref = p.ref
    cause = res.cause
    ns = shlex.quote(p.workload.namespace)
    server = "https://index.docker.io/v1/" if ref.registry == DOCKER_HUB else ref.registry
    create = (f"kubectl create secret docker-registry pull-secret --docker-server={shlex.quote(server)} "
              f"--docker-username=USER --docker-password=PASSWORD -n {ns}")
    if cause is Cause.TAG_NOT_FOUND:
        if res.suggestions:
            return [Fix(f"Use a tag that exists, e.g. {ref.name}:{res.suggestions[0]}, or push "
                        f"{ref.reference} before the deploy.")]
        return [Fix(f"Push {ref.normalized} before the deploy, or use a tag that exists.")]
    if cause is Cause.REPO_NOT_FOUND:
        return [Fix(f"Check the repository name ({ref.repository}) and the registry ({ref.registry}): they are "
                    "what the kubelet pulls, normalised.", (f"pulldoctor ref {shlex.quote(p.use.image)}",))]
    if cause is Cause.AUTH_MISSING or (cause is Cause.REPO_NOT_FOUND_OR_NO_ACCESS and not p.credentials):
        return [Fix(f"Give the pods credentials for {server}: create a kubernetes.io/dockerconfigjson Secret and "
                    "list it under imagePullSecrets in this template (or in its service account), e.g.:",
                    (create,))]
    if cause is Cause.AUTH_INVALID:
        return [Fix(f"The credentials the kubelet would send were rejected by {ref.registry}: renew them in the "
                    "secret named above (or --docker-config).")]
    if cause in (Cause.FORBIDDEN, Cause.REPO_NOT_FOUND_OR_NO_ACCESS):
        return [Fix(f"The credentials authenticate but may not pull {ref.repository}: grant them pull access, or "
                    "check the repository name.")]
    return [Fix(f"Check again from a machine that reaches {ref.registry} as the nodes do, with the nodes' "
                "registry settings (--insecure-registry, --ca-file, --hosts-dir).")]
