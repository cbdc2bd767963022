"""Safe YAML loading that keeps line numbers, so validation errors can name file:line."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from intelsec.errors import ConfigError, located

M = TypeVar("M")


class YamlDocument:
    """A parsed YAML document plus the node tree used to map data paths back to lines."""

    def __init__(self, path: Path, data: Any, root: yaml.Node | None) -> None:
        self.path = path
        self.data = data
        self.root = root

    def line_of(self, loc: tuple[int | str, ...]) -> int | None:
        """1-based line of the node at `loc` (pydantic error location), or of its nearest parent."""
        node = self.root
        line = node.start_mark.line + 1 if node is not None else None
        for key in loc:
            if node is None:
                break
            nxt: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode):
                for k_node, v_node in node.value:
                    if isinstance(k_node, yaml.ScalarNode) and k_node.value == str(key):
                        nxt = v_node
                        line = k_node.start_mark.line + 1
                        break
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
                nxt = node.value[key]
                line = nxt.start_mark.line + 1
            if nxt is None:
                break
            node = nxt
        return line


def read_yaml(path: str | Path) -> YamlDocument:
    """Load one YAML document with `yaml.safe_load` semantics; errors name file:line:col."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read: {exc}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        raise ConfigError(located(p, line, f"invalid YAML: {exc.problem}", col)) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: invalid YAML: {exc}") from None
    return YamlDocument(p, data, root)


def format_validation_error(doc: YamlDocument, exc: ValidationError) -> str:
    """Render pydantic errors as `file:line: field.path: message` lines."""
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        field = ".".join(str(x) for x in loc) or "(document)"
        lines.append(located(doc.path, doc.line_of(loc), f"{field}: {err['msg']}"))
    return "\n".join(lines)


def validate_document(doc: YamlDocument, model: Any) -> Any:
    """Validate a loaded document against a pydantic model or any type pydantic understands."""
    try:
        if isinstance(model, type) and issubclass(model, BaseModel):
            return model.model_validate(doc.data)
        return TypeAdapter(model).validate_python(doc.data)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(doc, exc)) from None


def load_model(path: str | Path, model: type[M] | Any) -> M:
    """Read a YAML file and validate it; raises ConfigError naming file:line on any problem."""
    return validate_document(read_yaml(path), model)  # type: ignore[no-any-return]
