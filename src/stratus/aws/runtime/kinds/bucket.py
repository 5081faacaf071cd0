"""The ``ObjectStore`` port on Amazon S3: one bucket, as a handler sees it.

Listing hands out the port's own token (the last key returned), so a token works the same
on both providers; S3's ``StartAfter`` resumes from it. A missing object reads as None;
anything else S3 refuses is a ``ServiceError`` with S3's code, as locally.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ....graph import Bucket
from ....ports.objects import ObjectInfo, ObjectStorePort, PresignedPost, StoredObject
from ..errors import error_code, service_error
from . import AwsKind, Clients, Statement

# what S3Bucket calls: Put/Get/Head (s3:GetObject)/DeleteObject on objects, ListObjectsV2 on the bucket
OBJECT_ACTIONS = ("s3:DeleteObject", "s3:GetObject", "s3:PutObject")
BUCKET_ACTIONS = ("s3:ListBucket",)
_MISSING = ("NoSuchKey", "404", "NotFound")


class S3Bucket(ObjectStorePort):
    def __init__(self, client: Any, bucket: str) -> None:
        self.client, self.bucket = client, bucket

    def _call(self, op: str, missing_is_none: bool = False, **kw: Any) -> Any:
        try:
            return getattr(self.client, op)(Bucket=self.bucket, **kw)
        except ClientError as exc:
            if missing_is_none and error_code(exc) in _MISSING:
                return None
            raise service_error(exc) from exc
        except BotoCoreError as exc:
            raise service_error(exc) from exc

    @staticmethod
    def _info(key: str, size: int, res: dict[str, Any]) -> ObjectInfo:
        return ObjectInfo(key, size, res["ETag"].strip('"'), res.get("ContentType", ""), dict(res.get("Metadata", {})))

    def _put(self, key: str, data: bytes, content_type: str, metadata: dict[str, str]) -> ObjectInfo:
        res = self._call("put_object", Key=key, Body=data, ContentType=content_type, Metadata=metadata)
        return ObjectInfo(key, len(data), res["ETag"].strip('"'), content_type, metadata)

    def _head(self, key: str) -> ObjectInfo | None:
        res = self._call("head_object", missing_is_none=True, Key=key)
        return None if res is None else self._info(key, res["ContentLength"], res)

    def _get(self, key: str) -> StoredObject | None:
        res = self._call("get_object", missing_is_none=True, Key=key)
        if res is None:
            return None
        data = res["Body"].read()
        return StoredObject(self._info(key, len(data), res), data)

    def _delete(self, key: str) -> None:
        self._call("delete_object", Key=key)

    def _presigned_post(self, key: str, conditions: list[Any], expires: int) -> PresignedPost:
        return presign_post(self.client, self.bucket, key, conditions, expires)

    def _list(self, prefix: str, after: str, limit: int) -> tuple[list[ObjectInfo], bool]:
        kw: dict[str, Any] = {"Prefix": prefix, "MaxKeys": limit}
        if after:
            kw["StartAfter"] = after
        res = self._call("list_objects_v2", **kw)
        objects = [ObjectInfo(o["Key"], o["Size"], o["ETag"].strip('"'), "", {}) for o in res.get("Contents", [])]
        return objects, bool(res.get("IsTruncated"))


def presign_post(client: Any, bucket: str, key: str, conditions: list[Any], expires: int) -> PresignedPost:
    """botocore's presigned POST with ``client``'s credentials (no request is made)."""
    try:
        form = client.generate_presigned_post(Bucket=bucket, Key=key, Conditions=conditions, ExpiresIn=expires)
    except (BotoCoreError, ClientError) as exc:
        raise service_error(exc) from exc
    return PresignedPost(form["url"], dict(form["fields"]))


class BucketKind(AwsKind[Bucket]):
    def port(self, decl: Bucket, name: str, env: Mapping[str, str], clients: Clients) -> ObjectStorePort:
        return S3Bucket(clients.get("s3"), name)

    def grants(self, decl: Bucket, arn: str, shared: Mapping[str, str]) -> list[Statement]:
        return [{"Effect": "Allow", "Action": list(OBJECT_ACTIONS), "Resource": [f"{arn}/*"]},
                {"Effect": "Allow", "Action": list(BUCKET_ACTIONS), "Resource": [arn]}]

    def confined_grants(self, decl: Bucket, arn: str, shared: Mapping[str, str], writes: tuple[str, ...]
                        ) -> list[Statement]:
        return [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [f"{arn}/*"]},
                {"Effect": "Allow", "Action": ["s3:DeleteObject", "s3:PutObject"],
                 "Resource": [f"{arn}/{prefix}*" for prefix in writes]},
                {"Effect": "Allow", "Action": list(BUCKET_ACTIONS), "Resource": [arn]}]


KIND = BucketKind()
