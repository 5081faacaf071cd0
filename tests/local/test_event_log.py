"""The event log on its own: what pruning keeps (an event within its 24 hours, one a trigger has not seen yet, one
still waiting for delivery) and what it drops."""

from __future__ import annotations

from pathlib import Path

from stratus.local.events.log import RETENTION, EventLog
from stratus.local.infra.sqlite import SqliteDatabase


def test_pruning_drops_only_old_events_every_trigger_is_done_with(tmp_path: Path) -> None:
    log = EventLog(SqliteDatabase(tmp_path / "events.db"))
    with log.db.write() as c:
        for i in range(6):  # 1-4 are old, 5-6 recent
            log.append(c, "table:t", f"item-{i}", {"n": i}, 0.0 if i < 4 else RETENTION + 10)
        c.execute("INSERT INTO cursors VALUES ('app/a', 5), ('app/b', 3)")  # b has seen up to 3 only
        c.execute("INSERT INTO deliveries (sub, seq, part, next_at, first_at) VALUES ('app/a', 2, 'item-1', 0, 0)")
        c.execute("INSERT INTO cursors VALUES ('app/renamed', 0)")  # a trigger of an earlier run, since renamed
    log.subscribers.update({"app/a", "app/b"})
    assert log.prune(RETENTION + 20, chunk=1) == 2  # 1 and 3: old and seen by both; 2 still waits, 4 is unseen by b
    left = [r[0] for r in log.db.conn().execute("SELECT seq FROM events ORDER BY seq")]
    assert left == [2, 4, 5, 6]


def test_the_object_stores_events_are_pruned_too_and_a_dead_letter_outlives_its_event(tmp_path: Path) -> None:
    import asyncio

    from stratus.clock import ManualClock
    from stratus.context import Context
    from stratus.local.events.delivery import Subscription
    from stratus.local.services.s3.model import ObjectStore

    clock = ManualClock(1000.0)
    store = ObjectStore(tmp_path / "s3", clock)
    store.create_bucket("b-1")
    log = EventLog(store.db, "event_log", owned=False, restore=ObjectStore.restore_event)
    calls: list[str] = []
    fail = [True]

    def handler(event: dict[str, object], ctx: Context) -> None:
        calls.append(str(event["key"]))
        if fail[0]:
            raise ValueError("not yet")
    sub = Subscription("app", "t", log, "bucket:b-1", lambda body: True, lambda seq, body, at: body, handler,
                       Context("app", "t", {}, clock), clock, timeout=5.0, max_attempts=1)

    def put(key: str) -> None:
        w = store.writer()
        w.write(b"data")
        store.commit("b-1", key, w.finish(), "text/plain", {}, "ObjectCreated:Put")
    for key in ("a", "b"):
        put(key)
    asyncio.run(sub.drain())
    assert calls == ["a", "b"] and len(sub.dead_letters()) == 2
    clock.advance(RETENTION + 60)
    put("c")  # recent: kept
    assert log.prune(clock.now()) == 2  # a and b are past their 24 hours; no delivery waits on them
    assert [e["key"] for e in store.events()] == ["c"]
    assert [store.head("b-1", key).key for key in ("a", "b", "c")] == ["a", "b", "c"]  # the objects stay
    fail[0] = False
    assert sub.redrive() == 2  # their events are put back from the dead letters, and delivered
    asyncio.run(sub.drain())
    assert calls[2:] == ["a", "b", "c"] and sub.dead_letters() == []  # (c, new, after them)
    sub.close()
