"""Small config files (CredentialProviderConfig, a node's kubelet config) are parsed without aliases or deep
nesting: a hostile file is one line, never a billion-laughs expansion or a crash."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import assert_one_line_error, cli
from pulldoctor.yamlconf import YamlConfigError, load

LAUGHS = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8))


def test_plain_config_parses() -> None:
    assert load("apiVersion: kubelet.config.k8s.io/v1\nproviders:\n- name: ecr\n  matchImages: ['*.ecr.io']\n") \
        == {"apiVersion": "kubelet.config.k8s.io/v1", "providers": [{"name": "ecr", "matchImages": ["*.ecr.io"]}]}


@pytest.mark.parametrize(("text", "needle"), [(LAUGHS, "alias"), ("[" * 200 + "]" * 200, "nests more than"),
                                              ("a: [1\n", "not valid YAML"), ("x: !!int abc\n", "cannot build")])
def test_hostile_config_is_one_error(text: str, needle: str) -> None:
    with pytest.raises(YamlConfigError, match=needle):
        load(text)


def test_credential_provider_config_bomb_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "c.json").write_text('{"kind": "List", "items": []}')
    bomb = tmp_path / "providers.yaml"
    bomb.write_text(LAUGHS)
    r = cli("diagnose", "--from", str(tmp_path / "c.json"), "--no-probe", "--credential-provider-config", str(bomb),
            timeout=60)
    assert_one_line_error(r, "alias")
