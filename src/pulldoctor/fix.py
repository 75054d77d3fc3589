"""One step of a fix, the value both ``diagnose`` (rule families) and ``preflight`` print: a sentence and, when
there is one, the exact commands to run. Its own module so that preflight, which must not import the diagnosis,
shares the type rather than a copy of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Fix:
    """One step of a fix: a sentence and, when there is one, the exact commands to run."""

    text: str
    commands: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "commands": list(self.commands)}
