"""Typed events handed to handlers, and what handlers hand back.

A handler sees the same ``Request`` whether the local gateway or API Gateway
(through the Lambda entry point) called it. Later event kinds (object created,
table change, queue message, stream records) live here too.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    validated body when the route declares one.
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


@dataclass
class Response:
    """A full response; a handler may instead return any JSON value for a 200 (or the route's status)."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
