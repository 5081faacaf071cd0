"""S3 as its everyday clients use it, against S3's documented behaviour: boto3 and the AWS CLI with the admin's
credentials, on buckets of their own (listings at the root, versions of unversioned buckets, deleting buckets,
presigned URLs out of range, metadata, empty continuation tokens)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import Clients, code, trust

KEYS = ["foo/bar", "foo/bar/xyzzy", "quux/thud", "asdf"]


@pytest.fixture(scope="module")
def admin(clients: Clients) -> Any:
    return clients.s3()


@pytest.fixture
def new_bucket(admin: Any, request: pytest.FixtureRequest) -> Callable[..., str]:
    """Make a fresh bucket holding ``keys`` (each holding its own name)."""
    made = 0

    def make(keys: list[str] = KEYS) -> str:
        nonlocal made
        made += 1
        name = f"cl-{os.getpid()}-{abs(hash(request.node.name)) % 10**8}-{made}"
        admin.create_bucket(Bucket=name)
        for k in keys:
            admin.put_object(Bucket=name, Key=k, Body=k.encode())
        return name
    return make


def listed(page: dict[str, Any]) -> tuple[list[str], list[str]]:
    return ([o["Key"] for o in page.get("Contents", page.get("Versions", []))],
            [p["Prefix"] for p in page.get("CommonPrefixes", [])])


# -- listings

def test_a_delimiter_at_the_root_lists_objects_and_prefixes(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    assert listed(admin.list_objects_v2(Bucket=b, Delimiter="/")) == (["asdf"], ["foo/", "quux/"])
    assert listed(admin.list_objects(Bucket=b, Delimiter="/")) == (["asdf"], ["foo/", "quux/"])
    assert listed(admin.list_objects_v2(Bucket=b, Delimiter="a")) == (["quux/thud"], ["a", "foo/ba"])
    assert listed(admin.list_objects(Bucket=b, Delimiter="a")) == (["quux/thud"], ["a", "foo/ba"])
    assert listed(admin.list_objects_v2(Bucket=b, Delimiter="/", Prefix="foo/")) == (["foo/bar"], ["foo/bar/"])
    pages = [listed(p) for p in admin.get_paginator("list_objects_v2").paginate(
        Bucket=b, Delimiter="/", PaginationConfig={"PageSize": 1})]
    assert pages == [(["asdf"], []), ([], ["foo/"]), ([], ["quux/"])]
    v1 = [listed(p) for p in admin.get_paginator("list_objects").paginate(
        Bucket=b, Delimiter="/", PaginationConfig={"PageSize": 2})]
    assert v1 == [(["asdf"], ["foo/"]), ([], ["quux/"])]


def test_an_empty_continuation_token_starts_at_the_beginning(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    page = admin.list_objects_v2(Bucket=b, ContinuationToken="")
    assert page["ContinuationToken"] == "" and not page["IsTruncated"] and listed(page)[0] == sorted(KEYS)
    assert code(lambda: admin.list_objects_v2(Bucket=b, ContinuationToken="not a token")) == ("InvalidArgument", 400)


def test_the_cli_lists_the_root_of_a_bucket(clients: Clients, new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    ls = _cli(clients, "s3", "ls", f"s3://{b}/")
    assert ls.returncode == 0, ls.stderr
    lines = sorted(line.split()[-1] for line in ls.stdout.splitlines())
    assert lines == ["asdf", "foo/", "quux/"]


# -- versions of unversioned buckets

def test_list_object_versions_of_a_bucket_never_versioned(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    page = admin.list_object_versions(Bucket=b)
    assert [(v["Key"], v["VersionId"], v["IsLatest"], v["Size"]) for v in page["Versions"]] == \
        [(k, "null", True, len(k)) for k in sorted(KEYS)]
    assert "DeleteMarkers" not in page and not page["IsTruncated"]
    assert listed(admin.list_object_versions(Bucket=b, Delimiter="/")) == (["asdf"], ["foo/", "quux/"])
    first = admin.list_object_versions(Bucket=b, MaxKeys=2)
    assert first["IsTruncated"] and (first["NextKeyMarker"], first["NextVersionIdMarker"]) == ("foo/bar", "null")
    pages = admin.get_paginator("list_object_versions").paginate(Bucket=b, PaginationConfig={"PageSize": 1})
    assert [v["Key"] for p in pages for v in p["Versions"]] == sorted(KEYS)
    assert admin.get_bucket_versioning(Bucket=b).get("Status") is None
    assert code(lambda: admin.list_object_versions(Bucket=b, VersionIdMarker="null")) == ("InvalidArgument", 400)
    assert code(lambda: admin.list_object_versions(Bucket="no-such-bucket-here")) == ("NoSuchBucket", 404)


def test_the_null_version_is_the_object(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    got = admin.get_object(Bucket=b, Key="asdf", VersionId="null")
    assert got["Body"].read() == b"asdf" and got["VersionId"] == "null"
    assert admin.head_object(Bucket=b, Key="asdf", VersionId="null")["ContentLength"] == 4
    assert code(lambda: admin.get_object(Bucket=b, Key="asdf", VersionId="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY")) == \
        ("NoSuchVersion", 404)
    assert admin.delete_object(Bucket=b, Key="asdf", VersionId="null")["VersionId"] == "null"
    assert code(lambda: admin.head_object(Bucket=b, Key="asdf")) == ("404", 404)
    objects = [{"Key": "foo/bar", "VersionId": "null"}, {"Key": "quux/thud", "VersionId": "nope"}]
    for _ in range(2):  # deleting a version is idempotent, as in S3: a version not there is deleted already
        out = admin.delete_objects(Bucket=b, Delete={"Objects": objects})
        assert out["Deleted"] == objects and "Errors" not in out
    assert listed(admin.list_objects_v2(Bucket=b))[0] == ["foo/bar/xyzzy", "quux/thud"]


# -- versioning

def versions(admin: Any, b: str, **kw: Any) -> list[tuple[str, str, bool, bool]]:
    """(key, version id, is latest, is a delete marker) in S3's order, every page."""
    out = []
    for page in admin.get_paginator("list_object_versions").paginate(Bucket=b, **kw):
        rows = [(v, False) for v in page.get("Versions", [])] + [(m, True) for m in page.get("DeleteMarkers", [])]
        # botocore splits one ordered list in two: put them back in S3's order (key, then newest first)
        rows.sort(key=lambda r: (r[0]["Key"], -r[0]["LastModified"].timestamp()))
        out += [(r["Key"], r["VersionId"], r["IsLatest"], marker) for r, marker in rows]
    return out


def test_a_versioned_bucket_keeps_every_version_and_marks_deletes(admin: Any,
                                                                  new_bucket: Callable[..., str]) -> None:
    b = new_bucket([])
    assert admin.get_bucket_versioning(Bucket=b).get("Status") is None
    admin.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    assert admin.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    v1 = admin.put_object(Bucket=b, Key="doc", Body=b"one")["VersionId"]
    v2 = admin.put_object(Bucket=b, Key="doc", Body=b"two")["VersionId"]
    assert v1 != v2 and len(v1) == 32 and "null" not in (v1, v2)
    got = admin.get_object(Bucket=b, Key="doc")
    assert got["Body"].read() == b"two" and got["VersionId"] == v2
    assert admin.get_object(Bucket=b, Key="doc", VersionId=v1)["Body"].read() == b"one"
    assert admin.head_object(Bucket=b, Key="doc", VersionId=v1)["ContentLength"] == 3
    assert versions(admin, b) == [("doc", v2, True, False), ("doc", v1, False, False)]

    gone = admin.delete_object(Bucket=b, Key="doc")  # a delete marker, the latest version
    marker = gone["VersionId"]
    assert gone["DeleteMarker"] is True and marker not in (v1, v2)
    with pytest.raises(ClientError) as exc:
        admin.get_object(Bucket=b, Key="doc")
    assert exc.value.response["Error"]["Code"] == "NoSuchKey"
    assert exc.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    assert code(lambda: admin.get_object(Bucket=b, Key="doc", VersionId=marker)) == ("MethodNotAllowed", 405)
    assert admin.list_objects_v2(Bucket=b)["KeyCount"] == 0
    assert versions(admin, b) == [("doc", marker, True, True), ("doc", v2, False, False), ("doc", v1, False, False)]
    assert admin.get_object(Bucket=b, Key="doc", VersionId=v2)["Body"].read() == b"two"  # still there

    undone = admin.delete_object(Bucket=b, Key="doc", VersionId=marker)  # deleting the marker undeletes
    assert undone["DeleteMarker"] is True and undone["VersionId"] == marker
    assert admin.get_object(Bucket=b, Key="doc")["Body"].read() == b"two"
    admin.delete_object(Bucket=b, Key="doc", VersionId=v2)  # the newest gone: the one before is current again
    got = admin.get_object(Bucket=b, Key="doc")
    assert got["Body"].read() == b"one" and got["VersionId"] == v1
    assert versions(admin, b) == [("doc", v1, True, False)]


def test_copies_restores_and_batch_deletes_name_versions(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket([])
    admin.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    v1 = admin.put_object(Bucket=b, Key="a", Body=b"first")["VersionId"]
    admin.put_object(Bucket=b, Key="a", Body=b"second")
    restored = admin.copy_object(Bucket=b, Key="a", CopySource={"Bucket": b, "Key": "a", "VersionId": v1})
    assert restored["CopySourceVersionId"] == v1 and restored["VersionId"] not in (v1, "null")
    assert admin.get_object(Bucket=b, Key="a")["Body"].read() == b"first"  # the old version restored on top
    assert len(versions(admin, b)) == 3
    out = admin.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "a"}, {"Key": "never"}]})
    assert all(d["DeleteMarker"] and d["DeleteMarkerVersionId"] for d in out["Deleted"])
    every = [{"Key": k, "VersionId": v} for k, v, _, _ in versions(admin, b)]
    assert len(every) == 5  # three versions of a, its marker, and the marker of a key that never was
    out = admin.delete_objects(Bucket=b, Delete={"Objects": every})
    assert len(out["Deleted"]) == 5 and sum(1 for d in out["Deleted"] if d.get("DeleteMarker")) == 2
    assert versions(admin, b) == []
    admin.delete_bucket(Bucket=b)


def test_suspended_versioning_writes_the_null_version(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket(["k"])  # written before versioning: the null version
    admin.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    v1 = admin.put_object(Bucket=b, Key="k", Body=b"v1")["VersionId"]
    assert versions(admin, b) == [("k", v1, True, False), ("k", "null", False, False)]
    admin.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    assert admin.get_bucket_versioning(Bucket=b)["Status"] == "Suspended"
    admin.put_object(Bucket=b, Key="k", Body=b"s1")  # replaces the old null version
    admin.put_object(Bucket=b, Key="k", Body=b"s2")
    assert versions(admin, b) == [("k", "null", True, False), ("k", v1, False, False)]
    assert admin.get_object(Bucket=b, Key="k", VersionId="null")["Body"].read() == b"s2"
    gone = admin.delete_object(Bucket=b, Key="k")  # a null delete marker, in place of the null version
    assert gone["DeleteMarker"] and gone["VersionId"] == "null"
    assert versions(admin, b) == [("k", "null", True, True), ("k", v1, False, False)]
    assert code(lambda: admin.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Off"}))[0] == \
        "MalformedXML"


def test_versions_page_by_key_and_version_markers(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket([])
    admin.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    made = {k: [admin.put_object(Bucket=b, Key=k, Body=str(i).encode())["VersionId"] for i in range(3)]
            for k in ("d/x", "d/y", "e", "f/z")}
    expected = [(k, v, i == 0, False) for k in sorted(made) for i, v in enumerate(reversed(made[k]))]
    assert versions(admin, b) == expected
    for size in (1, 2, 5):
        assert versions(admin, b, PaginationConfig={"PageSize": size}) == expected
    page = admin.list_object_versions(Bucket=b, MaxKeys=4)
    assert page["IsTruncated"] and (page["NextKeyMarker"], page["NextVersionIdMarker"]) == ("d/y", made["d/y"][2])
    rest = admin.list_object_versions(Bucket=b, KeyMarker="d/y", VersionIdMarker=made["d/y"][2])
    assert [(v["VersionId"], v["IsLatest"]) for v in rest["Versions"][:2]] == \
        [(made["d/y"][1], False), (made["d/y"][0], False)]
    assert listed(admin.list_object_versions(Bucket=b, Delimiter="/")) == (["e"] * 3, ["d/", "f/"])
    pages = [listed(p) for p in admin.get_paginator("list_object_versions").paginate(
        Bucket=b, Delimiter="/", PaginationConfig={"PageSize": 2})]
    assert pages == [(["e"], ["d/"]), (["e", "e"], []), ([], ["f/"])]
    assert code(lambda: admin.list_object_versions(Bucket=b, KeyMarker="e", VersionIdMarker="x" * 32)) == \
        ("InvalidArgument", 400)
    assert code(lambda: admin.delete_bucket(Bucket=b)) == ("BucketNotEmpty", 409)


def test_the_cli_empties_a_versioned_bucket_as_on_aws(clients: Clients, admin: Any,
                                                      new_bucket: Callable[..., str]) -> None:
    """`aws s3 rb --force` removes the current objects (leaving delete markers) and then cannot remove a bucket that
    still holds versions, on AWS as here; emptying it by its versions (what boto3's
    ``bucket.object_versions.delete()`` does) lets it go."""
    b = new_bucket([])
    admin.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    for i in range(30):
        admin.put_object(Bucket=b, Key=f"k/{i}", Body=b"1")
        admin.put_object(Bucket=b, Key=f"k/{i}", Body=b"2")
    rb = _cli(clients, "s3", "rb", f"s3://{b}", "--force")
    assert rb.returncode != 0 and "BucketNotEmpty" in rb.stderr, rb.stderr
    assert admin.list_objects_v2(Bucket=b)["KeyCount"] == 0 and len(versions(admin, b)) == 90
    import boto3
    resource = boto3.resource("s3", endpoint_url=clients.ep["aws_endpoint"], region_name=clients.ep["region"],
                              verify=clients.ep["ca_file"],
                              aws_access_key_id=clients.ep["admin_credentials"]["access_key_id"],
                              aws_secret_access_key=clients.ep["admin_credentials"]["secret_access_key"])
    resource.Bucket(b).object_versions.delete()
    rb = _cli(clients, "s3", "rb", f"s3://{b}")
    assert rb.returncode == 0, rb.stderr


def test_versions_are_listed_and_deleted_only_with_the_right(clients: Clients, eve_id: dict[str, Any],
                                                            bucket: str) -> None:
    s3 = clients.s3(eve_id)  # the todo app's users may read and write their own folder, not list versions
    assert code(lambda: s3.list_object_versions(Bucket=bucket, Prefix=f"{eve_id['identity_id']}/"))[0] == \
        "AccessDenied"
    key = f"{eve_id['identity_id']}/v.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"v")
    assert code(lambda: s3.delete_object(Bucket=bucket, Key=key, VersionId="null"))[0] == "AccessDenied"
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"v"


# -- deleting buckets

def test_a_bucket_with_only_uploads_in_progress_is_deleted_with_them(admin: Any,
                                                                    new_bucket: Callable[..., str]) -> None:
    b = new_bucket([])
    up = admin.create_multipart_upload(Bucket=b, Key="big")["UploadId"]
    admin.upload_part(Bucket=b, Key="big", UploadId=up, PartNumber=1, Body=b"p" * 1024)
    admin.delete_bucket(Bucket=b)
    assert code(lambda: admin.head_bucket(Bucket=b)) == ("404", 404)
    assert code(lambda: admin.upload_part(Bucket=b, Key="big", UploadId=up, PartNumber=2, Body=b"x"))[0] in \
        ("NoSuchBucket", "NoSuchUpload")
    admin.create_bucket(Bucket=b)  # the same name again: nothing of the old one
    assert admin.list_multipart_uploads(Bucket=b).get("Uploads", []) == []
    admin.put_object(Bucket=b, Key="k", Body=b"k")
    assert code(lambda: admin.delete_bucket(Bucket=b)) == ("BucketNotEmpty", 409)


def test_the_cli_removes_a_bucket_with_force(clients: Clients, admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket([f"k{i}/{j}" for i in range(3) for j in range(40)])
    rb = _cli(clients, "s3", "rb", f"s3://{b}", "--force")
    assert rb.returncode == 0, rb.stderr
    assert code(lambda: admin.head_bucket(Bucket=b)) == ("404", 404)


# -- presigned URLs

@pytest.mark.parametrize(("expires", "expected"), [
    (0, ("AccessDenied", "Request has expired")),
    (-7, ("AuthorizationQueryParametersError", "X-Amz-Expires must be non-negative")),
    (604801, ("AuthorizationQueryParametersError", "X-Amz-Expires must be less than a week (in seconds); that is, "
                                                   "the given X-Amz-Expires must be less than 604800 seconds")),
])
def test_presigned_urls_out_of_range_are_forbidden(clients: Clients, new_bucket: Callable[..., str], expires: int,
                                                   expected: tuple[str, str]) -> None:
    b = new_bucket(["asdf"])
    s3 = clients.s3(signature_version="s3v4")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "asdf"}, ExpiresIn=expires)
    assert f"X-Amz-Expires={expires}&" in url
    r = httpx.get(url, verify=trust(clients.ep))
    assert r.status_code == 403 and f"<Code>{expected[0]}</Code><Message>{expected[1]}</Message>" in r.text, r.text
    ok = s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "asdf"}, ExpiresIn=604800)
    assert httpx.get(ok, verify=trust(clients.ep)).content == b"asdf"


# -- metadata

def test_non_ascii_metadata_from_boto3_round_trips_as_s3_encodes_it(admin: Any,
                                                                   new_bucket: Callable[..., str]) -> None:
    """boto3 refuses non-ASCII Metadata itself; set as a header (as the s3-tests suite does), it goes out as
    UTF-8, is signed so, and comes back as S3 returns such values: one RFC 2047 word."""
    b = new_bucket([])

    def header(params: dict[str, Any], **_: Any) -> None:
        params["headers"]["x-amz-meta-meta1"] = "Hello World\xe9"
    admin.meta.events.register("before-call.s3.PutObject", header)
    try:
        admin.put_object(Bucket=b, Key="foo", Body=b"bar")
    finally:
        admin.meta.events.unregister("before-call.s3.PutObject", header)
    assert admin.get_object(Bucket=b, Key="foo")["Metadata"] == {"meta1": "=?UTF-8?Q?Hello_World=C3=A9?="}


def _cli(clients: Clients, *args: str) -> subprocess.CompletedProcess[str]:
    admin = clients.ep["admin_credentials"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": admin["access_key_id"], "AWS_SECRET_ACCESS_KEY": admin["secret_access_key"],
                "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"})
    return subprocess.run(["aws", "--endpoint-url", clients.ep["aws_endpoint"], "--ca-bundle", clients.ep["ca_file"],
                           "--region", clients.ep["region"], *args], capture_output=True, text=True, env=env,
                          timeout=120, cwd=Path.cwd())


# -- buckets pages, part copies

def test_list_buckets_pages_with_max_buckets_and_a_prefix(admin: Any, new_bucket: Callable[..., str]) -> None:
    made = sorted(new_bucket([]) for _ in range(3))
    stem = made[0].rsplit("-", 1)[0] + "-"
    first = admin.list_buckets(MaxBuckets=2, Prefix=stem)
    assert [b["Name"] for b in first["Buckets"]] == made[:2] and first["Prefix"] == stem
    rest = admin.list_buckets(MaxBuckets=2, Prefix=stem, ContinuationToken=first["ContinuationToken"])
    assert [b["Name"] for b in rest["Buckets"]] == made[2:] and "ContinuationToken" not in rest
    pages = admin.get_paginator("list_buckets").paginate(Prefix=stem, PaginationConfig={"PageSize": 1})
    assert [b["Name"] for p in pages for b in p["Buckets"]] == made
    every = [b["Name"] for b in admin.list_buckets()["Buckets"]]
    assert set(made) <= set(every) and every == sorted(every)
    assert code(lambda: admin.list_buckets(MaxBuckets=10001)) == ("InvalidArgument", 400)


def test_upload_part_copy_builds_an_object_from_ranges_of_others(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket([])
    big = os.urandom(11 * 1024 * 1024)
    admin.put_object(Bucket=b, Key="src", Body=big)
    up = admin.create_multipart_upload(Bucket=b, Key="dst")["UploadId"]
    half = 5 * 1024 * 1024
    p1 = admin.upload_part_copy(Bucket=b, Key="dst", UploadId=up, PartNumber=1, CopySource={"Bucket": b, "Key": "src"},
                                CopySourceRange=f"bytes=0-{half - 1}")["CopyPartResult"]["ETag"]
    p2 = admin.upload_part_copy(Bucket=b, Key="dst", UploadId=up, PartNumber=2, CopySource={"Bucket": b, "Key": "src"},
                                CopySourceRange=f"bytes={half}-{len(big) - 1}")["CopyPartResult"]["ETag"]
    p3 = admin.upload_part(Bucket=b, Key="dst", UploadId=up, PartNumber=3, Body=b"tail")["ETag"]
    for bad in (f"bytes=0-{len(big)}", "bytes=5-4"):
        assert code(lambda bad=bad: admin.upload_part_copy(
            Bucket=b, Key="dst", UploadId=up, PartNumber=4, CopySource={"Bucket": b, "Key": "src"},
            CopySourceRange=bad)) == ("InvalidRange", 416)
    assert code(lambda: admin.upload_part_copy(Bucket=b, Key="dst", UploadId=up, PartNumber=4,
                                               CopySource={"Bucket": b, "Key": "src"},
                                               CopySourceIfMatch='"nope"')) == ("PreconditionFailed", 412)
    admin.complete_multipart_upload(Bucket=b, Key="dst", UploadId=up, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": p1}, {"PartNumber": 2, "ETag": p2}, {"PartNumber": 3, "ETag": p3}]})
    assert admin.get_object(Bucket=b, Key="dst")["Body"].read() == big + b"tail"
    whole = admin.create_multipart_upload(Bucket=b, Key="whole")["UploadId"]  # no range: the whole source
    etag = admin.upload_part_copy(Bucket=b, Key="whole", UploadId=whole, PartNumber=1,
                                  CopySource={"Bucket": b, "Key": "src"})["CopyPartResult"]["ETag"]
    admin.complete_multipart_upload(Bucket=b, Key="whole", UploadId=whole,
                                    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert admin.get_object(Bucket=b, Key="whole")["Body"].read() == big


# -- CORS

CORS = {"CORSRules": [
    {"ID": "uploads", "AllowedOrigins": ["https://app.example.com", "http://*.example.org"],
     "AllowedMethods": ["PUT", "GET"], "AllowedHeaders": ["content-type", "x-amz-*"], "ExposeHeaders": ["ETag"],
     "MaxAgeSeconds": 600},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], "AllowedHeaders": []}]}


def _preflight(clients: Clients, b: str, origin: str | None, method: str | None, headers: str = "") -> httpx.Response:
    h = {k: v for k, v in (("origin", origin), ("access-control-request-method", method),
                           ("access-control-request-headers", headers)) if v}
    return clients.http.request("OPTIONS", f"{clients.ep['aws_endpoint']}/{b}/some/key", headers=h)


def test_bucket_cors_rules_are_kept_and_answer_preflights(clients: Clients, admin: Any,
                                                          new_bucket: Callable[..., str]) -> None:
    b = new_bucket([])
    assert code(lambda: admin.get_bucket_cors(Bucket=b)) == ("NoSuchCORSConfiguration", 404)
    r = _preflight(clients, b, "https://app.example.com", "PUT")
    assert r.status_code == 403 and "CORS is not enabled for this bucket" in r.text
    admin.put_bucket_cors(Bucket=b, CORSConfiguration=CORS)
    got = admin.get_bucket_cors(Bucket=b)["CORSRules"]
    assert got[0] == CORS["CORSRules"][0] and got[1]["AllowedOrigins"] == ["*"]

    r = _preflight(clients, b, "https://app.example.com", "PUT", "Content-Type, X-Amz-Date")
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"
    assert r.headers["access-control-allow-methods"] == "PUT, GET"
    assert r.headers["access-control-allow-headers"] == "content-type, x-amz-date"
    assert r.headers["access-control-max-age"] == "600" and r.headers["access-control-expose-headers"] == "ETag"
    assert r.headers["access-control-allow-credentials"] == "true" and "Origin" in r.headers["vary"]
    assert _preflight(clients, b, "http://cdn.example.org", "GET").status_code == 200  # one wildcard
    anyone = _preflight(clients, b, "https://elsewhere.test", "GET")
    assert anyone.status_code == 200 and anyone.headers["access-control-allow-origin"] == "*"
    for origin, method, headers in (("https://elsewhere.test", "PUT", ""),  # only GET for everyone
                                    ("https://app.example.com", "DELETE", ""),
                                    ("https://app.example.com", "PUT", "authorization")):  # a header not allowed
        r = _preflight(clients, b, origin, method, headers)
        assert r.status_code == 403 and "<Code>AccessForbidden</Code>" in r.text, (origin, method, r.text)
    r = _preflight(clients, b, None, "PUT")
    assert r.status_code == 400 and "Origin request header needed" in r.text

    admin.put_object(Bucket=b, Key="k", Body=b"k")
    url = admin.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "k"})
    got = clients.http.get(url, headers={"origin": "https://app.example.com"})
    assert got.status_code == 200 and got.headers["access-control-allow-origin"] == "https://app.example.com"
    assert got.headers["access-control-expose-headers"] == "ETag"
    assert "access-control-allow-origin" not in clients.http.get(url).headers  # no Origin, no CORS headers

    admin.delete_bucket_cors(Bucket=b)
    assert code(lambda: admin.get_bucket_cors(Bucket=b)) == ("NoSuchCORSConfiguration", 404)
    assert _preflight(clients, b, "https://app.example.com", "PUT").status_code == 403


def test_cors_rules_that_s3_refuses(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket([])
    for rules, expected in (([{"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}], "InvalidRequest"),
                            ([{"AllowedOrigins": ["http://*.*.example.com"], "AllowedMethods": ["GET"]}],
                             "InvalidRequest"),
                            ([{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}] * 101, "MalformedXML")):
        assert code(lambda rules=rules: admin.put_bucket_cors(Bucket=b, CORSConfiguration={"CORSRules": rules}))[0] \
            == expected


def test_cors_is_set_only_with_the_right(clients: Clients, eve_id: dict[str, Any], bucket: str) -> None:
    s3 = clients.s3(eve_id)
    assert code(lambda: s3.put_bucket_cors(Bucket=bucket, CORSConfiguration=CORS))[0] == "AccessDenied"
    assert code(lambda: s3.get_bucket_cors(Bucket=bucket))[0] == "AccessDenied"


# -- bucket policies

def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_a_bucket_policy_is_kept_checked_and_removed(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket([])
    assert code(lambda: admin.get_bucket_policy(Bucket=b)) == ("NoSuchBucketPolicy", 404)
    good = _policy({"Sid": "read", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{b}/public/*"})
    admin.put_bucket_policy(Bucket=b, Policy=good)
    assert json.loads(admin.get_bucket_policy(Bucket=b)["Policy"]) == json.loads(good)
    for bad in ("not json", _policy({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/*"}),
                _policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                         "Resource": "arn:aws:s3:::another-bucket/*"}),
                _policy({"Effect": "Allow", "Principal": "*", "Action": "sqs:SendMessage",
                         "Resource": f"arn:aws:s3:::{b}/*"}),
                _policy({"Effect": "Allow", "Principal": {"AWS": "someone"}, "Action": "s3:GetObject",
                         "Resource": f"arn:aws:s3:::{b}/*"})):
        assert code(lambda bad=bad: admin.put_bucket_policy(Bucket=b, Policy=bad)) == ("MalformedPolicy", 400), bad
    admin.delete_bucket_policy(Bucket=b)
    assert code(lambda: admin.get_bucket_policy(Bucket=b)) == ("NoSuchBucketPolicy", 404)


def test_a_public_read_policy_opens_what_it_names_to_anyone(clients: Clients, admin: Any,
                                                            new_bucket: Callable[..., str]) -> None:
    b = new_bucket(["public/a.txt", "private/b.txt"])
    url = f"{clients.ep['aws_endpoint']}/{b}"
    assert clients.http.get(f"{url}/public/a.txt").status_code == 403  # no policy: anonymous is nobody
    admin.put_bucket_policy(Bucket=b, Policy=_policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/public/*"},
        {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{b}",
         "Condition": {"StringLike": {"s3:prefix": "public/*"}}}))
    got = clients.http.get(f"{url}/public/a.txt")
    assert got.status_code == 200 and got.content == b"public/a.txt"
    assert clients.http.get(f"{url}/private/b.txt").status_code == 403
    assert clients.http.put(f"{url}/public/new.txt", content=b"x").status_code == 403  # read, not write
    assert "<Key>public/a.txt</Key>" in clients.http.get(f"{url}?list-type=2&prefix=public/").text
    assert clients.http.get(f"{url}?list-type=2").status_code == 403  # the condition: only under public/
    assert clients.http.get(f"{url}?policy").status_code == 403  # nor may anyone read the policy itself


def test_source_ip_conditions_and_an_explicit_deny(clients: Clients, admin: Any, eve_id: dict[str, Any],
                                                   new_bucket: Callable[..., str]) -> None:
    b = new_bucket(["k"])
    url = f"{clients.ep['aws_endpoint']}/{b}/k"
    admin.put_bucket_policy(Bucket=b, Policy=_policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/*",
         "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}}))
    assert clients.http.get(url).status_code == 403  # this client is 127.0.0.1
    admin.put_bucket_policy(Bucket=b, Policy=_policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/*",
         "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}, "Bool": {"aws:SecureTransport": "true"}}}))
    assert clients.http.get(url).status_code == 200
    # a Deny naming the account reaches everyone in it, the operator too; the operator may still fix the policy
    admin.put_bucket_policy(Bucket=b, Policy=_policy(
        {"Effect": "Deny", "Principal": {"AWS": "arn:aws:iam::000000000000:root"}, "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{b}/*"}))
    assert code(lambda: admin.get_object(Bucket=b, Key="k"))[0] == "AccessDenied"
    admin.delete_bucket_policy(Bucket=b)
    assert admin.get_object(Bucket=b, Key="k")["Body"].read() == b"k"


def test_a_deny_for_the_identity_pools_role_beats_its_own_allow(clients: Clients, eve_id: dict[str, Any],
                                                                bucket: str) -> None:
    admin, s3 = clients.s3(), clients.s3(eve_id)
    key = f"{eve_id['identity_id']}/denied.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"mine")
    role = "arn:aws:iam::000000000000:role/todo-identities-authenticated"  # the pool's role, as README names it
    policy = _policy({"Effect": "Deny", "Principal": {"AWS": role}, "Action": "s3:GetObject",
                      "Resource": f"arn:aws:s3:::{bucket}/*/denied.txt"})
    admin.put_bucket_policy(Bucket=bucket, Policy=policy)
    try:
        assert code(lambda: s3.get_object(Bucket=bucket, Key=key))[0] == "AccessDenied"
        s3.put_object(Bucket=bucket, Key=key, Body=b"still writable")  # only reading was denied
    finally:
        admin.delete_bucket_policy(Bucket=bucket)
    assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == b"still writable"


# -- browser uploads: presigned POST

def _post(clients: Clients, post: dict[str, Any], body: bytes, name: str = "photo.png",
          extra: dict[str, str] | None = None, content_type: str = "image/png") -> httpx.Response:
    fields = {**post["fields"], **(extra or {})}
    return clients.http.post(post["url"], data=fields, files={"file": (name, body, content_type)})


@pytest.mark.parametrize("signature", ["s3v4", "s3"])
def test_a_presigned_post_uploads_within_its_policy(clients: Clients, new_bucket: Callable[..., str],
                                                    signature: str) -> None:
    b = new_bucket([])
    s3, admin = clients.s3(signature_version=signature), clients.s3()  # signing the form; reading as usual
    conditions = [["starts-with", "$key", "uploads/"], ["content-length-range", 1, 1000],
                  ["starts-with", "$Content-Type", "image/"], {"success_action_status": "201"},
                  ["starts-with", "$x-amz-meta-note", ""]]
    post = s3.generate_presigned_post(b, "uploads/${filename}", Conditions=conditions, ExpiresIn=600,
                                      Fields={"success_action_status": "201"})
    r = _post(clients, post, b"\x89PNG small", extra={"Content-Type": "image/png", "x-amz-meta-note": "hi"})
    assert r.status_code == 201, r.text
    assert "<Key>uploads/photo.png</Key><ETag>" in r.text and f"<Bucket>{b}</Bucket>" in r.text
    got = admin.get_object(Bucket=b, Key="uploads/photo.png")
    assert got["Body"].read() == b"\x89PNG small" and got["ContentType"] == "image/png"
    assert got["Metadata"] == {"note": "hi"}

    too_big = _post(clients, post, b"x" * 1001, extra={"Content-Type": "image/png", "x-amz-meta-note": ""})
    assert too_big.status_code == 400 and "<Code>EntityTooLarge</Code>" in too_big.text
    empty = _post(clients, post, b"", extra={"Content-Type": "image/png", "x-amz-meta-note": ""})
    assert empty.status_code == 400 and "<Code>EntityTooSmall</Code>" in empty.text
    wrong_type = _post(clients, post, b"text", extra={"Content-Type": "text/html", "x-amz-meta-note": ""})
    assert wrong_type.status_code == 403 and \
        'Policy Condition failed: ["starts-with","$Content-Type","image/"]' in wrong_type.text, wrong_type.text
    extra = _post(clients, post, b"x", extra={"Content-Type": "image/png", "x-amz-meta-note": "",
                                              "x-amz-meta-sneaky": "1"})
    assert extra.status_code == 403 and "Extra input fields: x-amz-meta-sneaky" in extra.text
    expired = s3.generate_presigned_post(b, "uploads/${filename}", Conditions=conditions, ExpiresIn=-10,
                                         Fields={"success_action_status": "201"})
    late = _post(clients, expired, b"x", extra={"Content-Type": "image/png", "x-amz-meta-note": ""})
    assert late.status_code == 403 and "Policy expired" in late.text
    forged = {**post, "fields": {**post["fields"], "key": "elsewhere/${filename}"}}  # outside starts-with
    assert _post(clients, forged, b"x", extra={"Content-Type": "image/png", "x-amz-meta-note": ""}).status_code \
        == 403
    tampered = dict(post["fields"])
    tampered["policy"] = tampered["policy"][:-4] + ("AAAA" if not tampered["policy"].endswith("AAAA") else "BBBB")
    bad = clients.http.post(post["url"], data={**tampered, "Content-Type": "image/png", "x-amz-meta-note": ""},
                            files={"file": ("p.png", b"x", "image/png")})
    assert bad.status_code in (400, 403) and "uploads/p.png" not in [
        o["Key"] for o in admin.list_objects_v2(Bucket=b).get("Contents", [])]
    assert [o["Key"] for o in admin.list_objects_v2(Bucket=b)["Contents"]] == ["uploads/photo.png"]


def test_post_answers_and_redirects(clients: Clients, new_bucket: Callable[..., str]) -> None:
    b = new_bucket([])
    s3 = clients.s3(signature_version="s3v4")
    plain = s3.generate_presigned_post(b, "a.txt")
    r = _post(clients, plain, b"a", name="a.txt", content_type="text/plain")
    assert r.status_code == 204 and r.headers["etag"] and r.headers["location"].endswith(f"/{b}/a.txt")
    back = "https://app.example.com/done"
    redirect = s3.generate_presigned_post(b, "b.txt", Fields={"success_action_redirect": back},
                                          Conditions=[{"success_action_redirect": back}])
    r = _post(clients, redirect, b"b", name="b.txt", content_type="text/plain")
    assert r.status_code == 303 and r.headers["location"].startswith(f"{back}?bucket={b}&key=b.txt&etag=")


def test_a_user_posts_only_into_their_own_folder(clients: Clients, eve_id: dict[str, Any], bucket: str) -> None:
    s3 = clients.s3(eve_id, signature_version="s3v4")
    mine = s3.generate_presigned_post(bucket, f"{eve_id['identity_id']}/posted.txt")
    assert _post(clients, mine, b"mine", name="posted.txt", content_type="text/plain").status_code == 204
    assert s3.get_object(Bucket=bucket, Key=f"{eve_id['identity_id']}/posted.txt")["Body"].read() == b"mine"
    theirs = s3.generate_presigned_post(bucket, "someone-else/posted.txt")
    r = _post(clients, theirs, b"x", name="posted.txt", content_type="text/plain")
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text
    anonymous = clients.http.post(f"{clients.ep['aws_endpoint']}/{bucket}", data={"key": "anon.txt"},
                                  files={"file": ("anon.txt", b"x", "text/plain")})
    assert anonymous.status_code == 403 and "<Code>AccessDenied</Code>" in anonymous.text


def test_the_cli_syncs_both_ways_with_deletes(clients: Clients, admin: Any, new_bucket: Callable[..., str],
                                              tmp_path: Path) -> None:
    b = new_bucket([])
    up, down = tmp_path / "up", tmp_path / "down"
    for rel, body in {"a.txt": b"a", "dir/b.txt": b"b" * 70_000, "dir/deep/c.bin": os.urandom(9 * 1024 * 1024),
                      "space name.txt": b"s", "caf\u00e9.txt": b"c"}.items():
        (up / rel).parent.mkdir(parents=True, exist_ok=True)
        (up / rel).write_bytes(body)
    r = _cli(clients, "s3", "sync", str(up), f"s3://{b}/site")
    assert r.returncode == 0, r.stderr
    assert sorted(o["Key"] for o in admin.list_objects_v2(Bucket=b)["Contents"]) == sorted(
        f"site/{p.relative_to(up).as_posix()}" for p in up.rglob("*") if p.is_file())
    again = _cli(clients, "s3", "sync", str(up), f"s3://{b}/site")  # nothing changed: nothing sent
    assert again.returncode == 0 and again.stdout.strip() == "", again.stdout
    (up / "a.txt").unlink()
    (up / "new.txt").write_bytes(b"n")
    r = _cli(clients, "s3", "sync", str(up), f"s3://{b}/site", "--delete")
    assert r.returncode == 0 and "delete: s3://" in r.stdout and "upload: " in r.stdout, r.stdout + r.stderr
    keys = sorted(o["Key"] for o in admin.list_objects_v2(Bucket=b)["Contents"])
    assert "site/a.txt" not in keys and "site/new.txt" in keys

    down.mkdir()
    (down / "stale.txt").write_bytes(b"gone soon")
    r = _cli(clients, "s3", "sync", f"s3://{b}/site", str(down), "--delete")
    assert r.returncode == 0, r.stderr
    assert sorted(p.relative_to(down).as_posix() for p in down.rglob("*") if p.is_file()) == \
        sorted(p.relative_to(up).as_posix() for p in up.rglob("*") if p.is_file())
    assert (down / "dir/deep/c.bin").read_bytes() == (up / "dir/deep/c.bin").read_bytes()
    r = _cli(clients, "s3", "rm", f"s3://{b}/site", "--recursive")
    assert r.returncode == 0 and admin.list_objects_v2(Bucket=b)["KeyCount"] == 0, r.stderr


# -- tags

def test_object_and_bucket_tags(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket([])
    admin.put_object(Bucket=b, Key="k", Body=b"k", Tagging="team=blue&stage=a%20b")
    assert admin.head_object(Bucket=b, Key="k")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"] == "2"
    assert admin.get_object_tagging(Bucket=b, Key="k")["TagSet"] == [{"Key": "team", "Value": "blue"},
                                                                     {"Key": "stage", "Value": "a b"}]
    admin.put_object_tagging(Bucket=b, Key="k", Tagging={"TagSet": [{"Key": "only", "Value": "one"}]})
    assert admin.get_object_tagging(Bucket=b, Key="k")["TagSet"] == [{"Key": "only", "Value": "one"}]
    admin.copy_object(Bucket=b, Key="copied", CopySource={"Bucket": b, "Key": "k"})  # tags copied by default
    assert admin.get_object_tagging(Bucket=b, Key="copied")["TagSet"] == [{"Key": "only", "Value": "one"}]
    admin.copy_object(Bucket=b, Key="replaced", CopySource={"Bucket": b, "Key": "k"}, TaggingDirective="REPLACE",
                      Tagging="new=tag")
    assert admin.get_object_tagging(Bucket=b, Key="replaced")["TagSet"] == [{"Key": "new", "Value": "tag"}]
    up = admin.create_multipart_upload(Bucket=b, Key="multi", Tagging="from=upload")["UploadId"]
    etag = admin.upload_part(Bucket=b, Key="multi", UploadId=up, PartNumber=1, Body=b"m")["ETag"]
    admin.complete_multipart_upload(Bucket=b, Key="multi", UploadId=up,
                                    MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert admin.get_object_tagging(Bucket=b, Key="multi")["TagSet"] == [{"Key": "from", "Value": "upload"}]
    admin.delete_object_tagging(Bucket=b, Key="k")
    assert admin.get_object_tagging(Bucket=b, Key="k")["TagSet"] == []
    assert "x-amz-tagging-count" not in admin.head_object(Bucket=b, Key="k")["ResponseMetadata"]["HTTPHeaders"]
    for bad in ([{"Key": f"k{i}", "Value": "v"} for i in range(11)], [{"Key": "a", "Value": "1"}] * 2,
                [{"Key": "aws:reserved", "Value": "v"}], [{"Key": "x" * 129, "Value": "v"}]):
        assert code(lambda bad=bad: admin.put_object_tagging(Bucket=b, Key="k", Tagging={"TagSet": bad}))[0] in \
            ("BadRequest", "InvalidTag")
    assert code(lambda: admin.get_object_tagging(Bucket=b, Key="nope")) == ("NoSuchKey", 404)

    assert code(lambda: admin.get_bucket_tagging(Bucket=b)) == ("NoSuchTagSet", 404)
    admin.put_bucket_tagging(Bucket=b, Tagging={"TagSet": [{"Key": "cost-center", "Value": "42"}]})
    assert admin.get_bucket_tagging(Bucket=b)["TagSet"] == [{"Key": "cost-center", "Value": "42"}]
    admin.delete_bucket_tagging(Bucket=b)
    assert code(lambda: admin.get_bucket_tagging(Bucket=b)) == ("NoSuchTagSet", 404)


def test_tags_of_versions(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket([])
    admin.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    v1 = admin.put_object(Bucket=b, Key="k", Body=b"1", Tagging="v=1")["VersionId"]
    admin.put_object(Bucket=b, Key="k", Body=b"2", Tagging="v=2")
    assert admin.get_object_tagging(Bucket=b, Key="k")["TagSet"] == [{"Key": "v", "Value": "2"}]
    got = admin.get_object_tagging(Bucket=b, Key="k", VersionId=v1)
    assert got["TagSet"] == [{"Key": "v", "Value": "1"}] and got["VersionId"] == v1
    assert admin.put_object_tagging(Bucket=b, Key="k", VersionId=v1,
                                    Tagging={"TagSet": [{"Key": "v", "Value": "one"}]})["VersionId"] == v1
    assert admin.get_object_tagging(Bucket=b, Key="k", VersionId=v1)["TagSet"] == [{"Key": "v", "Value": "one"}]


def test_tagging_takes_its_own_right(clients: Clients, eve_id: dict[str, Any], bucket: str) -> None:
    s3 = clients.s3(eve_id)  # the todo app's role may put objects in its folder, not tag them
    key = f"{eve_id['identity_id']}/tagged.txt"
    assert code(lambda: s3.put_object(Bucket=bucket, Key=key, Body=b"t", Tagging="a=b"))[0] == "AccessDenied"
    s3.put_object(Bucket=bucket, Key=key, Body=b"t")
    assert code(lambda: s3.get_object_tagging(Bucket=bucket, Key=key))[0] == "AccessDenied"


# -- lifecycle rules, on the platform's clock

def _eventually(check: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


RULES = {"Rules": [
    {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1}},
    {"ID": "tagged", "Status": "Enabled", "Filter": {"And": {"Prefix": "t/", "Tags": [{"Key": "drop", "Value": "yes"}]}},
     "Expiration": {"Days": 3}},
    {"ID": "uploads", "Status": "Enabled", "Filter": {"Prefix": ""}, "AbortIncompleteMultipartUpload":
     {"DaysAfterInitiation": 2}},
    {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "keep/"}, "Expiration": {"Days": 1}}]}


def test_lifecycle_rules_are_kept_and_checked(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket([])
    assert code(lambda: admin.get_bucket_lifecycle_configuration(Bucket=b)) == ("NoSuchLifecycleConfiguration", 404)
    admin.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration=RULES)
    got = admin.get_bucket_lifecycle_configuration(Bucket=b)["Rules"]
    assert [(r["ID"], r["Status"]) for r in got] == [("tmp", "Enabled"), ("tagged", "Enabled"), ("uploads", "Enabled"),
                                                     ("off", "Disabled")]
    assert got[0]["Expiration"] == {"Days": 1} and got[0]["Filter"] == {"Prefix": "tmp/"}
    assert got[1]["Filter"]["And"]["Tags"] == [{"Key": "drop", "Value": "yes"}]
    assert got[2]["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 2}
    transition = {"Rules": [{"ID": "cold", "Status": "Enabled", "Filter": {"Prefix": ""},
                             "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}]}
    assert code(lambda: admin.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration=transition)) == \
        ("NotImplemented", 501)
    twice = {"Rules": [RULES["Rules"][0], RULES["Rules"][0]]}
    assert code(lambda: admin.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration=twice))[0] == \
        "InvalidArgument"
    admin.delete_bucket_lifecycle(Bucket=b)
    assert code(lambda: admin.get_bucket_lifecycle_configuration(Bucket=b)) == ("NoSuchLifecycleConfiguration", 404)


def test_lifecycle_rules_act_when_the_clock_says(clocked: Clients, move_clock: Callable[[float], None]) -> None:
    admin = clocked.s3()
    b = "lifecycle-acts"
    admin.create_bucket(Bucket=b)
    for key in ("tmp/a", "keep/b", "t/tagged", "t/untagged"):
        admin.put_object(Bucket=b, Key=key, Body=b"x", **({"Tagging": "drop=yes"} if key == "t/tagged" else {}))
    up = admin.create_multipart_upload(Bucket=b, Key="big")["UploadId"]
    admin.upload_part(Bucket=b, Key="big", UploadId=up, PartNumber=1, Body=b"p")
    admin.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration=RULES)

    def keys() -> list[str]:
        return sorted(o["Key"] for o in admin.list_objects_v2(Bucket=b).get("Contents", []))
    time.sleep(1.5)
    assert keys() == ["keep/b", "t/tagged", "t/untagged", "tmp/a"]  # nothing is due yet
    move_clock(2 * 86400 + 1)  # a day after creation, rounded to midnight, has passed; not three
    assert _eventually(lambda: keys() == ["keep/b", "t/tagged", "t/untagged"])
    assert [u["UploadId"] for u in admin.list_multipart_uploads(Bucket=b)["Uploads"]] == [up]  # 2 days: not yet
    move_clock(2 * 86400)
    assert _eventually(lambda: keys() == ["keep/b", "t/untagged"])  # only the tagged one under t/
    assert _eventually(lambda: not admin.list_multipart_uploads(Bucket=b).get("Uploads"))


def test_lifecycle_in_a_versioned_bucket(clocked: Clients, move_clock: Callable[[float], None]) -> None:
    admin = clocked.s3()
    b = "lifecycle-versions"
    admin.create_bucket(Bucket=b)
    admin.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    admin.put_object(Bucket=b, Key="doc", Body=b"1")
    admin.put_object(Bucket=b, Key="doc", Body=b"2")
    admin.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "all", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 5}},
        {"ID": "markers", "Status": "Enabled", "Filter": {"Prefix": ""},
         "Expiration": {"ExpiredObjectDeleteMarker": True}}]})

    def versions_now() -> list[tuple[bool, bool]]:
        page = admin.list_object_versions(Bucket=b)
        return sorted([(v["IsLatest"], False) for v in page.get("Versions", [])]
                      + [(m["IsLatest"], True) for m in page.get("DeleteMarkers", [])])
    move_clock(2 * 86400 + 1)  # the current version expires: a delete marker on top, both versions kept
    assert _eventually(lambda: versions_now() == [(False, False), (False, False), (True, True)])
    move_clock(6 * 86400)  # both now noncurrent for long enough: gone; the marker alone is left, then goes
    assert _eventually(lambda: versions_now() == [])


def test_a_declared_bucket_aborts_uploads_nobody_finishes(clocked: Clients,
                                                           move_clock: Callable[[float], None]) -> None:
    """As on AWS, where every declared bucket gets the rule: the todo app's users cannot abort their own uploads
    (the role does not allow it), so the platform does, a week on."""
    admin, bucket = clocked.s3(), clocked.app["buckets"]["files"]
    rules = admin.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert [(r["ID"], r["AbortIncompleteMultipartUpload"]) for r in rules] == \
        [("abort-incomplete-uploads", {"DaysAfterInitiation": 7})]
    user = clocked.user()
    s3 = clocked.s3(clocked.identity(user))
    key = f"{clocked.identity(user)['identity_id']}/half.bin"
    up = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
    assert code(lambda: s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=up))[0] == "AccessDenied"
    move_clock(6 * 86400)
    time.sleep(1.5)
    assert [u["UploadId"] for u in admin.list_multipart_uploads(Bucket=bucket).get("Uploads", [])] == [up]
    move_clock(2 * 86400 + 1)
    assert _eventually(lambda: not admin.list_multipart_uploads(Bucket=bucket).get("Uploads"))


def test_a_form_with_endless_fields_is_refused(clients: Clients, new_bucket: Callable[..., str]) -> None:
    b = new_bucket([])
    fields = {f"x-ignore-{i}": "" for i in range(300)}  # empty fields: only their number grows
    r = clients.http.post(f"{clients.ep['aws_endpoint']}/{b}", data={"key": "k", **fields},
                          files={"file": ("f.txt", b"x", "text/plain")})
    assert r.status_code == 400 and "<Code>MaxPostPreDataLengthExceeded</Code>" in r.text, r.text


# -- the review's findings, each pinned

def test_listings_with_a_longer_delimiter_page_without_losing_keys(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket(["a", "ab", "b", "a//c", "b//"])
    for delimiter in ("--", "//"):
        full = listed(admin.list_objects_v2(Bucket=b, Delimiter=delimiter))
        for op in ("list_objects_v2", "list_objects"):
            pages = admin.get_paginator(op).paginate(Bucket=b, Delimiter=delimiter, PaginationConfig={"PageSize": 1})
            got = [listed(p) for p in pages]
            assert sorted(k for ks, _ in got for k in ks) == full[0] and \
                sorted(p for _, ps in got for p in ps) == full[1], (op, delimiter, got)
        versions_paged = admin.get_paginator("list_object_versions").paginate(
            Bucket=b, Delimiter=delimiter, PaginationConfig={"PageSize": 1})
        assert sorted(k for p in versions_paged for k in listed(p)[0]) == full[0]


def test_a_query_means_what_was_signed(clients: Clients, new_bucket: Callable[..., str]) -> None:
    b = new_bucket(["c++/x", "c  /y"])
    s3 = clients.s3(signature_version="s3v4")
    url = s3.generate_presigned_url("list_objects_v2", Params={"Bucket": b, "Prefix": "c++/"})
    assert "prefix=c%2B%2B%2F" in url
    assert "<KeyCount>1</KeyCount>" in clients.http.get(url).text
    tampered = clients.http.get(url.replace("prefix=c%2B%2B%2F", "prefix=c++%2F"))  # '+' is a space when read
    assert tampered.status_code == 403 and "SignatureDoesNotMatch" in tampered.text
    twice = clients.http.get(url + "&prefix=c")
    assert twice.status_code in (400, 403) and "<Key>" not in twice.text


def test_a_copy_source_key_may_hold_a_question_mark(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket(["a?versionId=null", "a"])
    admin.copy_object(Bucket=b, Key="copied", CopySource={"Bucket": b, "Key": "a?versionId=null"})
    assert admin.get_object(Bucket=b, Key="copied")["Body"].read() == b"a?versionId=null"


def test_form_fields_that_would_break_headers_are_refused(clients: Clients, new_bucket: Callable[..., str]) -> None:
    b = new_bucket([])
    s3 = clients.s3(signature_version="s3v4")
    evil = "text/plain\r\nSet-Cookie: x=1"
    post = s3.generate_presigned_post(b, "k", Fields={"Content-Type": evil}, Conditions=[{"Content-Type": evil}])
    r = clients.http.post(post["url"], data=post["fields"], files={"file": ("k", b"x", "text/plain")})
    assert r.status_code == 400 and "content-type" in r.text
    assert clients.s3().list_objects_v2(Bucket=b)["KeyCount"] == 0
    odd = "http://["
    post = s3.generate_presigned_post(b, "k", Fields={"success_action_redirect": odd},
                                      Conditions=[{"success_action_redirect": odd}])
    r = clients.http.post(post["url"], data=post["fields"], files={"file": ("k", b"x", "text/plain")})
    assert r.status_code == 204  # not a URL to send anyone to: the plain answer, as S3 gives


def test_tags_by_any_route_take_the_right_to_tag(clients: Clients, eve_id: dict[str, Any], bucket: str) -> None:
    s3 = clients.s3(eve_id)
    mine = f"{eve_id['identity_id']}"
    assert code(lambda: s3.create_multipart_upload(Bucket=bucket, Key=f"{mine}/m", Tagging="a=1"))[0] == "AccessDenied"
    s3.put_object(Bucket=bucket, Key=f"{mine}/src", Body=b"s")
    assert code(lambda: s3.copy_object(Bucket=bucket, Key=f"{mine}/dst", CopySource={"Bucket": bucket,
                                                                                     "Key": f"{mine}/src"},
                                       TaggingDirective="REPLACE", Tagging="a=1"))[0] == "AccessDenied"
    post = clients.s3(eve_id, signature_version="s3v4").generate_presigned_post(
        bucket, f"{mine}/posted", Fields={"tagging": "<Tagging><TagSet/></Tagging>"},
        Conditions=[{"tagging": "<Tagging><TagSet/></Tagging>"}])
    r = clients.http.post(post["url"], data=post["fields"], files={"file": ("p", b"p", "text/plain")})
    assert r.status_code == 403 and "AccessDenied" in r.text


def test_odd_requests_get_a_clear_refusal(clients: Clients, admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket(["k"])
    url = clients.ep["aws_endpoint"]
    r = clients.http.put(f"{url}/{b}/%FF", content=b"x")  # not UTF-8: never the same key as another
    assert r.status_code == 400 and "InvalidURI" in r.text
    r = clients.http.get(f"{url}/{b}/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=x&X-Amz-Date=00000101T000000Z"
                         "&X-Amz-Expires=1&X-Amz-SignedHeaders=host&X-Amz-Signature=0")
    assert 400 <= r.status_code < 500
    r = clients.http.get(f"{url}/{b}/k?AWSAccessKeyId=x&Signature=y&Expires={'9' * 5000}")
    assert 400 <= r.status_code < 500
    r = clients.http.request("DELETE", f"{url}/{b}?versioning")
    assert r.status_code == 403  # unsigned: nobody, before anything else
    signed = clients.s3()  # boto3 has no DELETE ?versioning: its DeleteBucket, sent with the sub-resource
    signed.meta.events.register("before-sign.s3.DeleteBucket",
                                lambda request, **_: setattr(request, "url", request.url + "?versioning"))
    assert code(lambda: signed.delete_bucket(Bucket=b)) == ("MethodNotAllowed", 405)
    assert admin.head_bucket(Bucket=b)["ResponseMetadata"]["HTTPStatusCode"] == 200
    newer = {"Rules": [{"ID": "n", "Status": "Enabled", "Filter": {"Prefix": ""}, "NoncurrentVersionExpiration":
                        {"NoncurrentDays": 1, "NewerNoncurrentVersions": 5}}]}
    assert code(lambda: admin.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration=newer)) == \
        ("NotImplemented", 501)
    assert code(lambda: admin.put_bucket_policy(Bucket=b, Policy='{"Version": "2012-10-17", "Statement": []}'))[0] \
        == "MalformedPolicy"


def test_bucket_configurations_are_checked_against_their_digest(clients: Clients, new_bucket: Callable[..., str]) -> None:
    b = new_bucket([])
    s3 = clients.s3()
    rules = {"CORSRules": [{"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]}]}

    def strip(request: Any, **_: Any) -> None:
        for name in [n for n in request.headers if n.lower() == "content-md5" or n.lower().startswith("x-amz-checksum")
                     or n.lower() == "x-amz-sdk-checksum-algorithm"]:
            del request.headers[name]
    s3.meta.events.register("before-sign.s3.PutBucketCors", strip)
    assert code(lambda: s3.put_bucket_cors(Bucket=b, CORSConfiguration=rules)) == ("InvalidRequest", 400)

    def wrong(request: Any, **_: Any) -> None:
        strip(request)
        request.headers["Content-MD5"] = "1B2M2Y8AsgTpgAmY7PhCfg=="  # the MD5 of nothing
    s3.meta.events.unregister("before-sign.s3.PutBucketCors", strip)
    s3.meta.events.register("before-sign.s3.PutBucketCors", wrong)
    assert code(lambda: s3.put_bucket_cors(Bucket=b, CORSConfiguration=rules)) == ("BadDigest", 400)
    assert code(lambda: clients.s3().get_bucket_cors(Bucket=b)) == ("NoSuchCORSConfiguration", 404)


def test_an_anonymous_upload_is_checked_against_its_declared_hash(clients: Clients, admin: Any,
                                                                 new_bucket: Callable[..., str]) -> None:
    import hashlib
    b = new_bucket([])
    admin.put_bucket_policy(Bucket=b, Policy=_policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{b}/drop/*"}))
    url = f"{clients.ep['aws_endpoint']}/{b}/drop/x"
    bad = clients.http.put(url, content=b"body", headers={"x-amz-content-sha256": "0" * 64})
    assert bad.status_code == 400 and "XAmzContentSHA256Mismatch" in bad.text
    good = clients.http.put(url, content=b"body", headers={"x-amz-content-sha256": hashlib.sha256(b"body").hexdigest()})
    assert good.status_code == 200
    assert admin.get_object(Bucket=b, Key="drop/x")["Body"].read() == b"body"
    assert clients.http.put(f"{clients.ep['aws_endpoint']}/{b}/elsewhere", content=b"x").status_code == 403


@pytest.fixture
def localhost_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Names under ``localhost`` resolve to loopback, as RFC 6761 asks (systemd-resolved and browsers do; glibc
    alone, on this machine, does not)."""
    import socket
    real = socket.getaddrinfo

    def resolve(host: Any, *args: Any, **kw: Any) -> Any:
        if isinstance(host, str) and host.lower().rstrip(".").endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *args, **kw)
    monkeypatch.setattr(socket, "getaddrinfo", resolve)


def test_virtual_hosted_addressing_for_clients_that_insist(clients: Clients, localhost_names: None) -> None:
    """``https://<bucket>.localhost:PORT/<key>``: the certificate names the bucket's host (made by the local CA on
    first use, checked here against it), and every operation works as in path style, presigned URLs included."""
    import boto3
    from botocore.config import Config
    port = clients.ep["aws_endpoint"].rsplit(":", 1)[1]
    admin = clients.ep["admin_credentials"]
    sent: list[str] = []

    def virtual_client(**config: Any) -> Any:
        c = boto3.client("s3", endpoint_url=f"https://localhost:{port}", region_name=clients.ep["region"],
                         verify=clients.ep["ca_file"], aws_access_key_id=admin["access_key_id"],
                         aws_secret_access_key=admin["secret_access_key"],
                         config=Config(s3={"addressing_style": "virtual"}, **config))
        c.meta.events.register("before-send", lambda request, **_: sent.append(request.url))
        return c
    virtual = virtual_client()
    bucket = "virtual-hosted-bucket"
    virtual.create_bucket(Bucket=bucket)
    put = virtual.put_object(Bucket=bucket, Key="dir/a b.txt", Body=b"hello")
    assert put["ResponseMetadata"]["HTTPHeaders"]["etag"] == put["ETag"]
    assert virtual.get_object(Bucket=bucket, Key="dir/a b.txt")["Body"].read() == b"hello"
    page = virtual.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in page["CommonPrefixes"]] == ["dir/"]
    assert sent and all(u.startswith(f"https://{bucket}.localhost:{port}/") for u in sent), sent
    assert clients.s3().get_object(Bucket=bucket, Key="dir/a b.txt")["Body"].read() == b"hello"  # one bucket, two ways
    for version in ("s3", "s3v4"):  # SigV2 signs the path-style resource, SigV4 the virtual host and its path
        url = virtual_client(signature_version=version).generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": "dir/a b.txt"})
        assert url.startswith(f"https://{bucket}.localhost:{port}/dir/"), url
        got = httpx.get(url, verify=trust(clients.ep))
        assert (got.status_code, got.content) == (200, b"hello"), got.text
        moved = httpx.get(url.replace(f"{bucket}.localhost", "localhost").replace("/dir/", f"/{bucket}/dir/"),
                          verify=trust(clients.ep))
        # SigV4 signs the host: the same request made path style is another request; SigV2 signs the path-style
        # resource whichever way it is sent, on AWS too
        assert moved.status_code == (403 if version == "s3v4" else 200), moved.text
    with pytest.raises(ClientError) as missing:
        virtual.head_object(Bucket="no-such-virtual-bucket", Key="k")
    assert missing.value.response["Error"]["Code"] == "404"
    with pytest.raises(httpx.ConnectError):  # a name no bucket can have gets no certificate of its own
        httpx.get(f"https://under_score.localhost:{port}/", verify=trust(clients.ep))
    virtual.delete_object(Bucket=bucket, Key="dir/a b.txt")
    virtual.delete_bucket(Bucket=bucket)
