"""The classifier on messages a real containerd produces at run time, pulling from the real lab.

Every message here is made during the test: containerd's CRI plugin (the kubelet's own PullImage call)
pulls from docker-registry / nginx on 127.0.0.1, and the test classifies what the kubelet would show,
``Failed to pull image "<image>": <kubelet_message>``. Nothing is hard-coded but the expected cause.
Locally a missing part (root, containerd, docker-registry, nginx) skips through tests/parts.py; in CI it fails.
"""

from __future__ import annotations

import pytest

from pulldoctor.causes import Cause
from pulldoctor.messages import Classification, classify

pytestmark = [pytest.mark.lab, pytest.mark.containerd]

C = Cause


def pull_and_classify(containerd: object, image: str, user: str | None = None, password: str | None = None,
                      timeout: float = 30) -> tuple[Classification, str]:
    out = containerd.pull(image, user, password, timeout=timeout)  # type: ignore[attr-defined]
    assert not out.ok, f"pull of {image} unexpectedly succeeded"
    event = f'Failed to pull image "{image}": {out.kubelet_message}'
    return classify(event), event


def expect(got: Classification, event: str, cause: Cause, **fields: object) -> None:
    assert got.cause is cause, (event, got)
    assert got.fields["runtime"] == "containerd", event
    assert got.fields["wrapper"] == "failed_to_pull"
    for k, v in fields.items():
        assert got.fields.get(k) == v, (k, got.fields, event)


@pytest.fixture(scope="module")
def pushed(lab: object) -> dict[str, str]:
    """Fresh images, pushed once for this module (lab.push makes random content each time)."""
    fresh = lab.fresh_repo  # type: ignore[attr-defined]
    return {
        "open": lab.push(lab.open_registry, fresh("demo"), "v1").ref,  # type: ignore[attr-defined]
        "auth": lab.push(lab.auth_registry, fresh("private"), "v1",  # type: ignore[attr-defined]
                         auth=(lab.user, lab.password)).ref,  # type: ignore[attr-defined]
        "bearer": lab.push(lab.nginx, fresh("bearer"), "v1").ref,  # type: ignore[attr-defined]
        "armonly": lab.push(lab.open_registry, fresh("demo"), "v1",  # type: ignore[attr-defined]
                            platforms=("linux/arm64", "linux/s390x")).ref,
        "tls": lab.push(lab.nginx_tls, fresh("demo"), "v1").ref,  # type: ignore[attr-defined]
        "slow": lab.push(lab.nginx, fresh("slow"), "v1", layer_bytes=256 * 1024).ref,  # type: ignore[attr-defined]
    }


def test_tag_not_found(containerd, pushed) -> None:
    image = pushed["open"].replace(":v1", ":nope")
    got, event = pull_and_classify(containerd, image)
    expect(got, event, C.TAG_NOT_FOUND, image=image, grpc_code="NotFound")
    assert "repo_not_found" in got.fields["also_possible"]  # type: ignore[operator]


def test_missing_repository_keeps_the_hedge_visible(lab, containerd) -> None:
    """containerd's HEAD 404 is the same text for a missing repository: tag_not_found, with the hedge named."""
    image = f"{lab.open_registry}/{lab.fresh_repo('no')}:v1"
    got, event = pull_and_classify(containerd, image)
    expect(got, event, C.TAG_NOT_FOUND)
    assert "repo_not_found" in got.fields["also_possible"]  # type: ignore[operator]


@pytest.mark.parametrize("password", [None, "wrong-password"])
def test_basic_auth_401(lab, containerd, pushed, password) -> None:
    """Basic auth: no and wrong credentials give the same 401, so the message alone says auth_missing."""
    got, event = pull_and_classify(containerd, pushed["auth"], lab.user if password else None, password)
    expect(got, event, C.AUTH_MISSING, status=401, host=lab.auth_registry)
    assert "auth_invalid" in got.fields["also_possible"]  # type: ignore[operator]
    assert "wrong-password" not in event


def test_bearer_anonymous_token_refused(containerd, pushed) -> None:
    got, event = pull_and_classify(containerd, pushed["bearer"])
    expect(got, event, C.AUTH_MISSING, status=401)


def test_bearer_wrong_credentials(lab, containerd, pushed) -> None:
    got, event = pull_and_classify(containerd, pushed["bearer"], lab.user, "wrong")
    expect(got, event, C.AUTH_INVALID, status=401)


def test_hub_like_insufficient_scope(lab, containerd) -> None:
    got, event = pull_and_classify(containerd, f"{lab.nginx}/{lab.fresh_repo('hubmissing')}:latest")
    expect(got, event, C.REPO_NOT_FOUND_OR_NO_ACCESS)


def test_forbidden(lab, containerd) -> None:
    got, event = pull_and_classify(containerd, f"{lab.nginx}/{lab.fresh_repo('denied')}:v1")
    expect(got, event, C.FORBIDDEN, status=403, host=lab.nginx)


def test_rate_limited(lab, containerd) -> None:
    got, event = pull_and_classify(containerd, f"{lab.nginx}/{lab.fresh_repo('toomany')}:v1")
    expect(got, event, C.RATE_LIMITED, status=429)


@pytest.mark.parametrize(("prefix", "status"), [("error500", 500), ("error503", 503)])
def test_server_errors(lab, containerd, prefix, status) -> None:
    got, event = pull_and_classify(containerd, f"{lab.nginx}/{lab.fresh_repo(prefix)}:v1")
    expect(got, event, C.REGISTRY_SERVER_ERROR, status=status)


def test_dns_failure(lab, containerd) -> None:
    got, event = pull_and_classify(containerd, f"{lab.unresolvable}/demo/app:v1")
    expect(got, event, C.DNS_FAILURE, host=lab.unresolvable)


def test_connection_refused(lab, containerd) -> None:
    got, event = pull_and_classify(containerd, f"{lab.closed_port}/demo/app:v1")
    expect(got, event, C.NETWORK_UNREACHABLE, host=lab.closed_port)


@pytest.mark.parametrize("host_attr", ["tls_untrusted", "tls_wrongname"])
def test_tls_errors(lab, containerd, pushed, host_attr) -> None:
    image = pushed["tls"].replace(lab.nginx_tls, getattr(containerd, host_attr))
    got, event = pull_and_classify(containerd, image)
    expect(got, event, C.TLS_ERROR)


@pytest.mark.parametrize("host_attr", ["https_to_http", "http_to_https"])
def test_scheme_mismatch(lab, containerd, pushed, host_attr) -> None:
    source = pushed["open"] if host_attr == "https_to_http" else pushed["tls"]
    registry = lab.open_registry if host_attr == "https_to_http" else lab.nginx_tls
    got, event = pull_and_classify(containerd, source.replace(registry, getattr(containerd, host_attr)))
    expect(got, event, C.HTTP_VS_HTTPS)


def test_platform_mismatch(containerd, pushed) -> None:
    got, event = pull_and_classify(containerd, pushed["armonly"])
    expect(got, event, C.PLATFORM_MISMATCH, grpc_code="NotFound")


def test_pull_cut_off_by_a_deadline(containerd, pushed) -> None:
    got, _ = pull_and_classify(containerd, pushed["slow"], timeout=2)
    assert got.cause is C.PULL_TIMEOUT_OR_PROGRESS_DEADLINE
    assert got.fields["grpc_code"] == "DeadlineExceeded"
