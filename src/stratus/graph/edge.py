"""The edge (CloudFront): distributions, their origins, behaviors and cache policies; a folder deployed to a bucket.

A ``Distribution`` serves viewers at the root of its own HTTPS origin. Each request is matched to the first
``Behavior`` whose path pattern it fits (the default behavior last), which names the origin it is fetched from
and the ``CachePolicy`` that decides how long an answer is kept and what makes two requests the same.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from ..errors import ConfigError
from ._base import Resource, check_name
from .api import RestApi
from .storage import Bucket

# CloudFront's limits and defaults
MAX_TTL = 31_536_000  # one year
DEFAULT_TTL = 86_400
ERROR_TTL = 10
_PATTERN = re.compile(r"^/?[A-Za-z0-9_.*$/~\"'@:+&?=!-]{1,255}\Z")
_HEADER = re.compile(r"^[A-Za-z0-9-]{1,64}\Z")
_PARAM = re.compile(r"^[^\s&=]{1,128}\Z")
# what is never a cache key's header: CloudFront refuses them in a cache policy (the edge sets or drops them)
_FORBIDDEN_KEY_HEADERS = {"accept-encoding", "connection", "content-length", "cookie", "host", "if-match",
                          "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "max-forwards",
                          "pragma", "proxy-authorization", "proxy-connection", "range", "request-range", "te",
                          "trailer", "transfer-encoding", "upgrade", "via", "x-real-ip"}


@dataclass(frozen=True)
class AllExcept:
    """Every query string (or cookie) in the cache key but these: ``CachePolicy(query_strings=AllExcept("utm"))``.

    - ``names``: the names left out, 1 to 10.
    """

    names: tuple[str, ...]

    def __init__(self, *names: str) -> None:
        object.__setattr__(self, "names", tuple(names))


KeyPart = Literal["none", "all"] | tuple[str, ...] | AllExcept


def _key_part(what: str, value: object, pattern: re.Pattern[str]) -> KeyPart:
    if value in ("none", "all"):
        return value
    names = value.names if isinstance(value, AllExcept) else value
    if isinstance(names, str) or not isinstance(names, tuple) or not names or len(names) > 10 \
            or not all(isinstance(n, str) and pattern.match(n) for n in names):
        raise ConfigError(f"cache policy {what}: 'none', 'all', a tuple of 1-10 names, or AllExcept(name, ...); "
                          f"got {value!r}")
    return value  # type: ignore[return-value]


@dataclass(frozen=True)
class CachePolicy:
    """How long the edge keeps an answer, and what makes two requests the same answer (a CloudFront cache policy).

    The origin's ``Cache-Control`` decides within the bounds: ``s-maxage``, else ``max-age``, else ``Expires``,
    at most ``max_ttl`` and at least ``min_ttl``; with none of them, ``default_ttl``. ``no-cache``, ``no-store``
    and ``private`` keep nothing while ``min_ttl`` is 0. What is in the key is also forwarded to the origin.

    - ``min_ttl``, ``default_ttl``, ``max_ttl``: seconds, 0 to one year, ``min <= default <= max``; default 0,
      one day, one year.
    - ``headers``: request header names in the key (``("Authorization",)``); default none.
    - ``cookies``, ``query_strings``: ``"none"``, ``"all"``, a tuple of names, or ``AllExcept(name, ...)``;
      default ``"none"``.
    - ``compress``: whether gzip and br answers are made for viewers that accept them (the ``Accept-Encoding``
      normalized into the key); default True.
    """

    min_ttl: int = 0
    default_ttl: int = DEFAULT_TTL
    max_ttl: int = MAX_TTL
    headers: tuple[str, ...] = ()
    cookies: KeyPart = "none"
    query_strings: KeyPart = "none"
    compress: bool = True

    def __post_init__(self) -> None:
        for n in (self.min_ttl, self.default_ttl, self.max_ttl):
            if type(n) is not int or not 0 <= n <= MAX_TTL:
                raise ConfigError(f"cache policy TTLs are whole seconds, 0 to {MAX_TTL}; got {n!r}")
        if not self.min_ttl <= self.default_ttl <= self.max_ttl:
            raise ConfigError(f"cache policy: min_ttl <= default_ttl <= max_ttl, got {self.min_ttl}, "
                              f"{self.default_ttl}, {self.max_ttl}")
        if isinstance(self.headers, str) or len(self.headers) > 10 or not all(
                isinstance(h, str) and _HEADER.match(h) for h in self.headers):
            raise ConfigError(f"cache policy headers: a tuple of at most 10 header names, got {self.headers!r}")
        refused = sorted({h.lower() for h in self.headers} & _FORBIDDEN_KEY_HEADERS)
        if refused:
            raise ConfigError(f"cache policy headers: {', '.join(refused)} cannot be in a cache key (the edge "
                              "handles them itself)")
        _key_part("cookies", self.cookies, _PARAM)
        _key_part("query_strings", self.query_strings, _PARAM)

    @property
    def caching(self) -> bool:
        """Whether anything is kept at all (CachingDisabled keeps nothing, and collapses no requests)."""
        return self.max_ttl > 0


CACHING_OPTIMIZED = CachePolicy(min_ttl=1)
"""AWS's managed CachingOptimized policy: at least 1 s, a day by default, no header, cookie or query in the key."""
CACHING_DISABLED = CachePolicy(min_ttl=0, default_ttl=0, max_ttl=0, compress=False)
"""AWS's managed CachingDisabled policy: nothing kept, every request to the origin."""


@dataclass(frozen=True)
class BucketOrigin:
    """A bucket of the app, read through origin access control: the edge signs its requests as the
    ``cloudfront.amazonaws.com`` service for this distribution, and the bucket's policy (which the platform writes,
    as CDK's ``S3BucketOrigin.with_origin_access_control``) lets it read, and nobody else.

    - ``bucket``: the declared ``Bucket``.
    - ``path``: an origin path put before each request's path (``"/site"``); default none.
    """

    bucket: Bucket
    path: str = ""


@dataclass(frozen=True)
class ApiOrigin:
    """A REST API of the app (CDK's ``RestApiOrigin``): requests go to its stage with every viewer header but
    ``Host``.

    - ``api``: the declared ``RestApi``.
    - ``strip``: a prefix taken off the path before it goes to the API (``"/api"``: ``/api/posts`` reaches the
      route ``/posts``); on AWS a CloudFront Function on the behavior's viewer requests. Default none.
    """

    api: RestApi
    strip: str = ""


@dataclass(frozen=True)
class HttpOrigin:
    """Any web server (an unchanged origin app): ``HttpOrigin("https://updates.example.com")``.

    - ``url``: ``http://`` or ``https://``, a host, an optional port and an optional origin path.
    - ``timeout``: seconds to wait for its answer, 1 to 180; default 30 (CloudFront's response timeout).
    """

    url: str
    timeout: float = 30.0

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
            raise ConfigError(f"http origin {self.url!r}: give http(s)://host[:port][/path]")
        if not 1 <= self.timeout <= 180:
            raise ConfigError(f"http origin {self.url!r}: timeout is 1 to 180 seconds")


Origin = BucketOrigin | ApiOrigin | HttpOrigin


@dataclass(frozen=True)
class Behavior:
    """Which origin serves the requests a path pattern fits, and how they are cached (a cache behavior).

    - ``origin``: a ``BucketOrigin``, ``ApiOrigin`` or ``HttpOrigin``.
    - ``path``: the path pattern (``"/api/*"``, ``"*.jpg"``): ``*`` is any characters, ``?`` exactly one, case
      matters. The default behavior (``Distribution.default``) has none.
    - ``cache``: a ``CachePolicy``; default ``CACHING_OPTIMIZED``.
    - ``methods``: ``"read"`` (GET, HEAD, OPTIONS; the default) or ``"all"`` (POST, PUT, PATCH and DELETE too, never
      cached, passed to the origin).
    """

    origin: Origin
    path: str = ""
    cache: CachePolicy = CACHING_OPTIMIZED
    methods: Literal["read", "all"] = "read"

    def __post_init__(self) -> None:
        if not isinstance(self.origin, (BucketOrigin, ApiOrigin, HttpOrigin)):
            raise ConfigError(f"behavior {self.path or 'default'}: origin must be a BucketOrigin, ApiOrigin or "
                              f"HttpOrigin, got {self.origin!r}")
        if self.path and not _PATTERN.match(self.path):
            raise ConfigError(f"behavior path pattern {self.path!r}: 1-255 of A-Z a-z 0-9 _ - . * $ / ~ \" ' @ : +, "
                              "& ? = !")
        if self.methods not in ("read", "all"):
            raise ConfigError(f"behavior {self.path or 'default'}: methods is 'read' or 'all'")
        if isinstance(self.origin, BucketOrigin) and self.methods != "read":
            raise ConfigError(f"behavior {self.path or 'default'}: a bucket origin is read only here (methods='read')")


@dataclass(frozen=True)
class ErrorResponse:
    """What viewers get when the origin answers ``status`` (a custom error response).

    - ``status``: the origin's status, 400-599.
    - ``page``: the path of the page shown instead (``"/404.html"``), fetched through the distribution; None:
      the origin's own answer.
    - ``response_status``: the status viewers get; default ``status``.
    - ``ttl``: seconds the error is kept (the error caching minimum TTL); default 10.
    """

    status: int
    page: str | None = None
    response_status: int | None = None
    ttl: int = ERROR_TTL

    def __post_init__(self) -> None:
        if not 400 <= self.status <= 599:
            raise ConfigError(f"error response for {self.status}: an error status is 400-599")
        if self.page is not None and not (self.page.startswith("/") and _PATTERN.match(self.page)):
            raise ConfigError(f"error response for {self.status}: page {self.page!r} is a path starting with /")
        if self.response_status is not None and not 200 <= self.response_status <= 599:
            raise ConfigError(f"error response for {self.status}: response_status is 200-599")
        if not 0 <= self.ttl <= MAX_TTL:
            raise ConfigError(f"error response for {self.status}: ttl is 0 to {MAX_TTL}")


@dataclass(eq=False, repr=False)
class Distribution(Resource):
    """A caching edge in front of origins (a CloudFront distribution). Declared with ``app.distribution(...)``,
    which lists its options.

    Endpoints facts: ``{"url", "id", "arn", "domain"}``.
    """

    kind: ClassVar[str] = "distribution"
    endpoints_group: ClassVar[str | None] = "distributions"
    name: str
    default: Behavior
    behaviors: tuple[Behavior, ...] = ()
    default_root_object: str = ""
    error_responses: tuple[ErrorResponse, ...] = ()
    logs: Bucket | None = None
    logs_prefix: str = ""
    cache_bytes: int = 256 * 1024 * 1024
    disk_bytes: int = 4 * 1024 * 1024 * 1024

    def __post_init__(self) -> None:
        check_name(self.kind, self.name)
        if self.default.path:
            raise ConfigError(f"distribution {self.name!r}: the default behavior has no path pattern")
        seen: set[str] = set()
        for b in self.behaviors:
            if not b.path:
                raise ConfigError(f"distribution {self.name!r}: each behavior but the default needs a path pattern")
            if b.path in seen:
                raise ConfigError(f"distribution {self.name!r}: two behaviors for {b.path!r}")
            seen.add(b.path)
        if len(self.behaviors) > 25:
            raise ConfigError(f"distribution {self.name!r}: at most 25 behaviors")
        if self.default_root_object and (self.default_root_object.startswith("/")
                                         or not _PATTERN.match(self.default_root_object)):
            raise ConfigError(f"distribution {self.name!r}: default_root_object is an object name without a "
                              f"leading / (\"index.html\"), got {self.default_root_object!r}")
        codes = [e.status for e in self.error_responses]
        if len(codes) != len(set(codes)):
            raise ConfigError(f"distribution {self.name!r}: one error response per status")
        if self.logs_prefix and (self.logs_prefix.startswith("/") or len(self.logs_prefix) > 200):
            raise ConfigError(f"distribution {self.name!r}: logs_prefix has no leading / and at most 200 characters")
        if self.logs_prefix and self.logs is None:
            raise ConfigError(f"distribution {self.name!r}: logs_prefix needs a logs bucket")
        if not 1024 * 1024 <= self.cache_bytes <= 64 * 1024**3 or not 0 <= self.disk_bytes <= 1024**4:
            raise ConfigError(f"distribution {self.name!r}: cache_bytes is 1 MiB to 64 GiB, disk_bytes 0 to 1 TiB")

    @property
    def all_behaviors(self) -> tuple[Behavior, ...]:
        """The behaviors in the order requests are matched: the path patterns as declared, the default last."""
        return (*self.behaviors, self.default)

    @property
    def origins(self) -> list[Origin]:
        found: list[Origin] = []
        for b in self.all_behaviors:
            if b.origin not in found:
                found.append(b.origin)
        return found


@dataclass(eq=False, repr=False)
class BucketDeployment(Resource):
    """A folder of the app copied into a bucket whenever it changes (CDK's ``BucketDeployment``), with each file's
    ``Content-Type`` and ``Cache-Control`` set; files gone from the folder are deleted from the bucket, and the
    changed paths are invalidated in ``distribution``. Declared with ``app.deploy_folder(...)``."""

    kind: ClassVar[str] = "bucket_deployment"
    name: str
    bucket: Bucket
    source: str
    distribution: Distribution | None = None
    cache_control: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        check_name(self.kind, self.name)
        src = PurePosixPath(self.source)
        if not self.source or src.is_absolute() or ".." in src.parts:
            raise ConfigError(f"deployment {self.name!r}: source is a folder inside the app's folder, got "
                              f"{self.source!r}")
        for glob, value in self.cache_control:
            if not glob or not isinstance(value, str) or not value or "\n" in value or "\r" in value:
                raise ConfigError(f"deployment {self.name!r}: cache_control maps a file pattern to a Cache-Control "
                                  f"value, got {glob!r}: {value!r}")


FINGERPRINTED = re.compile(r"\.[0-9a-f]{8,64}\.[A-Za-z0-9]+\Z")
"""A file name with a content hash before its extension (``site.1a2b3c4d.css``): never changes, cached for good."""
DEFAULT_CACHE_CONTROL: tuple[tuple[str, str], ...] = (
    ("*.html", "public, max-age=60"),
)


def cache_control_for(path: str, rules: Iterable[tuple[str, str]]) -> str:
    """The ``Cache-Control`` a deployed file gets: the first rule whose pattern (fnmatch, on the path in the
    folder) fits, else immutable for a fingerprinted name, else the defaults (HTML a minute), else an hour."""
    from fnmatch import fnmatchcase

    for glob, value in rules:
        if fnmatchcase(path, glob):
            return value
    if FINGERPRINTED.search(path):
        return "public, max-age=31536000, immutable"
    for glob, value in DEFAULT_CACHE_CONTROL:
        if fnmatchcase(path, glob):
            return value
    return "public, max-age=3600"
