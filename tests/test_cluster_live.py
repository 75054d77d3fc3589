"""The live path against the fake API server, with the real ``kubernetes`` client doing the talking:
pagination, least privilege (403 → notes), auth failures and connection errors (one line), exec
credential plugins, and the same failing containers as from files."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from kubeapi import FakeKubeAPI
from kubeapi import objects as o
from pulldoctor.cluster import SourceSpec, find_failing, load_snapshot
from pulldoctor.errors import ClusterAccessError

IMG = "ghcr.io/acme/web:1.0"
CANARY = "CANARY-pw-7f3a9c"


def cluster(n: int = 7) -> list[dict]:
    objs: list[dict] = []
    for i in range(n):
        p = o.pod(f"web-{i}", containers=[o.container("app", IMG)],
                  statuses=[o.waiting("app", IMG, "ImagePullBackOff", f'Back-off pulling image "{IMG}"')],
                  pull_secrets=["regcred"] if i % 2 else None)
        objs += [p, o.event(p, "Pulling", f'Pulling image "{IMG}"', container="app", count=2, first=0, last=30),
                 o.event(p, "Failed", f'Failed to pull image "{IMG}": 401 Unauthorized', container="app",
                         first=1, last=31)]
    objs += [o.pod("fine", phase="Running", statuses=[o.running("app", "nginx:1.25")]),
             o.pod("other-ns", namespace="prod", statuses=[o.waiting("app", IMG, "ErrImagePull", "boom")]),
             o.node("node-1", images=["docker.io/library/nginx:1.25"]),
             o.service_account(pull_secrets=["sa-cred"]),
             o.secret("regcred", auths={"ghcr.io": ("robot", CANARY)}),
             o.secret("unrelated", auths={"quay.io": ("x", "y")})]
    return objs


@pytest.fixture
def api():
    with FakeKubeAPI(cluster()) as server:
        yield server


def spec(api: FakeKubeAPI, tmp_path: Path, **kw) -> SourceSpec:
    exec_plugin = kw.pop("exec_plugin", False)
    kc = api.write_kubeconfig(tmp_path / "kubeconfig", exec_plugin=exec_plugin)
    return SourceSpec(kubeconfig=str(kc), request_timeout=5, **kw)


def test_pagination_really_pages(api: FakeKubeAPI, tmp_path: Path) -> None:
    snap = load_snapshot(spec(api, tmp_path, page_size=3))
    pages = api.pages("/api/v1/namespaces/default/pods")
    assert len(pages) == 3 and [p.query["limit"] for p in pages] == ["3"] * 3
    assert "continue" not in pages[0].query and all("continue" in p.query for p in pages[1:])
    assert len(api.pages("/api/v1/namespaces/default/events")) == 5  # 14 events, 3 a page
    assert len(snap.pods) == 8 and len(snap.events) == 14
    rep = find_failing(snap)
    assert sorted(f.pod for f in rep.failing) == [f"web-{i}" for i in range(7)]
    f1 = next(f for f in rep.failing if f.pod == "web-1")
    assert f1.timeline.attempts == 2 and f1.timeline.last_failure_message.endswith("401 Unauthorized")
    assert [e.key for e in f1.keyring_entries] == ["ghcr.io"]
    f0 = next(f for f in rep.failing if f.pod == "web-0")
    assert (f0.pull_secrets.source, f0.pull_secrets.missing) == ("service account default", ["sa-cred"])


def test_reads_only_what_the_failing_pods_use(api: FakeKubeAPI, tmp_path: Path) -> None:
    load_snapshot(spec(api, tmp_path))
    paths = {r.path for r in api.requests}
    assert "/api/v1/namespaces/default/secrets/regcred" in paths
    assert not any(p.endswith("/secrets") or "unrelated" in p for p in paths)  # no secret listing
    assert "/api/v1/nodes/node-1" in paths and "/api/v1/nodes" not in paths


def test_namespace_flag_and_all_namespaces(api: FakeKubeAPI, tmp_path: Path) -> None:
    snap = load_snapshot(spec(api, tmp_path, namespace="prod"))
    assert [p.metadata.name for p in snap.pods] == ["other-ns"]
    snap = load_snapshot(spec(api, tmp_path, all_namespaces=True))
    assert len(snap.pods) == 9 and "/api/v1/pods" in {r.path for r in api.requests}
    assert sorted({f.namespace for f in find_failing(snap).failing}) == ["default", "prod"]


def test_pod_field_selector(api: FakeKubeAPI, tmp_path: Path) -> None:
    snap = load_snapshot(spec(api, tmp_path, pod="web-3"))
    assert [p.metadata.name for p in snap.pods] == ["web-3"]
    assert api.pages("/pods")[0].query["fieldSelector"] == "metadata.name=web-3"


def test_forbidden_secrets_are_a_note_not_a_missing_secret(api: FakeKubeAPI, tmp_path: Path) -> None:
    api.forbid("secrets")
    snap = load_snapshot(spec(api, tmp_path))
    assert "could not read secrets in namespace default: forbidden; pull secrets were not checked" in snap.notes
    for f in find_failing(snap).failing:
        assert f.pull_secrets.missing == [] and not f.pull_secrets.checked


def test_forbidden_core_events_fall_back_to_events_k8s_io(api: FakeKubeAPI, tmp_path: Path) -> None:
    api.forbid("events")
    snap = load_snapshot(spec(api, tmp_path))
    assert api.pages("/apis/events.k8s.io/v1/namespaces/default/events")
    assert len(snap.events) == 14 and all(e.regarding and e.involved_object is None for e in snap.events)
    f = next(f for f in find_failing(snap).failing if f.pod == "web-2")
    assert f.timeline.attempts == 2 and f.timeline.failed == 1
    api.forbid("events.k8s.io/events")
    snap = load_snapshot(spec(api, tmp_path))
    assert any(n.startswith("could not list events in namespace default: forbidden") for n in snap.notes)
    f = find_failing(snap).failing[0]
    assert not f.timeline.events_expired  # not read is not expired


def test_forbidden_nodes_and_service_accounts(api: FakeKubeAPI, tmp_path: Path) -> None:
    api.forbid("nodes")
    api.forbid("serviceaccounts", "default")
    snap = load_snapshot(spec(api, tmp_path))
    text = " | ".join(snap.notes)
    assert "could not read nodes: forbidden" in text and "could not read service accounts" in text
    f0 = next(f for f in find_failing(snap).failing if f.pod == "web-0")
    assert not f0.pull_secrets.checked and f0.pull_secrets.missing == []


@pytest.mark.parametrize("status", [401, 403])
def test_no_access_to_pods_is_one_line(api: FakeKubeAPI, tmp_path: Path, status: int) -> None:
    if status == 403:
        api.forbid("pods")
        s = spec(api, tmp_path)
    else:
        kc = api.write_kubeconfig(tmp_path / "kc", token="wrong-token")
        s = SourceSpec(kubeconfig=str(kc), request_timeout=5)
    with pytest.raises(ClusterAccessError) as err:
        load_snapshot(s)
    text = str(err.value)
    assert "\n" not in text and text.startswith("cannot list pods in namespace default: ")
    assert ("forbidden" if status == 403 else "unauthorized") in text
    assert "wrong-token" not in text


def test_exec_credential_plugin(api: FakeKubeAPI, tmp_path: Path) -> None:
    snap = load_snapshot(spec(api, tmp_path, exec_plugin=True))
    assert api.exec_runs >= 1
    assert all(r.authorization == "Bearer test-token" for r in api.requests)
    assert len(find_failing(snap).failing) == 7


def test_connection_refused_is_one_line(api: FakeKubeAPI, tmp_path: Path) -> None:
    s = spec(api, tmp_path)
    api.go_away(30)
    t = time.monotonic()
    with pytest.raises(ClusterAccessError, match=r"^cannot reach the Kubernetes API at http://127\.0\.0\.1:\d+ "
                                                 r"\(connection refused\)$"):
        load_snapshot(s)
    assert time.monotonic() - t < 10


def test_server_comes_back_after_going_away(api: FakeKubeAPI, tmp_path: Path) -> None:
    s = spec(api, tmp_path)
    api.go_away(0.3)
    time.sleep(0.8)
    assert len(load_snapshot(s).pods) == 8


def test_bad_kubeconfig_is_one_line(tmp_path: Path) -> None:
    kc = tmp_path / "kc"
    kc.write_text("apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n")
    with pytest.raises(ClusterAccessError, match="^kubeconfig") as err:
        load_snapshot(SourceSpec(kubeconfig=str(kc)))
    assert "\n" not in str(err.value)
    with pytest.raises(ClusterAccessError, match="^kubeconfig"):
        load_snapshot(SourceSpec(kubeconfig=str(tmp_path / "absent")))


def test_live_and_files_find_the_same_failures(api: FakeKubeAPI, tmp_path: Path) -> None:
    live = find_failing(load_snapshot(spec(api, tmp_path)))
    f = tmp_path / "dump.json"
    f.write_text(json.dumps(o.as_list([x for x in cluster() if x["metadata"].get("namespace", "default")
                                       in ("default", "")])))
    files = find_failing(load_snapshot(f))
    key = lambda r: sorted((x.pod, x.container, x.waiting_reason, x.image, x.pull_policy) for x in r.failing)  # noqa: E731
    assert key(live) == key(files) and len(key(live)) == 7


def test_fake_server_watch_with_the_real_client(api: FakeKubeAPI, tmp_path: Path) -> None:
    """The exporter will watch; the fake server's stream works with kubernetes.watch as-is."""
    from kubernetes import client, config, watch

    kc = api.write_kubeconfig(tmp_path / "kc")
    core = client.CoreV1Api(config.new_client_from_config(config_file=str(kc)))
    rv = str(api.resource_version)
    seen: list[tuple[str, str]] = []

    def later() -> None:
        time.sleep(0.3)
        api.add(o.pod("new-pod"))
        api.delete("Pod", "web-0", "default")
        time.sleep(0.3)
        api.close_watches()

    threading.Thread(target=later, daemon=True).start()
    w = watch.Watch()
    for ev in w.stream(core.list_namespaced_pod, namespace="default", resource_version=rv, timeout_seconds=5,
                       _request_timeout=10):
        seen.append((ev["type"], ev["object"].metadata.name))
        if len(seen) == 2:
            w.stop()
    assert seen == [("ADDED", "new-pod"), ("DELETED", "web-0")]
    api.expire()
    with pytest.raises(client.exceptions.ApiException) as err:
        for _ in watch.Watch().stream(core.list_namespaced_pod, namespace="default", resource_version=rv,
                                      timeout_seconds=2, _request_timeout=5):
            pass
    assert err.value.status == 410


def test_context_namespace_and_unknown_context(tmp_path: Path) -> None:
    with FakeKubeAPI(cluster()) as server:
        kc = server.write_kubeconfig(tmp_path / "kc", namespace="prod", context="staging")
        snap = load_snapshot(SourceSpec(kubeconfig=str(kc), context="staging"))
        assert [p.metadata.name for p in snap.pods] == ["other-ns"]
        with pytest.raises(ClusterAccessError, match="^kubeconfig: .*nope") as err:
            load_snapshot(SourceSpec(kubeconfig=str(kc), context="nope"))
        assert "\n" not in str(err.value)


def test_no_kubeconfig_and_not_in_a_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ClusterAccessError, match=r"^no kubeconfig .* --from FILE"):
        load_snapshot(SourceSpec())


def test_many_failing_namespaces_list_events_once_cluster_wide(tmp_path: Path) -> None:
    objs: list[dict] = []
    for i in range(22):
        p = o.pod("p", namespace=f"ns-{i}", statuses=[o.waiting("app", IMG, "ErrImagePull", "x")])
        objs += [p, o.event(p, "Failed", "Failed to pull image: x", container="app")]
    with FakeKubeAPI(objs) as server:
        snap = load_snapshot(spec(server, tmp_path, all_namespaces=True))
        assert len(server.pages("/api/v1/events")) == 1
        assert not any("/namespaces/" in r.path and r.path.endswith("/events") for r in server.requests)
        rep = find_failing(snap)
        assert len(rep.failing) == 22 and all(f.timeline.failed == 1 for f in rep.failing)


def test_expired_continue_token_restarts_the_listing(tmp_path: Path) -> None:
    with FakeKubeAPI(cluster()) as server:
        s = spec(server, tmp_path, page_size=2)
        original = server._list
        calls = {"n": 0}

        def flaky(resource, namespace, query):
            calls["n"] += 1
            if calls["n"] == 2:  # the second page: etcd compacted meanwhile
                server.expire()
            return original(resource, namespace, query)

        server._list = flaky  # type: ignore[method-assign]
        snap = load_snapshot(s)
        assert len(snap.pods) == 8
        assert any(r.status == 410 for r in server.requests)


def test_raw_watch_lines_decode_with_the_same_model(api: FakeKubeAPI, tmp_path: Path) -> None:
    """The exporter's building block: the fake server's raw watch stream through ``decode_watch_line``."""
    import urllib.request

    from pulldoctor.cluster.model import Pod, decode_watch_line

    rv = api.resource_version
    api.add(o.pod("new", statuses=[o.waiting("app", IMG, "ErrImagePull", "boom")]))
    api.expire()
    req = urllib.request.Request(f"{api.url}/api/v1/namespaces/default/pods?watch=1&resourceVersion={rv}",
                                 headers={"Authorization": "Bearer test-token"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=5)
    assert err.value.code == 410
    rv = api.resource_version
    req = urllib.request.Request(f"{api.url}/api/v1/namespaces/default/pods?watch=1&resourceVersion={rv}"
                                 "&timeoutSeconds=3", headers={"Authorization": "Bearer test-token"})
    threading.Timer(0.2, lambda: (api.delete("Pod", "new", "default"),
                                  api.push("pods", "ERROR", {"kind": "Status", "code": 500}),
                                  api.close_watches())).start()
    with urllib.request.urlopen(req, timeout=5) as resp:
        lines = [decode_watch_line(line, "Pod") for line in resp if line.strip()]
    assert [t for t, _ in lines] == ["DELETED", "ERROR"]
    assert isinstance(lines[0][1], Pod) and lines[0][1].metadata.name == "new"


def _tls_api(tmp_path: Path) -> FakeKubeAPI:
    from parts import need_binary

    need_binary("openssl")
    return FakeKubeAPI(cluster(), tls_dir=tmp_path / "tls")


def test_tls_kubeconfig_with_a_ca(tmp_path: Path) -> None:
    with _tls_api(tmp_path) as server:
        assert server.url.startswith("https://")
        snap = load_snapshot(spec(server, tmp_path))
        assert len(find_failing(snap).failing) == 7
        kc = tmp_path / "untrusted"
        kc.write_text(server.write_kubeconfig(tmp_path / "kc2").read_text().replace(
            f"certificate-authority: {server.ca_file}", "insecure-skip-tls-verify: false"))
        with pytest.raises(ClusterAccessError, match="certificate verify failed") as err:
            load_snapshot(SourceSpec(kubeconfig=str(kc), request_timeout=5))
        assert "\n" not in str(err.value)


def test_in_cluster_service_account(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kubernetes.config import incluster_config

    import pulldoctor.kubeapi.config as api_config

    with _tls_api(tmp_path) as server:
        sa = tmp_path / "sa"
        sa.mkdir()
        (sa / "token").write_text("test-token")
        (sa / "namespace").write_text("prod")
        monkeypatch.setattr(incluster_config, "SERVICE_TOKEN_FILENAME", str(sa / "token"))
        monkeypatch.setattr(incluster_config, "SERVICE_CERT_FILENAME", str(server.ca_file))
        monkeypatch.setattr(api_config, "_IN_CLUSTER_NS", sa / "namespace")
        monkeypatch.setenv("HOME", str(tmp_path))
        monkeypatch.delenv("KUBECONFIG", raising=False)
        monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        monkeypatch.setenv("KUBERNETES_SERVICE_PORT", str(server.port))
        snap = load_snapshot(SourceSpec(request_timeout=5))
        assert [p.metadata.name for p in snap.pods] == ["other-ns"]  # the pod's own namespace
        assert snap.source.startswith(f"cluster https://127.0.0.1:{server.port}")
        assert all(r.authorization.lower() == "bearer test-token" for r in server.requests)
