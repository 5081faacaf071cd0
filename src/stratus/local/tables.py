"""Local tables: the ``Table`` port on SQLite in WAL mode.

All tables of one app share one database file. Items are stored as JSON
documents keyed by (table, partition key, sort key); a table without a sort key
stores ``''`` there. Because every value of a key attribute has the declared
type, SQLite's ordering (integers numerically, text by UTF-8 bytes, i.e. by code
point) is DynamoDB's ordering.

Writes run in ``BEGIN IMMEDIATE`` transactions, so a conditional write's check
and its write are atomic even across processes. When a table declares a change
stream, the change record (kind, keys, old and new image) is inserted in the same
transaction as the write: a change is never lost and never invented.

Each thread gets its own connection (sync handlers run on a thread pool).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from ..app import Table
from ..clock import Clock, SystemClock
from ..errors import InvalidItem
from ..ports.table import (
    Item,
    KeyCondition,
    Page,
    check_batch,
    check_changes,
    check_conditions,
    check_limit,
    check_query,
    decode_token,
    encode_token,
    key_values,
    normalize,
    partition_value,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    tbl TEXT NOT NULL, pk NOT NULL, sk NOT NULL, doc BLOB NOT NULL,
    PRIMARY KEY (tbl, pk, sk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, kind TEXT NOT NULL,
    keys BLOB NOT NULL, old BLOB, new BLOB, at REAL NOT NULL
);
"""


class SqliteDatabase:
    """One SQLite file, a connection per thread, and a write transaction helper."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self.conn().executescript(_SCHEMA)

    def conn(self) -> sqlite3.Connection:
        c = getattr(self._local, "conn", None)
        if c is None:
            c = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            c.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode loses nothing a process crash (SIGKILL) can take; only an OS crash
            # or power cut may drop the last commits.
            c.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = c
        return c

    def write(self) -> _Tx:
        return _Tx(self.conn())


class _Tx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> sqlite3.Connection:
        self.conn.execute("BEGIN IMMEDIATE")
        return self.conn

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.conn.execute("ROLLBACK" if exc_type else "COMMIT")


class SqliteTable:
    """The ``Table`` port for one declared table."""

    def __init__(self, decl: Table, db: SqliteDatabase, clock: Clock | None = None) -> None:
        self.decl = decl
        self.name = decl.name
        self.db = db
        self.clock = clock or SystemClock()
        self._pk = decl.partition_key
        self._sk = decl.sort_key

    # -- keys and documents

    def _keyvals(self, key: Item) -> tuple[Any, Any]:
        return key_values(self.decl, key)

    def _dump(self, item: Item) -> bytes:
        """A ``normalize``d item as stored."""
        return orjson.dumps(item)

    # -- conditions and the change log

    def _check(self, old: Item | None, if_absent: bool, if_exists: bool, expect: dict[str, Any] | None) -> None:
        check_conditions(self.decl, old, if_absent, if_exists, expect)

    def _read(self, c: sqlite3.Connection, pk: Any, sk: Any) -> Item | None:
        row = c.execute("SELECT doc FROM items WHERE tbl=? AND pk=? AND sk=?", (self.name, pk, sk)).fetchone()
        return None if row is None else orjson.loads(row[0])

    def _log(self, c: sqlite3.Connection, key: Item, old: Item | None, new: Item | None) -> None:
        if not self.decl.stream:
            return
        kind = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
        c.execute("INSERT INTO changes (tbl, kind, keys, old, new, at) VALUES (?,?,?,?,?,?)",
                  (self.name, kind, orjson.dumps(key), old and orjson.dumps(old), new and orjson.dumps(new),
                   self.clock.now()))

    # -- the port

    def get(self, key: Item, *, consistent: bool = False) -> Item | None:
        pk, sk = self._keyvals(key)
        return self._read(self.db.conn(), pk, sk)

    def batch_get(self, keys: list[Item], *, consistent: bool = False) -> list[Item | None]:
        check_batch(self.decl, keys)
        wanted = [self._keyvals(k) for k in keys]
        c = self.db.conn()
        c.execute("BEGIN")  # one snapshot for the whole batch
        try:
            return [self._read(c, pk, sk) for pk, sk in wanted]
        finally:
            c.execute("COMMIT")

    def put(self, item: Item, *, if_absent: bool = False, if_exists: bool = False,
            expect: dict[str, Any] | None = None) -> None:
        item = normalize(self.decl, item)
        pk, sk = self._keyvals(item)
        doc = self._dump(item)
        with self.db.write() as c:
            old = self._read(c, pk, sk) if (if_absent or if_exists or expect or self.decl.stream) else None
            self._check(old, if_absent, if_exists, expect)
            c.execute("INSERT OR REPLACE INTO items (tbl, pk, sk, doc) VALUES (?,?,?,?)", (self.name, pk, sk, doc))
            self._log(c, self.decl.key_of(item), old, item)

    def update(self, key: Item, changes: dict[str, Any], *, remove: tuple[str, ...] = (), if_exists: bool = True,
               expect: dict[str, Any] | None = None) -> Item:
        pk, sk = self._keyvals(key)
        changes = check_changes(self.decl, key, changes, remove)
        with self.db.write() as c:
            old = self._read(c, pk, sk)
            self._check(old, False, if_exists, expect)
            new = {**(old or self.decl.key_of(key)), **changes}
            for attr in remove:
                new.pop(attr, None)
            new = normalize(self.decl, new)
            c.execute("INSERT OR REPLACE INTO items (tbl, pk, sk, doc) VALUES (?,?,?,?)",
                      (self.name, pk, sk, self._dump(new)))
            self._log(c, self.decl.key_of(key), old, new)
        return new

    def delete(self, key: Item, *, if_exists: bool = False, expect: dict[str, Any] | None = None) -> Item | None:
        pk, sk = self._keyvals(key)
        with self.db.write() as c:
            old = self._read(c, pk, sk)
            self._check(old, False, if_exists, expect)
            if old is not None:
                c.execute("DELETE FROM items WHERE tbl=? AND pk=? AND sk=?", (self.name, pk, sk))
                self._log(c, self.decl.key_of(key), old, None)
        return old

    def query(self, partition: Any, *, sort: KeyCondition | None = None, where: dict[str, Any] | None = None,
              limit: int = 100, next_token: str | None = None, forward: bool = True,
              consistent: bool = False) -> Page:
        check_limit(self.decl, limit)
        check_query(self.decl, sort, where)
        pk = partition_value(self.decl, partition)
        after = decode_token(next_token, self.name, pk, self._sk.type if self._sk else None) if next_token else None
        if self._sk is None and after is not None:
            return Page([], None)  # a partition of a table without a sort key holds one item, already returned
        items: list[Item] = []
        last_sk = None
        # read just past a page when nothing is filtered out; in bigger steps when a filter may skip rows
        batch = limit + 1 if not where else min(max(4 * limit, 64), 1000)
        for sk, item in self._scan(pk, sort, after, forward, batch):
            if where and any(item.get(a) != v for a, v in where.items()):
                continue
            if len(items) == limit:  # a further match exists: hand out a token
                return Page(items, encode_token(self.name, pk, last_sk))
            items.append(item)
            last_sk = sk
        return Page(items, None)

    def _scan(self, pk: Any, sort: KeyCondition | None, after: Any, forward: bool,
              batch: int) -> Iterator[tuple[Any, Item]]:
        conds, args = ["tbl=?", "pk=?"], [self.name, pk]
        if sort is not None:
            if self._sk is None:
                raise InvalidItem(f"table {self.name!r} has no sort key to put a condition on")
            conds, args = self._sort_cond(sort, conds, args)
        cmp, order = (">", "ASC") if forward else ("<", "DESC")
        c = self.db.conn()
        while True:
            q = " AND ".join(conds + ([f"sk {cmp} ?"] if after is not None else []))
            rows = c.execute(f"SELECT sk, doc FROM items WHERE {q} ORDER BY sk {order} LIMIT ?",
                             (*args, *([after] if after is not None else []), batch)).fetchall()
            for sk, doc in rows:
                yield sk, orjson.loads(doc)
            if len(rows) < batch:
                return
            after = rows[-1][0]

    def _sort_cond(self, sort: KeyCondition, conds: list[str], args: list[Any]) -> tuple[list[str], list[Any]]:
        assert self._sk is not None  # check_query has vetted the condition
        ops = {"eq": "=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
        if sort.op in ops:
            return conds + [f"sk {ops[sort.op]} ?"], args + [sort.value]
        if sort.op == "between":
            return conds + ["sk BETWEEN ? AND ?"], args + [sort.value, sort.upper]
        return conds + ["sk >= ?", "sk < ?"], args + [sort.value, sort.value + "\U0010ffff"]  # begins_with

    def changes(self, after: int = 0) -> list[dict[str, Any]]:
        """The change log of this table after sequence number ``after`` (for stream consumers)."""
        rows = self.db.conn().execute(
            "SELECT seq, kind, keys, old, new, at FROM changes WHERE tbl=? AND seq>? ORDER BY seq",
            (self.name, after)).fetchall()
        return [{"seq": s, "kind": k, "keys": orjson.loads(keys), "old": old and orjson.loads(old),
                 "new": new and orjson.loads(new), "at": at} for s, k, keys, old, new, at in rows]
