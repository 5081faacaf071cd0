"""One distribution's edge: viewers' requests matched to behaviors, answered from the cache or its origins.

Per request, as CloudFront does (EDGE.md beside the architecture gathers the rules):

- ``/`` is the default root object; the first behavior whose path pattern fits decides the origin and the cache
  policy; a method the behavior does not allow is refused 403.
- GET and HEAD are looked up by cache key. A fresh copy is a ``Hit``; a stale one is revalidated with the origin
  (``If-None-Match`` / ``If-Modified-Since``), and a 304 makes it a ``RefreshHit``; within ``stale-while-revalidate``
  the stale copy is served at once while it is fetched again; within ``stale-if-error``, or on an origin's 5xx,
  the stale copy is served instead of the error. Requests for one key that arrive while it is being fetched wait
  for that fetch (collapsing) and are counted as hits.
- What is kept is the origin's whole answer; a ``Range`` is cut from it (206 with exactly those bytes; a range
  past the end 416, never kept; several or invalid ranges the whole answer, 200). A compressible answer of 1,000
  to 10,000,000 bytes is sent br or gzip to viewers that accept it, each made once and kept beside the original.
- An origin error with an error response declared gets that page (and status); errors are kept 10 s, or as
  declared.
- Every answer carries ``X-Cache``, ``Via``, ``X-Amz-Cf-Pop``, ``X-Amz-Cf-Id`` (and ``Age`` when from the cache),
  and the response headers policy's security headers (HSTS, ...), as the synthesized distribution sends.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hashlib
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import brotli

from ....clock import Clock
from ....errors import BadRequest
from ....graph.edge import Behavior, Distribution
from ...infra.asgi import Receive, Scope, Send
from ...protocols.principals import ACCOUNT
from . import policy as rules
from .cache import Body, EdgeCache, Entry
from .logs import AccessLog, LogLine
from .origins import Answer, Collector, InProcess, Origin, OriginError

READ = frozenset({"GET", "HEAD", "OPTIONS"})
ALL = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"})
MAX_URL = 8192
MAX_KEY = 16 * 1024  # an answer whose key is longer (a huge header or cookie in it) is served but not kept
MAX_BODY = 10 * 1024 * 1024  # what the edge passes on to an origin in one request body (API Gateway's own limit)
SECURITY_HEADERS = (("strict-transport-security", "max-age=63072000; includeSubDomains; preload"),
                    ("x-content-type-options", "nosniff"), ("x-frame-options", "DENY"),
                    ("referrer-policy", "strict-origin-when-cross-origin"), ("x-xss-protection", "1; mode=block"))
_CONDITIONS = frozenset({"if-none-match", "if-modified-since", "if-match", "if-unmodified-since", "if-range", "range"})
# the response headers policy's, which replace an origin's of the same name (as its override does on AWS)
_POLICY_HEADERS = frozenset(k for k, _ in SECURITY_HEADERS)
# viewer headers never passed to an origin (the edge speaks for itself on these)
_NOT_FORWARDED = frozenset({"host", "connection", "keep-alive", "te", "trailer", "transfer-encoding", "upgrade",
                            "proxy-connection", "proxy-authorization", "content-length", "if-none-match",
                            "if-modified-since", "if-match", "if-unmodified-since", "if-range", "range",
                            "accept-encoding", "via", "x-forwarded-for", "expect"})
# what a request carries that the hit path leaves to the usual way (a range, a condition, a body)
_SLOW_HEADERS = frozenset({b"range", b"if-none-match", b"if-modified-since", b"if-match", b"if-unmodified-since",
                           b"if-range", b"content-length", b"transfer-encoding", b"expect", b"connection"})
# what of an origin's answer the edge sets itself
_OWN_HEADERS = frozenset({"age", "x-cache", "via", "x-amz-cf-pop", "x-amz-cf-id", "content-length"})


def distribution_id(app: str, name: str) -> str:
    """A CloudFront-shaped id (``E`` and 13 upper-case letters and digits), the same for an app's distribution in
    every run."""
    digest = base64.b32encode(hashlib.sha256(f"{app}/{name}".encode()).digest()).decode()
    return "E" + digest[:13]


def distribution_arn(app: str, name: str) -> str:
    """The ARN of an app's distribution, which its buckets' policies name (``AWS:SourceArn``)."""
    return f"arn:aws:cloudfront::{ACCOUNT}:distribution/{distribution_id(app, name)}"


def error_page(status: int, message: str, cf_id: str) -> bytes:
    """The HTML CloudFront answers with when it cannot serve a request itself."""
    return (f'<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN" "http://www.w3.org/TR/html4/loose.dtd">'
            f'<HTML><HEAD><META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=iso-8859-1">'
            f"<TITLE>ERROR: The request could not be satisfied</TITLE></HEAD><BODY>"
            f"<H1>{status} ERROR</H1><H2>The request could not be satisfied.</H2><HR noshade size=\"1px\">"
            f"{message}<BR clear=\"all\"><HR noshade size=\"1px\"><PRE>Generated by cloudfront (CloudFront)\n"
            f"Request ID: {cf_id}</PRE></BODY></HTML>").encode()


@dataclass
class Counters:
    requests: int = 0
    hits: int = 0
    refresh_hits: int = 0
    misses: int = 0
    errors: int = 0
    collapsed: int = 0
    origin_requests: int = 0
    bytes_to_viewers: int = 0
    bytes_from_origin: int = 0
    stale_served: int = 0


@dataclass
class Fetch:
    """One fetch from the origin, which every request for its key that comes meanwhile waits for."""

    task: asyncio.Task[Fetched]
    users: int = 0


@dataclass
class Fetched:
    """What a fetch came back with: the entry to serve (kept in the cache or not), and how to report it."""

    entry: Entry
    result: str  # Miss | RefreshHit | Hit (a stale copy on an origin error) | Error
    kept: bool
    users: int = field(default=0)


@dataclass
class Viewer:
    """What a request asks, as the edge reads it."""

    method: str
    raw_path: str  # after the default root object
    query: str
    headers: dict[str, list[str]]
    client: str
    started: float
    cf_id: str
    uri: str = ""  # the path as asked for (the access log's), when the default root object stands for it

    def first(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name`` (lowercase), or ``default``."""
        values = self.headers.get(name)
        return values[0] if values else default


class Edge:
    """A distribution's edge; ``origins[i]`` serves behavior ``i`` of ``Distribution.all_behaviors``."""

    def __init__(self, app: str, decl: Distribution, origins: list[Origin], clock: Clock, folder: Path,
                 pop: str, log: AccessLog | None = None) -> None:
        self.app, self.decl, self.origins, self.clock, self.pop, self.log = app, decl, origins, clock, pop, log
        self.behaviors = decl.all_behaviors
        self.id = distribution_id(app, decl.name)
        self.arn = distribution_arn(app, decl.name)
        self.domain = f"d{hashlib.sha256(self.id.encode()).hexdigest()[:13]}.cloudfront.net"
        self.via = f"1.1 {hashlib.sha256(self.id.encode()).hexdigest()[:32]}.cloudfront.net (CloudFront)"
        self.url = ""  # set once its port is bound
        self.cache = EdgeCache(folder, decl.cache_bytes, decl.disk_bytes)
        self.fetches: dict[str, Fetch] = {}
        self.counters = Counters()
        self.errors = {e.status: e for e in decl.error_responses}
        # the recent invalidations, numbered: what a fetch begun before one brings back is not kept when it covers it
        self.invalidations: list[tuple[int, float, frozenset[str], tuple[str, ...]]] = []
        self._invalidation_seq = 0
        self._cf_ids = self._invalidation_ids = 0
        self._behavior_of: dict[str, int] = {}
        self._compressing: dict[tuple[int, str], asyncio.Future[Body]] = {}  # compressions under way
        self._cf_prefix = secrets.token_urlsafe(30)[:40]

    # -- the viewer's side

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.counters.requests += 1
        self._cf_ids += 1
        cf_id = f"{self._cf_prefix}{self._cf_ids:016x}=="
        raw = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        raw_path = raw.split("?", 1)[0]
        query = scope.get("query_string", b"").decode("latin-1")
        headers: dict[str, list[str]] = {}
        for k, v in scope["headers"]:
            headers.setdefault(k.decode("latin-1"), []).append(v.decode("latin-1"))
        client = scope.get("client") or ("", 0)
        viewer = Viewer(scope["method"], raw_path, query, headers, client[0], time.monotonic(), cf_id)
        if self.decl.default_root_object and raw_path == "/":
            viewer.raw_path, viewer.uri = "/" + self.decl.default_root_object, "/"
        if len(raw_path) + len(query) > MAX_URL:
            return await self._own_error(send, viewer, 414, "The URL is too long.")
        if not raw_path.startswith("/"):
            return await self._own_error(send, viewer, 400, "Bad request.")
        index = self._behavior_index(raw_path)
        behavior = self.behaviors[index]
        allowed = READ if behavior.methods == "read" else ALL
        if viewer.method not in allowed:
            return await self._own_error(send, viewer, 403, "This distribution is not configured to allow the HTTP "
                                         "request method that was used for this request. The distribution supports "
                                         "only cachable requests.")
        if viewer.method in ("GET", "HEAD") and behavior.cache.caching:
            await self._cached(send, viewer, index, behavior)
        else:
            await self._passed(receive, send, viewer, index, behavior)

    async def _passed(self, receive: Receive, send: Send, viewer: Viewer, index: int, behavior: Behavior) -> None:
        """A request nothing is cached for (a POST, a behavior that caches nothing): to the origin and back."""
        declared = (viewer.headers.get("content-length") or [""])[0]
        try:
            body = await _read_body(receive, declared)
        except ValueError:
            return await self._own_error(send, viewer, 413, "The request body is too large.")
        except ConnectionAbortedError:
            return
        parts = rules.key_parts(behavior.cache, viewer.query, viewer.headers)
        try:
            answer = await self._from_origin(index, behavior, viewer, parts, body=body)
        except OriginError as exc:
            return await self._own_error(send, viewer, exc.status, exc.message)
        entry = Entry(viewer.raw_path, answer.status, answer.headers, answer.body, self.clock.now(), 0.0)
        try:
            await self._send(send, viewer, entry, "Miss", from_cache=False)
        finally:
            entry.discard()

    async def _cached(self, send: Send, viewer: Viewer, index: int, behavior: Behavior) -> None:
        parts = rules.key_parts(behavior.cache, viewer.query, viewer.headers)
        key = rules.cache_key(index, viewer.raw_path, parts)
        now = self.clock.now()
        entry = self.cache.get(key)
        compress = behavior.cache.compress
        if entry is not None and now < entry.expires:  # a kept error is reported as one, as CloudFront does
            return await self._send(send, viewer, entry, "Hit" if entry.status < 400 else "Error", from_cache=True,
                                    key=key, compress=compress)
        if entry is not None and now < entry.expires + entry.stale_while_revalidate:
            self._share(key, lambda: self._fetch(key, index, behavior, viewer, parts, entry))  # in the background
            self.counters.stale_served += 1
            return await self._send(send, viewer, entry, "Hit", from_cache=True, key=key, compress=compress)
        fetch, joined = self._share(key, lambda: self._fetch(key, index, behavior, viewer, parts, entry))
        fetch.users += 1
        try:
            fetched = await asyncio.shield(fetch.task)
            fetched.users += 1
        finally:
            fetch.users -= 1
        try:
            result = "Hit" if joined and fetched.entry.status < 400 else fetched.result
            if joined:
                self.counters.collapsed += 1
            await self._send(send, viewer, fetched.entry, result, from_cache=result != "Miss" or joined,
                             key=key if fetched.kept else None, compress=compress)
        finally:
            fetched.users -= 1
            if not fetched.kept and fetched.users == 0:
                fetched.entry.discard()

    def _share(self, key: str, make: Callable[[], Any]) -> tuple[Fetch, bool]:
        """The fetch of ``key`` under way, joined; or a new one, started."""
        found = self.fetches.get(key)
        if found is not None:
            return found, True
        task = asyncio.get_running_loop().create_task(make())
        fetch = self.fetches[key] = Fetch(task)

        def settle(_: object) -> None:
            if self.fetches.get(key) is fetch:
                self.fetches.pop(key)
            if task.cancelled():
                return
            if task.exception() is not None:  # retrieved, so it is not reported as never retrieved
                return
            fetched = task.result()
            if not fetched.kept and fetch.users == 0 and fetched.users == 0:  # nobody waits for it (a background
                fetched.entry.discard()                                        # refresh, an error page not kept)
        task.add_done_callback(settle)
        return fetch, False

    async def _fetch(self, key: str, index: int, behavior: Behavior, viewer: Viewer, parts: rules.KeyParts,
                     stale: Entry | None) -> Fetched:
        """Fetch ``key`` from the origin (a conditional request when a stale copy is at hand) and keep what may be."""
        started, seq = self.clock.now(), self._invalidation_seq
        conditional = {}
        if stale is not None and stale.status == 200:
            if "etag" in stale.headers:
                conditional["if-none-match"] = stale.headers["etag"]
            if "last-modified" in stale.headers:
                conditional["if-modified-since"] = stale.headers["last-modified"]
        try:
            answer = await self._from_origin(index, behavior, viewer, parts, extra=conditional)
        except OriginError as exc:
            if stale is not None and self._stale_serves(stale, started, answered=False):
                self.counters.stale_served += 1
                return Fetched(stale, "Hit", kept=True)
            body = error_page(exc.status, exc.message, viewer.cf_id)
            entry = Entry(viewer.raw_path, exc.status, {"content-type": "text/html", "server": "CloudFront"},
                          Body(len(body), data=body), started, started)
            if stale is not None:  # the stale copy stays (for the next try, or stale-while-revalidate)
                return Fetched(entry, "Error", kept=False)
            life = rules.lifetime(exc.status, {}, behavior.cache, started, self._error_ttl(exc.status))
            return self._keep(key, entry, life, seq, "Error")
        now = self.clock.now()
        if answer.status == 304 and stale is not None:
            answer.body.discard()
            merged = {**stale.headers, **{k: v for k, v in answer.headers.items() if k in (
                "cache-control", "expires", "etag", "last-modified", "date")}}
            life = rules.lifetime(200, merged, behavior.cache, now)
            if life.ttl is None:  # served this once, and kept no more (let go once it is sent)
                self.cache.remove(key, stale)
                return Fetched(stale, "RefreshHit", kept=False)
            stale.headers, stale.stored, stale.wire = merged, now, {}
            stale.expires = now + life.ttl
            stale.stale_while_revalidate, stale.stale_if_error = life.stale_while_revalidate, life.stale_if_error
            return Fetched(stale, "RefreshHit", kept=True)
        if answer.status >= 500 and stale is not None and self._stale_serves(stale, started, answered=True):
            answer.body.discard()
            self.counters.stale_served += 1
            return Fetched(stale, "Hit", kept=True)
        entry = Entry(viewer.raw_path, answer.status, answer.headers, answer.body, now, now)
        life = rules.lifetime(answer.status, answer.headers, behavior.cache, now,
                              self._error_ttl(answer.status) if answer.status >= 400 else None)
        return self._keep(key, entry, life, seq, "Miss" if answer.status < 400 else "Error")

    @staticmethod
    def _stale_serves(stale: Entry, now: float, answered: bool) -> bool:
        """Whether a stale copy is served instead of an origin's failure: an origin that ``answered`` with a 5xx gets
        its expired copy served while the edge still holds it, as CloudFront does; an origin that could not be
        reached (or timed out), only within the copy's ``stale-if-error``."""
        return stale.status < 400 and (answered or now < stale.expires + stale.stale_if_error)

    def _keep(self, key: str, entry: Entry, life: rules.Lifetime, seq: int, result: str) -> Fetched:
        """Keep what a fetch begun after invalidation ``seq`` brought, for as long as ``life`` says."""
        if life.ttl is None or len(key) > MAX_KEY or self._invalidated_since(entry.path, seq):
            self.cache.drop(key)  # what was there is older than what the origin just said
            return Fetched(entry, result, kept=False)
        entry.expires = entry.stored + life.ttl
        entry.stale_while_revalidate, entry.stale_if_error = life.stale_while_revalidate, life.stale_if_error
        kept = self.cache.put(key, entry)
        return Fetched(entry, result, kept=kept)

    def _error_ttl(self, status: int) -> float | None:
        found = self.errors.get(status)
        return None if found is None else float(found.ttl)

    def _invalidated_since(self, path: str, seq: int) -> bool:
        return any(n > seq and rules.covered(path, exact, prefixes) for n, _, exact, prefixes in self.invalidations)

    async def _from_origin(self, index: int, behavior: Behavior, viewer: Viewer, parts: rules.KeyParts,
                           extra: dict[str, str] | None = None, body: bytes = b"") -> Answer:
        origin = self.origins[index]
        headers: dict[str, str] = {}
        forward_all = isinstance(origin, InProcess) and origin.credential is None or not behavior.cache.caching
        passed = not (viewer.method in ("GET", "HEAD") and behavior.cache.caching)  # nothing kept: the origin
        skipped = _NOT_FORWARDED - _CONDITIONS if passed else _NOT_FORWARDED  # answers a condition or range itself
        if forward_all:  # an API, or a web server behind a behavior that keeps nothing: every viewer header but
            for name, values in viewer.headers.items():  # Host (AllViewerExceptHostHeader), Authorization only
                if name not in skipped and (name != "authorization" or viewer.method not in ("GET", "HEAD")
                                                   or name in {h.lower() for h in behavior.cache.headers}):
                    headers[name] = ", ".join(values) if name != "cookie" else "; ".join(values)
        else:  # a bucket, or a web server behind a caching behavior: what the cache key holds, nothing else
            headers.update({k: v for k, v in parts.headers if not (k == "authorization" and isinstance(
                origin, InProcess))})  # (a bucket gets the edge's signature instead)
            if parts.cookies:
                headers["cookie"] = "; ".join(f"{k}={v}" for k, v in parts.cookies)
        # the edge compresses for viewers itself: an origin sends the bytes as they are
        headers["accept-encoding"] = "identity"
        forwarded = viewer.first("x-forwarded-for")
        headers["x-forwarded-for"] = f"{forwarded}, {viewer.client}" if forwarded else viewer.client
        headers["via"] = self.via
        headers["x-amz-cf-id"] = viewer.cf_id
        headers.setdefault("user-agent", "Amazon CloudFront")
        headers.update(extra or {})
        if viewer.method in ("GET", "HEAD") and behavior.cache.caching:
            method, query = "GET", "&".join(f"{k}={v}" for k, v in parts.query)
        else:
            method, query = viewer.method, viewer.query
        self.counters.origin_requests += 1
        timeout = getattr(origin, "timeout", 30.0)
        collector = Collector(self.cache.new_file, max(self.decl.disk_bytes, MAX_BODY))  # what the edge can hold
        answer = await origin.fetch(method, viewer.raw_path, query, headers, body, collector, timeout)
        self.counters.bytes_from_origin += answer.body.size
        return answer

    # -- the hit path, at the protocol: a fresh answer in memory, sent in one write with no request object made

    def fast_hit(self, method: bytes, url: bytes, headers: list[tuple[bytes, bytes]], client: str,
                 date: list[tuple[bytes, bytes]]) -> bytes | None:
        """The whole answer to a GET or HEAD that is a plain hit (fresh, in memory, status 200, no range or
        condition, its compressed copy made if the viewer takes one); None for anything else, which then goes the
        usual way. ``headers`` as the parser gives them (lowercased names); ``date`` the server's Date header."""
        accept = b""
        for name, value in headers:
            if name in _SLOW_HEADERS:
                return None
            if name == b"accept-encoding" and not accept:  # the first, as the usual way reads it
                accept = value
        raw_path, _, query = url.partition(b"?")
        try:
            path, qs = raw_path.decode("ascii"), query.decode("ascii")
        except UnicodeDecodeError:
            return None
        if not path.startswith("/") or len(url) > MAX_URL:
            return None
        asked = path
        index = self._behavior_index(asked)  # matched on the path as asked for, as the usual way does
        if self.decl.default_root_object and path == "/":
            path = "/" + self.decl.default_root_object
        behavior = self.behaviors[index]
        policy = behavior.cache
        if not policy.caching:
            return None
        if policy.headers or policy.cookies != "none" or policy.query_strings != "none":
            named: dict[str, list[str]] = {}
            for name, value in headers:
                named.setdefault(name.decode("latin-1"), []).append(value.decode("latin-1"))
            key = rules.cache_key(index, path, rules.key_parts(policy, qs, named))
        else:
            key = f"{index}\n{path}"
        entry = self.cache.get(key)
        now = self.clock.now()
        if entry is None or entry.status != 200 or now >= entry.expires or entry.body.data is None:
            return None
        coding = ""
        if policy.compress and accept:
            if entry.compressible is None:
                entry.compressible = rules.compressible(entry.headers.get("content-type"), entry.body.size,
                                                        entry.headers.get("content-encoding"))
            if entry.compressible:
                coding = rules.accepted_encoding(accept.decode("latin-1")) or ""
        body = entry.variants.get(coding) if coding else entry.body
        if body is None or body.data is None:
            return None  # its compressed copy is made the usual way first
        head = entry.wire.get(coding)
        if head is None:
            head = entry.wire[coding] = self._wire_head(entry, coding, body.size)
        self.counters.requests += 1
        self.counters.hits += 1
        self._cf_ids += 1
        cf_id = f"{self._cf_prefix}{self._cf_ids:016x}=="
        sent = 0 if method == b"HEAD" else body.size
        self.counters.bytes_to_viewers += sent
        if self.log is not None:
            named_all: dict[str, list[str]] = {}
            for k, v in headers:
                named_all.setdefault(k.decode("latin-1"), []).append(v.decode("latin-1"))
            viewer = Viewer(method.decode(), path, qs, named_all, client, time.monotonic(), cf_id, asked)
            self.log.add(self._line(viewer, 200, sent, "Hit", entry.headers.get("content-type", "-"), body.size))
        own = b"".join(b"%s: %s\r\n" % pair for pair in date)
        tail = b"age: %d\r\nx-amz-cf-id: %s\r\n\r\n" % (max(0, int(now - entry.stored)), cf_id.encode())
        return head + own + tail + (body.data if sent else b"")

    def _behavior_index(self, path: str) -> int:
        """The first behavior whose pattern fits ``path`` (remembered for the paths seen most)."""
        found = self._behavior_of.get(path)
        if found is None:
            found = next(i for i, b in enumerate(self.behaviors) if not b.path or rules.path_matches(b.path, path))
            if len(path) <= 256:  # (at most 10,000 short paths: a few MB whatever viewers ask for)
                if len(self._behavior_of) >= 10_000:
                    self._behavior_of.clear()
                self._behavior_of[path] = found
        return found

    def _wire_head(self, entry: Entry, coding: str, length: int) -> bytes:
        """The status line and the headers a hit on ``entry`` always carries (all but Date, Age and the request
        id), as ``_send`` makes them."""
        headers = {k: v for k, v in entry.headers.items() if k not in _OWN_HEADERS and k not in _POLICY_HEADERS}
        if coding:
            _encoded(headers, coding)
        headers.setdefault("accept-ranges", "bytes")
        lines = [f"{k}: {v}" for k, v in _pairs(headers)]
        lines += ["x-cache: Hit from cloudfront", f"via: {self.via}", f"x-amz-cf-pop: {self.pop}",
                  *(f"{k}: {v}" for k, v in SECURITY_HEADERS), f"content-length: {length}"]
        return ("HTTP/1.1 200 OK\r\n" + "".join(line + "\r\n" for line in lines)).encode("latin-1", "replace")

    # -- answers

    async def _send(self, send: Send, viewer: Viewer, entry: Entry, result: str, from_cache: bool,
                    key: str | None = None, compress: bool = False) -> None:
        """Answer with ``entry`` (kept under ``key``, if it is kept); ``compress``: the behavior compresses."""
        unkept: Body | None = None  # a compressed copy made for this answer alone
        status, body = entry.status, entry.body
        headers = {k: v for k, v in entry.headers.items() if k not in _OWN_HEADERS}  # (and the policy's, below)
        error = self.errors.get(status)
        if error is not None and error.page is not None and viewer.raw_path != error.page:
            page = await self._page(viewer, error.page)
            if page is not None:
                status, body = error.response_status or status, page.body
                headers = {k: v for k, v in page.headers.items() if k in ("content-type", "last-modified", "etag")}
        elif error is not None and error.response_status is not None:
            status = error.response_status
        first, last = 0, body.size - 1
        if status == 200 and "range" in viewer.headers and viewer.method in ("GET", "HEAD"):
            wanted = rules.single_range(viewer.headers["range"][0], body.size)
            if wanted == "unsatisfiable":
                status, body = 416, Body(0, data=b"")
                headers = {"content-range": f"bytes */{entry.body.size}", "content-type": headers.get(
                    "content-type", "application/octet-stream")}
                first, last = 0, -1
            elif isinstance(wanted, tuple):
                status, (first, last) = 206, wanted
                headers["content-range"] = f"bytes {first}-{last}/{body.size}"
        elif status == 200 and self._not_modified(viewer, headers):
            status, body, first, last = 304, Body(0, data=b""), 0, -1
        elif compress and status == 200 and entry.status == 200 and (coding := self._coding(viewer, entry, headers)):
            variant = entry.variants.get(coding) or await self._compressed(entry, coding, key)
            if entry.variants.get(coding) is not variant:
                unkept = variant  # made for this answer alone: let go once it is sent
            body, first, last = variant, 0, variant.size - 1
            _encoded(headers, coding)
        if status == 200 and "accept-ranges" not in headers and entry.status == 200:
            headers["accept-ranges"] = "bytes"
        now = self.clock.now()
        own = [("x-cache", f"{result} from cloudfront"), ("via", self.via), ("x-amz-cf-pop", self.pop),
               ("x-amz-cf-id", viewer.cf_id)]
        if from_cache and result in ("Hit", "RefreshHit"):
            own.append(("age", str(max(0, int(now - entry.stored)))))
        length = max(0, last - first + 1)
        out = [(k.encode("latin-1"), v.encode("latin-1", "replace")) for k, v in _pairs(headers)
               if k not in _POLICY_HEADERS]
        out += [(k.encode(), v.encode("latin-1", "replace")) for k, v in (*own, *SECURITY_HEADERS)]
        out.append((b"content-length", str(length).encode()))
        try:
            await send({"type": "http.response.start", "status": status, "headers": out})
            sent = 0
            if viewer.method != "HEAD" and length and status not in (204, 304):
                if body.data is not None:
                    await send({"type": "http.response.body", "body": body.read(None, first, last)})
                    sent = length
                else:
                    fd = body.open()
                    try:
                        loop = asyncio.get_running_loop()
                        pieces = body.chunks(fd, first, last, 1024 * 1024)
                        while (piece := await loop.run_in_executor(None, next, pieces, None)) is not None:
                            await send({"type": "http.response.body", "body": piece, "more_body": True})
                            sent += len(piece)
                    finally:
                        if fd is not None:
                            os.close(fd)
                    await send({"type": "http.response.body", "body": b""})
            else:
                await send({"type": "http.response.body", "body": b""})
        finally:
            if unkept is not None:
                unkept.discard()
        self._count(result)
        self.counters.bytes_to_viewers += sent
        if self.log is not None:
            self.log.add(self._line(viewer, status, sent, result, headers.get("content-type", "-"), length))

    def _count(self, result: str) -> None:
        c = self.counters
        if result == "Hit":
            c.hits += 1
        elif result == "RefreshHit":
            c.refresh_hits += 1
        elif result == "Miss":
            c.misses += 1
        else:
            c.errors += 1

    @staticmethod
    def _not_modified(viewer: Viewer, headers: dict[str, str]) -> bool:
        """Whether a viewer's own conditional request is answered 304 from what the edge holds."""
        tags = viewer.headers.get("if-none-match")
        if tags:
            etag = headers.get("etag", "").removeprefix("W/")
            return bool(etag) and any(t.strip().removeprefix("W/") in (etag, "*") for t in ",".join(tags).split(","))
        since = rules.http_date(viewer.first("if-modified-since"))
        if since is None:
            return False
        modified = rules.http_date(headers.get("last-modified"))
        return modified is not None and modified <= since

    @staticmethod
    def _coding(viewer: Viewer, entry: Entry, headers: dict[str, str]) -> str | None:
        """What the answer is compressed with for this viewer (br or gzip), if it is compressed."""
        if not rules.compressible(headers.get("content-type"), entry.body.size, headers.get("content-encoding")):
            return None
        return rules.accepted_encoding(viewer.first("accept-encoding"))

    async def _compressed(self, entry: Entry, coding: str, key: str | None) -> Body:
        """The entry's body compressed with ``coding``, made once however many viewers ask for it at the same time
        (off the loop when it is big), and kept beside it when the entry is kept (under ``key``)."""
        making = self._compressing.get((id(entry), coding))
        if making is None:
            making = self._compressing[(id(entry), coding)] = asyncio.ensure_future(
                self._compress(entry, coding, key))
            making.add_done_callback(lambda _: self._compressing.pop((id(entry), coding), None))
        return await asyncio.shield(making)

    async def _compress(self, entry: Entry, coding: str, key: str | None) -> Body:
        fd = entry.body.open()

        def make() -> bytes:
            data = entry.body.read(fd)
            return brotli.compress(data, quality=5) if coding == "br" else gzip.compress(data, 6, mtime=0)
        try:
            data = make() if entry.body.size < 64 * 1024 else \
                await asyncio.get_running_loop().run_in_executor(None, make)
        finally:
            if fd is not None:
                os.close(fd)
        if entry.on_disk:  # an answer kept on disk keeps its compressed copies there too (its tier's bound)
            path = self.cache.new_file()
            await asyncio.get_running_loop().run_in_executor(None, path.write_bytes, data)
            body = Body(len(data), file=path)
        else:
            body = Body(len(data), data=data)
        if key is not None and self.cache.get(key) is entry:
            self.cache.add_variant(key, coding, body)
        return body

    async def _page(self, viewer: Viewer, path: str) -> Entry | None:
        """An error response's page, fetched through the distribution as any GET (and kept as one)."""
        page_viewer = Viewer("GET", path, "", {}, viewer.client, viewer.started, viewer.cf_id)
        index = self._behavior_index(path)
        behavior = self.behaviors[index]
        parts = rules.key_parts(behavior.cache, "", {})
        key = rules.cache_key(index, path, parts)
        entry = self.cache.get(key)
        if entry is not None and self.clock.now() < entry.expires:
            return entry
        fetch, _ = self._share(key, lambda: self._fetch(key, index, behavior, page_viewer, parts, entry))
        fetched = await asyncio.shield(fetch.task)
        return fetched.entry if fetched.entry.status == 200 and fetched.kept else None

    async def _own_error(self, send: Send, viewer: Viewer, status: int, message: str) -> None:
        body = error_page(status, message, viewer.cf_id)
        entry = Entry(viewer.raw_path, status, {"content-type": "text/html", "server": "CloudFront"},
                      Body(len(body), data=body), self.clock.now(), 0.0)
        await self._send(send, viewer, entry, "Error", from_cache=False)

    def _line(self, viewer: Viewer, status: int, sent: int, result: str, content_type: str, length: int) -> LogLine:
        return LogLine(self.clock.now(), self.pop, sent, viewer.client, viewer.method, self.domain,
                       viewer.uri or viewer.raw_path,
                       status, viewer.first("referer", "-") or "-",
                       viewer.first("user-agent", "-") or "-", viewer.query or "-",
                       "; ".join(viewer.headers.get("cookie", [])) or "-", result, viewer.cf_id,
                       viewer.first("host", "-") or "-", time.monotonic() - viewer.started, content_type,
                       length)

    # -- operations

    def invalidation(self, paths: list[str]) -> dict[str, Any]:
        """An invalidation of ``paths`` (checked as CloudFront checks them), done at once: its record."""
        if not paths:
            raise BadRequest("InvalidArgument: an invalidation needs at least one path")
        try:
            checked = list(dict.fromkeys(rules.check_invalidation_path(p) for p in paths))
        except ValueError as exc:
            raise BadRequest(f"InvalidArgument: {exc}") from None
        wild = sum(p.endswith("*") for p in checked)
        if len(checked) - wild > 3000 or wild > 15:
            raise BadRequest("TooManyInvalidationsInProgress: an invalidation takes at most 3,000 paths, 15 of "
                             f"them ending in * (here {len(checked) - wild} and {wild})")
        removed = self.invalidate(checked)
        self._invalidation_ids += 1
        return {"id": f"I{self.id[1:9]}{self._invalidation_ids:05d}", "status": "Completed", "paths": checked,
                "removed": removed,
                "create_time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.clock.now()))}

    def invalidate(self, paths: list[str]) -> int:
        """Drop every kept answer the invalidation paths cover (each path already checked); how many."""
        self._invalidation_seq += 1
        exact, prefixes = rules.split_invalidation(paths)
        self.invalidations = [i for i in self.invalidations if i[1] > time.monotonic() - 600][-100:]
        self.invalidations.append((self._invalidation_seq, time.monotonic(), exact, prefixes))
        return self.cache.drop_where(lambda e: rules.covered(e.path, exact, prefixes))

    def stats(self) -> dict[str, Any]:
        c = self.counters
        served = c.hits + c.refresh_hits + c.misses
        return {"url": self.url, "id": self.id, "requests": c.requests, "hits": c.hits, "refresh_hits": c.refresh_hits,
                "misses": c.misses, "errors": c.errors,
                "hit_ratio": round((c.hits + c.refresh_hits) / served, 4) if served else 0.0,
                "bytes_to_viewers": c.bytes_to_viewers, "bytes_from_origin": c.bytes_from_origin,
                "origin_requests": c.origin_requests, "collapsed": c.collapsed, "stale_served": c.stale_served,
                "cache": self.cache.stats()}


def _encoded(headers: dict[str, str], coding: str) -> None:
    """Mark an answer's headers as compressed with ``coding``: its encoding, ``Vary``, a weak ETag."""
    headers["content-encoding"] = coding
    headers["vary"] = _vary(headers.get("vary"))
    if "etag" in headers and not headers["etag"].startswith("W/"):
        headers["etag"] = "W/" + headers["etag"]


def _vary(origin: str | None) -> str:
    """The origin's ``Vary`` with ``Accept-Encoding`` added (a compressed answer varies by it)."""
    if not origin:
        return "Accept-Encoding"
    names = [v.strip() for v in origin.split(",")]
    return origin if any(n.lower() == "accept-encoding" for n in names) else f"{origin}, Accept-Encoding"


def _pairs(headers: dict[str, str]) -> list[tuple[str, str]]:
    """Kept headers as lines: each ``Set-Cookie`` its own (they are kept joined by newlines)."""
    out = []
    for k, v in headers.items():
        if k == "set-cookie":
            out += [(k, one) for one in v.split("\n")]
        else:
            out.append((k, v))
    return out


async def _read_body(receive: Receive, declared: str) -> bytes:
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise ValueError
    chunks, size = [], 0
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":  # the viewer left mid-body: nothing incomplete goes on
            raise ConnectionAbortedError
        chunk = msg.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise ValueError
        chunks.append(chunk)
        if not msg.get("more_body"):
            break
    return b"".join(chunks)
