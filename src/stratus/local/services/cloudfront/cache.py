"""The edge's cache: answers by cache key, bounded in bytes, least recently used out first.

Small answers are kept in memory; an answer of ``DISK_FROM`` bytes or more is kept in a file of the cache's folder,
so a few large downloads do not push every small page out. Each tier has its own bound. An entry outlives its
freshness (a stale copy serves ``stale-while-revalidate``, ``stale-if-error`` and an origin's 5xx) until a bound
pushes it out or an invalidation drops it. The cache lives for one run: its folder is emptied at start.

The edge runs on one event loop, so the cache takes no lock; file writes happen before an entry is put.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

DISK_FROM = 1024 * 1024
OVERHEAD = 512  # bytes charged per entry for its key, headers and bookkeeping
GRACE = 60.0  # seconds a dropped answer's file stays, for the viewers still being sent it (they hold it open)


@dataclass
class Body:
    """An answer's bytes: in memory (``data``) or in a file (``file``), ``size`` long."""

    size: int
    data: bytes | None = None
    file: Path | None = None

    def open(self) -> int | None:
        """A descriptor of the body's file (None for one in memory): opened on the event loop before the body is
        read elsewhere, so the file, once open, is there however soon it is dropped."""
        return None if self.file is None else os.open(self.file, os.O_RDONLY)

    def read(self, fd: int | None, first: int = 0, last: int | None = None) -> bytes:
        """Bytes ``first`` to ``last`` (inclusive; None: to the end), from memory or ``fd``."""
        end = self.size if last is None else last + 1
        if self.data is not None:
            return self.data[first:end] if (first, end) != (0, self.size) else self.data
        assert fd is not None
        return os.pread(fd, end - first, first)

    def chunks(self, fd: int | None, first: int, last: int, size: int = 256 * 1024) -> Iterator[bytes]:
        """Bytes ``first`` to ``last`` inclusive, a piece at a time (a file is never read whole)."""
        if self.data is not None:
            yield self.read(None, first, last)
            return
        assert fd is not None
        pos = first
        while pos <= last:
            piece = os.pread(fd, min(size, last + 1 - pos), pos)
            if not piece:
                raise OSError(f"{self.file} ended early")
            yield piece
            pos += len(piece)

    def discard(self) -> None:
        """Let the body go; a file is removed after ``GRACE`` seconds when the edge runs (a viewer that was handed
        the entry just now opens it meanwhile), at once otherwise."""
        if self.file is None:
            return
        path = self.file

        def remove() -> None:
            with contextlib.suppress(OSError):
                path.unlink()
        try:
            asyncio.get_running_loop().call_later(GRACE, remove)
        except RuntimeError:
            remove()


@dataclass
class Entry:
    """One kept answer: the origin's status and headers (lowercased names, hop-by-hop ones gone), its body, and
    when it was fetched (``stored``, for ``Age``) and until when it is fresh."""

    path: str  # the viewer's path, which invalidations match
    status: int
    headers: dict[str, str]
    body: Body
    stored: float
    expires: float
    stale_while_revalidate: float = 0.0
    stale_if_error: float = 0.0
    variants: dict[str, Body] = field(default_factory=dict)  # compressed copies, by coding
    # a hit's answer head as sent, by coding ("" for none), made at its first hit; emptied when the headers change
    wire: dict[str, bytes] = field(default_factory=dict)
    compressible: bool | None = None  # whether its type and size may be compressed (decided once)
    meta: int = 0  # bytes its key and headers take (charged with its body)

    @property
    def size(self) -> int:
        return self.body.size + sum(v.size for v in self.variants.values()) + self.meta + OVERHEAD

    @property
    def on_disk(self) -> bool:
        return self.body.file is not None

    def discard(self) -> None:
        self.body.discard()
        for v in self.variants.values():
            v.discard()


class EdgeCache:
    def __init__(self, folder: Path, memory_bytes: int, disk_bytes: int) -> None:
        self.folder, self.memory_bytes, self.disk_bytes = folder, memory_bytes, disk_bytes
        shutil.rmtree(folder, ignore_errors=True)  # what a past run kept is not trusted (nor bounded) here
        folder.mkdir(parents=True, mode=0o700)
        self._tiers: dict[bool, OrderedDict[str, Entry]] = {False: OrderedDict(), True: OrderedDict()}
        self._where: dict[str, bool] = {}  # each key's tier
        self._bytes = {False: 0, True: 0}  # in memory, on disk
        self._names = itertools.count(1)
        self.evictions = 0
        self.on_evict: Callable[[Entry], None] | None = None

    def new_file(self) -> Path:
        """A fresh file name in the cache's folder, for a body being written."""
        return self.folder / f"{next(self._names):x}"

    def fits(self, size: int) -> bool:
        """Whether an answer of ``size`` bytes can be kept at all."""
        return size + OVERHEAD <= (self.disk_bytes if size >= DISK_FROM else self.memory_bytes)

    def get(self, key: str) -> Entry | None:
        tier = self._where.get(key)
        if tier is None:
            return None
        entries = self._tiers[tier]
        entries.move_to_end(key)
        return entries[key]

    def put(self, key: str, entry: Entry) -> bool:
        """Keep ``entry`` under ``key`` (replacing what was there); False when it is too big to keep (the caller
        discards it once it is sent)."""
        self.drop(key)
        entry.meta = len(key) + sum(len(k) + len(v) for k, v in entry.headers.items())
        if not self.fits(entry.body.size + entry.meta):
            return False
        tier = entry.on_disk
        self._tiers[tier][key] = entry
        self._where[key] = tier
        self._bytes[tier] += entry.size
        self._shrink(tier)
        return key in self._where

    def add_variant(self, key: str, coding: str, body: Body) -> None:
        """A compressed copy of the entry under ``key`` (kept in the entry's tier)."""
        tier = self._where.get(key)
        entry = None if tier is None else self._tiers[tier][key]
        if entry is None or coding in entry.variants:
            body.discard()
            return
        entry.variants[coding] = body
        self._bytes[entry.on_disk] += body.size
        self._shrink(entry.on_disk)

    def _shrink(self, tier: bool) -> None:
        limit = self.disk_bytes if tier else self.memory_bytes
        if self._bytes[tier] <= limit:
            return
        entries = self._tiers[tier]
        while self._bytes[tier] > limit and entries:
            self.evictions += 1
            self.drop(next(iter(entries)))  # the least recently used

    def remove(self, key: str, entry: Entry) -> None:
        """Take ``entry`` out from under ``key`` without letting its body go (it is still being sent)."""
        tier = self._where.get(key)
        if tier is not None and self._tiers[tier][key] is entry:
            del self._where[key], self._tiers[tier][key]
            self._bytes[tier] -= entry.size

    def drop(self, key: str) -> Entry | None:
        tier = self._where.pop(key, None)
        entry = None if tier is None else self._tiers[tier].pop(key)
        if entry is not None:
            self._bytes[entry.on_disk] -= entry.size
            entry.discard()
        return entry

    def drop_where(self, matches: Callable[[Entry], bool]) -> int:
        """Drop every entry ``matches`` says so of; how many."""
        keys = [k for entries in self._tiers.values() for k, e in entries.items() if matches(e)]
        for key in keys:
            self.drop(key)
        return len(keys)

    def clear(self) -> None:
        for key in list(self._where):
            self.drop(key)

    def stats(self) -> dict[str, int]:
        return {"entries": len(self._where), "memory_bytes": self._bytes[False], "disk_bytes": self._bytes[True],
                "evictions": self.evictions}
