"""The object engine on real files: atomic commits, events written with them, crash leftovers collected."""

from __future__ import annotations

from pathlib import Path

import pytest

from stratus.clock import ManualClock
from stratus.errors import ServiceError
from stratus.local.services.s3.model import ObjectStore


@pytest.fixture()
def store(tmp_path: Path) -> ObjectStore:
    s = ObjectStore(tmp_path, ManualClock(1000.0))
    s.create_bucket("b-1")
    return s


def _put(store: ObjectStore, key: str, data: bytes) -> None:
    w = store.writer(("crc32",))
    w.write(data)
    store.commit("b-1", key, w.finish(), "text/plain", {}, "ObjectCreated:Put")


def test_events_are_written_with_each_commit(store: ObjectStore) -> None:
    _put(store, "a", b"1")
    _put(store, "a", b"22")
    store.delete("b-1", "a")
    store.delete("b-1", "a")  # nothing there: no event
    events = list(store.events())
    assert [(e["key"], e["kind"], e["size"]) for e in events] == [
        ("a", "ObjectCreated:Put", 1), ("a", "ObjectCreated:Put", 2), ("a", "ObjectRemoved:Delete", None)]
    assert [e["seq"] for e in store.events(after=events[0]["seq"])] == [events[1]["seq"], events[2]["seq"]]


def test_a_failed_commit_leaves_no_blob(store: ObjectStore, tmp_path: Path) -> None:
    w = store.writer()
    w.write(b"orphan")
    blob = w.finish()
    with pytest.raises(ServiceError) as exc:
        store.commit("no-such-bucket", "k", blob, "text/plain", {}, "ObjectCreated:Put")
    assert exc.value.code == "NoSuchBucket"
    assert not store.blob_path(blob.id).exists()


def test_crash_leftovers_are_collected_at_start(store: ObjectStore, tmp_path: Path) -> None:
    _put(store, "kept", b"yes")
    w = store.writer()
    w.write(b"half written")  # a process killed mid-write leaves its temporary file
    stray = store.writer()
    stray.write(b"renamed but never committed")
    orphan = stray.finish()
    again = ObjectStore(tmp_path, ManualClock(2000.0))
    assert list(again.tmp.iterdir()) == []
    assert not again.blob_path(orphan.id).exists()
    meta, f = again.open_object("b-1", "kept")
    with f:
        assert f.read() == b"yes" and meta.checksums["crc32"]


OLD_SCHEMA = """
CREATE TABLE buckets (name TEXT PRIMARY KEY, created REAL NOT NULL);
CREATE TABLE objects (
    bucket TEXT NOT NULL, key TEXT NOT NULL, blob TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    content_type TEXT NOT NULL, metadata TEXT NOT NULL, checksums TEXT NOT NULL, modified REAL NOT NULL,
    parts INTEGER, extra TEXT NOT NULL, PRIMARY KEY (bucket, key)) WITHOUT ROWID;
"""


def test_a_data_dir_from_before_versioning_is_read_and_versioned(tmp_path: Path) -> None:
    """Objects stored before versions existed are each their null version, and their bucket can be versioned."""
    import sqlite3
    (tmp_path / "blobs" / "ab").mkdir(parents=True)
    (tmp_path / "blobs" / "ab" / "ab01").write_bytes(b"old")
    db = sqlite3.connect(tmp_path / "objects.db")
    db.executescript(OLD_SCHEMA)
    db.execute("INSERT INTO buckets VALUES ('b-1', 1.0)")
    db.execute("INSERT INTO objects VALUES ('b-1','k','ab01',3,'\"e\"','text/plain','{}','{}',1.0,NULL,'{}')")
    db.commit()
    db.close()
    store = ObjectStore(tmp_path, ManualClock(1000.0))
    meta, f = store.open_object("b-1", "k")
    with f:
        assert (f.read(), meta.version_id) == (b"old", "null")
    store.set_versioning("b-1", "Enabled")
    _put(store, "k", b"new")
    listing = store.list_versions("b-1")
    assert [(v.version_id == "null", v.latest) for v in listing.versions] == [(False, True), (True, False)]
    meta, f = store.open_object("b-1", "k", "null")
    with f:
        assert f.read() == b"old"


def test_versions_and_markers_survive_a_restart_and_their_blobs_are_kept(store: ObjectStore, tmp_path: Path) -> None:
    store.set_versioning("b-1", "Enabled")
    _put(store, "k", b"1")
    _put(store, "k", b"2")
    marker = store.delete("b-1", "k")
    assert marker is not None and marker.marker
    again = ObjectStore(tmp_path, ManualClock(2000.0))  # a restart collects garbage: no version's blob is garbage
    kept = again.list_versions("b-1").versions
    assert [(v.marker, v.latest) for v in kept] == [(True, True), (False, False), (False, False)]
    for v in kept[1:]:
        _, f = again.open_object("b-1", "k", v.version_id)
        with f:
            assert f.read() in (b"1", b"2")
    assert [e["kind"] for e in again.events()][-1] == "ObjectRemoved:DeleteMarkerCreated"


def test_a_commit_now_never_waits_for_another_writer(store: ObjectStore, tmp_path: Path) -> None:
    """``commit_now`` (the event loop's) gives up at once while another writer holds the database, leaving nothing
    done, so the object is committed the usual way; when the database is free it commits, and asks for a
    checkpoint every so often (its connection makes none)."""
    import sqlite3

    from stratus.local.services.s3.model import CHECKPOINT_EVERY
    w = store.writer()
    w.write(b"small")
    blob = w.finish()
    other = sqlite3.connect(tmp_path / "objects.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        assert store.commit_now("b-1", "k", blob, "text/plain", {}, "ObjectCreated:Put") is None
    finally:
        other.execute("ROLLBACK")
        other.close()
    with pytest.raises(ServiceError):
        store.head("b-1", "k")  # nothing was done
    meta, dropped = store.commit_now("b-1", "k", blob, "text/plain", {}, "ObjectCreated:Put") or (None, None)
    assert meta is not None and dropped == []
    _, f = store.open_object("b-1", "k")
    with f:
        assert f.read() == b"small"
    due = 0
    for _ in range(2 * CHECKPOINT_EVERY - 1):
        w = store.writer()
        w.write(b"again")
        assert store.commit_now("b-1", "k", w.finish(), "text/plain", {}, "ObjectCreated:Put") is not None
        if store.checkpoint_due():
            assert not store.checkpoint_due()  # one at a time
            store.checkpoint()
            due += 1
    assert due == 2
    assert store.checkpoint_due(idle=True) is False  # the 400th commit called for the second: nothing is left
    w = store.writer()
    w.write(b"tail")
    store.commit_now("b-1", "k", w.finish(), "text/plain", {}, "ObjectCreated:Put")
    assert not store.checkpoint_due() and store.checkpoint_due(idle=True)  # a burst's tail, when the server is idle
    store.checkpoint()
    assert [e["kind"] for e in store.events()].count("ObjectCreated:Put") == 2 * CHECKPOINT_EVERY + 1


def test_small_writes_made_now_keep_the_log_bounded(store: ObjectStore, tmp_path: Path) -> None:
    """60 KiB objects to new keys, committed now, as a loaded server makes them: the checkpoints they call for
    keep the write-ahead log near SQLite's own bound, not growing with every write."""
    import os
    for i in range(400):
        w = store.writer()
        w.write(os.urandom(60 * 1024))
        assert store.commit_now("b-1", f"k{i}", w.finish(), "text/plain", {}, "ObjectCreated:Put") is not None
        if store.checkpoint_due():
            store.checkpoint()
    assert (tmp_path / "objects.db-wal").stat().st_size < 8 * 1024 * 1024  # 400 x 60 KiB is 24 MiB
