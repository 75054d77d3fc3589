"""Image references: the distribution/reference v0.6.0 grammar, normalisation and the kubelet's defaults.

Tables marked "upstream" are the cases of distribution/reference's own normalize_test.go and
reference_test.go (facts about the Go library); the others are written from the rules in
shared/research/kubelet-semantics.md §1–2.
"""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pulldoctor.causes import PullPolicy
from pulldoctor.errors import InvalidReference
from pulldoctor.reference import (
    REFERENCE,
    ImageRef,
    _go_parse,
    default_pull_policy,
    is_loopback_host,
    parse,
    runtime_error,
)

H64 = "a" * 64
F64 = "f" * 64
D64 = "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c"


def rule_of(image: str) -> InvalidReference:
    with pytest.raises(InvalidReference) as info:
        parse(image)
    return info.value


# --- upstream: normalize_test.go TestValidateReferenceName / TestValidateRemoteName ----------------

UPSTREAM_VALID = [
    "docker/docker", "library/debian", "debian", "docker.io/docker/docker", "docker.io/library/debian",
    "docker.io/debian", "index.docker.io/docker/docker", "index.docker.io/library/debian",
    "index.docker.io/debian", "127.0.0.1:5000/docker/docker", "127.0.0.1:5000/library/debian",
    "127.0.0.1:5000/debian", "192.168.0.1", "192.168.0.1:80", "192.168.0.1:8/debian",
    "192.168.0.2:25000/debian", "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
    "[fc00::1]:5000/docker", "[fc00::1]:5000/docker/docker", "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
    "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a", "Docker/docker",
    "DOCKER/docker", "docker-rules/docker", "docker---rules/docker", "doc/docker", "d/docker", "jess/t",
    "dock__er/docker",
]
UPSTREAM_INVALID = [
    "https://github.com/docker/docker", "docker/Docker", "-docker", "-docker/docker",
    "-docker.io/docker/docker", "docker///docker", "docker.io/docker/Docker", "docker.io/docker///docker",
    "[fc00::1]", "[fc00::1]:5000", "fc00::1:5000/debian", "[fe80::1%eth0]:5000/debian",
    "[2001:db8:3:4::192.0.2.33]:5000/debian", "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
    "docker-/docker", "-docker-/docker", "____/____", "_docker/_docker", "dock..er/docker",
    "dock_.er/docker", "dock-.er/docker", "docker/", "a" * 256 + "/docker",
]


@pytest.mark.parametrize("image", UPSTREAM_VALID)
def test_upstream_valid_names(image: str) -> None:
    assert isinstance(parse(image), ImageRef)


@pytest.mark.parametrize("image", UPSTREAM_INVALID)
def test_upstream_invalid_names(image: str) -> None:
    err = rule_of(image)
    assert err.rule and str(err)


# upstream: normalize_test.go TestParseRepositoryInfo / TestNormalizedSplitHostname
@pytest.mark.parametrize(
    ("image", "registry", "repository"),
    [
        ("fooo/bar", "docker.io", "fooo/bar"),
        ("index.docker.io/fooo/bar", "docker.io", "fooo/bar"),
        ("ubuntu", "docker.io", "library/ubuntu"),
        ("library/ubuntu", "docker.io", "library/ubuntu"),
        ("127.0.0.1:8000/private/moonbase", "127.0.0.1:8000", "private/moonbase"),
        ("example.com:8000/privatebasee", "example.com:8000", "privatebasee"),
        ("ubuntu-12.04-base", "docker.io", "library/ubuntu-12.04-base"),
        ("docker.io/foo", "docker.io", "library/foo"),
        ("library/foo/bar", "docker.io", "library/foo/bar"),
        ("Foo/bar", "Foo", "bar"),
        ("FOO/bar", "FOO", "bar"),
        ("test_com/foo", "docker.io", "test_com/foo"),
        ("test-com:8080/foo", "test-com:8080", "foo"),
        ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
        ("docker.io/library/foo/bar", "docker.io", "library/foo/bar"),
        ("localhost/foo", "localhost", "foo"),
        ("localhost:5000/foo", "localhost:5000", "foo"),
        ("[::1]:5000/a", "[::1]:5000", "a"),
        ("Example.com/x", "Example.com", "x"),
    ],
)
def test_registry_and_repository(image: str, registry: str, repository: str) -> None:
    ref = parse(image)
    assert (ref.registry, ref.repository) == (registry, repository)
    assert ref.name == f"{registry}/{repository}"


# upstream: reference_test.go TestReferenceParse (Parse, before normalisation)
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("test_com", ("", "test_com", "", "")),
        ("test.com:tag", ("", "test.com", "tag", "")),
        ("test.com:5000", ("", "test.com", "5000", "")),
        ("test:5000/repo", ("test:5000", "repo", "", "")),
        (f"test:5000/repo:tag@sha256:{F64}", ("test:5000", "repo", "tag", f"sha256:{F64}")),
        ("", "repository name must have at least one component"),
        (":justtag", "invalid reference format"),
        (f"@sha256:{F64}", "invalid reference format"),
        ("repo@sha256:" + "f" * 34, "invalid checksum digest length"),
        (f"validname@invaliddigest:{F64}", "unsupported digest algorithm"),
        ("Uppercase:tag", "repository name must be lowercase"),
        ("test:5000/Uppercase/lowercase:tag", "repository name must be lowercase"),
        ("lowercase:Uppercase", ("", "lowercase", "Uppercase", "")),
        ("aa/asdf$$^/aa", "invalid reference format"),
        ("foo_bar.com:8080", ("", "foo_bar.com", "8080", "")),
        ("foo/foo_bar.com:8080", ("foo", "foo_bar.com", "8080", "")),
        ("[2001:db8::1]", "invalid reference format"),
        ("[2001:db8::1]:5000", "invalid reference format"),
        ("[2001:db8::1]/repo", ("[2001:db8::1]", "repo", "", "")),
        ("[2001:db8::]:5000/repo", ("[2001:db8::]:5000", "repo", "", "")),
        ("[fe80::1%eth0]:5000/repo", "invalid reference format"),
        ("xn--7o8h.com/myimage:xn--7o8h.com@sha512:" + "f" * 128,
         ("xn--7o8h.com", "myimage", "xn--7o8h.com", "sha512:" + "f" * 128)),
    ],
)
def test_upstream_parse_table(text: str, expected: object) -> None:
    assert _go_parse(text) == expected


# --- our rules -------------------------------------------------------------------------------------


def test_familiar_name_gets_library_and_latest() -> None:
    ref = parse("nginx")
    assert ref.normalized == "docker.io/library/nginx:latest"
    assert ref.tag is None and ref.digest is None and ref.reference == "latest"
    assert ref.endpoint == "registry-1.docker.io"
    assert ref.kubelet_image == "nginx:latest"  # the kubelet appends to the unnormalised string


def test_index_docker_io_becomes_docker_io() -> None:
    ref = parse("index.docker.io/nginx")
    assert ref.registry == "docker.io" and ref.normalized == "docker.io/library/nginx:latest"


def test_first_component_is_a_host_only_with_dot_colon_localhost_or_uppercase() -> None:
    assert parse("myregistry/app").registry == "docker.io"  # no dot: a Docker Hub user
    assert parse("myregistry.local/app").registry == "myregistry.local"
    assert parse("myregistry:5000/app").registry == "myregistry:5000"
    assert parse("localhost/app").registry == "localhost"
    assert parse("MyRegistry/app").registry == "MyRegistry"


def test_tag_and_digest_pull_by_digest() -> None:
    ref = parse(f"ghcr.io/org/app:1.2@sha256:{H64}")
    assert ref.tag == "1.2" and ref.digest == f"sha256:{H64}"
    assert ref.normalized == f"ghcr.io/org/app@sha256:{H64}"  # containerd ParseDockerRef drops the tag
    assert ref.reference == f"sha256:{H64}"
    assert ref.kubelet_image == ref.original


def test_digest_only_has_no_tag() -> None:
    ref = parse(f"redis@sha256:{D64}")
    assert ref.tag is None and ref.normalized == f"docker.io/library/redis@sha256:{D64}"


def test_endpoint_is_registry_elsewhere() -> None:
    assert parse("quay.io/a/b:1").endpoint == "quay.io"
    assert parse("[::1]:5000/a").endpoint == "[::1]:5000"


def test_lowercase_error_names_the_part_and_keeps_runtime_text() -> None:
    err = rule_of("Nginx")
    assert err.rule == "lowercase" and err.part == "Nginx"
    assert str(err) == "invalid reference format: repository name must be lowercase: Nginx"
    assert runtime_error("Nginx") == "invalid reference format: repository name (library/Nginx) must be lowercase"
    assert rule_of("ghcr.io/Org/app").part == "Org"


def test_hex_names_refused_only_bare() -> None:
    err = rule_of(D64)
    assert err.rule == "hex-name"
    assert str(err) == f"invalid repository name ({D64}), cannot specify 64-byte hexadecimal strings"
    assert parse(f"docker.io/{D64}").repository == "library/" + D64  # with a host it is a name
    assert parse(f"ghcr.io/{D64}").repository == D64
    assert parse(D64[:-1]).repository == "library/" + D64[:-1]  # 63 hex is a name


def test_path_length_counts_the_path_only() -> None:
    ok = "ghcr.io/" + "a" * 255
    assert len(parse(ok).repository) == 255
    err = rule_of("ghcr.io/" + "a" * 256)
    assert err.rule == "name-too-long" and len(err.part) == 256
    # library/ counts: a familiar name of 248 characters makes a path of 256
    assert rule_of("b" * 248).rule == "name-too-long"
    assert parse("b" * 247).repository == "library/" + "b" * 247


def test_tag_length_128_ok_129_refused() -> None:
    assert parse("x:" + "t" * 128).tag == "t" * 128
    err = rule_of("x:" + "t" * 129)
    assert err.rule == "tag" and err.part == "t" * 129


@pytest.mark.parametrize(
    ("image", "runtime"),
    [
        ("x@sha256:short", "invalid reference format"),
        ("x@sha256:" + "a" * 31, "invalid reference format"),
        ("x@sha256:" + "a" * 32, "invalid checksum digest length"),
        ("x@sha256:" + "a" * 65, "invalid checksum digest length"),
        ("x@sha256:" + "A" * 64, "invalid checksum digest format"),
        ("x@md5:" + "a" * 32, "unsupported digest algorithm"),
        ("x@sha512:" + "a" * 64, "invalid checksum digest length"),
    ],
)
def test_digest_rules(image: str, runtime: str) -> None:
    assert rule_of(image).rule == "digest"
    assert runtime_error(image) == runtime


def test_sha384_and_sha512_digests_accepted() -> None:
    assert parse("x@sha384:" + "a" * 96).digest == "sha384:" + "a" * 96
    assert parse("x@sha512:" + "a" * 128).digest == "sha512:" + "a" * 128


@pytest.mark.parametrize(
    ("image", "rule", "part"),
    [
        ("", "empty", ""),
        (" nginx", "whitespace", " "),
        ("nginx\n", "whitespace", "\n"),
        ("https://ghcr.io/a/b", "scheme", "https://"),
        ("http://nginx", "scheme", "http://"),
        ("None:None", "placeholder", "None"),
        ("nginx:", "tag", ":"),
        ("nginx:.x", "tag", ".x"),
        ("a___b", "path-component", "a___b"),
        ("-a", "path-component", "-a"),
        ("nginx/", "path-component", "nginx/"),
        ("host:abc/x", "port", "host:abc"),
        ("-host.com/x", "domain", "-host.com"),
        ("Foo_bar/x", "lowercase", "Foo_bar"),
        ("x@", "digest", "@"),
    ],
)
def test_rule_and_part(image: str, rule: str, part: str) -> None:
    err = rule_of(image)
    assert (err.rule, err.part) == (rule, part)
    assert str(err).count("\n") == 0


def test_scheme_message_says_remove_it() -> None:
    assert "remove the scheme" in str(rule_of("https://nginx"))


def test_host_the_grammar_refuses_stays_in_the_path() -> None:
    # "my_registry.com" has a dot, so splitDockerDomain takes it as the host; the grammar does not
    # (underscore), so Parse keeps it in the path and the kubelet's name is the whole path.
    ref = parse("my_registry.com/app")
    assert ref.name == "my_registry.com/app" and ref.registry == "my_registry.com"
    assert ref.normalized == "my_registry.com/app:latest"


def test_separators() -> None:
    assert parse("a__b").repository == "library/a__b"
    assert parse("a--b").repository == "library/a--b"
    assert parse("a.b_c-d").repository == "library/a.b_c-d"


def test_not_a_string_is_refused() -> None:
    with pytest.raises(InvalidReference):
        parse(None)  # type: ignore[arg-type]


# SetDefaults_Container (pkg/apis/core/v1/defaults.go)
@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", PullPolicy.ALWAYS),
        ("nginx:latest", PullPolicy.ALWAYS),
        ("nginx:1.25", PullPolicy.IF_NOT_PRESENT),
        (f"nginx@sha256:{H64}", PullPolicy.IF_NOT_PRESENT),
        (f"nginx:latest@sha256:{H64}", PullPolicy.ALWAYS),
        (f"nginx:1@sha256:{H64}", PullPolicy.IF_NOT_PRESENT),
        ("Nginx", PullPolicy.IF_NOT_PRESENT),
        ("", PullPolicy.IF_NOT_PRESENT),
        ("nginx:Latest", PullPolicy.IF_NOT_PRESENT),
    ],
)
def test_default_pull_policy(image: str, policy: PullPolicy) -> None:
    assert default_pull_policy(image) is policy


@pytest.mark.parametrize(
    ("registry", "loopback"),
    [
        ("localhost", True), ("localhost:5000", True), ("127.0.0.1:5000", True), ("127.8.9.10", True),
        ("[::1]:5000", True), ("[::1]", True), ("LOCALHOST:1", True), ("docker.io", False),
        ("10.0.0.1:5000", False), ("[fc00::1]:5000", False), ("localhost.example.com", False),
    ],
)
def test_is_loopback_host(registry: str, loopback: bool) -> None:
    assert is_loopback_host(registry) is loopback


# --- properties ------------------------------------------------------------------------------------

_ALPHABET = st.sampled_from([*list("abcAZ09._-/:@[]% \t"), "sha256:", H64, "localhost", "docker.io"])
_texty = st.one_of(st.text(max_size=80), st.lists(_ALPHABET, max_size=20).map("".join))



@st.composite
def _grammar(draw: st.DrawFn) -> str:
    """Strings of the reference grammar, built from its pieces (from_regex on the whole is slow)."""
    alnum = st.text("abz019", min_size=1, max_size=4)
    sep = st.sampled_from([".", "_", "__", "-", "---"])
    def component() -> str:
        parts = [draw(alnum)]
        for _ in range(draw(st.integers(0, 2))):
            parts += [draw(sep), draw(alnum)]
        return "".join(parts)
    host = draw(st.sampled_from(["", "", "ghcr.io", "localhost", "Reg.Example", "[::1]", "[fc00:1::2]", "a-b.c",
                                 "127.0.0.1", "docker.io", "index.docker.io", "Host", "x"]))
    port = draw(st.sampled_from(["", "", ":5000", ":1"])) if host else ""
    path = "/".join(component() for _ in range(draw(st.integers(1, 3))))
    tag = draw(st.one_of(st.just(""), st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}", fullmatch=True)))
    digest = draw(st.sampled_from(["", "", "sha256:" + H64, "sha512:" + "0" * 128, "sha256:" + "a" * 40,
                                   "md5:" + "a" * 32, "A:" + "0" * 32]))
    text = (f"{host}{port}/" if host else "") + path + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")
    assert re.fullmatch(REFERENCE, text, re.ASCII), text
    return text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_texty)
def test_parse_raises_nothing_but_invalid_reference(text: str) -> None:
    try:
        ref = parse(text)
    except InvalidReference as err:
        assert err.rule and "\n" not in str(err)
        return
    assert ref.normalized and ref.name.startswith(ref.registry + "/")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_texty, _grammar()))
def test_normalising_is_idempotent(text: str) -> None:
    try:
        ref = parse(text)
    except InvalidReference:
        return
    again = parse(ref.normalized)
    assert again.normalized == ref.normalized
    assert (again.registry, again.repository, again.digest) == (ref.registry, ref.repository, ref.digest)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_grammar())
def test_grammar_strings_parse_or_break_a_named_rule(text: str) -> None:
    try:
        parse(text)
    except InvalidReference as err:
        # the grammar admits them; normalisation or the later checks refuse some, always naming a rule
        assert err.rule not in {"format", "empty", "whitespace", "scheme"}


def test_adversarial_inputs_are_fast() -> None:
    samples = ["a" * 50_000 + "!", "a." * 20_000 + "!", "a-" * 20_000 + "!", "a/" * 20_000 + "!",
               "[" + ":" * 20_000, "x:" + "1" * 20_000 + "!", "x@" + "a" * 20_000]
    start = time.perf_counter()
    for s in samples:
        with pytest.raises(InvalidReference):
            parse(s)
    assert time.perf_counter() - start < 1.0
