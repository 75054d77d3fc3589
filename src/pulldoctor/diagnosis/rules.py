"""The one table of rule families, and the dispatch over it.

``decide`` picks the family from what the kubelet and the runtime claimed (the waiting reason, then the
message's classification, then the probe's finding) and lets it decide; ``fixes`` asks the family that
owns the verdict's cause for the steps. Each family lives in ``diagnosis.families``. The README lists this
table; keep them in step.
"""

from __future__ import annotations

from pulldoctor.causes import Cause, WaitingReason
from pulldoctor.diagnosis.evidence import Evidence
from pulldoctor.diagnosis.families.access import ACCESS_FAMILY, FORBIDDEN
from pulldoctor.diagnosis.families.base import REGISTRY_SIDE, UNREACHABLE, Family
from pulldoctor.diagnosis.families.deadline import PROGRESS_DEADLINE
from pulldoctor.diagnosis.families.disk import DISK
from pulldoctor.diagnosis.families.manifest import MANIFEST
from pulldoctor.diagnosis.families.network import NETWORK_FAMILY
from pulldoctor.diagnosis.families.node import INVALID_NAME, NEVER_PULL, SHORT_NAME, SIGNATURE
from pulldoctor.diagnosis.families.notfound import NOT_FOUND_FAMILY
from pulldoctor.diagnosis.families.other import FALLBACK, SERVER_ERROR
from pulldoctor.diagnosis.families.platform import PLATFORM
from pulldoctor.diagnosis.families.ratelimit import RATE_LIMIT, kubelet_qps_limited
from pulldoctor.diagnosis.families.transient import TRANSIENT
from pulldoctor.diagnosis.families.verdicts import probe_cause, probe_state, untested_credentials
from pulldoctor.diagnosis.kubectl import delete_pod, owner, owner_check, q
from pulldoctor.diagnosis.model import EvidenceLine, Fix, Verdict

C = Cause
#: A rule is a family: the name the README's table and ``Verdict.rule`` use, its causes, decide and fixes.
Rule = Family

RULES: tuple[Family, ...] = (
    INVALID_NAME, NEVER_PULL, SIGNATURE, SHORT_NAME, ACCESS_FAMILY, NOT_FOUND_FAMILY, FORBIDDEN, RATE_LIMIT,
    NETWORK_FAMILY, PLATFORM, MANIFEST, PROGRESS_DEADLINE, DISK, SERVER_ERROR, FALLBACK,
)

_BY_CAUSE: dict[Cause, Family] = {c: r for r in RULES for c in r.causes}
_BY_WAITING: dict[str, Cause] = {
    WaitingReason.INVALID_IMAGE_NAME: C.INVALID_IMAGE_NAME,
    WaitingReason.ERR_IMAGE_NEVER_PULL: C.NEVER_PULL_ABSENT,
    WaitingReason.SIGNATURE_VALIDATION_FAILED: C.SIGNATURE_INVALID,
}


def claimed_cause(ev: Evidence) -> Cause:
    """What the node claimed: the waiting reason when it is specific, else the message's class, else
    the probe's finding (events expired, old kubelet), else ``other``."""
    if ev.waiting_reason in _BY_WAITING:
        return _BY_WAITING[ev.waiting_reason]
    if ev.ref_error is not None:
        return C.INVALID_IMAGE_NAME
    if ev.provider_failure is not None:  # the kubelet's credential provider failed: it sent nothing of its own
        return C.AUTH_MISSING
    mc = ev.message_cause
    if mc is not None and mc != C.OTHER:
        return mc
    if ev.message is None:
        pc = probe_cause(ev)
        if pc is not None and pc not in UNREACHABLE:
            return pc
    return C.OTHER


def decide(ev: Evidence) -> Verdict:
    """Apply the one family of the claimed cause (or ``transient`` when the registry serves the image now)."""
    claimed = claimed_cause(ev)
    if (claimed in REGISTRY_SIDE and probe_state(ev) == "pullable" and not kubelet_qps_limited(ev)
            and not untested_credentials(ev)):
        v = TRANSIENT.decide(ev, claimed)
    else:
        v = _BY_CAUSE.get(claimed, FALLBACK).decide(ev, claimed)
    if ev.owner_note:
        v.evidence.append(EvidenceLine("owner", ev.owner_note))
    return v


def fixes(verdict: Verdict, ev: Evidence) -> list[Fix]:
    """The fix for this verdict, in the order a person would take the steps, from the family owning its
    cause; a transient verdict gets only the retry advice (nothing is broken now)."""
    if verdict.transient:
        return TRANSIENT.fixes(ev, verdict)
    steps = list(_BY_CAUSE.get(verdict.cause, FALLBACK).fixes(ev, verdict))
    o = owner(ev)
    check = owner_check(ev)
    if check is not None and o and any(f"{o[0]}/{o[1]}" in c or f"{o[0]} {o[1]}" in c or f"{o[0]} {q(o[1])}" in c
                                       for f in steps for c in f.commands):
        steps.insert(0, check)
    if o and o[0] == "job" and any(c.startswith(f"kubectl get job {q(o[1])} ") and "replace --force" in c
                                   for f in steps for c in f.commands):
        steps.append(Fix(f"Job {o[1]}'s pod template is immutable, so the command re-creates it: replace --force "
                         "deletes the Job and its pods and creates it again (it runs from the start), without the "
                         "old selector and controller-uid labels that a new Job must not carry."))
    if o and o[0] == "statefulset" and any(c.startswith(("kubectl set image statefulset/",
                                                         "kubectl patch statefulset "))
                                           for f in steps for c in f.commands):
        # kubernetes#67250: the StatefulSet controller waits for the stuck pod instead of replacing it.
        steps.append(Fix(f"A StatefulSet does not replace a pod stuck on its old template: after the change, "
                         f"delete {ev.pod} so it comes back with the new one.", (delete_pod(ev),)))
    return steps
