"""Categories: PSL-bounded suffix matching, longest-prefix CIDRs, scale, and load-time errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from intelsec.config import Workspace
from intelsec.egress.categories import Categorizer, CidrTable, registrable_domain
from intelsec.egress.config import load_egress
from intelsec.egress.schemas import CategoryFile
from intelsec.errors import ConfigError


def test_suffix_matching_stops_at_registrable_domain() -> None:
    c = Categorizer(
        [
            CategoryFile(name="paste-sites", domains=["pastebin.com", "paste.co.uk"]),
            CategoryFile(name="corp", domains=["svc.example.com"]),
        ]
    )
    assert c.categorize("pastebin.com") == "paste-sites"
    assert c.categorize("A.B.Pastebin.com.") == "paste-sites"
    assert c.categorize("x.paste.co.uk") == "paste-sites"
    assert c.categorize("notpastebin.com") == "unknown"
    assert c.categorize("co.uk") == "unknown"
    assert c.categorize("a.svc.example.com") == "corp"
    assert c.categorize("example.com") == "unknown"
    assert c.categorize("local.test") == "unknown"
    assert registrable_domain("a.b.example.co.uk") == "example.co.uk"


def test_longest_prefix_cidr() -> None:
    t = CidrTable()
    t.add("10.0.0.0/8", "wide")
    t.add("10.1.0.0/16", "narrow")
    t.add("2001:db8::/32", "v6")
    assert t.lookup("10.1.2.3") == "narrow"
    assert t.lookup("10.2.2.3") == "wide"
    assert t.lookup("11.0.0.1") is None
    assert t.lookup("2001:db8::1") == "v6"
    assert t.lookup("not-an-ip") is None


def test_hostname_wins_over_ip_then_ip_fallback() -> None:
    c = Categorizer(
        [
            CategoryFile(name="anonymizers", cidrs=["198.51.100.0/24"]),
            CategoryFile(name="paste-sites", domains=["pastebin.com"]),
        ]
    )
    assert c.categorize("pastebin.com", "198.51.100.7") == "paste-sites"
    assert c.categorize("unlisted.io", "198.51.100.7") == "anonymizers"
    assert c.categorize(None, "203.0.113.1") == "unknown"


def test_scales_to_100k_entries() -> None:
    domains = [f"site{i}.example{i % 100}.com" for i in range(100_000)]
    cidrs = [f"{10 + i // 65536 % 100}.{i // 256 % 256}.{i % 256}.0/24" for i in range(100_000)]
    c = Categorizer([CategoryFile(name="big", domains=domains, cidrs=cidrs)])
    assert c.sizes == (100_000, 100_000)
    start = time.perf_counter()
    for i in range(0, 100_000, 10):
        assert c.domain_category(f"www.site{i}.example{i % 100}.com") == "big"
        assert c._cidrs.lookup(f"{10 + i // 65536 % 100}.{i // 256 % 256}.{i % 256}.9") == "big"
    # generous bound: 20k lookups of each kind
    assert time.perf_counter() - start < 10


def _write(ws: Path, rel: str, text: str) -> None:
    path = ws / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.mark.parametrize(
    ("rel", "text", "message"),
    [
        ("egress/categories/bad.yaml", "name: bad\ndomains: [ok.com, 'bad domain!']\n", "invalid domain"),
        ("egress/categories/bad.yaml", "name: bad\ncidrs: [10.0.0.0/33]\n", "invalid CIDR"),
        (
            "egress/categories/bad.yaml",
            "name: bad\ndomains:\n  - ok.com\n  - co.uk\n",
            "bad.yaml:4: 'co.uk' is a public suffix",
        ),
        ("egress/categories/dup.yaml", "name: paste-sites\n", "also defined"),
        (
            "egress/allowlist.yaml",
            "namespaces:\n  dev:\n    - ok.io\n    - 10.0.0.1/8\n",
            "allowlist.yaml:4: namespaces.dev.1: Value error, invalid CIDR",
        ),
        (
            "egress/allowlist.yaml",
            "namespaces:\n  dev:\n    - '*.co.uk'\n",
            "allowlist.yaml:3: '*.co.uk' is a public suffix",
        ),
        (
            "egress/exceptions.yaml",
            "exceptions:\n  - namespace: dev\n    destination: x.io\n    owner: a\n    expires: 2030-01-01\n",
            "ticket",
        ),
        (
            "egress/exceptions.yaml",
            "exceptions:\n  - namespace: dev\n    destination: x.io\n    owner: a\n    ticket: T-1\n",
            "expires",
        ),
        (
            "egress/exceptions.yaml",
            "exceptions:\n  - namespace: dev\n    category: nope\n    owner: a\n"
            "    ticket: T\n    expires: 2030-01-01\n",
            "unknown category 'nope'",
        ),
        ("egress/enforcement.yaml", "environments:\n  prod:\n    mode: block\n", "enforcement.yaml:3"),
    ],
)
def test_invalid_workspace_files_fail_at_load(workspace_dir: Path, rel: str, text: str, message: str) -> None:
    _write(workspace_dir, rel, text)
    with pytest.raises(ConfigError, match=message.replace("*", r"\*").replace(".", r"\.").replace("(", r"\(")):
        load_egress(Workspace.load(workspace_dir))


def test_template_loads(workspace_dir: Path) -> None:
    cfg = load_egress(Workspace.load(workspace_dir))
    names = {c.name for c in cfg.categories}
    assert {"paste-sites", "anonymizers", "file-sharing", "package-registries"} <= names
    assert cfg.enforcement.environments["staging"].mode == "enforce"
    assert cfg.enforcement.environments["prod"].categories == {"paste-sites": "enforce", "anonymizers": "enforce"}
