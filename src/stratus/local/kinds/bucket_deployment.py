"""Folder deployments, locally: the folder copied into its bucket at start-up and whenever it changes, the changed
paths invalidated in the distribution named."""

from __future__ import annotations

from ...errors import ConfigError
from ...graph import BucketDeployment
from ..runtime import AppEngines, LocalKind
from ..services.s3.deploy import FolderDeployment


class BucketDeploymentKind(LocalKind[BucketDeployment, FolderDeployment]):
    def build(self, app: AppEngines, decl: BucketDeployment) -> FolderDeployment:
        from ...graph import Distribution
        if any(d.logs is decl.bucket for d in app.app.of_kind(Distribution)):
            raise ConfigError(f"deployment {decl.name!r}: bucket {decl.bucket.name!r} holds a distribution's access "
                              "logs, which each copy would delete: deploy into a bucket of its own")
        if app.app.folder is None:
            raise ConfigError(f"deployment {decl.name!r}: app {app.name!r} was not loaded from a folder")
        bucket = app.engine(decl.bucket, f"deployment {decl.name!r}: its bucket {decl.bucket!r}, which")
        edge = app.engine(decl.distribution, f"deployment {decl.name!r}: its distribution {decl.distribution!r}, "
                          "which") if decl.distribution is not None else None
        changed = None
        if edge is not None:
            def changed(paths: list[str]) -> None:
                edge.invalidate(paths if len(paths) <= 3000 else ["/*"])
        deployment = FolderDeployment(app.runtime.services.objects, bucket, app.app.folder / decl.source,
                                      decl.cache_control, changed)
        deployment.sync()
        app.runtime.frontdoor.background.append(deployment.watch)
        return deployment


KIND = BucketDeploymentKind()
