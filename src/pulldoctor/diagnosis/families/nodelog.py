"""The node's own log lines as a second source, shared by every family: which cause a line shows, the
cause the lines alone decide when there is no message, and the verdict a family reached, corroborated (or
contradicted) by them. A line of the runtime or of the kubelet's own limits is independent of the event's
message; the kubelet's ``PullImage … failed`` line is the same error the event carries, so it fills in a
missing or cut message but never corroborates it.
"""

from __future__ import annotations

from pulldoctor.causes import Cause
from pulldoctor.diagnosis.evidence import Evidence
from pulldoctor.diagnosis.families.base import CERTAIN, C
from pulldoctor.diagnosis.lines import log_line
from pulldoctor.diagnosis.model import Verdict
from pulldoctor.messages import classify
from pulldoctor.nodelogs import DEADLINE_KINDS, Hit, Kind

_BY_KIND = {Kind.QPS: C.RATE_LIMITED, Kind.NO_SPACE: C.DISK_FULL, Kind.CREDENTIAL_PROVIDER: C.AUTH_MISSING,
            **dict.fromkeys(DEADLINE_KINDS, C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE)}


def hit_cause(h: Hit) -> Cause | None:
    """The cause a line shows (the kubelet's logged error: as ``messages.classify`` reads it)."""
    if h.kind == Kind.PULL_FAILED:
        c = classify(h.error or "").cause
        return None if c == C.OTHER else c
    return _BY_KIND.get(h.kind)


def independent(ev: Evidence) -> list[tuple[Hit, Cause]]:
    """The lines that are a source of their own (not the kubelet relaying the event's error), with causes."""
    out = []
    for h in ev.log_hits:
        c = hit_cause(h)
        if c is not None and h.kind != Kind.PULL_FAILED:
            out.append((h, c))
    return out


def log_cause(ev: Evidence) -> Cause | None:
    """What the node's own lines say when the message does not: the newest independent line's cause."""
    found = independent(ev)
    return found[-1][1] if found else None


def with_node_log(ev: Evidence, v: Verdict) -> Verdict:
    """``v`` with the node's lines about it: quoted as evidence; with the message saying the same, the cause
    is ``certain`` (two independent sources); lines that show another cause are contradictions. Lines that
    show nothing relevant change nothing."""
    if not ev.log_hits or v.transient:
        return v
    supporting = [h for h, c in independent(ev) if c == v.cause]
    other = [(h, c) for h, c in independent(ev) if c != v.cause]
    shown = [h for h in ev.log_hits if h is not ev.message_hit and (h in supporting or h.kind == Kind.PULL_FAILED)]
    v.evidence.extend(log_line(h) for h in shown[-4:])
    for h, c in other[-2:]:
        v.contradictions.append(f"the node's {h.unit} log shows {c.value} at "
                                f"{h.at.strftime('%H:%M:%SZ') if h.at else 'an unknown time'}")
    # The event's own message is a source apart from the runtime's lines, even when the kubelet's logged
    # error replaced it (it was cut): what it said counts.
    said = ev.replaced_cause == v.cause if ev.message_hit is not None else ev.message_cause == v.cause
    if supporting and said and not other and v.confidence != CERTAIN:
        v.confidence = CERTAIN
        v.summary += f" The node's own {supporting[-1].unit} log shows it too."
        v.settle = []
    return v
