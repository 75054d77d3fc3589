"""The one Kubernetes API client of pulldoctor, used by the CLI's live reader (``cluster.live``) and by
the exporter (``exporter.watch``, ``exporter.context``).

Layout: ``config`` (``connect``: kubeconfig, in-cluster, exec plugins bounded) → ``transport``
(``KubeApi``: a bounded GET, an open stream, and the one mapping from HTTP status or transport failure
to the ``ApiError`` family of ``pulldoctor.errors``; ``deadline`` bounds the headers) → ``pages``
(``limit``/``continue``, caps, 410) and ``lines`` (watch lines, capped). It knows URLs and bytes, not
pods: decoding is the caller's (the cluster package's msgspec schema). Importing it loads neither
``kubernetes`` nor ``urllib3``.
"""

from pulldoctor.kubeapi.config import connect
from pulldoctor.kubeapi.lines import lines
from pulldoctor.kubeapi.pages import Page, list_all, pages
from pulldoctor.kubeapi.transport import CONNECT_TIMEOUT, KubeApi, status_error, transport_error

__all__ = ["CONNECT_TIMEOUT", "KubeApi", "Page", "connect", "lines", "list_all", "pages", "status_error",
           "transport_error"]
