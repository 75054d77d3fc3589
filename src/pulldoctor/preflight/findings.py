"""What preflight reports: one finding per problem, pointing at the line to change.

A finding's ``cause`` is one of ``pulldoctor.causes.Cause`` (the names of causes.md), so a CI gate and
``diagnose`` speak of the same things; ``check`` says which preflight check found it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pulldoctor.causes import Cause
from pulldoctor.fix import Fix as Fix  # re-exported: the one Fix type, shared with diagnose
from pulldoctor.preflight.inputs import STDIN, Location


class Severity(StrEnum):
    ERROR = "error"  # the pod would not start
    WARNING = "warning"  # a risk, or something that could not be checked from here


class Check(StrEnum):
    REFERENCE = "reference"  # the reference grammar
    PULL_POLICY = "pull-policy"  # Never; latest with IfNotPresent
    PULL_SECRET = "pull-secret"  # imagePullSecrets that exist nowhere or give nothing
    REGISTRY = "registry"  # the probe: tag, repository, access, reachability
    PLATFORM = "platform"  # the image's platforms against --platform


@dataclass(slots=True)
class Finding:
    cause: Cause
    severity: Severity
    check: Check
    summary: str
    location: Location
    kind: str
    name: str
    namespace: str
    container: str | None = None
    container_type: str | None = None
    image: str | None = None
    fixes: list[Fix] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.location.file,
            "line": self.location.line,
            "source": self.location.source,
            "kind": self.kind,
            "name": self.name,
            "namespace": self.namespace,
            "container": self.container,
            "container_type": self.container_type,
            "image": self.image,
            "cause": self.cause.value,
            "severity": self.severity.value,
            "check": self.check.value,
            "summary": self.summary,
            "fixes": [f.to_json() for f in self.fixes],
        }

    @property
    def sort_key(self) -> tuple[Any, ...]:
        loc = self.location
        return (loc.file == STDIN, loc.file, loc.line or 0, self.severity != Severity.ERROR, self.cause.value)

    @property
    def subject(self) -> str:
        """``Deployment shop/web container app`` (what to look at, as a person names it)."""
        who = f"{self.kind} {self.namespace}/{self.name}" if self.name else self.kind
        if self.container:
            what = {"volume": "image volume", "init": "init container", "ephemeral": "ephemeral container"}
            who += f" {what.get(self.container_type or '', 'container')} {self.container}"
        return who
