"""The node's settings that decide a pull, from the files the EKS log collector gathers: containerd's
``config dump`` (TOML, tomllib) and version, CRI-O's config, the kubelet's unit (``systemctl cat kubelet``)
and config file, and ``df`` of the image filesystem. Each parser takes text and never raises: what does not
parse becomes a note.
"""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

from pulldoctor import yamlconf
from pulldoctor.nodelogs.model import DiskFree, Setting, Settings

_CRI_17 = "io.containerd.grpc.v1.cri"
_CRI_2 = "io.containerd.cri.v1.images"
CONTAINERD_CONFIG = "/etc/containerd/config.toml"
_VERSION = re.compile(r"\bcontainerd\s+\S+\s+v?(\d+\.\d+\.\d+\S*)")


def containerd_version(text: str) -> str | None:
    """``containerd github.com/containerd/containerd v1.7.11 64b8…`` → ``containerd 1.7.11``."""
    m = _VERSION.search(text)
    return f"containerd {m.group(1)[:40]}" if m else None


def containerd_config(text: str, settings: Settings, notes: list[str], source: str) -> None:
    """``image_pull_progress_timeout``, ``max_concurrent_downloads`` and the registry ``config_path`` from a
    ``containerd config dump``: under ``[plugins."io.containerd.grpc.v1.cri"]`` (1.7) or
    ``[plugins."io.containerd.cri.v1.images"]`` (2.x); the section found names where it lives."""
    try:
        doc = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as err:
        notes.append(f"{source}: not a containerd config dump (TOML: {str(err)[:120]})")
        return
    plugins = doc.get("plugins")
    if not isinstance(plugins, dict):
        notes.append(f"{source}: no [plugins] in the containerd config dump")
        return
    for name in (_CRI_2, _CRI_17):
        section = plugins.get(name)
        if not isinstance(section, dict):
            continue
        where = f'[plugins."{name}"] in {CONTAINERD_CONFIG}'
        for key, attr in (("image_pull_progress_timeout", "progress_timeout"),
                          ("max_concurrent_downloads", "max_concurrent_downloads")):
            if key in section and getattr(settings, attr) is None:
                setattr(settings, attr, Setting(key, _text(section[key]), where))
        registry = section.get("registry")
        if isinstance(registry, dict) and "config_path" in registry and settings.registry_config_path is None:
            settings.registry_config_path = Setting("config_path", _text(registry["config_path"]),
                                                    f'[plugins."{name}".registry] in {CONTAINERD_CONFIG}')


def crio_config(text: str, settings: Settings, notes: list[str], source: str) -> None:
    """CRI-O's ``pull_progress_timeout`` under ``[crio.image]`` (``crio config`` output or crio.conf)."""
    try:
        doc = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as err:
        notes.append(f"{source}: not a CRI-O config (TOML: {str(err)[:120]})")
        return
    image = doc.get("crio", {}).get("image", {}) if isinstance(doc.get("crio"), dict) else {}
    if isinstance(image, dict) and "pull_progress_timeout" in image:
        settings.progress_timeout = Setting("pull_progress_timeout", _text(image["pull_progress_timeout"]),
                                            "[crio.image] in /etc/crio/crio.conf")


def _text(value: object) -> str:
    return str(value)[:200]


#: The kubelet's pull settings: command-line flag -> its KubeletConfiguration field.
KUBELET_FLAGS = {
    "--image-pull-progress-deadline": None,   # dockershim kubelets (< 1.24) only; no config field
    "--serialize-image-pulls": "serializeImagePulls",
    "--max-parallel-image-pulls": "maxParallelImagePulls",
    "--registry-qps": "registryPullQPS",
    "--registry-burst": "registryBurst",
}
_FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]+)(?:=|[ \t]+)([^\s\"'\\]+)")
_UNIT_FILE = re.compile(r"^# (/\S+)$")


def kubelet_unit(text: str, settings: Settings) -> str | None:
    """The pull flags in ``systemctl cat kubelet`` (each with the unit file that sets it); returns the
    ``--config`` file it names, if any."""
    unit_file = "the kubelet's systemd unit"
    config = None
    for line in text.splitlines()[:5000]:   # bounded: a unit is a few hundred lines
        m = _UNIT_FILE.match(line.strip())
        if m:
            unit_file = m.group(1)
            continue
        for f in _FLAG.finditer(line):
            flag, value = f.group(1), f.group(2)
            if flag in KUBELET_FLAGS:
                settings.kubelet[flag] = Setting(flag, value[:200], unit_file)
            elif flag == "--config":
                config = value
    return config


def kubelet_config(text: str, settings: Settings, notes: list[str], source: str, path: str) -> None:
    """``serializeImagePulls``, ``maxParallelImagePulls``, ``registryPullQPS``, ``registryBurst`` from the
    kubelet's config file (JSON or YAML); a flag read from the unit wins, as it does in the kubelet."""
    doc: Any
    try:
        doc = json.loads(text) if text.lstrip().startswith("{") else yamlconf.load(text)
    except (ValueError, RecursionError) as err:  # yamlconf.YamlConfigError is a ValueError
        notes.append(f"{source}: not a kubelet config file ({str(err).splitlines()[0][:120]})")
        return
    if not isinstance(doc, dict) or doc.get("kind") not in (None, "KubeletConfiguration"):
        notes.append(f"{source}: not a KubeletConfiguration")
        return
    flags = {v for v in KUBELET_FLAGS.values() if v}
    for key in sorted(flags):
        if key in doc:
            flag = next(f for f, v in KUBELET_FLAGS.items() if v == key)
            if flag not in settings.kubelet:
                settings.kubelet[key] = Setting(key, _text(doc[key]).lower() if isinstance(doc[key], bool)
                                                else _text(doc[key]), path)


# df --human-readable / df --inodes: FILESYSTEM SIZE USED AVAIL USE% MOUNTED-ON
_DF = re.compile(r"^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d{1,3})%\s+(/\S*)\s*$")
IMAGE_STORES = ("/var/lib/containerd", "/var/lib/docker", "/var/lib/containers")


def _rows(text: str) -> dict[str, tuple[str, str, int]]:
    rows = {}
    for line in text.splitlines()[:10_000]:
        m = _DF.match(line.strip())
        if m:
            rows[m.group(6)] = (m.group(2), m.group(4), int(m.group(5)))
    return rows


def _store_mount(rows: dict[str, tuple[str, str, int]], store: str) -> str | None:
    """The mount point holding ``store``: the longest mount that is a prefix of it."""
    best = None
    for mount in rows:
        if (store == mount or store.startswith(mount.rstrip("/") + "/")) and (best is None or len(mount) > len(best)):
            best = mount
    return best


def disk_free(mounts: str, inodes: str, settings: Settings, store: str = IMAGE_STORES[0]) -> None:
    """Free space (and inodes) of the filesystem holding the image store, from the collector's df output."""
    rows = _rows(mounts)
    mount = _store_mount(rows, store)
    if mount is None:
        return
    size, avail, use = rows[mount]
    inode_rows = _rows(inodes)
    settings.disk = DiskFree(mount, size, avail, use, inode_rows[mount][2] if mount in inode_rows else None)
