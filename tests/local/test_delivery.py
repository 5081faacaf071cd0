"""One subscription's delivery loop on its own (``Subscription.run``, as ``stratus up`` runs it): a call's item is
free again only once its outcome is recorded, so no event is handed over twice while nothing fails, and a failing
one becomes one dead letter after its attempts."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from stratus.clock import ManualClock
from stratus.context import Context
from stratus.local.events.delivery import Subscription
from stratus.local.events.log import EventLog
from stratus.local.infra.sqlite import SqliteDatabase


def subscription(tmp_path: Path, handler: Any, clock: ManualClock, max_attempts: int | None = None) -> Subscription:
    """A subscription whose outcomes are recorded a little after each call ends, as on a busy loop or a slow disk:
    the window in which a freed item could be handed over again from its unsettled row."""
    log = EventLog(SqliteDatabase(tmp_path / "events.db"))
    sub = Subscription("app", "t", log, "table:t", lambda body: True, lambda seq, body, at: body, handler,
                       Context("app", "t", {}, clock), clock, timeout=5.0, max_attempts=max_attempts)
    run_call = sub._run_call

    async def late(*args: Any) -> None:
        await run_call(*args)
        await asyncio.sleep(0.03)
    sub._run_call = late  # type: ignore[method-assign]
    return sub


def write(sub: Subscription, events: list[tuple[str, dict[str, Any]]], clock: ManualClock) -> None:
    with sub.log.db.write() as c:
        for part, body in events:
            sub.log.append(c, "table:t", part, body, clock.now())
    sub.log.notify("table:t")


async def run_until(sub: Subscription, done: Any, clock: ManualClock, advance: float = 0.0) -> None:
    task = asyncio.get_running_loop().create_task(sub.run())
    try:
        for _ in range(400):
            if done():
                return
            clock.advance(advance)
            await asyncio.sleep(0.025)
    finally:
        task.cancel()


def counting(fails: bool) -> tuple[Any, Counter[int]]:
    """A handler that counts its calls per event, and fails each (``fails``) or not."""
    calls: Counter[int] = Counter()
    lock = threading.Lock()

    def handler(event: dict[str, Any], ctx: Context) -> None:
        with lock:
            calls[event["n"]] += 1
        if fails:
            raise ValueError("no")
    return handler, calls


def test_no_event_is_handed_over_twice_while_nothing_fails(tmp_path: Path) -> None:
    clock = ManualClock(1000.0)
    handler, calls = counting(fails=False)
    sub = subscription(tmp_path, handler, clock)

    async def main() -> None:
        write(sub, [(f"item-{n % 7}", {"n": n}) for n in range(100)], clock)
        await run_until(sub, lambda: len(calls) == 100 and sub.stats()["waiting"] == 0, clock)
    asyncio.run(main())
    sub.close()
    assert len(calls) == 100 and max(calls.values()) == 1, [n for n, k in calls.items() if k > 1][:10]


def test_a_failing_event_is_tried_its_attempts_and_dead_lettered_once(tmp_path: Path) -> None:
    clock = ManualClock(1000.0)
    handler, calls = counting(fails=True)
    sub = subscription(tmp_path, handler, clock, max_attempts=3)

    async def main() -> None:
        write(sub, [(f"item-{n}", {"n": n}) for n in range(20)], clock)
        await run_until(sub, lambda: len(sub.dead_letters()) >= 20 and sub.stats()["waiting"] == 0, clock, 10.0)
    asyncio.run(main())
    sub.close()
    letters = Counter(d["event"]["n"] for d in sub.dead_letters())
    assert set(calls.values()) == {3} and len(letters) == 20 and max(letters.values()) == 1, (calls, letters)


def test_deliveries_waiting_in_a_data_dir_from_before_item_heads_go_on_in_order(tmp_path: Path) -> None:
    """A data dir written before deliveries knew their item's head: the column is added and the heads found."""
    import sqlite3

    db = sqlite3.connect(tmp_path / "events.db")
    db.executescript("""
        CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, part TEXT NOT NULL,
            body BLOB NOT NULL, at REAL NOT NULL);
        CREATE TABLE cursors (sub TEXT PRIMARY KEY, seq INTEGER NOT NULL);
        CREATE TABLE deliveries (sub TEXT NOT NULL, seq INTEGER NOT NULL, part TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0, next_at REAL NOT NULL, first_at REAL NOT NULL, error TEXT,
            PRIMARY KEY (sub, seq));""")
    for n in range(6):
        db.execute("INSERT INTO events (source, part, body, at) VALUES ('table:t', ?, ?, 1000)",
                   (f"item-{n % 2}", f'{{"n": {n}}}'))
        db.execute("INSERT INTO deliveries VALUES ('app/t', ?, ?, 0, 1000, 1000, NULL)", (n + 1, f"item-{n % 2}"))
    db.execute("INSERT INTO cursors VALUES ('app/t', 6)")
    db.commit()
    db.close()
    clock = ManualClock(1000.0)
    handler, calls = counting(fails=False)
    log = EventLog(SqliteDatabase(tmp_path / "events.db"))
    heads = log.db.conn().execute("SELECT seq FROM deliveries WHERE head=1 ORDER BY seq").fetchall()
    assert heads == [(1,), (2,)]
    sub = Subscription("app", "t", log, "table:t", lambda body: True, lambda seq, body, at: body, handler,
                       Context("app", "t", {}, clock), clock, timeout=5.0, max_attempts=None)
    order: list[int] = []
    sub.handler = lambda event, ctx: (order.append(event["n"]), handler(event, ctx))
    asyncio.run(sub.drain())
    sub.close()
    assert sorted(order) == list(range(6)) and [n for n in order if n % 2 == 0] == [0, 2, 4]
    assert [n for n in order if n % 2] == [1, 3, 5]
