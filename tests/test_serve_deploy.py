"""deploy/: every manifest parses, has the right kind and apiVersion, the RBAC is exactly least privilege,
and every PromQL expression (alerts and dashboard) names only series the exporter really exposes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"

KUSTOMIZATION = ("kustomize.config.k8s.io/v1beta1", "Kustomization")
COMPONENT = ("kustomize.config.k8s.io/v1alpha1", "Component")
EXPECTED_KINDS = {
    "base/namespace.yaml": [("v1", "Namespace")],
    "base/serviceaccount.yaml": [("v1", "ServiceAccount")],
    "base/clusterrole.yaml": [("rbac.authorization.k8s.io/v1", "ClusterRole"),
                              ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")],
    "components/secrets/clusterrole-secrets.yaml": [("rbac.authorization.k8s.io/v1", "ClusterRole"),
                                                    ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")],
    "base/deployment.yaml": [("apps/v1", "Deployment")],
    "base/service.yaml": [("v1", "Service")],
    "components/prometheus-operator/servicemonitor.yaml": [("monitoring.coreos.com/v1", "ServiceMonitor")],
    "components/prometheus-operator/prometheusrule.yaml": [("monitoring.coreos.com/v1", "PrometheusRule")],
    "kustomization.yaml": [KUSTOMIZATION],
    "base/kustomization.yaml": [KUSTOMIZATION],
    "components/secrets/kustomization.yaml": [COMPONENT],
    "components/prometheus-operator/kustomization.yaml": [COMPONENT],
    "overlays/secrets/kustomization.yaml": [KUSTOMIZATION],
    "overlays/prometheus-operator/kustomization.yaml": [KUSTOMIZATION],
    "overlays/full/kustomization.yaml": [KUSTOMIZATION],
}
#: What each shipped kustomization adds to the least-privilege default (deploy/ itself).
OVERLAYS = {"": set(), "overlays/secrets": {"secrets"}, "overlays/prometheus-operator": {"prometheus-operator"},
            "overlays/full": {"secrets", "prometheus-operator"}}
SECRETS_ROLE = "components/secrets/clusterrole-secrets.yaml"
MONITOR = "components/prometheus-operator/servicemonitor.yaml"
RULES = "components/prometheus-operator/prometheusrule.yaml"


def docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d is not None]


@pytest.mark.parametrize("name", sorted(EXPECTED_KINDS))
def test_manifest_kinds_and_api_versions(name: str) -> None:
    assert [(d["apiVersion"], d["kind"]) for d in docs(name)] == EXPECTED_KINDS[name]


def test_every_yaml_file_is_checked_and_in_a_kustomization() -> None:
    on_disk = {str(p.relative_to(DEPLOY)) for p in DEPLOY.rglob("*.yaml")}
    assert on_disk == set(EXPECTED_KINDS)
    listed = set()
    for k in (p for p in on_disk if p.endswith("kustomization.yaml")):
        here = (DEPLOY / k).parent
        for entry in docs(k)[0].get("resources", []) + docs(k)[0].get("components", []):
            target = (here / entry).resolve()
            assert target.exists(), f"{k}: {entry} does not exist"
            listed.add(str(target.relative_to(DEPLOY)))
    manifests = {p for p in on_disk if not p.endswith("kustomization.yaml")}
    assert manifests <= listed, f"in no kustomization: {sorted(manifests - listed)}"


def _render(where: str) -> list[dict[str, Any]]:
    """``kubectl kustomize`` as a user's ``kubectl apply -k`` would build it (kubectl bundles kustomize)."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        if os.environ.get("CI") == "true":
            pytest.fail("kubectl is not installed (CI installs Debian's kubernetes-client)")
        pytest.skip("kubectl is not installed")
    r = subprocess.run([kubectl, "kustomize", str(DEPLOY / where)], capture_output=True, text=True, timeout=120,
                       check=False, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    return [d for d in yaml.safe_load_all(r.stdout) if d is not None]


@pytest.mark.parametrize("where", sorted(OVERLAYS), ids=lambda w: w or "deploy")
def test_the_default_is_least_privilege_and_the_overlays_add_only_what_they_say(where: str) -> None:
    rendered = _render(where)
    kinds = {(d["kind"], d["metadata"]["name"]) for d in rendered}
    base = {("Namespace", "pulldoctor"), ("ServiceAccount", "pulldoctor"), ("ClusterRole", "pulldoctor"),
            ("ClusterRoleBinding", "pulldoctor"), ("Deployment", "pulldoctor"), ("Service", "pulldoctor"),
            ("ConfigMap", "pulldoctor-dashboard")}
    extra = set()
    if "secrets" in OVERLAYS[where]:
        extra |= {("ClusterRole", "pulldoctor-secrets"), ("ClusterRoleBinding", "pulldoctor-secrets")}
    if "prometheus-operator" in OVERLAYS[where]:
        extra |= {(d["kind"], d["metadata"]["name"]) for name in (MONITOR, RULES) for d in docs(name)}
    assert kinds == base | extra
    granted = {r for d in rendered if d["kind"] == "ClusterRole" for rule in d["rules"] for r in rule["resources"]}
    assert ("secrets" in granted) == ("secrets" in OVERLAYS[where])
    crds = {d["apiVersion"] for d in rendered} - {"v1", "apps/v1", "rbac.authorization.k8s.io/v1"}
    assert crds == ({"monitoring.coreos.com/v1"} if "prometheus-operator" in OVERLAYS[where] else set())


def test_cluster_role_is_read_only_least_privilege() -> None:
    role = docs("base/clusterrole.yaml")[0]
    granted = {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
               for v in rule["verbs"]}
    assert granted == {("", r, v) for r in ("pods", "events", "nodes", "serviceaccounts")
                       for v in ("get", "list", "watch")}


def test_secrets_role_is_separate_get_only_and_explained() -> None:
    text = (DEPLOY / SECRETS_ROLE).read_text()
    role = docs(SECRETS_ROLE)[0]
    assert [(r["apiGroups"], r["resources"], r["verbs"]) for r in role["rules"]] == [([""], ["secrets"], ["get"])]
    assert "Without this role" in text
    main_role = docs("base/clusterrole.yaml")[0]
    assert all("secrets" not in r["resources"] for r in main_role["rules"])


def test_bindings_point_at_the_service_account_the_deployment_uses() -> None:
    sa = docs("base/serviceaccount.yaml")[0]["metadata"]
    dep = docs("base/deployment.yaml")[0]
    assert dep["spec"]["template"]["spec"]["serviceAccountName"] == sa["name"]
    for name in ("base/clusterrole.yaml", SECRETS_ROLE):
        role, binding = docs(name)
        assert binding["roleRef"]["name"] == role["metadata"]["name"]
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["name"], "namespace": sa["namespace"]}]


def test_deployment_runs_non_root_with_probes_on_the_exporter_paths() -> None:
    dep = docs("base/deployment.yaml")[0]
    pod = dep["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert c["args"][0] == "serve"
    # the args must be ones `pulldoctor serve` accepts
    from pulldoctor.cli import build_parser

    args = build_parser().parse_args(c["args"])
    assert args.handler == "serve" and args.all_namespaces
    port = c["ports"][0]
    assert args.listen.endswith(f":{port['containerPort']}")
    svc = docs("base/service.yaml")[0]
    assert svc["spec"]["ports"][0]["targetPort"] == port["name"]
    assert svc["spec"]["selector"] == dep["spec"]["template"]["metadata"]["labels"]
    monitor = docs(MONITOR)[0]
    assert monitor["spec"]["endpoints"][0]["port"] == svc["spec"]["ports"][0]["name"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()


def test_containerfile_builds_from_the_wheel_as_non_root_without_secrets() -> None:
    text = (DEPLOY / "Containerfile").read_text()
    froms = re.findall(r"^FROM\s+(\S+)", text, re.MULTILINE)
    assert froms and all(f == "python:3.11-slim" for f in froms)
    assert "--wheel" in text and "--no-index" in text
    users = re.findall(r"^USER\s+(\S+)", text, re.MULTILINE)
    assert users and not users[-1].startswith(("root", "0"))
    assert not re.search(r"(?i)^\s*(ARG|ENV)\s+\S*(TOKEN|PASSWORD|SECRET)", text, re.MULTILINE)


def _exposed_names() -> set[str]:
    """Every sample name a real exporter registry produces, with one failing container and one probe."""
    from prometheus_client import generate_latest

    from pulldoctor.exporter.metrics import ExporterCollector, Series, build_registry
    from pulldoctor.exporter.watch import WatchStats

    collector = ExporterCollector(
        lambda: [Series("ns", "p", "c", "img", "docker.io", "tag_not_found", "ErrImagePull")],
        lambda: {"docker.io": 7}, lambda: True, lambda: {"pods": WatchStats(events=1, errors={"gone": 1})},
    )
    registry, observe = build_registry(collector)
    observe("docker.io", 0.2)
    text = generate_latest(registry).decode()
    return {m.group(1) for m in re.finditer(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]", text, re.MULTILINE)}


def _promql() -> list[str]:
    exprs = [r["expr"] for g in docs(RULES)[0]["spec"]["groups"] for r in g["rules"]]
    dash = json.loads((DEPLOY / "base" / "grafana-dashboard.json").read_text())
    exprs += [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    return exprs


PROMQL_WORDS = {"sum", "max", "min", "by", "without", "rate", "increase", "histogram_quantile", "le", "and",
                "or", "unless", "on", "ignoring"}


def test_promql_references_only_exposed_series() -> None:
    exposed = _exposed_names()
    assert "pulldoctor_image_pull_failing" in exposed and "pulldoctor_probe_duration_seconds_bucket" in exposed
    exprs = _promql()
    assert len(exprs) >= 8
    for expr in exprs:
        # drop label matchers, grouping clauses, ranges and strings; what is left are function and series names
        without_labels = re.sub(r"\{[^}]*\}|\b(?:by|without|on|ignoring)\s*\([^)]*\)|\[[^\]]*\]|\"[^\"]*\"",
                                " ", expr)
        names = {w for w in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_labels)
                 if "_" in w and w not in PROMQL_WORDS}
        assert names, expr
        assert names <= exposed, (expr, names - exposed)


def test_alerts_cover_failing_by_cause_for_5m_and_rate_limit() -> None:
    rules = {r["alert"]: r for g in docs(RULES)[0]["spec"]["groups"] for r in g["rules"]}
    failing = rules["ImagePullFailing"]
    assert failing["for"] == "5m" and "cause" in failing["expr"] and "waiting_reason" not in failing["expr"]
    assert "pulldoctor_registry_ratelimit_remaining" in rules["RegistryRateLimitLow"]["expr"]


def test_dashboard_is_valid_grafana_json() -> None:
    dash = json.loads((DEPLOY / "base" / "grafana-dashboard.json").read_text())
    assert dash["uid"] and dash["title"] and dash["panels"]
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
