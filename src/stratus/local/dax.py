"""The local table cache: DAX's semantics in process.

``CachedTable`` wraps any ``TablePort`` and behaves as a DAX client does:

- an **item cache** for ``get`` keyed by primary key, and a separate **query
  cache** for ``query`` keyed by the whole request; each has its own TTL;
- results that are empty (no item, an empty page) are cached too;
- ``consistent=True`` reads go to the table and leave the caches alone;
- writes are **write-through**: the table is written first, and only when that
  succeeds is the item cache updated with the new item (a failed conditional
  write leaves the cache as it was); a read miss that raced a write never puts
  the older item it read over the newer one the write cached (``fill``);
- writes do **not** invalidate the query cache: a cached query stays stale until
  its TTL runs out, exactly as on DAX;
- both caches are LRU, bounded by entry count and by bytes.

Values are stored serialized, so a caller mutating what it got back cannot
change the cache, and the byte bound counts real sizes.
"""

from __future__ import annotations

import operator
from typing import Any

import orjson

from ..app import Table, TableCache
from ..clock import Clock
from ..ports.table import MAX_BATCH, Item, KeyCondition, Page, TablePort, normalize
from .lru import LruTtlCache


class CachedTable:
    """A ``TablePort`` with DAX's item and query caches in front of another ``TablePort``."""

    def __init__(self, decl: Table, table: TablePort, settings: TableCache, clock: Clock) -> None:
        self.decl, self.table = decl, table
        names = [decl.partition_key.name] + ([decl.sort_key.name] if decl.sort_key else [])
        self._key = operator.itemgetter(*names)  # the primary key of a key or item, hashable
        self.items = LruTtlCache(settings.item_ttl, settings.max_entries, settings.max_bytes, clock)
        self.queries = LruTtlCache(settings.query_ttl, settings.max_entries, settings.max_bytes, clock)

    def get(self, key: Item, *, consistent: bool = False) -> Item | None:
        if consistent:
            return self.table.get(key, consistent=True)
        try:
            k = self._key(key)
            hash(k)
        except (KeyError, TypeError):  # a malformed key: the table's own checks say what is wrong
            return self.table.get(key)
        raw = self.items.get(k)
        if raw is not None:
            return orjson.loads(raw)
        item = self.table.get(key)
        self.items.fill(k, orjson.dumps(item))  # a concurrent write-through put wins
        return item

    def batch_get(self, keys: list[Item], *, consistent: bool = False) -> list[Item | None]:
        """Each key from the item cache when there; the misses in one batch read, then cached."""
        try:
            wanted = [self._key(k) for k in keys]
            distinct = len(set(wanted)) == len(wanted)
        except (KeyError, TypeError):  # a malformed key: the table's own checks say what is wrong
            consistent = True
        if consistent or not distinct or len(keys) > MAX_BATCH:  # the table refuses these as DAX does
            return self.table.batch_get(keys, consistent=True)
        out: list[Item | None] = []
        missing: list[int] = []
        for i, key in enumerate(keys):
            raw = self.items.get(self._key(key))
            out.append(None if raw is None else orjson.loads(raw))
            if raw is None:
                missing.append(i)
        if missing:
            for i, item in zip(missing, self.table.batch_get([keys[i] for i in missing]), strict=True):
                out[i] = item
                self.items.fill(self._key(keys[i]), orjson.dumps(item))
        return out

    def query(self, partition: Any, *, sort: KeyCondition | None = None, where: dict[str, Any] | None = None,
              limit: int = 100, next_token: str | None = None, forward: bool = True,
              consistent: bool = False) -> Page:
        if consistent:
            return self.table.query(partition, sort=sort, where=where, limit=limit, next_token=next_token,
                                    forward=forward, consistent=True)
        k = orjson.dumps([partition, sort and [sort.op, sort.value, sort.upper], sorted((where or {}).items()),
                          limit, next_token, forward])
        raw = self.queries.get(k)
        if raw is not None:
            items, token = orjson.loads(raw)
            return Page(items, token)
        page = self.table.query(partition, sort=sort, where=where, limit=limit, next_token=next_token,
                                forward=forward)
        self.queries.fill(k, orjson.dumps([page.items, page.next_token]))
        return page

    def put(self, item: Item, *, if_absent: bool = False, if_exists: bool = False,
            expect: dict[str, Any] | None = None) -> None:
        self.table.put(item, if_absent=if_absent, if_exists=if_exists, expect=expect)
        # only reached when the write succeeded; cached as the table holds it (1.0 is 1, as in DynamoDB)
        self.items.put(self._key(item), orjson.dumps(normalize(self.decl, item)))

    def update(self, key: Item, changes: dict[str, Any], *, remove: tuple[str, ...] = (), if_exists: bool = True,
               expect: dict[str, Any] | None = None) -> Item:
        new = self.table.update(key, changes, remove=remove, if_exists=if_exists, expect=expect)
        self.items.put(self._key(key), orjson.dumps(new))
        return new

    def delete(self, key: Item, *, if_exists: bool = False, expect: dict[str, Any] | None = None) -> Item | None:
        old = self.table.delete(key, if_exists=if_exists, expect=expect)
        self.items.put(self._key(key), orjson.dumps(None))  # the item is gone: cache that
        return old

    def stats(self) -> dict[str, dict[str, int]]:
        return {"item_cache": self.items.stats(), "query_cache": self.queries.stats()}
