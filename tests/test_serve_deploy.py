"""deploy/: every manifest parses, has the right kind and apiVersion, the RBAC is exactly least privilege,
and every PromQL expression (alerts and dashboard) names only series the exporter really exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"

EXPECTED_KINDS = {
    "namespace.yaml": [("v1", "Namespace")],
    "serviceaccount.yaml": [("v1", "ServiceAccount")],
    "clusterrole.yaml": [("rbac.authorization.k8s.io/v1", "ClusterRole"),
                         ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")],
    "clusterrole-secrets.yaml": [("rbac.authorization.k8s.io/v1", "ClusterRole"),
                                 ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding")],
    "deployment.yaml": [("apps/v1", "Deployment")],
    "service.yaml": [("v1", "Service")],
    "servicemonitor.yaml": [("monitoring.coreos.com/v1", "ServiceMonitor")],
    "prometheusrule.yaml": [("monitoring.coreos.com/v1", "PrometheusRule")],
    "kustomization.yaml": [("kustomize.config.k8s.io/v1beta1", "Kustomization")],
}


def docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((DEPLOY / name).read_text()) if d is not None]


@pytest.mark.parametrize("name", sorted(EXPECTED_KINDS))
def test_manifest_kinds_and_api_versions(name: str) -> None:
    assert [(d["apiVersion"], d["kind"]) for d in docs(name)] == EXPECTED_KINDS[name]


def test_every_yaml_file_is_checked_and_in_kustomization() -> None:
    on_disk = {p.name for p in DEPLOY.glob("*.yaml")}
    assert on_disk == set(EXPECTED_KINDS)
    listed = set(docs("kustomization.yaml")[0]["resources"])
    assert listed == on_disk - {"kustomization.yaml"}


def test_cluster_role_is_read_only_least_privilege() -> None:
    role = docs("clusterrole.yaml")[0]
    granted = {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
               for v in rule["verbs"]}
    assert granted == {("", r, v) for r in ("pods", "events", "nodes", "serviceaccounts")
                       for v in ("get", "list", "watch")}


def test_secrets_role_is_separate_get_only_and_explained() -> None:
    text = (DEPLOY / "clusterrole-secrets.yaml").read_text()
    role = docs("clusterrole-secrets.yaml")[0]
    assert [(r["apiGroups"], r["resources"], r["verbs"]) for r in role["rules"]] == [([""], ["secrets"], ["get"])]
    assert "Without this role" in text
    main_role = docs("clusterrole.yaml")[0]
    assert all("secrets" not in r["resources"] for r in main_role["rules"])


def test_bindings_point_at_the_service_account_the_deployment_uses() -> None:
    sa = docs("serviceaccount.yaml")[0]["metadata"]
    dep = docs("deployment.yaml")[0]
    assert dep["spec"]["template"]["spec"]["serviceAccountName"] == sa["name"]
    for name in ("clusterrole.yaml", "clusterrole-secrets.yaml"):
        role, binding = docs(name)
        assert binding["roleRef"]["name"] == role["metadata"]["name"]
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa["name"], "namespace": sa["namespace"]}]


def test_deployment_runs_non_root_with_probes_on_the_exporter_paths() -> None:
    dep = docs("deployment.yaml")[0]
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
    svc = docs("service.yaml")[0]
    assert svc["spec"]["ports"][0]["targetPort"] == port["name"]
    assert svc["spec"]["selector"] == dep["spec"]["template"]["metadata"]["labels"]
    monitor = docs("servicemonitor.yaml")[0]
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
    exprs = [r["expr"] for g in docs("prometheusrule.yaml")[0]["spec"]["groups"] for r in g["rules"]]
    dash = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
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
    rules = {r["alert"]: r for g in docs("prometheusrule.yaml")[0]["spec"]["groups"] for r in g["rules"]}
    failing = rules["ImagePullFailing"]
    assert failing["for"] == "5m" and "cause" in failing["expr"] and "waiting_reason" not in failing["expr"]
    assert "pulldoctor_registry_ratelimit_remaining" in rules["RegistryRateLimitLow"]["expr"]


def test_dashboard_is_valid_grafana_json() -> None:
    dash = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    assert dash["uid"] and dash["title"] and dash["panels"]
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
