"""Detectors and validators on known-valid and known-invalid values."""

from __future__ import annotations

import pytest

from intelsec.privacy.dlp.detectors import BUILTINS
from intelsec.privacy.dlp.scanner import Scanner, mask
from intelsec.privacy.dlp.validators import iban_mod97_ok, luhn_ok


@pytest.fixture(scope="module")
def scanner() -> Scanner:
    return Scanner(BUILTINS)


def found(scanner: Scanner, text: str) -> list[tuple[str, str]]:
    return [(f.detector, f.value) for f in scanner.scan_text(text)]


@pytest.mark.parametrize("value", [
    "4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "5500005555555559", "2223003122003222",
    "378282246310005", "3782 822463 10005", "6011111111111117", "3566002020360505", "30569309025904",
    "4222222222222",
])
def test_valid_cards_found(scanner: Scanner, value: str) -> None:
    assert found(scanner, f"paid with {value} today") == [("credit_card", value)]


@pytest.mark.parametrize("text", [
    "paid with 4111111111111112 today",  # Luhn fails
    "order 1234567812345670 shipped",  # Luhn ok, no card network starts with 12
    "ts=1701700000123 ok",  # epoch millis
    "4111 1111-1111 1111",  # mixed separators
    "id 41111111111111119999 done",  # longer run of digits
    "v=4111111111111111.5",  # decimal
    "x4111111111111111",  # glued to a word
])
def test_card_false_positives_rejected(scanner: Scanner, text: str) -> None:
    assert [d for d, _ in found(scanner, text) if d == "credit_card"] == []


def test_card_followed_by_cvv_group_is_trimmed(scanner: Scanner) -> None:
    assert found(scanner, "card 4111 1111 1111 1111 123 exp") == [("credit_card", "4111 1111 1111 1111")]


def test_luhn_and_mod97() -> None:
    assert luhn_ok("79927398713") and not luhn_ok("79927398710")
    assert iban_mod97_ok("GB82WEST12345698765432") and not iban_mod97_ok("GB82WEST12345698765433")


@pytest.mark.parametrize("value,ok", [
    ("536-22-1234", True), ("536 22 1234", True), ("000-12-3456", False), ("666-12-3456", False),
    ("912-12-3456", False), ("536-00-1234", False), ("536-22-0000", False), ("078-05-1120", False),
    ("536-22 1234", False),
])
def test_ssn_rules(scanner: Scanner, value: str, ok: bool) -> None:
    assert found(scanner, f"ssn: {value}.") == ([("us_ssn", value)] if ok else [])


@pytest.mark.parametrize("value,ok", [
    ("DE89370400440532013000", True), ("DE89 3704 0044 0532 0130 00", True), ("GB82WEST12345698765432", True),
    ("NO9386011117947", True), ("FR1420041010050500013M02606", True),
    ("DE89370400440532013001", False),  # checksum
    ("DE8937040044053201300", False),  # wrong length for DE
    ("XX89370400440532013000", False),  # unknown country
    ("DE89 37040 044 0532 0130 00", False),  # grouping not by 4
])
def test_iban(scanner: Scanner, value: str, ok: bool) -> None:
    assert found(scanner, f"iban {value} EUR") == ([("iban", value)] if ok else [])


def test_secrets(scanner: Scanner) -> None:
    key_id = "AKIAZ3MQXJ7PLW4QRST2"
    secret = "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"
    assert found(scanner, f"{key_id} {secret}") == [("aws_access_key_id", key_id), ("aws_secret_access_key", secret)]
    assert found(scanner, f'"SecretAccessKey": "{secret}"') == [("aws_secret_access_key", secret)]
    # a 40-char base64 run alone, or a git SHA, is not an AWS secret
    assert found(scanner, f"blob {secret} end") == []
    assert found(scanner, "commit 3f786850e387550fdab836ed7e6dc881de23001b") == []
    assert found(scanner, "AKIAIOSFODNN7EXAMPLE") == []  # documentation placeholder
    gh = "ghp_aB3dE5fG7hI9jK1lM3nO5pQ7rS9tU1vW3xY5"
    assert found(scanner, f"token={gh}") == [("github_token", gh)]
    assert found(scanner, "token=ghp_" + "X" * 36) == []
    slack = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx"
    assert found(scanner, slack) == [("slack_token", slack)]
    goog = "AIzaSyA1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q"
    assert found(scanner, f"key={goog}&x=1") == [("google_api_key", goog)]
    stripe = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
    assert found(scanner, stripe) == [("stripe_secret_key", stripe)]
    assert found(scanner, '"-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXk"')[0][0] == "private_key"
    assert found(scanner, "-----BEGIN PUBLIC KEY-----") == []


def test_jwt_header_must_decode_with_alg(scanner: Scanner) -> None:
    good = ("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
            "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U")
    assert found(scanner, f"Authorization: Bearer {good}") == [("jwt", good)]
    no_alg = "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"  # {"typ":"JWT"}
    assert found(scanner, no_alg) == []
    assert found(scanner, "eyJhbGciOiJub25lIiwi.eyJzdWIiOiIxIn0.xx") == []  # header truncated: not JSON


@pytest.mark.parametrize("text,want", [
    ("from 10.0.0.1:443", [("ipv4", "10.0.0.1")]),
    ("oid 1.3.6.1.4.1.311", []),
    ("ver 256.1.1.1", []),
    ("v6 2001:db8::8a2e:370:7334 ok", [("ipv6", "2001:db8::8a2e:370:7334")]),
    ("full 2001:0db8:85a3:0000:0000:8a2e:0370:7334", [("ipv6", "2001:0db8:85a3:0000:0000:8a2e:0370:7334")]),
    ("at 12:30:45 and std::vector and ::1", []),
    ("mac 00:1A:2B:3C:4D:5E", []),
    ("mail bob.smith+tag@mail.example.co.uk.", [("email", "bob.smith+tag@mail.example.co.uk")]),
    ("pkg foo@1.2.3 and a..b@example.com", []),
])
def test_network_and_email(scanner: Scanner, text: str, want: list[tuple[str, str]]) -> None:
    assert found(scanner, text) == want


def test_mask_keeps_at_most_four() -> None:
    assert mask("4111111111111111") == "************1111"
    assert mask("10.0.0.1") == "******.1"
    assert mask("abc") == "***"
    for v in ("x" * 5 + "SECRETVALUE", "a@b.io"):
        m = mask(v)
        assert len(m) == len(v) and v not in m and len(m.lstrip("*")) <= 4


def test_offsets_are_characters_in_the_line(scanner: Scanner) -> None:
    text = "héllo wörld 4111111111111111\nsecond 536-22-1234"
    fs = list(scanner.scan_text(text))
    assert [(f.line, f.start, f.end) for f in fs] == [(1, 12, 28), (2, 7, 18)]
    lines = text.split("\n")
    assert lines[0][12:28] == "4111111111111111" and lines[1][7:18] == "536-22-1234"


def test_iban_check_digits_00_01_99_rejected(scanner: Scanner) -> None:
    # DE97... would be valid; DE00... passes a bare mod-97 test but is not a legal IBAN
    assert not iban_mod97_ok("GB00WEST12345698765432") and not iban_mod97_ok("GB99WEST12345698765432")
    assert found(scanner, "iban DE00031684950706459413 x") == []
