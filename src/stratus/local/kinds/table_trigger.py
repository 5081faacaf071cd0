"""A table's changes, locally: a subscription of the app's event log that hands each change to the handler."""

from __future__ import annotations

import uuid
from typing import Any

from ...context import Context
from ...events import TableChange
from ...graph import TableTrigger
from ..events.delivery import Subscription
from ..runtime import AppEngines, LocalKind
from ..services.dynamodb.table import table_source
from .table import table_events

_IDS = uuid.UUID("6f1d3c2e-8b8a-4c55-9d0e-5b7f2a9c4e11")  # the namespace event ids are made in


class TableTriggerKind(LocalKind[TableTrigger, Subscription]):
    stats_group = "triggers"

    def build(self, app: AppEngines, decl: TableTrigger) -> Subscription:
        rt = app.runtime
        app.engine(decl.table, f"trigger {decl.name!r}: its table")
        context = Context(app.name, decl.name, {r: app.port(r, f"trigger {decl.name!r} uses {r!r}, which")
                                                for r in decl.uses}, rt.clock)
        name = decl.table.name

        def decode(seq: int, body: dict[str, Any], at: float) -> TableChange:
            return TableChange(body["kind"], name, body["keys"], body["new"], body["old"], f"{seq:021d}", at,
                               str(uuid.uuid5(_IDS, f"{app.name}/{name}/{seq}")))
        sub = Subscription(app.name, decl.name, table_events(app), table_source(name), lambda b: b["kind"] in decl.kinds,
                           decode,
                           decl.handler, context, rt.clock, decl.timeout, decl.max_attempts, decl.is_async)
        rt.subscriptions[sub.key] = sub
        rt.frontdoor.background.append(sub.run)
        rt.frontdoor.on_shutdown.append(sub.close)
        return sub

    def stats(self, engine: Subscription) -> dict[str, Any] | None:
        return engine.stats()


KIND = TableTriggerKind()
