"""S3 as its everyday clients use it, against S3's documented behaviour: boto3 and the AWS CLI with the admin's
credentials, on buckets of their own (listings at the root, versions of unversioned buckets, deleting buckets,
presigned URLs out of range, metadata, empty continuation tokens)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.conftest import Clients, trust

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


def code(fn: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as exc:
        fn()
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


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
    out = admin.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "foo/bar", "VersionId": "null"},
                                                              {"Key": "quux/thud", "VersionId": "nope"}]})
    assert out["Deleted"] == [{"Key": "foo/bar", "VersionId": "null"}]
    assert [(e["Key"], e["Code"]) for e in out["Errors"]] == [("quux/thud", "NoSuchVersion")]
    assert listed(admin.list_objects_v2(Bucket=b))[0] == ["foo/bar/xyzzy", "quux/thud"]


def test_versioning_cannot_be_turned_on_and_says_so(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket([])
    with pytest.raises(ClientError) as exc:
        admin.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    assert exc.value.response["Error"]["Code"] == "NotImplemented" and "versioning" in str(exc.value)


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
