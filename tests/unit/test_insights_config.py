"""`insights.keep_raw_days`: 30 by default (older files without the key still load), else 1 to 3650 days."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.infra.config import ConfigError, load_config
from tests.builders import CONFIG_YAML


def _load(tmp_path: Path, extra: str = ""):  # type: ignore[no-untyped-def]
    path = tmp_path / "bot.yaml"
    path.write_text(CONFIG_YAML + extra)
    return load_config(path, environ={})


def test_raw_texts_are_kept_thirty_days_unless_the_file_says_otherwise(tmp_path):
    assert _load(tmp_path).insights.keep_raw_days == 30
    assert _load(tmp_path, "insights:\n  keep_raw_days: 90\n").insights.keep_raw_days == 90
    assert load_config(environ={}, dev=True).insights.keep_raw_days == 30  # the repository's config.yaml


@pytest.mark.parametrize("value", ["0", "3651", "thirty", "true"])
def test_a_bad_retention_names_the_key_and_the_line(tmp_path, value):
    with pytest.raises(ConfigError) as error:
        _load(tmp_path, f"insights:\n  keep_raw_days: {value}\n")
    assert "insights.keep_raw_days" in str(error.value) and "bot.yaml" in str(error.value)
