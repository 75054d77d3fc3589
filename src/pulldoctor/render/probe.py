"""A probe result for a person: the verdict first, then one line per step (wrapped at 80 columns)."""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from pulldoctor.redact import printable

if TYPE_CHECKING:
    from pulldoctor.registry.models import ProbeResult

WIDTH = 80


def render(result: ProbeResult, credentials_note: str = "") -> str:
    """Verdict line first, then one line per step (wrapped at 80 columns)."""
    lines = [result.summary()]
    if result.facts():
        lines.append(f"  {result.facts()}")
    if result.host is not None:
        lines.append(f"  host: {result.host} (from the hosts dir)")
    failed = result.failed_step
    if failed is not None and result.cause is not None:
        lines += textwrap.wrap(failed.detail, WIDTH, initial_indent="  ", subsequent_indent="  ")
    if result.ratelimit is not None:
        lines.append(f"  rate limit: {result.ratelimit.describe()}")
    if result.platforms:
        lines += textwrap.wrap("platforms: " + ", ".join(result.platforms), WIDTH, initial_indent="  ",
                               subsequent_indent="    ")
    if credentials_note:
        lines += textwrap.wrap("credentials: " + credentials_note, WIDTH, initial_indent="  ", subsequent_indent="    ")
    lines.append("steps:")
    for step in result.steps:
        mark = "ok  " if step.ok else "FAIL"
        ms = f"{step.elapsed * 1000:.0f} ms"
        head = f"  {mark} {step.name:<9} "
        lines += textwrap.wrap(
            f"{step.detail} ({ms})", WIDTH, initial_indent=head, subsequent_indent=" " * len(head),
            break_long_words=True, break_on_hyphens=False,
        )
    # Details quote the registry's own error bodies: no escape sequence of theirs reaches the terminal.
    return printable("\n".join(lines) + "\n")
