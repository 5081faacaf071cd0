"""Tables, locally: SQLite (one database per app), with the DAX-style cache in front where declared."""

from __future__ import annotations

from typing import Any

from ...graph import Table
from ...ports.table import TablePort
from ..runtime import AppEngines, LocalKind
from ..services.dynamodb.dax import CachedTable
from ..services.dynamodb.table import SqliteTable, tables_database


class TableKind(LocalKind[Table, TablePort]):
    stats_group = "table_caches"

    def build(self, app: AppEngines, decl: Table) -> TablePort:
        rt = app.runtime
        db = app.shared("tables", lambda: tables_database(rt.data_dir / "apps" / app.name / "tables.db"))
        port: TablePort = SqliteTable(decl, db, rt.clock)
        if decl.cache is not None and rt.options.table_cache:
            port = CachedTable(decl, port, decl.cache, rt.clock)
        return port

    def port(self, app: AppEngines, decl: Table, engine: TablePort) -> TablePort:
        return engine

    def stats(self, engine: TablePort) -> dict[str, Any] | None:
        return engine.stats() if isinstance(engine, CachedTable) else None


KIND = TableKind()
