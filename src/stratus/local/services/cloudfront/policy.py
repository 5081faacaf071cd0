"""CloudFront's rules, as pure functions: path patterns, TTLs from an origin's headers, cache keys, ranges,
compression and invalidation paths. No I/O: the edge applies them.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from ....graph.edge import AllExcept, CachePolicy, KeyPart

# what CloudFront keeps of an answer by default (others only with an explicit lifetime from the origin)
CACHEABLE = frozenset({200, 203, 300, 301, 410})
CACHEABLE_WITH_LIFETIME = frozenset({204, 302, 307, 308})
CACHEABLE_ERRORS = frozenset({400, 403, 404, 405, 410, 414, 500, 501, 502, 503, 504})  # 416 never
ERRORS_NO_STORE_STOPS = frozenset({404, 410, 414, 501})  # no-store/no-cache/private stop caching these errors only
MIN_COMPRESS, MAX_COMPRESS = 1_000, 10_000_000
COMPRESSIBLE = frozenset({
    "application/dash+xml", "application/eot", "application/font", "application/font-sfnt", "application/javascript",
    "application/json", "application/opentype", "application/otf", "application/pdf", "application/pkcs7-mime",
    "application/protobuf", "application/rss+xml", "application/truetype", "application/ttf",
    "application/vnd.apple.mpegurl", "application/vnd.mapbox-vector-tile", "application/vnd.ms-fontobject",
    "application/wasm", "application/x-font-opentype", "application/x-font-truetype", "application/x-font-ttf",
    "application/x-httpd-cgi", "application/x-javascript", "application/x-mpegurl", "application/x-opentype",
    "application/x-otf", "application/x-perl", "application/x-ttf", "application/xhtml+xml", "application/xml",
    "font/eot", "font/opentype", "font/otf", "font/ttf", "image/svg+xml", "text/css", "text/csv",
    "text/html", "text/javascript", "text/js", "text/plain", "text/richtext", "text/tab-separated-values",
    "text/x-component", "text/x-java-source", "text/x-script", "vnd.apple.mpegurl"})


@lru_cache(maxsize=512)
def _pattern(pattern: str) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lstrip("/"))
    return re.compile(body + r"\Z", re.DOTALL)


def path_matches(pattern: str, path: str) -> bool:
    """Whether a behavior's path pattern fits a request's path: ``*`` any characters (``/`` too), ``?`` exactly one,
    case sensitive; a leading ``/`` on either side changes nothing, as on CloudFront."""
    return _pattern(pattern).match(path.lstrip("/")) is not None


def directives(cache_control: str | None) -> dict[str, str | None]:
    """``Cache-Control``'s directives, names lowercased (``max-age=60, no-cache`` -> ``{"max-age": "60",
    "no-cache": None}``); the first of a repeated directive counts."""
    found: dict[str, str | None] = {}
    for part in (cache_control or "").split(","):
        name, eq, value = part.strip().partition("=")
        name = name.strip().lower()
        if name and name not in found:
            found[name] = value.strip().strip('"') if eq else None
    return found


def _seconds(value: str | None) -> int | None:
    if value is None or not value.isdigit():
        return None
    return min(int(value), 2**31)


def http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.timestamp() if parsed.tzinfo is not None else None


@dataclass(frozen=True)
class Lifetime:
    """How long the edge keeps an answer: ``ttl`` seconds fresh (None: not at all), then served stale for
    ``stale_while_revalidate`` while it is fetched again, or ``stale_if_error`` when the origin fails."""

    ttl: float | None
    stale_while_revalidate: float = 0.0
    stale_if_error: float = 0.0


NOT_KEPT = Lifetime(None)


def lifetime(status: int, headers: Mapping[str, str], policy: CachePolicy, now: float,
             error_ttl: float | None = None) -> Lifetime:
    """What CloudFront keeps of an origin's answer (``headers``: lowercased names), under ``policy``.

    ``no-cache``, ``no-store`` and ``private`` keep it MinTTL (nothing while that is 0); otherwise ``s-maxage``, else ``max-age``,
    else ``Expires`` (from now), clamped to [MinTTL, MaxTTL]; with none of them, DefaultTTL. An error (4xx, 5xx) is
    kept for ``error_ttl`` (the error response's, 10 s by default), or the origin's ``max-age`` when longer; 416 and
    statuses CloudFront does not cache are never kept."""
    if not policy.caching:
        return NOT_KEPT
    d = directives(headers.get("cache-control"))
    refused = "no-store" in d or "no-cache" in d or "private" in d
    stated = _seconds(d.get("s-maxage")) if "s-maxage" in d else _seconds(d.get("max-age")) if "max-age" in d else None
    if stated is None and "expires" in headers:
        expires = http_date(headers["expires"])
        stated = max(0, int(expires - now)) if expires is not None else 0  # an invalid Expires is already expired
    swr = float(_seconds(d.get("stale-while-revalidate")) or 0)
    sie = float(_seconds(d.get("stale-if-error")) or 0)
    if status >= 400:
        if status not in CACHEABLE_ERRORS or (refused and status in ERRORS_NO_STORE_STOPS):
            return NOT_KEPT
        base = 10.0 if error_ttl is None else float(error_ttl)
        return Lifetime(max(base, float(stated or 0)) if base > 0 or stated else None)
    if status not in CACHEABLE and not (status in CACHEABLE_WITH_LIFETIME and stated is not None):
        return NOT_KEPT
    if refused:  # kept only as long as the policy's floor says
        return Lifetime(float(policy.min_ttl)) if policy.min_ttl > 0 else NOT_KEPT
    ttl = policy.default_ttl if stated is None else stated
    return Lifetime(float(min(max(ttl, policy.min_ttl), policy.max_ttl)), swr, sie)


def _kept(names: Iterable[tuple[str, str]], part: KeyPart) -> list[tuple[str, str]]:
    if part == "none":
        return []
    if part == "all":
        return sorted(names)
    if isinstance(part, AllExcept):
        return sorted((k, v) for k, v in names if k not in part.names)
    return sorted((k, v) for k, v in names if k in part)


def cookies_of(cookie_headers: Sequence[str]) -> list[tuple[str, str]]:
    found = []
    for header in cookie_headers:
        for piece in header.split(";"):
            name, eq, value = piece.strip().partition("=")
            if eq and name:
                found.append((name, value))
    return found


def query_pairs(query: str) -> list[tuple[str, str]]:
    """A query's name=value pairs as sent (undecoded: the key and the origin see them as the viewer wrote them)."""
    return [(n, v) for n, _, v in (p.partition("=") for p in query.split("&") if p)]


@dataclass(frozen=True)
class KeyParts:
    """What of a request the cache key holds, and the origin is sent."""

    query: list[tuple[str, str]]
    headers: list[tuple[str, str]]
    cookies: list[tuple[str, str]]


def key_parts(policy: CachePolicy, query: str, headers: Mapping[str, list[str]]) -> KeyParts:
    """The query strings, headers (lowercased names) and cookies ``policy`` puts in the cache key."""
    wanted = {h.lower() for h in policy.headers}
    kept_headers = sorted((name, ",".join(values)) for name, values in headers.items() if name in wanted)
    return KeyParts(_kept(query_pairs(query), policy.query_strings), kept_headers,
                    _kept(cookies_of(headers.get("cookie", [])), policy.cookies))


def cache_key(behavior: int, path: str, parts: KeyParts) -> str:
    """The key an answer is kept under: the behavior, the path, and what the policy adds."""
    out = [str(behavior), path]
    if parts.query:
        out.append("?" + "&".join(f"{k}={v}" for k, v in parts.query))
    out += [f"h:{k}={v}" for k, v in parts.headers]
    out += [f"c:{k}={v}" for k, v in parts.cookies]
    return "\n".join(out)


def single_range(value: str, size: int) -> tuple[int, int] | None | str:
    """A ``Range`` header against a body of ``size`` bytes: ``(first, last)`` inclusive for one satisfiable range;
    ``"unsatisfiable"`` for one past the end (416); None for anything else (several ranges, a syntax error: served
    whole, 200)."""
    unit, eq, spec = value.partition("=")
    if not eq or unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_s, dash, last_s = spec.strip().partition("-")
    if not dash:
        return None
    first_s, last_s = first_s.strip(), last_s.strip()
    if not first_s:
        if not last_s.isdigit() or len(last_s) > 19:
            return None
        suffix = int(last_s)
        if suffix == 0:
            return "unsatisfiable"
        return (max(0, size - suffix), size - 1) if size else "unsatisfiable"
    if not first_s.isdigit() or len(first_s) > 19 or (last_s and (not last_s.isdigit() or len(last_s) > 19)):
        return None
    first = int(first_s)
    last = int(last_s) if last_s else size - 1
    if last_s and last < first:
        return None
    if first >= size:
        return "unsatisfiable"
    return first, min(last, size - 1)


def accepted_encoding(accept_encoding: str | None) -> str | None:
    """What the edge compresses with for a viewer's ``Accept-Encoding``: ``br`` before ``gzip``; None for neither
    (a q of 0 refuses)."""
    if not accept_encoding:
        return None
    offered = {}
    for part in accept_encoding.split(","):
        name, _, params = part.strip().partition(";")
        q = 1.0
        params = params.strip().lower()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        offered[name.strip().lower()] = q
    for coding in ("br", "gzip"):
        if offered.get(coding, offered.get("*", 0.0)) > 0:
            return coding
    return None


def compressible(content_type: str | None, size: int, content_encoding: str | None) -> bool:
    """Whether CloudFront compresses an answer: a compressible type, 1,000 to 10,000,000 bytes, not encoded yet."""
    if content_encoding and content_encoding.strip().lower() != "identity":
        return False
    base = (content_type or "").split(";", 1)[0].strip().lower()
    return MIN_COMPRESS <= size <= MAX_COMPRESS and base in COMPRESSIBLE


def check_invalidation_path(path: str) -> str:
    """An invalidation path as CloudFront takes it: starts with ``/``, at most 4,000 characters, and ``*`` only as its
    last character; ``ValueError`` saying what is wrong otherwise."""
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"invalidation path {path!r} must start with /")
    if len(path) > 4000 or any(ord(c) < 32 for c in path):
        raise ValueError(f"invalidation path {path[:40]!r}...: at most 4,000 printable characters")
    if "*" in path[:-1]:
        raise ValueError(f"invalidation path {path!r}: * is allowed only as the last character")
    return path


def split_invalidation(paths: Iterable[str]) -> tuple[frozenset[str], tuple[str, ...]]:
    """Invalidation paths as what they cover: the exact paths, and the prefixes of those ending in ``*``."""
    return (frozenset(p for p in paths if not p.endswith("*")),
            tuple(sorted({p[:-1] for p in paths if p.endswith("*")})))


def covered(path: str, exact: frozenset[str], prefixes: tuple[str, ...]) -> bool:
    """Whether an invalidation (``split_invalidation``'s parts) covers a cached path: a set lookup and at most 15
    prefixes, so thousands of paths cost no more per entry than a few."""
    return path in exact or (bool(prefixes) and path.startswith(prefixes))
