"""Which credentials the kubelet would send for an image, and why a secret gives none.

Why a port and not a guess: "the secret is there but the pull says 401" is most often a key that does
not match (``https://index.docker.io/v1/`` vs ``docker.io``, a port, a wildcard that spans one label
only, a path prefix). The rules below follow the kubelet (K8s 1.33+):
pkg/credentialprovider/keyring.go (``BasicDockerKeyring.Add``/``Lookup``, ``URLsMatch``,
``isDefaultRegistryMatch``), config.go (``DockerConfigEntry.UnmarshalJSON``, the ``auth`` field) and
secrets/secrets.go (which secret types and keys count).

Credential values live only inside :class:`Credential`, which never prints, pickles or serialises them.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NoReturn
from urllib.parse import unquote

from pulldoctor.errors import InputError, SecretFormatError
from pulldoctor.reference import ImageRef, parse

__all__ = [
    "DOCKERCFG",
    "DOCKERCONFIGJSON",
    "Credential",
    "Entry",
    "Keyring",
    "Lookup",
    "SecretProblem",
    "entries_from_docker_config",
    "entries_from_secret",
    "match_image",
    "match_key",
    "problems_for_secret",
    "redacted_entry",
    "secrets_in_effect",
]

DOCKERCONFIGJSON = "kubernetes.io/dockerconfigjson"  # key .dockerconfigjson, {"auths": {...}}
DOCKERCFG = "kubernetes.io/dockercfg"  # key .dockercfg, {...} at the top level
_KEY_FOR_TYPE = {DOCKERCONFIGJSON: ".dockerconfigjson", DOCKERCFG: ".dockercfg"}
DEFAULT_REGISTRY_KEY = "index.docker.io"  # keyring.go defaultRegistryHost: the Docker Hub fallback
_MAX_ENTRIES = 10_000  # a docker config with more keys than this is not a real one; stop there


class Credential:
    """A username and password that refuse to be shown.

    ``repr``/``str`` give the user and a fingerprint only; pickling and ``copy`` by value are refused,
    and ``json`` cannot serialise it. Only the registry client should call :meth:`basic_auth`.
    """

    __slots__ = ("_fingerprint", "_password", "_username")
    _username: str
    _password: str
    _fingerprint: str

    def __init__(self, username: str, password: str) -> None:
        object.__setattr__(self, "_username", username)
        object.__setattr__(self, "_password", password)
        digest = hashlib.sha256(f"{username}:{password}".encode("utf-8", "surrogatepass")).hexdigest()
        object.__setattr__(self, "_fingerprint", digest[:8])
        from pulldoctor.redact import remember_secret

        remember_secret(password)  # masked in error lines, debug traces and logs, whatever quotes it

    @property
    def username(self) -> str:
        return self._username

    @property
    def password(self) -> str:
        """The secret itself. Never format it into text; use :attr:`fingerprint` to tell two apart."""
        return self._password

    @property
    def fingerprint(self) -> str:
        """First 8 hex of sha256("user:password"): tells credentials apart without showing them."""
        return self._fingerprint

    def basic_auth(self) -> str:
        """The ``Authorization`` header value for HTTP basic auth."""
        raw = f"{self._username}:{self._password}".encode("utf-8", "surrogatepass")
        return "Basic " + base64.b64encode(raw).decode("ascii")

    def __repr__(self) -> str:
        return f"Credential(user={self._username!r}, fp={self._fingerprint})"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(repr(self), spec)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Credential is immutable")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credential):
            return NotImplemented
        return self._username == other._username and self._password == other._password

    def __hash__(self) -> int:
        return hash(("Credential", self._fingerprint))

    # Immutable: copies may share the object; anything that would write it out is refused.
    def __copy__(self) -> Credential:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Credential:
        return self

    def __getstate__(self) -> NoReturn:
        raise TypeError("Credential cannot be pickled or serialised (it holds a password)")

    def __reduce_ex__(self, protocol: Any) -> NoReturn:
        raise TypeError("Credential cannot be pickled or serialised (it holds a password)")


@dataclass
class Entry:
    """One key of a docker config, with where it came from."""

    key: str  # as written ("https://index.docker.io/v1/", "*.acme.io", "ghcr.io/org"); userinfo masked
    source: str  # "secret ns/regcred", "node config.json"
    credential: Credential | None  # None when redacted (bundles) or without a username (sent anonymously)
    has_username: bool
    has_password: bool

    @property
    def match_key(self) -> str | None:
        """The key as the kubelet indexes it: host + path, /v1/ or /v2/ dropped; None when unparsable."""
        return match_key(self.key)

    @property
    def from_secret(self) -> bool:
        return self.source.startswith("secret ")


@dataclass
class SecretProblem:
    """A secret (or one of its entries) that gives no usable credential, and why; no values."""

    source: str  # "secret ns/x"
    reason: str  # one line, e.g. "has type Opaque, not kubernetes.io/dockerconfigjson; the kubelet ignores it"
    fatal: bool = False  # True when the kubelet's pull fails outright because of it (malformed JSON)

    def __str__(self) -> str:
        return f"{self.source} {self.reason}"


@dataclass
class Lookup:
    """What the kubelet would send for one image."""

    image: str  # normalised name looked up, e.g. docker.io/library/nginx
    matches: list[Entry]  # every matching entry, in the kubelet's order (pod secrets first)
    used_default_fallback: bool  # matched only through the index.docker.io fallback
    explanation: str  # one sentence
    fallback_matches: list[Entry] = field(default_factory=list)  # the subset that came from the fallback


# --- Reading secrets and docker config files --------------------------------------------------------


def secret_source(namespace: str, name: str) -> str:
    return f"secret {namespace}/{name}"


def entries_from_secret(namespace: str, name: str, type: str, data: Mapping[str, str]) -> list[Entry]:
    """Entries of a pull secret, as secrets.go reads it; wrong type or empty key → [] (see problems_for_secret).

    ``data`` is the Secret's ``.data`` (base64 values). Raises SecretFormatError, naming the secret and
    the key but never quoting the payload, where the kubelet's own pull would fail.
    """
    entries, problems = _read_secret(namespace, name, type, data)
    fatal = next((p for p in problems if p.fatal), None)
    if fatal is not None:
        raise SecretFormatError(str(fatal))
    return entries


def problems_for_secret(namespace: str, name: str, type: str, data: Mapping[str, str]) -> list[SecretProblem]:
    """Every reason this secret gives the kubelet nothing usable (empty list: it is fine). Never raises."""
    return _read_secret(namespace, name, type, data)[1]


#: A docker config.json larger than this is not one (a real one is a few KiB).
MAX_DOCKER_CONFIG_BYTES = 4 * 1024 * 1024


def entries_from_docker_config_file(path: str) -> list[Entry]:
    """The entries of a docker config file named on the command line (``--docker-config``): read bounded, and
    any problem with the file itself is one ``InputError`` line (``probe`` and ``preflight`` share it)."""
    try:
        with Path(path).open("rb") as fh:
            raw = fh.read(MAX_DOCKER_CONFIG_BYTES + 1)
    except OSError as err:
        raise InputError(f"cannot read --docker-config {path}: {err.strerror or type(err).__name__}") from None
    if len(raw) > MAX_DOCKER_CONFIG_BYTES:
        raise InputError(f"--docker-config {path} is larger than {MAX_DOCKER_CONFIG_BYTES} bytes; not a docker config")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"--docker-config {path} is not UTF-8 text") from None
    return entries_from_docker_config(text, f"file {path}")


def entries_from_docker_config(
    text: str, source: str, *, format: Literal["auto", "config.json", "dockercfg"] = "auto"
) -> list[Entry]:
    """Entries of a docker ``config.json`` (``auths``) or legacy ``.dockercfg`` file (the node's).

    ``auto`` reads ``config.json`` when the top level has ``auths`` (or another config.json key).
    Raises SecretFormatError without quoting the text.
    """
    problems: list[SecretProblem] = []
    doc = _load_json(text, source, "content", problems)
    if doc is _INVALID:
        raise SecretFormatError(str(problems[0]))
    if format == "auto":
        format = "config.json" if _is_config_json(doc) else "dockercfg"
    entries = _entries_from_doc(doc, source, "content", format == "config.json", problems)
    fatal = next((p for p in problems if p.fatal), None)
    if fatal is not None:
        raise SecretFormatError(str(fatal))
    return entries


def redacted_entry(key: str, source: str, has_username: bool, has_password: bool) -> Entry:
    """An entry known only by its key (from a bundle): matches like any other, sends nothing we know."""
    return Entry(key=_strip_userinfo(key), source=source, credential=None,
                 has_username=has_username, has_password=has_password)


def secrets_in_effect(
    pod_secret_names: list[str], service_account_secret_names: list[str], service_account: str = "default"
) -> tuple[list[str], str]:
    """The pull secrets the kubelet uses, and where they came from.

    ServiceAccount admission copies the SA's ``imagePullSecrets`` only when the pod lists none: the
    pod's list replaces the SA's, it is never merged. Returns (names, "pod" | "service account NAME" | "none").
    """
    if pod_secret_names:
        return list(pod_secret_names), "pod"
    if service_account_secret_names:
        return list(service_account_secret_names), f"service account {service_account}"
    return [], "none"


def _read_secret(
    namespace: str, name: str, type: str, data: Mapping[str, str]
) -> tuple[list[Entry], list[SecretProblem]]:
    source = secret_source(namespace, name)
    problems: list[SecretProblem] = []
    key = _KEY_FOR_TYPE.get(type)
    data = data or {}
    if key is None:
        hint = ""
        present = [k for k in (".dockerconfigjson", ".dockercfg") if k in data]
        if present:
            hint = (f" although it has a {present[0]} key (recreate it with kubectl create secret "
                    "docker-registry, or set its type)")
        problems.append(SecretProblem(source, f"has type {type or '(none)'}, not {DOCKERCONFIGJSON} or {DOCKERCFG}; "
                                              f"the kubelet ignores it{hint}"))
        return [], problems
    raw = data.get(key)
    if raw is None:
        others = list(sorted(data)[:5])
        has = f" (it has {', '.join(others)})" if others else " (it has no keys)"
        problems.append(SecretProblem(source, f"of type {type} has no {key} key{has}; the kubelet ignores it"))
        return [], problems
    if raw == "":
        problems.append(SecretProblem(source, f"has an empty {key}; the kubelet ignores it"))
        return [], problems
    try:
        payload = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError, TypeError):
        problems.append(SecretProblem(source, f"{key} is not valid base64 in the Secret's data", fatal=True))
        return [], problems
    if not payload:
        problems.append(SecretProblem(source, f"has an empty {key}; the kubelet ignores it"))
        return [], problems
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        text = payload.decode("utf-8", "replace")  # Go's json replaces invalid UTF-8 the same way
    doc = _load_json(text, source, key, problems)
    if doc is _INVALID:
        return [], problems
    entries = _entries_from_doc(doc, source, key, type == DOCKERCONFIGJSON, problems)
    return entries, problems


_INVALID = object()  # _load_json's answer for text that is not JSON (JSON ``null`` is None)


def _load_json(text: str, source: str, what: str, problems: list[SecretProblem]) -> Any:
    try:
        return json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as err:  # err.msg and position only: never the document
        problems.append(SecretProblem(source, f"{what} is not valid JSON ({err.msg} at line {err.lineno} "
                                              f"column {err.colno}); the kubelet's pull fails on it", fatal=True))
    except (ValueError, RecursionError):
        problems.append(SecretProblem(source, f"{what} is not valid JSON; the kubelet's pull fails on it",
                                      fatal=True))
    return _INVALID


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError("NaN/Infinity are not JSON")


_CONFIG_JSON_KEYS = {"auths", "credsstore", "credhelpers", "httpheaders", "psformat", "proxies",
                     "currentcontext", "experimental", "detachkeys", "plugins"}


def _is_config_json(doc: Any) -> bool:
    return isinstance(doc, dict) and any(k.lower() in _CONFIG_JSON_KEYS for k in doc)


def _fold_get(obj: dict[str, Any], name: str) -> Any:
    """Go's encoding/json field lookup: exact name first, else case-insensitive; the last such key wins."""
    if name in obj:
        return obj[name]
    found = None
    for k, v in obj.items():
        if k.lower() == name:
            found = v
    return found


def _entries_from_doc(doc: Any, source: str, what: str, is_config_json: bool,
                      problems: list[SecretProblem]) -> list[Entry]:
    def fatal(reason: str) -> list[Entry]:
        problems.append(SecretProblem(source, f"{what} {reason}; the kubelet's pull fails on it", fatal=True))
        return []

    if doc is None:
        problems.append(SecretProblem(source, f"{what} is null: it gives no credentials"))
        return []
    if not isinstance(doc, dict):
        return fatal(f"holds a JSON {_json_kind(doc)}, not an object")
    auths: Any = doc
    if is_config_json:
        auths = _fold_get(doc, "auths")
        if auths is None:
            problems.append(SecretProblem(source, f"{what} has no \"auths\": it gives no credentials"))
            return []
        if not isinstance(auths, dict):
            return fatal(f"has \"auths\" as a JSON {_json_kind(auths)}, not an object")
    if not auths:
        problems.append(SecretProblem(source, f"{what} has no registry entries: it gives no credentials"))
        return []
    entries: list[Entry] = []
    for n, (key, value) in enumerate(auths.items()):
        if n >= _MAX_ENTRIES:
            problems.append(SecretProblem(source, f"{what} has more than {_MAX_ENTRIES} entries; read the first only"))
            break
        shown = _strip_userinfo(key)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            return fatal(f"entry {shown!r} is a JSON {_json_kind(value)}, not an object")
        fields: dict[str, str] = {}
        for fname in ("username", "password", "auth"):
            v = _fold_get(value, fname)
            if v is not None and not isinstance(v, str):
                return fatal(f"entry {shown!r} has a non-string {fname}")
            fields[fname] = v or ""
        username, password = fields["username"], fields["password"]
        if fields["auth"]:
            decoded = _decode_auth_field(fields["auth"])
            if decoded is None:
                return fatal(f"entry {shown!r} has an auth field that is not base64 of user:password")
            username, password = decoded
        if match_key(key) is None:
            problems.append(SecretProblem(source, f"entry {shown!r} is not a valid registry URL; the kubelet "
                                                  "ignores it"))
        if not username:
            problems.append(SecretProblem(source, f"entry {shown!r} has no username: the kubelet sends no "
                                                  "credentials for it"))
        entries.append(Entry(key=shown, source=source,
                             credential=Credential(username, password) if username else None,
                             has_username=bool(username), has_password=bool(password)))
    return entries


def _json_kind(v: Any) -> str:
    return {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}.get(type(v), "value")


def _decode_auth_field(value: str) -> tuple[str, str] | None:
    """config.go decodeDockerConfigFieldAuth: padded if it ends in "=", else unpadded; user:password."""
    s = value.replace("\r", "").replace("\n", "")  # Go's base64 decoder skips CR and LF
    try:
        if value.strip().endswith("="):
            if len(s) % 4:
                return None
            raw = base64.b64decode(s, validate=True)
        else:
            if "=" in s or len(s) % 4 == 1:
                return None
            raw = base64.b64decode(s + "=" * (-len(s) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    text = raw.decode("utf-8", "replace")
    user, sep, password = text.partition(":")
    if not sep:
        return None
    return user, password


def _strip_userinfo(key: str) -> str:
    """A key written as https://user:pw@host would carry a secret: the one masking function, which splits
    keys as the kubelet's URL parser does (``redact.mask_key``)."""
    from pulldoctor.redact import mask_key

    return mask_key(key)


# --- Matching: keyring.go ---------------------------------------------------------------------------

_HOST_OK = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:\[\]<>\"%]*")


@functools.lru_cache(maxsize=4096)
def _go_url(raw: str) -> tuple[str, str] | None:
    """Go's url.Parse for "scheme://authority/path", reduced to (host incl. port, unescaped path)."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in raw):
        return None
    _, sep, rest = raw.partition("://")
    if not sep:
        return None
    rest = rest.partition("#")[0].partition("?")[0]
    authority, slash, path = rest.partition("/")
    path = slash + path
    host = authority.rpartition("@")[2]
    if host.startswith("["):
        end = host.find("]")
        if end < 0:
            return None
        after = host[end + 1 :]
        if after and not re.fullmatch(r":[0-9]*", after):
            return None
    else:
        colon = host.rfind(":")
        if colon >= 0 and not re.fullmatch(r":[0-9]*", host[colon:]):
            return None
    if not _HOST_OK.fullmatch(host) or re.search(r"%(?![0-9A-Fa-f]{2})", host + path):
        return None
    with contextlib.suppress(UnicodeDecodeError):
        path = unquote(path, errors="strict")
    return host, path


def match_key(key: str) -> str | None:
    """``BasicDockerKeyring.Add``: https:// assumed, /v1/ or /v2/ dropped, key = host [+ path]."""
    value = key if key.startswith(("https://", "http://")) else "https://" + key
    parsed = _go_url(value)
    if parsed is None:
        return None
    host, path = parsed
    if path.startswith(("/v2/", "/v1/")):
        path = path[3:]
    return host + path if path and path != "/" else host


def _split_host_port(hostport: str) -> tuple[str, str]:
    """net.SplitHostPort, falling back to (hostport, "") on any error as keyring.go's SplitURL does."""
    i = hostport.rfind(":")
    if i < 0:
        return hostport, ""
    j = k = 0
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0 or end + 1 != i:
            return hostport, ""
        host = hostport[1:end]
        j, k = 1, end + 1
    else:
        host = hostport[:i]
        if ":" in host:
            return hostport, ""
    if "[" in hostport[j:] or "]" in hostport[k:]:
        return hostport, ""
    return host, hostport[i + 1 :]


@functools.lru_cache(maxsize=1024)
def _glob_regex(pattern: str) -> re.Pattern[str] | None:
    """Go's path/filepath.Match pattern as a regex; None for a malformed pattern (never matches)."""
    out: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "\\":
            if i + 1 >= n:
                return None
            out.append(re.escape(pattern[i + 1]))
            i += 2
        elif c == "[":
            i += 1
            negated = i < n and pattern[i] == "^"
            i += negated
            ranges: list[tuple[str, str]] = []
            while True:
                if i < n and pattern[i] == "]" and ranges:
                    i += 1
                    break
                lo, i = _glob_escape(pattern, i)
                if lo is None:
                    return None
                hi: str | None = lo
                if pattern[i] == "-":
                    hi, i = _glob_escape(pattern, i + 1)
                    if hi is None:
                        return None
                ranges.append((lo, hi or lo))
            parts = [f"{re.escape(lo)}-{re.escape(hi)}" for lo, hi in ranges if lo <= hi]
            if not parts:
                out.append("(?s:.)" if negated else "(?!)")
            else:
                out.append("[" + ("^" if negated else "") + "".join(parts) + "]")
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def _glob_escape(p: str, i: int) -> tuple[str | None, int]:
    """filepath getEsc: one class character, possibly escaped; something must follow it."""
    if i >= len(p) or p[i] in "-]":
        return None, i
    if p[i] == "\\":
        i += 1
        if i >= len(p):
            return None, i
    c = p[i]
    i += 1
    if i >= len(p):
        return None, i
    return c, i


def _urls_match(glob_key: str, target: str) -> bool:
    """keyring.go URLsMatchStr: same port, same label count, per-label glob, path prefix."""
    g = _go_url("https://" + glob_key)
    t = _go_url("https://" + target)
    if g is None or t is None:
        return False
    (g_host, g_path), (t_host, t_path) = g, t
    g_name, g_port = _split_host_port(g_host)
    t_name, t_port = _split_host_port(t_host)
    if g_port != t_port:
        return False
    return t_path.startswith(g_path) and _labels_match(g_name.split("."), t_name.split("."))


def match_image(glob: str, image: str) -> bool:
    """keyring.go URLsMatchStr, as the kubelet matches a credential provider's ``matchImages`` glob (and a
    docker config key) against an image name: same port, same label count, per-label glob, path prefix."""
    return _urls_match(glob, image)


def _is_default_registry_match(image: str) -> bool:
    """keyring.go isDefaultRegistryMatch: does this name pull from Docker Hub?"""
    first, sep, _ = image.partition("/")
    if not first:
        return False
    if not sep:
        return True
    if first in ("docker.io", "index.docker.io"):
        return True
    return "." not in first and ":" not in first


class _BasicKeyring:
    """One BasicDockerKeyring: entries indexed by match key, index reverse-sorted."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.creds: dict[str, list[Entry]] = {}
        self.unparsable: list[Entry] = []
        for e in entries:
            k = e.match_key
            if k is None:
                self.unparsable.append(e)
                continue
            self.creds.setdefault(k, []).append(e)
        self.index = sorted(self.creds, reverse=True)

    def lookup(self, image: str) -> tuple[list[Entry], bool]:
        ret = [e for k in self.index if _urls_match(k, image) for e in self.creds[k]]
        if ret:
            return ret, False
        if _is_default_registry_match(image) and DEFAULT_REGISTRY_KEY in self.creds:
            return list(self.creds[DEFAULT_REGISTRY_KEY]), True
        return [], False


class Keyring:
    """The kubelet's keyring for one pod: its pull secrets first, then the node's own credentials.

    Entries whose ``source`` starts with "secret " form the pod-secret keyring (one index across all
    of them, as secrets.go builds it); the others (node config.json, plugins) form the node keyring.
    Each keyring applies the Docker Hub fallback on its own, as the kubelet's UnionDockerKeyring does.
    """

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries: list[Entry] = list(entries)
        self._pod = _BasicKeyring(e for e in self.entries if e.from_secret)
        self._node = _BasicKeyring(e for e in self.entries if not e.from_secret)

    def lookup(self, image: str | ImageRef) -> Lookup:
        ref = image if isinstance(image, ImageRef) else parse(image)
        name = ref.name
        pod, pod_fb = self._pod.lookup(name)
        node, node_fb = self._node.lookup(name)
        matches = pod + node
        fallback = (pod if pod_fb else []) + (node if node_fb else [])
        only_fallback = bool(matches) and len(fallback) == len(matches)
        return Lookup(image=name, matches=matches, used_default_fallback=only_fallback,
                      explanation=self._explain(ref, matches, fallback), fallback_matches=fallback)

    # -- one sentence ---------------------------------------------------------------------------------

    def _explain(self, ref: ImageRef, matches: list[Entry], fallback: list[Entry]) -> str:
        name = ref.name
        if matches:
            parts = [f"{e.source} ({e.match_key}{'' if e.credential else ', no usable credential'})"
                     for e in matches[:6]]
            more = f" and {len(matches) - 6} more" if len(matches) > 6 else ""
            via = " through the index.docker.io fallback for Docker Hub images" if len(fallback) == len(matches) else ""
            n = len(matches)
            return (f"the kubelet would try {n} credential{'s' if n > 1 else ''} for {name}{via}, in order: "
                    f"{', '.join(parts)}{more}")
        if not self.entries:
            return f"no pull secret or node credential is configured, so the kubelet pulls {name} anonymously"
        by_source: dict[str, list[str]] = {}
        for e in self.entries:
            shown = e.match_key or f"{e.key!r} (unparsable)"
            keys = by_source.setdefault(e.source, [])
            if shown not in keys:
                keys.append(shown)
        clauses = [f"{src} has {'an entry' if len(keys) == 1 else 'entries'} for {_and_list(keys)}"
                   for src, keys in list(by_source.items())[:6]]
        if len(by_source) > 6:
            clauses.append(f"{len(by_source) - 6} more sources have entries")
        target, hint = ref.registry, self._near_miss(ref)
        if " paths " in hint:
            target = name
        return f"{'; '.join(clauses)}; none matches {target}{hint}"

    def _near_miss(self, ref: ImageRef) -> str:
        """Why the closest key misses: a port, a path, letter case, or a wildcard spanning two labels."""
        t_name, t_port = _split_host_port(ref.registry)
        t_labels = t_name.split(".")
        hints: list[tuple[int, str]] = []
        for e in self.entries:
            k = e.match_key
            if k is None:
                continue
            host, slash, path = k.partition("/")
            g_name, g_port = _split_host_port(host)
            g_labels = g_name.split(".")
            if _labels_match(g_labels, t_labels):
                if g_port != t_port:
                    hints.append((0, f" ({k} differs in port: {g_port or 'none'} vs {t_port or 'none'})"))
                elif slash and not ("/" + ref.repository).startswith("/" + path):
                    hints.append((1, f" ({k} covers only paths starting with {path})"))
            elif g_name.lower() == t_name.lower():
                hints.append((2, f" ({k} differs in letter case; the kubelet compares hosts as written)"))
            elif "*" in g_name and len(g_labels) != len(t_labels) and _labels_match(
                g_labels[1:], t_labels[len(t_labels) - len(g_labels) + 1 :] if len(g_labels) > 1 else []
            ):
                hints.append((3, f" ({k}: a * stands for exactly one label)"))
        if ref.registry == "docker.io" and any(e.match_key == "registry-1.docker.io" for e in self.entries):
            hints.append((4, " (for Docker Hub use https://index.docker.io/v1/ or docker.io as the key)"))
        return min(hints)[1] if hints else ""


def _labels_match(glob_labels: list[str], labels: list[str]) -> bool:
    if len(glob_labels) != len(labels):
        return False
    for g, t in zip(glob_labels, labels, strict=True):
        rx = _glob_regex(g)
        if rx is None or not rx.fullmatch(t):
            return False
    return True


def _and_list(items: list[str], limit: int = 5) -> str:
    shown = items[:limit]
    if len(items) > limit:
        return ", ".join(shown) + f" and {len(items) - limit} more"
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + " and " + shown[-1]
