"""Tables, locally: SQLite (one database per app), with the DAX-style cache in front where declared."""

from __future__ import annotations

from typing import Any

from ...graph import Table
from ...ports.table import TablePort
from ..events.log import EventLog, keep_pruned
from ..runtime import AppEngines, LocalKind
from ..services.dynamodb.dax import CachedTable
from ..services.dynamodb.table import SqliteTable, tables_database


def table_events(app: AppEngines) -> EventLog:
    """The app's tables database's event log, where its tables' changes go (made by the first to ask, which also
    sets its pruning going: events past their 24 hours that no trigger waits on)."""
    rt = app.runtime
    db = app.shared("tables", lambda: tables_database(rt.data_dir / "apps" / app.name / "tables.db"))

    def make() -> EventLog:
        log = EventLog(db)
        rt.frontdoor.background.append(lambda: keep_pruned(log, rt.clock, rt.executor))
        return log
    found: EventLog = app.shared("table-events", make)
    return found


class TableKind(LocalKind[Table, TablePort]):
    stats_group = "table_caches"

    def build(self, app: AppEngines, decl: Table) -> TablePort:
        rt = app.runtime
        log = table_events(app)
        port: TablePort = SqliteTable(decl, log.db, rt.clock, log)
        if decl.cache is not None and rt.options.table_cache:
            port = CachedTable(decl, port, decl.cache, rt.clock)
        return port

    def port(self, app: AppEngines, decl: Table, engine: TablePort) -> TablePort:
        return engine

    def stats(self, engine: TablePort) -> dict[str, Any] | None:
        return engine.stats() if isinstance(engine, CachedTable) else None


KIND = TableKind()
