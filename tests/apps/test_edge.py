"""The edge through ``stratus up``, rule by rule, each against CloudFront's documented behaviour (EDGE.md).

The system runs the ``edgy`` fixture with a manual clock, so lifetimes are checked to the second: its distribution
fronts a web server this module runs (whose every request is counted) and a private bucket of files.
"""

from __future__ import annotations

import asyncio
import gzip
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from pathlib import Path
from typing import Any

import boto3
import brotli
import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from stratus.local.protocols.principals import Credentials
from stratus.local.system import RunningSystem
from tests.conftest import ROOT, start, trust

FIXTURE = ROOT / "tests" / "apps" / "fixtures" / "edge"
BIG = os.urandom(1_000_000)  # a 1 MB file of the bucket (kept in memory by the edge)
HUGE = os.urandom(3 * 1024 * 1024)  # kept on disk


@dataclass
class Route:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"hello"
    delay: float = 0.0
    etag: str | None = None  # answers a matching If-None-Match with 304


class WebOrigin:
    """A web server whose answers the test sets per path, and which records every request it gets."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.down = False
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, path (with query), headers
        self.lock = threading.Lock()
        origin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, body_too: bool) -> None:
                if origin.down:  # a connection kept open from before: dropped unanswered, as by a dead server
                    self.close_connection = True
                    return
                with origin.lock:
                    origin.requests.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                route = origin.routes.get(self.path.split("?", 1)[0], Route(404, {}, b"no such page"))
                time.sleep(route.delay)
                if route.etag is not None and self.headers.get("if-none-match") == route.etag:
                    self.send_response(304)
                    for k, v in route.headers.items():
                        self.send_header(k, v)
                    self.send_header("etag", route.etag)
                    self.end_headers()
                    return
                self.send_response(route.status)
                for k, v in route.headers.items():
                    self.send_header(k, v)
                if route.etag is not None:
                    self.send_header("etag", route.etag)
                self.send_header("content-length", str(len(route.body)))
                self.end_headers()
                if body_too:
                    self.wfile.write(route.body)

            def do_GET(self) -> None:  # noqa: N802
                self._answer(True)

            def do_HEAD(self) -> None:  # noqa: N802
                self._answer(False)

            def do_POST(self) -> None:  # noqa: N802
                self._answer(True)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def count(self, path: str) -> int:
        with self.lock:
            return sum(1 for _, p, _ in self.requests if p.split("?", 1)[0] == path)

    def last(self, path: str) -> dict[str, str]:
        with self.lock:
            return [h for _, p, h in self.requests if p.split("?", 1)[0] == path][-1]

    def close(self) -> None:
        self.down = True
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Edge:
    system: RunningSystem
    origin: WebOrigin
    url: str
    http: httpx.Client
    second: WebOrigin  # the origin of /down/*

    @property
    def ep(self) -> dict[str, Any]:
        return self.system.endpoints

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(self.url + path, **kw)

    def advance(self, seconds: float) -> float:
        """Move the system's clock; its time now."""
        r = self.http.post(self.ep["aws_endpoint"] + "/_stratus/clock", json={"advance": seconds},
                           headers={"authorization": f"Bearer {self.ep['operator_token']}"})
        assert r.status_code == 200, r.text
        now: float = r.json()["now"]
        return now

    def stats(self, name: str = "cdn") -> dict[str, Any]:
        r = self.http.get(self.ep["aws_endpoint"] + "/_stratus/stats",
                          headers={"authorization": f"Bearer {self.ep['operator_token']}"})
        figures: dict[str, Any] = r.json()["apps"]["edgy"]["distributions"][name]
        return figures

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "stratus", *args, "--data-dir", str(self.system.data_dir)],
                              capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Edge]:
    origin = WebOrigin()
    app = tmp_path_factory.mktemp("app") / "edgy"
    shutil.copytree(FIXTURE, app)
    (app / "content" / "files" / "big.bin").write_bytes(BIG)
    (app / "content" / "files" / "huge.bin").write_bytes(HUGE)
    second = WebOrigin()  # stopped by a test: an origin that goes down
    os.environ["EDGE_TEST_ORIGIN"], os.environ["EDGE_TEST_ORIGIN_2"] = origin.url, second.url
    try:
        system = start(tmp_path_factory.mktemp("edge"), app, extra=["--manual-clock"])
    finally:
        del os.environ["EDGE_TEST_ORIGIN"], os.environ["EDGE_TEST_ORIGIN_2"]
    url = system.endpoints["apps"]["edgy"]["distributions"]["cdn"]["url"]
    with httpx.Client(verify=trust(system.endpoints), timeout=30) as client:
        yield Edge(system, origin, url, client, second)
    system.stop()
    origin.close()
    second.close()


def serve(edge: Edge, path: str, **route: Any) -> None:
    edge.origin.routes[path] = Route(**route)


def cache(r: httpx.Response) -> str:
    return r.headers["x-cache"].removesuffix(" from cloudfront")


# -- lifetimes (Developer Guide: "Managing how long content stays in the cache (expiration)")

@pytest.mark.parametrize(("path", "headers", "fresh_for"), [
    ("/ttl/smaxage", {"cache-control": "max-age=10, s-maxage=40"}, 40),  # s-maxage before max-age
    ("/ttl/maxage", {"cache-control": "max-age=20"}, 20),
    ("/ttl/default", {}, 100),  # none: the policy's DefaultTTL
    ("/ttl/clamped", {"cache-control": "max-age=5000"}, 1000),  # at most MaxTTL
    ("/ttl/maxage-over-expires", {"cache-control": "max-age=30", "expires": "@+300"}, 30),
    ("/ttl/expires", {"expires": "@+60"}, 60),  # Expires, from now
])
def test_ttl_precedence(edge: Edge, path: str, headers: dict[str, str], fresh_for: int) -> None:
    if "expires" in headers:  # "@+N": N whole seconds from the system's clock (an HTTP date has no fractions)
        headers = {**headers, "expires": formatdate(edge.advance(0) + int(headers["expires"][2:]) + 1, usegmt=True)}
    serve(edge, path, headers=headers, body=b"v1")
    assert cache(edge.get(path)) == "Miss"
    edge.advance(fresh_for - 1)
    r = edge.get(path)
    assert (cache(r), r.text, edge.origin.count(path)) == ("Hit", "v1", 1)
    assert int(r.headers["age"]) == fresh_for - 1
    edge.advance(2)
    serve(edge, path, headers=headers, body=b"v2")
    r = edge.get(path)
    assert (cache(r), r.text, edge.origin.count(path)) == ("Miss", "v2", 2)


@pytest.mark.parametrize("directive", ["no-cache", "no-store", "private"])
def test_no_cache_keeps_nothing_while_min_ttl_is_zero(edge: Edge, directive: str) -> None:
    path = f"/refuse/{directive}"
    serve(edge, path, headers={"cache-control": f"{directive}, max-age=600"})
    for n in (1, 2, 3):
        r = edge.get(path)
        assert (cache(r), edge.origin.count(path)) == ("Miss", n)


@pytest.mark.parametrize("directive", ["no-cache", "no-store", "private"])
def test_min_ttl_keeps_even_what_says_no_cache(edge: Edge, directive: str) -> None:
    path = f"/floor/{directive}"  # MinTTL 50
    serve(edge, path, headers={"cache-control": directive})
    assert cache(edge.get(path)) == "Miss"
    edge.advance(49)
    assert (cache(edge.get(path)), edge.origin.count(path)) == ("Hit", 1)
    edge.advance(2)
    assert (cache(edge.get(path)), edge.origin.count(path)) == ("Miss", 2)


def test_min_ttl_raises_a_short_max_age(edge: Edge) -> None:
    serve(edge, "/floor/short", headers={"cache-control": "max-age=5"})
    edge.get("/floor/short")
    edge.advance(30)
    assert (cache(edge.get("/floor/short")), edge.origin.count("/floor/short")) == ("Hit", 1)


def test_viewer_cache_control_is_ignored(edge: Edge) -> None:
    serve(edge, "/viewer/nocache", headers={"cache-control": "max-age=100"})
    edge.get("/viewer/nocache")
    r = edge.get("/viewer/nocache", headers={"cache-control": "no-cache", "pragma": "no-cache"})
    assert (cache(r), edge.origin.count("/viewer/nocache")) == ("Hit", 1)


def test_caching_disabled_sends_everything_on(edge: Edge) -> None:
    serve(edge, "/off/page", headers={"cache-control": "max-age=600"})
    for n in (1, 2):
        r = edge.get("/off/page")
        assert (cache(r), edge.origin.count("/off/page")) == ("Miss", n)
    r = edge.http.post(edge.url + "/off/page", content=b"x=1")  # methods="all": POST reaches the origin
    assert r.status_code == 200 and edge.origin.count("/off/page") == 3


def test_a_method_the_behavior_does_not_allow_is_refused(edge: Edge) -> None:
    r = edge.http.post(edge.url + "/anything", content=b"x")
    assert r.status_code == 403 and cache(r) == "Error"
    assert "not configured to allow the HTTP request method" in r.text
    assert edge.origin.count("/anything") == 0


# -- revalidation

def test_revalidation_with_an_etag_is_a_refresh_hit(edge: Edge) -> None:
    serve(edge, "/reval/etag", headers={"cache-control": "max-age=10"}, body=b"same", etag='"v1"')
    assert cache(edge.get("/reval/etag")) == "Miss"
    edge.advance(11)
    r = edge.get("/reval/etag")
    assert (r.status_code, cache(r), r.text) == (200, "RefreshHit", "same")
    assert edge.origin.last("/reval/etag")["if-none-match"] == '"v1"'
    assert edge.origin.count("/reval/etag") == 2
    edge.advance(5)  # refreshed: fresh for another 10 s
    assert (cache(edge.get("/reval/etag")), edge.origin.count("/reval/etag")) == ("Hit", 2)


def test_revalidation_with_last_modified(edge: Edge) -> None:
    stamp = "Wed, 21 Oct 2026 07:28:00 GMT"
    serve(edge, "/reval/lm", headers={"cache-control": "max-age=10", "last-modified": stamp}, body=b"page")
    edge.get("/reval/lm")
    edge.advance(11)
    serve(edge, "/reval/lm", status=304, headers={"cache-control": "max-age=10"}, body=b"")
    r = edge.get("/reval/lm")
    assert (r.status_code, cache(r), r.text) == (200, "RefreshHit", "page")
    assert edge.origin.last("/reval/lm")["if-modified-since"] == stamp


def test_a_changed_object_replaces_the_stale_one(edge: Edge) -> None:
    serve(edge, "/reval/changed", headers={"cache-control": "max-age=10"}, body=b"old", etag='"a"')
    edge.get("/reval/changed")
    edge.advance(11)
    serve(edge, "/reval/changed", headers={"cache-control": "max-age=10"}, body=b"new", etag='"b"')
    r = edge.get("/reval/changed")
    assert (cache(r), r.text, r.headers["etag"]) == ("Miss", "new", '"b"')


def test_viewer_conditional_requests_are_answered_from_the_cache(edge: Edge) -> None:
    serve(edge, "/cond", headers={"cache-control": "max-age=100"}, body=b"c", etag='"e1"')
    edge.get("/cond")
    r = edge.get("/cond", headers={"if-none-match": '"e1"'})
    assert (r.status_code, cache(r), r.content) == (304, "Hit", b"")
    assert edge.origin.count("/cond") == 1


# -- collapsing (Developer Guide: request collapsing, traffic spikes)

def test_a_hundred_concurrent_misses_make_one_origin_request(edge: Edge) -> None:
    serve(edge, "/rush/release.bin", headers={"cache-control": "max-age=600"}, body=os.urandom(50_000), delay=0.5)
    body = edge.origin.routes["/rush/release.bin"].body
    before = edge.stats()

    async def rush() -> list[httpx.Response]:
        async with httpx.AsyncClient(verify=trust(edge.ep), timeout=30,
                                     limits=httpx.Limits(max_connections=100)) as client:
            return await asyncio.gather(*(client.get(edge.url + "/rush/release.bin") for _ in range(100)))
    answers = asyncio.run(rush())
    assert all(r.status_code == 200 and r.content == body for r in answers)
    assert edge.origin.count("/rush/release.bin") == 1
    results = sorted(cache(r) for r in answers)
    assert results.count("Miss") == 1 and results.count("Hit") == 99
    after = edge.stats()
    assert after["collapsed"] - before["collapsed"] == 99
    assert after["origin_requests"] - before["origin_requests"] == 1


def test_collapsing_holds_even_when_the_origin_says_no_cache(edge: Edge) -> None:
    serve(edge, "/rush/nocache", headers={"cache-control": "no-cache"}, body=b"once", delay=0.5)

    async def rush() -> list[httpx.Response]:
        async with httpx.AsyncClient(verify=trust(edge.ep), timeout=30) as client:
            return await asyncio.gather(*(client.get(edge.url + "/rush/nocache") for _ in range(20)))
    answers = asyncio.run(rush())
    assert all(r.text == "once" for r in answers)
    assert edge.origin.count("/rush/nocache") == 1
    assert cache(edge.get("/rush/nocache")) == "Miss" and edge.origin.count("/rush/nocache") == 2  # not kept


# -- ranges (Developer Guide: "How CloudFront processes partial requests for an object (range GETs)")

@pytest.mark.parametrize(("spec", "first", "last"), [
    ("bytes=0-99", 0, 99), ("bytes=1000-", 1000, 999_999), ("bytes=-500", 999_500, 999_999),
    ("bytes=999990-2000000", 999_990, 999_999), ("bytes=123456-123456", 123_456, 123_456),
])
def test_ranges_are_cut_from_the_cache_byte_for_byte(edge: Edge, spec: str, first: int, last: int) -> None:
    edge.get("/files/big.bin")  # in the cache (whatever came before)
    before = edge.stats()["origin_requests"]
    r = edge.get("/files/big.bin", headers={"range": spec})
    assert r.status_code == 206
    assert r.content == BIG[first:last + 1]
    assert r.headers["content-range"] == f"bytes {first}-{last}/{len(BIG)}"
    assert int(r.headers["content-length"]) == last - first + 1
    assert cache(r) == "Hit" and edge.stats()["origin_requests"] == before


@pytest.mark.parametrize("spec", ["bytes=0-1,5-6", "bytes=abc", "items=0-5", "bytes=9-3", "bytes"])
def test_several_or_invalid_ranges_get_the_whole_body(edge: Edge, spec: str) -> None:
    r = edge.get("/files/big.bin", headers={"range": spec})
    assert r.status_code == 200 and r.content == BIG and "content-range" not in r.headers


def test_a_range_past_the_end_is_416_and_never_cached(edge: Edge) -> None:
    r = edge.get("/files/big.bin", headers={"range": f"bytes={len(BIG)}-"})
    assert r.status_code == 416 and r.headers["content-range"] == f"bytes */{len(BIG)}"
    r = edge.get("/files/big.bin")
    assert r.status_code == 200 and r.content == BIG


def test_a_large_object_is_kept_on_disk_and_sliced_from_there(edge: Edge) -> None:
    r = edge.get("/files/huge.bin")
    assert r.content == HUGE
    r = edge.get("/files/huge.bin", headers={"range": "bytes=2000000-2999999"})
    assert (r.status_code, cache(r)) == (206, "Hit") and r.content == HUGE[2_000_000:3_000_000]
    assert edge.stats()["cache"]["disk_bytes"] >= len(HUGE)


# -- compression (Developer Guide: "Serving compressed files")

@pytest.mark.parametrize(("size", "ctype", "accept", "coding"), [
    (999, "text/html", "gzip, br", None),  # under 1,000 bytes
    (1000, "text/html", "gzip, br", "br"),  # br before gzip
    (1000, "text/css", "gzip", "gzip"),
    (5000, "application/json", "br;q=0, gzip", "gzip"),
    (5000, "image/png", "gzip, br", None),  # not a compressible type
    (5000, "text/plain", "", None),  # the viewer accepts none
    (10_000_000, "text/plain", "gzip", "gzip"),
    (10_000_001, "text/plain", "gzip", None),  # over 10,000,000 bytes
])
def test_compression_limits(edge: Edge, size: int, ctype: str, accept: str, coding: str | None) -> None:
    path = f"/zip/{size}-{ctype.replace('/', '-')}-{coding}-{len(accept)}"
    body = (b"stratus edge " * (size // 13 + 1))[:size]
    serve(edge, path, headers={"content-type": ctype, "cache-control": "max-age=600"}, body=body, etag='"z"')
    r = edge.http.get(edge.url + path, headers={"accept-encoding": accept or "identity"})
    assert r.headers.get("content-encoding") == coding
    assert r.content == body  # decoded by the client when encoded
    if coding is not None:
        assert r.headers["etag"] == 'W/"z"' and r.headers["vary"] == "Accept-Encoding"
        sent = int(r.headers["content-length"])
        assert sent < size
    again = edge.http.get(edge.url + path, headers={"accept-encoding": accept or "identity"})
    assert cache(again) == "Hit" and again.content == body


def test_compressed_bytes_are_valid_gzip_and_br(edge: Edge) -> None:
    body = b"<p>" + b"compress me " * 500 + b"</p>"
    serve(edge, "/zip/raw.html", headers={"content-type": "text/html", "cache-control": "max-age=600"}, body=body)
    for accept, decode in (("gzip", gzip.decompress), ("br", brotli.decompress)):
        with edge.http.stream("GET", edge.url + "/zip/raw.html", headers={"accept-encoding": accept}) as r:
            raw = b"".join(r.iter_raw())
        assert r.headers["content-encoding"] == accept and decode(raw) == body


def test_an_encoded_answer_is_not_compressed_again(edge: Edge) -> None:
    body = gzip.compress(b"x" * 5000)
    serve(edge, "/zip/pre.txt", headers={"content-type": "text/plain", "content-encoding": "gzip",
                                         "cache-control": "max-age=600"}, body=body)
    with edge.http.stream("GET", edge.url + "/zip/pre.txt", headers={"accept-encoding": "br"}) as r:
        raw = b"".join(r.iter_raw())
    assert r.headers["content-encoding"] == "gzip" and raw == body


def test_a_behavior_that_does_not_compress(edge: Edge) -> None:
    serve(edge, "/plain/page.html", headers={"content-type": "text/html"}, body=b"a" * 5000)
    r = edge.get("/plain/page.html", headers={"accept-encoding": "gzip, br"})
    assert "content-encoding" not in r.headers and r.content == b"a" * 5000


# -- errors, stale copies

def test_errors_are_cached_ten_seconds_and_custom_pages_served(edge: Edge) -> None:
    r = edge.get("/missing/page")  # the origin: 404
    assert (r.status_code, cache(r)) == (404, "Error")
    assert "Not here" in r.text  # the error response's page, from the bucket
    edge.advance(9)
    assert edge.get("/missing/page").status_code == 404 and edge.origin.count("/missing/page") == 1
    edge.advance(2)
    edge.get("/missing/page")
    assert edge.origin.count("/missing/page") == 2


def test_an_error_response_ttl_of_zero_caches_nothing(edge: Edge) -> None:
    serve(edge, "/err/500", status=500, body=b"boom")
    for n in (1, 2):
        r = edge.get("/err/500")
        assert (r.status_code, edge.origin.count("/err/500")) == (500, n)


def test_stale_if_error_while_the_origin_is_down(edge: Edge) -> None:
    serve(edge, "/sie/page", headers={"cache-control": "max-age=10, stale-if-error=60"}, body=b"still here",
          delay=0.0)
    assert edge.get("/sie/page").text == "still here"
    edge.origin.routes["/sie/page"] = Route(delay=7)  # the origin stops answering in time (5 s timeout)
    edge.advance(20)
    r = edge.get("/sie/page")
    assert (r.status_code, r.text, cache(r)) == (200, "still here", "Hit")
    edge.advance(60)  # past the stale-if-error window: the edge's own 504
    r = edge.get("/sie/page")
    assert (r.status_code, cache(r)) == (504, "Error")


def test_stale_if_error_while_the_origin_is_stopped(edge: Edge) -> None:
    edge.second.routes["/down/page"] = Route(headers={"cache-control": "max-age=10, stale-if-error=60"},
                                             body=b"kept")
    assert edge.get("/down/page").text == "kept"
    edge.second.close()  # down: its port refuses connections now
    edge.advance(20)
    r = edge.get("/down/page")
    assert (r.status_code, r.text, cache(r)) == (200, "kept", "Hit")
    edge.advance(60)  # past the window: the edge's own 502
    r = edge.get("/down/page")
    assert (r.status_code, cache(r)) == (502, "Error") and "The request could not be satisfied" in r.text


def test_a_5xx_from_the_origin_serves_the_stale_copy(edge: Edge) -> None:
    serve(edge, "/stale5xx", headers={"cache-control": "max-age=10"}, body=b"good")
    edge.get("/stale5xx")
    edge.advance(11)
    serve(edge, "/stale5xx", status=503, body=b"down")
    r = edge.get("/stale5xx")
    assert (r.status_code, r.text) == (200, "good")


def test_stale_while_revalidate_serves_at_once_and_refreshes(edge: Edge) -> None:
    serve(edge, "/swr", headers={"cache-control": "max-age=10, stale-while-revalidate=30"}, body=b"old")
    edge.get("/swr")
    edge.advance(15)
    serve(edge, "/swr", headers={"cache-control": "max-age=10, stale-while-revalidate=30"}, body=b"new", delay=1)
    t0 = time.monotonic()
    r = edge.get("/swr")
    assert (r.text, cache(r)) == ("old", "Hit") and time.monotonic() - t0 < 0.8  # not waiting for the origin
    deadline = time.monotonic() + 10
    while edge.get("/swr").text != "new":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert edge.origin.count("/swr") == 2


def test_an_unreachable_origin_is_a_502(edge: Edge) -> None:
    r = edge.get("/dead/page")  # an origin on a port nothing listens on
    assert (r.status_code, cache(r)) == (502, "Error") and "The request could not be satisfied" in r.text


# -- the key

def test_the_cache_key_holds_what_the_policy_names(edge: Edge) -> None:
    serve(edge, "/keyed/a", headers={"cache-control": "max-age=600"}, body=b"k")
    edge.get("/keyed/a?v=1&other=x")
    edge.get("/keyed/a?v=1&other=y")  # other is not in the key: a hit, and not sent on
    assert edge.origin.count("/keyed/a") == 1
    edge.get("/keyed/a?v=2")
    assert edge.origin.count("/keyed/a") == 2
    edge.get("/keyed/a?v=2", headers={"x-variant": "b"})
    assert edge.origin.count("/keyed/a") == 3
    edge.get("/keyed/a?v=2", headers={"x-variant": "b", "cookie": "theme=dark"})  # theme: not in the key
    assert edge.origin.count("/keyed/a") == 3
    edge.get("/keyed/a?v=2", headers={"x-variant": "b", "cookie": "session=s1"})
    assert edge.origin.count("/keyed/a") == 4
    sent = [p for _, p, _ in edge.origin.requests if p.startswith("/keyed/a")]
    assert all("other=" not in p for p in sent)


def test_all_except_leaves_out_the_names_given(edge: Edge) -> None:
    serve(edge, "/most/a", headers={"cache-control": "max-age=600"})
    edge.get("/most/a?page=1&utm=x")
    edge.get("/most/a?page=1&utm=y")
    assert edge.origin.count("/most/a") == 1
    edge.get("/most/a?page=2&utm=y")
    assert edge.origin.count("/most/a") == 2


# -- what every answer carries

def test_headers_the_edge_adds(edge: Edge) -> None:
    serve(edge, "/headers", headers={"cache-control": "max-age=600"})
    miss, hit = edge.get("/headers"), edge.get("/headers")
    assert cache(miss) == "Miss" and "age" not in miss.headers
    assert cache(hit) == "Hit" and hit.headers["age"] == "0"
    for r in (miss, hit):
        assert r.headers["via"].endswith(".cloudfront.net (CloudFront)") and r.headers["via"].startswith("1.1 ")
        assert len(r.headers["x-amz-cf-id"]) >= 40 and r.headers["x-amz-cf-pop"] == "IAD89-P1"
        assert r.headers["strict-transport-security"].startswith("max-age=63072000")
        assert r.headers["x-content-type-options"] == "nosniff"
    assert miss.headers["x-amz-cf-id"] != hit.headers["x-amz-cf-id"]
    sent = edge.origin.last("/headers")
    assert sent["via"].endswith("(CloudFront)") and sent["x-forwarded-for"] == "127.0.0.1"
    assert sent["host"] == edge.origin.url.removeprefix("http://")


def test_a_url_too_long_is_refused(edge: Edge) -> None:
    r = edge.get("/long?" + "a" * 9000)
    assert r.status_code == 414 and cache(r) == "Error"


# -- invalidation

def test_invalidation_with_patterns(edge: Edge) -> None:
    for path in ("/inv/a", "/inv/b", "/keep/c"):
        serve(edge, path, headers={"cache-control": "max-age=600"})
        edge.get(path)
        edge.get(path + "?q=1")
    done = edge.cli("invalidate", "edgy", "cdn", "/inv/*")
    assert done.returncode == 0, done.stderr
    assert "Completed, 1 path, 2 cached answers dropped" in done.stdout, done.stdout  # a path and its query: one key
    a, b = edge.get("/inv/a"), edge.get("/inv/b")
    assert (cache(a), cache(b)) == ("Miss", "Miss"), (a.headers, b.headers, edge.origin.requests[-4:])
    assert cache(edge.get("/keep/c")) == "Hit"
    serve(edge, "/keyed/inv", headers={"cache-control": "max-age=600"})
    edge.get("/keyed/inv?v=1")
    edge.get("/keyed/inv?v=2")  # v is in this behavior's key: two answers
    done = edge.cli("invalidate", "edgy", "cdn", "/keyed/inv", "/keep/c")  # a path: every query string of it
    assert done.returncode == 0 and "2 paths, 3 cached answers dropped" in done.stdout, done.stdout
    assert cache(edge.get("/keyed/inv?v=1")) == "Miss" and cache(edge.get("/keyed/inv?v=2")) == "Miss"
    assert cache(edge.get("/keep/c")) == "Miss"
    done = edge.cli("invalidate", "edgy", "cdn", "/*")
    assert done.returncode == 0 and cache(edge.get("/inv/a")) == "Miss"


@pytest.mark.parametrize(("args", "says"), [
    (["edgy", "cdn", "inv/a"], "must start with /"),
    (["edgy", "cdn", "/a*b"], "only as the last character"),
    (["edgy", "nope", "/a"], "no distribution named 'nope'"),
    (["nope", "cdn", "/a"], "no app named 'nope'"),
    (["edgy", "cdn", *(f"/w{i}*" for i in range(16))], "TooManyInvalidationsInProgress"),
])
def test_invalidation_refusals(edge: Edge, args: list[str], says: str) -> None:
    done = edge.cli("invalidate", *args)
    assert done.returncode != 0 and says in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


# -- the cache's bounds, figures and logs

def test_the_memory_cache_is_bounded_in_bytes(edge: Edge) -> None:
    for i in range(30):  # 3 MB of answers through a 2 MiB cache
        serve(edge, f"/bound/{i}", headers={"cache-control": "max-age=600", "content-type": "image/png"},
              body=os.urandom(100_000))
        edge.get(f"/bound/{i}")
    figures = edge.stats()["cache"]
    assert figures["memory_bytes"] <= 2 * 1024 * 1024 and figures["evictions"] > 0
    assert cache(edge.get("/bound/0")) == "Miss"  # the least recently used went first
    assert cache(edge.get("/bound/29")) == "Hit"


def test_figures(edge: Edge) -> None:
    serve(edge, "/figures", headers={"cache-control": "max-age=600"}, body=b"x" * 100)
    before = edge.stats()
    edge.get("/figures")
    edge.get("/figures")
    after = edge.stats()
    assert after["requests"] - before["requests"] == 2
    assert after["hits"] - before["hits"] == 1 and after["misses"] - before["misses"] == 1
    assert after["bytes_to_viewers"] - before["bytes_to_viewers"] == 200
    assert after["bytes_from_origin"] - before["bytes_from_origin"] == 100
    assert 0 < after["hit_ratio"] < 1
    shown = edge.cli("stats")
    assert shown.returncode == 0 and "edgy/cdn" in shown.stdout and "hit %" in shown.stdout


def access_log(edge: Edge, s3: Any, wanted: str) -> tuple[list[str], list[str]]:
    """The log bucket's files (keys) and their lines, once a line holds ``wanted`` (within 20 s)."""
    bucket = edge.ep["apps"]["edgy"]["buckets"]["logs"]
    deadline, keys, lines = time.monotonic() + 20, [], []
    while time.monotonic() < deadline:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="cdn/").get("Contents", [])]
        lines = [line for k in keys for line in gzip.decompress(s3.get_object(Bucket=bucket, Key=k)["Body"].read())
                 .decode().splitlines()]
        if any(wanted in line for line in lines):
            break
        time.sleep(0.5)
    return keys, lines


def test_access_logs_in_the_standard_format(edge: Edge, s3: Any) -> None:
    serve(edge, "/logged", headers={"cache-control": "max-age=600"})
    edge.get("/logged?x=1", headers={"user-agent": "log test/1.0", "referer": "https://example.com/"})
    dist_id = edge.ep["apps"]["edgy"]["distributions"]["cdn"]["id"]
    keys, lines = access_log(edge, s3, "/logged")
    assert all(k.startswith(f"cdn/{dist_id}.") and k.endswith(".gz") for k in keys)
    assert lines[0] == "#Version: 1.0" and lines[1].startswith("#Fields: date time x-edge-location sc-bytes")
    row = next(line for line in lines if "/logged" in line).split("\t")
    assert len(row) == len(lines[1].removeprefix("#Fields: ").split())
    assert row[5] == "GET" and row[7] == "/logged" and row[8] == "200" and row[11] == "x=1"
    assert row[10] == "log%20test/1.0" and row[13] in ("Miss", "Hit")


# -- origin access control (the bucket through the edge only)

@pytest.fixture
def s3(edge: Edge, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The operator's S3 client, signing at the system's (manual) time."""
    import datetime as dt

    import botocore.auth
    offset = edge.advance(0) - time.time()

    def signing_now(remove_tzinfo: bool = True) -> dt.datetime:
        now = dt.datetime.fromtimestamp(time.time() + offset, dt.UTC)
        return now.replace(tzinfo=None) if remove_tzinfo else now
    monkeypatch.setattr(botocore.auth, "get_current_datetime", signing_now)
    ep = edge.ep
    return boto3.client("s3", endpoint_url=ep["aws_endpoint"], region_name=ep["region"], verify=ep["ca_file"],
                        aws_access_key_id=ep["admin_credentials"]["access_key_id"],
                        aws_secret_access_key=ep["admin_credentials"]["secret_access_key"])


def _signed_get(ep: dict[str, Any], url: str, key_id: str, secret: str) -> httpx.Response:
    request = AWSRequest("GET", url, headers={})
    S3SigV4Auth(BotoCredentials(key_id, secret), "s3", ep["region"]).add_auth(request)
    with httpx.Client(verify=trust(ep)) as client:
        return client.get(url, headers=dict(request.headers))


def test_origin_access_control(edge: Edge, s3: Any) -> None:
    ep = edge.ep
    bucket = ep["apps"]["edgy"]["buckets"]["files"]
    url = f"{ep['aws_endpoint']}/{bucket}/files/big.bin"
    through = edge.get("/files/big.bin")
    assert through.status_code == 200 and through.content == BIG  # the edge reads it
    anonymous = edge.http.get(url)
    assert anonymous.status_code == 403 and "<Code>AccessDenied</Code>" in anonymous.text
    listing = edge.http.get(f"{ep['aws_endpoint']}/{bucket}?list-type=2")
    assert listing.status_code == 403 and "<Code>AccessDenied</Code>" in listing.text
    # a real cloudfront.amazonaws.com signature, for the other distribution: the bucket's policy names only cdn
    dists = ep["apps"]["edgy"]["distributions"]
    creds = Credentials(edge.system.data_dir)
    theirs = creds.service("cloudfront.amazonaws.com", dists["other"]["arn"])
    r = _signed_get(ep, url, theirs.access_key_id, theirs.secret_access_key)
    assert r.status_code == 403 and "<Code>AccessDenied</Code>" in r.text
    mine = creds.service("cloudfront.amazonaws.com", dists["cdn"]["arn"])
    assert _signed_get(ep, url, mine.access_key_id, mine.secret_access_key).status_code == 200
    assert s3.get_object(Bucket=bucket, Key="files/big.bin")["Body"].read() == BIG  # the owner's admin: still


def test_the_bucket_policy_is_written_as_cdk_writes_it(edge: Edge, s3: Any) -> None:
    import json
    ep = edge.ep
    bucket = ep["apps"]["edgy"]["buckets"]["files"]
    policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    assert policy["Statement"] == [{
        "Action": "s3:GetObject", "Effect": "Allow", "Principal": {"Service": "cloudfront.amazonaws.com"},
        "Resource": f"arn:aws:s3:::{bucket}/*",
        "Condition": {"StringEquals": {"AWS:SourceArn": ep["apps"]["edgy"]["distributions"]["cdn"]["arn"]}}}]


# -- hits answered at the protocol (one write, no request object): the same answers as the usual way

def test_a_hit_at_the_protocol_is_the_answer_the_usual_way_gives(edge: Edge) -> None:
    serve(edge, "/fast/page", headers={"cache-control": "max-age=600", "content-type": "text/plain",
                                       "x-content-type-options": "nosniff", "x-frame-options": "SAMEORIGIN"},
          body=b"fast", etag='"f1"')
    assert cache(edge.get("/fast/page")) == "Miss"
    fast = edge.get("/fast/page")
    usual = edge.get("/fast/page", headers={"if-none-match": '"other"'})  # a condition: answered the usual way
    assert fast.content == usual.content == b"fast"

    def shown(r: httpx.Response) -> list[tuple[str, str]]:
        return sorted((k, v) for k, v in r.headers.multi_items() if k not in ("x-amz-cf-id", "date", "age"))
    assert shown(fast) == shown(usual)
    for r in (fast, usual):  # the response headers policy's replace the origin's (its override)
        assert r.headers.get_list("x-content-type-options") == ["nosniff"]
        assert r.headers.get_list("x-frame-options") == ["DENY"]
        assert "date" in r.headers and r.headers["age"] == "0"


def _pipelined(edge: Edge, requests: list[str]) -> list[bytes]:
    """Send ``requests`` (paths) in one write on one connection; the answers' bodies, in the order they came."""
    import socket
    import ssl
    host, port = edge.url.removeprefix("https://").split(":")
    context = ssl.create_default_context(cafile=edge.ep["ca_file"])
    wire = "".join(f"GET {p} HTTP/1.1\r\nHost: {host}\r\nAccept-Encoding: identity\r\n\r\n" for p in requests)
    with socket.create_connection((host, int(port)), timeout=15) as sock, \
            context.wrap_socket(sock, server_hostname=host) as tls:
        tls.sendall(wire.encode())
        data, bodies = b"", []
        while len(bodies) < len(requests):
            chunk = tls.recv(65536)
            assert chunk, "the connection closed early"
            data += chunk
            while b"\r\n\r\n" in data:
                head, _, rest = data.partition(b"\r\n\r\n")
                length = int(re.search(rb"content-length: (\d+)", head, re.IGNORECASE).group(1))  # type: ignore[union-attr]
                if len(rest) < length:
                    break
                bodies.append(rest[:length])
                data = rest[length:]
    return bodies


def test_pipelined_requests_are_answered_in_order_hits_and_misses_alike(edge: Edge) -> None:
    serve(edge, "/pipe/hit", headers={"cache-control": "max-age=600"}, body=b"one")
    serve(edge, "/pipe/slow", headers={"cache-control": "max-age=600"}, body=b"two", delay=0.3)
    edge.get("/pipe/hit")
    assert _pipelined(edge, ["/pipe/hit", "/pipe/slow", "/pipe/hit", "/pipe/hit"]) == [b"one", b"two", b"one", b"one"]


def test_a_client_that_reads_nothing_of_its_pipelined_hits_holds_little_memory(edge: Edge) -> None:
    import socket
    import ssl
    serve(edge, "/pipe/big", headers={"cache-control": "max-age=600", "content-type": "image/png"},
          body=os.urandom(20_000))
    edge.get("/pipe/big")
    host, port = edge.url.removeprefix("https://").split(":")

    def rss() -> int:
        status = Path(f"/proc/{edge.system.proc.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) * 1024  # type: ignore[union-attr]
    before = rss()
    context = ssl.create_default_context(cafile=edge.ep["ca_file"])
    one = f"GET /pipe/big HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
    sock = socket.create_connection((host, int(port)), timeout=15)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    with context.wrap_socket(sock, server_hostname=host) as tls:
        tls.settimeout(0.5)
        try:
            for _ in range(200):  # 10,000 requests for 200 MB of answers, none of it read
                tls.sendall(one * 50)
        except (TimeoutError, OSError):
            pass  # the server stopped reading: what the client sends waits in its own buffers
        time.sleep(1)
        grown = rss() - before
    assert grown < 40 * 1024 * 1024, f"the server grew {grown:,} bytes for one client"
    assert edge.get("/pipe/big").status_code == 200  # and serves others meanwhile and after


# -- what a review found, kept found

def test_a_304_that_says_no_cache_serves_once_and_keeps_nothing(edge: Edge) -> None:
    serve(edge, "/r304", headers={"cache-control": "max-age=10"}, body=b"body", etag='"x"')
    edge.get("/r304")
    edge.advance(11)
    serve(edge, "/r304", headers={"cache-control": "no-cache"}, body=b"body", etag='"x"')
    r = edge.get("/r304")
    assert (r.status_code, r.text, cache(r)) == (200, "body", "RefreshHit")
    r = edge.get("/r304")
    assert (r.status_code, r.text, cache(r)) == (200, "body", "Miss")


def test_a_key_is_charged_for_its_size_and_a_huge_one_is_not_kept(edge: Edge) -> None:
    serve(edge, "/keyed/mem", headers={"cache-control": "max-age=600"}, body=b"m")
    assert edge.cli("invalidate", "edgy", "cdn", "/*").returncode == 0  # an empty cache: nothing evicted meanwhile
    before = edge.stats()["cache"]["memory_bytes"]
    for i in range(10):
        edge.get("/keyed/mem", headers={"x-variant": f"{i}" + "v" * 10_000})
    assert edge.stats()["cache"]["memory_bytes"] - before >= 100_000
    huge = {"x-variant": "h" * 20_000}
    edge.get("/keyed/mem", headers=huge)
    assert cache(edge.get("/keyed/mem", headers=huge)) == "Miss"  # served, never kept


def test_what_a_web_origin_is_sent(edge: Edge) -> None:
    serve(edge, "/off/sent", body=b"s")
    r = edge.get("/off/sent", headers={"user-agent": b"caf\xc3\xa9", "x-forwarded-for": "203.0.113.7",
                                       "accept-encoding": "gzip, br"})
    assert r.status_code == 200
    sent = edge.origin.last("/off/sent")
    assert sent["accept-encoding"] == "identity"  # the edge compresses for viewers itself
    assert sent["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"  # appended to, as CloudFront does
    serve(edge, "/cached/sent", headers={"cache-control": "max-age=600"})
    edge.get("/cached/sent", headers={"cookie": "a=1", "accept-language": "fr", "authorization": "Bearer x"})
    sent = edge.origin.last("/cached/sent")  # a caching behavior: the key's parts only (none here)
    assert "cookie" not in sent and "accept-language" not in sent and "authorization" not in sent


def test_a_410_is_kept_and_kept_errors_say_so(edge: Edge) -> None:
    serve(edge, "/gone", status=410, body=b"gone")
    assert cache(edge.get("/gone")) == "Error"
    r = edge.get("/gone")
    assert (r.status_code, cache(r), edge.origin.count("/gone")) == (410, "Error", 1)


def test_a_request_after_a_hit_on_one_connection_is_not_cut_by_the_idle_timer(edge: Edge) -> None:
    """A hit answered at the protocol arms the keep-alive timer (30 s); a request that follows it in the same piece,
    still sending its body, must not be closed by it."""
    import socket
    import ssl
    serve(edge, "/pipe/first", headers={"cache-control": "max-age=600"}, body=b"first")
    serve(edge, "/off/upload", body=b"uploaded")
    edge.get("/pipe/first")
    host, port = edge.url.removeprefix("https://").split(":")
    context = ssl.create_default_context(cafile=edge.ep["ca_file"])
    with socket.create_connection((host, int(port)), timeout=60) as sock, \
            context.wrap_socket(sock, server_hostname=host) as tls:
        tls.sendall(f"GET /pipe/first HTTP/1.1\r\nHost: {host}\r\n\r\nPOST /off/upload HTTP/1.1\r\nHost: {host}\r\n"
                    f"Content-Length: 10\r\n\r\n12345".encode())
        time.sleep(32)  # past the keep-alive timeout, the body half sent
        tls.sendall(b"67890")
        data = b""
        while not data.endswith(b"uploaded"):
            chunk = tls.recv(65536)
            assert chunk, f"the connection was closed: {data[:300]!r}"
            data += chunk
    assert b"first" in data and b"uploaded" in data


def test_concurrent_first_requests_share_one_compression(edge: Edge) -> None:
    body = b"word " * 400_000  # 2 MB of text: kept on disk, compressed off the event loop
    serve(edge, "/zip/shared.txt", headers={"content-type": "text/plain", "cache-control": "max-age=600"}, body=body)
    edge.get("/zip/shared.txt", headers={"accept-encoding": "identity"})  # kept, uncompressed

    async def many() -> list[httpx.Response]:
        async with httpx.AsyncClient(verify=trust(edge.ep), timeout=30) as client:
            return await asyncio.gather(*(client.get(edge.url + "/zip/shared.txt", headers={"accept-encoding": "gzip"})
                                          for _ in range(20)))
    answers = asyncio.run(many())
    assert all(r.headers["content-encoding"] == "gzip" and r.content == body for r in answers)
    assert len({r.headers["content-length"] for r in answers}) == 1


def test_a_viewer_text_in_an_access_log_line_is_bounded(edge: Edge, s3: Any) -> None:
    serve(edge, "/logged/long", headers={"cache-control": "max-age=600"})
    edge.get("/logged/long", headers={"cookie": "c=" + "x" * 60_000, "user-agent": "long-ua"})
    row = next(line for line in access_log(edge, s3, "long-ua")[1] if "long-ua" in line)
    assert len(row.split("\t")[12]) <= 3 * 4096  # the cookie field: at most 4,096 characters, URL-encoded
