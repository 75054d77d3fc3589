"""A small fake Kubernetes API server on 127.0.0.1, for tests that let the real client do the talking.

Stdlib only (``ThreadingHTTPServer``, HTTP/1.1). It serves, from objects given as API-shaped dicts
(see ``objects``):

- ``GET /version``
- lists: ``/api/v1/{pods,events,secrets,serviceaccounts,nodes,namespaces}`` (all namespaces / cluster-scoped;
  namespaces are only those added as ``Namespace`` objects),
  ``/api/v1/namespaces/{ns}/{resource}``, ``/apis/events.k8s.io/v1/[namespaces/{ns}/]events``
  — with ``limit``/``continue`` pagination, ``resourceVersion`` and simple ``fieldSelector`` (``a.b=c,…``);
- single objects: ``…/{resource}/{name}`` (404 Status when absent);
- the kubelet's node log query through the node proxy (KEP-2258): ``/api/v1/nodes/{node}/proxy/logs/`` with
  ``query`` (units, repeatable), ``pattern`` (a regex), ``sinceTime`` — answered as the kubelet answers:
  ``journalctl --utc --output=short-precise`` text of the entries given with ``node_log(node, entries)``;
  ``forbid("nodes/proxy")`` answers 403, ``node_log_query(False)`` 404 (the kubelet's handler off);
- watches: ``?watch=1`` streams chunked JSON lines ``{"type": "ADDED|MODIFIED|DELETED|ERROR", "object": …}``,
  replaying changes after ``resourceVersion`` and then following ``add``/``update``/``delete``/``push``.

Test controls: ``forbid(resource, namespace=None)`` (403), a bearer token check (401), ``close_watches()``,
``expire()`` (watches and old resourceVersions answer 410 Gone), ``go_away(seconds)`` (the port refuses
connections for a while), and ``requests`` (what the server saw, to assert pagination really paged).
``write_kubeconfig`` writes a kubeconfig pointing at the server, optionally with an ``exec`` credential
plugin (a tiny Python script printing an ExecCredential; ``exec_runs`` counts its runs).
"""

from __future__ import annotations

import base64
import copy
import json
import queue
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml

#: resource (plural) -> (kind, namespaced)
RESOURCES: dict[str, tuple[str, bool]] = {
    "pods": ("Pod", True), "events": ("Event", True), "secrets": ("Secret", True),
    "serviceaccounts": ("ServiceAccount", True), "nodes": ("Node", False), "namespaces": ("Namespace", False),
    # pods' owners, GET by name: group/resource, as the API paths /apis/GROUP/VERSION/... name them
    "apps/replicasets": ("ReplicaSet", True), "apps/deployments": ("Deployment", True),
    "apps/statefulsets": ("StatefulSet", True), "apps/daemonsets": ("DaemonSet", True),
    "batch/jobs": ("Job", True), "batch/cronjobs": ("CronJob", True), "argoproj.io/rollouts": ("Rollout", True),
}
KIND_RESOURCE = {kind: res for res, (kind, _) in RESOURCES.items()}
EVENTS_V1 = "events.k8s.io/events"
MAX_WATCH_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class SeenRequest:
    method: str
    path: str
    query: dict[str, str]
    status: int
    authorization: str


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def to_events_v1(ev: dict[str, Any]) -> dict[str, Any]:
    """A core/v1 event as events.k8s.io/v1 serves it."""
    out = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": ev.get("metadata", {}),
           "regarding": ev.get("involvedObject"), "note": ev.get("message", ""), "reason": ev.get("reason"),
           "type": ev.get("type"), "eventTime": ev.get("eventTime"),
           "reportingController": ev.get("reportingComponent") or (ev.get("source") or {}).get("component", ""),
           "deprecatedCount": ev.get("count"), "deprecatedFirstTimestamp": ev.get("firstTimestamp"),
           "deprecatedLastTimestamp": ev.get("lastTimestamp")}
    if ev.get("series"):
        out["series"] = ev["series"]
    return out


def to_core_event(ev: dict[str, Any]) -> dict[str, Any]:
    """An events.k8s.io/v1 event as core/v1 serves it."""
    if ev.get("apiVersion") != "events.k8s.io/v1":
        return ev
    out = {"apiVersion": "v1", "kind": "Event", "metadata": ev.get("metadata", {}),
           "involvedObject": ev.get("regarding"), "message": ev.get("note", ""), "reason": ev.get("reason"),
           "type": ev.get("type"), "eventTime": ev.get("eventTime"), "count": ev.get("deprecatedCount"),
           "firstTimestamp": ev.get("deprecatedFirstTimestamp"), "lastTimestamp": ev.get("deprecatedLastTimestamp"),
           "reportingComponent": ev.get("reportingController", "")}
    if ev.get("series"):
        out["series"] = ev["series"]
    return out


def _get_path(obj: Any, dotted: str) -> str:
    for part in dotted.split("."):
        obj = obj.get(part) if isinstance(obj, dict) else None
    return "" if obj is None else str(obj)


def _self_signed(directory: Path) -> Path:
    """A self-signed certificate for 127.0.0.1 (openssl CLI); returns the certificate, which is its own CA."""
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / "server.crt", directory / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=fake-kube",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True, timeout=30)
    return cert


class _Watch:
    def __init__(self, resource: str, namespace: str | None) -> None:
        self.resource, self.namespace = resource, namespace
        self.q: queue.Queue[dict[str, Any] | None] = queue.Queue()


class FakeKubeAPI:
    """The fake API server. Use as a context manager, or ``start()``/``stop()``."""

    def __init__(self, objects: Iterable[dict[str, Any]] = (), *, token: str | None = "test-token",
                 tls_dir: Path | None = None) -> None:
        self.token = token
        self.ca_file: Path | None = None
        self._ssl: ssl.SSLContext | None = None
        if tls_dir is not None:
            self.ca_file = _self_signed(tls_dir)
            self._ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._ssl.load_cert_chain(self.ca_file, tls_dir / "server.key")
        self._lock = threading.RLock()
        self._store: dict[str, dict[tuple[str, str], dict[str, Any]]] = {r: {} for r in RESOURCES}
        self._rv = 1
        self._log: list[tuple[int, str, str, dict[str, Any]]] = []  # (rv, resource, type, object)
        self._compacted = 0
        self._forbidden: set[tuple[str, str | None]] = set()
        self._watches: list[_Watch] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.port = 0
        self.requests: list[SeenRequest] = []
        self._exec_counter: Path | None = None
        self._comeback: threading.Timer | None = None
        self._node_logs: dict[str, list[tuple[datetime, str, str]]] = {}
        self._node_log_query = True
        for obj in objects:
            self.add(obj, notify=False)

    # --- lifecycle -------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"{'https' if self._ssl else 'http'}://127.0.0.1:{self.port}"

    def start(self) -> FakeKubeAPI:
        self._serve(self.port)
        return self

    def _serve(self, port: int) -> None:
        api = self

        class Handler(_Handler):
            server_api = api

        httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        httpd.daemon_threads = True
        if self._ssl is not None:
            httpd.socket = self._ssl.wrap_socket(httpd.socket, server_side=True, do_handshake_on_connect=False)
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._stopping.clear()
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def _shutdown_listener(self) -> None:
        if self._httpd is not None:
            self._stopping.set()
            self.close_watches()
            self._httpd.shutdown()
            self._httpd.server_close()
            if self._thread is not None:
                self._thread.join(5)
            self._httpd = None

    def stop(self) -> None:
        if self._comeback is not None:  # a pending go_away must not bring the server back after the test
            self._comeback.cancel()
            self._comeback = None
        self._shutdown_listener()

    def __enter__(self) -> FakeKubeAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def go_away(self, seconds: float) -> None:
        """Close the port (connections are refused), then listen again on the same port after ``seconds``."""
        port = self.port
        self._shutdown_listener()

        def back() -> None:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    self._serve(port)
                    return
                except OSError:
                    time.sleep(0.05)

        timer = threading.Timer(seconds, back)
        timer.daemon = True
        self._comeback = timer
        timer.start()

    # --- state -----------------------------------------------------------------------------------

    @staticmethod
    def _resource_of(obj: dict[str, Any]) -> str:
        return KIND_RESOURCE[obj["kind"]]

    def _change(self, resource: str, type_: str, obj: dict[str, Any], notify: bool) -> None:
        self._rv += 1
        obj.setdefault("metadata", {})["resourceVersion"] = str(self._rv)
        self._log.append((self._rv, resource, type_, copy.deepcopy(obj)))
        if notify:
            self._notify(resource, type_, obj)

    def add(self, obj: dict[str, Any], *, notify: bool = True) -> dict[str, Any]:
        """Add (or replace, as MODIFIED) an object; watchers see it."""
        obj = copy.deepcopy(obj)
        if obj.get("kind") == "Event":
            obj = to_core_event(obj)
        resource = self._resource_of(obj)
        meta = obj.setdefault("metadata", {})
        key = (meta.get("namespace", "") if RESOURCES[resource][1] else "", meta["name"])
        with self._lock:
            type_ = "MODIFIED" if key in self._store[resource] else "ADDED"
            self._store[resource][key] = obj
            self._change(resource, type_, obj, notify)
        return obj

    update = add

    def delete(self, kind: str, name: str, namespace: str = "") -> None:
        resource = KIND_RESOURCE[kind]
        with self._lock:
            obj = self._store[resource].pop((namespace if RESOURCES[resource][1] else "", name))
            self._change(resource, "DELETED", obj, True)

    def forbid(self, resource: str, namespace: str | None = None) -> None:
        """Answer 403 to requests for ``resource`` ("secrets", "events", "events.k8s.io/events", …),
        in one namespace or (None) everywhere."""
        self._forbidden.add((resource, namespace))

    def node_log(self, node: str, entries: Iterable[tuple[datetime, str, str]]) -> None:
        """What the node's journal holds: (UTC time, unit, message) entries."""
        with self._lock:
            self._node_logs[node] = sorted(entries)

    def node_log_query(self, enabled: bool) -> None:
        self._node_log_query = enabled

    def _node_log_text(self, node: str, query: dict[str, list[str]]) -> str:
        """The kubelet's answer: ``journalctl --utc --output=short-precise -u U… --grep P --since T``."""
        import re

        units = set(query.get("query", []))
        pattern = re.compile(query["pattern"][-1]) if query.get("pattern") else None
        since = datetime.fromisoformat(query["sinceTime"][-1].replace("Z", "+00:00")) if query.get("sinceTime") \
            else None
        out = []
        for at, unit, msg in self._node_logs.get(node, []):
            if (units and unit not in units) or (since and at < since) or (pattern and not pattern.search(msg)):
                continue
            out.append(f"{at.strftime('%b %d %H:%M:%S.%f')} {node.split('.')[0]} {unit}[{100 + len(unit)}]: {msg}\n")
        return "".join(out)

    def allow(self, resource: str, namespace: str | None = None) -> None:
        self._forbidden.discard((resource, namespace))

    @property
    def resource_version(self) -> int:
        return self._rv

    def pages(self, path_suffix: str) -> list[SeenRequest]:
        """The list requests (not watches) whose path ends with ``path_suffix``."""
        return [r for r in self.requests if r.path.endswith(path_suffix) and "watch" not in r.query]

    # --- watch control ---------------------------------------------------------------------------

    def _notify(self, resource: str, type_: str, obj: dict[str, Any]) -> None:
        for w in list(self._watches):
            if w.resource in (resource, EVENTS_V1 if resource == "events" else None) and (
                w.namespace is None or w.namespace == obj.get("metadata", {}).get("namespace")
            ):
                body = to_events_v1(obj) if w.resource == EVENTS_V1 else obj
                w.q.put({"type": type_, "object": copy.deepcopy(body)})

    def push(self, resource: str, type_: str, obj: dict[str, Any]) -> None:
        """Send a raw watch event to current watchers of ``resource`` without touching the store."""
        for w in list(self._watches):
            if w.resource == resource:
                w.q.put({"type": type_, "object": obj})

    def close_watches(self) -> None:
        """End every open watch stream (the client sees the response end, as after a server timeout)."""
        for w in list(self._watches):
            w.q.put(None)

    def expire(self) -> None:
        """Compact history: open watches get an ERROR 410 event, and resourceVersions up to now are too old."""
        with self._lock:
            self._compacted = self._rv
            self._rv += 1  # new listings start after the compaction point
        gone = {"type": "ERROR", "object": _status(410, "Expired", "too old resource version")}
        for w in list(self._watches):
            w.q.put(gone)
            w.q.put(None)

    # --- kubeconfig ------------------------------------------------------------------------------

    def write_kubeconfig(self, path: Path, *, exec_plugin: bool = False, namespace: str = "default",
                         context: str = "fake", token: str | None = None) -> Path:
        """A kubeconfig for this server: a bearer token, or an ``exec`` plugin that prints one."""
        token = token if token is not None else (self.token or "")
        user: dict[str, Any] = {"token": token}
        if exec_plugin:
            script = path.parent / "fake-credential-plugin.py"
            self._exec_counter = path.parent / "fake-credential-plugin.runs"
            script.write_text(
                "import json, os, sys\n"
                f"with open({str(self._exec_counter)!r}, 'a') as fh: fh.write('x')\n"
                "json.dump({'apiVersion': 'client.authentication.k8s.io/v1beta1', 'kind': 'ExecCredential',\n"
                "           'status': {'token': os.environ['FAKE_TOKEN']}}, sys.stdout)\n"
            )
            user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1", "command": sys.executable,
                             "args": [str(script)], "env": [{"name": "FAKE_TOKEN", "value": token}],
                             "interactiveMode": "Never"}}
        cfg = {"apiVersion": "v1", "kind": "Config", "current-context": context,
               "clusters": [{"name": "fake", "cluster": {"server": self.url, **(
                   {"certificate-authority": str(self.ca_file)} if self.ca_file else {})}}],
               "users": [{"name": "fake-user", "user": user}],
               "contexts": [{"name": context, "context": {"cluster": "fake", "user": "fake-user",
                                                          "namespace": namespace}}]}
        path.write_text(yaml.safe_dump(cfg))
        return path

    @property
    def exec_runs(self) -> int:
        return len(self._exec_counter.read_text()) if self._exec_counter and self._exec_counter.exists() else 0

    # --- serving (called by the handler) -----------------------------------------------------------

    def _list(self, resource: str, namespace: str | None, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        store_res = "events" if resource == EVENTS_V1 else resource
        with self._lock:
            items = [o for (ns, _), o in sorted(self._store[store_res].items())
                     if namespace is None or ns == namespace]
            rv = self._rv
        if resource == EVENTS_V1:
            items = [to_events_v1(o) for o in items]
        for sel in filter(None, query.get("fieldSelector", "").split(",")):
            k, _, v = sel.partition("=")
            items = [o for o in items if _get_path(o, k.rstrip("=")) == v.lstrip("=")]
        offset = 0
        if query.get("continue"):
            try:
                token = json.loads(base64.urlsafe_b64decode(query["continue"]))
                offset, rv = int(token["offset"]), int(token["rv"])
            except (ValueError, KeyError):
                return 400, _status(400, "BadRequest", "invalid continue token")
            if rv <= self._compacted:
                return 410, _status(410, "Expired", "The provided continue parameter is too old")
        limit = int(query.get("limit") or 0)
        page = items[offset:offset + limit] if limit > 0 else items[offset:]
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        nxt = offset + len(page)
        if limit > 0 and nxt < len(items):
            meta["continue"] = base64.urlsafe_b64encode(json.dumps({"offset": nxt, "rv": rv}).encode()).decode()
            meta["remainingItemCount"] = len(items) - nxt
        kind = RESOURCES[store_res][0]
        out_items = []
        for o in page:
            out_items.append({k: v for k, v in o.items() if k not in ("kind", "apiVersion")})
        api_version = "events.k8s.io/v1" if resource == EVENTS_V1 else "v1"
        return 200, {"kind": f"{kind}List", "apiVersion": api_version, "metadata": meta, "items": out_items}

    def _get(self, resource: str, namespace: str | None, name: str) -> tuple[int, dict[str, Any]]:
        store_res = "events" if resource == EVENTS_V1 else resource
        with self._lock:
            obj = self._store[store_res].get((namespace or "", name))
        if obj is None:
            return 404, _status(404, "NotFound", f'{resource} "{name}" not found')
        return 200, to_events_v1(obj) if resource == EVENTS_V1 else obj

    def _watch_backlog(self, resource: str, namespace: str | None, since: int) -> list[dict[str, Any]] | None:
        store_res = "events" if resource == EVENTS_V1 else resource
        with self._lock:
            if since and since < self._compacted:
                return None
            return [{"type": t, "object": to_events_v1(o) if resource == EVENTS_V1 else o}
                    for rv, res, t, o in self._log
                    if res == store_res and rv > since and (namespace is None or
                                                          o.get("metadata", {}).get("namespace") == namespace)]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_api: FakeKubeAPI

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        api = self.server_api
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        auth = self.headers.get("Authorization", "")
        status = self._route(api, url.path, query, auth)
        api.requests.append(SeenRequest("GET", url.path, query, status, auth))

    def _route(self, api: FakeKubeAPI, path: str, query: dict[str, str], auth: str) -> int:
        scheme, _, presented = auth.partition(" ")
        if api.token is not None and (scheme.lower() != "bearer" or presented != api.token):  # scheme: any case
            self._send(401, _status(401, "Unauthorized", "Unauthorized"))
            return 401
        if path == "/version":
            self._send(200, {"major": "1", "minor": "31", "gitVersion": "v1.31.4", "platform": "linux/amd64"})
            return 200
        parts = [p for p in path.split("/") if p]
        if parts[:3] == ["api", "v1", "nodes"] and len(parts) >= 6 and parts[4:6] == ["proxy", "logs"]:
            return self._node_logs(api, parts[3])
        group = ""
        if parts[:2] == ["api", "v1"]:
            rest = parts[2:]
        elif parts[:3] == ["apis", "events.k8s.io", "v1"]:
            rest, group = parts[3:], "events.k8s.io/"
        elif len(parts) == 3 and parts[0] == "apis" and any(r.startswith(parts[1] + "/") for r in RESOURCES):
            # discovery of a group version: what kubectl and pulldoctor read to find a kind's resource name
            found = [{"name": r.split("/", 1)[1], "kind": k, "namespaced": n, "verbs": ["get", "list"]}
                     for r, (k, n) in RESOURCES.items() if r.startswith(parts[1] + "/")]
            self._send(200, {"kind": "APIResourceList", "groupVersion": f"{parts[1]}/{parts[2]}", "resources": found})
            return 200
        elif len(parts) >= 4 and parts[0] == "apis" and parts[1] in ("apps", "batch", "argoproj.io"):
            rest, group = parts[3:], parts[1] + "/"
        else:
            self._send(404, _status(404, "NotFound", "the server could not find the requested resource"))
            return 404
        namespace = None
        if len(rest) >= 3 and rest[0] == "namespaces":
            namespace, rest = rest[1], rest[2:]
        if not rest or (group + rest[0] not in RESOURCES and group + rest[0] != EVENTS_V1) or len(rest) > 2:
            self._send(404, _status(404, "NotFound", "the server could not find the requested resource"))
            return 404
        resource = group + rest[0]
        if (resource, None) in api._forbidden or (resource, namespace) in api._forbidden:
            where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
            verb = "get" if len(rest) == 2 else ("watch" if query.get("watch") in ("1", "true") else "list")
            self._send(403, _status(403, "Forbidden", f'{rest[0]} is forbidden: User "test" cannot {verb} '
                                                      f'resource "{rest[0]}" in API group "{group[:-1]}"{where}'))
            return 403
        if len(rest) == 2:
            code, body = api._get(resource, namespace, rest[1])
            self._send(code, body)
            return code
        if query.get("watch") in ("1", "true"):
            return self._watch(api, resource, namespace, query)
        code, body = api._list(resource, namespace, query)
        self._send(code, body)
        return code

    def _node_logs(self, api: FakeKubeAPI, node: str) -> int:
        if ("nodes/proxy", None) in api._forbidden:
            self._send(403, _status(403, "Forbidden", f'nodes "{node}" is forbidden: User "test" cannot get '
                                                      'resource "nodes/proxy" in API group "" at the cluster scope'))
            return 403
        if ("", node) not in api._store["nodes"]:
            self._send(404, _status(404, "NotFound", f'nodes "{node}" not found'))
            return 404
        if not api._node_log_query:
            data = b"404 page not found\n"
            self.send_response(404)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
        else:
            data = api._node_log_text(node, parse_qs(urlsplit(self.path).query)).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        return 200 if api._node_log_query else 404

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _watch(self, api: FakeKubeAPI, resource: str, namespace: str | None, query: dict[str, str]) -> int:
        since = int(query.get("resourceVersion") or 0)
        backlog = api._watch_backlog(resource, namespace, since)
        if backlog is None:
            self._send(410, _status(410, "Expired", f"too old resource version: {since} ({api._compacted})"))
            return 410
        w = _Watch(resource, namespace)
        api._watches.append(w)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        limit = min(float(query.get("timeoutSeconds") or MAX_WATCH_SECONDS), MAX_WATCH_SECONDS)
        deadline = time.monotonic() + limit
        try:
            for ev in backlog:
                self._chunk(json.dumps(ev).encode() + b"\n")
            while time.monotonic() < deadline and not api._stopping.is_set():
                try:
                    ev = w.q.get(timeout=0.05)
                except queue.Empty:
                    continue
                if ev is None:
                    break
                self._chunk(json.dumps(ev).encode() + b"\n")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (TimeoutError, BrokenPipeError, ConnectionResetError):
            pass
        finally:
            api._watches.remove(w)
            self.close_connection = True
        return 200
