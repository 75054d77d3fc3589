"""Close tags for a tag that does not exist: typos by edit distance, versions by their neighbours."""

from __future__ import annotations

import re
from collections.abc import Sequence

from pulldoctor.similar import edit_distance

_VERSION = re.compile(r"^[vV]?(\d+(?:\.\d+){0,3})(.*)$")
MAX_TAG = 128  # distribution's tag grammar: at most 128 characters
__all__ = ["edit_distance", "suggest", "version_key"]


def version_key(tag: str) -> tuple[tuple[int, ...], str] | None:
    """``v1.2.3-alpine`` → ((1, 2, 3), "-alpine"); None when the tag is not version-like."""
    m = _VERSION.match(tag)
    if not m:
        return None
    return tuple(int(x) for x in m.group(1).split(".")), m.group(2)


def suggest(target: str, tags: Sequence[str], limit: int = 5) -> list[str]:
    """Up to ``limit`` existing tags a person most likely meant, best first.

    Same tag in another case first, then the nearest lower and higher versions with the same suffix
    (``1.25.4`` missing → ``1.25.3``, ``1.26.0``), then tags within a small edit distance.
    """
    if limit <= 0 or not tags:
        return []
    target = target[:MAX_TAG]
    uniq = list(dict.fromkeys(t for t in tags if t and len(t) <= MAX_TAG and t != target))
    picked: list[str] = []

    def add(tag: str) -> None:
        if tag not in picked and len(picked) < limit:
            picked.append(tag)

    for t in uniq:
        if t.lower() == target.lower():
            add(t)

    want = version_key(target)
    if want is not None:
        same = sorted(
            ((k[0], t) for t in uniq if (k := version_key(t)) is not None and k[1] == want[1]),
        )
        lower = [t for v, t in same if v < want[0]]
        higher = [t for v, t in same if v > want[0]]
        # Prefer neighbours that share the leading version parts (1.25.x before 1.3).
        if lower:
            add(lower[-1])
        if higher:
            add(higher[0])

    cutoff = max(1, min(3, len(target) // 3))
    scored = sorted(
        (d, t) for t in uniq if (d := edit_distance(target.lower(), t.lower(), cutoff)) <= cutoff
    )
    for _d, t in scored:
        add(t)
    return picked
