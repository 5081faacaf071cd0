"""The ``ObjectStore`` port on the local object engine: one declared bucket, as a handler sees it.

Writes go through the same engine as the S3 endpoint (durable, atomic, with their events), so
what a handler stores is what an S3 client then reads, and the other way round.
"""

from __future__ import annotations

import base64
import binascii

from ..errors import InvalidToken
from ..ports.objects import ObjectInfo, ObjectPage, StoredObject, check_object_key, check_page_limit
from .objects import ObjectError, ObjectMeta, ObjectStore


def _info(meta: ObjectMeta) -> ObjectInfo:
    return ObjectInfo(meta.key, meta.size, meta.etag.strip('"'), meta.content_type, dict(meta.metadata))


class LocalBucket:
    def __init__(self, store: ObjectStore, bucket: str) -> None:
        self.store, self.bucket = store, bucket

    def put(self, key: str, data: bytes, *, content_type: str = "binary/octet-stream",
            metadata: dict[str, str] | None = None) -> ObjectInfo:
        check_object_key(key)
        w = self.store.writer()
        w.write(data)
        return _info(self.store.commit(self.bucket, key, w.finish(), content_type, dict(metadata or {}),
                                       "ObjectCreated:Put"))

    def head(self, key: str) -> ObjectInfo | None:
        check_object_key(key)
        try:
            return _info(self.store.head(self.bucket, key))
        except ObjectError as exc:
            if exc.code == "NoSuchKey":
                return None
            raise

    def get(self, key: str) -> StoredObject | None:
        check_object_key(key)
        try:
            meta, f = self.store.open_object(self.bucket, key)
        except ObjectError as exc:
            if exc.code == "NoSuchKey":
                return None
            raise
        with f:
            return StoredObject(_info(meta), f.read())

    def delete(self, key: str) -> None:
        self.store.delete(self.bucket, check_object_key(key))

    def list(self, prefix: str = "", *, limit: int = 1000, next_token: str | None = None) -> ObjectPage:
        check_page_limit(limit)
        after = ""
        if next_token is not None:
            try:
                after = base64.urlsafe_b64decode(next_token.encode() + b"==").decode()
            except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
                raise InvalidToken("next token is malformed") from exc
            if not after.startswith(prefix):
                raise InvalidToken("next token belongs to another listing")
        listing = self.store.list_objects(self.bucket, prefix, "", after, limit)
        token = base64.urlsafe_b64encode(listing.last.encode()).decode().rstrip("=") if listing.truncated and \
            listing.last else None
        return ObjectPage([_info(m) for m in listing.objects], token)
