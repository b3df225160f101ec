"""What one test pays to get its app, the old way and the way conftest does it now (medians, ms).

    .venv/bin/python -m tests._bench_setup            # SQLite (embedded back-end)
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python -m tests._bench_setup

"old": an Alembic run per test's database and templates compiled per app; "new": a copy of the migrated
template and the process's compiled templates. Both then sync the catalogue and answer one message.
Not a test (no test_ prefix): a measurement for bench/README.md, "Test suite timing".
"""
from __future__ import annotations

import logging
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from bot import create_app
from bot.bookings.orders import sync_catalogue
from bot.conversation import cards
from tests._db import PgTemplate, copy_sqlite, migrate_sqlite
from tests.support import Backend, WeChat, make_config


class _Api:
    base_url = "http://127.0.0.1:9"  # never called: "帮助" needs no WeChat API


def _one(backend: Backend, *, migrate: bool, compile_templates: bool) -> float:
    started = time.perf_counter()
    if compile_templates:
        cards._cache.clear()
    app = create_app(make_config(backend, _Api()))  # type: ignore[arg-type]
    ext = app.extensions["yjy"]
    if migrate:
        ext.db.upgrade()
    sync_catalogue(ext.db, ext.content.products, ext.clock.now().date())
    WeChat(app).say("o" + uuid.uuid4().hex[:27], "帮助")
    ext.services.close()
    return (time.perf_counter() - started) * 1000


def main(rounds: int = 15) -> None:
    logging.disable(logging.INFO)
    tmp = Path(tempfile.mkdtemp())
    template = migrate_sqlite(tmp / "template.sqlite3")
    _one(Backend("embedded", "memory://warm", f"sqlite:///{tmp / 'warm.sqlite3'}"), migrate=True,
         compile_templates=False)  # imports, content
    old, new = [], []
    for _ in range(rounds):
        path = tmp / f"{uuid.uuid4().hex}.sqlite3"
        old.append(_one(Backend("embedded", f"memory://{uuid.uuid4().hex}", f"sqlite:///{path}"),
                        migrate=True, compile_templates=True))
        path = tmp / f"{uuid.uuid4().hex}.sqlite3"
        started = time.perf_counter()
        copy_sqlite(template, path)
        copied = (time.perf_counter() - started) * 1000
        new.append(copied + _one(Backend("embedded", f"memory://{uuid.uuid4().hex}", f"sqlite:///{path}"),
                                 migrate=False, compile_templates=False))
    print(f"embedded (SQLite): old {statistics.median(old):.0f} ms, new {statistics.median(new):.0f} ms per app")

    if os.environ.get("DATABASE_URL"):
        pg = PgTemplate(os.environ["DATABASE_URL"])
        try:
            fresh = pg.copy()  # stands in for the old shared schema: migrated once, then upgrade() each test
            old, new = [], []
            for _ in range(rounds):
                old.append(_one(Backend("servers", f"memory://{uuid.uuid4().hex}", fresh), migrate=True,
                                compile_templates=True))
                started = time.perf_counter()
                url = pg.copy()
                new.append((time.perf_counter() - started) * 1000 + _one(
                    Backend("servers", f"memory://{uuid.uuid4().hex}", url), migrate=False, compile_templates=False))
                pg.drop(url)
                time.sleep(0.1)  # a test's own run time, during which the next copy is made
            print(f"servers (PostgreSQL; Redis stubbed): old {statistics.median(old):.0f} ms (shared schema, "
                  f"upgrade() a no-op, data left by earlier tests), new {statistics.median(new):.0f} ms "
                  "(a database of its own)")
            pg.drop(fresh)
        finally:
            pg.close()


if __name__ == "__main__":
    main()
