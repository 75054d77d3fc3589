"""The renderers: a one-line verdict first, 80 columns, colour only when asked, stable JSON."""

from __future__ import annotations

import json
import textwrap
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st
from test_diagnose_rules import HOST, cls, ev, probe

from pulldoctor.causes import Cause
from pulldoctor.diagnosis import conclude
from pulldoctor.diagnosis.evidence import Evidence
from pulldoctor.render.json import render as render_json
from pulldoctor.render.markdown import render as render_markdown
from pulldoctor.render.text import render as render_text
from pulldoctor.render.text import wrap as text_wrap


def _diagnosis():
    evs = [ev(cause=Cause.TAG_NOT_FOUND, probe=probe(Cause.TAG_NOT_FOUND, status=404, suggestions=["1.4.0"])),
           ev(f"{HOST}/shop/other:2", cause=Cause.AUTH_MISSING, pod="other-1", probe=probe(Cause.AUTH_MISSING,
                                                                                           status=401))]
    return conclude(evs, not_image={"CrashLoopBackOff": 2}, notes=["a note"])


def width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def test_text_verdict_first_and_80_columns() -> None:
    text = render_text(_diagnosis())
    lines = text.splitlines()
    assert lines[0].startswith("2 container(s)")
    assert lines[1] == "✗ shop/web-7d9c8b-x2x [app]: tag_not_found (certain)"
    for line in lines:
        if not line.lstrip().startswith("$ "):   # commands stay whole so they can be pasted
            assert width(line) <= 80 or " " not in line.strip(), line
    assert "\033[" not in text
    assert "CrashLoopBackOff 2" in text and "note: a note" in text


def test_text_colour_only_when_asked() -> None:
    assert "\033[" in render_text(_diagnosis(), color=True)


def test_colour_off_with_no_color_or_no_tty(monkeypatch) -> None:
    from pulldoctor.commands import diagnose as cmd

    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert cmd._want_color()
    monkeypatch.setenv("NO_COLOR", "1")
    assert not cmd._want_color()
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setattr("sys.stdout.isatty", lambda: False)
    assert not cmd._want_color()


def test_json_schema() -> None:
    doc = json.loads(render_json(_diagnosis()))
    assert doc["schema_version"] == 1
    assert set(doc) == {"schema_version", "findings", "groups", "not_image", "notes"}
    f = doc["findings"][0]
    assert {"namespace", "pod", "container", "container_type", "image", "waiting_reason", "cause",
            "confidence", "summary", "evidence", "fixes", "message", "timeline", "probe",
            "contradictions", "settle", "transient", "credentials", "node", "registry", "rule"} == set(f)
    assert all(set(e) == {"source", "text"} for e in f["evidence"])
    assert all(set(x) == {"text", "commands"} for x in f["fixes"])


def test_markdown_has_table_and_fix_commands() -> None:
    md = render_markdown(_diagnosis())
    assert "| shop | web-7d9c8b-x2x | app |" in md and "```sh" in md


def test_evidence_is_typed() -> None:
    assert isinstance(ev(cause=Cause.OTHER, classification=cls(Cause.OTHER)), Evidence)


def test_a_group_is_told_once_in_text_but_every_finding_stays_in_json() -> None:
    evs = [ev(f"{HOST}/shop/svc{i}:1", cause=Cause.DNS_FAILURE, probe=probe(Cause.DNS_FAILURE), pod=f"p{i}")
           for i in range(4)]
    d = conclude(evs)
    text = render_text(d)
    assert text.count("evidence:") == 1 and "same cause for 3 more: shop/p1, shop/p2, shop/p3" in text
    assert text.splitlines()[1].startswith("≡ dns_failure on registry")
    assert len(json.loads(render_json(d))["findings"]) == 4


# The text renderer fills single-spaced words itself (textwrap's chunking was most of its time); the
# lines must be textwrap's, byte for byte, whatever the text.
_WRAP_TEXT = st.lists(st.sampled_from(["a", "word", "kubectl", "-n", "x" * 30, "y" * 90, "é", "✗", "—", " ",
                                       "  ", "\t", "\n", "\r", "\x0b", "\x0c", "\xa0", "re-try", ""]),
                      max_size=40).map("".join)


@settings(max_examples=600, deadline=None)
@given(text=_WRAP_TEXT, width=st.integers(min_value=1, max_value=120),
       indent=st.sampled_from(["", "  ", "    "]), hang=st.sampled_from(["", "  ", "    ", "      ", "       "]))
def test_wrapping_is_textwraps(text: str, width: int, indent: str, hang: str) -> None:
    expected = textwrap.wrap(text, width, initial_indent=indent, subsequent_indent=hang,
                             break_long_words=False, break_on_hyphens=False) or [indent]
    assert text_wrap(text, width, indent, hang) == expected


def test_wrapping_fills_words_to_the_width_and_leaves_long_words_whole() -> None:
    text = "same cause for 12 more: " + ", ".join(f"team-{i}/svc{i}-00{i}-x1a2b3" for i in range(6)) + " " + "z" * 95
    lines = text_wrap(text, 80, "  ", "    ")
    assert lines[0].startswith("  same cause for 12 more: team-0/") and all(len(x) <= 80 for x in lines[:-1])
    assert lines[-1] == "    " + "z" * 95
    assert " ".join(x.strip() for x in lines) == text


# The renderers mask and escape line by line (lines without "@" that are printable are skipped): the
# result must be redact's over the whole text, whatever the text.
_REDACT_TEXT = st.lists(st.sampled_from(["https://", "oci://", "user", ":", "pw", "s3cr3t", "@", "/", "host.example",
                                         ":5000", "repo", " ", "\n", "\r", "\t", "\x1b[1m", "\x1b[0m", "\x1b]0;t\x07",
                                         "\x9b", "\x7f", "é", "\xa0", "\"", "'", "-", ".", "_", "\\", "<", "x"]),
                        max_size=60).map("".join)


@settings(max_examples=800, deadline=None)
@given(text=_REDACT_TEXT)
def test_line_by_line_masking_is_redacts(text: str) -> None:
    from pulldoctor.redact import mask_userinfo, printable
    from pulldoctor.render.safe import masked_text, printable_text

    keep = frozenset({"\x1b[1m", "\x1b[0m"})
    assert masked_text(text) == mask_userinfo(text)
    assert printable_text(text) == printable(text)
    assert printable_text(text, keep) == printable(text, keep)


def test_line_by_line_masking_masks_a_password_and_escapes_a_control() -> None:
    from pulldoctor.render.safe import masked_text, printable_text

    text = "ok line\nfailed to pull https://bob:canary-pw@reg.example/v2/: 401\n\x1b]0;pwned\x07 title\n"
    assert "canary-pw" not in masked_text(text) and "canary-pw" not in printable_text(text)
    assert "\x1b" not in printable_text(text) and printable_text(text).startswith("ok line\n")
