"""MyTodoList's files: identity-pool credentials, and each user confined to their own folder in S3.

Real clients only: boto3's cognito-identity and s3, the AWS CLI, and plain HTTPS for presigned URLs.
"""

from __future__ import annotations

import hashlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.conftest import TODO, Clients, User, denied, error_code, start, trust


def test_identity_ids_are_stable_and_credentials_well_formed(clients: Clients, eve: User, eve_id: dict[str, Any]) -> None:
    again = clients.identity(eve)
    assert again["identity_id"] == eve_id["identity_id"]
    region, _, rest = eve_id["identity_id"].partition(":")
    assert region == clients.ep["region"] and len(rest) == 36
    assert eve_id["AccessKeyId"].startswith("ASIA") and len(eve_id["SecretKey"]) == 40 and eve_id["SessionToken"]
    assert eve_id["AccessKeyId"] != again["AccessKeyId"]
    left = eve_id["Expiration"].timestamp() - time.time()
    assert 3500 < left <= 3601


def test_identity_pool_errors(clients: Clients, eve: User, frank_id: dict[str, Any]) -> None:
    ci = boto3.client("cognito-identity", endpoint_url=clients.ep["aws_endpoint"], region_name=clients.ep["region"],
                      verify=clients.ep["ca_file"])
    pool = clients.app["identity_pool_id"]
    provider = next(iter(frank_id["logins"]))
    denied(lambda: ci.get_id(IdentityPoolId=pool), "NotAuthorizedException")
    denied(lambda: ci.get_id(IdentityPoolId=pool, Logins={provider: eve.access}), "NotAuthorizedException")
    denied(lambda: ci.get_id(IdentityPoolId=pool, Logins={provider: "garbage"}), "NotAuthorizedException")
    denied(lambda: ci.get_id(IdentityPoolId=pool, Logins={"accounts.google.com": eve.id}), "NotAuthorizedException")
    denied(lambda: ci.get_id(IdentityPoolId="us-east-1:00000000-0000-0000-0000-000000000000",
                             Logins={provider: eve.id}), "ResourceNotFoundException")
    # eve's token does not open frank's identity
    denied(lambda: ci.get_credentials_for_identity(IdentityId=frank_id["identity_id"], Logins={provider: eve.id}),
           "NotAuthorizedException")
    token = ci.get_open_id_token(IdentityId=frank_id["identity_id"], Logins=frank_id["logins"])
    assert token["IdentityId"] == frank_id["identity_id"] and token["Token"].count(".") == 2


def test_own_folder_round_trip(clients: Clients, eve_id: dict[str, Any], bucket: str) -> None:
    s3 = clients.s3(eve_id)
    me = eve_id["identity_id"]
    r = s3.put_object(Bucket=bucket, Key=f"{me}/notes/a.txt", Body=b"hello", ContentType="text/plain",
                      Metadata={"colour": "blue"})
    assert r["ETag"] == f'"{hashlib.md5(b"hello").hexdigest()}"'
    got = s3.get_object(Bucket=bucket, Key=f"{me}/notes/a.txt")
    assert got["Body"].read() == b"hello" and got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"colour": "blue"} and got["ETag"] == r["ETag"]
    head = s3.head_object(Bucket=bucket, Key=f"{me}/notes/a.txt")
    assert head["ContentLength"] == 5
    s3.copy_object(Bucket=bucket, Key=f"{me}/notes/b.txt", CopySource={"Bucket": bucket, "Key": f"{me}/notes/a.txt"})
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=f"{me}/")
    assert [o["Key"] for o in listing["Contents"]] == [f"{me}/notes/a.txt", f"{me}/notes/b.txt"]
    folders = s3.list_objects_v2(Bucket=bucket, Prefix=f"{me}/", Delimiter="/")
    assert folders["CommonPrefixes"] == [{"Prefix": f"{me}/notes/"}] and "Contents" not in folders
    s3.delete_object(Bucket=bucket, Key=f"{me}/notes/b.txt")
    # gone: 403 AccessDenied, as S3 answers a reader without s3:ListBucket (theirs needs an s3:prefix, which a read
    # does not carry), so nobody learns by a 404 which keys exist
    denied(lambda: s3.head_object(Bucket=bucket, Key=f"{me}/notes/b.txt"), "403")
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key=f"{me}/notes/b.txt")
    assert error_code(exc) == "AccessDenied"


def test_large_multipart_upload_and_ranges(clients: Clients, eve_id: dict[str, Any], bucket: str, tmp_path: Path) -> None:
    data = os.urandom(21 * 1024 * 1024)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    s3 = clients.s3(eve_id)
    key = f"{eve_id['identity_id']}/big.bin"
    s3.upload_file(str(src), bucket, key, Config=TransferConfig(multipart_threshold=8 * 1024 * 1024,
                                                                multipart_chunksize=8 * 1024 * 1024))
    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == len(data) and head["ETag"].endswith('-3"')
    parts = [data[i:i + 8 * 1024 * 1024] for i in range(0, len(data), 8 * 1024 * 1024)]
    want = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert head["ETag"] == f'"{want}-3"'
    out = tmp_path / "back.bin"
    s3.download_file(bucket, key, str(out))
    assert hashlib.sha256(out.read_bytes()).digest() == hashlib.sha256(data).digest()
    for rng, expect in (("bytes=0-9", data[:10]), ("bytes=8388600-8388700", data[8388600:8388701]),
                        ("bytes=-100", data[-100:]), (f"bytes={len(data) - 5}-", data[-5:])):
        r = s3.get_object(Bucket=bucket, Key=key, Range=rng)
        assert r["Body"].read() == expect and r["ResponseMetadata"]["HTTPStatusCode"] == 206
    denied(lambda: s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={len(data)}-"), "InvalidRange")


def test_multipart_api_directly(clients: Clients, eve_id: dict[str, Any], bucket: str) -> None:
    s3 = clients.s3(eve_id)
    key = f"{eve_id['identity_id']}/mp.bin"
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, ContentType="application/x-test")
    part1 = s3.upload_part(Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=1, Body=b"a" * (5 * 1024 * 1024))
    part2 = s3.upload_part(Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=2, Body=b"tail")
    # the role grants no s3:ListMultipartUploadParts, so (as on AWS) only the admin may list parts
    denied(lambda: s3.list_parts(Bucket=bucket, Key=key, UploadId=up["UploadId"]))
    parts = clients.s3().list_parts(Bucket=bucket, Key=key, UploadId=up["UploadId"])["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, 5 * 1024 * 1024), (2, 4)]
    denied(lambda: s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up["UploadId"], MultipartUpload={
        "Parts": [{"PartNumber": 2, "ETag": part2["ETag"]}, {"PartNumber": 1, "ETag": part1["ETag"]}]}),
        "InvalidPartOrder")
    denied(lambda: s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up["UploadId"], MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": '"0000"'}]}), "InvalidPart")
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up["UploadId"], MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part1["ETag"]}, {"PartNumber": 2, "ETag": part2["ETag"]}]})
    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["ContentLength"] == 5 * 1024 * 1024 + 4 and got["ContentType"] == "application/x-test"
    small = s3.create_multipart_upload(Bucket=bucket, Key=key + ".small")
    p1 = s3.upload_part(Bucket=bucket, Key=key + ".small", UploadId=small["UploadId"], PartNumber=1, Body=b"x")
    p2 = s3.upload_part(Bucket=bucket, Key=key + ".small", UploadId=small["UploadId"], PartNumber=2, Body=b"y")
    denied(lambda: s3.complete_multipart_upload(Bucket=bucket, Key=key + ".small", UploadId=small["UploadId"],
                                                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1["ETag"]},
                                                                           {"PartNumber": 2, "ETag": p2["ETag"]}]}),
           "EntityTooSmall")
    denied(lambda: s3.abort_multipart_upload(Bucket=bucket, Key=key + ".small", UploadId=small["UploadId"]))
    admin = clients.s3()
    assert [u["Key"] for u in admin.list_multipart_uploads(Bucket=bucket, Prefix=key)["Uploads"]] == [key + ".small"]
    admin.abort_multipart_upload(Bucket=bucket, Key=key + ".small", UploadId=small["UploadId"])
    denied(lambda: admin.list_parts(Bucket=bucket, Key=key + ".small", UploadId=small["UploadId"]), "NoSuchUpload")


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256"])
def test_checksums_are_checked_and_returned(clients: Clients, eve_id: dict[str, Any], bucket: str, algorithm: str) -> None:
    import base64
    import zlib

    import crc32c
    s3 = clients.s3(eve_id)
    key = f"{eve_id['identity_id']}/sum-{algorithm}"
    body = b"checksummed body"
    value = base64.b64encode({"CRC32": lambda b: zlib.crc32(b).to_bytes(4, "big"),
                              "CRC32C": lambda b: crc32c.crc32c(b).to_bytes(4, "big"),
                              "SHA1": lambda b: hashlib.sha1(b).digest(),
                              "SHA256": lambda b: hashlib.sha256(b).digest()}[algorithm](body)).decode()
    # given up front (botocore computes CRC32C only with its optional CRT extra, so the test computes all four)
    put = s3.put_object(Bucket=bucket, Key=key, Body=body, **{f"Checksum{algorithm}": value})
    assert put[f"Checksum{algorithm}"] == value
    if algorithm != "CRC32C":  # and computed by botocore, sent as an aws-chunked trailer
        again = s3.put_object(Bucket=bucket, Key=key, Body=body, ChecksumAlgorithm=algorithm)
        assert again[f"Checksum{algorithm}"] == value
    head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    assert head[f"Checksum{algorithm}"] == value
    wrong = {"CRC32": "AAAAAA==", "CRC32C": "AAAAAA==", "SHA1": "A" * 27 + "=", "SHA256": "A" * 43 + "="}[algorithm]
    denied(lambda: s3.put_object(Bucket=bucket, Key=key, Body=b"checksummed body", **{f"Checksum{algorithm}": wrong}),
           "BadDigest")


def test_listing_pages_and_encoding(clients: Clients, eve_id: dict[str, Any], bucket: str) -> None:
    s3 = clients.s3(eve_id)
    me = eve_id["identity_id"]
    keys = [f"{me}/list/{n}" for n in ("a", "b", "c d", "dir/x", "dir/y", "é")]
    for k in keys:
        s3.put_object(Bucket=bucket, Key=k, Body=b"")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{me}/list/",
                                                          PaginationConfig={"PageSize": 2})
    seen = [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert seen == sorted(keys, key=lambda k: k.encode())
    r = s3.list_objects_v2(Bucket=bucket, Prefix=f"{me}/list/", Delimiter="/", StartAfter=f"{me}/list/b")
    assert [o["Key"] for o in r["Contents"]] == [f"{me}/list/c d", f"{me}/list/é"]
    assert r["CommonPrefixes"] == [{"Prefix": f"{me}/list/dir/"}]
    v1 = s3.list_objects(Bucket=bucket, Prefix=f"{me}/list/", MaxKeys=3)
    assert len(v1["Contents"]) == 3 and v1["IsTruncated"]
    raw = clients.http.get(s3.generate_presigned_url("list_objects_v2", Params={
        "Bucket": bucket, "Prefix": f"{me}/list/c", "EncodingType": "url"}))
    assert raw.status_code == 200 and "<Key>" + me.replace(":", "%3A") + "/list/c%20d</Key>" in raw.text
    denied(lambda: s3.list_objects_v2(Bucket=bucket, Prefix=f"{me}/", ContinuationToken="!!!"), "InvalidArgument")


def test_conditional_requests(clients: Clients, eve_id: dict[str, Any], bucket: str) -> None:
    s3 = clients.s3(eve_id)
    key = f"{eve_id['identity_id']}/cond.txt"
    etag = s3.put_object(Bucket=bucket, Key=key, Body=b"v1")["ETag"]
    assert s3.get_object(Bucket=bucket, Key=key, IfMatch=etag)["Body"].read() == b"v1"
    denied(lambda: s3.get_object(Bucket=bucket, Key=key, IfMatch='"nope"'), "PreconditionFailed")
    denied(lambda: s3.get_object(Bucket=bucket, Key=key, IfNoneMatch=etag), "304")
    import datetime as dt
    future = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    denied(lambda: s3.get_object(Bucket=bucket, Key=key, IfModifiedSince=future), "304")


def test_credentials_and_presigned_urls_expire(clocked: Clients) -> None:
    u = clocked.user()
    ident = clocked.identity(u)
    s3 = clocked.s3(ident)
    bucket = clocked.app["buckets"]["files"]
    key = f"{ident['identity_id']}/soon.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"while it lasts")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=600)
    assert clocked.http.get(url).content == b"while it lasts"
    cli = subprocess.run(["aws", "s3", "presign", f"s3://{bucket}/{key}", "--expires-in", "300",
                          "--endpoint-url", clocked.ep["aws_endpoint"], "--region", clocked.ep["region"]],
                         capture_output=True, text=True, env=_cli_env(ident), timeout=60)
    assert cli.returncode == 0, cli.stderr
    # botocore signs with the real time, the server reads its manual clock, which stood still since it started:
    # move it just past the URL's expiry (the real time now + 600 s, at least), within the 15 minutes of skew
    clocked.advance_to(time.time() + 601)
    expired = clocked.http.get(url)
    assert expired.status_code == 403 and "Request has expired" in expired.text
    clocked.advance(3000)
    denied(lambda: s3.get_object(Bucket=bucket, Key=key), "ExpiredToken")


def _cli_env(ident: dict[str, Any]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": ident["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": ident["SecretKey"],
                "AWS_SESSION_TOKEN": ident["SessionToken"], "AWS_CONFIG_FILE": "/dev/null",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"})
    return env


def test_aws_cli_cp_ls_presign(clients: Clients, eve_id: dict[str, Any], bucket: str, tmp_path: Path) -> None:
    data = os.urandom(22 * 1024 * 1024)
    (tmp_path / "up.bin").write_bytes(data)
    base = ["aws", "--endpoint-url", clients.ep["aws_endpoint"], "--ca-bundle", clients.ep["ca_file"],
            "--region", clients.ep["region"]]
    env = _cli_env(eve_id)
    me = eve_id["identity_id"]

    def aws(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*base, *args], capture_output=True, text=True, env=env, timeout=120)
    up = aws("s3", "cp", str(tmp_path / "up.bin"), f"s3://{bucket}/{me}/cli/up.bin")
    assert up.returncode == 0, up.stderr
    ls = aws("s3", "ls", f"s3://{bucket}/{me}/cli/")
    assert ls.returncode == 0 and "up.bin" in ls.stdout and str(len(data)) in ls.stdout, ls.stderr
    down = aws("s3", "cp", f"s3://{bucket}/{me}/cli/up.bin", str(tmp_path / "down.bin"))
    assert down.returncode == 0 and (tmp_path / "down.bin").read_bytes() == data, down.stderr
    refused = aws("s3", "ls", f"s3://{bucket}/")
    assert refused.returncode != 0 and "AccessDenied" in refused.stderr
    presign = aws("s3", "presign", f"s3://{bucket}/{me}/cli/up.bin", "--expires-in", "60")
    assert presign.returncode == 0
    got = httpx.get(presign.stdout.strip(), verify=trust(clients.ep), headers={"range": "bytes=0-99"})
    assert got.status_code == 206 and got.content == data[:100]


def test_admin_has_full_access_and_events_are_recorded(clients: Clients, bucket: str) -> None:
    admin = clients.s3()
    assert bucket in [b["Name"] for b in admin.list_buckets()["Buckets"]]
    name = f"admin-{os.getpid()}-{int(time.time() * 1000)}"
    admin.create_bucket(Bucket=name)
    admin.put_object(Bucket=name, Key="k", Body=b"v")
    admin.create_bucket(Bucket=name)  # in us-east-1 S3 answers its owner's repeat with 200, and keeps what is in it
    assert admin.get_object(Bucket=name, Key="k")["Body"].read() == b"v"
    denied(lambda: admin.delete_bucket(Bucket=name), "BucketNotEmpty")
    admin.delete_object(Bucket=name, Key="k")
    admin.delete_bucket(Bucket=name)
    denied(lambda: admin.head_bucket(Bucket=name), "404")
    denied(lambda: admin.create_bucket(Bucket="Bad_Name"), "InvalidBucketName")
    db = sqlite3.connect(clients.system.data_dir / "s3" / "objects.db")
    kinds = [k for (k,) in db.execute("SELECT kind FROM events WHERE bucket=? ORDER BY seq", (name,))]
    assert kinds == ["ObjectCreated:Put", "ObjectRemoved:Delete"]


def test_unsupported_subresources_are_named(clients: Clients, bucket: str) -> None:
    denied(lambda: clients.s3().get_bucket_notification_configuration(Bucket=bucket), "NotImplemented")
    with pytest.raises(ClientError) as exc:
        clients.s3().get_bucket_website(Bucket=bucket)
    assert "website" in exc.value.response["Error"]["Message"]


def test_sigkill_mid_upload_leaves_no_partial_object(tmp_path: Path) -> None:
    s = start(tmp_path, TODO)
    c = Clients(s)
    bucket = c.app["buckets"]["files"]
    s3 = c.s3()
    kept = b"kept" * 40_000  # a file of its own (160 KB); a small object lives in the database with its row
    s3.put_object(Bucket=bucket, Key="before.txt", Body=kept)
    s3.put_object(Bucket=bucket, Key="small.txt", Body=b"small")
    stop = threading.Event()

    def endless() -> Any:  # a body that keeps coming until the server dies under it
        while not stop.is_set():
            yield os.urandom(256 * 1024)
    errors: list[BaseException] = []

    def upload() -> None:
        try:
            c.http.put(s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "partial.bin"}),
                       content=endless(), timeout=30)
        except BaseException as exc:  # the connection dies with the server
            errors.append(exc)
    t = threading.Thread(target=upload)
    t.start()
    tmp = tmp_path / "s3" / "tmp"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not any(f.stat().st_size > 2 * 1024 * 1024 for f in tmp.glob("*")):
        time.sleep(0.05)
    assert any(tmp.glob("*")), "the upload never reached the server"
    os.kill(s.proc.pid, signal.SIGKILL)
    s.proc.wait(10)
    stop.set()
    t.join(30)
    s2 = start(tmp_path, TODO, port=s.port)
    try:
        s3b = Clients(s2).s3()
        denied(lambda: s3b.head_object(Bucket=bucket, Key="partial.bin"), "404")
        assert s3b.get_object(Bucket=bucket, Key="before.txt")["Body"].read() == kept
        assert s3b.get_object(Bucket=bucket, Key="small.txt")["Body"].read() == b"small"
        assert [o["Key"] for o in s3b.list_objects_v2(Bucket=bucket)["Contents"]] == ["before.txt", "small.txt"]
        assert not list(tmp.glob("*")), "a temporary file survived the restart"
        blobs = [p for p in (tmp_path / "s3" / "blobs").rglob("*") if p.is_file()]
        assert len(blobs) == 1  # only before.txt's
        s3b.put_object(Bucket=bucket, Key="after.txt", Body=b"works")
    finally:
        s2.stop()


def test_endpoints_document_the_new_keys(clients: Clients) -> None:
    ep = clients.ep
    assert set(ep["admin_credentials"]) == {"access_key_id", "secret_access_key"}
    assert clients.app["identity_pool_id"].startswith(ep["region"] + ":")
    assert clients.app["buckets"]["files"].startswith("todo-files-")
    mode = (clients.system.data_dir / "admin-credentials.json").stat().st_mode
    assert mode & 0o077 == 0


def test_cli_is_installed() -> None:
    assert subprocess.run([sys.executable, "-m", "awscli", "--version"], capture_output=True).returncode == 0


def test_signed_streaming_chunks(clients: Clients, eve_id: dict[str, Any], bucket: str) -> None:
    """With payload signing on, botocore signs the body too (its sha256), and the endpoint checks it."""
    s3 = clients.s3(eve_id, s3={"addressing_style": "path", "payload_signing_enabled": True})
    key = f"{eve_id['identity_id']}/signed-chunks.bin"
    body = os.urandom(300 * 1024)
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body




def test_sigkill_loses_no_acknowledged_small_write(tmp_path: Path) -> None:
    """Small objects live in the database (no file, no fsync of their own): a SIGKILL in the middle of a stream of
    PUTs loses none that was answered, and leaves none half written."""
    s = start(tmp_path, TODO)
    c = Clients(s)
    bucket = c.app["buckets"]["files"]
    acked: dict[str, bytes] = {}
    stop = threading.Event()

    def writer(n: int) -> None:
        s3 = c.s3(retries={"max_attempts": 1})
        i = 0
        while not stop.is_set():
            key, body = f"w{n}/{i}", os.urandom(1 + (i * 37) % 4000)
            try:
                s3.put_object(Bucket=bucket, Key=key, Body=body)
            except Exception:  # the server died under this one: not acknowledged
                return
            acked[key] = body
            i += 1
    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acked) < 150 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(s.proc.pid, signal.SIGKILL)
    s.proc.wait(10)
    stop.set()
    for t in threads:
        t.join(30)
    assert len(acked) >= 150
    s2 = start(tmp_path, TODO, port=s.port)
    try:
        s3 = Clients(s2).s3()
        for key, body in acked.items():
            assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body, key
        listed = {o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                  for o in p.get("Contents", [])}
        assert set(acked) <= listed and len(listed - set(acked)) <= 4  # at most one in flight per writer
        for key in listed - set(acked):  # committed but unanswered: whole, never cut
            assert s3.get_object(Bucket=bucket, Key=key)["ContentLength"] > 0
    finally:
        s2.stop()
