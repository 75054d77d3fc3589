"""The diagnosis's own vocabulary: confidence, evidence lines, verdicts, findings and groups.

Kept apart from the rule families so that the renderers depend on these small types only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from pulldoctor.causes import Cause
from pulldoctor.fix import Fix as Fix  # re-exported: the one Fix type, shared with preflight


class Confidence(StrEnum):
    """How sure a verdict is.

    - ``certain``: at least two independent sources agree (the runtime's message and a live probe, or the
      message and a fact of the cluster such as the reference grammar, the pull policy and the node's images).
    - ``likely``: one unambiguous source names the cause (usually the message) and nothing contradicts it,
      but nothing independent confirmed it either (``--no-probe``, the registry could not be probed).
    - ``possible``: the sources disagree, the message is a hedge the evidence could not settle, or the
      failure is gone (transient); the summary says what would settle it.
    """

    CERTAIN = "certain"
    LIKELY = "likely"
    POSSIBLE = "possible"


@dataclass(frozen=True, slots=True)
class EvidenceLine:
    """One fact and where it came from (``waiting message``, ``event Failed x7 (last 2m ago)``, ``keyring``,
    ``probe``, ``node``, ``pod spec``, ``secrets``, ``reference``, ``node log`` (a line of the node's own
    log, its text starting with node, unit and time), ``node settings`` (a setting or ``df`` read from it))."""

    source: str
    text: str

    def to_json(self) -> dict[str, str]:
        return {"source": self.source, "text": self.text}


@dataclass(slots=True)
class Verdict:
    """What a rule concludes: one root cause, how sure, why, and what speaks against it."""

    cause: Cause
    confidence: Confidence
    summary: str
    evidence: list[EvidenceLine] = field(default_factory=list)
    contradictions: list[str] = field(default_factory=list)
    settle: list[str] = field(default_factory=list)   # what would settle a verdict that is not certain
    transient: bool = False                             # the registry serves the image now
    rule: str = ""                                      # name of the rule that decided


@dataclass(slots=True)
class Finding:
    """One failing container, diagnosed. ``to_json`` is the documented, stable JSON shape."""

    namespace: str
    pod: str
    container: str
    container_type: str
    image: str
    waiting_reason: str
    verdict: Verdict
    fixes: list[Fix]
    message: str | None = None
    node: str | None = None
    registry: str | None = None
    timeline: dict[str, Any] | None = None
    probe: dict[str, Any] | None = None
    credentials: dict[str, Any] | None = None

    @property
    def cause(self) -> Cause:
        return self.verdict.cause

    @property
    def confidence(self) -> Confidence:
        return self.verdict.confidence

    def to_json(self) -> dict[str, Any]:
        v = self.verdict
        return {
            "namespace": self.namespace,
            "pod": self.pod,
            "container": self.container,
            "container_type": self.container_type,
            "image": self.image,
            "waiting_reason": self.waiting_reason,
            "cause": v.cause.value,
            "confidence": v.confidence.value,
            "summary": v.summary,
            "evidence": [e.to_json() for e in v.evidence],
            "fixes": [f.to_json() for f in self.fixes],
            "contradictions": list(v.contradictions),
            "settle": list(v.settle),
            "transient": v.transient,
            "rule": v.rule,
            "message": self.message,
            "node": self.node,
            "registry": self.registry,
            "timeline": self.timeline,
            "credentials": self.credentials,
            "probe": self.probe,
        }


@dataclass(slots=True)
class Group:
    """The same cause shared by several findings: one image, one registry or one node."""

    cause: Cause
    scope: str          # "image" | "registry" | "node"
    key: str            # the image, registry host or node name
    members: list[Finding]
    summary: str

    def to_json(self) -> dict[str, Any]:
        return {
            "cause": self.cause.value,
            "scope": self.scope,
            "key": self.key,
            "count": len(self.members),
            "summary": self.summary,
            "members": [
                {"namespace": f.namespace, "pod": f.pod, "container": f.container} for f in self.members
            ],
        }


@dataclass(slots=True)
class Diagnosis:
    """Everything ``diagnose`` found: findings, groups, what was not an image problem, and notes."""

    findings: list[Finding]
    groups: list[Group]
    not_image: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    probed: bool = False
    not_image_pods: dict[str, list[str]] = field(default_factory=dict)   # a few "ns/pod" per not_image reason
    as_of: datetime | None = None   # an offline input's time, the one the diagnosis is judged at (None: now)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "findings": [f.to_json() for f in self.findings],
            "groups": [g.to_json() for g in self.groups],
            "not_image": dict(self.not_image),
            "notes": list(self.notes),
        }
