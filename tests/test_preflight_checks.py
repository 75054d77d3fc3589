"""preflight's checks without a registry: the reference grammar, pull-policy pitfalls, pull secrets and the
credentials the kubelet would pick; and how a probe's answer becomes findings (hand-made results)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from pulldoctor.causes import Cause
from pulldoctor.keyring import entries_from_docker_config
from pulldoctor.preflight import Report, Severity, preflight
from pulldoctor.preflight.checks import run_checks
from pulldoctor.preflight.inputs import read_inputs
from pulldoctor.preflight.probes import judge
from pulldoctor.preflight.workloads import inventory
from pulldoctor.registry.manifest import parse_platform
from pulldoctor.registry.models import ProbeResult, Step

AMD64 = [parse_platform("linux/amd64")]
CANARY = "CANARY-pw-7f3a9c"


def deployment(name: str, *containers: str, extra: str = "", ns: str = "") -> str:
    cs = "".join(f"      - {c}\n" for c in containers)
    meta = f"{{name: {name}{', namespace: ' + ns if ns else ''}}}"
    return (f"---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {meta}\nspec:\n  template:\n    spec:\n"
            f"{extra}      containers:\n{cs}")


def dockerconfig_secret(name: str, registry: str, ns: str = "default", user: str = "alice") -> str:
    auth = base64.b64encode(f"{user}:{CANARY}".encode()).decode()
    payload = base64.b64encode(json.dumps({"auths": {registry: {"auth": auth}}}).encode()).decode()
    return (f"---\napiVersion: v1\nkind: Secret\nmetadata: {{name: {name}, namespace: {ns}}}\n"
            f"type: kubernetes.io/dockerconfigjson\ndata:\n  .dockerconfigjson: {payload}\n")


def run(tmp_path: Path, text: str) -> Report:
    f = tmp_path / "m.yaml"
    f.write_text(text)
    return preflight([str(f)], platforms=AMD64)


def causes(report: Report) -> list[tuple[str, str, str | None, int | None]]:
    return [(f.cause.value, f.severity.value, f.container, f.location.line) for f in report.findings]


def test_a_clean_manifest_has_no_findings(tmp_path: Path) -> None:
    r = run(tmp_path, deployment("web", "{name: app, image: 'ghcr.io/acme/app:1.2.3'}",
                                 "{name: pinned, image: 'nginx@sha256:" + "a" * 64 + "', imagePullPolicy: IfNotPresent}"))
    assert r.findings == [] and r.exit_code() == 0 and r.workloads == 1 and r.images == 2


def test_reference_grammar_names_the_rule_and_the_line(tmp_path: Path) -> None:
    r = run(tmp_path, deployment("web", "{name: app, image: 'ghcr.io/acme/App:1.0'}",
                                 "{name: two, image: 'nginx:1.25:extra'}", "{name: none}"))
    assert [(c, s, n) for c, s, n, _l in causes(r)] == [("invalid_image_name", "error", "app"),
                                                       ("invalid_image_name", "error", "two"),
                                                       ("invalid_image_name", "error", "none")]
    first = r.findings[0]
    assert "must be lowercase" in first.summary and "rule lowercase" in first.summary
    assert first.location.line == 9
    assert r.findings[2].summary.startswith("no image")
    assert r.exit_code() == 1


def test_pull_policy_pitfalls_are_warnings(tmp_path: Path) -> None:
    r = run(tmp_path, deployment("web", "{name: never, image: 'ghcr.io/acme/app:1', imagePullPolicy: Never}",
                                 "{name: latest, image: 'ghcr.io/acme/app:latest', imagePullPolicy: IfNotPresent}",
                                 "{name: untagged, image: 'ghcr.io/acme/app', imagePullPolicy: IfNotPresent}",
                                 "{name: always, image: 'ghcr.io/acme/app', imagePullPolicy: Always}",
                                 "{name: defaulted, image: 'ghcr.io/acme/app'}"))
    assert [(c, s, n) for c, s, n, _l in causes(r)] == [("never_pull_absent", "warning", "never"),
                                                       ("other", "warning", "latest"),
                                                       ("other", "warning", "untagged")]
    assert r.exit_code() == 0 and r.exit_code("warning") == 1
    # pull policy Never: the kubelet never pulls, so nothing is planned for the probe
    f = Path(tmp_path / "m.yaml")
    planned = run_checks(inventory(read_inputs([str(f)]).documents)).planned
    assert [p.use.container for p in planned] == ["latest", "untagged", "always", "defaulted"]


def test_a_pull_secret_defined_nowhere_is_an_error_at_its_line(tmp_path: Path) -> None:
    text = deployment("web", "{name: app, image: 'registry.acme.io/shop/web:1'}",
                      extra="      imagePullSecrets: [{name: regcred}]\n", ns="shop")
    r = run(tmp_path, text)
    (f,) = r.findings
    assert (f.cause, f.severity, f.location.line) == (Cause.AUTH_MISSING, Severity.ERROR, 8)
    assert "shop/regcred" in f.summary and "defined nowhere" in f.summary
    assert "--docker-server=registry.acme.io" in f.fixes[0].commands[0] and "-n shop" in f.fixes[0].commands[0]
    assert r.exit_code() == 1


def test_a_secret_in_the_inputs_gives_the_kubelets_credentials(tmp_path: Path) -> None:
    text = (deployment("web", "{name: app, image: 'registry.acme.io/shop/web:1'}",
                       "{name: hub, image: 'nginx:1.25'}", extra="      imagePullSecrets: [{name: regcred}]\n")
            + dockerconfig_secret("regcred", "registry.acme.io"))
    f = tmp_path / "m.yaml"
    f.write_text(text)
    checked = run_checks(inventory(read_inputs([str(f)]).documents))
    assert checked.findings == []
    by = {p.use.container: p for p in checked.planned}
    assert [c.username for c in by["app"].credentials] == ["alice"]
    assert by["hub"].credentials == ()  # that secret has no entry for Docker Hub
    assert "secret default/regcred" in by["app"].explanation and CANARY not in by["app"].explanation


def test_the_service_accounts_secrets_count_only_when_the_pod_lists_none(tmp_path: Path) -> None:
    sa = ("---\napiVersion: v1\nkind: ServiceAccount\nmetadata: {name: builder}\n"
          "imagePullSecrets: [{name: sa-cred}]\n")
    text = (deployment("via-sa", "{name: app, image: 'registry.acme.io/a:1'}",
                       extra="      serviceAccountName: builder\n")
            + deployment("own", "{name: app, image: 'registry.acme.io/a:1'}",
                         extra="      serviceAccountName: builder\n      imagePullSecrets: [{name: pod-cred}]\n")
            + sa + dockerconfig_secret("pod-cred", "registry.acme.io", user="bob"))
    r = run(tmp_path, text)
    # sa-cred is missing: reported once, at the service account, for the template that would use it
    assert [(f.name, f.kind, f.cause.value) for f in r.findings] == [("via-sa", "Deployment", "auth_missing")]
    assert "service account builder" in r.findings[0].summary
    assert r.findings[0].location.line == text.splitlines().index("kind: ServiceAccount") + 1
    f = tmp_path / "m.yaml"
    planned = run_checks(inventory(read_inputs([str(f)]).documents)).planned
    assert {p.workload.name: [c.username for c in p.credentials] for p in planned} == {"via-sa": [], "own": ["bob"]}


def test_an_unknown_service_account_is_a_note_not_an_error(tmp_path: Path) -> None:
    r = run(tmp_path, deployment("web", "{name: app, image: 'x.io/a:1'}", extra="      serviceAccountName: ci\n"))
    assert r.findings == []
    assert any("service account default/ci is not in the inputs" in n for n in r.notes)


def test_a_secret_of_the_wrong_type_is_reported_once_at_the_secret(tmp_path: Path) -> None:
    opaque = "---\napiVersion: v1\nkind: Secret\nmetadata: {name: regcred}\ntype: Opaque\ndata: {a: Yg==}\n"
    text = (deployment("a", "{name: c, image: 'x.io/a:1'}", extra="      imagePullSecrets: [{name: regcred}]\n")
            + deployment("b", "{name: c, image: 'x.io/b:1'}", extra="      imagePullSecrets: [{name: regcred}]\n")
            + opaque)
    r = run(tmp_path, text)
    (f,) = r.findings
    assert (f.kind, f.cause, f.severity) == ("Secret", Cause.AUTH_MISSING, Severity.WARNING)
    assert "type Opaque" in f.summary


def test_docker_config_is_the_nodes_keyring_after_the_pods(tmp_path: Path) -> None:
    auth = base64.b64encode(f"node:{CANARY}".encode()).decode()
    node = entries_from_docker_config(json.dumps({"auths": {"x.io": {"auth": auth}}}), "file config.json")
    text = (deployment("web", "{name: c, image: 'x.io/a:1'}", extra="      imagePullSecrets: [{name: regcred}]\n")
            + dockerconfig_secret("regcred", "x.io", user="pod"))
    f = tmp_path / "m.yaml"
    f.write_text(text)
    (p,) = run_checks(inventory(read_inputs([str(f)]).documents), node).planned
    assert [c.username for c in p.credentials] == ["pod", "node"]


# -- a probe's answer → findings (hand-made ProbeResults; the lab tests ask a real registry) -------------------


def planned_one(tmp_path: Path, image: str) -> object:
    f = tmp_path / "p.yaml"
    f.write_text(deployment("web", f"{{name: app, image: '{image}'}}"))
    (p,) = run_checks(inventory(read_inputs([str(f)]).documents)).planned
    return p


def test_tag_not_found_names_the_closest_tags(tmp_path: Path) -> None:
    p = planned_one(tmp_path, "registry.acme.io/shop/web:1.3")
    res = ProbeResult("registry.acme.io/shop/web:1.3", Cause.TAG_NOT_FOUND, suggestions=["1.2", "1.2.1"],
                      steps=[Step("manifest", False, "HEAD … 404 MANIFEST_UNKNOWN")])
    (f,) = judge(p, res, AMD64)  # type: ignore[arg-type]
    assert (f.cause, f.severity) == (Cause.TAG_NOT_FOUND, Severity.ERROR)
    assert "has no tag 1.3; closest tags: 1.2, 1.2.1" in f.summary
    assert "registry.acme.io/shop/web:1.2" in f.fixes[0].text


def test_platforms_beyond_the_first_are_read_from_the_same_index(tmp_path: Path) -> None:
    p = planned_one(tmp_path, "x.io/a:1")
    both = [parse_platform("linux/amd64"), parse_platform("linux/arm64")]
    ok = ProbeResult("x.io/a:1", None, platforms=["linux/amd64", "linux/arm64/v8"])
    assert judge(p, ok, both) == []  # type: ignore[arg-type]
    amd_only = ProbeResult("x.io/a:1", None, platforms=["linux/amd64"])
    (f,) = judge(p, amd_only, both)  # type: ignore[arg-type]
    assert f.cause is Cause.PLATFORM_MISMATCH and "no image for linux/arm64 (it offers linux/amd64)" in f.summary
    wrong = ProbeResult("x.io/a:1", Cause.PLATFORM_MISMATCH, platforms=["linux/s390x"])
    (f,) = judge(p, wrong, both)  # type: ignore[arg-type]
    assert "no image for linux/amd64, linux/arm64" in f.summary
    unread = ProbeResult("x.io/a:1", None, platforms=[])  # platforms not read: nothing claimed
    assert judge(p, unread, both) == []  # type: ignore[arg-type]


def test_what_the_runner_cannot_reach_is_a_warning(tmp_path: Path) -> None:
    p = planned_one(tmp_path, "x.io/a:1")
    (f,) = judge(p, ProbeResult("x.io/a:1", Cause.DNS_FAILURE, steps=[Step("dns", False, "no such host")]),
                 AMD64)  # type: ignore[arg-type]
    assert f.severity is Severity.WARNING and "could not check" in f.summary


def test_pods_per_workload_follow_the_controllers_defaults(tmp_path: Path) -> None:
    text = (deployment("three", "{name: c, image: 'x.io/a:1'}").replace("spec:\n  template:", "spec:\n  replicas: 3\n  template:")
            + deployment("one", "{name: c, image: 'x.io/a:1'}")
            + "---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: ds}\n"
              "spec: {template: {spec: {containers: [{name: c, image: 'x.io/a:1'}]}}}\n"
            + "---\napiVersion: batch/v1\nkind: CronJob\nmetadata: {name: cj}\nspec: {jobTemplate: {spec: "
              "{parallelism: 4, template: {spec: {containers: [{name: c, image: 'x.io/a:1'}]}}}}}\n")
    f = tmp_path / "m.yaml"
    f.write_text(text)
    inv = inventory(read_inputs([str(f)]).documents)
    assert [(w.name, w.pods) for w in inv.workloads] == [("three", 3), ("one", 1), ("ds", None), ("cj", 4)]


def test_the_docker_hub_budget_against_the_rollouts_pulls(tmp_path: Path) -> None:
    from pulldoctor.preflight.probes import budget
    from pulldoctor.registry.models import RateLimit

    text = "".join(deployment(f"w{i}", "{name: c, image: 'nginx:1.25'}").replace(
        "spec:\n  template:", "spec:\n  replicas: 20\n  template:") for i in range(3))
    f = tmp_path / "m.yaml"
    f.write_text(text)
    planned = run_checks(inventory(read_inputs([str(f)]).documents)).planned
    low = ProbeResult("nginx:1.25", None, ratelimit=RateLimit(limit=100, remaining=42, window=21600))
    (w,) = budget(planned, [low] * 3)
    assert (w.cause, w.severity) == (Cause.RATE_LIMITED, Severity.WARNING)
    assert "up to 60 times" in w.summary and "42 of 100 left per 21600 s" in w.summary
    plenty = ProbeResult("nginx:1.25", None, ratelimit=RateLimit(limit=200, remaining=150, window=21600))
    assert budget(planned, [plenty] * 3) == []
    assert budget(planned, [ProbeResult("nginx:1.25", None)] * 3) == []  # no headers: nothing claimed
