"""No space left on device: the node's DiskPressure condition and the image size.
"""

from __future__ import annotations

from pulldoctor.causes import Cause
from pulldoctor.diagnosis.evidence import Evidence
from pulldoctor.diagnosis.families.base import CERTAIN, LIKELY, C, Family
from pulldoctor.diagnosis.kubectl import q, runtime_unit
from pulldoctor.diagnosis.lines import base_lines
from pulldoctor.diagnosis.model import EvidenceLine, Fix, Verdict
from pulldoctor.redact import printable

#: df's use% (space or inodes) from which the image filesystem counts as full: a second source with the message.
FULL_PERCENT = 90


def disk(ev: Evidence, claimed: Cause) -> Verdict:
    """No space left on device: the node's DiskPressure condition and the image size."""
    lines = base_lines(ev)
    size = ev.probe.size if ev.probe is not None else None
    if size:
        lines.append(EvidenceLine("probe", f"image size {size / 1e6:.1f} MB compressed"))
    free = free_text(ev)
    if free:
        lines.append(EvidenceLine("node settings", free))
    node = ev.node
    d = ev.node_log.settings.disk if ev.node_log is not None else None
    if d is not None and max(d.use_percent, d.inode_use_percent or 0) >= FULL_PERCENT \
            and ev.message_cause == C.DISK_FULL:
        what = "inodes" if (d.inode_use_percent or 0) >= FULL_PERCENT else "space"
        return Verdict(C.DISK_FULL, CERTAIN, f"Node {ev.node_log.node if ev.node_log else ''} is out of disk {what}: "
                       f"its df shows {printable(d.mount)} full.", lines, rule="disk")
    if node and node.disk_pressure is not None:
        lines.append(EvidenceLine("node", f"{node.name} DiskPressure={node.disk_pressure}"))
        if node.disk_pressure:
            return Verdict(C.DISK_FULL, CERTAIN, f"Node {node.name} is out of disk space (DiskPressure).",
                           lines, rule="disk")
        return Verdict(C.DISK_FULL, LIKELY, f"Node {node.name} ran out of disk space while unpacking.",
                       lines, [f"{node.name} reports no DiskPressure now (the image GC may have freed space, "
                               "or the image store is on another filesystem)"], rule="disk")
    return Verdict(C.DISK_FULL, LIKELY, "The node ran out of disk space while unpacking the image.", lines,
                   settle=["the node's DiskPressure condition would settle it"], rule="disk")


def free_text(ev: Evidence) -> str | None:
    """The image filesystem's free space as the node's ``df`` showed it (EKS collector, storage/mounts.txt)."""
    d = ev.node_log.settings.disk if ev.node_log is not None else None
    if d is None:
        return None
    inodes = f"; inodes {d.inode_use_percent}% used" if d.inode_use_percent is not None else ""
    return (f"df on {printable(ev.node_log.node if ev.node_log else '')}: {printable(d.mount)} (the image "
            f"store's filesystem) has {printable(d.avail)} of {printable(d.size)} free, {d.use_percent}% used"
            f"{inodes}")


def _disk(ev: Evidence, v: Verdict) -> list[Fix]:
    node = ev.node.name if ev.node else "NODE"
    d = ev.node_log.settings.disk if ev.node_log is not None else None
    if d is not None and d.inode_use_percent is not None and d.inode_use_percent >= 90:
        return [Fix(f"Node {node} is out of inodes on {printable(d.mount)} ({d.inode_use_percent}% used), not only "
                    "bytes: remove unused images and containers (many small files), then let the pod retry.",
                    (f"crictl rmi --prune   # on {node}", f"df -i {printable(d.mount)}   # on {node}"))]
    size = ev.probe.size if ev.probe is not None else None
    need = f" (the image needs about {size / 1e6:.0f} MB compressed, more unpacked)" if size else ""
    store = {"crio": "/var/lib/containers/storage", "cri-docker": "/var/lib/docker"}.get(
        runtime_unit(ev), "/var/lib/containerd")  # the runtime's image store, where the unpack failed
    had = f" ({printable(d.avail)} of {printable(d.size)} free when the logs were collected)" if d is not None else ""
    return [Fix(f"Free disk space on node {node}{had}{need}: remove unused images, then let the pod retry.",
                (f"crictl rmi --prune   # on {node}", f"df -h {store}   # on {node}",
                 f"kubectl describe node {q(node)} | grep -i pressure"))]


DISK = Family("disk", frozenset({C.DISK_FULL}), "no space left: DiskPressure and image size", disk, _disk)
