"""``pulldoctor ref``: tricky references through the command line, JSON and text, and refusals.

Expected values come from the distribution/reference v0.6.0 rules and the kubelet's defaults
(shared/research/kubelet-semantics.md §1–2), not from running the code.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pulldoctor.cli import main

H64 = "0123456789abcdef" * 4


def ref_json(image: str, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(["ref", "-o", "json", "--", image]) == 0
    return json.loads(capsys.readouterr().out)


def ref_error(image: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert main(["ref", "-o", "json", "--", image]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    return captured.err


VALID = [
    # image, normalized, registry, repository, tag, digest, default policy
    ("nginx", "docker.io/library/nginx:latest", "docker.io", "library/nginx", None, None, "Always"),
    ("nginx:1.25", "docker.io/library/nginx:1.25", "docker.io", "library/nginx", "1.25", None, "IfNotPresent"),
    ("index.docker.io/nginx", "docker.io/library/nginx:latest", "docker.io", "library/nginx", None, None, "Always"),
    ("bitnami/redis:7", "docker.io/bitnami/redis:7", "docker.io", "bitnami/redis", "7", None, "IfNotPresent"),
    ("localhost/x", "localhost/x:latest", "localhost", "x", None, None, "Always"),
    ("localhost:5000/x", "localhost:5000/x:latest", "localhost:5000", "x", None, None, "Always"),
    ("[::1]:5000/a", "[::1]:5000/a:latest", "[::1]:5000", "a", None, None, "Always"),
    ("127.0.0.1:5000/team/app:v2", "127.0.0.1:5000/team/app:v2", "127.0.0.1:5000", "team/app", "v2", None,
     "IfNotPresent"),
    ("Example.com/x", "Example.com/x:latest", "Example.com", "x", None, None, "Always"),
    (f"ghcr.io/o/a@sha256:{H64}", f"ghcr.io/o/a@sha256:{H64}", "ghcr.io", "o/a", None, f"sha256:{H64}",
     "IfNotPresent"),
    (f"ghcr.io/o/a:1.0@sha256:{H64}", f"ghcr.io/o/a@sha256:{H64}", "ghcr.io", "o/a", "1.0", f"sha256:{H64}",
     "IfNotPresent"),
    (f"nginx:latest@sha256:{H64}", f"docker.io/library/nginx@sha256:{H64}", "docker.io", "library/nginx",
     "latest", f"sha256:{H64}", "Always"),
    ("a__b", "docker.io/library/a__b:latest", "docker.io", "library/a__b", None, None, "Always"),
    ("a--b", "docker.io/library/a--b:latest", "docker.io", "library/a--b", None, None, "Always"),
    ("quay.io/" + "p" * 255, "quay.io/" + "p" * 255 + ":latest", "quay.io", "p" * 255, None, None, "Always"),
    ("x:" + "T" * 128, "docker.io/library/x:" + "T" * 128, "docker.io", "library/x", "T" * 128, None,
     "IfNotPresent"),
    ("myregistry/app", "docker.io/myregistry/app:latest", "docker.io", "myregistry/app", None, None, "Always"),
]


@pytest.mark.parametrize(("image", "normalized", "registry", "repository", "tag", "digest", "policy"), VALID)
def test_valid_references(image: str, normalized: str, registry: str, repository: str, tag: str | None,
                          digest: str | None, policy: str, capsys: pytest.CaptureFixture[str]) -> None:
    doc = ref_json(image, capsys)
    assert doc["normalized"] == normalized
    assert (doc["registry"], doc["repository"], doc["tag"], doc["digest"]) == (registry, repository, tag, digest)
    assert doc["default_pull_policy"] == policy
    assert doc["endpoint"] == ("registry-1.docker.io" if registry == "docker.io" else registry)
    assert doc["original"] == image


INVALID = [
    # image, words the one line must contain (the rule and the offending part)
    ("Nginx", ["must be lowercase", "Nginx"]),
    ("https://ghcr.io/org/app", ["remove the scheme", "https://"]),
    ("None:None", ["template", "None"]),
    ("", ["empty"]),
    (" nginx", ["whitespace"]),
    ("nginx ", ["whitespace"]),
    ("quay.io/" + "p" * 256, ["255 characters", "p" * 256]),
    (H64, ["64-byte hexadecimal", H64]),
    ("x:" + "T" * 129, ["at most 128", "T" * 129]),
    ("a___b", ["path component", "a___b"]),
    ("-a", ["path component", "-a"]),
    ("nginx/", ["empty path component", "nginx/"]),
    ("nginx:", ["empty tag"]),
    ("x@sha256:short", ["digest", "sha256:short"]),
    ("x@sha256:" + "a" * 40, ["digest length", "sha256 needs 64"]),
    ("ghcr.io/Org/app", ["must be lowercase", "Org"]),
    ("reg:port/app", ["port", "reg:port"]),
]


@pytest.mark.parametrize(("image", "words"), INVALID)
def test_invalid_references(image: str, words: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    line = ref_error(image, capsys)
    assert line.startswith("pulldoctor: ")
    for w in words:
        assert w in line


def test_there_are_at_least_25_tricky_references() -> None:
    assert len(VALID) + len(INVALID) >= 25


def test_text_output_is_aligned_key_value_lines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ref", "ghcr.io/org/app:1.2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    pairs = {k: v.strip() for k, v in (line.split(":", 1) for line in lines)}
    assert set(pairs) >= {"normalized", "registry", "repository", "tag", "digest", "endpoint", "default_pull_policy"}
    assert pairs["normalized"] == "ghcr.io/org/app:1.2" and pairs["default_pull_policy"] == "IfNotPresent"
    assert pairs["digest"] == "-"
    value_columns = {len(line) - len(line.split(":", 1)[1].lstrip()) for line in lines}
    assert len(value_columns) == 1  # values aligned


def test_real_entry_point_one_line_exit_2() -> None:
    out = subprocess.run([sys.executable, "-m", "pulldoctor", "ref", "Nginx"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr == "pulldoctor: invalid reference format: repository name must be lowercase: Nginx\n"
    ok = subprocess.run([sys.executable, "-m", "pulldoctor", "ref", "-o", "json", "nginx"], capture_output=True,
                        text=True, timeout=60)
    assert ok.returncode == 0 and json.loads(ok.stdout)["normalized"] == "docker.io/library/nginx:latest"


CANARY = "CANARY-pw-7f3a9c"


@pytest.mark.parametrize("image", [f"https://alice:{CANARY}@ghcr.io/org/app", f"alice:{CANARY}@ghcr.io/org/app",
                                   f"alice:{CANARY}@ghcr.io/org/app:1"])
def test_password_typed_into_a_reference_is_not_echoed(image: str, capsys: pytest.CaptureFixture[str]) -> None:
    line = ref_error(image, capsys)
    assert CANARY not in line and "***" in line
