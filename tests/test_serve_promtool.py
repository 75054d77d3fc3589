"""Prometheus' own linter on what the exporter serves and on deploy/'s rules: Debian's ``promtool``.

``promtool check metrics`` on a real /metrics scrape (the exporter against the fake API server) and on a
registry with every series filled in; ``promtool check rules`` on the rule groups of the PrometheusRule.
Locally a missing promtool skips; in CI it fails (tests/parts.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from test_serve import NO_AUTH, failing_pod, http_get, pods_in, wait_for

from kubeapi import FakeKubeAPI
from kubeapi import objects as o
from parts import need_binary

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


@pytest.fixture(scope="module")
def promtool() -> str:
    return need_binary("promtool")


def check_metrics(promtool: str, text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True,
                          timeout=60, check=False)


def test_promtool_flags_a_gauge_named_total(promtool: str) -> None:
    """The check has teeth: the exporter's old name for the per-cause gauge fails it."""
    old = ('# HELP pulldoctor_image_pull_failing_total Containers failing now, by cause.\n'
           '# TYPE pulldoctor_image_pull_failing_total gauge\n'
           'pulldoctor_image_pull_failing_total{cause="tag_not_found"} 1.0\n')
    out = check_metrics(promtool, old)
    assert out.returncode != 0 and 'should not have "_total" suffix' in out.stdout + out.stderr


def test_promtool_check_metrics_on_a_real_scrape(promtool: str, tmp_path: Path) -> None:
    from pulldoctor.exporter import Exporter, ExporterConfig

    with FakeKubeAPI([o.service_account("default", "default"), o.node("node-1")]) as api:
        api.add(failing_pod("web"))
        api.add(failing_pod("api", "ghcr.io/acme/api:2.0", NO_AUTH, reason="ImagePullBackOff"))
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        ex = Exporter(ExporterConfig(listen_host="127.0.0.1", listen_port=0, kubeconfig=str(kubeconfig),
                                     all_namespaces=True, probe=False))
        ex.start()
        try:
            wait_for(lambda: ex.ready and pods_in(ex.port) == {"web", "api"}, 10)
            code, text = http_get(ex.port, "/metrics")
        finally:
            ex.stop()
    assert code == 200
    assert "pulldoctor_image_pull_failing_containers" in text and "_failing_total" not in text
    out = check_metrics(promtool, text)
    assert (out.returncode, out.stdout + out.stderr) == (0, "")


def test_promtool_check_metrics_with_every_series_present(promtool: str) -> None:
    """Rate limits, probe histograms and watch errors only appear with probes and failures: fill them in."""
    from prometheus_client import generate_latest

    from pulldoctor.exporter.metrics import EXPOSED, ExporterCollector, Series, build_registry
    from pulldoctor.exporter.watch import WatchStats

    collector = ExporterCollector(
        lambda: [Series("ns", "p", "c", "img", "docker.io", "tag_not_found", "ErrImagePull")],
        lambda: {"docker.io": 7}, lambda: True, lambda: {"pods": WatchStats(events=1, errors={"gone": 1})},
    )
    registry, observe = build_registry(collector)
    observe("docker.io", 0.2)
    text = generate_latest(registry).decode()
    assert all(name in text for name in EXPOSED)
    out = check_metrics(promtool, text)
    assert (out.returncode, out.stdout + out.stderr) == (0, "")


def test_promtool_check_rules_on_the_prometheusrule(promtool: str, tmp_path: Path) -> None:
    (rule,) = [d for d in yaml.safe_load_all((DEPLOY / "components" / "prometheus-operator" / "prometheusrule.yaml").read_text()) if d]
    groups = rule["spec"]["groups"]
    assert groups
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": groups}, sort_keys=False))
    out = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    n = sum(len(g["rules"]) for g in groups)
    assert f"SUCCESS: {n} rules found" in out.stdout
