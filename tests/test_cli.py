"""The command line's contract: version, help on every subcommand, one-line usage errors with exit 2."""

from __future__ import annotations

import pytest

from helpers import cli
from pulldoctor import __version__
from pulldoctor.cli import build_parser, main

SUBCOMMANDS = ["diagnose", "classify", "probe", "ref", "collect", "serve"]


def test_version() -> None:
    out = cli("--version")
    assert out.returncode == 0
    assert out.stdout.strip() == f"pulldoctor {__version__}"


@pytest.mark.parametrize("sub", SUBCOMMANDS)
def test_help_on_every_subcommand(sub: str) -> None:
    out = cli(sub, "--help")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"usage: pulldoctor {sub}")


def test_usage_error_is_one_line_exit_2() -> None:
    out = cli("ref")
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


def test_unknown_subcommand_exit_2() -> None:
    out = cli("frobnicate")
    assert out.returncode == 2 and "Traceback" not in out.stderr


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2


def test_parser_knows_all_subcommands() -> None:
    parser = build_parser()
    for sub in SUBCOMMANDS:
        assert parser.parse_args([sub, "--help"] if False else [sub, *(["x"] if sub in {"probe", "ref"} else []),
                                  *(["-o", "b.tgz"] if sub == "collect" else [])]).handler == sub
