"""A CRI-O node's registries.conf (containers-registries.conf(5), version 2), as the probe's host plan.

Why: on a CRI-O node, mirrors, ``insecure`` and ``blocked`` come from ``/etc/containers/registries.conf`` (and its
``registries.conf.d`` drop-ins), not from containerd's certs.d. ``--registries-conf FILE`` gives the probe the
same plan the node follows: the mirrors in order, then the registry (``location``), each over HTTPS, or for an
``insecure`` one HTTPS without verification and then plain HTTP (containers/image ``docker_client.go``).
Only host-level prefixes are modelled (``prefix = "quay.io"`` or ``"*.example.com"``); a prefix with a path
(``docker.io/library``) remaps repositories, which the probe does not follow: it is named in a note.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulldoctor.configfile import read_text
from pulldoctor.errors import InputError
from pulldoctor.registry.hosts import HostConfig, HostsDir, HostsFile

MAX_FILE_BYTES = 256 * 1024
MAX_REGISTRIES = 1_000
MAX_MIRRORS = 50
SOURCE = "registries.conf"


@dataclass(frozen=True)
class RegistriesConf(HostsDir):
    """The ``[[registry]]`` tables by prefix, looked up as containers/image does (longest matching prefix)."""

    search: tuple[str, ...] = ()        # unqualified-search-registries
    short_name_mode: str = ""           # "enforcing" | "permissive" | "disabled" | "" (unset)
    skipped: tuple[str, ...] = ()       # prefixes with a path, not modelled

    def lookup(self, registry: str) -> HostsFile | None:
        name = registry.lower()
        best: tuple[int, HostsFile] | None = None
        for prefix, entry in self.dirs:
            if prefix == name or (prefix.startswith("*.") and name.endswith(prefix[1:])):
                rank = len(prefix) + (1000 if prefix == name else 0)  # an exact prefix beats a wildcard
                if best is None or rank > best[0]:
                    best = (rank, entry)
        return best[1] if best else None


def load(path: str | Path) -> RegistriesConf:
    """Read one registries.conf (version 2); raises InputError naming the file and what is wrong."""
    p = Path(path)
    text = read_text(p, "--registries-conf", MAX_FILE_BYTES)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"--registries-conf {p}: not valid TOML ({err})") from None
    return _parse(doc, str(p))


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InputError(f"--registries-conf {where}: a list of strings is due")
    return tuple(value)


def _parse(doc: dict[str, Any], where: str) -> RegistriesConf:
    if "registries" in doc:  # version 1 ([registries.search] registries = […])
        raise InputError(f"--registries-conf {where}: a version 1 file ([registries.*]); CRI-O reads version 2 "
                         "([[registry]] tables): convert it (containers-registries.conf(5))")
    tables = doc.get("registry", [])
    if not isinstance(tables, list) or len(tables) > MAX_REGISTRIES:
        raise InputError(f"--registries-conf {where}: [[registry]] must be at most {MAX_REGISTRIES} tables")
    entries: list[tuple[str, HostsFile]] = []
    skipped: list[str] = []
    for i, t in enumerate(tables):
        if not isinstance(t, dict):
            raise InputError(f"--registries-conf {where}: [[registry]] #{i + 1} is not a table")
        location = str(t.get("location", "") or "")
        prefix = str(t.get("prefix", "") or location).lower()
        if not prefix:
            raise InputError(f"--registries-conf {where}: [[registry]] #{i + 1} has neither prefix nor location")
        if "/" in prefix or "/" in location:
            skipped.append(prefix)
            continue
        mirrors = t.get("mirror", [])
        if not isinstance(mirrors, list) or len(mirrors) > MAX_MIRRORS:
            raise InputError(f"--registries-conf {where}: [[registry.mirror]] of {prefix} must be a list of at most "
                             f"{MAX_MIRRORS} tables")
        hosts = [] if t.get("blocked") else [
            _host(str(m.get("location", "")), bool(m.get("insecure")), False) for m in mirrors
            if isinstance(m, dict) and m.get("location") and "/" not in str(m.get("location"))]
        if not t.get("blocked"):
            hosts.append(_host(location or prefix, bool(t.get("insecure")), True))
        entries.append((prefix, HostsFile(prefix, SOURCE, tuple(hosts))))
    mode = doc.get("short-name-mode", "")
    return RegistriesConf(where, tuple(entries), _strings(doc.get("unqualified-search-registries"), where),
                          mode if isinstance(mode, str) else "", tuple(skipped))


def _host(location: str, insecure: bool, is_server: bool) -> HostConfig:
    """One host as containers/image contacts it: HTTPS; ``insecure`` = no verification, then plain HTTP."""
    return HostConfig("https", location.lower(), capabilities=frozenset({"pull", "resolve"}),
                      skip_verify=True if insecure else None, is_server=is_server, fallback_http=insecure)
