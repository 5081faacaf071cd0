"""Operations on a running system, under ``/_stratus``: health, figures, flushing caches, moving a manual clock.

    GET  /_stratus/health                              {"status": "ok"}; with the token, the apps too
    GET  /_stratus/stats                               every app's figures (``stratus stats``)
    POST /_stratus/cache/flush  (x-stratus-app: APP)   empty the API response caches (``stratus flush-cache``)
    POST /_stratus/clock        {"advance": seconds}   only with a manual clock (``--manual-clock``)
    GET  /_stratus/dead-letters?app=APP                the triggers' dead letters (``stratus dead-letters``)
    POST /_stratus/redrive      {"app", "trigger", "ids"?}  send them again (``stratus redrive``)
    POST /_stratus/invalidate   {"app", "distribution", "paths"}  drop cached paths (``stratus invalidate``)
    GET  /_stratus/logs?app=&trigger=&since=           the triggers' recent calls (``stratus logs``)

All but the health probe need the operator's token (``Authorization: Bearer <operator_token>``,
from the data dir's ``endpoints.json``, 0600): an app's users, anonymous callers and other
local users who cannot read the data dir are refused 401. A request a browser sent from
another origin (``Origin`` or ``Sec-Fetch-Site`` says so) is refused 403 whatever it carries,
so no web page the operator visits can drive these.
"""

from __future__ import annotations

import asyncio
import hmac
import math
import sqlite3
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import parse_qs

import orjson

from ..clock import Clock, ManualClock
from ..errors import BadRequest, Forbidden, HttpError, NotFound, Unauthorized
from .infra.asgi import Receive, Scope, Send, header, read_body, send_json


async def _off_loop(fn: Callable[..., Any], *args: Any) -> Any:
    """Run ``fn`` on a thread (it waits for the database's write lock, which the event loop must never do); a
    database busy past its wait is 503."""
    try:
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)
    except sqlite3.OperationalError as exc:
        raise HttpError(f"the database is busy ({exc}); try again", status=503) from None


class Triggers(Protocol):
    """What the operations reach of the triggers' delivery (the runtime)."""

    def dead_letters(self, app: str | None = None) -> list[dict[str, Any]]: ...

    def redrive(self, app: str, trigger: str, ids: list[int] | None = None) -> int: ...

    def invocations(self, app: str | None = None, trigger: str | None = None, since: float = 0.0
                    ) -> list[dict[str, Any]]: ...

    def replication(self, app: str, region: str, paused: bool) -> dict[str, Any]: ...

    def invalidate(self, app: str, distribution: str, paths: list[str]) -> dict[str, Any]: ...


class Operations:
    """The operations, over what the runtime gives it: its figures, a flush, the running apps, the clock."""

    def __init__(self, stats: Callable[[], dict[str, Any]], flush: Callable[[str | None], dict[str, int]],
                 apps: Callable[[], list[str]], clock: Clock, token: str, origin: str, triggers: Triggers) -> None:
        self.stats, self.flush, self.apps, self.clock, self.triggers = stats, flush, apps, clock, triggers
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
        query = {k: v[0] for k, v in parse_qs(scope.get("query_string", b"").decode("latin-1")).items()}
        if path == "/_stratus/dead-letters" and method == "GET":
            return await send_json(send, 200, {"dead_letters": await _off_loop(self.triggers.dead_letters,
                                                                                query.get("app"))})
        if path == "/_stratus/logs" and method == "GET":
            try:
                since = float(query.get("since", "0"))
                if not math.isfinite(since):
                    raise ValueError
            except ValueError:
                raise BadRequest("since must be seconds since the epoch") from None
            return await send_json(send, 200, {"invocations": self.triggers.invocations(
                query.get("app"), query.get("trigger"), since)})
        if path == "/_stratus/redrive" and method == "POST":
            try:
                req = orjson.loads(await read_body(receive, 64 * 1024, header(scope, b"content-length")))
                app, trigger, ids = req["app"], req["trigger"], req.get("ids")
                if not isinstance(app, str) or not isinstance(trigger, str) or ids is not None and (
                        not isinstance(ids, list) or len(ids) > 10_000 or
                        not all(type(i) is int and 0 < i < 2**62 for i in ids)):
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                raise BadRequest('send {"app": APP, "trigger": NAME, "ids": [ID, ...] (optional)}') from None
            return await send_json(send, 200, {"redriven": await _off_loop(self.triggers.redrive, app, trigger, ids)})
        if path == "/_stratus/region" and method == "POST":
            try:
                req = orjson.loads(await read_body(receive, 4096, header(scope, b"content-length")))
                app, region, action = req["app"], req["region"], req["action"]
                if not isinstance(app, str) or not isinstance(region, str) or action not in ("pause", "resume"):
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                raise BadRequest('send {"app": APP, "region": REGION, "action": "pause" or "resume"}') from None
            return await send_json(send, 200, await _off_loop(self.triggers.replication, app, region,
                                                                      action == "pause"))
        if path == "/_stratus/invalidate" and method == "POST":
            try:
                req = orjson.loads(await read_body(receive, 1024 * 1024, header(scope, b"content-length")))
                app, dist, paths = req["app"], req["distribution"], req["paths"]
                if not isinstance(app, str) or not isinstance(dist, str) or not isinstance(paths, list) \
                        or not all(isinstance(p, str) for p in paths):
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                raise BadRequest('send {"app": APP, "distribution": NAME, "paths": ["/path", "/prefix*", ...]}') \
                    from None
            return await send_json(send, 200, self.triggers.invalidate(app, dist, paths))
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
