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

The port's checks are ``TablePort``'s; this module only stores and reads.
Each thread gets its own connection (sync handlers run on a thread pool).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from ....clock import Clock, SystemClock
from ....graph import Table
from ....ports.table import Conditions, Item, Key, KeyCondition, Page, Query, TablePort, check_conditions, normalize
from ...infra.sqlite import ServiceErrors, SqliteDatabase

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    tbl TEXT NOT NULL, pk NOT NULL, sk NOT NULL, doc BLOB NOT NULL,
    PRIMARY KEY (tbl, pk, sk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, kind TEXT NOT NULL,
    keys BLOB NOT NULL, old BLOB, new BLOB, at REAL NOT NULL
);
"""


def tables_database(path: Path) -> SqliteDatabase:
    """The database holding an app's tables (one file per app)."""
    return SqliteDatabase(path, SCHEMA)


class SqliteTable(TablePort):
    """The ``Table`` port for one declared table."""

    def __init__(self, decl: Table, db: SqliteDatabase, clock: Clock | None = None) -> None:
        super().__init__(decl)
        self.db = db
        self.clock = clock or SystemClock()
        self._errors = ServiceErrors(f"table {decl.name!r}")

    # -- storage

    def _read(self, c: sqlite3.Connection, key: Key) -> Item | None:
        row = c.execute("SELECT doc FROM items WHERE tbl=? AND pk=? AND sk=?", (self.name, *key)).fetchone()
        return None if row is None else orjson.loads(row[0])

    def _write(self, c: sqlite3.Connection, key: Key, old: Item | None, new: Item | None) -> None:
        """Store ``new`` (None: delete) and, when the table has a stream, its change record in the same transaction."""
        if new is None:
            c.execute("DELETE FROM items WHERE tbl=? AND pk=? AND sk=?", (self.name, *key))
        else:
            c.execute("INSERT OR REPLACE INTO items (tbl, pk, sk, doc) VALUES (?,?,?,?)",
                      (self.name, *key, orjson.dumps(new)))
        if self.decl.stream:
            kind = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
            c.execute("INSERT INTO changes (tbl, kind, keys, old, new, at) VALUES (?,?,?,?,?,?)",
                      (self.name, kind, orjson.dumps(self.key_item(key)), old and orjson.dumps(old),
                       new and orjson.dumps(new), self.clock.now()))

    # -- the hooks

    def _get(self, key: Key, consistent: bool) -> Item | None:
        with self._errors:
            return self._read(self.db.conn(), key)

    def _batch_get(self, keys: list[Key], consistent: bool) -> list[Item | None]:
        with self._errors:
            c = self.db.conn()
            c.execute("BEGIN")  # one snapshot for the whole batch
            try:
                return [self._read(c, k) for k in keys]
            finally:
                c.execute("COMMIT")

    def _put(self, key: Key, item: Item, cond: Conditions) -> None:
        with self._errors, self.db.write() as c:
            old = self._read(c, key) if (cond or self.decl.stream) else None
            check_conditions(self.decl, old, cond)
            self._write(c, key, old, item)

    def _update(self, key: Key, changes: dict[str, Any], remove: tuple[str, ...], cond: Conditions) -> Item:
        with self._errors, self.db.write() as c:
            old = self._read(c, key)
            check_conditions(self.decl, old, cond)
            new = {**(old or self.key_item(key)), **changes}
            for attr in remove:
                new.pop(attr, None)
            new = normalize(self.decl, new)
            self._write(c, key, old, new)
        return new

    def _delete(self, key: Key, cond: Conditions) -> Item | None:
        with self._errors, self.db.write() as c:
            old = self._read(c, key)
            check_conditions(self.decl, old, cond)
            if old is not None:
                self._write(c, key, old, None)
        return old

    def _query(self, q: Query) -> Page:
        with self._errors:
            return self.page(q, self._matches(q))

    def _matches(self, q: Query) -> Iterator[Item]:
        """The partition's items in sort-key order (after ``q.after``) that meet the sort condition and the filter."""
        conds, args = ["tbl=?", "pk=?"], [self.name, q.partition]
        if q.sort is not None:
            conds, args = _sort_condition(q.sort, conds, args)
        cmp, order = (">", "ASC") if q.forward else ("<", "DESC")
        c, after = self.db.conn(), q.after
        while True:
            where = " AND ".join(conds + ([f"sk {cmp} ?"] if after is not None else []))
            rows = c.execute(f"SELECT sk, doc FROM items WHERE {where} ORDER BY sk {order} LIMIT ?",
                             (*args, *([after] if after is not None else []), q.batch)).fetchall()
            for _, doc in rows:
                item = orjson.loads(doc)
                if not q.where or all(item.get(a) == v for a, v in q.where.items()):
                    yield item
            if len(rows) < q.batch:
                return
            after = rows[-1][0]

    def changes(self, after: int = 0) -> list[dict[str, Any]]:
        """The change log of this table after sequence number ``after`` (for stream consumers)."""
        rows = self.db.conn().execute(
            "SELECT seq, kind, keys, old, new, at FROM changes WHERE tbl=? AND seq>? ORDER BY seq",
            (self.name, after)).fetchall()
        return [{"seq": s, "kind": k, "keys": orjson.loads(keys), "old": old and orjson.loads(old),
                 "new": new and orjson.loads(new), "at": at} for s, k, keys, old, new, at in rows]


def _sort_condition(sort: KeyCondition, conds: list[str], args: list[Any]) -> tuple[list[str], list[Any]]:
    """A (checked) sort-key condition as SQL on the ``sk`` column."""
    ops = {"eq": "=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
    if sort.op in ops:
        return conds + [f"sk {ops[sort.op]} ?"], args + [sort.value]
    if sort.op == "between":
        return conds + ["sk BETWEEN ? AND ?"], args + [sort.value, sort.upper]
    return conds + ["sk >= ?", "sk < ?"], args + [sort.value, sort.value + "\U0010ffff"]  # begins_with
