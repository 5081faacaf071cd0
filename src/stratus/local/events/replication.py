"""Global tables, locally: a replica per region, and replication as one more subscriber of each replica's log.

Each region of an app's global tables has its own tables database (``apps/<app>/regions/<region>/tables.db``; the
home region's is the app's own), with its own event log. For every ordered pair of regions there is a
``Subscription`` of the source region's changes that were written there (not those it got from elsewhere, which
their own region sends), each applied to the other region's replica if it is the later write (``SqliteTable.apply``):
delivered at least once, in order per item, retried until the change is 24 hours old, then a dead letter, as any
trigger's events are. Applying a change twice, or late, changes nothing, so the regions converge whatever the order;
so a new link starts at the beginning of its source's log (a region added later gets what was on its way between
the others, beside its copy of the home region).

``pause(region)`` holds back every link into and out of a region (an outage between regions: each side keeps
taking writes, and its changes wait in its log); ``resume`` lets them go, and the regions converge. The regions
paused are kept in a file (``paused``), so a pause outlives a restart.
"""

from __future__ import annotations

import statistics
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from ...clock import Clock
from ...context import Context
from ...errors import NotFound
from ...graph import Table
from ...ports.table import TablePort
from ..infra.files import write_atomic
from ..services.dynamodb.table import SqliteTable, table_source
from .delivery import Subscription
from .log import EventLog

LAGS = 1000  # replication lags kept per link, for the median


@dataclass
class Change:
    """A change as a link carries it: the item's keys, its new image (None: deleted), its stamp, when it was
    written."""

    keys: dict[str, Any]
    new: dict[str, Any] | None
    stamp: tuple[float, str]
    at: float
    event_id: str


@dataclass
class Link:
    """Replication of one table from one region to another."""

    table: Table
    source: str
    target: str
    sub: Subscription
    lags: deque[float] = field(default_factory=lambda: deque(maxlen=LAGS))


class Replication:
    """One app's global tables in every region: the replicas, and the links between them."""

    def __init__(self, app: str, regions: tuple[str, ...], clock: Clock, paused_file: Path) -> None:
        self.app, self.regions, self.clock, self.paused_file = app, regions, clock, paused_file
        self.replicas: dict[str, dict[Table, TablePort]] = {r: {} for r in regions}  # what handlers there get
        self.links: list[Link] = []
        try:  # what was paused when the system last stopped
            kept = orjson.loads(paused_file.read_bytes())
        except (OSError, ValueError):
            kept = []
        self.paused: set[str] = {r for r in kept if r in regions} if isinstance(kept, list) else set()
        self._lock = threading.Lock()  # one pause or resume at a time (each records the set, then acts on it)

    def add(self, table: Table, stores: dict[str, SqliteTable], ports: dict[str, TablePort],
            logs: dict[str, EventLog], start: Callable[[Subscription], None]) -> None:
        """Replicate ``table`` between its regions: ``stores`` are its replicas (by region), ``ports`` what handlers
        in each region get (a cache in front, perhaps), ``start`` runs a link's subscription with the system."""
        for region, port in ports.items():
            self.replicas[region][table] = port
        for source in table.regions:
            for target in table.regions:
                if source != target:
                    self.links.append(self._link(table, source, target, stores[target], logs[source], start))

    def _link(self, table: Table, source: str, target: str, store: SqliteTable, log: EventLog,
              start: Callable[[Subscription], None]) -> Link:
        def decode(seq: int, body: dict[str, Any], at: float) -> Change:
            return Change(body["keys"], body["new"], (body["wt"], body["origin"]), at, f"{source}/{seq}")

        def replicate(change: Change, ctx: Context) -> None:
            store.apply(change.keys, change.new, change.stamp)
            link.lags.append(max(0.0, self.clock.now() - change.at))

        replicate.__name__ = f"replicate-{table.name}-{source}-to-{target}"
        sub = Subscription(self.app, replicate.__name__, log, table_source(table.name),
                           lambda body: body.get("origin") == source, decode, replicate,
                           Context(self.app, replicate.__name__, {}, self.clock), self.clock, timeout=30.0,
                           max_attempts=None, paused=source in self.paused or target in self.paused,
                           from_start=True)
        link = Link(table, source, target, sub)
        start(sub)
        return link

    def port(self, resource: Any, region: str) -> Any:
        """What a handler in ``region`` gets for ``resource``: the region's replica of a global table; None for
        anything else (which the home region serves)."""
        return self.replicas.get(region, {}).get(resource)

    def _check(self, region: str) -> None:
        if region not in self.regions:
            raise NotFound(f"app {self.app!r} has no region {region!r} (its regions: {', '.join(self.regions)})")

    def pause(self, region: str) -> None:
        """Cut replication into and out of ``region``: changes wait in their logs until ``resume``."""
        self._check(region)
        with self._lock:
            self._keep(self.paused | {region})  # recorded first: a failed write changes nothing
            self.paused.add(region)
            for link in self.links:
                if region in (link.source, link.target):
                    link.sub.pause()

    def resume(self, region: str) -> None:
        """Heal replication of ``region`` (links to a region still paused stay cut)."""
        self._check(region)
        with self._lock:
            self._keep(self.paused - {region})
            self.paused.discard(region)
            for link in self.links:
                if region in (link.source, link.target) and not {link.source, link.target} & self.paused:
                    link.sub.resume()

    def _keep(self, paused: set[str]) -> None:
        write_atomic(self.paused_file, orjson.dumps(sorted(paused)), 0o600)

    def stats(self) -> dict[str, Any]:
        """Per region: whether it is paused, and per table the changes on their way in, the age of the oldest
        (its lag now, 0 when there are none), and the median lag of the last changes applied."""
        out: dict[str, Any] = {r: {"paused": r in self.paused, "replication": {}} for r in self.regions}
        for link in self.links:
            figures = link.sub.stats()
            into = out[link.target]["replication"].setdefault(
                link.table.name, {"pending": 0, "lag_seconds": 0.0, "applied": 0, "lags": []})
            into["pending"] += figures["waiting"]
            into["lag_seconds"] = max(into["lag_seconds"], figures["oldest_undelivered_age"] or 0.0)
            into["applied"] += figures["delivered"]
            into["lags"] += list(link.lags)
        for region in out.values():
            for figures in region["replication"].values():
                lags = figures.pop("lags")
                figures["p50_lag_ms"] = round(statistics.median(lags) * 1000, 1) if lags else None
        return out
