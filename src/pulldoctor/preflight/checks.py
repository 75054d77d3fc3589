"""The checks that need no registry: the reference grammar, pull-policy pitfalls, and pull secrets — and,
for every image left, the credentials the kubelet would send (the probe's input).

Credentials follow the kubelet exactly (``pulldoctor.keyring``): the template's ``imagePullSecrets``, or
its service account's when it lists none (admission copies them only then), read from the Secrets and
ServiceAccounts of the same inputs; then the node's own (``--docker-config``).
"""

from __future__ import annotations

import shlex
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field

from pulldoctor.causes import Cause, PullPolicy
from pulldoctor.errors import InvalidReference, SecretFormatError
from pulldoctor.keyring import (
    Credential,
    Entry,
    Keyring,
    entries_from_secret,
    problems_for_secret,
    secret_source,
    secrets_in_effect,
)
from pulldoctor.preflight.findings import Check, Finding, Fix, Severity
from pulldoctor.preflight.inputs import Location
from pulldoctor.preflight.workloads import ImageUse, Inventory, Workload
from pulldoctor.reference import DOCKER_HUB, ImageRef, default_pull_policy, parse


@dataclass(slots=True)
class Planned:
    """An image the registry must be asked about, with what the kubelet would send for it."""

    workload: Workload
    use: ImageUse
    ref: ImageRef
    credentials: tuple[Credential, ...]
    explanation: str  # which credentials, in one sentence (no values)


@dataclass
class Checked:
    findings: list[Finding] = field(default_factory=list)
    planned: list[Planned] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def finding(w: Workload, use: ImageUse | None, cause: Cause, severity: Severity, check: Check, summary: str,
            fixes: Sequence[Fix] = (), location: Location | None = None) -> Finding:
    return Finding(cause=cause, severity=severity, check=check, summary=summary,
                   location=location or (use.location if use else w.location), kind=w.kind, name=w.name,
                   namespace=w.namespace, container=use.container if use else None,
                   container_type=use.container_type if use else None, image=use.image if use else None,
                   fixes=list(fixes))


def run_checks(inv: Inventory, node_entries: Sequence[Entry] = (), *, cluster: str | None = None,
               unreadable: Collection[str] = ()) -> Checked:
    """Every check that needs no network, and the probe plan for the images that pass them. ``cluster``
    names the cluster whose secrets were merged into ``inv`` (``--context``); ``unreadable``: the namespaces
    whose secrets it would not show."""
    out = Checked()
    secret_entries, secret_findings = _read_secrets(inv)
    reported_missing: set[tuple[str, str, str]] = set()
    unknown_sas: set[tuple[str, str]] = set()
    for w in inv.workloads:
        names, source = _secrets_for(inv, w, unknown_sas)
        entries: list[Entry] = []
        for name in names:
            key = (w.namespace, name)
            if key in inv.secrets:
                entries += secret_entries.get(key, [])
                for f in secret_findings.get(key, []):
                    _once(out.findings, f)
                continue
            where = _secret_ref_location(inv, w, name, source)
            if (str(where), w.namespace, name) not in reported_missing:
                reported_missing.add((str(where), w.namespace, name))
                if cluster is None:
                    nowhere = "defined nowhere in the inputs"
                elif w.namespace in unreadable:
                    nowhere = f"not in the inputs (the {cluster} would not show its secrets there)"
                else:
                    nowhere = f"defined neither in the inputs nor in the {cluster}"
                out.findings.append(_missing_secret(w, name, source, where, nowhere))
        keyring = Keyring([*entries, *node_entries])
        for use in w.images:
            ref = _reference(w, use, out.findings)
            if ref is None:
                continue
            if _policy_findings(w, use, ref, out.findings):
                continue  # pull policy Never: the kubelet does not pull, so nothing to probe
            lookup = keyring.lookup(ref)
            creds = tuple(e.credential for e in lookup.matches if e.credential is not None)
            out.planned.append(Planned(w, use, ref, creds, lookup.explanation))
    for ns, sa in sorted(unknown_sas):
        out.notes.append(f"service account {ns}/{sa} is not in the inputs: pods that list no imagePullSecrets "
                         "would use its pull secrets, which were not checked")
    return out


def _once(findings: list[Finding], f: Finding) -> None:
    if not any(x is f for x in findings):
        findings.append(f)


def _secrets_for(inv: Inventory, w: Workload, unknown: set[tuple[str, str]]) -> tuple[list[str], str]:
    """The kubelet's secret names for this template: its own list, else its service account's."""
    pod_names = [n for n, _loc in w.pull_secrets]
    sa = inv.service_accounts.get((w.namespace, w.service_account))
    if not pod_names and sa is None and w.service_account != "default":
        unknown.add((w.namespace, w.service_account))
    return secrets_in_effect(pod_names, sa.pull_secrets if sa else [], w.service_account)


def _secret_ref_location(inv: Inventory, w: Workload, name: str, source: str) -> Location:
    if source == "pod":
        return next((loc for n, loc in w.pull_secrets if n == name), w.location)
    sa = inv.service_accounts.get((w.namespace, w.service_account))
    return sa.location if sa and sa.location.line is not None else w.location  # a cluster's SA has no line


def _read_secrets(inv: Inventory) -> tuple[dict[tuple[str, str], list[Entry]], dict[tuple[str, str], list[Finding]]]:
    """Entries of every Secret a template (or its service account) names, and the findings on each one
    (reported once per secret, at the secret, however many templates use it)."""
    used = {(w.namespace, n) for w in inv.workloads for n, _l in w.pull_secrets}
    used |= {(sa.namespace, n) for sa in inv.service_accounts.values() for n in sa.pull_secrets}
    entries: dict[tuple[str, str], list[Entry]] = {}
    findings: dict[tuple[str, str], list[Finding]] = {}
    for key in sorted(used):
        s = inv.secrets.get(key)
        if s is None:
            continue
        owner = Workload("Secret", s.name, s.namespace, s.location, [], [], "default", False)
        for p in problems_for_secret(s.namespace, s.name, s.type, s.data):
            severity = Severity.ERROR if p.fatal else Severity.WARNING
            cause = Cause.AUTH_INVALID if p.fatal else Cause.AUTH_MISSING
            fix = Fix(f"Make {secret_source(s.namespace, s.name)} a kubernetes.io/dockerconfigjson Secret whose "
                      ".dockerconfigjson holds {\"auths\": {REGISTRY: {\"auth\": …}}}, e.g. write it with:",
                      (f"kubectl create secret docker-registry {shlex.quote(s.name)} --docker-server=REGISTRY "
                       f"--docker-username=USER --docker-password=PASSWORD -n {shlex.quote(s.namespace)} "
                       "--dry-run=client -o yaml",))
            findings.setdefault(key, []).append(finding(owner, None, cause, severity, Check.PULL_SECRET,
                                                        str(p), (fix,)))
        try:
            entries[key] = entries_from_secret(s.namespace, s.name, s.type, s.data)
        except SecretFormatError:
            entries[key] = []  # reported above as a fatal problem
    return entries, findings


def _missing_secret(w: Workload, name: str, source: str, where: Location, nowhere: str) -> Finding:
    registries = sorted({r for u in w.images if (r := _registry_of(u.image)) is not None})
    server = registries[0] if len(registries) == 1 else "REGISTRY"  # several: which one is private is unknown
    if server == DOCKER_HUB:
        server = "https://index.docker.io/v1/"
    among = f" (one of {', '.join(registries)})" if len(registries) > 1 else ""
    by = "imagePullSecrets" if source == "pod" else f"the imagePullSecrets of {source}"
    summary = (f"{by} names secret {w.namespace}/{name}, which is {nowhere}: the kubelet pulls without it, so "
               "a private image fails with auth_missing")
    fixes = (
        Fix(f"Add Secret {name} (type kubernetes.io/dockerconfigjson) in namespace {w.namespace} to these "
            "manifests, or create it in the cluster before the deploy:",
            (f"kubectl create secret docker-registry {shlex.quote(name)} --docker-server={shlex.quote(server)} "
             f"--docker-username=USER --docker-password=PASSWORD -n {shlex.quote(w.namespace)}",)),
        Fix(f"If {name} is a typo, name the Secret that holds the credentials for {server}{among} instead."),
    )
    return finding(w, None, Cause.AUTH_MISSING, Severity.ERROR, Check.PULL_SECRET, summary, fixes, where)


def _registry_of(image: str) -> str | None:
    try:
        return parse(image).registry
    except InvalidReference:
        return None


def _reference(w: Workload, use: ImageUse, findings: list[Finding]) -> ImageRef | None:
    if not use.image:
        what = "reference" if use.container_type == "volume" else "image"
        findings.append(finding(w, use, Cause.INVALID_IMAGE_NAME, Severity.ERROR, Check.REFERENCE,
                                f"no {what}: the kubelet refuses the pod with InvalidImageName",
                                (Fix(f"Set {what}: to the image to run (registry/repository:tag)."),)))
        return None
    try:
        return parse(use.image)
    except InvalidReference as err:
        rule = f" (rule {err.rule}" + (f", at {err.part!r}" if err.part else "") + ")" if err.rule else ""
        findings.append(finding(
            w, use, Cause.INVALID_IMAGE_NAME, Severity.ERROR, Check.REFERENCE,
            f"{err}{rule}: the kubelet refuses the pod with InvalidImageName",
            (Fix(f"Correct the reference at {use.location}; `pulldoctor ref` explains any reference:",
                 (f"pulldoctor ref {shlex.quote(use.image)}",)),)))
        return None


def _policy_findings(w: Workload, use: ImageUse, ref: ImageRef, findings: list[Finding]) -> bool:
    """Pull-policy pitfalls; True when the policy is Never (the kubelet will not pull)."""
    policy = use.pull_policy
    if policy == PullPolicy.NEVER:
        findings.append(finding(
            w, use, Cause.NEVER_PULL_ABSENT, Severity.WARNING, Check.PULL_POLICY,
            f"pull policy Never: every node that runs this pod must already have {ref.normalized}; on any "
            "other the pod fails with ErrImageNeverPull",
            (Fix(f"Preload {ref.normalized} on every node (a DaemonSet or the node image), or set the pull "
                 "policy to IfNotPresent."),)))
        return True
    if policy == PullPolicy.IF_NOT_PRESENT and default_pull_policy(use.image) == PullPolicy.ALWAYS:
        tag = "no tag (so :latest)" if ref.tag is None else ":latest"
        findings.append(finding(
            w, use, Cause.OTHER, Severity.WARNING, Check.PULL_POLICY,
            f"{tag} with pull policy IfNotPresent: each node keeps the 'latest' it pulled first, so nodes run "
            "different images and a new push never reaches them",
            (Fix(f"Pin a version tag or a digest ({ref.name}:VERSION or {ref.name}@sha256:…), or set the pull "
                 "policy to Always."),)))
    return False
