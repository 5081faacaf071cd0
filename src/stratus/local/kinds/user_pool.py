"""User pools, locally: the Cognito user pool engine, served on the Cognito IdP wire and OIDC discovery."""

from __future__ import annotations

from typing import Any

from ...graph import UserPool
from ..runtime import AppEngines, LocalKind
from ..services.cognito_idp.model import UserPoolService
from ..services.cognito_idp.wire import Discovery


class UserPoolKind(LocalKind[UserPool, UserPoolService]):
    def build(self, app: AppEngines, decl: UserPool) -> UserPoolService:
        rt = app.runtime
        pool = UserPoolService(app.name, decl, rt.services.userpools, rt.data_dir / "keys", rt.mailer, rt.clock,
                               rt.endpoint, rt.region)
        rt.services.cognito_idp.add(pool)
        rt.frontdoor.mount(pool.pool_id, Discovery(pool))
        return pool

    def facts(self, engine: UserPoolService) -> Any:
        return {"id": engine.pool_id, "clients": engine.clients, "issuer": engine.issuer}


KIND = UserPoolKind()
