"""S3's object operations over the local object engine: bodies in, objects out, copies and batch deletes."""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.utils
import hashlib
import io
import re
from typing import Any, BinaryIO
from urllib.parse import unquote

from ....errors import ServiceError
from ...protocols import restxml as X
from ...protocols.sigv4 import ChunkedDecoder, Verified, check_payload_sha256, header_text
from . import lifecycle
from .model import CHECKSUMS, MAX_PARTS, ObjectMeta, _Hasher, check_key
from .wire_acl import Acls
from .wire_common import S3Request, header_bytes
from .wire_lock import lock_headers
from .wire_sse import COPY_CUSTOMER, check_customer_key, encryption_headers
from .wire_tags import header_tags

STREAM_CHUNK = 1024 * 1024
_RANGE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")
_RESPONSE_OVERRIDES = {"response-content-type": "content-type", "response-content-language": "content-language",
                       "response-expires": "expires", "response-cache-control": "cache-control",
                       "response-content-disposition": "content-disposition",
                       "response-content-encoding": "content-encoding"}
STORED_HEADERS = ("cache-control", "content-disposition", "content-encoding", "content-language", "expires")
MAX_OBJECT = 5 * 1024**3  # bytes in one PUT (and in one part): S3's limit
# a document served from a bucket runs in an origin of its own (a sandbox without allow-same-origin), never as
# the origin the REST APIs, Cognito and the operations share; scripts, forms and links still work in it
SANDBOX = "sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads"


class ObjectOps(Acls):
    async def _receive_blob(self, req: S3Request, v: Verified, receive: Any, algorithms: tuple[str, ...] = ()) -> Any:
        """Stream the request body into a new blob, checking every digest the client declared."""
        h = req.headers
        if "content-length" not in h and "transfer-encoding" not in h:  # no way to tell where the body ends
            raise ServiceError("MissingContentLength", "You must provide the Content-Length HTTP header.", 411)
        want_md5 = content_md5(h)  # its form is checked before a byte is read, as S3 does
        declared = {a: h[f"x-amz-checksum-{a}"] for a in CHECKSUMS if f"x-amz-checksum-{a}" in h}
        trailer = h.get("x-amz-trailer", "").strip().lower()
        algo = (h.get("x-amz-sdk-checksum-algorithm") or h.get("x-amz-checksum-algorithm") or "").lower()
        for wanted in [algo, trailer.removeprefix("x-amz-checksum-")] + [k[15:] for k in h if k.startswith("x-amz-checksum-")
                                                                         and k not in ("x-amz-checksum-mode",
                                                                                       "x-amz-checksum-type",
                                                                                       "x-amz-checksum-algorithm")]:
            if wanted and wanted not in CHECKSUMS:
                raise ServiceError("InvalidRequest", f"Checksum algorithm {wanted.upper()} is not supported by the local "
                                  "object store (supported: CRC32, CRC32C, SHA1, SHA256).")
        wanted_algos = tuple(dict.fromkeys([*algorithms, *declared, *( [algo] if algo else []),
                                            *([trailer[15:]] if trailer else [])]))
        chunked = "aws-chunked" in h.get("content-encoding", "") or v.payload.startswith("STREAMING-")
        declared_size = h.get("x-amz-decoded-content-length") if chunked else h.get("content-length")
        if declared_size is not None and declared_size.isascii() and declared_size.isdigit() \
                and (len(declared_size) > 18 or int(declared_size) > MAX_OBJECT):
            raise ServiceError("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size",
                               ProposedSize=declared_size, MaxSizeAllowed=str(MAX_OBJECT))
        decoder = ChunkedDecoder(v) if chunked else None
        hex_payload = len(v.payload) == 64 and all(c in "0123456789abcdef" for c in v.payload)
        writer = self.store.writer(wanted_algos, want_sha256=hex_payload)
        pending = bytearray()  # a large body goes to the thread pool (disk and digests) a piece of STREAM_CHUNK at a time
        try:
            while True:
                msg = await receive()
                if msg["type"] == "http.disconnect":
                    raise ServiceError("IncompleteBody", "You did not provide the number of bytes specified by the "
                                      "Content-Length HTTP header.")
                data = msg.get("body", b"")
                if decoder is not None:
                    data = decoder.feed(data)
                if data:
                    if writer.size + len(pending) + len(data) > MAX_OBJECT:  # no length said, or more than it said
                        raise ServiceError("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size",
                                           MaxSizeAllowed=str(MAX_OBJECT))
                    if not pending and writer.in_memory(len(data)):  # a small body touches no disk: no thread
                        writer.write(data)
                    else:
                        pending += data
                        if len(pending) >= STREAM_CHUNK:
                            await self._run(writer.write, pending)
                            pending = bytearray()
                if not msg.get("more_body"):
                    break
            if pending:
                await self._run(writer.write, pending)
            trailers = decoder.finish() if decoder is not None else {}
            blob = writer.finish() if writer.in_memory() else await self._run(writer.finish)
        except BaseException:
            writer.abort()
            raise
        try:
            expected_len = h.get("x-amz-decoded-content-length") if chunked else h.get("content-length")
            if expected_len is not None and expected_len.isascii() and expected_len.isdigit() and int(expected_len) != blob.size:
                raise ServiceError("IncompleteBody", "You did not provide the number of bytes specified by the "
                                  "Content-Length HTTP header.")
            if hex_payload and blob.sha256 is not None:
                check_payload_sha256(v, blob.sha256)  # the digest computed while streaming
            if want_md5 is not None and want_md5 != blob.md5:
                raise ServiceError("BadDigest", "The Content-MD5 you specified did not match what we received.")
            for a, value in {**declared, **{k[15:]: val for k, val in trailers.items()
                                            if k.startswith("x-amz-checksum-")}}.items():
                if blob.checksums.get(a) != value:
                    raise ServiceError("BadDigest", f"The {a.upper()} you specified did not match the calculated "
                                      "checksum.")
        except BaseException:
            self.store.discard(blob)  # nothing on the loop's thread but a file's removal
            raise
        return blob

    def _object_headers(self, meta: ObjectMeta, req: S3Request) -> dict[str, str]:
        hdrs = {"etag": meta.etag, "last-modified": X.http_date(meta.modified), "accept-ranges": "bytes",
                "content-type": meta.content_type, "content-security-policy": SANDBOX,
                "x-content-type-options": "nosniff"}
        hdrs.update(meta.headers)
        hdrs.update({f"x-amz-meta-{k}": encode_metadata(v) for k, v in meta.metadata.items()})
        if req.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
            hdrs.update({f"x-amz-checksum-{a}": val for a, val in meta.checksums.items()})
            if meta.checksums:
                hdrs["x-amz-checksum-type"] = "COMPOSITE" if meta.parts else "FULL_OBJECT"
        if meta.parts:
            hdrs["x-amz-mp-parts-count"] = str(meta.parts)
        if meta.version_id != "null" or "versionId" in req.query:
            hdrs["x-amz-version-id"] = meta.version_id
        if meta.tags:
            hdrs["x-amz-tagging-count"] = str(len(meta.tags))
        hdrs.update(encryption_headers(meta.attrs))
        hdrs.update(lock_headers(meta.attrs))
        hdrs.update(self._expiration(meta))
        return hdrs

    def _expiration(self, meta: ObjectMeta) -> dict[str, str]:
        """``x-amz-expiration`` for a current object a lifecycle rule will expire."""
        if not meta.latest or meta.marker:
            return {}
        said = lifecycle.expiration_header(self.store.bucket_config(meta.bucket, "lifecycle"), meta.key, meta.size,
                                           meta.tags, meta.modified)
        return {"x-amz-expiration": said} if said else {}

    @staticmethod
    def _stored_headers(req: S3Request) -> dict[str, str]:
        """The standard headers S3 keeps with an object (``aws-chunked`` is transport, not content)."""
        out = {k: req.headers[k] for k in STORED_HEADERS if k in req.headers}  # the bytes sent, served back alike
        if "content-encoding" in out:
            kept = [e.strip() for e in out["content-encoding"].split(",") if e.strip() and e.strip() != "aws-chunked"]
            out.pop("content-encoding")
            if kept:
                out["content-encoding"] = ", ".join(kept)
        return out

    def _metadata(self, req: S3Request) -> tuple[str, dict[str, str]]:
        meta = {k[11:]: decode_metadata(k[11:], v) for k, v in req.headers.items() if k.startswith("x-amz-meta-")}
        if sum(len(k) + len(v) for k, v in meta.items()) > 2048:
            raise ServiceError("MetadataTooLarge", "Your metadata headers exceed the maximum allowed metadata size.")
        return req.headers.get("content-type", "binary/octet-stream"), meta

    async def _put(self, req: S3Request, v: Verified, receive: Any, send: Any) -> None:
        self.store.require_bucket(req.bucket)
        ctype, meta = self._metadata(req)
        tags = None
        if "x-amz-tagging" in req.headers:  # tagging as it uploads takes the right to tag too, as on S3
            self.authorize_writer(v, req, "s3:PutObjectTagging")
            tags = header_tags(req.headers["x-amz-tagging"])
        attrs = self.new_object_attrs(v, req, req.headers)
        none_match = req.headers.get("if-none-match")
        if none_match is not None and none_match.strip() != "*":  # said before a byte of the body is kept
            raise ServiceError("NotImplemented", "If-None-Match on PutObject takes only '*'.", 501)
        blob = await self._receive_blob(req, v, receive)
        stored, if_match = self._stored_headers(req), req.headers.get("if-match")
        # a small object is committed here on the loop when the database is free this instant (a commit of a few
        # rows, tens of microseconds: less than the trip to a thread), else on the thread pool, as a large one is
        done = self.store.commit_now(req.bucket, req.key, blob, ctype, meta, "ObjectCreated:Put", headers=stored,
                                     if_none_match=none_match is not None, if_match=if_match, tags=tags,
                                     attrs=attrs) if blob.data is not None else None
        if done is None:
            obj = await self._run(lambda: self.store.commit(req.bucket, req.key, blob, ctype, meta, "ObjectCreated:Put",
                                                            headers=stored, if_none_match=none_match is not None,
                                                            if_match=if_match, tags=tags, attrs=attrs))
        else:
            obj, dropped = done
            loop = asyncio.get_running_loop()
            if dropped:  # what it replaced goes off the loop (a crash before then leaves garbage the start removes)
                loop.run_in_executor(self.executor, self.store._drop_blobs, dropped)
            if self.store.checkpoint_due():
                loop.run_in_executor(self.executor, self.store.checkpoint)
        hdrs = {"etag": obj.etag, **version_header(obj), **encryption_headers(obj.attrs), **self._expiration(obj)}
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
        for param in _RESPONSE_OVERRIDES:  # they become response headers: nothing that could split one
            value = req.query.get(param)
            if value is not None and not (value.isascii() and value.isprintable()):
                raise ServiceError("InvalidArgument", f"{param} must be printable US-ASCII.", ArgumentName=param)
        if "x-amz-server-side-encryption" in req.headers:  # S3 takes it on writes only
            raise ServiceError("InvalidArgument", "x-amz-server-side-encryption is not allowed on a GET or HEAD "
                              "request.", ArgumentName="x-amz-server-side-encryption")
        meta, f = await self._run(self.store.open_object, req.bucket, req.key,  # opened before any header goes out
                                  req.query.get("versionId"))
        try:
            check_customer_key(meta.attrs.get("sse"), req.headers)
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
                raise ServiceError("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive",
                                  ArgumentName="partNumber") from None
            sizes = meta.part_sizes or [meta.size]
            if n > len(sizes):
                raise ServiceError("InvalidPartNumber", "The requested partnumber is not satisfiable", 416)
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
            raise ServiceError("InvalidRange", "The requested range is not satisfiable", 416,
                              RangeRequested=req.headers["range"], ActualObjectSize=str(meta.size))
        return start, end, True

    async def _send_object(self, req: S3Request, meta: ObjectMeta, f: BinaryIO, send: Any) -> None:
        cond = self._precondition(meta, req.headers)
        if cond == 412:
            raise ServiceError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
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
                hdrs[name] = req.query[param]  # checked in _get: printable ASCII only
        await send({"type": "http.response.start", "status": 206 if partial else 200,
                    "headers": [(k.encode(), header_bytes(v)) for k, v in hdrs.items()]})
        if req.method == "HEAD" or length == 0:
            await send({"type": "http.response.body", "body": b""})
            return
        in_memory = isinstance(f, io.BytesIO)  # a small object's bytes, read with its row: no file to wait on
        if in_memory:
            f.seek(start)
        else:
            await self._run(f.seek, start)
        remaining = length
        while remaining > 0:
            chunk = f.read(min(STREAM_CHUNK, remaining)) if in_memory else await self._run(f.read, min(STREAM_CHUNK,
                                                                                                           remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            await send({"type": "http.response.body", "body": chunk, "more_body": remaining > 0})

    def _copy_source(self, req: S3Request, v: Verified, obj_arn: str) -> tuple[str, str, str]:
        """The copy source (bucket, key, version) of a copy or a part copy, once the caller may read it and
        write the target: authorized before anything else is said, as S3 does, so a stranger learns nothing."""
        raw, _, options = req.headers["x-amz-copy-source"].partition("?")  # a '?' in the key itself is encoded
        source = unquote(raw).lstrip("/")
        version = next((unquote(v) for k, _, v in (o.partition("=") for o in options.split("&")) if k == "versionId"),
                       "")
        src_bucket, _, src_key = source.partition("/")
        if not src_bucket or not src_key:
            raise ServiceError("InvalidArgument", "Copy Source must mention the source bucket and key: "
                              "sourcebucket/sourcekey")
        self._authorize(v, req, "s3:GetObjectVersion" if version else "s3:GetObject",
                        f"arn:aws:s3:::{src_bucket}/{src_key}", version=version or None, source=True)  # its own ACL
        self._authorize(v, req, "s3:PutObject", obj_arn)
        return src_bucket, src_key, version

    async def _copy(self, req: S3Request, v: Verified, obj_arn: str, receive: Any, send: Any) -> None:
        src_bucket, src_key, version = self._copy_source(req, v, obj_arn)
        await self._read_small(receive)
        check_key(src_key)
        src, source = await self._run(self.store.open_object, src_bucket, src_key, version or None)
        try:
            cond = self._precondition(src, {k.replace("x-amz-copy-source-", ""): val for k, val in req.headers.items()
                                            if k.startswith("x-amz-copy-source-if-")})
            if cond is not None:
                raise ServiceError("PreconditionFailed", "At least one of the pre-conditions you specified did not hold",
                                  412)
            directive = req.headers.get("x-amz-metadata-directive", "COPY").upper()
            if directive not in ("COPY", "REPLACE"):
                raise ServiceError("InvalidArgument", "Unknown metadata directive.")
            if directive == "COPY":
                ctype, meta, headers = src.content_type, src.metadata, src.headers
                if (src_bucket, src_key) == (req.bucket, req.key) and not version:
                    raise ServiceError("InvalidRequest", "This copy request is illegal because it is trying to copy an "
                                      "object to itself without changing the object's metadata, storage class, website "
                                      "redirect location or encryption attributes.")
            else:
                (ctype, meta), headers = self._metadata(req), self._stored_headers(req)
            tag_directive = req.headers.get("x-amz-tagging-directive", "COPY").upper()
            if tag_directive not in ("COPY", "REPLACE"):
                raise ServiceError("InvalidArgument", "Unknown tagging directive.",
                                   ArgumentName="x-amz-tagging-directive")
            if tag_directive == "REPLACE" and req.headers.get("x-amz-tagging"):  # tagging takes its own right
                self._authorize(v, req, "s3:PutObjectTagging", obj_arn)
            tags = header_tags(req.headers.get("x-amz-tagging", "")) if tag_directive == "REPLACE" else src.tags
            check_customer_key(src.attrs.get("sse"), req.headers, COPY_CUSTOMER)
            attrs = self.new_object_attrs(v, req, req.headers)  # the copy's own ACL and encryption, not the source's
        except BaseException:
            source.close()
            raise
        obj = await self._run(self.store.copy, src, source, req.bucket, req.key, ctype, meta, headers, tags, attrs)
        hdrs = {**version_header(obj), **encryption_headers(obj.attrs)}
        if src.version_id != "null" or version:
            hdrs["x-amz-copy-source-version-id"] = src.version_id
        await self._reply(send, 200, X.document("CopyObjectResult", [X.el("LastModified", X.iso(obj.modified)),
                                                                     X.el("ETag", obj.etag)]), headers=hdrs)

    async def _delete_objects(self, req: S3Request, v: Verified, arn: str, receive: Any, send: Any) -> None:
        body = await self._read_small(receive)
        check_digests(req, body, required=True)
        doc = X.parse(body, "Delete")
        quiet = (X.text(doc, "Quiet") or "").lower() == "true"
        objects = X.children(doc, "Object")
        if not objects or len(objects) > 1000:
            raise ServiceError("MalformedXML", "Delete takes 1 to 1000 objects.")
        self.store.require_bucket(req.bucket)
        out = []
        for o in objects:
            key, version = X.text(o, "Key") or "", X.text(o, "VersionId")
            named = [X.el("VersionId", version)] if version is not None else []
            try:
                check_key(key)
                action = "s3:DeleteObject" if version is None else "s3:DeleteObjectVersion"
                if not self._allowed(v, req, action, f"{arn}/{key}"):
                    raise ServiceError("AccessDenied", "Access Denied", 403)
                if version is None:
                    gone = await self._run(self.store.delete, req.bucket, key)  # a delete marker if versioned
                    said = [X.el("DeleteMarker", True), X.el("DeleteMarkerVersionId", gone.version_id)] if gone else []
                else:
                    await self._check_version_deletable(v, req, key, version)
                    gone = await self._run(self.store.delete_version, req.bucket, key, version)
                    said = [X.el("DeleteMarker", True), X.el("DeleteMarkerVersionId", version)] \
                        if gone is not None and gone.marker else []
                if not quiet:
                    out.append(X.el("Deleted", [X.el("Key", key), *named, *said]))
            except ServiceError as exc:
                out.append(X.el("Error", [X.el("Key", key), *named, X.el("Code", exc.code),
                                          X.el("Message", exc.message)]))
        await self._reply(send, 200, X.document("DeleteResult", out))



def content_md5(headers: dict[str, str]) -> bytes | None:
    """The digest a ``Content-MD5`` header gives (16 bytes, base64), None without one; S3's InvalidDigest for any
    other value, empty or short ones included."""
    if "content-md5" not in headers:
        return None
    try:
        digest = base64.b64decode(headers["content-md5"], validate=True)
    except binascii.Error:
        digest = b""
    if len(digest) != 16:
        raise ServiceError("InvalidDigest", "The Content-MD5 you specified was invalid.")
    return digest


def check_digests(req: S3Request, body: bytes, required: bool) -> None:
    """A small body's Content-MD5 and x-amz-checksum-* headers checked against it; with ``required``, one of them
    must be there (S3 requires it of DeleteObjects and of the bucket configurations it names so)."""
    if required and not any(k in req.headers for k in ("content-md5", *(f"x-amz-checksum-{a}" for a in CHECKSUMS))):
        raise ServiceError("InvalidRequest", "Missing required header for this request: Content-MD5 or a "
                          "x-amz-checksum-* header.")
    want = content_md5(req.headers)
    if want is not None and want != hashlib.md5(body, usedforsecurity=False).digest():
        raise ServiceError("BadDigest", "The Content-MD5 you specified did not match what we received.")
    for a in CHECKSUMS:
        if f"x-amz-checksum-{a}" in req.headers:
            h = _Hasher(a)
            h.update(body)
            if h.b64() != req.headers[f"x-amz-checksum-{a}"]:
                raise ServiceError("BadDigest", f"The {a.upper()} you specified did not match the calculated "
                                  "checksum.")


def version_header(obj: ObjectMeta) -> dict[str, str]:
    """``x-amz-version-id`` on a write's answer, for a version a versioned bucket gave an id."""
    return {"x-amz-version-id": obj.version_id} if obj.version_id != "null" else {}


def decode_metadata(name: str, raw: str) -> str:
    """A user metadata header's value as text, as S3 stores it: US-ASCII as sent (encoded words included: S3
    decodes none), other bytes read as UTF-8. Control characters are kept, as S3 keeps them: the value only ever
    goes back out encoded (``encode_metadata``)."""
    text = header_text(raw)
    if text is None:
        raise ServiceError("InvalidArgument", f"The metadata header x-amz-meta-{name} must be UTF-8 text.",
                           ArgumentName=f"x-amz-meta-{name}")
    return text


_WORD_SPECIALS = frozenset(b'=_?"#$%&\'(),.:;<>@[\\]^`{|}~')


def encode_metadata(value: str) -> str:
    """A stored metadata value as S3 returns it: as is when printable US-ASCII, else one RFC 2047 encoded word
    (mail-safe, so no control character reaches a header): Q when most characters are printable ASCII
    (``\\x04mymeta`` is ``=?UTF-8?Q?=04mymeta?=``), B otherwise."""
    odd = sum(1 for ch in value if not (" " <= ch < "\x7f" or ch == "\t"))
    if not odd:
        return value
    data = value.encode()
    if len(value) - odd > odd:
        return "=?UTF-8?Q?" + "".join("_" if b == 0x20 else f"={b:02X}" if b < 0x20 or b >= 0x7f or b in _WORD_SPECIALS
                                      else chr(b) for b in data) + "?="
    return "=?UTF-8?B?" + base64.b64encode(data).decode() + "?="
