"""Event delivery to a table's triggers, through ``stratus up`` (the feed fixture): order per item, no event for a
write that changes nothing, retries then dead letters and a redrive (with the CLI), a handler past its timeout that
holds up nobody else, what ``stratus logs`` and ``stats`` show, and a SIGKILL in a burst of writes that loses no
acknowledged write's event."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from stratus.local.system import RunningSystem
from tests.conftest import ROOT, kill_during_burst, start, trust

FEED = ROOT / "tests" / "apps" / "fixtures" / "feed"


class Feed:
    def __init__(self, system: RunningSystem) -> None:
        self.system = system
        self.ep = system.endpoints
        self.api = self.ep["apps"]["feed"]["api"]
        self.http = httpx.Client(verify=trust(self.ep), timeout=30)

    def put(self, note: str, **fields: Any) -> None:
        r = self.http.put(f"{self.api}/notes/{note}", json=fields)
        assert r.status_code == 200, r.text

    def seen(self, trigger: str) -> list[dict[str, Any]]:
        r = self.http.get(f"{self.api}/seen/{trigger}")
        assert r.status_code == 200, r.text
        return list(r.json())

    def until(self, what: Callable[[], Any], timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            got = what()
            if got or time.monotonic() > deadline:
                return got
            time.sleep(0.05)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "stratus", *args, "--data-dir", str(self.system.data_dir)],
                              capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def feed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Feed]:
    s = start(tmp_path_factory.mktemp("feed"), FEED)
    yield Feed(s)
    s.stop()


def test_each_items_changes_arrive_in_the_order_they_were_written(feed: Feed) -> None:
    with ThreadPoolExecutor(4) as pool:  # four items written side by side, each 30 times in order
        list(pool.map(lambda n: [feed.put(f"order-{n}", value=i) for i in range(30)], range(4)))
    got = feed.until(lambda: (s := [x for x in feed.seen("record") if x["id"].startswith("order-")]) and
                     len(s) == 120 and s)
    assert len(got) == 120
    for n in range(4):
        mine = sorted((x for x in got if x["id"] == f"order-{n}"), key=lambda x: x["handled"])  # as handled
        assert [int(x["seq"]) for x in mine] == sorted(int(x["seq"]) for x in mine)  # in the order written
        assert [x["value"] for x in mine] == list(range(30))
        assert [x["kind"] for x in mine] == ["INSERT"] + ["MODIFY"] * 29
        assert [x["old"] for x in mine[1:]] == list(range(29))  # each with the image before it
        assert len({x["event"] for x in mine}) == 30


def test_a_write_that_changes_nothing_makes_no_event(feed: Feed) -> None:
    feed.put("same", value=1)
    feed.put("same", value=1)
    feed.put("same", value=1)
    feed.put("same", value=True)  # a change of type is a change (Python holds True == 1)
    feed.put("same", value=2)
    got = feed.until(lambda: [x for x in feed.seen("record") if x["id"] == "same"] if any(
        x["id"] == "same" and x["value"] == 2 for x in feed.seen("record")) else [])
    assert [(x["kind"], x["value"]) for x in got] == [("INSERT", 1), ("MODIFY", True), ("MODIFY", 2)]
    feed.http.delete(f"{feed.api}/notes/never-there")  # nothing to remove: no event either
    feed.put("after-nothing", value=0)
    assert feed.until(lambda: [x for x in feed.seen("record") if x["id"] == "after-nothing"])
    assert not [x for x in feed.seen("record") if x["id"] == "never-there"]


def test_a_failing_event_is_retried_dead_lettered_and_redriven(feed: Feed) -> None:
    feed.put("bad", value=1, fail=True)
    t0 = time.monotonic()
    feed.put("good", value=1)
    # the good item is not held back by the bad one, which is tried 3 times (1 s, then 2 s apart)
    assert feed.until(lambda: [x for x in feed.seen("picky") if x["id"] == "good"], 5)
    assert time.monotonic() - t0 < 2.5
    letters = feed.until(lambda: [d for d in json.loads(feed.cli("dead-letters", "feed", "--json").stdout)
                                  if d["trigger"] == "picky"], 15)
    assert len(letters) == 1 and letters[0]["attempts"] == 3
    assert "ValueError: note bad is marked to fail" in letters[0]["error"]
    assert letters[0]["event"]["new"] == {"id": "bad", "value": 1, "fail": True}
    table = feed.cli("dead-letters")
    assert table.returncode == 0 and "feed/picky" in table.stdout and "marked to fail" in table.stdout
    assert not [x for x in feed.seen("picky") if x["id"] == "bad"]
    refused = feed.cli("redrive", "feed", "nobody")
    assert refused.returncode != 0 and "no trigger named 'nobody'" in refused.stderr and "picky" in refused.stderr
    assert feed.http.put(f"{feed.api}/flags/fixed").status_code == 200  # the fix
    done = feed.cli("redrive", "feed", "picky", "--id", str(letters[0]["id"]))
    assert done.returncode == 0 and "sent 1 dead letter of feed/picky again" in done.stdout
    assert feed.until(lambda: [x for x in feed.seen("picky") if x["id"] == "bad"], 10)
    assert not [d for d in json.loads(feed.cli("dead-letters", "feed", "--json").stdout) if d["trigger"] == "picky"]


def test_a_handler_past_its_timeout_fails_holds_up_no_one_and_writes_nothing_after(feed: Feed) -> None:
    t0 = time.monotonic()
    feed.put("hangs", value=1, hang=True)
    feed.put("after-hang", value=1)
    assert feed.until(lambda: [x for x in feed.seen("sleepy") if x["id"] == "after-hang"], 3)  # its other items
    assert time.monotonic() - t0 < 2.5  # went on while the hung call ran (5 s)
    assert feed.until(lambda: [x for x in feed.seen("record") if x["id"] == "after-hang"], 3)  # and other triggers
    letters = feed.until(lambda: [d for d in json.loads(feed.cli("dead-letters", "feed", "--json").stdout)
                                  if d["trigger"] == "sleepy"], 20)
    assert letters and letters[0]["error"] == "Task timed out after 1 seconds" and letters[0]["attempts"] == 2
    time.sleep(5.5)  # the second hung call's thread has ended too: neither wrote once its time was up
    assert not [x for x in feed.seen("sleepy") if x["id"] == "hangs"]
    assert feed.http.get(f"{feed.api}/seen/record").status_code == 200  # the API never waited


def test_an_async_handler_behind_a_decorator_is_awaited_and_timed(feed: Feed) -> None:
    feed.put("quick", value=1)
    feed.put("slow", value=1, slow=True)
    assert feed.until(lambda: [x for x in feed.seen("later") if x["id"] == "quick"], 5)
    letters = feed.until(lambda: [d for d in json.loads(feed.cli("dead-letters", "feed", "--json").stdout)
                                  if d["trigger"] == "later"], 10)
    assert [d["event"]["keys"]["id"] for d in letters] == ["slow"] and letters[0]["error"].startswith("Task timed out")
    assert not [x for x in feed.seen("later") if x["id"] == "slow"]


def test_a_handler_that_exits_fails_alone(feed: Feed) -> None:
    feed.put("exits", value=1, exit=True)
    letters = feed.until(lambda: [d for d in json.loads(feed.cli("dead-letters", "feed", "--json").stdout)
                                  if d["event"]["keys"]["id"] == "exits"], 15)
    assert letters and "SystemExit: 3" in letters[0]["error"] and letters[0]["attempts"] == 3
    assert feed.system.proc.poll() is None  # the server runs on
    feed.put("after-exit", value=1)
    assert feed.until(lambda: [x for x in feed.seen("picky") if x["id"] == "after-exit"], 5)


def test_logs_and_stats_show_each_call(feed: Feed) -> None:
    feed.put("logged", value=7)
    assert feed.until(lambda: [x for x in feed.seen("record") if x["id"] == "logged"])
    out = feed.cli("logs", "feed", "--handler", "record", "--json")
    calls = [json.loads(line) for line in out.stdout.splitlines()]
    mine = [c for c in calls if c["output"] == "INSERT logged\n"]
    assert out.returncode == 0 and len(mine) == 1 and mine[0]["outcome"] == "ok" and mine[0]["trigger"] == "record"
    text = feed.cli("logs", "feed", "--since", "10m").stdout
    assert "record" in text and "INSERT logged" in text
    failed = feed.cli("logs", "feed", "--handler", "picky").stdout
    assert "ERROR" in failed and "Traceback" in failed and "app.py" in failed and "delivery.py" not in failed
    assert feed.cli("logs", "feed", "--since", "soon").returncode != 0
    stats = json.loads(feed.cli("stats", "--json").stdout)["apps"]["feed"]["triggers"]
    assert stats["record"]["delivered"] > 100 and stats["picky"]["dead_lettered"] >= 1
    assert stats["record"]["oldest_undelivered_age"] is None


def test_a_sigkill_in_a_burst_of_writes_loses_no_acknowledged_event(tmp_path: Path) -> None:
    s = start(tmp_path / "data", FEED)
    feed = Feed(s)

    def write(i: int) -> bool:
        try:
            feed.put(f"burst-{i}", value=i)
        except (httpx.HTTPError, AssertionError):
            return False  # not acknowledged: the process was killed before it answered
        return True
    acknowledged = [f"burst-{i}" for i in kill_during_burst(s, write)]
    again = Feed(start(tmp_path / "data", FEED))
    try:
        def delivered() -> set[str]:
            return {x["id"] for x in again.seen("record") if x["id"].startswith("burst-")}
        got = again.until(lambda: set(acknowledged) <= (d := delivered()) and d, 30)
        assert set(acknowledged) <= got, sorted(set(acknowledged) - got)[:10]
    finally:
        again.system.stop()


def test_operator_input_is_checked(feed: Feed) -> None:
    missing = feed.cli("redrive", "feed", "picky", "--id", "999999")
    assert missing.returncode != 0 and "has no dead letter 999999" in missing.stderr
    assert "nan" in feed.cli("logs", "--since", "nan").stderr
    headers = {"authorization": f"Bearer {feed.ep['operator_token']}"}
    base = feed.ep["aws_endpoint"] + "/_stratus"
    for body in ({"app": "feed", "trigger": "picky", "ids": [2**64]}, {"app": "feed"}, [], {"app": 1, "trigger": "x"},
                 {"app": "feed", "trigger": "picky", "ids": [True]}):
        r = feed.http.post(base + "/redrive", json=body, headers=headers)
        assert r.status_code == 400, (body, r.status_code, r.text)
    assert feed.http.get(base + "/logs?since=nan", headers=headers).status_code == 400
    assert feed.http.get(base + "/logs?trigger=nobody", headers=headers).status_code == 404
    assert feed.http.get(base + "/dead-letters?app=nobody", headers=headers).status_code == 404
    assert feed.http.get(base + "/dead-letters").status_code == 401  # the operator's token, or nothing


def test_objects_created_and_removed_by_anyone_reach_their_triggers(feed: Feed) -> None:
    import boto3
    from botocore.config import Config
    admin = feed.ep["admin_credentials"]
    s3 = boto3.client("s3", endpoint_url=feed.ep["aws_endpoint"], region_name=feed.ep["region"],
                      verify=feed.ep["ca_file"], aws_access_key_id=admin["access_key_id"],
                      aws_secret_access_key=admin["secret_access_key"],
                      config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
    bucket = feed.ep["apps"]["feed"]["buckets"]["inbox"]
    s3.put_object(Bucket=bucket, Key="in/a.txt", Body=b"abc")
    s3.put_object(Bucket=bucket, Key="in/b.jpg", Body=b"not text")  # another suffix
    s3.put_object(Bucket=bucket, Key="out/c.txt", Body=b"elsewhere")  # another prefix
    s3.put_object(Bucket=bucket, Key="in/with space é.txt", Body=b"x")
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "in/p.txt"})
    assert httpx.put(url, content=b"presigned", verify=trust(feed.ep)).status_code == 200
    assert feed.http.put(f"{feed.api}/inbox/h", json={}).status_code == 200  # a handler's write
    upload = s3.create_multipart_upload(Bucket=bucket, Key="in/m.txt")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="in/m.txt", UploadId=upload, PartNumber=1, Body=b"m" * 10)
    s3.complete_multipart_upload(Bucket=bucket, Key="in/m.txt", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    s3.copy_object(Bucket=bucket, Key="in/copy.txt", CopySource={"Bucket": bucket, "Key": "in/a.txt"})
    s3.delete_object(Bucket=bucket, Key="in/a.txt")
    expected = {"in/a.txt": "ObjectCreated:Put", "in/with space é.txt": "ObjectCreated:Put",
                "in/p.txt": "ObjectCreated:Put", "in/h.txt": "ObjectCreated:Put",
                "in/m.txt": "ObjectCreated:CompleteMultipartUpload", "in/copy.txt": "ObjectCreated:Copy"}
    got = feed.until(lambda: len(s := feed.seen("arrived")) >= len(expected) and s)
    assert {x["key"]: x["how"] for x in got} == expected
    a = next(x for x in got if x["key"] == "in/a.txt")
    assert a["size"] == 3 and a["etag"] == "900150983cd24fb0d6963f7d28e17f72" and a["bucket"] == "inbox"
    removed = feed.until(lambda: feed.seen("gone"))
    assert [(x["key"], x["how"]) for x in removed] == [("in/a.txt", "ObjectRemoved:Delete")]


def test_a_trigger_that_would_call_itself_is_refused() -> None:
    from stratus import App
    from stratus.errors import ConfigError
    app = App("loop")
    photos = app.bucket("photos")

    def thumbnail(event: object, ctx: object) -> None: ...
    with pytest.raises(ConfigError, match="would call it again"):
        app.on_object_created(photos, uses=[photos])(thumbnail)
    app.on_object_created(photos, prefix="uploads/", uses=[photos])(thumbnail)
