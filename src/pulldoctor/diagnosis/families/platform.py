"""No manifest for the node's OS/architecture: the node's platform against the image index's platforms.
"""

from __future__ import annotations

from pulldoctor.causes import Cause
from pulldoctor.diagnosis.evidence import Evidence
from pulldoctor.diagnosis.families.base import CERTAIN, LIKELY, POSSIBLE, C, Family
from pulldoctor.diagnosis.kubectl import q, set_image, template_patch
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


def _runnable(plats: list[str], cluster: dict[str, list[str]]) -> list[tuple[str, list[str]]]:
    """(image platform, nodes of the cluster that run it), for the platforms some node has."""
    out = []
    for p in plats:
        nodes = sorted({n for node_p, names in cluster.items() for n in names
                        if node_p == p or node_p.startswith(p + "/") or p.startswith(node_p + "/")})
        if nodes:
            out.append((p, nodes))
    return out


def _new_tag(ev: Evidence) -> str:
    """The image with a NEW tag: a rebuild never overwrites the tag that is published (and running elsewhere)."""
    return f"{ev.ref.name}:NEW_TAG" if ev.ref is not None else "IMAGE:NEW_TAG"


def _platform(ev: Evidence, v: Verdict) -> list[Fix]:
    node_p = ev.node.platform if ev.node else None
    node = ev.node.name if ev.node else "NODE"
    plats = list(ev.probe.platforms) if ev.probe is not None else []
    new = _new_tag(ev)
    rebuild_text = ("Rebuild it to a NEW tag (never over the published one, which other nodes or clusters may run) "
                    "and point the container at it:")
    if not plats:
        # Unknown platforms: a --platform of the node's alone would push an image the other nodes cannot run.
        return [Fix(f"{ev.image} has no build for {node_p or 'the node platform'} (node {node}). See which "
                    f"platforms it has, then rebuild it for those and {node_p or 'the node platform'} (replace "
                    f"PLATFORMS), or schedule the pod onto nodes it runs on. {rebuild_text}",
                    (f"docker buildx imagetools inspect {q(ev.image)}",
                     f"docker buildx build --platform PLATFORMS,{node_p or 'OS/ARCH'} -t {q(new)} --push .",
                     set_image(ev, new)))]
    steps = [Fix(f"{ev.image} is built for {', '.join(plats)}; node {node} runs {node_p or 'another platform'}. "
                 f"Build a multi-arch image including {node_p or 'the node platform'}. {rebuild_text}",
                 (f"docker buildx build --platform {','.join(sorted(set(plats + ([node_p] if node_p else []))))} "
                  f"-t {q(new)} --push .", set_image(ev, new)))]
    if ev.cluster_platforms is None:
        steps.append(Fix("Or schedule the pod onto nodes that run one of its platforms; the nodes were not read, so "
                         "see which architectures the cluster has first:",
                         ("kubectl get nodes -L kubernetes.io/arch",)))
        return steps
    runnable = _runnable(plats, ev.cluster_platforms)
    if not runnable:
        # Live, only the failing pods' nodes are read: say what was seen, and how to see the rest.
        nodes_read = sorted({n for names in ev.cluster_platforms.values() for n in names})
        have = ", ".join(sorted(ev.cluster_platforms)) or "no known platform"
        steps.append(Fix(f"None of the {len(nodes_read)} node(s) read ({', '.join(nodes_read[:5])}"
                         f"{', …' if len(nodes_read) > 5 else ''}; {have}) can run it as built: a nodeSelector "
                         "would leave the pod Pending unless another node runs one of its platforms. See which "
                         "architectures the cluster has:", ("kubectl get nodes -L kubernetes.io/arch",)))
        return steps
    plat, nodes = runnable[0]
    arch = plat.split("/")[1]
    patch = template_patch(ev, {"nodeSelector": {"kubernetes.io/arch": arch}})
    text = (f"Or schedule the pod onto the nodes that run {plat} ({', '.join(nodes[:5])}"
            f"{', …' if len(nodes) > 5 else ''}):")
    if patch is not None:
        steps.append(Fix(text, (patch,)))
    else:
        steps.append(Fix(f"{text[:-1]}: set nodeSelector kubernetes.io/arch: {arch} in its pod template."))
    return steps


PLATFORM = Family("platform", frozenset({C.PLATFORM_MISMATCH}), "node platform vs the image index", platform,
                  _platform)
