"""The DAX-style table cache over the real SQLite engine, with time moved by a manual clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratus import App, ConditionFailed
from stratus.clock import ManualClock
from stratus.graph import TableCache
from stratus.local.services.dynamodb.dax import CachedTable
from stratus.local.services.dynamodb.table import SqliteTable, tables_database


@pytest.fixture()
def clock() -> ManualClock:
    return ManualClock(1_000_000.0)


def _make(tmp_path: Path, clock: ManualClock, **settings: float) -> tuple[CachedTable, SqliteTable]:
    decl = App("t").table("todos", partition_key="owner", sort_key="id", cache=TableCache(**settings))
    raw = SqliteTable(decl, tables_database(tmp_path / "db"), clock)
    assert decl.cache is not None
    return CachedTable(decl, raw, decl.cache, clock), raw


def test_item_cache_hits_and_ttl(tmp_path: Path, clock: ManualClock) -> None:
    cached, raw = _make(tmp_path, clock, item_ttl=300)
    raw.put({"owner": "a", "id": "1", "v": 1})
    assert cached.get({"owner": "a", "id": "1"}) == {"owner": "a", "id": "1", "v": 1}
    raw.put({"owner": "a", "id": "1", "v": 2})  # written behind the cache's back
    assert cached.get({"owner": "a", "id": "1"})["v"] == 1  # type: ignore[index]
    assert cached.items.stats()["hits"] == 1 and cached.items.stats()["misses"] == 1
    clock.advance(299)
    assert cached.get({"owner": "a", "id": "1"})["v"] == 1  # type: ignore[index]
    clock.advance(2)
    assert cached.get({"owner": "a", "id": "1"})["v"] == 2  # type: ignore[index]
    assert cached.items.stats()["expirations"] == 1


def test_batch_get_uses_the_item_cache(tmp_path: Path, clock: ManualClock) -> None:
    cached, raw = _make(tmp_path, clock)
    raw.put({"owner": "a", "id": "1", "v": 1})
    raw.put({"owner": "a", "id": "2", "v": 2})
    assert cached.get({"owner": "a", "id": "1"})["v"] == 1  # type: ignore[index]
    raw.put({"owner": "a", "id": "1", "v": 10})  # behind the cache's back
    keys = [{"owner": "a", "id": "2"}, {"owner": "a", "id": "1"}, {"owner": "a", "id": "3"}]
    assert [i and i["v"] for i in cached.batch_get(keys)] == [2, 1, None]  # "1" from the cache
    raw.put({"owner": "a", "id": "3", "v": 3})
    assert [i and i["v"] for i in cached.batch_get(keys)] == [2, 1, None]  # all three cached now, the empty one too
    assert [i and i["v"] for i in cached.batch_get(keys, consistent=True)] == [2, 10, 3]
    assert cached.items.stats()["hits"] == 4


def test_empty_results_are_cached(tmp_path: Path, clock: ManualClock) -> None:
    cached, raw = _make(tmp_path, clock)
    assert cached.get({"owner": "a", "id": "missing"}) is None
    assert cached.query("nobody").items == []
    raw.put({"owner": "a", "id": "missing"})
    raw.put({"owner": "nobody", "id": "x"})
    assert cached.get({"owner": "a", "id": "missing"}) is None
    assert cached.query("nobody").items == []
    assert cached.items.hits == 1 and cached.queries.hits == 1


def test_consistent_reads_bypass_the_cache(tmp_path: Path, clock: ManualClock) -> None:
    cached, raw = _make(tmp_path, clock)
    raw.put({"owner": "a", "id": "1", "v": 1})
    cached.get({"owner": "a", "id": "1"})
    raw.put({"owner": "a", "id": "1", "v": 2})
    assert cached.get({"owner": "a", "id": "1"}, consistent=True)["v"] == 2  # type: ignore[index]
    assert [i["v"] for i in cached.query("a", consistent=True).items] == [2]
    assert cached.items.stats()["hits"] == 0 and cached.queries.stats()["misses"] == 0


def test_write_through_updates_the_item_cache(tmp_path: Path, clock: ManualClock) -> None:
    cached, _ = _make(tmp_path, clock)
    cached.put({"owner": "a", "id": "1", "v": 1})
    assert cached.get({"owner": "a", "id": "1"})["v"] == 1  # type: ignore[index]
    assert cached.items.misses == 0  # served from what the write put there
    cached.update({"owner": "a", "id": "1"}, {"v": 2})
    assert cached.get({"owner": "a", "id": "1"})["v"] == 2  # type: ignore[index]
    cached.delete({"owner": "a", "id": "1"})
    assert cached.get({"owner": "a", "id": "1"}) is None
    assert cached.items.misses == 0


def test_failed_conditional_write_leaves_the_cache_alone(tmp_path: Path, clock: ManualClock) -> None:
    cached, raw = _make(tmp_path, clock)
    cached.put({"owner": "a", "id": "1", "version": 1})
    with pytest.raises(ConditionFailed):
        cached.update({"owner": "a", "id": "1"}, {"version": 2, "title": "lost"}, expect={"version": 7})
    with pytest.raises(ConditionFailed):
        cached.put({"owner": "a", "id": "1", "version": 9}, if_absent=True)
    with pytest.raises(ConditionFailed):
        cached.delete({"owner": "a", "id": "1"}, expect={"version": 3})
    assert cached.get({"owner": "a", "id": "1"}) == {"owner": "a", "id": "1", "version": 1}
    assert raw.get({"owner": "a", "id": "1"}) == {"owner": "a", "id": "1", "version": 1}


def test_writes_do_not_invalidate_the_query_cache(tmp_path: Path, clock: ManualClock) -> None:
    cached, _ = _make(tmp_path, clock, query_ttl=60, item_ttl=600)
    cached.put({"owner": "a", "id": "1"})
    assert [i["id"] for i in cached.query("a").items] == ["1"]
    cached.put({"owner": "a", "id": "2"})
    cached.delete({"owner": "a", "id": "1"})
    assert [i["id"] for i in cached.query("a").items] == ["1"]  # stale, as DAX is
    assert [i["id"] for i in cached.query("a", limit=5).items] == ["2"]  # another request is another key
    clock.advance(61)
    assert [i["id"] for i in cached.query("a").items] == ["2"]
    assert cached.get({"owner": "a", "id": "1"}) is None  # the item cache (longer TTL) was kept current


def test_lru_eviction_under_the_byte_bound(tmp_path: Path, clock: ManualClock) -> None:
    cached, raw = _make(tmp_path, clock, max_bytes=4096)
    for i in range(40):
        raw.put({"owner": "a", "id": f"{i:02d}", "pad": "x" * 200})
    cached.get({"owner": "a", "id": "00"})
    for i in range(1, 40):
        cached.get({"owner": "a", "id": f"{i:02d}"})
        cached.get({"owner": "a", "id": "00"})  # kept warm: least recently used is never "00"
    s = cached.items.stats()
    assert s["bytes"] <= 4096 and s["evictions"] > 20 and s["entries"] < 40
    before = cached.items.hits
    cached.get({"owner": "a", "id": "00"})
    assert cached.items.hits == before + 1
    cached.get({"owner": "a", "id": "01"})  # long evicted
    assert cached.items.misses == 41


def test_entry_bound_and_isolation_from_callers(tmp_path: Path, clock: ManualClock) -> None:
    cached, raw = _make(tmp_path, clock, max_entries=3)
    for i in range(5):
        raw.put({"owner": "a", "id": str(i), "tags": []})
        cached.get({"owner": "a", "id": str(i)})
    assert cached.items.stats()["entries"] == 3 and cached.items.evictions == 2
    got = cached.get({"owner": "a", "id": "4"})
    assert got is not None
    got["tags"].append("mutated")
    assert cached.get({"owner": "a", "id": "4"})["tags"] == []  # type: ignore[index]


def test_separate_ttls(tmp_path: Path, clock: ManualClock) -> None:
    cached, raw = _make(tmp_path, clock, item_ttl=10, query_ttl=100)
    raw.put({"owner": "a", "id": "1", "v": 1})
    cached.get({"owner": "a", "id": "1"})
    cached.query("a")
    raw.put({"owner": "a", "id": "1", "v": 2})
    clock.advance(11)
    assert cached.get({"owner": "a", "id": "1"})["v"] == 2  # type: ignore[index]
    assert cached.query("a").items[0]["v"] == 1


def test_malformed_keys_are_the_tables_error(tmp_path: Path, clock: ManualClock) -> None:
    from stratus.errors import InvalidItem
    cached, _ = _make(tmp_path, clock)
    for bad in ({"owner": "a"}, {"owner": ["x"], "id": "1"}, {}):
        with pytest.raises(InvalidItem):
            cached.get(bad)
        with pytest.raises(InvalidItem):
            cached.batch_get([bad])


def test_a_read_miss_never_overwrites_a_racing_write(tmp_path: Path, clock: ManualClock) -> None:
    """The miss reads the old item; a write lands and caches the new one; the miss must not cache the old."""
    cached, raw = _make(tmp_path, clock)
    raw.put({"owner": "a", "id": "1", "v": 1})

    class Racing:  # the table under the cache, as the cache calls it (the port's hooks)
        def _get(self, key: tuple, consistent: bool) -> dict | None:  # type: ignore[type-arg]
            old = raw._get(key, consistent)
            cached.put({"owner": "a", "id": "1", "v": 2})  # a concurrent writer, between read and fill
            return old

        def _put(self, key: tuple, item: dict, cond: object) -> None:  # type: ignore[type-arg]
            raw._put(key, item, cond)  # type: ignore[arg-type]
    cached.table = Racing()  # type: ignore[assignment]
    assert cached.get({"owner": "a", "id": "1"})["v"] == 1  # type: ignore[index]
    cached.table = raw
    assert cached.get({"owner": "a", "id": "1"})["v"] == 2  # type: ignore[index]


def test_the_stage_cache_refuses_a_response_computed_before_an_invalidation() -> None:
    from stratus import ApiCache
    from stratus.local.services.apigateway.stagecache import StageCache
    cache = StageCache(ApiCache(), ManualClock(0))
    key = StageCache.key("GET", "/todos", {}, "alice")
    before = cache.generation(key)
    cache.drop_path("/todos", "alice")  # a write lands while the GET is computing
    assert not cache.put(key, (200, b"stale", {}), 300, before)
    assert cache.get(key) is None
    assert cache.put(key, (200, b"fresh", {}), 300, cache.generation(key))
    assert cache.get(key) == (200, b"fresh", {})


def test_an_entry_put_twice_is_still_invalidated() -> None:
    """Two concurrent misses cache the same key; the second put must stay reachable by drop_path."""
    from stratus import ApiCache
    from stratus.local.services.apigateway.stagecache import StageCache
    cache = StageCache(ApiCache(), ManualClock(0))
    key = StageCache.key("GET", "/todos", {"limit": 100}, "alice")
    cache.put(key, (200, b"first", {}), 300, cache.generation(key))
    cache.put(key, (200, b"second", {}), 300, cache.generation(key))
    cache.drop_path("/todos", "alice")
    assert cache.get(key) is None
