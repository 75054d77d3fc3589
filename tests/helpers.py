"""What many test files need the same way: running the real CLI, the one-line error it promises, and probe
bounds short enough for servers on loopback. One copy, so the tests cannot drift apart on what "one clear
line on stderr and exit code 2" means.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

#: Environment a test never inherits: a developer's debug switch (tracebacks instead of the one-line error)
#: and their kubeconfig (a test must never reach a real cluster).
DROPPED_ENV = ("PULLDOCTOR_DEBUG", "KUBECONFIG")

#: ProbeOptions bounds for servers a test starts on loopback itself: a stall or a dead port fails in about a
#: second instead of the production 5 s / 15 s.
FAST = {"request_timeout": 1.5, "connect_timeout": 1.0, "dns_timeout": 1.0}
#: The same for the test lab's real registry, nginx and containerd, which share the machine with other suites:
#: a little more room before a slow answer counts as a stall.
LAB_FAST = {"request_timeout": 2.0, "connect_timeout": 1.5, "dns_timeout": 2.0}


def cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without ``DROPPED_ENV``, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in DROPPED_ENV}
    env.update(extra or {})
    return env


def cli(*args: str, timeout: float = 60, stdin: str | None = None, env: Mapping[str, str] | None = None,
        cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m pulldoctor ARGS`` as a user runs it, text in and out; stdin is empty unless given."""
    return subprocess.run([sys.executable, "-m", "pulldoctor", *args], capture_output=True, text=True,
                          timeout=timeout, input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
                          env=cli_env(env), cwd=cwd, check=False)


def cli_bytes(*args: str, timeout: float = 60, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """``cli`` for raw bytes: binary stdin, and stdout/stderr exactly as written (no decoding on the way)."""
    return subprocess.run([sys.executable, "-m", "pulldoctor", *args], capture_output=True,
                          timeout=timeout, input=stdin if stdin is not None else b"", env=cli_env(), check=False)


def assert_one_line_error(r: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Bad input: exit code 2, nothing on stdout, exactly one ``pulldoctor: …`` line on stderr, no traceback
    and no "internal error"; each needle appears in that line."""
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert r.stdout == "", r.stdout[-2000:]
    lines = r.stderr.splitlines()
    assert r.stderr.count("\n") == 1 and r.stderr.endswith("\n") and len(lines) == 1, r.stderr[-2000:]
    assert lines[0].startswith("pulldoctor: "), r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "internal error" not in r.stderr
    for needle in needles:
        assert needle in r.stderr, r.stderr
