"""Where the edge fetches what it does not have: a bucket through origin access control, an app's REST API, or a
web server.

A bucket and an API are served by the same system, so the edge hands them the request in-process, through the
front door every client goes through: a bucket's request is signed with SigV4 as ``cloudfront.amazonaws.com`` for
the distribution, and the S3 endpoint checks that signature and the bucket's policy as it would anybody's. A web
server is reached over HTTP(S). Either way the answer's body is written as it comes: in memory while it is small,
then into a file of the cache's folder.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from ....clock import Clock
from ...infra.asgi import Receive, Scope, Send
from ...protocols.sigv4 import Credential, sign_headers
from .cache import DISK_FROM, Body

Asgi = Callable[[Scope, Receive, Send], Awaitable[None]]
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                        "trailers", "transfer-encoding", "upgrade", "proxy-connection", "content-length"})


class OriginError(Exception):
    """The origin could not be reached, or did not answer in time: the edge answers ``status`` itself."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


class TooLarge(Exception):
    """An origin's answer larger than the edge takes (its disk cache's size)."""


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lowercased names, hop-by-hop ones gone
    body: Body


class Collector:
    """An answer's body as it arrives: bytes in memory up to ``DISK_FROM``, then a file made by ``new_file``; past
    ``limit`` bytes, ``TooLarge``."""

    def __init__(self, new_file: Callable[[], Path], limit: int) -> None:
        self._new_file, self.limit = new_file, limit
        self._parts: list[bytes] = []
        self._size = 0
        self._file: Any = None
        self.path: Path | None = None
        self.too_large = False

    def write(self, data: bytes) -> None:
        if not data:
            return
        self._size += len(data)
        if self._size > self.limit:
            self.too_large = True  # checked after the origin is done too: an origin may swallow what send raised
            raise TooLarge(f"the origin's answer is larger than {self.limit:,} bytes")
        if self._file is None and self._size < DISK_FROM:
            self._parts.append(data)
            return
        if self._file is None:
            self.path = self._new_file()
            self._file = open(self.path, "wb")  # noqa: SIM115 (closed in done or discard)
            for part in self._parts:
                self._file.write(part)
            self._parts = []
        self._file.write(data)

    def done(self) -> Body:
        if self._file is None:
            return Body(self._size, data=b"".join(self._parts))
        self._file.close()
        return Body(self._size, file=self.path)

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            with contextlib.suppress(OSError):
                assert self.path is not None
                self.path.unlink()


_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # what no header value may hold (a line break splits the answer)
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")


def _kept_headers(raw: list[tuple[bytes, bytes]] | list[tuple[str, str]]) -> dict[str, str]:
    """An origin's headers as kept (names lowercased, hop-by-hop ones gone); ``OriginError`` 502 for a header no
    HTTP answer may carry (a control character, a line break), which would otherwise be cached and sent on."""
    out: dict[str, str] = {}
    for k, v in raw:
        name = (k.decode("latin-1") if isinstance(k, bytes) else k).lower()
        value = v.decode("latin-1") if isinstance(v, bytes) else v
        if not _TOKEN.match(name) or _UNSAFE.search(value):
            raise OriginError(502, "the origin sent a header no answer may carry")
        if name not in HOP_BY_HOP:  # several Set-Cookie lines are kept apart (joined by a newline, never in one)
            out[name] = f"{out[name]}{chr(10) if name == 'set-cookie' else ', '}{value}" if name in out else value
    return out


class InProcess:
    """An origin served by this system's front door (a bucket, a REST API): ``prefix`` is put before the viewer's
    path (``/<bucket>``, ``/_api/<app>/<api>``); ``credential`` (origin access control) signs each request."""

    def __init__(self, door: Asgi, endpoint: str, prefix: str, clock: Clock, region: str,
                 credential: Credential | None = None, strip: str = "") -> None:
        self.door, self.prefix, self.clock, self.region, self.credential = door, prefix, clock, region, credential
        self.strip = strip
        parts = urlsplit(endpoint)
        self.host = parts.netloc
        self.server = (parts.hostname or "127.0.0.1", parts.port or 443)

    def path_for(self, raw_path: str) -> str:
        if self.strip and (raw_path == self.strip or raw_path.startswith(self.strip + "/")):
            raw_path = raw_path[len(self.strip):] or "/"
        return self.prefix + raw_path

    async def fetch(self, method: str, raw_path: str, query: str, headers: dict[str, str], body: bytes,
                    collector: Collector, timeout: float = 30.0) -> Answer:
        path = self.path_for(raw_path)
        full = path + (f"?{query}" if query else "")
        if self.credential is not None:
            payload = hashlib.sha256(body).hexdigest()
            headers = sign_headers(self.credential, method, self.host, full, {k: v for k, v in headers.items()
                                                                              if k != "authorization"},
                                   self.region, "s3", self.clock.now(), payload)
        else:
            headers = {**headers, "host": self.host}
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "http_version": "1.1",
                 "method": method, "scheme": "https", "path": unquote(path), "raw_path": path.encode("latin-1"),
                 "query_string": query.encode("latin-1"), "root_path": "",
                 "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
                 "server": self.server, "client": ("127.0.0.1", 0), "extensions": {}}
        sent = False
        start: dict[str, Any] = {}

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()  # nothing more: the request stays open until the answer is done
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                collector.write(message.get("body", b""))

        try:
            await asyncio.wait_for(self.door(scope, receive, send), timeout)
        except TimeoutError:
            collector.discard()
            raise OriginError(504, "the origin did not answer in time") from None
        except TooLarge as exc:
            collector.discard()
            raise OriginError(502, str(exc)) from None
        except Exception as exc:  # the origin broke: the viewer gets a 502, as from CloudFront
            collector.discard()
            raise OriginError(502, f"the origin failed: {type(exc).__name__}") from None
        if not start or collector.too_large:
            collector.discard()
            raise OriginError(502, "the origin's answer is larger than the edge takes" if collector.too_large
                              else "the origin sent no answer")
        try:
            headers = _kept_headers(start.get("headers", []))
        except OriginError:
            collector.discard()
            raise
        if self.credential is not None:
            # The local S3 endpoint sandboxes the documents it serves itself (it shares its origin with the APIs and
            # operations); S3 keeps no such header on an object, and the edge serves from an origin of its own.
            headers.pop("content-security-policy", None)
        return Answer(start["status"], headers, collector.done())


class Http:
    """A web server over HTTP(S); the local CA is trusted besides the system's, so a local origin over TLS works."""

    def __init__(self, url: str, timeout: float, ca_file: Path | None) -> None:
        parts = urlsplit(url)
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.origin_path = parts.path.rstrip("/")
        self.host = parts.netloc
        context = ssl.create_default_context()
        if ca_file is not None and ca_file.exists():
            context.load_verify_locations(cafile=str(ca_file))
        self.client = httpx.AsyncClient(verify=context, timeout=httpx.Timeout(timeout, connect=10.0),
                                        follow_redirects=False, limits=httpx.Limits(max_connections=64))
        self.timeout = timeout

    async def fetch(self, method: str, raw_path: str, query: str, headers: dict[str, str], body: bytes,
                    collector: Collector, timeout: float = 30.0) -> Answer:
        url = self.base + self.origin_path + raw_path + (f"?{query}" if query else "")
        sent = [(k.encode("latin-1", "replace"), v.encode("latin-1", "replace"))
                for k, v in {**headers, "host": self.host}.items()]  # bytes as they came: httpx would want ASCII
        try:
            request = self.client.build_request(method, httpx.URL(url), headers=sent, content=body or None)
            response = await self.client.send(request, stream=True)
            try:
                async for piece in response.aiter_raw():
                    collector.write(piece)
            finally:
                await response.aclose()
        except httpx.TimeoutException:
            collector.discard()
            raise OriginError(504, "the origin did not answer in time") from None
        except TooLarge as exc:
            collector.discard()
            raise OriginError(502, str(exc)) from None
        except Exception as exc:  # unreachable, refused, a broken answer: the viewer gets the edge's 502
            collector.discard()
            raise OriginError(502, f"the origin could not be reached: {type(exc).__name__}") from None
        try:
            headers = _kept_headers(response.headers.raw)
        except OriginError:
            collector.discard()
            raise
        return Answer(response.status_code, headers, collector.done())

    async def close(self) -> None:
        await self.client.aclose()


Origin = InProcess | Http
