"""The registry package's pure parts: challenges, tokens, rate-limit headers, platforms, tag suggestions."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulldoctor.errors import UsageError
from pulldoctor.registry.auth import TokenCache, TokenResult, parse_challenges, pick_challenge, token_from_json
from pulldoctor.registry.manifest import accepts, choose, index_platforms, layers_size, normalize, parse_platform
from pulldoctor.registry.models import ProbeOptions, ProbeResult, RateLimit
from pulldoctor.registry.ratelimit import parse_ratelimit
from pulldoctor.registry.tags import edit_distance, suggest

# -- challenges -----------------------------------------------------------------------------------------------


def test_docker_hub_challenge() -> None:
    header = ('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
              'scope="repository:library/nginx:pull",error="insufficient_scope"')
    (ch,) = parse_challenges(header)
    assert ch.scheme == "bearer"
    assert (ch.realm, ch.service, ch.scope, ch.error) == (
        "https://auth.docker.io/token", "registry.docker.io", "repository:library/nginx:pull", "insufficient_scope")


def test_several_challenges_and_escapes() -> None:
    chs = parse_challenges('Basic realm="a \\"quoted\\" realm", Bearer realm="https://t/x",service=reg')
    assert [c.scheme for c in chs] == ["basic", "bearer"]
    assert chs[0].realm == 'a "quoted" realm'
    assert chs[1].service == "reg"
    assert pick_challenge(chs) is chs[1]  # Bearer preferred, as containerd does


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_challenge_parser_never_raises(header: str) -> None:
    for ch in parse_challenges(header):
        assert isinstance(ch.params, dict)


def test_token_json_variants() -> None:
    assert token_from_json({"token": "a", "expires_in": 300}) == ("a", 300.0)
    assert token_from_json({"access_token": "b"}) == ("b", 60.0)  # spec default lifetime
    assert token_from_json({"token": ""})[0] is None
    assert token_from_json(["token"])[0] is None
    assert token_from_json({"token": "c", "expires_in": "soon"}) == ("c", 60.0)


def test_token_cache_single_flight_and_expiry() -> None:
    now = [1000.0]
    cache = TokenCache(clock=lambda: now[0])
    calls = 0

    async def fetch() -> TokenResult:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return TokenResult(f"t{calls}", 200, "", 60.0)

    async def main() -> list[TokenResult]:
        key = ("realm", "svc", ("repository:a:pull",), "")
        first = await asyncio.gather(*(cache.get(key, fetch) for _ in range(50)))
        now[0] += 30
        again = await cache.get(key, fetch)
        now[0] += 60
        later = await cache.get(key, fetch)
        return [*first, again, later]

    results = asyncio.run(main())
    assert {r.token for r in results[:50]} == {"t1"}
    assert results[50].token == "t1"
    assert results[51].token == "t2"
    assert calls == 2


# -- rate limits ----------------------------------------------------------------------------------------------


def test_ratelimit_headers() -> None:
    rl = parse_ratelimit({"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "76;w=21600",
                          "docker-ratelimit-source": "1.2.3.4"})
    assert rl == RateLimit(limit=100, remaining=76, window=21600, source="1.2.3.4", retry_after=None)
    assert rl.describe() == "76 of 100 left per 21600 s"
    assert parse_ratelimit({}) is None
    assert parse_ratelimit({"ratelimit-limit": "garbage"}) == RateLimit()


# -- platforms ------------------------------------------------------------------------------------------------


def test_platform_normalisation_and_matching() -> None:
    assert parse_platform("linux/aarch64/8") == normalize("linux", "arm64")
    assert str(parse_platform("linux/arm")) == "linux/arm/v7"
    with pytest.raises(UsageError):
        parse_platform("linux")
    arm7 = parse_platform("linux/arm/v7")
    assert accepts(arm7, normalize("linux", "arm", "v6")) == 1
    assert accepts(normalize("linux", "arm", "v6"), arm7) is None
    assert accepts(parse_platform("linux/amd64"), parse_platform("windows/amd64")) is None


def test_choose_from_index_skips_attestations() -> None:
    doc = {"manifests": [
        {"digest": "sha256:att", "platform": {"os": "unknown", "architecture": "unknown"}},
        {"digest": "sha256:v6", "platform": {"os": "linux", "architecture": "arm", "variant": "v6"}},
        {"digest": "sha256:v7", "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
        {"digest": "sha256:amd", "platform": {"os": "linux", "architecture": "amd64"}, "size": 7},
        "junk",
    ]}
    entries = index_platforms(doc)
    assert [str(p) for p, _d, _s in entries] == ["linux/arm/v6", "linux/arm/v7", "linux/amd64"]
    assert choose(parse_platform("linux/arm/v7"), entries)[1] == "sha256:v7"
    assert choose(parse_platform("linux/arm64"), entries) is None
    assert layers_size({"layers": [{"size": 10}, {"size": 5}, {"size": "x"}]}) == (15, 2)
    assert layers_size({}) is None


# -- suggestions ----------------------------------------------------------------------------------------------


def test_suggestions_prefer_version_neighbours_then_typos() -> None:
    tags = ["1.25.3", "1.26.0", "1.24.9", "latest", "1.25.3-alpine", "stable"]
    assert suggest("1.25.4", tags, 3) == ["1.25.3", "1.26.0", "1.24.9"]
    assert suggest("lastest", tags) == ["latest"]
    assert suggest("1.25.4-alpine", tags)[0] == "1.25.3-alpine"
    assert suggest("zzz", tags) == []
    assert suggest("v1", ["V1"]) == ["V1"]


def test_edit_distance_is_bounded() -> None:
    assert edit_distance("kitten", "sitting", 5) == 3
    assert edit_distance("a" * 100, "b" * 100, 2) == 3


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=20), st.lists(st.text(max_size=20), max_size=30))
def test_suggest_returns_existing_tags_only(target: str, tags: list[str]) -> None:
    out = suggest(target, tags, 5)
    assert len(out) <= 5 and set(out) <= set(tags) and target not in out


# -- options and results --------------------------------------------------------------------------------------


def test_options_build_normalises_hosts() -> None:
    opts = ProbeOptions.build(insecure_registries=["HTTP://Reg.Example:5000/", "[::1]:5000"],
                              https_registries=["localhost:8443"])
    assert opts.insecure_registries == frozenset({"reg.example:5000", "[::1]:5000"})
    assert opts.https_registries == frozenset({"localhost:8443"})


@pytest.mark.parametrize("bad", [" ", "a b", "host:99999", "host:0", "reg.io/path", "-x"])
def test_options_build_refuses_what_is_not_host_port(bad: str) -> None:
    with pytest.raises(UsageError, match="--insecure-registry"):
        ProbeOptions.build(insecure_registries=[bad])


def test_result_json_shape() -> None:
    doc = ProbeResult(image="x").to_json()
    assert {"image", "cause", "steps", "digest", "platforms", "size", "ratelimit", "suggestions",
            "credentials_sent", "status"} <= doc.keys()
    assert doc["cause"] is None


def test_importing_the_package_does_not_import_aiohttp() -> None:
    code = "import sys, pulldoctor.registry, pulldoctor.cli; print('aiohttp' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize("extra,needle", [
    (["--ca-file", "/nonexistent/ca.pem"], "--ca-file"),
    (["--platform", "linux"], "--platform"),
    (["--docker-config", "/nonexistent/config.json"], "--docker-config"),
])
def test_cli_bad_usage_is_exit_2_without_network(extra: list[str], needle: str) -> None:
    out = subprocess.run([sys.executable, "-m", "pulldoctor", "probe", "127.0.0.1:9/a:v1", *extra],
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2, out.stdout + out.stderr
    assert needle in out.stderr and "Traceback" not in out.stderr


def test_sustained_rate_skips_the_opening_burst_and_counts_a_stop() -> None:
    from pulldoctor.registry.attempt import sustained_rate

    steady = [(0.002, 3646), (0.024, 5648), (1.002, 7696), (2.003, 9744)]  # limit_rate_after 4k, then 2k/s
    assert abs(sustained_rate(steady, 3.0, "time") - 2048) < 100  # type: ignore[operator]
    stopped = [(0.01, 1000), (0.1, 2000), (0.2, 3000), (0.3, 4000), (0.4, 5000)]  # then silence until the cap
    assert sustained_rate(stopped, 3.0, "time") < 1500  # type: ignore[operator]
    assert sustained_rate(stopped, 0.4, "complete") > 9000  # type: ignore[operator]
    fast = [(0.01, 1 << 20), (0.03, 4 << 20)]
    assert sustained_rate(fast, 0.03, "bytes") > 100 << 20  # type: ignore[operator]
    assert sustained_rate([], 3.0, "time") is None
