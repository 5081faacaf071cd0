"""Delivery: each subscription hands its log's events to its handler, at least once, in order per part.

A subscription (a trigger of the graph) keeps, in its log's database:

- a **cursor**: the last event it has seen. ``_scan`` reads the events after it, keeps those its filter takes as
  **deliveries** and moves the cursor, in one transaction: a crash repeats a scan, never skips one.
- its **deliveries**: each waits until it is due, and until no earlier delivery of its part (the item) waits, so
  one item's events arrive in order while a failing one holds back its own item only. A success deletes it; a
  failure counts an attempt and sets it due again after a backoff on the platform clock (1 s, doubling, up to 5
  minutes); the last allowed attempt (or, without a limit, the event's 24 hours) moves it to the **dead letters**
  with its error, attempts and times. ``redrive`` puts dead letters back as deliveries.

Each subscription runs on a task of its own, woken when its log commits an event and otherwise once a second, and
calls its handler on threads of its own (async handlers on the loop), each call bounded by the handler's timeout.
A call that runs past its timeout counts as failed at once. Python cannot stop a thread, so a sync handler that
hangs keeps its thread; but only its own subscription's handler pool (``THREADS``) ever waits on it, while its
bookkeeping runs on a thread of its own: a hung handler's events still time out, are retried and dead-lettered,
and other subscriptions and the APIs go on. Every call, with what the handler printed or logged, is recorded for
``stratus logs`` and counted for ``stratus stats``.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import io
import logging
import sqlite3
import sys
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import orjson

from ...clock import Clock
from ...context import Context
from .log import RETENTION, EventLog

log = logging.getLogger("stratus")

THREADS = 4            # calls of one subscription at once, each on a thread (or task) of its own
BATCH = 100            # events read, and deliveries taken, at a time
BACKOFF_FIRST = 1.0    # seconds before the first retry; doubles with each failure
BACKOFF_MAX = 300.0
IDLE_LOOK = 1.0        # seconds between looks when nothing woke the subscription
RECENT = 1000          # invocations kept for ``stratus logs`` per subscription


OUTPUT_LIMIT = 8192   # characters of a call's output (and of its error) kept

# what a handler prints or logs goes to the buffer of the call it runs in, whatever thread or task that is
_output: ContextVar[_Bounded | None] = ContextVar("stratus_output", default=None)


class _Bounded(io.StringIO):
    """A call's output: its last ``OUTPUT_LIMIT`` characters, however much it writes."""

    def write(self, text: str) -> int:
        n = super().write(text)
        if self.tell() > 4 * OUTPUT_LIMIT:
            tail = self.getvalue()[-OUTPUT_LIMIT:]
            self.seek(0)
            self.truncate()
            super().write(tail)
        return n

    def text(self) -> str:
        return self.getvalue()[-OUTPUT_LIMIT:]


class _CallOutput(io.TextIOBase):
    """``sys.stdout`` and ``sys.stderr`` while triggers run: a write goes to the current call's buffer, or where it
    always went; everything else is the real stream's (its ``fileno``, ``buffer``, ``encoding``)."""

    def __init__(self, real: Any) -> None:
        self.real = real

    def write(self, text: str) -> int:
        buf = _output.get()
        return (buf if buf is not None else self.real).write(text)

    def flush(self) -> None:
        if _output.get() is None:
            self.real.flush()

    def writable(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


class _CallLog(logging.Handler):
    """Log records of a call, into its buffer, traceback and all (the records go to the other handlers as well)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        buf = _output.get()
        if buf is not None:
            buf.write(self.format(record) + "\n")


_installed = threading.Lock()


def _capture_output() -> None:
    """Route handlers' output to their calls' buffers (once per process)."""
    with _installed:
        if not isinstance(sys.stdout, _CallOutput):
            sys.stdout = _CallOutput(sys.stdout)
        if not isinstance(sys.stderr, _CallOutput):
            sys.stderr = _CallOutput(sys.stderr)
        if not any(isinstance(h, _CallLog) for h in logging.getLogger().handlers):
            logging.getLogger().addHandler(_CallLog())


class _Expiring:
    """A port as a call sees it: once the call's time is up, every method refuses (a timed-out call that runs on
    in its thread, which Python cannot stop, writes nothing more)."""

    def __init__(self, port: Any, deadline: float, trigger: str) -> None:
        self._port, self._deadline, self._trigger = port, deadline, trigger

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._port, name)
        if not callable(attr):
            return attr

        def bounded(*args: Any, **kwargs: Any) -> Any:
            if time.monotonic() > self._deadline:
                raise TimeoutError(f"trigger {self._trigger!r}: the call's time is up; it may use nothing more")
            return attr(*args, **kwargs)
        return bounded


def _handler_traceback(exc: BaseException) -> str:
    """An exception's traceback from the handler's frame down: the platform's own frames (delivery, asyncio, the
    thread pool) say nothing about the handler's failure."""
    tb = traceback.TracebackException.from_exception(exc)
    platform = ("/stratus/local/events/", "/asyncio/", "/concurrent/futures/", "/threading.py")
    tb.stack = traceback.StackSummary.from_list([f for f in tb.stack if not any(p in f.filename for p in platform)])
    return "".join(tb.format()).strip()[-OUTPUT_LIMIT:]


@dataclass
class Invocation:
    """One call of a handler, as ``stratus logs`` shows it."""

    request_id: str
    trigger: str
    event_id: str
    started: float
    duration_ms: float
    outcome: str          # "ok", "error", "timeout"
    output: str = ""
    error: str = ""
    retry_at: float | None = None  # an event held by another call: tried again then, no attempt counted


def _failure(task: asyncio.Future[Any]) -> BaseException | None:
    """What an async handler's task ended with: None, its exception, or (cancelled, by itself or at its timeout)
    a CancelledError, which is its failure and never the subscription's."""
    if task.cancelled():
        return asyncio.CancelledError("the handler's task was cancelled")
    return task.exception()


@dataclass
class Counters:
    delivered: int = 0
    retried: int = 0
    dead_lettered: int = 0


@dataclass
class Subscription:
    """One trigger's delivery from one log. ``source`` is the events it reads (``table:posts``), ``accepts`` which
    of them it keeps, ``decode`` turns one into the handler's typed event."""

    app: str
    name: str
    log: EventLog
    source: str
    accepts: Callable[[dict[str, Any]], bool]
    decode: Callable[[int, dict[str, Any], float], Any]
    handler: Callable[..., Any]
    context: Context
    clock: Clock
    timeout: float
    max_attempts: int | None
    is_async: bool = False
    paused: bool = False  # events are still taken from the log, and wait; none is delivered until ``resume``
    from_start: bool = False  # a new subscription's first event: the log's first (True) or its next (Lambda's LATEST)
    counters: Counters = field(default_factory=Counters)
    recent: deque[Invocation] = field(default_factory=lambda: deque(maxlen=RECENT))

    def __post_init__(self) -> None:
        self.key = f"{self.app}/{self.name}"
        self.books = ThreadPoolExecutor(1, thread_name_prefix=f"trigger-{self.name}-log")  # its cursor, deliveries
        self.busy: set[str] = set()   # items with a call under way (or a timed-out one still running)
        self._holds: dict[str, int] = {}  # what each busy item waits for: its call's end, and its outcome recorded
        self.slots = THREADS          # calls that may run at once (a hung one keeps its slot until it ends)
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.log.subscribers.add(self.key)
        _capture_output()
        self.db = self.log.db
        self.relation = self.log.relation
        with self.db.write() as c:  # a new subscription starts at the log's end (Lambda's LATEST), or its start
            start = "0" if self.from_start else f"(SELECT IFNULL(MAX(seq), 0) FROM {self.relation})"
            c.execute(f"INSERT OR IGNORE INTO cursors VALUES (?, {start})", (self.key,))

    # -- the loop

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self._wake = wake = asyncio.Event()
        self._loop = loop
        self.log.listen(loop, wake, self.source)
        while True:
            wake.clear()
            try:
                await loop.run_in_executor(self.books, self._scan)
                due = [] if self.paused else await loop.run_in_executor(self.books, self._due, frozenset(self.busy))
                for seq, part, body, at, attempts, first_at in due:
                    if self.slots == 0 or self.paused:  # every thread busy (or hung), or paused meanwhile: they wait
                        break
                    if self._take(part):
                        loop.create_task(self._deliver(seq, part, body, at, attempts, first_at))
            except Exception:  # the database itself failed: said, and tried again on the next look
                log.exception("trigger %s: delivery failed; trying again", self.key)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), IDLE_LOOK)

    async def drain(self) -> int:
        """Deliver what is due now, and what that makes due, until nothing is (in process, for tests); how many
        calls were made."""
        made = 0
        while True:
            self._scan()
            due = [] if self.paused else self._due(frozenset(self.busy))
            if not due:
                return made
            for seq, part, body, at, attempts, first_at in due:
                if self._take(part):
                    await self._deliver(seq, part, body, at, attempts, first_at)
                    made += 1

    def _take(self, part: str) -> bool:
        """Whether a call of ``part`` may start now (none of its item is under way); if so, its item and a slot are
        taken until both its call has ended and its outcome is recorded (``_done``, twice): an item freed before its
        outcome is recorded would be delivered again from the row not yet settled."""
        if part in self.busy:
            return False
        self.busy.add(part)
        self._holds[part] = 2
        self.slots -= 1
        return True

    def _done(self, part: str) -> None:
        """A call's thread or task has ended (a timed-out one too), or its outcome is recorded: once both have, its
        item and its slot are free again."""
        self._holds[part] -= 1
        if self._holds[part]:
            return
        del self._holds[part]
        self.busy.discard(part)
        self.slots += 1
        if self._wake is not None:
            self._wake.set()

    def _scan(self) -> None:
        read = self.db.conn()  # nothing new (the usual look): known without taking the write lock
        cursor = read.execute("SELECT seq FROM cursors WHERE sub=?", (self.key,)).fetchone()[0]
        if read.execute(f"SELECT IFNULL(MAX(seq), 0) FROM {self.relation}").fetchone()[0] <= cursor:
            return
        with self.db.write() as c:
            cursor = c.execute("SELECT seq FROM cursors WHERE sub=?", (self.key,)).fetchone()[0]
            rows = c.execute(f"SELECT seq, part, body, at FROM {self.relation} WHERE source=? AND seq>? ORDER BY seq "
                             "LIMIT ?", (self.source, cursor, BATCH)).fetchall()
            if not rows:  # nothing of ours: past what other sources wrote, so later scans start there
                last = c.execute(f"SELECT IFNULL(MAX(seq), 0) FROM {self.relation}").fetchone()[0]
                c.execute("UPDATE cursors SET seq=? WHERE sub=? AND seq<?", (last, self.key, last))
                return
            now = self.clock.now()
            for seq, part, body, _ in rows:
                if self.accepts(orjson.loads(body)):
                    c.execute("INSERT OR IGNORE INTO deliveries (sub, seq, part, next_at, first_at, head) VALUES "
                              "(?,?,?,?,?, NOT EXISTS (SELECT 1 FROM deliveries WHERE sub=? AND part=?))",
                              (self.key, seq, part, now, now, self.key, part))
            c.execute("UPDATE cursors SET seq=? WHERE sub=?", (rows[-1][0], self.key))

    def _due(self, busy: frozenset[str]) -> list[tuple[int, str, bytes, float, int, float]]:
        """The deliveries due now whose item has none earlier waiting and no call under way, oldest first."""
        # only each item's head (its first waiting delivery) is looked at, however long an item's backlog
        rows = self.db.conn().execute(
            f"SELECT d.seq, d.part, e.body, e.at, d.attempts, d.first_at FROM deliveries d JOIN {self.relation} e "
            "ON e.seq=d.seq WHERE d.sub=? AND d.head=1 AND d.next_at<=? ORDER BY d.seq LIMIT ?",
            (self.key, self.clock.now(), BATCH + len(busy))).fetchall()
        return [r for r in rows if r[1] not in busy][:BATCH]

    # -- one call

    async def _deliver(self, seq: int, part: str, body: bytes, at: float, attempts: int, first_at: float) -> None:
        """One call, on a thread of its own (a sync handler) or a task (an async one), bounded by the timeout from
        the moment it starts; then its outcome settled. The item stays busy until the call has really ended and its
        outcome is recorded (or, whatever went wrong here, this is over)."""
        try:
            await self._call_and_settle(seq, part, body, at, attempts, first_at)
        finally:
            self._done(part)

    async def _call_and_settle(self, seq: int, part: str, body: bytes, at: float, attempts: int,
                               first_at: float) -> None:
        loop = asyncio.get_running_loop()
        call = Invocation(str(uuid.uuid4()), self.name, str(seq), time.time(), 0.0, "ok")
        buf = _Bounded()
        deadline = time.monotonic() + self.timeout
        t0 = time.perf_counter()
        try:
            event = self.decode(seq, orjson.loads(body), at)
            call.event_id = getattr(event, "event_id", call.event_id)
            ctx = Context(self.context.app, self.context.handler,
                          {r: _Expiring(p, deadline, self.name) for r, p in self.context._ports.items()},
                          self.context.clock, self.clock.now() + self.timeout)
        except Exception as exc:  # the event cannot be read as the handler's: no call is made
            call.outcome, call.error = "error", _handler_traceback(exc)
            self._done(part)
        else:
            await self._run_call(event, ctx, part, buf, call, t0)
        call.duration_ms = (time.perf_counter() - t0) * 1000
        call.output = buf.text()
        self.recent.append(call)
        try:
            await loop.run_in_executor(self.books, self._settle, seq, part, body, at, attempts, first_at, call)
        except Exception:  # not settled: the delivery stays as it was, and is tried again
            log.exception("trigger %s: the outcome of event %s was not recorded; it will be delivered again",
                          self.key, seq)

    async def _run_call(self, event: Any, ctx: Context, part: str, buf: _Bounded, call: Invocation, t0: float) -> None:
        """Start the call (the item is freed when it really ends), wait for it up to the timeout, and say how it
        went in ``call``."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[BaseException | None] = loop.create_future()
        task: asyncio.Future[Any] | None = None

        def ended(t: asyncio.Future[Any]) -> None:
            if not done.done():
                done.set_result(_failure(t))
            self._done(part)
        token = _output.set(buf)  # the call's thread or task takes this context: its output is the call's
        try:
            if self.is_async:
                task = asyncio.ensure_future(self.handler(event, ctx))
                task.add_done_callback(ended)
            else:
                threading.Thread(target=self._call, args=(event, ctx, loop, done, part, buf), daemon=True,
                                 name=f"trigger-{self.name}").start()
        except Exception as exc:  # the handler could not even be started (an async one that is no coroutine)
            self._done(part)
            call.outcome, call.error = "error", _handler_traceback(exc)
            return
        finally:
            _output.reset(token)
        finished, _ = await asyncio.wait({done}, timeout=self.timeout)
        if not finished:
            if task is not None:
                task.cancel()  # and move on: its end, whenever it comes, frees the item
            call.outcome, call.error = "timeout", f"Task timed out after {self.timeout:g} seconds"
        elif (failure := done.result()) is not None:
            call.outcome, call.error = "error", _handler_traceback(failure)
            call.retry_at = getattr(failure, "retry_at", None)  # held by another call (IdempotencyInProgress)
        elif time.perf_counter() - t0 > self.timeout:  # an async handler that held the loop past its time
            call.outcome, call.error = "timeout", f"Task timed out after {self.timeout:g} seconds"

    def _call(self, event: Any, ctx: Context, loop: asyncio.AbstractEventLoop,
              done: asyncio.Future[BaseException | None], part: str, buf: _Bounded) -> None:
        """A sync handler's call, on its own daemon thread: whatever it raises (SystemExit too) is its failure, never
        the server's; an awaitable it returns (a wrapped async handler) is run to its end here."""
        failure: BaseException | None = None
        _output.set(buf)  # a new thread starts with a context of its own: its output is this call's
        try:
            result = self.handler(event, ctx)
            if inspect.isawaitable(result):
                async def wait() -> None:
                    await result
                asyncio.run(wait())
        except BaseException as exc:  # noqa: BLE001 - a handler's SystemExit or KeyboardInterrupt is its own failure
            failure = exc
        finally:
            def finish() -> None:
                if not done.done():
                    done.set_result(failure)
                self._done(part)
            with contextlib.suppress(RuntimeError):  # the loop has stopped (a shutdown)
                loop.call_soon_threadsafe(finish)

    def _gone(self, c: sqlite3.Connection, seq: int, part: str) -> bool:
        """Delete delivery ``seq`` (whether it was there), and make the next of its item the item's head."""
        if not c.execute("DELETE FROM deliveries WHERE sub=? AND seq=?", (self.key, seq)).rowcount:
            return False
        c.execute("UPDATE deliveries SET head=1 WHERE sub=? AND seq=(SELECT MIN(seq) FROM deliveries WHERE sub=? AND "
                  "part=?)", (self.key, self.key, part))
        return True

    def _settle(self, seq: int, part: str, body: bytes, at: float, attempts: int, first_at: float,
                call: Invocation) -> None:
        with self.db.write() as c:
            if call.outcome == "ok":
                if self._gone(c, seq, part):
                    self.counters.delivered += 1
                return
            now = self.clock.now()
            if call.retry_at is not None and now - first_at < RETENTION:  # held by another call: wait, count nothing
                c.execute("UPDATE deliveries SET next_at=?, error=? WHERE sub=? AND seq=?",
                          (max(call.retry_at, now + BACKOFF_FIRST), call.error, self.key, seq))
                return
            attempts += 1
            error = call.error.splitlines()[-1] if call.error else call.outcome
            spent = self.max_attempts is not None and attempts >= self.max_attempts
            if spent or (self.max_attempts is None and now - first_at >= RETENTION):
                if not self._gone(c, seq, part):
                    return  # settled already (it is a dead letter once, whatever raced)
                c.execute("INSERT INTO dead_letters (sub, seq, part, body, at, error, attempts, first_at, last_at) "
                          f"SELECT ?, ?, part, ?, ?, ?, ?, ?, ? FROM {self.relation} WHERE seq=?",
                          (self.key, seq, body, at, call.error or error, attempts, first_at, now, seq))
                self.counters.dead_lettered += 1
                log.warning("trigger %s: event %s dead-lettered after %d attempts: %s", self.key, seq, attempts, error)
                return
            wait = min(BACKOFF_FIRST * 2 ** (attempts - 1), BACKOFF_MAX)
            c.execute("UPDATE deliveries SET attempts=?, next_at=?, error=? WHERE sub=? AND seq=?",
                      (attempts, now + wait, call.error or error, self.key, seq))
            self.counters.retried += 1

    # -- what operators see and do

    def dead_letters(self) -> list[dict[str, Any]]:
        rows = self.db.conn().execute(
            "SELECT id, seq, body, error, attempts, first_at, last_at FROM dead_letters WHERE sub=? ORDER BY id",
            (self.key,)).fetchall()
        return [{"id": i, "trigger": self.name, "sequence_number": str(seq), "event": orjson.loads(body),
                 "error": error, "attempts": attempts, "first_attempt": first, "last_attempt": last}
                for i, seq, body, error, attempts, first, last in rows]

    def redrive(self, ids: list[int] | None = None) -> int:
        """Send dead letters (all, or those named) again: each a delivery due now, its attempts counted afresh.
        How many."""
        with self.db.write() as c:
            where, args = "sub=?", [self.key]
            if ids is not None:
                where += f" AND id IN ({','.join('?' * len(ids))})"
                args += ids  # type: ignore[arg-type]
            rows = c.execute(f"SELECT id, seq, part, body, at FROM dead_letters WHERE {where}", args).fetchall()
            now = self.clock.now()
            for i, seq, part, body, at in rows:
                self.log.restore(c, seq, self.source, part, body, at)  # (it may have been pruned since)
                c.execute("INSERT OR REPLACE INTO deliveries (sub, seq, part, next_at, first_at) VALUES (?,?,?,?,?)",
                          (self.key, seq, part, now, now))
                c.execute("UPDATE deliveries SET head = (seq = (SELECT MIN(seq) FROM deliveries WHERE sub=? AND "
                          "part=?)) WHERE sub=? AND part=?", (self.key, part, self.key, part))
                c.execute("DELETE FROM dead_letters WHERE id=?", (i,))
        self.log.notify(self.source)
        return len(rows)

    def pause(self) -> None:
        self.paused = True

    def resume(self) -> None:
        """Deliver again (from any thread)."""
        self.paused = False
        if self._wake is not None and self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has stopped (a shutdown)
                self._loop.call_soon_threadsafe(self._wake.set)

    def stats(self) -> dict[str, Any]:
        waiting, oldest = self.db.conn().execute(
            f"SELECT COUNT(*), MIN(e.at) FROM deliveries d JOIN {self.relation} e ON e.seq=d.seq WHERE d.sub=?",
            (self.key,)).fetchone()
        dead = self.db.conn().execute("SELECT COUNT(*) FROM dead_letters WHERE sub=?", (self.key,)).fetchone()[0]
        return {"delivered": self.counters.delivered, "retried": self.counters.retried,
                "dead_lettered": self.counters.dead_lettered, "dead_letters": dead, "waiting": waiting,
                "oldest_undelivered_age": None if oldest is None else round(self.clock.now() - oldest, 3)}

    def close(self) -> None:
        """At shutdown: the bookkeeping finishes; handler threads are daemons, so a hung one holds up no exit."""
        self.books.shutdown(wait=True)
