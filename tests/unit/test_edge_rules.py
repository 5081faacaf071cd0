"""CloudFront's rules as the edge applies them, function by function (no I/O)."""

from __future__ import annotations

import pytest

from stratus.graph.edge import CachePolicy
from stratus.local.services.cloudfront import policy as rules
from stratus.local.services.cloudfront.origins import OriginError, _kept_headers


@pytest.mark.parametrize(("pattern", "path", "fits"), [
    ("/api/*", "/api/posts", True), ("api/*", "/api/posts", True), ("/api/*", "/apix", False),
    ("*.jpg", "/a/b.jpg", True), ("*.jpg", "/a/b.JPG", False), ("/a?c", "/abc", True), ("/a?c", "/ac", False),
])
def test_path_patterns(pattern: str, path: str, fits: bool) -> None:
    assert rules.path_matches(pattern, path) is fits


@pytest.mark.parametrize(("value", "size", "want"), [
    ("bytes=0-9", 100, (0, 9)), ("bytes=-10", 100, (90, 99)), ("bytes=90-", 100, (90, 99)),
    ("bytes=95-200", 100, (95, 99)), ("bytes=100-", 100, "unsatisfiable"), ("bytes=-0", 100, "unsatisfiable"),
    ("bytes=0-1,3-4", 100, None), ("bytes=5-4", 100, None), ("bits=0-1", 100, None), ("bytes=a-b", 100, None),
    ("bytes=" + "9" * 30 + "-", 100, None),
])
def test_ranges(value: str, size: int, want: object) -> None:
    assert rules.single_range(value, size) == want


def test_lifetimes_by_precedence_and_bounds() -> None:
    p = CachePolicy(min_ttl=5, default_ttl=100, max_ttl=1000)
    assert rules.lifetime(200, {"cache-control": "max-age=10, s-maxage=40"}, p, 0).ttl == 40
    assert rules.lifetime(200, {"cache-control": "max-age=2"}, p, 0).ttl == 5  # raised to MinTTL
    assert rules.lifetime(200, {"cache-control": "no-store"}, p, 0).ttl == 5
    assert rules.lifetime(200, {"cache-control": "no-store"}, CachePolicy(), 0).ttl is None
    assert rules.lifetime(200, {}, p, 0).ttl == 100
    assert rules.lifetime(416, {}, p, 0).ttl is None  # never kept
    assert rules.lifetime(404, {"cache-control": "max-age=60"}, p, 0).ttl == 60  # the longer of the two
    assert rules.lifetime(404, {"cache-control": "no-store"}, p, 0).ttl is None
    assert rules.lifetime(500, {"cache-control": "no-store"}, p, 0).ttl == 10  # stops only 404, 410, 414, 501


def test_encodings_and_what_is_compressed() -> None:
    assert rules.accepted_encoding("gzip, br") == "br"
    assert rules.accepted_encoding("br;q=0, gzip") == "gzip"
    assert rules.accepted_encoding("identity") is None
    assert rules.compressible("text/html; charset=utf-8", 1000, None)
    assert not rules.compressible("text/html", 999, None) and not rules.compressible("text/html", 10_000_001, None)
    assert not rules.compressible("image/png", 5000, None) and not rules.compressible("text/css", 5000, "gzip")


def test_invalidation_paths() -> None:
    exact, prefixes = rules.split_invalidation(["/a", "/b/*", "/c*"])
    assert rules.covered("/a", exact, prefixes) and rules.covered("/b/x/y", exact, prefixes)
    assert rules.covered("/cat", exact, prefixes) and not rules.covered("/ab", exact, prefixes)
    for bad in ("a", "/a*b", "/" + "x" * 4001):
        with pytest.raises(ValueError):
            rules.check_invalidation_path(bad)


@pytest.mark.parametrize("value", ['attachment; filename="a"\r\nSet-Cookie: s=1', "a\nb", "a\x00b", "a\x7fb"])
def test_an_origin_header_that_would_split_the_answer_is_refused(value: str) -> None:
    with pytest.raises(OriginError) as caught:
        _kept_headers([(b"content-disposition", value.encode("latin-1"))])
    assert caught.value.status == 502


def test_origin_headers_kept() -> None:
    kept = _kept_headers([(b"Set-Cookie", b"a=1"), (b"set-cookie", b"b=2"), (b"Connection", b"close"),
                          (b"Cache-Control", b"max-age=1"), (b"Vary", b"Origin"), (b"vary", b"Accept")])
    assert kept == {"set-cookie": "a=1\nb=2", "cache-control": "max-age=1", "vary": "Origin, Accept"}
