"""The facts inside a message: image, host, URL, HTTP status, gRPC code, platform, DNS resolver.

Each extractor is tried only when a cheap substring check says it can match, and every pattern is
bounded, so extraction costs a few microseconds on a real message and stays linear on any input.
"""

from __future__ import annotations

import re

from pulldoctor.messages.rules import GRPC_NAMES

_URL = re.compile(r"""https?://[^\s"']{1,2048}""")  # searched in the lower-cased text: literal prefix, fast
_URL_TRAIL = ".,:;)]}\"'"
_DOC_HOSTS = ("www.", "docs.", "aka.ms", "cloud.google.com", "help.", "learn.microsoft.com", "github.com")
_GRPC = re.compile(r"rpc error: code = (\w{1,32})")
_GRPC_BY_LOWER = {n.lower(): n for n in GRPC_NAMES}  # the code is read from the lower-cased text
_PULLING_HOST = re.compile(r"pulling from host (\S{1,255}) failed", re.IGNORECASE)
_PINGING = re.compile(r"pinging container registry ([^\s:]{1,255}(?::\d{1,5})?)", re.IGNORECASE)
_LOOKUP = re.compile(r"lookup ([^\s:]{1,255})(?: on (\[?[0-9a-f.:]{2,45}\]?:\d{1,5}))?", re.IGNORECASE)

# Where the runtime names the image when the kubelet wrapper is absent.
_IMAGE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("unpack image", re.compile(r'failed to pull and unpack image "([^"]{1,4096})"', re.IGNORECASE)),
    ("resolve reference", re.compile(r'failed to resolve reference "([^"]{1,4096})"', re.IGNORECASE)),
    ("sandbox image", re.compile(r'failed to get sandbox image "([^"]{1,4096})"', re.IGNORECASE)),
    ("initializing source", re.compile(r"initializing source (?:docker://)?(\S{1,4096}): ", re.IGNORECASE)),
    ("pull access denied for ", re.compile(r"pull access denied for ([^\s,]{1,4096}),", re.IGNORECASE)),
    ("manifest for ", re.compile(r"manifest for (\S{1,4096}) not found", re.IGNORECASE)),
    ("reading manifest ", re.compile(r"reading manifest (\S{1,256}) in (\S{1,2048}?):? ", re.IGNORECASE)),
    ("pull image ", re.compile(r'pull image "([^"]{1,4096})"', re.IGNORECASE)),
    (' image="', re.compile(r' image="([^"]{1,4096})"')),  # structured kubelet log line
)

_PLATFORM_DOCKER = re.compile(r"no matching manifest for (\S{1,64})", re.IGNORECASE)
_PLATFORM_WANTED = re.compile(r"wanted ([a-z0-9_]{1,32}/[a-z0-9_/]{1,64})", re.IGNORECASE)
_PLATFORM_CRIO = re.compile(
    r'for architecture "?([\w-]{0,32})"?, variant "?([\w-]{0,32})"?, os "?([\w-]{0,32})"?', re.IGNORECASE
)


_MIRRORS = "(mirrors also failed: "
_MIRROR_REF = re.compile(r"\[([^\s:\]/]{1,255}(?::\d{1,5})?)/")


def split_mirrors(text: str) -> tuple[str, list[str]]:
    """The text without containers/image's ``(Mirrors also failed: [m1/ref: e1]\\n[m2/ref: e2]): `` part, and
    the mirror hosts it names (docker/docker_image_src.go). The primary's own error follows that part: its
    URL and host are the ones that decide, a mirror's are not (CRI-O, Podman)."""
    i = text.lower().find(_MIRRORS)
    if i < 0:
        return text, []
    j = text.find("]): ", i)
    if j < 0:
        return text, []
    section = text[i + len(_MIRRORS): j + 1]
    hosts = list(dict.fromkeys(m.group(1) for m in _MIRROR_REF.finditer(section[:8192])))[:16]
    return text[:i] + text[j + 4:], hosts


def grpc_code(text: str, low: str) -> str | None:
    """The outermost gRPC status code, by name (old runtimes printed numbers: ``code = 2`` is Unknown)."""
    if "rpc error" not in low:
        return None
    m = _GRPC.search(low)
    if m is None:
        return None
    code = m.group(1)
    name = _GRPC_BY_LOWER.get(code)
    if name is not None:
        return name
    if code.isdigit():
        n = int(code)
        return GRPC_NAMES[n] if n < len(GRPC_NAMES) else code
    return code


def url(text: str, low: str) -> str | None:
    """The last registry URL the runtime requested (the innermost error names the request that failed).

    A registry API URL (``/v2/``) wins over any other; links to documentation that registries put in
    their messages (``https://www.docker.com/increase-rate-limit``, ``https://aka.ms/acr/…``) never count.
    """
    if "://" not in low:
        return None
    api = other = None
    same = len(text) == len(low)  # lower() kept every position: slice the original case from the text
    for i, m in enumerate(_URL.finditer(low)):
        u = (text[m.start():m.end()] if same else m.group(0)).rstrip(_URL_TRAIL)
        ul = u.lower()
        if "/v2" in ul or "/v1/" in ul or "/token" in ul:
            api = u
        elif not host_of_url(u).lower().startswith(_DOC_HOSTS):
            other = u
        if i >= 16:
            break
    return api or other


def host_of_url(u: str) -> str:
    rest = u.split("://", 1)[-1]
    return rest.split("/", 1)[0].split("?", 1)[0].rpartition("@")[2]


def without_userinfo(image: str) -> str:
    """An image reference with any ``user:password@`` written before its registry dropped: the fact is the
    image, and a password never belongs in it."""
    head, at, rest = image.partition("@")
    return rest if at and ":" in head and "/" not in head and "/" in rest else image


def image(text: str, low: str) -> str | None:
    """The image the runtime names when no kubelet wrapper did."""
    for trigger, pattern in _IMAGE_PATTERNS:
        if trigger not in low:
            continue
        m = pattern.search(text)
        if m is None:
            continue
        if trigger == "reading manifest ":
            ref, repo = m.group(1), m.group(2)
            return f"{repo}@{ref}" if ref.startswith("sha256:") else f"{repo}:{ref}"
        return m.group(1)
    return None


def registry_of(img: str) -> str:
    """The registry part of an image reference (the distribution/reference rule for the first component)."""
    name = img.split("@", 1)[0]
    name = name.removeprefix("docker://")
    first, sep, _ = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first.startswith("[")):
        return first
    return "docker.io"


def host(text: str, low: str, u: str | None, img: str | None) -> str | None:
    """The registry host contacted: from the URL, the runtime's own words, or the image's registry."""
    if u and ("/v2" in u or not img):
        return host_of_url(u)
    for trigger, pattern in (("pulling from host", _PULLING_HOST), ("pinging container registry", _PINGING),
                             ("lookup ", _LOOKUP)):
        if trigger in low:
            m = pattern.search(text)
            if m:
                return m.group(1)
    if img:
        return registry_of(img)
    return None


def resolver(text: str, low: str) -> str | None:
    """The DNS server that failed the lookup (``lookup H on 10.96.0.10:53``)."""
    if "lookup " not in low or " on " not in low:
        return None
    m = _LOOKUP.search(text)
    return m.group(2) if m and m.group(2) else None


def platform(text: str, low: str) -> str | None:
    """The platform the node asked for, when the runtime says it."""
    if "no matching manifest for" in low:
        m = _PLATFORM_DOCKER.search(text)
        if m:
            return m.group(1)
    if "for architecture" in low:
        m2 = _PLATFORM_CRIO.search(text)
        if m2:
            arch, variant, os_ = m2.group(1), m2.group(2), m2.group(3)
            return "/".join(p for p in (os_, arch, variant) if p)
    if "wanted " in low:
        m3 = _PLATFORM_WANTED.search(text)
        if m3:
            return m3.group(1)
    return None
