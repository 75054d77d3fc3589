"""Read a live cluster: the official ``kubernetes`` client for configuration (kubeconfig, ``--context``,
exec credential plugins, in-cluster), auth and transport only; its raw bytes are decoded by ``model``.

What is read, and why so little: pods in scope (paged with ``limit``/``continue``); then, only if some
container cannot get its image, the image events of those namespaces, and exactly the nodes, service
accounts and pull secrets those pods use (GET by name: no secret of the namespace is downloaded that the
kubelet would not use). Least privilege: a 403 on anything but pods is a note, not an error.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import msgspec
from urllib3.util.retry import Retry

from pulldoctor.cluster.failing import is_image_failing
from pulldoctor.cluster.model import (
    LIST_DECODER_FOR_KIND,
    MAX_OBJECTS_PER_DOCUMENT,
    DocumentError,
    Pod,
    check_object_count,
    decode_object,
    decode_with,
)
from pulldoctor.cluster.snapshot import Snapshot, SourceSpec
from pulldoctor.errors import ClusterAccessError

CONNECT_TIMEOUT = 5.0              # seconds; the API server is one hop away
MAX_RESPONSE_BYTES = 512 << 20     # one page or object; real pages of 500 pods are a few MB
MAX_PAGES = 10_000                 # bounds a listing (5 M objects at 500 a page)
MAX_GETS = 500                     # nodes + service accounts + secrets fetched by name
ALL_NAMESPACE_EVENTS_ABOVE = 20    # failing namespaces above which events are listed cluster-wide
_IN_CLUSTER_NS = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


class _Forbidden(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _NotFound(Exception):
    pass


class _Gone(Exception):
    pass


def _status_message(err: Any) -> str:
    """The API's Status.message (one line), else the HTTP reason."""
    try:
        msg = json.loads(err.body or "{}").get("message") or ""
    except (ValueError, AttributeError):
        msg = ""
    return " ".join(str(msg or err.reason or f"HTTP {err.status}").split())[:300]


def connect(spec: SourceSpec) -> LiveSession:
    """The one way pulldoctor reaches a cluster (``diagnose``, ``collect`` and ``serve``): the kubeconfig
    (``spec.kubeconfig``, ``$KUBECONFIG``, ``~/.kube/config``, ``spec.context``) or the pod's service
    account, with the exec credential plugin bounded by ``spec.request_timeout``, one retry on connect and
    the session's ``api_client`` and ``namespace``. Raises ``ClusterAccessError`` (one line)."""
    return LiveSession(spec)


class LiveSession:
    """One API client and the calls pulldoctor makes with it, with timeouts, size caps and error mapping."""

    def __init__(self, spec: SourceSpec) -> None:
        import yaml
        from kubernetes import client, config  # only here: reading files never imports kubernetes
        from kubernetes.config.config_exception import ConfigException

        cfg = client.Configuration()
        self.namespace = "default"
        if spec.kubeconfig and not os.path.isfile(spec.kubeconfig):
            raise ClusterAccessError(f"kubeconfig {spec.kubeconfig} does not exist or is not a file")
        path = spec.kubeconfig or os.environ.get("KUBECONFIG")
        default = Path("~/.kube/config").expanduser()
        try:
            if path or default.exists():
                # An exec credential plugin runs here, with no timeout of the client's own (a cloud CLI
                # waiting on an unreachable metadata server hangs); the request deadline bounds it.
                with _deadline(spec.request_timeout), _client_errors() as logged:
                    config.load_kube_config(config_file=path, context=spec.context, client_configuration=cfg,
                                            persist_config=False)
                if logged:  # the client logs a failed exec plugin and goes on without credentials
                    raise ClusterAccessError(f"kubeconfig: {' '.join(logged[-1].split())[:300]}")
                contexts, active = config.list_kube_config_contexts(config_file=path)
                chosen = next((c for c in contexts if c.get("name") == spec.context), active) if spec.context \
                    else active
                self.namespace = ((chosen or {}).get("context") or {}).get("namespace") or "default"
            elif os.environ.get("KUBERNETES_SERVICE_HOST"):
                config.load_incluster_config(client_configuration=cfg)
                if _IN_CLUSTER_NS.exists():
                    self.namespace = _IN_CLUSTER_NS.read_text().strip() or "default"
            else:
                raise ClusterAccessError(
                    "no kubeconfig (~/.kube/config, $KUBECONFIG or --kubeconfig) and not running in a cluster; "
                    "give --kubeconfig, or --from FILE to read kubectl output instead")
        except _DeadlineExceeded:
            raise ClusterAccessError(f"kubeconfig: loading the credentials took more than {spec.request_timeout:g} s "
                                     "(an exec credential plugin that hangs?)") from None
        except ConfigException as err:
            raise ClusterAccessError(f"kubeconfig: {' '.join(str(err).split())[:300]}") from None
        except (OSError, ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError) as err:
            raise ClusterAccessError(f"kubeconfig could not be read ({type(err).__name__}: "
                                     f"{' '.join(str(err).split())[:200]})") from None
        from pulldoctor.redact import remember_client_credentials

        remember_client_credentials(cfg)  # the token, masked wherever text is quoted from now on
        # One retry on connect; none after a read (a stalled server would double the wait).
        cfg.retries = Retry(total=1, connect=1, read=0, status=0, other=0)
        if not str(cfg.host).startswith(("https://", "http://")):  # urllib3 would warn, then guess
            raise ClusterAccessError(f"kubeconfig: the cluster's server {str(cfg.host)[:100]!r} is not an "
                                     "https:// or http:// URL")
        self.host = cfg.host
        self.api_client = client.ApiClient(cfg)
        self.core = client.CoreV1Api(self.api_client)
        self.events_v1 = client.EventsV1Api(self.api_client)
        self.deadline = spec.request_timeout          # whole request: connect, headers, body
        self.timeout = (min(CONNECT_TIMEOUT, spec.request_timeout), spec.request_timeout)  # per socket wait
        self.page_size = max(1, spec.page_size)

    def close(self) -> None:
        try:
            self.api_client.close()
        except Exception:  # pragma: no cover - closing a pool must not mask the result
            pass

    def _call(self, fn: Callable[..., Any], **kwargs: Any) -> bytes:
        """One request; returns the body bytes (capped) or raises _Forbidden/_NotFound/_Gone/ClusterAccessError."""
        try:
            with _deadline(self.deadline):
                return self._request(fn, **kwargs)
        except _DeadlineExceeded:
            raise ClusterAccessError(f"the Kubernetes API at {self.host} did not answer within "
                                     f"{self.deadline:g} s (--request-timeout)") from None

    def _request(self, fn: Callable[..., Any], **kwargs: Any) -> bytes:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError as Urllib3Error

        try:
            resp = fn(_preload_content=False, _request_timeout=self.timeout, **kwargs)
        except ApiException as err:
            if err.status in (401, 403):
                raise _Forbidden(err.status, _status_message(err)) from None
            if err.status == 404:
                raise _NotFound(_status_message(err)) from None
            if err.status == 410:
                raise _Gone(_status_message(err)) from None
            raise ClusterAccessError(f"the Kubernetes API at {self.host} answered {err.status}: "
                                     f"{_status_message(err)}") from None
        except (Urllib3Error, OSError) as err:
            raise ClusterAccessError(f"cannot reach the Kubernetes API at {self.host} ({_short(err)})") from None
        try:
            body: bytes = resp.read(MAX_RESPONSE_BYTES + 1)
        except (Urllib3Error, OSError) as err:
            raise ClusterAccessError(f"the Kubernetes API at {self.host} broke off a response ({_short(err)})") \
                from None
        finally:
            resp.release_conn()
        if len(body) > MAX_RESPONSE_BYTES:
            raise ClusterAccessError(f"a response from {self.host} exceeds {MAX_RESPONSE_BYTES >> 20} MiB; "
                                     "use -n NAMESPACE")
        return body

    def list(self, kind: str, fn: Callable[..., Any], **kwargs: Any) -> list[Any]:
        """Every item of a listing, page by page (``limit``/``continue``); restarts once on 410 Gone."""
        decoder = LIST_DECODER_FOR_KIND[kind]
        for _attempt in range(2):
            items: list[Any] = []
            token = ""
            try:
                for _page in range(MAX_PAGES):
                    args = dict(kwargs, limit=self.page_size)
                    if token:
                        args["_continue"] = token
                    body = self._call(fn, **args)
                    try:
                        check_object_count(body)  # a page of 500 asked for; a server may send millions
                        page = decode_with(decoder, body)
                    except DocumentError as err:
                        raise ClusterAccessError(f"the Kubernetes API at {self.host} sent a {kind} list of {err}")\
                            from None
                    except msgspec.MsgspecError as err:
                        raise ClusterAccessError(f"the Kubernetes API at {self.host} sent a {kind} list "
                                                 f"pulldoctor cannot read ({err})") from None
                    items.extend(page.items)
                    if len(items) > MAX_OBJECTS_PER_DOCUMENT:  # pages are bounded, and so is their sum
                        raise ClusterAccessError(f"listing {kind}s gave more than {MAX_OBJECTS_PER_DOCUMENT}; "
                                                 "use -n NAMESPACE")
                    token = page.metadata.continue_
                    if not token:
                        return items
                raise ClusterAccessError(f"listing {kind}s took more than {MAX_PAGES} pages; use -n NAMESPACE")
            except _Gone:
                continue  # the continue token expired (etcd compaction): list again from the start
        raise ClusterAccessError(f"listing {kind}s: the continue token expired twice; try again")

    def get(self, kind: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        body = self._call(fn, **kwargs)
        try:
            return decode_object(body, kind)
        except msgspec.MsgspecError as err:
            raise ClusterAccessError(f"the Kubernetes API at {self.host} sent a {kind} pulldoctor cannot read "
                                     f"({err})") from None


class _DeadlineExceeded(BaseException):
    """Raised from SIGALRM inside a blocking read: ends one request that outlived its deadline. A
    BaseException, so that no library's ``except Exception`` (the client's exec plugin runner) swallows it."""


@contextlib.contextmanager
def _client_errors() -> Iterator[list[str]]:
    """Collect what the kubernetes client logs at ERROR on the root logger (a failed exec plugin) instead
    of letting logging's last-resort handler print it: the CLI's error stays one line."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    handler = Collect(logging.ERROR)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield messages
    finally:
        root.removeHandler(handler)


@contextlib.contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """A hard bound on one request. Socket timeouts alone are not one: a server that sends a byte every
    few seconds restarts them with each byte. SIGALRM interrupts the blocking read (PEP 475 runs the
    handler, whose exception ends the call); it exists only in the main thread, where the CLI reads the
    cluster — elsewhere the socket timeouts remain the bound."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def on_alarm(_signum: int, _frame: object) -> None:
        raise _DeadlineExceeded

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _short(err: BaseException) -> str:
    reason = getattr(err, "reason", None) or err
    text = " ".join(str(reason).split())
    for known in ("Connection refused", "timed out", "Name or service not known", "No route to host",
                  "certificate verify failed", "Connection reset"):
        if known.lower() in text.lower():
            return known.lower()
    return text[-200:]


def _scope(spec: SourceSpec, session: LiveSession) -> str | None:
    return None if spec.all_namespaces else (spec.namespace or session.namespace)


def _where(ns: str | None) -> str:
    return f"namespace {ns}" if ns else "all namespaces"


def load_live(spec: SourceSpec, snapshot: Snapshot) -> None:
    """Fill ``snapshot`` from the cluster ``spec`` points at (see the module docstring for what is read)."""
    session = connect(spec)
    try:
        _load(spec, session, snapshot)
    finally:
        session.close()


def _load(spec: SourceSpec, s: LiveSession, snap: Snapshot) -> None:
    ns = _scope(spec, s)
    snap.source = f"cluster {s.host} ({_where(ns)})"
    core = s.core
    selector = {"field_selector": f"metadata.name={spec.pod}"} if spec.pod else {}
    try:
        if ns:
            pods = s.list("Pod", core.list_namespaced_pod, namespace=ns, **selector)
        else:
            pods = s.list("Pod", core.list_pod_for_all_namespaces, **selector)
    except _Forbidden as err:
        what = "unauthorized" if err.status == 401 else "forbidden"
        raise ClusterAccessError(f"cannot list pods in {_where(ns)}: {what} ({err})") from None
    snap.add(pods, mark_listed=False)
    snap.mark_listed("Pod", ns)
    failing = [p for p in pods if is_image_failing(p)]
    if not failing:
        return
    namespaces = sorted({p.metadata.namespace for p in failing})
    _load_events(s, snap, ns, namespaces)
    budget = [MAX_GETS]
    _load_nodes(s, snap, sorted({p.spec.node_name for p in failing if p.spec.node_name}), budget)
    sa_secrets = _load_service_accounts(s, snap, failing, budget)
    wanted: dict[str, set[str]] = {}
    for p in failing:
        names = [r.name for r in p.spec.image_pull_secrets if r.name] or \
            sa_secrets.get((p.metadata.namespace, p.spec.service_account_name or "default"), [])
        wanted.setdefault(p.metadata.namespace, set()).update(names)
    _load_secrets(s, snap, wanted, budget)


def _load_events(s: LiveSession, snap: Snapshot, scope: str | None, namespaces: list[str]) -> None:
    """core/v1 events about pods; events.k8s.io/v1 if core/v1 is forbidden. Per failing namespace, or
    cluster-wide when there are many."""
    targets: Iterable[str | None] = [None] if scope is None and len(namespaces) > ALL_NAMESPACE_EVENTS_ABOVE \
        else namespaces
    for ns in targets:
        try:
            items = _list_events(s, s.core, ns, "involvedObject.kind=Pod")
        except _Forbidden:
            try:
                items = _list_events(s, s.events_v1, ns, "regarding.kind=Pod")
            except _Forbidden:
                snap.notes.append(f"could not list events in {_where(ns)}: forbidden; "
                                  "timelines come from waiting messages only")
                continue
        snap.add(items, mark_listed=False)
        snap.mark_listed("Event", ns)


def _list_events(s: LiveSession, api: Any, ns: str | None, selector: str) -> list[Any]:
    """Events of one namespace (or all) from ``api``: core/v1 and events.k8s.io/v1 name their calls alike."""
    if ns:
        return s.list("Event", api.list_namespaced_event, namespace=ns, field_selector=selector)
    return s.list("Event", api.list_event_for_all_namespaces, field_selector=selector)


def _spend(budget: list[int], snap: Snapshot, what: str) -> bool:
    if budget[0] <= 0:
        if not any(n.startswith("more than") for n in snap.notes):
            snap.notes.append(f"more than {MAX_GETS} objects to fetch by name; {what} and later were not read")
        return False
    budget[0] -= 1
    return True


def _load_nodes(s: LiveSession, snap: Snapshot, names: list[str], budget: list[int]) -> None:
    for name in names:
        if not _spend(budget, snap, f"node {name}"):
            return
        try:
            snap.add([s.get("Node", s.core.read_node, name=name)], mark_listed=False)
        except _Forbidden:
            snap.notes.append("could not read nodes: forbidden; node images, platform and disk were not checked")
            return
        except _NotFound:
            snap.notes.append(f"node {name} no longer exists")


def _load_service_accounts(s: LiveSession, snap: Snapshot, failing: list[Pod],
                           budget: list[int]) -> dict[tuple[str, str], list[str]]:
    """The service accounts of pods without their own pull secrets (the only ones whose secrets count)."""
    wanted: dict[str, set[str]] = {}
    for p in failing:
        if not any(r.name for r in p.spec.image_pull_secrets):
            wanted.setdefault(p.metadata.namespace, set()).add(p.spec.service_account_name or "default")
    sas = _get_by_name(s, snap, "ServiceAccount", s.core.read_namespaced_service_account, wanted, budget,
                       "could not read service accounts in namespace {ns}: forbidden; "
                       "pull secrets they add were not checked")
    return {(ns, name): [r.name for r in sa.image_pull_secrets if r.name] for ns, name, sa in sas}


def _load_secrets(s: LiveSession, snap: Snapshot, wanted: dict[str, set[str]], budget: list[int]) -> None:
    """GET exactly the pull secrets in effect; a 404 is a missing secret, a 403 leaves them unchecked."""
    for _ in _get_by_name(s, snap, "Secret", s.core.read_namespaced_secret, wanted, budget,
                          "could not read secrets in namespace {ns}: forbidden; pull secrets were not checked"):
        pass


_WHAT = {"ServiceAccount": "service account", "Secret": "secret"}


def _get_by_name(s: LiveSession, snap: Snapshot, kind: str, read: Callable[..., Any],
                 wanted: dict[str, set[str]], budget: list[int], forbidden: str) -> Iterator[tuple[str, str, Any]]:
    """GET each wanted name of ``kind``, namespace by namespace, adding what exists to ``snap``; yields
    (namespace, name, object). A 404 is an absent object; a 403 notes ``forbidden`` and leaves the rest of
    that namespace unread. A namespace counts as read (so that absent means missing) only when every name
    was answered."""
    for ns, names in sorted(wanted.items()):
        complete = True
        for name in sorted(names):
            if not _spend(budget, snap, f"{_WHAT[kind]} {ns}/{name}"):
                return
            try:
                obj = s.get(kind, read, name=name, namespace=ns)
            except _Forbidden:
                snap.notes.append(forbidden.format(ns=ns))
                complete = False
                break
            except _NotFound:
                continue
            snap.add([obj], mark_listed=False)
            yield ns, name, obj
        if complete and names:
            snap.mark_listed(kind, ns)
