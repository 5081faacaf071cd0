"""Distributions, locally: an edge per distribution, served at the root of its own HTTPS port.

A bucket origin gets the bucket policy CDK's ``S3BucketOrigin.with_origin_access_control`` writes: ``s3:GetObject``
for the ``cloudfront.amazonaws.com`` service when ``AWS:SourceArn`` is this distribution's ARN; the edge signs its
requests with the key the platform keeps for that service and distribution, so the S3 endpoint decides as S3 does.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ...graph import Distribution
from ...graph.edge import ApiOrigin, BucketOrigin, HttpOrigin
from ..runtime import AppEngines, LocalKind
from ..services.cloudfront.edge import Edge, distribution_arn, distribution_id
from ..services.cloudfront.logs import AccessLog
from ..services.cloudfront.origins import Http, InProcess, Origin

SERVICE = "cloudfront.amazonaws.com"
POPS = {"us-east-1": "IAD89-P1", "us-east-2": "CMH68-P1", "us-west-2": "SEA19-P1", "eu-west-1": "DUB56-P1",
        "eu-central-1": "FRA56-P5", "ap-northeast-1": "NRT57-P2"}


def oac_statement(bucket: str, distribution_arn: str) -> dict[str, Any]:
    """The bucket policy statement letting one distribution read a bucket through origin access control."""
    return {"Action": "s3:GetObject", "Condition": {"StringEquals": {"AWS:SourceArn": distribution_arn}},
            "Effect": "Allow", "Principal": {"Service": SERVICE}, "Resource": f"arn:aws:s3:::{bucket}/*"}


class DistributionKind(LocalKind[Distribution, Edge]):
    stats_group = "distributions"

    def build(self, app: AppEngines, decl: Distribution) -> Edge:
        rt = app.runtime
        services = rt.services
        arn = distribution_arn(app.name, decl.name)
        made: dict[Any, Origin] = {}
        for origin in decl.origins:
            where = f"distribution {decl.name!r}: its origin"
            if isinstance(origin, BucketOrigin):
                bucket = app.engine(origin.bucket, f"{where} {origin.bucket!r}, which")
                self._allow(services.objects, bucket, arn)
                made[origin] = InProcess(rt.frontdoor, rt.endpoint, f"/{bucket}{origin.path.rstrip('/')}", rt.clock,
                                         rt.region, services.credentials.service(SERVICE, arn))
            elif isinstance(origin, ApiOrigin):
                gateway = app.engine(origin.api, f"{where} {origin.api!r}, which")
                made[origin] = InProcess(rt.frontdoor, rt.endpoint, urlsplit(gateway.base_url).path, rt.clock,
                                         rt.region, strip=origin.strip.rstrip("/"))
            else:
                assert isinstance(origin, HttpOrigin)
                client = made[origin] = Http(origin.url, origin.timeout, rt.data_dir / "tls" / "ca.pem")
                rt.frontdoor.on_shutdown_async.append(client.close)
        log = None
        if decl.logs is not None:
            log_bucket = app.engine(decl.logs, f"distribution {decl.name!r}: its logs bucket {decl.logs!r}, which")
            def put(key: str, data: bytes) -> None:
                services.objects.put_bytes(log_bucket, key, data, "application/x-gzip")
            log = AccessLog(distribution_id(app.name, decl.name), decl.logs_prefix, put)
            rt.frontdoor.background.append(log.run)
            rt.frontdoor.on_shutdown.append(log.close)
        edge = Edge(app.name, decl, [made[b.origin] for b in decl.all_behaviors], rt.clock,
                    rt.data_dir / "edge" / app.name / decl.name, POPS.get(rt.region, "IAD89-P1"), log)
        rt.edges[f"{app.name}/{decl.name}"] = edge
        return edge

    @staticmethod
    def _allow(objects: Any, bucket: str, arn: str) -> None:
        """Add the distribution's statement to the bucket's policy (once), keeping what else it says."""
        policy = objects.bucket_config(bucket, "policy") or {"Version": "2012-10-17", "Statement": []}
        statements = policy["Statement"] if isinstance(policy["Statement"], list) else [policy["Statement"]]
        ours = oac_statement(bucket, arn)
        if ours not in statements:
            objects.set_bucket_config(bucket, "policy", {**policy, "Statement": [*statements, ours]})

    def facts(self, engine: Edge) -> Any:
        return {"url": engine.url, "id": engine.id, "arn": engine.arn, "domain": engine.domain}

    def stats(self, engine: Edge) -> dict[str, Any] | None:
        return engine.stats()


KIND = DistributionKind()
