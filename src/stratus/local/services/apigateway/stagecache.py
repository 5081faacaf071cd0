"""The API stage cache: API Gateway's response caching for one REST API.

Entries are keyed by method, path, the query parameters the route declares
(nothing else the client sends), and, on authenticated routes, always the
caller's ``sub``: no caller can ever be served another caller's cached response.
Only 2xx responses of at most 1 MB are cached. An index by (path, caller) lets a
write drop that caller's entries for a path, whatever their query parameters.
"""

from __future__ import annotations

import threading
from typing import Any

from ....clock import Clock
from ....graph import ApiCache
from ...infra.lru import LruTtlCache

MAX_ITEM_BYTES = 1024 * 1024  # API Gateway does not cache responses over 1 MB

CacheKey = tuple[str, str, tuple[tuple[str, str], ...], str | None]
CachedResponse = tuple[int, bytes, dict[str, str]]


class StageCache:
    def __init__(self, settings: ApiCache, clock: Clock) -> None:
        self.settings = settings
        self._index: dict[tuple[str, str | None], set[CacheKey]] = {}
        self._lock = threading.RLock()  # eviction calls back into _unindex while put holds it
        self.lru = LruTtlCache(settings.ttl, 1_000_000, settings.max_bytes, clock, on_remove=self._unindex)
        self.refreshes = 0
        # bumped by every invalidation of (path, caller): a response computed before it must not be cached after it
        self._generations: dict[tuple[str, str | None], int] = {}

    @staticmethod
    def key(method: str, path: str, query: dict[str, Any], caller: str | None) -> CacheKey:
        return method, path, tuple(sorted((k, str(v)) for k, v in query.items())), caller

    def get(self, key: CacheKey) -> CachedResponse | None:
        return self.lru.get(key)

    def generation(self, key: CacheKey) -> int:
        """Take before computing a response; hand to ``put`` so an invalidation in between wins."""
        return self._generations.get((key[1], key[3]), 0)

    def put(self, key: CacheKey, response: CachedResponse, ttl: float, generation: int) -> bool:
        status, body, headers = response
        if not 200 <= status < 300 or len(body) > MAX_ITEM_BYTES:
            return False
        with self._lock:
            if self._generations.get((key[1], key[3]), 0) != generation:
                return False  # invalidated while this response was being computed: it may be stale
            # into the cache first: replacing a live entry calls _unindex for the key, which must not undo this index
            self.lru.put(key, response, size=len(body) + sum(len(k) + len(v) for k, v in headers.items()), ttl=ttl)
            self._index.setdefault((key[1], key[3]), set()).add(key)
        return True

    def drop_path(self, path: str, caller: str | None) -> None:
        with self._lock:
            if len(self._generations) > 100_000:  # bounded; a response from before the reset is refused either way
                self._generations.clear()
            self._generations[(path, caller)] = self._generations.get((path, caller), 0) + 1
            keys = list(self._index.get((path, caller), ()))
        for k in keys:
            self.lru.drop(k)

    def flush(self) -> int:
        """Drop every cached answer; how many there were."""
        return self.lru.clear()

    def _unindex(self, key: CacheKey) -> None:
        with self._lock:
            bucket = self._index.get((key[1], key[3]))
            if bucket is not None:
                bucket.discard(key)
                if not bucket:
                    del self._index[(key[1], key[3])]

    def stats(self) -> dict[str, Any]:
        s = self.lru.stats()
        looked = s["hits"] + s["misses"]
        return {**s, "refreshes": self.refreshes, "hit_ratio": round(s["hits"] / looked, 4) if looked else None}
