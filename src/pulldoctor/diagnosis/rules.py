"""The rules: one small function per family of causes, registered in ``RULES``.

Each rule takes the ``Evidence`` of one failing container and returns a ``Verdict``: one root cause from
``causes.md``, a confidence, the evidence lines that prove it (each naming its source) and whatever speaks
against it. ``decide`` picks the rule from what the kubelet and the runtime claimed (the waiting reason,
then the message's classification, then the probe's finding) and applies the one rule of that family.
The README lists this table; keep them in step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pulldoctor.causes import HEDGES, Cause, WaitingReason
from pulldoctor.diagnosis.evidence import Evidence, ago, hostname, runtime_deadline, span
from pulldoctor.diagnosis.model import Confidence, EvidenceLine, Verdict
from pulldoctor.reference import is_loopback_host
from pulldoctor.registry.manifest import human_size

C = Cause
CERTAIN, LIKELY, POSSIBLE = Confidence.CERTAIN, Confidence.LIKELY, Confidence.POSSIBLE

#: Probe outcomes that mean "pulldoctor could not talk to the registry", so the probe proves nothing
#: about the registry's answer (it may still prove the node's view, see ``network``).
UNREACHABLE: frozenset[Cause] = frozenset(
    {C.DNS_FAILURE, C.NETWORK_UNREACHABLE, C.TLS_ERROR, C.HTTP_VS_HTTPS, C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE}
)
#: Causes the registry decides (its answer can change from one minute to the next).
REGISTRY_SIDE: frozenset[Cause] = frozenset(
    {C.TAG_NOT_FOUND, C.REPO_NOT_FOUND, C.REPO_NOT_FOUND_OR_NO_ACCESS, C.AUTH_MISSING, C.AUTH_INVALID,
     C.FORBIDDEN, C.RATE_LIMITED, C.REGISTRY_SERVER_ERROR}
)
ACCESS: frozenset[Cause] = frozenset({C.REPO_NOT_FOUND_OR_NO_ACCESS, C.AUTH_MISSING, C.AUTH_INVALID})
NOT_FOUND: frozenset[Cause] = frozenset({C.TAG_NOT_FOUND, C.REPO_NOT_FOUND})
NETWORK: frozenset[Cause] = frozenset({C.DNS_FAILURE, C.NETWORK_UNREACHABLE, C.TLS_ERROR, C.HTTP_VS_HTTPS})

RuleFn = Callable[[Evidence, Cause], Verdict]


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    causes: frozenset[Cause]
    fn: RuleFn
    doc: str


# --------------------------------------------------------------------------------------------- helpers

def _probe_state(ev: Evidence) -> str:
    """``skipped`` (no probe), ``unreachable``, ``pullable`` or ``failed``."""
    p = ev.probe
    if p is None:
        return "skipped"
    cause = getattr(p, "cause", None)
    if cause is None:
        return "pullable"
    return "unreachable" if Cause(cause) in UNREACHABLE else "failed"


def _probe_cause(ev: Evidence) -> Cause | None:
    c = getattr(ev.probe, "cause", None)
    return Cause(c) if c else None


def _probe_detail(ev: Evidence) -> str:
    """The probe's outcome in one line: the failing step and its detail, status, credentials sent."""
    p = ev.probe
    if p is None:
        return ""
    steps = list(getattr(p, "steps", None) or [])
    # The step that decided the verdict (with a hosts.toml, a mirror's failure may come first).
    failed = None if getattr(p, "cause", None) is None else (
        getattr(p, "failed_step", None) or next((s for s in steps if not getattr(s, "ok", True)), None))
    creds = "with the kubelet's credentials" if getattr(p, "credentials_sent", False) else "anonymously"
    status = getattr(p, "status", None)
    if failed is not None:
        name, detail = getattr(failed, "name", "?"), getattr(failed, "detail", "")
        text = f"step {name} failed: {detail}" if detail else f"step {name} failed"
    elif getattr(p, "cause", None) is None:
        digest = getattr(p, "digest", None)
        text = "the manifest resolves now" + (f" ({digest[:19]}…)" if digest else "")
    else:
        text = f"found {getattr(p, 'cause', '')}"
    if status and str(status) not in text:
        text += f" (HTTP {status})"
    return f"{text}, probed {creds}"


def _probe_line(ev: Evidence) -> EvidenceLine:
    return EvidenceLine("probe", _probe_detail(ev))


def _message_line(ev: Evidence) -> list[EvidenceLine]:
    if not ev.message:
        return []
    cause = ev.message_cause
    text = _clip(ev.message)
    if cause:
        text += f" → {cause.value}"
    return [EvidenceLine(ev.message_source, text)]


def _clip(text: str, limit: int = 400) -> str:
    """One line of at most ``limit`` characters. The middle goes, not the end: a runtime's error is wrapped
    outside-in, so its most specific part ("no such host", "not found") comes last."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit // 3].rsplit(" ", 1)[0]            # cut between words where there is a space
    tail = text[len(text) - (limit - len(head) - 2):]
    tail = tail.split(" ", 1)[1] if " " in tail else tail
    return f"{head} …{' ' if tail else ''}{tail}"


def _no_probe_settle(ev: Evidence, what: str) -> tuple[list[EvidenceLine], list[str]]:
    """Evidence and settle lines when the probe is missing or could not reach the registry."""
    host = ev.registry or "the registry"
    if ev.probe is None:
        why = ev.probe_note or "the registry was not probed"
        return [], [f"{why}; probing {host} ({what}) would settle it"]
    return ([EvidenceLine("probe", f"could not probe {host}: {_probe_detail(ev)}")],
            [f"a probe that reaches {host} ({what}) would settle it"])


def _keyring_lines(ev: Evidence) -> list[EvidenceLine]:
    lines: list[EvidenceLine] = []
    s = ev.secrets
    if s.names:
        lines.append(EvidenceLine("secrets", f"pull secrets in effect ({s.source}): {', '.join(s.names)}"))
    else:
        lines.append(EvidenceLine(
            "secrets", f"no imagePullSecrets on the pod or its service account {s.service_account!r}"))
    for problem in s.problems:
        lines.append(EvidenceLine("secrets", problem))
    if ev.timeline:
        for w in ev.timeline.secret_warnings[:1]:
            lines.append(EvidenceLine("event FailedToRetrieveImagePullSecret", _clip(w, 200)))
    lk = ev.lookup
    if lk is not None:
        matches = list(getattr(lk, "matches", []) or [])
        if matches:
            srcs = ", ".join(f"{getattr(m, 'key', '?')} from {getattr(m, 'source', '?')}" for m in matches[:3])
            note = " (only through the Docker Hub fallback)" if getattr(lk, "used_default_fallback", False) else ""
            lines.append(EvidenceLine("keyring", f"the kubelet sends credentials for {ev.registry}: {srcs}{note}"))
        else:
            expl = getattr(lk, "explanation", "") or f"no entry matches {ev.registry}"
            if s.missing or s.wrong_type:  # the keyring only saw what is left: say why the named ones are not
                expl = why_no_credentials(ev)
            lines.append(EvidenceLine("keyring", f"the kubelet sends no credentials: {expl}"))
    return lines


def _timeline_lines(ev: Evidence) -> list[EvidenceLine]:
    t = ev.timeline
    if t is None:
        return []
    out: list[EvidenceLine] = []
    if t.failed:
        src = f"event Failed x{t.failed} (last {ago(t.last_failure_at, ev.now)})"
        tail = f"; back-off now {t.backoff_seconds}s" if t.backoff_seconds else ""
        out.append(EvidenceLine(src, f"the kubelet failed to pull {t.failed} time(s){tail}"))
    if t.events_expired:
        # Events were read and none is about this container: most often expired (the API server keeps them
        # about 1 h by default), but a new ephemeral container or a filtered read looks the same.
        out.append(EvidenceLine("events", "no kubelet events for this container: expired (they last about 1 h by "
                                          "default) or never recorded; only the waiting state is left"))
    return out


def _retry_line(ev: Evidence) -> str:
    t = ev.timeline
    if t and t.next_attempt:
        when = f"{t.next_attempt.strftime('%H:%M:%S')}Z ({ago(t.next_attempt, ev.now)})"
        if t.next_attempt < ev.now:
            return (f"the kubelet's next pull was due about {when} (back-off {t.backoff_seconds}s); "
                    "deleting the pod retries now")
        return f"the kubelet retries at about {when}; deleting the pod retries now"
    if t and t.backoff_seconds:
        return f"the kubelet retries within {span(t.backoff_seconds)} (its back-off); deleting the pod retries now"
    return "the kubelet retries within 5 minutes (its back-off caps at 300s); deleting the pod retries now"


def _base(ev: Evidence) -> list[EvidenceLine]:
    return [*_message_line(ev), *_timeline_lines(ev)]


def _disagree(ev: Evidence, claimed: Cause, rule: str) -> Verdict:
    """The node's message says one thing and the probe now says another definite thing."""
    pc = _probe_cause(ev)
    found = pc.value if pc is not None else "the image pullable anonymously (the kubelet's credentials untested)"
    return Verdict(
        cause=claimed,
        confidence=POSSIBLE,
        summary=f"The node reported {claimed.value}, but a probe now finds {found}.",
        evidence=[*_base(ev), _probe_line(ev), *_keyring_lines(ev)],
        contradictions=[f"probe now finds {found}, not {claimed.value}"],
        settle=["compare the registry's answer from the node (e.g. crictl pull on the node) with the probe's"],
        rule=rule,
    )


def _from_message_only(ev: Evidence, cause: Cause, summary: str, rule: str, what: str,
                       extra: list[EvidenceLine] | None = None) -> Verdict:
    lines, settle = _no_probe_settle(ev, what)
    conf = POSSIBLE if cause in HEDGES else LIKELY
    return Verdict(cause, conf, summary, [*_base(ev), *(extra or []), *lines], settle=settle, rule=rule)


# --------------------------------------------------------------------------------------------- rules

def invalid_name(ev: Evidence, claimed: Cause) -> Verdict:
    """InvalidImageName: the reference breaks the grammar; ``reference.parse`` names the rule."""
    lines = _base(ev)
    err = ev.ref_error
    if err is not None:
        rule = getattr(err, "rule", "") or "grammar"
        part = getattr(err, "part", "")
        lines.append(EvidenceLine("reference", f"{err} (rule: {rule}{', at ' + repr(part) if part else ''})"))
        return Verdict(C.INVALID_IMAGE_NAME, CERTAIN,
                       f"The image reference {ev.image!r} is not valid: {err}.", lines, rule="invalid_name")
    contradictions = ["pulldoctor parses the reference without error"] if ev.ref is not None else []
    return Verdict(C.INVALID_IMAGE_NAME, POSSIBLE if contradictions else LIKELY,
                   f"The kubelet rejected the image reference {ev.image!r}.", lines, contradictions,
                   rule="invalid_name")


def never_pull(ev: Evidence, claimed: Cause) -> Verdict:
    """ErrImageNeverPull: policy Never and the image is not on the node (node image list settles it)."""
    lines = [*_base(ev), EvidenceLine("pod spec", f"imagePullPolicy: {ev.pull_policy or 'unknown'}")]
    node = ev.node
    normalized = getattr(ev.ref, "normalized", ev.image)
    if node is not None and node.images is not None:
        present = ev.image in node.images or normalized in node.images
        if not present:
            lines.append(EvidenceLine("node", f"{node.name} lists {len(node.images)} images; {normalized} "
                                              "is not among them"))
            if ev.nodes_with_image:
                lines.append(EvidenceLine("node", f"{', '.join(ev.nodes_with_image[:5])} "
                                                  f"list{'s' if len(ev.nodes_with_image) == 1 else ''} it"))
            conf = CERTAIN if ev.pull_policy == "Never" else LIKELY
            return Verdict(C.NEVER_PULL_ABSENT, conf,
                           f"imagePullPolicy is Never and {normalized} is not on node {node.name}.",
                           lines, rule="never_pull")
        lines.append(EvidenceLine("node", f"{node.name} lists {normalized}"))
        return Verdict(C.NEVER_PULL_ABSENT, POSSIBLE,
                       f"imagePullPolicy is Never; node {node.name} lists the image now.", lines,
                       ["the node lists the image now (pre-pulled since, or the kubelet's credential "
                        "verification for pre-pulled images refused it)"], rule="never_pull")
    return Verdict(C.NEVER_PULL_ABSENT, LIKELY,
                   f"imagePullPolicy is Never and the kubelet did not find {normalized} on the node.",
                   lines, settle=["the node's image list (kubectl get node -o json) would settle it"],
                   rule="never_pull")


def signature(ev: Evidence, claimed: Cause) -> Verdict:
    """SignatureValidationFailed: a signature policy on the node rejected the image."""
    return Verdict(C.SIGNATURE_INVALID, LIKELY if ev.message else POSSIBLE,
                   "A signature policy on the node rejected the image.", _base(ev),
                   settle=["the runtime's signature policy (e.g. /etc/containers/policy.json) names the rule"],
                   rule="signature")


def transient(ev: Evidence, claimed: Cause) -> Verdict:
    """The registry answered with an error then, and serves the image now: report it as transient."""
    lines = [*_base(ev), _probe_line(ev), *_keyring_lines(ev)]
    rl = ratelimit_text(ev)
    if rl:
        lines.append(EvidenceLine("probe", rl))
    return Verdict(claimed, POSSIBLE,
                   f"The node got {claimed.value}, but {ev.registry} serves the image now: transient; "
                   f"{_retry_line(ev)}.", lines,
                   contradictions=[f"probe: the image is pullable now ({_probe_detail(ev)})"],
                   transient=True, rule="transient")


def access(ev: Evidence, claimed: Cause) -> Verdict:
    """401 / "pull access denied": the credentials in effect and a probe split the hedge into
    ``auth_missing`` (nothing sent), ``auth_invalid`` (sent and refused) or ``repo_not_found``."""
    lines = [*_base(ev), *_keyring_lines(ev)]
    sends = ev.kubelet_sends_credentials
    state = _probe_state(ev)
    pc = _probe_cause(ev)

    if state in ("skipped", "unreachable"):
        probe_lines, settle = _no_probe_settle(ev, "with the credentials the kubelet would send")
        lines += probe_lines
        if claimed in HEDGES:
            guess = "no credentials reach it" if not sends else "the credentials are refused"
            return Verdict(claimed, POSSIBLE,
                           f"{ev.registry} refused the pull: the repository does not exist or {guess}.",
                           lines, settle=settle, rule="access")
        cause = C.AUTH_INVALID if sends else C.AUTH_MISSING
        summary = (f"{ev.registry} refused the credentials from {', '.join(ev.secrets.names) or 'the keyring'}."
                   if sends else f"{ev.registry} requires credentials and {why_no_credentials(ev)}.")
        contra = []
        # A bare 401 names no side (the classifier lists auth_invalid as also possible): the keyring decides,
        # and nothing speaks against it. Only a message that says which (no credentials / a token refused) can.
        also = (getattr(ev.classification, "fields", None) or {}).get("also_possible", [])
        if claimed != cause and cause.value not in also:
            contra.append(f"the message suggests {claimed.value}; the keyring says the kubelet "
                          f"{'sends' if sends else 'sends no'} credentials")
        return Verdict(cause, LIKELY, summary, lines, contra, settle, rule="access")

    lines.append(_probe_line(ev))
    sent = bool(getattr(ev.probe, "credentials_sent", False))
    if pc in (C.AUTH_MISSING, C.AUTH_INVALID, C.REPO_NOT_FOUND_OR_NO_ACCESS):
        if sent:
            return Verdict(C.AUTH_INVALID, CERTAIN,
                           f"{ev.registry} refuses the credentials from {', '.join(ev.secrets.names) or 'the keyring'}"
                           " (wrong or expired).", lines, rule="access")
        if sends:
            # The kubelet has an entry but pulldoctor could not use it (redacted in a bundle, incomplete).
            return Verdict(C.AUTH_INVALID, LIKELY,
                           f"The kubelet sends credentials for {ev.registry} and the pull is refused; "
                           "pulldoctor could not test them itself.", lines,
                           settle=["probe with the secret's values (a live cluster, not a bundle) would settle it"],
                           rule="access")
        # Nothing sent by the kubelet and the registry refuses anonymous access.
        hedge_left = pc == C.REPO_NOT_FOUND_OR_NO_ACCESS
        contra = ([f"{ev.registry} answers the same for a repository that does not exist; check the name too"]
                  if hedge_left else [])
        return Verdict(C.AUTH_MISSING, LIKELY if hedge_left else CERTAIN,
                       f"{ev.registry} requires credentials and {why_no_credentials(ev)}.", lines, contra,
                       rule="access")
    if pc is None and sends and not sent:
        return Verdict(C.AUTH_INVALID, LIKELY,
                       f"{getattr(ev.ref, 'name', ev.image)} is pullable anonymously, yet the pull with the "
                       "kubelet's credentials is refused: registries refuse bad credentials even for public "
                       "images.", lines,
                       settle=["probe with the secret's values (a live cluster, not a bundle) would settle it"],
                       rule="access")
    if pc == C.REPO_NOT_FOUND:
        return Verdict(C.REPO_NOT_FOUND, CERTAIN,
                       f"The repository {getattr(ev.ref, 'repository', ev.image)} does not exist on {ev.registry}"
                       + (" (as seen with the kubelet's credentials)." if sent else "."), lines, rule="access")
    if pc == C.TAG_NOT_FOUND:
        return _tag_verdict(ev, lines, "access")
    if pc == C.FORBIDDEN:
        return Verdict(C.FORBIDDEN, CERTAIN, f"{ev.registry} authenticates the pull but forbids it (403).",
                       lines, rule="access")
    return _disagree(ev, claimed, "access")


def _what(ref: object) -> str:
    digest = getattr(ref, "digest", None)
    return f"digest {digest}" if digest else f"tag {getattr(ref, 'tag', None) or 'latest'}"


def why_no_credentials(ev: Evidence) -> str:
    """Why the kubelet sends nothing for this registry, in the words of the secrets' own problems."""
    s = ev.secrets
    if s.missing:
        return f"secret {s.missing[0]} does not exist in namespace {ev.namespace}"
    if s.wrong_type:
        name, typ = s.wrong_type[0]
        return f"secret {name} has type {typ or '(none)'}, which the kubelet ignores"
    if s.names:
        hosts = sorted({k for k, _ in ev.entry_keys})
        return (f"the pull secrets in effect ({', '.join(s.names)}) have entries for {', '.join(hosts)}, "
                f"none for it" if hosts else f"the pull secrets in effect ({', '.join(s.names)}) have no entries")
    return "there is no pull secret for it"


def _tag_verdict(ev: Evidence, lines: list[EvidenceLine], rule: str) -> Verdict:
    ref = ev.ref
    what = _what(ref)
    sugg = list(getattr(ev.probe, "suggestions", None) or [])
    if sugg:
        lines.append(EvidenceLine("probe", f"closest tags: {', '.join(sugg[:5])}"))
    return Verdict(C.TAG_NOT_FOUND, CERTAIN,
                   f"The repository {getattr(ref, 'repository', '')} exists on {ev.registry}, but the {what} does not.",
                   lines, rule=rule)


def not_found(ev: Evidence, claimed: Cause) -> Verdict:
    """"not found" / "manifest unknown": a probe tells a missing tag (or digest) from a missing repository."""
    state = _probe_state(ev)
    if state in ("skipped", "unreachable"):
        hedge = " (containerd reports a missing repository the same way)" if claimed == C.TAG_NOT_FOUND else ""
        return _from_message_only(
            ev, claimed, f"{ev.registry} has no {_what(ev.ref)} in {getattr(ev.ref, 'repository', ev.image)}{hedge}.",
            "not_found", "tags/list tells a missing tag from a missing repository")
    lines = [*_base(ev), _probe_line(ev), *_keyring_lines(ev)]
    pc = _probe_cause(ev)
    if pc == C.TAG_NOT_FOUND:
        return _tag_verdict(ev, lines, "not_found")
    if pc == C.REPO_NOT_FOUND:
        return Verdict(C.REPO_NOT_FOUND, CERTAIN,
                       f"The repository {getattr(ev.ref, 'repository', '')} does not exist on {ev.registry}.",
                       lines, rule="not_found")
    if pc in ACCESS:
        return access(ev, pc)
    return _disagree(ev, claimed, "not_found")


def forbidden(ev: Evidence, claimed: Cause) -> Verdict:
    """403: authenticated (or anonymous) but not allowed: repository policy, IAM, a firewall or proxy."""
    state = _probe_state(ev)
    if state in ("skipped", "unreachable"):
        return _from_message_only(ev, C.FORBIDDEN, f"{ev.registry} forbids the pull (403).", "forbidden",
                                  "with the kubelet's credentials", _keyring_lines(ev))
    if _probe_cause(ev) == C.FORBIDDEN:
        return Verdict(C.FORBIDDEN, CERTAIN, f"{ev.registry} forbids the pull (403), confirmed by a probe.",
                       [*_base(ev), _probe_line(ev), *_keyring_lines(ev)], rule="forbidden")
    if _probe_cause(ev) in ACCESS:
        return access(ev, _probe_cause(ev) or claimed)
    return _disagree(ev, claimed, "forbidden")


def ratelimit_text(ev: Evidence) -> str:
    """The registry's remaining pull budget, from the probe's ratelimit headers."""
    rl = getattr(ev.probe, "ratelimit", None)
    if rl is None:
        return ""
    remaining, limit = getattr(rl, "remaining", None), getattr(rl, "limit", None)
    window, retry = getattr(rl, "window", None), getattr(rl, "retry_after", None)
    parts = []
    if remaining is not None:
        parts.append(f"{remaining} pulls left" + (f" of {limit}" if limit is not None else ""))
    if window:
        parts.append(f"per {span(window)}")
    if retry:
        parts.append(f"retry after {span(retry)}")
    return "rate limit: " + ", ".join(parts) if parts else ""


def rate_limit(ev: Evidence, claimed: Cause) -> Verdict:
    """429 / toomanyrequests (or the kubelet's own pull QPS): a HEAD reads the remaining budget."""
    if "pull QPS exceeded" in (ev.message or ""):
        return Verdict(C.RATE_LIMITED, CERTAIN,
                       "The kubelet's own registryPullQPS limit refused the pull (no request left the node).",
                       _base(ev), rule="rate_limit")
    state = _probe_state(ev)
    if state in ("skipped", "unreachable"):
        return _from_message_only(ev, C.RATE_LIMITED, f"{ev.registry} rate-limits the pulls (429).",
                                  "rate_limit", "a HEAD reads the remaining budget without spending a pull",
                                  _keyring_lines(ev))
    lines = [*_base(ev), _probe_line(ev), *_keyring_lines(ev)]
    rl = ratelimit_text(ev)
    if rl:
        lines.append(EvidenceLine("probe", rl))
    if _probe_cause(ev) == C.RATE_LIMITED:
        return Verdict(C.RATE_LIMITED, CERTAIN, f"{ev.registry} rate-limits the pulls (429 now too).",
                       lines, rule="rate_limit")
    return _disagree(ev, claimed, "rate_limit")


def network(ev: Evidence, claimed: Cause) -> Verdict:
    """DNS, connect, TLS and HTTP-vs-HTTPS: the node's own view; a probe from here can confirm, not refute."""
    host = ev.registry or "the registry"
    loopback = is_loopback_host(host)
    lines = _base(ev)
    if loopback:
        lines.append(EvidenceLine("reference", f"{host} is a loopback address: on a node it means the node "
                                               "itself, not your machine or the registry's host"))
    summaries = {
        C.DNS_FAILURE: f"The node cannot resolve {hostname(host)}.",
        C.NETWORK_UNREACHABLE: f"The node cannot connect to {host}.",
        C.TLS_ERROR: f"The node does not trust {host}'s TLS certificate (or the TLS handshake fails).",
        C.HTTP_VS_HTTPS: f"The node and {host} disagree on HTTP vs HTTPS.",
    }
    summary = summaries.get(claimed, f"The node cannot reach {host}.")
    pc = _probe_cause(ev)
    if ev.probe is None:
        lines2, settle = _no_probe_settle(ev, "DNS, TCP and TLS from here")
        return Verdict(claimed, LIKELY, summary, [*lines, *lines2], settle=settle, rule="network")
    lines.append(_probe_line(ev))
    if pc == claimed:
        note = [] if not loopback else ["the probe ran on this machine's loopback, not the node's"]
        return Verdict(claimed, LIKELY if loopback else CERTAIN, summary, lines, note, rule="network")
    if pc in (C.DNS_FAILURE, C.NETWORK_UNREACHABLE) and claimed not in (C.DNS_FAILURE, C.NETWORK_UNREACHABLE):
        # The probe stopped before the step the node failed at: it proves nothing either way.
        lines[-1] = EvidenceLine("probe", f"could not probe {host}: {_probe_detail(ev)}")
        return Verdict(claimed, LIKELY, summary, lines,
                       settle=[f"a probe that reaches {host} (TLS and scheme from here) would settle it"],
                       rule="network")
    if claimed == C.TLS_ERROR and pc == C.HTTP_VS_HTTPS and loopback:
        # Loopback registries are probed over plain HTTP by default (as containerd does without a
        # hosts.toml); the node evidently uses HTTPS, so the probe never reached the TLS step.
        lines[-1] = EvidenceLine("probe", f"the probe spoke plain HTTP to {host} (loopback counts as insecure); "
                                          "it did not test TLS")
        return Verdict(claimed, LIKELY, summary, lines,
                       settle=[f"probing https://{host} with --ca-file would show which CA it needs"],
                       rule="network")
    if pc is None or pc not in NETWORK:
        return Verdict(claimed, LIKELY, summary, lines,
                       [f"{host} answers from where pulldoctor runs; the node's DNS, network, proxy or CA "
                        "differ (or the failure was transient)"],
                       settle=["resolve and connect from the node itself (or a pod on it)"], rule="network")
    return Verdict(claimed, POSSIBLE, summary, lines,
                   [f"the probe from here finds {pc.value} instead"], rule="network")


def platform(ev: Evidence, claimed: Cause) -> Verdict:
    """No manifest for the node's OS/architecture: the node's platform vs the image index's platforms."""
    lines = _base(ev)
    node_platform = ev.node.platform if ev.node else None
    plats = list(getattr(ev.probe, "platforms", None) or [])
    if node_platform:
        lines.append(EvidenceLine("node", f"{ev.node.name if ev.node else ''} runs {node_platform}"))
    if plats:
        lines.append(EvidenceLine("probe", f"the image is built for {', '.join(plats)}"))
    if node_platform and plats:
        if not any(p == node_platform or p.startswith(node_platform + "/") or node_platform.startswith(p + "/")
                   for p in plats):
            return Verdict(C.PLATFORM_MISMATCH, CERTAIN,
                           f"{ev.image} has no {node_platform} build (it has {', '.join(plats)}).",
                           lines, rule="platform")
        return Verdict(C.PLATFORM_MISMATCH, POSSIBLE, f"{ev.image} was reported without a build for the node.",
                       lines, [f"the index lists {node_platform} now"], rule="platform")
    lines2, settle = _no_probe_settle(ev, "reading the image index's platforms")
    return Verdict(C.PLATFORM_MISMATCH, LIKELY,
                   f"{ev.image} has no build for the node's platform{' ' + node_platform if node_platform else ''}.",
                   [*lines, *lines2], settle=settle, rule="platform")


#: Below this estimated pull time (at the rate measured from here) the registry is not what makes it slow.
FAST_PULL_SECONDS = 60.0


def pull_speed(ev: Evidence) -> str | None:
    """``stall`` (no byte came), ``slow`` (bytes move, the whole image takes long), ``fast``, or None when
    the probe did not measure it. A probe that itself timed out waiting for the registry is a stall too."""
    p = ev.probe
    if p is None:
        return None
    tp = getattr(p, "throughput", None)
    if _probe_cause(ev) == C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE or (tp is not None and tp.stalled):
        return "stall"
    if tp is None or tp.error or tp.rate is None:
        return None
    est = tp.estimate(getattr(p, "size", None) or tp.blob_size)
    return "fast" if est is not None and est < FAST_PULL_SECONDS else "slow"


def progress_deadline(ev: Evidence, claimed: Cause) -> Verdict:
    """A pull cancelled by the runtime's progress deadline or a client deadline: the image's size for the
    node's platform, a measured download rate (a bounded sample of its largest layer), the estimated pull
    time, and the deadline of the node's runtime version. Tells a stall from a slow-but-moving download."""
    lines = _base(ev)
    p = ev.probe
    size = getattr(p, "size", None)
    tp = getattr(p, "throughput", None)
    platform = getattr(p, "platform", None)
    if size:
        lines.append(EvidenceLine("probe", f"image size {human_size(size)} compressed for {platform or 'the node'}"))
    if tp is not None:
        text = tp.describe()
        est = tp.estimate(size or tp.blob_size)
        if est is not None:
            text += f"; at that rate the whole image takes about {span(est)}"
        lines.append(EvidenceLine("probe", text))
    deadline = runtime_deadline(ev.node.runtime_version if ev.node else None)
    if deadline is not None:
        lines.append(EvidenceLine("node", deadline.describe()))
    elif ev.node and ev.node.runtime_version:
        lines.append(EvidenceLine("node", f"runtime {ev.node.runtime_version}"))
    speed = pull_speed(ev)
    contra: list[str] = []
    settle: list[str] = []
    if speed == "stall":
        summary = (f"The pull stalls: {ev.registry} sends no data (no byte within the probe's time cap), so a "
                   "no-progress deadline cancels it; a longer deadline would only wait longer.")
        if _probe_cause(ev) == C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE:
            lines.append(_probe_line(ev))
    elif speed == "slow":
        est = tp.estimate(size or tp.blob_size) if tp is not None else None
        took = f" (about {span(est)} for the whole image at the rate measured from here)" if est else ""
        summary = (f"The pull is slow but moving{took}; a no-progress deadline fires only when bytes stop for "
                   "its whole length, so the node's download also pauses at times, or a client cancelled it.")
    elif speed == "fast":
        summary = (f"{ev.registry} serves this image fast from here, yet the node's pull was cancelled: its "
                   "path to the registry (proxy, mirror, bandwidth) stalls or is slow.")
        contra.append("the download is fast from here; the slow part is on the node's side")
    else:
        summary = "The runtime cancelled the pull: no progress within its deadline (or a client deadline)."
        if _probe_state(ev) == "pullable":
            contra.append("the manifest resolves quickly from here; the slow part is the layer download on the node")
        if not size:
            settle.append("the image size from a probe would show whether the deadline is plausible")
        if tp is None:
            settle.append("a throughput sample of the largest layer (a probe) would tell a stall from a slow "
                          "download")
    if speed is not None and speed != "fast":
        settle.append("the same download from the node itself (crictl pull there) shows whether its path "
                      "behaves like this one")
    return Verdict(C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE, LIKELY, summary, lines, contra, settle,
                   rule="progress_deadline")


def disk(ev: Evidence, claimed: Cause) -> Verdict:
    """No space left on device: the node's DiskPressure condition and the image size."""
    lines = _base(ev)
    size = getattr(ev.probe, "size", None)
    if size:
        lines.append(EvidenceLine("probe", f"image size {size / 1e6:.1f} MB compressed"))
    node = ev.node
    if node and node.disk_pressure is not None:
        lines.append(EvidenceLine("node", f"{node.name} DiskPressure={node.disk_pressure}"))
        if node.disk_pressure:
            return Verdict(C.DISK_FULL, CERTAIN, f"Node {node.name} is out of disk space (DiskPressure).",
                           lines, rule="disk")
        return Verdict(C.DISK_FULL, LIKELY, f"Node {node.name} ran out of disk space while unpacking.",
                       lines, [f"{node.name} reports no DiskPressure now (the image GC may have freed space, "
                               "or the image store is on another filesystem)"], rule="disk")
    return Verdict(C.DISK_FULL, LIKELY, "The node ran out of disk space while unpacking the image.", lines,
                   settle=["the node's DiskPressure condition would settle it"], rule="disk")


def server_error(ev: Evidence, claimed: Cause) -> Verdict:
    """5xx from the registry or a proxy in front of it."""
    state = _probe_state(ev)
    if state in ("skipped", "unreachable"):
        return _from_message_only(ev, C.REGISTRY_SERVER_ERROR, f"{ev.registry} (or a proxy) failed with a 5xx.",
                                  "server_error", "its status now")
    if _probe_cause(ev) == C.REGISTRY_SERVER_ERROR:
        return Verdict(C.REGISTRY_SERVER_ERROR, CERTAIN, f"{ev.registry} (or a proxy) fails with a 5xx now too.",
                       [*_base(ev), _probe_line(ev)], rule="server_error")
    return _disagree(ev, claimed, "server_error")


def fallback(ev: Evidence, claimed: Cause) -> Verdict:
    """Nothing recognised: keep the raw text; a probe finding is still reported, as a lead."""
    lines = _base(ev)
    pc = _probe_cause(ev)
    if ev.probe is not None and pc is not None and pc not in UNREACHABLE and claimed == C.OTHER:
        lines.append(_probe_line(ev))
        return Verdict(pc, POSSIBLE, f"The failure text is not recognised; a probe now finds {pc.value}.",
                       lines, settle=["the runtime's own error (kubectl describe pod) would settle it"],
                       rule="fallback")
    if not ev.message:
        lines.append(EvidenceLine("waiting state", f"{ev.waiting_reason} without a message"))
    return Verdict(C.OTHER, POSSIBLE, "The failure text is not one pulldoctor recognises; see the message.",
                   lines, settle=["kubectl describe pod and the node's runtime log show the full error"],
                   rule="fallback")


# --------------------------------------------------------------------------------------------- table

RULES: tuple[Rule, ...] = (
    Rule("invalid_name", frozenset({C.INVALID_IMAGE_NAME}), invalid_name,
         "the reference breaks the grammar; reference.parse names the rule"),
    Rule("never_pull", frozenset({C.NEVER_PULL_ABSENT}), never_pull,
         "pull policy Never + the node's image list"),
    Rule("signature", frozenset({C.SIGNATURE_INVALID}), signature, "a signature policy rejected the image"),
    Rule("access", ACCESS, access,
         "401 / pull access denied: the keyring (what the kubelet sends) + a probe with those credentials"),
    Rule("not_found", NOT_FOUND, not_found, "tag, digest or repository missing: a probe tells which"),
    Rule("forbidden", frozenset({C.FORBIDDEN}), forbidden, "403: probe with the kubelet's credentials"),
    Rule("rate_limit", frozenset({C.RATE_LIMITED}), rate_limit, "429: the remaining budget from a HEAD"),
    Rule("network", NETWORK, network, "DNS, connect, TLS, HTTP vs HTTPS; loopback means the node"),
    Rule("platform", frozenset({C.PLATFORM_MISMATCH}), platform, "node platform vs the image index"),
    Rule("progress_deadline", frozenset({C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE}), progress_deadline,
         "cancelled pull: image size and the runtime's deadlines"),
    Rule("disk", frozenset({C.DISK_FULL}), disk, "no space left: DiskPressure and image size"),
    Rule("server_error", frozenset({C.REGISTRY_SERVER_ERROR}), server_error, "5xx: probe status"),
    Rule("fallback", frozenset({C.OTHER}), fallback, "unrecognised text: shown raw, probe as a lead"),
)
TRANSIENT = Rule("transient", REGISTRY_SIDE, transient,
                 "a registry-side failure the probe no longer sees: transient, with the next retry time")

_BY_CAUSE: dict[Cause, Rule] = {c: r for r in RULES for c in r.causes}
_BY_WAITING: dict[str, Cause] = {
    WaitingReason.INVALID_IMAGE_NAME: C.INVALID_IMAGE_NAME,
    WaitingReason.ERR_IMAGE_NEVER_PULL: C.NEVER_PULL_ABSENT,
    WaitingReason.SIGNATURE_VALIDATION_FAILED: C.SIGNATURE_INVALID,
}


def _untested_credentials(ev: Evidence) -> bool:
    """The kubelet sends credentials the probe could not send (redacted in a bundle): an anonymous success
    says nothing about them, and registries refuse bad credentials even for public images."""
    return ev.kubelet_sends_credentials and not getattr(ev.probe, "credentials_sent", False)


def claimed_cause(ev: Evidence) -> Cause:
    """What the node claimed: the waiting reason when it is specific, else the message's class, else
    the probe's finding (events expired, old kubelet), else ``other``."""
    if ev.waiting_reason in _BY_WAITING:
        return _BY_WAITING[ev.waiting_reason]
    if ev.ref_error is not None:
        return C.INVALID_IMAGE_NAME
    mc = ev.message_cause
    if mc is not None and mc != C.OTHER:
        return mc
    if ev.message is None:
        pc = _probe_cause(ev)
        if pc is not None and pc not in UNREACHABLE:
            return pc
    return C.OTHER


def decide(ev: Evidence) -> Verdict:
    """Apply the one rule of the claimed cause's family (or ``transient`` when the registry serves the
    image now)."""
    claimed = claimed_cause(ev)
    if (claimed in REGISTRY_SIDE and _probe_state(ev) == "pullable" and "pull QPS exceeded" not in (ev.message or "")
            and not _untested_credentials(ev)):
        return TRANSIENT.fn(ev, claimed)
    rule = _BY_CAUSE.get(claimed, RULES[-1])
    return rule.fn(ev, claimed)
