"""The engine's view of the cluster, the same whichever source it comes from.

``load_snapshot`` reads files (``kubectl get -o json|yaml``), directories, bundles or a live cluster into
a ``Snapshot``; ``find_failing`` finds the containers that cannot get their image, with their events
timeline, pull secrets and node. Reading files never imports the ``kubernetes`` client.
"""

from __future__ import annotations

import gc
import os

from pulldoctor.cluster.context import NodeInfo, PullSecrets
from pulldoctor.cluster.failing import FailingContainer, FailingReport, find_failing
from pulldoctor.cluster.snapshot import Snapshot, SourceSpec, newest_event_time
from pulldoctor.cluster.timeline import ReasonStats, Timeline

__all__ = [
    "FailingContainer", "FailingReport", "NodeInfo", "PullSecrets", "ReasonStats", "Snapshot",
    "SourceSpec", "Timeline", "find_failing", "load_snapshot",
]  # fmt: skip


def load_snapshot(source: SourceSpec | str | os.PathLike[str]) -> Snapshot:
    """Read a snapshot from ``source``: a ``SourceSpec`` (files, or the live cluster when it has no
    paths), or simply a path to a file, directory or bundle. Raises ``InputError`` / ``ClusterAccessError``."""
    if not isinstance(source, SourceSpec):
        source = SourceSpec(paths=(os.fspath(source),))
    snapshot = Snapshot()
    # Decoded objects never form reference cycles: the cyclic GC has nothing to find while hundreds of
    # thousands of containers are allocated, and running it anyway costs more than the decoding.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        if source.paths:
            from pulldoctor.cluster.files import load_paths

            snapshot.source = ", ".join(source.paths)
            load_paths(source.paths, snapshot)
            snapshot.dedupe()
            if snapshot.taken_at is None and (newest := newest_event_time(snapshot.events)) is not None:
                snapshot.taken_at, snapshot.taken_how = newest, "the newest event in the input"
            _note_files(snapshot)
        else:
            from pulldoctor.cluster.live import load_live

            load_live(source, snapshot)
    finally:
        if gc_was_enabled:
            gc.enable()
    return snapshot


def _note_files(snapshot: Snapshot) -> None:
    """Say what files did not contain, so that nothing absent is taken for missing."""
    if snapshot.ignored_kinds:
        kinds = ", ".join(f"{k} ×{n}" for k, n in sorted(snapshot.ignored_kinds.items()))
        snapshot.notes.append(f"ignored objects pulldoctor does not read: {kinds}")
    if not snapshot.pods:
        snapshot.notes.append("no pods in the input")
    for kind, what in (("Event", "events; timelines come from waiting messages only"),
                       ("Secret", "secrets; pull secrets were not checked"),
                       ("Node", "nodes; node images, platform and disk were not checked")):
        if kind not in snapshot.complete and snapshot.pods:
            snapshot.notes.append(f"no {what}")


