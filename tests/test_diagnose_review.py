"""The review of every verdict as the on-call engineer reads it: the cases the bundled example lacks (Job,
CronJob, ephemeral and bare pods, a pod's imagePullSecrets hiding its service account's, a 403 to an
anonymous pull, an unknown platform list, loopback and plain-HTTP registries, long messages), each checked
on ``diagnose --no-probe -o json``: cause, confidence and the exact commands a person would paste."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))

import kubelet_objects as k

R = "registry.example.invalid"
NS = "t"
NOW = datetime.now(UTC)


def _not_found(img: str) -> str:
    return (f'rpc error: code = NotFound desc = failed to pull and unpack image "{img}": failed to resolve '
            f'reference "{img}": {img}: not found')


def _status(img: str, code: str) -> str:
    return (f'failed to pull and unpack image "{img}": failed to resolve reference "{img}": pulling from host '
            f"{R} failed with status code [manifests 1]: {code}")


def _snapshot(d: Path) -> None:
    """One namespace holding every case; the files are what ``kubectl get -o json`` writes."""
    pods: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []

    def add(name: str, image: str, err: str, **kw: Any) -> None:
        p = k.pod(NS, name, "app", image, reason="ImagePullBackOff", message=k.backoff_message(image, err),
                  node="node-a", created=NOW - timedelta(hours=1), **kw)
        pods.append(p)
        events.extend(k.pull_failure_events(p, err, attempts=6, last=NOW - timedelta(minutes=1)))

    add("job-x7k2p", f"{R}/a/job:1", _not_found(f"{R}/a/job:1"), owner=("Job", "job"))
    add("nightly-28930140-abcde", f"{R}/a/cron:1", _not_found(f"{R}/a/cron:1"), owner=("Job", "nightly-28930140"))
    add("db-0", f"{R}/a/db:1", _not_found(f"{R}/a/db:1"), owner=("StatefulSet", "db"))
    add("rs-only-x2x4q", f"{R}/a/rs:1", _not_found(f"{R}/a/rs:1"), owner=("ReplicaSet", "frontend-v1"))
    add("bare", f"{R}/a/bare:1", _status(f"{R}/a/bare:1", "401 Unauthorized"))
    add("sa-vs-pod-7c9d8f6b5-aaaaa", f"{R}/p/app:1", _status(f"{R}/p/app:1", "401 Unauthorized"),
        service_account="builder", pull_secrets=("missing-one",), owner=("ReplicaSet", "sa-vs-pod-7c9d8f6b5"))
    add("forb-7c9d8f6b5-aaaaa", f"{R}/a/forb:1", _status(f"{R}/a/forb:1", "403 Forbidden"),
        owner=("ReplicaSet", "forb-7c9d8f6b5"))
    add("plat-7c9d8f6b5-aaaaa", f"{R}/a/plat:1",
        f'rpc error: code = NotFound desc = failed to pull and unpack image "{R}/a/plat:1": no match for '
        "platform in manifest: not found", owner=("ReplicaSet", "plat-7c9d8f6b5"))
    add("lo-7c9d8f6b5-aaaaa", "localhost:5999/a/lo:1",
        'failed to pull and unpack image "localhost:5999/a/lo:1": failed to resolve reference '
        '"localhost:5999/a/lo:1": failed to do request: Head "http://localhost:5999/v2/a/lo/manifests/1": '
        "dial tcp [::1]:5999: connect: connection refused", owner=("ReplicaSet", "lo-7c9d8f6b5"))
    plain = "plain.example.invalid:5000/a/plain:1"
    add("plain-7c9d8f6b5-aaaaa", plain,
        f'failed to pull and unpack image "{plain}": failed to resolve reference "{plain}": failed to do '
        'request: Head "https://plain.example.invalid:5000/v2/a/plain/manifests/1": http: server gave HTTP '
        "response to HTTPS client", owner=("ReplicaSet", "plain-7c9d8f6b5"))
    long_img = f"{R}/{'deep/' * 30}dns:1"
    add("dns-7c9d8f6b5-aaaaa", long_img,
        f'failed to pull and unpack image "{long_img}": failed to resolve reference "{long_img}": failed to do '
        f'request: Head "https://{R}/v2/x/manifests/1": dial tcp: lookup {R} on 10.0.0.10:53: no such host',
        owner=("ReplicaSet", "dns-7c9d8f6b5"))
    add("hub-7c9d8f6b5-aaaaa", "nginx:1.2.3x", _not_found("docker.io/library/nginx:1.2.3x"),
        owner=("ReplicaSet", "hub-7c9d8f6b5"))
    never = f"{R}/a/never:1"
    p = k.pod(NS, "never-7c9d8f6b5-aaaaa", "app", never, reason="ErrImageNeverPull", node="node-a",
              message=f'Container image "{never}" is not present with pull policy of Never', policy="Never",
              owner=("ReplicaSet", "never-7c9d8f6b5"), created=NOW - timedelta(hours=1))
    pods.append(p)
    events.extend(k.never_pull_events(p, count=5, last=NOW - timedelta(minutes=1)))
    # An ephemeral container (kubectl debug) waiting for its image; the pod itself runs.
    eimg = f"{R}/tools/debugger:1"
    ep = k.pod(NS, "eph", "app", "registry.k8s.io/pause:3.9", reason="x", message="", node="node-a",
               created=NOW - timedelta(hours=1))
    ep["status"]["containerStatuses"][0]["state"] = {"running": {"startedAt": k.ts(NOW)}}
    ep["status"]["phase"] = "Running"
    ep["spec"]["ephemeralContainers"] = [{"name": "debugger-abc", "image": eimg, "targetContainerName": "app"}]
    ep["status"]["ephemeralContainerStatuses"] = [{
        "name": "debugger-abc", "image": eimg, "imageID": "", "ready": False, "restartCount": 0,
        "state": {"waiting": {"reason": "ImagePullBackOff",
                              "message": k.backoff_message(eimg, _not_found(eimg))}}}]
    pods.append(ep)
    # --- issue 14: the destructive shapes, each with what the fix must keep ----------------------------------
    refused = _status(f"{R}/p/multi:1", "401 Unauthorized")
    add("multi-7c9d8f6b5-aaaaa", f"{R}/p/multi:1", refused, pull_secrets=("multi",),
        owner=("ReplicaSet", "multi-7c9d8f6b5"))
    add("opaque-7c9d8f6b5-aaaaa", f"{R}/p/opaque:1", _status(f"{R}/p/opaque:1", "401 Unauthorized"),
        pull_secrets=("opaque",), owner=("ReplicaSet", "opaque-7c9d8f6b5"))
    add("listed-7c9d8f6b5-aaaaa", "other.example.invalid/p/listed:1",
        _status("other.example.invalid/p/listed:1", "401 Unauthorized").replace(R, "other.example.invalid"),
        service_account="builder", owner=("ReplicaSet", "listed-7c9d8f6b5"))
    # --- owners: read from the objects, inferred (and said so) only where they were not read ---------------
    add("roll-6d4f8b7c9-aaaaa", f"{R}/a/roll:1", _not_found(f"{R}/a/roll:1"), owner=("ReplicaSet", "roll-6d4f8b7c9"))
    add("api-5d8f7c9b4-aaaaa", f"{R}/a/api:1", _not_found(f"{R}/a/api:1"), owner=("ReplicaSet", "api-5d8f7c9b4"))
    add("job-28900000-abcde", f"{R}/a/jobc:1", _not_found(f"{R}/a/jobc:1"), owner=("Job", "job-28900000"))
    add("backup-28930141-aaaaa", f"{R}/a/backup:1", _not_found(f"{R}/a/backup:1"),
        owner=("Job", "backup-28930141"))
    add("once-aaaaa", f"{R}/a/once:1", _not_found(f"{R}/a/once:1"), owner=("Job", "once"))
    unread = {"rs-only-x2x4q", "api-5d8f7c9b4-aaaaa", "roll-6d4f8b7c9-aaaaa"}
    owners = k.owner_objects([p for p in pods if p["metadata"]["name"] not in unread])
    owners += [_workload("ReplicaSet", "roll-6d4f8b7c9", ("argoproj.io/v1alpha1", "Rollout", "roll")),
               _workload("Job", "backup-28930141", ("batch/v1", "CronJob", "backup")),
               _workload("CronJob", "backup"), _workload("Job", "once")]
    opaque = k.secret(NS, "opaque", {R: ("u", "CANARY-pw-7f3a9c")})
    opaque["type"] = "Opaque"
    files = {
        "pods": pods, "events": events, "nodes": [k.node("node-a"), k.node("node-b", images=(never,))],
        "serviceaccounts": [k.service_account(NS, "default"), k.service_account(NS, "builder", ("good-one",))],
        "secrets": [k.secret(NS, "good-one", {R: ("u", "CANARY-pw-7f3a9c")}), opaque,
                    k.secret(NS, "multi", {R: ("u", "CANARY-pw-7f3a9c"), "ghcr.io": ("g", "CANARY-pw-7f3a9c")})],
        "owners": owners,
    }
    for name, items in files.items():
        (d / f"{name}.json").write_text(json.dumps(k.as_list(items)))


def _workload(kind: str, name: str, owner: tuple[str, str, str] | None = None) -> dict[str, Any]:
    group = "batch/v1" if kind in ("Job", "CronJob") else "apps/v1"
    meta: dict[str, Any] = {"name": name, "namespace": NS, "uid": f"uid-{kind}-{name}"}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": owner[0], "kind": owner[1], "name": owner[2], "controller": True,
                                    "uid": f"uid-{owner[1]}-{owner[2]}"}]
    return {"apiVersion": group, "kind": kind, "metadata": meta}


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    d = tmp_path_factory.mktemp("review")
    _snapshot(d)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "NO_COLOR": "1"}
    out = subprocess.run([sys.executable, "-m", "pulldoctor", "diagnose", "--from", str(d), "--no-probe",
                          "-o", "json"], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT,
                         check=False)
    assert out.returncode == 1, out.stderr
    assert "CANARY-pw-7f3a9c" not in out.stdout
    return {f["pod"]: f for f in json.loads(out.stdout)["findings"]}


def _commands(f: dict[str, Any]) -> list[str]:
    return [c for fix in f["fixes"] for c in fix["commands"]]


def test_job_template_is_immutable_so_the_job_is_replaced(report: dict[str, dict[str, Any]]) -> None:
    f = report["job-x7k2p"]
    assert (f["cause"], f["confidence"]) == ("tag_not_found", "likely")
    cmds = _commands(f)
    assert not any(c.startswith("kubectl set image job/") for c in cmds), cmds
    assert cmds[-1] == (
        "kubectl get job job -n t -o json | jq --arg c app --arg i registry.example.invalid/a/job:TAG "
        "'(.spec.template.spec.containers[] | select(.name == $c) | .image) = $i | del(.spec.selector, "
        ".spec.template.metadata.labels[\"controller-uid\"], "
        ".spec.template.metadata.labels[\"batch.kubernetes.io/controller-uid\"])' | kubectl replace --force -f -")


def test_a_cronjobs_job_is_fixed_in_the_cronjob(report: dict[str, dict[str, Any]]) -> None:
    cmds = _commands(report["nightly-28930140-abcde"])
    assert cmds[-1] == "kubectl set image cronjob/nightly app=registry.example.invalid/a/cron:TAG -n t"


def test_replicaset_without_a_template_hash_is_not_a_deployment(report: dict[str, dict[str, Any]]) -> None:
    cmds = _commands(report["rs-only-x2x4q"])
    assert cmds[-1] == "kubectl set image replicaset/frontend-v1 app=registry.example.invalid/a/rs:TAG -n t"


def test_ephemeral_container_gets_a_new_debug_container(report: dict[str, dict[str, Any]]) -> None:
    f = report["eph"]
    assert f["container_type"] == "ephemeral" and f["cause"] == "tag_not_found"
    cmds = _commands(f)
    assert not any("set image" in c for c in cmds), cmds
    assert cmds[-1] == "kubectl debug -it eph -n t --image=registry.example.invalid/tools/debugger:TAG"


def test_bare_pod_is_recreated_not_deleted(report: dict[str, dict[str, Any]]) -> None:
    f = report["bare"]
    assert (f["cause"], f["confidence"]) == ("auth_missing", "likely")
    cmds = _commands(f)
    assert "kubectl delete pod bare -n t" not in cmds, cmds
    assert cmds[-2:] == ["kubectl get pod bare -n t -o yaml > bare.yaml", "kubectl replace --force -f bare.yaml"]


def test_pod_secrets_replace_the_service_accounts(report: dict[str, dict[str, Any]]) -> None:
    f = report["sa-vs-pod-7c9d8f6b5-aaaaa"]
    assert (f["cause"], f["confidence"]) == ("auth_missing", "likely")
    assert "service account builder are not used" in f["fixes"][0]["text"]
    assert _commands(f) == [("kubectl create secret docker-registry missing-one "
                             "--docker-server=registry.example.invalid --docker-username=USER "
                             "--docker-password=PASSWORD -n t")]
    keyring = [e["text"] for e in f["evidence"] if e["source"] == "keyring"]
    assert keyring == ["the kubelet sends no credentials: secret missing-one does not exist in namespace t"]


def test_forbidden_anonymous_pull_needs_credentials(report: dict[str, dict[str, Any]]) -> None:
    f = report["forb-7c9d8f6b5-aaaaa"]
    assert (f["cause"], f["confidence"]) == ("forbidden", "likely")
    assert "authenticates" not in f["fixes"][0]["text"]
    cmds = _commands(f)
    assert cmds[0].startswith("kubectl create secret docker-registry pull-registry-example-invalid ")
    assert cmds[1] == ("kubectl patch deployment forb -n t -p '{\"spec\":{\"template\":{\"spec\":"
                       "{\"imagePullSecrets\":[{\"name\":\"pull-registry-example-invalid\"}]}}}}'")


def test_platform_fix_keeps_the_platforms_the_image_has(report: dict[str, dict[str, Any]]) -> None:
    f = report["plat-7c9d8f6b5-aaaaa"]
    assert (f["cause"], f["confidence"]) == ("platform_mismatch", "likely")
    # Never pushed over the published tag (issue 14, item 5): a NEW tag, then the container points at it.
    assert _commands(f) == [
        "docker buildx imagetools inspect registry.example.invalid/a/plat:1",
        "docker buildx build --platform PLATFORMS,linux/amd64 -t registry.example.invalid/a/plat:NEW_TAG --push .",
        "kubectl set image deployment/plat app=registry.example.invalid/a/plat:NEW_TAG -n t"]


def test_loopback_refused_checks_the_port_over_the_nodes_scheme(report: dict[str, dict[str, Any]]) -> None:
    f = report["lo-7c9d8f6b5-aaaaa"]
    assert (f["cause"], f["confidence"]) == ("network_unreachable", "likely")
    assert _commands(f) == ["ss -ltn 'sport = :5999'   # on node-a",
                            "curl -sv http://localhost:5999/v2/   # on node-a"]


def test_plain_http_registry_gets_a_crio_drop_in(report: dict[str, dict[str, Any]]) -> None:
    f = report["plain-7c9d8f6b5-aaaaa"]
    assert f["cause"] == "http_vs_https"
    cmds = _commands(f)
    assert cmds[0].startswith("mkdir -p /etc/containerd/certs.d/plain.example.invalid:5000 && ")
    assert cmds[1] == ("printf '[[registry]]\\nlocation = \"plain.example.invalid:5000\"\\ninsecure = true\\n' > "
                       "/etc/containers/registries.conf.d/plain.example.invalid-5000.conf && systemctl reload crio")


def test_long_message_keeps_its_specific_end(report: dict[str, dict[str, Any]]) -> None:
    f = report["dns-7c9d8f6b5-aaaaa"]
    assert f["cause"] == "dns_failure"
    text = f["evidence"][0]["text"]
    clipped = text.rsplit(" → ", 1)[0]
    assert len(clipped) <= 400 and "…" in clipped
    assert text.endswith("no such host → dns_failure"), text


def test_unconfirmed_not_found_says_the_repository_may_be_wrong(report: dict[str, dict[str, Any]]) -> None:
    f = report["hub-7c9d8f6b5-aaaaa"]
    assert (f["cause"], f["confidence"]) == ("tag_not_found", "likely")
    assert "the repository path is wrong instead" in f["fixes"][0]["text"]
    # Docker Hub short names are spelled out as the registry sees them.
    assert _commands(f) == ["skopeo list-tags docker://docker.io/library/nginx",
                            "kubectl set image deployment/hub app=docker.io/library/nginx:TAG -n t"]


# ------------------------------------------------------------------ hand-made evidence (no snapshot needed)

def _ev(image: str, message: str, **kw: Any) -> Any:
    from pulldoctor.diagnosis.evidence import Evidence
    from pulldoctor.messages import classify
    from pulldoctor.reference import parse

    base: dict[str, Any] = {"namespace": "shop", "pod": "api-7c9d8f6b5-x2x4q", "container": "app", "image": image,
                            "waiting_reason": "ImagePullBackOff", "waiting_message": message, "message": message,
                            "classification": classify(message), "owner": ("Deployment", "api"), "ref": parse(image),
                            "probe_note": "not probed (--no-probe)"}
    base.update(kw)
    return Evidence(**base)


def _sends(image: str, secret: str = "regcred") -> Any:
    from pulldoctor.keyring import Credential, Entry, Keyring
    from pulldoctor.reference import parse

    entry = Entry(key=image.split("/")[0], source=f"secret shop/{secret}", credential=Credential("user", "pw"),
                  has_username=True, has_password=True)
    return Keyring([entry]).lookup(parse(image))


def test_a_bare_401_with_credentials_sent_is_not_against_auth_invalid() -> None:
    from pulldoctor.cluster.context import PullSecrets
    from pulldoctor.diagnosis.rules import decide

    img = f"{R}/ledger/api:2.1"
    e = _ev(img, _status(img, "401 Unauthorized"), lookup=_sends(img),
            secrets=PullSecrets(names=["regcred"], source="pod"))
    v = decide(e)
    assert (v.cause.value, v.confidence.value) == ("auth_invalid", "likely")
    assert v.contradictions == []
    # A message that does say "nothing was sent" still speaks against it.
    e = _ev(img, "no basic auth credentials", lookup=_sends(img), secrets=PullSecrets(names=["regcred"], source="pod"))
    assert decide(e).contradictions


def test_ecr_token_refresh_is_a_real_kubectl_command() -> None:
    from pulldoctor.cluster.context import PullSecrets
    from pulldoctor.diagnosis.rules import decide, fixes

    img = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/api:1"
    host = img.split("/")[0]
    # Secret ecr was read and holds this registry only: refreshing it whole loses nothing.
    e = _ev(img, "failed to fetch oauth token: unexpected status: 401 Unauthorized", lookup=_sends(img, "ecr"),
            secrets=PullSecrets(names=["ecr"], source="pod"), entry_keys=[(host, "secret shop/ecr")])
    v = decide(e)
    cmds = [c for f in fixes(v, e) for c in f.commands]
    assert not any("--docker-password-stdin" in c for c in cmds), cmds
    assert cmds[-1] == ("kubectl create secret docker-registry ecr "
                        "--docker-server=123456789012.dkr.ecr.eu-west-1.amazonaws.com --docker-username=AWS "
                        '--docker-password="$(aws ecr get-login-password --region eu-west-1)" -n shop '
                        "--dry-run=client -o yaml | kubectl apply -f -")


def test_artifact_registry_forbidden_names_the_repository() -> None:
    from pulldoctor.diagnosis.rules import decide, fixes

    img = "europe-docker.pkg.dev/acme-prod/apps/api:1"
    e = _ev(img, f'failed to pull and unpack image "{img}": failed to resolve reference "{img}": unexpected '
                 "status from HEAD request to https://europe-docker.pkg.dev/v2/acme-prod/apps/api/manifests/1: "
                 "403 Forbidden", lookup=_sends(img))
    v = decide(e)
    assert v.cause.value == "forbidden"
    cmds = [c for f in fixes(v, e) for c in f.commands]
    assert cmds == ["gcloud artifacts repositories get-iam-policy apps --project=acme-prod --location=europe"]


def test_disk_full_on_crio_looks_at_its_image_store() -> None:
    from pulldoctor.cluster.context import NodeInfo
    from pulldoctor.diagnosis.rules import decide, fixes

    img = f"{R}/data/etl:4.0"
    e = _ev(img, "writing blob: storage.Put: write /var/lib/containers/storage/overlay/x: no space left on device",
            node=NodeInfo(name="node-c", disk_pressure=True, runtime_version="cri-o://1.32.6"))
    v = decide(e)
    assert (v.cause.value, v.confidence.value) == ("disk_full", "certain")
    assert "df -h /var/lib/containers/storage   # on node-c" in [c for f in fixes(v, e) for c in f.commands]


def test_digest_fix_has_a_placeholder_one_can_type() -> None:
    from pulldoctor.diagnosis.rules import decide, fixes

    img = f"{R}/shop/search@sha256:" + "1" * 64
    e = _ev(img, _not_found(img))
    v = decide(e)
    assert (v.cause.value, v.confidence.value) == ("tag_not_found", "likely")
    cmds = [c for f in fixes(v, e) for c in f.commands]
    assert cmds[-1] == f"kubectl set image deployment/api app={R}/shop/search@DIGEST -n shop"


def test_never_pull_steps_do_not_end_on_a_colon_without_a_command() -> None:
    from pulldoctor.cluster.context import NodeInfo
    from pulldoctor.diagnosis.rules import decide, fixes

    img = f"{R}/tools/migrate:3.3"
    e = _ev(img, f'Container image "{img}" is not present with pull policy of Never', pull_policy="Never",
            waiting_reason="ErrImageNeverPull", node=NodeInfo(name="node-a", images=frozenset()))
    v = decide(e)
    assert (v.cause.value, v.confidence.value) == ("never_pull_absent", "certain")
    for f in fixes(v, e):
        assert f.commands or not f.text.endswith(":"), f.text


def test_statefulset_pod_is_deleted_after_the_template_change(report: dict[str, dict[str, Any]]) -> None:
    cmds = _commands(report["db-0"])
    assert cmds[-2:] == ["kubectl set image statefulset/db app=registry.example.invalid/a/db:TAG -n t",
                         "kubectl delete pod db-0 -n t"]


_EXPIRED = ("x509: certificate has expired or is not yet valid: current time 2026-11-26T13:00:00Z is after "
            "2026-01-01T00:00:00Z")
_WRONG_NAME = ("tls: failed to verify certificate: x509: certificate is valid for other.example.invalid, not "
               "secure.example.invalid")
_SHOW = "openssl s_client -connect secure.example.invalid:8443 </dev/null 2>/dev/null | openssl x509 -noout"


@pytest.mark.parametrize(("error", "first"), [
    (_EXPIRED, f"{_SHOW} -dates"),
    (_WRONG_NAME, f"{_SHOW} -ext subjectAltName"),
    ("x509: certificate signed by unknown authority",
     "openssl s_client -connect secure.example.invalid:8443 -showcerts </dev/null"),
])
def test_tls_fix_follows_the_check_that_failed(error: str, first: str) -> None:
    from pulldoctor.diagnosis.rules import decide, fixes

    img = "secure.example.invalid:8443/secure/app:1.0"
    e = _ev(img, f'failed to pull and unpack image "{img}": failed to resolve reference "{img}": failed to do '
                 f'request: Head "https://secure.example.invalid:8443/v2/secure/app/manifests/1.0": {error}')
    v = decide(e)
    assert (v.cause.value, v.confidence.value) == ("tls_error", "likely")
    steps = fixes(v, e)
    assert steps[0].commands[0] == first
    trusts_ca = any("ca.crt" in c for f in steps for c in f.commands)
    assert trusts_ca == ("unknown authority" in error)


def test_unreachable_note_does_not_contradict_a_confirmed_dns_failure() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "NO_COLOR": "1"}
    out = subprocess.run([sys.executable, "-m", "pulldoctor", "diagnose", "--from", "examples/cluster", "-o", "json"],
                         capture_output=True, text=True, timeout=120, env=env, cwd=ROOT, check=False)
    doc = json.loads(out.stdout)
    dns = [f for f in doc["findings"] if f["cause"] == "dns_failure"]
    assert dns and all(f["confidence"] == "certain" for f in dns)
    note = next(n for n in doc["notes"] if n.startswith("could not probe"))
    assert "registry.pulldoctor.invalid" in note and "failing the same way" in note


def test_never_pull_names_the_node_that_has_the_image(report: dict[str, dict[str, Any]]) -> None:
    f = report["never-7c9d8f6b5-aaaaa"]
    assert (f["cause"], f["confidence"]) == ("never_pull_absent", "certain")
    assert {"source": "node", "text": "node-b lists it"} in f["evidence"]
    assert "It is on node-b" in f["fixes"][0]["text"]


def test_missing_events_are_not_claimed_as_expired_for_sure(report: dict[str, dict[str, Any]]) -> None:
    f = report["eph"]   # an ephemeral container: no events for it in the input
    lines = [e["text"] for e in f["evidence"] if e["source"] == "events"]
    assert lines == [("no kubelet events for this container: expired (they last about 1 h by default) or never "
                      "recorded; only the waiting state is left")]


# ------------------------------------------------------------------ issue 14: fixes keep what they did not read

def _fix_text(f: dict[str, Any]) -> str:
    return " ".join(x["text"] for x in f["fixes"])


def test_refused_credentials_change_one_registry_entry_and_keep_the_others(report: dict[str, dict[str, Any]]) -> None:
    f = report["multi-7c9d8f6b5-aaaaa"]
    assert f["cause"] == "auth_invalid"
    cmds = _commands(f)
    assert not any("create secret docker-registry multi" in c for c in cmds), cmds   # would drop ghcr.io
    merge = next(c for c in cmds if c.startswith("kubectl get secret multi -n t -o json | jq "))
    assert "--arg k registry.example.invalid" in merge and ".auths[$k] = {auth: $a}" in merge
    assert merge.endswith("| kubectl replace -f -") and "USER:PASSWORD" in merge
    assert "ghcr.io stay as they are" in _fix_text(f)


def test_a_service_account_list_is_appended_to_never_replaced(report: dict[str, dict[str, Any]]) -> None:
    cmds = _commands(report["listed-7c9d8f6b5-aaaaa"])   # builder lists good-one (read)
    assert ("kubectl patch serviceaccount builder -n t --type=json -p '[{\"op\":\"add\",\"path\":"
            "\"/imagePullSecrets/-\",\"value\":{\"name\":\"pull-other-example-invalid\"}}]'") in cmds
    cmds = _commands(report["bare"])                      # default was read and lists none
    assert any('"path":"/imagePullSecrets","value":[{"name":"pull-registry-example-invalid"}]' in c for c in cmds)
    for f in report.values():
        for c in _commands(f):
            assert not (c.startswith("kubectl patch serviceaccount") and "--type=json" not in c), c


def test_an_opaque_secret_is_copied_into_a_typed_one_not_deleted(report: dict[str, dict[str, Any]]) -> None:
    f = report["opaque-7c9d8f6b5-aaaaa"]
    cmds = _commands(f)
    assert not any(c.startswith("kubectl delete secret") for c in cmds), cmds
    assert "set its type" not in _fix_text(f) and "cannot be changed" in _fix_text(f)
    assert cmds[:2] == [
        "(umask 077 && kubectl get secret opaque -n t -o jsonpath='{.data.\\.dockerconfigjson}' | base64 -d > "
        "opaque.dockerconfigjson)",
        "kubectl create secret generic opaque-dockerconfig -n t --type=kubernetes.io/dockerconfigjson "
        "--from-file=.dockerconfigjson=opaque.dockerconfigjson && rm opaque.dockerconfigjson"]
    assert '{"name":"opaque"},{"name":"opaque-dockerconfig"}' in cmds[2]
    assert "CANARY-pw-7f3a9c" not in json.dumps(f)


def test_an_argo_rollouts_replicaset_is_not_a_deployment(report: dict[str, dict[str, Any]]) -> None:
    cmds = _commands(report["roll-6d4f8b7c9-aaaaa"])
    assert not any("deployment" in c for c in cmds), cmds
    assert cmds[-1].startswith("kubectl edit rollout.argoproj.io/roll -n t")


def test_an_unread_replicaset_owner_is_said_inferred_and_read_first(report: dict[str, dict[str, Any]]) -> None:
    f = report["api-5d8f7c9b4-aaaaa"]
    owner = [e["text"] for e in f["evidence"] if e["source"] == "owner"]
    assert owner == ["ReplicaSet api-5d8f7c9b4 was not read (not in the input): Deployment api is inferred from its name"]
    cmds = _commands(f)
    assert cmds[0] == "kubectl get replicaset api-5d8f7c9b4 -n t -o jsonpath='{.metadata.ownerReferences}'"
    # Read ReplicaSets need no such step, and name their real owner.
    assert not [e for e in report["forb-7c9d8f6b5-aaaaa"]["evidence"] if e["source"] == "owner"]


def test_a_cron_named_job_without_its_cronjob_is_inferred_not_asserted(report: dict[str, dict[str, Any]]) -> None:
    f = report["job-28900000-abcde"]
    assert any("CronJob job is inferred" in e["text"] for e in f["evidence"] if e["source"] == "owner")
    cmds = _commands(f)
    assert cmds[0] == "kubectl get job job-28900000 -n t -o jsonpath='{.metadata.ownerReferences}'"
    # A Job read with its CronJob owner: the CronJob from the object, whatever the Job's name says.
    assert _commands(report["backup-28930141-aaaaa"])[-1] == (
        "kubectl set image cronjob/backup app=registry.example.invalid/a/backup:TAG -n t")


def test_a_bare_job_is_re_created_and_says_so(report: dict[str, dict[str, Any]]) -> None:
    f = report["once-aaaaa"]
    cmds = _commands(f)
    assert cmds[-1].startswith("kubectl get job once -n t -o json | jq ") and cmds[-1].endswith("replace --force -f -")
    assert "immutable" in f["fixes"][-1]["text"] and "creates it again" in f["fixes"][-1]["text"]
    assert not [e for e in f["evidence"] if e["source"] == "owner"]
