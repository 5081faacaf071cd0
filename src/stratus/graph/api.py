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
from .auth import STANDARD_SCOPES, USER_SCOPE, UserPool

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
    """An API's response cache (API Gateway's stage cache): ``app.rest_api(..., cache=ApiCache())``.

    GET routes are cached unless a route says ``cache=False``; another route may opt in with ``cache=True``.
    Successful (2xx) answers are kept per caller, path and declared query parameters (on AWS the method's
    cache keys: the ``Authorization`` header, path and query parameters). A client may send
    ``Cache-Control: max-age=0`` to refresh its entry.

    - ``ttl``: seconds an answer is kept, 0 to 3600 (0 turns caching off); default 300. A route may
      override it with ``cache_ttl``.
    - ``max_bytes``: the cache's size in bytes; on AWS, the smallest cache cluster that holds it (0.5 GB
      to 237 GB). Default 256 MiB.
    - ``require_authorization_for_refresh``: whether a refresh needs the right to invalidate the cache
      (user pool callers have none); default True, as on AWS.
    - ``unauthorized_refresh``: what a refresh without that right gets: ``"FAIL_WITH_403"``,
      ``"SUCCEED_WITH_RESPONSE_HEADER"`` (the default: the cached answer, with a header saying so) or
      ``"SUCCEED_WITHOUT_RESPONSE_HEADER"``. CloudFormation cannot set these two, so ``stratus synth``
      takes only their defaults.
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
    """Request throttling, a token bucket (API Gateway's throttling): for an API
    (``app.rest_api(..., throttle=...)``, the stage's limits on AWS) or one route (``throttle=`` of a route,
    a method's limits). A request over the limit is answered 429 (Too Many Requests).

    - ``rate``: requests per second, on average; default 10,000 (AWS's account default).
    - ``burst``: requests at once, at most; default 5,000 (AWS's account default).
    """

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
    requires_group: str | None = None       # the user pool group a caller must be in
    scopes: tuple[str, ...] = ()            # a caller's token needs one of these; () is USER_SCOPE

    @property
    def params(self) -> list[str]:
        return [m.group(1) for seg in self.path.split("/") if (m := PARAM_SEGMENT.match(seg))]

    @property
    def accepted_scopes(self) -> tuple[str, ...]:
        """The scopes a caller's access token may carry to be let in (any one)."""
        return self.scopes or (USER_SCOPE,)

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

    Declared with ``app.rest_api(...)``, which lists its options; routes with ``route`` and
    ``get``/``post``/``put``/``patch``/``delete``.

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
              query: Mapping[str, Any] | None = None, uses: Iterable[Resource] = (),
              status: int = 200, summary: str = "", cache: bool | None = None, cache_ttl: int | None = None,
              throttle: Throttle | None = None, invalidates: Iterable[str] = (), response: Shape | None = None,
              responses: Mapping[int, str] | None = None, requires_group: str | None = None,
              scopes: Iterable[str] = ()) -> Callable[[Handler], Handler]:
        """Declare the handler of ``method path``: a decorator for ``handler(req, ctx)``.

        ``get``, ``post``, ``put``, ``patch`` and ``delete`` are the same with the method named. Each handler
        serves one route (on AWS each route is a Lambda function of its own, with a role of its own), so a
        handler declared twice, or two handlers of one name in an API, are refused here.

        - ``method``: ``GET``, ``POST``, ``PUT``, ``PATCH``, ``DELETE``, ``HEAD`` or ``OPTIONS``.
        - ``path``: below the API's URL, e.g. ``/notes/{id}``; a ``{name}`` segment is a path parameter
          (``req.path_params["name"]``), a last ``{name+}`` takes the rest of the path (API Gateway's rules).
        - ``public``: True: anyone may call it, and the handler gets a ``Request`` whose ``user`` is None (no
          authorization on the method). False (the default): the caller must send an access token of the
          API's ``authorizer`` (a Cognito authorizer on AWS), or is answered 401; the handler gets an
          ``AuthRequest``. A route that is not public needs an API with an ``authorizer``.
        - ``body``: the request body as a JSON Schema dict, a dataclass or a TypedDict: the body must be
          ``application/json`` and valid (415 or 400 naming each bad field otherwise); ``req.json`` is it,
          ``req.data`` the dataclass instance. None (the default): the body is not read as JSON, ``req.body``
          holds its bytes.
        - ``query``: the query parameters, ``{name: JSON Schema}`` of a string, integer, number or boolean;
          each is validated and converted (``req.query``), others are ignored (and are not cache keys).
        - ``uses``: the declared resources the handler uses (tables, buckets, emails): ``ctx`` hands it
          those and no other, and on AWS its role grants exactly those. Default none.
        - ``status``: the status of a successful answer when the handler returns a value; default 200.
        - ``summary``: the route's summary in the OpenAPI document; default the handler's docstring's first line.
        - ``cache``: True or False puts the route in or out of the API's ``cache`` (which it must declare);
          None (the default): GET routes are in, others out.
        - ``cache_ttl``: seconds this route's answers are cached, 0 to 3600; None (the default): the
          ``ApiCache``'s ``ttl``. On AWS, the method's cache settings.
        - ``throttle``: a ``Throttle`` for this route alone (the method's throttling on AWS); None (the
          default): the API's.
        - ``invalidates``: paths of cached routes, using this route's parameters (``"/notes/{id}"``), whose
          cached answers for the same caller a successful call drops: a write dropping the caller's cached
          list. Locally only: API Gateway cannot drop one caller's entries, so on AWS they live out their TTL
          (``stratus synth`` warns).
        - ``response``: the body of a successful answer (a JSON Schema dict, a dataclass or a TypedDict), for
          the OpenAPI document; it is not checked.
        - ``responses``: the other statuses the route answers and why, ``{409: "changed meanwhile"}``, for the
          OpenAPI document.
        - ``requires_group``: a group of the authorizer's user pool (``"authors"``) the caller must be in (their
          token's ``cognito:groups``), or be answered 403. On AWS the function checks the claims API Gateway's
          authorizer passes it. Default None: any signed-in caller.
        - ``scopes``: the OAuth scopes a caller's access token may carry to be let in (any one of them), e.g. a
          machine client's ``"orders/read"``; on AWS the method's authorization scopes. Default: the user pool's
          sign-in scope (``aws.cognito.signin.user.admin``), which a signed-in user's token carries.
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
            raise ConfigError(f"{method} {path}: the route is not public, but api {self.name!r} has no authorizer to "
                              "sign callers in: declare the route with public=True, or give the API a user pool: "
                              f"app.rest_api({self.name!r}, authorizer=<user pool>)")
        scopes = tuple([scopes] if isinstance(scopes, str) else scopes)
        if public and (requires_group is not None or scopes):
            raise ConfigError(f"{method} {path}: a public route admits anyone; requires_group and scopes need "
                              "public=False")
        pool = self.authorizer
        if requires_group is not None and pool is not None and requires_group not in pool.groups:
            raise ConfigError(f"{method} {path}: requires_group={requires_group!r}, which user pool {pool.name!r} "
                              f"does not declare (its groups: {', '.join(pool.groups) or 'none'})")
        for scope in scopes:
            if pool is not None and scope not in STANDARD_SCOPES and scope not in pool.custom_scopes:
                raise ConfigError(f"{method} {path}: scope {scope!r} is neither standard nor one of user pool "
                                  f"{pool.name!r}'s resource servers' scopes")
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
                        tuple(invalidates), body_type, response_schema, dict(responses or {}), requires_group, scopes)
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

    def get(self, path: str, *, public: bool = False, body: Shape | None = None,
            query: Mapping[str, Any] | None = None, uses: Iterable[Resource] = (), status: int = 200,
            summary: str = "", cache: bool | None = None, cache_ttl: int | None = None,
            throttle: Throttle | None = None, invalidates: Iterable[str] = (), response: Shape | None = None,
            responses: Mapping[int, str] | None = None, requires_group: str | None = None,
            scopes: Iterable[str] = ()) -> Callable[[Handler], Handler]:
        """Declare the handler of ``GET path``: ``route("GET", path, ...)``, with the same options.

        A GET route's answers are cached when the API declares a ``cache``, unless ``cache=False``.
        """
        return self.route("GET", path, public=public, body=body, query=query, uses=uses, status=status,
                          summary=summary, cache=cache, cache_ttl=cache_ttl, throttle=throttle,
                          invalidates=invalidates, response=response, responses=responses,
                          requires_group=requires_group, scopes=scopes)

    def post(self, path: str, *, public: bool = False, body: Shape | None = None,
             query: Mapping[str, Any] | None = None, uses: Iterable[Resource] = (), status: int = 200,
             summary: str = "", cache: bool | None = None, cache_ttl: int | None = None,
             throttle: Throttle | None = None, invalidates: Iterable[str] = (), response: Shape | None = None,
             responses: Mapping[int, str] | None = None, requires_group: str | None = None,
            scopes: Iterable[str] = ()) -> Callable[[Handler], Handler]:
        """Declare the handler of ``POST path``: ``route("POST", path, ...)``, with the same options."""
        return self.route("POST", path, public=public, body=body, query=query, uses=uses, status=status,
                          summary=summary, cache=cache, cache_ttl=cache_ttl, throttle=throttle,
                          invalidates=invalidates, response=response, responses=responses,
                          requires_group=requires_group, scopes=scopes)

    def put(self, path: str, *, public: bool = False, body: Shape | None = None,
            query: Mapping[str, Any] | None = None, uses: Iterable[Resource] = (), status: int = 200,
            summary: str = "", cache: bool | None = None, cache_ttl: int | None = None,
            throttle: Throttle | None = None, invalidates: Iterable[str] = (), response: Shape | None = None,
            responses: Mapping[int, str] | None = None, requires_group: str | None = None,
            scopes: Iterable[str] = ()) -> Callable[[Handler], Handler]:
        """Declare the handler of ``PUT path``: ``route("PUT", path, ...)``, with the same options."""
        return self.route("PUT", path, public=public, body=body, query=query, uses=uses, status=status,
                          summary=summary, cache=cache, cache_ttl=cache_ttl, throttle=throttle,
                          invalidates=invalidates, response=response, responses=responses,
                          requires_group=requires_group, scopes=scopes)

    def patch(self, path: str, *, public: bool = False, body: Shape | None = None,
              query: Mapping[str, Any] | None = None, uses: Iterable[Resource] = (), status: int = 200,
              summary: str = "", cache: bool | None = None, cache_ttl: int | None = None,
              throttle: Throttle | None = None, invalidates: Iterable[str] = (), response: Shape | None = None,
              responses: Mapping[int, str] | None = None, requires_group: str | None = None,
            scopes: Iterable[str] = ()) -> Callable[[Handler], Handler]:
        """Declare the handler of ``PATCH path``: ``route("PATCH", path, ...)``, with the same options."""
        return self.route("PATCH", path, public=public, body=body, query=query, uses=uses, status=status,
                          summary=summary, cache=cache, cache_ttl=cache_ttl, throttle=throttle,
                          invalidates=invalidates, response=response, responses=responses,
                          requires_group=requires_group, scopes=scopes)

    def delete(self, path: str, *, public: bool = False, body: Shape | None = None,
               query: Mapping[str, Any] | None = None, uses: Iterable[Resource] = (), status: int = 200,
               summary: str = "", cache: bool | None = None, cache_ttl: int | None = None,
               throttle: Throttle | None = None, invalidates: Iterable[str] = (), response: Shape | None = None,
               responses: Mapping[int, str] | None = None, requires_group: str | None = None,
            scopes: Iterable[str] = ()) -> Callable[[Handler], Handler]:
        """Declare the handler of ``DELETE path``: ``route("DELETE", path, ...)``, with the same options."""
        return self.route("DELETE", path, public=public, body=body, query=query, uses=uses, status=status,
                          summary=summary, cache=cache, cache_ttl=cache_ttl, throttle=throttle,
                          invalidates=invalidates, response=response, responses=responses,
                          requires_group=requires_group, scopes=scopes)


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
