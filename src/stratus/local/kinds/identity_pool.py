"""Identity pools, locally: the Cognito Identity engine, its role policy with the app's real bucket names."""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import UnsupportedFeature
from ...graph import IdentityPool, bucket_placeholder, placeholder_names
from ..runtime import AppEngines, LocalKind
from ..services.cognito_identity.model import IdentityPoolService


class IdentityPoolKind(LocalKind[IdentityPool, IdentityPoolService]):
    def build(self, app: AppEngines, decl: IdentityPool) -> IdentityPoolService:
        rt = app.runtime
        users = app.engine(decl.user_pool, f"identity pool {decl.name!r}: its user pool")
        text = orjson.dumps(decl.authenticated_policy).decode()
        for name in set(placeholder_names(text)):
            bucket = app.app.resource("bucket", name)
            if bucket is None:
                raise UnsupportedFeature(f"identity pool {decl.name!r}: its policy names bucket {name!r}, which app "
                                         f"{app.name!r} does not declare")
            text = text.replace(bucket_placeholder(name), app.engine(bucket))
        if "<<bucket:" in text:
            raise UnsupportedFeature(f"identity pool {decl.name!r}: its policy holds a malformed bucket placeholder")
        return IdentityPoolService(app.name, decl, orjson.loads(text), users, rt.services.identities,
                                   rt.data_dir / "keys", rt.clock, rt.endpoint, rt.region)

    def facts(self, engine: IdentityPoolService) -> Any:
        return engine.pool_id


KIND = IdentityPoolKind()
