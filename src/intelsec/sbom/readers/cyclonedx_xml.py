"""CycloneDX XML (1.2-1.6): components (nested), purls, `dependencies`. No DTDs or entities are
accepted, so entity-expansion and external-entity tricks cannot reach the parser."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from intelsec.errors import InputError
from intelsec.sbom.models import Document
from intelsec.sbom.readers.common import make_package


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(el: ET.Element, name: str) -> str:
    for child in el:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def read_xml(raw: bytes, path: str) -> Document | None:
    """A Document for a CycloneDX XML BOM, None for any other XML."""
    head = raw[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in raw.lower():
        raise InputError(f"{path}: XML with a DTD or entities is refused (SBOMs never need them)")
    try:
        root = ET.fromstring(raw)  # noqa: S314 (DTDs and entities are refused above)
    except ET.ParseError as exc:
        line, col = exc.position
        raise InputError(f"{path}:{line}:{col}: invalid XML: {exc}") from None
    if _local(root.tag) != "bom" or "cyclonedx" not in root.tag:
        return None
    spec = root.tag.split("}")[0].rsplit("/", 1)[-1]
    doc = Document(path=path, format=f"cyclonedx-xml {spec}")
    for section in root:
        name = _local(section.tag)
        if name == "components":
            stack = list(section)
            while stack:
                c = stack.pop()
                if _local(c.tag) != "component":
                    continue
                stack.extend(sub for child in c if _local(child.tag) == "components" for sub in child)
                cname, purl = _text(c, "name"), _text(c, "purl") or None
                if not cname or (c.get("type") in ("file", "operating-system") and not purl):
                    continue
                group = _text(c, "group")
                full = f"{group}:{cname}" if group and not purl else cname
                doc.packages.append(make_package(full, _text(c, "version"), purl, None, ref=c.get("bom-ref")))
        elif name == "dependencies":
            for dep in section:
                ref = dep.get("ref")
                if ref:
                    doc.edges.extend((ref, d.get("ref") or "") for d in dep if d.get("ref"))
        elif name == "metadata":
            comp = next((x for x in section if _local(x.tag) == "component"), None)
            if comp is not None and comp.get("bom-ref"):
                doc.roots.append(str(comp.get("bom-ref")))
    return doc
