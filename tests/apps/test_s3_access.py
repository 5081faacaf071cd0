"""S3's access controls and object settings beyond policies, as boto3 drives them: ACLs (canned, grant headers,
documents) enforced for everyone and for signed callers, object ownership, the public access block and policy
status, default and requested encryption (SSE-S3, SSE-KMS, SSE-C), and the smaller answers an S3 conformance
suite checks (who is told NoSuchBucket, repeated creates and completes, names S3 keeps, owners in listings,
lifecycle headers and documents, 100-continue)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from tests.conftest import Clients, code, start, trust

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"


@pytest.fixture(scope="module")
def admin(clients: Clients) -> Any:
    return clients.s3()


@pytest.fixture(scope="module")
def anonymous(clients: Clients) -> Any:
    import boto3
    return boto3.client("s3", endpoint_url=clients.ep["aws_endpoint"], region_name=clients.ep["region"],
                        verify=clients.ep["ca_file"], config=Config(signature_version=UNSIGNED,
                                                                    s3={"addressing_style": "path"}))


@pytest.fixture
def new_bucket(admin: Any, request: pytest.FixtureRequest) -> Callable[..., str]:
    made = 0

    def make(**kw: Any) -> str:
        nonlocal made
        made += 1
        name = f"acc-{os.getpid()}-{abs(hash(request.node.name)) % 10**8}-{made}"
        admin.create_bucket(Bucket=name, **kw)
        return name
    return make


def grants(acl: dict[str, Any]) -> list[tuple[str, str]]:
    return [(g["Grantee"].get("ID") or g["Grantee"].get("URI", ""), g["Permission"]) for g in acl["Grants"]]


# -- ACLs

def test_canned_acls_open_a_bucket_and_its_objects_to_everyone(admin: Any, anonymous: Any,
                                                               new_bucket: Callable[..., str]) -> None:
    private = new_bucket()
    assert grants(admin.get_bucket_acl(Bucket=private)) == [("stratus", "FULL_CONTROL")]
    admin.put_object(Bucket=private, Key="k", Body=b"v")
    assert code(lambda: anonymous.list_objects_v2(Bucket=private)) == ("AccessDenied", 403)
    assert code(lambda: anonymous.get_object(Bucket=private, Key="k")) == ("AccessDenied", 403)
    assert code(lambda: anonymous.get_object(Bucket=private, Key="gone")) == ("AccessDenied", 403)  # says nothing

    readable = new_bucket(ACL="public-read")
    assert grants(admin.get_bucket_acl(Bucket=readable)) == [("stratus", "FULL_CONTROL"), (ALL_USERS, "READ")]
    admin.put_object(Bucket=readable, Key="private", Body=b"p")
    admin.put_object(Bucket=readable, Key="public", Body=b"q", ACL="public-read")
    assert [o["Key"] for o in anonymous.list_objects_v2(Bucket=readable)["Contents"]] == ["private", "public"]
    assert anonymous.get_object(Bucket=readable, Key="public")["Body"].read() == b"q"
    assert code(lambda: anonymous.get_object(Bucket=readable, Key="private")) == ("AccessDenied", 403)
    # a caller that may list the bucket is told a key is missing
    assert code(lambda: anonymous.get_object(Bucket=readable, Key="gone")) == ("NoSuchKey", 404)
    assert code(lambda: anonymous.put_object(Bucket=readable, Key="x", Body=b"x")) == ("AccessDenied", 403)

    writable = new_bucket(ACL="public-read-write")
    anonymous.put_object(Bucket=writable, Key="from-anyone", Body=b"hello", ACL="public-read")  # aws-chunked, unsigned
    assert admin.get_object(Bucket=writable, Key="from-anyone")["Body"].read() == b"hello"
    assert grants(admin.get_object_acl(Bucket=writable, Key="from-anyone"))[1:] == [(ALL_USERS, "READ")]
    anonymous.delete_object(Bucket=writable, Key="from-anyone")

    admin.put_bucket_acl(Bucket=readable, ACL="private")  # and closed again
    assert code(lambda: anonymous.list_objects_v2(Bucket=readable)) == ("AccessDenied", 403)
    admin.put_object_acl(Bucket=readable, Key="public", ACL="private")
    assert code(lambda: anonymous.get_object(Bucket=readable, Key="public")) == ("AccessDenied", 403)


def test_authenticated_read_is_for_signed_callers(clients: Clients, admin: Any, anonymous: Any,
                                                   eve_id: dict[str, Any], new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    admin.put_object(Bucket=b, Key="k", Body=b"v", ACL="authenticated-read")
    assert code(lambda: anonymous.get_object(Bucket=b, Key="k")) == ("AccessDenied", 403)
    assert clients.s3(eve_id).get_object(Bucket=b, Key="k")["Body"].read() == b"v"  # a role no policy allows this


def test_grants_by_header_and_by_document(admin: Any, anonymous: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket(GrantRead=f'uri="{ALL_USERS}"', GrantFullControl="id=stratus")  # quoted or not, as S3 takes them
    assert sorted(grants(admin.get_bucket_acl(Bucket=b))) == [(ALL_USERS, "READ"), ("stratus", "FULL_CONTROL")]
    admin.put_object(Bucket=b, Key="k", Body=b"v")
    policy = admin.get_object_acl(Bucket=b, Key="k")
    policy["Grants"].append({"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"})
    admin.put_object_acl(Bucket=b, Key="k", AccessControlPolicy={"Grants": policy["Grants"], "Owner": policy["Owner"]})
    assert anonymous.get_object(Bucket=b, Key="k")["Body"].read() == b"v"
    admin.put_bucket_acl(Bucket=b, AccessControlPolicy={"Grants": [], "Owner": policy["Owner"]})
    assert admin.get_bucket_acl(Bucket=b)["Grants"] == []  # every grant revoked, as asked
    assert code(lambda: admin.put_bucket_acl(Bucket=b, GrantRead='id="someone-else"')) == ("InvalidArgument", 400)
    assert code(lambda: admin.put_bucket_acl(Bucket=b, GrantRead='emailAddress="a@example.com"')) == \
        ("UnresolvableGrantByEmailAddress", 400)
    assert code(lambda: admin.put_bucket_acl(Bucket=b, GrantRead='uri="http://example.com/group"')) == \
        ("InvalidArgument", 400)
    assert code(lambda: admin.put_object(Bucket=b, Key="k", Body=b"", ACL="bogus")) == ("InvalidArgument", 400)
    assert code(lambda: admin.put_object(Bucket=b, Key="k", Body=b"", ACL="private", GrantRead="id=stratus")) == \
        ("InvalidRequest", 400)


def test_versions_have_acls_of_their_own(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    admin.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    first = admin.put_object(Bucket=b, Key="k", Body=b"1", ACL="public-read")["VersionId"]
    admin.put_object(Bucket=b, Key="k", Body=b"2")
    assert grants(admin.get_object_acl(Bucket=b, Key="k")) == [("stratus", "FULL_CONTROL")]
    assert (ALL_USERS, "READ") in grants(admin.get_object_acl(Bucket=b, Key="k", VersionId=first))
    admin.put_object_acl(Bucket=b, Key="k", VersionId=first, ACL="private")
    assert grants(admin.get_object_acl(Bucket=b, Key="k", VersionId=first)) == [("stratus", "FULL_CONTROL")]


def test_ownership_controls_turn_acls_off(admin: Any, anonymous: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket(ACL="public-read")
    assert code(lambda: admin.get_bucket_ownership_controls(Bucket=b)) == ("OwnershipControlsNotFoundError", 404)
    enforced = {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert code(lambda: admin.put_bucket_ownership_controls(Bucket=b, OwnershipControls=enforced)) == \
        ("InvalidBucketAclWithObjectOwnership", 400)  # a bucket ACL granting others must go first
    admin.put_bucket_acl(Bucket=b, ACL="private")
    admin.put_object(Bucket=b, Key="open", Body=b"v", ACL="public-read")
    assert anonymous.get_object(Bucket=b, Key="open")["Body"].read() == b"v"
    admin.put_bucket_ownership_controls(Bucket=b, OwnershipControls=enforced)
    assert admin.get_bucket_ownership_controls(Bucket=b)["OwnershipControls"] == enforced
    assert code(lambda: anonymous.get_object(Bucket=b, Key="open")) == ("AccessDenied", 403)  # its grant counts no more
    assert code(lambda: admin.put_bucket_acl(Bucket=b, ACL="public-read")) == ("AccessControlListNotSupported", 400)
    admin.put_object(Bucket=b, Key="k", Body=b"v", ACL="bucket-owner-full-control")  # the one ACL still taken
    assert code(lambda: admin.create_bucket(Bucket=b + "-x", ObjectOwnership="BucketOwnerEnforced",
                                            ACL="public-read")) == ("InvalidBucketAclWithObjectOwnership", 400)


def test_public_access_block_and_policy_status(admin: Any, anonymous: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    assert admin.get_public_access_block(Bucket=b)["PublicAccessBlockConfiguration"] == {
        k: False for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")}
    public = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/*"}]})
    narrowed = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/*",
        "Condition": {"IpAddress": {"aws:SourceIp": "10.1.2.3/32"}}}]})
    assert code(lambda: admin.get_bucket_policy_status(Bucket=b)) == ("NoSuchBucketPolicy", 404)  # no policy
    admin.put_bucket_policy(Bucket=b, Policy=narrowed)
    assert admin.get_bucket_policy_status(Bucket=b)["PolicyStatus"]["IsPublic"] is False
    admin.put_bucket_policy(Bucket=b, Policy=public)
    assert admin.get_bucket_policy_status(Bucket=b)["PolicyStatus"]["IsPublic"] is True
    admin.put_object(Bucket=b, Key="k", Body=b"v", ACL="public-read")
    assert anonymous.get_object(Bucket=b, Key="k")["Body"].read() == b"v"

    admin.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration={
        "RestrictPublicBuckets": True, "IgnorePublicAcls": True})
    assert code(lambda: anonymous.get_object(Bucket=b, Key="k")) == ("AccessDenied", 403)  # neither admits anyone now
    admin.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "BlockPublicPolicy": True})
    assert anonymous.get_object(Bucket=b, Key="k")["Body"].read() == b"v"  # what is there still counts
    assert code(lambda: admin.put_object(Bucket=b, Key="k2", Body=b"", ACL="public-read")) == ("AccessDenied", 403)
    assert code(lambda: admin.put_bucket_acl(Bucket=b, ACL="public-read")) == ("AccessDenied", 403)
    assert code(lambda: admin.put_bucket_policy(Bucket=b, Policy=public)) == ("AccessDenied", 403)
    admin.put_bucket_policy(Bucket=b, Policy=narrowed)  # not public: taken
    admin.delete_public_access_block(Bucket=b)


def test_declared_buckets_have_their_synthesized_settings(admin: Any, bucket: str) -> None:
    assert admin.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}]
    assert set(admin.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"].values()) == {True}
    rule = admin.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


# -- encryption

def test_requested_and_default_encryption_are_kept_and_said(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    plain = admin.put_object(Bucket=b, Key="plain", Body=b"x")
    assert "ServerSideEncryption" not in plain
    s3 = admin.put_object(Bucket=b, Key="s3", Body=b"x", ServerSideEncryption="AES256")
    assert s3["ServerSideEncryption"] == "AES256"
    assert admin.head_object(Bucket=b, Key="s3")["ServerSideEncryption"] == "AES256"
    kms = admin.put_object(Bucket=b, Key="kms", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="testkey-1")
    assert (kms["ServerSideEncryption"], kms["SSEKMSKeyId"]) == ("aws:kms", "testkey-1")
    assert admin.get_object(Bucket=b, Key="kms")["SSEKMSKeyId"] == "testkey-1"
    assert code(lambda: admin.put_object(Bucket=b, Key="k", Body=b"", SSEKMSKeyId="testkey-1")) == \
        ("InvalidArgument", 400)

    assert code(lambda: admin.get_bucket_encryption(Bucket=b)) == \
        ("ServerSideEncryptionConfigurationNotFoundError", 404)
    admin.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "testkey-2"}}]})
    by_default = admin.put_object(Bucket=b, Key="default", Body=b"x")
    assert (by_default["ServerSideEncryption"], by_default["SSEKMSKeyId"]) == ("aws:kms", "testkey-2")
    mp = admin.create_multipart_upload(Bucket=b, Key="mp")
    part = admin.upload_part(Bucket=b, Key="mp", UploadId=mp["UploadId"], PartNumber=1, Body=b"p")
    done = admin.complete_multipart_upload(Bucket=b, Key="mp", UploadId=mp["UploadId"], MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert done["ServerSideEncryption"] == "aws:kms"
    admin.delete_bucket_encryption(Bucket=b)
    assert "ServerSideEncryption" not in admin.put_object(Bucket=b, Key="after", Body=b"x")


def test_bad_encryption_requests_are_refused(clients: Clients, admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    admin.put_object(Bucket=b, Key="k", Body=b"x")
    s3 = clients.s3()
    s3.meta.events.register("before-sign.s3.PutObject",
                            lambda request, **_: request.headers.__setitem__("x-amz-server-side-encryption", "aes:kms"))
    assert code(lambda: s3.put_object(Bucket=b, Key="k2", Body=b"x")) == ("InvalidArgument", 400)
    s3 = clients.s3()
    s3.meta.events.register("before-sign.s3.GetObject",
                            lambda request, **_: request.headers.__setitem__("x-amz-server-side-encryption", "AES256"))
    assert code(lambda: s3.get_object(Bucket=b, Key="k")) == ("InvalidArgument", 400)  # taken on writes only


def test_customer_keys_are_required_to_read(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    key, other = os.urandom(32), os.urandom(32)
    with_key = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    put = admin.put_object(Bucket=b, Key="secret", Body=b"hidden", **with_key)
    assert put["SSECustomerKeyMD5"] == base64.b64encode(hashlib.md5(key).digest()).decode()
    assert admin.get_object(Bucket=b, Key="secret", **with_key)["Body"].read() == b"hidden"
    assert admin.head_object(Bucket=b, Key="secret", **with_key)["SSECustomerAlgorithm"] == "AES256"
    assert code(lambda: admin.get_object(Bucket=b, Key="secret")) == ("InvalidRequest", 400)
    assert code(lambda: admin.head_object(Bucket=b, Key="secret"))[1] == 400
    assert code(lambda: admin.get_object(Bucket=b, Key="secret", SSECustomerAlgorithm="AES256",
                                         SSECustomerKey=other)) == ("InvalidArgument", 400)
    admin.put_object(Bucket=b, Key="plain", Body=b"x")
    assert code(lambda: admin.get_object(Bucket=b, Key="plain", **with_key)) == ("InvalidRequest", 400)
    # a copy reads its source with the source's key
    assert code(lambda: admin.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "secret"})) == \
        ("InvalidRequest", 400)
    admin.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "secret"},
                      CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=key)
    assert admin.get_object(Bucket=b, Key="copy")["Body"].read() == b"hidden"  # the copy asked for no key
    # every part of an upload with the upload's key
    mp = admin.create_multipart_upload(Bucket=b, Key="mp", **with_key)
    assert code(lambda: admin.upload_part(Bucket=b, Key="mp", UploadId=mp["UploadId"], PartNumber=1,
                                          Body=b"p"))[1] == 400
    assert code(lambda: admin.upload_part(Bucket=b, Key="mp", UploadId=mp["UploadId"], PartNumber=1, Body=b"p",
                                          SSECustomerAlgorithm="AES256", SSECustomerKey=other))[1] == 400
    part = admin.upload_part(Bucket=b, Key="mp", UploadId=mp["UploadId"], PartNumber=1, Body=b"p", **with_key)
    admin.complete_multipart_upload(Bucket=b, Key="mp", UploadId=mp["UploadId"], MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert code(lambda: admin.get_object(Bucket=b, Key="mp")) == ("InvalidRequest", 400)
    assert admin.get_object(Bucket=b, Key="mp", **with_key)["Body"].read() == b"p"
    short = base64.b64encode(b"x" * 16).decode()
    s3 = admin
    assert code(lambda: s3.put_object(Bucket=b, Key="k", Body=b"", SSECustomerAlgorithm="AES256",
                                      SSECustomerKey=b"x" * 16)) == ("InvalidArgument", 400), short
    assert code(lambda: s3.put_object(Bucket=b, Key="k", Body=b"", SSECustomerAlgorithm="AES256",
                                      SSECustomerKey=key, ServerSideEncryption="AES256")) == ("InvalidArgument", 400)


# -- the smaller answers

def test_a_bucket_that_does_not_exist_is_said_to_anyone(anonymous: Any) -> None:
    for call in (lambda: anonymous.get_object(Bucket="no-such-bucket-anywhere", Key="k"),
                 lambda: anonymous.delete_object(Bucket="no-such-bucket-anywhere", Key="k"),
                 lambda: anonymous.list_objects(Bucket="no-such-bucket-anywhere")):
        assert code(call) == ("NoSuchBucket", 404)


def test_names_s3_keeps_or_refuses(clients: Clients, admin: Any) -> None:
    for name in ("foo.-bar", "foo-.bar", "sthree-bucket", "bucket--ol-s3", "bucket.mrap", "xn--bucket",
                 "amzn-s3-demo-bucket"):
        assert code(lambda n=name: admin.create_bucket(Bucket=n)) == ("InvalidBucketName", 400), name  # type: ignore
    # a name starting with '_' reaches S3 (not another part of the endpoint) and is refused there, in XML
    assert code(lambda: admin.create_bucket(Bucket="_underscore")) == ("InvalidBucketName", 400)


def test_a_repeat_create_is_200_in_us_east_1_only(tmp_path_factory: pytest.TempPathFactory, admin: Any,
                                                  new_bucket: Callable[..., str]) -> None:
    b = new_bucket(ACL="public-read")
    admin.put_object(Bucket=b, Key="kept", Body=b"v")
    admin.create_bucket(Bucket=b)
    assert grants(admin.get_bucket_acl(Bucket=b)) == [("stratus", "FULL_CONTROL")]  # its ACL reset, as S3 does
    assert admin.get_object(Bucket=b, Key="kept")["Body"].read() == b"v"
    from tests.conftest import TODO
    elsewhere = Clients(start(tmp_path_factory.mktemp("eu"), TODO, extra=["--region", "eu-west-1"]))
    try:
        s3 = elsewhere.s3()
        cfg = {"LocationConstraint": "eu-west-1"}
        s3.create_bucket(Bucket="regional", CreateBucketConfiguration=cfg)  # type: ignore[arg-type]
        assert code(lambda: s3.create_bucket(Bucket="regional", CreateBucketConfiguration=cfg)) == \
            ("BucketAlreadyOwnedByYou", 409)
    finally:
        elsewhere.system.stop()


def test_a_repeated_complete_answers_with_its_object(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    mp = admin.create_multipart_upload(Bucket=b, Key="k")
    part = admin.upload_part(Bucket=b, Key="k", UploadId=mp["UploadId"], PartNumber=1, Body=b"data")
    parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    first = admin.complete_multipart_upload(Bucket=b, Key="k", UploadId=mp["UploadId"], MultipartUpload=parts)
    again = admin.complete_multipart_upload(Bucket=b, Key="k", UploadId=mp["UploadId"], MultipartUpload=parts)
    assert again["ETag"] == first["ETag"]
    admin.put_object(Bucket=b, Key="k", Body=b"replaced")  # once the key holds another object, the upload is gone
    assert code(lambda: admin.complete_multipart_upload(Bucket=b, Key="k", UploadId=mp["UploadId"],
                                                        MultipartUpload=parts)) == ("NoSuchUpload", 404)


def test_owners_in_listings(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    admin.put_object(Bucket=b, Key="k", Body=b"v")
    assert admin.list_objects(Bucket=b)["Contents"][0]["Owner"] == {"ID": "stratus", "DisplayName": "stratus"}
    assert "Owner" not in admin.list_objects_v2(Bucket=b)["Contents"][0]
    assert admin.list_objects_v2(Bucket=b, FetchOwner=True)["Contents"][0]["Owner"]["ID"] == "stratus"
    mp = admin.create_multipart_upload(Bucket=b, Key="up")
    upload = admin.list_multipart_uploads(Bucket=b)["Uploads"][0]
    assert upload["Initiator"]["ID"] == upload["Owner"]["ID"] == "stratus"
    assert admin.list_parts(Bucket=b, Key="up", UploadId=mp["UploadId"])["Owner"]["ID"] == "stratus"


def test_policy_conditions_on_what_a_request_says(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    admin.put_object(Bucket=b, Key="secret", Body=b"s", Tagging="level=secret")
    admin.put_object(Bucket=b, Key="open", Body=b"o", Tagging="level=open")
    deny = [
        {"Condition": {"StringLike": {"s3:x-amz-acl": "public*"}}, "Action": "s3:PutObject"},
        {"Condition": {"StringEquals": {"s3:RequestObjectTag/level": "secret"}}, "Action": "s3:PutObject"},
        {"Condition": {"StringEquals": {"s3:ExistingObjectTag/level": "secret"}}, "Action": "s3:GetObject"},
        {"Condition": {"StringLike": {"s3:x-amz-copy-source": f"{b}/secret*"}}, "Action": "s3:PutObject"},
        {"Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}}, "Action": "s3:PutObject",
         "Resource": f"arn:aws:s3:::{b}/encrypted/*"},
    ]
    admin.put_bucket_policy(Bucket=b, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Deny", "Principal": "*", "Resource": f"arn:aws:s3:::{b}/*", **d} for d in deny]}))
    assert code(lambda: admin.put_object(Bucket=b, Key="x", Body=b"", ACL="public-read")) == ("AccessDenied", 403)
    admin.put_object(Bucket=b, Key="x", Body=b"", ACL="private")
    assert code(lambda: admin.put_object(Bucket=b, Key="y", Body=b"", Tagging="level=secret")) == ("AccessDenied", 403)
    admin.put_object(Bucket=b, Key="y", Body=b"", Tagging="level=open")
    assert code(lambda: admin.get_object(Bucket=b, Key="secret")) == ("AccessDenied", 403)
    assert admin.get_object(Bucket=b, Key="open")["Body"].read() == b"o"
    assert code(lambda: admin.copy_object(Bucket=b, Key="z", CopySource=f"{b}/secret")) == ("AccessDenied", 403)
    assert code(lambda: admin.put_object(Bucket=b, Key="encrypted/a", Body=b"")) == ("AccessDenied", 403)
    admin.put_object(Bucket=b, Key="encrypted/a", Body=b"", ServerSideEncryption="AES256")
    admin.delete_bucket_policy(Bucket=b)
    # a policy names its bucket by pattern too; never another bucket
    pattern = {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}
    admin.put_bucket_policy(Bucket=b, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {**pattern, "Resource": ["arn:aws:s3:::*", "arn:aws:s3:::*/*", f"arn:aws:s3:::{b[:5]}*/open"]}]}))
    assert code(lambda: admin.put_bucket_policy(Bucket=b, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {**pattern, "Resource": "arn:aws:s3:::another-bucket/*"}]}))) == ("MalformedPolicy", 400)


def test_bucket_logging_is_off_and_says_so(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    assert "LoggingEnabled" not in admin.get_bucket_logging(Bucket=b)
    admin.put_bucket_logging(Bucket=b, BucketLoggingStatus={})
    err = code(lambda: admin.put_bucket_logging(Bucket=b, BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": b, "TargetPrefix": "logs/"}}))
    assert err == ("NotImplemented", 501)


def test_lifecycle_says_when_an_object_expires(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    admin.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "rule1", "Expiration": {"Days": 1}, "Prefix": "days1/", "Status": "Enabled"}]})
    rules = admin.get_bucket_lifecycle_configuration(Bucket=b)["Rules"]
    assert rules[0]["Prefix"] == "days1/" and "Filter" not in rules[0]  # as it was given
    put = admin.put_object(Bucket=b, Key="days1/foo", Body=b"x")
    said = put["Expiration"]
    assert 'rule-id="rule1"' in said
    expiry = time.mktime(time.strptime(said.split('"')[1], "%a, %d %b %Y %H:%M:%S GMT")) - time.timezone
    assert expiry % 86400 == 0 and 0 < expiry - time.time() <= 2 * 86400
    assert admin.head_object(Bucket=b, Key="days1/foo")["Expiration"] == said
    assert "Expiration" not in admin.put_object(Bucket=b, Key="other", Body=b"x")
    assert code(lambda: admin.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "a" * 256, "Expiration": {"Days": 1}, "Prefix": "", "Status": "Enabled"}]})) == ("InvalidArgument", 400)
    midday = dt.datetime(2030, 1, 1, 12, tzinfo=dt.UTC)  # S3 takes only midnights
    assert code(lambda: admin.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": "d", "Expiration": {"Date": midday}, "Prefix": "", "Status": "Enabled"}]})) == ("InvalidArgument", 400)


def test_a_refusal_before_the_body_sends_no_100_continue(clients: Clients, new_bucket: Callable[..., str]) -> None:
    """A client that waits for 100 Continue is told 403 at once (and never asked for its body)."""
    b = new_bucket()
    host, port = clients.ep["aws_endpoint"].removeprefix("https://").rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=clients.ep["ca_file"])
    with socket.create_connection((host, int(port)), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname=host) as s:
        s.sendall(f"PUT /{b}/k HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: 123\r\n"
                  "Expect: 100-continue\r\n\r\n".encode())
        first = s.recv(4096).decode("latin-1")
    assert first.startswith("HTTP/1.1 403"), first
    assert "100 Continue" not in first
    got = httpx.put(f"{clients.ep['aws_endpoint']}/{b}/k", content=b"x" * 123, verify=trust(clients.ep))
    assert got.status_code == 403  # the same request with its body, at once: the same answer


# -- Object Lock

def test_object_lock_keeps_versions_until_their_date(clocked: Clients, move_clock: Callable[[float], None]) -> None:
    admin = clocked.s3()
    b = f"lock-{os.getpid()}"
    admin.create_bucket(Bucket=b, ObjectLockEnabledForBucket=True)
    assert admin.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    assert code(lambda: admin.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})) == \
        ("InvalidBucketState", 409)
    assert admin.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"] == {"ObjectLockEnabled": "Enabled"}
    admin.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    governed = admin.put_object(Bucket=b, Key="k", Body=b"1")["VersionId"]
    head = admin.head_object(Bucket=b, Key="k")
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert code(lambda: admin.delete_object(Bucket=b, Key="k", VersionId=governed)) == ("AccessDenied", 403)
    marker = admin.delete_object(Bucket=b, Key="k")  # a delete marker is always allowed
    assert marker["DeleteMarker"] is True
    admin.delete_object(Bucket=b, Key="k", VersionId=marker["VersionId"])

    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    complied = admin.put_object(Bucket=b, Key="c", Body=b"2", ObjectLockMode="COMPLIANCE",
                                ObjectLockRetainUntilDate=until)["VersionId"]
    assert admin.get_object_retention(Bucket=b, Key="c")["Retention"]["Mode"] == "COMPLIANCE"
    shorter = {"Mode": "COMPLIANCE", "RetainUntilDate": until - dt.timedelta(days=1)}
    assert code(lambda: admin.put_object_retention(Bucket=b, Key="c", Retention=shorter,
                                                   BypassGovernanceRetention=True)) == ("AccessDenied", 403)
    admin.put_object_retention(Bucket=b, Key="c", Retention={"Mode": "COMPLIANCE",
                                                             "RetainUntilDate": until + dt.timedelta(days=1)})
    assert code(lambda: admin.delete_object(Bucket=b, Key="c", VersionId=complied,
                                            BypassGovernanceRetention=True)) == ("AccessDenied", 403)
    batch = admin.delete_objects(Bucket=b, BypassGovernanceRetention=True, Delete={"Objects": [
        {"Key": "c", "VersionId": complied}, {"Key": "k", "VersionId": governed}]})
    assert [e["Key"] for e in batch.get("Errors", [])] == ["c"]  # the governed one yields to the bypass
    assert [d["Key"] for d in batch["Deleted"]] == ["k"]

    held = admin.put_object(Bucket=b, Key="h", Body=b"3", ObjectLockLegalHoldStatus="ON",
                            ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until)["VersionId"]
    assert admin.get_object_legal_hold(Bucket=b, Key="h")["LegalHold"]["Status"] == "ON"
    assert code(lambda: admin.delete_object(Bucket=b, Key="h", VersionId=held,
                                            BypassGovernanceRetention=True)) == ("AccessDenied", 403)
    admin.put_object_legal_hold(Bucket=b, Key="h", LegalHold={"Status": "OFF"})
    admin.delete_object(Bucket=b, Key="h", VersionId=held, BypassGovernanceRetention=True)

    move_clock(32 * 86400)  # every retention over: the versions go as any do
    admin.delete_object(Bucket=b, Key="c", VersionId=complied)
    assert admin.list_object_versions(Bucket=b).get("Versions", []) == []


def test_object_lock_settings_s3_refuses(admin: Any, new_bucket: Callable[..., str]) -> None:
    plain = new_bucket()
    assert code(lambda: admin.get_object_lock_configuration(Bucket=plain)) == \
        ("ObjectLockConfigurationNotFoundError", 404)
    enabled = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}}
    assert code(lambda: admin.put_object_lock_configuration(Bucket=plain, ObjectLockConfiguration=enabled)) == \
        ("InvalidBucketState", 409)  # not versioned
    assert code(lambda: admin.put_object(Bucket=plain, Key="k", Body=b"", ObjectLockLegalHoldStatus="ON")) == \
        ("InvalidRequest", 400)
    assert code(lambda: admin.get_object_retention(Bucket=plain, Key="k")) == ("InvalidRequest", 400)
    admin.put_bucket_versioning(Bucket=plain, VersioningConfiguration={"Status": "Enabled"})
    for rule, expected in (({"Mode": "GOVERNANCE", "Days": 1, "Years": 1}, "MalformedXML"),
                           ({"Mode": "GOVERNANCE", "Days": 0}, "InvalidRetentionPeriod"),
                           ({"Mode": "ABC", "Days": 1}, "MalformedXML")):
        assert code(lambda r=rule: admin.put_object_lock_configuration(Bucket=plain, ObjectLockConfiguration={  # type: ignore
            "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": r}}))[0] == expected
    admin.put_object_lock_configuration(Bucket=plain, ObjectLockConfiguration=enabled)  # a versioned bucket may
    admin.put_object(Bucket=plain, Key="k", Body=b"")
    assert code(lambda: admin.get_object_legal_hold(Bucket=plain, Key="k")) == ("NoSuchObjectLockConfiguration", 404)


# -- what a review found: each once a way around the rules

def test_a_copy_reads_its_source_by_the_sources_own_acl(admin: Any, anonymous: Any,
                                                        new_bucket: Callable[..., str]) -> None:
    b = new_bucket(ACL="public-read-write")
    admin.put_object(Bucket=b, Key="secret", Body=b"top secret")
    anonymous.put_object(Bucket=b, Key="x", Body=b"mine", ACL="public-read")
    assert code(lambda: anonymous.copy_object(Bucket=b, Key="x", CopySource={"Bucket": b, "Key": "secret"},
                                              ACL="public-read")) == ("AccessDenied", 403)
    assert anonymous.get_object(Bucket=b, Key="x")["Body"].read() == b"mine"
    up = anonymous.create_multipart_upload(Bucket=b, Key="x")
    assert code(lambda: anonymous.upload_part_copy(Bucket=b, Key="x", UploadId=up["UploadId"], PartNumber=1,
                                                   CopySource={"Bucket": b, "Key": "secret"})) == ("AccessDenied", 403)


def test_stored_values_that_go_out_as_headers_are_checked(clients: Clients, admin: Any,
                                                          new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    assert code(lambda: admin.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "a\r\nX: 1"}}]})) == \
        ("InvalidArgument", 400)
    post = admin.generate_presigned_post(b, "k", Fields={  # a form's field is not a client's header: any bytes
        "x-amz-server-side-encryption": "aws:kms", "x-amz-server-side-encryption-aws-kms-key-id": "k\r\nX: 1"},
        Conditions=[{"x-amz-server-side-encryption": "aws:kms"},
                    {"x-amz-server-side-encryption-aws-kms-key-id": "k\r\nX: 1"}])
    got = httpx.post(post["url"], data=post["fields"], files={"file": ("f", b"x")}, verify=trust(clients.ep))
    assert got.status_code == 400 and b"InvalidArgument" in got.content, got.text
    for rule, expected in (({"ID": "a\r\nX-Injected: 1", "Expiration": {"Days": 1}}, "InvalidArgument"),
                           ({"ID": "far", "Expiration": {"Days": 999999999}}, "InvalidArgument")):
        assert code(lambda r=rule: admin.put_bucket_lifecycle_configuration(  # type: ignore[misc]
            Bucket=b, LifecycleConfiguration={"Rules": [{**r, "Prefix": "", "Status": "Enabled"}]}))[0] == expected
    admin.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
        {"ID": 'say "when"', "Expiration": {"Days": 1}, "Prefix": "", "Status": "Enabled"}]})
    said = admin.put_object(Bucket=b, Key="k", Body=b"")["Expiration"]
    assert said.endswith('rule-id="say%20%22when%22"'), said  # URL-encoded, as S3 sends it
    locked = new_bucket(ObjectLockEnabledForBucket=True)
    assert code(lambda: admin.put_object_lock_configuration(Bucket=locked, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Years": 101}}})) == \
        ("InvalidRetentionPeriod", 400)
    last = dt.datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC)  # no date past it could be written back
    assert code(lambda: admin.put_object(Bucket=locked, Key="k", Body=b"", ObjectLockMode="GOVERNANCE",
                                         ObjectLockRetainUntilDate=last)) == ("InvalidArgument", 400)
    offset = dt.datetime(2031, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5)))  # an offset counts
    admin.put_object(Bucket=locked, Key="o", Body=b"", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=offset)
    until = admin.get_object_retention(Bucket=locked, Key="o")["Retention"]["RetainUntilDate"]
    assert until == dt.datetime(2030, 12, 31, 19, tzinfo=dt.UTC)
    for k in ("k", "o"):
        for ver in admin.list_object_versions(Bucket=locked, Prefix=k).get("Versions", []):
            admin.delete_object(Bucket=locked, Key=k, VersionId=ver["VersionId"], BypassGovernanceRetention=True)


def test_a_deny_wins_over_what_an_acl_lets_a_writer_do(admin: Any, anonymous: Any,
                                                       new_bucket: Callable[..., str]) -> None:
    b = new_bucket(ACL="public-read-write")
    admin.put_bucket_policy(Bucket=b, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": ["s3:PutObjectAcl", "s3:PutObjectTagging"],
        "Resource": f"arn:aws:s3:::{b}/*"}]}))
    assert code(lambda: anonymous.put_object(Bucket=b, Key="k", Body=b"", ACL="public-read")) == ("AccessDenied", 403)
    assert code(lambda: anonymous.put_object(Bucket=b, Key="k", Body=b"", Tagging="a=b")) == ("AccessDenied", 403)
    anonymous.put_object(Bucket=b, Key="k", Body=b"")  # the write alone is the ACL's to allow


def test_a_forms_fields_meet_a_policys_conditions_as_headers(clients: Clients, admin: Any,
                                                             new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    admin.put_bucket_policy(Bucket=b, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{b}/*",
        "Condition": {"StringEquals": {"s3:x-amz-acl": "public-read"}}}]}))
    post = admin.generate_presigned_post(b, "k", Fields={"acl": "public-read"}, Conditions=[{"acl": "public-read"}])
    got = httpx.post(post["url"], data=post["fields"], files={"file": ("f", b"x")}, verify=trust(clients.ep))
    assert got.status_code == 403, got.text
    post = admin.generate_presigned_post(b, "k", Fields={"acl": "private"}, Conditions=[{"acl": "private"}])
    got = httpx.post(post["url"], data=post["fields"], files={"file": ("f", b"x")}, verify=trust(clients.ep))
    assert got.status_code == 204, got.text


@pytest.mark.parametrize("condition", [
    {"Null": {"aws:SourceIp": "false"}}, {"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}},
    {"NotIpAddress": {"aws:SourceIp": "10.9.9.9/32"}}, {"StringNotEquals": {"aws:SourceAccount": "123456789012"}},
    {"StringLike": {"aws:SourceArn": "arn:aws:*"}}])
def test_a_condition_that_admits_anyone_leaves_a_policy_public(admin: Any, new_bucket: Callable[..., str],
                                                               condition: dict[str, Any]) -> None:
    b = new_bucket()
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/*",
        "Condition": condition}]})
    admin.put_bucket_policy(Bucket=b, Policy=policy)
    assert admin.get_bucket_policy_status(Bucket=b)["PolicyStatus"]["IsPublic"] is True
    admin.delete_bucket_policy(Bucket=b)
    admin.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration={"BlockPublicPolicy": True})
    assert code(lambda: admin.put_bucket_policy(Bucket=b, Policy=policy)) == ("AccessDenied", 403)


def test_a_repeat_create_changes_nothing_but_the_acl_within_the_settings(admin: Any, bucket: str,
                                                                          new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    admin.put_public_access_block(Bucket=b, PublicAccessBlockConfiguration={"BlockPublicAcls": True})
    assert code(lambda: admin.create_bucket(Bucket=b, ACL="public-read")) == ("AccessDenied", 403)
    admin.create_bucket(Bucket=b, ObjectLockEnabledForBucket=True)
    assert code(lambda: admin.get_object_lock_configuration(Bucket=b))[1] == 404
    admin.create_bucket(Bucket=bucket, ObjectOwnership="ObjectWriter")  # the declared bucket keeps ACLs off
    assert admin.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}]


def test_customer_key_objects_keep_their_md5_to_themselves(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    key = os.urandom(32)
    put = admin.put_object(Bucket=b, Key="k", Body=b"guess me", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert put["ETag"].strip('"') != hashlib.md5(b"guess me").hexdigest()
    assert admin.list_objects_v2(Bucket=b)["Contents"][0]["ETag"] == put["ETag"]
    up = admin.create_multipart_upload(Bucket=b, Key="mp", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    admin.put_object(Bucket=b, Key="plain", Body=b"p" * 10)
    assert code(lambda: admin.upload_part_copy(Bucket=b, Key="mp", UploadId=up["UploadId"], PartNumber=1,
                                               CopySource={"Bucket": b, "Key": "plain"}))[1] == 400
    admin.upload_part_copy(Bucket=b, Key="mp", UploadId=up["UploadId"], PartNumber=1,
                           CopySource={"Bucket": b, "Key": "plain"}, SSECustomerAlgorithm="AES256", SSECustomerKey=key)


def test_a_content_md5_that_is_no_digest_is_invalid(clients: Clients, admin: Any,
                                                    new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    for value in ("YWJyYWNhZGFicmE=", "", "AWS HAHAHA"):  # short, empty, not base64
        assert code(lambda v=value: admin.put_object(Bucket=b, Key="k", Body=b"bar",  # type: ignore[misc]
                                                     ContentMD5=v)) == ("InvalidDigest", 400), value
        assert code(lambda v=value: admin.put_bucket_tagging(Bucket=b, Tagging={"TagSet": []},  # type: ignore[misc]
                                                             ContentMD5=v))[0] in ("InvalidDigest", "BadDigest")
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    once = clients.s3(retries={"max_attempts": 1})  # botocore tries a BadDigest again, with its back-off
    assert code(lambda: once.put_object(Bucket=b, Key="k", Body=b"bar", ContentMD5=wrong)) == ("BadDigest", 400)


def test_a_put_with_no_length_is_refused(clients: Clients, new_bucket: Callable[..., str]) -> None:
    b = new_bucket(ACL="public-read-write")
    host, port = clients.ep["aws_endpoint"].removeprefix("https://").rsplit(":", 1)
    ctx = ssl.create_default_context(cafile=clients.ep["ca_file"])
    with socket.create_connection((host, int(port)), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname=host) as s:
        s.sendall(f"PUT /{b}/k HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        answer = b""
        while chunk := s.recv(4096):
            answer += chunk
    text = answer.decode("latin-1")
    assert text.startswith("HTTP/1.1 411") and "<Code>MissingContentLength</Code>" in text, text


# -- what a second review found

def test_a_copy_onto_itself_reads_the_current_version(clients: Clients, admin: Any, anonymous: Any,
                                                      new_bucket: Callable[..., str]) -> None:
    """The version in the request's URL names what is written, never which version of the source is read."""
    b = new_bucket(ACL="public-read-write")
    admin.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    old = admin.put_object(Bucket=b, Key="k", Body=b"old, public", ACL="public-read")["VersionId"]
    admin.put_object(Bucket=b, Key="k", Body=b"new secret")
    url = f"{clients.ep['aws_endpoint']}/{b}/k?versionId={old}"
    got = httpx.put(url, headers={"x-amz-copy-source": f"/{b}/k", "x-amz-acl": "public-read",
                                  "x-amz-metadata-directive": "REPLACE"}, verify=trust(clients.ep))
    assert got.status_code == 403, got.text
    assert code(lambda: anonymous.get_object(Bucket=b, Key="k")) == ("AccessDenied", 403)


def test_a_policy_variable_narrows_nothing(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    everyone_by_address = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/*",
        "Condition": {"StringEquals": {"aws:SourceIp": "${aws:SourceIp}"}}}]})
    admin.put_bucket_policy(Bucket=b, Policy=everyone_by_address)
    assert admin.get_bucket_policy_status(Bucket=b)["PolicyStatus"]["IsPublic"] is True
    every_range = json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{b}/*",
        "Condition": {"IpAddress": {"aws:SourceIp": [f"{n}.0.0.0/8" for n in range(256)]}}}]})
    admin.put_bucket_policy(Bucket=b, Policy=every_range)
    assert admin.get_bucket_policy_status(Bucket=b)["PolicyStatus"]["IsPublic"] is True


def test_cors_values_that_go_out_as_headers_are_checked(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    for field in ("ExposeHeaders", "AllowedHeaders", "AllowedOrigins"):
        rule = {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"], field: ["a\r\nX-Injected: 1"]}
        assert code(lambda r=rule: admin.put_bucket_cors(  # type: ignore[misc]
            Bucket=b, CORSConfiguration={"CORSRules": [r]})) == ("InvalidRequest", 400), field


def test_a_forms_http_headers_are_not_its_fields(clients: Clients, admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    admin.put_bucket_policy(Bucket=b, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{b}/*",
        "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}}]}))
    post = admin.generate_presigned_post(b, "k")
    got = httpx.post(post["url"], data=post["fields"], files={"file": ("f", b"x")}, verify=trust(clients.ep),
                     headers={"x-amz-server-side-encryption": "AES256"})  # a header the form does not carry
    assert got.status_code == 403, got.text
    post = admin.generate_presigned_post(b, "k", Fields={"x-amz-server-side-encryption": "AES256"},
                                         Conditions=[{"x-amz-server-side-encryption": "AES256"}])
    got = httpx.post(post["url"], data=post["fields"], files={"file": ("f", b"x")}, verify=trust(clients.ep))
    assert got.status_code == 204 and got.headers["x-amz-server-side-encryption"] == "AES256", got.text


def test_customer_key_parts_keep_their_md5_to_themselves(admin: Any, new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    key = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": os.urandom(32)}
    up = admin.create_multipart_upload(Bucket=b, Key="mp", **key)
    part = admin.upload_part(Bucket=b, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"part", **key)
    assert part["ETag"].strip('"') != hashlib.md5(b"part").hexdigest()
    listed = admin.list_parts(Bucket=b, Key="mp", UploadId=up["UploadId"])["Parts"]
    assert listed[0]["ETag"] == part["ETag"]
    done = admin.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up["UploadId"], MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert done["ETag"].strip('"') != hashlib.md5(hashlib.md5(b"part").digest()).hexdigest() + "-1"
    assert admin.get_object(Bucket=b, Key="mp", **key)["Body"].read() == b"part"


def test_a_put_refused_by_its_headers_keeps_nothing(clients: Clients, admin: Any,
                                                    new_bucket: Callable[..., str]) -> None:
    b = new_bucket()
    blobs = clients.system.data_dir / "s3" / "blobs"
    before = sum(1 for _ in blobs.rglob("*") if _.is_file())
    for _ in range(3):
        assert code(lambda: admin.put_object(Bucket=b, Key="k", Body=os.urandom(200_000), IfNoneMatch='"abc"')) == \
            ("NotImplemented", 501)
    assert sum(1 for _ in blobs.rglob("*") if _.is_file()) == before
