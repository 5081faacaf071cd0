"""What only the SQLite engine has: its change log (written with the write) and durability across reopening."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratus import App, ConditionFailed
from stratus.local.services.dynamodb.table import SqliteTable, tables_database


@pytest.fixture()
def table(tmp_path: Path) -> SqliteTable:
    return SqliteTable(App("t").table("things", partition_key="p", sort_key="s", stream=True),
                       tables_database(tmp_path / "tables.db"))


def test_change_log_is_written_with_the_write(table: SqliteTable) -> None:
    table.put({"p": "a", "s": "1", "v": 1})
    table.update({"p": "a", "s": "1"}, {"v": 2})
    with pytest.raises(ConditionFailed):
        table.put({"p": "a", "s": "1"}, if_absent=True)
    table.delete({"p": "a", "s": "1"})
    log = table.changes()
    assert [(c["kind"], c["keys"]) for c in log] == [("INSERT", {"p": "a", "s": "1"}), ("MODIFY", {"p": "a", "s": "1"}),
                                                     ("REMOVE", {"p": "a", "s": "1"})]
    assert (log[1]["old"], log[1]["new"]) == ({"p": "a", "s": "1", "v": 1}, {"p": "a", "s": "1", "v": 2})
    assert log[2]["new"] is None and [c["seq"] for c in table.changes(after=log[0]["seq"])] == \
        [log[1]["seq"], log[2]["seq"]]


def test_durable_across_reopen(tmp_path: Path) -> None:
    decl = App("t").table("things", partition_key="p")
    SqliteTable(decl, tables_database(tmp_path / "db")).put({"p": "k", "v": 1})
    assert SqliteTable(decl, tables_database(tmp_path / "db")).get({"p": "k"}) == {"p": "k", "v": 1}


def test_a_write_that_changes_nothing_makes_no_change(table: SqliteTable) -> None:
    table.put({"p": "a", "s": "1", "v": 1})
    table.put({"p": "a", "s": "1", "v": 1})
    table.update({"p": "a", "s": "1"}, {"v": 1})
    table.delete({"p": "b", "s": "1"})  # nothing there
    assert [c["kind"] for c in table.changes()] == ["INSERT"]
