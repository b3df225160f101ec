"""Replies and pages rendered from `content/templates/` and `content/ui/`.

- `<lang>/<name>.txt.j2`: a text reply (plain text; `<a href>` links allowed).
- `<lang>/<name>.news.j2`: a one-article news card, with blocks title / description / url / image.
- `<lang>/<name>.article.j2`: a broadcast article (mpnews), with blocks title / digest / content (HTML) / url.
- `pages/<name>.html.j2`: a mobile page (HTML, autoescaped), UI strings from `content/ui/<lang>.yaml`.

Everything is compiled at start-up, so a broken template stops the service with its file and line
instead of failing in front of a traveler. The compiled templates and UI strings are shared, read-only,
by every app one process builds from the very same files (as `Content.load` does): compiling takes a
quarter of a second. What differs per app (the public base URL) stays on the `Cards` object.
"""
from __future__ import annotations

import html
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import jinja2

from bot.infra import yamlfile
from bot.infra.yamlfile import SourceError
from bot.travel.places import OpenStatus, Place
from bot.wechat import replies

DEFAULT_LANG = "zh-CN"


def _fingerprint(*directories: Path) -> tuple[tuple[str, int, int], ...]:
    files = sorted(p for d in directories if d.is_dir() for p in d.rglob("*") if p.is_file())
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)


def _frozen(value: Any) -> Any:
    """A read-only copy of parsed YAML (mappings, lists): what every app of the process shares."""
    if isinstance(value, dict):
        return MappingProxyType({k: _frozen(v) for k, v in value.items()})
    if isinstance(value, list):
        return tuple(_frozen(v) for v in value)
    return value


@dataclass(frozen=True)
class _Compiled:
    """One templates folder, compiled: the same for every app that reads the same files."""
    env: jinja2.Environment  # text replies, news cards, template messages (not HTML)
    pages: jinja2.Environment  # pages and broadcast articles (HTML, autoescaped)
    ui: Mapping[str, Mapping[str, Any]]

    @classmethod
    def load(cls, templates_dir: Path) -> _Compiled:
        options: dict[str, Any] = dict(loader=jinja2.FileSystemLoader(str(templates_dir)),
                                       undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                                       # compiled once for the process, like the content: no stat() per render
                                       auto_reload=False)
        env = jinja2.Environment(autoescape=False, **options)  # text replies are not HTML
        pages = jinja2.Environment(autoescape=True, **options)
        ui = _frozen(_load_ui(templates_dir.parent / "ui"))
        for e in (env, pages):
            e.filters.update(won=lambda n: f"{n:,}")
        for name in env.list_templates():
            try:
                (pages if name.startswith("pages/") else env).get_template(name)
            except jinja2.TemplateSyntaxError as exc:
                raise SourceError(templates_dir / name, exc.lineno, f"template error: {exc.message}") from None
        return cls(env, pages, ui)


def _load_ui(directory: Path) -> dict[str, dict[str, Any]]:
    ui = {}
    for path in sorted(directory.glob("*.yaml")):
        doc = yamlfile.load(path)
        if not isinstance(doc.data, dict) or not {"status", "page", "weekday"} <= set(doc.data):
            raise SourceError(path, 1, "expected keys status, page and weekday")
        ui[path.stem] = doc.data
    if DEFAULT_LANG not in ui:
        raise SourceError(directory, None, f"missing {DEFAULT_LANG}.yaml")
    return ui


_cache: dict[tuple, _Compiled] = {}
_cache_lock = threading.Lock()


def _compiled(templates_dir: Path) -> _Compiled:
    """Compile `templates_dir` (and its sibling `ui/`), or reuse what this process compiled from the same files."""
    key = (str(templates_dir.resolve()), _fingerprint(templates_dir, templates_dir.parent / "ui"))
    with _cache_lock:
        cached = _cache.get(key)
    if cached is None:
        cached = _Compiled.load(templates_dir)  # raises on a broken file: nothing is cached then
        with _cache_lock:
            if len(_cache) >= 4:
                _cache.pop(next(iter(_cache)))
            _cache[key] = cached
    return cached


class Cards:
    def __init__(self, templates_dir: Path, public_base_url: str) -> None:
        self.dir = templates_dir
        self.public_base_url = public_base_url
        compiled = _compiled(templates_dir)
        self.env = compiled.env
        self.pages = compiled.pages
        self.ui = compiled.ui

    def lang(self, lang: str) -> str:
        return lang if lang in self.ui else DEFAULT_LANG

    def _template(self, name: str, lang: str, suffix: str) -> jinja2.Template:
        for candidate in (lang, DEFAULT_LANG):
            try:
                return self.env.get_template(f"{candidate}/{name}.{suffix}.j2")
            except jinja2.TemplateNotFound:
                continue
        raise LookupError(f"no template {name}.{suffix} for {lang} or {DEFAULT_LANG}")

    def _context(self, lang: str, context: dict[str, Any]) -> dict[str, Any]:
        # base_url travels with each render, not in the shared environments' globals: apps differ in it.
        return {"base_url": self.public_base_url, "lang": self.lang(lang), "ui": self.ui[self.lang(lang)],
                **context}

    def render(self, name: str, lang: str = DEFAULT_LANG, **context: Any) -> str:
        return self._template(name, lang, "txt").render(**self._context(lang, context)).strip()

    def text(self, name: str, lang: str = DEFAULT_LANG, **context: Any) -> replies.Reply:
        return replies.text(self.render(name, lang, **context))

    def news(self, name: str, lang: str = DEFAULT_LANG, **context: Any) -> replies.Reply:
        template = self._template(name, lang, "news")
        ctx = template.new_context(self._context(lang, context))
        part = {block: " ".join("".join(template.blocks[block](ctx)).split()) if block != "description"
                else "".join(template.blocks[block](ctx)).strip()
                for block in ("title", "description", "url", "image") if block in template.blocks}
        return replies.news(part["title"], part.get("description", ""), part["url"], part.get("image", ""))

    def article(self, name: str, lang: str = DEFAULT_LANG, **context: Any) -> dict[str, str]:
        """A broadcast article from `<lang>/<name>.article.j2`: title and digest as plain text, content as HTML
        (autoescaped: content values cannot inject markup into what followers read)."""
        template = None
        for candidate in (lang, DEFAULT_LANG):
            try:
                template = self.pages.get_template(f"{candidate}/{name}.article.j2")
                break
            except jinja2.TemplateNotFound:
                continue
        if template is None:
            raise LookupError(f"no template {name}.article for {lang} or {DEFAULT_LANG}")
        ctx = template.new_context(self._context(lang, context))
        block = {name: "".join(template.blocks[name](ctx)).strip() for name in ("title", "digest", "content", "url")
                 if name in template.blocks}
        return {"title": " ".join(html.unescape(block["title"]).split()),
                "digest": html.unescape(block.get("digest", "")), "content": block["content"],
                "url": html.unescape(block.get("url", ""))}

    def template_data(self, name: str, lang: str = DEFAULT_LANG, **context: Any) -> dict[str, dict[str, str]]:
        """Fields of a WeChat template message from `<lang>/<name>.tmsg.j2` ("field: text" lines)."""
        rendered = self._template(name, lang, "tmsg").render(**self._context(lang, context))
        data = {}
        for line in rendered.splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip():
                data[key.strip()] = {"value": value.strip()}
        return data

    def page(self, name: str, lang: str = DEFAULT_LANG, **context: Any) -> str:
        return self.pages.get_template(f"pages/{name}.html.j2").render(**self._context(lang, context))

    # --- small phrases shared by cards and pages -------------------------------------------------
    def status_line(self, status: OpenStatus, lang: str, now: datetime) -> str:
        ui = self.ui[self.lang(lang)]
        until = ""
        if status.until is not None:
            until = status.until.strftime("%H:%M")
            if status.until.date() != now.date():
                until = f"{ui['weekday'][status.until.weekday()]} {until}"
        return ui["status"][status.state].format(until=until)

    def distance(self, metres: float, lang: str) -> str:
        ui = self.ui[self.lang(lang)]
        if metres < 1000:
            return ui["m"].format(m=int(round(metres, -1)))
        return ui["km"].format(km=metres / 1000)

    def page_url(self, place: Place, lang: str) -> str:
        suffix = "" if self.lang(lang) == DEFAULT_LANG else f"?lang={self.lang(lang)}"
        return f"{self.public_base_url}/p/attractions/{place.id}{suffix}"
