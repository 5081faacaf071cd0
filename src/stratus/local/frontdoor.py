"""The one origin every local endpoint shares: requests dispatched by protocol and service.

In order:

    /<segment>/...      a mounted first path segment: ``_api`` (the apps' REST APIs),
                        ``_stratus`` (operations), each user pool id (its OIDC discovery)
    X-Amz-Target: S.Op  an AWS JSON service, by its target prefix S (the Cognito services)
    SigV4 scope .../svc a service on a signed protocol, by its signing name (``s3``)
    anything else       S3, path style (unsigned and SigV2 requests are S3's to answer)

Nothing a client sends can reach one service through another's door: first segments that
start with ``_`` or hold ``_`` (user pool ids) are never S3 bucket names, and a JSON request
names its service in its target. Each AWS JSON service runs on a thread pool of its own
(password hashing is slow by design), so a flood of sign-ins starves neither the APIs nor the
identity pools; what may wait for a service's pool is bounded, and past the bound a request is
refused at once (``TooManyRequestsException``) instead of queueing without end.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Executor
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from ..errors import HttpError, NotFound, PayloadTooLarge
from .infra.asgi import Receive, Scope, Send, header, read_body, send_json, send_response, virtual_bucket
from .protocols.awsjson import AwsJsonService, HttpRequest

Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]
JSON_BODY_LIMIT = 1024 * 1024
JSON_CORS = {"access-control-allow-origin": "*", "access-control-allow-methods": "POST, OPTIONS",
             "access-control-allow-headers": "content-type, x-amz-target, x-amz-user-agent, authorization, "
             "x-amz-date, x-amz-security-token, x-amz-content-sha256, amz-sdk-invocation-id, amz-sdk-request, "
             "cache-control", "access-control-max-age": "86400"}


def signing_service(scope: Scope) -> str | None:
    """The service a SigV4-signed request names in its credential scope (header or presigned query), read with
    string operations only: whatever a client puts in its Authorization header costs one pass over it."""
    auth = header(scope, b"authorization")
    if auth is None:
        query = scope.get("query_string", b"").decode("latin-1")
        if "X-Amz-Credential=" not in query:
            return None
        credential = parse_qs(query).get("X-Amz-Credential", [""])[0]
    else:
        _, found, rest = auth.partition("Credential=")
        if not found:
            return None
        credential = rest.split(",", 1)[0].split(None, 1)[0] if rest.strip() else ""
    parts = credential.split("/")
    # AKID/DATE/REGION/SERVICE/aws4_request
    return parts[3] if len(parts) == 5 and parts[4] == "aws4_request" and parts[3] else None


class FrontDoor:
    def __init__(self, fallback: Asgi) -> None:
        self.fallback = fallback
        self.segments: dict[str, Asgi] = {}
        self.json: dict[str, tuple[AwsJsonService, Executor, int]] = {}  # by target: service, its pool, its bound
        self._waiting: dict[str, int] = {}
        self.signed: dict[str, Asgi] = {}
        self.on_shutdown: list[Callable[[], None]] = []
        self.on_shutdown_async: list[Callable[[], Coroutine[Any, Any, None]]] = []
        self.by_port: dict[int, Asgi] = {}  # what a listening port of its own serves (a distribution's edge)
        self.background: list[Callable[[], Coroutine[Any, Any, None]]] = []  # loops that run while it serves
        self._tasks: list[asyncio.Task[None]] = []

    def mount(self, segment: str, app: Asgi) -> None:
        """Serve every path whose first segment is ``segment``."""
        self.segments[segment] = app

    def serve_json(self, service: AwsJsonService, pool: Executor, max_waiting: int = 64) -> None:
        """Serve an AWS JSON service on ``pool``, refusing requests past ``max_waiting`` at a time."""
        self.json[service.target] = (service, pool, max_waiting)
        self._waiting[service.target] = 0

    def serve_signed(self, signing_name: str, app: Asgi) -> None:
        self.signed[signing_name] = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            await self._http(scope, receive, send)
        except HttpError as exc:
            await send_json(send, exc.status, exc.body(), exc.headers)

    def serve_port(self, port: int, app: Asgi) -> None:
        """Serve every request that comes in on listening port ``port`` with ``app`` (a distribution at its root)."""
        self.by_port[port] = app

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.by_port:
            server = scope.get("server")
            own = self.by_port.get(server[1]) if server else None
            if own is not None:
                return await own(scope, receive, send)
        host = header(scope, b"host")
        if host is not None and virtual_bucket(host) is not None:  # <bucket>.localhost: S3 in virtual-hosted style
            return await self.fallback(scope, receive, send)
        path: str = scope["path"]
        segment = path[1:].partition("/")[0]
        mounted = self.segments.get(segment)
        if mounted is not None:
            return await mounted(scope, receive, send)
        if segment.startswith("_") and signing_service(scope) != "s3":  # signed for S3: a bucket's name, refused there
            raise NotFound(f"nothing is served at {path}")
        if scope["method"] == "OPTIONS" and path == "/" and "x-amz-target" in (
                header(scope, b"access-control-request-headers") or "").lower():
            # a browser's preflight for an AWS JSON service (a page calling Cognito with fetch): allowed from any
            # origin, as Cognito allows it; nothing here rides on cookies, each call carries its own proof
            return await send_response(send, 200, b"", JSON_CORS, "text/plain")
        target = header(scope, b"x-amz-target")
        if target is not None and scope["method"] == "POST":
            return await self._json(scope, receive, send, target)
        service = signing_service(scope)
        if service is not None and service != "s3":
            signed = self.signed.get(service)
            if signed is None:
                message = f"The local endpoint does not serve {service} (requests signed for it are refused)."
                body = (f"<ErrorResponse><Error><Type>Sender</Type><Code>UnsupportedService</Code>"  # the query protocol's
                        f"<Message>{escape(message)}</Message></Error></ErrorResponse>").encode()
                return await send_response(send, 400, body, content_type="application/xml")
            return await signed(scope, receive, send)
        await self.fallback(scope, receive, send)

    async def _json(self, scope: Scope, receive: Receive, send: Send, target: str) -> None:
        # a page's call may read every answer, errors included, as on AWS
        cors = {"access-control-allow-origin": "*", "access-control-expose-headers": "x-amzn-requestid, "
                "x-amzn-errortype"} if header(scope, b"origin") is not None else {}

        async def refuse(status: int, code: str, message: str) -> None:
            await send_json(send, status, {"__type": code, "message": message}, {"x-amzn-errortype": code, **cors})
        try:
            body = await read_body(receive, JSON_BODY_LIMIT, header(scope, b"content-length"))
        except PayloadTooLarge as exc:
            return await refuse(413, "RequestEntityTooLargeException", exc.message)
        name = target.split(".", 1)[0]
        found = self.json.get(name)
        if found is None:
            return await refuse(400, "UnknownOperationException",
                                f"The local endpoint does not serve {name} (target {target}).")
        service, pool, max_waiting = found
        if self._waiting[name] >= max_waiting:
            return await refuse(400, "TooManyRequestsException", "Too many requests are waiting for this service; "
                                "try again.")
        self._waiting[name] += 1
        try:
            request = HttpRequest(scope["method"],
                                  (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0],
                                  scope.get("query_string", b"").decode("latin-1"),
                                  [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]], body)
            status, headers, out = await asyncio.get_running_loop().run_in_executor(
                pool, service.handle, target, body, request)
        finally:
            self._waiting[name] -= 1
        ctype = headers.pop("content-type")
        await send_response(send, status, out, {**headers, **cors}, ctype)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            msg: dict[str, Any] = await receive()
            if msg["type"] == "lifespan.startup":
                self._tasks = [asyncio.create_task(loop()) for loop in self.background]
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                for task in self._tasks:
                    task.cancel()
                await asyncio.gather(*self._tasks, return_exceptions=True)
                for close in self.on_shutdown_async:
                    await close()
                for stop in self.on_shutdown:
                    stop()
                await send({"type": "lifespan.shutdown.complete"})
                return
