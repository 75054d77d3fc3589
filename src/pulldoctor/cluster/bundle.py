"""Support bundles: a ``.tar.gz`` with ``manifest.json`` and ``objects.json`` (a ``List``).

What a bundle holds (decided here, documented in the README): every pod in scope and the image events
(reasons Pulling, Pulled, Failed, BackOff, ErrImageNeverPull, InspectFailed, FailedToRetrieveImagePullSecret),
the nodes those pods run on, the service accounts and the pull secrets (secrets named by a pod or a service
account) the snapshot read — each reduced to
the fields ``model`` decodes, so no env values, annotations or managedFields leave the cluster.
Secrets are reduced further to their type and, per registry key, whether a user and a password exist:
``{"kind":"Secret",…,"type":…,"pulldoctor/registries":[{"key":"ghcr.io","has_username":true,…}]}``.
Never a value. The manifest also records what was listed, so "secret missing" stays exact on replay.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
import time
from datetime import datetime, UTC
from pathlib import Path
from typing import Any

import msgspec

from pulldoctor import __version__
from pulldoctor.cluster.model import (
    Decoded,
    DocumentError,
    Event,
    ObjectList,
    RedactedRegistry,
    Secret,
    decode_json,
    encode_json,
)
from pulldoctor.cluster.snapshot import Snapshot
from pulldoctor.cluster.timeline import IMAGE_EVENT_REASONS
from pulldoctor.errors import InputError, SecretFormatError

BUNDLE_FORMAT = 1
MAX_MEMBERS = 1_000
MAX_MEMBER_BYTES = 1 << 30
MAX_TOTAL_BYTES = 2 << 30   # decompressed, all members: bounds a gzip bomb
MANIFEST = "manifest.json"
OBJECTS = "objects.json"


# --- reading ----------------------------------------------------------------------------------------


def load_bundle_bytes(data: bytes, name: str, snapshot: Snapshot) -> None:
    """Add a bundle's objects, notes and listing record to ``snapshot``. Nothing is extracted to disk."""
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:gz")
    except (tarfile.TarError, OSError, EOFError) as err:
        raise InputError(f"{name}: not a pulldoctor bundle (not a readable .tar.gz: {err})") from None
    manifest: dict[str, Any] | None = None
    decoded: list[tuple[str, Decoded]] = []
    total = 0
    with tar:
        try:
            for n, member in enumerate(tar):
                if n >= MAX_MEMBERS:
                    raise InputError(f"{name}: more than {MAX_MEMBERS} members; not a pulldoctor bundle")
                total += member.size
                if member.size > MAX_MEMBER_BYTES or total > MAX_TOTAL_BYTES:
                    raise InputError(f"{name}: member {member.name} is too large ({member.size} bytes)")
                if not member.isfile() or not member.name.endswith(".json"):
                    continue
                fh = tar.extractfile(member)
                body = fh.read(MAX_MEMBER_BYTES + 1) if fh else b""
                where = f"{name}:{member.name}"
                if Path(member.name).name == MANIFEST:
                    try:
                        manifest = json.loads(body)
                    except ValueError as err:
                        raise InputError(f"{where}: not valid JSON ({err})") from None
                    continue
                try:
                    decoded.append((where, decode_json(body)))
                except msgspec.DecodeError as err:
                    raise InputError(f"{where}: not valid JSON ({err})") from None
                except DocumentError as err:
                    raise InputError(f"{where}: {err}") from None
        except (tarfile.TarError, OSError, EOFError) as err:
            raise InputError(f"{name}: damaged bundle ({err})") from None
    if not isinstance(manifest, dict) or manifest.get("pulldoctor_bundle") != BUNDLE_FORMAT:
        raise InputError(f"{name}: not a pulldoctor bundle (no {MANIFEST} of format {BUNDLE_FORMAT})")
    for _where, d in decoded:
        snapshot.add(d.objects, mark_listed=False)
        snapshot.count_ignored(d.ignored)
    for kind, namespaces in (manifest.get("listed") or {}).items():
        for ns in namespaces or ():
            snapshot.mark_listed(str(kind), str(ns))
    snapshot.notes.extend(str(n) for n in manifest.get("notes") or ())
    created = manifest.get("created", "?")
    snapshot.notes.append(f"read from bundle {name} (created {created}); secrets hold registry names only")


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


def write_bundle(snapshot: Snapshot, path: str | os.PathLike[str], scope: dict[str, Any]) -> dict[str, Any]:
    """Write ``snapshot`` as a bundle at ``path`` atomically (temp file + rename); returns the manifest."""
    objs, notes = bundle_objects(snapshot)
    body = encode_json(ObjectList(items=objs))
    manifest = {
        "pulldoctor_bundle": BUNDLE_FORMAT,
        "version": __version__,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "scope": scope,
        "notes": [*snapshot.notes, *notes],
        "listed": {k: sorted(v) for k, v in sorted(snapshot.complete.items())},
        "counts": {"pods": len(snapshot.pods), "events": sum(1 for o in objs if type(o) is Event),
                   "nodes": sum(1 for o in objs if type(o).__name__ == "Node"),
                   "service_accounts": len(snapshot.service_accounts),
                   "secrets": sum(1 for o in objs if type(o) is Secret)},
    }
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    if not directory.is_dir():
        raise InputError(f"{target}: directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            now = time.time()
            for member, data in ((MANIFEST, json.dumps(manifest, indent=2).encode()), (OBJECTS, body)):
                info = tarfile.TarInfo(member)
                info.size, info.mtime, info.mode = len(data), now, 0o644
                tar.addfile(info, io.BytesIO(data))
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return manifest
