"""SQLite as every local engine uses it: one file, WAL, a connection per thread, immediate write transactions.

Writes run in ``BEGIN IMMEDIATE`` transactions, so a check and the write it guards are atomic even
across processes. ``synchronous=NORMAL`` in WAL mode loses nothing a process crash (SIGKILL) can
take; only an OS crash or a power cut may drop the last commits.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from ...errors import ServiceError

WAL_LIMIT = 64 * 1024 * 1024  # a write-ahead log grown past this by a burst is cut back once it is checkpointed


class SqliteDatabase:
    """One SQLite file with its schema, a connection per thread, and a write transaction helper."""

    def __init__(self, path: Path, schema: str = "") -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        # the databases hold password hashes, session tokens and temporary secrets: readable by their owner only,
        # whatever the umask (SQLite gives its -wal and -shm files the database file's mode)
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        if schema:
            self.conn().executescript(schema)
        for part in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            if part.exists():
                part.chmod(0o600)

    def conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=NORMAL")
            c.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
            self._local.conn = c
        return c

    def write(self) -> Transaction:
        return Transaction(self.conn())

    def write_nowait(self) -> Transaction:
        """A write transaction that never waits: ``Busy`` at once if another writer holds the database. For the
        event loop's own short commits; its connection never checkpoints (``checkpoint`` does that elsewhere)."""
        c = getattr(self._local, "nowait", None)
        if c is None:
            c = sqlite3.connect(self.path, isolation_level=None, timeout=0)
            c.execute("PRAGMA journal_mode=WAL")
            c.execute("PRAGMA synchronous=NORMAL")
            c.execute("PRAGMA wal_autocheckpoint=0")
            c.execute(f"PRAGMA journal_size_limit={WAL_LIMIT}")
            self._local.nowait = c
        return Transaction(c, nowait=True)

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database where no reader needs it (what autocheckpoint does)."""
        self.conn().execute("PRAGMA wal_checkpoint(PASSIVE)")


class Busy(Exception):
    """Another writer holds the database (only from ``write_nowait``)."""


class Transaction:
    """``with db.write() as c:``: an immediate transaction, committed on success, rolled back on any exception."""

    def __init__(self, conn: sqlite3.Connection, nowait: bool = False) -> None:
        self.conn = conn
        self.nowait = nowait

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if self.nowait and ("locked" in str(exc) or "busy" in str(exc)):
                raise Busy from exc
            raise
        return self.conn

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


class ServiceErrors:
    """``with ServiceErrors("table 'todos'"):`` turns SQLite's errors into the project's at an engine's boundary:
    a database still locked by another writer when the wait runs out is a ``ThrottlingException`` (try again),
    anything else an ``InternalServerError``. Reusable: one per engine."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        if not isinstance(exc, sqlite3.Error):
            return
        if isinstance(exc, sqlite3.OperationalError) and ("locked" in str(exc) or "busy" in str(exc)):
            raise ServiceError("ThrottlingException", f"{self.what} is busy; try again", 400) from exc
        raise ServiceError("InternalServerError", f"{self.what} failed: {exc}", 500) from exc
