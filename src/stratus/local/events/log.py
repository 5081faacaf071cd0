"""The durable event log: every event an engine makes is appended in the same transaction as the write that
causes it, so an event is never lost and never invented.

One log lives in each database that holds a source of events: an app's tables database, where ``append`` takes
the writer's own open transaction, and the object store's, whose engine keeps its events itself (their sequence
numbers order an object's versions too) and shows them to delivery as the same columns (``relation``: a view).
Both are pruned alike: an event past its 24 hours that no trigger of this run waits on goes. What the
subscriptions of a log need beside it lives in the same file (``delivery``): their cursors, the events waiting for
them, their dead letters. So the step from "seen" to "to deliver" is one transaction too.

``notify`` wakes the subscriptions after a commit (no polling delay on the hot path); they also look on their
own once a second, which is what finds the work a restart left.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import orjson

from ..infra.sqlite import SqliteDatabase

RETENTION = 24 * 3600.0  # seconds an event is kept (a DynamoDB stream's records: 24 hours)
PRUNE_EVERY = 60.0       # seconds between looks for events past their retention

EVENTS = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, part TEXT NOT NULL, body BLOB NOT NULL,
    at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS events_by_source ON events (source, seq);
"""
SCHEMA = """
CREATE TABLE IF NOT EXISTS cursors (sub TEXT PRIMARY KEY, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS deliveries (
    sub TEXT NOT NULL, seq INTEGER NOT NULL, part TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL, first_at REAL NOT NULL, error TEXT, PRIMARY KEY (sub, seq));
CREATE INDEX IF NOT EXISTS deliveries_by_part ON deliveries (sub, part, seq);
CREATE TABLE IF NOT EXISTS dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT, sub TEXT NOT NULL, seq INTEGER NOT NULL, part TEXT NOT NULL,
    body BLOB NOT NULL, at REAL NOT NULL, error TEXT NOT NULL, attempts INTEGER NOT NULL, first_at REAL NOT NULL,
    last_at REAL NOT NULL);
"""


Restore = Callable[[sqlite3.Connection, int, str, str, bytes, float], None]


class EventLog:
    """The events of one database, and who to wake when one is committed. ``relation`` is where they are read
    (``seq, source, part, body, at``): this log's own table, or (``owned`` False) a view of an engine's own
    ``events`` table (with ``seq`` and ``at``), which this log does not write. Either way, events past their
    retention are pruned; ``restore`` puts one back (a dead letter sent again after its event was pruned): for an
    engine's own events, the engine's way of writing one."""

    def __init__(self, db: SqliteDatabase, relation: str = "events", owned: bool = True,
                 restore: Restore | None = None) -> None:
        self.db, self.relation, self.owned = db, relation, owned
        if not owned and restore is None:
            raise ValueError("an engine's own events need a way to restore one")
        self._restore = restore
        db.conn().executescript((EVENTS if owned else "") + SCHEMA)
        with db.write() as c:  # each item's first waiting delivery is its head: what a look at what is due reads
            if "head" not in {row[1] for row in c.execute("PRAGMA table_info(deliveries)")}:
                # a data dir from before heads: the column, and the heads of what waits (kept up from then on,
                # in the transactions that change the deliveries)
                c.execute("ALTER TABLE deliveries ADD COLUMN head INTEGER NOT NULL DEFAULT 0")
                c.execute("UPDATE deliveries SET head = (seq = (SELECT MIN(x.seq) FROM deliveries x WHERE "
                          "x.sub=deliveries.sub AND x.part=deliveries.part))")
            c.execute("CREATE INDEX IF NOT EXISTS deliveries_heads ON deliveries (sub, head, seq)")
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event, str]] = []
        # the triggers of this run: a cursor left by a trigger since renamed or removed holds back no pruning
        self.subscribers: set[str] = set()
        self._lock = threading.Lock()

    def append(self, c: sqlite3.Connection, source: str, part: str, body: dict[str, Any], at: float) -> None:
        """Add an event inside the writer's open transaction ``c``: it commits, or vanishes, with the write.
        ``source`` says what made it (``table:posts``), ``part`` what its order is kept within (the item)."""
        c.execute("INSERT INTO events (source, part, body, at) VALUES (?,?,?,?)", (source, part, orjson.dumps(body), at))

    def restore(self, c: sqlite3.Connection, seq: int, source: str, part: str, body: bytes, at: float) -> None:
        """Put event ``seq`` back if it was pruned, inside the open transaction ``c``."""
        if self._restore is not None:
            self._restore(c, seq, source, part, body, at)
        else:
            c.execute("INSERT OR IGNORE INTO events (seq, source, part, body, at) VALUES (?,?,?,?,?)",
                      (seq, source, part, body, at))

    def listen(self, loop: asyncio.AbstractEventLoop, wake: asyncio.Event, source: str) -> None:
        """Set ``wake`` on ``loop`` whenever an event of ``source`` is committed."""
        with self._lock:
            self._waiters.append((loop, wake, source))

    def notify(self, source: str) -> None:
        """Wake the subscriptions of ``source`` (after a commit of its events; from any thread)."""
        with self._lock:
            waiters = [(loop, wake) for loop, wake, s in self._waiters if s == source]
        for loop, wake in waiters:
            try:
                loop.call_soon_threadsafe(wake.set)
            except RuntimeError:  # that loop has stopped (a shutdown)
                pass

    def prune(self, now: float, chunk: int = 5000) -> int:
        """Drop events older than ``RETENTION`` that every subscription of this run has seen and none still waits
        on, ``chunk`` at a time (a long backlog after downtime holds the write lock briefly each time); how many
        went."""
        subs = sorted(self.subscribers)
        gone = 0
        while True:
            with self.db.write() as c:
                low = c.execute(f"SELECT MIN(seq) FROM cursors WHERE sub IN ({','.join('?' * len(subs))})",
                                subs).fetchone()[0] if subs else None
                if low is None:
                    low = c.execute("SELECT IFNULL(MAX(seq), 0) FROM events").fetchone()[0]
                n = c.execute("DELETE FROM events WHERE seq IN (SELECT seq FROM events WHERE at < ? AND seq <= ? AND "
                              "seq NOT IN (SELECT seq FROM deliveries) ORDER BY seq LIMIT ?)",
                              (now - RETENTION, low, chunk)).rowcount
            gone += n
            if n < chunk:
                return gone


async def keep_pruned(log: EventLog, clock: Any, pool: Executor) -> None:
    """Prune ``log`` every ``PRUNE_EVERY`` seconds while the system runs (on ``pool``: it writes)."""
    loop = asyncio.get_running_loop()
    while True:
        try:
            await loop.run_in_executor(pool, log.prune, clock.now())
        except sqlite3.Error:  # busy, or the disk: the next look tries again
            pass
        await asyncio.sleep(PRUNE_EVERY)
