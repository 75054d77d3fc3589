"""Find every pod template in the documents, and every image its pods would pull.

A pod template is wherever a controller keeps one: a Pod's ``spec``, a CronJob's
``spec.jobTemplate.spec.template.spec``, a PodTemplate's ``template.spec``, and ``spec.template.spec`` of
any other kind (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, Argo Rollout, Knative Service…). Its
images are those of init, regular and ephemeral containers and of image volumes
(``spec.volumes[].image.reference``). Secrets and service accounts defined alongside are kept: they are
the credentials the kubelet would use. Documents that are not Kubernetes objects are counted, not read.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from pulldoctor.causes import ContainerType
from pulldoctor.errors import InputError
from pulldoctor.preflight.inputs import Document, Location, unrendered

#: Image volumes (KEP-4639) are pulled like containers' images; they are told apart by this type.
VOLUME = "volume"
_CONTAINER_LISTS = (("initContainers", ContainerType.INIT.value), ("containers", ContainerType.REGULAR.value),
                    ("ephemeralContainers", ContainerType.EPHEMERAL.value))
_MAX_LIST_DEPTH = 4  # a List of Lists of…: kubectl writes one level

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class ImageUse:
    """One image a pod would pull: which container (or image volume) and where ``image:`` is written."""

    container: str
    container_type: str  # init | regular | ephemeral | volume
    image: str
    pull_policy: str | None  # as written; None = defaulted by the API server
    location: Location


@dataclass(slots=True)
class Workload:
    """One pod template and its object."""

    kind: str
    name: str
    namespace: str
    location: Location  # the object's kind: line
    images: list[ImageUse]
    pull_secrets: list[tuple[str, Location]]  # the template's imagePullSecrets, in order
    service_account: str
    service_account_set: bool  # written in the template (else "default")
    pods: int | None = 1  # pods the object starts at once (replicas, parallelism); None = one per node

    @property
    def pulls(self) -> int:
        """Pulls per image when every pod lands on a node without it (a DaemonSet counts 1: nodes unknown)."""
        return self.pods if self.pods is not None else 1


@dataclass(frozen=True, slots=True)
class SecretDef:
    namespace: str
    name: str
    type: str
    data: dict[str, str]  # base64 values, as the API serves them (stringData folded in)
    location: Location


@dataclass(frozen=True, slots=True)
class ServiceAccountDef:
    namespace: str
    name: str
    pull_secrets: list[str]
    location: Location


@dataclass
class Inventory:
    """What the inputs define, as preflight needs it."""

    workloads: list[Workload] = field(default_factory=list)
    secrets: dict[tuple[str, str], SecretDef] = field(default_factory=dict)
    service_accounts: dict[tuple[str, str], ServiceAccountDef] = field(default_factory=dict)
    objects: int = 0
    skipped: int = 0  # documents that are not Kubernetes objects
    other_kinds: Counter[str] = field(default_factory=Counter)

    @property
    def images(self) -> Iterator[tuple[Workload, ImageUse]]:
        for w in self.workloads:
            for use in w.images:
                yield w, use


def inventory(documents: Iterable[Document], default_namespace: str = "default") -> Inventory:
    """Read every document. Raises InputError for an image that is still a template ("render it first")."""
    inv = Inventory()
    for doc in documents:
        _read_object(inv, doc, doc.value, (), default_namespace, 0)
    return inv


def _is_object(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("apiVersion"), str) and isinstance(value.get("kind"), str)


def _read_object(inv: Inventory, doc: Document, obj: Any, path: Path, default_ns: str, depth: int) -> None:
    if not _is_object(obj):
        inv.skipped += 1
        return
    kind = obj["kind"]
    items = obj.get("items")
    if kind.endswith("List") and isinstance(items, list) and depth < _MAX_LIST_DEPTH:
        for i, item in enumerate(items):
            _read_object(inv, doc, item, (*path, "items", i), default_ns, depth + 1)
        return
    inv.objects += 1
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    name = _str(meta.get("name")) or ""
    namespace = _str(meta.get("namespace")) or default_ns
    if kind == "Secret" and obj["apiVersion"] == "v1":
        inv.secrets[(namespace, name)] = SecretDef(namespace, name, _str(obj.get("type")) or "Opaque",
                                                   _secret_data(obj), doc.location((*path, "kind")))
        return
    if kind == "ServiceAccount" and obj["apiVersion"] == "v1":
        names = [n for n, _p in _pull_secrets(obj)]
        inv.service_accounts[(namespace, name)] = ServiceAccountDef(namespace, name, names,
                                                                    doc.location((*path, "kind")))
        return
    spec_path = _pod_spec_path(obj)
    if spec_path is None:
        inv.other_kinds[kind] += 1
        return
    spec = _get(obj, spec_path)
    full = (*path, *spec_path)
    w = _workload(doc, kind, name, namespace, spec, full, doc.location((*path, "kind")))
    w.pods = _pods(obj)
    inv.workloads.append(w)


def _pods(obj: dict[str, Any]) -> int | None:
    """How many pods the object runs at once, as its controller defaults it (a DaemonSet: one per node)."""
    kind, spec = obj["kind"], obj.get("spec")
    if kind == "DaemonSet":
        return None
    if not isinstance(spec, dict):
        return 1
    if kind == "CronJob":
        job = _get(obj, ("spec", "jobTemplate", "spec"))
        spec = job if isinstance(job, dict) else {}
        kind = "Job"
    value = spec.get("parallelism" if kind == "Job" else "replicas", 1)
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 1_000_000 else 1


def _pod_spec_path(obj: dict[str, Any]) -> Path | None:
    kind = obj["kind"]
    if kind == "Pod":
        candidates: list[Path] = [("spec",)]
    elif kind == "CronJob":
        candidates = [("spec", "jobTemplate", "spec", "template", "spec")]
    elif kind == "PodTemplate":
        candidates = [("template", "spec")]
    else:
        candidates = [("spec", "template", "spec")]
    for c in candidates:
        spec = _get(obj, c)
        if isinstance(spec, dict) and any(isinstance(spec.get(k), list) for k, _t in _CONTAINER_LISTS):
            return c
    return None


def _get(obj: Any, path: Path) -> Any:
    for step in path:
        if isinstance(step, str) and isinstance(obj, dict):
            obj = obj.get(step)
        elif isinstance(step, int) and isinstance(obj, list) and 0 <= step < len(obj):
            obj = obj[step]
        else:
            return None
    return obj


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _workload(doc: Document, kind: str, name: str, namespace: str, spec: dict[str, Any], path: Path,
              where: Location) -> Workload:
    images: list[ImageUse] = []
    for key, ctype in _CONTAINER_LISTS:
        containers = spec.get(key)
        if not isinstance(containers, list):
            continue
        for i, c in enumerate(containers):
            if not isinstance(c, dict):
                continue
            cname = _str(c.get("name")) or f"{key}[{i}]"
            image = c.get("image")
            at = (*path, key, i, "image") if "image" in c else (*path, key, i)
            images.append(_use(doc, cname, ctype, image, _str(c.get("imagePullPolicy")), at))
    volumes = spec.get("volumes")
    if isinstance(volumes, list):
        for i, v in enumerate(volumes):
            src = v.get("image") if isinstance(v, dict) else None
            if not isinstance(src, dict):
                continue
            vname = _str(v.get("name")) or f"volumes[{i}]"
            at = (*path, "volumes", i, "image", "reference") if "reference" in src else (*path, "volumes", i, "image")
            images.append(_use(doc, vname, VOLUME, src.get("reference"), _str(src.get("pullPolicy")), at))
    secrets = [(n, doc.location((*path, "imagePullSecrets", i))) for n, i in _pull_secrets(spec)]
    sa = _str(spec.get("serviceAccountName")) or _str(spec.get("serviceAccount"))
    return Workload(kind, name, namespace, where, images, secrets, sa or "default", bool(sa))


def _use(doc: Document, container: str, ctype: str, image: Any, policy: str | None, at: Path) -> ImageUse:
    where = doc.location(at)
    if isinstance(image, (int, float)) and not isinstance(image, bool):
        image = str(image)  # `image: 1234` is a number to YAML, a (bad) reference to the kubelet
    text = image if isinstance(image, str) else ""
    if unrendered(text):
        raise InputError(f"{where}: image {text[:120]!r} is an unrendered template; render it first "
                         "(helm template … | pulldoctor preflight -f -)")
    return ImageUse(container, ctype, text, policy, where)


def _pull_secrets(obj: dict[str, Any]) -> list[tuple[str, int]]:
    """Names of ``imagePullSecrets`` (LocalObjectReference list), with their index; empty names skipped as
    the API server drops them."""
    items = obj.get("imagePullSecrets")
    if not isinstance(items, list):
        return []
    return [(ref["name"], i) for i, ref in enumerate(items)
            if isinstance(ref, dict) and isinstance(ref.get("name"), str) and ref["name"]]


def _secret_data(obj: dict[str, Any]) -> dict[str, str]:
    """``data`` as the API serves it: ``stringData`` is written into ``data`` (base64) and wins on a clash."""
    data = {k: v for k, v in (obj.get("data") or {}).items() if isinstance(k, str) and isinstance(v, str)} \
        if isinstance(obj.get("data"), dict) else {}
    string_data = obj.get("stringData")
    if isinstance(string_data, dict):
        for k, v in string_data.items():
            if isinstance(k, str) and isinstance(v, str):
                data[k] = base64.b64encode(v.encode("utf-8")).decode("ascii")
    return data
