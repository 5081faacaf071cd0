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
