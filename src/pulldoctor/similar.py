"""Names a person most likely meant: a bounded edit distance, shared by every "did you mean …?".

Stdlib only and tiny, so that ``diagnose --from`` (namespaces), the diagnosis (repositories) and the
registry part (tags) suggest alike without importing each other.
"""

from __future__ import annotations

from collections.abc import Iterable

MAX_NAME = 256      # longer names are not compared (bounded work)
MAX_CANDIDATES = 10_000


def edit_distance(a: str, b: str, cutoff: int, *, transpositions: bool = False) -> int:
    """Levenshtein distance, or ``cutoff + 1`` as soon as it must exceed ``cutoff`` (bounded work). With
    ``transpositions``, two swapped neighbours count as one edit (``shpo`` → ``shop``: the commonest typo)."""
    if abs(len(a) - len(b)) > cutoff:
        return cutoff + 1
    before: list[int] = []
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
            if transpositions and i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cur[j] = min(cur[j], before[j - 2] + 1)
        if min(cur) > cutoff and not transpositions:
            return cutoff + 1
        if transpositions and before and min(min(cur), min(prev)) > cutoff:
            return cutoff + 1
        before, prev = prev, cur
    return prev[-1]


def closest(word: str, candidates: Iterable[str], *, limit: int = 3, cutoff: int | None = None) -> list[str]:
    """Up to ``limit`` candidates within a small edit distance of ``word`` (case-insensitive), nearest first
    (ties by name); ``word`` itself is never suggested. The default cutoff grows with the word: 1 for short
    names, at most 3."""
    if not word or len(word) > MAX_NAME:
        return []
    cut = cutoff if cutoff is not None else max(1, min(3, len(word) // 3))
    low = word.lower()
    scored: list[tuple[int, str]] = []
    for n, c in enumerate(dict.fromkeys(candidates)):
        if n >= MAX_CANDIDATES:
            break
        if not c or c == word or len(c) > MAX_NAME:
            continue
        d = edit_distance(low, c.lower(), cut, transpositions=True)
        if d <= cut:
            scored.append((d, c))
    return [c for _, c in sorted(scored)[:limit]]
