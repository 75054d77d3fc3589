"""A classification for a person (``text_block``) or a machine (``dumps``, one JSON object per line)."""

from __future__ import annotations

import json

from pulldoctor.messages import Classification
from pulldoctor.redact import printable_json

_FIELD_ORDER = ("image", "host", "url", "status", "grpc_code", "runtime", "platform", "resolver", "wrapper")


def text_block(message: str, c: Classification) -> str:
    """A person's view: the cause, the other signals, then the facts, one per line."""
    lines = [f"cause: {c.cause.value}"]
    others = [s.value for s in c.signals if s is not c.cause]
    if others:
        lines.append(f"  also seen: {', '.join(others)}")
    keys = [k for k in _FIELD_ORDER if k in c.fields] + sorted(
        k for k in c.fields if k not in _FIELD_ORDER and k != "members"
    )
    for k in keys:
        v = c.fields[k]
        lines.append(f"  {k}: {', '.join(map(str, v)) if isinstance(v, list) else v}")
    members = c.fields.get("members")
    if isinstance(members, list):
        for i, m in enumerate(members, 1):
            lines.append(f"  member {i}: {m['cause']}: {m['message']}")
    return "\n".join(lines)


def dumps(obj: object) -> str:
    # UTF-8 kept as is; DEL, C1 controls and user:password@ go through the JSON gate.
    return printable_json(json.dumps(obj, ensure_ascii=False, separators=(", ", ": ")))
