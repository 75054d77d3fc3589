"""Support bundles: a ``.tar.gz`` with ``manifest.json`` and ``objects.json`` (a ``List``).

What a bundle holds (decided here, documented in the README): every pod in scope and the image events
(reasons Pulling, Pulled, Failed, BackOff, ErrImageNeverPull, InspectFailed, FailedToRetrieveImagePullSecret),
the nodes those pods run on, the service accounts and the pull secrets (secrets named by a pod or a service
account) the snapshot read — each reduced to
the fields ``model`` decodes, so no env values, annotations or managedFields leave the cluster; and, in
``owners.json``, the objects of the pods' owner chains (ReplicaSets, Deployments, Jobs, CronJobs, custom
resources such as an Argo Rollout), reduced to apiVersion, kind, name and ownerReferences.
Secrets are reduced further to their type and, per registry key, whether a user and a password exist:
``{"kind":"Secret",…,"type":…,"pulldoctor/registries":[{"key":"ghcr.io","has_username":true,…}]}``.
Never a value. The manifest also records what was listed, so "secret missing" stays exact on replay.
"""

from __future__ import annotations

import io
import json
import os
import stat
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec

from pulldoctor import __version__
from pulldoctor.cluster.model import (
    MAX_OBJECTS_PER_DOCUMENT,
    WORKLOAD_LIST_DECODER,
    Decoded,
    DocumentError,
    Event,
    MalformedJSON,
    ObjectList,
    RedactedRegistry,
    Secret,
    WorkloadList,
    decode_json,
    decode_with,
    encode_json,
    malformed_json,
)
from pulldoctor.cluster.snapshot import Snapshot
from pulldoctor.cluster.timeline import IMAGE_EVENT_REASONS
from pulldoctor.errors import InputError, SecretFormatError
from pulldoctor.redact import mask_all, printable_json

BUNDLE_FORMAT = 1
MAX_MEMBERS = 1_000
MAX_MEMBER_BYTES = 256 << 20   # a bundle of 10,000 pods and 100,000 events is well under 100 MiB
MAX_TOTAL_BYTES = 512 << 20    # decompressed, all members: bounds a gzip bomb
MANIFEST = "manifest.json"
#: Members under this folder are not cluster objects: the nodes' logs and settings (``collect --node-logs``),
#: kept for ``pulldoctor.nodelogs`` (``Snapshot.attachments``).
ATTACHMENTS = "nodelogs/"
OBJECTS = "objects.json"
OWNERS = "owners.json"   # the pods' owner chains (any kind, custom resources too), metadata only


# --- reading ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TarLimits:
    """The bounds a tar archive from outside is read within: members, bytes per member, bytes in all
    (decompressed: a gzip bomb stops there). ``what`` names the archive kind in the refusal."""

    members: int
    member_bytes: int
    total_bytes: int
    what: str


BUNDLE_LIMITS = TarLimits(MAX_MEMBERS, MAX_MEMBER_BYTES, MAX_TOTAL_BYTES, "pulldoctor bundle")


def member_path(name: str) -> str | None:
    """A member's name as a relative path (``./kubelet/x`` → ``kubelet/x``), or None when it is absolute or
    climbs out (``..``): such a member is never matched to anything, let alone extracted."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if name.startswith("/") or not parts or ".." in parts:
        return None
    return "/".join(parts)


def guarded_members(tar: tarfile.TarFile, name: str, limits: TarLimits,
                    wanted: Callable[[tarfile.TarInfo], bool]) -> Iterator[tarfile.TarInfo]:
    """The ``wanted`` members of ``tar``, each a regular file, within ``limits``; InputError otherwise.
    Every member counts toward the caps, wanted or not (skipping one still decompresses it). Shared by the
    bundle reader and the node-log reader, so both refuse links, devices and oversized members alike."""
    total = 0
    for n, member in enumerate(tar):
        if n >= limits.members:
            raise InputError(f"{name}: more than {limits.members} members; not a {limits.what}")
        total += member.size
        if member.size > limits.member_bytes or total > limits.total_bytes:
            raise InputError(f"{name}: member {member.name} is too large ({member.size} bytes)")
        if not wanted(member):
            continue
        if not member.isfile():  # a link or device is never part of an archive we read, and never followed
            raise InputError(f"{name}: member {member.name} is not a regular file; not a {limits.what}")
        yield member


def load_bundle_bytes(data: bytes, name: str, snapshot: Snapshot) -> None:
    """Add a bundle's objects, notes and listing record to ``snapshot``. Nothing is extracted to disk."""
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")  # noqa: SIM115 (closed by the `with tar:` below)
    except (tarfile.TarError, OSError, EOFError) as err:
        raise InputError(f"{name}: not a pulldoctor bundle (not a readable .tar.gz: {err})") from None
    manifest: dict[str, Any] | None = None
    decoded: list[tuple[str, Decoded]] = []
    objects = 0
    attachments: dict[str, bytes] = {}
    with tar:
        try:
            for member in guarded_members(tar, name, BUNDLE_LIMITS, _bundle_member):
                fh = tar.extractfile(member)
                body = fh.read(MAX_MEMBER_BYTES + 1) if fh else b""
                where = f"{name}:{member.name}"
                rel = member_path(member.name) or ""
                if rel.startswith(ATTACHMENTS):
                    attachments[rel] = body
                    continue
                objects += body.count(b"{")
                if objects > MAX_OBJECTS_PER_DOCUMENT:  # each member is checked; so is their sum
                    raise InputError(f"{name}: more than {MAX_OBJECTS_PER_DOCUMENT} JSON objects in all; "
                                     "not a pulldoctor bundle")
                if Path(member.name).name == OWNERS:
                    try:
                        snapshot.add(decode_with(WORKLOAD_LIST_DECODER, body).items, mark_listed=False)
                    except msgspec.MsgspecError as err:
                        raise InputError(f"{where}: not a list of owners ({err})") from None
                    continue
                if Path(member.name).name == MANIFEST:
                    try:
                        manifest = json.loads(body)
                    except (ValueError, RecursionError) as err:  # RecursionError: nested thousands deep
                        bad = malformed_json(body, err)
                        at = f"byte {bad.offset}: " if bad.offset is not None else ""
                        raise InputError(f"{where}: not valid JSON ({at}{bad.what})") from None
                    continue
                try:
                    decoded.append((where, decode_json(body)))
                except MalformedJSON as err:
                    raise InputError(f"{where}: not valid JSON ({err.what})") from None
                except DocumentError as err:
                    raise InputError(f"{where}: {err}") from None
        except (tarfile.TarError, OSError, EOFError) as err:
            raise InputError(f"{name}: damaged bundle ({err})") from None
    listed, notes, created = _check_manifest(manifest, name)
    snapshot.attachments.update(attachments)
    unread = manifest.get("unread_owners") if isinstance(manifest, dict) else None
    for row in unread if isinstance(unread, list) else ():
        if isinstance(row, list) and len(row) == 4 and all(isinstance(x, str) for x in row):
            snapshot.unread_owners[(row[0], row[1], row[2])] = row[3][:80]
    for _where, d in decoded:
        snapshot.add(d.objects, mark_listed=False)
        snapshot.count_ignored(d.ignored)
    for kind, namespaces in listed.items():
        for ns in namespaces:
            snapshot.mark_listed(str(kind), str(ns))
    snapshot.notes.extend(str(n) for n in notes)
    snapshot.notes.append(f"read from bundle {name} (created {created}); secrets hold registry names only")
    snapshot.taken_at = _created_at(created)
    if snapshot.taken_at is not None:
        snapshot.taken_how = "the bundle's creation time"


def _created_at(created: str) -> datetime | None:
    """The manifest's ``created`` (``2026-11-26T10:00:00Z``) as a UTC time; None when absent or unreadable."""
    try:
        t = datetime.fromisoformat(created.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _bundle_member(m: tarfile.TarInfo) -> bool:
    rel = member_path(m.name) or ""
    return m.name.endswith(".json") or rel.startswith(ATTACHMENTS)


def _check_manifest(manifest: object, name: str) -> tuple[dict[str, list[object]], list[object], str]:
    """The manifest's ``listed``, ``notes`` and ``created``, after checking its format and their types."""
    if not isinstance(manifest, dict) or "pulldoctor_bundle" not in manifest:
        raise InputError(f"{name}: not a pulldoctor bundle (no {MANIFEST} of format {BUNDLE_FORMAT})")
    fmt = manifest["pulldoctor_bundle"]
    if fmt != BUNDLE_FORMAT:
        if type(fmt) is int and fmt > BUNDLE_FORMAT:
            raise InputError(f"{name}: bundle format {fmt} is newer than this pulldoctor reads "
                             f"({BUNDLE_FORMAT}); upgrade pulldoctor (it was written by version "
                             f"{str(manifest.get('version', '?'))[:40]})")
        raise InputError(f"{name}: not a pulldoctor bundle (format {str(fmt)[:40]!r}, expected {BUNDLE_FORMAT})")
    listed = manifest.get("listed") or {}
    notes = manifest.get("notes") or []
    if not isinstance(listed, dict) or not all(isinstance(v, list) for v in listed.values()):
        raise InputError(f"{name}: damaged bundle ({MANIFEST}: 'listed' is not an object of lists)")
    if not isinstance(notes, list):
        raise InputError(f"{name}: damaged bundle ({MANIFEST}: 'notes' is not a list)")
    return listed, notes, str(manifest.get("created", "?"))[:40]


# --- writing ----------------------------------------------------------------------------------------


def redact_secret(secret: Secret) -> tuple[Secret, str | None]:
    """The bundle form of a secret (no ``data``), and a one-line problem if its payload is malformed."""
    if secret.redacted:
        return secret, None
    ns, name = secret.metadata.namespace, secret.metadata.name
    problem = None
    regs: list[RedactedRegistry] = []
    from pulldoctor.cluster.context import PULL_SECRET_TYPES

    if secret.type in PULL_SECRET_TYPES:
        from pulldoctor.keyring import entries_from_secret

        try:
            regs = [RedactedRegistry(key=e.key, has_username=e.has_username, has_password=e.has_password)
                    for e in entries_from_secret(ns, name, secret.type, secret.data or {})]
        except SecretFormatError as err:
            problem = str(err)
    meta = msgspec.structs.replace(secret.metadata, owner_references=[])
    return Secret(api_version=secret.api_version, metadata=meta, type=secret.type, registries=regs), problem


def bundle_objects(snapshot: Snapshot) -> tuple[list[Any], list[str]]:
    """The objects a bundle keeps (see module doc) and notes about what was reduced."""
    notes: list[str] = []
    pods = list(snapshot.pods)
    nodes = {p.spec.node_name for p in pods if p.spec.node_name}
    events: list[Event] = [e for e in snapshot.events if e.reason in IMAGE_EVENT_REASONS]
    # Only pull secrets: those named by a pod or a service account (in any namespace, so that "the secret
    # exists, but in namespace X" survives the bundle). Other secrets (TLS, app config) are left out.
    referenced = {r.name for p in pods for r in p.spec.image_pull_secrets}
    referenced.update(r.name for sa in snapshot.service_accounts.values() for r in sa.image_pull_secrets)
    secrets = []
    for (_ns, name), s in sorted(snapshot.secrets.items()):
        if name not in referenced:
            continue
        red, problem = redact_secret(s)
        secrets.append(red)
        if problem:
            notes.append(problem)
    objs: list[Any] = [*pods, *events, *(n for k, n in snapshot.nodes.items() if k in nodes),
                       *snapshot.service_accounts.values(), *secrets]
    return objs, notes


def write_bundle(snapshot: Snapshot, path: str | os.PathLike[str], scope: dict[str, Any],
                 attachments: dict[str, bytes] | None = None) -> dict[str, Any]:
    """Write ``snapshot`` as a bundle at ``path`` atomically (temp file + rename); returns the manifest.
    ``attachments`` (``nodelogs/…`` members) are masked like the objects and written as they are."""
    extra = {k: mask_all(v.decode("utf-8", "replace")).encode() for k, v in (attachments or {}).items()
             if (member_path(k) or "").startswith(ATTACHMENTS)}
    target = _target(path)
    objs, notes = bundle_objects(snapshot)
    # Waiting messages and events can echo a URL with user:password@ in it (a runtime's error text).
    body = printable_json(encode_json(ObjectList(items=objs)).decode()).encode()
    manifest: dict[str, Any] = {
        "pulldoctor_bundle": BUNDLE_FORMAT,
        "version": __version__,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "scope": scope,
        "notes": [*snapshot.notes, *notes],
        "listed": {k: sorted(v) for k, v in sorted(snapshot.complete.items())},
        "unread_owners": [[*k, why] for k, why in sorted(snapshot.unread_owners.items())],
        "counts": {"pods": len(snapshot.pods), "events": sum(1 for o in objs if type(o) is Event),
                   "nodes": sum(1 for o in objs if type(o).__name__ == "Node"),
                   "service_accounts": len(snapshot.service_accounts),
                   "secrets": sum(1 for o in objs if type(o) is Secret), "owners": len(snapshot.owners)},
    }
    owners = encode_json(WorkloadList(items=list(snapshot.owners.values())))
    if extra:
        manifest["counts"]["node_logs"] = sum(1 for k in extra if k.endswith(".log"))
    directory = target.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    except OSError as err:
        raise InputError(f"{path}: cannot write in {directory} ({err.strerror or err})") from None
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            now = time.time()
            head = printable_json(json.dumps(manifest, indent=2)).encode()  # notes and scope quote the API URL
            for member, data in ((MANIFEST, head), (OBJECTS, body), (OWNERS, owners), *sorted(extra.items())):
                info = tarfile.TarInfo(member)
                info.size, info.mtime, info.mode = len(data), now, 0o644
                tar.addfile(info, io.BytesIO(data))
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(err, OSError):
            raise InputError(f"{path}: could not write the bundle ({err.strerror or err}); nothing was written") \
                from None
        raise
    return manifest


def _target(path: str | os.PathLike[str]) -> Path:
    """Where to write: an existing regular file is replaced (atomically), a symlink's target is, anything
    else that exists (a directory, a device such as /dev/null, a FIFO) is refused: renaming over it
    would replace the device node itself."""
    if not os.fspath(path):
        raise InputError("collect -o: the bundle path is empty")
    target = Path(os.path.realpath(path))
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as err:
        raise InputError(f"{path}: cannot write there ({err.strerror or err})") from None
    if mode is not None and not stat.S_ISREG(mode):
        what = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise InputError(f"{path}: {what}; give a file name such as bundle.tar.gz")
    if not target.parent.is_dir():
        raise InputError(f"{path}: directory {target.parent} does not exist")
    return target
