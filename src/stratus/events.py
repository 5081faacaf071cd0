"""Typed events handed to handlers, and what handlers hand back.

A handler sees the same ``Request`` whether the local gateway or API Gateway
(through the Lambda entry point) called it. On a route that is not public the
caller is always signed in: the handler gets an ``AuthRequest``, whose ``user``
is never None, and may say so in its annotation. Later event kinds (object
created, table change, queue message, stream records) live here too.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Principal:
    """The caller, as the authorizer verified them from an access token."""

    sub: str
    username: str
    client_id: str
    claims: Mapping[str, Any]


@dataclass
class Request:
    """An HTTP request routed to a handler.

    ``path_params`` and ``query`` are already validated against the route's
    declaration (query values coerced to their declared types); ``json`` is the
    validated body when the route declares one, and ``data`` the same body as the
    route declared it (an instance of its dataclass; otherwise the validated JSON).
    ``user`` is None on a public route (the caller is anonymous).
    """

    method: str
    path: str
    path_params: dict[str, str]
    query: dict[str, Any]
    headers: Mapping[str, str]
    body: bytes
    json: Any = None
    user: Principal | None = None
    request_id: str = ""
    stage: str = "local"
    base_url: str = ""  # the API's own URL (scheme, host, stage path), for links such as Location
    data: Any = None


@dataclass
class AuthRequest(Request):
    """A request on a route that is not public: the authorizer has verified the caller, ``user``."""

    user: Principal = field(kw_only=True)


@dataclass
class Response:
    """A full response; a handler may instead return any JSON value (or a dataclass) for a 200 (or the route's
    status). ``body`` is JSON (a value or a dataclass), text, or bytes."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class StreamingResponse:
    """A response whose body is sent as it is produced, chunk by chunk (large files, ranges of a video).

    ``chunks`` yields bytes, synchronously or asynchronously. The local gateway sends each chunk as it
    comes and never caches the answer; on AWS, API Gateway's proxy integration takes the body whole, so
    the entry point joins the chunks (within Lambda's response limit).
    """

    chunks: Iterable[bytes] | AsyncIterable[bytes]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/octet-stream"
