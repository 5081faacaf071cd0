"""The ``ObjectStore`` port on the local object engine: one declared bucket, as a handler sees it.

Writes go through the same engine as the S3 endpoint (durable, atomic, with their events), so
what a handler stores is what an S3 client then reads, and the other way round.
"""

from __future__ import annotations

from ..ports.objects import (
    ObjectInfo,
    ObjectPage,
    StoredObject,
    check_object_key,
    check_page_limit,
    check_put,
    decode_list_token,
    encode_list_token,
)
from .objects import ObjectError, ObjectMeta, ObjectStore


def _info(meta: ObjectMeta) -> ObjectInfo:
    return ObjectInfo(meta.key, meta.size, meta.etag.strip('"'), meta.content_type, dict(meta.metadata))


class LocalBucket:
    def __init__(self, store: ObjectStore, bucket: str) -> None:
        self.store, self.bucket = store, bucket

    def put(self, key: str, data: bytes, *, content_type: str = "binary/octet-stream",
            metadata: dict[str, str] | None = None) -> ObjectInfo:
        check_object_key(key)
        content_type, meta = check_put(data, content_type, metadata)
        w = self.store.writer()
        w.write(bytes(data))
        return _info(self.store.commit(self.bucket, key, w.finish(), content_type, meta, "ObjectCreated:Put"))

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
        after = decode_list_token(next_token, prefix) if next_token is not None else ""
        listing = self.store.list_objects(self.bucket, prefix, "", after, limit)
        token = encode_list_token(listing.last) if listing.truncated and listing.last else None
        # what S3's listings carry: key, size and ETag
        return ObjectPage([ObjectInfo(m.key, m.size, m.etag.strip('"'), "", {}) for m in listing.objects], token)
