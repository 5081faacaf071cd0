"""One bounded cache for every local cache (DAX's item and query caches, the API stage cache).

LRU order, a TTL per entry read from the injectable clock, and two bounds:
entry count and bytes (each entry's size as given, plus a fixed overhead).
Counters say how it did: hits, misses, evictions (pushed out by a bound) and
expirations (found past their TTL). Thread-safe: writes take a lock; a hit
does not (each OrderedDict call is atomic under the GIL), which keeps the hot
path short; counters may then miss an increment under contention.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from ...clock import Clock

OVERHEAD = 64  # bytes charged per entry for its key and bookkeeping


class LruTtlCache:
    def __init__(self, ttl: float, max_entries: int, max_bytes: int, clock: Clock,
                 on_remove: Callable[[Any], None] | None = None) -> None:
        self.ttl, self.max_entries, self.max_bytes, self.clock = ttl, max_entries, max_bytes, clock
        self.on_remove = on_remove
        self._data: OrderedDict[Any, tuple[float, int, Any]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = self.evictions = self.expirations = 0

    def get(self, key: Any) -> Any:
        """The cached value, or None on a miss."""
        entry = self._data.get(key)
        if entry is not None and entry[0] > self.clock.now():
            try:
                self._data.move_to_end(key)
            except KeyError:  # removed by another thread since: this read still saw a live entry
                pass
            self.hits += 1
            return entry[2]
        with self._lock:
            entry = self._data.get(key)
            if entry is not None:
                if entry[0] > self.clock.now():
                    self._data.move_to_end(key)
                    self.hits += 1
                    return entry[2]
                self._remove(key)
                self.expirations += 1
            self.misses += 1
            return None

    def put(self, key: Any, value: Any, *, size: int | None = None, ttl: float | None = None) -> None:
        """Cache ``value`` (a bytes value's size is its length; give ``size`` for anything else)."""
        with self._lock:
            self._put(key, value, size, ttl)

    def _put(self, key: Any, value: Any, size: int | None, ttl: float | None) -> None:
        """``put`` with the lock held."""
        size = (len(value) if size is None else size) + OVERHEAD
        if size > self.max_bytes:
            return
        if key in self._data:
            self._remove(key)
        self._data[key] = (self.clock.now() + (self.ttl if ttl is None else ttl), size, value)
        self._bytes += size
        while len(self._data) > self.max_entries or self._bytes > self.max_bytes:
            self._remove(next(iter(self._data)))
            self.evictions += 1

    def fill(self, key: Any, value: Any, *, size: int | None = None, ttl: float | None = None) -> None:
        """Cache what a read miss found, unless a live entry appeared meanwhile.

        A write-through ``put`` that landed while the miss was reading its source is newer than what
        the miss read, so it must win; ``fill`` therefore never replaces a live entry.
        """
        with self._lock:
            entry = self._data.get(key)
            if entry is not None and entry[0] > self.clock.now():
                return
            self._put(key, value, size, ttl)

    def drop(self, key: Any) -> None:
        with self._lock:
            if key in self._data:
                self._remove(key)

    def clear(self) -> int:
        """Drop every entry; how many there were."""
        with self._lock:
            keys = list(self._data)
            for key in keys:
                self._remove(key)
        return len(keys)

    def _remove(self, key: Any) -> None:
        _, size, _ = self._data.pop(key)
        self._bytes -= size
        if self.on_remove is not None:
            self.on_remove(key)

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses, "evictions": self.evictions,
                "expirations": self.expirations, "entries": len(self._data), "bytes": self._bytes}
