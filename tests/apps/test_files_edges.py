"""S3 behaviours at the edges: races between readers and writers, pagination, conditional writes, headers."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import Clients, error_code


@pytest.fixture(scope="module")
def admin(clients: Clients) -> Any:
    return clients.s3()


@pytest.fixture(scope="module")
def bucket(admin: Any) -> str:
    name = f"edges-{os.getpid()}"
    admin.create_bucket(Bucket=name)
    return name


def test_readers_and_copies_never_see_a_cut_object_while_it_is_overwritten(admin: Any, bucket: str) -> None:
    bodies = [bytes([i]) * (256 * 1024 + i) for i in range(4)]
    admin.put_object(Bucket=bucket, Key="hot", Body=bodies[0])
    stop = time.monotonic() + 3
    problems: list[str] = []

    def writer(i: int) -> None:
        while time.monotonic() < stop:
            admin.put_object(Bucket=bucket, Key="hot", Body=bodies[i % len(bodies)])
            i += 1

    def reader() -> None:
        while time.monotonic() < stop:
            try:
                got = admin.get_object(Bucket=bucket, Key="hot")["Body"].read()
                if got not in bodies:
                    problems.append(f"read {len(got)} bytes matching no version")
            except Exception as exc:  # noqa: BLE001 (any failure is the finding)
                problems.append(repr(exc))

    def copier() -> None:
        while time.monotonic() < stop:
            try:
                admin.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "hot"})
            except Exception as exc:  # noqa: BLE001
                problems.append(repr(exc))
    threads = [threading.Thread(target=f, args=a) for f, a in
               [(writer, (0,)), (writer, (1,)), (reader, ()), (reader, ()), (copier, ())]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert problems == []
    assert admin.get_object(Bucket=bucket, Key="copy")["Body"].read() in bodies


def _complete(admin: Any, bucket: str, key: str, upload_id: str, etag: str) -> str:
    try:
        admin.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
        return "ok"
    except ClientError as exc:
        return str(exc.response["Error"]["Code"])


def test_one_complete_wins_a_race(clients: Clients, admin: Any, bucket: str) -> None:
    """Four completes of one upload at once make one object. Those that come while it is being made are told
    NoSuchUpload; one that comes after it is made is answered with it, as S3 answers a repeated complete."""
    import sqlite3
    for round_ in range(3):
        key = f"race-{round_}"
        up = admin.create_multipart_upload(Bucket=bucket, Key=key)
        part = admin.upload_part(Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=1, Body=b"only part")
        with ThreadPoolExecutor(4) as pool:
            outcomes = sorted(pool.map(lambda _, k=key, u=up["UploadId"], e=part["ETag"]: _complete(admin, bucket, k, u, e),
                                       range(4)))
        assert "ok" in outcomes and set(outcomes) <= {"ok", "NoSuchUpload"}, outcomes
        assert admin.get_object(Bucket=bucket, Key=key)["Body"].read() == b"only part"
        db = sqlite3.connect(clients.system.data_dir / "s3" / "objects.db")
        made = db.execute("SELECT count(*) FROM events WHERE bucket=? AND key=? AND kind=?",
                          (bucket, key, "ObjectCreated:CompleteMultipartUpload")).fetchone()[0]
        db.close()
        assert made == 1


@pytest.mark.parametrize("api", ["v2", "v1"])
def test_delimiter_pagination_ends(admin: Any, bucket: str, api: str) -> None:
    keys = ["L/a/1", "L/a/2", "L/a/3", "L/b", "L/c/1", "L/c/2", "L/d"]
    for k in keys:
        admin.put_object(Bucket=bucket, Key=k, Body=b"")
    seen, kw, pages = [], {}, 0
    while pages < 20:
        pages += 1
        if api == "v2":
            r = admin.list_objects_v2(Bucket=bucket, Prefix="L/", Delimiter="/", MaxKeys=1, **kw)
            kw = {"ContinuationToken": r.get("NextContinuationToken")}
        else:
            r = admin.list_objects(Bucket=bucket, Prefix="L/", Delimiter="/", MaxKeys=1, **kw)
            kw = {"Marker": r.get("NextMarker")}
        seen += [p["Prefix"] for p in r.get("CommonPrefixes", [])] + [o["Key"] for o in r.get("Contents", [])]
        if not r["IsTruncated"]:
            break
    assert seen == ["L/a/", "L/b", "L/c/", "L/d"] and pages == 4


def test_ranges_of_a_single_part_object_pass_botocores_checksum_check(admin: Any, bucket: str) -> None:
    admin.put_object(Bucket=bucket, Key="small", Body=b"hello world")
    for rng, want in (("bytes=0-0", b"h"), ("bytes=3-", b"lo world"), ("bytes=-5", b"world")):
        r = admin.get_object(Bucket=bucket, Key="small", Range=rng)
        assert r["Body"].read() == want and "ChecksumCRC32" not in r
    assert admin.get_object(Bucket=bucket, Key="small", ChecksumMode="ENABLED")["ChecksumCRC32"]
    for ignored in ("bytes=1_0-", "bytes=5-2", "bytes=--5", "items=0-1", "bytes=0-1,3-4"):
        r = admin.get_object(Bucket=bucket, Key="small", Range=ignored)
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 200 and r["Body"].read() == b"hello world", ignored


def test_if_match_star_and_conditional_puts(admin: Any, bucket: str) -> None:
    etag = admin.put_object(Bucket=bucket, Key="cond", Body=b"v1")["ETag"]
    assert admin.get_object(Bucket=bucket, Key="cond", IfMatch="*")["Body"].read() == b"v1"
    assert admin.head_object(Bucket=bucket, Key="cond", IfMatch="*")["ETag"] == etag
    with pytest.raises(ClientError) as exc:
        admin.put_object(Bucket=bucket, Key="cond", Body=b"v2", IfNoneMatch="*")
    assert error_code(exc) == "PreconditionFailed"
    with pytest.raises(ClientError) as exc:
        admin.put_object(Bucket=bucket, Key="cond", Body=b"v2", IfMatch='"0000"')
    assert error_code(exc) == "PreconditionFailed"
    admin.put_object(Bucket=bucket, Key="cond", Body=b"v2", IfMatch=etag)
    admin.put_object(Bucket=bucket, Key="fresh-cond", Body=b"new", IfNoneMatch="*")
    assert admin.get_object(Bucket=bucket, Key="cond")["Body"].read() == b"v2"


def test_standard_headers_are_kept_and_overridable(clients: Clients, admin: Any, bucket: str) -> None:
    import gzip
    admin.put_object(Bucket=bucket, Key="doc.html.gz", Body=gzip.compress(b"<p>hi</p>"), ContentType="text/html",
                     CacheControl="max-age=60", ContentDisposition='attachment; filename="a.html"',
                     ContentEncoding="gzip", ContentLanguage="en", Expires="Thu, 01 Dec 2039 16:00:00 GMT")
    h = admin.head_object(Bucket=bucket, Key="doc.html.gz")
    assert (h["CacheControl"], h["ContentDisposition"], h["ContentEncoding"], h["ContentLanguage"]) == \
        ("max-age=60", 'attachment; filename="a.html"', "gzip", "en")
    url = admin.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "doc.html.gz",
                                                             "ResponseContentType": "text/plain",
                                                             "ResponseContentDisposition": "inline"})
    r = clients.http.get(url)
    assert r.headers["content-type"] == "text/plain" and r.headers["content-disposition"] == "inline"
    assert r.text == "<p>hi</p>"  # stored gzip, served with its Content-Encoding
    admin.copy_object(Bucket=bucket, Key="copied.gz", CopySource={"Bucket": bucket, "Key": "doc.html.gz"})
    assert admin.head_object(Bucket=bucket, Key="copied.gz")["CacheControl"] == "max-age=60"


def test_part_numbers_and_upload_listing_pages(admin: Any, bucket: str) -> None:
    up = admin.create_multipart_upload(Bucket=bucket, Key="parts")
    sizes = [5 * 1024 * 1024, 100]
    etags = [admin.upload_part(Bucket=bucket, Key="parts", UploadId=up["UploadId"], PartNumber=i + 1,
                               Body=os.urandom(n))["ETag"] for i, n in enumerate(sizes)]
    admin.complete_multipart_upload(Bucket=bucket, Key="parts", UploadId=up["UploadId"], MultipartUpload={
        "Parts": [{"PartNumber": i + 1, "ETag": e} for i, e in enumerate(etags)]})
    second = admin.head_object(Bucket=bucket, Key="parts", PartNumber=2)
    assert second["ContentLength"] == 100 and second["PartsCount"] == 2
    assert second["ResponseMetadata"]["HTTPStatusCode"] == 206
    with pytest.raises(ClientError) as exc:
        admin.get_object(Bucket=bucket, Key="parts", PartNumber=3)
    assert error_code(exc) == "InvalidPartNumber"
    ids = [admin.create_multipart_upload(Bucket=bucket, Key=f"pending/{i}")["UploadId"] for i in range(3)]
    seen, kw = [], {}
    while True:
        r = admin.list_multipart_uploads(Bucket=bucket, Prefix="pending/", MaxUploads=2, **kw)
        seen += [u["UploadId"] for u in r.get("Uploads", [])]
        if not r["IsTruncated"]:
            break
        kw = {"KeyMarker": r["NextKeyMarker"], "UploadIdMarker": r["NextUploadIdMarker"]}
    assert sorted(seen) == sorted(ids)
    with pytest.raises(ClientError) as exc:
        admin.list_parts(Bucket=bucket, Key="pending/0", UploadId=ids[0], MaxParts=-1)
    assert error_code(exc) == "InvalidArgument"


def test_delete_objects_checks_its_checksum(admin: Any, bucket: str) -> None:
    admin.put_object(Bucket=bucket, Key="keep-me", Body=b"x")

    def corrupt(request: Any, **_: Any) -> None:
        for name in list(request.headers.keys()):
            if name.lower().startswith("x-amz-checksum-"):
                request.headers.replace_header(name, "AAAAAA==")
    admin.meta.events.register("before-sign.s3.DeleteObjects", corrupt)
    try:
        with pytest.raises(ClientError) as exc:
            admin.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "keep-me"}]})
        assert error_code(exc) == "BadDigest"
    finally:
        admin.meta.events.unregister("before-sign.s3.DeleteObjects", corrupt)
    assert admin.get_object(Bucket=bucket, Key="keep-me")["Body"].read() == b"x"


def test_handlers_and_s3_clients_share_a_bucket(clients: Clients) -> None:
    other = clients.ep["apps"]["other"]
    r = clients.http.put(other["api"] + "/notes/hello", json={"text": "written by a handler"})
    assert r.status_code == 200, r.text
    got = clients.s3().get_object(Bucket=other["buckets"]["notes"], Key="notes/hello.txt")
    assert got["Body"].read() == b"written by a handler" and got["Metadata"] == {"via": "handler"}
    clients.s3().put_object(Bucket=other["buckets"]["notes"], Key="notes/from-s3.txt", Body=b"written over S3",
                            ContentType="text/plain")
    assert clients.http.get(other["api"] + "/notes/from-s3").text == "written over S3"
    assert clients.http.get(other["api"] + "/notes/missing").status_code == 404


def test_request_ids_are_unique_and_shaped_like_s3s(admin: Any, bucket: str) -> None:
    import re
    ids = [admin.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPHeaders"]["x-amz-request-id"] for _ in range(5)]
    assert len(set(ids)) == 5 and all(re.fullmatch(r"[0-9A-F]{16}", i) for i in ids)
