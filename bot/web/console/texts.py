"""The console's words: `content/console/<lang>.yaml`, zh-CN first (every key), other languages beside it.

A key another language leaves out is shown in zh-CN; a key zh-CN does not have is a typo and an error naming
the file and line. Loaded once per process per set of files (their sizes and modification times).
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Mapping

from bot.infra import yamlfile
from bot.infra.yamlfile import SourceError

DEFAULT_LANG = "zh-CN"
_cache: dict[tuple[Any, ...], dict[str, dict[str, Any]]] = {}
_lock = threading.Lock()


def folder(content_dir: Path) -> Path:
    return content_dir / "console"


def languages(content_dir: Path) -> dict[str, dict[str, Any]]:
    """Every language's texts, missing keys filled from zh-CN; SourceError for a file that does not fit."""
    files = sorted(folder(content_dir).glob("*.yaml"))
    key = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    with _lock:
        if key not in _cache:
            _cache.clear()  # one content folder per process in practice; an edited file replaces the old copy
            _cache[key] = _load(files, folder(content_dir))
        return _cache[key]


def texts(content_dir: Path, lang: str) -> dict[str, Any]:
    found = languages(content_dir)
    return found.get(lang) or found[DEFAULT_LANG]


def _load(files: list[Path], where: Path) -> dict[str, dict[str, Any]]:
    docs = {p.stem: yamlfile.load(p) for p in files}
    if DEFAULT_LANG not in docs:
        raise SourceError(where, None, f"{DEFAULT_LANG}.yaml is missing: it holds every text of the console")
    base = docs[DEFAULT_LANG]
    _check(base, base.data, base.data, "")
    out = {}
    for lang, doc in docs.items():
        _check(doc, doc.data, base.data, "")
        out[lang] = _merged(base.data, doc.data)
    return out


def _check(doc: yamlfile.Located, node: Any, base: Any, path: str) -> None:
    """Every key is one zh-CN has, and every text a string."""
    if not isinstance(node, Mapping):
        raise doc.error(path, "expected a mapping of texts")
    for key, value in node.items():
        here = f"{path}.{key}" if path else str(key)
        if not isinstance(base, Mapping) or key not in base:
            raise doc.error(here, f"{DEFAULT_LANG}.yaml has no text {here!r} (a typo?)")
        if isinstance(value, Mapping):
            _check(doc, value, base[key], here)
        elif not isinstance(value, str) or isinstance(base[key], Mapping):
            raise doc.error(here, "expected a text" if not isinstance(base[key], Mapping) else "expected a mapping")


def _merged(base: Mapping[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (_merged(v, own.get(k) or {}) if isinstance(v, Mapping) else own.get(k, v)) for k, v in base.items()}
