"""Text for a terminal: a one-line verdict per finding (or group) first, then evidence and fix, at 80 columns.

Colour only when asked (the command asks on a TTY without ``NO_COLOR``); the words never depend on it.
"""

from __future__ import annotations

import textwrap

from pulldoctor.diagnosis.lines import clip
from pulldoctor.diagnosis.model import Confidence, Diagnosis, Finding
from pulldoctor.redact import mask_userinfo, printable
from pulldoctor.render import brief as short
from pulldoctor.render.safe import printable_text

_RESET = "\033[0m"
_COLOURS = {Confidence.CERTAIN: "\033[1;31m", Confidence.LIKELY: "\033[1;33m", Confidence.POSSIBLE: "\033[1;36m"}
_DIM = "\033[2m"
_BOLD = "\033[1m"
_OWN_CODES = frozenset({_RESET, _DIM, _BOLD, *_COLOURS.values()})


def wrap(text: str, width: int, indent: str, hang: str) -> list[str]:
    """Exactly ``textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=hang,
    break_long_words=False, break_on_hyphens=False) or [indent]``: lines break at spaces only, a word
    longer than the line stands alone. Words separated by single spaces (nearly every line) are filled
    here, several times faster than textwrap's chunking: 300 findings make 3,000 wrapped texts."""
    # Left to textwrap: runs of spaces or spaces at an end, and what is not printable (tabs and newlines,
    # which textwrap turns into spaces, and Unicode spaces, which it drops at line ends like spaces).
    if not text or text[0] == " " or text[-1] == " " or "  " in text or not text.isprintable():
        return textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=hang,
                             break_long_words=False, break_on_hyphens=False) or [indent]
    if len(indent) + len(text) <= width:
        return [indent + text]
    lines: list[str] = []
    room = width - len(indent)
    line: list[str] = []
    used = 0
    for word in text.split(" "):
        if not line:
            line, used = [word], len(word)
        elif used + 1 + len(word) <= room:
            line.append(word)
            used += 1 + len(word)
        else:
            lines.append((hang if lines else indent) + " ".join(line))
            room = width - len(hang)
            line, used = [word], len(word)
    lines.append((hang if lines else indent) + " ".join(line))
    return lines


class _Out:
    def __init__(self, width: int, color: bool) -> None:
        self.lines: list[str] = []
        self.width = max(40, width)
        self.color = color

    # Escape the input first, colour after: every text from the diagnosis goes through ``printable``
    # as it is added (wrap, raw, c), and only then do our own colour codes go around it.

    def c(self, code: str, s: str) -> str:
        s = printable(s)
        return f"{code}{s}{_RESET}" if self.color else s

    def wrap(self, text: str, indent: str, hang: str | None = None, *, mark: tuple[str, str] | None = None) -> None:
        """``text`` (escaped here) wrapped; ``mark`` = (colour, symbol) puts a coloured symbol before it."""
        text = printable(text)
        if mark is not None:
            text = f"{mark[1]} {text}"
        lines = wrap(text, self.width, indent, indent if hang is None else hang) or [indent]
        if mark is not None and self.color:
            lines[0] = lines[0].replace(f"{mark[1]} ", f"{mark[0]}{mark[1]} {_RESET}", 1)
        self.lines.extend(lines)

    def raw(self, s: str = "", *, prefix: str = "") -> None:
        """``s`` escaped, after ``prefix`` (our own, possibly coloured)."""
        self.lines.append(prefix + printable(s))


def as_of(d: Diagnosis) -> str:
    """`` as of 2026-11-26 13:03Z`` for an offline input (judged at its time, not now); empty when live."""
    return f" as of {d.as_of.strftime('%Y-%m-%d %H:%M:%SZ')}" if d.as_of is not None else ""


def headline(f: Finding) -> str:
    """The one-line verdict: where, what, how sure."""
    where = f"{f.namespace}/{f.pod} [{f.container}{', ' + f.container_type if f.container_type != 'regular' else ''}]"
    return f"{where}: {f.cause.value} ({f.confidence.value})"


def render(diagnosis: Diagnosis, *, color: bool = False, width: int = 80, brief: bool = False) -> str:
    """A group (one outage, forty replicas of one typo) is told once: its first member in full, the
    others by name. The JSON keeps every finding. ``brief``: what fits a screen (``render.brief``)."""
    out = _Out(width, color)
    if brief and diagnosis.findings:
        _brief(out, diagnosis)
        return printable_text("\n".join(out.lines) + "\n", keep=_OWN_CODES)
    fs = diagnosis.findings
    first_of: dict[int, list[Finding]] = {}
    grouped: set[int] = set()
    for g in diagnosis.groups:
        first_of[id(g.members[0])] = g.members[1:]
        grouped.update(id(m) for m in g.members)
    if not fs:
        out.raw("No container is failing to get its image.")
    else:
        pods = {(f.namespace, f.pod) for f in fs}
        out.raw(prefix=out.c(_BOLD, f"{len(fs)} container(s) in {len(pods)} pod(s) cannot get their image"
                                    f"{as_of(diagnosis)}."))
        for g in diagnosis.groups:
            out.wrap(g.summary, "", "    ", mark=(_COLOURS[g.members[0].confidence], "≡"))
        for f in fs:
            if id(f) not in grouped:
                out.wrap(headline(f), "", "    ", mark=(_COLOURS[f.confidence], "✗"))
    for t in _tail(diagnosis):
        out.wrap(t, "", "  ")
    for f in fs:
        if id(f) in grouped and id(f) not in first_of:
            continue
        _details(out, f)
        others = first_of.get(id(f))
        if others:
            names = ", ".join(f"{o.namespace}/{o.pod}" for o in others[:8]) + (", …" if len(others) > 8 else "")
            out.wrap(f"same cause for {len(others)} more: {names}", "  ", "    ")
    # Every line was escaped as it was added: the gate keeps only our colours, which are all that is left
    # (and masks any user:password@ a runtime echoed; lines wrap only at spaces, so none is split).
    return printable_text("\n".join(out.lines) + "\n", keep=_OWN_CODES)


def _brief(out: _Out, d: Diagnosis) -> None:
    """The count, the groups with their pods, what else is stuck and the notes; then each distinct problem
    once: a line per container it holds, the evidence that decided it and its first fix."""
    fs = d.findings
    pods = {(f.namespace, f.pod) for f in fs}
    out.raw(prefix=out.c(_BOLD, f"{len(fs)} container(s) in {len(pods)} pod(s) cannot get their image{as_of(d)}."))
    for g in d.groups:
        out.wrap(f"{g.summary}: {short.pods_named(g.members)}", "", "    ",
                 mark=(_COLOURS[g.members[0].confidence], "≡"))
    for t in _tail(d):
        out.wrap(t, "", "  ")
    leaders = {id(g.members[0]) for g in d.groups}
    for f, alike in short.problems(d):
        out.raw()
        if id(f) in leaders:   # a group: its pods are named above, however many there are
            out.wrap(headline(f) + f" + {len(alike)} more (≡ above)", "", "    ", mark=(_COLOURS[f.confidence], "✗"))
        else:
            for member in (f, *alike):
                out.wrap(headline(member) + short.did_you_mean(member), "", "    ",
                         mark=(_COLOURS[member.confidence], "✗"))
        for i, e in enumerate(short.deciding(f)):
            # The message in one line, its end (the most specific part); a fact of the cluster in two at most.
            # A user:password@ is masked before the cut: a cut one would no longer look like one.
            head, whole = f"- {e.source}: ", mask_userinfo(e.text)
            text = short.tail(whole, out.width - 2 - len(head)) if i == 0 else \
                clip(whole, 2 * out.width - 12 - len(head))
            out.wrap(head + text, "  ", "    ")
        fix = short.first_fix(f)
        if fix is not None:
            out.wrap(f"fix: {fix.text}", "  ", "       ")
            for cmd in fix.commands:
                out.raw(cmd, prefix=out.c(_DIM, "       $ "))
            if fix.commands and any(short.first_fix(a) != fix for a in alike):
                out.wrap(f"(the commands are {f.pod}'s; each pod's own: -v)", "       ")
    out.raw()
    out.wrap("All evidence, every fix step, what would settle it: -v, or diagnose POD.", "")


def _details(out: _Out, f: Finding) -> None:
    out.raw()
    out.raw(prefix=out.c(_COLOURS[f.confidence], headline(f)))
    out.wrap(f.verdict.summary, "  ")
    out.wrap(f"image: {f.image}" + (f"  node: {f.node}" if f.node else ""), "  ")
    if f.verdict.evidence:
        out.raw("  evidence:")
        for e in f.verdict.evidence:
            out.wrap(f"- {e.source}: {e.text}", "    ", "      ")
    for c in f.verdict.contradictions:
        out.wrap(f"! against: {c}", "    ", "      ")
    for s in f.verdict.settle:
        out.wrap(f"? to settle: {s}", "    ", "      ")
    if f.fixes:
        out.raw("  fix:")
        for i, fix in enumerate(f.fixes, 1):
            out.wrap(f"{i}. {fix.text}", "    ", "       ")
            for cmd in fix.commands:
                # Commands are not wrapped: they must stay paste-able.
                out.raw(cmd, prefix=out.c(_DIM, "       $ "))


def _named(pods: list[str], count: int) -> str:
    """`` (shop/a, shop/b, …)``: the pods behind a count, a few of them."""
    return f" ({', '.join(pods)}{', …' if count > len(pods) else ''})" if pods else ""


def _tail(d: Diagnosis) -> list[str]:
    lines = []
    if d.not_image:
        parts = ", ".join(f"{r} {n}{_named(d.not_image_pods.get(r, []), n)}" for r, n in sorted(d.not_image.items()))
        lines.append(f"Stuck for other reasons (not image pulls): {parts}.")
    lines.extend(f"note: {n}" for n in d.notes)
    return lines
