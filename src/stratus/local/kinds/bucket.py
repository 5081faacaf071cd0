"""Buckets, locally: the object store behind the S3 endpoint; the real name is ``<app>-<name>-<random>``."""

from __future__ import annotations

from typing import Any

from ...graph import Bucket
from ...ports.objects import ObjectStorePort
from ..runtime import AppEngines, LocalKind
from ..services.s3.port import FormSigner, LocalBucket


class BucketKind(LocalKind[Bucket, str]):
    def build(self, app: AppEngines, decl: Bucket) -> str:
        return app.runtime.services.objects.declared_bucket(app.name, decl.name)

    def port(self, app: AppEngines, decl: Bucket, engine: str) -> ObjectStorePort:
        """A handler's view of the bucket. Its presigned forms are signed by the handlers' role on this bucket, made
        here, at start-up, so the S3 endpoint knows it at once: a form signed before a restart is good after it."""
        rt = app.runtime
        policy = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": f"arn:aws:s3:::{engine}/*"}]}
        signer = app.shared(f"signer:{decl.name}", lambda: FormSigner(
            rt.services.credentials.role(f"{app.name}.{decl.name}.handlers", [policy]), rt.endpoint, rt.region,
            rt.clock))
        return LocalBucket(rt.services.objects, engine, signer)

    def facts(self, engine: str) -> Any:
        return engine


KIND = BucketKind()
