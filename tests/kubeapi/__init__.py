"""Test helpers for the cluster side: Kubernetes object factories and a fake Kubernetes API server.

``objects``: API-shaped dicts — ``pod``, ``container``, ``waiting``/``running`` statuses, ``event``
(core/v1) and ``event_v1`` (events.k8s.io/v1), ``node``, ``secret`` (docker config payloads),
``service_account``, ``as_list`` (a kubectl ``List`` or a typed ``PodList``…).

``FakeKubeAPI`` (``server.py``): a stdlib HTTP/1.1 server on 127.0.0.1 (free port) serving the REST API
from those objects, so the real ``kubernetes`` client does the talking::

    with FakeKubeAPI([pod, event, node], token="test-token") as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kc")            # bearer token
        kubeconfig = api.write_kubeconfig(tmp_path / "kc", exec_plugin=True)   # ExecCredential plugin
        ...                                                           # api.exec_runs counts plugin runs

Served: ``/version``; lists of pods, events, secrets, serviceaccounts (all namespaces or
``/namespaces/{ns}/…``), nodes, and ``/apis/events.k8s.io/v1/…/events`` with ``limit``/``continue``,
``resourceVersion`` and ``fieldSelector`` (``a.b=c,…``); single objects by name (404 Status when absent);
``?watch=1`` streams (chunked JSON lines ``{"type": ADDED|MODIFIED|DELETED|ERROR, "object": …}``) that replay
changes after ``resourceVersion`` and then follow the store.

Controls:
- ``add(obj)`` / ``update(obj)`` / ``delete(kind, name, namespace)``: change the store; watchers see it.
- ``push(resource, type, obj)``: a raw watch event, the store untouched.
- ``close_watches()``: end every open stream; ``expire()``: open watches get ERROR 410 and older
  resourceVersions (watch or ``continue``) answer 410 Gone.
- ``go_away(seconds)``: the port refuses connections, then serves again on the same port.
- ``forbid(resource, namespace=None)`` / ``allow(…)``: 403 for "pods", "secrets", "events",
  "events.k8s.io/events", "nodes", "serviceaccounts".
- A wrong or missing bearer token is a 401 (``token=None`` turns the check off).
- ``FakeKubeAPI(..., tls_dir=path)`` serves HTTPS with a self-signed certificate for 127.0.0.1 (made with the
  ``openssl`` CLI); ``ca_file`` is its CA and ``write_kubeconfig`` references it.
- ``requests``: every request seen (method, path, query, status, authorization); ``pages(suffix)`` the
  list requests (not watches) of a path, to assert that pagination paged. ``resource_version``: current.
"""

from kubeapi.server import EVENTS_V1, RESOURCES, FakeKubeAPI, SeenRequest, to_core_event, to_events_v1

__all__ = ["EVENTS_V1", "RESOURCES", "FakeKubeAPI", "SeenRequest", "to_core_event", "to_events_v1"]
