"""The blog's distribution under hostile requests: paths that try to climb out of a behavior's origin, odd ranges and
headers, big bodies, a flood of distinct keys. Each answer is a clear 4xx (or the page it should be): never a 500, a
dropped connection, another bucket's object, or an original the edge may not serve."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.apps.test_blog import Blog, jpeg, until
from tests.conftest import ROOT, start
from tests.security.conftest import raw_request

BLOG = ROOT / "apps" / "blog"


@pytest.fixture(scope="module")
def blog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Blog, dict[str, str]]]:
    s = start(tmp_path_factory.mktemp("edge-surface"), BLOG)
    blog = Blog(s)
    author = blog.author()
    form = blog.photo(author)
    assert blog.post_form(form, jpeg(800, 600)).status_code == 204
    assert until(lambda: blog.object(form["thumbnail"]))
    yield blog, form
    s.stop()


def raw(blog: Blog, target: str, headers: str = "") -> tuple[int, bytes]:
    """A request to the site sent as written (no client tidies its path): (status, body)."""
    answer = raw_request(blog.ep, "GET", target, headers, url=blog.app["distributions"]["site"]["url"])
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize("climb", ["/thumbnails/../uploads/{key}", "/thumbnails/%2e%2e/uploads/{key}",
                                   "/thumbnails/..%2Fuploads/{key}", "/thumbnails/%2E%2E%2Fuploads%2F{key}"])
def test_a_behavior_path_cannot_climb_to_the_originals(blog: tuple[Blog, dict[str, str]], climb: str) -> None:
    b, form = blog
    key = form["key"].removeprefix("uploads/")
    status, body = raw(b, climb.format(key=key))
    assert status in (400, 403, 404), status
    assert b"\xff\xd8" not in body[:4]  # no JPEG (the original upload) came back


@pytest.mark.parametrize("target", ["/../photos/x", "/%2e%2e/%2e%2e/etc/passwd", "/api/../_stratus/stats",
                                    "/api/%2e%2e/%2e%2e/_stratus/stats", "/api/..%2F..%2F_stratus%2Fstats",
                                    "//evil.example/x", "/index.html%00.jpg", "/%ff%fe", "/api/posts/%00"])
def test_odd_paths_get_a_clear_answer(blog: tuple[Blog, dict[str, str]], target: str) -> None:
    status, body = raw(blog[0], target)
    assert 200 <= status < 500, (target, status)
    assert b"operator" not in body and b'"apps"' not in body  # never the operations' answers


@pytest.mark.parametrize("spec", ["bytes=99999999999999999999-", "bytes=-99999999999999999999", "bytes=0-0,-1",
                                  "bytes=" + "0-1," * 1000 + "2-3", "bytes=\u00e9-1", "bytes= 1 - 2 ", "bytes=-0",
                                  "bytes=5-4", "bytes=0-18446744073709551616"])
def test_hostile_ranges(blog: tuple[Blog, dict[str, str]], spec: str) -> None:
    b, _ = blog
    status, body = raw(b, "/index.html", f"Range: {spec}\r\n".encode().decode("latin-1"))
    assert status in (200, 206, 416), (spec, status)


def test_a_flood_of_distinct_keys_stays_within_the_cache(blog: tuple[Blog, dict[str, str]]) -> None:
    b, _ = blog
    url = b.app["distributions"]["site"]["url"]
    before = b.operator("GET", "/_stratus/stats").json()["apps"]["blog"]["distributions"]["site"]["errors"]
    for i in range(300):
        r = b.http.get(f"{url}/api/posts?limit=1&junk={i}")
        assert r.status_code == 200
    figures = b.operator("GET", "/_stratus/stats").json()["apps"]["blog"]["distributions"]["site"]
    assert figures["cache"]["memory_bytes"] <= 256 * 1024 * 1024 and figures["errors"] == before


def test_a_body_too_big_for_the_edge_is_413(blog: tuple[Blog, dict[str, str]]) -> None:
    b, _ = blog
    url = b.app["distributions"]["site"]["url"]
    r = b.http.post(f"{url}/api/subscribe", content=b"x" * (10 * 1024 * 1024 + 1),
                    headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_methods_the_site_does_not_allow(blog: tuple[Blog, dict[str, str]]) -> None:
    b, _ = blog
    url = b.app["distributions"]["site"]["url"]
    # the edge's own 403, shown as the site's error response for 403 (its 404 page), as CloudFront shows its own
    # errors through the distribution's error responses
    for method, path in [(m, "/index.html") for m in ("POST", "PUT", "DELETE", "PATCH")] + [("TRACE", "/api/posts")]:
        r = b.http.request(method, url + path, content=b"x")
        assert (r.status_code, r.headers["x-cache"]) == (404, "Error from cloudfront"), (method, path)
        assert "Page not found" in r.text
