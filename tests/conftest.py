"""Test collection for the whole suite: `unit/` (no app, no servers: fast) and `app/` (the app, the webhook,
the CLI, processes; fixtures in `app/conftest.py`).

Tests marked `servers` need the real Redis and PostgreSQL named by REDIS_URL and DATABASE_URL, which
`.ci/run` sets. With the variables unset they are deselected and reported, except in CI (CI=true),
where a missing server is an error: CI must fail, never pass by skipping.
"""
from __future__ import annotations

from typing import Any

import pytest

from tests.support import IN_CI, SERVERS_CONFIGURED


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SERVERS_CONFIGURED or IN_CI:
        return
    needs = [i for i in items if i.get_closest_marker("servers")]
    if needs:
        config.hook.pytest_deselected(items=needs)
        items[:] = [i for i in items if not i.get_closest_marker("servers")]
        config._yjy_deselected = len(needs)  # type: ignore[attr-defined]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if SERVERS_CONFIGURED or IN_CI:
        return
    # Under pytest-xdist the workers collect, not this process: the count is known only without it.
    n = getattr(config, "_yjy_deselected", 0)
    if n or hasattr(config, "workerinput") or config.getoption("numprocesses", None):
        terminalreporter.write_line(
            f"NOTE: {n or 'the'} tests that need real Redis and PostgreSQL did not run: set REDIS_URL and "
            "DATABASE_URL (as .ci/run does) to run them.", yellow=True)
