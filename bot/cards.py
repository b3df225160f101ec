"""Replies rendered from the templates in `content/templates/<lang>/`.

Templates are plain text (Jinja2) and are all compiled at start-up, so a broken template stops the
service with its file and line instead of failing in front of a traveler.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from . import replies
from .yamlfile import SourceError

DEFAULT_LANG = "zh-CN"


class Cards:
    def __init__(self, templates_dir: Path, public_base_url: str) -> None:
        self.dir = templates_dir
        self.public_base_url = public_base_url
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(templates_dir)),
            undefined=jinja2.StrictUndefined,
            autoescape=False,  # text replies are plain text, not HTML
            keep_trailing_newline=False,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals["base_url"] = public_base_url
        self.languages = sorted(p.name for p in templates_dir.iterdir() if p.is_dir())
        self._compile_all()

    def _compile_all(self) -> None:
        for name in self.env.list_templates():
            try:
                self.env.get_template(name)
            except jinja2.TemplateSyntaxError as exc:
                raise SourceError(self.dir / name, exc.lineno, f"template error: {exc.message}") from None

    def _template(self, name: str, lang: str) -> jinja2.Template:
        for candidate in (lang, DEFAULT_LANG):
            try:
                return self.env.get_template(f"{candidate}/{name}.txt.j2")
            except jinja2.TemplateNotFound:
                continue
        raise LookupError(f"no template {name!r} for {lang} or {DEFAULT_LANG}")

    def render(self, name: str, lang: str = DEFAULT_LANG, **context: Any) -> str:
        return self._template(name, lang).render(**context).strip()

    def text(self, name: str, lang: str = DEFAULT_LANG, **context: Any) -> replies.Reply:
        return replies.text(self.render(name, lang, **context))
