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

from typing import Any

import orjson

from ....clock import Clock
from ....graph import Table, TableCache
from ....ports.table import Conditions, Item, Key, Page, Query, TablePort
from ...infra.lru import LruTtlCache


class CachedTable(TablePort):
    """A ``TablePort`` with DAX's item and query caches in front of another ``TablePort``.

    Arguments were checked once by the port's public methods; the hooks here call the table's
    own hooks, so a cached write pays for its checks once.
    """

    def __init__(self, decl: Table, table: TablePort, settings: TableCache, clock: Clock) -> None:
        super().__init__(decl)
        self.table = table
        self.items = LruTtlCache(settings.item_ttl, settings.max_entries, settings.max_bytes, clock)
        self.queries = LruTtlCache(settings.query_ttl, settings.max_entries, settings.max_bytes, clock)

    def _get(self, key: Key, consistent: bool) -> Item | None:
        if consistent:
            return self.table._get(key, True)
        raw = self.items.get(key)
        if raw is not None:
            return orjson.loads(raw)
        item = self.table._get(key, False)
        self.items.fill(key, orjson.dumps(item))  # a concurrent write-through put wins
        return item

    def _batch_get(self, keys: list[Key], consistent: bool) -> list[Item | None]:
        """Each key from the item cache when there; the misses in one batch read, then cached."""
        if consistent or len(set(keys)) != len(keys):  # repeated keys: the table answers them as DAX passes them on
            return self.table._batch_get(keys, True)
        out: list[Item | None] = []
        missing: list[int] = []
        for i, key in enumerate(keys):
            raw = self.items.get(key)
            out.append(None if raw is None else orjson.loads(raw))
            if raw is None:
                missing.append(i)
        if missing:
            for i, item in zip(missing, self.table._batch_get([keys[i] for i in missing], False), strict=True):
                out[i] = item
                self.items.fill(keys[i], orjson.dumps(item))
        return out

    def _query(self, q: Query) -> Page:
        if q.consistent:
            return self.table._query(q)
        sort = q.sort and [q.sort.op, q.sort.value, q.sort.upper]
        k = orjson.dumps([q.partition, sort, sorted((q.where or {}).items()), q.limit, q.after, q.forward])
        raw = self.queries.get(k)
        if raw is not None:
            items, token = orjson.loads(raw)
            return Page(items, token)
        page = self.table._query(q)
        self.queries.fill(k, orjson.dumps([page.items, page.next_token]))
        return page

    def _put(self, key: Key, item: Item, cond: Conditions) -> None:
        self.table._put(key, item, cond)
        # only reached when the write succeeded; the item is as the table holds it (normalised: 1.0 is 1)
        self.items.put(key, orjson.dumps(item))

    def _update(self, key: Key, changes: dict[str, Any], remove: tuple[str, ...], cond: Conditions) -> Item:
        new = self.table._update(key, changes, remove, cond)
        self.items.put(key, orjson.dumps(new))
        return new

    def _delete(self, key: Key, cond: Conditions) -> Item | None:
        old = self.table._delete(key, cond)
        self.items.put(key, orjson.dumps(None))  # the item is gone: cache that
        return old

    def stats(self) -> dict[str, dict[str, int]]:
        return {"item_cache": self.items.stats(), "query_cache": self.queries.stats()}
