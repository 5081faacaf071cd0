"""The ``ObjectStore`` port on the local object engine: one declared bucket, as a handler sees it.

Writes go through the same engine as the S3 endpoint (durable, atomic, with their events), so
what a handler stores is what an S3 client then reads, and the other way round. The engine's
refusals are already the project's ``ServiceError`` with S3's codes, as the S3 adapter raises them.
"""

from __future__ import annotations

from ....errors import ServiceError
from ....ports.objects import ObjectInfo, ObjectStorePort, StoredObject
from ...infra.sqlite import ServiceErrors
from .model import ObjectMeta, ObjectStore


def _info(meta: ObjectMeta) -> ObjectInfo:
    return ObjectInfo(meta.key, meta.size, meta.etag.strip('"'), meta.content_type, dict(meta.metadata))


class LocalBucket(ObjectStorePort):
    def __init__(self, store: ObjectStore, bucket: str) -> None:
        self.store, self.bucket = store, bucket
        self._errors = ServiceErrors(f"bucket {bucket!r}")

    def _put(self, key: str, data: bytes, content_type: str, metadata: dict[str, str]) -> ObjectInfo:
        with self._errors:
            w = self.store.writer()
            try:
                w.write(data)
            except BaseException:
                w.abort()
                raise
            return _info(self.store.commit(self.bucket, key, w.finish(), content_type, metadata, "ObjectCreated:Put"))

    def _head(self, key: str) -> ObjectInfo | None:
        try:
            with self._errors:
                return _info(self.store.head(self.bucket, key))
        except ServiceError as exc:
            if exc.code == "NoSuchKey":
                return None
            raise

    def _get(self, key: str) -> StoredObject | None:
        try:
            with self._errors:
                meta, f = self.store.open_object(self.bucket, key)
        except ServiceError as exc:
            if exc.code == "NoSuchKey":
                return None
            raise
        with f:
            return StoredObject(_info(meta), f.read())

    def _delete(self, key: str) -> None:
        with self._errors:
            self.store.delete(self.bucket, key)

    def _list(self, prefix: str, after: str, limit: int) -> tuple[list[ObjectInfo], bool]:
        with self._errors:
            listing = self.store.list_objects(self.bucket, prefix, "", after, limit)
        # what S3's listings carry: key, size and ETag
        return [ObjectInfo(m.key, m.size, m.etag.strip('"'), "", {}) for m in listing.objects], listing.truncated
