"""The CLI's own promises: an error is ONE line of bounded length (even for a 100 KB or multi-line input),
a reader that goes away (``| head``) gets no traceback, and bad arguments are exit code 2."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import cli_bytes

TIMEOUT = 30


cli = functools.partial(cli_bytes, timeout=TIMEOUT)


def one_line(r: subprocess.CompletedProcess[bytes]) -> str:  # type: ignore[type-arg]
    err = r.stderr.decode("utf-8")
    assert r.returncode == 2, (r.returncode, err[-500:])
    assert err.count("\n") == 1 and err.startswith("pulldoctor: "), err[-500:]
    assert "Traceback" not in err and "internal error" not in err
    return err


@pytest.mark.parametrize(("image", "needle"), [
    ("ngi\x01nx", "control character '\\x01'"),
    ("nginx\n:latest", "control character '\\n'"),
    ("nginx:1\r\nX-Evil: 1", "control character '\\r'"),
    ("nginx:\u202e1", "\\u202e"),
    ("ng\u0456nx", "non-ASCII character"),            # Cyrillic і
    ("r\u0435gistry.io/app", "U+0435"),                 # Cyrillic е in the host
    ("nginx:" + "a" * 100_000, "characters"),
    ("a" * 100_000, "repository"),
    ("nginx@sha256:" + "a" * 100_000, "sha256"),
    ("", "empty"),
], ids=["soh", "newline", "crlf", "rtl-override", "cyrillic-i", "cyrillic-host", "long-tag", "long-name",
        "long-digest", "empty"])  # fmt: skip
def test_ref_refusals_are_one_bounded_line(image: str, needle: str) -> None:
    err = one_line(cli("ref", image))
    assert needle in err and len(err) <= 1100


def test_nul_in_an_argument_cannot_reach_pulldoctor() -> None:
    """The OS refuses NUL in argv; the library refuses it too."""
    from pulldoctor.errors import InvalidReference
    from pulldoctor.reference import parse

    with pytest.raises(ValueError):
        subprocess.run([sys.executable, "-m", "pulldoctor", "ref", "ngi\x00nx"], timeout=TIMEOUT)
    with pytest.raises(InvalidReference, match="control character"):
        parse("ngi\x00nx")


def test_error_line_helper() -> None:
    from pulldoctor.cli import MAX_ERROR_CHARS, error_line

    line = error_line("bad: " + "x" * 50_000 + "\nsecond line\x1b[31m https://u:pw@h/x")
    assert "\n" not in line and "\x1b" not in line and "\\n" in line
    assert len(line) <= MAX_ERROR_CHARS + 60 and "characters cut" in line
    assert line.endswith("https://u:***@h/x")


@pytest.mark.parametrize("args", [
    ["ref", "nginx"], ["ref", "nginx", "-o", "json"], ["classify", "x"],
    ["diagnose", "--from", "examples/cluster", "--no-probe"],
    ["diagnose", "--from", "examples/cluster", "--no-probe", "-o", "json"],
    ["diagnose", "--from", "examples/cluster", "--no-probe", "-o", "markdown"],
])  # fmt: skip
def test_reader_gone_is_silent(args: list[str]) -> None:
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head -0`: the reader is gone before the first byte
    try:
        r = subprocess.run([sys.executable, "-m", "pulldoctor", *args], stdout=write_end, stderr=subprocess.PIPE,
                           timeout=TIMEOUT, cwd=Path(__file__).parent.parent)
    finally:
        os.close(write_end)
    assert r.stderr == b"", r.stderr.decode()


def test_head_one_keeps_the_exit_code_and_prints_no_traceback() -> None:
    root = Path(__file__).parent.parent
    r = subprocess.run(f"{sys.executable} -m pulldoctor diagnose --from examples/cluster --no-probe | head -1; "
                       "exit ${PIPESTATUS[0]}", shell=True, executable="/bin/bash", capture_output=True,
                       text=True, timeout=TIMEOUT, cwd=root)
    assert r.returncode == 1 and r.stdout.count("\n") == 1 and r.stderr == ""


@pytest.mark.parametrize("args", [
    ["diagnose", "--request-timeout", "0"], ["diagnose", "--request-timeout", "soon"],
    ["collect"], ["diagnose", "-o", "yaml"], ["probe"], ["nonsense"],
])  # fmt: skip
def test_bad_arguments_are_exit_2(args: list[str]) -> None:
    r = cli(*args)
    assert r.returncode == 2 and b"Traceback" not in r.stderr


def test_classify_stdin_bad_lines() -> None:
    """classify's own checks (commands/classify.py): exit 2 and one line for each kind of bad line."""
    for data, needle in ((b"[1, 2]\n", "expected a JSON object"), (b"5\n", "expected a JSON object"),
                         (b"\xff\xfe\n", "not valid JSON"), (b'{"message": 5}\n', "no \"message\" string"),
                         (b'{"message": "' + b"a" * (5 << 20) + b'"}\n', "longer than")):
        err = one_line(cli("classify", stdin=data))
        assert needle in err and "stdin line 1" in err


def test_closed_stdout_is_one_line() -> None:
    r = subprocess.run(f"{sys.executable} -m pulldoctor ref nginx >&-", shell=True, capture_output=True, text=True,
                       timeout=TIMEOUT)
    assert r.returncode == 2 and r.stderr == "pulldoctor: standard output is closed\n"


@pytest.mark.parametrize("image", ["a" * (1 << 20), "nginx:" + "1" * (1 << 20), "x/" * (1 << 19) + "y",
                                   "nginx@sha256:" + "0" * (1 << 20), "\u0456" * (1 << 20)],
                         ids=["name", "tag", "components", "digest", "homoglyphs"])
def test_one_megabyte_references_are_refused_fast_and_short(image: str) -> None:
    """argv caps one argument at 128 KiB, so 1 MB goes through the library the CLI calls."""
    from pulldoctor.cli import MAX_ERROR_CHARS, error_line
    from pulldoctor.errors import InvalidReference
    from pulldoctor.reference import parse

    started = time.process_time()  # CPU time: a quadratic parse shows, a busy machine does not
    with pytest.raises(InvalidReference) as err:
        parse(image)
    assert time.process_time() - started < 1
    assert len(str(err.value)) < 700 and len(error_line(str(err.value))) <= MAX_ERROR_CHARS + 60
