"""``pulldoctor classify``: arguments, text and JSON output, the stdin JSON Lines round trip, bad input."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import cli
from pulldoctor.cli import main

CORPUS = Path(__file__).parent / "data" / "corpus" / "dev.jsonl"
TAG_404 = ('Failed to pull image "nginx:nope": rpc error: code = NotFound desc = failed to pull and unpack image '
           '"docker.io/library/nginx:nope": failed to resolve reference "docker.io/library/nginx:nope": '
           "docker.io/library/nginx:nope: not found")
QPS = 'Failed to pull image "r.example.com/a:1": pull QPS exceeded'


run_cli = functools.partial(cli, "classify")


def test_text_output_per_message(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["classify", TAG_404, QPS]) == 0
    out = capsys.readouterr().out
    blocks = out.strip().split("\n\n")
    assert len(blocks) == 2
    assert blocks[0].startswith("cause: tag_not_found") and "image: nginx:nope" in blocks[0]
    assert "grpc_code: NotFound" in blocks[0] and "runtime: containerd" in blocks[0]
    assert blocks[1].startswith("cause: rate_limited")


def test_json_output_one_object_per_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["classify", "-o", "json", TAG_404, QPS]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["cause"] for line in lines] == ["tag_not_found", "rate_limited"]
    first = json.loads(lines[0])
    assert first["message"] == TAG_404 and first["fields"]["image"] == "nginx:nope"
    assert first["signals"][0] == "tag_not_found"


def test_stdin_round_trip_keeps_keys_order_and_lines() -> None:
    records = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip()]
    stdin = "".join(json.dumps(r) + "\n" for r in records)
    out = run_cli(stdin=stdin)
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    back = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(back) == len(records)
    for sent, got in zip(records, back, strict=True):
        assert list(got)[: len(sent)] == list(sent)  # other keys kept, in their order
        assert {k: got[k] for k in sent} == sent  # and unchanged
        assert got["cause"] in got["signals"] and isinstance(got["fields"], dict)
    assert sum(g["cause"] in s["accept"] for s, g in zip(records, back, strict=True)) >= 0.95 * len(records)


def test_stdin_blank_lines_are_skipped() -> None:
    out = run_cli(stdin='\n{"message": "pull QPS exceeded"}\n\n')
    assert out.returncode == 0
    assert [json.loads(x)["cause"] for x in out.stdout.splitlines()] == ["rate_limited"]


@pytest.mark.parametrize(("line", "why"), [
    ("not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    ('{"msg": "x"}', 'no "message" string'),
    ('{"message": 5}', 'no "message" string'),
])
def test_bad_stdin_line_is_one_line_exit_2(line: str, why: str) -> None:
    out = run_cli(stdin='{"message": "pull QPS exceeded"}\n' + line + '\n{"message": "x"}\n')
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    assert "line 2" in out.stderr and why in out.stderr
    # stop at the bad line: the line before it was written, the one after was not
    assert len(out.stdout.splitlines()) == 1


def test_exit_code_is_zero_whatever_the_cause() -> None:
    out = run_cli("-o", "json", "x509: certificate signed by unknown authority", "nothing to see")
    assert out.returncode == 0
    assert [json.loads(x)["cause"] for x in out.stdout.splitlines()] == ["tls_error", "other"]


def test_classify_does_not_import_heavy_libraries() -> None:
    code = ("import sys; from pulldoctor.cli import main; main(['classify', 'pull QPS exceeded']); "
            "heavy = [m for m in ('aiohttp', 'kubernetes', 'prometheus_client', 'yaml') if m in sys.modules]; "
            "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().endswith("HEAVY []")
