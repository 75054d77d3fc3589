"""Node logs in a support bundle (``collect --node-logs``): per node, the lines that were found and the
settings that were read — never a whole log or a whole config file (a containerd config dump can hold
registry passwords). Lines are masked like every other bundle text (``redact.mask_userinfo``).

Members: ``nodelogs/NODE.log`` (the lines, journalctl short-iso, so they read back with their unit and
time) and ``nodelogs/NODE.settings`` (JSON of ``Settings``). ``diagnose --from BUNDLE`` uses them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Any

from pulldoctor.nodelogs.model import DiskFree, NodeLogs, Setting, Settings
from pulldoctor.nodelogs.sources import add_source
from pulldoctor.redact import mask_userinfo

PREFIX = "nodelogs/"
_NODE = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
MAX_SETTINGS_BYTES = 1 << 20


def to_members(logs: NodeLogs) -> dict[str, bytes]:
    """The bundle members of ``logs``: each node's found lines and its settings."""
    out: dict[str, bytes] = {}
    for node, log in sorted(logs.nodes.items()):
        if not _NODE.match(node):
            continue
        lines = []
        for h in log.hits:
            at = h.at.strftime("%Y-%m-%dT%H:%M:%S+0000") if h.at else "1970-01-01T00:00:00+0000"
            lines.append(f"{at} {node} {h.unit}[0]: {h.text}".replace("\n", " ").replace("\r", " "))
        out[f"{PREFIX}{node}.log"] = mask_userinfo("\n".join(lines) + "\n").encode()
        out[f"{PREFIX}{node}.settings"] = mask_userinfo(json.dumps(asdict(log.settings), indent=1)).encode()
    return out


def _setting(d: object) -> Setting | None:
    if not isinstance(d, dict) or not isinstance(d.get("name"), str):
        return None
    value = d.get("value")
    return Setting(d["name"][:200], str(value)[:200] if value is not None else None, str(d.get("where", ""))[:300])


def _settings(doc: object) -> Settings:
    s = Settings()
    if not isinstance(doc, dict):
        return s
    s.runtime = str(doc["runtime"])[:80] if isinstance(doc.get("runtime"), str) else None
    s.progress_timeout = _setting(doc.get("progress_timeout"))
    s.max_concurrent_downloads = _setting(doc.get("max_concurrent_downloads"))
    s.registry_config_path = _setting(doc.get("registry_config_path"))
    kubelet = doc.get("kubelet")
    if isinstance(kubelet, dict):
        for k, v in list(kubelet.items())[:50]:
            one = _setting(v)
            if one is not None:
                s.kubelet[str(k)[:80]] = one
    disk: Any = doc.get("disk")
    if isinstance(disk, dict):
        try:
            s.disk = DiskFree(str(disk["mount"])[:200], str(disk["size"])[:20], str(disk["avail"])[:20],
                              int(disk["use_percent"]), None if disk.get("inode_use_percent") is None
                              else int(disk["inode_use_percent"]))
        except (KeyError, TypeError, ValueError):
            s.disk = None
    return s


def from_members(members: Mapping[str, bytes], out: NodeLogs, *, now: datetime, bundle: str) -> None:
    """Read the node-log members of a bundle back into ``out`` (a member that does not parse is a note)."""
    for name in sorted(members):
        if not name.startswith(PREFIX) or not name.endswith(".log"):
            continue
        node = name[len(PREFIX):-len(".log")]
        if not _NODE.match(node):
            continue
        raw = members.get(f"{PREFIX}{node}.settings", b"")[:MAX_SETTINGS_BYTES]
        try:
            settings = _settings(json.loads(raw)) if raw else Settings()
        except ValueError:
            out.notes.append(f"{bundle}:{PREFIX}{node}.settings: not valid JSON; the node's settings not used")
            settings = Settings()
        data = members[name]
        add_source(out, node, f"{bundle}:{name}", {"journal": ("kubelet", data, len(data))}, {}, now)
        out.nodes[node].settings = settings
