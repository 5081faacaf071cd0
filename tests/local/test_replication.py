"""Global tables' replicas on their own: stamps, last writer wins in any order of arrival, deleted items' stamps;
and what declaring one, and an object trigger's writes, refuse."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

from stratus import App, ConfigError, ServiceError
from stratus.clock import ManualClock
from stratus.graph import ObjectTrigger
from stratus.local.events.log import EventLog
from stratus.local.services.dynamodb.table import SqliteTable, tables_database
from stratus.ports.objects import ConfinedBucket, ObjectInfo, ObjectStorePort


def replicas(tmp_path: Path, clock: ManualClock) -> dict[str, SqliteTable]:
    app = App("g")
    table = app.table("posts", partition_key="id", regions=("us-east-1", "eu-west-1"))
    out = {}
    for region in table.regions:
        db = tables_database(tmp_path / region / "tables.db")
        out[region] = SqliteTable(table, db, clock, EventLog(db), region)
    return out


def changes(table: SqliteTable) -> list[dict[str, Any]]:
    return table.changes()


def test_a_write_is_stamped_with_its_time_and_region_and_its_change_says_so(tmp_path: Path) -> None:
    clock = ManualClock(1000.0)
    us = replicas(tmp_path, clock)["us-east-1"]
    us.put({"id": "a", "v": 1})
    us.put({"id": "a", "v": 2})  # the same instant: stamped just after the last
    us.put({"id": "a", "v": 2})  # no change: no stamp, no event
    got = changes(us)
    assert [(c["kind"], c["origin"]) for c in got] == [("INSERT", "us-east-1"), ("MODIFY", "us-east-1")]
    assert got[0]["wt"] == 1000.0 and got[1]["wt"] > got[0]["wt"]


def test_any_order_of_arrival_converges_on_the_latest_write(tmp_path: Path) -> None:
    clock = ManualClock(1000.0)
    writes = [({"id": "a", "v": 1}, (1000.0, "us-east-1")), ({"id": "a", "v": 2}, (1001.0, "eu-west-1")),
              (None, (1002.0, "us-east-1")), ({"id": "a", "v": 4}, (1003.0, "eu-west-1"))]
    for n, order in enumerate(itertools.permutations(writes)):
        table = replicas(tmp_path / str(n), clock)["us-east-1"]
        for new, stamp in order:
            table.apply({"id": "a"}, new, stamp)
        assert table.get({"id": "a"}) == {"id": "a", "v": 4}, order
    late_delete = replicas(tmp_path / "d", clock)["eu-west-1"]
    late_delete.apply({"id": "a"}, {"id": "a", "v": 1}, (1000.0, "us-east-1"))
    late_delete.apply({"id": "a"}, None, (1005.0, "us-east-1"))
    assert late_delete.apply({"id": "a"}, {"id": "a", "v": 2}, (1001.0, "eu-west-1")) is False  # older than the delete
    assert late_delete.get({"id": "a"}) is None


def test_a_tie_in_time_is_broken_by_region_the_same_way_everywhere(tmp_path: Path) -> None:
    clock = ManualClock(1000.0)
    both = replicas(tmp_path, clock)
    stamps = {"us-east-1": (1000.0, "us-east-1"), "eu-west-1": (1000.0, "eu-west-1")}
    for here, table in both.items():
        table.apply({"id": "t"}, {"id": "t", "from": here}, stamps[here])
    for here, table in both.items():
        other = next(r for r in both if r != here)
        table.apply({"id": "t"}, {"id": "t", "from": other}, stamps[other])
    assert both["us-east-1"].get({"id": "t"}) == both["eu-west-1"].get({"id": "t"}) == {"id": "t", "from": "us-east-1"}


def test_a_replicated_change_keeps_its_origin_so_it_is_not_sent_back(tmp_path: Path) -> None:
    clock = ManualClock(1000.0)
    eu = replicas(tmp_path, clock)["eu-west-1"]
    eu.apply({"id": "a"}, {"id": "a", "v": 1}, (999.0, "us-east-1"))
    (change,) = changes(eu)
    assert change["origin"] == "us-east-1" and change["wt"] == 999.0
    clock.advance(1)
    eu.put({"id": "a", "v": 2})  # a local write after it: stamped here, later
    assert changes(eu)[-1]["origin"] == "eu-west-1" and changes(eu)[-1]["wt"] == 1001.0


def test_a_local_write_after_a_later_replicated_one_still_wins(tmp_path: Path) -> None:
    clock = ManualClock(1000.0)
    us = replicas(tmp_path, clock)["us-east-1"]
    us.apply({"id": "a"}, {"id": "a", "v": "from a clock ahead"}, (5000.0, "eu-west-1"))
    us.put({"id": "a", "v": "written here after it"})  # this region's clock is behind, but this write is later
    assert changes(us)[-1]["wt"] > 5000.0
    other = replicas(tmp_path / "eu", clock)["eu-west-1"]
    other.apply({"id": "a"}, {"id": "a", "v": "from a clock ahead"}, (5000.0, "eu-west-1"))
    assert other.apply({"id": "a"}, changes(us)[-1]["new"], (changes(us)[-1]["wt"], "us-east-1"))
    assert other.get({"id": "a"}) == us.get({"id": "a"}) == {"id": "a", "v": "written here after it"}


def test_a_new_replica_is_seeded_whole_once(tmp_path: Path) -> None:
    clock = ManualClock(1000.0)
    both = replicas(tmp_path, clock)
    for i in range(3):
        both["us-east-1"].put({"id": f"i{i}", "n": i})
    assert both["eu-west-1"].seed(both["us-east-1"].stamped()) == 3
    assert both["eu-west-1"].seed(both["us-east-1"].stamped()) == 0  # once
    assert [both["eu-west-1"].get({"id": f"i{i}"}) for i in range(3)] == [{"id": f"i{i}", "n": i} for i in range(3)]
    assert changes(both["eu-west-1"]) == []  # the copy is no change to send anywhere


@pytest.mark.parametrize("regions", [("us-east-1",), ("us-east-1", "us-east-1"), ("us-east-1", "mars"), "us-east-1"])
def test_a_global_table_needs_two_distinct_regions(regions: Any) -> None:
    with pytest.raises(ConfigError, match="regions"):
        App("g").table("t", partition_key="id", regions=regions)


def test_every_global_table_of_an_app_has_one_home_region() -> None:
    app = App("g")
    app.table("a", partition_key="id", regions=("us-east-1", "eu-west-1"))
    with pytest.raises(ConfigError, match="same home region"):
        app.table("b", partition_key="id", regions=("eu-west-1", "us-east-1"))
    app.table("c", partition_key="id", regions=("us-east-1", "ap-south-1"))
    assert app.regions == ("us-east-1", "eu-west-1", "ap-south-1")


def test_an_object_trigger_that_would_write_where_its_events_come_from_is_refused() -> None:
    app = App("g")
    photos = app.bucket("photos")

    def handler(event: Any, ctx: Any) -> None:
        pass
    for writes in (["uploads/"], ["uploads/thumbs/"], [""], ["up"], [3], ["*"], ["thumbs/?"]):
        with pytest.raises(ConfigError, match="writes|prefix"):
            app.on_object_created(photos, prefix="uploads/", uses=[photos], writes=writes)(handler)
    with pytest.raises(ConfigError, match="uses"):
        app.on_object_created(photos, prefix="uploads/", writes=["thumbnails/"])(handler)

    def thumbnails(event: Any, ctx: Any) -> None:
        pass
    app.on_object_created(photos, prefix="uploads/", uses=[photos], writes=["thumbnails/"])(thumbnails)


class _Memory(ObjectStorePort):
    def __init__(self) -> None:
        self.keys: list[str] = []

    def _put(self, key: str, data: bytes, content_type: str, metadata: dict[str, str]) -> ObjectInfo:
        self.keys.append(key)
        return ObjectInfo(key, len(data), "e", content_type)

    def _delete(self, key: str) -> None:
        self.keys.remove(key)


def test_a_triggers_own_bucket_writes_only_where_it_may() -> None:
    app = App("g")
    photos = app.bucket("photos")

    def declared(event: Any, ctx: Any) -> None:
        pass

    def undeclared(event: Any, ctx: Any) -> None:
        pass
    app.on_object_created(photos, prefix="uploads/", uses=[photos], writes=["thumbnails/"])(declared)
    app.on_object_created(photos, prefix="in/", suffix=".txt", uses=[photos])(undeclared)
    first, second = app.of_kind(ObjectTrigger)
    port = first.confine(photos, _Memory())
    assert isinstance(port, ConfinedBucket)
    port.put("thumbnails/a.jpg", b"x")
    for key in ("uploads/a.jpg", "elsewhere/a.jpg"):
        with pytest.raises(ServiceError) as refused:
            port.put(key, b"x")
        assert refused.value.code == "AccessDenied"
    with pytest.raises(ServiceError):
        port.presigned_post("uploads/b.jpg", max_bytes=10)
    other = second.confine(photos, _Memory())
    other.put("in/a.md", b"x")
    other.put("out/a.txt", b"x")
    with pytest.raises(ServiceError):
        other.put("in/a.txt", b"x")


def test_a_global_table_takes_no_cache_and_replication_names_are_the_platforms() -> None:
    from stratus import TableCache
    app = App("g")
    with pytest.raises(ConfigError, match="cannot have a cache"):
        app.table("t", partition_key="id", regions=("us-east-1", "eu-west-1"), cache=TableCache())
    items = app.table("items", partition_key="id", stream=True)

    def replicate_items_us_east_1_to_eu_west_1(change: Any, ctx: Any) -> None:
        pass
    with pytest.raises(ConfigError, match="replicate-"):
        app.on_table_change(items)(replicate_items_us_east_1_to_eu_west_1)
