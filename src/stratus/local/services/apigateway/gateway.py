"""The local REST gateway: API Gateway's request path for one declared ``RestApi``.

For each request, in order: route (404, or 405 with ``Allow``), throttle (429
with ``Retry-After``), authorize (401 with ``WWW-Authenticate`` unless the route
is public), answer from the stage cache when the route is cached (on the event
loop, no handler call), read the body within
the API's limit (413), parse and validate it and the query string against the
route's declaration (400/415 naming each bad field), call the handler (sync
handlers on the runtime's thread pool), and serialize what it returns. Errors a
handler raises from the project's error tree become their status; anything else
is logged and answered with a bare 500 that reveals nothing.

Matching, validation, handler errors and serialization are ``stratus.routing``'s,
shared with the Lambda entry point, so both providers answer a request alike.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import Executor
from urllib.parse import parse_qsl

import orjson

from ....clock import Clock
from ....context import Context
from ....errors import Forbidden, HttpError, TokenRejected, Unauthorized
from ....events import Principal, StreamingResponse
from ....graph import RestApi, Route
from ....openapi import openapi_document
from ....routing import (
    RouteTable,
    check_access,
    fill,
    handler_error,
    make_request,
    parse_body,
    parse_query,
    principal_from_claims,
    serialize,
    stream_chunk,
    stream_headers,
)
from ...infra.asgi import Receive, Scope, Send, header, read_body, request_ids, send_response, send_stream
from ..cognito_idp.tokens import TokenVerifier
from .metrics import ApiMetrics
from .stagecache import StageCache
from .throttle import TokenBucket

log = logging.getLogger("stratus.gateway")


CACHE_HEADER = "x-stratus-cache"


class _Compiled:
    """What the local gateway keeps per route: its handler context, its bucket, its cache TTL."""

    def __init__(self, route: Route, ctx: Context, api: RestApi, clock: Clock) -> None:
        self.route = route
        self.ctx = ctx
        self.is_async = route.is_async
        self.bucket = TokenBucket(route.throttle, clock) if route.throttle else None
        self.cache_ttl = api.cache_ttl_of(route)


class Gateway:
    """Serves one REST API below its base path."""

    def __init__(self, app: str, api: RestApi, contexts: dict[Route, Context], verifier: TokenVerifier | None,
                 client_ids: frozenset[str], executor: Executor, base_url: str, clock: Clock,
                 cache_enabled: bool = True, throttle_enabled: bool = True) -> None:
        self.app, self.api, self.executor = app, api, executor
        self.verifier, self.client_ids = verifier, client_ids
        self.bucket = TokenBucket(api.throttle, clock)
        self.throttle_enabled = throttle_enabled
        self.cache = StageCache(api.cache, clock) if api.cache is not None and cache_enabled else None
        self.metrics = ApiMetrics()
        self._request_ids = request_ids()
        self.routes = RouteTable([(r, _Compiled(r, contexts[r], api, clock)) for r in api.routes])
        self.base_url = base_url
        self.openapi = orjson.dumps(openapi_document(api, base_url))

    def _authorize(self, scope: Scope, route: Route) -> Principal:
        raw = header(scope, b"authorization")
        if not raw:
            raise Unauthorized("missing Authorization header", headers={"www-authenticate": 'Bearer'})
        token = raw[7:] if raw[:7].lower() == "bearer " else raw
        assert self.verifier is not None
        try:
            claims = self.verifier.verify(token.strip(), token_use="access", client_ids=self.client_ids)
        except TokenRejected as exc:
            desc = str(exc).replace('"', "'")
            raise Unauthorized(f"Unauthorized: {exc}",
                               headers={"www-authenticate": f'Bearer error="invalid_token", error_description="{desc}"'}
                               ) from exc
        check_access(route, claims)
        principal = principal_from_claims(claims)
        assert principal is not None  # a verified access token names its subject
        return principal

    async def __call__(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        t0 = time.perf_counter()
        request_id = next(self._request_ids)
        try:
            status, body, headers = await self._handle(scope, receive, path, request_id)
        except HttpError as exc:
            status, body, headers = exc.status, orjson.dumps(exc.body()), dict(exc.headers)
        headers["x-amzn-requestid"] = request_id
        try:
            if isinstance(body, StreamingResponse):
                await send_stream(send, status, body.chunks, headers, stream_chunk, self.executor)
            else:
                ctype = headers.pop("content-type", "application/json")
                await send_response(send, status, body, headers, ctype)
        except Exception:  # a stream that failed half-way: its connection is dropped, and it counts as a 500
            log.exception("the streamed answer of request %s failed half-way", request_id)
            status = 500
            raise
        finally:
            self.metrics.record(status, (time.perf_counter() - t0) * 1000)

    def stats(self) -> dict[str, object]:
        throttled = self.bucket.throttled + sum(c.bucket.throttled for _, c in self.routes.by_template.values()
                                                if c.bucket)
        return {**self.metrics.snapshot(), "throttled": throttled,
                "response_cache": self.cache.stats() if self.cache else None}

    async def _handle(self, scope: Scope, receive: Receive, path: str,
                      request_id: str) -> tuple[int, bytes | StreamingResponse, dict[str, str]]:
        method = scope["method"]
        if method == "GET" and path == "/openapi.json" and ("GET", path) not in self.routes.static:
            return 200, self.openapi, {}
        route, compiled, params = self.routes.match(method, path)
        wait = (compiled.bucket or self.bucket).take() if self.throttle_enabled else None
        if wait is not None:
            raise HttpError("Too Many Requests", status=429, headers={"retry-after": str(wait)})
        user = None if route.public else self._authorize(scope, route)
        body = await read_body(receive, self.api.max_body, header(scope, b"content-length"))
        query = parse_query(route, dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"),
                                                  keep_blank_values=True)))
        # the decoded path, as API Gateway hands it to Lambda: /todos/%61b and /todos/ab are one resource,
        # cached and invalidated as one, and a handler sees the same path on both providers
        resource = fill(route.path, params)
        key, note = None, "miss"
        if compiled.cache_ttl and self.cache is not None:
            key = StageCache.key(method, resource, query, user.sub if user else None)
            refresh = "max-age=0" in (header(scope, b"cache-control") or "")
            if refresh and self.cache.settings.require_authorization_for_refresh:
                strategy = self.cache.settings.unauthorized_refresh
                if strategy == "FAIL_WITH_403":
                    raise Forbidden("not authorized to invalidate the cache (Cache-Control: max-age=0)")
                refresh, note = False, "miss; refresh-unauthorized" if strategy.startswith("SUCCEED_WITH_") else note
            if refresh:
                self.cache.refreshes += 1
                note = "refresh"
            else:
                hit = self.cache.get(key)
                if hit is not None:
                    h = dict(hit[2])
                    h[CACHE_HEADER] = "hit" if note == "miss" else note.replace("miss", "hit")
                    return hit[0], hit[1], h
        generation = self.cache.generation(key) if key is not None and self.cache is not None else 0
        data = parse_body(route, header(scope, b"content-type"), body)
        req = make_request(route, resource, params, query, _Headers(scope), body, data, user, request_id,
                           stage="local", base_url=self.base_url)
        try:
            if compiled.is_async:
                result = await route.handler(req, compiled.ctx)
            else:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(self.executor, route.handler, req, compiled.ctx)
        except Exception as exc:
            raise handler_error(exc, route, request_id) from None
        out: bytes | StreamingResponse
        if isinstance(result, StreamingResponse):  # sent as it is produced; never cached
            status, out, headers, key = result.status, result, stream_headers(result), None
        else:
            status, out, headers = serialize(result, route.status)
        if self.cache is not None and 200 <= status < 300:
            if key is not None:
                assert isinstance(out, bytes)
                self.cache.put(key, (status, out, dict(headers)), compiled.cache_ttl, generation)
                headers[CACHE_HEADER] = note
            for target in route.invalidates:  # a successful write drops the caller's cached reads
                self.cache.drop_path(fill(target, params), user.sub if user else None)
        return status, out, headers


class _Headers(dict[str, str]):
    """Request headers with lower-case names (the last value wins for repeats)."""

    def __init__(self, scope: Scope) -> None:
        super().__init__((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"])
