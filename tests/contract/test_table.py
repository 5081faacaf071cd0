"""The Table port's contract, run against every implementation of it.

``make`` builds a port for a declared table on each provider's engine; every test
below must hold for all of them. The change log and durability across reopening are the SQLite engine's own business:
tests/local/test_sqlite_table.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from stratus import App, ConditionFailed, InvalidToken, KeyCondition, TableCache
from stratus.clock import SystemClock
from stratus.errors import InvalidItem, ServiceError
from stratus.local.services.dynamodb.dax import CachedTable
from stratus.local.services.dynamodb.table import SqliteTable, tables_database
from tests.conftest import aws_mock, dynamodb_table

Make = Callable[..., Any]


@pytest.fixture(params=["local", "local-cached", "aws", "aws-cached"])
def make(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Make]:
    """Builds a port for a declared table: SQLite locally; DynamoDB (moto) through the AWS adapter.

    The ``-cached`` variants are what a table declaring a ``TableCache`` gets: locally the DAX-style
    cache in front of SQLite; on AWS the adapter in the mode it runs in behind DAX (eventually
    consistent reads unless asked otherwise). DAX itself is not emulated here: moto answers the
    adapter's DynamoDB calls; tests/aws/test_dax_client.py has amazon-dax-client encode them.
    """
    cached = request.param.endswith("-cached")
    if request.param.startswith("local"):
        db = tables_database(tmp_path / "tables.db")

        def local(name: str, **kw: Any) -> Any:
            decl = App("t").table(name, **kw, cache=TableCache() if cached else None)
            port = SqliteTable(decl, db)
            return CachedTable(decl, port, decl.cache, SystemClock()) if decl.cache else port
        yield local
        return
    import boto3
    from moto.dynamodb.models import DynamoDBBackend

    from stratus.aws.runtime.kinds.table import DynamoTable
    serial = threading.Lock()  # DynamoDB applies each item write atomically; moto's in-memory one needs telling
    for name in ("put_item", "update_item", "delete_item"):
        write = getattr(DynamoDBBackend, name)
        monkeypatch.setattr(DynamoDBBackend, name,
                            lambda self, *a, _write=write, **kw: _serially(serial, _write, self, *a, **kw))
    with aws_mock(monkeypatch):
        client = boto3.client("dynamodb", region_name="us-east-1")

        def build(name: str, **kw: Any) -> Any:
            decl = App("t").table(name, **kw)
            dynamodb_table(client, decl, f"t-{name}")
            return DynamoTable(decl, client, f"t-{name}", strongly_consistent=not cached)
        yield build


def _serially(lock: threading.Lock, write: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with lock:
        return write(*args, **kwargs)


@pytest.fixture()
def table(make: Make) -> Any:
    return make("things", partition_key="p", sort_key="s", stream=True)


@pytest.fixture()
def numbered(make: Make) -> Any:
    return make("scores", partition_key="p", sort_key=("n", int))


def test_put_get_delete(table: Any) -> None:
    table.put({"p": "a", "s": "1", "v": [1, {"x": None}]})
    assert table.get({"p": "a", "s": "1"}) == {"p": "a", "s": "1", "v": [1, {"x": None}]}
    assert table.get({"p": "a", "s": "2"}) is None
    assert table.delete({"p": "a", "s": "1"}) == {"p": "a", "s": "1", "v": [1, {"x": None}]}
    assert table.delete({"p": "a", "s": "1"}) is None


def test_batch_get_keeps_key_order(table: Any) -> None:
    for s in ("1", "2", "3"):
        table.put({"p": "b", "s": s, "v": int(s)})
    got = table.batch_get([{"p": "b", "s": "3"}, {"p": "b", "s": "404"}, {"p": "b", "s": "1"}])
    assert [g and g["v"] for g in got] == [3, None, 1]
    assert table.batch_get([]) == []
    with pytest.raises(InvalidItem, match="at most 100"):
        table.batch_get([{"p": "b", "s": str(i)} for i in range(101)])


def test_conditions(table: Any) -> None:
    table.put({"p": "a", "s": "1", "version": 1}, if_absent=True)
    with pytest.raises(ConditionFailed):
        table.put({"p": "a", "s": "1", "version": 9}, if_absent=True)
    with pytest.raises(ConditionFailed):
        table.put({"p": "a", "s": "2"}, if_exists=True)
    with pytest.raises(ConditionFailed):
        table.update({"p": "a", "s": "1"}, {"version": 2}, expect={"version": 5})
    with pytest.raises(ConditionFailed):
        table.update({"p": "a", "s": "404"}, {"version": 2})
    with pytest.raises(ConditionFailed):
        table.delete({"p": "a", "s": "404"}, if_exists=True)
    with pytest.raises(ConditionFailed):  # None means "absent", and version is present
        table.delete({"p": "a", "s": "1"}, expect={"version": None})
    assert table.get({"p": "a", "s": "1"}) == {"p": "a", "s": "1", "version": 1}  # nothing was written
    assert table.update({"p": "a", "s": "1"}, {"version": 2, "note": None}, expect={"version": 1}) == \
        {"p": "a", "s": "1", "version": 2, "note": None}
    assert table.update({"p": "a", "s": "1"}, {}, remove=("note",)) == {"p": "a", "s": "1", "version": 2}
    assert table.update({"p": "a", "s": "new"}, {"x": 1}, if_exists=False) == {"p": "a", "s": "new", "x": 1}
    table.put({"p": "a", "s": "1", "v": 3}, expect={"version": 2, "missing": None})


def test_bad_items(table: Any) -> None:
    for item, msg in (({"s": "1"}, "'p' is missing"), ({"p": 1, "s": "1"}, "non-empty str"),
                      ({"p": "", "s": "1"}, "non-empty str"), ({"p": "a", "s": "1", "x": object()}, "cannot store"),
                      ({"p": "a", "s": "1", "x": "y" * 500_000}, "400 KB")):
        with pytest.raises(InvalidItem, match=msg):
            table.put(item)
    with pytest.raises(InvalidItem, match="key attributes"):
        table.update({"p": "a", "s": "1"}, {"s": "2"}, if_exists=False)
    with pytest.raises(InvalidItem, match="limit"):
        table.query("a", limit=0)


def test_query_order_conditions_and_pages(table: Any, numbered: Any) -> None:
    for s in ("b1", "a2", "a1", "c", "a10"):
        table.put({"p": "x", "s": s, "even": s.endswith(("2", "0"))})
    table.put({"p": "y", "s": "a1"})
    ids = lambda page: [i["s"] for i in page.items]  # noqa: E731
    assert ids(table.query("x")) == ["a1", "a10", "a2", "b1", "c"]
    assert ids(table.query("x", forward=False)) == ["c", "b1", "a2", "a10", "a1"]
    assert ids(table.query("x", sort=KeyCondition.begins_with("a"))) == ["a1", "a10", "a2"]
    assert ids(table.query("x", sort=KeyCondition.between("a10", "b1"))) == ["a10", "a2", "b1"]
    assert ids(table.query("x", sort=KeyCondition.gt("a2"))) == ["b1", "c"]
    assert ids(table.query("x", sort=KeyCondition.le("a10"))) == ["a1", "a10"]
    assert ids(table.query("x", sort=KeyCondition.eq("c"))) == ["c"]
    assert ids(table.query("x", where={"even": True})) == ["a10", "a2"]

    p1 = table.query("x", limit=2)
    assert ids(p1) == ["a1", "a10"] and p1.next_token
    p2 = table.query("x", limit=2, next_token=p1.next_token)
    assert ids(p2) == ["a2", "b1"]
    p3 = table.query("x", limit=2, next_token=p2.next_token)
    assert ids(p3) == ["c"] and p3.next_token is None
    assert table.query("x", limit=5).next_token is None  # exactly full: no empty page follows
    with pytest.raises(InvalidToken):
        table.query("y", next_token=p1.next_token)

    for n in (10, 9, 100, -1):
        numbered.put({"p": "x", "n": n})
    assert [i["n"] for i in numbered.query("x").items] == [-1, 9, 10, 100]  # numbers sort as numbers
    assert [i["n"] for i in numbered.query("x", sort=KeyCondition.ge(10)).items] == [10, 100]
    with pytest.raises(InvalidItem, match="needs a non-empty int"):
        numbered.query("x", sort=KeyCondition.ge("10"))


def test_filtered_pages_span_many_rows(table: Any) -> None:
    for i in range(1000):
        table.put({"p": "z", "s": f"{i:04d}", "hit": i % 97 == 0})
    seen, token = [], None
    while True:
        page = table.query("z", where={"hit": True}, limit=3, next_token=token)
        seen += [i["s"] for i in page.items]
        token = page.next_token
        if not token:
            break
    assert seen == [f"{i:04d}" for i in range(0, 1000, 97)]


def test_conditional_writes_are_atomic_across_threads(table: Any) -> None:
    """Compare-and-set from 8 threads loses no update.

    The local engine makes a condition and its write one transaction. The AWS adapter sends the condition
    inside the single write request, which DynamoDB applies atomically (the ``make`` fixture has moto's
    in-memory DynamoDB apply each write under a lock, as DynamoDB does); the request shape is checked too.
    """
    table.put({"p": "c", "s": "counter", "n": 0})
    sent: list[dict[str, Any]] = []
    client = getattr(table, "client", None)
    if client is not None:  # the AWS adapter: every request it sends, to check each write carries its condition
        client.meta.events.register("before-parameter-build.dynamodb.*",
                                    lambda params, model, **_: sent.append({"op": model.name, **params}))

    def bump(times: int) -> None:
        for _ in range(times):
            while True:
                cur = table.get({"p": "c", "s": "counter"}, consistent=True)
                assert cur is not None
                try:
                    table.update({"p": "c", "s": "counter"}, {"n": cur["n"] + 1}, expect={"n": cur["n"]})
                    break
                except ConditionFailed:
                    pass
    threads = [threading.Thread(target=bump, args=(50,)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert table.get({"p": "c", "s": "counter"}, consistent=True)["n"] == 400
    writes = [c for c in sent if c["op"] != "GetItem"]
    assert all(c["op"] == "UpdateItem" and "#e0 = :e0" in c["ConditionExpression"] for c in writes)
    assert client is None or len(writes) >= 400


def test_numbers_are_what_dynamodb_holds(table: Any, numbered: Any) -> None:
    table.put({"p": "n", "s": "1", "whole": 1.0, "neg": -0.0, "big": 1e20, "frac": 0.25, "nested": {"f": 2.0}})
    got = table.get({"p": "n", "s": "1"})
    assert got == {"p": "n", "s": "1", "whole": 1, "neg": 0, "big": 1e20, "frac": 0.25, "nested": {"f": 2}}
    assert type(got["big"]) is float  # integral, but beyond 64 bits
    assert type(got["whole"]) is int and type(got["frac"]) is float
    for bad in (float("nan"), float("inf"), 1e300, 1e-200, 10**40, 2**63):
        with pytest.raises(InvalidItem):
            table.put({"p": "n", "s": "2", "v": bad})
        with pytest.raises(InvalidItem):
            table.update({"p": "n", "s": "1"}, {"v": bad})
    with pytest.raises(InvalidItem):
        numbered.put({"p": "x", "n": 2**63})
    with pytest.raises(InvalidItem):
        table.put({"p": "n", "s": "3", "m": {1: "int key"}})
    with pytest.raises(InvalidItem):
        table.update({"p": "n", "s": "1"}, {"x": object()})


def test_size_counts_utf8_bytes(table: Any) -> None:
    table.put({"p": "z", "s": "1", "text": "é" * 150_000})  # 300 KB of UTF-8
    assert len(table.get({"p": "z", "s": "1"})["text"]) == 150_000
    with pytest.raises(InvalidItem, match="400 KB"):
        table.put({"p": "z", "s": "2", "text": "é" * 210_000})


def test_update_rules_hold_everywhere(table: Any) -> None:
    table.put({"p": "u", "s": "1", "x": 1})
    with pytest.raises(InvalidItem, match="both set and removed"):
        table.update({"p": "u", "s": "1"}, {"x": 2}, remove=("x",))
    assert table.update({"p": "u", "s": "new"}, {}, if_exists=False) == {"p": "u", "s": "new"}
    assert table.get({"p": "u", "s": "new"}) == {"p": "u", "s": "new"}
    assert table.update({"p": "u", "s": "1"}, {}, remove=("absent",)) == {"p": "u", "s": "1", "x": 1}


def test_query_rules_hold_everywhere(table: Any) -> None:
    table.put({"p": "w", "s": "1", "tag": None})
    table.put({"p": "w", "s": "2"})
    table.put({"p": "w", "s": "3", "tag": "t"})
    assert [i["s"] for i in table.query("w", where={"tag": None}).items] == ["1", "2"]  # null or absent
    for bad in (KeyCondition.begins_with(""), KeyCondition.gt(""), KeyCondition.between("", "2")):
        with pytest.raises(InvalidItem):
            table.query("w", sort=bad)
    with pytest.raises(InvalidItem, match="key attribute"):
        table.query("w", where={"s": "1"})


def _remove_storage(port: Any) -> None:
    """Take the table away under the port, as a deployment that lost it would (each implementation its own way)."""
    inner = getattr(port, "table", port)  # the table under a DAX-style cache
    if hasattr(inner, "client"):
        inner.client.delete_table(TableName=inner.table_name)
    else:
        inner.db.conn().execute("DROP TABLE items")


def test_a_table_the_service_lacks_is_a_service_error(table: Any) -> None:
    """What the port gives no meaning to is a ``ServiceError`` on every implementation, never the engine's own error,
    so a handler's ``except StratusError`` (or ``except ServiceError``) works wherever it runs."""
    _remove_storage(table)
    for call in (lambda: table.get({"p": "a", "s": "1"}, consistent=True),
                 lambda: table.put({"p": "a", "s": "1"}),
                 lambda: table.update({"p": "a", "s": "1"}, {"v": 1}, if_exists=False),
                 lambda: table.delete({"p": "a", "s": "1"}),
                 lambda: table.query("a", consistent=True),
                 lambda: table.batch_get([{"p": "a", "s": "1"}], consistent=True)):
        with pytest.raises(ServiceError) as exc:
            call()
        assert exc.value.code in ("ResourceNotFoundException", "InternalServerError") and exc.value.message
