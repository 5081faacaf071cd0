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
        home = self._gateway(app, decl, None)
        for region in app.app.regions[1:]:  # an app with global tables: served in every region, each its replicas
            self._gateway(app, decl, region)
        return home

    def _gateway(self, app: AppEngines, decl: RestApi, region: str | None) -> Gateway:
        rt = app.runtime
        contexts: dict[Route, Context] = {}
        for route in decl.routes:
            where = f"{route.method} {route.path}"
            contexts[route] = Context(app.name, route.operation_id,
                                      {r: app.port(r, f"{where} uses {r!r}, which", region) for r in route.uses},
                                      rt.clock)
        pool = app.engine(decl.authorizer, f"rest api {decl.name!r}: its authorizer pool") if decl.authorizer else None
        gateway = Gateway(app.name, decl, contexts, pool.verifier if pool else None,
                          pool.client_ids if pool else frozenset(), rt.executor,
                          rt.services.apigateway.url(app.name, decl, region), rt.clock,
                          cache_enabled=rt.options.api_cache, throttle_enabled=rt.options.throttle)
        rt.services.apigateway.add(app.name, decl.name, gateway, region)
        return gateway

    def facts(self, engine: Gateway) -> Any:
        return engine.base_url

    def stats(self, engine: Gateway) -> dict[str, Any] | None:
        return engine.stats()


KIND = RestApiKind()
