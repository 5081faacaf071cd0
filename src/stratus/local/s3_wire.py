"""The S3 REST protocol over the local object store, with SigV4 and IAM-style policies.

Every request is, in order: located (path style ``/<bucket>/<key>``), authenticated (SigV4 header or presigned query; a
session token must match the temporary key it came with; anonymous requests are
refused), mapped to its IAM action and resource, authorized (the admin key may do
anything; an identity-pool identity only what its role policy allows, with
``${cognito-identity.amazonaws.com:sub}`` set to its identity id), and then served.

Errors are S3's XML error documents with S3's codes and statuses (HEAD answers
carry no body). A sub-resource or operation not implemented here is refused with
``NotImplemented`` naming it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import email.utils
import hashlib
import logging
import re
import uuid
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import parse_qsl, unquote

from ..clock import Clock
from . import s3_xml as X
from .iam import RequestContext, evaluate
from .identitypool import AdminPrincipal, CredentialStore, IdentityPrincipal
from .objects import CHECKSUMS, MAX_PARTS, ObjectError, ObjectMeta, ObjectStore, _Hasher, check_bucket_name, check_key
from .sigv2 import is_sigv2_query, verify_query_v2
from .sigv4 import ChunkedDecoder, SigV4Error, Verified, check_payload_sha256, is_signed, verify_request

log = logging.getLogger("stratus.s3")
XML_BODY_LIMIT = 1024 * 1024
STREAM_CHUNK = 256 * 1024
# sub-resources that name an operation this endpoint does not implement
_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")
_RESPONSE_OVERRIDES = {"response-content-type": "content-type", "response-content-language": "content-language",
                       "response-expires": "expires", "response-cache-control": "cache-control",
                       "response-content-disposition": "content-disposition",
                       "response-content-encoding": "content-encoding"}
STORED_HEADERS = ("cache-control", "content-disposition", "content-encoding", "content-language", "expires")
UNSUPPORTED = ("acl", "policy", "cors", "lifecycle", "tagging", "versioning", "website", "notification",
               "encryption", "logging", "replication", "requestPayment", "object-lock", "retention", "legal-hold",
               "torrent", "restore", "select", "accelerate", "analytics", "inventory", "metrics", "ownershipControls",
               "publicAccessBlock", "intelligent-tiering", "versions", "attributes", "policyStatus")


@dataclass
class S3Request:
    method: str
    bucket: str
    key: str
    query: dict[str, str]
    headers: dict[str, str]
    raw_headers: list[tuple[str, str]]
    client_ip: str
    request_id: str


def _raise_for(exc: SigV4Error) -> ObjectError:
    return ObjectError(exc.code, exc.message, exc.status)


class S3Endpoint:
    def __init__(self, store: ObjectStore, creds: CredentialStore, clock: Clock, region: str, executor: Executor) -> None:
        self.store, self.creds, self.clock, self.region, self.executor = store, creds, clock, region, executor

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    # -- the ASGI entry

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        request_id = uuid.uuid4().hex[:16].upper()
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0]
        query_string = scope.get("query_string", b"").decode("latin-1")
        raw_headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        headers: dict[str, str] = {}
        for k, v in raw_headers:
            headers[k] = v
        method = scope["method"]
        done = False

        async def tracked() -> dict[str, Any]:  # notes when the request body has been read to its end
            nonlocal done
            msg = await receive()
            done = done or msg["type"] == "http.disconnect" or not msg.get("more_body", False)
            return msg
        try:
            bucket, _, rest = raw_path[1:].partition("/")
            bucket, key = unquote(bucket), unquote(rest)
            query = dict(parse_qsl(query_string, keep_blank_values=True))
            req = S3Request(method, bucket, key, query, headers, raw_headers,
                            (scope.get("client") or ("127.0.0.1", 0))[0], request_id)
            verified = self._authenticate(method, raw_path, query_string, raw_headers)
            await self._dispatch(req, verified, tracked, send)
        except (ObjectError, SigV4Error) as exc:
            error = exc if isinstance(exc, ObjectError) else _raise_for(exc)
            await self._error(send, method, error, request_id, close=not done and not await self._drain(tracked, headers))

    @staticmethod
    async def _drain(receive: Any, headers: dict[str, str], limit: int = 1024 * 1024) -> bool:
        """Read what is left of a small unread body, so the connection can serve the next request."""
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > limit or "transfer-encoding" in headers:
            return False
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect" or not msg.get("more_body"):
                return True

    async def _error(self, send: Any, method: str, exc: ObjectError, request_id: str, close: bool = False) -> None:
        body = b"" if method == "HEAD" else X.error_document(exc.code, exc.message, request_id, exc.extra)
        hdrs = [(b"content-type", b"application/xml"), (b"x-amz-request-id", request_id.encode())]
        if close:  # the rest of a big body is still on the wire: this connection cannot carry another request
            hdrs.append((b"connection", b"close"))
        if method != "HEAD":
            hdrs.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": exc.status, "headers": hdrs})
        await send({"type": "http.response.body", "body": body})

    async def _reply(self, send: Any, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
                     content_type: str | None = "application/xml") -> None:
        hdrs = {"content-length": str(len(body)), **(headers or {})}
        if content_type and body:
            hdrs["content-type"] = content_type
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.encode(), v.encode("utf-8")) for k, v in hdrs.items()]})
        await send({"type": "http.response.body", "body": body})

    # -- authentication and authorization

    def _authenticate(self, method: str, raw_path: str, query_string: str, raw_headers: list[tuple[str, str]]) -> Verified:
        if not is_signed(query_string, raw_headers):
            raise ObjectError("AccessDenied", "Anonymous access is not allowed: sign requests with AWS Signature "
                              "Version 4 (credentials from the identity pool, or admin_credentials).", 403)
        if is_sigv2_query(query_string):
            return verify_query_v2(method, raw_path, query_string, raw_headers, self.creds.lookup, self.clock.now())
        return verify_request(method, raw_path, query_string, raw_headers, self.creds.lookup, self.clock.now(),
                              region=self.region)

    def _allowed(self, verified: Verified, req: S3Request, action: str, resource: str,
                 extra: dict[str, str] | None = None) -> bool:
        principal = verified.credential.principal
        if isinstance(principal, AdminPrincipal):
            return True
        if not isinstance(principal, IdentityPrincipal):
            return False
        now = self.clock.now()
        keys: dict[str, str | list[str]] = {
            "cognito-identity.amazonaws.com:sub": principal.identity_id,
            "cognito-identity.amazonaws.com:aud": principal.pool.pool_id,
            "cognito-identity.amazonaws.com:amr": "authenticated",
            "aws:SourceIp": req.client_ip, "aws:SecureTransport": "true",
            "aws:CurrentTime": dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:EpochTime": str(int(now)), "aws:userid": f"{principal.pool.pool_id}:{principal.identity_id}",
            **(extra or {})}
        return evaluate([principal.pool.policy], RequestContext(action, resource, keys)) == "Allow"

    def _authorize(self, verified: Verified, req: S3Request, action: str, resource: str,
                   extra: dict[str, str] | None = None) -> None:
        if not self._allowed(verified, req, action, resource, extra):
            raise ObjectError("AccessDenied", "Access Denied", 403)

    # -- routing

    async def _dispatch(self, req: S3Request, v: Verified, receive: Any, send: Any) -> None:
        m, q = req.method, req.query
        for sub in UNSUPPORTED:
            if sub in q:
                # authorized first, as S3 does: a caller without the right is told AccessDenied, not what is missing
                verb = {"GET": "Get", "HEAD": "Get", "DELETE": "Delete"}.get(m, "Put")
                noun = "Object" if req.key else "Bucket"
                resource = f"arn:aws:s3:::{req.bucket}" + (f"/{req.key}" if req.key else "") if req.bucket else "*"
                self._authorize(v, req, f"s3:{verb}{noun}{sub[:1].upper()}{sub[1:].replace('-', '')}", resource)
                raise ObjectError("NotImplemented", f"The local object store does not implement the ?{sub} "
                                  f"sub-resource ({m}).", 501)
        if not req.bucket:
            if m != "GET":
                raise ObjectError("MethodNotAllowed", f"{m} is not allowed on the service.", 405)
            self._authorize(v, req, "s3:ListAllMyBuckets", "*")
            return await self._list_buckets(req, send)
        check_bucket_name(req.bucket)
        arn = f"arn:aws:s3:::{req.bucket}"
        if not req.key:
            return await self._bucket_op(req, v, arn, receive, send)
        check_key(req.key)
        obj_arn = f"{arn}/{req.key}"
        if m == "PUT" and "uploadId" in q:
            if "x-amz-copy-source" in req.headers:
                raise ObjectError("NotImplemented", "UploadPartCopy is not implemented by the local object store.", 501)
            self._authorize(v, req, "s3:PutObject", obj_arn)
            return await self._upload_part(req, v, receive, send)
        if m == "PUT" and "x-amz-copy-source" in req.headers:
            return await self._copy(req, v, obj_arn, receive, send)
        if m == "PUT":
            self._authorize(v, req, "s3:PutObject", obj_arn)
            return await self._put(req, v, receive, send)
        if m in ("GET", "HEAD") and "uploadId" in q:
            self._authorize(v, req, "s3:ListMultipartUploadParts", obj_arn)
            return await self._list_parts(req, send)
        if m in ("GET", "HEAD"):
            self._authorize(v, req, "s3:GetObject", obj_arn)
            return await self._get(req, send)
        if m == "DELETE" and "uploadId" in q:
            self._authorize(v, req, "s3:AbortMultipartUpload", obj_arn)
            await self._run(self.store.abort, req.bucket, req.key, q["uploadId"])
            return await self._reply(send, 204)
        if m == "DELETE":
            self._authorize(v, req, "s3:DeleteObject", obj_arn)
            await self._run(self.store.delete, req.bucket, req.key)
            return await self._reply(send, 204)
        if m == "POST" and "uploads" in q:
            self._authorize(v, req, "s3:PutObject", obj_arn)
            return await self._create_upload(req, send)
        if m == "POST" and "uploadId" in q:
            self._authorize(v, req, "s3:PutObject", obj_arn)
            return await self._complete(req, v, receive, send)
        raise ObjectError("NotImplemented", f"{m} on an object with ?{'&'.join(q) or ''} is not implemented by the "
                          "local object store.", 501)

    async def _bucket_op(self, req: S3Request, v: Verified, arn: str, receive: Any, send: Any) -> None:
        m, q = req.method, req.query
        if m == "PUT":
            self._authorize(v, req, "s3:CreateBucket", arn)
            await self._read_small(receive)  # an optional CreateBucketConfiguration
            await self._run(self.store.create_bucket, req.bucket)
            return await self._reply(send, 200, headers={"location": f"/{req.bucket}"})
        if m == "HEAD":
            self._authorize(v, req, "s3:ListBucket", arn)
            self.store.require_bucket(req.bucket)
            return await self._reply(send, 200, headers={"x-amz-bucket-region": self.region})
        if m == "DELETE":
            self._authorize(v, req, "s3:DeleteBucket", arn)
            await self._run(self.store.delete_bucket, req.bucket)
            return await self._reply(send, 204)
        if m == "POST" and "delete" in q:
            return await self._delete_objects(req, v, arn, receive, send)
        if m == "GET" and "location" in q:
            self._authorize(v, req, "s3:GetBucketLocation", arn)
            self.store.require_bucket(req.bucket)
            loc = "" if self.region == "us-east-1" else self.region
            return await self._reply(send, 200, (X.HEAD + f'<LocationConstraint xmlns="{X.NS}">{loc}'
                                                 "</LocationConstraint>").encode())
        if m == "GET" and "uploads" in q:
            self._authorize(v, req, "s3:ListBucketMultipartUploads", arn)
            return await self._list_uploads(req, send)
        if m == "GET":
            cond = {"s3:prefix": q["prefix"]} if "prefix" in q else {}
            if "delimiter" in q:
                cond["s3:delimiter"] = q["delimiter"]
            if "max-keys" in q:
                cond["s3:max-keys"] = q["max-keys"]
            self._authorize(v, req, "s3:ListBucket", arn, cond)
            return await self._list(req, send)
        raise ObjectError("NotImplemented", f"{m} on a bucket with ?{'&'.join(q)} is not implemented by the local "
                          "object store.", 501)

    # -- bodies

    async def _read_small(self, receive: Any, limit: int = XML_BODY_LIMIT) -> bytes:
        chunks, size = [], 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                break
            size += len(msg.get("body", b""))
            if size > limit:
                raise ObjectError("MaxMessageLengthExceeded", "Your request was too big.")
            chunks.append(msg.get("body", b""))
            if not msg.get("more_body"):
                break
        return b"".join(chunks)

    async def _receive_blob(self, req: S3Request, v: Verified, receive: Any, algorithms: tuple[str, ...] = ()) -> Any:
        """Stream the request body into a new blob, checking every digest the client declared."""
        h = req.headers
        declared = {a: h[f"x-amz-checksum-{a}"] for a in CHECKSUMS if f"x-amz-checksum-{a}" in h}
        trailer = h.get("x-amz-trailer", "").strip().lower()
        algo = (h.get("x-amz-sdk-checksum-algorithm") or h.get("x-amz-checksum-algorithm") or "").lower()
        for wanted in [algo, trailer.removeprefix("x-amz-checksum-")] + [k[15:] for k in h if k.startswith("x-amz-checksum-")
                                                                         and k not in ("x-amz-checksum-mode",
                                                                                       "x-amz-checksum-type",
                                                                                       "x-amz-checksum-algorithm")]:
            if wanted and wanted not in CHECKSUMS:
                raise ObjectError("InvalidRequest", f"Checksum algorithm {wanted.upper()} is not supported by the local "
                                  "object store (supported: CRC32, CRC32C, SHA1, SHA256).")
        wanted_algos = tuple(dict.fromkeys([*algorithms, *declared, *( [algo] if algo else []),
                                            *([trailer[15:]] if trailer else [])]))
        chunked = "aws-chunked" in h.get("content-encoding", "") or v.payload.startswith("STREAMING-")
        decoder = ChunkedDecoder(v) if chunked else None
        hex_payload = len(v.payload) == 64 and all(c in "0123456789abcdef" for c in v.payload)
        writer = self.store.writer(wanted_algos, want_sha256=hex_payload)
        try:
            while True:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    raise ObjectError("IncompleteBody", "You did not provide the number of bytes specified by the "
                                      "Content-Length HTTP header.")
                data = msg.get("body", b"")
                if decoder is not None:
                    data = decoder.feed(data)
                if data:
                    await self._run(writer.write, data)
                if not msg.get("more_body"):
                    break
            trailers = decoder.finish() if decoder is not None else {}
            blob = await self._run(writer.finish)
        except BaseException:
            writer.abort()
            raise
        try:
            expected_len = h.get("x-amz-decoded-content-length") if chunked else h.get("content-length")
            if expected_len is not None and expected_len.isdigit() and int(expected_len) != blob.size:
                raise ObjectError("IncompleteBody", "You did not provide the number of bytes specified by the "
                                  "Content-Length HTTP header.")
            if hex_payload and blob.sha256 is not None:
                check_payload_sha256(v, blob.sha256)  # the digest computed while streaming
            if "content-md5" in h:
                try:
                    want = base64.b64decode(h["content-md5"], validate=True)
                except binascii.Error:
                    raise ObjectError("InvalidDigest", "The Content-MD5 you specified was invalid.") from None
                if want != blob.md5:
                    raise ObjectError("BadDigest", "The Content-MD5 you specified did not match what we received.")
            for a, value in {**declared, **{k[15:]: val for k, val in trailers.items()
                                            if k.startswith("x-amz-checksum-")}}.items():
                if blob.checksums.get(a) != value:
                    raise ObjectError("BadDigest", f"The {a.upper()} you specified did not match the calculated "
                                      "checksum.")
        except BaseException:
            self.store._drop_blobs([blob.id])
            raise
        return blob

    # -- objects

    def _object_headers(self, meta: ObjectMeta, req: S3Request) -> dict[str, str]:
        hdrs = {"etag": meta.etag, "last-modified": X.http_date(meta.modified), "accept-ranges": "bytes",
                "content-type": meta.content_type, "x-amz-request-id": req.request_id}
        hdrs.update(meta.headers)
        hdrs.update({f"x-amz-meta-{k}": v for k, v in meta.metadata.items()})
        if req.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
            hdrs.update({f"x-amz-checksum-{a}": val for a, val in meta.checksums.items()})
            if meta.checksums:
                hdrs["x-amz-checksum-type"] = "COMPOSITE" if meta.parts else "FULL_OBJECT"
        if meta.parts:
            hdrs["x-amz-mp-parts-count"] = str(meta.parts)
        return hdrs

    @staticmethod
    def _stored_headers(req: S3Request) -> dict[str, str]:
        """The standard headers S3 keeps with an object (``aws-chunked`` is transport, not content)."""
        out = {k: req.headers[k] for k in STORED_HEADERS if k in req.headers}
        if "content-encoding" in out:
            kept = [e.strip() for e in out["content-encoding"].split(",") if e.strip() and e.strip() != "aws-chunked"]
            out.pop("content-encoding")
            if kept:
                out["content-encoding"] = ", ".join(kept)
        return out

    def _metadata(self, req: S3Request) -> tuple[str, dict[str, str]]:
        meta = {k[11:]: v for k, v in req.headers.items() if k.startswith("x-amz-meta-")}
        if sum(len(k) + len(v) for k, v in meta.items()) > 2048:
            raise ObjectError("MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.")
        return req.headers.get("content-type", "binary/octet-stream"), meta

    async def _put(self, req: S3Request, v: Verified, receive: Any, send: Any) -> None:
        self.store.require_bucket(req.bucket)
        ctype, meta = self._metadata(req)
        blob = await self._receive_blob(req, v, receive)
        none_match = req.headers.get("if-none-match")
        if none_match is not None and none_match.strip() != "*":
            raise ObjectError("NotImplemented", "If-None-Match on PutObject takes only '*'.", 501)
        obj = await self._run(lambda: self.store.commit(req.bucket, req.key, blob, ctype, meta, "ObjectCreated:Put",
                                                        headers=self._stored_headers(req),
                                                        if_none_match=none_match is not None,
                                                        if_match=req.headers.get("if-match")))
        hdrs = {"etag": obj.etag, "x-amz-request-id": req.request_id}
        hdrs.update({f"x-amz-checksum-{a}": val for a, val in obj.checksums.items()})
        await self._reply(send, 200, headers=hdrs)

    def _precondition(self, meta: ObjectMeta, h: dict[str, str]) -> int | None:
        """S3's conditional GET/HEAD: 412 or 304 when the condition says so, else None."""
        etag = meta.etag.strip('"')
        modified = int(meta.modified)

        def since(name: str) -> int | None:
            try:
                parsed = email.utils.parsedate_to_datetime(h[name])
                return int(parsed.timestamp())
            except (KeyError, TypeError, ValueError):
                return None
        if "if-match" in h:
            tags = {t.strip().strip('"') for t in h["if-match"].split(",")}
            if "*" not in tags and etag not in tags:
                return 412
        unmod = since("if-unmodified-since")
        if "if-match" not in h and unmod is not None and modified > unmod:
            return 412
        if "if-none-match" in h and (etag in {t.strip().strip('"') for t in h["if-none-match"].split(",")}
                                     or h["if-none-match"].strip() == "*"):
            return 304
        mod = since("if-modified-since")
        if "if-none-match" not in h and mod is not None and modified <= mod:
            return 304
        return None

    async def _get(self, req: S3Request, send: Any) -> None:
        meta, f = await self._run(self.store.open_object, req.bucket, req.key)  # opened before any header goes out
        try:
            await self._send_object(req, meta, f, send)
        finally:
            f.close()

    def _span(self, req: S3Request, meta: ObjectMeta) -> tuple[int, int, bool]:
        """(start, end, partial) of what a GET/HEAD answers: a part (?partNumber=), a Range, or the whole."""
        if "partNumber" in req.query:
            try:
                n = int(req.query["partNumber"])
                if not 1 <= n <= MAX_PARTS:
                    raise ValueError
            except ValueError:
                raise ObjectError("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive",
                                  ArgumentName="partNumber") from None
            sizes = meta.part_sizes or [meta.size]
            if n > len(sizes):
                raise ObjectError("InvalidPartNumber", "The requested partnumber is not satisfiable", 416)
            start = sum(sizes[: n - 1])
            return start, start + sizes[n - 1] - 1, True
        m = _RANGE.match(req.headers.get("range", ""))
        if m is None:  # absent, several ranges, or not a byte range: S3 answers the whole object
            return 0, meta.size - 1, False
        first, last = m.group(1), m.group(2)
        if first == "" and last == "":
            return 0, meta.size - 1, False
        if first == "":
            start, end = max(0, meta.size - int(last)), meta.size - 1
            satisfiable = int(last) > 0 and meta.size > 0
        else:
            start, end = int(first), min(int(last), meta.size - 1) if last else meta.size - 1
            if last and int(last) < start:  # syntactically invalid: ignored
                return 0, meta.size - 1, False
            satisfiable = start < meta.size
        if not satisfiable:
            raise ObjectError("InvalidRange", "The requested range is not satisfiable", 416,
                              RangeRequested=req.headers["range"], ActualObjectSize=str(meta.size))
        return start, end, True

    async def _send_object(self, req: S3Request, meta: ObjectMeta, f: BinaryIO, send: Any) -> None:
        cond = self._precondition(meta, req.headers)
        if cond == 412:
            raise ObjectError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                              412, Condition="If-Match")
        hdrs = self._object_headers(meta, req)
        if cond == 304:
            return await self._reply(send, 304, headers={k: v for k, v in hdrs.items() if k in ("etag", "last-modified")},
                                     content_type=None)
        start, end, partial = self._span(req, meta)
        if partial:
            hdrs = {k: v for k, v in hdrs.items() if not k.startswith("x-amz-checksum-")}  # not the whole object's
            hdrs["content-range"] = f"bytes {start}-{end}/{meta.size}"
        length = max(0, end - start + 1)
        hdrs["content-length"] = str(length)
        for param, name in _RESPONSE_OVERRIDES.items():
            if param in req.query:
                hdrs[name] = req.query[param]
        await send({"type": "http.response.start", "status": 206 if partial else 200,
                    "headers": [(k.encode(), v.encode("utf-8")) for k, v in hdrs.items()]})
        if req.method == "HEAD" or length == 0:
            await send({"type": "http.response.body", "body": b""})
            return
        await self._run(f.seek, start)
        remaining = length
        while remaining > 0:
            chunk = await self._run(f.read, min(STREAM_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})

    async def _copy(self, req: S3Request, v: Verified, obj_arn: str, receive: Any, send: Any) -> None:
        source = unquote(req.headers["x-amz-copy-source"]).lstrip("/")
        if "?versionId=" in source:
            raise ObjectError("NotImplemented", "Copying a specific version is not implemented by the local object "
                              "store (buckets are unversioned).", 501)
        src_bucket, _, src_key = source.partition("/")
        if not src_bucket or not src_key:
            raise ObjectError("InvalidArgument", "Copy Source must mention the source bucket and key: "
                              "sourcebucket/sourcekey")
        self._authorize(v, req, "s3:GetObject", f"arn:aws:s3:::{src_bucket}/{src_key}")
        self._authorize(v, req, "s3:PutObject", obj_arn)
        await self._read_small(receive)
        check_key(src_key)
        src, source = await self._run(self.store.open_object, src_bucket, src_key)
        try:
            cond = self._precondition(src, {k.replace("x-amz-copy-source-", ""): val for k, val in req.headers.items()
                                            if k.startswith("x-amz-copy-source-if-")})
            if cond is not None:
                raise ObjectError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                                  412)
            directive = req.headers.get("x-amz-metadata-directive", "COPY").upper()
            if directive not in ("COPY", "REPLACE"):
                raise ObjectError("InvalidArgument", "Unknown metadata directive.")
            if directive == "COPY":
                ctype, meta, headers = src.content_type, src.metadata, src.headers
                if (src_bucket, src_key) == (req.bucket, req.key):
                    raise ObjectError("InvalidRequest", "This copy request is illegal because it is trying to copy an "
                                      "object to itself without changing the object's metadata, storage class, website "
                                      "redirect location or encryption attributes.")
            else:
                (ctype, meta), headers = self._metadata(req), self._stored_headers(req)
        except BaseException:
            source.close()
            raise
        obj = await self._run(self.store.copy, src, source, req.bucket, req.key, ctype, meta, headers)
        await self._reply(send, 200, X.document("CopyObjectResult", [X.el("LastModified", X.iso(obj.modified)),
                                                                     X.el("ETag", obj.etag)]))

    async def _delete_objects(self, req: S3Request, v: Verified, arn: str, receive: Any, send: Any) -> None:
        body = await self._read_small(receive)
        if not any(k in req.headers for k in ("content-md5", *(f"x-amz-checksum-{a}" for a in CHECKSUMS))):
            raise ObjectError("InvalidRequest", "Missing required header for this request: Content-MD5 or a "
                              "x-amz-checksum-* header.")
        if "content-md5" in req.headers and base64.b64encode(hashlib.md5(body, usedforsecurity=False).digest()
                                                             ).decode() != req.headers["content-md5"]:
            raise ObjectError("BadDigest", "The Content-MD5 you specified did not match what we received.")
        for a in CHECKSUMS:
            if f"x-amz-checksum-{a}" in req.headers:
                h = _Hasher(a)
                h.update(body)
                if h.b64() != req.headers[f"x-amz-checksum-{a}"]:
                    raise ObjectError("BadDigest", f"The {a.upper()} you specified did not match the calculated "
                                      "checksum.")
        doc = X.parse(body, "Delete")
        quiet = (X.text(doc, "Quiet") or "").lower() == "true"
        objects = X.children(doc, "Object")
        if not objects or len(objects) > 1000:
            raise ObjectError("MalformedXML", "Delete takes 1 to 1000 objects.")
        self.store.require_bucket(req.bucket)
        out = []
        for o in objects:
            key = X.text(o, "Key") or ""
            try:
                check_key(key)
                if not self._allowed(v, req, "s3:DeleteObject", f"{arn}/{key}"):
                    raise ObjectError("AccessDenied", "Access Denied", 403)
                await self._run(self.store.delete, req.bucket, key)
                if not quiet:
                    out.append(X.el("Deleted", [X.el("Key", key)]))
            except ObjectError as exc:
                out.append(X.el("Error", [X.el("Key", key), X.el("Code", exc.code), X.el("Message", exc.message)]))
        await self._reply(send, 200, X.document("DeleteResult", out))

    # -- listings

    async def _list_buckets(self, req: S3Request, send: Any) -> None:
        rows = await self._run(self.store.list_buckets)
        buckets = [X.el("Bucket", [X.el("Name", n), X.el("CreationDate", X.iso(t))]) for n, t in rows]
        owner = X.el("Owner", [X.el("ID", "stratus"), X.el("DisplayName", "stratus")])
        await self._reply(send, 200, X.document("ListAllMyBucketsResult", [owner, X.el("Buckets", buckets)]))

    async def _list(self, req: S3Request, send: Any) -> None:
        q = req.query
        v2 = q.get("list-type") == "2"
        if "list-type" in q and not v2:
            raise ObjectError("InvalidArgument", "Invalid List Type specified.", ArgumentName="list-type")
        try:
            max_keys = int(q.get("max-keys", "1000"))
            if max_keys < 0:
                raise ValueError
        except ValueError:
            raise ObjectError("InvalidArgument", "Provided max-keys not an integer or within integer range",
                              ArgumentName="max-keys") from None
        max_keys = min(max_keys, 1000)
        url = q.get("encoding-type") == "url"
        if "encoding-type" in q and not url:
            raise ObjectError("InvalidArgument", "Invalid Encoding Method specified in Request",
                              ArgumentName="encoding-type")
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
        if v2:
            after = q.get("start-after", "")
            if "continuation-token" in q:
                try:
                    after = base64.b64decode(q["continuation-token"].encode(), altchars=b"-_", validate=True).decode()
                    if not after:
                        raise ValueError("empty")
                except (binascii.Error, UnicodeDecodeError, ValueError):
                    raise ObjectError("InvalidArgument", "The continuation token provided is incorrect",
                                      ArgumentName="continuation-token") from None
        else:
            after = q.get("marker", "")
        listing = await self._run(self.store.list_objects, req.bucket, prefix, delimiter, after, max_keys)
        enc = lambda s: X.encode_key(s, url)  # noqa: E731
        parts = [X.el("Name", req.bucket), X.el("Prefix", enc(prefix))]
        if delimiter:
            parts.append(X.el("Delimiter", enc(delimiter)))
        parts += [X.el("MaxKeys", max_keys), X.el("IsTruncated", listing.truncated)]
        if url:
            parts.append(X.el("EncodingType", "url"))
        if v2:
            parts.append(X.el("KeyCount", len(listing.objects) + len(listing.prefixes)))
            if "continuation-token" in q:
                parts.append(X.el("ContinuationToken", q["continuation-token"]))
            if "start-after" in q:
                parts.append(X.el("StartAfter", enc(q["start-after"])))
            if listing.truncated and listing.last is not None:
                parts.append(X.el("NextContinuationToken", base64.urlsafe_b64encode(listing.last.encode()).decode()))
        else:
            parts.append(X.el("Marker", enc(after)))
            if listing.truncated and delimiter and listing.last is not None:
                parts.append(X.el("NextMarker", enc(listing.last)))
        for o in listing.objects:
            item = [X.el("Key", enc(o.key)), X.el("LastModified", X.iso(o.modified)), X.el("ETag", o.etag),
                    X.el("Size", o.size), X.el("StorageClass", "STANDARD")]
            item += [X.el("ChecksumAlgorithm", a.upper()) for a in o.checksums]
            parts.append(X.el("Contents", item))
        parts += [X.el("CommonPrefixes", [X.el("Prefix", enc(p))]) for p in listing.prefixes]
        await self._reply(send, 200, X.document("ListBucketResult", parts))

    # -- multipart uploads

    async def _create_upload(self, req: S3Request, send: Any) -> None:
        ctype, meta = self._metadata(req)
        algo = req.headers.get("x-amz-checksum-algorithm", "").lower() or None
        if algo is not None and algo not in CHECKSUMS:
            raise ObjectError("InvalidRequest", f"Checksum algorithm {algo.upper()} is not supported by the local object "
                              "store (supported: CRC32, CRC32C, SHA1, SHA256).")
        upload_id = await self._run(self.store.create_upload, req.bucket, req.key, ctype, meta, algo,
                                    self._stored_headers(req))
        hdrs = {"x-amz-checksum-algorithm": algo.upper()} if algo else {}
        await self._reply(send, 200, X.document("InitiateMultipartUploadResult", [
            X.el("Bucket", req.bucket), X.el("Key", req.key), X.el("UploadId", upload_id)]), headers=hdrs)

    async def _upload_part(self, req: S3Request, v: Verified, receive: Any, send: Any) -> None:
        try:
            number = int(req.query.get("partNumber", ""))
            if not 1 <= number <= MAX_PARTS:
                raise ValueError
        except ValueError:
            raise ObjectError("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive",
                              ArgumentName="partNumber") from None
        up = self.store.upload(req.bucket, req.key, req.query["uploadId"])
        blob = await self._receive_blob(req, v, receive, (up["algorithm"],) if up["algorithm"] else ())
        etag = await self._run(self.store.put_part, req.bucket, req.key, req.query["uploadId"], number, blob)
        hdrs = {"etag": etag}
        hdrs.update({f"x-amz-checksum-{a}": val for a, val in blob.checksums.items()})
        await self._reply(send, 200, headers=hdrs)

    async def _complete(self, req: S3Request, v: Verified, receive: Any, send: Any) -> None:
        doc = X.parse(await self._read_small(receive), "CompleteMultipartUpload")
        listed = []
        for p in X.children(doc, "Part"):
            try:
                listed.append((int(X.text(p, "PartNumber") or ""), X.text(p, "ETag") or ""))
            except ValueError:
                raise ObjectError("MalformedXML", "PartNumber must be an integer.") from None
        meta = await self._run(self.store.complete, req.bucket, req.key, req.query["uploadId"], listed)
        parts = [X.el("Location", f"/{req.bucket}/{req.key}"), X.el("Bucket", req.bucket), X.el("Key", req.key),
                 X.el("ETag", meta.etag)]
        parts += [X.el(f"Checksum{a.upper()}", val) for a, val in meta.checksums.items()]
        await self._reply(send, 200, X.document("CompleteMultipartUploadResult", parts))

    async def _list_parts(self, req: S3Request, send: Any) -> None:
        self.store.upload(req.bucket, req.key, req.query["uploadId"])
        try:
            marker = int(req.query.get("part-number-marker", "0"))
            max_parts = min(int(req.query.get("max-parts", "1000")), 1000)
            if marker < 0 or max_parts < 1:
                raise ValueError
        except ValueError:
            raise ObjectError("InvalidArgument", "part-number-marker must be a non-negative integer and max-parts a "
                              "positive one") from None
        parts = [p for p in await self._run(self.store.parts, req.query["uploadId"]) if p["number"] > marker]
        page, truncated = parts[:max_parts], len(parts) > max_parts
        out = [X.el("Bucket", req.bucket), X.el("Key", req.key), X.el("UploadId", req.query["uploadId"]),
               X.el("PartNumberMarker", marker), X.el("MaxParts", max_parts), X.el("IsTruncated", truncated)]
        if page:
            out.append(X.el("NextPartNumberMarker", page[-1]["number"]))
        out += [X.el("Part", [X.el("PartNumber", p["number"]), X.el("LastModified", X.iso(p["modified"])),
                              X.el("ETag", p["etag"]), X.el("Size", p["size"])]) for p in page]
        await self._reply(send, 200, X.document("ListPartsResult", out))

    async def _list_uploads(self, req: S3Request, send: Any) -> None:
        q = req.query
        try:
            max_uploads = min(int(q.get("max-uploads", "1000")), 1000)
            if max_uploads < 1:
                raise ValueError
        except ValueError:
            raise ObjectError("InvalidArgument", "max-uploads must be a positive integer",
                              ArgumentName="max-uploads") from None
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
        key_marker, id_marker = q.get("key-marker", ""), q.get("upload-id-marker", "")
        ups = [u for u in await self._run(self.store.uploads, req.bucket, prefix)
               if (u["key"], u["upload_id"]) > (key_marker, id_marker if id_marker else "\U0010ffff") or not key_marker]
        entries: list[str] = []
        prefixes: list[str] = []
        truncated, next_key, next_id = False, "", ""
        for u in ups:
            if delimiter and (i := u["key"].find(delimiter, len(prefix))) >= 0:
                common = u["key"][: i + len(delimiter)]
                if common in prefixes:
                    continue
                if len(entries) + len(prefixes) == max_uploads:
                    truncated = True
                    break
                prefixes.append(common)
                next_key, next_id = common, ""
                continue
            if len(entries) + len(prefixes) == max_uploads:
                truncated = True
                break
            entries.append(X.el("Upload", [X.el("Key", u["key"]), X.el("UploadId", u["upload_id"]),
                                           X.el("Initiated", X.iso(u["created"])), X.el("StorageClass", "STANDARD")]))
            next_key, next_id = u["key"], u["upload_id"]
        out = [X.el("Bucket", req.bucket), X.el("KeyMarker", key_marker), X.el("UploadIdMarker", id_marker)]
        if truncated:
            out += [X.el("NextKeyMarker", next_key), X.el("NextUploadIdMarker", next_id)]
        out += [X.el("MaxUploads", max_uploads), X.el("IsTruncated", truncated)]
        if prefix:
            out.append(X.el("Prefix", prefix))
        if delimiter:
            out.append(X.el("Delimiter", delimiter))
        out += entries + [X.el("CommonPrefixes", [X.el("Prefix", p)]) for p in prefixes]
        await self._reply(send, 200, X.document("ListMultipartUploadsResult", out))
