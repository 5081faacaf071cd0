"""The ``ObjectStore`` port on Amazon S3: one bucket, as a handler sees it.

Listing hands out the port's own token (the last key returned), so a token works the same
on both providers; S3's ``StartAfter`` resumes from it.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

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


class S3Bucket:
    def __init__(self, client: Any, bucket: str) -> None:
        self.client, self.bucket = client, bucket

    def put(self, key: str, data: bytes, *, content_type: str = "binary/octet-stream",
            metadata: dict[str, str] | None = None) -> ObjectInfo:
        check_object_key(key)
        content_type, meta = check_put(data, content_type, metadata)
        res = self.client.put_object(Bucket=self.bucket, Key=key, Body=bytes(data), ContentType=content_type,
                                     Metadata=meta)
        return ObjectInfo(key, len(data), res["ETag"].strip('"'), content_type, meta)

    @staticmethod
    def _info(key: str, size: int, res: dict[str, Any]) -> ObjectInfo:
        return ObjectInfo(key, size, res["ETag"].strip('"'), res.get("ContentType", ""), dict(res.get("Metadata", {})))

    def _missing(self, exc: ClientError) -> bool:
        return exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound")

    def head(self, key: str) -> ObjectInfo | None:
        check_object_key(key)
        try:
            res = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if self._missing(exc):
                return None
            raise
        return self._info(key, res["ContentLength"], res)

    def get(self, key: str) -> StoredObject | None:
        check_object_key(key)
        try:
            res = self.client.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if self._missing(exc):
                return None
            raise
        data = res["Body"].read()
        return StoredObject(self._info(key, len(data), res), data)

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=check_object_key(key))

    def list(self, prefix: str = "", *, limit: int = 1000, next_token: str | None = None) -> ObjectPage:
        check_page_limit(limit)
        kw: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix, "MaxKeys": limit}
        if next_token is not None:
            kw["StartAfter"] = decode_list_token(next_token, prefix)
        res = self.client.list_objects_v2(**kw)
        objects = [ObjectInfo(o["Key"], o["Size"], o["ETag"].strip('"'), "", {}) for o in res.get("Contents", [])]
        token = encode_list_token(objects[-1].key) if res.get("IsTruncated") and objects else None
        return ObjectPage(objects, token)
