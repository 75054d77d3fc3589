"""``connect``: the one way pulldoctor reaches a cluster (``diagnose``, ``collect`` and ``serve``).

The official ``kubernetes`` client reads the configuration — the kubeconfig (``--kubeconfig``,
``$KUBECONFIG``, ``~/.kube/config``, ``--context``) or the pod's service account — and runs exec
credential plugins; pulldoctor bounds what it cannot: a plugin that hangs (the client waits for it
without a timeout) is given up on after ``request_timeout``, from any thread, without a signal.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pulldoctor.errors import ClusterAccessError
from pulldoctor.kubeapi.credentials import credential_problem
from pulldoctor.kubeapi.transport import KubeApi
from pulldoctor.redact import remember_client_credentials

_IN_CLUSTER_NS = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")


def connect(*, kubeconfig: str | None = None, context: str | None = None, request_timeout: float = 30.0) -> KubeApi:
    """A ``KubeApi`` for the kubeconfig's cluster (or the service account's), with its namespace, one retry
    on connect and none after a read. Raises ``ClusterAccessError`` (one line)."""
    import yaml
    from kubernetes import client, config  # only here: reading files never imports kubernetes
    from kubernetes.config.config_exception import ConfigException
    from urllib3.util.retry import Retry

    # urllib3 logs each connect retry itself, in its own words and unbounded; the caller says it once, escaped.
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)

    cfg = client.Configuration()
    namespace = "default"
    if kubeconfig and not os.path.isfile(kubeconfig):
        raise ClusterAccessError(f"kubeconfig {kubeconfig} does not exist or is not a file")
    path = kubeconfig or os.environ.get("KUBECONFIG")
    default = Path("~/.kube/config").expanduser()
    try:
        if path or default.exists():
            # An exec credential plugin runs here, with no timeout of the client's own (a cloud CLI
            # waiting on an unreachable metadata server hangs); the request deadline bounds it.
            with _client_errors() as logged:
                loaded = _within(request_timeout, lambda: config.load_kube_config(
                    config_file=path, context=context, client_configuration=cfg, persist_config=False))
            if not loaded:
                raise ClusterAccessError(f"kubeconfig: loading the credentials took more than {request_timeout:g} s "
                                         "(an exec credential plugin that hangs?)")
            if logged:  # the client logs a failed exec plugin and goes on without credentials
                raise ClusterAccessError(f"kubeconfig: {' '.join(logged[-1].split())[:300]}")
            contexts, active = config.list_kube_config_contexts(config_file=path)
            chosen = next((c for c in contexts if c.get("name") == context), active) if context else active
            namespace = ((chosen or {}).get("context") or {}).get("namespace") or "default"
            who = f"kubeconfig user {str(((chosen or {}).get('context') or {}).get('user') or '?')[:100]!r}"
        elif os.environ.get("KUBERNETES_SERVICE_HOST"):
            config.load_incluster_config(client_configuration=cfg)
            who = "the pod's service account token"
            if _IN_CLUSTER_NS.exists():
                namespace = _IN_CLUSTER_NS.read_text().strip() or "default"
        else:
            raise ClusterAccessError(
                "no kubeconfig (~/.kube/config, $KUBECONFIG or --kubeconfig) and not running in a cluster; "
                "give --kubeconfig, or --from FILE to read kubectl output instead")
    except ConfigException as err:
        raise ClusterAccessError(f"kubeconfig: {' '.join(str(err).split())[:300]}") from None
    except (OSError, ValueError, TypeError, KeyError, AttributeError, yaml.YAMLError) as err:
        raise ClusterAccessError(f"kubeconfig could not be read ({type(err).__name__}: "
                                 f"{' '.join(str(err).split())[:200]})") from None
    problem = credential_problem(cfg)
    if problem:  # http.client would refuse the header with a ValueError that quotes the token
        raise ClusterAccessError(f"{who}: {problem}")
    # One retry on connect; none after a read (a stalled server would double the wait).
    cfg.retries = Retry(total=1, connect=1, read=0, status=0, other=0)
    remember_client_credentials(cfg)  # the token, masked wherever text is quoted from now on
    if not str(cfg.host).startswith(("https://", "http://")):  # urllib3 would warn, then guess
        raise ClusterAccessError(f"kubeconfig: the cluster's server {str(cfg.host)[:100]!r} is not an "
                                 "https:// or http:// URL")
    return KubeApi(client.ApiClient(cfg), request_timeout=request_timeout, namespace=namespace)


def _within(seconds: float, load: Callable[[], Any]) -> bool:
    """Run ``load`` in a daemon thread for at most ``seconds``; re-raise what it raised. False: it is still
    running (it is left to finish on its own: nothing can stop the client's plugin runner from outside)."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            load()
        except BaseException as err:  # handed to the caller's thread, which maps it
            failure.append(err)

    worker = threading.Thread(target=run, name="pulldoctor-kubeconfig", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        return False
    if failure:
        raise failure[0]
    return True


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
