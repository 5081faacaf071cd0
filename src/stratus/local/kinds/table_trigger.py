"""A table's changes, locally: a subscription of the app's event log that hands each change to the handler.

``TriggerKind`` is what every kind of trigger shares (a bucket's objects too): the handler's context, its
subscription of one log's events, and its place among the runtime's running triggers."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from ...context import Context
from ...events import TableChange
from ...graph import TableTrigger
from ...graph.triggers import Trigger
from ..events.delivery import Subscription
from ..events.log import EventLog
from ..runtime import AppEngines, LocalKind
from ..services.dynamodb.table import table_source
from .table import table_events

_IDS = uuid.UUID("6f1d3c2e-8b8a-4c55-9d0e-5b7f2a9c4e11")  # the namespace event ids are made in
T = TypeVar("T", bound=Trigger)


class TriggerKind(LocalKind[T, Subscription]):
    """How a kind of trigger runs: a subscription of ``log``'s events of ``source`` (those ``accepts`` takes, each
    made the handler's typed event by ``decode``), started and stopped with the system."""

    stats_group = "triggers"

    def subscribe(self, app: AppEngines, decl: T, log: EventLog, source: str, accepts: Callable[[dict[str, Any]], bool],
                  decode: Callable[[int, dict[str, Any], float], Any]) -> Subscription:
        rt = app.runtime
        context = Context(app.name, decl.name, {r: decl.confine(r, app.port(r, f"trigger {decl.name!r} uses {r!r}, "
                                                                                "which")) for r in decl.uses}, rt.clock)
        sub = Subscription(app.name, decl.name, log, source, accepts, decode, decl.handler, context, rt.clock,
                           decl.timeout, decl.max_attempts, decl.is_async)
        rt.start(sub)
        return sub

    def stats(self, engine: Subscription) -> dict[str, Any] | None:
        return engine.stats()


class TableTriggerKind(TriggerKind[TableTrigger]):
    def build(self, app: AppEngines, decl: TableTrigger) -> Subscription:
        app.engine(decl.table, f"trigger {decl.name!r}: its table")
        name = decl.table.name

        def decode(seq: int, body: dict[str, Any], at: float) -> TableChange:
            return TableChange(body["kind"], name, body["keys"], body["new"], body["old"], f"{seq:021d}", at,
                               str(uuid.uuid5(_IDS, f"{app.name}/{name}/{seq}")))
        return self.subscribe(app, decl, table_events(app), table_source(name), lambda b: b["kind"] in decl.kinds,
                              decode)


KIND = TableTriggerKind()
