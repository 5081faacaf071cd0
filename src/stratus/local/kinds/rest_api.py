"""REST APIs, locally: a gateway per API under ``/_api/<app>/<api>``, each route's handler with its context."""

from __future__ import annotations

from typing import Any

from ...context import Context
from ...graph import RestApi, Route
from ..runtime import AppEngines, LocalKind
from ..services.apigateway.gateway import Gateway


class RestApiKind(LocalKind[RestApi, Gateway]):
    stats_group = "apis"

    def build(self, app: AppEngines, decl: RestApi) -> Gateway:
        rt = app.runtime
        contexts: dict[Route, Context] = {}
        for route in decl.routes:
            where = f"{route.method} {route.path}"
            contexts[route] = Context(app.name, route.operation_id,
                                      {r: app.port(r, f"{where} uses {r!r}, which") for r in route.uses}, rt.clock)
        pool = app.engine(decl.authorizer, f"rest api {decl.name!r}: its authorizer pool") if decl.authorizer else None
        gateway = Gateway(app.name, decl, contexts, pool.verifier if pool else None,
                          pool.client_ids if pool else frozenset(), rt.executor, rt.services.apigateway.url(app.name, decl),
                          rt.clock, cache_enabled=rt.options.api_cache, throttle_enabled=rt.options.throttle)
        rt.services.apigateway.add(app.name, decl.name, gateway)
        return gateway

    def facts(self, engine: Gateway) -> Any:
        return engine.base_url

    def stats(self, engine: Gateway) -> dict[str, Any] | None:
        return engine.stats()


KIND = RestApiKind()
