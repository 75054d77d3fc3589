"""containerd 2.x wording: ``unexpected status from GET request to URL: STATUS`` with the registry's error joined
on the next line (``errors.Join``), error codes in lower case with spaces.

Formats from containerd v2 ``core/remotes/errors/errors.go`` (ErrUnexpectedStatus: "unexpected status from %s
request to %s: %s") and ``core/remotes/docker/errcode.go`` (``ErrorCode.String`` lower-cases and spaces the
code: MANIFEST_UNKNOWN → "manifest unknown", TOOMANYREQUESTS → "toomanyrequests"); the first line is the
status error and the registry's JSON error follows after a newline.
"""

from __future__ import annotations

import pytest

from pulldoctor.causes import Cause
from pulldoctor.messages import classify

IMG = "registry.example.com/shop/web:1.4"
HEAD = f'Failed to pull image "{IMG}": failed to pull and unpack image "{IMG}": failed to resolve reference "{IMG}": '
URL = "https://registry.example.com/v2/shop/web"
C = Cause


@pytest.mark.parametrize(("tail", "cause", "status"), [
    (f"unexpected status from HEAD request to {URL}/manifests/1.4: 429 Too Many Requests\n"
     "toomanyrequests: You have reached your pull rate limit", C.RATE_LIMITED, 429),
    (f"unexpected status from GET request to {URL}/manifests/1.4: 403 Forbidden\n"
     "denied: User: arn:aws:sts::123456789012:assumed-role/node/i-0abc is not authorized to perform: "
     "ecr:BatchGetImage", C.FORBIDDEN, 403),
    (f"unexpected status from HEAD request to {URL}/manifests/1.4: 500 Internal Server Error", C.REGISTRY_SERVER_ERROR,
     500),
    (f"unexpected status from GET request to {URL}/manifests/1.4: 503 Service Unavailable\n"
     "unavailable: the registry is in read-only mode", C.REGISTRY_SERVER_ERROR, 503),
    ("failed to authorize: failed to fetch oauth token: unexpected status from POST request to "
     "https://auth.example.com/token: 401 Unauthorized\nunauthorized: incorrect username or password",
     C.AUTH_INVALID, 401),
    (f"{IMG}: not found", C.TAG_NOT_FOUND, None),
])
def test_containerd2_multiline_errors(tail: str, cause: Cause, status: int | None) -> None:
    got = classify(HEAD + tail)
    assert got.cause is cause, got
    assert got.fields.get("status") == status
    assert got.fields.get("host") == "registry.example.com" and got.fields.get("runtime") == "containerd"


def test_the_joined_registry_error_survives_the_kubelet_back_off_wrapper() -> None:
    msg = (f'Back-off pulling image "{IMG}": ErrImagePull: {HEAD.split(": ", 1)[1]}unexpected status from HEAD '
           f"request to {URL}/manifests/1.4: 429 Too Many Requests\ntoomanyrequests: limit")
    got = classify(msg)
    assert got.cause is C.RATE_LIMITED and got.fields.get("status") == 429
