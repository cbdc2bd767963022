"""VEX statements (OpenVEX, CSAF VEX): `not_affected` / `fixed` suppress matching findings.

A statement whose product purl has no version applies to every version of that package.
`affected` and `under_investigation` statements add nothing: the scanners report those.
"""

from __future__ import annotations

from typing import Any

from intelsec.sbom.ecosystems import purl_name, purl_version
from intelsec.sbom.models import Document, Finding, Problem
from intelsec.sbom.readers.common import as_dict, as_list, make_package, strs
from intelsec.sbom.readers.interface import Reader

SUPPRESS = {"not_affected", "fixed", "known_not_affected", "false_positive"}


def _suppression(purl: str, vid: str, aliases: list[str], source: str, element: str) -> Finding | None:
    pkg = make_package(purl_name(purl) or purl, purl_version(purl), purl, None)
    return Finding(vuln_id=vid, package=pkg.name, version=pkg.version, ecosystem=pkg.ecosystem, purl=purl,
                   source=source, aliases=aliases, element=element, suppressed=True)


class OpenVexReader(Reader):
    format = "openvex"

    def detect(self, data: Any) -> bool:
        return isinstance(data, dict) and "openvex" in str(data.get("@context", "")) and "statements" in data

    def read(self, data: Any, path: str) -> Document:
        doc = Document(path=path, format=self.format)
        for i, raw in enumerate(as_list(data.get("statements"))):
            st = as_dict(raw)
            vuln = as_dict(st.get("vulnerability"))
            vid = vuln.get("name") or vuln.get("@id")
            if not isinstance(vid, str) or not vid:
                doc.problems.append(Problem(path, f"statements[{i}]", "statement without a vulnerability: skipped"))
                continue
            vid = vid.rsplit("/", 1)[-1]
            if st.get("status") not in SUPPRESS:
                continue
            for j, product in enumerate(map(as_dict, as_list(st.get("products")))):
                targets = [as_dict(s) for s in as_list(product.get("subcomponents"))] or [product]
                for t in targets:
                    purl = as_dict(t.get("identifiers")).get("purl") or t.get("@id")
                    if isinstance(purl, str) and purl.startswith("pkg:"):
                        f = _suppression(purl, vid, strs(vuln.get("aliases")), "openvex",
                                         f"statements[{i}].products[{j}]")
                        if f is not None:
                            doc.findings.append(f)
        return doc


class CsafReader(Reader):
    format = "csaf-vex"

    def detect(self, data: Any) -> bool:
        return isinstance(data, dict) and "csaf_version" in as_dict(data.get("document")) and "vulnerabilities" in data

    def read(self, data: Any, path: str) -> Document:
        doc = Document(path=path, format=self.format)
        purls: dict[str, str] = {}
        stack: list[Any] = [data.get("product_tree")]
        while stack:
            node = as_dict(stack.pop())
            stack.extend(as_list(node.get("branches")))
            stack.extend(as_list(node.get("full_product_names")))
            product = as_dict(node.get("product")) or (node if "product_id" in node else {})
            purl = as_dict(product.get("product_identification_helper")).get("purl")
            if isinstance(product.get("product_id"), str) and isinstance(purl, str):
                purls[product["product_id"]] = purl
        for i, raw in enumerate(as_list(data.get("vulnerabilities"))):
            v = as_dict(raw)
            vid = v.get("cve") or next((x.get("text") for x in map(as_dict, as_list(v.get("ids")))), None)
            if not isinstance(vid, str):
                doc.problems.append(Problem(path, f"vulnerabilities[{i}]", "vulnerability without cve/ids: skipped"))
                continue
            status = as_dict(v.get("product_status"))
            for key in ("known_not_affected", "fixed"):
                for pid in strs(status.get(key)):
                    purl = purls.get(pid)
                    if purl is None:
                        doc.problems.append(Problem(path, f"vulnerabilities[{i}].product_status.{key}",
                                                    f"product {pid!r} has no purl in product_tree"))
                        continue
                    f = _suppression(purl, vid, [], "csaf", f"vulnerabilities[{i}]")
                    if f is not None:
                        doc.findings.append(f)
        return doc
