"""Folders deployed to buckets on AWS: CDK's ``BucketDeployment``, the folder zipped as an asset and synced into the
bucket's root by the CDK's custom resource (``aws s3 sync`` in a Lambda function) at each deploy that changes it.

Each file's ``Content-Type`` is guessed from its name by the sync. Its ``Cache-Control`` is the one
``cache_control_for`` gives it, and a sync sets one ``Cache-Control`` on everything it uploads, so the files are
grouped by that value and each group is a deployment of its own, syncing only its files (``exclude=["*"]`` and
``include=`` their paths).

Files gone from the folder must be deleted from the bucket, but a sync's ``--delete`` (``prune``) touches only the
paths its filters let through: a deployment that includes only its own files never deletes one that is gone, and
several deployments that each deleted everything not theirs would delete each other's files. So exactly one
deployment prunes, that of the largest group: it has no ``include``, and ``exclude`` lists the other groups' files
(escaped, as the sync's filters are globs). Everything in the bucket that is not a file of another group is then
its to keep in step: its own files are uploaded, and any other key, a file gone from the folder whatever group it
was in, is deleted. It runs after the others, so it never races them, and it alone invalidates ``/*`` in the
distribution (once the last file is up). Like any pruning deployment it deletes every key of the bucket that is not
in the folder, which is why a bucket takes one deployment, and never a distribution's access logs.

Each deployment is named by a digest of its ``Cache-Control``, so which group prunes (the largest) may change from
one deploy to the next without replacing anything; a group that empties is dropped, and CloudFormation deleting its
deployment leaves the objects alone (``retain_on_delete``): the pruning one deletes what is gone. The folder's paths
are written into the template, which bounds a folder to some thousands of files (CloudFormation's template size).
"""

from __future__ import annotations

import glob
import hashlib
from pathlib import Path
from typing import Any

from ....errors import ConfigError, UnsupportedFeature
from ....graph import App, BucketDeployment, Distribution
from ....graph.edge import cache_control_for
from ..synth import StackBuilder, SynthKind


class BucketDeploymentKind(SynthKind[BucketDeployment]):
    def check(self, decl: BucketDeployment, app: App) -> None:
        if app.folder is not None and not (app.folder / decl.source).is_dir():
            raise ConfigError(f"deployment {decl.name!r}: source {decl.source!r} is not a folder in {app.folder}")
        for other in app.of_kind(BucketDeployment):
            if other is not decl and other.bucket is decl.bucket:
                raise UnsupportedFeature(
                    f"deployments {decl.name!r} and {other.name!r} both copy into bucket {decl.bucket.name!r}; on AWS "
                    "each deletes every key not in its own folder, so a bucket takes one deployment")
        for dist in app.of_kind(Distribution):
            if dist.logs is decl.bucket:
                raise UnsupportedFeature(
                    f"deployment {decl.name!r} copies into bucket {decl.bucket.name!r}, which distribution "
                    f"{dist.name!r} writes its access logs to; on AWS each deploy deletes every key not in the folder, "
                    "the logs too: give the logs a bucket of their own")

    def build(self, b: StackBuilder, decl: BucketDeployment) -> Any:
        s3deploy, cdk_ = b.cdk.aws_s3_deployment, b.cdk
        folder = b.app_dir / decl.source
        groups = cache_groups(folder_files(folder), decl.cache_control)
        bucket = b.construct(decl.bucket)
        source = s3deploy.Source.asset(str(folder))
        log_group = b.shared("bucket-deployment-log", lambda: b.logs.LogGroup(
            b.stack, "bucket-deployment-log", retention=b.retention(), removal_policy=cdk_.RemovalPolicy.DESTROY))

        def deployment(cache_control: str | None, **how: Any) -> Any:
            digest = hashlib.sha256((cache_control or "").encode()).hexdigest()[:8]
            return s3deploy.BucketDeployment(
                b.stack, f"{b.id(decl)}-{digest}", destination_bucket=bucket, sources=[source],
                cache_control=[s3deploy.CacheControl.from_string(cache_control)] if cache_control else None,
                retain_on_delete=True, log_group=log_group, **how)

        # the largest group prunes; ties broken by the value, so the choice is the same at each synthesis
        ordered = sorted(groups.items(), key=lambda group: (-len(group[1]), group[0]))
        pruner, others = (ordered[0] if ordered else (None, [])), ordered[1:]
        copies = [deployment(value, prune=False, exclude=["*"], include=[glob.escape(p) for p in paths])
                  for value, paths in others]
        dist = b.construct(decl.distribution) if decl.distribution is not None else None
        last = deployment(pruner[0], prune=True,
                          exclude=[glob.escape(p) for _, paths in others for p in paths] or None,
                          distribution=dist, distribution_paths=["/*"] if dist is not None else None)
        for copy in copies:
            last.node.add_dependency(copy)
        return last


def folder_files(folder: Path) -> list[str]:
    """Every file in ``folder``, as its path in the folder with ``/`` (its key in the bucket)."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def cache_groups(files: list[str], rules: tuple[tuple[str, str], ...]) -> dict[str, list[str]]:
    """``files`` by the ``Cache-Control`` each gets (``cache_control_for``)."""
    groups: dict[str, list[str]] = {}
    for path in files:
        groups.setdefault(cache_control_for(path, rules), []).append(path)
    return groups


KIND = BucketDeploymentKind()
