"""The probe: ask a registry for an image the way a node's runtime would, one recorded step at a time.

Order (stops at the first step that fails): reference → dns → tcp → tls (HTTPS only) → auth → manifest
(HEAD, which does not count as a Docker Hub pull) → tags (only after a 404: repository or tag?) →
platform → size. Plain HTTP is used for ``--insecure-registry`` hosts and loopback hosts, like containerd
and Docker; HTTPS for every other registry. ``session`` holds what probes share, ``attempt`` the steps
after the connection checks.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from pulldoctor.causes import Cause
from pulldoctor.reference import ImageRef, parse
from pulldoctor.registry.attempt import STAGE_DEADLINE, Attempt, Prober
from pulldoctor.registry.manifest import Platform, parse_platform
from pulldoctor.registry.models import ProbeOptions, ProbeRequest, ProbeResult, Step
from pulldoctor.registry.session import Session, Target, credential_label
from pulldoctor.registry.wire import UnreadableJSON
from pulldoctor.runtime import Runtime

if TYPE_CHECKING:
    from pulldoctor.keyring import Credential

#: The kubelet tries every matching credential; a probe stops after this many (each costs requests).
MAX_CREDENTIALS = 20


# -- public API ------------------------------------------------------------------------------------------


def _as_ref(image: str | ImageRef) -> ImageRef:
    return image if isinstance(image, ImageRef) else parse(image)


def _dedupe_key(ref: ImageRef, creds: Sequence[Credential], platform: str, sample: bool = False) -> tuple[str, ...]:
    return (ref.endpoint.lower(), ref.repository, ref.reference, platform, "sample" if sample else "",
            *(c.fingerprint for c in creds))


async def _probe_ref(
    ctx: Session, image: str, ref: ImageRef, creds: Sequence[Credential], node: Platform, sample: bool = False
) -> ProbeResult:
    result = ProbeResult(image=image, platform=str(node))
    result.steps.append(
        Step("reference", True, f"{ref.normalized} → {ref.endpoint}, repository {ref.repository}, {ref.reference}")
    )
    plan = ctx.plan(ref)
    if plan.step is not None:
        result.steps.append(dataclasses.replace(plan.step))
    if not plan.targets:
        result.cause = Cause.OTHER
        return result
    several = len(plan.targets) > 1
    outcomes: list[tuple[Target, ProbeResult]] = []
    t0 = time.monotonic()
    for target in plan.targets:
        if outcomes and time.monotonic() - t0 > ctx.options.probe_timeout:
            result.steps.append(Step("deadline", False, f"{len(plan.targets) - len(outcomes)} more host(s) not "
                                     f"tried: the probe already took {ctx.options.probe_timeout:g} s"))
            break
        one = await _probe_target(ctx, image, ref, creds, node, target, sample)
        if plan.configured:
            for st in one.steps:
                st.host = target.url
            if several:
                for st in one.steps:
                    st.detail = f"[{target.url}] {st.detail}"
        outcomes.append((target, one))
        result.steps.extend(one.steps)
        if one.cause is None or (one.cause is Cause.PULL_TIMEOUT_OR_PROGRESS_DEADLINE and one.steps \
                and one.steps[-1].name == "deadline"):
            break  # pullable, or the probe's own deadline is spent
    target, best = _verdict(outcomes)
    for name in ("cause", "status", "credentials_sent", "digest", "media_type", "url", "platforms", "size",
                 "suggestions", "ratelimit", "credential", "throughput", "similar_repositories"):
        setattr(result, name, getattr(best, name))
    result.credentials_sent = any(o.credentials_sent for _t, o in outcomes)
    if plan.configured:
        result.host = target.url
    return result


def _verdict(outcomes: list[tuple[Target, ProbeResult]]) -> tuple[Target, ProbeResult]:
    """What containerd ends with after trying each host (remotes/docker/resolver.go, Resolve): the first
    host that answers; else the first error that is not a 404; else the first 404 ("not found")."""
    for t, o in outcomes:
        if o.cause is None:
            return t, o
    for t, o in outcomes:
        if not (o.status == 404 and o.cause in (Cause.TAG_NOT_FOUND, Cause.REPO_NOT_FOUND)):
            return t, o
    return outcomes[0]


async def _probe_target(
    ctx: Session, image: str, ref: ImageRef, creds: Sequence[Credential], node: Platform, target: Target,
    sample: bool = False,
) -> ProbeResult:
    """One host of the plan: its connection checks, then each credential in the kubelet's order."""
    result = ProbeResult(image=image, platform=str(node))
    ep = await ctx.endpoint(ref, target)
    result.steps.extend(Step(s.name, s.ok, s.detail, s.elapsed) for s in ep.steps)  # copies: details get prefixed
    if ep.cause is not None:
        result.cause = ep.cause
        return result
    attempts: list[Attempt] = []
    tried: list[Credential | None] = list(creds[:MAX_CREDENTIALS]) or [None]
    if len(creds) > MAX_CREDENTIALS:
        note = f"{len(creds)} matching credentials; trying the first {MAX_CREDENTIALS}"
        result.steps.append(Step("auth", True, note))
    deadline = ctx.options.probe_timeout
    async with ctx.semaphore(target.config.host.lower()):
        current: Prober | None = None
        try:
            # Counted from here: time spent waiting for the semaphore is not the registry's fault.
            async with asyncio.timeout(deadline):
                for cred in tried:
                    current = Prober(ctx, ref, ep, node, cred, sample)
                    try:
                        attempt = await current.run()
                    except UnreadableJSON as err:
                        current.step(err.step, False, str(err), time.monotonic())
                        attempt = current.fail(Cause.REGISTRY_SERVER_ERROR)
                    current = None
                    if len(creds) > 1:
                        for s in attempt.steps:
                            s.detail = f"[{credential_label(cred)}] {s.detail}"
                    attempts.append(attempt)
                    if attempt.cause is None:
                        result.credential = credential_label(cred) if cred is not None else None
                        break
        except TimeoutError:
            late = current.a if current is not None else Attempt()
            late.steps.append(Step("deadline", False, f"the probe did not finish within {deadline:g} s"))
            late.cause, late.stage = Cause.PULL_TIMEOUT_OR_PROGRESS_DEADLINE, STAGE_DEADLINE
            attempts.append(late)
    best = attempts[-1] if attempts[-1].cause is None else max(attempts, key=lambda a: a.stage)
    for a in attempts:
        result.steps.extend(a.steps)
    result.cause = best.cause
    result.status = best.status
    result.credentials_sent = any(a.credentials_sent for a in attempts)
    result.digest, result.media_type, result.url = best.digest, best.media_type, best.url
    result.platforms, result.size, result.suggestions = best.platforms, best.size, best.suggestions
    result.ratelimit = next((a.ratelimit for a in reversed(attempts) if a.ratelimit), None)
    result.throughput = best.throughput
    result.similar_repositories = list(best.similar_repositories)
    return result


async def _guarded(
    ctx: Session, image: str, ref: ImageRef, creds: Sequence[Credential], node: Platform, sample: bool = False
) -> ProbeResult:
    """One probe whose unexpected failure (a bug) becomes a result, so the other probes still finish."""
    try:
        return await _probe_ref(ctx, image, ref, creds, node, sample)
    except Exception as err:
        res = ProbeResult(image=image, cause=Cause.OTHER, platform=str(node))
        res.steps.append(Step("probe", False, f"internal error in the probe ({type(err).__name__}); please report it"))
        return res


async def probe(
    image: str | ImageRef,
    *,
    credentials: Sequence[Credential] = (),
    platform: str = "linux/amd64",
    options: ProbeOptions | None = None,
) -> ProbeResult:
    """Probe one image with the credentials the kubelet would try (in order). Raises InvalidReference."""
    request = ProbeRequest(_as_ref(image), tuple(credentials), platform)
    return (await probe_many([request], options or ProbeOptions(), _raise=True))[0]


async def probe_many(
    requests: Sequence[ProbeRequest], options: ProbeOptions | None = None, *, _raise: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> list[ProbeResult]:
    """Probe many images with one session; identical probes run once, tokens are shared.

    An invalid reference gives a result with cause ``invalid_image_name`` (a malformed platform: ``other``)
    instead of an exception; each probe gives up after ``options.probe_timeout`` seconds of registry time.
    ``progress(done, total)`` is called as each distinct probe ends (a terminal's progress line).
    """
    from pulldoctor.errors import InvalidReference, UsageError

    options = options or ProbeOptions()
    sessions: dict[Runtime, Session] = {}  # one per node runtime asked for (usually one): its scheme rules

    def session(runtime: Runtime | None) -> Session:
        rt = runtime or options.runtime
        if rt not in sessions:
            sessions[rt] = Session(options if rt == options.runtime else dataclasses.replace(options, runtime=rt))
        return sessions[rt]

    try:
        tasks: dict[tuple[str, ...], asyncio.Task[ProbeResult]] = {}
        order: list[tuple[str, tuple[str, ...] | ProbeResult]] = []
        for req in requests:
            original = req.image.original if isinstance(req.image, ImageRef) else req.image
            try:
                node = parse_platform(req.platform)
                ref = _as_ref(req.image)
            except (InvalidReference, UsageError) as err:
                if _raise:
                    raise
                cause = Cause.INVALID_IMAGE_NAME if isinstance(err, InvalidReference) else Cause.OTHER
                bad = ProbeResult(image=original, cause=cause, platform=str(req.platform))
                step = "reference" if cause is Cause.INVALID_IMAGE_NAME else "platform"
                bad.steps.append(Step(step, False, str(err)))
                order.append((original, bad))
                continue
            sample = bool(getattr(req, "sample_throughput", False))
            key = (*_dedupe_key(ref, req.credentials, str(node), sample), str(req.runtime or options.runtime))
            if key not in tasks:
                ctx = session(req.runtime)
                tasks[key] = asyncio.ensure_future(_guarded(ctx, original, ref, req.credentials, node, sample))
            order.append((original, key))
        if tasks:
            if progress is not None:
                done, total = [0], len(tasks)

                def tick(_: object) -> None:
                    done[0] += 1
                    progress(done[0], total)

                for task in tasks.values():
                    task.add_done_callback(tick)
            try:
                await asyncio.wait(list(tasks.values()))
            finally:
                for task in tasks.values():
                    task.cancel()  # no-op for finished ones; cleans up on cancellation
        out: list[ProbeResult] = []
        for original, item in order:
            if isinstance(item, ProbeResult):
                out.append(item)
                continue
            res = tasks[item].result()
            out.append(res if res.image == original else dataclasses.replace(res, image=original))
        return out
    finally:
        for ctx in sessions.values():
            await ctx.close()


def probe_sync(
    image: str | ImageRef,
    *,
    credentials: Sequence[Credential] = (),
    platform: str = "linux/amd64",
    options: ProbeOptions | None = None,
) -> ProbeResult:
    """``probe`` for synchronous callers (the CLI)."""
    return asyncio.run(probe(image, credentials=credentials, platform=platform, options=options))
