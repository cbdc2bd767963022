"""Load any supported SBOM or findings file; the format is detected from the content."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

from intelsec.errors import InputError, located
from intelsec.sbom.models import Document
from intelsec.sbom.readers.cyclonedx import CycloneDxReader
from intelsec.sbom.readers.cyclonedx_xml import read_xml
from intelsec.sbom.readers.deptrack import DependencyTrackReader
from intelsec.sbom.readers.govulncheck import GovulncheckReader, split_stream
from intelsec.sbom.readers.grype import GrypeReader
from intelsec.sbom.readers.interface import Reader
from intelsec.sbom.readers.osv import OsvScannerReader
from intelsec.sbom.readers.pipaudit import PipAuditReader
from intelsec.sbom.readers.sarif import SarifReader
from intelsec.sbom.readers.spdx import SpdxReader
from intelsec.sbom.readers.spdx3 import Spdx3Reader
from intelsec.sbom.readers.syft import SyftReader
from intelsec.sbom.readers.trivy import TrivyReader
from intelsec.sbom.readers.vex import CsafReader, OpenVexReader

READERS: list[Reader] = [SpdxReader(), CycloneDxReader(), SyftReader(), TrivyReader(), GrypeReader(),
                         OsvScannerReader(), SarifReader(), PipAuditReader(), Spdx3Reader(), OpenVexReader(),
                         CsafReader(), DependencyTrackReader(), GovulncheckReader()]

SUPPORTED = ", ".join(r.format for r in READERS) + ", cyclonedx-xml"


def _known_other(data: Any, raw: bytes) -> str | None:
    """Name formats we recognise but do not read, so the message says what the file is."""
    if raw.lstrip().startswith(b"<"):
        return "an XML document that is not a CycloneDX BOM"
    if isinstance(data, list) and data and isinstance(data[0], dict):
        first = data[0]
        if "epss" in first or "cveID" in first or "cveID" in str(first.get("item", ""))[:200]:
            return "EPSS/KEV records (pass EPSS CSV with --epss and the KEV catalog with --kev)"
    if not isinstance(data, dict):
        return None
    if "catalogVersion" in data and "vulnerabilities" in data:
        return "the CISA KEV catalog (pass it with --kev)"
    if "$schema" in data and "properties" in data:
        return "a JSON Schema"
    if "auditReportVersion" in data:
        return "an npm audit report"
    if "patches" in data or ("vulnerabilities" in data and "path" in data):
        return "an osv-scanner fix plan"
    return None


def parse_bytes(raw: bytes, path: str) -> Document:
    """Decode, detect and read one document (gzip is unwrapped transparently)."""
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: truncated or corrupt gzip data ({exc})") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        if raw.lstrip().startswith(b"<"):
            doc = read_xml(raw, path)
            if doc is not None:
                return doc
            raise InputError(f"{path}: unsupported format: {_known_other(None, raw)}") from None
        if exc.msg == "Extra data" and b'"protocol_version"' in raw[:2000]:
            try:
                return parse_data(split_stream(raw.decode("utf-8")), path, raw)
            except json.JSONDecodeError as exc2:
                raise InputError(located(path, exc2.lineno, f"broken govulncheck stream: {exc2.msg}",
                                         exc2.colno)) from None
        if exc.pos == 0 and b"," in raw.split(b"\n", 1)[0]:
            raise InputError(f"{path}:1: not JSON but CSV (EPSS and KEV CSV files go to --epss/--kev)") from None
        what = "truncated JSON" if exc.pos >= len(raw.rstrip()) else "invalid JSON"
        raise InputError(located(path, exc.lineno, f"{what}: {exc.msg}", exc.colno)) from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file (expected a JSON SBOM or findings report)") from None
    return parse_data(data, path, raw)


def parse_data(data: Any, path: str, raw: bytes = b"") -> Document:
    for reader in READERS:
        if reader.detect(data):
            try:
                return reader.read(data, path)
            except (TypeError, AttributeError, ValueError, KeyError) as exc:  # a field of an unexpected type
                raise InputError(f"{path}: malformed {reader.format} document ({type(exc).__name__}: "
                                 f"{str(exc)[:120]})") from None
    other = _known_other(data, raw)
    if other:
        raise InputError(f"{path}: unsupported format: {other}; supported: {SUPPORTED}")
    keys = ", ".join(list(data)[:6]) if isinstance(data, dict) else type(data).__name__
    raise InputError(f"{path}: unknown format (top-level: {keys}); supported: {SUPPORTED}")


def load_document(path: str | Path) -> Document:
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror})") from None
    return parse_bytes(raw, str(p))
