"""Database access: engine, sessions and migrations (SQLite for the embedded runner, PostgreSQL in production)."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.infra import inline
from bot.infra.config import work_dir

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def normalize_url(url: str) -> str:
    """Use psycopg 3 for PostgreSQL; resolve relative SQLite paths against `work_dir()` (the checkout)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database)
        if not path.is_absolute():
            path = work_dir() / path
        path.parent.mkdir(parents=True, exist_ok=True)
        parsed = parsed.set(database=str(path))
    return parsed.render_as_string(hide_password=False)


def insert_for(dialect_name: str) -> Callable[..., Any]:
    """The dialect's INSERT, the one with ON CONFLICT (upserts work the same on SQLite and PostgreSQL)."""
    return postgresql.insert if dialect_name == "postgresql" else sqlite.insert


class Database:
    def __init__(self, url: str, statement_timeout: float = 10.0, pool_timeout: float = 2.0) -> None:
        """`statement_timeout` (PostgreSQL): a statement or a lock wait longer than this fails instead of holding a
        worker; `pool_timeout`: how long to wait for a free connection when all are busy (SQLAlchemy's default,
        30 s, is six WeChat windows). Migrations use an engine of their own, without these.

        Bound parameters stay out of error messages and logs (`hide_parameters`): they are passport numbers,
        names, birth dates and phone numbers."""
        self.url = normalize_url(url)
        is_sqlite = self.url.startswith("sqlite")
        ms = int(statement_timeout * 1000)
        given = make_url(self.url).query.get("options") or ""  # e.g. "-csearch_path=...": kept, not replaced
        options = " ".join(filter(None, [given if isinstance(given, str) else " ".join(given),
                                         f"-c statement_timeout={ms} -c lock_timeout={ms}"]))
        self.engine: Engine = create_engine(
            self.url,
            pool_pre_ping=not is_sqlite,
            pool_timeout=pool_timeout,
            hide_parameters=True,
            connect_args={"timeout": 5} if is_sqlite else {
                "connect_timeout": 3, "options": options,
                # A server or network that stops answering (not a slow query): libpq gives up on the connection.
                "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 3, "keepalives_count": 3,
                "tcp_user_timeout": ms,
            },
        )
        if is_sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.insert = insert_for(self.engine.dialect.name)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        inline.check("the database")
        with self.sessions.begin() as session:
            yield session

    def upgrade(self, revision: str = "head") -> None:
        command.upgrade(alembic_config(self.url), revision)

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:  # noqa: BLE001 - any driver error means "not ready"
            return False

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets the dev server's threads read while one writes.
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()
