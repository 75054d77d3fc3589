"""What may be printed: text from a cluster, a runtime or a registry, with credentials and terminal
control sequences taken out. Standard library only, so every part (``messages`` included) can use it.
"""

from __future__ import annotations

import re

# Credentials written into a URL (``https://user:pw@host/…``) or a reference (``user:pw@host/repo``):
# runtimes and registries echo them in error texts, which pulldoctor prints, renders and bundles.
_URL_USERINFO_RE = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<info>[^/?#@\s\"'\\<>]+)@")
_REF_USERINFO_RE = re.compile(
    r"(?<![\w.:/@-])(?P<info>[^\s/@\"'\\:<>]+:[^\s/@\"'\\<>]+)@(?=[A-Za-z0-9.-]+(?::[0-9]+)?/)")


def _masked(info: str) -> str:
    user, colon, _password = info.partition(":")
    return f"{user}:***" if colon else "***"  # a lone userinfo is usually a token


def mask_userinfo(text: str) -> str:
    """``text`` with the password of every ``user:password@`` in a URL or a reference replaced by ``***``
    (a userinfo without a colon, often a token, entirely). Cheap when there is no ``@``."""
    if "@" not in text:
        return text
    text = _URL_USERINFO_RE.sub(lambda m: f"{m['scheme']}{_masked(m['info'])}@", text)
    return _REF_USERINFO_RE.sub(lambda m: f"{_masked(m['info'])}@", text)


# C0 controls except \t and \n, DEL, C1 controls; and whole SGR sequences, so that a renderer's own colours
# can be kept. A hostile event message may carry sequences that clear the screen or retitle the window.
_CONTROL_RE = re.compile(r"\x1b\[[0-9;]{0,16}m|[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str, keep: frozenset[str] = frozenset()) -> str:
    """Text from the cluster or a registry, safe to print: ``user:password@`` masked (``mask_userinfo``)
    and every control character but newline and tab escaped (``\\x1b``), except the sequences in ``keep``."""
    def escape(m: re.Match[str]) -> str:
        s = m.group(0)
        return s if s in keep else s.encode("unicode_escape").decode("ascii")

    return _CONTROL_RE.sub(escape, mask_userinfo(text))
