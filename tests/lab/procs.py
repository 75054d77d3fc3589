"""Start and stop the lab's server processes by PID, with bounded waits.

Every process is started in its own session so a stuck child can never hold the test run's terminal or
signals; every PID is remembered here so that the session can check, at the end, that none survived.
"""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

STOP_GRACE = 3.0  # seconds between SIGTERM and SIGKILL


class LabStartError(RuntimeError):
    """A lab part did not come up; the message names it and quotes the end of its log."""


@dataclass
class Proc:
    """One server process of the lab and the log file its output goes to."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, limit: int = 2000) -> str:
        try:
            data = self.log.read_bytes()
        except OSError:
            return ""
        return data[-limit:].decode("utf-8", "replace")

    def group_members(self) -> list[int]:
        """PIDs still in this process's session group (e.g. nginx workers), from /proc."""
        return group_members(self.pid)

    def stop(self) -> None:
        """SIGTERM to the PID, then SIGKILL to its process group after STOP_GRACE seconds; always reaps.

        The group is the session this module created for the process (start_new_session), so the
        SIGKILL reaches its children too (nginx workers) and nothing else."""
        if self.popen.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                pass
        if self.popen.poll() is None or self.group_members():
            try:
                os.killpg(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.popen.wait(timeout=STOP_GRACE)


_STARTED: list[Proc] = []


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(name: str, argv: Sequence[str], log: Path, *, cwd: Path | None = None,
          stdin_data: bytes | None = None) -> Proc:
    """Start ``argv`` in a new session with stdout/stderr going to ``log``; remember its PID."""
    with open(log, "ab") as out:
        popen = subprocess.Popen(
            list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            cwd=cwd, start_new_session=True,
        )
    proc = Proc(name, popen, log)
    _STARTED.append(proc)
    return proc


def wait_ready(proc: Proc, ready: Callable[[], bool], *, timeout: float = 10.0, every: float = 0.01) -> float:
    """Poll ``ready()`` until it is true or ``timeout`` passes; returns the seconds since start."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not proc.alive():
            raise LabStartError(f"{proc.name} exited with {proc.popen.returncode}: {proc.log_tail()}")
        try:
            if ready():
                return time.monotonic() - proc.started
        except OSError:
            pass
        time.sleep(every)
    raise LabStartError(f"{proc.name} not ready after {timeout:.0f}s: {proc.log_tail()}")


def stop_all(procs: Sequence[Proc] | None = None) -> None:
    """Stop the given processes (default: every one started here), newest first."""
    targets = list(procs) if procs is not None else list(_STARTED)
    for proc in reversed(targets):
        proc.stop()


def group_members(pgid: int, limit: int = 100_000) -> list[int]:
    """PIDs whose process group is ``pgid`` (zombies excluded), scanning at most ``limit`` /proc entries."""
    members: list[int] = []
    for count, entry in enumerate(os.scandir("/proc")):
        if count >= limit:
            break
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read(4096)
        except OSError:
            continue
        fields = stat.rsplit(b")", 1)[-1].split()  # after "(comm)": state ppid pgrp ...
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != b"Z":
            members.append(int(entry.name))
    return members


def alive_pids() -> list[tuple[str, int]]:
    """(name, pid) of every lab process, or child in its group, still running — empty after the session."""
    return [(p.name, pid) for p in _STARTED for pid in ([p.pid] if p.alive() else []) +
            [m for m in p.group_members() if m != p.pid]]


atexit.register(stop_all)
