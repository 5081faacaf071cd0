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
