"""Peel the wrappers the kubelet and kubectl put around a runtime's error, and split aggregates.

What is peeled (outermost first; each wrapper may appear once, in any order, at most ``MAX_PEELS`` times):

- kubectl 1.35 ``describe`` prefixes the event with the field path: ``spec.containers{app}: ``;
- kubelet events (``pkg/kubelet/images/image_manager.go``): ``Failed to pull image "X": ``,
  ``Back-off pulling image "X"`` (1.32+ adds ``: <Reason>: <last error>``, PR kubernetes#127918),
  ``Failed to inspect image "X": ``, ``Failed to apply default image tag "X": ``,
  ``Container image "X" is not present with pull policy of Never``, and ``evalCRIPullErr``'s
  ``image pull failed for X because the registry is unavailable`` / ``… signature validation failed``;
- the pre-1.20 FailedSync event ``Error syncing pod …: failed to "StartContainer" for "c" with R: "…"``;
- the sandbox event ``Failed create pod sandbox: … failed to get sandbox image "X": …``;
- the second Failed event ``Error: ErrImagePull``.

The gRPC status (``rpc error: code = X desc = ``) and the runtime's own wrappers are not removed: the
rules look for the core error inside them, and the wrappers tell which runtime spoke (``runtime_of``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import pairwise

from pulldoctor.messages.lexicon import Index, words

MAX_PEELS = 8
MAX_MEMBERS = 16

_IMG = r'"([^"]{0,4096})"'

# (wrapper name, anchored pattern; group 1 = image when present). Matched case-insensitively.
_WRAPPERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("kubectl_field", re.compile(r"spec\.[a-z]{1,32}\{[^}]{0,253}\}:\s*()", re.IGNORECASE)),
    ("failed_to_pull", re.compile(r"failed to pull image " + _IMG + r":?\s*", re.IGNORECASE)),
    ("back_off", re.compile(r"back-off pulling image " + _IMG + r":?\s*", re.IGNORECASE)),
    ("inspect_failed", re.compile(r"failed to inspect image " + _IMG + r":?\s*", re.IGNORECASE)),
    ("default_tag", re.compile(r"failed to apply default image tag " + _IMG + r":?\s*", re.IGNORECASE)),
    ("never_pull", re.compile(r"container image " + _IMG + r"(?= is not present)", re.IGNORECASE)),
    ("registry_unavailable",
     re.compile(r"image pull failed for (\S{1,4096}) because the registry is unavailable[.:]?\s*", re.IGNORECASE)),
    ("signature_failed",
     re.compile(r"image pull failed for (\S{1,4096}) because the signature validation failed[.:]?\s*", re.IGNORECASE)),
    ("error_syncing",
     re.compile(r'error syncing pod[^:]{0,300}: failed to "[a-z]{1,32}" for "[^"]{0,253}" with \w{1,64}: "?()',
                re.IGNORECASE)),
    ("sandbox", re.compile(r"failed (?:to )?create pod sandbox:\s*()", re.IGNORECASE)),
    ("error_event", re.compile(r"error: (?=\w{1,64}$)()", re.IGNORECASE)),
    # kubelet log lines (remote_image.go / cri-client): `PullImage "X" from image service failed: <err>` and the
    # structured `"PullImage from image service failed" err="<err>" image="X"`
    ("kubelet_log", re.compile(r'pullimage (?:"([^"]{1,4096})" )?from image service failed:?\s*', re.IGNORECASE)),
    ("kubelet_log", re.compile(r'"pullimage from image service failed"\s*(?:err=)?"?()', re.IGNORECASE)),
    ("kubelet_log", re.compile(r'"failed to pull image"\s*(?:err=)?"?()', re.IGNORECASE)),
)

# Wrappers by the first letter they can start with, so each step tries one or two patterns, not all.
_BY_FIRST: dict[str, tuple[tuple[str, re.Pattern[str]], ...]] = {}
for _name, _pat in _WRAPPERS:
    _c = _pat.pattern[0].lower()
    _BY_FIRST[_c] = (*_BY_FIRST.get(_c, ()), (_name, _pat))

# The 1.32+ back-off message and FailedSync repeat the waiting reason before the error (images/types.go,
# cri-api pkg/errors).
_REASON = re.compile(r"([A-Za-z]{6,40}): ")
_REASONS = frozenset(r.lower() for r in (
    "ErrImagePull", "ImagePullBackOff", "RegistryUnavailable", "SignatureValidationFailed", "ErrImageNeverPull",
    "InvalidImageName", "ImageInspectError",
))

_SANDBOX_IMAGE = re.compile(r'failed to get sandbox image "([^"]{0,4096})"', re.IGNORECASE)

# Heads that start a runtime error: where a kubelet aggregate ``[e1, e2]`` is split.
_MEMBER_HEADS = (
    "rpc error: ", "failed to ", "error ", "unable to ", "reading manifest ", "pinging container registry",
    "initializing source", "pull access denied", "unauthorized", "denied", "toomanyrequests", "manifest ",
    "pull qps exceeded", "no basic auth", "image pull failed", "registryunavailable", "signaturevalidationfailed",
    "get ", "head ", "received unexpected", "unexpected status", "writing blob", "net/http", "dial tcp",
    "context ", "x509", "tls:", "no such host", "no match", "no matching",
)


@dataclass(slots=True)
class Peeled:
    """The core error once the kubelet/kubectl wrappers are off."""

    core: str
    wrappers: list[str] = field(default_factory=list)
    image: str | None = None
    members: list[str] = field(default_factory=list)  # kubelet aggregate members, in order
    candidates: bool = False  # the members are one pull attempt per short-name candidate (podman/libimage)
    secondary: str = ""  # CRI-O's "; artifact err: …" part: a fallback attempt, not the image's error
    reason: str | None = None  # the waiting reason the 1.32+ back-off message repeats ("ErrImagePull")


def _peel_front(out: Peeled, rest: str) -> str:
    """Remove the wrappers at the front of ``rest``, recording them in ``out``; return what is left."""
    for _ in range(MAX_PEELS):
        for name, pattern in _BY_FIRST.get(rest[:1].lower(), ()):
            m = pattern.match(rest)
            if m is None:
                continue
            if name not in out.wrappers:
                out.wrappers.append(name)
            img = m.group(1)
            if img and out.image is None:
                out.image = img
            if name != "never_pull":  # the never-pull sentence is itself the error: keep it
                rest = rest[m.end():]
            break
        else:
            break
        if "never_pull" in out.wrappers:
            break
    return rest


def peel(text: str) -> Peeled:
    """Remove the wrappers at the front of ``text``; record which and the image they name."""
    out = Peeled(core=text)
    rest = _peel_front(out, _skip_leading_noise(_strip_reason(out, text)))
    if out.reason is None and rest[:1].isupper():  # reasons are CamelCase: "ErrImagePull: …"
        stripped = _strip_reason(out, rest)
        if stripped is not rest:
            rest = _peel_front(out, stripped)
    if "error_syncing" in out.wrappers and rest.endswith('"'):
        rest = rest[:-1]
    if "sandbox" in out.wrappers and out.image is None:
        m2 = _SANDBOX_IMAGE.search(rest)
        if m2:
            out.image = m2.group(1)
    out.core = rest
    _split_secondary(out)
    _split_aggregate(out)
    if not out.members:
        _split_candidates(out)
    return out


# Where a kubelet/kubectl message starts, as the kubelet writes it (capitalised: the runtimes' own texts are
# lower case). Used when a paste carries a prefix such as a `kubectl describe` event row
# ("Warning  Failed  3m (x4 over 5m)  kubelet  Failed to pull image …") or a log line's timestamp.
_STARTS = ('Failed to pull image "', 'Back-off pulling image "', "Error syncing pod", 'Container image "',
           "PullImage ", '"PullImage ', '"Failed to pull image" ',
           "Failed to apply default image tag", "Failed to inspect image", "Failed to create pod sandbox",
           "Failed create pod sandbox", "spec.containers{", "spec.initContainers{", "spec.ephemeralContainers{")
_NOISE_WINDOW = 400
_START_ANYWHERE = re.compile("|".join(re.escape(st) for st in _STARTS))  # leftmost start, in one pass


def _strip_reason(out: Peeled, rest: str) -> str:
    """``ErrImagePull: <error>``: the 1.32+ back-off message and pasted statuses put the waiting reason first."""
    m = _REASON.match(rest)
    if m and m.group(1).lower() in _REASONS:
        out.reason = m.group(1)
        return rest[m.end():]
    return rest


def _skip_leading_noise(text: str) -> str:
    """Drop what precedes the first kubelet/kubectl message start found near the head of the text."""
    if text.startswith(_STARTS):
        return text
    m = _START_ANYWHERE.search(text, 0, _NOISE_WINDOW)
    return text[m.start():] if m is not None and m.start() > 0 else text


def _split_secondary(out: Peeled) -> None:
    """Set aside what the runtime tried besides the image's own registry: those errors are not the root.

    - CRI-O 1.31+ tries the reference as an OCI artifact after the image pull fails: ``…; artifact err: …``;
    - containers/image reports failed mirrors before the primary's error (docker/docker_image_src.go):
      ``(Mirrors also failed: [m1: e1] [m2: e2]): <primary ref>: <primary error>``.
    """
    core = out.core
    i = core.find("; artifact err:")  # CRI-O writes it in lower case
    if i > 0:
        out.secondary = core[i + 2:]
        core = core[:i]
    i = core.find("(Mirrors also failed: ")
    if i >= 0:
        j = core.find("]): ", i)
        if j > 0:
            out.secondary = (core[i + 22: j + 1] + " " + out.secondary).strip()
            core = core[:i] + core[j + 4:]
    out.core = core


def _split_aggregate(out: Peeled) -> None:
    """``utilerrors.NewAggregate`` prints several errors as ``[e1, e2]`` (one per credential tried)."""
    core = out.core
    if not core.startswith("[") or len(core) < 4:
        return
    body = core[1:-1] if core.endswith("]") else core[1:]
    low = body.lower()
    heads = set(_MEMBER_HEADS)
    first = low[:16]
    if first:
        heads.add(first)
    cuts = [0]
    i = low.find(", ")
    while i != -1 and len(cuts) < MAX_MEMBERS:
        nxt = low[i + 2: i + 2 + 40]
        if nxt.startswith(tuple(heads)):
            cuts.append(i + 2)
        i = low.find(", ", i + 2)
    if len(cuts) < 2:
        return
    cuts.append(len(body) + 2)
    out.members = [body[a: b - 2].strip() for a, b in pairwise(cuts)]


# hashicorp/go-multierror's "N errors occurred:\n\t* e1\n\t* e2" (libimage adds " while pulling"), once unfolded
_MULTI = re.compile(r"\b\d{1,3} errors occurred(?: while pulling)?:\s*\*\s")
_CANDIDATE_HEAD = "error initializing source docker://"


def _split_candidates(out: Peeled) -> None:
    """podman/buildah try a short name at every unqualified-search registry and report one error per candidate
    (containers/common libimage pull.go, go-multierror). The attempts are alternatives, not layers of one error."""
    core = out.core
    if "errors occurred" not in core:
        return
    m = _MULTI.search(core)
    if m is None:
        return
    parts = [p.strip() for p in core[m.end() - 2:].split(" * ", MAX_MEMBERS)]
    parts = [p.removeprefix("* ").strip() for p in parts if p.strip("* ")]
    if len(parts) >= 2 and all(p.lower().startswith(_CANDIDATE_HEAD) for p in parts):
        out.members = parts[:MAX_MEMBERS]
        out.candidates = True


# Which runtime wrapped the error: marker substrings (lower case), checked in this order.
_RUNTIME_MARKERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("containerd", (
        # cri-containerd 1.x 'failed to resolve image "X": …'; Knative's controller (go-containerregistry) says
        # "failed to resolve image to digest", which is not containerd (knative/serving pkg/reconciler/revision)
        "failed to pull and unpack image", "failed to resolve reference", 'failed to resolve image "',
        "httpreadseeker", "httpreaderseeker", "unexpected status from ", "pulling from host ",
        "failed to do request", "failed to authorize", "failed to extract layer", "failed to unpack image",
        "failed to get sandbox image", "failed to fetch anonymous token", "failed to fetch oauth token",
        "no match for platform in manifest", "failed to copy:",
        # containerd 1.x "unexpected status code [manifests T]: 401" / "unexpected status code https://…: 429";
        # go-containerregistry's "GET https://…: unexpected status code 401 Unauthorized" is not containerd
        "unexpected status code [", "unexpected status code http",
    )),
    ("cri-o", (
        "initializing source", "reading manifest", "pinging container registry", "unable to pull image or oci",
        "writing blob", "short-name", "short name mode", "source image rejected", "choosing image instance",
        "no image found in manifest list", "no image found in image index", "unable to retrieve auth token",
        "error initializing source", "copying system image", "trying to reuse blob", "mirrors also failed",
        "error determining manifest mime type", "pinging docker registry", "requesting bear",
    )),
    ("docker", (
        "error response from daemon", "api error (", "pull access denied for ",
        "no matching manifest for ", "error from registry:", "failed to register layer",
        "received unexpected http status",
        "error: image ", "error processing tar file", "does not match the specified platform",
    )),
)


_RUNTIME_INDEX: Index[int] = Index(
    (marker, rank) for rank, (_, markers) in enumerate(_RUNTIME_MARKERS) for marker in markers
)


def runtime_of(low: str, text_words: frozenset[bytes] | None = None) -> str:
    """``containerd``, ``cri-o``, ``docker`` or ``unknown`` from the wrappers in the (lower-cased) text.

    When markers of several runtimes appear, the first family in ``_RUNTIME_MARKERS`` wins (containerd's
    wrappers are the most distinctive). Phrases other clients share ("manifest for", a bare "unexpected status
    code") are not markers.
    """
    if "error response from daemon" in low or low.startswith("docker: "):
        # Docker's daemon API error, or its CLI's own "docker: <err>" line (also when its containerd image
        # store produced the error)
        return "docker"
    if text_words is None:
        text_words = words(low)
    best = len(_RUNTIME_MARKERS)
    for group in _RUNTIME_INDEX.groups(text_words):
        for marker, rank in group:
            if rank < best and marker in low:
                best = rank
    return _RUNTIME_MARKERS[best][0] if best < len(_RUNTIME_MARKERS) else "unknown"
