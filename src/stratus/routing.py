"""The REST request path both providers share: matching, validation, handler errors, responses.

The local gateway and the AWS Lambda entry point hand requests to handlers the
same way, so a request gets the same answer in both places: the same 400s naming
the same fields, the same 404/405, the same mapping of project errors to
statuses, the same serialization. Only what surrounds it differs (the local
gateway also authorizes, caches and throttles; on AWS, API Gateway does).

This module imports nothing beyond the standard library and the project's core,
so it ships in the Lambda asset as it is.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, Generic, TypeVar
from urllib.parse import unquote

from .errors import (
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
from .events import AuthRequest, Principal, Request, Response, StreamingResponse
from .graph import PARAM, PARAM_SEGMENT, Route
from .schema import coerce_query, validate
from .typeschema import build, to_json

try:  # fast where installed (locally); the standard library's where not (the Lambda asset)
    import orjson

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value)

    def loads(raw: bytes | str) -> Any:
        return orjson.loads(raw)
    JSONError: type[Exception] = orjson.JSONDecodeError
except ImportError:  # the Lambda asset: the standard library, held to what orjson accepts
    import json

    def _no_constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    def dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False,
                          default=to_json).encode("utf-8")

    def loads(raw: bytes | str) -> Any:
        value = json.loads(raw, parse_constant=_no_constant)
        try:  # a lone surrogate escape ("\ud800") decodes, but is not text: orjson refuses it, and so do we
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValueError("a string holds an unpaired surrogate") from exc
        return value
    JSONError = ValueError

log = logging.getLogger("stratus.routing")
T = TypeVar("T")


def _regex(path: str) -> re.Pattern[str]:
    parts = []
    for seg in path.split("/")[1:]:
        m = PARAM_SEGMENT.match(seg)
        parts.append(f"(?P<{m.group(1)}>.+)" if m and m.group(2) else f"(?P<{m.group(1)}>[^/]+)" if m
                     else re.escape(seg))
    return re.compile("^/" + "/".join(parts) + "$")


class RouteTable(Generic[T]):
    """Routes compiled once: literal paths in a dict, parameterised ones as per-method regexes.

    Each route carries a value of the caller's (its handler context, its cache settings, ...).
    """

    def __init__(self, entries: list[tuple[Route, T]]) -> None:
        self.static: dict[tuple[str, str], tuple[Route, T]] = {}
        self.dynamic: dict[str, list[tuple[re.Pattern[str], Route, T]]] = {}
        self.by_template: dict[tuple[str, str], tuple[Route, T]] = {}
        for route, value in entries:
            self.by_template[(route.method, route.path)] = (route, value)
            if route.params:
                self.dynamic.setdefault(route.method, []).append((_regex(route.path), route, value))
            else:
                self.static[(route.method, route.path)] = (route, value)
        for routes in self.dynamic.values():  # literal segments win over parameters, as on API Gateway
            routes.sort(key=lambda e: (e[1].path.count("{"), -len(e[1].path)))

    def match(self, method: str, path: str) -> tuple[Route, T, dict[str, str]]:
        """The route for a raw (percent-encoded) path, and its decoded parameters; 404 or 405 otherwise."""
        hit = self.static.get((method, path))
        if hit is not None:
            return hit[0], hit[1], {}
        for regex, route, value in self.dynamic.get(method, ()):
            m = regex.match(path)
            if m:
                return route, value, {k: unquote(v) for k, v in m.groupdict().items()}
        allowed = sorted({m for (m, p) in self.static if p == path} |
                         {m for m, es in self.dynamic.items() for e in es if e[0].match(path)})
        if allowed:
            raise MethodNotAllowed(f"{method} is not allowed on {path}", headers={"allow": ", ".join(allowed)})
        raise NotFound(f"no route for {method} {path}")


def fill(template: str, params: Mapping[str, str]) -> str:
    """A route template with its parameters put in (decoded): the resource a request names."""
    return PARAM.sub(lambda m: params[m.group(1)], template)


def parse_query(route: Route, raw: Mapping[str, str]) -> dict[str, Any]:
    """The route's declared query parameters, coerced and validated; undeclared ones are ignored."""
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


def parse_body(route: Route, content_type: str | None, body: bytes) -> Any:
    """The route's declared JSON body, validated; None when the route declares none."""
    if route.body is None:
        return None
    raw_type = (content_type or "application/json").lower()
    ctype, _, params = raw_type.partition(";")
    charset = params.split("charset=", 1)[1].strip().strip('"') if "charset=" in params else "utf-8"
    if ctype.strip() != "application/json" or charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"request body must be application/json in UTF-8, not {ascii(raw_type)[:80]}")
    if not body:
        raise BadRequest("request body is required (a JSON object)")
    try:
        data = loads(body)
    except (JSONError, UnicodeDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    problems = validate(route.body, data)
    if problems:
        raise ValidationError(problems)
    return data


def make_request(route: Route, path: str, params: dict[str, str], query: dict[str, Any], headers: Mapping[str, str],
                 body: bytes, json: Any, user: Principal | None, request_id: str, *, stage: str,
                 base_url: str) -> Request:
    """The event a handler gets: an ``AuthRequest`` (its ``user`` never None) on a route that is not public, with
    the body built as the route declared it (``data``: an instance of its dataclass)."""
    try:
        data = build(route.body_type, json) if route.body_type is not None and json is not None else json
    except (TypeError, ValueError) as exc:  # the dataclass's own checks (__post_init__) refused the body
        raise ValidationError([f"body: {exc}"]) from None
    if route.public:
        return Request(route.method, path, params, query, headers, body, json, user, request_id, stage, base_url, data)
    if user is None:
        raise Unauthorized("Unauthorized", headers={"www-authenticate": "Bearer"})
    return AuthRequest(route.method, path, params, query, headers, body, json, request_id=request_id, stage=stage,
                       base_url=base_url, data=data, user=user)


def claim_list(value: Any) -> list[str]:
    """A list claim (``cognito:groups``) as a token carries it (a JSON list) or as API Gateway's Cognito authorizer
    hands it to a function (every claim a string: ``"[authors editors]"``, or ``"authors,editors"``)."""
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    if isinstance(value, str):
        return [v for v in re.split(r"[\s,]+", value.strip().strip("[]")) if v]
    return []


def check_access(route: Route, claims: Mapping[str, Any]) -> None:
    """A signed-in caller's verified claims against what the route asks beyond a sign-in: one of its scopes (the
    token's ``scope``, space-separated; without one, 401, as API Gateway's Cognito authorizer answers) and its
    group (``cognito:groups``; without it, 403)."""
    if route.public:
        return
    held = claims.get("scope")
    if not isinstance(held, str) or not set(held.split()) & set(route.accepted_scopes):
        wanted = " ".join(route.accepted_scopes)
        raise Unauthorized(f"Unauthorized: the token carries none of the scopes {route.method} {route.path} accepts "
                           f"({wanted})", headers={"www-authenticate": f'Bearer error="insufficient_scope", '
                                                                        f'scope="{wanted}"'})
    if route.requires_group is not None and route.requires_group not in claim_list(claims.get("cognito:groups")):
        raise Forbidden(f"{route.method} {route.path} is for members of the group {route.requires_group!r}")


def principal_from_claims(claims: Any) -> Principal | None:
    """The caller an access token's verified claims name (the local authorizer's, or API Gateway's Cognito
    authorizer's as the Lambda event carries them); None when they name nobody."""
    if not isinstance(claims, dict) or not isinstance(claims.get("sub"), str):
        return None
    sub = claims["sub"]
    return Principal(sub, claims.get("username") or claims.get("cognito:username") or sub,
                     claims.get("client_id") or claims.get("aud") or "", claims)


def stream_headers(stream: StreamingResponse) -> dict[str, str]:
    """A streamed answer's headers as both providers send them: lower-case names, its content type."""
    return {"content-type": stream.content_type, **{k.lower(): v for k, v in stream.headers.items()}}


def stream_chunk(piece: Any) -> bytes:
    """One piece a streamed answer's generator yielded, as bytes; ``TypeError`` for anything else (the answer
    then fails: it is never sent short, or with a piece made up)."""
    if not isinstance(piece, (bytes, bytearray, memoryview)):
        raise TypeError(f"a streamed body yields bytes, not {type(piece).__name__}")
    return bytes(piece)


def handler_error(exc: Exception, route: Route, request_id: str) -> HttpError:
    """What a client is told when a handler raised: the project's errors keep their meaning; the rest is a bare 500."""
    if isinstance(exc, HttpError):
        return exc
    if isinstance(exc, ConditionFailed):
        return HttpError(str(exc), status=409)
    if isinstance(exc, (InvalidToken, InvalidItem)):
        return BadRequest(str(exc))
    log.error("handler %s failed (request %s)", route.operation_id, request_id, exc_info=exc)
    return HttpError("Internal server error", status=500)


def serialize(result: Any, default_status: int) -> tuple[int, bytes, dict[str, str]]:
    """A handler's return value as (status, body, headers)."""
    if isinstance(result, Response):
        headers = {k.lower(): v for k, v in result.headers.items()}
        if result.body is None:
            return result.status, b"", headers
        if isinstance(result.body, (bytes, str)):
            headers.setdefault("content-type", "text/plain; charset=utf-8")
            return result.status, result.body.encode() if isinstance(result.body, str) else result.body, headers
        return result.status, dumps(result.body), headers
    if result is None:
        return 204, b"", {}
    return default_status, dumps(result), {}
