"""Migrated databases for tests, cheaply: migrate a template once per session, copy it per test.

- SQLite: one file migrated with Alembic, copied byte for byte into each test's `tmp_path`.
- PostgreSQL: one database migrated with Alembic, then `CREATE DATABASE t TEMPLATE tpl` (made ahead in the
  background); after its test a copy is emptied (every table's rows, its sequences restarted) and handed to
  the next test, or dropped and made again when a test left it in another shape.

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
        self._created: list[str] = []
        self._schema: list[str] = []
        self._closed = False
        try:
            self._run(f'CREATE DATABASE "{self.template}"').result()
            database = Database(self.url_of(self.template))
            database.upgrade()
            database.dispose()
            self._schema = _public_tables(self.url_of(self.template))
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
        if len(self._ready) < self.AHEAD:
            self._ready.append(self._worker.submit(self._create))
        return self.url_of(ready.result())

    def drop(self, url: str) -> None:
        """Done with a copy: emptied in the background and handed to a later test (a database a test changed
        beyond its rows, or left locked, is dropped instead and a new copy made)."""
        name = make_url(url).database
        assert name and name.startswith(self._prefix), name
        self._ready.append(self._worker.submit(self._recycle, name))

    def _recycle(self, name: str) -> str:  # on the worker thread only
        """`name` emptied back to the migrated state, or a new copy. Emptying costs ~20 ms where a new copy and
        a drop cost ~150 ms of the server's time (it writes the whole database to its WAL): tests of the servers
        back-end waited on that."""
        try:
            # End the sessions its test left open, as DROP DATABASE ... WITH (FORCE) would.
            self._execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
            engine = create_engine(self.url_of(name), poolclass=NullPool)
            try:
                with engine.begin() as conn:
                    conn.execute(text("SET LOCAL lock_timeout = '2s'"))
                    conn.execute(text("SET LOCAL session_replication_role = replica"))  # no FK order needed
                    if _tables_of(conn) != self._schema:
                        raise RuntimeError("a test changed the schema")
                    sequences = [r[0] for r in conn.execute(text(
                        "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"))]
                    for table in self._schema:
                        if table != "alembic_version":
                            conn.execute(text(f'DELETE FROM "{table}"'))
                    for sequence in sequences:
                        conn.execute(text(f'ALTER SEQUENCE "{sequence}" RESTART'))
            finally:
                engine.dispose()
            return name
        except Exception:  # noqa: BLE001 - whatever went wrong, a new copy is exactly the migrated state
            self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return self._create()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for ready in self._ready:  # the worker runs in order: after the last copy, all are made
            ready.exception()
        for name in [*self._created, self.template]:  # every copy (dropping twice is harmless) and the template
            self._run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._worker.shutdown(wait=True)  # runs what is queued, in order
        if self._conn is not None:
            self._conn.close()
        self._admin.dispose()


def _tables_of(conn: Connection) -> list[str]:
    return sorted(r[0] for r in conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")))


def _public_tables(url: str) -> list[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return _tables_of(conn)
    finally:
        engine.dispose()
