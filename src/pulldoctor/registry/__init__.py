"""Probe a registry the way a node's runtime pulls: DNS, TCP, TLS, scheme, auth, manifest, platform, size.

Importing this package (or ``models``, ``manifest``…) imports neither aiohttp nor the prober's event loop,
TLS and URL libraries: ``probe``, ``probe_many`` and ``probe_sync`` load them on first use, so code that
only handles results or formats sizes (diagnosis, renderers, ``diagnose --no-probe``) stays fast to start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from pulldoctor.registry.models import ProbeOptions, ProbeRequest, ProbeResult, RateLimit, Step

if TYPE_CHECKING:
    from pulldoctor.registry.probe import probe, probe_many, probe_sync

__all__ = ["ProbeOptions", "ProbeRequest", "ProbeResult", "RateLimit", "Step", "probe", "probe_many", "probe_sync"]

_PROBER = ("probe", "probe_many", "probe_sync")


def __getattr__(name: str) -> object:
    if name not in _PROBER:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    module = importlib.import_module("pulldoctor.registry.probe")
    functions = {n: getattr(module, n) for n in _PROBER}
    # The import bound the submodule to the name "probe": the function takes it back.
    globals().update(functions)
    return functions[name]
