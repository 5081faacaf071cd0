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

Routes are compiled once: literal paths go in a dict, parameterised ones into
per-method regexes, so routing costs a dict lookup on the common path.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import Executor
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson

from ..app import RestApi, Route
from ..clock import Clock
from ..context import Context
from ..errors import (
    BadRequest,
    ConditionFailed,
    Forbidden,
    HttpError,
    InvalidItem,
    InvalidToken,
    MethodNotAllowed,
    NotFound,
    Unauthorized,
    UnsupportedMediaType,
    ValidationError,
)
from ..events import Principal, Request, Response
from ..schema import coerce_query, validate
from .http import Receive, Scope, Send, header, read_body, send_response
from .metrics import ApiMetrics
from .openapi import openapi_document
from .stagecache import StageCache
from .throttle import TokenBucket
from .tokens import TokenRejected, TokenVerifier

log = logging.getLogger("stratus.gateway")


CACHE_HEADER = "x-stratus-cache"


class _Compiled:
    def __init__(self, route: Route, ctx: Context, api: RestApi, clock: Clock) -> None:
        self.route = route
        self.ctx = ctx
        self.is_async = inspect.iscoroutinefunction(route.handler)
        self.bucket = TokenBucket(route.throttle, clock) if route.throttle else None
        cached = route.cache if route.cache is not None else route.method == "GET"
        ttl = route.cache_ttl if route.cache_ttl is not None else api.cache.ttl if api.cache else 0
        self.cache_ttl = ttl if api.cache is not None and cached else 0
        parts = []
        for seg in route.path.split("/")[1:]:
            m = re.fullmatch(r"\{(\w+)(\+?)\}", seg)
            parts.append(f"(?P<{m.group(1)}>.+)" if m and m.group(2) else f"(?P<{m.group(1)}>[^/]+)" if m
                         else re.escape(seg))
        self.regex = re.compile("^/" + "/".join(parts) + "$")


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
        self._request_ids = _request_ids()
        self.static: dict[tuple[str, str], _Compiled] = {}
        self.dynamic: dict[str, list[_Compiled]] = {}
        for route in api.routes:
            c = _Compiled(route, contexts[route], api, clock)
            if route.params:
                self.dynamic.setdefault(route.method, []).append(c)
            else:
                self.static[(route.method, route.path)] = c
        for routes in self.dynamic.values():  # literal segments win over parameters, as on API Gateway
            routes.sort(key=lambda c: (c.route.path.count("{"), -len(c.route.path)))
        self.base_url = base_url
        self.openapi = orjson.dumps(openapi_document(api, base_url))

    def _match(self, method: str, path: str) -> tuple[_Compiled, dict[str, str]]:
        hit = self.static.get((method, path))
        if hit is not None:
            return hit, {}
        for c in self.dynamic.get(method, ()):
            m = c.regex.match(path)
            if m:
                return c, {k: unquote(v) for k, v in m.groupdict().items()}
        allowed = sorted({m for (m, p) in self.static if p == path} |
                         {m for m, cs in self.dynamic.items() for c in cs if c.regex.match(path)})
        if allowed:
            raise MethodNotAllowed(f"{method} is not allowed on {path}", headers={"allow": ", ".join(allowed)})
        raise NotFound(f"no route for {method} {path}")

    def _authorize(self, scope: Scope) -> Principal:
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
        return Principal(claims["sub"], claims.get("username", claims["sub"]), claims["client_id"], claims)

    async def __call__(self, scope: Scope, receive: Receive, send: Send, path: str) -> None:
        t0 = time.perf_counter()
        request_id = next(self._request_ids)
        try:
            status, body, headers = await self._handle(scope, receive, path, request_id)
        except HttpError as exc:
            status, body, headers = exc.status, orjson.dumps(exc.body()), dict(exc.headers)
        headers["x-amzn-requestid"] = request_id
        ctype = headers.pop("content-type", "application/json")
        await send_response(send, status, body, headers, ctype)
        self.metrics.record(status, (time.perf_counter() - t0) * 1000)

    def stats(self) -> dict[str, object]:
        throttled = self.bucket.throttled + sum(c.bucket.throttled for c in self._all() if c.bucket)
        return {**self.metrics.snapshot(), "throttled": throttled,
                "response_cache": self.cache.stats() if self.cache else None}

    def _all(self) -> list[_Compiled]:
        return list(self.static.values()) + [c for cs in self.dynamic.values() for c in cs]

    async def _handle(self, scope: Scope, receive: Receive, path: str,
                      request_id: str) -> tuple[int, bytes, dict[str, str]]:
        method = scope["method"]
        if method == "GET" and path == "/openapi.json" and ("GET", path) not in self.static:
            return 200, self.openapi, {}
        compiled, params = self._match(method, path)
        route = compiled.route
        wait = (compiled.bucket or self.bucket).take() if self.throttle_enabled else None
        if wait is not None:
            raise HttpError("Too Many Requests", status=429, headers={"retry-after": str(wait)})
        user = None if route.public else self._authorize(scope)
        body = await read_body(scope, receive, self.api.max_body)
        query = self._query(route, scope)
        key, note = None, "miss"
        if compiled.cache_ttl and self.cache is not None:
            # the decoded path: /todos/%61b and /todos/ab are one resource, cached and invalidated as one
            key = StageCache.key(method, _fill(route.path, params), query, user.sub if user else None)
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
        data = self._body(route, scope, body)
        req = Request(method, path, params, query, _Headers(scope), body, data, user, request_id,
                      base_url=self.base_url)
        try:
            if compiled.is_async:
                result = await route.handler(req, compiled.ctx)
            else:
                loop = asyncio.get_running_loop()
                result = await loop.run_in_executor(self.executor, route.handler, req, compiled.ctx)
        except HttpError:
            raise
        except ConditionFailed as exc:
            raise HttpError(str(exc), status=409) from exc
        except (InvalidToken, InvalidItem) as exc:
            raise BadRequest(str(exc)) from exc
        except Exception:
            log.exception("handler %s failed (request %s)", route.operation_id, request_id)
            raise HttpError("Internal server error", status=500) from None
        status, out, headers = _serialize(result, route.status)
        if self.cache is not None and 200 <= status < 300:
            if key is not None:
                self.cache.put(key, (status, out, dict(headers)), compiled.cache_ttl, generation)
                headers[CACHE_HEADER] = note
            for target in route.invalidates:  # a successful write drops the caller's cached reads
                self.cache.drop_path(_fill(target, params), user.sub if user else None)
        return status, out, headers

    def _query(self, route: Route, scope: Scope) -> dict[str, Any]:
        raw = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True))
        out, problems = {}, []
        for name, schema in route.query.items():
            if name not in raw:
                continue
            value, problem = coerce_query(schema, name, raw[name])
            problems += [problem] if problem else validate(schema, value, name)
            out[name] = value
        if problems:
            raise ValidationError(problems)
        return out

    def _body(self, route: Route, scope: Scope, body: bytes) -> Any:
        if route.body is None:
            return None
        raw_type = (header(scope, b"content-type") or "application/json").lower()
        ctype, _, params = raw_type.partition(";")
        charset = params.split("charset=", 1)[1].strip().strip('"') if "charset=" in params else "utf-8"
        if ctype.strip() != "application/json" or charset not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(f"request body must be application/json in UTF-8, not {ascii(raw_type)[:80]}")
        if not body:
            raise BadRequest("request body is required (a JSON object)")
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"request body is not valid JSON: {exc}") from None
        problems = validate(route.body, data)
        if problems:
            raise ValidationError(problems)
        return data


class _Headers(dict[str, str]):
    """Request headers with lower-case names (the last value wins for repeats)."""

    def __init__(self, scope: Scope) -> None:
        super().__init__((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"])


def _request_ids() -> Iterator[str]:
    """UUID-shaped request ids: a random prefix per gateway and a counter (uuid4 per request costs a syscall)."""
    prefix = uuid.uuid4().hex
    for n in itertools.count(1):
        yield f"{prefix[:8]}-{prefix[8:12]}-4{prefix[13:16]}-{prefix[16:20]}-{n:012x}"


def _fill(template: str, params: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\+?\}", lambda m: params[m.group(1)], template)


def _serialize(result: Any, default_status: int) -> tuple[int, bytes, dict[str, str]]:
    if isinstance(result, Response):
        headers = {k.lower(): v for k, v in result.headers.items()}
        if result.body is None:
            return result.status, b"", headers
        if isinstance(result.body, (bytes, str)):
            headers.setdefault("content-type", "text/plain; charset=utf-8")
            return result.status, result.body.encode() if isinstance(result.body, str) else result.body, headers
        return result.status, orjson.dumps(result.body), headers
    if result is None:
        return 204, b"", {}
    return default_status, orjson.dumps(result), {}
