"""Migrated databases for tests, cheaply: migrate a template once per session, copy it per test.

- SQLite: one file migrated with Alembic, copied byte for byte into each test's `tmp_path`.
- PostgreSQL: one database migrated with Alembic, then `CREATE DATABASE t TEMPLATE tpl` per test (a
  file-level copy, ~40 ms against ~170 ms for the migrations, made ahead in the background), dropped
  after the test.

A copy is exactly what `Database(url).upgrade()` leaves on an empty database; the product catalogue
is still synced per app by `app_factory`, as before. Tests of migrations themselves keep getting an
empty database: they never come through here.
"""
from __future__ import annotations

import shutil
import time
import uuid
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from bot.infra.db import Database


# --- SQLite ----------------------------------------------------------------------------------------
def migrate_sqlite(path: Path) -> Path:
    """Migrate an empty SQLite file at `path` to head; no connection stays open (the file can be copied)."""
    database = Database(f"sqlite:///{path}")
    database.upgrade()
    database.dispose()
    for suffix in ("-wal", "-shm"):  # closed cleanly, SQLite leaves none; a copy must not miss one
        if Path(f"{path}{suffix}").exists():
            raise RuntimeError(f"{path}{suffix} left behind by the migrations")
    return path


def copy_sqlite(template: Path, target: Path) -> None:
    shutil.copyfile(template, target)


# --- PostgreSQL ------------------------------------------------------------------------------------
class PgTemplate:
    """A migrated template database on the server of `server_url`, and per-test copies of it.

    One background thread runs every CREATE / DROP DATABASE on one connection, in order: it keeps the
    next copies ready while a test runs and drops used ones after it, so a test rarely waits for either.
    """

    AHEAD = 2  # copies made before they are asked for (all dropped at the end, used or not)

    def __init__(self, server_url: str) -> None:
        url = make_url(server_url).set(drivername="postgresql+psycopg")
        self._url = url
        tag = uuid.uuid4().hex[:8]
        self.template = f"yjy_tpl_{tag}"
        self._prefix = f"yjy_t_{tag}_"
        self._count = 0
        # CREATE / DROP DATABASE cannot run in a transaction: autocommit, on the worker's own connection.
        self._admin: Engine = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self._conn: Connection | None = None
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="pg-template")
        self._ready: deque[Future[str]] = deque()
        self._drops: list[Future[None]] = []
        self._created: list[str] = []
        self._closed = False
        try:
            self._run(f'CREATE DATABASE "{self.template}"').result()
            database = Database(self.url_of(self.template))
            database.upgrade()
            database.dispose()
            # Nothing may be connected to a template while it is copied; this keeps stray sessions out.
            self._run(f'ALTER DATABASE "{self.template}" WITH ALLOW_CONNECTIONS false').result()
        except BaseException:
            self.close()
            raise
        for _ in range(self.AHEAD):
            self._ready.append(self._worker.submit(self._create))

    def url_of(self, name: str) -> str:
        return self._url.set(database=name).render_as_string(hide_password=False)

    def _execute(self, sql: str) -> None:  # on the worker thread only
        if self._conn is None:
            self._conn = self._admin.connect()
        self._conn.execute(text(sql))

    def _run(self, sql: str) -> Future[None]:
        return self._worker.submit(self._execute, sql)

    def _create(self) -> str:  # on the worker thread only
        self._count += 1
        name = f"{self._prefix}{self._count}"
        for attempt in range(20):  # "being accessed by other users": an autovacuum worker, briefly
            try:
                self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
                break
            except OperationalError as exc:
                if "being accessed by other users" not in str(exc) or attempt == 19:
                    raise
                time.sleep(0.25)
        self._created.append(name)
        return name

    def copy(self) -> str:
        """A database of its own for one test, exactly the migrated state; returns its URL."""
        ready = self._ready.popleft() if self._ready else self._worker.submit(self._create)
        self._ready.append(self._worker.submit(self._create))
        return self.url_of(ready.result())

    def drop(self, url: str) -> None:
        """Drop a copy after its test, in the background; FORCE ends sessions a test left open."""
        name = make_url(url).database
        assert name and name.startswith(self._prefix), name
        self._drops.append(self._run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for ready in self._ready:  # the worker runs in order: after the last copy, all are made
            ready.exception()
        errors = [f.exception() for f in self._drops if f.exception() is not None]
        for name in [*self._created, self.template]:  # every copy (dropping twice is harmless) and the template
            self._run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._worker.shutdown(wait=True)  # runs what is queued, in order
        if self._conn is not None:
            self._conn.close()
        self._admin.dispose()
        if errors:
            raise errors[0]  # type: ignore[misc]
