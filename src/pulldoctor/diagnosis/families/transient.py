"""A registry-side failure the probe no longer sees: transient, with the next retry time; nothing to fix but
a retry.
"""

from __future__ import annotations

from pulldoctor.causes import Cause
from pulldoctor.diagnosis.evidence import Evidence
from pulldoctor.diagnosis.families.base import POSSIBLE, REGISTRY_SIDE, Family
from pulldoctor.diagnosis.kubectl import patchable, recreate_pod
from pulldoctor.diagnosis.lines import base_lines, keyring_lines, probe_detail, probe_line, ratelimit_text, retry_line
from pulldoctor.diagnosis.model import EvidenceLine, Fix, Verdict


def transient(ev: Evidence, claimed: Cause) -> Verdict:
    """The registry answered with an error then, and serves the image now: report it as transient."""
    lines = [*base_lines(ev), probe_line(ev), *keyring_lines(ev)]
    rl = ratelimit_text(ev)
    if rl:
        lines.append(EvidenceLine("probe", rl))
    return Verdict(claimed, POSSIBLE,
                   f"The node got {claimed.value}, but {ev.registry} serves the image now: transient; "
                   f"{retry_line(ev)}.", lines,
                   contradictions=[f"probe: the image is pullable now ({probe_detail(ev)})"],
                   transient=True, rule="transient")


def _retry(ev: Evidence, v: Verdict) -> list[Fix]:
    """Nothing is broken now: only the retry advice."""
    how = ("delete the pod (its controller recreates it)" if patchable(ev)
           else "recreate the pod from its own manifest (nothing else would recreate it)")
    return [Fix(f"Nothing to change if it stays healthy: the kubelet retries by itself. To retry now, {how}.",
                recreate_pod(ev)),
            Fix("If it fails again, diagnose it again after the next pull: the failure will be current.")]


TRANSIENT = Family("transient", REGISTRY_SIDE,
                   "a registry-side failure the probe no longer sees: transient, with the next retry time",
                   transient, _retry)
