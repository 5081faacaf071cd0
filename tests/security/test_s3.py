"""Attacks on the S3 endpoint: another user's folder, forged and tampered signatures, hostile keys, sizes, headers,
the order S3 checks in, metadata, client addresses, and pages served from a bucket.

Every request is made with a real client (boto3, the AWS CLI, httpx, or a raw TLS socket where a client would
refuse to send it) against a ``stratus up``.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from stratus.local.system import RunningSystem
from tests.conftest import Clients, denied, error_code, start
from tests.security.conftest import read_all, tls


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


def test_every_other_route_into_anothers_folder_is_refused(clients: Clients, eve_id: dict[str, Any],
                                                          frank_id: dict[str, Any], bucket: str, tmp_path: Path) -> None:
    """Heads, multipart uploads (started, fed, listed, completed, aborted), presigned URLs, versions and the
    AWS CLI, each aimed at the other user's folder."""
    frank = clients.s3(frank_id)
    frank_key = f"{frank_id['identity_id']}/private.txt"
    frank.put_object(Bucket=bucket, Key=frank_key, Body=b"frank's")
    frank_upload = clients.s3().create_multipart_upload(Bucket=bucket, Key=frank_key + ".mp")["UploadId"]
    s3 = clients.s3(eve_id)
    denied(lambda: s3.head_object(Bucket=bucket, Key=frank_key), "403")
    denied(lambda: s3.get_object(Bucket=bucket, Key=frank_key, Range="bytes=0-0"))
    denied(lambda: s3.create_multipart_upload(Bucket=bucket, Key=frank_key))
    denied(lambda: s3.upload_part(Bucket=bucket, Key=frank_key + ".mp", UploadId=frank_upload, PartNumber=1, Body=b"x"))
    denied(lambda: s3.list_parts(Bucket=bucket, Key=frank_key + ".mp", UploadId=frank_upload))
    denied(lambda: s3.complete_multipart_upload(Bucket=bucket, Key=frank_key + ".mp", UploadId=frank_upload,
                                                MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"x"'}]}))
    denied(lambda: s3.abort_multipart_upload(Bucket=bucket, Key=frank_key + ".mp", UploadId=frank_upload))
    denied(lambda: s3.list_multipart_uploads(Bucket=bucket, Prefix=frank_id["identity_id"]))
    denied(lambda: s3.list_object_versions(Bucket=bucket, Prefix=frank_id["identity_id"]))
    denied(lambda: s3.list_objects(Bucket=bucket, Prefix=frank_id["identity_id"] + "/"))
    for version in ("s3", "s3v4"):  # her own signature over his key: valid, and still not allowed
        signer = clients.s3(eve_id, signature_version=version) if version == "s3v4" else s3
        for method, params in (("get_object", {}), ("put_object", {}), ("delete_object", {})):
            url = signer.generate_presigned_url(method, Params={"Bucket": bucket, "Key": frank_key, **params})
            verb = {"get_object": "GET", "put_object": "PUT", "delete_object": "DELETE"}[method]
            r = clients.http.request(verb, url, content=b"overwritten" if verb == "PUT" else None)
            assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text, (version, method, r.text)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_ACCESS_KEY_ID": eve_id["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": eve_id["SecretKey"],
                "AWS_SESSION_TOKEN": eve_id["SessionToken"], "AWS_CONFIG_FILE": "/dev/null",
                "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"})
    base = ["aws", "--endpoint-url", clients.ep["aws_endpoint"], "--ca-bundle", clients.ep["ca_file"],
            "--region", clients.ep["region"], "s3"]
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "private.txt").write_bytes(b"overwritten")
    frank_folder = f"s3://{bucket}/{frank_id['identity_id']}/"
    for args in (["cp", f"s3://{bucket}/{frank_key}", str(tmp_path / "got")], ["sync", str(tmp_path / "mine"), frank_folder],
                 ["sync", frank_folder, str(tmp_path / "theirs")], ["rm", "--recursive", frank_folder],
                 ["mv", f"s3://{bucket}/{frank_key}", f"s3://{bucket}/{eve_id['identity_id']}/moved"]):
        r = subprocess.run([*base, *args], capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode != 0 and ("AccessDenied" in r.stderr or "Forbidden" in r.stderr), (args, r.stderr)
    assert not (tmp_path / "got").exists() and not any((tmp_path / "theirs").glob("*"))
    assert frank.get_object(Bucket=bucket, Key=frank_key)["Body"].read() == b"frank's"
    assert clients.s3().list_parts(Bucket=bucket, Key=frank_key + ".mp", UploadId=frank_upload).get("Parts", []) == []
    clients.s3().abort_multipart_upload(Bucket=bucket, Key=frank_key + ".mp", UploadId=frank_upload)


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


def test_bucket_changes_are_denied_before_anything_else_is_said(clients: Clients, eve_id: dict[str, Any],
                                                                          bucket: str) -> None:
    s3 = clients.s3(eve_id)
    for call in (lambda: s3.put_bucket_policy(Bucket=bucket, Policy="{}"),
                 lambda: s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}),
                 lambda: s3.put_bucket_acl(Bucket=bucket, ACL="public-read"),
                 lambda: s3.delete_bucket_policy(Bucket=bucket)):
        denied(call)  # a user has no right to these: AccessDenied, as on S3
    with pytest.raises(ClientError) as exc:  # the admin may, and is told what is wrong
        clients.s3().put_bucket_policy(Bucket=bucket, Policy="{}")
    assert error_code(exc) == "MalformedPolicy"
    with pytest.raises(ClientError) as exc:  # a declared bucket has ACLs off, as its synthesized AWS bucket has
        clients.s3().put_bucket_acl(Bucket=bucket, ACL="public-read")
    assert error_code(exc) == "AccessControlListNotSupported"


# -- aws:SourceIp is the connection's address, whatever a header says, unless the operator trusts a proxy

WALLED = Path(__file__).parent / "fixtures" / "walled"
INSIDE = "203.0.113.7"  # in the range the walled app's policy reads from


def _forwarding(client: Any, address: str) -> Any:
    """``client`` with the headers a proxy in front would add, after signing (as a proxy would)."""
    def add(request: Any, **_: Any) -> None:
        request.headers["X-Forwarded-For"] = address
        request.headers["Forwarded"] = f"for={address}"
        request.headers["X-Real-IP"] = address
    client.meta.events.register("before-send.s3.*", add)
    return client


def _walled_reader(system: RunningSystem) -> tuple[Clients, dict[str, Any], str]:
    walled = Clients(system, app="walled")
    me = walled.identity(walled.user())
    bucket, key = walled.app["buckets"]["vault"], f"{me['identity_id']}/report.txt"
    walled.s3(me).put_object(Bucket=bucket, Key=key, Body=b"inside only")
    return walled, me, key


@pytest.fixture(scope="module")
def walled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    s = start(tmp_path_factory.mktemp("walled"), WALLED)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def walled_behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    s = start(tmp_path_factory.mktemp("proxied"), WALLED, extra=["--trusted-proxy", "127.0.0.1"])
    yield s
    s.stop()


def test_a_header_cannot_choose_the_source_address(walled: RunningSystem) -> None:
    clients, me, key = _walled_reader(walled)
    bucket = clients.app["buckets"]["vault"]
    denied(lambda: clients.s3(me).get_object(Bucket=bucket, Key=key))  # from 127.0.0.1: outside the range
    spoofing = _forwarding(clients.s3(me), INSIDE)
    denied(lambda: spoofing.get_object(Bucket=bucket, Key=key))
    for version in ("s3", "s3v4"):  # presigned URLs are judged the same way
        url = clients.s3(me, signature_version=version).generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=60)
        r = clients.http.get(url, headers={"X-Forwarded-For": INSIDE, "Forwarded": f"for={INSIDE}"})
        assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text, (version, r.text)


def test_a_trusted_proxy_is_believed(walled_behind_proxy: RunningSystem) -> None:
    """``stratus up --trusted-proxy 127.0.0.1``: the operator says a proxy on loopback forwards the clients."""
    clients, me, key = _walled_reader(walled_behind_proxy)
    bucket = clients.app["buckets"]["vault"]
    assert _forwarding(clients.s3(me), INSIDE).get_object(Bucket=bucket, Key=key)["Body"].read() == b"inside only"
    denied(lambda: _forwarding(clients.s3(me), "198.51.100.1").get_object(Bucket=bucket, Key=key))
    denied(lambda: clients.s3(me).get_object(Bucket=bucket, Key=key))  # nothing forwarded: the proxy's own address


# -- what the object's owner may still not do

def test_a_response_override_with_a_line_break_is_refused(clients: Clients, eve_id: dict[str, Any],
                                                          bucket: str) -> None:
    s3 = clients.s3(eve_id)
    key = f"{eve_id['identity_id']}/override.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"o")
    for param, value in [("ResponseContentType", "text/html\r\nX-Injected: 1"),
                         ("ResponseContentDisposition", "attachment\r\nSet-Cookie: a=b"),
                         ("ResponseCacheControl", "no-cache\nX-Injected: 1"),
                         ("ResponseContentLanguage", "en\x00"), ("ResponseContentEncoding", "gzip\x7f")]:
        url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key, param: value})
        r = clients.http.get(url)
        assert r.status_code == 400 and "<Code>InvalidArgument</Code>" in r.text, (param, r.status_code, r.text)
        assert "x-injected" not in r.headers and "set-cookie" not in r.headers
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key,
                                                          "ResponseContentType": "text/plain; charset=utf-8"})
    r = clients.http.get(url)
    assert r.status_code == 200 and r.headers["content-type"] == "text/plain; charset=utf-8"


def _signed_head(clients: Clients, creds: dict[str, Any], method: str, path: str, headers: dict[str, str],
                 encoding: str = "utf-8") -> bytes:
    """A request head signed with SigV4 by botocore (payload unsigned), as bytes to write on a raw connection
    (its text in ``encoding``: botocore signs the UTF-8 of it)."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    class Unsigned(S3SigV4Auth):
        def payload(self, request: Any) -> str:
            return "UNSIGNED-PAYLOAD"
    request = AWSRequest(method, clients.ep["aws_endpoint"] + path, headers=headers)
    Unsigned(Credentials(creds["AccessKeyId"], creds["SecretKey"], creds["SessionToken"]), "s3",
             clients.ep["region"]).add_auth(request)
    assert request.headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"
    host = clients.ep["aws_endpoint"].removeprefix("https://")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in request.headers.items() if k.lower() != "host"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode(encoding)


def test_an_upload_past_five_gib_is_refused_at_once(clients: Clients, eve_id: dict[str, Any], bucket: str) -> None:
    key = f"{eve_id['identity_id']}/huge.bin"
    with tls(clients.ep) as conn:
        conn.sendall(_signed_head(clients, eve_id, "PUT", f"/{bucket}/{key}", {"Content-Length": str(6 << 30)}))
        conn.sendall(b"\0" * 65536)  # the start of the body; the answer comes without the rest
        t0 = time.monotonic()
        answer = read_all(conn, 65536)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert b"<Code>EntityTooLarge</Code>" in answer and b"<MaxSizeAllowed>5368709120</MaxSizeAllowed>" in answer
    assert time.monotonic() - t0 < 5
    assert clients.s3().list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount") == 0  # nothing was stored


def test_copies_are_authorized_before_they_are_missing(clients: Clients, eve_id: dict[str, Any],
                                                       frank_id: dict[str, Any], bucket: str) -> None:
    """UploadPartCopy and a copy of a version read another object: the caller must be allowed to read it."""
    frank_key = f"{frank_id['identity_id']}/source.txt"
    frank_version = clients.s3(frank_id).put_object(Bucket=bucket, Key=frank_key, Body=b"f").get("VersionId", "null")
    s3 = clients.s3(eve_id)
    mine = f"{eve_id['identity_id']}/copy.txt"
    upload = s3.create_multipart_upload(Bucket=bucket, Key=mine)["UploadId"]
    try:
        denied(lambda: s3.upload_part_copy(Bucket=bucket, Key=mine, UploadId=upload, PartNumber=1,
                                           CopySource={"Bucket": bucket, "Key": frank_key}))
        denied(lambda: s3.copy_object(Bucket=bucket, Key=mine, CopySource={"Bucket": bucket, "Key": frank_key,
                                                                           "VersionId": frank_version}))
        s3.put_object(Bucket=bucket, Key=mine + ".src", Body=b"mine")  # her own source: copied
        part = s3.upload_part_copy(Bucket=bucket, Key=mine, UploadId=upload, PartNumber=1,
                                   CopySource={"Bucket": bucket, "Key": mine + ".src"}, CopySourceRange="bytes=1-2")
        assert [p["Size"] for p in clients.s3().list_parts(Bucket=bucket, Key=mine, UploadId=upload)["Parts"]] \
            == [2]
        assert part["CopyPartResult"]["ETag"]
    finally:
        clients.s3().abort_multipart_upload(Bucket=bucket, Key=mine, UploadId=upload)  # s3:AbortMultipartUpload is not hers


def test_non_ascii_metadata_comes_back_as_s3_returns_it(clients: Clients, eve_id: dict[str, Any], bucket: str) -> None:
    """boto3 refuses non-ASCII metadata itself; other clients (browsers, curl, other SDKs) send it as UTF-8."""
    s3 = clients.s3(eve_id)
    key = f"{eve_id['identity_id']}/meta.txt"
    with tls(clients.ep) as conn:
        conn.sendall(_signed_head(clients, eve_id, "PUT", f"/{bucket}/{key}", {
            "Content-Length": "1", "x-amz-meta-note": "café", "x-amz-meta-plain": "ascii"}) + b"m")
        assert read_all(conn, 4096).startswith(b"HTTP/1.1 200"), "the upload was refused"
    for got in (s3.head_object(Bucket=bucket, Key=key), s3.get_object(Bucket=bucket, Key=key)):
        assert got["Metadata"] == {"note": "=?UTF-8?Q?caf=C3=A9?=", "plain": "ascii"}  # RFC 2047, as S3 answers
    s3.put_object(Bucket=bucket, Key=key, Body=b"m", Metadata={"note": "=?UTF-8?B?Y2Fmw6k=?="})  # sent encoded
    assert s3.head_object(Bucket=bucket, Key=key)["Metadata"] == {"note": "=?UTF-8?B?Y2Fmw6k=?="}


@pytest.mark.parametrize("value", ["=?UTF-8?B?YQ0KU2V0LUNvb2tpZTogeD15?=",  # "a\r\nSet-Cookie: x=y", encoded
                                   "=?UTF-8?Q?a=0D=0ASet-Cookie:_x=3Dy?=", "=?UTF-8?B?AA==?=", "=?UTF-8?B?Y?=",
                                   "=?x-unknown?B?YQ==?=", "=?UTF-8?B?!!!?="])
def test_encoded_words_in_metadata_are_kept_as_sent(clients: Clients, eve_id: dict[str, Any], bucket: str,
                                                    value: str) -> None:
    """S3 decodes no encoded word it is sent in US-ASCII: none can put a line break (or a NUL) in a header the
    object is later served with."""
    s3 = clients.s3(eve_id)
    key = f"{eve_id['identity_id']}/words.txt"
    s3.put_object(Bucket=bucket, Key=key, Body=b"w", Metadata={"x": value})
    assert s3.head_object(Bucket=bucket, Key=key)["Metadata"] == {"x": value}
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key})
    r = clients.http.get(url)
    assert r.status_code == 200 and r.headers["x-amz-meta-x"] == value and "set-cookie" not in r.headers


def test_metadata_with_control_characters_is_refused(clients: Clients, eve_id: dict[str, Any], bucket: str) -> None:
    """No control character gets into a header value here (HTTP refuses them); stored values with any would go
    back out only as an RFC 2047 word (``encode_metadata``)."""
    key = f"{eve_id['identity_id']}/controls.txt"
    for value in ("caf\u00e9\x01", "\u00e9\x7f", "\u00e9\x1b[31m", "\x04mymeta"):
        with tls(clients.ep) as conn:
            conn.sendall(_signed_head(clients, eve_id, "PUT", f"/{bucket}/{key}", {
                "Content-Length": "1", "x-amz-meta-x": value}) + b"m")
            answer = read_all(conn, 4096)
        assert answer.startswith(b"HTTP/1.1 400"), (value, answer[:300])
    assert clients.s3().list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount") == 0  # nothing was stored


def test_one_signature_covers_one_byte_string(clients: Clients, eve_id: dict[str, Any], bucket: str) -> None:
    """A header is signed as the UTF-8 of its text: the same text in other bytes (Latin-1) is not what was
    signed, though the two read alike, and is refused."""
    key = f"{eve_id['identity_id']}/bytes.txt"
    headers = {"Content-Length": "1", "Content-Disposition": "attachment; filename=café.txt"}
    with tls(clients.ep) as conn:
        conn.sendall(_signed_head(clients, eve_id, "PUT", f"/{bucket}/{key}", headers, "latin-1") + b"m")
        answer = read_all(conn, 4096)
    assert answer.startswith(b"HTTP/1.1 403") and b"SignatureDoesNotMatch" in answer, answer[:300]
    with tls(clients.ep) as conn:
        conn.sendall(_signed_head(clients, eve_id, "PUT", f"/{bucket}/{key}", headers) + b"m")
        assert read_all(conn, 4096).startswith(b"HTTP/1.1 200")
    url = clients.s3(eve_id).generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key})
    got = clients.http.get(url)  # served with the bytes it was stored with
    assert got.headers.raw[[k.lower() for k, _ in got.headers.raw].index(b"content-disposition")][1] == \
        "attachment; filename=café.txt".encode()


def test_unsigned_headers_are_kept_byte_for_byte(clients: Clients, eve_id: dict[str, Any], bucket: str) -> None:
    """A browser sends header text as Latin-1 bytes (fetch's ByteString): on a presigned PUT, which signs only
    the host, such a header is stored and served back in the same bytes."""
    s3 = clients.s3(eve_id, signature_version="s3v4")
    key = f"{eve_id['identity_id']}/latin1.txt"
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": key})
    sent = "attachment; filename=café.txt".encode("latin-1")
    assert clients.http.put(url, content=b"l", headers={"content-disposition": sent}).status_code == 200
    got = clients.http.get(s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}))
    assert dict(got.headers.raw)[b"content-disposition"] == sent


@pytest.mark.parametrize("size", ["\u00b2", "\u0663", "1\u00b2"])  # digits to str.isdigit, not to S3
def test_sizes_in_other_digits_are_refused(clients: Clients, eve_id: dict[str, Any], bucket: str,
                                           size: str) -> None:
    key = f"{eve_id['identity_id']}/digits.txt"
    with tls(clients.ep) as conn:
        conn.sendall(_signed_head(clients, eve_id, "PUT", f"/{bucket}/{key}", {
            "Content-Length": "5", "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": size})
            + b"0\r\n\r\n")
        answer = read_all(conn, 4096)
    status = int(answer.split(b" ", 2)[1])
    assert 400 <= status < 500, answer[:300]


def test_a_header_sent_twice_is_read_as_it_was_signed(clients: Clients, eve_id: dict[str, Any], bucket: str) -> None:
    """SigV4 signs a header's values joined by commas; sent as two lines, it is kept joined, not as the last line."""
    key = f"{eve_id['identity_id']}/twice.txt"
    head = _signed_head(clients, eve_id, "PUT", f"/{bucket}/{key}", {"Content-Length": "1", "x-amz-meta-a": "safe,evil"})
    head = head.replace(b"x-amz-meta-a: safe,evil\r\n", b"x-amz-meta-a: safe\r\nx-amz-meta-a: evil\r\n")
    assert head.count(b"x-amz-meta-a:") == 2
    with tls(clients.ep) as conn:
        conn.sendall(head + b"m")
        assert read_all(conn, 4096).startswith(b"HTTP/1.1 200")
    assert clients.s3(eve_id).head_object(Bucket=bucket, Key=key)["Metadata"] == {"a": "safe,evil"}
