"""The kubelet's credential keyring: which secret entries it would send, in which order, and why not.

Rules from pkg/credentialprovider/keyring.go, config.go and secrets/secrets.go (K8s 1.33+), as written
up in shared/research/kubelet-semantics.md §4. The canary password must never come out of anything.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import logging
import pickle
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pulldoctor.errors import SecretFormatError
from pulldoctor.keyring import (
    DOCKERCFG,
    DOCKERCONFIGJSON,
    Credential,
    Entry,
    Keyring,
    _glob_regex,
    entries_from_docker_config,
    entries_from_secret,
    match_key,
    problems_for_secret,
    redacted_entry,
    secrets_in_effect,
)

CANARY = "CANARY-pw-7f3a9c"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def auth(user: str, password: str, padded: bool = True) -> str:
    value = b64(f"{user}:{password}")
    return value if padded else value.rstrip("=")


def dockerconfigjson(auths: Mapping[str, object]) -> dict[str, str]:
    return {".dockerconfigjson": b64(json.dumps({"auths": auths}))}


def secret_entries(name: str, auths: Mapping[str, object], ns: str = "ns") -> list[Entry]:
    return entries_from_secret(ns, name, DOCKERCONFIGJSON, dockerconfigjson(auths))


def entry(key: str, source: str = "secret ns/s", user: str = "u") -> Entry:
    return Entry(key=key, source=source, credential=Credential(user, CANARY), has_username=True, has_password=True)


def keys(entries: list[Entry]) -> list[str | None]:
    return [e.match_key for e in entries]


# --- which secrets are in effect -------------------------------------------------------------------


def test_pod_secrets_replace_service_account_secrets() -> None:
    assert secrets_in_effect(["a"], ["b", "c"], "builder") == (["a"], "pod")
    assert secrets_in_effect([], ["b", "c"], "builder") == (["b", "c"], "service account builder")
    assert secrets_in_effect([], []) == ([], "none")


# --- reading secrets -------------------------------------------------------------------------------


def test_dockerconfigjson_username_password() -> None:
    [e] = secret_entries("regcred", {"ghcr.io": {"username": "alice", "password": CANARY}})
    assert e.key == "ghcr.io" and e.source == "secret ns/regcred"
    assert e.credential is not None and e.credential.username == "alice" and e.credential.password == CANARY
    assert e.has_username and e.has_password


@pytest.mark.parametrize("padded", [True, False])
def test_auth_field_overrides_username_and_password(padded: bool) -> None:
    [e] = secret_entries("r", {"ghcr.io": {"username": "ignored", "password": "ignored",
                                           "auth": auth("bob", CANARY + "x", padded)}})
    assert e.credential is not None
    assert (e.credential.username, e.credential.password) == ("bob", CANARY + "x")


def test_auth_password_may_contain_colons() -> None:
    [e] = secret_entries("r", {"ghcr.io": {"auth": auth("bob", "a:b:c")}})
    assert e.credential is not None and e.credential.password == "a:b:c"


def test_dockercfg_is_a_top_level_map() -> None:
    data = {".dockercfg": b64(json.dumps({"quay.io": {"auth": auth("carol", CANARY)}}))}
    [e] = entries_from_secret("ns", "old", DOCKERCFG, data)
    assert e.key == "quay.io" and e.credential is not None and e.credential.username == "carol"


def test_dockerconfigjson_reads_only_auths() -> None:
    payload = {"auths": {"a.io": {"username": "x"}}, "credHelpers": {"b.io": "ecr-login"}, "b.io": {"username": "y"}}
    entries = entries_from_secret("ns", "s", DOCKERCONFIGJSON, {".dockerconfigjson": b64(json.dumps(payload))})
    assert [e.key for e in entries] == ["a.io"]


def test_field_names_are_case_insensitive_like_go_json() -> None:
    payload = {"Auths": {"a.io": {"Username": "x", "PASSWORD": CANARY}}}
    [e] = entries_from_secret("ns", "s", DOCKERCONFIGJSON, {".dockerconfigjson": b64(json.dumps(payload))})
    assert e.credential is not None and (e.credential.username, e.credential.password) == ("x", CANARY)


@pytest.mark.parametrize(
    ("type_", "data", "reason"),
    [
        ("Opaque", dockerconfigjson({"a.io": {}}), "has type Opaque"),
        (DOCKERCONFIGJSON, {".dockercfg": b64("{}")}, "has no .dockerconfigjson key"),
        (DOCKERCFG, dockerconfigjson({"a.io": {}}), "has no .dockercfg key"),
        (DOCKERCONFIGJSON, {".dockerconfigjson": ""}, "empty"),
        (DOCKERCONFIGJSON, {}, "has no .dockerconfigjson key"),
    ],
)
def test_wrong_type_or_empty_key_is_skipped_and_reported(type_: str, data: dict[str, str], reason: str) -> None:
    assert entries_from_secret("ns", "x", type_, data) == []
    problems = problems_for_secret("ns", "x", type_, data)
    assert len(problems) == 1 and reason in problems[0].reason
    assert problems[0].source == "secret ns/x" and not problems[0].fatal


def test_entry_without_username_is_reported_and_sends_nothing() -> None:
    data = dockerconfigjson({"a.io": {"password": CANARY}})
    [e] = entries_from_secret("ns", "x", DOCKERCONFIGJSON, data)
    assert e.credential is None and e.has_password and not e.has_username
    assert any("no username" in p.reason for p in problems_for_secret("ns", "x", DOCKERCONFIGJSON, data))


@pytest.mark.parametrize(
    "payload",
    [
        '{"auths": {"a.io": {"password": "' + CANARY + '"',  # truncated JSON
        '{"auths": {"a.io": "' + CANARY + '"}}',  # entry is a string
        '{"auths": {"a.io": {"auth": "' + CANARY + '"}}}',  # auth is not base64 of user:pass
        '{"auths": {"a.io": {"auth": "' + b64("no-colon-" + CANARY) + '"}}}',
        '{"auths": {"a.io": {"password": 12}}}',
        '["' + CANARY + '"]',
        '{"auths": "' + CANARY + '"}',
    ],
)
def test_malformed_payload_raises_without_quoting_it(payload: str) -> None:
    data = {".dockerconfigjson": b64(payload)}
    with pytest.raises(SecretFormatError) as info:
        entries_from_secret("ns", "bad", DOCKERCONFIGJSON, data)
    assert "secret ns/bad" in str(info.value)
    assert CANARY not in str(info.value) and CANARY not in repr(info.value)
    problems = problems_for_secret("ns", "bad", DOCKERCONFIGJSON, data)
    assert problems and problems[0].fatal and all(CANARY not in str(p) for p in problems)


def test_data_that_is_not_base64_is_an_error() -> None:
    with pytest.raises(SecretFormatError):
        entries_from_secret("ns", "bad", DOCKERCONFIGJSON, {".dockerconfigjson": "!!" + CANARY})


def test_node_config_json_and_dockercfg_files() -> None:
    cfg = json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": auth("n", CANARY)}}, "credsStore": "x"})
    [e] = entries_from_docker_config(cfg, "node config.json")
    assert e.source == "node config.json" and e.match_key == "index.docker.io"
    [old] = entries_from_docker_config(json.dumps({"quay.io": {"username": "q"}}), "node .dockercfg")
    assert old.key == "quay.io"
    with pytest.raises(SecretFormatError) as info:
        entries_from_docker_config('{"auths": ' + CANARY, "node config.json")
    assert CANARY not in str(info.value)


def test_userinfo_in_a_key_is_not_kept() -> None:
    [e] = secret_entries("r", {f"https://u:{CANARY}@ghcr.io/v1/": {"username": "u"}})
    assert CANARY not in e.key and e.match_key == "ghcr.io"


# --- the match key ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("https://index.docker.io/v1/", "index.docker.io"),
        ("index.docker.io/v1/", "index.docker.io"),
        ("https://index.docker.io/v2/", "index.docker.io"),
        ("http://reg.local:5000", "reg.local:5000"),
        ("ghcr.io/org", "ghcr.io/org"),
        ("https://ghcr.io/v2/org/", "ghcr.io/org/"),
        ("ghcr.io/", "ghcr.io"),
        ("reg.io/v1", "reg.io/v1"),  # only "/v1/" with its trailing slash is dropped
        ("reg.io:abc", None),  # Go's url.Parse refuses a non-numeric port: the kubelet ignores the entry
        ("[::1]:5000", "[::1]:5000"),
    ],
)
def test_match_key(key: str, expected: str | None) -> None:
    assert match_key(key) == expected


# --- matching --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "image", "matches"),
    [
        ("ghcr.io", "ghcr.io/org/app", True),
        ("https://ghcr.io/v2/", "ghcr.io/org/app", True),
        ("ghcr.io", "quay.io/org/app", False),
        # ports must be equal; no port matches only no port
        ("reg.io:5000", "reg.io:5000/app", True),
        ("reg.io:5000", "reg.io/app", False),
        ("reg.io", "reg.io:5000/app", False),
        ("reg.io:5001", "reg.io:5000/app", False),
        # one glob per label, same number of labels
        ("*.example.com", "a.example.com/x", True),
        ("*.example.com", "example.com/x", False),
        ("*.example.com", "a.b.example.com/x", False),
        ("*.*.example.com", "a.b.example.com/x", True),
        ("reg?.io", "reg1.io/x", False),  # "?" starts a URL query in Go's url.Parse: the key becomes "reg"
        ("reg[0-3].io", "reg2.io/x", True),
        ("reg[^0-3].io", "reg2.io/x", False),
        ("reg[.io", "rega.io/x", False),  # malformed pattern: filepath.Match errors, never matches
        # the credential's path must be a prefix of the image path (a plain string prefix)
        ("ghcr.io/org", "ghcr.io/org/app", True),
        ("ghcr.io/org", "ghcr.io/other/app", False),
        ("ghcr.io/org", "ghcr.io/organisation/app", True),
        # letter case is compared as written
        ("GHCR.io", "ghcr.io/a", False),
        ("[::1]:5000", "[::1]:5000/a", True),
        ("localhost:5000", "localhost:5000/a", True),
        ("docker.io", "nginx", True),
        ("index.docker.io", "docker.io/library/nginx", True),  # via the Docker Hub fallback
        ("registry-1.docker.io", "nginx", False),
    ],
)
def test_matching_rules(key: str, image: str, matches: bool) -> None:
    e = entry(key)
    assert (Keyring([e]).lookup(image).matches == [e]) is matches


def test_every_match_in_reverse_sorted_order_pod_before_node() -> None:
    node = entry("ghcr.io", source="node config.json", user="n")
    a = entry("ghcr.io", source="secret ns/a", user="a")
    b = entry("ghcr.io/org", source="secret ns/b", user="b")
    c = entry("*.io", source="secret ns/c", user="c")
    d = entry("ghcr.io", source="secret ns/d", user="d")
    result = Keyring([node, a, b, c, d]).lookup("ghcr.io/org/app")
    # one index over all pod secrets, reverse-sorted: "ghcr.io/org" > "ghcr.io" > "*.io";
    # entries under the same key keep the secrets' order; the node's come last
    assert [e.credential.username for e in result.matches if e.credential] == ["b", "a", "d", "c", "n"]
    assert not result.used_default_fallback


def test_docker_hub_fallback_only_when_nothing_else_matched() -> None:
    hub = entry("https://index.docker.io/v1/", user="hub")
    direct = entry("docker.io", user="direct")
    only = Keyring([hub]).lookup("nginx")
    assert only.matches == [hub] and only.used_default_fallback
    both = Keyring([hub, direct]).lookup("nginx")
    assert both.matches == [direct] and not both.used_default_fallback
    # not for other registries
    assert Keyring([hub]).lookup("ghcr.io/a/b").matches == []


def test_docker_hub_fallback_applies_to_names_without_a_dotted_host() -> None:
    # isDefaultRegistryMatch: a first component without "." or ":" counts as Docker Hub — localhost too
    hub = entry("index.docker.io")
    assert Keyring([hub]).lookup("localhost/app").matches == [hub]
    assert Keyring([hub]).lookup("localhost:5000/app").matches == []


def test_fallback_is_per_keyring() -> None:
    pod_hub = entry("index.docker.io", source="secret ns/hub", user="pod")
    node_direct = entry("docker.io", source="node config.json", user="node")
    result = Keyring([pod_hub, node_direct]).lookup("nginx")
    assert result.matches == [pod_hub, node_direct]
    assert result.fallback_matches == [pod_hub] and not result.used_default_fallback


def test_redacted_entries_match_but_send_nothing() -> None:
    e = redacted_entry("ghcr.io", "secret ns/r", True, True)
    result = Keyring([e]).lookup("ghcr.io/a/b")
    assert result.matches == [e] and e.credential is None
    assert "no usable credential" in result.explanation


# --- explanations ----------------------------------------------------------------------------------


def test_miss_explained_in_one_sentence_naming_secrets_and_hosts() -> None:
    entries = secret_entries("regcred", {"ghcr.io": {"username": "a", "password": CANARY},
                                         "quay.io": {"username": "b", "password": CANARY}})
    text = Keyring(entries).lookup("registry.acme.io/team/app").explanation
    assert text == "secret ns/regcred has entries for quay.io and ghcr.io; none matches registry.acme.io" or \
        text == "secret ns/regcred has entries for ghcr.io and quay.io; none matches registry.acme.io"
    assert "\n" not in text


@pytest.mark.parametrize(
    ("key", "image", "hint"),
    [
        ("reg.io", "reg.io:5000/a", "differs in port"),
        ("ghcr.io/org", "ghcr.io/other/app", "covers only paths starting with org"),
        ("*.acme.io", "a.b.acme.io/x", "exactly one label"),
        ("Reg.io", "reg.io/x", "letter case"),
        ("registry-1.docker.io", "nginx", "index.docker.io/v1/"),
    ],
)
def test_near_miss_hints(key: str, image: str, hint: str) -> None:
    result = Keyring([entry(key)]).lookup(image)
    assert result.matches == [] and hint in result.explanation


def test_nothing_configured_means_anonymous() -> None:
    assert "anonymously" in Keyring([]).lookup("ghcr.io/a/b").explanation


def test_match_explained() -> None:
    text = Keyring([entry("ghcr.io", source="secret ns/regcred")]).lookup("ghcr.io/a/b").explanation
    assert "secret ns/regcred" in text and "ghcr.io/a/b" in text


# --- the canary never leaves -----------------------------------------------------------------------


def test_glob_translation_is_anchored_per_label() -> None:
    rx = _glob_regex("a*")
    assert rx is not None and rx.fullmatch("abc") and not rx.fullmatch("xabc")
    assert _glob_regex("[]") is None and _glob_regex("\\") is None


def test_credential_never_shows_its_password(caplog: pytest.LogCaptureFixture) -> None:
    cred = Credential("alice", CANARY)
    assert repr(cred) == f"Credential(user='alice', fp={cred.fingerprint})" == str(cred) == f"{cred}"
    assert len(cred.fingerprint) == 8 and int(cred.fingerprint, 16) >= 0
    assert base64.b64decode(cred.basic_auth().removeprefix("Basic ")).decode() == f"alice:{CANARY}"
    e = Entry("ghcr.io", "secret ns/s", cred, True, True)
    with pytest.raises(TypeError) as p:
        pickle.dumps(cred)
    with pytest.raises(TypeError) as pe:
        pickle.dumps(e)
    with pytest.raises(TypeError) as j:
        json.dumps(cred)
    with pytest.raises(AttributeError):
        cred.password = "x"  # type: ignore[misc]
    assert copy.deepcopy(e).credential is cred
    stream = io.StringIO()
    logger = logging.getLogger("pulldoctor.test.canary")
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    try:
        with caplog.at_level(logging.DEBUG, logger="pulldoctor.test.canary"):
            logger.warning("entry %s cred %r obj %s", e, cred, [e])
            logger.warning("f-string %s", f"{cred} {e}")
    finally:
        logger.removeHandler(handler)
    texts = [repr(cred), str(cred), repr(e), str(e), str(p.value), str(pe.value), str(j.value),
             stream.getvalue(), caplog.text, repr(vars(e))]
    assert all(CANARY not in t for t in texts)


def test_lookup_and_problems_never_show_the_canary() -> None:
    entries = secret_entries("regcred", {"ghcr.io": {"auth": auth("alice", CANARY)},
                                         "quay.io": {"password": CANARY}})
    k = Keyring(entries)
    outputs = [repr(k.lookup(img)) for img in ("ghcr.io/a", "quay.io/a", "nginx", "x.io/y")]
    outputs += [str(p) for p in problems_for_secret("ns", "regcred", DOCKERCONFIGJSON,
                                                    dockerconfigjson({"quay.io": {"password": CANARY}}))]
    assert outputs and all(CANARY not in o for o in outputs)


# --- robustness: any key, any payload ----------------------------------------------------------------

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40), st.sampled_from(["ghcr.io/a/b", "nginx", "[::1]:5000/a", "a.b.c/x"]))
def test_any_key_matches_or_not_without_raising(key: str, image: str) -> None:
    result = Keyring([entry(key)]).lookup(image)
    assert len(result.matches) <= 1 and result.explanation and "\n" not in result.explanation


@settings(max_examples=200, deadline=None)
@given(st.one_of(_json_values, st.dictionaries(st.sampled_from(["auths", "Auths", "a.io"]), _json_values)),
       st.sampled_from([DOCKERCONFIGJSON, DOCKERCFG]))
def test_problems_for_secret_never_raises(payload: object, type_: str) -> None:
    key = ".dockerconfigjson" if type_ == DOCKERCONFIGJSON else ".dockercfg"
    data = {key: b64(json.dumps(payload))}
    problems = problems_for_secret("ns", "s", type_, data)
    if any(p.fatal for p in problems):
        with pytest.raises(SecretFormatError):
            entries_from_secret("ns", "s", type_, data)
    else:
        assert isinstance(entries_from_secret("ns", "s", type_, data), list)
