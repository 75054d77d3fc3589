"""A parsed image reference for a person: one ``key: value`` line per part the kubelet and containerd use."""

from __future__ import annotations

_TEXT_KEYS = ("original", "normalized", "registry", "repository", "tag", "digest", "endpoint",
              "default_pull_policy")


def text(doc: dict[str, object]) -> str:
    """``ImageRef.to_json()`` as aligned lines (``-`` for a part that is absent)."""
    width = max(len(k) for k in _TEXT_KEYS) + 1
    return "\n".join(f"{k + ':':<{width}} {'-' if doc[k] is None else doc[k]}" for k in _TEXT_KEYS) + "\n"
