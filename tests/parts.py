"""Helpers for tests that need a real part (a binary, root, a package).

Locally a missing part skips the test with the reason; in CI (``CI=true``) it fails it, so a missing
install step can never hide behind a green run.
"""

from __future__ import annotations

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def need(ok: bool, what: str) -> None:
    """Skip (locally) or fail (in CI) unless ``ok``; ``what`` says which part is missing."""
    if ok:
        return
    if IN_CI:
        pytest.fail(f"required part missing in CI: {what}")
    pytest.skip(f"missing part: {what}")


def need_binary(name: str) -> str:
    """Return the path of an executable, or skip/fail per ``need``."""
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )
    need(path is not None, f"binary {name!r} (install it with scripts/test.sh)")
    assert path is not None
    return path


def need_root(what: str) -> None:
    need(os.geteuid() == 0, f"root, for {what}")
