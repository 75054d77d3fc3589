"""Fixtures for the test lab (tests/lab): real registries, nginx and containerd on loopback."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from lab import procs
from lab.startup import Lab, start_lab
from parts import need, need_binary, need_root

if TYPE_CHECKING:
    from lab.containerd import Containerd

_REPORT: list[str] = []


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """Registries, nginx, blackhole; stopped at session end even when tests fail."""
    for binary in ("docker-registry", "nginx", "htpasswd", "openssl"):
        need_binary(binary)
    started = start_lab(tmp_path_factory.mktemp("lab"))
    line = f"lab: started in {started.startup_seconds:.2f}s (" + ", ".join(
        f"{k} {v * 1000:.0f} ms" for k, v in started.timings.items()) + ")"
    print(line)
    _REPORT.append(line)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="session")
def containerd(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Containerd]:
    """containerd with its CRI plugin, configured for the lab's registries; needs root."""
    need_root("containerd")
    need_binary("containerd")
    need(shutil.which("runc") is not None or shutil.which("/usr/sbin/runc") is not None, "binary 'runc'")
    try:
        import grpc  # noqa: F401
    except ImportError:
        need(False, "python package grpcio (pip install -e '.[test]')")
    from lab.containerd import start_containerd

    runtime = start_containerd(lab, tmp_path_factory.mktemp("containerd"))
    line = f"lab: containerd started in {runtime.startup_seconds:.2f}s"
    print(line)
    _REPORT.append(line)
    try:
        yield runtime
    finally:
        runtime.stop()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """No lab process may outlive the session: kill leftovers and fail the run if there were any."""
    left = procs.alive_pids()
    if left:
        procs.stop_all()
        _REPORT.append(f"lab: processes still alive at session end (killed): {left}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    elif _REPORT:
        _REPORT.append("lab: no lab process alive after the session")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in _REPORT:
        terminalreporter.write_line(line)
