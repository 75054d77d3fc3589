"""A manifest format the node's runtime refuses: Docker schema 1 on containerd 2.0 and later.

Why its own family: the image exists and the registry serves it, so none of the not-found, access or platform
families fits; the fix is to re-push the image in a current format, or to run the node on a runtime that still
reads it — and never a guessed tag.
"""

from __future__ import annotations

from pulldoctor.causes import Cause
from pulldoctor.diagnosis.evidence import Evidence
from pulldoctor.diagnosis.families.base import CERTAIN, LIKELY, C, Family
from pulldoctor.diagnosis.kubectl import q
from pulldoctor.diagnosis.lines import base_lines, no_probe_settle
from pulldoctor.diagnosis.model import EvidenceLine, Fix, Verdict
from pulldoctor.runtime import parse_runtime

_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.v1+prettyjws")


def unsupported(ev: Evidence, claimed: Cause) -> Verdict:
    """The node said its runtime refuses the manifest's format; a probe that gets a schema 1 manifest (or the
    node's runtime version, 2.0 or later) confirms it."""
    lines = base_lines(ev)
    runtime = parse_runtime(ev.node.runtime_version if ev.node else None)
    if runtime is not None:
        lines.append(EvidenceLine("node", f"runtime {runtime}"
                                          + (" (schema 1 support ended in containerd 2.0)"
                                             if runtime.rejects_schema1 else "")))
    media = ev.probe.media_type if ev.probe is not None else None
    if media in _SCHEMA1:
        lines.append(EvidenceLine("probe", f"the registry serves {ev.image} as {media} (Docker schema 1)"))
        return Verdict(C.UNSUPPORTED_MANIFEST, CERTAIN,
                       f"{ev.image} is a Docker schema 1 image, which the node's runtime no longer reads.",
                       lines, rule="manifest")
    more, settle = no_probe_settle(ev, "reading the manifest's media type")
    return Verdict(C.UNSUPPORTED_MANIFEST, LIKELY,
                   f"The node's runtime refuses the manifest format of {ev.image} (Docker schema 1 on containerd "
                   "2.0 and later).", [*lines, *more], settle=settle, rule="manifest")


def _fixes(ev: Evidence, v: Verdict) -> list[Fix]:
    image = q(ev.image)
    name = ev.ref.name if ev.ref is not None else "REGISTRY/REPOSITORY"
    return [Fix(f"Copy {ev.image} to a new tag in a current format (OCI); skopeo converts it without a rebuild "
                "and leaves the old tag for whoever still pulls it. Then point the workload at NEW_TAG:",
                (f"skopeo copy --format oci {q('docker://' + ev.image)} {q('docker://' + name + ':NEW_TAG')}",)),
            Fix("Or rebuild the image with a current docker/buildah and push it; containerd 1.7 still pulls schema 1 "
                "(deprecated), but that only delays the rebuild:",
                (f"docker buildx imagetools inspect {image}",))]


MANIFEST = Family("manifest", frozenset({C.UNSUPPORTED_MANIFEST}),
                  "the node's runtime and the manifest's format (schema 1 on containerd 2.0+)", unsupported, _fixes)
