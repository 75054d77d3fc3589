"""A long diagnose shows its progress on stderr when stderr is a terminal (which step, how many done, the time
cap), and nothing when it is piped (issue 14). The terminal is a real pseudo-terminal (``pty``)."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import socket
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from helpers import cli, cli_env
from kubeapi import objects as o


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _input(tmp_path: Path) -> Path:
    """Three pods whose images are on a loopback port where nothing listens: each probe ends at once."""
    port = _closed_port()
    pods = [o.pod(f"web-{i}", "shop", containers=[o.container("app", f"127.0.0.1:{port}/shop/web{i}:1")],
                  statuses=[o.waiting("app", f"127.0.0.1:{port}/shop/web{i}:1", "ImagePullBackOff",
                                      f'Back-off pulling image "127.0.0.1:{port}/shop/web{i}:1"')]) for i in range(3)]
    path = tmp_path / "pods.json"
    path.write_text(json.dumps(o.as_list(pods)))
    return path


def _run_with_a_terminal_on_stderr(args: list[str]) -> tuple[int, str, str]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 250, 0, 0))   # rows, columns: room for paths
    try:
        proc = subprocess.Popen([sys.executable, "-m", "pulldoctor", *args], stdout=subprocess.PIPE,
                                stderr=slave, stdin=subprocess.DEVNULL, env=cli_env({"COLUMNS": "100"}))
        os.close(slave)
        slave = -1
        seen = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:   # the child closed its end
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
        out, _ = proc.communicate(timeout=60)
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    return proc.returncode, out.decode(), seen.decode(errors="replace")


def test_progress_on_a_terminal(tmp_path: Path) -> None:
    path = _input(tmp_path)
    rc, out, err = _run_with_a_terminal_on_stderr(["diagnose", "--from", str(path)])
    assert rc == 1, err
    assert f"reading {path}" in err
    assert "finding the failing containers of 3 pod(s)" in err
    assert "probing registries for 3 container(s) (at most 30s)" in err   # the step and its cap
    assert "probing registries: 3/3 done (at most 30s)" in err            # how many are done
    assert err.endswith("\r\x1b[K")          # the line is cleared before the diagnosis is written
    assert "\x1b" not in out and "pulldoctor: probing" not in out   # stdout is the diagnosis alone
    assert out.startswith("3 container(s) in 3 pod(s) cannot get their image")


def test_an_error_starts_at_the_left_margin(tmp_path: Path) -> None:
    rc, _, err = _run_with_a_terminal_on_stderr(["diagnose", "--from", str(tmp_path / "missing.json")])
    assert rc == 2
    line = err.rsplit("\r\x1b[K", 1)[-1]
    assert line.startswith("pulldoctor: ") and "missing.json" in line and "[0s]" not in line


def test_nothing_on_stderr_when_piped(tmp_path: Path) -> None:
    r = cli("diagnose", "--from", str(_input(tmp_path)))
    assert r.returncode == 1 and r.stderr == ""
    assert r.stdout.startswith("3 container(s) in 3 pod(s) cannot get their image")
