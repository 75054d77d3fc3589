"""Docker Hub's rate-limit headers: ``ratelimit-limit: 100;w=21600`` → 100 pulls per 21600 s.

A HEAD of a manifest returns them without counting as a pull (Docker's "Docker Hub rate limit" docs),
which is why the probe can report the remaining budget for free.
"""

from __future__ import annotations

from collections.abc import Mapping

from pulldoctor.registry.models import RateLimit


def _parse_value(raw: str | None) -> tuple[int | None, int | None]:
    """``"100;w=21600"`` → (100, 21600); anything unparsable → (None, None)."""
    if not raw:
        return None, None
    head, _, rest = raw.partition(";")
    try:
        count = int(head.strip())
    except ValueError:
        return None, None
    window = None
    for part in rest.split(";"):
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "w":
            try:
                window = int(value.strip())
            except ValueError:
                window = None
    return count, window


def parse_ratelimit(headers: Mapping[str, str]) -> RateLimit | None:
    """RateLimit from response headers, or None when the registry sends none."""
    limit_raw = headers.get("ratelimit-limit")
    remaining_raw = headers.get("ratelimit-remaining")
    retry_raw = headers.get("retry-after")
    if limit_raw is None and remaining_raw is None:
        return None
    limit, window = _parse_value(limit_raw)
    remaining, window2 = _parse_value(remaining_raw)
    retry = None
    if retry_raw is not None and retry_raw.strip().isdigit():
        retry = int(retry_raw.strip())
    source = headers.get("docker-ratelimit-source")
    return RateLimit(limit, remaining, window or window2, source[:64] if source else None, retry)
