"""Load YAML and remember where each value came from, so errors can name the file and line."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


class SourceError(ValueError):
    """A problem in an operator- or editor-supplied file, located by file and line."""

    def __init__(self, file: str | Path, line: int | None, message: str) -> None:
        self.file = str(file)
        self.line = line
        self.message = message
        where = f"{self.file}, line {line}" if line else self.file
        super().__init__(f"{where}: {message}")


@dataclass
class Located:
    """Parsed YAML data plus the line of every value, keyed by its dotted path ("a.b.0.c")."""

    file: str
    data: Any
    lines: dict[str, int]

    def line(self, path: str) -> int | None:
        """Line of `path`, or of its nearest parent that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path.rpartition(".")[0]
        return self.lines.get("")

    def error(self, path: str, message: str) -> SourceError:
        """An error at `path` (dotted), reported with its line and the path itself."""
        return SourceError(self.file, self.line(path), f"{path}: {message}" if path else message)

    def texts(self, value: Any, path: str, required: bool = True) -> dict[str, str]:
        """A text in both languages, {zh-CN: .., en: ..} (stripped); {} for a missing optional one."""
        if value is None and not required:
            return {}
        if not isinstance(value, dict) or not all(isinstance(value.get(k), str) and value[k].strip()
                                                  for k in ("zh-CN", "en")):
            raise self.error(path, "expected {zh-CN: .., en: ..}")
        return {str(k): str(v).strip() for k, v in value.items()}


def _walk(node: yaml.Node, path: str, lines: dict[str, int]) -> None:
    lines[path] = node.start_mark.line + 1
    prefix = f"{path}." if path else ""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            _walk(value_node, f"{prefix}{key_node.value}", lines)
            lines[f"{prefix}{key_node.value}"] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, f"{prefix}{index}", lines)


def load(path: str | Path) -> Located:
    """Read a YAML file safely (no Python tags); raise SourceError naming file and line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SourceError(path, None, "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(path, None, f"cannot read: {exc}") from None
    return loads(text, str(path))


# libyaml's safe loader when PyYAML was built with it: the same data and line marks, several times faster
# (content/ loads at every start, and a CLI command has two seconds).
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def loads(text: str, file: str = "<string>") -> Located:
    loader = _Loader(text)
    try:
        node = loader.get_single_node()  # parsed once: the nodes carry the lines, the data is built from them
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise SourceError(file, line, f"invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise SourceError(file, None, f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    lines: dict[str, int] = {}
    if node is not None:
        _walk(node, "", lines)
    return Located(file=file, data=data, lines=lines)
