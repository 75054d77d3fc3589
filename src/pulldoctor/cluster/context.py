"""The context of a failing container: the pull secrets in effect and the node it is on.

Pull secrets: the pod's ``imagePullSecrets``, else its service account's — the ServiceAccount admission
plugin copies the SA's list only when the pod has none (replace, not merge;
plugin/pkg/admission/serviceaccount/admission.go). The kubelet reads only ``kubernetes.io/dockerconfigjson``
(``.dockerconfigjson``) and ``kubernetes.io/dockercfg`` (``.dockercfg``) and skips other types silently
(pkg/credentialprovider/secrets/secrets.go). A missing secret gives the pod-level event
FailedToRetrieveImagePullSecret and the pull goes on without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pulldoctor import keyring
from pulldoctor.cluster.model import Node, Pod, Secret
from pulldoctor.cluster.snapshot import Snapshot
from pulldoctor.errors import SecretFormatError

PULL_SECRET_TYPES: dict[str, str] = {
    "kubernetes.io/dockerconfigjson": ".dockerconfigjson",
    "kubernetes.io/dockercfg": ".dockercfg",
}


@dataclass(slots=True)
class PullSecrets:
    """The pull secrets the kubelet would use for a pod; diagnosis reads it as it is (``Evidence.secrets``)."""

    names: list[str] = field(default_factory=list)        # in effect, in order
    source: str = "none"                                  # "pod", "service account NAME" or "none"
    service_account: str = "default"
    missing: list[str] = field(default_factory=list)      # named, not in the namespace (only when listed)
    wrong_type: list[tuple[str, str]] = field(default_factory=list)   # (name, type)
    problems: list[str] = field(default_factory=list)     # one line each, no values
    checked: bool = True    # False: secrets (or the service account) could not be read; nothing is "missing"
    redacted: bool = False  # entries come from a bundle: registries only, no credentials
    #: the service account's imagePullSecrets as read; None when it was not read (or not needed: the pod
    #: lists its own), so a fix never replaces a list it has not seen
    service_account_secrets: list[str] | None = None
    types: dict[str, str] = field(default_factory=dict)            # secret name -> type, as read
    data_keys: dict[str, list[str]] = field(default_factory=dict)  # secret name -> its data keys (no values)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.names)


@dataclass(slots=True)
class NodeInfo:
    """The node a pod runs on, as image pulls care; diagnosis reads it as it is (``Evidence.node``)."""

    name: str
    os: str | None = None
    arch: str | None = None
    variant: str | None = None
    images: frozenset[str] | None = None     # every name the node lists (None: unknown)
    disk_pressure: bool | None = None
    runtime_version: str | None = None       # "containerd://1.7.2"
    kubelet_version: str | None = None
    provider_id: str | None = None           # spec.providerID: "aws:///us-east-1a/i-0abc…"

    @property
    def platform(self) -> str | None:
        """``os/arch[/variant]`` as image indexes name platforms; None when the node does not say."""
        if not (self.os and self.arch):
            return None
        return f"{self.os}/{self.arch}" + (f"/{self.variant}" if self.variant else "")


def node_info(snapshot: Snapshot, name: str) -> NodeInfo | None:
    """What the snapshot knows about node ``name`` (None when the pod is not scheduled)."""
    if not name:
        return None
    node: Node | None = snapshot.nodes.get(name)
    if node is None:
        return NodeInfo(name=name)
    labels, info = node.metadata.labels, node.status.node_info
    pressure = next((c.status == "True" for c in node.status.conditions if c.type == "DiskPressure"), None)
    images = frozenset(n for img in node.status.images for n in img.names)
    return NodeInfo(
        name=name,
        os=info.operating_system or labels.get("kubernetes.io/os") or None,
        arch=info.architecture or labels.get("kubernetes.io/arch") or None,
        images=images,
        disk_pressure=pressure,
        runtime_version=info.container_runtime_version or None,
        kubelet_version=info.kubelet_version or None,
        provider_id=node.spec.provider_id or None,
    )


def _names_in_effect(snapshot: Snapshot, pod: Pod, ps: PullSecrets) -> list[str]:
    ns = pod.metadata.namespace
    ps.service_account = pod.spec.service_account_name or "default"
    own = [r.name for r in pod.spec.image_pull_secrets if r.name]
    sa_names: list[str] = []
    if not own:
        sa = snapshot.service_accounts.get((ns, ps.service_account))
        if sa is not None:
            sa_names = [r.name for r in sa.image_pull_secrets if r.name]
            ps.service_account_secrets = list(sa_names)
        elif snapshot.listed("ServiceAccount", ns):
            ps.problems.append(f"service account {ns}/{ps.service_account} does not exist")
        else:
            ps.checked = False
            ps.problems.append(f"service account {ns}/{ps.service_account} was not read; "
                               "pull secrets it may add were not checked")
    names, ps.source = keyring.secrets_in_effect(own, sa_names, ps.service_account)
    return names


def pull_secrets(snapshot: Snapshot, pod: Pod) -> tuple[PullSecrets, list[keyring.Entry]]:
    """The secrets in effect for ``pod`` and the ``keyring.Entry`` list they give (no values printed)."""
    ps = PullSecrets()
    ps.names = _names_in_effect(snapshot, pod, ps)
    ns = pod.metadata.namespace
    entries: list[keyring.Entry] = []
    for name in ps.names:
        secret = snapshot.secrets.get((ns, name))
        if secret is None:
            if snapshot.listed("Secret", ns):
                ps.missing.append(name)
                ps.problems.append(f"secret {ns}/{name} does not exist")
            else:
                ps.checked = False
                ps.problems.append(f"secret {ns}/{name} was not read; it was not checked")
            continue
        ps.types[name] = secret.type
        if secret.data is not None:
            ps.data_keys[name] = sorted(secret.data)
        if secret.type not in PULL_SECRET_TYPES:
            ps.wrong_type.append((name, secret.type))
        entries.extend(_entries(secret, ps))
    return ps, entries


def _entries(secret: Secret, ps: PullSecrets) -> list[keyring.Entry]:
    ns, name = secret.metadata.namespace, secret.metadata.name
    if secret.redacted:  # from a bundle: registry keys only
        ps.redacted = True
        if secret.type not in PULL_SECRET_TYPES:
            ps.problems.append(f"secret {ns}/{name} has type {secret.type or '(none)'}, not "
                               "kubernetes.io/dockerconfigjson; the kubelet ignores it")
            return []
        source = keyring.secret_source(ns, name)
        return [keyring.redacted_entry(r.key, source, r.has_username, r.has_password)
                for r in secret.registries or ()]
    data = secret.data or {}
    problems = keyring.problems_for_secret(ns, name, secret.type, data)
    ps.problems.extend(str(p) for p in problems)
    if any(p.fatal for p in problems):
        return []
    try:
        return list(keyring.entries_from_secret(ns, name, secret.type, data))
    except SecretFormatError as err:  # pragma: no cover - problems_for_secret reported it already
        ps.problems.append(str(err))
        return []
