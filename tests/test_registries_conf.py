"""A CRI-O node's registries.conf as the probe's plan (``--registries-conf``), checked against real
containers/image (skopeo) reading the very same file: mirrors in order, ``insecure``, ``blocked``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from helpers import assert_one_line_error, cli
from lab import Lab
from parts import need_binary
from pulldoctor.causes import Cause
from pulldoctor.registry import ProbeOptions, probe_sync
from pulldoctor.registry.registries_conf import load

pytestmark = [pytest.mark.lab]


def _conf(tmp: Path, text: str) -> Path:
    p = tmp / "registries.conf"
    p.write_text(text)
    return p


def _skopeo(conf: Path, image: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    (tmp / "policy.json").write_text('{"default": [{"type": "insecureAcceptAnything"}]}')
    return subprocess.run([need_binary("skopeo"), "--policy", str(tmp / "policy.json"), "--registries-conf",
                           str(conf), "inspect", "--retry-times",
                           "0", f"docker://{image}"], capture_output=True, text=True, timeout=60, check=False,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp), "CONTAINERS_REGISTRIES_CONF": str(conf)})


def _probe(conf: Path, image: str) -> object:
    opts = ProbeOptions.build(registries_conf=str(conf), request_timeout=5.0, connect_timeout=3.0)
    return probe_sync(image, options=opts)


def test_insecure_registry_and_a_dead_mirror_pull_like_skopeo(lab: Lab, tmp_path: Path) -> None:
    pushed = lab.push(lab.open_registry, lab.fresh_repo("rc"), "v1")
    conf = _conf(tmp_path, f'[[registry]]\nlocation = "{lab.open_registry}"\ninsecure = true\n\n'
                           f'[[registry.mirror]]\nlocation = "{lab.closed_port}"\ninsecure = true\n')
    real = _skopeo(conf, pushed.ref, tmp_path)
    assert real.returncode == 0, real.stderr  # containers/image: the mirror fails, the registry serves it
    res = _probe(conf, pushed.ref)
    assert res.cause is None, res  # type: ignore[attr-defined]
    hosts = [s.detail for s in res.steps if s.name == "hosts"]  # type: ignore[attr-defined]
    assert hosts and lab.closed_port in hosts[0] and "registries.conf" in hosts[0], hosts


def test_without_insecure_loopback_gets_https_like_skopeo(lab: Lab, tmp_path: Path) -> None:
    pushed = lab.push(lab.open_registry, lab.fresh_repo("rc"), "v1")
    conf = _conf(tmp_path, f'[[registry]]\nlocation = "{lab.open_registry}"\n')
    real = _skopeo(conf, pushed.ref, tmp_path)
    assert real.returncode != 0 and "server gave HTTP response to HTTPS client" in real.stderr, real.stderr
    assert _probe(conf, pushed.ref).cause is Cause.HTTP_VS_HTTPS  # type: ignore[attr-defined]


def test_blocked_registry_is_refused_like_skopeo(lab: Lab, tmp_path: Path) -> None:
    pushed = lab.push(lab.open_registry, lab.fresh_repo("rc"), "v1")
    conf = _conf(tmp_path, f'[[registry]]\nlocation = "{lab.open_registry}"\nblocked = true\n')
    real = _skopeo(conf, pushed.ref, tmp_path)
    assert real.returncode != 0 and "blocked" in real.stderr, real.stderr
    res = _probe(conf, pushed.ref)
    assert res.cause is Cause.OTHER and "blocked = true" in res.failed_step.detail  # type: ignore[attr-defined]


def test_parsing_rules(tmp_path: Path) -> None:
    conf = load(_conf(tmp_path, 'unqualified-search-registries = ["docker.io", "quay.io"]\n'
                                'short-name-mode = "enforcing"\n'
                                '[[registry]]\nprefix = "*.corp.example"\nlocation = "mirror.corp.example"\n'
                                '[[registry]]\nprefix = "docker.io/library"\nlocation = "lib.example/library"\n'))
    assert conf.search == ("docker.io", "quay.io") and conf.short_name_mode == "enforcing"
    found = conf.lookup("registry.corp.example")
    assert found is not None and found.hosts[-1].host == "mirror.corp.example"
    assert conf.lookup("corp.example.org") is None and conf.skipped == ("docker.io/library",)


@pytest.mark.parametrize(("text", "needle"), [
    ("[[registry]\n", "not valid TOML"),
    ('[registries.search]\nregistries = ["docker.io"]\n', "version 1"),
    ("[[registry]]\ninsecure = true\n", "neither prefix nor location"),
    ("registry = 5\n", "[[registry]]"),
])
def test_bad_registries_conf_is_one_line(tmp_path: Path, text: str, needle: str) -> None:
    conf = _conf(tmp_path, text)
    assert_one_line_error(cli("probe", "localhost:5000/a:b", "--registries-conf", str(conf)), needle)


def test_both_runtime_configs_is_a_usage_error(tmp_path: Path) -> None:
    conf = _conf(tmp_path, "")
    assert_one_line_error(cli("probe", "localhost:5000/a:b", "--registries-conf", str(conf), "--hosts-dir",
                              str(tmp_path)), "--hosts-dir")
