"""Pull secrets in effect (the pod's, else its service account's: replace, not merge), which are missing or
of the wrong type, and the keyring entries they give — never a value."""

from __future__ import annotations

import pytest

from kubeapi import objects as o
from pulldoctor.cluster import Snapshot, find_failing
from pulldoctor.cluster.model import convert_python

CANARY = "CANARY-pw-7f3a9c"


def failing_one(*objs: dict, listed: tuple[str, ...] = ("Secret", "ServiceAccount")):
    s = Snapshot()
    for obj in objs:
        s.add(convert_python(obj).objects, mark_listed=False)
    for kind in listed:
        s.mark_listed(kind, "default")
    (f,) = find_failing(s).failing
    return f


def bad_pod(**kw) -> dict:
    return o.pod("p", containers=[o.container("app", "ghcr.io/acme/app:1")],
                 statuses=[o.waiting("app", "ghcr.io/acme/app:1", "ErrImagePull", "401")], **kw)


def test_pod_secrets_replace_the_service_accounts() -> None:
    f = failing_one(bad_pod(pull_secrets=["pod-cred"], service_account="builder"),
                    o.service_account("builder", pull_secrets=["sa-cred"]),
                    o.secret("pod-cred", auths={"ghcr.io": ("u", CANARY)}),
                    o.secret("sa-cred", auths={"quay.io": ("u", "p")}))
    ps = f.pull_secrets
    assert (ps.names, ps.source, ps.service_account) == (["pod-cred"], "pod", "builder")
    assert [(e.key, e.source, e.has_username, e.has_password) for e in f.keyring_entries] == [
        ("ghcr.io", "secret default/pod-cred", True, True)]
    assert ps.missing == [] and ps.wrong_type == [] and ps.checked


def test_service_account_secrets_when_the_pod_has_none() -> None:
    f = failing_one(bad_pod(service_account="builder"), o.service_account("builder", pull_secrets=["sa-cred", "gone"]),
                    o.secret("sa-cred", auths={"quay.io": ("u", "p")}))
    ps = f.pull_secrets
    assert (ps.names, ps.source) == (["sa-cred", "gone"], "service account builder")
    assert ps.missing == ["gone"]
    assert [e.key for e in f.keyring_entries] == ["quay.io"]


def test_wrong_type_and_missing_key() -> None:
    f = failing_one(bad_pod(pull_secrets=["opaque", "empty"]),
                    o.secret("opaque", type="Opaque", data={".dockerconfigjson": "e30="}),
                    o.secret("empty", data={"other": "e30="}))
    ps = f.pull_secrets
    assert ps.wrong_type == [("opaque", "Opaque")]
    text = " | ".join(ps.problems)
    assert "opaque has type Opaque" in text and "empty" in text and ".dockerconfigjson" in text
    assert f.keyring_entries == []


def test_malformed_secret_is_a_problem_without_the_payload() -> None:
    import base64

    payload = '{"auths": {"ghcr.io": {"password": "' + CANARY + '"'  # cut short: not JSON
    f = failing_one(bad_pod(pull_secrets=["broken"]),
                    o.secret("broken", data={".dockerconfigjson": base64.b64encode(payload.encode()).decode()}))
    text = " | ".join(f.pull_secrets.problems)
    assert "not valid JSON" in text and CANARY not in text
    assert CANARY not in repr(f) and CANARY not in str(f.keyring_entries)


def test_nothing_is_missing_when_secrets_were_not_read() -> None:
    f = failing_one(bad_pod(pull_secrets=["regcred"]), listed=("ServiceAccount",))
    ps = f.pull_secrets
    assert ps.missing == [] and not ps.checked
    assert any("was not read" in p for p in ps.problems)
    f = failing_one(bad_pod(), listed=())  # the service account was not read either
    assert f.pull_secrets.names == [] and not f.pull_secrets.checked


def test_no_secrets_at_all() -> None:
    f = failing_one(bad_pod(), o.service_account())
    ps = f.pull_secrets
    assert (ps.names, ps.source, ps.checked) == ([], "none", True)


def test_secret_repr_never_shows_data() -> None:
    s = convert_python(o.secret("regcred", auths={"ghcr.io": ("u", CANARY)})).objects[0]
    import base64

    encoded = s.data[".dockerconfigjson"]
    assert CANARY in base64.b64decode(encoded).decode()
    for text in (repr(s), str(s), f"{s}"):
        assert encoded not in text and CANARY not in text


@pytest.mark.parametrize("kind", ["kubernetes.io/dockercfg", "kubernetes.io/dockerconfigjson"])
def test_both_pull_secret_types(kind: str) -> None:
    f = failing_one(bad_pod(pull_secrets=["c"]), o.secret("c", type=kind, auths={"ghcr.io": ("u", "p")}))
    assert [e.key for e in f.keyring_entries] == ["ghcr.io"]
