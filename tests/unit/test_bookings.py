"""Bookings in the database: catalogue sync, atomic seats, idempotent confirmation, cancellation rules.

Run on both back-ends; the concurrency tests need PostgreSQL (many connections writing at once).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.conversation.content import Content
from bot.infra.yamlfile import SourceError
from bot.travel.products import load_catalogue


@pytest.mark.parametrize("new", ["interests: [kpop]", "interests: hallyu", "interests: [{hallyu: 1}]"])
def test_product_interests_must_be_category_ids_and_errors_name_file_and_line(tmp_path, new):
    shipped = Path(__file__).resolve().parents[2] / "content"
    text_ = (shipped / "products.yaml").read_text(encoding="utf-8")
    line = text_[:text_.index("\n    interests: [hallyu]")].count("\n") + 2
    path = tmp_path / "products.yaml"
    path.write_text(text_.replace("\n    interests: [hallyu]", "\n    " + new), encoding="utf-8")
    content = Content.load(shipped)
    with pytest.raises(SourceError) as info:
        load_catalogue(path, {p.id for p in content.places}, set(content.categories.items))
    assert f"{path}, line {line}: products.3.interests" in str(info.value)
    assert "interests" in str(info.value) and "hallyu" in str(info.value)  # the choices are listed


def test_a_product_text_missing_a_language_names_file_and_line(tmp_path):
    shipped = Path(__file__).resolve().parents[2] / "content"
    text_ = (shipped / "products.yaml").read_text(encoding="utf-8")
    start = text_.index("\n    summary:")
    line = text_[:start].count("\n") + 2
    end = text_.index("\n    includes:", start)  # the summary's zh-CN and en lines go with it
    path = tmp_path / "products.yaml"
    path.write_text(text_[:start] + "\n    summary: {zh-CN: 只有中文}" + text_[end:], encoding="utf-8")
    content = Content.load(shipped)
    with pytest.raises(SourceError) as info:
        load_catalogue(path, {p.id for p in content.places}, set(content.categories.items))
    assert f"{path}, line {line}: products.0.summary" in str(info.value) and "en" in str(info.value)
