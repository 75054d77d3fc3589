"""Node-side refusals a registry probe cannot judge: an invalid reference, ``imagePullPolicy: Never`` without
the image on the node, and a signature policy.
"""

from __future__ import annotations

import re

from pulldoctor.causes import Cause
from pulldoctor.diagnosis.evidence import Evidence
from pulldoctor.diagnosis.families.base import CERTAIN, LIKELY, POSSIBLE, C, Family
from pulldoctor.diagnosis.kubectl import edit_owner, job_edit, owner, recreate_pod, set_image, template_patch
from pulldoctor.diagnosis.lines import base_lines
from pulldoctor.diagnosis.model import EvidenceLine, Fix, Verdict


def invalid_name(ev: Evidence, claimed: Cause) -> Verdict:
    """InvalidImageName: the reference breaks the grammar; ``reference.parse`` names the rule."""
    lines = base_lines(ev)
    err = ev.ref_error
    if err is not None:
        rule = err.rule or "grammar"
        part = err.part
        lines.append(EvidenceLine("reference", f"{err} (rule: {rule}{', at ' + repr(part) if part else ''})"))
        return Verdict(C.INVALID_IMAGE_NAME, CERTAIN,
                       f"The image reference {ev.image!r} is not valid: {err}.", lines, rule="invalid_name")
    contradictions = ["pulldoctor parses the reference without error"] if ev.ref else []
    return Verdict(C.INVALID_IMAGE_NAME, POSSIBLE if contradictions else LIKELY,
                   f"The kubelet rejected the image reference {ev.image!r}.", lines, contradictions,
                   rule="invalid_name")


def _invalid_name(ev: Evidence, v: Verdict) -> list[Fix]:
    err = ev.ref_error
    text = f"Fix the image reference {ev.image!r}" + (f": {err}" if err else "") + "."
    candidate = _lowercased(ev.image) if err is not None and err.rule == "lowercase" else None
    if candidate:
        return [Fix(text + f" Repository paths are lowercase: {candidate}?", (set_image(ev, candidate),))]
    return [Fix(text + " A repository is lowercase; a tag follows one ':', a digest follows '@'.",
                (set_image(ev, "REGISTRY/REPOSITORY:TAG"),))]


def _lowercased(image: str) -> str | None:
    """The reference with its repository path lowercased (the registry host keeps its case), if valid."""
    first, _, rest = image.partition("/")
    is_host = rest and ("." in first or ":" in first or first == "localhost")
    head, tail = (first + "/", rest) if is_host else ("", image)
    name, sep, tag = tail.partition(":") if "@" not in tail else (tail, "", "")
    candidate = head + name.lower() + sep + tag
    try:
        from pulldoctor.reference import parse

        parse(candidate)
    except Exception:
        return None
    return candidate if candidate != image else None


def verifies_pulled_image_credentials(kubelet_version: str | None) -> bool:
    """Kubelet 1.35+ (KEP-2535 beta, on by default): a cached image pulled with credentials is offered to a pod
    only if the pod's own credentials verify; under policy Never the refusal reads "not present"."""
    m = re.match(r"v?(\d+)\.(\d+)", kubelet_version or "")
    return m is not None and (int(m.group(1)), int(m.group(2))) >= (1, 35)


def never_pull(ev: Evidence, claimed: Cause) -> Verdict:
    """ErrImageNeverPull: policy Never and the image is not on the node (node image list settles it)."""
    lines = [*base_lines(ev), EvidenceLine("pod spec", f"imagePullPolicy: {ev.pull_policy or 'unknown'}")]
    node = ev.node
    normalized = ev.ref.normalized if ev.ref else ev.image
    if node is not None and node.images is not None:
        present = ev.image in node.images or normalized in node.images
        if not present:
            lines.append(EvidenceLine("node", f"{node.name} lists {len(node.images)} images; {normalized} "
                                              "is not among them"))
            if ev.nodes_with_image:
                lines.append(EvidenceLine("node", f"{', '.join(ev.nodes_with_image[:5])} "
                                                  f"list{'s' if len(ev.nodes_with_image) == 1 else ''} it"))
            conf = CERTAIN if ev.pull_policy == "Never" else LIKELY
            return Verdict(C.NEVER_PULL_ABSENT, conf,
                           f"imagePullPolicy is Never and {normalized} is not on node {node.name}.",
                           lines, rule="never_pull")
        lines.append(EvidenceLine("node", f"{node.name} lists {normalized}"))
        if verifies_pulled_image_credentials(node.kubelet_version):
            lines.append(EvidenceLine("node", f"kubelet {node.kubelet_version}: KubeletEnsureSecretPulledImages is on "
                                              "by default (beta in 1.35)"))
            return Verdict(C.NEVER_PULL_ABSENT, LIKELY,
                           f"Node {node.name} has {normalized}, but its kubelet would not let this pod use it: with "
                           "imagePullPolicy Never, an image whose pull credentials the pod cannot show is reported "
                           "as not present (KubeletEnsureSecretPulledImages).", lines,
                           settle=["the kubelet's imagePullCredentialsVerificationPolicy (NeverVerifyPreloadedImages "
                                   "by default: only images pulled by the kubelet with credentials are checked)",
                                   "whether the pod's pull secrets can pull the image"], rule="never_pull")
        return Verdict(C.NEVER_PULL_ABSENT, POSSIBLE,
                       f"imagePullPolicy is Never; node {node.name} lists the image now.", lines,
                       ["the node lists the image now (pre-pulled since, or the kubelet's credential "
                        "verification for pre-pulled images refused it)"], rule="never_pull")
    return Verdict(C.NEVER_PULL_ABSENT, LIKELY,
                   f"imagePullPolicy is Never and the kubelet did not find {normalized} on the node.",
                   lines, settle=["the node's image list (kubectl get node -o json) would settle it"],
                   rule="never_pull")


def _present_but_unverified(ev: Evidence) -> bool:
    node = ev.node
    if node is None or node.images is None or not verifies_pulled_image_credentials(node.kubelet_version):
        return False
    return ev.image in node.images or (ev.ref is not None and ev.ref.normalized in node.images)


def _never_pull(ev: Evidence, v: Verdict) -> list[Fix]:
    node = ev.node.name if ev.node else "NODE"
    field = "initContainers" if ev.container_type == "init" else "containers"
    where = (f" It is on {', '.join(ev.nodes_with_image[:5])}: export it there (ctr -n k8s.io images export) "
             "or schedule the pod onto such a node." if ev.nodes_with_image else "")
    load = Fix(f"Load {ev.image} onto node {node} before the pod starts (pre-pull it, e.g. "
               f"ctr -n k8s.io images import on the node), or let the kubelet pull it (next step).{where}")
    if _present_but_unverified(ev):
        load = Fix(f"{ev.image} is on node {node}, but the pod's credentials must verify against the registry before "
                   "the kubelet lends it a cached image pulled with credentials. Give the pod (or its service "
                   "account) a pull secret that can pull it, or let the kubelet pull it (next step). Sharing "
                   "pre-loaded images without checks is the kubelet's imagePullCredentialsVerificationPolicy "
                   "(NeverVerifyPreloadedImages, the default, or NeverVerify) in its config file, a node-wide "
                   "security choice.")
    o = owner(ev)
    if o and o[0] == "job":
        return [load, job_edit(ev, f"set imagePullPolicy: IfNotPresent for {ev.container}")]
    if o is None:  # a pod's imagePullPolicy cannot be changed: edit the manifest and recreate it
        return [load, Fix(f"Set imagePullPolicy: IfNotPresent for {ev.container} in the manifest and recreate:",
                          recreate_pod(ev))]
    # A strategic merge patch matches containers by name (a CronJob's template sits under its jobTemplate).
    patch = template_patch(ev, {field: [{"name": ev.container, "imagePullPolicy": "IfNotPresent"}]})
    if patch is None:  # a custom resource: no strategic merge, edit it
        return [load, edit_owner(ev, f"set imagePullPolicy: IfNotPresent for {ev.container}")]
    return [load, Fix(f"Let {o[0]} {o[1]} pull it (imagePullPolicy: IfNotPresent):", (patch,))]


def signature(ev: Evidence, claimed: Cause) -> Verdict:
    """SignatureValidationFailed: a signature policy on the node rejected the image."""
    return Verdict(C.SIGNATURE_INVALID, LIKELY if ev.message else POSSIBLE,
                   "A signature policy on the node rejected the image.", base_lines(ev),
                   settle=["the runtime's signature policy (e.g. /etc/containers/policy.json) names the rule"],
                   rule="signature")


def _signature(ev: Evidence, v: Verdict) -> list[Fix]:
    return [Fix("Sign the image with a key the node's policy accepts, or check the policy "
                "(/etc/containers/policy.json on CRI-O nodes).")]


def short_name(ev: Evidence, claimed: Cause) -> Verdict:
    """CRI-O refused to guess the registry of a short name (short-name mode ``enforcing``); the reference
    itself shows there is no registry in it."""
    lines = base_lines(ev)
    first = ev.image.split("/", 1)[0]
    qualified = "/" in ev.image and ("." in first or ":" in first or first == "localhost")
    if not qualified:
        lines.append(EvidenceLine("reference", f"{ev.image!r} names no registry: the node's registries.conf "
                                               "decides which one, and in enforcing mode it will not guess"))
        return Verdict(C.AMBIGUOUS_SHORT_NAME, CERTAIN,
                       f"{ev.image!r} is a short name that the node's registries (unqualified-search-registries) "
                       "make ambiguous, and CRI-O's short-name mode refuses to pick one.", lines, rule="short_name")
    return Verdict(C.AMBIGUOUS_SHORT_NAME, POSSIBLE, f"The node called {ev.image!r} an ambiguous short name.",
                   lines, ["the image names a registry"], rule="short_name")


def _short_name(ev: Evidence, v: Verdict) -> list[Fix]:
    hub = ev.ref.normalized if ev.ref is not None else None
    steps = [Fix(f"Name the registry in the image. {hub + ' is what containerd and Docker pull for it' if hub else ''}"
                 " — if that is the image you meant:", (set_image(ev, hub),) if hub else ())]
    steps.append(Fix("Or give the node an alias for the name (a drop-in under /etc/containers/registries.conf.d/ "
                     f"with [aliases] \"{ev.image.split(':')[0]}\" = \"REGISTRY/REPOSITORY\"), on every CRI-O node."))
    return steps


SHORT_NAME = Family("short_name", frozenset({C.AMBIGUOUS_SHORT_NAME}),
                    "CRI-O's short-name mode and whether the reference names a registry", short_name, _short_name)
INVALID_NAME = Family("invalid_name", frozenset({C.INVALID_IMAGE_NAME}),
                      "the reference breaks the grammar; reference.parse names the rule", invalid_name, _invalid_name)
NEVER_PULL = Family("never_pull", frozenset({C.NEVER_PULL_ABSENT}), "pull policy Never + the node's image list",
                    never_pull, _never_pull)
SIGNATURE = Family("signature", frozenset({C.SIGNATURE_INVALID}), "a signature policy rejected the image",
                   signature, _signature)
