"""``--node-logs api``: the kubelet's node log query through the API server's node proxy
(``GET /api/v1/nodes/NODE/proxy/logs/?query=kubelet&query=containerd&pattern=…&sinceTime=…``, KEP-2258).

Opt-in: it needs RBAC on ``nodes/proxy`` (a powerful permission) and the kubelet's
``enableSystemLogHandler`` and ``enableSystemLogQuery``. The kubelet runs ``journalctl --utc`` for the
units asked, filtered by ``pattern`` (our prefilter's anchors, so only candidate lines travel). Each node is
one bounded GET (``kubeapi.KubeApi.get``: a byte cap and a deadline); a node that cannot be read is a note
with the reason (403, 404, timeout, too large), never an error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import quote

from pulldoctor.errors import ApiError, ApiForbidden, ApiNotFound, ApiTooLarge
from pulldoctor.kubeapi import KubeApi
from pulldoctor.nodelogs.model import NodeLogs
from pulldoctor.nodelogs.scan import ANCHORS
from pulldoctor.nodelogs.sources import add_source
from pulldoctor.redact import printable

#: Bytes of one node's answer (candidate lines only, so far below a log tail's cap).
MAX_API_BYTES = 8 << 20
#: How far back to ask when a container's attempts are not dated (events expired).
DEFAULT_SINCE = timedelta(hours=6)
UNITS = ("kubelet", "containerd", "crio", "docker")
PATTERN = "|".join(re.escape(a.decode()).replace("\\ ", " ") for a in ANCHORS)


def query(since: datetime) -> list[tuple[str, str]]:
    return [*(("query", u) for u in UNITS), ("pattern", PATTERN),
            ("sinceTime", since.strftime("%Y-%m-%dT%H:%M:%SZ"))]


def read_api(api: KubeApi, windows: Mapping[str, datetime | None], out: NodeLogs, *, now: datetime,
             cap: int = MAX_API_BYTES, timeout: float | None = None) -> None:
    """Each node of ``windows`` (node -> the earliest pull attempt on it, None: not dated), read once."""
    for node, start in sorted(windows.items()):
        since = (start - timedelta(hours=1)) if start is not None else now - DEFAULT_SINCE
        path = f"/api/v1/nodes/{quote(node, safe='')}/proxy/logs/"
        try:
            body = api.get(path, query(since), cap=cap, timeout=timeout)
        except ApiForbidden as err:
            out.notes.append(f"node logs of {printable(node)} not read through the API: {err} (the node log "
                             "query needs RBAC on nodes/proxy)")
            continue
        except ApiNotFound as err:
            out.notes.append(f"node logs of {printable(node)} not read through the API: {err} (the kubelet "
                             "must enable enableSystemLogHandler and enableSystemLogQuery)")
            continue
        except ApiTooLarge:
            out.notes.append(f"node logs of {printable(node)} not read through the API: the answer exceeds "
                             f"{cap >> 20} MiB")
            continue
        except ApiError as err:
            out.notes.append(f"node logs of {printable(node)} not read through the API: {err}")
            continue
        add_source(out, node, f"api:{node}", {"journal": ("kubelet", body, len(body))}, {}, now)


def read_live(windows: Mapping[str, datetime | None], out: NodeLogs, *, now: datetime, kubeconfig: str | None,
              context: str | None, request_timeout: float) -> None:
    """Connect as ``diagnose`` does (``kubeapi.connect``) and read each node; a cluster that cannot be
    reached is one note (the diagnosis goes on from the other evidence)."""
    from pulldoctor.errors import ClusterAccessError
    from pulldoctor.kubeapi import connect

    if not windows:
        return
    try:
        api = connect(kubeconfig=kubeconfig, context=context, request_timeout=request_timeout)
    except ClusterAccessError as err:
        out.notes.append(f"node logs not read through the API: {printable(str(err))}")
        return
    try:
        read_api(api, windows, out, now=now)
    finally:
        api.close()
