"""The ObjectStore port's contract, against the local object engine and S3 (on moto)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stratus.errors import InvalidItem, InvalidToken, ServiceError
from tests.conftest import aws_mock


@pytest.fixture(params=["local", "aws"])
def bucket(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    if request.param == "local":
        from stratus.clock import ManualClock
        from stratus.local.services.s3.model import ObjectStore
        from stratus.local.services.s3.port import LocalBucket
        store = ObjectStore(tmp_path, ManualClock(1000.0))
        store.create_bucket("files-1")
        yield LocalBucket(store, "files-1")
        return
    import boto3

    from stratus.aws.runtime.kinds.bucket import S3Bucket
    with aws_mock(monkeypatch):
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="files-1")
        yield S3Bucket(s3, "files-1")


def test_put_get_head_delete(bucket: Any) -> None:
    info = bucket.put("a/photo.jpg", b"\xff\xd8jpeg", content_type="image/jpeg", metadata={"owner": "ann"})
    import hashlib
    assert (info.key, info.size, info.etag) == ("a/photo.jpg", 6, hashlib.md5(b"\xff\xd8jpeg").hexdigest())
    got = bucket.get("a/photo.jpg")
    assert got.data == b"\xff\xd8jpeg" and got.info.content_type == "image/jpeg" and got.info.metadata == {"owner": "ann"}
    assert got.info.etag == info.etag and len(info.etag) == 32
    assert bucket.head("a/photo.jpg").size == 6
    bucket.delete("a/photo.jpg")
    bucket.delete("a/photo.jpg")  # deleting what is not there is fine, as on S3
    assert bucket.get("a/photo.jpg") is None and bucket.head("a/photo.jpg") is None


def test_list_pages_by_prefix_in_key_order(bucket: Any) -> None:
    for k in ("p/b", "p/a", "p/c", "q/x", "p/é"):
        bucket.put(k, b"x")
    seen, token = [], None
    while True:
        page = bucket.list("p/", limit=2, next_token=token)
        seen += [o.key for o in page.objects]
        token = page.next_token
        if token is None:
            break
    assert seen == ["p/a", "p/b", "p/c", "p/é"]
    assert [o.key for o in bucket.list().objects] == ["p/a", "p/b", "p/c", "p/é", "q/x"]
    first = bucket.list("p/", limit=1)
    with pytest.raises(InvalidToken):
        bucket.list("q/", next_token=first.next_token)
    with pytest.raises(InvalidToken):
        bucket.list("p/", next_token="%%%")


@pytest.mark.parametrize("key", ["", "x" * 1025, "nul\x00", "ctl\x01"])
def test_bad_keys_are_invalid_items(bucket: Any, key: str) -> None:
    with pytest.raises(InvalidItem):
        bucket.put(key, b"x")
    with pytest.raises(InvalidItem):
        bucket.get(key)


def test_bad_limits(bucket: Any) -> None:
    for limit in (0, 1001, True):
        with pytest.raises(InvalidItem):
            bucket.list(limit=limit)


def test_put_rules_hold_everywhere(bucket: Any) -> None:
    info = bucket.put("m", b"x", content_type="", metadata={"Owner": "Ann"})
    assert info.content_type == "binary/octet-stream" and info.metadata == {"owner": "Ann"}
    got = bucket.get("m")
    assert got.info.content_type == "binary/octet-stream" and got.info.metadata == {"owner": "Ann"}
    for bad in ({"o": "é"}, {"é": "x"}, {"o": "line\nbreak"}, {"o": "x" * 3000}):
        with pytest.raises(InvalidItem):
            bucket.put("m", b"x", metadata=bad)
    with pytest.raises(InvalidItem):
        bucket.put("m", "text, not bytes")
    listed = bucket.list().objects[0]
    assert (listed.key, listed.size, listed.content_type, listed.metadata) == ("m", 1, "", {})


@pytest.mark.parametrize("token", ["AA", "!!!", "", "_w"])
def test_tokens_that_no_listing_made_are_refused(bucket: Any, token: str) -> None:
    bucket.put("k", b"x")
    with pytest.raises(InvalidToken):
        bucket.list(next_token=token)


def test_a_bucket_the_service_lacks_is_a_service_error(bucket: Any) -> None:
    """The same S3 code on every implementation, for every operation (a missing object is None, a missing bucket is not)."""
    gone = type(bucket).__new__(type(bucket))
    gone.__dict__.update(bucket.__dict__)
    gone.bucket = "no-such-bucket-9"
    for call in (lambda: gone.put("k", b"v"), lambda: gone.get("k"), lambda: gone.head("k"), lambda: gone.delete("k"),
                 lambda: gone.list()):
        with pytest.raises(ServiceError) as exc:
            call()
        assert exc.value.code == "NoSuchBucket" and exc.value.status == 404


def test_a_missing_object_reads_as_none_everywhere(bucket: Any) -> None:
    assert bucket.get("nothing/here") is None and bucket.head("nothing/here") is None
    bucket.delete("nothing/here")
    assert bucket.list("nothing/").objects == [] and bucket.list("nothing/").next_token is None
