"""The default text view, one that fits a screen: the count, the groups naming their pods, one line per
container, then per distinct problem the evidence that decided it and the first fix; notes once.

A distinct problem is one cause whose evidence has the same shape and whose first fix reads alike once the
names are set aside (five typos of tags on one registry are one problem to read about, with five pods named).
Everything else (all evidence, every fix step, what would settle a verdict) is ``-v`` or ``diagnose POD``.
"""

from __future__ import annotations

import re

from pulldoctor.diagnosis import suggest
from pulldoctor.diagnosis.model import Diagnosis, EvidenceLine, Finding, Fix

#: pods named in a group or a problem before "…"
NAMED = 6
_NAMEY = re.compile(r"\S*[\d/.:@_-]\S*")   # words that are names (images, hosts, tags, secrets), not wording


def pods_named(members: list[Finding], limit: int = NAMED) -> str:
    """``shop/catalog-7c9d8f6b5-{x2x4q,r0k7z,r1k7z}`` for pods of one namespace and one name prefix; else the
    names, comma-separated; at most ``limit`` pods, then ``…``."""
    seen = list(dict.fromkeys((f.namespace, f.pod) for f in members))
    shown, more = seen[:limit], len(seen) - limit
    by_ns: dict[str, list[str]] = {}
    for ns, pod in shown:
        by_ns.setdefault(ns, []).append(pod)
    parts = []
    for ns, pods in by_ns.items():
        prefix = _common_prefix(pods)
        if len(pods) > 1 and prefix:
            parts.append(f"{ns}/{prefix}{{{','.join(p[len(prefix):] for p in pods)}}}")
        else:
            parts.extend(f"{ns}/{p}" for p in pods)
    return ", ".join(parts) + (f", … ({more} more)" if more > 0 else "")


def _common_prefix(names: list[str]) -> str:
    """The longest common prefix that ends at a ``-`` (a ReplicaSet's pods share ``name-hash-``)."""
    first, last = min(names), max(names)
    n = 0
    while n < min(len(first), len(last)) and first[n] == last[n]:
        n += 1
    cut = first.rfind("-", 0, n + 1 if n < len(first) and first[n] == "-" else n)
    return first[: cut + 1] if cut > 0 else ""


def tail(text: str, room: int) -> str:
    """The end of ``text`` in ``room`` characters, cut between words: a runtime's error is wrapped outside-in,
    so its most specific part ("not found → tag_not_found") comes last."""
    text = " ".join(text.split())
    if len(text) <= room:
        return text
    end = text[len(text) - max(8, room - 2):]
    word, sep, rest = end.partition(" ")
    if sep and len(word) < 12:   # a short cut word goes; a long one (an image reference) keeps its end
        end = rest
    return f"…{' ' if sep and len(word) < 12 else ''}{end}"


def _shape(text: str) -> str:
    return _NAMEY.sub("∗", text)


def problem_key(f: Finding) -> tuple[object, ...]:
    """Same cause, same rule, same evidence sources and the same first fix once names are masked. A "did you
    mean" is the container's own (its line says it), not a different problem."""
    first = first_fix(f)
    return (f.cause, f.verdict.rule, f.confidence,
            tuple(_shape(e.source) for e in f.verdict.evidence if e.source != suggest.SOURCE),
            _shape(first.text) if first else "", len(first.commands) if first else 0)


def first_fix(f: Finding) -> Fix | None:
    """The problem's first fix: the first step that is not one container's "did you mean"."""
    return next((x for x in f.fixes if not x.text.startswith(suggest.FIX_PREFIX)), None)


def did_you_mean(f: Finding) -> str:
    """`` — did you mean shop/cart?`` for the container's own line, or empty."""
    line = next((e for e in f.verdict.evidence if e.source == suggest.SOURCE), None)
    return f" — {line.text.split('? (', 1)[0]}?" if line is not None else ""


def deciding(f: Finding) -> list[EvidenceLine]:
    """The evidence that decided it: the first line (the runtime's message when there is one), and the most
    specific fact beside it: the last line that is neither an event count nor a probe that could not reach
    the registry (a note says that once for all)."""
    lines = f.verdict.evidence
    if not lines:
        return []
    facts = [e for e in lines[1:] if not e.source.startswith(("event ", "events")) and e.source != suggest.SOURCE
             and not (e.source == "probe" and e.text.startswith("could not probe"))]
    return [lines[0], *facts[-1:]]


def problems(d: Diagnosis) -> list[tuple[Finding, list[Finding]]]:
    """(the finding told in full, the others with the same problem), groups first, in the findings' order."""
    grouped: dict[int, list[Finding]] = {}
    skip: set[int] = set()
    for g in d.groups:
        grouped[id(g.members[0])] = g.members[1:]
        skip.update(id(m) for m in g.members[1:])
    out: list[tuple[Finding, list[Finding]]] = []
    by_key: dict[tuple[object, ...], tuple[Finding, list[Finding]]] = {}
    for f in d.findings:
        if id(f) in skip:
            continue
        if id(f) in grouped:
            out.append((f, list(grouped[id(f)])))
            continue
        k = problem_key(f)
        if k in by_key:
            by_key[k][1].append(f)
        else:
            by_key[k] = (f, [])
            out.append(by_key[k])
    return out
