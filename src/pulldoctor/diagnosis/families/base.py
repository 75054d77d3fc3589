"""What every family is: the ``Family`` interface (its causes, ``decide`` and ``fixes``), and the cause sets
the families and the table share.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pulldoctor.causes import Cause
from pulldoctor.diagnosis.evidence import Evidence
from pulldoctor.diagnosis.model import Confidence, Fix, Verdict

C = Cause
FixFn = Callable[[Evidence, Verdict], list[Fix]]
CERTAIN, LIKELY, POSSIBLE = Confidence.CERTAIN, Confidence.LIKELY, Confidence.POSSIBLE


@dataclass(frozen=True, slots=True)
class Family:
    """One family of causes, like an error class that carries its own hint: the causes it owns, ``decide``
    (the verdict for a claimed cause of the family) and ``fixes`` (the steps for a verdict whose cause it
    owns). ``rules.RULES`` registers every family once."""

    name: str
    causes: frozenset[Cause]
    doc: str
    decide: Callable[[Evidence, Cause], Verdict]
    fixes: FixFn


def by_cause(builders: dict[Cause, FixFn], default: FixFn) -> FixFn:
    """The ``fixes`` of a family with one builder per cause (``default`` for the rest of its causes)."""
    def fixes(ev: Evidence, v: Verdict) -> list[Fix]:
        return builders.get(v.cause, default)(ev, v)
    return fixes


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
