"""REST APIs (API Gateway): routes and their handlers, the stage cache, throttling."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..errors import ConfigError
from ..schema import check_schema
from ..typeschema import is_model, schema_of
from ._base import Resource, check_name
from .auth import UserPool

# a path parameter: PARAM_SEGMENT is a whole segment ("{id}", greedy "{path+}"), PARAM one anywhere in a path
PARAM_SEGMENT = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}\Z")
PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
REFRESH_STRATEGIES = ("FAIL_WITH_403", "SUCCEED_WITH_RESPONSE_HEADER", "SUCCEED_WITHOUT_RESPONSE_HEADER")

Handler = Callable[..., Any]
# a body or response: a JSON Schema dict, or a dataclass / TypedDict it is derived from (stratus.typeschema)
Shape = dict[str, Any] | type


@dataclass(frozen=True)
class ApiCache:
    """API Gateway's stage cache: off unless declared; GET routes cached unless a route opts out.

    ``ttl`` defaults to 300 s, at most 3600, and 0 turns caching off. A client may send
    ``Cache-Control: max-age=0`` to refresh its entry; with ``require_authorization_for_refresh``
    (AWS's default) callers without the right to invalidate (user-pool callers have none)
    are handled by ``unauthorized_refresh``, one of AWS's three strategies.
    """

    ttl: int = 300
    max_bytes: int = 256 * 1024 * 1024
    require_authorization_for_refresh: bool = True
    unauthorized_refresh: str = "SUCCEED_WITH_RESPONSE_HEADER"

    def __post_init__(self) -> None:
        if not 0 <= self.ttl <= 3600:
            raise ConfigError(f"api cache ttl must be 0-3600 seconds, got {self.ttl}")
        if self.unauthorized_refresh not in REFRESH_STRATEGIES:
            raise ConfigError(f"unauthorized_refresh must be one of {', '.join(REFRESH_STRATEGIES)}")


@dataclass(frozen=True)
class Throttle:
    """A token bucket: ``rate`` requests per second, bursts of up to ``burst`` (AWS's defaults)."""

    rate: float = 10_000.0
    burst: int = 5_000

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ConfigError("throttle rate must be positive and burst at least 1")


@dataclass(eq=False)
class Route:
    method: str
    path: str
    handler: Handler
    public: bool = False
    body: dict[str, Any] | None = None      # the body's JSON Schema (derived from body_type when one was declared)
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    uses: tuple[Resource, ...] = ()
    status: int = 200
    summary: str = ""
    cache: bool | None = None
    cache_ttl: int | None = None
    throttle: Throttle | None = None
    invalidates: tuple[str, ...] = ()
    body_type: type | None = None           # the dataclass or TypedDict the body was declared as
    response: dict[str, Any] | None = None  # the JSON Schema of a successful answer's body, for OpenAPI
    responses: dict[int, str] = field(default_factory=dict)  # other statuses the route answers, and why

    @property
    def params(self) -> list[str]:
        return [m.group(1) for seg in self.path.split("/") if (m := PARAM_SEGMENT.match(seg))]

    @property
    def operation_id(self) -> str:
        return self.handler.__name__

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.handler)


def _shape(shape: Shape | None, where: str) -> tuple[dict[str, Any] | None, type | None]:
    """A declared body or response as (schema, type): a schema dict is checked, a type turned into one."""
    if shape is None:
        return None, None
    if isinstance(shape, dict):
        return check_schema(shape, where), None
    if is_model(shape):
        return schema_of(shape, where), shape
    raise ConfigError(f"{where}: declare a JSON Schema dict, a dataclass or a TypedDict, not {shape!r}")


def _wants_signed_in(handler: Handler) -> bool:
    """Whether the handler's first parameter is annotated as an ``AuthRequest`` (a signed-in caller)."""
    params = list(inspect.signature(handler).parameters.values())
    if not params:
        return False
    ann = params[0].annotation
    name = ann if isinstance(ann, str) else getattr(ann, "__name__", "")
    return name.rsplit(".", 1)[-1] == "AuthRequest"


@dataclass(eq=False, repr=False)
class RestApi(Resource):
    """A REST API (API Gateway): routes, an optional user-pool authorizer, a body-size limit.

    Endpoints facts: the API's base URL.
    """

    kind: ClassVar[str] = "rest_api"
    endpoints_group: ClassVar[str | None] = "apis"
    name: str
    authorizer: UserPool | None = None
    max_body: int = 1024 * 1024
    title: str = ""
    version: str = "1.0.0"
    cache: ApiCache | None = None
    throttle: Throttle = field(default_factory=Throttle)
    routes: list[Route] = field(default_factory=list)
    # every handler declared in the app, and where: the app hands one to each of its APIs, so a handler is
    # refused on a second route whichever API declares it
    handlers: dict[Handler, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name(self.kind, self.name)
        if not 0 < self.max_body <= 10 * 1024 * 1024:
            raise ConfigError(f"rest api {self.name!r}: max_body must be 1 byte to 10 MiB (API Gateway's limit)")

    def endpoints_first(self, facts: Any) -> dict[str, Any]:
        return {"api": facts}

    def route(self, method: str, path: str, *, public: bool = False, body: Shape | None = None,
              query: dict[str, dict[str, Any]] | None = None, uses: Iterable[Resource] = (),
              status: int = 200, summary: str = "", cache: bool | None = None, cache_ttl: int | None = None,
              throttle: Throttle | None = None, invalidates: Iterable[str] = (), response: Shape | None = None,
              responses: Mapping[int, str] | None = None) -> Callable[[Handler], Handler]:
        """Declare ``handler(request, ctx)`` for ``method path``; see ``get``/``post``/... for sugar.

        ``body`` and ``response`` are JSON Schema dicts, or dataclasses / TypedDicts they are
        derived from (a dataclass body reaches the handler as an instance, ``req.data``);
        ``responses`` documents the other statuses the route answers (``{409: "changed meanwhile"}``).
        ``cache`` opts a route in or out of the API's response cache (default: GET routes are in),
        ``cache_ttl`` overrides the API's TTL, ``throttle`` overrides the API's bucket, and
        ``invalidates`` names cached paths (using this route's parameters) whose entries for the
        same caller a successful call drops, e.g. a write dropping the caller's cached list.

        Each handler serves one route (on AWS each route is a function of its own), so a handler
        declared twice, or two handlers of one name in an API, are refused here.
        """
        method = method.upper()
        if method not in METHODS:
            raise ConfigError(f"rest api {self.name!r}: unsupported method {method}")
        _check_path(self.name, path)
        body_schema, body_type = _shape(body, f"{method} {path} body")
        response_schema, _ = _shape(response, f"{method} {path} response")
        for qname, qschema in (query or {}).items():
            check_schema(qschema, f"{method} {path} query {qname}")
            if qschema.get("type", "string") not in ("string", "integer", "number", "boolean"):
                raise ConfigError(f"{method} {path} query {qname}: query parameters must be scalars")
        if not public and self.authorizer is None:
            raise ConfigError(f"{method} {path}: route is not public but api {self.name!r} has no authorizer")
        if cache_ttl is not None and not 0 <= cache_ttl <= 3600:
            raise ConfigError(f"{method} {path}: cache_ttl must be 0-3600 seconds")
        if (cache or cache_ttl) and self.cache is None:
            raise ConfigError(f"{method} {path}: route caching needs api {self.name!r} to declare cache=ApiCache()")
        for code in responses or {}:
            if not isinstance(code, int) or not 100 <= code <= 599:
                raise ConfigError(f"{method} {path}: responses are keyed by HTTP status codes, not {code!r}")
        own = {m.group(1) for m in PARAM.finditer(path)}
        for target in invalidates:
            _check_path(self.name, target)
            if not {m.group(1) for m in PARAM.finditer(target)} <= own:
                raise ConfigError(f"{method} {path}: invalidates {target} uses parameters this route lacks")

        def register(handler: Handler) -> Handler:
            if not callable(handler):
                raise ConfigError(f"{method} {path}: a handler must be a function, not {handler!r}")
            if public and _wants_signed_in(handler):
                raise ConfigError(f"{method} {path}: {handler.__name__} takes an AuthRequest, but the route is "
                                  "public (nobody is signed in); annotate it Request")
            new = Route(method, path, handler, public, body_schema, dict(query or {}), tuple(uses), status,
                        summary or (handler.__doc__ or "").strip().split("\n")[0], cache, cache_ttl, throttle,
                        tuple(invalidates), body_type, response_schema, dict(responses or {}))
            for r in self.routes:
                if r.method == method and _template(r.path) == _template(path):
                    raise ConfigError(f"rest api {self.name!r}: {method} {path} clashes with {r.path}")
                if r.operation_id == new.operation_id and r.handler is not handler:
                    raise ConfigError(f"rest api {self.name!r}: two handlers are named {new.operation_id!r} "
                                      f"({r.method} {r.path} and {method} {path}); rename one")
            if handler in self.handlers:
                raise ConfigError(f"{handler.__name__} already handles {self.handlers[handler]}; a handler serves "
                                  f"one route: declare another function for {method} {path}")
            self.handlers[handler] = f"{method} {path} (api {self.name!r})"
            self.routes.append(new)
            return handler
        return register

    def cache_ttl_of(self, route: Route) -> int:
        """Seconds ``route``'s answers stay in the stage cache; 0 when it is not cached (GET routes are, by default)."""
        if self.cache is None or not (route.cache if route.cache is not None else route.method == "GET"):
            return 0
        return route.cache_ttl if route.cache_ttl is not None else self.cache.ttl

    def get(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> Callable[[Handler], Handler]:
        return self.route("DELETE", path, **kw)


def _check_path(api: str, path: str) -> None:
    if not path.startswith("/") or "//" in path or (len(path) > 1 and path.endswith("/")):
        raise ConfigError(f"rest api {api!r}: bad path {path!r} (absolute, no empty segments, no trailing /)")
    segs = path.split("/")[1:]
    seen = set()
    for i, seg in enumerate(segs):
        if "{" in seg or "}" in seg:
            m = PARAM_SEGMENT.match(seg)
            if not m:
                raise ConfigError(f"rest api {api!r}: path segment {seg!r} must be a whole {{param}}")
            if m.group(2) and i != len(segs) - 1:
                raise ConfigError(f"rest api {api!r}: greedy {{{m.group(1)}+}} must be the last segment")
            if m.group(1) in seen:
                raise ConfigError(f"rest api {api!r}: parameter {m.group(1)!r} repeats in {path}")
            seen.add(m.group(1))


def _template(path: str) -> str:
    return PARAM.sub("{}", path)
