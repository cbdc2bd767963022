"""Tokens are not leaks: values we emitted (tokens, honeytokens) are recognised by keyed filters.

The filters are built here with `intelsec.fingerprints` exactly as the tokenizer and the
deception registry record what they emit, so this test does not depend on either.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from intelsec.fingerprints import open_filter, save_filter
from intelsec.privacy.dlp.validators import luhn_ok
from tests.privacy_dlp.test_cli_scan import dlp, scan_json


def _card(rng: random.Random) -> str:
    while True:
        n = "4" + "".join(rng.choice("0123456789") for _ in range(15))
        if luhn_ok(n):
            return n


def _export(tmp_path: Path, state_dir: Path) -> tuple[Path, list[str]]:
    """A tokenized CSV export plus a planted honeytoken; every emitted value recorded in a filter."""
    rng = random.Random(7)
    tokens = open_filter(state_dir, "tokenized")
    lines, emitted = ["id,email,card,client_ip"], []
    for i in range(200):
        email = f"u{rng.getrandbits(40):x}@tok.example.net"
        card = _card(rng)
        ip = f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        tokens.update([email, card, ip])
        emitted += [email, card]
        lines.append(f"{i},{email},{card},{ip}")
    save_filter(state_dir, tokens)
    honey = open_filter(state_dir, "honeytoken")
    key_id, secret = "AKIAZ3MQXJ7PLW4QRST2", "Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4OTBhYmNk"
    honey.update([key_id, secret])
    save_filter(state_dir, honey)
    lines.append(f"# service credentials: {key_id} {secret}")
    path = tmp_path / "export.csv"
    path.write_text("\n".join(lines) + "\n")
    return path, emitted


def test_tokenized_export_passes_and_injected_leak_fails(workspace_dir: Path, tmp_path: Path) -> None:
    export, emitted = _export(tmp_path, workspace_dir / ".intelsec")
    # without the filters a format-preserving export looks exactly like PII
    doc, r = scan_json(export.name, cwd=tmp_path)
    assert r.returncode == 1 and doc["summary"]["by_status"] == {"leak": 602}

    doc, r = scan_json(export.name, "-w", str(workspace_dir), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert doc["summary"]["by_status"] == {"honeytoken": 2, "tokenized": 600}
    assert doc["summary"]["failing"] == 0
    assert {f["status"] for f in doc["findings"] if f["detector"].startswith("aws")} == {"honeytoken"}

    # one plaintext email and one real card injected: the scan fails and points at them
    text = export.read_text().splitlines()
    text[57] += ",carol.danvers@example.com"
    text[120] = text[120].replace(text[120].split(",")[2], "5500005555555559")
    export.write_text("\n".join(text) + "\n")
    doc, r = scan_json(export.name, "-w", str(workspace_dir), cwd=tmp_path)
    assert r.returncode == 1
    leaks = [(f["line"], f["detector"], f["start"]) for f in doc["findings"] if f["status"] == "leak"]
    assert leaks == [(58, "email", len(text[57]) - len("carol.danvers@example.com")),
                     (121, "credit_card", text[120].index("5500005555555559"))]
    assert doc["summary"]["failing"] == 2


def test_known_dir_and_discovered_workspace(workspace_dir: Path, tmp_path: Path) -> None:
    export, _ = _export(tmp_path, workspace_dir / ".intelsec")
    fp_dir = tmp_path / "fps"
    shutil.copytree(workspace_dir / ".intelsec" / "fingerprints", fp_dir)
    doc, r = scan_json(export.name, "--known", "fps", cwd=tmp_path)
    assert r.returncode == 0 and doc["summary"]["failing"] == 0
    # run from inside the workspace: its filters are found without -w
    shutil.copy(export, workspace_dir / "export.csv")
    doc, r = scan_json("export.csv", cwd=workspace_dir)
    assert r.returncode == 0 and doc["summary"]["by_status"]["tokenized"] == 600
    # a filter made with another key knows nothing
    other = tmp_path / "other_ws"
    flt = open_filter(other, "tokenized")
    flt.add("unrelated")
    save_filter(other, flt)
    doc, r = scan_json(export.name, "--known", str(other), cwd=tmp_path)
    assert r.returncode == 1 and doc["summary"]["by_status"]["leak"] == 602
    r = dlp("scan", export.name, "--known", str(tmp_path / "missing"), cwd=tmp_path)
    assert r.returncode == 2 and "no fingerprint key" in r.stderr


def test_corrupt_filter_is_a_clear_error(workspace_dir: Path, tmp_path: Path) -> None:
    _export(tmp_path, workspace_dir / ".intelsec")
    (workspace_dir / ".intelsec" / "fingerprints" / "tokenized.filter").write_bytes(b"garbage")
    r = dlp("scan", "export.csv", "-w", str(workspace_dir), cwd=tmp_path)
    assert r.returncode == 2 and "cannot load fingerprint filters" in r.stderr and "Traceback" not in r.stderr


def test_real_format_preserving_tokens_when_available(workspace_dir: Path, tmp_path: Path) -> None:
    """With the FPE tokenizers present, their real tokens are recognised too (skipped otherwise)."""
    import os

    tk = pytest.importorskip("intelsec.privacy.tokenizers")
    try:
        email_tok = tk.EmailTokenizer(os.urandom(32), "email")
        card_tok = tk.CardTokenizer(os.urandom(32), "card")
        emails = [f"user{i}.name@example{i % 7}.com" for i in range(50)]
        cards = [_card(random.Random(i)) for i in range(50)]
        e_out, c_out = email_tok.tokenize(emails).values, card_tok.tokenize(cards).values
    except (AttributeError, TypeError) as exc:  # tokenizer API moved on: this test only borrows it
        pytest.skip(f"tokenizer API differs: {exc}")
    state = workspace_dir / ".intelsec"
    flt = open_filter(state, "tokenized")
    flt.update([v for v in e_out + c_out if v])
    save_filter(state, flt)
    (tmp_path / "t.csv").write_text("".join(f"{e},{c}\n" for e, c in zip(e_out, c_out, strict=True)))
    doc, r = scan_json("t.csv", "-w", str(workspace_dir), cwd=tmp_path)
    assert r.returncode == 0 and doc["summary"]["by_status"].get("leak", 0) == 0
    assert doc["summary"]["by_status"]["tokenized"] >= 50  # card tokens outside IIN ranges are not PII-shaped
