"""The reader interface: one module per input format, detected by content, never by file name."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from intelsec.sbom.models import Document


class Reader(ABC):
    """Turns one parsed JSON document into packages, findings and dependency edges."""

    format: str = ""

    @abstractmethod
    def detect(self, data: Any) -> bool:
        """True when `data` (the parsed JSON) is in this reader's format."""

    @abstractmethod
    def read(self, data: Any, path: str) -> Document:
        """Normalise `data`. Bad elements become `Document.problems`, never exceptions."""
