"""Local tables: the ``Table`` port on SQLite in WAL mode.

All tables of one app share one database file. Items are stored as JSON
documents keyed by (table, partition key, sort key); a table without a sort key
stores ``''`` there. Because every value of a key attribute has the declared
type, SQLite's ordering (integers numerically, text by UTF-8 bytes, i.e. by code
point) is DynamoDB's ordering.

Writes run in ``BEGIN IMMEDIATE`` transactions, so a conditional write's check
and its write are atomic even across processes. When a table declares a change
stream, the change (kind, keys, old and new image) is appended to the app's event
log (``stratus.local.events``) in the same transaction as the write: a change is
never lost and never invented, and a write that changes nothing makes none, as
with DynamoDB Streams.

A global table's replica (one ``SqliteTable`` per region, each in its region's database) also keeps each item's
*stamp*, its last write's time and region, deleted items' too, and puts it in the change. Replication
(``stratus.local.events.replication``) hands each change to the other regions' ``apply``, which keeps it only if
its stamp is larger than the item's there: last writer wins, the same way in every region.

The port's checks are ``TablePort``'s; this module only stores and reads.
Each thread gets its own connection (sync handlers run on a thread pool).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

from ....clock import Clock, SystemClock
from ....graph import Table
from ....ports.table import Conditions, Item, Key, KeyCondition, Page, Query, TablePort, check_conditions, key_values, normalize
from ...events.log import EventLog
from ...infra.sqlite import ServiceErrors, SqliteDatabase

SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    tbl TEXT NOT NULL, pk NOT NULL, sk NOT NULL, doc BLOB NOT NULL,
    PRIMARY KEY (tbl, pk, sk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS item_stamps (
    tbl TEXT NOT NULL, pk NOT NULL, sk NOT NULL, wt REAL NOT NULL, origin TEXT NOT NULL,
    PRIMARY KEY (tbl, pk, sk)
) WITHOUT ROWID;
"""
STAMP_STEP = 1e-6  # a region's next write of an item is stamped at least this much after its last
Stamp = tuple[float, str]  # a global table's write: (write time, region written in); the larger wins


def _same(old: Item | None, new: Item | None) -> bool:
    """Whether a write changed nothing, types included (Python holds ``True == 1``; DynamoDB does not)."""
    return old is new or old is not None and new is not None and \
        orjson.dumps(old, option=orjson.OPT_SORT_KEYS) == orjson.dumps(new, option=orjson.OPT_SORT_KEYS)


def table_source(name: str) -> str:
    """What a table's changes are named by in the event log."""
    return f"table:{name}"


def tables_database(path: Path) -> SqliteDatabase:
    """The database holding an app's tables (one file per app)."""
    return SqliteDatabase(path, SCHEMA)


class SqliteTable(TablePort):
    """The ``Table`` port for one declared table."""

    def __init__(self, decl: Table, db: SqliteDatabase, clock: Clock | None = None,
                 log: EventLog | None = None, region: str | None = None) -> None:
        super().__init__(decl)
        self.region = region or decl.home_region  # a global table's: which region's replica this is
        self.db = db
        self.log = log if log is not None else EventLog(db)
        self.source = table_source(decl.name)
        self.clock = clock or SystemClock()
        self._errors = ServiceErrors(f"table {decl.name!r}")

    # -- storage

    def _read(self, c: sqlite3.Connection, key: Key) -> Item | None:
        row = c.execute("SELECT doc FROM items WHERE tbl=? AND pk=? AND sk=?", (self.name, *key)).fetchone()
        return None if row is None else orjson.loads(row[0])

    def _stamp(self, c: sqlite3.Connection, key: Key) -> Stamp | None:
        row = c.execute("SELECT wt, origin FROM item_stamps WHERE tbl=? AND pk=? AND sk=?", (self.name, *key)).fetchone()
        return None if row is None else (row[0], row[1])

    def _write(self, c: sqlite3.Connection, key: Key, old: Item | None, new: Item | None,
               stamp: Stamp | None = None) -> bool:
        """Store ``new`` (None: delete) and, when the table has a stream, its change in the event log in the same
        transaction; whether there was a change to tell of (a write that changes nothing makes none). A global
        table's write is stamped: ``stamp`` when it is replicated here, else now, in this region."""
        if new is None:
            c.execute("DELETE FROM items WHERE tbl=? AND pk=? AND sk=?", (self.name, *key))
        else:
            c.execute("INSERT OR REPLACE INTO items (tbl, pk, sk, doc) VALUES (?,?,?,?)",
                      (self.name, *key, orjson.dumps(new)))
        changed = not _same(old, new)
        if self.region is not None and (changed or stamp is not None):
            if stamp is None:  # after the item's last stamp here, so a region's own writes keep their order
                last, now = self._stamp(c, key), self.clock.now()
                stamp = (max(now, last[0] + STAMP_STEP) if last else now, self.region)
            c.execute("INSERT OR REPLACE INTO item_stamps VALUES (?,?,?,?,?)", (self.name, *key, *stamp))
        if not self.decl.stream or not changed:
            return False
        keys = self.key_item(key)
        kind = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
        body: dict[str, Any] = {"kind": kind, "keys": keys, "old": old, "new": new}
        if stamp is not None:
            body["wt"], body["origin"] = stamp
        self.log.append(c, self.source, orjson.dumps(keys).decode(), body, self.clock.now())
        return True

    def apply(self, keys: Item, new: Item | None, stamp: Stamp) -> bool:
        """A change replicated from another region: stored (``new``, or deleted when None) only if ``stamp`` is
        later than the item's here (last writer wins); whether it was."""
        key = key_values(self.decl, keys)
        with self._errors, self.db.write() as c:
            last = self._stamp(c, key)
            if last is not None and last >= stamp:
                return False
            changed = self._write(c, key, self._read(c, key), new, stamp)
        if changed:
            self.log.notify(self.source)
        return True

    def seed(self, items: Iterable[tuple[Item, Stamp]]) -> int:
        """A new replica's first copy of another's ``items`` with their stamps, in one transaction (all or nothing),
        only if this replica has never held an item; how many were copied. The copy makes no changes in the log:
        the other regions have them."""
        with self._errors, self.db.write() as c:
            if c.execute("SELECT 1 FROM item_stamps WHERE tbl=? LIMIT 1", (self.name,)).fetchone() is not None:
                return 0
            n = 0
            for item, stamp in items:
                key = key_values(self.decl, item)
                c.execute("INSERT OR REPLACE INTO items (tbl, pk, sk, doc) VALUES (?,?,?,?)",
                          (self.name, *key, orjson.dumps(item)))
                c.execute("INSERT OR REPLACE INTO item_stamps VALUES (?,?,?,?,?)", (self.name, *key, *stamp))
                n += 1
            return n

    def stamped(self) -> Iterator[tuple[Item, Stamp]]:
        """Every item with its stamp (a new replica's first copy), in key order."""
        rows = self.db.conn().execute(
            "SELECT i.doc, s.wt, s.origin FROM items i LEFT JOIN item_stamps s ON s.tbl=i.tbl AND s.pk=i.pk AND "
            "s.sk=i.sk WHERE i.tbl=? ORDER BY i.pk, i.sk", (self.name,))
        for doc, wt, origin in rows:
            yield orjson.loads(doc), (wt or 0.0, origin or (self.region or ""))

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
            changed = self._write(c, key, old, item)
        if changed:
            self.log.notify(self.source)

    def _update(self, key: Key, changes: dict[str, Any], remove: tuple[str, ...], cond: Conditions) -> Item:
        with self._errors, self.db.write() as c:
            old = self._read(c, key)
            check_conditions(self.decl, old, cond)
            new = {**(old or self.key_item(key)), **changes}
            for attr in remove:
                new.pop(attr, None)
            new = normalize(self.decl, new)
            changed = self._write(c, key, old, new)
        if changed:
            self.log.notify(self.source)
        return new

    def _delete(self, key: Key, cond: Conditions) -> Item | None:
        with self._errors, self.db.write() as c:
            old = self._read(c, key)
            check_conditions(self.decl, old, cond)
            changed = old is not None and self._write(c, key, old, None)
        if changed:
            self.log.notify(self.source)
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
        """This table's changes in the event log after sequence number ``after``, oldest first."""
        rows = self.db.conn().execute("SELECT seq, body, at FROM events WHERE source=? AND seq>? ORDER BY seq",
                                      (self.source, after)).fetchall()
        return [{"seq": seq, **orjson.loads(body), "at": at} for seq, body, at in rows]


def _sort_condition(sort: KeyCondition, conds: list[str], args: list[Any]) -> tuple[list[str], list[Any]]:
    """A (checked) sort-key condition as SQL on the ``sk`` column."""
    ops = {"eq": "=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
    if sort.op in ops:
        return conds + [f"sk {ops[sort.op]} ?"], args + [sort.value]
    if sort.op == "between":
        return conds + ["sk BETWEEN ? AND ?"], args + [sort.value, sort.upper]
    return conds + ["sk >= ?", "sk < ?"], args + [sort.value, sort.value + "\U0010ffff"]  # begins_with
