"""CRI-O/Podman's failed mirrors (containers/image docker/docker_image_src.go) are not the registry contacted.

containers/image formats a pull that failed on every mirror and on the primary as
``(Mirrors also failed: [m1/ref: e1]\\n[m2/ref: e2]): <primary ref>: <primary error>``; the fields name the
primary's host and URL, and list the mirrors apart.
"""

from __future__ import annotations

from pulldoctor.causes import Cause
from pulldoctor.messages import classify

_WRAP = 'Failed to pull image "quay.io/acme/app:1.0": rpc error: code = Unknown desc = '
_MIRRORS = ('(Mirrors also failed: [mirror.example/acme/app:1.0: pinging container registry mirror.example: Get '
            '"https://mirror.example/v2/": dial tcp: lookup mirror.example: no such host]\n'
            '[m2.example:5000/acme/app:1.0: pinging container registry m2.example:5000: Get '
            '"https://m2.example:5000/v2/": dial tcp 10.0.0.9:5000: connect: connection refused]): ')


def test_the_primary_host_not_the_mirror_when_the_primary_names_no_url() -> None:
    c = classify(_WRAP + "initializing source docker://quay.io/acme/app:1.0: " + _MIRRORS
                 + "quay.io/acme/app:1.0: reading manifest 1.0 in quay.io/acme/app: manifest unknown")
    assert c.fields["host"] == "quay.io"
    assert "url" not in c.fields                 # the only URLs were the mirrors'
    assert c.fields["mirrors"] == ["mirror.example", "m2.example:5000"]
    assert c.cause in (Cause.TAG_NOT_FOUND, Cause.REPO_NOT_FOUND, Cause.REPO_NOT_FOUND_OR_NO_ACCESS)


def test_the_primary_url_wins_over_a_mirror_url() -> None:
    c = classify(_WRAP + "initializing source docker://quay.io/acme/app:1.0: " + _MIRRORS
                 + 'quay.io/acme/app:1.0: pinging container registry quay.io: Get "https://quay.io/v2/": dial tcp: '
                 "lookup quay.io on 10.96.0.10:53: no such host")
    assert c.cause is Cause.DNS_FAILURE
    assert (c.fields["host"], c.fields["url"]) == ("quay.io", "https://quay.io/v2/")
    assert c.fields["resolver"] == "10.96.0.10:53"


def test_no_mirrors_no_field() -> None:
    c = classify(_WRAP + 'initializing source docker://quay.io/acme/app:1.0: pinging container registry quay.io: '
                 'Get "https://quay.io/v2/": dial tcp: lookup quay.io: no such host')
    assert c.fields["host"] == "quay.io" and "mirrors" not in c.fields


def test_an_unterminated_mirrors_part_is_left_alone() -> None:
    c = classify("(Mirrors also failed: [mirror.example/x: " + "a" * 5000)
    assert "mirrors" not in c.fields
