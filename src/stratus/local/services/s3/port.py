"""The ``ObjectStore`` port on the local object engine: one declared bucket, as a handler sees it.

Writes go through the same engine as the S3 endpoint (durable, atomic, with their events), so
what a handler stores is what an S3 client then reads, and the other way round. The engine's
refusals are already the project's ``ServiceError`` with S3's codes, as the S3 adapter raises them.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

import orjson

from ....clock import Clock
from ....errors import ServiceError, UnsupportedFeature
from ....ports.objects import Conditions, ObjectInfo, ObjectStorePort, PresignedPost, StoredObject
from ...infra.sqlite import ServiceErrors
from ...protocols.sigv4 import Credential, signing_key
from .model import ObjectMeta, ObjectStore


def _info(meta: ObjectMeta) -> ObjectInfo:
    return ObjectInfo(meta.key, meta.size, meta.etag.strip('"'), meta.content_type, dict(meta.metadata))


@dataclass(frozen=True)
class FormSigner:
    """Who signs a bucket's presigned forms: the handlers' role's key pair, for the S3 endpoint at ``endpoint``, on
    the platform's clock (a form's expiry is the system's time, manual or not)."""

    credential: Credential
    endpoint: str
    region: str
    clock: Clock

    def sign(self, bucket: str, key: str, conditions: Conditions, expires: int) -> PresignedPost:
        """A SigV4 POST policy for ``key`` and its signature, as botocore's ``generate_presigned_post`` makes them."""
        now = dt.datetime.fromtimestamp(self.clock.now(), dt.UTC)
        date, stamp = now.strftime("%Y%m%d"), now.strftime("%Y%m%dT%H%M%SZ")
        credential = f"{self.credential.access_key_id}/{date}/{self.region}/s3/aws4_request"
        fields = {"key": key, "x-amz-algorithm": "AWS4-HMAC-SHA256", "x-amz-credential": credential,
                  "x-amz-date": stamp}
        policy = {"expiration": (now + dt.timedelta(seconds=expires)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                  "conditions": [{"bucket": bucket}, *conditions, *({k: v} for k, v in fields.items())]}
        encoded = base64.b64encode(orjson.dumps(policy)).decode()
        signature = hmac.new(signing_key(self.credential.secret_access_key, date, self.region, "s3"),
                             encoded.encode(), hashlib.sha256).hexdigest()
        return PresignedPost(f"{self.endpoint}/{bucket}", {**fields, "policy": encoded, "x-amz-signature": signature})


class LocalBucket(ObjectStorePort):
    """``signer`` signs the presigned forms."""

    def __init__(self, store: ObjectStore, bucket: str, signer: FormSigner | None = None) -> None:
        self.store, self.bucket, self.signer = store, bucket, signer
        self._errors = ServiceErrors(f"bucket {bucket!r}")

    def _presigned_post(self, key: str, conditions: Conditions, expires: int) -> PresignedPost:
        if self.signer is None:
            raise UnsupportedFeature("this bucket's port has no signer for presigned forms")
        return self.signer.sign(self.bucket, key, conditions, expires)

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
