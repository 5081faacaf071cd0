"""Buckets, locally: the object store behind the S3 endpoint; the real name is ``<app>-<name>-<random>``."""

from __future__ import annotations

import functools
from typing import Any

from ...graph import Bucket
from ...ports.objects import ObjectStorePort
from ..runtime import AppEngines, LocalKind
from ..services.s3.port import FormSigner, LocalBucket


class BucketKind(LocalKind[Bucket, str]):
    def build(self, app: AppEngines, decl: Bucket) -> str:
        return app.runtime.services.objects.declared_bucket(app.name, decl.name)

    def port(self, app: AppEngines, decl: Bucket, engine: str) -> ObjectStorePort:
        rt = app.runtime

        @functools.cache
        def signer() -> FormSigner:  # the handlers' role on this bucket (made when first needed)
            return FormSigner(rt.services.credentials.role(f"{app.name}.{decl.name}.handlers", [{
                "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:PutObject"],
                                                        "Resource": f"arn:aws:s3:::{engine}/*"}]}]),
                rt.endpoint, rt.region, rt.clock)
        return LocalBucket(rt.services.objects, engine, app.shared(f"signer:{decl.name}", lambda: signer))

    def facts(self, engine: str) -> Any:
        return engine


KIND = BucketKind()
