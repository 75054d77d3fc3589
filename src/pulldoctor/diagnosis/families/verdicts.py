"""The probe's state and the verdicts two families reach alike: a message the probe contradicts, a message
alone (no probe, or one that could not reach the registry), a missing tag.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pulldoctor.causes import HEDGES, Cause
from pulldoctor.diagnosis.evidence import Evidence
from pulldoctor.diagnosis.families.base import CERTAIN, LIKELY, POSSIBLE, UNREACHABLE, C
from pulldoctor.diagnosis.lines import base_lines, keyring_lines, no_probe_settle, probe_line
from pulldoctor.diagnosis.model import EvidenceLine, Verdict

if TYPE_CHECKING:
    from pulldoctor.reference import ImageRef


def probe_state(ev: Evidence) -> str:
    """``skipped`` (no probe), ``unreachable``, ``pullable`` or ``failed``."""
    p = ev.probe
    if p is None:
        return "skipped"
    if p.cause is None:
        return "pullable"
    return "unreachable" if p.cause in UNREACHABLE else "failed"


def probe_cause(ev: Evidence) -> Cause | None:
    return ev.probe.cause if ev.probe is not None else None


def untested_credentials(ev: Evidence) -> bool:
    """The kubelet sends credentials the probe could not send (redacted in a bundle): an anonymous success
    says nothing about them, and registries refuse bad credentials even for public images."""
    return ev.kubelet_sends_credentials and not (ev.probe is not None and ev.probe.credentials_sent)


def disagree(ev: Evidence, claimed: Cause, rule: str) -> Verdict:
    """The node's message says one thing and the probe now says another definite thing."""
    pc = probe_cause(ev)
    found = pc.value if pc is not None else "the image pullable anonymously (the kubelet's credentials untested)"
    return Verdict(
        cause=claimed,
        confidence=POSSIBLE,
        summary=f"The node reported {claimed.value}, but a probe now finds {found}.",
        evidence=[*base_lines(ev), probe_line(ev), *keyring_lines(ev)],
        contradictions=[f"probe now finds {found}, not {claimed.value}"],
        settle=["compare the registry's answer from the node (e.g. crictl pull on the node) with the probe's"],
        rule=rule,
    )


def from_message_only(ev: Evidence, cause: Cause, summary: str, rule: str, what: str,
                       extra: list[EvidenceLine] | None = None) -> Verdict:
    lines, settle = no_probe_settle(ev, what)
    conf = POSSIBLE if cause in HEDGES else LIKELY
    return Verdict(cause, conf, summary, [*base_lines(ev), *(extra or []), *lines], settle=settle, rule=rule)


def ref_what(ref: ImageRef | None) -> str:
    digest = ref.digest if ref else None
    return f"digest {digest}" if digest else f"tag {(ref.tag if ref else None) or 'latest'}"


def tag_verdict(ev: Evidence, lines: list[EvidenceLine], rule: str) -> Verdict:
    ref = ev.ref
    what = ref_what(ref)
    sugg = list(ev.probe.suggestions) if ev.probe is not None else []
    if sugg:
        lines.append(EvidenceLine("probe", f"closest tags: {', '.join(sugg[:5])}"))
    return Verdict(C.TAG_NOT_FOUND, CERTAIN,
                   f"The repository {ref.repository if ref else ''} exists on {ev.registry}, but the {what} does not.",
                   lines, rule=rule)
