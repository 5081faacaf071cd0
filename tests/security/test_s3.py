"""Attacks on the S3 endpoint: another user's folder, forged and tampered signatures, hostile keys, sizes, headers,
the order S3 checks in, metadata, client addresses, and pages served from a bucket.

Every request is made with a real client (boto3, the AWS CLI, httpx, or a raw TLS socket where a client would
refuse to send it) against a ``stratus up``.
"""

from __future__ import annotations

import os
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.conftest import Clients, denied, error_code


def test_everything_else_is_refused(clients: Clients, eve_id: dict[str, Any], frank_id: dict[str, Any],
                                    bucket: str) -> None:
    admin = clients.s3()
    other_bucket = f"other-{os.getpid()}-{int(time.time())}"
    admin.create_bucket(Bucket=other_bucket)
    admin.put_object(Bucket=other_bucket, Key="secret.txt", Body=b"s")
    frank_key = f"{frank_id['identity_id']}/private.txt"
    clients.s3(frank_id).put_object(Bucket=bucket, Key=frank_key, Body=b"frank's")
    s3 = clients.s3(eve_id)
    me = eve_id["identity_id"]
    denied(lambda: s3.get_object(Bucket=bucket, Key=frank_key))
    denied(lambda: s3.put_object(Bucket=bucket, Key=frank_key, Body=b"overwritten"))
    denied(lambda: s3.delete_object(Bucket=bucket, Key=frank_key))
    denied(lambda: s3.copy_object(Bucket=bucket, Key=f"{me}/stolen", CopySource={"Bucket": bucket, "Key": frank_key}))
    denied(lambda: s3.list_objects_v2(Bucket=bucket, Prefix=f"{frank_id['identity_id']}/"))
    denied(lambda: s3.list_objects_v2(Bucket=bucket))  # the bucket root
    denied(lambda: s3.list_objects_v2(Bucket=bucket, Prefix="us-east-1"))
    denied(lambda: s3.put_object(Bucket=bucket, Key="top-level.txt", Body=b"x"))
    denied(lambda: s3.get_object(Bucket=other_bucket, Key="secret.txt"))
    denied(lambda: s3.list_objects_v2(Bucket=other_bucket))
    denied(lambda: s3.list_buckets())
    denied(lambda: s3.create_bucket(Bucket=f"mine-{os.getpid()}"))
    denied(lambda: s3.delete_bucket(Bucket=bucket))
    result = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": frank_key}, {"Key": f"{me}/nothing"}]})
    assert [e["Key"] for e in result["Errors"]] == [frank_key] and result["Errors"][0]["Code"] == "AccessDenied"
    assert clients.s3(frank_id).get_object(Bucket=bucket, Key=frank_key)["Body"].read() == b"frank's"



def test_request_signing_is_enforced(clients: Clients, eve_id: dict[str, Any], bucket: str) -> None:
    key = f"{eve_id['identity_id']}/signed.txt"
    clients.s3(eve_id).put_object(Bucket=bucket, Key=key, Body=b"x")
    wrong_secret = dict(eve_id, SecretKey="x" * 40)
    denied(lambda: clients.s3(wrong_secret).get_object(Bucket=bucket, Key=key), "SignatureDoesNotMatch")
    wrong_token = dict(eve_id, SessionToken=eve_id["SessionToken"][:-4] + "AAAA")
    denied(lambda: clients.s3(wrong_token).get_object(Bucket=bucket, Key=key), "InvalidToken")
    no_token = boto3.client("s3", endpoint_url=clients.ep["aws_endpoint"], region_name=clients.ep["region"],
                            verify=clients.ep["ca_file"], aws_access_key_id=eve_id["AccessKeyId"],
                            aws_secret_access_key=eve_id["SecretKey"])
    with pytest.raises(ClientError) as exc:
        no_token.get_object(Bucket=bucket, Key=key)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    unknown = dict(eve_id, AccessKeyId="ASIAXXXXXXXXXXXXXXXX")
    denied(lambda: clients.s3(unknown).get_object(Bucket=bucket, Key=key), "InvalidAccessKeyId")
    r = clients.http.get(f"{clients.ep['aws_endpoint']}/{bucket}/{key}")  # anonymous
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text



def test_tampered_presigned_urls_are_refused(clients: Clients, eve_id: dict[str, Any], frank_id: dict[str, Any],
                                             bucket: str) -> None:
    s3 = clients.s3(eve_id)
    mine = f"{eve_id['identity_id']}/tamper.txt"
    s3.put_object(Bucket=bucket, Key=mine, Body=b"t")
    for version in ("s3", "s3v4"):  # boto3's default (SigV2 query) and SigV4 presigning
        signer = clients.s3(eve_id, signature_version=version) if version == "s3v4" else s3
        url = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": mine}, ExpiresIn=60)
        assert clients.http.get(url).content == b"t"
        other = url.replace(eve_id["identity_id"].split(":")[1], frank_id["identity_id"].split(":")[1])
        longer = url.replace("Expires=", "Expires=9").replace("X-Amz-Expires=60", "X-Amz-Expires=600")
        for forged in (other, longer):
            r = clients.http.get(forged)
            assert r.status_code == 403 and "SignatureDoesNotMatch" in r.text, (version, r.text)



@pytest.mark.parametrize("key", ["../../etc/passwd", "/absolute/path", "a/../../../b", "..", "./x", "a//b",
                                 "spaces and ünïcödé/ファイル", "percent%2Fencoded", "back\\slash", "x" * 900])
def test_hostile_keys_are_stored_as_keys(clients: Clients, eve_id: dict[str, Any], bucket: str, key: str) -> None:
    s3 = clients.s3(eve_id)
    full = f"{eve_id['identity_id']}/{key}"
    s3.put_object(Bucket=bucket, Key=full, Body=key.encode())
    assert s3.get_object(Bucket=bucket, Key=full)["Body"].read() == key.encode()
    data_dir = clients.system.data_dir
    assert not any(p.name == "passwd" for p in data_dir.rglob("*"))
    assert not (data_dir.parent / "etc").exists()



@pytest.mark.parametrize("key, code", [("nul\x00byte", "InvalidArgument"), ("x" * 1100, "KeyTooLongError"),
                                       ("ctl\x01char", "InvalidArgument")])
def test_unstorable_keys_are_refused(clients: Clients, eve_id: dict[str, Any], bucket: str, key: str, code: str) -> None:
    s3 = clients.s3(eve_id)
    with pytest.raises(Exception) as exc:  # botocore may refuse some keys itself before sending
        s3.put_object(Bucket=bucket, Key=f"{eve_id['identity_id']}/{key}", Body=b"x")
    if isinstance(exc.value, ClientError):
        assert error_code(exc) in (code, "AccessDenied")  # type: ignore[arg-type]



def test_unimplemented_bucket_changes_are_denied_before_they_are_missing(clients: Clients, eve_id: dict[str, Any],
                                                                          bucket: str) -> None:
    s3 = clients.s3(eve_id)
    for call in (lambda: s3.put_bucket_policy(Bucket=bucket, Policy="{}"),
                 lambda: s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}),
                 lambda: s3.put_bucket_acl(Bucket=bucket, ACL="public-read"),
                 lambda: s3.delete_bucket_policy(Bucket=bucket)):
        denied(call)  # a user has no right to these: AccessDenied, as on S3
    with pytest.raises(ClientError) as exc:  # the admin may, and is told it is not implemented
        clients.s3().put_bucket_policy(Bucket=bucket, Policy="{}")
    assert error_code(exc) == "NotImplemented"
