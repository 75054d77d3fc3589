"""Image references parsed and normalised exactly as the kubelet and containerd do.

Why exact: a reference the kubelet refuses is ``InvalidImageName``, and one it normalises differently
from what the user thinks (``Nginx``, ``myregistry/app`` without a dot, ``index.docker.io/x``) is a
wrong registry. So the grammar below is github.com/distribution/reference v0.6.0 (regexp.go,
normalize.go ``ParseNormalizedNamed``/``splitDockerDomain``, reference.go ``Parse``), digests are
checked as github.com/opencontainers/go-digest v1.0.0 does, the ``:latest`` default is the kubelet's
(pkg/util/parsers/parsers.go) and the default pull policy is ``SetDefaults_Container``
(pkg/apis/core/v1/defaults.go). Only the error *explanation* is ours: it names the broken rule and the
offending part, where the runtime just says "invalid reference format".
"""

from __future__ import annotations

import functools
import ipaddress
import json
import re
import unicodedata
from dataclasses import dataclass

from pulldoctor.causes import PullPolicy
from pulldoctor.errors import InvalidReference

__all__ = [
    "DOCKER_HUB",
    "DOCKER_HUB_ENDPOINT",
    "ImageRef",
    "default_pull_policy",
    "is_loopback_host",
    "parse",
    "runtime_error",
]

DOCKER_HUB = "docker.io"  # normalize.go defaultDomain
LEGACY_DOCKER_HUB = "index.docker.io"  # normalize.go legacyDefaultDomain
DOCKER_HUB_ENDPOINT = "registry-1.docker.io"  # the API host behind docker.io
OFFICIAL_PREFIX = "library/"  # normalize.go officialRepoPrefix
DEFAULT_TAG = "latest"
PATH_MAX = 255  # reference.go RepositoryNameTotalLengthMax; v0.6.0 counts the path only

# --- The grammar, piece by piece as in distribution/reference v0.6.0 regexp.go. ---------------------
# Python needs re.ASCII so that \w is Go's [0-9A-Za-z_], and fullmatch() instead of ^…$ because
# Python's $ also matches before a trailing newline.


def _optional(*res: str) -> str:
    return "(?:" + "".join(res) + ")?"


def _any_times(*res: str) -> str:
    return "(?:" + "".join(res) + ")*"


def _capture(*res: str) -> str:
    return "(" + "".join(res) + ")"


ALPHANUMERIC = r"[a-z0-9]+"
SEPARATOR = r"(?:[._]|__|[-]+)"
DOMAIN_NAME_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
OPTIONAL_PORT = r"(?::[0-9]+)?"
TAG = r"[\w][\w.-]{0,127}"
DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}"  # [[:xdigit:]]
IDENTIFIER = r"([a-f0-9]{64})"
IPV6_ADDRESS = r"\[(?:[a-fA-F0-9:]+)\]"
DOMAIN_NAME = DOMAIN_NAME_COMPONENT + _any_times(r"\.", DOMAIN_NAME_COMPONENT)
HOST = "(?:" + DOMAIN_NAME + "|" + IPV6_ADDRESS + ")"
DOMAIN_AND_PORT = HOST + OPTIONAL_PORT
PATH_COMPONENT = ALPHANUMERIC + _any_times(SEPARATOR, ALPHANUMERIC)
REMOTE_NAME = PATH_COMPONENT + _any_times("/", PATH_COMPONENT)
NAME = _optional(DOMAIN_AND_PORT, "/") + REMOTE_NAME
REFERENCE = _capture(NAME) + _optional(":", _capture(TAG)) + _optional("@", _capture(DIGEST))
ANCHORED_NAME = _optional(_capture(DOMAIN_AND_PORT), "/") + _capture(REMOTE_NAME)

_REFERENCE_RE = re.compile(REFERENCE, re.ASCII)
_ANCHORED_NAME_RE = re.compile(ANCHORED_NAME, re.ASCII)
_IDENTIFIER_RE = re.compile(IDENTIFIER, re.ASCII)
_TAG_RE = re.compile(TAG, re.ASCII)
_DIGEST_RE = re.compile(DIGEST, re.ASCII)
_DOMAIN_AND_PORT_RE = re.compile(DOMAIN_AND_PORT, re.ASCII)
_HOST_RE = re.compile(HOST, re.ASCII)
_PATH_COMPONENT_RE = re.compile(PATH_COMPONENT, re.ASCII)
_SCHEME_RE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://", re.ASCII)
# go-digest v1.0.0: algorithms the kubelet links in, and their anchored encodings (lower-case hex only).
_GO_DIGEST_ANY_RE = re.compile(r"[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+", re.ASCII)
_DIGEST_HEX_LEN = {"sha256": 64, "sha384": 96, "sha512": 128}
_LOWER_HEX_RE = re.compile(r"[a-f0-9]+", re.ASCII)
# Values a template leaves behind when a variable is unset.
_PLACEHOLDERS = frozenset({"None", "null", "nil", "undefined", "<no value>", "NULL", "Null"})


@dataclass(frozen=True, slots=True)
class ImageRef:
    """One parsed image reference; every field is what the kubelet/containerd would use."""

    original: str  # as written in the pod spec
    registry: str  # "docker.io", "ghcr.io", "localhost:5000", "[::1]:5000"
    repository: str  # path, "library/nginx"
    tag: str | None  # None when absent
    digest: str | None  # "sha256:…"
    normalized: str  # what containerd pulls: docker.io/library/nginx:latest, or name@digest
    endpoint: str  # API host: registry-1.docker.io for docker.io, else the registry
    name: str  # registry/repository: what the kubelet's keyring looks up
    reference: str  # what to ask the registry for: digest if any, else tag or "latest"

    @property
    def kubelet_image(self) -> str:
        """The string the kubelet hands to the runtime: ``:latest`` appended to the *unnormalised* input."""
        if self.digest is None and self.tag is None:
            return self.original + ":" + DEFAULT_TAG
        return self.original

    def to_json(self) -> dict[str, object]:
        return {
            "original": self.original,
            "normalized": self.normalized,
            "name": self.name,
            "registry": self.registry,
            "repository": self.repository,
            "tag": self.tag,
            "digest": self.digest,
            "reference": self.reference,
            "endpoint": self.endpoint,
            "kubelet_image": self.kubelet_image,
            "default_pull_policy": str(_policy_for(self)),
        }


@dataclass(frozen=True, slots=True)
class _Failure:
    """A refused reference: the runtime's own error text plus our explanation."""

    runtime: str  # exactly what distribution/reference says
    message: str  # ours: names the rule and the offending part
    rule: str
    part: str


def parse(image: str) -> ImageRef:
    """Parse like ``ParseNormalizedNamed``; raise ``InvalidReference`` naming the broken rule."""
    if not isinstance(image, str):
        raise InvalidReference(
            f"invalid reference format: image must be a string, not {type(image).__name__}",
            rule="type",
            part=type(image).__name__,
        )
    result = _analyse(image)
    if isinstance(result, _Failure):
        message = result.message  # every rule's text echoes the input: keep a megabyte out of it
        if len(message) > 2 * _MAX_EXPLANATION:
            message = f"{message[:2 * _MAX_EXPLANATION]}… ({len(message)} characters)"
        raise InvalidReference(message, rule=result.rule, part=result.part)
    return result


def runtime_error(image: str) -> str | None:
    """The error text distribution/reference gives for ``image`` (None when valid).

    The kubelet prints it as ``couldn't parse image name "<image>": <this>``; useful to match events.
    """
    result = _analyse(image)
    return result.runtime if isinstance(result, _Failure) else None


def default_pull_policy(image: str) -> PullPolicy:
    """``SetDefaults_Container``: tag ``latest`` (or no tag and no digest) → Always, else IfNotPresent.

    A reference that does not parse gets IfNotPresent: the defaulting ignores the error.
    """
    try:
        ref = parse(image)
    except InvalidReference:
        return PullPolicy.IF_NOT_PRESENT
    return _policy_for(ref)


def _policy_for(ref: ImageRef) -> PullPolicy:
    # parsers.ParseImageName: tag defaults to "latest" only when there is neither tag nor digest.
    tag = ref.tag if ref.tag is not None else ("" if ref.digest else DEFAULT_TAG)
    return PullPolicy.ALWAYS if tag == DEFAULT_TAG else PullPolicy.IF_NOT_PRESENT


def is_loopback_host(registry: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1, with or without a port (the nodes' own machine)."""
    host = registry.strip()
    if host.startswith("["):
        end = host.find("]")
        host = host[1:end] if end > 0 else host[1:]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --- The algorithm ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=8192)
def _analyse(s: str) -> ImageRef | _Failure:
    """ParseNormalizedNamed, step by step, then the kubelet's and containerd's defaults."""
    if _IDENTIFIER_RE.fullmatch(s):
        runtime = f"invalid repository name ({s}), cannot specify 64-byte hexadecimal strings"
        return _Failure(runtime, runtime, "hex-name", s)
    domain, remainder = _split_docker_domain(s)
    remote = remainder.split(":", 1)[0]
    if remote.lower() != remote:
        runtime = f"invalid reference format: repository name ({remote}) must be lowercase"
        return _explain(s, runtime)
    parsed = _go_parse(domain + "/" + remainder)
    if isinstance(parsed, str):
        if parsed == "repository name must not be more than 255 characters":
            name_tag = remainder.partition("@")[0]
            colon = name_tag.rfind(":")
            path = name_tag[:colon] if colon > name_tag.rfind("/") else name_tag
            return _Failure(
                parsed,
                f"invalid reference format: repository name must not be more than {PATH_MAX} characters "
                f"(the path has {len(path)}): {path}",
                "name-too-long",
                path,
            )
        if parsed.startswith(("invalid checksum", "unsupported digest")):
            digest = s.partition("@")[2]
            return _Failure(parsed, _digest_message(parsed, digest), "digest", digest)
        return _explain(s, parsed)
    registry, path, tag, digest = parsed
    if not registry:
        # The first component looked like a host to splitDockerDomain ("my_registry.com") but is not
        # one to the grammar, so Parse kept it in the path. The kubelet accepts it; containerd's
        # resolver then takes the first component as the host. Show it that way.
        registry, _, path = path.partition("/")
    name = f"{registry}/{path}"
    if digest:
        # containerd's ParseDockerRef pulls name:tag@digest by digest alone.
        normalized, reference = f"{name}@{digest}", digest
    else:
        reference = tag or DEFAULT_TAG
        normalized = f"{name}:{reference}"
    return ImageRef(
        original=s,
        registry=registry,
        repository=path,
        tag=tag or None,
        digest=digest or None,
        normalized=normalized,
        endpoint=DOCKER_HUB_ENDPOINT if registry == DOCKER_HUB else registry,
        name=name,
        reference=reference,
    )


def _go_parse(s: str) -> tuple[str, str, str, str] | str:
    """reference.go ``Parse``: (domain, path, tag, digest), "" for absent parts; or the error text."""
    if s == "":
        return "repository name must have at least one component"
    m = _REFERENCE_RE.fullmatch(s)
    if m is None:
        low = s.lower()
        if low != s and _REFERENCE_RE.fullmatch(low):
            return "repository name must be lowercase"
        return "invalid reference format"
    name, tag, digest = m.group(1), m.group(2) or "", m.group(3) or ""
    nm = _ANCHORED_NAME_RE.fullmatch(name)
    domain, path = (nm.group(1) or "", nm.group(2)) if nm else ("", name)
    if len(path) > PATH_MAX:
        return f"repository name must not be more than {PATH_MAX} characters"
    if digest:
        problem = _go_digest_error(digest)
        if problem is not None:
            return problem
    return domain, path, tag, digest


def _split_docker_domain(name: str) -> tuple[str, str]:
    """normalize.go splitDockerDomain: which first component is a registry host."""
    maybe_domain, sep, maybe_remote = name.partition("/")
    if not sep:
        return DOCKER_HUB, OFFICIAL_PREFIX + name
    if maybe_domain == "localhost":
        domain, remote = maybe_domain, maybe_remote
    elif maybe_domain == LEGACY_DOCKER_HUB:
        domain, remote = DOCKER_HUB, maybe_remote
    elif "." in maybe_domain or ":" in maybe_domain or maybe_domain.lower() != maybe_domain:
        # a dot or colon: a host or IP[:port]; uppercase: namespaces cannot have it, so a host
        domain, remote = maybe_domain, maybe_remote
    else:
        domain, remote = DOCKER_HUB, name
    if domain == DOCKER_HUB and "/" not in remote:
        remote = OFFICIAL_PREFIX + remote
    return domain, remote


def _go_digest_error(digest: str) -> str | None:
    """go-digest v1.0.0 ``Digest.Validate`` with sha256/sha384/sha512 available."""
    i = digest.find(":")
    if i <= 0 or i + 1 == len(digest):
        return "invalid checksum digest format"
    algorithm, encoded = digest[:i], digest[i + 1 :]
    size = _DIGEST_HEX_LEN.get(algorithm)
    if size is None:
        if not _GO_DIGEST_ANY_RE.fullmatch(digest):
            return "invalid checksum digest format"
        return "unsupported digest algorithm"
    if len(encoded) != size:
        return "invalid checksum digest length"
    if not _LOWER_HEX_RE.fullmatch(encoded):
        return "invalid checksum digest format"
    return None


def _digest_message(problem: str, digest: str) -> str:
    algorithm, _, encoded = digest.partition(":")
    size = _DIGEST_HEX_LEN.get(algorithm)
    if problem == "invalid checksum digest length" and size:
        return f"{problem}: {algorithm} needs {size} hex digits, got {len(encoded)}: {digest}"
    if problem == "unsupported digest algorithm":
        return f"{problem} (use sha256, sha384 or sha512): {digest}"
    if size:
        return f"{problem}: {algorithm} needs lower-case hex digits: {digest}"
    return f"{problem}: {digest}"


# --- Explanations: which rule a refused reference breaks, and where ---------------------------------

_FMT = "invalid reference format"


_MAX_EXPLANATION = 300  # a 100 KB reference must not become a 100 KB error line


def _fail(runtime: str, rule: str, part: str, what: str) -> _Failure:
    if len(what) > _MAX_EXPLANATION:
        what = f"{what[:_MAX_EXPLANATION]}… ({len(what)} characters)"
    return _Failure(runtime, f"{_FMT}: {what}", rule, part)


def _userinfo(s: str) -> tuple[str, str] | None:
    """("user:pw@" as written, "pw") when ``s`` starts with credentials before a host and path."""
    scheme = _SCHEME_RE.match(s)
    body = s[scheme.end() :] if scheme else s
    at = body.find("@")
    if at < 0:
        return None
    slash = body.find("/")
    if (0 <= slash < at) or ":" not in body[:at] or (slash < 0 and at + 1 < len(body)):
        return None
    password = body[:at].split(":", 1)[1]
    return (body[: at + 1], password) if password else None


def _explain(s: str, runtime: str) -> _Failure:
    """Explain a refusal, never echoing a password written into the reference (user:pw@host/...)."""
    failure = _explain_rule(s, runtime)
    found = _userinfo(s)
    if found:
        secret = found[1]
        return _Failure(runtime.replace(secret, "***"), failure.message.replace(secret, "***"), failure.rule,
                        failure.part.replace(secret, "***"))
    return failure


def _explain_rule(s: str, runtime: str) -> _Failure:
    """Find the first rule ``s`` breaks, checking in the order a person would fix them."""
    if s == "":
        return _fail(runtime, "empty", "", "image reference is empty")
    head = s.strip().split(":", 1)[0]
    if s.strip() in _PLACEHOLDERS or head in _PLACEHOLDERS:
        return _fail(runtime, "placeholder", head,
                     f"looks like an unset template value, not an image: {head} (in {json.dumps(s)})")
    ws = next((c for c in s if c.isspace() or not c.isprintable()), None)
    if ws is not None:
        return _fail(runtime, "whitespace", ws,
                     f"contains whitespace or a control character {ws!r}: {json.dumps(s)}")
    other = next((c for c in s if not c.isascii()), None)
    if other is not None:  # a homoglyph (Cyrillic 'е' for 'e') looks right and never parses
        name = unicodedata.name(other, "").lower() or "unnamed"
        return _fail(runtime, "ascii", other,
                     f"contains the non-ASCII character {other!r} (U+{ord(other):04X} {name}); "
                     f"a reference is ASCII only: {json.dumps(s)}")
    scheme = _SCHEME_RE.match(s)
    if scheme:
        return _fail(runtime, "scheme", scheme.group(0),
                     f"remove the scheme {scheme.group(0)!r}, a reference has none: {s}")

    found = _userinfo(s)
    if found:
        return _fail(runtime, "userinfo", found[0],
                     f"remove {found[0]!r}: a reference carries no credentials (use an imagePullSecret): {s}")

    # Split where the grammar can: name [":" tag] ["@" digest]; none of the three may hold "@".
    name_tag, at, digest = s.partition("@")
    slash = name_tag.rfind("/")
    colon = name_tag.rfind(":")
    name, tag = (name_tag[:colon], name_tag[colon + 1 :]) if colon > slash else (name_tag, None)
    if at and not _DIGEST_RE.fullmatch(digest):
        return _fail(runtime, "digest", digest or "@",
                     "digest must be ALGORITHM:HEX with at least 32 hex digits (sha256 needs 64)"
                     f": {digest or '(nothing after @)'}")
    if tag is not None and not _TAG_RE.fullmatch(tag):
        if tag == "":
            return _fail(runtime, "tag", ":", f"empty tag after ':': {s}")
        if len(tag) > 128:
            return _fail(runtime, "tag", tag, f"tag is {len(tag)} characters, at most 128 allowed: {tag}")
        return _fail(runtime, "tag", tag,
                     f"tag must be letters, digits, '_', '.', '-' and not start with '.' or '-': {tag}")

    first, sep, rest = name.partition("/")
    # A first component with "." or ":" (or localhost) is a registry host; see _split_docker_domain.
    host_given = bool(sep) and (first == "localhost" or "." in first or ":" in first)
    if host_given and not _DOMAIN_AND_PORT_RE.fullmatch(first):
        host = first.rpartition(":")[0]
        if host and _HOST_RE.fullmatch(host):
            return _fail(runtime, "port", first, f"registry port must be digits: {first}")
        return _fail(runtime, "domain", first,
                     "registry host must be letters, digits, '-' and '.' (or an [IPv6] address), "
                     f"with an optional :port: {first}")
    path = rest if host_given else name
    components = path.split("/")
    upper = [c for c in components if c.lower() != c]
    if upper:
        part = "/".join(upper)
        return _fail(runtime, "lowercase", part, f"repository name must be lowercase: {part}")
    if "" in components:
        return _fail(runtime, "path-component", name,
                     f"empty path component (leading, trailing or double '/'): {name}")
    bad = next((c for c in components if not _PATH_COMPONENT_RE.fullmatch(c)), None)
    if bad is not None:
        return _fail(runtime, "path-component", bad,
                     "path component must be lower-case letters and digits joined by '.', '_', '__' or "
                     f"dashes, starting and ending with a letter or digit: {bad}")
    if "must be lowercase" in runtime:
        # ParseNormalizedNamed checks everything up to the first ":" — a digest algorithm too.
        if at and digest.partition(":")[0].lower() != digest.partition(":")[0]:
            return _fail(runtime, "digest", digest, f"digest algorithm must be lower-case: {digest}")
        return _fail(runtime, "lowercase", s, f"repository name must be lowercase: {s}")
    return _fail(runtime, "format", s, s)
