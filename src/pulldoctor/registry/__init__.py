"""Probe a registry the way a node's runtime pulls: DNS, TCP, TLS, scheme, auth, manifest, platform, size.

Importing this package does not import aiohttp (``client`` loads it when a probe runs), so code that
only handles results (diagnosis, renderers) stays fast to import.
"""

from __future__ import annotations

from pulldoctor.registry.models import ProbeOptions, ProbeRequest, ProbeResult, RateLimit, Step
from pulldoctor.registry.probe import probe, probe_many, probe_sync

__all__ = ["ProbeOptions", "ProbeRequest", "ProbeResult", "RateLimit", "Step", "probe", "probe_many", "probe_sync"]
