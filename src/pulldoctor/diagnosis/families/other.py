"""The registry's own failures (5xx) and the text nobody recognises (kept raw, a probe finding as a lead).
"""

from __future__ import annotations

from pulldoctor.causes import Cause
from pulldoctor.diagnosis.evidence import Evidence
from pulldoctor.diagnosis.families.base import CERTAIN, POSSIBLE, UNREACHABLE, C, Family
from pulldoctor.diagnosis.families.verdicts import disagree, from_message_only, probe_cause, probe_state
from pulldoctor.diagnosis.kubectl import host_of, ns, q, recreate_pod
from pulldoctor.diagnosis.lines import base_lines, probe_line
from pulldoctor.diagnosis.model import EvidenceLine, Fix, Verdict


def server_error(ev: Evidence, claimed: Cause) -> Verdict:
    """5xx from the registry or a proxy in front of it."""
    state = probe_state(ev)
    if state in ("skipped", "unreachable"):
        return from_message_only(ev, C.REGISTRY_SERVER_ERROR, f"{ev.registry} (or a proxy) failed with a 5xx.",
                                  "server_error", "its status now")
    if probe_cause(ev) == C.REGISTRY_SERVER_ERROR:
        return Verdict(C.REGISTRY_SERVER_ERROR, CERTAIN, f"{ev.registry} (or a proxy) fails with a 5xx now too.",
                       [*base_lines(ev), probe_line(ev)], rule="server_error")
    return disagree(ev, claimed, "server_error")


def _server(ev: Evidence, v: Verdict) -> list[Fix]:
    return [Fix(f"{host_of(ev)} (or a proxy in front of it) returns server errors: check its status page or logs; "
                "the kubelet keeps retrying.", recreate_pod(ev))]


def fallback(ev: Evidence, claimed: Cause) -> Verdict:
    """Nothing recognised: keep the raw text; a probe finding is still reported, as a lead."""
    lines = base_lines(ev)
    pc = probe_cause(ev)
    if ev.probe is not None and pc is not None and pc not in UNREACHABLE and claimed == C.OTHER:
        lines.append(probe_line(ev))
        return Verdict(pc, POSSIBLE, f"The failure text is not recognised; a probe now finds {pc.value}.",
                       lines, settle=["the runtime's own error (kubectl describe pod) would settle it"],
                       rule="fallback")
    if not ev.message:
        lines.append(EvidenceLine("waiting state", f"{ev.waiting_reason} without a message"))
    return Verdict(C.OTHER, POSSIBLE, "The failure text is not one pulldoctor recognises; see the message.",
                   lines, settle=["kubectl describe pod and the node's runtime log show the full error"],
                   rule="fallback")


def _other(ev: Evidence, v: Verdict) -> list[Fix]:
    return [Fix("Read the full error from the pod's events and the runtime's log on the node:",
                (f"kubectl describe pod {q(ev.pod)} {ns(ev)}",
                 f"kubectl get events {ns(ev)} --field-selector involvedObject.name={ev.pod}"))]


SERVER_ERROR = Family("server_error", frozenset({C.REGISTRY_SERVER_ERROR}), "5xx: probe status", server_error,
                      _server)
FALLBACK = Family("fallback", frozenset({C.OTHER}), "unrecognised text: shown raw, probe as a lead", fallback, _other)
