"""The app graph: what an app declares, as plain data.

An app module builds an ``App`` at import time and declares its resources and
handlers on it. Declaring does no I/O and touches no engine: the graph is data
that each provider interprets. The local provider (``stratus.local``) runs it on
embedded engines; the AWS provider synthesizes it into CloudFormation.

Every resource has a ``kind``. A provider that meets a kind (or an option of a
kind) it does not implement refuses the whole app with ``UnsupportedFeature``,
naming it, instead of running half of it.

Handlers name the resources they use (``uses=[todos]``). The local provider
hands a handler only those resources, and the AWS provider derives each
function's least-privilege role from the same list, so a missing declaration
fails the same way in both places.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .errors import ConfigError
from .schema import check_schema

_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
# a path parameter: PARAM_SEGMENT is a whole segment ("{id}", greedy "{path+}"), PARAM one anywhere in a path
PARAM_SEGMENT = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}$")
PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(\+?)\}")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def _check_name(kind: str, name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{kind} name {name!r}: use 1-40 of a-z, 0-9 and '-', starting with a letter")
    return name


class Resource:
    """A declared resource; ``kind`` names it for providers and error messages."""

    kind: ClassVar[str] = "resource"
    name: str

    def __repr__(self) -> str:
        return f"<{self.kind} {self.name!r}>"


# -- user pools -----------------------------------------------------------------------------

_SYMBOLS = frozenset("^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ")


@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 8
    require_uppercase: bool = True
    require_lowercase: bool = True
    require_digits: bool = True
    require_symbols: bool = False

    def problems(self, password: str) -> list[str]:
        """What ``password`` lacks; Cognito counts only ASCII letters and digits in each class."""
        out = []
        if len(password) < self.min_length:
            out.append(f"Password not long enough (minimum {self.min_length})")
        if self.require_uppercase and not any("A" <= c <= "Z" for c in password):
            out.append("Password must have uppercase characters")
        if self.require_lowercase and not any("a" <= c <= "z" for c in password):
            out.append("Password must have lowercase characters")
        if self.require_digits and not any("0" <= c <= "9" for c in password):
            out.append("Password must have numeric characters")
        if self.require_symbols and not any(c in _SYMBOLS for c in password):
            out.append("Password must have symbol characters")
        return out


@dataclass(eq=False, repr=False)
class UserPool(Resource):
    """A managed user pool (Cognito user pool): self sign-up, email verification, JWTs.

    Users sign up with their email address as the user name, as with Cognito's
    ``UsernameAttributes=[email]``; ``cognito:username`` is then the user's sub.
    """

    kind: ClassVar[str] = "user_pool"
    name: str
    password_policy: PasswordPolicy = field(default_factory=PasswordPolicy)
    clients: tuple[str, ...] = ("app",)
    code_ttl: int = 24 * 3600
    access_token_ttl: int = 3600
    id_token_ttl: int = 3600
    refresh_token_ttl: int = 30 * 24 * 3600

    def __post_init__(self) -> None:
        _check_name(self.kind, self.name)
        for c in self.clients:
            _check_name("user pool client", c)
        if not 300 <= self.access_token_ttl <= 86400 or not 300 <= self.id_token_ttl <= 86400:
            raise ConfigError(f"user pool {self.name!r}: token lifetimes must be 5 minutes to 1 day, as on Cognito")
        if not 3600 <= self.refresh_token_ttl <= 3650 * 86400:
            raise ConfigError(f"user pool {self.name!r}: refresh token lifetime must be 1 hour to 10 years")


# -- tables ---------------------------------------------------------------------------------

KEY_TYPES: dict[type, str] = {str: "S", int: "N"}


@dataclass(frozen=True)
class KeyAttr:
    name: str
    type: type = str

    @property
    def dynamo_type(self) -> str:
        return KEY_TYPES[self.type]


def _key_attr(spec: str | tuple[str, type] | KeyAttr, table: str) -> KeyAttr:
    attr = spec if isinstance(spec, KeyAttr) else KeyAttr(spec) if isinstance(spec, str) else KeyAttr(*spec)
    if attr.type not in KEY_TYPES:
        raise ConfigError(f"table {table!r}: key {attr.name!r} must be str or int, not {attr.type!r}")
    return attr


@dataclass(frozen=True)
class TableCache:
    """A DAX-style read-through/write-through cache in front of a table.

    The item cache (get) and the query cache (query) are separate, each with its own
    TTL (DAX's default: 5 minutes) and both bounded by entries and bytes (LRU).
    """

    item_ttl: float = 300.0
    query_ttl: float = 300.0
    max_entries: int = 100_000
    max_bytes: int = 64 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.item_ttl <= 0 or self.query_ttl <= 0:
            raise ConfigError("table cache TTLs must be positive seconds")
        if self.max_entries < 1 or self.max_bytes < 1024:
            raise ConfigError("table cache bounds: at least 1 entry and 1 KiB")


@dataclass(eq=False, repr=False)
class Table(Resource):
    """A key-value table (DynamoDB): partition key, optional sort key, change stream, DAX-style cache."""

    kind: ClassVar[str] = "table"
    name: str
    partition_key: KeyAttr
    sort_key: KeyAttr | None = None
    stream: bool = False
    cache: TableCache | None = None

    def __post_init__(self) -> None:
        _check_name(self.kind, self.name)
        self.partition_key = _key_attr(self.partition_key, self.name)
        if self.sort_key is not None:
            self.sort_key = _key_attr(self.sort_key, self.name)

    def key_of(self, item: dict[str, Any]) -> dict[str, Any]:
        """The primary key of ``item``."""
        names = [self.partition_key.name] + ([self.sort_key.name] if self.sort_key else [])
        return {n: item[n] for n in names}


# -- object storage and identity pools -------------------------------------------------------

@dataclass(eq=False, repr=False)
class Bucket(Resource):
    """An object store bucket (S3). Private: only the platform and policies that name it reach it.

    The real bucket name is chosen by the provider (globally unique on AWS); ``arn`` is a
    placeholder, usable in policy documents, that each provider resolves to the real ARN.
    """

    kind: ClassVar[str] = "bucket"
    name: str

    def __post_init__(self) -> None:
        _check_name(self.kind, self.name)

    @property
    def arn(self) -> str:
        return f"arn:aws:s3:::{bucket_placeholder(self.name)}"


def bucket_placeholder(name: str) -> str:
    """The token a provider replaces with the real name of bucket ``name`` in policy documents."""
    return f"<<bucket:{name}>>"


@dataclass(eq=False, repr=False)
class IdentityPool(Resource):
    """An identity pool (Cognito Identity): trades a user pool's ID token for temporary AWS credentials.

    ``authenticated_policy`` is the IAM policy document of the authenticated role, written as
    on AWS; ``${cognito-identity.amazonaws.com:sub}`` in it is the caller's identity id.
    """

    kind: ClassVar[str] = "identity_pool"
    name: str
    user_pool: UserPool
    authenticated_policy: dict[str, Any]
    credential_ttl: int = 3600

    def __post_init__(self) -> None:
        _check_name(self.kind, self.name)
        if not isinstance(self.user_pool, UserPool):
            raise ConfigError(f"identity pool {self.name!r}: user_pool must be a declared UserPool")
        if not 900 <= self.credential_ttl <= 43200:
            raise ConfigError(f"identity pool {self.name!r}: credential_ttl must be 15 minutes to 12 hours")
        if not isinstance(self.authenticated_policy, dict) or "Statement" not in self.authenticated_policy:
            raise ConfigError(f"identity pool {self.name!r}: authenticated_policy must be an IAM policy document")


# -- REST APIs ------------------------------------------------------------------------------

Handler = Callable[..., Any]

REFRESH_STRATEGIES = ("FAIL_WITH_403", "SUCCEED_WITH_RESPONSE_HEADER", "SUCCEED_WITHOUT_RESPONSE_HEADER")


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
    body: dict[str, Any] | None = None
    query: dict[str, dict[str, Any]] = field(default_factory=dict)
    uses: tuple[Resource, ...] = ()
    status: int = 200
    summary: str = ""
    cache: bool | None = None
    cache_ttl: int | None = None
    throttle: Throttle | None = None
    invalidates: tuple[str, ...] = ()

    @property
    def params(self) -> list[str]:
        return [m.group(1) for seg in self.path.split("/") if (m := PARAM_SEGMENT.match(seg))]

    @property
    def operation_id(self) -> str:
        return self.handler.__name__


@dataclass(eq=False, repr=False)
class RestApi(Resource):
    """A REST API (API Gateway): routes, an optional user-pool authorizer, a body-size limit."""

    kind: ClassVar[str] = "rest_api"
    name: str
    authorizer: UserPool | None = None
    max_body: int = 1024 * 1024
    title: str = ""
    version: str = "1.0.0"
    cache: ApiCache | None = None
    throttle: Throttle = field(default_factory=Throttle)
    routes: list[Route] = field(default_factory=list)

    def __post_init__(self) -> None:
        _check_name(self.kind, self.name)
        if not 0 < self.max_body <= 10 * 1024 * 1024:
            raise ConfigError(f"rest api {self.name!r}: max_body must be 1 byte to 10 MiB (API Gateway's limit)")

    def route(self, method: str, path: str, *, public: bool = False, body: dict[str, Any] | None = None,
              query: dict[str, dict[str, Any]] | None = None, uses: Iterable[Resource] = (),
              status: int = 200, summary: str = "", cache: bool | None = None, cache_ttl: int | None = None,
              throttle: Throttle | None = None, invalidates: Iterable[str] = ()) -> Callable[[Handler], Handler]:
        """Declare ``handler(request, ctx)`` for ``method path``; see ``get``/``post``/... for sugar.

        ``cache`` opts a route in or out of the API's response cache (default: GET routes are in),
        ``cache_ttl`` overrides the API's TTL, ``throttle`` overrides the API's bucket, and
        ``invalidates`` names cached paths (using this route's parameters) whose entries for the
        same caller a successful call drops, e.g. a write dropping the caller's cached list.
        """
        method = method.upper()
        if method not in METHODS:
            raise ConfigError(f"rest api {self.name!r}: unsupported method {method}")
        _check_path(self.name, path)
        if body is not None:
            check_schema(body, f"{method} {path} body")
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
        own = {m.group(1) for m in PARAM.finditer(path)}
        for target in invalidates:
            _check_path(self.name, target)
            if not {m.group(1) for m in PARAM.finditer(target)} <= own:
                raise ConfigError(f"{method} {path}: invalidates {target} uses parameters this route lacks")

        def register(handler: Handler) -> Handler:
            new = Route(method, path, handler, public, body, dict(query or {}), tuple(uses), status,
                        summary or (handler.__doc__ or "").strip().split("\n")[0], cache, cache_ttl, throttle,
                        tuple(invalidates))
            for r in self.routes:
                if r.method == method and _shape(r.path) == _shape(path):
                    raise ConfigError(f"rest api {self.name!r}: {method} {path} clashes with {r.path}")
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


def _shape(path: str) -> str:
    return PARAM.sub("{}", path)


# -- the app --------------------------------------------------------------------------------

class App:
    """One system: a name and the resources it declares, in declaration order."""

    def __init__(self, name: str) -> None:
        self.name = _check_name("app", name)
        self.resources: dict[str, Resource] = {}

    def add(self, resource: Resource) -> Any:
        key = f"{resource.kind}:{resource.name}"
        if key in self.resources:
            raise ConfigError(f"app {self.name!r}: {resource.kind} {resource.name!r} is declared twice")
        self.resources[key] = resource
        return resource

    def user_pool(self, name: str, **kw: Any) -> UserPool:
        return self.add(UserPool(name, **kw))

    def table(self, name: str, *, partition_key: str | tuple[str, type], sort_key: str | tuple[str, type] | None = None,
              **kw: Any) -> Table:
        return self.add(Table(name, partition_key, sort_key, **kw))  # type: ignore[arg-type]

    def rest_api(self, name: str, **kw: Any) -> RestApi:
        return self.add(RestApi(name, **kw))

    def bucket(self, name: str) -> Bucket:
        return self.add(Bucket(name))

    def identity_pool(self, name: str, *, user_pool: UserPool, authenticated_policy: dict[str, Any],
                      **kw: Any) -> IdentityPool:
        return self.add(IdentityPool(name, user_pool, authenticated_policy, **kw))

    def of_kind(self, cls: type[Any]) -> list[Any]:
        return [r for r in self.resources.values() if isinstance(r, cls)]

    def __repr__(self) -> str:
        return f"<App {self.name!r}: {', '.join(self.resources)}>"
