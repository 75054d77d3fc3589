"""Robustness and secrecy of ``classify`` (``pulldoctor.messages`` and ``commands/classify.py``): found by the
robustness pass as xfail tests, fixed by their owners (21e02a4) — fields and echoed messages mask
``user:password@``, stdin lines are bounded even without a newline, undecodable bytes never reach the output."""

from __future__ import annotations

import functools
import json
import os
import resource
import subprocess
import sys

from helpers import cli_bytes

CANARY = "CANARY-pw-7f3a9c"
TIMEOUT = 30


cli = functools.partial(cli_bytes, timeout=TIMEOUT)


MESSAGE = (f'Failed to pull image "bob:{CANARY}@reg.example.invalid/a:1": rpc error: code = Unknown desc = '
           f'failed to do request: Head "https://bob:{CANARY}@reg.example.invalid/v2/a/manifests/1": dial tcp: '
           "lookup reg.example.invalid: no such host")


def test_fields_never_carry_userinfo() -> None:
    from pulldoctor.messages import classify

    c = classify(MESSAGE)
    assert c.cause.value == "dns_failure"
    assert CANARY not in json.dumps(c.fields, default=str)
    assert c.fields.get("host") == "reg.example.invalid"


def test_classify_text_output_masks_userinfo() -> None:
    r = cli("classify", MESSAGE)
    assert r.returncode == 0
    assert CANARY.encode() not in r.stdout + r.stderr


def test_stdin_without_newlines_is_bounded() -> None:
    with open("/dev/zero", "rb") as zero:
        env = {k: v for k, v in os.environ.items() if k != "PULLDOCTOR_DEBUG"}

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))

        r = subprocess.run([sys.executable, "-m", "pulldoctor", "classify"], stdin=zero, capture_output=True,
                           timeout=TIMEOUT, env=env, preexec_fn=limit)
    assert r.returncode == 2 and b"longer than" in r.stderr and b"internal error" not in r.stderr


def test_invalid_utf8_on_stdin_gives_valid_utf8_out() -> None:
    r = cli("classify", stdin=b'{"message": "Failed to pull image \\"x\\": \xff\xfe not found"}\n')
    assert r.returncode in (0, 2)
    r.stdout.decode("utf-8")
    if r.returncode == 0:
        assert json.loads(r.stdout)["cause"]
