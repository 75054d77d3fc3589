"""Find which of many trigger phrases occur in a text, in a few microseconds.

Trying 130 substrings one by one costs more than everything else in ``classify``. Instead the text is
cut into words once (a C-level ``bytes.translate`` + ``split``), each phrase is filed under its most
distinctive word (its *anchor*), and only the phrases whose anchor is one of the text's words are
checked with ``rfind``. A phrase therefore matches on word boundaries at its anchor, which is what the
rules mean anyway ("x509:" must not fire inside "abcx509:").
"""

from __future__ import annotations

import string
from collections.abc import Iterable
from typing import Generic, TypeVar

T = TypeVar("T")

_WORD_BYTES = frozenset((string.ascii_lowercase + string.digits + "_").encode())
_TO_WORDS = bytes(c if c in _WORD_BYTES else 0x20 for c in range(256))

# Words too common in runtime errors to pick a phrase out: used as an anchor only when nothing else is.
_COMMON = frozenset(
    b"a an and are as at by for from in is it of on or the to to with failed error image images pull pulling "
    b"manifest registry request unexpected status reference found not unknown http https get head code".split()
)


def words(low: str) -> frozenset[bytes]:
    """The words of a lower-cased text (runs of ASCII letters, digits and ``_``)."""
    return frozenset(low.encode("utf-8", "replace").translate(_TO_WORDS).split())


# Every word some part of the classifier looks up: the anchors of every Index, plus what ``remember`` adds.
_vocabulary: frozenset[bytes] = frozenset()


def remember(ws: Iterable[bytes]) -> None:
    """Declare words a caller tests for in ``known_words``' answer (an Index declares its anchors itself)."""
    global _vocabulary
    _vocabulary = _vocabulary | frozenset(ws)


def known_words(low: str) -> frozenset[bytes]:
    """``words(low)`` restricted to the vocabulary: the same answer to every lookup the classifier makes,
    without building a set of all the text's words (most of which nothing looks for)."""
    return _vocabulary.intersection(low.encode("utf-8", "replace").translate(_TO_WORDS).split())


def anchor(phrase: str) -> bytes:
    """The phrase's most distinctive word: the longest uncommon one (the longest word if all are common)."""
    ws = phrase.lower().encode().translate(_TO_WORDS).split()
    if not ws:
        raise ValueError(f"phrase without a word: {phrase!r}")
    rare = [w for w in ws if w not in _COMMON]
    return max(rare or ws, key=len)


class Index(Generic[T]):
    """Phrases filed by anchor; ``candidates(words)`` returns the items whose anchor the text has."""

    def __init__(self, items: Iterable[tuple[str, T]]) -> None:
        self._by_anchor: dict[bytes, list[tuple[str, T]]] = {}
        for phrase, item in items:
            self._by_anchor.setdefault(anchor(phrase), []).append((phrase, item))
        self.anchors: frozenset[bytes] = frozenset(self._by_anchor)
        remember(self.anchors)

    def groups(self, text_words: frozenset[bytes]) -> list[list[tuple[str, T]]]:
        """The phrase groups whose anchor is among ``text_words`` (no copying: the fast path of ``match``)."""
        by = self._by_anchor
        return [by[w] for w in text_words & self.anchors]

    def candidates(self, text_words: frozenset[bytes]) -> list[tuple[str, T]]:
        hits = text_words & self.anchors
        if not hits:
            return []
        out: list[tuple[str, T]] = []
        for w in hits:
            out.extend(self._by_anchor[w])
        return out
