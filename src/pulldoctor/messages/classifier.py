"""``classify``: peel the wrappers, match the core error, pick the root signal, extract the facts.

The root-signal rule is written out in the package docstring (``pulldoctor/messages/__init__.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from pulldoctor.causes import Cause
from pulldoctor.messages import fields as f
from pulldoctor.messages import rules
from pulldoctor.messages.lexicon import known_words
from pulldoctor.messages.normalize import normalize
from pulldoctor.messages.peel import Peeled, peel, runtime_of
from pulldoctor.messages.rules import Signal
from pulldoctor.redact import mask_userinfo

#: Causes about one credential rather than about the image: in an aggregate (one error per credential
#: the kubelet tried), a member that says something about the image wins over these.
CREDENTIAL_CAUSES: frozenset[Cause] = frozenset(
    {Cause.AUTH_MISSING, Cause.AUTH_INVALID, Cause.FORBIDDEN, Cause.REPO_NOT_FOUND_OR_NO_ACCESS}
)

#: A member of an aggregate whose root is a server error loses to a member that got a credential verdict:
#: the registry answered that other attempt, so it is up, and the 5xx belongs to one credential (ACR answers
#: 500 to a service principal it cannot use, Azure/acr#231) or to a passing blip.
TRANSIENT_CAUSES: frozenset[Cause] = frozenset({Cause.REGISTRY_SERVER_ERROR})

# Answers that mean "not for you / not here" and that a repository which cannot exist also gets.
_ACCESS_OR_ABSENCE: frozenset[Cause] = frozenset(
    {Cause.AUTH_MISSING, Cause.AUTH_INVALID, Cause.FORBIDDEN, Cause.TAG_NOT_FOUND, Cause.REPO_NOT_FOUND_OR_NO_ACCESS}
)
# GitHub's registry answers an anonymous or unauthorised pull of a private package with 401, 403 or
# "denied" — the same as for a package that does not exist (public issues show all three forms). GitLab.com's
# registry does the same with "denied: access forbidden" (a wrong project path and a token without access
# both get it: youtous/docker-mailserver-traefik#5, getwud/wud#600).
# What a short-name candidate registry answers when it does not have the image for us (podman's per-registry list).
_ABSENT_OR_REFUSED: frozenset[Cause] = _ACCESS_OR_ABSENCE | {Cause.REPO_NOT_FOUND}
_HIDES_PRIVATE = frozenset({"ghcr.io", "docker.pkg.github.com", "registry.gitlab.com"})
_PRIVATE_LOOKS_DENIED: frozenset[Cause] = frozenset({Cause.FORBIDDEN, Cause.AUTH_MISSING})
# the registry's bare refusals (a status, an error code); "no basic auth credentials" says more and stays
_BARE_REFUSALS = frozenset({"status_401", "status_403", "denied", "denied_first", "forbidden", "unauthorized",
                            "anonymous_token", "iam_denied", "registry_denied", "json_denied"})
_HOSTNAME = re.compile(r"[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){1,8}(?::\d{1,5})?")
_DOCKER_HUB = ("docker.io", "index.docker.io", "registry-1.docker.io")
_DOCKER_HUB_PREFIXES = tuple(h + "/" for h in _DOCKER_HUB)


@dataclass
class Classification:
    """What a message says: the root cause, the facts in it, and every cause seen (root first)."""

    cause: Cause
    fields: dict[str, object] = field(default_factory=dict)
    signals: list[Cause] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {"cause": self.cause.value, "fields": self.fields, "signals": [s.value for s in self.signals]}


def _core_signals(core: str) -> tuple[list[Signal], list[tuple[int, int]], str, frozenset[bytes]]:
    low = core.lower()
    ws = known_words(low)
    sigs, found = rules.match(low, ws)
    if not sigs and b"rpc" in ws:
        g = rules.grpc_signal(f.grpc_code(core, low))
        if g is not None:
            sigs.append(g)
    return sigs, found, low, ws


def _ordered(sigs: list[Signal]) -> list[Signal]:
    """Root first (most specific, then innermost), then the rest in the same order."""
    return sorted(sigs, reverse=True) if len(sigs) > 1 else sigs


def _causes(sigs: list[Signal]) -> list[Cause]:
    out: list[Cause] = []
    for s in sigs:
        if s.cause not in out:
            out.append(s.cause)
    return out


def _wrapper_signals(p: Peeled) -> list[Signal]:
    """The kubelet's own verdicts peeled off with their wrapper (``evalCRIPullErr``)."""
    out: list[Signal] = []
    if p.reason is None and "signature_failed" not in p.wrappers and "registry_unavailable" not in p.wrappers:
        return out
    reason = (p.reason or "").lower()
    if reason == "signaturevalidationfailed":
        out.append(Signal(rules.DEFINITIVE, -1, Cause.SIGNATURE_INVALID, "reason_signature"))
    elif reason == "invalidimagename":
        out.append(Signal(rules.DEFINITIVE, -1, Cause.INVALID_IMAGE_NAME, "reason_invalid_name"))
    elif reason == "errimageneverpull":
        out.append(Signal(rules.DEFINITIVE, -1, Cause.NEVER_PULL_ABSENT, "reason_never_pull"))
    elif reason == "registryunavailable":
        out.append(Signal(rules.FALLBACK - 5, -1, Cause.NETWORK_UNREACHABLE, "reason_registry_unavailable"))
    if "signature_failed" in p.wrappers:
        out.append(Signal(rules.DEFINITIVE, -1, Cause.SIGNATURE_INVALID, "kubelet_signature"))
    if "registry_unavailable" in p.wrappers:
        out.append(Signal(rules.FALLBACK - 5, -1, Cause.NETWORK_UNREACHABLE, "kubelet_registry_unavailable"))
    return out


def _cannot_exist_on_hub(img: str | None) -> bool:
    """``docker.io/quay.io/x``: Docker Hub namespaces are letters and digits only, so a host name there
    means a registry prefix was doubled and the repository cannot exist."""
    if not img or not img.lower().startswith(_DOCKER_HUB_PREFIXES):
        return False
    parts = img.split("@", 1)[0].split("/")
    return len(parts) >= 3 and parts[0].lower() in _DOCKER_HUB and _HOSTNAME.fullmatch(parts[1].lower()) is not None


def _is_pause(img: str | None) -> bool:
    return bool(img) and img.split("@", 1)[0].rsplit(":", 1)[0].rsplit("/", 1)[-1] == "pause"  # type: ignore[union-attr]


def _classify(message: object) -> Classification:
    text = normalize(message)
    p = peel(text)
    fields: dict[str, object] = {}
    extra = _wrapper_signals(p)
    found: list[tuple[int, int]] = []
    root_text = text  # where the root signal was found: its gRPC code is the one reported

    if p.members:
        members: list[dict[str, object]] = []
        per_member: list[tuple[list[Signal], list[tuple[int, int]], str]] = []
        member_words: list[frozenset[bytes]] = []
        for m in p.members:
            sigs, got, _, ws = _core_signals(m)
            member_words.append(ws)
            sigs = _ordered(sigs)
            per_member.append((sigs, got, m))
            members.append({"message": mask_userinfo(m), "cause": (sigs[0].cause if sigs else Cause.OTHER).value})
        answered = [pm for pm in per_member if pm[0]]
        credential = [pm for pm in answered if pm[0][0].cause in CREDENTIAL_CAUSES]
        about_image = [pm for pm in answered if pm[0][0].cause not in CREDENTIAL_CAUSES
                       and not (credential and pm[0][0].cause in TRANSIENT_CAUSES)]
        pool = about_image or credential or answered
        best: list[Signal] = []
        if pool:
            best, found, root_text = max(pool, key=lambda pm: pm[0][0].tier)  # first among the most specific
        member_causes = {pm[0][0].cause if pm[0] else Cause.OTHER for pm in per_member}
        if p.candidates and len(member_causes) > 1 and member_causes <= _ABSENT_OR_REFUSED:
            # every candidate registry either lacks the name or refuses it: found nowhere, and which registry
            # was meant the text cannot say (the package docstring)
            best = [Signal(rules.REGISTRY, -1, Cause.REPO_NOT_FOUND_OR_NO_ACCESS, "candidates_absent_or_refused",
                           tuple(sorted(member_causes - {Cause.REPO_NOT_FOUND_OR_NO_ACCESS}, key=lambda c: c.value)))]
            fields["note"] = "the short name was tried at every search registry: none has it for these credentials"
        head = _ordered(best[:1] + extra)
        ordered = head + best[1:] + [s for sigs, _, _ in per_member if sigs is not best for s in sigs]
        fields["members"] = members
    else:
        sigs, found, core_low, core_words = _core_signals(p.core)
        ordered = _ordered(sigs + extra)

    secondary: list[Signal] = []
    if p.secondary:
        secondary = _core_signals(p.secondary)[0]
        secondary = _ordered(secondary)

    low = text.lower()
    img = p.image or f.image(text, low)
    root = ordered[0] if ordered else (secondary[0] if secondary else None)
    cause = root.cause if root else Cause.OTHER
    signals = _causes(ordered + secondary) or [Cause.OTHER]

    primary, mirrors = f.split_mirrors(text)   # a failed mirror's URL and host are not the registry's
    primary_low = primary.lower() if mirrors else low
    u = f.url(primary, primary_low)
    h = f.host(primary, primary_low, u, img)

    # Context rules: what the image and its registry prove about the answer (package docstring).
    also: tuple[Cause, ...] = root.also if root and root.cause is cause else ()
    if cause in _ACCESS_OR_ABSENCE and _cannot_exist_on_hub(img):
        cause, also = Cause.REPO_NOT_FOUND, ()
        fields["note"] = "a registry host inside a docker.io path: this repository cannot exist on Docker Hub"
    elif cause is Cause.PLATFORM_MISMATCH and "sandbox" in p.wrappers and _is_pause(img):
        cause, also = Cause.OTHER, (Cause.PLATFORM_MISMATCH,)
        fields["note"] = "the pause image is published for every platform: the runtime's platform matching failed"
    elif (cause in _PRIVATE_LOOKS_DENIED and root is not None and root.rule in _BARE_REFUSALS and h
          and h.lower() in _HIDES_PRIVATE):
        also = (cause, *[c for c in also if c is not cause])
        cause = Cause.REPO_NOT_FOUND_OR_NO_ACCESS
        fields["note"] = f"{h} answers 401/403/denied alike for a private package and for a missing one"
    if cause not in signals:
        signals.insert(0, cause)
    elif signals[0] is not cause:
        signals.remove(cause)
        signals.insert(0, cause)

    if img:
        fields["image"] = f.without_userinfo(img)
    if h:
        fields["host"] = h.rpartition("@")[2]
    if u:
        fields["url"] = mask_userinfo(u)
    status = root.status if root and root.status else None
    if status is None and found:
        status = found[-1][0]
    if status is not None:
        fields["status"] = status
    code = f.grpc_code(root_text, root_text.lower()) if p.members else f.grpc_code(text, low)
    if code:
        fields["grpc_code"] = code
    if p.members:
        core_low = p.core.lower()
        # the members cut the aggregate at ", " boundaries, never inside a word: their words are the core's
        core_words = frozenset().union(*member_words)
    fields["runtime"] = runtime_of(core_low, core_words)
    plat = f.platform(text, low) if cause is Cause.PLATFORM_MISMATCH or "platform" in low else None
    if plat:
        fields["platform"] = plat
    if mirrors:
        fields["mirrors"] = mirrors
    res = f.resolver(primary, primary_low)
    if res:
        fields["resolver"] = res
    for wrapper in p.wrappers:
        if wrapper != "kubectl_field":
            fields["wrapper"] = wrapper
            break
    if p.reason:
        fields["reason"] = p.reason
    if also:
        fields["also_possible"] = [c.value for c in also]
    return Classification(cause, fields, signals)


def classify(message: str) -> Classification:
    """Classify one runtime/kubelet error message. Never raises; bounded time on any input."""
    try:
        return _classify(message)
    except Exception:
        return Classification(Cause.OTHER, {"runtime": "unknown"}, [Cause.OTHER])
