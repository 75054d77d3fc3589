"""``pulldoctor classify [MESSAGE…] [-o text|json]``: name the cause in runtime error text.

With MESSAGEs: one block of text (or one JSON object per line with ``-o json``) per message.
Without: JSON Lines on stdin, each an object with a string ``message``; each is written back with
``cause``, ``fields`` and ``signals`` added, other keys and their order kept, one line out per line in.
Blank lines are skipped. A bad line (not JSON, not an object, no string ``message``) stops the run with one
line on stderr naming the line number and exit code 2; the lines before it have already been written.
Exit code 0 otherwise: a classification is not a verdict on a cluster. Credentials that a message embeds
in a URL or an image reference (``user:password@``) have the password masked (``user:***@``) wherever the
message is echoed.

Only the standard library and ``pulldoctor.messages`` are imported, so the command starts fast.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
from collections.abc import Iterable, Iterator
from typing import TextIO

from pulldoctor.errors import InputError
from pulldoctor.messages import classify
from pulldoctor.redact import mask_userinfo, printable
from pulldoctor.render.classify import dumps, text_block

#: A stdin line longer than this is refused rather than decoded (classify examines 16 KiB anyway).
MAX_LINE_CHARS = 4 * 1024 * 1024
def _from_args(messages: list[str], output: str, out: TextIO) -> None:
    blocks: list[str] = []
    for message in messages:
        c = classify(message)
        if output == "json":
            out.write(dumps({"message": mask_userinfo(message), **c.to_json()}) + "\n")
        else:
            blocks.append(text_block(message, c))
    if blocks:
        out.write(printable("\n\n".join(blocks) + "\n"))  # images, hosts, URLs, members: escaped


def _bounded_lines(stream: TextIO) -> Iterator[str]:
    """Lines of at most ``MAX_LINE_CHARS + 1`` characters: a stream with no newline (``/dev/zero``) is
    never read whole before the length check."""
    while line := stream.readline(MAX_LINE_CHARS + 1):
        yield line


def _records(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, object]]]:
    """Decode JSON Lines; raise ``InputError`` naming the first bad line."""
    for number, line in enumerate(lines, 1):
        if len(line) > MAX_LINE_CHARS:
            raise InputError(f"stdin line {number}: longer than {MAX_LINE_CHARS} characters")
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise InputError(f"stdin line {number}: not valid JSON ({err.msg} at column {err.colno})") from None
        if not isinstance(obj, dict):
            raise InputError(f"stdin line {number}: expected a JSON object with a \"message\" string")
        if not isinstance(obj.get("message"), str):
            raise InputError(f"stdin line {number}: no \"message\" string in the object")
        yield number, obj


def _from_stdin(stdin: TextIO, out: TextIO) -> None:
    for _, obj in _records(_bounded_lines(stdin)):
        c = classify(obj["message"])  # type: ignore[arg-type]
        obj["message"] = mask_userinfo(obj["message"])  # type: ignore[arg-type]
        obj.update(c.to_json())
        out.write(dumps(obj) + "\n")


def run(args: argparse.Namespace) -> int:
    """Entry point from ``pulldoctor.cli``."""
    if args.messages:
        _from_args(list(args.messages), args.output, sys.stdout)
    else:
        if sys.stdin is None or sys.stdin.isatty():
            raise InputError("no MESSAGE given and stdin is a terminal: pass messages or pipe JSON Lines")
        # Undecodable bytes become U+FFFD: the JSON Lines written back must be valid UTF-8.
        stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace") \
            if hasattr(sys.stdin, "buffer") else sys.stdin
        _from_stdin(stdin, sys.stdout)
    return 0
