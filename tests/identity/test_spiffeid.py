"""Strict SPIFFE ID parsing: every rule of the SPIFFE-ID standard, including where py-spiffe is lax."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from intelsec.identity.spiffeid import InvalidSpiffeId, parse_spiffe_id, validate_trust_domain
from tests.clirunner import invoke

VALID = [
    ("spiffe://example.com", "example.com", ""),
    ("spiffe://example.com/ns/prod/sa/api-gw", "example.com", "/ns/prod/sa/api-gw"),
    ("spiffe://a_b-c.9/Path.With-Caps_0", "a_b-c.9", "/Path.With-Caps_0"),
    ("spiffe://td/...", "td", "/..."),
    ("spiffe://td/.a/a.", "td", "/.a/a."),
]

INVALID = [
    ("", "empty"),
    ("example.com/a", "scheme"),
    ("http://example.com/a", "scheme"),
    ("SPIFFE://example.com/a", "lowercase 'spiffe'"),
    ("spiffe:/example.com/a", "scheme"),
    ("spiffe://", "trust domain is empty"),
    ("spiffe:///path", "trust domain is empty"),
    ("spiffe://Example.com/a", "lowercase"),
    ("spiffe://example.com:8080/a", "port"),
    ("spiffe://user@example.com/a", "userinfo"),
    ("spiffe://user:pw@example.com/a", "port"),
    ("spiffe://exa mple.com/a", "forbidden character"),
    ("spiffe://example.com/a?x=1", "query"),
    ("spiffe://example.com/a#frag", "fragment"),
    ("spiffe://example.com/", "end with '/'"),
    ("spiffe://example.com/a/", "end with '/'"),
    ("spiffe://example.com//a", "empty segment"),
    ("spiffe://example.com/a//b", "empty segment"),
    ("spiffe://example.com/./a", "'.' segment"),
    ("spiffe://example.com/a/..", "'..' segment"),
    ("spiffe://example.com/a%20b", "percent-encoded"),
    ("spiffe://example.com/a b", "forbidden character"),
    ("spiffe://example.com/a:b", "forbidden character"),
    ("spiffe://example.com/caf\u00e9", "forbidden character"),
    ("spiffe://ex\u00e4mple.com/a", "forbidden character"),
    ("spiffe://" + "a" * 256 + "/x", "longer than 255"),
    ("spiffe://example.com/" + "a" * 2040, "longer than 2048"),
]


@pytest.mark.parametrize(("text", "td", "path"), VALID)
def test_valid_ids(text: str, td: str, path: str) -> None:
    sid = parse_spiffe_id(text)
    assert (sid.trust_domain, sid.path) == (td, path)
    assert str(sid) == text


@pytest.mark.parametrize(("text", "reason"), INVALID)
def test_invalid_ids_name_the_rule(text: str, reason: str) -> None:
    with pytest.raises(InvalidSpiffeId) as err:
        parse_spiffe_id(text)
    assert reason in str(err.value)


@pytest.mark.parametrize("text", ["spiffe://example.com/" + "a" * 2040, "spiffe://" + "a" * 300 + "/x"])
def test_stricter_than_py_spiffe_on_length(text: str) -> None:
    """py-spiffe 0.3 accepts these over-long IDs; the standard caps them, so we refuse them."""
    from spiffe import SpiffeId as PySpiffeId

    PySpiffeId(text)  # lax upstream: if this starts raising, upstream became strict too
    with pytest.raises(InvalidSpiffeId, match="longer than"):
        parse_spiffe_id(text)


def test_exact_length_limits_accepted() -> None:
    validate_trust_domain("a" * 255)
    text = "spiffe://example.com/" + "a" * (2048 - len("spiffe://example.com/"))
    assert len(text) == 2048
    assert parse_spiffe_id(text).trust_domain == "example.com"


segment = st.text(alphabet="abcXYZ019.-_", min_size=1, max_size=8).filter(lambda s: s not in (".", ".."))


@given(td=st.text(alphabet="abc019.-_", min_size=1, max_size=20), segs=st.lists(segment, max_size=5))
def test_roundtrip_property(td: str, segs: list[str]) -> None:
    text = "spiffe://" + td + "".join("/" + s for s in segs)
    sid = parse_spiffe_id(text)
    assert str(sid) == text and sid.segments == segs


@given(st.text(max_size=40))
def test_never_crashes(text: str) -> None:
    try:
        sid = parse_spiffe_id(text)
    except InvalidSpiffeId:
        return
    assert str(sid) == text


def test_cli_check_ok(capsys: pytest.CaptureFixture[str]) -> None:
    sid = "spiffe://example.com/ns/prod/sa/payments"
    res = invoke(capsys, "identity", "id", "check", sid, "--format", "json")
    assert res.code == 0, res.err
    assert json.loads(res.out) == {"valid": True, "spiffe_id": "spiffe://example.com/ns/prod/sa/payments",
                                   "trust_domain": "example.com", "path": "/ns/prod/sa/payments"}
    res = invoke(capsys, "identity", "id", "check", "spiffe://example.com/a")
    assert res.code == 0 and "example.com" in res.out and "/a" in res.out


def test_cli_check_invalid_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    res = invoke(capsys, "identity", "id", "check", "spiffe://example.com/a/../b")
    assert res.code == 1
    assert "'..' segment" in res.out
    res = invoke(capsys, "identity", "id", "check", "spiffe://EX.com", "--format", "json")
    assert res.code == 1 and json.loads(res.out)["reason"] == "trust domain must be lowercase"
