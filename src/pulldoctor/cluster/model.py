"""The subset of Kubernetes objects pulldoctor reads, as msgspec Structs, and the one decoder for them.

Why a subset: a pod from ``kubectl get -o json`` is ~4 KB, mostly ``managedFields``, env and volumes the
engine never looks at. Decoding only the fields below straight into Structs (no dicts) is ~5x faster and
~7x leaner than ``json.load`` (research/libraries.md §4), and it keeps bundles free of everything else
(env values included). The same Structs decode files, bundles and the live API's raw bytes.

Field names follow the API (camelCase on the wire, snake_case here). Unknown fields are skipped;
unknown kinds are not errors: the loader ignores and counts them.
"""

from __future__ import annotations

import codecs
import json
import re
import sys
from datetime import datetime
from typing import Any

import msgspec
from msgspec import Struct, field

# Shared Struct options: keyword-only, camelCase on the wire, defaults omitted when encoding (bundles),
# and no GC tracking — decoded API objects never form reference cycles.
_OPTS = {"kw_only": True, "rename": "camel", "omit_defaults": True, "gc": False}


class OwnerReference(Struct, **_OPTS):
    """``metadata.ownerReferences[]``: who owns an object (``controller`` marks the one that manages it)."""

    api_version: str = ""
    kind: str = ""
    name: str = ""
    uid: str = ""
    controller: bool | None = None


class ObjectMeta(Struct, **_OPTS):
    name: str = ""
    namespace: str = ""
    uid: str = ""
    resource_version: str = ""  # the same object read twice: the higher one is newer (Snapshot.dedupe)
    owner_references: list[OwnerReference] = []


class NodeMeta(Struct, **_OPTS):
    name: str = ""
    uid: str = ""
    labels: dict[str, str] = {}


class LocalObjectReference(Struct, **_OPTS):
    name: str = ""


# --- Pods -------------------------------------------------------------------------------------------


class Container(Struct, **_OPTS):
    name: str = ""
    image: str = ""
    image_pull_policy: str = ""


class ImageVolumeSource(Struct, **_OPTS):
    reference: str = ""
    pull_policy: str = ""


class Volume(Struct, **_OPTS):
    """Only image volumes matter (``spec.volumes[].image``, KEP-4639): the kubelet pulls them like images."""

    name: str = ""
    image: ImageVolumeSource | None = None


class PodSpec(Struct, **_OPTS):
    node_name: str = ""
    service_account_name: str = ""
    image_pull_secrets: list[LocalObjectReference] = []
    containers: list[Container] = []
    init_containers: list[Container] = []
    ephemeral_containers: list[Container] = []
    volumes: list[Volume] = []


class PodCondition(Struct, **_OPTS):
    type: str = ""
    status: str = ""
    reason: str = ""
    message: str = ""


class ContainerStateWaiting(Struct, **_OPTS):
    reason: str = ""
    message: str = ""


class ContainerState(Struct, **_OPTS):
    waiting: ContainerStateWaiting | None = None


class ContainerStatus(Struct, **_OPTS):
    name: str = ""
    image: str = ""
    image_id: str = field(default="", name="imageID")
    state: ContainerState = field(default_factory=ContainerState)
    ready: bool = False
    restart_count: int = 0


class PodStatus(Struct, **_OPTS):
    phase: str = ""
    reason: str = ""
    conditions: list[PodCondition] = []
    container_statuses: list[ContainerStatus] = []
    init_container_statuses: list[ContainerStatus] = []
    ephemeral_container_statuses: list[ContainerStatus] = []


class Pod(Struct, tag_field="kind", tag="Pod", **_OPTS):
    api_version: str = "v1"
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: PodSpec = field(default_factory=PodSpec)
    status: PodStatus = field(default_factory=PodStatus)


# --- Events (core/v1 and events.k8s.io/v1 in one Struct; see timeline.EventView) ----------------------


class ObjectReference(Struct, **_OPTS):
    kind: str = ""
    namespace: str = ""
    name: str = ""
    uid: str = ""
    field_path: str = ""


class EventSeries(Struct, **_OPTS):
    count: int = 0
    last_observed_time: datetime | None = None


class EventMeta(Struct, **_OPTS):
    """An event's own metadata: no owners (a pod's ``ObjectMeta`` would give each of 100,000 events an
    empty list)."""

    name: str = ""
    namespace: str = ""
    uid: str = ""
    resource_version: str = ""  # the newest of two copies of one event wins (Snapshot.dedupe)


class Event(Struct, tag_field="kind", tag="Event", **_OPTS):
    """Both event APIs: core/v1 (involvedObject, message, count, first/lastTimestamp) and
    events.k8s.io/v1 (regarding, note, deprecated*). ``timeline`` reads whichever is set.

    Only what the timeline reads: a cluster has ten times more events than pods, so ``type``, ``source``
    and ``reporting*`` (with ObjectMeta's owners list, a quarter of each decoded event) are skipped like
    every unknown field."""

    api_version: str = "v1"
    metadata: EventMeta = field(default_factory=EventMeta)
    reason: str = ""
    # core/v1
    involved_object: ObjectReference | None = None
    message: str = ""
    count: int | None = None
    first_timestamp: datetime | None = None
    last_timestamp: datetime | None = None
    # both
    event_time: datetime | None = None
    series: EventSeries | None = None
    # events.k8s.io/v1
    regarding: ObjectReference | None = None
    note: str = ""
    deprecated_count: int | None = None
    deprecated_first_timestamp: datetime | None = None
    deprecated_last_timestamp: datetime | None = None


# --- Nodes ------------------------------------------------------------------------------------------


class NodeSystemInfo(Struct, **_OPTS):
    architecture: str = ""
    operating_system: str = ""
    container_runtime_version: str = ""
    kubelet_version: str = ""


class NodeCondition(Struct, **_OPTS):
    type: str = ""
    status: str = ""
    reason: str = ""
    message: str = ""


class ContainerImage(Struct, **_OPTS):
    names: list[str] = []
    size_bytes: int = 0


class NodeStatus(Struct, **_OPTS):
    node_info: NodeSystemInfo = field(default_factory=NodeSystemInfo)
    conditions: list[NodeCondition] = []
    images: list[ContainerImage] = []


class NodeSpec(Struct, **_OPTS):
    # "aws:///us-east-1a/i-0abc…", "gce://PROJECT/ZONE/NAME", "azure:///subscriptions/…": the node's cloud,
    # whose kubelet credential provider supplies its registry's credentials (cloud/providers.py).
    provider_id: str = field(default="", name="providerID")


class Node(Struct, tag_field="kind", tag="Node", **_OPTS):
    api_version: str = "v1"
    metadata: NodeMeta = field(default_factory=NodeMeta)
    spec: NodeSpec = field(default_factory=NodeSpec)
    status: NodeStatus = field(default_factory=NodeStatus)


# --- Secrets and service accounts ---------------------------------------------------------------------


class RedactedRegistry(Struct, kw_only=True, gc=False):
    """One key of a pull secret, as a bundle keeps it: the registry key and whether user/password exist."""

    key: str
    has_username: bool = False
    has_password: bool = False


class Secret(Struct, tag_field="kind", tag="Secret", **_OPTS):
    """``data`` stays base64, as the API returns it, until the keyring decodes it. A bundle's secret has
    no ``data`` but ``pulldoctor/registries``; ``redacted`` tells the two apart."""

    api_version: str = "v1"
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    type: str = ""
    data: dict[str, str] | None = None
    registries: list[RedactedRegistry] | None = field(default=None, name="pulldoctor/registries")

    @property
    def redacted(self) -> bool:
        return self.registries is not None

    def __repr__(self) -> str:  # never show data, even base64
        return f"Secret({self.metadata.namespace}/{self.metadata.name}, type={self.type!r})"

    __str__ = __repr__


class ServiceAccount(Struct, tag_field="kind", tag="ServiceAccount", **_OPTS):
    api_version: str = "v1"
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    image_pull_secrets: list[LocalObjectReference] = []


# --- Owners (controllers) -------------------------------------------------------------------------------


#: Built-in kinds that own pods (or own what owns them) and that files, bundles and the live reader keep:
#: only their metadata, to follow ``ownerReferences`` from a pod to the object a person edits.
CONTROLLER_KINDS: frozenset[str] = frozenset(
    {"ReplicaSet", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob", "ReplicationController"})


class Workload(Struct, **_OPTS):
    """Any object in a pod's owner chain (a built-in controller or a custom resource such as an Argo
    Rollout), reduced to what the chain needs: apiVersion, kind, name, namespace, uid and its owners."""

    api_version: str = ""
    kind: str = ""
    metadata: ObjectMeta = field(default_factory=ObjectMeta)

    def controller_ref(self) -> OwnerReference | None:
        return controller_of(self.metadata.owner_references)


def controller_of(refs: list[OwnerReference]) -> OwnerReference | None:
    """The managing owner: the reference with ``controller: true``, else the only one (older objects and
    hand-written files often omit the flag); None when several are listed and none is marked."""
    marked = [r for r in refs if r.controller]
    if marked:
        return marked[0]
    return refs[0] if len(refs) == 1 else None


class WorkloadList(Struct, **_OPTS):
    items: list[Workload] = []


# --- Lists and the document union -------------------------------------------------------------------


class ListMeta(Struct, **_OPTS):
    """A list's metadata: the live loader pages with ``continue``."""

    resource_version: str = ""
    continue_: str = field(default="", name="continue")
    remaining_item_count: int | None = None

KubeObject = Pod | Event | Node | Secret | ServiceAccount
KINDS: frozenset[str] = frozenset({"Pod", "Event", "Node", "Secret", "ServiceAccount"})


class ObjectList(Struct, tag_field="kind", tag="List", **_OPTS):
    metadata: ListMeta = field(default_factory=ListMeta)
    items: list[KubeObject] = []


class PodList(Struct, tag_field="kind", tag="PodList", **_OPTS):
    metadata: ListMeta = field(default_factory=ListMeta)
    items: list[Pod] = []


class EventList(Struct, tag_field="kind", tag="EventList", **_OPTS):
    metadata: ListMeta = field(default_factory=ListMeta)
    items: list[Event] = []


class NodeList(Struct, tag_field="kind", tag="NodeList", **_OPTS):
    metadata: ListMeta = field(default_factory=ListMeta)
    items: list[Node] = []


class SecretList(Struct, tag_field="kind", tag="SecretList", **_OPTS):
    metadata: ListMeta = field(default_factory=ListMeta)
    items: list[Secret] = []


class ServiceAccountList(Struct, tag_field="kind", tag="ServiceAccountList", **_OPTS):
    metadata: ListMeta = field(default_factory=ListMeta)
    items: list[ServiceAccount] = []


Document = (Pod | Event | Node | Secret | ServiceAccount
            | ObjectList | PodList | EventList | NodeList | SecretList | ServiceAccountList)
LIST_ITEM_KIND: dict[str, str] = {
    "PodList": "Pod", "EventList": "Event", "NodeList": "Node",
    "SecretList": "Secret", "ServiceAccountList": "ServiceAccount",
}  # fmt: skip


class _Peek(Struct, gc=False):
    """Cheap first look at a document whose kind the fast path did not know."""

    kind: str = ""
    items: list[msgspec.Raw] | None = None


class _PeekKind(Struct, gc=False):
    kind: str = ""


_DOC_DECODER = msgspec.json.Decoder(Document)
_OBJ_DECODER = msgspec.json.Decoder(KubeObject)
_PEEK_DECODER = msgspec.json.Decoder(_Peek)
_PEEK_KIND_DECODER = msgspec.json.Decoder(_PeekKind)
#: Only on an error path: the top level of a document (values left undecoded), to say what it is.
_LOOSE_DECODER: msgspec.json.Decoder[Any] = msgspec.json.Decoder(
    dict[str, msgspec.Raw] | list[msgspec.Raw] | str | int | float | bool | None)
_LIST_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    "PodList": msgspec.json.Decoder(PodList),
    "EventList": msgspec.json.Decoder(EventList),
    "NodeList": msgspec.json.Decoder(NodeList),
    "SecretList": msgspec.json.Decoder(SecretList),
    "ServiceAccountList": msgspec.json.Decoder(ServiceAccountList),
}
#: The typed list a live list endpoint answers with, by the item kind asked for.
LIST_DECODER_FOR_KIND = {LIST_ITEM_KIND[k]: d for k, d in _LIST_DECODERS.items()}


class Decoded(Struct, gc=False):
    """What one document gave: the objects pulldoctor reads and the kinds it skipped (counted)."""

    objects: list[KubeObject | Workload] = []
    ignored: dict[str, int] = {}


def _flatten(doc: object, out: Decoded) -> None:
    if isinstance(doc, (ObjectList, PodList, EventList, NodeList, SecretList, ServiceAccountList)):
        out.objects.extend(doc.items)
    else:
        out.objects.append(doc)  # type: ignore[arg-type]


def _ignore(kind: str, out: Decoded) -> None:
    key = kind or "(no kind)"
    out.ignored[key] = out.ignored.get(key, 0) + 1


class DocumentError(ValueError):
    """A document is not something pulldoctor can read; ``str`` is the reason, without the file name."""


class MalformedJSON(msgspec.DecodeError):
    """JSON that does not parse, in pulldoctor's own words: ``what`` and the byte ``offset`` where it breaks.

    Why not the decoder's text: it changes between releases (msgspec 0.22 raised ``UnicodeDecodeError``
    for bad UTF-8 inside a string, 0.23 a ``DecodeError`` with its own sentence), and a user's error line
    must not. The condition is decided here by pulldoctor's own checks (see ``malformed_json``).
    """

    def __init__(self, what: str, offset: int | None = None) -> None:
        super().__init__(what)
        self.what = what
        self.offset = offset


#: Up to this size the standard library's parser locates a JSON syntax error (it stops at the error, so
#: it needs memory only for what comes before); above it, the fast decoder's byte offset is used.
_LOCATE_WITH_STDLIB_BYTES = 64 << 20
_UTF8_CHUNK = 1 << 20
_DECODER_OFFSET_RE = re.compile(r"\(byte (\d+)\)")


def first_bad_utf8(data: bytes | memoryview) -> int | None:
    """Byte offset of the first invalid UTF-8 sequence, or None; in 1 MiB steps, so memory stays flat."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    for start in range(0, max(len(view), 1), _UTF8_CHUNK):
        held = len(decoder.getstate()[0])  # an incomplete sequence kept from the chunk before
        try:
            decoder.decode(view[start:start + _UTF8_CHUNK], final=start + _UTF8_CHUNK >= len(view))
        except UnicodeDecodeError as err:
            return start - held + err.start
    return None


def malformed_json(data: bytes | memoryview, err: BaseException) -> MalformedJSON:
    """Say why ``data`` did not decode, by condition and never by the decoder's message text."""
    bad = first_bad_utf8(data)
    if bad is not None:
        return MalformedJSON("a string that is not UTF-8 text", bad)
    if isinstance(err, RecursionError):
        return MalformedJSON("nested too deeply")
    if len(data) <= _LOCATE_WITH_STDLIB_BYTES:
        try:
            json.loads(bytes(data))
        except json.JSONDecodeError as stdlib_err:
            return MalformedJSON(stdlib_err.msg, stdlib_err.pos)
        except RecursionError:
            return MalformedJSON("nested too deeply")
        except ValueError:  # the one other ValueError of json's scanner: int()'s digit limit
            return MalformedJSON(f"a number of more than {sys.get_int_max_str_digits()} digits")
        else:  # valid for Python but not strict JSON (NaN, Infinity) or deeper than the decoder reads
            return MalformedJSON("not strict JSON (NaN or Infinity), or nested too deeply")
    m = _DECODER_OFFSET_RE.search(str(err))  # an optional hint: without it the line has no position
    return MalformedJSON("malformed", int(m.group(1)) if m else None)


#: JSON objects (``{``) one document may hold. A pod decoded from ``{}`` costs about 800 bytes (its empty
#: lists), so a file of ``{},{},…`` would need 270x its size in memory; kubectl's JSON has one ``{`` per
#: ~160 bytes, so this is about 300 MB of it (20,000 pods with 200,000 events).
MAX_OBJECTS_PER_DOCUMENT = 2_000_000


def check_object_count(data: bytes | memoryview) -> None:
    """Raise ``DocumentError`` before decoding a document that would allocate too many objects."""
    n = (data if isinstance(data, bytes) else bytes(data)).count(b"{")
    if n > MAX_OBJECTS_PER_DOCUMENT:
        raise DocumentError(f"{n} JSON objects, more than the {MAX_OBJECTS_PER_DOCUMENT} pulldoctor decodes from "
                            "one document; split it (by namespace, or pods and events apart)")


def decode_json(data: bytes | memoryview) -> Decoded:
    """Decode one JSON document (object, ``List`` or typed list) into Structs.

    Fast path: one pass with a tagged union on ``kind``. If that meets a kind pulldoctor does not read
    (``kubectl get all``), fall back to item by item and count what is skipped. Raises ``MalformedJSON``
    for JSON that does not parse and ``DocumentError`` for well-formed JSON that is wrong.
    """
    check_object_count(data)
    try:
        return _decode_json(data)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as err:
        raise malformed_json(data, err) from None


def _decode_json(data: bytes | memoryview) -> Decoded:
    out = Decoded(objects=[], ignored={})
    try:
        _flatten(_DOC_DECODER.decode(data), out)
        return out
    except msgspec.ValidationError as fast_err:
        try:
            peek = _PEEK_DECODER.decode(data)
        except msgspec.ValidationError:  # valid JSON of the wrong shape: say which, in our words
            kind = _kind_of_misshapen(data, fast_err)
            _ignore(kind, out)  # a kind pulldoctor does not read: its items are not ours to check
            return out
        if not peek.kind:
            raise DocumentError("no 'kind': not a Kubernetes object") from None
        if peek.items is None:
            if peek.kind in KINDS:
                raise DocumentError(f"bad {peek.kind}: {fast_err}") from None
            if peek.kind in CONTROLLER_KINDS:
                out.objects.append(_workload(data, peek.kind))
                return out
            _ignore(peek.kind, out)
            return out
        if peek.kind in _LIST_DECODERS or (peek.kind != "List" and not peek.kind.endswith("List")):
            raise DocumentError(f"bad {peek.kind or 'list'}: {fast_err}") from None
        for i, raw in enumerate(peek.items):
            try:
                kind = _PEEK_KIND_DECODER.decode(raw).kind
            except msgspec.ValidationError:
                raise DocumentError(f"bad {peek.kind}: items[{i}] is {_a(_LOOSE_DECODER.decode(raw))}, "
                                    "not an object") from None
            if kind in CONTROLLER_KINDS:
                out.objects.append(_workload(raw, kind, f" at items[{i}]"))
                continue
            if kind not in KINDS:
                _ignore(kind, out)
                continue
            try:
                out.objects.append(_OBJ_DECODER.decode(raw))
            except msgspec.ValidationError as err:
                raise DocumentError(f"bad {kind} at items[{i}]: {err}") from None
        return out


def _a(value: object) -> str:
    """What a misplaced value is, in JSON's words (a number, a string…), for an error line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _kind_of_misshapen(data: bytes | memoryview, fast_err: msgspec.ValidationError) -> str:
    """A document that parses but does not fit ``_Peek`` ('kind' or 'items' of the wrong type, or not an
    object): raise ``DocumentError`` saying which, unless it is a kind pulldoctor does not read (returned)."""
    doc = _LOOSE_DECODER.decode(data)
    if not isinstance(doc, dict):
        raise DocumentError(f"{_a(doc)}, not a Kubernetes object")
    kind = _LOOSE_DECODER.decode(doc["kind"]) if "kind" in doc else ""
    if not isinstance(kind, str):
        raise DocumentError(f"'kind' is {_a(kind)}, not a string: not a Kubernetes object")
    if not kind:
        raise DocumentError("no 'kind': not a Kubernetes object")
    if kind in KINDS:
        raise DocumentError(f"bad {kind}: {fast_err}")
    if kind in _LIST_DECODERS or kind == "List":
        raise DocumentError(f"bad {kind}: 'items' is {_a(_LOOSE_DECODER.decode(doc['items']))}, "
                            "not a list")
    return kind


_WORKLOAD_DECODER = msgspec.json.Decoder(Workload)
WORKLOAD_LIST_DECODER = msgspec.json.Decoder(WorkloadList)


def _workload(data: bytes | memoryview, kind: str, where: str = "") -> Workload:
    try:
        obj: Workload = _WORKLOAD_DECODER.decode(data)
    except msgspec.ValidationError as err:
        raise DocumentError(f"bad {kind}{where}: {err}") from None
    return obj


def decode_workload(data: bytes | memoryview) -> Workload:
    """One owner object from a GET (any kind); raises ``msgspec.DecodeError`` / ``ValidationError``."""
    obj: Workload = decode_with(_WORKLOAD_DECODER, data)
    return obj


def convert_python(doc: object) -> Decoded:
    """The same as ``decode_json`` for a document already parsed (YAML): dicts in, Structs out."""
    out = Decoded(objects=[], ignored={})
    if not isinstance(doc, dict):
        raise DocumentError(f"a {type(doc).__name__}, not a Kubernetes object")
    kind = doc.get("kind")
    if not isinstance(kind, str) or not kind:
        raise DocumentError("no 'kind': not a Kubernetes object")
    items = doc.get("items")
    if kind in CONTROLLER_KINDS:
        try:
            out.objects.append(msgspec.convert(doc, Workload))
        except msgspec.ValidationError as err:
            raise DocumentError(f"bad {kind}: {err}") from None
        return out
    if kind in KINDS or kind in _LIST_DECODERS:
        try:
            _flatten(msgspec.convert(doc, Document), out)
        except msgspec.ValidationError as err:
            raise DocumentError(f"bad {kind}: {err}") from None
        return out
    if kind == "List" or (kind.endswith("List") and isinstance(items, list)):
        if items is not None and not isinstance(items, list):
            raise DocumentError(f"bad {kind}: 'items' is {_a(items)}, not a list")
        for i, item in enumerate(items or []):
            if not isinstance(item, dict):
                raise DocumentError(f"bad {kind}: items[{i}] is {_a(item)}, not an object")
            ikind = item.get("kind", "")
            if ikind in CONTROLLER_KINDS:
                try:
                    out.objects.append(msgspec.convert(item, Workload))
                except msgspec.ValidationError as err:
                    raise DocumentError(f"bad {ikind} at items[{i}]: {err}") from None
                continue
            if ikind not in KINDS:
                _ignore(ikind, out)
                continue
            try:
                out.objects.append(msgspec.convert(item, KubeObject))
            except msgspec.ValidationError as err:
                raise DocumentError(f"bad {ikind} at items[{i}]: {err}") from None
        return out
    _ignore(kind, out)
    return out


_ENCODER = msgspec.json.Encoder()


def encode_json(obj: object) -> bytes:
    """Encode Structs back to API-shaped JSON (only the fields above; bundles use this)."""
    return _ENCODER.encode(obj)


class WatchEvent(Struct, gc=False):
    """One line of a watch stream: ``{"type": "ADDED|MODIFIED|DELETED|BOOKMARK|ERROR", "object": {…}}``."""

    type: str
    object: msgspec.Raw


_WATCH_DECODER = msgspec.json.Decoder(WatchEvent)
_ITEM_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {
    "Pod": msgspec.json.Decoder(Pod), "Event": msgspec.json.Decoder(Event), "Node": msgspec.json.Decoder(Node),
    "Secret": msgspec.json.Decoder(Secret), "ServiceAccount": msgspec.json.Decoder(ServiceAccount),
}


def decode_object(data: bytes | memoryview, kind: str) -> KubeObject:
    """Decode one object of a known kind (a GET, or a watch event's object, which may lack ``kind``).
    Raises ``msgspec.DecodeError`` / ``ValidationError`` only, as ``decode_json`` does."""
    obj: KubeObject = decode_with(_ITEM_DECODERS[kind], data)
    return obj


def decode_with(decoder: msgspec.json.Decoder[Any], data: bytes | memoryview) -> Any:
    """``decoder.decode(data)``; JSON that does not parse raises ``MalformedJSON`` (a ``msgspec.DecodeError``)."""
    try:
        return decoder.decode(data)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError) as err:
        raise malformed_json(data, err) from None


def decode_watch_line(line: bytes, kind: str) -> tuple[str, KubeObject | None]:
    """Decode a watch stream line: (type, object); the object is None for ERROR/BOOKMARK lines, whose
    ``object`` is a Status or a bare resourceVersion holder."""
    ev: WatchEvent = decode_with(_WATCH_DECODER, line)
    if ev.type in ("ERROR", "BOOKMARK"):
        return ev.type, None
    return ev.type, decode_object(ev.object, kind)
