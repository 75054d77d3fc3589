"""A progress line on stderr for a long ``diagnose`` (reading a large input, probing registries): which step,
how many are done, the time cap. Only when stderr is a terminal; piped or redirected, nothing is written, so
logs and scripts see stdout and errors only.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from pulldoctor.redact import printable

_CLEAR = "\r\033[K"


class Progress:
    """One line, rewritten in place (``\\r`` + clear), at most every ``interval`` seconds; ``done`` clears it."""

    def __init__(self, stream: TextIO | None = None, *, enabled: bool | None = None, interval: float = 0.1) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = _isatty(self.stream) if enabled is None else enabled
        self.interval = interval
        self.started = time.monotonic()
        self._last = 0.0
        self._shown = False

    def step(self, text: str, *, force: bool = True) -> None:
        """Show ``text`` (a step: "probing registries: 3/21 done (at most 30s)") with the time spent so far."""
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        line = f"pulldoctor: {printable(text)} [{now - self.started:.0f}s]"
        width = _columns(self.stream)
        if len(line) >= width:
            line = line[: max(10, width - 2)] + "…"
        self.stream.write(_CLEAR + line)
        self.stream.flush()
        self._shown = True

    def count(self, what: str, done: int, total: int, cap: float | None = None) -> None:
        """``what: done/total done (at most CAP s)``; the last one is always shown."""
        tail = f" (at most {cap:.0f}s)" if cap else ""
        self.step(f"{what}: {done}/{total} done{tail}", force=done >= total)

    def done(self) -> None:
        """Clear the line, so that the output (or an error) starts at the left margin."""
        if self.enabled and self._shown:
            self.stream.write(_CLEAR)
            self.stream.flush()
            self._shown = False


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real file
        return False


def _columns(stream: TextIO) -> int:
    import os

    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (OSError, AttributeError, ValueError):
        return 80
    return max(20, columns) if columns else 80   # 0: a terminal that does not say
