"""JSON that does not decode gets pulldoctor's own wording, whatever the decoder raised or said.

msgspec 0.22 raised ``UnicodeDecodeError`` for bad UTF-8 inside a string and 0.23 raises ``DecodeError`` with
its own sentence; the user's line must be the same with both (and with a release that words it anew).
"""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pulldoctor.cluster import model
from pulldoctor.cluster.model import MalformedJSON, first_bad_utf8, malformed_json

BAD_UTF8 = b'{"kind": "Pod", "metadata": {"name": "caf\xe9"}}'
TRUNCATED = b'{"kind": "Pod", "metadata": {'
MISSING_COLON = b'{"kind" "Pod"}'
DEEP = b"[" * 50_000 + b"]" * 50_000

# What each msgspec release raised for the same bytes, and a made-up future wording.
RAISED = {
    "msgspec 0.22": lambda data: UnicodeDecodeError("utf-8", data, 0, 1, "invalid continuation byte"),
    "msgspec 0.23": lambda data: msgspec.DecodeError("Invalid UTF-8 encoded string"),
    "a future release": lambda data: msgspec.DecodeError("la chaîne n'est pas de l'UTF-8"),
}


@pytest.mark.parametrize("release", sorted(RAISED))
def test_bad_utf8_is_named_by_condition_not_by_the_decoders_text(release: str) -> None:
    err = malformed_json(BAD_UTF8, RAISED[release](BAD_UTF8))
    assert err.what == "a string that is not UTF-8 text"
    assert err.offset == BAD_UTF8.index(b"\xe9")


@pytest.mark.parametrize("raised", [msgspec.DecodeError("Input data was truncated"), msgspec.DecodeError("?")])
def test_syntax_errors_are_located_by_pulldoctor(raised: Exception) -> None:
    err = malformed_json(TRUNCATED, raised)
    assert err.offset == len(TRUNCATED) and "truncated" not in err.what
    err = malformed_json(MISSING_COLON, raised)
    assert err.offset == MISSING_COLON.index(b'"Pod"') and "':'" in err.what


def test_deep_nesting_whatever_the_decoder_raised() -> None:
    for raised in (RecursionError("maximum recursion depth exceeded"), msgspec.DecodeError("depth")):
        assert malformed_json(DEEP, raised).what == "nested too deeply"


def test_the_real_decoder_goes_through_the_same_mapping() -> None:
    for data, what in ((BAD_UTF8, "a string that is not UTF-8 text"), (DEEP, "nested too deeply")):
        with pytest.raises(MalformedJSON) as err:
            model.decode_json(data)
        assert err.value.what == what
    with pytest.raises(msgspec.DecodeError):  # callers that catch the decoder's error type still do
        model.decode_with(msgspec.json.Decoder(), BAD_UTF8)


@given(st.binary(max_size=64), st.integers(min_value=1, max_value=8))
def test_first_bad_utf8_agrees_with_pythons_decoder_in_any_chunking(data: bytes, chunk: int) -> None:
    try:
        data.decode("utf-8")
        expected = None
    except UnicodeDecodeError as err:
        expected = err.start
    old = model._UTF8_CHUNK
    model._UTF8_CHUNK = chunk
    try:
        assert first_bad_utf8(data) == expected
    finally:
        model._UTF8_CHUNK = old
