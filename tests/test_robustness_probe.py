"""``probe`` with bad options: one line, exit code 2, nothing probed. The registry is a closed loopback port,
so nothing leaves the machine. The platform, --insecure-registry and hosts.toml cases were found here as
xfail tests and fixed in ``pulldoctor.registry`` by its owner (758b5c5)."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import assert_one_line_error
from helpers import cli as _cli

TIMEOUT = 30
IMG = "127.0.0.1:1/acme/web:1.0"


cli = functools.partial(_cli, "probe", IMG, timeout=TIMEOUT)


@pytest.mark.parametrize(("content", "needle"), [
    (b"not json", "not valid JSON"),
    (b'{"auths": [1, 2]}', "JSON array, not an object"),
    (b'{"auths": {"127.0.0.1:1": {"auth": "!!!"}}}', "not base64"),
    (b'{"auths": {"127.0.0.1:1": {"auth": 5}}}', "non-string auth"),
    (b"\xff\xfe{}", "not UTF-8"),
    (b"HUGE", "larger than"),
], ids=["not-json", "auths-array", "auth-not-base64", "auth-number", "not-utf8", "huge"])  # fmt: skip
def test_bad_docker_config(tmp_path: Path, content: bytes, needle: str) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(b" " * (5 << 20) if content == b"HUGE" else content)
    assert_one_line_error(cli("--docker-config", str(path)), needle)


def test_docker_config_missing_or_a_directory(tmp_path: Path) -> None:
    assert_one_line_error(cli("--docker-config", str(tmp_path / "nope")), "No such file")
    assert_one_line_error(cli("--docker-config", str(tmp_path)), "Is a directory")


@pytest.mark.parametrize("platform", ["garbage", "linux", "linux/", "/amd64", "linux/amd64/v8/x", "long"])
def test_bad_platform(platform: str) -> None:
    r = cli("--platform", "a/" * 5000 if platform == "long" else platform)
    assert_one_line_error(r, "--platform must be OS/ARCH")
    assert len(r.stderr) < 1100


@pytest.mark.parametrize(("ca", "needle"), [("missing", "No such file"), ("notpem", "--ca-file"),
                                            ("badpem", "--ca-file"), ("dir", "Is a directory")])
def test_bad_ca_file(tmp_path: Path, ca: str, needle: str) -> None:
    (tmp_path / "notpem").write_text("hello")
    (tmp_path / "badpem").write_text("-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n")
    (tmp_path / "dir").mkdir()
    assert_one_line_error(cli("--ca-file", str(tmp_path / ca)), needle)


def test_platform_with_a_newline_is_refused() -> None:
    assert_one_line_error(cli("--platform", "linux/amd64\nx"), "--platform")


@pytest.mark.parametrize("host", ["a b", "host:99999", ""])  # http://HOST is taken as HOST, as Docker does
def test_insecure_registry_garbage_is_refused(host: str) -> None:
    assert_one_line_error(cli("--insecure-registry", host), "--insecure-registry")


def test_docker_config_that_is_json_null(tmp_path: Path) -> None:
    """``null`` is valid JSON the kubelet reads as no credentials; it used to be an IndexError (exit 3)."""
    path = tmp_path / "config.json"
    path.write_text("null")
    r = cli("--docker-config", str(path), "-o", "json")
    assert r.returncode == 1 and "internal error" not in r.stderr, r.stderr


def test_pull_secret_that_is_json_null() -> None:
    import base64

    from pulldoctor.keyring import entries_from_secret, problems_for_secret

    data = {".dockerconfigjson": base64.b64encode(b"null").decode()}
    assert entries_from_secret("ns", "n", "kubernetes.io/dockerconfigjson", data) == []
    assert [p.reason for p in problems_for_secret("ns", "n", "kubernetes.io/dockerconfigjson", data)] == [
        ".dockerconfigjson is null: it gives no credentials"]


def test_hosts_dir_with_a_fifo_does_not_hang(tmp_path: Path) -> None:
    (tmp_path / "127.0.0.1:1").mkdir()
    os.mkfifo(tmp_path / "127.0.0.1:1" / "hosts.toml")
    env = {k: v for k, v in os.environ.items() if k != "PULLDOCTOR_DEBUG"}
    r = subprocess.run([sys.executable, "-m", "pulldoctor", "probe", IMG, "--hosts-dir", str(tmp_path)],
                       capture_output=True, text=True, timeout=4, stdin=subprocess.DEVNULL, env=env)
    assert_one_line_error(r, "hosts.toml")
