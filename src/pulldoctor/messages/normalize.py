"""Turn pasted text back into the one line the runtime produced.

People paste messages from `kubectl describe`, from YAML (`kubectl get -o yaml` folds long lines and
indents the continuation) or from JSON logs (quotes escaped as ``\\"``). The rules match the runtime's
own one-line text, so this undoes those changes first. It also caps how much text is examined, so the
cost of a classification is bounded whatever the input.
"""

from __future__ import annotations

import html
import re

#: At most this many characters are examined: the head (kubelet wrapper, image) and the tail (the
#: innermost error). Real kubelet messages are well under 4 KiB; aggregates of a few errors fit too.
HEAD_CHARS = 8192
TAIL_CHARS = 8192
MAX_CHARS = HEAD_CHARS + TAIL_CHARS

# A line break with the blanks around it. A bare break inside a long run of hex digits is a terminal wrap
# inside a digest (as pasted from a narrow terminal): joined without a space. Anything else is a fold, or a
# break the runtime printed itself (containerd 2.x puts the response body on its own line; Docker joins the
# registry's errors with newlines, "denied\ndenied"): one space. Words end and start with hex letters too
# ("denied", "added"), so a short run is not a digest.
_BREAK = re.compile(r"[ \t]*\r?\n[ \t]*")
_HEX = frozenset("0123456789abcdef")
_DIGEST_RUN = 12  # hex digits around the break, both sides together, for it to be a wrapped digest


def as_text(message: object) -> str:
    """Any input as ``str``: bytes are decoded leniently, ``None`` is empty, anything else is ``str()``."""
    if isinstance(message, str):
        return message
    if isinstance(message, bytes | bytearray | memoryview):
        return bytes(message[: MAX_CHARS * 4]).decode("utf-8", errors="replace")
    if message is None:
        return ""
    try:
        return str(message)
    except Exception:
        return ""


def cap(text: str) -> str:
    """Keep the head and the tail of a long text; the middle of a huge paste says nothing new."""
    if len(text) <= MAX_CHARS:
        return text
    return text[:HEAD_CHARS] + " … " + text[-TAIL_CHARS:]


def _join_break(m: re.Match[str]) -> str:
    s = m.string
    start, end = m.start(), m.end()
    bare = m.group(0).strip("\r\n") == ""
    if bare and start > 0 and end < len(s) and s[start - 1] in _HEX and s[end] in _HEX:
        left = right = 0
        while left < _DIGEST_RUN and start - 1 - left >= 0 and s[start - 1 - left] in _HEX:
            left += 1
        while right < _DIGEST_RUN and end + right < len(s) and s[end + right] in _HEX:
            right += 1
        if left + right >= _DIGEST_RUN:
            return ""
    return " "


def unescape(text: str) -> str:
    """Undo JSON/Go string escaping of quotes and line breaks (up to three levels, as seen in FailedSync events)."""
    for _ in range(3):
        if '\\"' not in text and "\\n" not in text:
            break
        text = text.replace('\\"', '"').replace("\\n", "\n").replace("\\t", " ")
    return text


def unfold(text: str) -> str:
    """Join folded and wrapped lines back into one line."""
    if "\n" not in text:
        return text
    return _BREAK.sub(_join_break, text)


_SMART_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})
_ENTITY = re.compile(r"&(?:quot|amp|lt|gt|#34|#39|#x22);")  # the entities web pages put in pasted errors


def undress(text: str) -> str:
    """Undo what chat tools and web pages do to a pasted message: smart quotes, HTML entities."""
    if "\u201c" in text or "\u201d" in text or "\u2019" in text:
        text = text.translate(_SMART_QUOTES)
    if "&" in text and _ENTITY.search(text) is not None:
        text = html.unescape(text)
    return text


# Any character one of the clean-ups below acts on; most messages hold none, and one search says so.
_NEEDS_WORK = re.compile(r"[\u201c\u201d\u2019&\\\n\t\x00]")


def normalize(message: object) -> str:
    """The capped, unescaped, unfolded, stripped text the rules look at."""
    text = cap(as_text(message))
    if _NEEDS_WORK.search(text) is None:
        return text.strip()
    text = undress(text)
    if "\\" in text:
        text = unescape(text)
    if "\n" in text:
        text = unfold(text)
    if "\t" in text:
        text = text.replace("\t", " ")
    if "\x00" in text:
        text = text.replace("\x00", "")
    return text.strip()
