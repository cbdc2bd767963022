"""govulncheck `-json` output: a stream of concatenated JSON messages (config, SBOM, osv, finding).

A finding's first trace frame is the vulnerable module and version; the OSV entry of the same id
gives aliases, summary and references. Module, package and symbol level findings of one id merge.
"""

from __future__ import annotations

import json
from typing import Any

from intelsec.sbom.models import Document, Finding, Problem, severity_of
from intelsec.sbom.readers.common import as_dict, as_list, make_package, strs
from intelsec.sbom.readers.interface import Reader
from intelsec.sbom.readers.osv import _fixed


def split_stream(text: str) -> list[Any]:
    """Concatenated JSON values -> list (raises json.JSONDecodeError on a broken one)."""
    dec = json.JSONDecoder()
    out, i, n = [], 0, len(text)
    while i < n:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            break
        obj, i = dec.raw_decode(text, i)
        out.append(obj)
    return out


class GovulncheckReader(Reader):
    format = "govulncheck-json"

    def detect(self, data: Any) -> bool:
        return isinstance(data, list) and bool(data) and "protocol_version" in as_dict(as_dict(data[0]).get("config"))

    def read(self, data: Any, path: str) -> Document:
        doc = Document(path=path, format=self.format)
        osv = {o["osv"]["id"]: o["osv"] for o in map(as_dict, data) if isinstance(as_dict(o.get("osv")).get("id"), str)}
        for i, msg in enumerate(map(as_dict, data)):
            f = as_dict(msg.get("finding"))
            if not f:
                continue
            frames = as_list(f.get("trace"))
            top = as_dict(frames[0]) if frames else {}
            vid, module = f.get("osv"), top.get("module")
            if not isinstance(vid, str) or not isinstance(module, str):
                doc.problems.append(Problem(path, f"message[{i}].finding", "finding without osv id/module: skipped"))
                continue
            entry = as_dict(osv.get(vid))
            pkg = make_package(module, str(top.get("version") or ""), None, "golang")
            fixed = [str(f["fixed_version"])] if f.get("fixed_version") else _fixed(entry, module)
            called = "function" in top
            doc.findings.append(Finding(
                vuln_id=vid, package=pkg.name, version=pkg.version, ecosystem="golang", source="govulncheck",
                aliases=strs(entry.get("aliases")), severity=severity_of(None), fixed_versions=fixed,
                references=strs([as_dict(r).get("url") for r in as_list(entry.get("references"))])[:10],
                title=(entry.get("summary") or None) if isinstance(entry.get("summary"), str) else None,
                element=f"message[{i}].finding" + (" (vulnerable symbol is called)" if called else ""),
            ))
        return doc
