"""One preflight run, end to end: read, extract, check, probe — and what the exit code is."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pulldoctor.errors import InputError
from pulldoctor.preflight.checks import run_checks
from pulldoctor.preflight.findings import Finding, Severity
from pulldoctor.preflight.inputs import read_inputs
from pulldoctor.preflight.workloads import inventory

if TYPE_CHECKING:
    from pulldoctor.cluster.snapshot import SourceSpec
    from pulldoctor.keyring import Entry
    from pulldoctor.registry.manifest import Platform
    from pulldoctor.registry.models import ProbeOptions

SCHEMA_VERSION = 1


@dataclass
class Report:
    findings: list[Finding]
    files: int
    documents: int
    skipped: int  # documents that are not Kubernetes objects
    workloads: int
    images: int  # image uses (containers and image volumes)
    distinct_images: int
    probed: int | None  # distinct image/credential pairs probed; None = --no-probe
    platforms: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity is Severity.WARNING)

    def exit_code(self, fail_on: str = "error") -> int:
        """0 clean, 1 on errors (or on warnings too with ``fail_on="warning"``)."""
        if self.errors or (fail_on == "warning" and self.warnings):
            return 1
        return 0

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "findings": [f.to_json() for f in self.findings],
            "summary": {
                "errors": self.errors, "warnings": self.warnings, "files": self.files,
                "documents": self.documents, "skipped_documents": self.skipped, "workloads": self.workloads,
                "images": self.images, "distinct_images": self.distinct_images, "probed": self.probed,
                "platforms": list(self.platforms),
            },
            "notes": list(self.notes),
        }


def preflight(paths: Sequence[str], *, platforms: Sequence[Platform] | None = None,
              node_entries: Sequence[Entry] = (), probe_options: ProbeOptions | None = None,
              namespace: str = "default", stdin: Any = None, cluster: SourceSpec | None = None) -> Report:
    """Check every pod template of ``paths``; ``probe_options=None`` checks without asking any registry.
    ``cluster`` (``--context``): read what the inputs name and do not define from that cluster, and take
    the nodes' platforms unless ``platforms`` is given (default linux/amd64). Raises InputError (exit 2) for
    input that cannot be read or holds no Kubernetes object, ClusterAccessError for a cluster out of reach."""
    read = read_inputs(paths, stdin)
    inv = inventory(read.documents, namespace)
    if inv.objects == 0:
        raise InputError(f"no Kubernetes objects in the inputs ({len(read.documents)} document(s) without "
                         "apiVersion and kind skipped)")
    from pulldoctor.preflight.cluster import merge, platform_list, read_cluster

    view = read_cluster(cluster, inv, platforms=not platforms) if cluster is not None else None
    if view is not None:
        merge(inv, view)
    platforms = platform_list(platforms, view)
    checked = run_checks(inv, node_entries, cluster=view.where if view else None,
                         unreadable=view.unreadable if view else ())
    findings = list(checked.findings)
    notes = [*(view.notes if view else []), *checked.notes]
    probed: int | None = None
    if probe_options is not None:
        from pulldoctor.preflight.probes import probe_planned

        result = probe_planned(checked.planned, platforms, probe_options)
        findings += result.findings
        probed = result.distinct
        notes += result.notes
    else:
        notes.append("registries not asked (--no-probe): tags, access and platforms were not checked")
    if not inv.workloads:
        notes.append("no pod templates in the inputs: nothing would pull an image")
    if inv.skipped:
        notes.append(f"skipped {inv.skipped} document(s) that are not Kubernetes objects")
    uses = [u for _w, u in inv.images]
    findings.sort(key=lambda f: f.sort_key)
    return Report(findings=findings, files=read.files, documents=len(read.documents), skipped=inv.skipped,
                  workloads=len(inv.workloads), images=len(uses), distinct_images=len({u.image for u in uses}),
                  probed=probed, platforms=[str(p) for p in platforms], notes=notes)
