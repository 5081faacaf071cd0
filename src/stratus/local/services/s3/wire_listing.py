"""S3's listings: buckets, objects (v1 and v2), multipart uploads and their parts."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ....errors import ServiceError
from ...protocols import restxml as X
from .wire_common import OWNER_ID, OWNER_NAME, S3Base, S3Request


def token_for(last: str) -> str:
    """A continuation token: where the next page starts after (a key, a prefix or a bucket name), opaque."""
    return base64.urlsafe_b64encode(last.encode()).decode()


def token_after(token: str) -> str:
    """What a continuation token says the page starts after, or S3's error for a token it never gave."""
    try:
        after = base64.b64decode(token.encode(), altchars=b"-_", validate=True).decode()
        if not after:
            raise ValueError("empty")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ServiceError("InvalidArgument", "The continuation token provided is incorrect",
                           ArgumentName="continuation-token") from None
    return after


class Listings(S3Base):
    async def _list_buckets(self, req: S3Request, send: Any) -> None:
        """ListBuckets: every bucket by name, or pages of ``max-buckets`` (1 to 10000) with a continuation token,
        and an optional ``prefix``."""
        q = req.query
        prefix, after, limit = q.get("prefix", ""), "", None
        if "max-buckets" in q:
            raw = q["max-buckets"]
            if not (raw.isascii() and raw.isdigit() and len(raw) <= 5 and 1 <= int(raw) <= 10000):
                raise ServiceError("InvalidArgument", "Argument max-buckets must be an integer between 1 and 10000",
                                  ArgumentName="max-buckets", ArgumentValue=raw[:64])
            limit = int(raw)
        if q.get("continuation-token"):
            after = token_after(q["continuation-token"])
        rows = [(n, t) for n, t in await self._run(self.store.list_buckets) if n.startswith(prefix) and n > after]
        page = rows if limit is None else rows[:limit]
        buckets = [X.el("Bucket", [X.el("Name", n), X.el("CreationDate", X.iso(t)), X.el("BucketRegion", self.region)])
                   for n, t in page]
        owner = X.el("Owner", [X.el("ID", OWNER_ID), X.el("DisplayName", OWNER_NAME)])
        out = [X.el("Buckets", buckets), owner]
        if limit is not None and len(rows) > limit:
            out.append(X.el("ContinuationToken", token_for(page[-1][0])))
        if "prefix" in q:
            out.append(X.el("Prefix", prefix))
        await self._reply(send, 200, X.document("ListAllMyBucketsResult", out))

    async def _list(self, req: S3Request, send: Any) -> None:
        q = req.query
        v2 = q.get("list-type") == "2"
        if "list-type" in q and not v2:
            raise ServiceError("InvalidArgument", "Invalid List Type specified.", ArgumentName="list-type")
        max_keys, url = self._listing_options(q)
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
        if v2:
            after = q.get("start-after", "")
            if q.get("continuation-token"):  # an empty one is no token: the listing starts at the beginning
                after = token_after(q["continuation-token"])
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
                parts.append(X.el("NextContinuationToken", token_for(listing.last)))
        else:
            parts.append(X.el("Marker", enc(after)))
            if listing.truncated and delimiter and listing.last is not None:
                parts.append(X.el("NextMarker", enc(listing.last)))
        owner = not v2 or q.get("fetch-owner") == "true"  # v1 always names each key's owner; v2 when asked
        for o in listing.objects:
            item = [X.el("Key", enc(o.key)), X.el("LastModified", X.iso(o.modified)), X.el("ETag", o.etag),
                    X.el("Size", o.size), X.el("StorageClass", "STANDARD")]
            if owner:
                item.append(X.el("Owner", [X.el("ID", OWNER_ID), X.el("DisplayName", OWNER_NAME)]))
            item += [X.el("ChecksumAlgorithm", a.upper()) for a in o.checksums]
            parts.append(X.el("Contents", item))
        parts += [X.el("CommonPrefixes", [X.el("Prefix", enc(p))]) for p in listing.prefixes]
        await self._reply(send, 200, X.document("ListBucketResult", parts))

    @staticmethod
    def _listing_options(q: dict[str, str]) -> tuple[int, bool]:
        """A listing's max-keys (at most 1000) and whether keys go out URL-encoded, or S3's error for either."""
        try:
            max_keys = int(q.get("max-keys", "1000"))
            if max_keys < 0:
                raise ValueError
        except ValueError:
            raise ServiceError("InvalidArgument", "Provided max-keys not an integer or within integer range",
                              ArgumentName="max-keys") from None
        url = q.get("encoding-type") == "url"
        if "encoding-type" in q and not url:
            raise ServiceError("InvalidArgument", "Invalid Encoding Method specified in Request",
                              ArgumentName="encoding-type")
        for name in ("prefix", "delimiter", "marker", "start-after", "key-marker"):  # echoed in an XML answer
            if any(ch < " " and ch not in "\t\n\r" for ch in q.get(name, "")):
                raise ServiceError("InvalidArgument", f"{name} must not hold control characters.", ArgumentName=name)
        return min(max_keys, 1000), url

    async def _list_versions(self, req: S3Request, send: Any) -> None:
        """ListObjectVersions: versions and delete markers in S3's order, newest first within a key (a bucket
        never versioned has one version per object, ``null``)."""
        q = req.query
        max_keys, url = self._listing_options(q)
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
        key_marker, id_marker = q.get("key-marker", ""), q.get("version-id-marker", "")
        if id_marker and not key_marker:
            raise ServiceError("InvalidArgument", "A version-id marker cannot be specified without a key marker.",
                              ArgumentName="version-id-marker", ArgumentValue=id_marker)
        listing = await self._run(self.store.list_versions, req.bucket, prefix, delimiter, key_marker, id_marker,
                                  max_keys)
        enc = lambda s: X.encode_key(s, url)  # noqa: E731
        parts = [X.el("Name", req.bucket), X.el("Prefix", enc(prefix)), X.el("KeyMarker", enc(key_marker)),
                 X.el("VersionIdMarker", id_marker)]
        if listing.truncated and listing.next_key is not None:
            parts.append(X.el("NextKeyMarker", enc(listing.next_key)))
            if listing.next_version is not None:
                parts.append(X.el("NextVersionIdMarker", listing.next_version))
        parts += [X.el("MaxKeys", max_keys)]
        if delimiter:
            parts.append(X.el("Delimiter", enc(delimiter)))
        parts.append(X.el("IsTruncated", listing.truncated))
        if url:
            parts.append(X.el("EncodingType", "url"))
        owner = X.el("Owner", [X.el("ID", OWNER_ID), X.el("DisplayName", OWNER_NAME)])
        for o in listing.versions:
            head = [X.el("Key", enc(o.key)), X.el("VersionId", o.version_id), X.el("IsLatest", o.latest),
                    X.el("LastModified", X.iso(o.modified))]
            if o.marker:
                parts.append(X.el("DeleteMarker", [*head, owner]))
                continue
            item = [*head, X.el("ETag", o.etag), X.el("Size", o.size), owner, X.el("StorageClass", "STANDARD")]
            item += [X.el("ChecksumAlgorithm", a.upper()) for a in o.checksums]
            parts.append(X.el("Version", item))
        parts += [X.el("CommonPrefixes", [X.el("Prefix", enc(p))]) for p in listing.prefixes]
        await self._reply(send, 200, X.document("ListVersionsResult", parts))

    async def _list_parts(self, req: S3Request, send: Any) -> None:
        self.store.upload(req.bucket, req.key, req.query["uploadId"])
        try:
            marker = int(req.query.get("part-number-marker", "0"))
            max_parts = min(int(req.query.get("max-parts", "1000")), 1000)
            if marker < 0 or max_parts < 1:
                raise ValueError
        except ValueError:
            raise ServiceError("InvalidArgument", "part-number-marker must be a non-negative integer and max-parts a "
                              "positive one") from None
        parts = [p for p in await self._run(self.store.parts, req.query["uploadId"]) if p["number"] > marker]
        page, truncated = parts[:max_parts], len(parts) > max_parts
        who = [X.el("ID", OWNER_ID), X.el("DisplayName", OWNER_NAME)]
        out = [X.el("Bucket", req.bucket), X.el("Key", req.key), X.el("UploadId", req.query["uploadId"]),
               X.el("Initiator", who), X.el("Owner", who), X.el("StorageClass", "STANDARD"),
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
            raise ServiceError("InvalidArgument", "max-uploads must be a positive integer",
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
            who = [X.el("ID", OWNER_ID), X.el("DisplayName", OWNER_NAME)]
            entries.append(X.el("Upload", [X.el("Key", u["key"]), X.el("UploadId", u["upload_id"]),
                                           X.el("Initiator", who), X.el("Owner", who),
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
