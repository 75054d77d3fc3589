"""What may be printed: text from a cluster, a runtime or a registry, with credentials and terminal
control sequences taken out. Standard library only, so every part (``messages`` included) can use it.

Three kinds of secret are masked, each in one function that every output path calls:

- ``user:password@`` written into a URL, a reference or a registry key (:func:`mask_key`,
  :func:`mask_userinfo`), found the way the kubelet's URL parser (Go's ``net/url``) splits it;
- credentials pulldoctor itself sent or holds — an ``Authorization`` value, the kubeconfig token, a pull
  secret's password — in any of the forms an echo can take (:func:`mask_secrets`);
- header-like ``Bearer x`` / ``Basic x`` values (:func:`mask_headers`).

Then :func:`printable` (terminal text), :func:`printable_json` (JSON text) and :func:`log_safe` (one log
line) escape control characters.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote

# --- user:password@ in keys, URLs and references ----------------------------------------------------

# Go's url.Parse ends the authority at the first "/" (the query "?" and fragment "#" are cut before), and
# a userinfo is the authority up to its last "@". A password holding one of these characters is split by
# the parser: its tail lands in the path (or the query, the fragment), and only a later "@" ends it.
_SPLITTERS = "/?#"
# What comes before a key's userinfo: the scheme the kubelet adds or finds (https://, http://) and a
# scheme-like or slash prefix the parser reads as an (empty or odd) authority: "//", "https:/", "oci://".
_KEY_LEAD_RE = re.compile(r"(?:https?://)?(?:[A-Za-z][A-Za-z0-9+.-]*:/+|/+)?")


def _mask_info(info: str) -> str:
    """A userinfo (possibly split by the URL parser) with the secret replaced by ``***``.

    The user is kept when it is plain (``alice:***``); a lone value is a token (``***``). The first
    character that split the userinfo is kept (``alice:***/***``), so the masked key parses as the one
    written did: the kubelet ignores both, or indexes both under a path that no image name has.
    """
    user, colon, secret = info.partition(":")
    if not colon or not user or any(c in user for c in _SPLITTERS):
        user, secret = "", info
    cut = next((c for c in secret if c in _SPLITTERS), "")
    masked = f"***{cut}***" if cut else "***"
    return f"{user}:{masked}" if user else masked


def mask_key(key: str) -> str:
    """A docker config key (``https://alice:pw@ghcr.io``, ``//alice:pa/ss@host``) with its userinfo masked.

    The key is split as the kubelet's keyring splits it (``https://`` assumed unless the key starts with
    ``https://`` or ``http://``, then Go's ``url.Parse``), and everything from where the authority starts
    to the key's last ``@`` is the userinfo, wherever the parser put its pieces: a registry host, path,
    query or fragment never holds an ``@``. Keys without ``@`` are returned unchanged.
    """
    at = key.rfind("@")
    if at < 0:
        return key
    lead = _KEY_LEAD_RE.match(key)
    start = lead.end() if lead else 0
    if start > at:  # "@" inside the lead cannot happen (the lead has none); keep the shape anyway
        start = 0
    info = key[start:at]
    return key if not info else f"{key[:start]}{_mask_info(info)}{key[at:]}"


# In text: a URL ("https://user:pw@host", also with a "/" in the password, and "//user:pw@host") or a
# reference ("user:pw@host/repo"), inside one word (quotes, backslashes, <> and whitespace end a word).
# The userinfo runs to the LAST "@" of the word that a host follows (a name or [IPv6], an optional numeric
# port, then the end of the authority): "app@sha256:…" is a digest, "git@github.com:org/x" an SSH path.
# Words are found from their first character only and every pattern is bounded, so the work is linear in
# the text however hostile it is.
_AT_WORD_RE = re.compile(r"(?<![^\s\"'\\<>])[^\s\"'\\<>@]*@[^\s\"'\\<>]*")
_HOST_AFTER_AT_RE = re.compile(r"(?:\[[0-9A-Fa-f:.]{1,64}\]|[A-Za-z0-9.-]{1,253})(?::[0-9]{1,5})?(?=[/?#),;\]]|$)")
_URL_LEAD_RE = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]{0,31}:/+|^/{2,}")
_REF_INFO_RE = re.compile(r"[^/@:]+:[^/].*", re.DOTALL)


def _mask_word(word: str) -> str:
    at = word.rfind("@")
    while at >= 0 and not _HOST_AFTER_AT_RE.match(word, at + 1):
        at = word.rfind("@", 0, at)
    if at <= 0:
        return word
    lead = _URL_LEAD_RE.search(word, 0, at)
    if lead is not None:  # a URL: the userinfo starts after the (first) scheme and its slashes
        start = lead.end()
    else:  # a reference: the word is "user:password@host…" (after an opening bracket or "key=")
        start = len(word) - len(word.lstrip("([{=,;"))
        if not _REF_INFO_RE.fullmatch(word, start, at):
            return word
    if start >= at:
        return word
    return f"{word[:start]}{_mask_info(word[start:at])}{word[at:]}"


def mask_userinfo(text: str) -> str:
    """``text`` with the password of every ``user:password@`` in a URL or a reference replaced by ``***``
    (a userinfo without a colon, often a token, entirely), split passwords included. Cheap without ``@``."""
    if "@" not in text:
        return text
    return _AT_WORD_RE.sub(lambda m: _mask_word(m.group(0)), text)


# --- credentials in flight ---------------------------------------------------------------------------

MIN_SECRET_CHARS = 6  # shorter values are not remembered: masking "abc" everywhere would garble text
MAX_REMEMBERED = 100_000
_known: dict[str, tuple[str, ...]] = {}  # remembered secret → its forms (secret_forms)
_known_lock = threading.Lock()


def remember_secret(value: str | None) -> None:
    """Mask ``value`` (a kubeconfig token, a password) in error lines, debug traces and logs from now on."""
    if not value or len(value) < MIN_SECRET_CHARS or value in _known:
        return
    forms = secret_forms(value)
    with _known_lock:
        if len(_known) < MAX_REMEMBERED:
            _known[value] = forms


def remember_client_credentials(configuration: object) -> None:
    """Remember what a ``kubernetes.client.Configuration`` authenticates with (the kubeconfig's token, its
    password): an HTTP library quotes a bad header value whole (``Invalid header value b'Bearer …'``)."""
    api_key = getattr(configuration, "api_key", None)
    for value in (api_key.values() if isinstance(api_key, dict) else ()):
        if isinstance(value, str):
            remember_secret(value)
            scheme, _, token = value.partition(" ")
            remember_secret(token if scheme.lower() == "bearer" else None)
    password = getattr(configuration, "password", None)
    remember_secret(password if isinstance(password, str) else None)


def _b64_stable(raw: bytes) -> list[str]:
    """Base64 characters that encode only ``raw``'s bytes, at each of the three alignments ``raw`` can have
    inside a longer base64 text: what any base64 of a document that holds the secret contains."""
    out = []
    for pad in (b"", b"\0", b"\0\0"):
        encoded = base64.b64encode(pad + raw).decode("ascii")
        first, last = (len(pad) + 2) // 3 * 4, (len(pad) + len(raw)) // 3 * 4
        if last - first >= 8:
            out.append(encoded[first:last])
    return out


@functools.lru_cache(maxsize=1024)  # a probe quotes its Authorization value at every step
def secret_forms(value: str) -> tuple[str, ...]:
    """The texts an echo of ``value`` can contain: itself, escaped (repr, JSON), percent-encoded, and its
    base64 at every alignment. For an ``Authorization`` value, those of its parts too: the Basic
    ``user:password`` and password, the Bearer token. Longest first; none shorter than 6 characters."""
    parts = {value}
    scheme, _, param = value.partition(" ")
    if param and scheme.lower() in ("basic", "bearer"):
        parts.add(param.strip())
        if scheme.lower() == "basic":
            try:
                pair = base64.b64decode(param.strip(), validate=True).decode("utf-8", "surrogateescape")
            except (binascii.Error, ValueError):
                pair = ""
            if pair:
                parts.add(pair)
                parts.add(pair.partition(":")[2])
    forms: set[str] = set()
    for p in parts:
        if len(p) < MIN_SECRET_CHARS:
            continue
        raw = p.encode("utf-8", "surrogateescape")
        forms.update({p, quote(p, safe=""), p.encode("unicode_escape").decode("ascii"),
                      repr(p)[1:-1], base64.b64encode(raw).decode("ascii"), *_b64_stable(raw)})
    return tuple(sorted((f for f in forms if len(f) >= MIN_SECRET_CHARS), key=len, reverse=True))


def mask_secrets(text: str, secrets: Iterable[str | None] = (), *, known: bool = True) -> str:
    """``text`` with every form (:func:`secret_forms`) of ``secrets`` and, unless ``known`` is False, of
    the remembered secrets replaced by ``***``, in any letter case (a proxy may fold a header's case)."""
    if not text:
        return text
    forms = [f for s in secrets if s for f in secret_forms(s)]
    if known:
        with _known_lock:
            forms += [f for fs in _known.values() for f in fs]
    if not forms:
        return text
    folded = text.casefold()
    hits = {f for f in forms if f.casefold() in folded}
    if not hits:
        return text
    pattern = re.compile("|".join(re.escape(f) for f in sorted(hits, key=len, reverse=True)), re.IGNORECASE)
    return pattern.sub("***", text)


# "Bearer <token68>" / "Basic <token68>": a header value quoted in an exception or a body. A value that
# is a plain word ("Basic credentials", "Bearer token") is prose, not a credential.
_HEADER_RE = re.compile(r"(?i)\b(?P<scheme>bearer|basic)(?P<sep>\s+|\s*[:=]\s*)(?P<value>[A-Za-z0-9._~+/\\-]{6,}=*)")


def _looks_secret(value: str) -> bool:
    return any(c.isdigit() or c in "+/=._~-\\" for c in value) or not (value[1:].islower() or value.isupper())


def mask_headers(text: str) -> str:
    """``text`` with the value of every header-like ``Bearer x`` / ``Basic x`` replaced by ``***``."""
    if "earer" not in text and "asic" not in text and "EARER" not in text and "ASIC" not in text:
        return text
    return _HEADER_RE.sub(lambda m: f"{m['scheme']}{m['sep']}***" if _looks_secret(m["value"]) else m[0], text)


def mask_all(text: str, secrets: Iterable[str | None] = (), *, known: bool = True) -> str:
    """Every mask: the given (and remembered) secrets, header-like values, ``user:password@``."""
    return mask_userinfo(mask_headers(mask_secrets(text, secrets, known=known)))


# --- control characters ------------------------------------------------------------------------------

# C0 controls except \t and \n, DEL, C1 controls; and whole SGR sequences, so that a caller that escaped
# its input first can still keep its own colours. A hostile event message may carry sequences that clear
# the screen or retitle the window.
_CONTROL_RE = re.compile(r"\x1b\[[0-9;]{0,16}m|[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_JSON_UNSAFE_RE = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")  # all but the layout's newline
_LINE_UNSAFE_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escape(s: str) -> str:
    return s.encode("unicode_escape").decode("ascii")


def printable(text: str, keep: frozenset[str] = frozenset()) -> str:
    """Text from the cluster or a registry, safe to print: ``user:password@`` masked (``mask_userinfo``)
    and every control character but newline and tab escaped (``\\x1b``), except the sequences in ``keep``
    (only for text whose foreign parts were escaped before the caller added its own sequences)."""
    def escape(m: re.Match[str]) -> str:
        s = m.group(0)
        return s if s in keep else _escape(s)

    return _CONTROL_RE.sub(escape, mask_userinfo(text))


def printable_json(text: str) -> str:
    """JSON text from an encoder, safe to print: ``user:password@`` masked and what encoders leave raw
    (DEL, C1 controls — U+009B is a terminal's CSI — U+2028/U+2029, with ``ensure_ascii=False``) written as
    ``\\u`` escapes: the same JSON, since a raw control can only be inside a string there."""
    return _JSON_UNSAFE_RE.sub(lambda m: f"\\u{ord(m.group(0)):04x}", mask_userinfo(text))


def log_safe(text: str, secrets: Iterable[str | None] = ()) -> str:
    """One log line: every mask (:func:`mask_all`), and every control character escaped, newline included,
    so quoted text can neither drive a terminal nor start a forged line."""
    return _LINE_UNSAFE_RE.sub(lambda m: _escape(m.group(0)), mask_all(text, secrets))


def log_safe_block(text: str, secrets: Iterable[str | None] = ()) -> str:
    """A multi-line block (a traceback): every mask, every control but newline escaped."""
    return _CONTROL_RE.sub(lambda m: _escape(m.group(0)), mask_all(text, secrets))
