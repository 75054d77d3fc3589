"""Where node logs come from: an EKS log collector archive, a directory of them, or ``NODE=FILE`` (a
``journalctl -u kubelet -u containerd`` export). Each log is read from its TAIL, within a byte cap per node,
streaming (a gzip member cannot be seeked: it is decompressed once, chunk by chunk, keeping only the last
bytes). Archives pass the bundle reader's guards (``cluster.bundle.guarded_members``): regular files only,
no links or devices, bounded members and bytes; nothing is ever extracted to disk.

Bad paths are bad input (exit 2). Everything else that cannot be used — an unknown layout, a hostile
archive, an instance that is no node of the snapshot — is a note, and the rest goes on.
"""

from __future__ import annotations

import os
import re
import stat
import tarfile
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO

from pulldoctor.cluster.bundle import TarLimits, guarded_members, member_path
from pulldoctor.cluster.model import Node
from pulldoctor.errors import InputError
from pulldoctor.nodelogs import settings as st
from pulldoctor.nodelogs.model import MAX_TAIL_BYTES, NodeLog, NodeLogs
from pulldoctor.nodelogs.scan import Clock, scan
from pulldoctor.redact import printable

#: An archive's bounds: the collector also packs /var/log and journal dumps; a member or the whole beyond
#: these is refused (decompressing it is the cost of reading its tail).
ARCHIVE_LIMITS = TarLimits(members=50_000, member_bytes=8 << 30, total_bytes=16 << 30,
                           what="EKS log collector archive")
MAX_ARCHIVES = 1_000       # per directory
_SETTINGS_BYTES = 4 << 20  # a config dump, a unit, df output: read from the head, never more
_CHUNK = 1 << 20

#: The collector's log members -> (unit, share of the node's cap). The kubelet's log carries the full
#: runtime error and dockershim's cancel, so it gets half.
LOGS = {"kubelet/kubelet.log": ("kubelet", 2), "containerd/containerd-log.txt": ("containerd", 4),
        "docker/docker.log": ("docker", 4)}
SETTINGS_FILES = frozenset({
    "kubelet/kubelet_service.txt", "containerd/containerd-config.txt", "containerd/containerd-version.txt",
    "system/instance-id.txt", "storage/mounts.txt", "storage/inodes.txt", "kubelet/config.json",
    "kubelet/kubelet-config.json", "kubelet/config.yaml", "crio/crio-config.txt",
})
_INSTANCE = re.compile(r"^i-[0-9a-f]{8,17}$")
_ARCHIVE_NAME = re.compile(r"^eks_(i-[0-9a-f]{8,17})_(\d{4}-\d\d-\d\d_\d{4})-UTC")
_NODE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")


def tail(fh: IO[bytes], cap: int) -> tuple[bytes, int]:
    """The last ``cap`` bytes of a stream (from its first whole line) and its full length. Memory stays
    within ``cap`` plus one chunk, however long the stream."""
    chunks: deque[bytes] = deque()
    kept = total = 0
    while True:  # bounded by the stream, which the caller bounds (a regular file, a capped tar member)
        chunk = fh.read(_CHUNK)
        if not chunk:
            break
        total += len(chunk)
        chunks.append(chunk)
        kept += len(chunk)
        while kept - len(chunks[0]) >= cap:
            kept -= len(chunks.popleft())
    data = b"".join(chunks)
    if len(data) > cap:
        data = data[len(data) - cap:]
    if total > len(data):  # cut: the first line is a piece of one
        nl = data.find(b"\n")
        data = data[nl + 1:] if nl != -1 else b""
    return data, total


def instance_nodes(nodes: Mapping[str, Node]) -> dict[str, str]:
    """EC2 instance id -> node name, from ``spec.providerID`` (``aws:///us-east-1a/i-0abc…``)."""
    out = {}
    for name, node in nodes.items():
        pid = node.spec.provider_id
        if pid.startswith("aws://"):
            iid = pid.rsplit("/", 1)[-1]
            if _INSTANCE.match(iid):
                out[iid] = name
    return out


@dataclass(slots=True)
class _Read:
    """One archive or journal, read: log tails per unit and settings texts per member."""

    name: str
    logs: dict[str, tuple[str, bytes, int]] = field(default_factory=dict)  # member -> (unit, tail, length)
    texts: dict[str, str] = field(default_factory=dict)


def _regular(path: str, spec: str) -> os.stat_result:
    try:
        info = os.stat(path)
    except OSError as err:
        raise InputError(f"--node-logs {spec}: {err.strerror or err}") from None
    return info


def read_archive(path: str, cap: int, limits: TarLimits = ARCHIVE_LIMITS) -> _Read:
    """The known members of an EKS log collector archive; InputError when the archive itself is refused
    (the caller turns it into a note)."""
    name = os.path.basename(path)
    out = _Read(name)

    def wanted(m: tarfile.TarInfo) -> bool:
        rel = member_path(m.name)
        return rel is not None and (rel in LOGS or rel in SETTINGS_FILES)

    try:
        with tarfile.open(path, mode="r|*") as tar:
            for member in guarded_members(tar, name, limits, wanted):
                rel = member_path(member.name) or ""
                fh = tar.extractfile(member)
                if fh is None:
                    continue
                if rel in LOGS:
                    unit, share = LOGS[rel]
                    data, total = tail(fh, max(cap // share, 1))
                    out.logs[rel] = (unit, data, total)
                else:
                    out.texts[rel] = fh.read(_SETTINGS_BYTES).decode("utf-8", "replace")
    except (tarfile.TarError, OSError, EOFError, ValueError) as err:
        raise InputError(f"{name}: not a readable .tar.gz ({printable(str(err))[:160]})") from None
    return out


def read_journal(path: str, spec: str, cap: int) -> _Read:
    """A plain journal export: its tail, seeked to (a regular file only: a FIFO or device has no end)."""
    info = _regular(path, spec)
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"--node-logs {spec}: not a regular file")
    out = _Read(os.path.basename(path))
    try:
        with open(path, "rb") as fh:
            if info.st_size > cap:
                fh.seek(info.st_size - cap)
            # One read of what is there, at most the cap (the file is regular, its end known): asking for
            # the whole cap would allocate it even for a small file.
            data = fh.read(min(cap, info.st_size))
    except OSError as err:
        raise InputError(f"--node-logs {spec}: {err.strerror or err}") from None
    if info.st_size > cap:  # seeked into the middle of a line
        nl = data.find(b"\n")
        data = data[nl + 1:] if nl != -1 else b""
    out.logs["journal"] = ("kubelet", data, info.st_size)
    return out


def load(specs: Sequence[str], nodes: Mapping[str, Node], *, now: datetime | None = None,
         cap: int = MAX_TAIL_BYTES, limits: TarLimits = ARCHIVE_LIMITS) -> NodeLogs:
    """Read every ``--node-logs`` source (``api`` excepted: see ``nodelogs.api``) for the snapshot's nodes."""
    now = now or datetime.now(UTC)
    out = NodeLogs()
    by_instance = instance_nodes(nodes)
    for spec in specs:
        node, sep, file = spec.partition("=")
        if sep and _NODE_NAME.match(node) and file and not os.path.exists(spec):
            read = read_journal(file, spec, cap)
            if node not in nodes:
                out.notes.append(f"node log {printable(spec)}: node {node} is not in the snapshot; not used")
                continue
            _add(out, node, read, now)
            continue
        info = _regular(spec, spec)
        if stat.S_ISDIR(info.st_mode):
            paths = _archives_in(spec, out)
        elif stat.S_ISREG(info.st_mode):
            paths = [spec]
        else:
            raise InputError(f"--node-logs {spec}: not a file or a directory")
        for path in paths:
            _archive(path, out, by_instance, now, cap, limits)
    return out


def _archives_in(directory: str, out: NodeLogs) -> list[str]:
    try:
        names = sorted(os.listdir(directory))
    except OSError as err:
        raise InputError(f"--node-logs {directory}: {err.strerror or err}") from None
    paths = [os.path.join(directory, n) for n in names if n.endswith((".tar.gz", ".tgz"))
             and os.path.isfile(os.path.join(directory, n)) and not os.path.islink(os.path.join(directory, n))]
    if not paths:
        out.notes.append(f"node logs: no .tar.gz archive in {printable(directory)}")
    if len(paths) > MAX_ARCHIVES:
        out.notes.append(f"node logs: {len(paths)} archives in {printable(directory)}; the first {MAX_ARCHIVES} read")
    return paths[:MAX_ARCHIVES]


def _archive(path: str, out: NodeLogs, by_instance: Mapping[str, str], now: datetime, cap: int,
             limits: TarLimits) -> None:
    name = printable(os.path.basename(path))
    try:
        read = read_archive(path, cap, limits)
    except InputError as err:
        out.notes.append(f"node logs: {printable(str(err))}; skipped")
        return
    m = _ARCHIVE_NAME.match(os.path.basename(path))
    iid = read.texts.get("system/instance-id.txt", "").strip()
    if not _INSTANCE.match(iid):
        iid = m.group(1) if m else ""
    if not read.logs:
        out.notes.append(f"node logs: {name} holds no kubelet or containerd log (not the EKS log collector's "
                         "layout: ./kubelet/kubelet.log, ./containerd/containerd-log.txt); skipped")
        return
    if not iid:
        out.notes.append(f"node logs: {name} names no instance (system/instance-id.txt, eks_<instance-id>_… "
                         "file name); skipped")
        return
    node = by_instance.get(iid)
    if node is None:
        out.notes.append(f"node logs: {name} is of instance {iid}, which is no node of the snapshot (nodes are "
                         "matched by spec.providerID); skipped")
        return
    ref = now
    if m:
        try:
            ref = datetime.strptime(m.group(2), "%Y-%m-%d_%H%M").replace(tzinfo=UTC)
        except ValueError:
            pass
    _add(out, node, read, ref)


def add_source(out: NodeLogs, node: str, name: str, logs: dict[str, tuple[str, bytes, int]],
               texts: dict[str, str], ref: datetime) -> None:
    """Add one source read elsewhere (the node log query, a bundle): log tails per member (unit, bytes, full
    length) and settings texts per collector member name."""
    _add(out, node, _Read(name, logs, texts), ref)


def _add(out: NodeLogs, node: str, read: _Read, ref: datetime) -> None:
    """Scan the tails and parse the settings of one source into the node's ``NodeLog``."""
    log = out.node(node)
    clock = Clock(ref)
    for member, (unit, data, total) in read.logs.items():
        source = f"{read.name}:{member}" if member != "journal" else read.name
        log.sources.append(source)
        log.bytes_read += len(data)
        if total > len(data):
            log.cut = True
            out.notes.append(f"node log {printable(source)}: {total} bytes; its last {len(data)} read")
        found = scan(data, node=node, unit=unit, source=source, clock=clock)
        log.hits.extend(found.hits)
        if data.strip() and found.first_at is None:
            out.notes.append(f"node log {printable(source)}: no dated journal line in its tail (not a journalctl "
                             "export in the short, short-iso or json format?)")
        if found.more:
            out.notes.append(f"node log {printable(source)}: more matching lines than read; the newest kept")
        for t in (found.first_at, found.last_at):
            if t is not None:
                log.first_at = t if log.first_at is None else min(log.first_at, t)
                log.last_at = t if log.last_at is None else max(log.last_at, t)
    _settings(read, log, out.notes)


def _settings(read: _Read, log: NodeLog, notes: list[str]) -> None:
    s, t = log.settings, read.texts
    where = read.name
    if "containerd/containerd-version.txt" in t:
        s.runtime = st.containerd_version(t["containerd/containerd-version.txt"]) or s.runtime
    if "containerd/containerd-config.txt" in t:
        st.containerd_config(t["containerd/containerd-config.txt"], s, notes, f"{where}:containerd-config.txt")
    if "crio/crio-config.txt" in t:
        st.crio_config(t["crio/crio-config.txt"], s, notes, f"{where}:crio-config.txt")
    config = st.kubelet_unit(t["kubelet/kubelet_service.txt"], s) if "kubelet/kubelet_service.txt" in t else None
    for member in ("kubelet/config.json", "kubelet/kubelet-config.json", "kubelet/config.yaml"):
        if member in t:
            st.kubelet_config(t[member], s, notes, f"{where}:{member}", config or member)
            break
    if "storage/mounts.txt" in t:
        st.disk_free(t["storage/mounts.txt"], t.get("storage/inodes.txt", ""), s)
