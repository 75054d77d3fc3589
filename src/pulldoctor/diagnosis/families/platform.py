"""No manifest for the node's OS/architecture: the node's platform against the image index's platforms.
"""

from __future__ import annotations

import json

from pulldoctor.causes import Cause
from pulldoctor.diagnosis.evidence import Evidence
from pulldoctor.diagnosis.families.base import CERTAIN, LIKELY, POSSIBLE, C, Family
from pulldoctor.diagnosis.kubectl import ns, owner_ref, patchable, q
from pulldoctor.diagnosis.lines import base_lines, no_probe_settle
from pulldoctor.diagnosis.model import EvidenceLine, Fix, Verdict


def platform(ev: Evidence, claimed: Cause) -> Verdict:
    """No manifest for the node's OS/architecture: the node's platform vs the image index's platforms."""
    lines = base_lines(ev)
    node_platform = ev.node.platform if ev.node else None
    plats = list(ev.probe.platforms) if ev.probe is not None else []
    if node_platform:
        lines.append(EvidenceLine("node", f"{ev.node.name if ev.node else ''} runs {node_platform}"))
    if plats:
        lines.append(EvidenceLine("probe", f"the image is built for {', '.join(plats)}"))
    if node_platform and plats:
        if not any(p == node_platform or p.startswith(node_platform + "/") or node_platform.startswith(p + "/")
                   for p in plats):
            return Verdict(C.PLATFORM_MISMATCH, CERTAIN,
                           f"{ev.image} has no {node_platform} build (it has {', '.join(plats)}).",
                           lines, rule="platform")
        return Verdict(C.PLATFORM_MISMATCH, POSSIBLE, f"{ev.image} was reported without a build for the node.",
                       lines, [f"the index lists {node_platform} now"], rule="platform")
    lines2, settle = no_probe_settle(ev, "reading the image index's platforms")
    return Verdict(C.PLATFORM_MISMATCH, LIKELY,
                   f"{ev.image} has no build for the node's platform{' ' + node_platform if node_platform else ''}.",
                   [*lines, *lines2], settle=settle, rule="platform")


def _platform(ev: Evidence, v: Verdict) -> list[Fix]:
    node_p = ev.node.platform if ev.node else None
    plats = list(ev.probe.platforms) if ev.probe is not None else []
    if not plats:
        # Unknown platforms: a --platform of the node's alone would push an image the other nodes cannot run.
        return [Fix(f"{ev.image} has no build for {node_p or 'the node platform'} (node "
                    f"{ev.node.name if ev.node else 'NODE'}). See which platforms it has, then rebuild it for "
                    f"those and {node_p or 'the node platform'} (replace PLATFORMS), or schedule the pod onto "
                    "nodes it runs on:",
                    (f"docker buildx imagetools inspect {q(ev.image)}",
                     f"docker buildx build --platform PLATFORMS,{node_p or 'OS/ARCH'} -t {q(ev.image)} --push ."))]
    return [Fix(f"{ev.image} is built for {', '.join(plats) or 'other platforms'}; node "
                f"{ev.node.name if ev.node else ''} runs {node_p or 'another platform'}. Build and push a "
                f"multi-arch image including {node_p or 'the node platform'}, or schedule the pod onto matching "
                "nodes:",
                (f"docker buildx build --platform {','.join(sorted(set(plats + ([node_p] if node_p else []))))} "
                 f"-t {ev.image} --push .",
                 *([f"kubectl patch {owner_ref(ev)} {ns(ev)} -p "
                    + q(json.dumps({"spec": {"template": {"spec": {"nodeSelector": {
                        "kubernetes.io/arch": plats[0].split("/")[1] if plats else ""}}}}},
                        separators=(",", ":")))] if patchable(ev) and plats else [])))]


PLATFORM = Family("platform", frozenset({C.PLATFORM_MISMATCH}), "node platform vs the image index", platform,
                  _platform)
