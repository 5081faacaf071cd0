"""Operations on a running system, under ``/_stratus``: health, figures, flushing caches, moving a manual clock.

    GET  /_stratus/health                              {"status": "ok"}; with the token, the apps too
    GET  /_stratus/stats                               every app's figures (``stratus stats``)
    POST /_stratus/cache/flush  (x-stratus-app: APP)   empty the API response caches (``stratus flush-cache``)
    POST /_stratus/clock        {"advance": seconds}   only with a manual clock (``--manual-clock``)

All but the health probe need the operator's token (``Authorization: Bearer <operator_token>``,
from the data dir's ``endpoints.json``, 0600): an app's users, anonymous callers and other
local users who cannot read the data dir are refused 401. A request a browser sent from
another origin (``Origin`` or ``Sec-Fetch-Site`` says so) is refused 403 whatever it carries,
so no web page the operator visits can drive these.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Any

import orjson

from ..clock import Clock, ManualClock
from ..errors import BadRequest, Forbidden, NotFound, Unauthorized
from .infra.asgi import Receive, Scope, Send, header, read_body, send_json


class Operations:
    """The operations, over what the runtime gives it: its figures, a flush, the running apps, the clock."""

    def __init__(self, stats: Callable[[], dict[str, Any]], flush: Callable[[str | None], dict[str, int]],
                 apps: Callable[[], list[str]], clock: Clock, token: str, origin: str) -> None:
        self.stats, self.flush, self.apps, self.clock = stats, flush, apps, clock
        self.token, self.origin = token.encode(), origin

    def _authorized(self, scope: Scope) -> bool:
        given = header(scope, b"authorization") or ""
        scheme, _, token = given.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        origin, site = header(scope, b"origin"), header(scope, b"sec-fetch-site")
        if (origin is not None and origin != self.origin) or site in ("cross-site", "same-site"):
            raise Forbidden("operations refuse requests from other origins")
        authorized = self._authorized(scope)
        if path == "/_stratus/health":
            return await send_json(send, 200, {"status": "ok", **({"apps": self.apps()} if authorized else {})})
        if not authorized:
            raise Unauthorized("operations need the operator token: Authorization: Bearer <operator_token from "
                               "endpoints.json>", headers={"www-authenticate": 'Bearer realm="stratus operator"'})
        if path == "/_stratus/stats" and method == "GET":
            return await send_json(send, 200, self.stats())
        if path == "/_stratus/cache/flush" and method == "POST":
            return await send_json(send, 200, {"flushed": self.flush(header(scope, b"x-stratus-app"))})
        if path == "/_stratus/clock" and isinstance(self.clock, ManualClock):
            if method == "POST":
                try:
                    seconds = orjson.loads(await read_body(receive, 4096, header(scope, b"content-length")))["advance"]
                    if not isinstance(seconds, (int, float)) or seconds < 0:
                        raise ValueError
                except (ValueError, KeyError, TypeError):
                    raise BadRequest('send {"advance": <seconds >= 0>}') from None
                self.clock.advance(seconds)
            return await send_json(send, 200, {"now": self.clock.now()})
        raise NotFound(f"nothing is served at {path}")
