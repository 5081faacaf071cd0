"""Tables, locally: SQLite (one database per app), with the DAX-style cache in front where declared.

A global table has a replica in each of its regions, each region its own database, and replication between them
(``stratus.local.events.replication``); the home region's replica is in the app's own database."""

from __future__ import annotations

from typing import Any

from ...graph import Table
from ...ports.table import TablePort
from ..events.log import EventLog, keep_pruned
from ..runtime import AppEngines, LocalKind
from ..services.dynamodb.dax import CachedTable
from ..services.dynamodb.table import SqliteTable, tables_database


def table_events(app: AppEngines, region: str | None = None) -> EventLog:
    """The event log of the app's tables database (of a region's, for a global table's other replicas), where its
    tables' changes go (made by the first to ask, which also sets its pruning going: events past their 24 hours
    that no trigger waits on)."""
    rt = app.runtime
    where = rt.data_dir / "apps" / app.name / (f"regions/{region}" if region else "")
    db = app.shared(f"tables:{region or ''}", lambda: tables_database(where / "tables.db"))

    def make() -> EventLog:
        log = EventLog(db)
        rt.frontdoor.background.append(lambda: keep_pruned(log, rt.clock, rt.executor))
        return log
    found: EventLog = app.shared(f"table-events:{region or ''}", make)
    return found


class TableKind(LocalKind[Table, TablePort]):
    stats_group = "table_caches"

    def build(self, app: AppEngines, decl: Table) -> TablePort:
        if not decl.regions:
            return self._replica(app, decl, table_events(app), None)[1]
        rt = app.runtime
        logs = {r: table_events(app, None if r == decl.home_region else r) for r in decl.regions}
        stores, ports = {}, {}
        for region, log in logs.items():
            stores[region], ports[region] = self._replica(app, decl, log, region)
        for region in decl.regions[1:]:  # a replica made since the table was: a copy of the home region's first
            stores[region].seed(stores[decl.regions[0]].stamped())
        app.replication.add(decl, stores, ports, logs, rt.start)
        return ports[decl.regions[0]]

    def _replica(self, app: AppEngines, decl: Table, log: EventLog, region: str | None
                 ) -> tuple[SqliteTable, TablePort]:
        rt = app.runtime
        store = SqliteTable(decl, log.db, rt.clock, log, region)
        port: TablePort = store
        if decl.cache is not None and rt.options.table_cache:
            port = CachedTable(decl, port, decl.cache, rt.clock)
        return store, port

    def port(self, app: AppEngines, decl: Table, engine: TablePort) -> TablePort:
        return engine

    def stats(self, engine: TablePort) -> dict[str, Any] | None:
        return engine.stats() if isinstance(engine, CachedTable) else None


KIND = TableKind()
