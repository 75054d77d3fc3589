"""A node's containerd registry configuration: ``certs.d/<host>/hosts.toml`` (``config_path``).

Semantics follow containerd's ``remotes/docker/config/hosts.go`` and docs/hosts.md (1.6/1.7):

- the directory for a registry is the first that exists of ``<host>_<port>_`` (when the host has a
  port), ``<host>:<port>`` (or the bare host) and ``_default`` (``hostPaths``);
- in it, ``hosts.toml`` lists ``[host."URL"]`` tables, tried in file order, then the top-level ``server``
  (or, without one, the registry itself) last; a directory without ``hosts.toml`` contributes Docker-style
  ``*.crt`` CAs and ``*.cert``/``*.key`` client pairs to the registry itself;
- a URL without a scheme is ``https://``; the API root is ``<path>/v2`` unless ``override_path`` is set;
- ``capabilities`` (default pull, resolve, push) filter the hosts: a tag is resolved only by hosts with
  ``resolve``, a digest by hosts with ``pull``;
- ``ca``/``client`` paths are relative to the ``hosts.toml``; ``skip_verify`` turns off certificate and
  name checks; ``[header]`` values are sent with every request to that host.

containerd logs a malformed ``hosts.toml`` and falls back to the certificate files; pulldoctor refuses it
instead (exit 2), since a probe that silently ignores the node's configuration would not be the node's.
Everything is read once, eagerly, and bounded in size and count.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yarl import URL

from pulldoctor.errors import InputError

MAX_HOST_DIRS = 1000
MAX_FILE_BYTES = 256 * 1024
MAX_HOSTS_PER_FILE = 64
CAPABILITIES = ("pull", "resolve", "push")
DEFAULT_DIR = "_default"


@dataclass(frozen=True)
class HostConfig:
    """One host containerd may contact for a registry, in the order it tries them."""

    scheme: str = ""                       # "https" | "http"; "" = not set (the registry's default)
    host: str = ""                         # "mirror.example:5000"; "" = the registry itself (no server set)
    path: str = "/v2"                      # API root
    capabilities: frozenset[str] = frozenset(CAPABILITIES)
    ca: tuple[str, ...] = ()
    client: tuple[tuple[str, str], ...] = ()   # (cert, key); key "" = in the cert file
    skip_verify: bool | None = None
    header: tuple[tuple[str, tuple[str, ...]], ...] = ()
    is_server: bool = False                # the top-level ``server`` (or the implicit registry) entry
    #: HTTPS, then plain HTTP if the server answers in HTTP (CRI-O's registries.conf ``insecure = true``).
    fallback_http: bool = False

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}" if self.host else ""

    @property
    def has_tls_config(self) -> bool:
        return bool(self.ca or self.client) or self.skip_verify is not None

    def describe(self) -> str:
        """``https://mirror:5000 (pull, resolve; ca 1 file; skip_verify)`` for evidence."""
        extra = [", ".join(c for c in CAPABILITIES if c in self.capabilities)]
        if self.ca:
            extra.append(f"ca {', '.join(os.path.basename(c) for c in self.ca)}")
        if self.client:
            extra.append("client certificate")
        if self.skip_verify:
            extra.append("skip_verify")
        if self.path != "/v2":
            extra.append(f"path {self.path}")
        return f"{self.url or 'the registry itself'} ({'; '.join(extra)})"


@dataclass(frozen=True)
class HostsFile:
    """What one host directory says: its hosts in try order, the last one being the server entry."""

    directory: str                  # the directory's name under the hosts dir ("localhost:5000", "_default")
    source: str                     # "hosts.toml" or "certificate files"
    hosts: tuple[HostConfig, ...]
    #: A hosts.toml without any ``[host]`` table: containerd 1.6 (and 1.7 before containerd#10027 was
    #: fixed) rejects it ("failed to decode hosts.toml: invalid `host` tree") and uses the defaults.
    no_host_tree: bool = False


@dataclass(frozen=True)
class HostsDir:
    """Every host directory under a ``config_path``, parsed up front (malformed input fails at once)."""

    root: str
    dirs: tuple[tuple[str, HostsFile], ...] = field(default=())

    def lookup(self, registry: str) -> HostsFile | None:
        """The host directory containerd would use for ``registry`` (``localhost:5000``), or None."""
        found = dict(self.dirs)
        for name in host_paths(registry):
            if name in found:
                return found[name]
        return None


def host_paths(registry: str) -> list[str]:
    """Directory names in containerd's order (``hostPaths``): ``h_port_``, ``h:port``, ``_default``."""
    names = []
    idx = registry.rfind(":")
    if idx > 0:
        names.append(f"{registry[:idx]}_{registry[idx + 1:]}_")
    names += [registry, DEFAULT_DIR]
    return names


def load(root: str | os.PathLike[str]) -> HostsDir:
    """Read every ``<dir>/hosts.toml`` (or its certificate files) under ``root``; raises InputError."""
    base = Path(root)
    if not base.is_dir():
        raise InputError(f"--hosts-dir {base}: not a directory")
    try:
        entries = sorted(p for p in base.iterdir() if p.is_dir())
    except OSError as err:
        raise InputError(f"--hosts-dir {base}: {err.strerror or type(err).__name__}") from None
    if len(entries) > MAX_HOST_DIRS:
        raise InputError(f"--hosts-dir {base}: more than {MAX_HOST_DIRS} host directories")
    dirs = tuple((d.name, _load_dir(d)) for d in entries)
    return HostsDir(str(base), dirs)


def _load_dir(d: Path) -> HostsFile:
    path = d / "hosts.toml"
    if path.exists() and not path.is_file():  # a FIFO or device would block or never end
        raise InputError(f"{path}: not a regular file")
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        return HostsFile(d.name, "certificate files", (_cert_files(d),))
    except OSError as err:
        raise InputError(f"{path}: {err.strerror or type(err).__name__}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(f"{path}: larger than {MAX_FILE_BYTES} bytes; not a hosts.toml")
    if not raw.strip():
        return HostsFile(d.name, "certificate files", (_cert_files(d),))  # containerd: empty = absent
    hosts = parse(raw, d, str(path))
    return HostsFile(d.name, "hosts.toml", hosts, no_host_tree=not _has_host_table(raw))


def _has_host_table(raw: bytes) -> bool:
    doc = tomllib.loads(raw.decode("utf-8"))  # already parsed once without error
    return isinstance(doc.get("host"), dict)


def _cert_files(d: Path) -> HostConfig:
    """Docker's layout (``loadCertFiles``): ``*.crt`` CAs, ``*.cert`` + same-name ``*.key`` client pairs."""
    try:
        names = sorted(p.name for p in d.iterdir() if p.is_file())
    except OSError:
        names = []
    ca = tuple(str(d / n) for n in names if n.endswith(".crt"))
    client = tuple(
        (str(d / n), str(d / (n[:-5] + ".key")) if (n[:-5] + ".key") in names else "")
        for n in names if n.endswith(".cert")
    )
    for f in (*ca, *(c for pair in client for c in pair if c)):
        _readable(f, str(d))
    return HostConfig(ca=ca, client=client, is_server=True)


def parse(raw: bytes, base: Path, where: str) -> tuple[HostConfig, ...]:
    """Parse one hosts.toml: the ``[host]`` tables in file order, then the top-level (server) entry."""
    try:
        doc = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{where}: not UTF-8 text") from None
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"{where}: malformed TOML ({err})") from None
    tables = doc.get("host", {})
    if not isinstance(tables, dict):
        raise InputError(f"{where}: 'host' must be a table of [host.\"URL\"] sections")
    if len(tables) > MAX_HOSTS_PER_FILE:
        raise InputError(f"{where}: more than {MAX_HOSTS_PER_FILE} hosts")
    hosts = []
    for name, table in tables.items():  # tomllib keeps document order, as containerd sorts by line
        if not isinstance(table, dict):
            raise InputError(f"{where}: [host.{name!r}] must be a table")
        hosts.append(_entry(name, table, base, f"{where} [host.{name!r}]"))
    server = doc.get("server", "")
    if not isinstance(server, str):
        raise InputError(f"{where}: 'server' must be a string")
    hosts.append(_entry(server, doc, base, where, is_server=True))
    return tuple(hosts)


def _entry(server: str, t: dict[str, Any], base: Path, where: str, *, is_server: bool = False) -> HostConfig:
    """``parseHostConfig``: URL, path, capabilities, ca, client, skip_verify, header."""
    override = t.get("override_path", False)
    if not isinstance(override, bool):
        raise InputError(f"{where}: override_path must be true or false")
    scheme = host = ""
    path = "/v2"
    if server:
        if "://" in server and not server.startswith(("http://", "https://")):
            raise InputError(f"{where}: {server!r} is not an http(s) URL with a host")
        text = server if server.startswith("http") else "https://" + server
        try:
            u = URL(text)
        except ValueError:
            raise InputError(f"{where}: cannot parse server {server!r}") from None
        if u.scheme not in ("http", "https") or not u.raw_host:
            raise InputError(f"{where}: {server!r} is not an http(s) URL with a host")
        scheme, host = u.scheme, u.raw_authority
        p = os.path.normpath(u.raw_path) if u.raw_path not in ("", "/") else ""
        path = (p if p.endswith("/v2") or override else p + "/v2") if p else "" if override else "/v2"
    skip = t.get("skip_verify")
    if skip is not None and not isinstance(skip, bool):
        raise InputError(f"{where}: skip_verify must be true or false")
    caps = t.get("capabilities")
    if caps is None or caps == []:
        capabilities = frozenset(CAPABILITIES)
    else:
        if not isinstance(caps, list) or not all(isinstance(c, str) for c in caps):
            raise InputError(f"{where}: capabilities must be a list of strings")
        unknown = [c for c in caps if c.lower() not in CAPABILITIES]
        if unknown:
            raise InputError(f"{where}: unknown capability {unknown[0]!r} (pull, resolve or push)")
        capabilities = frozenset(c.lower() for c in caps)
    ca = tuple(_abs(p, base) for p in _strings(t.get("ca"), f"{where}: ca"))
    client = _client(t.get("client"), base, where)
    for f in (*ca, *(c for pair in client for c in pair if c)):
        _readable(f, where)
    return HostConfig(scheme, host, path, capabilities, ca, client, skip, _header(t.get("header"), where),
                      is_server)


def _strings(value: object, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise InputError(f"{what} must be a path or a list of paths")


def _client(value: object, base: Path, where: str) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return ((_abs(value, base), ""),)
    if not isinstance(value, list):
        raise InputError(f"{where}: client must be a path, a list of paths or a list of [cert, key] pairs")
    pairs = []
    for item in value:
        if isinstance(item, str):
            pairs.append((_abs(item, base), ""))
        elif isinstance(item, list) and len(item) == 2 and all(isinstance(v, str) for v in item):
            pairs.append((_abs(item[0], base), _abs(item[1], base) if item[1] else ""))
        else:
            raise InputError(f"{where}: invalid client pair {item!r}")
    return tuple(pairs)


def _header(value: object, where: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise InputError(f"{where}: header must be a table")
    out = []
    for key, v in value.items():
        out.append((key, tuple(_strings(v, f"{where}: header {key!r}"))))
    return tuple(out)


def _abs(p: str, base: Path) -> str:
    return p if os.path.isabs(p) else str(base / p)


def _readable(path: str, where: str) -> None:
    """containerd fails the pull when a CA or client file cannot be read; here it is bad input."""
    if not os.access(path, os.R_OK) or not os.path.isfile(path):
        raise InputError(f"{where}: cannot read {path} (copy the node's certificates along with certs.d)")
