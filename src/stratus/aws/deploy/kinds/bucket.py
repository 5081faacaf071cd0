"""Buckets on AWS: S3, public access blocked, encrypted, TLS 1.2+ only, owner-enforced (a distribution's log bucket
bucket-owner-preferred: CloudFront's standard logs are written with ACLs), CORS for app clients, incomplete uploads
aborted after 7 days, kept on destroy."""

from __future__ import annotations

from typing import Any

from ....graph import Bucket, Distribution
from ..synth import Binding, StackBuilder, SynthKind


class BucketKind(SynthKind[Bucket]):
    def build(self, b: StackBuilder, decl: Bucket) -> Any:
        s3 = b.s3
        # CloudFront delivers standard logs with an ACL grant (to its awslogsdelivery account), which a bucket with
        # ACLs off refuses: a distribution's log bucket keeps them on, the bucket owner owning what is written
        logs = any(d.logs is decl for d in b.graph.of_kind(Distribution))
        ownership = s3.ObjectOwnership.BUCKET_OWNER_PREFERRED if logs else s3.ObjectOwnership.BUCKET_OWNER_ENFORCED
        return s3.Bucket(
            b.stack, b.id(decl), block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED, enforce_ssl=True, minimum_tls_version=1.2,
            object_ownership=ownership, removal_policy=b.cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=[s3.LifecycleRule(abort_incomplete_multipart_upload_after=b.cdk.Duration.days(7))],
            cors=[s3.CorsRule(allowed_methods=[s3.HttpMethods.GET, s3.HttpMethods.PUT, s3.HttpMethods.DELETE,
                                               s3.HttpMethods.HEAD],
                              allowed_origins=list(b.options.cors_origins), allowed_headers=["*"],
                              exposed_headers=["ETag", "x-amz-request-id", "x-amz-version-id"], max_age=3000)])

    def facts(self, b: StackBuilder, decl: Bucket, built: Any) -> Any:
        return built.bucket_name

    def bind(self, b: StackBuilder, decl: Bucket, built: Any) -> Binding:
        return Binding(built.bucket_name, built.bucket_arn)


KIND = BucketKind()
