"""The wording every family's evidence shares: the message, the timeline, the keyring, the probe's outcome
and the retry time, each as ``EvidenceLine``s naming their source. Wording only: no verdict is decided here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pulldoctor.diagnosis.evidence import Evidence, ago, span
from pulldoctor.diagnosis.model import EvidenceLine
from pulldoctor.redact import printable

if TYPE_CHECKING:
    from pulldoctor.nodelogs import Hit


def probe_detail(ev: Evidence) -> str:
    """The probe's outcome in one line: the failing step and its detail, status, credentials sent."""
    p = ev.probe
    if p is None:
        return ""
    # The step that decided the verdict (with a hosts.toml, a mirror's failure may come first).
    failed = None if p.cause is None else p.failed_step
    creds = "with the kubelet's credentials" if p.credentials_sent else "anonymously"
    status = p.status
    if failed is not None:
        text = f"step {failed.name} failed: {failed.detail}" if failed.detail else f"step {failed.name} failed"
    elif p.cause is None:
        text = "the manifest resolves now" + (f" ({p.digest[:19]}…)" if p.digest else "")
    else:
        text = f"found {p.cause}"
    if status and str(status) not in text:
        text += f" (HTTP {status})"
    return f"{text}, probed {creds}"


def probe_line(ev: Evidence) -> EvidenceLine:
    return EvidenceLine("probe", probe_detail(ev))


def log_where(h: Hit) -> str:
    """Which node, unit and time a log line is from: ``node-a kubelet 2026-12-04T18:20:01Z``."""
    at = h.at.strftime("%Y-%m-%dT%H:%M:%SZ") if h.at else "(no time)"
    return f"{printable(h.node)} {h.unit} {at}"


def log_line(h: Hit) -> EvidenceLine:
    """A node's log line as evidence (source ``node log``): where it is from and the line, escaped."""
    return EvidenceLine("node log", f"{log_where(h)}: {printable(clip(h.text))}")


def message_line(ev: Evidence) -> list[EvidenceLine]:
    if not ev.message:
        return []
    cause = ev.message_cause
    text = clip(ev.message)
    if ev.message_hit is not None:  # the kubelet's logged error (events gone or cut): say where it is from
        text = f"{log_where(ev.message_hit)}: PullImage failed: {printable(text)}"
    if cause:
        text += f" → {cause.value}"
    return [EvidenceLine(ev.message_source, text)]


def clip(text: str, limit: int = 400) -> str:
    """One line of at most ``limit`` characters. The middle goes, not the end: a runtime's error is wrapped
    outside-in, so its most specific part ("no such host", "not found") comes last."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit // 3].rsplit(" ", 1)[0]            # cut between words where there is a space
    tail = text[len(text) - (limit - len(head) - 2):]
    tail = tail.split(" ", 1)[1] if " " in tail else tail
    return f"{head} …{' ' if tail else ''}{tail}"


def no_probe_settle(ev: Evidence, what: str) -> tuple[list[EvidenceLine], list[str]]:
    """Evidence and settle lines when the probe is missing or could not reach the registry."""
    host = ev.registry or "the registry"
    if ev.probe is None:
        why = ev.probe_note or "the registry was not probed"
        return [], [f"{why}; probing {host} ({what}) would settle it"]
    return ([EvidenceLine("probe", f"could not probe {host}: {probe_detail(ev)}")],
            [f"a probe that reaches {host} ({what}) would settle it"])


def keyring_lines(ev: Evidence) -> list[EvidenceLine]:
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
            lines.append(EvidenceLine("event FailedToRetrieveImagePullSecret", clip(w, 200)))
    lk = ev.lookup
    if lk is not None:
        if lk.matches:
            srcs = ", ".join(f"{m.key} from {m.source}" for m in lk.matches[:3])
            note = " (only through the Docker Hub fallback)" if lk.used_default_fallback else ""
            lines.append(EvidenceLine("keyring", f"the kubelet sends credentials for {ev.registry}: {srcs}{note}"))
        elif ev.provider is not None:
            lines.append(EvidenceLine("keyring", f"no pull secret has an entry for {ev.registry}"))
        else:
            expl = lk.explanation or f"no entry matches {ev.registry}"
            if s.missing or s.wrong_type:  # the keyring only saw what is left: say why the named ones are not
                expl = why_no_credentials(ev)
            lines.append(EvidenceLine("keyring", f"the kubelet sends no credentials: {expl}"))
    lines += provider_lines(ev)
    return lines


def provider_text(ev: Evidence) -> str:
    """Who supplies the node's credentials for this image: "credential provider ecr-credential-provider
    (default for aws:// nodes) with the node's IAM role"."""
    p = ev.provider
    if p is None:
        return ""
    return f"the kubelet's credential provider {p.name} ({p.source}) with {p.identity}"


def provider_lines(ev: Evidence) -> list[EvidenceLine]:
    """The node's credential provider for this image, a provider failure, and ECR token expiries."""
    out: list[EvidenceLine] = []
    if ev.provider is not None:
        also = " too (the kubelet tries each credential in turn)" if ev.kubelet_sends_credentials else ""
        glob = ev.provider.matching(ev.ref.name) if ev.ref else None
        out.append(EvidenceLine("credential provider",
                                f"{ev.registry} matches {glob or 'its matchImages'}: "
                                f"{provider_text(ev)} supplies credentials for it{also}"))
    if ev.provider_failure is not None:
        out.append(EvidenceLine(ev.message_source, f"credential provider failed: {clip(ev.provider_failure[0], 200)}"))
    for src, tok in ev.ecr_tokens[:3]:
        if tok.expires_at is None:
            out.append(EvidenceLine("keyring", f"ECR token in {src}: {tok.note}"))
        else:
            state = "expired" if tok.expired(ev.now) else "expires"
            out.append(EvidenceLine("keyring", f"ECR token in {src} {state} {tok.expires_at:%Y-%m-%d %H:%M:%S}Z "
                                               f"({ago(tok.expires_at, ev.now)})"))
    return out


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
    if ev.provider is not None:
        return f"there is no pull secret for it, and {provider_text(ev)} gave none that the registry took"
    return "there is no pull secret for it"


def timeline_lines(ev: Evidence) -> list[EvidenceLine]:
    t = ev.timeline
    if t is None:
        return []
    out: list[EvidenceLine] = []
    if t.failed:
        src = f"event Failed x{t.failed} (last {ago(t.last_failure_at, ev.now)})"
        when = "was" if ev.at_snapshot else "now"   # offline, the back-off is the snapshot's, not the present's
        tail = f"; back-off {when} {t.backoff_seconds}s" if t.backoff_seconds else ""
        out.append(EvidenceLine(src, f"the kubelet failed to pull {t.failed} time(s){tail}"))
    if t.events_expired:
        # Events were read and none is about this container: most often expired (the API server keeps them
        # about 1 h by default), but a new ephemeral container or a filtered read looks the same.
        out.append(EvidenceLine("events", "no kubelet events for this container: expired (they last about 1 h by "
                                          "default) or never recorded; only the waiting state is left"))
    return out


def retry_line(ev: Evidence) -> str:
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


def base_lines(ev: Evidence) -> list[EvidenceLine]:
    return [*message_line(ev), *timeline_lines(ev)]


def ratelimit_text(ev: Evidence) -> str:
    """The registry's remaining pull budget, from the probe's ratelimit headers."""
    rl = ev.probe.ratelimit if ev.probe is not None else None
    if rl is None:
        return ""
    remaining, limit, window, retry = rl.remaining, rl.limit, rl.window, rl.retry_after
    parts = []
    if remaining is not None:
        parts.append(f"{remaining} pulls left" + (f" of {limit}" if limit is not None else ""))
    if window:
        parts.append(f"per {span(window)}")
    if retry:
        parts.append(f"retry after {span(retry)}")
    return "rate limit: " + ", ".join(parts) if parts else ""
