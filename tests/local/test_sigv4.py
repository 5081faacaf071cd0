"""SigV4 verification against what real botocore sends, plus AWS's published test vectors.

Every accepted request here was signed by botocore itself: ``S3SigV4Auth`` /
``S3SigV4QueryAuth`` on an ``AWSRequest``, ``generate_presigned_url``, or a boto3
client (and AWS CLI v1) talking to a tiny recording server, over plain HTTP and
TLS since botocore picks a different payload mode for each: a signed hex sha256
over HTTP, STREAMING-UNSIGNED-PAYLOAD-TRAILER with a CRC32 trailer over HTTPS
(botocore/httpchecksum.py only uses trailers over TLS). botocore never produces signed
chunks (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]), so those modes are
checked with the worked examples from the S3 documentation (sigv4-streaming and
sigv4-streaming-trailers), whose signatures AWS computed. botocore's clock is
pinned in-process; only the AWS CLI, a separate process, is checked on the real clock.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import os
import random
import ssl
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import boto3
import botocore.auth
import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.utils import percent_encode

from stratus.local.protocols.sigv4 import (
    ChunkedDecoder,
    Credential,
    SigV4Error,
    Verified,
    check_payload_sha256,
    is_signed,
    verify_request,
)
from stratus.local.tls import ensure_tls

NOW_DT = dt.datetime(2026, 11, 23, 4, 0, 0)
NOW = NOW_DT.replace(tzinfo=dt.UTC).timestamp()
AKID, SECRET = "AKIDSTRATUSTEST", "s3cr3t/Key+Example"
TEMP_AKID, TEMP_SECRET, TOKEN = "ASIASTRATUSTEMP", "temp-secret", "FQoGZXIvYXdzE-session-token/+="
LONG_TERM = Credential(AKID, SECRET, principal="alice")
TEMPORARY = Credential(TEMP_AKID, TEMP_SECRET, session_token=TOKEN, expires=NOW + 3600, principal="role/bob")
KEYS = {c.access_key_id: c for c in (LONG_TERM, TEMPORARY)}
ENDPOINT = "https://127.0.0.1:4580"

Wire = tuple[str, str, str, list[tuple[str, str]]]


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda remove_tzinfo=True: NOW_DT)


def wire(req: AWSRequest) -> Wire:
    """What a server would see of a botocore-signed request: method, raw path, raw query, headers (with Host)."""
    prepared = req.prepare()
    url = urlsplit(prepared.url)
    headers = [(k.lower(), v) for k, v in prepared.headers.items()] + [("host", url.netloc)]
    return prepared.method, url.path, url.query, headers


def signed(path: str = "/bucket/key", query: str = "", *, method: str = "GET", headers: dict[str, str] | None = None,
           body: bytes = b"", creds: Credentials | None = None, region: str = "us-east-1") -> Wire:
    req = AWSRequest(method=method, url=f"{ENDPOINT}{path}" + (f"?{query}" if query else ""), headers=headers or {}, data=body)
    S3SigV4Auth(creds or Credentials(AKID, SECRET), "s3", region).add_auth(req)
    return wire(req)


def presigned(path: str = "/bucket/key", *, expires: int = 3600, creds: Credentials | None = None) -> Wire:
    req = AWSRequest(method="GET", url=f"{ENDPOINT}{path}")
    S3SigV4QueryAuth(creds or Credentials(AKID, SECRET), "s3", "us-east-1", expires=expires).add_auth(req)
    return wire(req)


def verify(w: Wire, now: float = NOW, region: str | None = None) -> Verified:
    return verify_request(*w, KEYS.get, now, region=region)


def refused(w: Wire, now: float = NOW, region: str | None = None) -> SigV4Error:
    with pytest.raises(SigV4Error) as exc:
        verify(w, now, region)
    return exc.value


# ---------------------------------------------------------------- header auth


def test_header_auth_accepts_botocore_request() -> None:
    v = verify(signed("/bucket/key", "list-type=2&prefix=a%2Fb"), region="us-east-1")
    assert v.credential.principal == "alice"
    assert v.payload == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert (v.scope, v.amz_date, v.presigned) == ("20261123/us-east-1/s3/aws4_request", "20261123T040000Z", False)
    assert len(v.seed_signature) == 64 and len(v.signing_key) == 32


def test_wrong_secret_is_signature_does_not_match() -> None:
    err = refused(signed(creds=Credentials(AKID, "not-the-secret")))
    assert (err.code, err.status) == ("SignatureDoesNotMatch", 403)
    assert err.message.startswith("The request signature we calculated does not match")


def test_unknown_key_is_invalid_access_key_id() -> None:
    err = refused(signed(creds=Credentials("AKIDNOBODY", SECRET)))
    assert (err.code, err.status) == ("InvalidAccessKeyId", 403)


@pytest.mark.parametrize("tamper", ["path", "query", "header", "method", "extra-query"])
def test_tampering_is_detected(tamper: str) -> None:
    method, path, query, headers = signed("/bucket/key", "versionId=1", headers={"Range": "bytes=0-9"})
    if tamper == "path":
        path = "/bucket/kez"
    elif tamper == "query":
        query = "versionId=2"
    elif tamper == "extra-query":
        query += "&acl"
    elif tamper == "header":
        headers = [(k, "bytes=0-99" if k == "range" else v) for k, v in headers]
    else:
        method = "DELETE"
    assert refused((method, path, query, headers)).code == "SignatureDoesNotMatch"


@pytest.mark.parametrize("direction", [-1, 1])
def test_clock_skew_over_15_minutes_is_refused(direction: int) -> None:
    assert verify(signed(), NOW + direction * 900).credential is LONG_TERM
    err = refused(signed(), NOW + direction * 901)
    assert (err.code, err.status) == ("RequestTimeTooSkewed", 403)


def test_wrong_region_names_the_expected_one() -> None:
    w = signed(region="eu-west-1")
    err = refused(w, region="us-east-1")
    assert (err.code, err.status) == ("AuthorizationHeaderMalformed", 400)
    assert "'eu-west-1' is wrong; expecting 'us-east-1'" in err.message
    assert verify(w).scope == "20261123/eu-west-1/s3/aws4_request"  # no region pinned: the scope's region is used


def test_credential_scope_must_match_request_date_and_service() -> None:
    method, path, query, headers = signed()
    auth = dict(headers)["authorization"]
    for bad, words in ((auth.replace("/20261123/", "/20261122/"), "Invalid credential date"),
                       (auth.replace("/s3/", "/sqs/"), 'incorrect service "sqs"')):
        err = refused((method, path, query, [(k, bad if k == "authorization" else v) for k, v in headers]))
        assert err.code == "AuthorizationHeaderMalformed" and words in err.message


def test_host_must_be_signed_and_x_amz_headers_too() -> None:
    method, path, query, headers = signed()
    auth = dict(headers)["authorization"].replace("SignedHeaders=host;", "SignedHeaders=")
    err = refused((method, path, query, [(k, auth if k == "authorization" else v) for k, v in headers]))
    assert err.code == "AuthorizationHeaderMalformed"
    err = refused((method, path, query, [*headers, ("x-amz-acl", "public-read")]))
    assert err.code == "AccessDenied" and "x-amz-acl" in err.message


def test_missing_content_sha256_header_is_invalid_request() -> None:
    req = AWSRequest(method="GET", url=f"{ENDPOINT}/bucket/key")
    SigV4Auth(Credentials(AKID, SECRET), "s3", "us-east-1").add_auth(req)  # the generic signer sends no x-amz-content-sha256
    err = refused(wire(req))
    assert (err.code, err.status) == ("InvalidRequest", 400)
    assert err.message == "Missing required header for this request: x-amz-content-sha256"


def test_date_header_instead_of_x_amz_date() -> None:
    w = signed(headers={"Date": "placeholder"})  # botocore rewrites it and then signs Date, not X-Amz-Date
    assert "x-amz-date" not in dict(w[3])
    assert verify(w).amz_date == "20261123T040000Z"


def test_repeated_headers_are_trimmed_and_joined_with_commas() -> None:
    req = AWSRequest(method="GET", url=f"{ENDPOINT}/bucket/key")
    req.headers["X-Amz-Meta-Tags"] = " a "
    req.headers["X-Amz-Meta-Tags"] = "  b   c "  # HTTPHeaders keeps both lines, botocore signs "a,b c"
    S3SigV4Auth(Credentials(AKID, SECRET), "s3", "us-east-1").add_auth(req)
    method, path, query, _ = wire(req)
    headers = [(k.lower(), v) for k, v in req.headers.items()] + [("host", "127.0.0.1:4580")]  # prepare() would merge them
    assert [v for k, v in headers if k == "x-amz-meta-tags"] == [" a ", "  b   c "]
    assert verify((method, path, query, headers)).credential is LONG_TERM
    joined = [h for h in headers if h[0] != "x-amz-meta-tags"] + [("x-amz-meta-tags", "a, b c")]
    assert refused((method, path, query, joined)).code == "SignatureDoesNotMatch"


def test_path_is_not_normalised() -> None:
    method, path, query, headers = signed("/bucket/a/./b//c")
    assert path == "/bucket/a/./b//c"
    for other in ("/bucket/a/b//c", "/bucket/a/./b/c", "/bucket/a/%2F/b//c"):
        assert refused((method, other, query, headers)).code == "SignatureDoesNotMatch"
    assert verify((method, "/bucket/a/%2E/b//c", query, headers))  # the same key, spelt with an escaped "."


def test_a_raw_utf8_path_matches_its_percent_encoded_signature() -> None:
    method, path, query, headers = signed("/bucket/" + percent_encode("ünï cöde+=.txt", safe="/~"))
    assert verify((method, unquote(path), query, headers)).credential is LONG_TERM  # a client that sent the key unencoded


def test_anonymous_and_unsupported_mechanisms() -> None:
    err = refused(("GET", "/bucket/key", "", [("host", "127.0.0.1:4580")]))
    assert err.code == "AccessDenied" and "must be signed" in err.message
    assert not is_signed("x=1", [("host", "h")])
    assert is_signed("", signed()[3]) and is_signed(presigned()[2], [])
    err = refused(("GET", "/bucket/key", "AWSAccessKeyId=AKID&Expires=1&Signature=abc", []))
    assert (err.code, err.status) == ("InvalidRequest", 400)
    err = refused(("GET", "/bucket/key", "", [("authorization", "AWS AKID:c2lnbmF0dXJl")]))
    assert (err.code, err.status) == ("InvalidRequest", 400)
    method, path, _, headers = signed()
    err = refused((method, path, presigned()[2], headers))
    assert (err.code, err.status) == ("InvalidArgument", 400)


# ---------------------------------------------------------------- presigned URLs


def test_presigned_url_from_s3_query_auth() -> None:
    v = verify(presigned("/bucket/some%20key"))
    assert (v.presigned, v.payload, v.credential.principal) == (True, "UNSIGNED-PAYLOAD", "alice")


@pytest.mark.parametrize("operation", ["get_object", "put_object"])
def test_presigned_url_from_boto3(operation: str) -> None:
    client = boto3.client("s3", endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id=AKID,
                          aws_secret_access_key=SECRET,
                          config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    url = urlsplit(client.generate_presigned_url(operation, Params={"Bucket": "bucket", "Key": "dir/ä b+c.txt"}, ExpiresIn=600))
    w = ("PUT" if operation == "put_object" else "GET", url.path, url.query, [("host", url.netloc)])
    assert verify(w, region="us-east-1").presigned
    assert unquote(url.path) == "/bucket/dir/ä b+c.txt"
    assert refused(w, NOW + 601).message == "Request has expired"
    assert refused(w[:2] + (url.query.replace("X-Amz-Expires=600", "X-Amz-Expires=6000"),) + w[3:]).code == \
        "SignatureDoesNotMatch"


def test_presigned_expiry_bounds() -> None:
    w = presigned(expires=60)
    assert verify(w, NOW + 60).presigned
    err = refused(w, NOW + 61)
    assert (err.code, err.status, err.message) == ("AccessDenied", 403, "Request has expired")
    err = refused(w, NOW - 16 * 60)
    assert (err.code, err.message) == ("AccessDenied", "Request is not valid yet")
    err = refused(presigned(expires=604801))  # S3's answers to an X-Amz-Expires out of range: all Forbidden
    assert (err.code, err.status, err.message) == ("AuthorizationQueryParametersError", 403, "X-Amz-Expires must be "
                                                   "less than a week (in seconds); that is, the given X-Amz-Expires "
                                                   "must be less than 604800 seconds")
    err = refused(presigned(expires=-7))
    assert (err.code, err.status, err.message) == ("AuthorizationQueryParametersError", 403,
                                                   "X-Amz-Expires must be non-negative")
    err = refused(presigned(expires=0), NOW)
    assert (err.code, err.status, err.message) == ("AccessDenied", 403, "Request has expired")
    method, path, query, headers = presigned()
    for bad in (query.replace("X-Amz-Expires=3600", "X-Amz-Expires=abc"), query.replace("X-Amz-Date=", "X-Amz-Datum="),
                query.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1")):
        assert refused((method, path, bad, headers)).code == "AuthorizationQueryParametersError"
    assert verify(presigned(expires=604800), NOW + 604800).presigned


# ---------------------------------------------------------------- temporary credentials


def test_temporary_credentials() -> None:
    good = verify(signed(creds=Credentials(TEMP_AKID, TEMP_SECRET, TOKEN)))
    assert good.credential.principal == "role/bob"
    assert verify(presigned(creds=Credentials(TEMP_AKID, TEMP_SECRET, TOKEN))).presigned
    err = refused(signed(creds=Credentials(TEMP_AKID, TEMP_SECRET)))                      # token left out
    assert (err.code, err.status) == ("InvalidAccessKeyId", 403)
    assert refused(presigned(creds=Credentials(TEMP_AKID, TEMP_SECRET))).code == "InvalidAccessKeyId"
    err = refused(signed(creds=Credentials(TEMP_AKID, TEMP_SECRET, TOKEN + "x")))         # someone else's token
    assert (err.code, err.status, err.message) == ("InvalidToken", 400, "The provided token is malformed or otherwise invalid.")
    err = refused(signed(creds=Credentials(AKID, SECRET, TOKEN)))                         # long-term key with a token
    assert err.code == "InvalidToken"
    err = refused(signed(creds=Credentials(TEMP_AKID, TEMP_SECRET, TOKEN)), NOW + 3600)
    assert (err.code, err.status, err.message) == ("ExpiredToken", 400, "The provided token has expired.")


# ---------------------------------------------------------------- declared payload hash


def test_declared_payload_sha256_is_checked_by_caller() -> None:
    body = b"hello world"
    v = verify(signed(method="PUT", body=body, headers={"Content-Type": "text/plain"}))
    assert v.payload == "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"
    check_payload_sha256(v, body)
    with pytest.raises(SigV4Error) as exc:
        check_payload_sha256(v, body + b"!")
    assert (exc.value.code, exc.value.status) == ("XAmzContentSHA256Mismatch", 400)


# ---------------------------------------------------------------- keys that must not be normalised

ODD_KEYS = ["key with spaces", "ünïcödé/日本語.txt", "a+b=c&d", "a//b", "a/./b", "a/../b", "~tilde*star", "100%.txt",
            "semi;colon:"]


@pytest.mark.parametrize("key", ODD_KEYS)
def test_odd_keys_round_trip_with_awsrequest(key: str) -> None:
    path = "/bucket/" + percent_encode(key, safe="/~")  # how botocore's serializer puts a key in the URL
    w = signed(path, "tagging")
    assert verify(w).credential is LONG_TERM
    assert unquote(w[1]) == "/bucket/" + key


# ---------------------------------------------------------------- a recording server for boto3


@dataclass
class Recorded:
    method: str
    raw_path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def wire(self) -> Wire:
        return self.method, self.raw_path, self.query, self.headers


@dataclass
class Server:
    endpoint: str
    ca_file: str
    requests: list[Recorded]

    def client(self, **config: object) -> Any:
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1", aws_access_key_id=AKID,
                            aws_secret_access_key=SECRET, verify=self.ca_file,
                            config=Config(s3={"addressing_style": "path", **config}))


def _handler(log: list[Recorded]) -> type[http.server.BaseHTTPRequestHandler]:
    class Recorder(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _record(self) -> None:
            body = b""
            if self.headers.get("transfer-encoding", "").lower() == "chunked":  # HTTP framing, under aws-chunked
                while size := int(self.rfile.readline().split(b";")[0], 16):
                    body += self.rfile.read(size)
                    self.rfile.readline()
                while self.rfile.readline() not in (b"\r\n", b""):
                    pass
            elif self.headers.get("content-length"):
                body = self.rfile.read(int(self.headers["content-length"]))
            path, _, query = self.path.partition("?")
            log.append(Recorded(self.command, path, query, [(k.lower(), v) for k, v in self.headers.items()], body))
            self.send_response(200)
            self.send_header("ETag", '"0123456789abcdef0123456789abcdef"')
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_GET = do_PUT = do_POST = do_DELETE = _record

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Recorder


def _serve(tmp_path: Path, tls: bool) -> Iterator[Server]:
    log: list[Recorded] = []
    files = ensure_tls(tmp_path / "tls")
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(log))
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(files.cert_file, files.key_file)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Server(f"{'https' if tls else 'http'}://127.0.0.1:{srv.server_address[1]}", str(files.ca_file), log)
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join()


@pytest.fixture
def https(tmp_path: Path) -> Iterator[Server]:
    yield from _serve(tmp_path, tls=True)


@pytest.fixture
def plain_http(tmp_path: Path) -> Iterator[Server]:
    yield from _serve(tmp_path, tls=False)


def _crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def _splits(data: bytes, seed: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    i = 0
    while i < len(data):
        n = rng.randint(1, 700)
        yield data[i:i + n]
        i += n


def decode(v: Verified, pieces: Iterator[bytes] | list[bytes]) -> tuple[bytes, dict[str, str]]:
    dec = ChunkedDecoder(v)
    out = b"".join(dec.feed(p) for p in pieces)
    return out, dec.finish()


def test_boto3_over_https_sends_unsigned_trailer_and_it_decodes(https: Server) -> None:
    body = bytes(range(256)) * 40 + b"tail"
    client = https.client()
    client.put_object(Bucket="bucket", Key="dir/a b+c", Body=body)
    client.upload_part(Bucket="bucket", Key="k", UploadId="u1", PartNumber=1, Body=b"part-bytes")
    put, part = https.requests
    for rec, data in ((put, body), (part, b"part-bytes")):
        v = verify(rec.wire, region="us-east-1")
        assert v.payload == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        assert (v.decoded_length, v.trailer_names) == (len(data), ("x-amz-checksum-crc32",))
        assert dict(rec.headers)["content-encoding"] == "aws-chunked"
        expected = (data, {"x-amz-checksum-crc32": _crc32(data)})
        assert decode(v, [rec.body]) == expected
        assert decode(v, [rec.body[i:i + 1] for i in range(len(rec.body))]) == expected
        assert decode(v, _splits(rec.body, seed=len(data))) == expected
        with pytest.raises(SigV4Error) as exc:
            decode(v, [rec.body[:-5]])
        assert (exc.value.code, exc.value.status) == ("IncompleteBody", 400)
    assert unquote(put.raw_path) == "/bucket/dir/a b+c"


def test_boto3_payload_modes_over_plain_http(plain_http: Server) -> None:
    client = plain_http.client()
    client.put_object(Bucket="bucket", Key="k", Body=b"payload")
    plain_http.client(payload_signing_enabled=False).get_object(Bucket="bucket", Key="k")
    put, get = plain_http.requests
    v = verify(put.wire)
    assert v.payload == "239f59ed55e737c77147cf55ad0c1b030b6d7ee748a7426952f9b852d5a935e5"  # sha256(b"payload"), signed
    check_payload_sha256(v, put.body)
    assert verify(get.wire).payload == "UNSIGNED-PAYLOAD"


def test_aws_cli_v1_uploads(https: Server, tmp_path: Path) -> None:
    aws = Path(sys.executable).with_name("aws")
    if not aws.exists():
        pytest.skip("AWS CLI v1 is not installed next to this Python (pip install awscli)")
    data = b"from the aws cli\n" * 500
    (tmp_path / "f.txt").write_bytes(data)
    env = {**os.environ, "AWS_ACCESS_KEY_ID": AKID, "AWS_SECRET_ACCESS_KEY": SECRET, "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
           "AWS_EC2_METADATA_DISABLED": "true"}
    for args in (["s3api", "put-object", "--bucket", "bucket", "--key", "dir/x y.txt", "--body", str(tmp_path / "f.txt")],
                 ["s3", "cp", str(tmp_path / "f.txt"), "s3://bucket/cp ü.txt"]):
        done = subprocess.run([str(aws), "--endpoint-url", https.endpoint, "--ca-bundle", https.ca_file, *args], env=env,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
    assert [unquote(r.raw_path) for r in https.requests] == ["/bucket/dir/x y.txt", "/bucket/cp ü.txt"]
    for rec in https.requests:
        v = verify(rec.wire, time.time())  # signed by another process, on the real clock
        assert v.payload == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        assert decode(v, _splits(rec.body, seed=1)) == (data, {"x-amz-checksum-crc32": _crc32(data)})


@pytest.mark.parametrize("key", ODD_KEYS)
def test_odd_keys_round_trip_through_boto3(plain_http: Server, key: str) -> None:
    plain_http.client().get_object(Bucket="bucket", Key=key)
    (rec,) = plain_http.requests
    assert verify(rec.wire).credential is LONG_TERM
    assert unquote(rec.raw_path) == "/bucket/" + key


# ---------------------------------------------------------------- signed chunks: AWS's worked examples
# https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html and sigv4-streaming-trailers.html

DOC_NOW = dt.datetime(2013, 5, 24, tzinfo=dt.UTC).timestamp()
DOC_KEYS: Callable[[str], Credential | None] = {
    "AKIAIOSFODNN7EXAMPLE": Credential("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")}.get
DOC_HEADERS = [("host", "s3.amazonaws.com"), ("x-amz-date", "20130524T000000Z"), ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
               ("content-encoding", "aws-chunked"), ("x-amz-decoded-content-length", "66560")]


def _doc_request(mode: str, signed_headers: str, seed: str, extra: list[tuple[str, str]]) -> Verified:
    auth = (f"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            f"SignedHeaders={signed_headers},Signature={seed}")
    headers = [*DOC_HEADERS, ("x-amz-content-sha256", mode), ("authorization", auth), *extra]
    return verify_request("PUT", "/examplebucket/chunkObject.txt", "", headers, DOC_KEYS, DOC_NOW, region="us-east-1")


def _doc_body(sigs: tuple[str, str, str]) -> bytes:
    return (f"10000;chunk-signature={sigs[0]}\r\n".encode() + b"a" * 65536 + b"\r\n"
            + f"400;chunk-signature={sigs[1]}\r\n".encode() + b"a" * 1024 + b"\r\n"
            + f"0;chunk-signature={sigs[2]}\r\n".encode())


@pytest.fixture
def signed_chunks() -> tuple[Verified, bytes]:
    v = _doc_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                     "content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
                     "x-amz-storage-class", "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
                     [("content-length", "66824")])
    body = _doc_body(("ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
                      "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
                      "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9")) + b"\r\n"
    assert len(body) == 66824
    return v, body


def test_signed_chunks_from_the_aws_example(signed_chunks: tuple[Verified, bytes]) -> None:
    v, body = signed_chunks
    assert v.seed_signature.startswith("4f232c43")
    assert decode(v, [body]) == (b"a" * 66560, {})
    assert decode(v, [body[i:i + 1] for i in range(len(body))]) == (b"a" * 66560, {})
    assert decode(v, _splits(body, seed=7)) == (b"a" * 66560, {})


@pytest.mark.parametrize("where", [10, 100, 65536 + 200, 66700])
def test_a_flipped_byte_breaks_a_chunk_signature(signed_chunks: tuple[Verified, bytes], where: int) -> None:
    v, body = signed_chunks
    flipped = body[:where] + bytes([body[where] ^ 1]) + body[where + 1:]
    with pytest.raises(SigV4Error) as exc:
        decode(v, _splits(flipped, seed=where))
    assert exc.value.code in ("SignatureDoesNotMatch", "InvalidRequest")
    if body[where:where + 1] == b"a":  # a payload byte: the framing is intact, only the signature can catch it
        assert exc.value.code == "SignatureDoesNotMatch"


def test_truncated_or_overlong_signed_body(signed_chunks: tuple[Verified, bytes]) -> None:
    v, body = signed_chunks
    for cut in (len(body) - 2, 66000, 90):
        with pytest.raises(SigV4Error) as exc:
            decode(v, [body[:cut]])
        assert exc.value.code == "IncompleteBody"
    with pytest.raises(SigV4Error) as exc:
        decode(v, [body + b"junk"])
    assert exc.value.code == "InvalidRequest"


@pytest.mark.parametrize("blank_line", [True, False])
def test_signed_chunks_with_signed_trailer_from_the_aws_example(blank_line: bool) -> None:
    v = _doc_request("STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
                     "content-encoding;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;"
                     "x-amz-storage-class;x-amz-trailer", "106e2a8a18243abcf37539882f36619c00e2dfc72633413f02d3b74544bfeb8e",
                     [("x-amz-trailer", "x-amz-checksum-crc32c")])
    body = _doc_body(("b474d8862b1487a5145d686f57f013e54db672cee1c953b3010fb58501ef5aa2",
                      "1c1344b170168f8e65b41376b44b20fe354e373826ccbbe2c1d40a8cae51e5c7",
                      "2ca2aba2005185cf7159c6277faf83795951dd77a3a99e6e65d5c9f85863f992"))
    trailer = (b"\r\n" if blank_line else b"") + b"x-amz-checksum-crc32c:sOO8/Q==\r\n" \
        + b"x-amz-trailer-signature:d81f82fc3505edab99d459891051a732e8730629a2e4a59689829ca17fe2e435\r\n"
    assert decode(v, _splits(body + trailer, seed=3)) == (b"a" * 66560, {"x-amz-checksum-crc32c": "sOO8/Q=="})
    assert decode(v, [body, trailer, b"\r\n"])[1] == {"x-amz-checksum-crc32c": "sOO8/Q=="}
    with pytest.raises(SigV4Error) as exc:
        decode(v, [body, trailer.replace(b"sOO8/Q==", b"sOO8/R==")])
    assert exc.value.code == "SignatureDoesNotMatch"
    with pytest.raises(SigV4Error) as exc:
        decode(v, [body])
    assert exc.value.code == "IncompleteBody"


def test_aws_header_auth_examples() -> None:
    """sig-v4-header-based-auth.html: GET Object (Range) and PUT Object (Date, $ in the key)."""
    def auth(signed_headers: str, signature: str) -> tuple[str, str]:
        return ("authorization", f"AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
                                 f"SignedHeaders={signed_headers},Signature={signature}")
    host = ("host", "examplebucket.s3.amazonaws.com")
    get = [host, ("range", "bytes=0-9"), ("x-amz-date", "20130524T000000Z"),
           ("x-amz-content-sha256", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
           auth("host;range;x-amz-content-sha256;x-amz-date", "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")]
    assert not verify_request("GET", "/test.txt", "", get, DOC_KEYS, DOC_NOW).presigned
    put = [host, ("date", "Fri, 24 May 2013 00:00:00 GMT"), ("x-amz-date", "20130524T000000Z"),
           ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
           ("x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"),
           auth("date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd")]
    v = verify_request("PUT", "/test%24file.text", "", put, DOC_KEYS, DOC_NOW)
    check_payload_sha256(v, b"Welcome to Amazon S3.")
    query = ("X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2F"
             "aws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature="
             "aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    assert verify_request("GET", "/test.txt", query, [host], DOC_KEYS, DOC_NOW).presigned


def test_announced_trailer_must_arrive(https: Server) -> None:
    https.client().put_object(Bucket="bucket", Key="k", Body=b"abc")
    (rec,) = https.requests
    v = verify(rec.wire)
    assert rec.body == b"3\r\nabc\r\n0\r\nx-amz-checksum-crc32:" + _crc32(b"abc").encode() + b"\r\n\r\n"
    with pytest.raises(SigV4Error) as exc:
        decode(v, [b"3\r\nabc\r\n0\r\n\r\n"])
    assert exc.value.code == "InvalidRequest" and "x-amz-checksum-crc32" in exc.value.message


def test_decoder_refuses_non_streaming_payloads() -> None:
    with pytest.raises(SigV4Error):
        ChunkedDecoder(verify(signed()))


def test_decoded_length_must_match(https: Server) -> None:
    https.client().put_object(Bucket="bucket", Key="k", Body=b"0123456789")
    (rec,) = https.requests
    headers = [(k, "11" if k == "x-amz-decoded-content-length" else v) for k, v in rec.headers]
    assert refused((rec.method, rec.raw_path, rec.query, headers)).code == "SignatureDoesNotMatch"  # it is signed
    v = verify(rec.wire)
    longer = rec.body.replace(b"a\r\n0123456789", b"b\r\n0123456789x")
    with pytest.raises(SigV4Error) as exc:
        decode(v, [longer])
    assert exc.value.code == "InvalidRequest"


def test_the_signature_is_botocores_over_many_generated_requests() -> None:
    """``_signature`` computes by hand what botocore's S3SigV4Auth computes: held equal over generated requests
    (odd paths, repeated and empty query keys, headers with runs of spaces and several values)."""
    import random
    import string

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.compat import HTTPHeaders
    from botocore.credentials import Credentials as BotoCredentials

    from stratus.local.protocols.sigv4 import _signature, signing_key

    class Reference(S3SigV4Auth):
        def __init__(self, headers: HTTPHeaders, payload: str) -> None:
            super().__init__(BotoCredentials("AKID", SECRET), "s3", "us-east-1")
            self._h, self._p = headers, payload

        def headers_to_sign(self, request: AWSRequest) -> HTTPHeaders:
            return self._h

        def payload(self, request: AWSRequest) -> str:
            return self._p
    rng = random.Random(5)
    EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # noqa: N806
    text = string.ascii_letters + string.digits + "-._~%/+= ,;:"
    key = signing_key(SECRET, "20261129", "us-east-1", "s3")
    for _ in range(300):
        path = "/" + "/".join("".join(rng.choice(string.ascii_letters + "-._~%") for _ in range(rng.randint(0, 6)))
                              for _ in range(rng.randint(1, 4)))
        query = "&".join(rng.choice(["a", "b", "x-id", "list-type", ""]) + rng.choice(["", "=", "=1", "=%2F", "=b c"])
                         for _ in range(rng.randint(0, 4)))
        query = query.replace(" ", "%20")
        headers: dict[str, list[str]] = {}
        to_sign = HTTPHeaders()
        for name in rng.sample(["host", "x-amz-date", "x-amz-meta-a", "content-type", "x-amz-content-sha256"],
                               rng.randint(1, 5)):
            for _ in range(rng.randint(1, 2)):
                value = "".join(rng.choice(text) for _ in range(rng.randint(0, 12)))
                headers.setdefault(name, []).append(value)
                to_sign[name] = value
        payload = rng.choice(["UNSIGNED-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", EMPTY_SHA256])
        method = rng.choice(["GET", "put", "POST", "DELETE"])
        request = AWSRequest(method=method.upper(), url=f"http://sigv4.invalid{path}?{query}".rstrip("?"))
        request.context["timestamp"] = "20261129T120000Z"
        ref = Reference(to_sign, payload)
        expected = ref.signature(ref.string_to_sign(request, ref.canonical_request(request)), request)
        assert _signature(key, "20261129/us-east-1/s3/aws4_request", "20261129T120000Z", method, path, query,
                          headers, payload) == expected, (method, path, query, headers)
