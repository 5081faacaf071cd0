"""User pools, locally: the Cognito user pool engine, served on the Cognito IdP wire and OIDC discovery."""

from __future__ import annotations

from typing import Any

from ...graph import UserPool
from ..runtime import AppEngines, LocalKind
from ..services.cognito_idp.hosted import HostedSignIn
from ..services.cognito_idp.model import UserPoolService
from ..services.cognito_idp.wire import Discovery


class UserPoolKind(LocalKind[UserPool, UserPoolService]):
    def build(self, app: AppEngines, decl: UserPool) -> UserPoolService:
        rt = app.runtime
        pool = UserPoolService(app.name, decl, rt.services.userpools, rt.data_dir / "keys", rt.mailer, rt.clock,
                               rt.endpoint, rt.region)
        rt.services.cognito_idp.add(pool)
        hosted = HostedSignIn(pool, rt.services.pools["cognito-idp"]) if decl.hosted is not None else None
        rt.frontdoor.mount(pool.pool_id, Discovery(pool, hosted))
        return pool

    def facts(self, engine: UserPoolService) -> Any:
        facts: dict[str, Any] = {"id": engine.pool_id, "clients": engine.clients, "issuer": engine.issuer}
        if engine.machine_clients:
            facts["machine_clients"] = engine.machine_clients
        if engine.domain_url is not None:
            facts["domain"] = engine.domain_url
        return facts


KIND = UserPoolKind()
