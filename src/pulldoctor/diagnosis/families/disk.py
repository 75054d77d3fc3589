"""No space left on device: the node's DiskPressure condition and the image size.
"""

from __future__ import annotations

from pulldoctor.causes import Cause
from pulldoctor.diagnosis.evidence import Evidence
from pulldoctor.diagnosis.families.base import CERTAIN, LIKELY, C, Family
from pulldoctor.diagnosis.kubectl import q, runtime_unit
from pulldoctor.diagnosis.lines import base_lines
from pulldoctor.diagnosis.model import EvidenceLine, Fix, Verdict


def disk(ev: Evidence, claimed: Cause) -> Verdict:
    """No space left on device: the node's DiskPressure condition and the image size."""
    lines = base_lines(ev)
    size = ev.probe.size if ev.probe is not None else None
    if size:
        lines.append(EvidenceLine("probe", f"image size {size / 1e6:.1f} MB compressed"))
    node = ev.node
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


def _disk(ev: Evidence, v: Verdict) -> list[Fix]:
    node = ev.node.name if ev.node else "NODE"
    size = ev.probe.size if ev.probe is not None else None
    need = f" (the image needs about {size / 1e6:.0f} MB compressed, more unpacked)" if size else ""
    store = {"crio": "/var/lib/containers/storage", "cri-docker": "/var/lib/docker"}.get(
        runtime_unit(ev), "/var/lib/containerd")  # the runtime's image store, where the unpack failed
    return [Fix(f"Free disk space on node {node}{need}: remove unused images, then let the pod retry.",
                (f"crictl rmi --prune   # on {node}", f"df -h {store}   # on {node}",
                 f"kubectl describe node {q(node)} | grep -i pressure"))]


DISK = Family("disk", frozenset({C.DISK_FULL}), "no space left: DiskPressure and image size", disk, _disk)
