"""Buckets, locally: the object store behind the S3 endpoint; the real name is ``<app>-<name>-<random>``."""

from __future__ import annotations

from typing import Any

from ...graph import Bucket
from ...ports.objects import ObjectStorePort
from ..runtime import AppEngines, LocalKind
from ..services.s3.port import LocalBucket


class BucketKind(LocalKind[Bucket, str]):
    def build(self, app: AppEngines, decl: Bucket) -> str:
        return app.runtime.services.objects.declared_bucket(app.name, decl.name)

    def port(self, app: AppEngines, decl: Bucket, engine: str) -> ObjectStorePort:
        return LocalBucket(app.runtime.services.objects, engine)

    def facts(self, engine: str) -> Any:
        return engine


KIND = BucketKind()
