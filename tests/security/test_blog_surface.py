"""MyBlog's public surface and the per-region APIs under hostile input: each answer is a clear 4xx (or the page it
should be), never a 500 or a dropped connection."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import ROOT, Clients, start, trust

BLOG = ROOT / "apps" / "blog"


@pytest.fixture(scope="module")
def blog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clients]:
    s = start(tmp_path_factory.mktemp("blog-surface"), BLOG)
    yield Clients(s, "blog")
    s.stop()


def _b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


SLUGS = ["..%2F..%2Fetc%2Fpasswd", "%00", "%E2%98%83", "a" * 5000, "%0Aok", "post%23x", "UPPER", "-x-", "%FF%FE",
         "a%2Fb", ";drop", "%25"]


@pytest.mark.parametrize("slug", SLUGS)
def test_odd_slugs_are_not_found(blog: Clients, slug: str) -> None:
    for region_api in (blog.app["regions"][r]["api"] for r in blog.app["regions"]):
        r = blog.http.get(f"{region_api}/posts/{slug}")
        assert r.status_code in (400, 404), (slug, r.status_code, r.text[:200])


@pytest.mark.parametrize("token", ["x", _b64(["posts", "feed", {"a": 1}]), _b64([1, 2, 3]), "%00" * 10, "A" * 2048,
                                   _b64(["other-table", "feed", "2030#x"])])
def test_crafted_page_tokens_are_a_400(blog: Clients, token: str) -> None:
    r = blog.api("GET", "/posts", params={"next_token": token})
    assert r.status_code == 400, (token, r.status_code, r.text[:200])


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "51"}, {"limit": "x"}, {"limit": "1e9"}])
def test_bad_page_sizes_are_a_400(blog: Clients, query: dict[str, str]) -> None:
    assert blog.api("GET", "/posts", params=query).status_code == 400


@pytest.mark.parametrize("path", ["/_api/blog@mars-1/api/posts", "/_api/blog@/api/posts", "/_api/blog%40eu-west-1%00/api/posts",
                                  "/_api/blog@EU-WEST-1/api/posts", "/_api/blog@eu-west-1@us-east-1/api/posts",
                                  "/_api/%40eu-west-1/api/posts", "/_api/blog@eu-west-1/nope/posts"])
def test_odd_region_paths_are_not_found(blog: Clients, path: str) -> None:
    r = blog.http.get(blog.ep["aws_endpoint"] + path)
    assert r.status_code == 404, (path, r.status_code, r.text[:200])
    assert blog.http.get(blog.ep["aws_endpoint"] + "/_api/blog%40eu-west-1/api/posts").status_code == 200


@pytest.mark.parametrize("body", [b"{", b"[]", b"null", json.dumps({"email": "a@b.co" * 100}).encode(),
                                  json.dumps({"email": "\u0000@x.org"}).encode(), b"\xff\xfe", b"{" * 10000])
def test_hostile_subscribe_bodies_are_a_400(blog: Clients, body: bytes) -> None:
    r = blog.api("POST", "/subscribe", content=body, headers={"content-type": "application/json"})
    assert r.status_code in (400, 413), (body[:40], r.status_code, r.text[:200])


@pytest.mark.parametrize("query", ["email=a%40b.co&token=" + "x" * 5000, "email=%00&token=t", "email=a%40b.co&token=%00",
                                   "email=" + quote("a@b.co" * 200) + "&token=t", "token=t", "email=a%40b.co",
                                   "email=a%40b.co&email=c%40d.co&token=t"])
def test_hostile_unsubscribe_links_are_refused(blog: Clients, query: str) -> None:
    for method in ("GET", "POST"):
        r = blog.http.request(method, f"{blog.app['api']}/unsubscribe?{query}")
        assert r.status_code in (400, 403), (method, query[:60], r.status_code, r.text[:200])


def test_writing_needs_a_token_and_the_group(blog: Clients) -> None:
    for method, path in (("POST", "/posts"), ("PATCH", "/posts/x-1"), ("DELETE", "/posts/x-1"), ("POST", "/photos")):
        for headers in ({}, {"authorization": "Bearer x.y.z"}, {"authorization": "Basic Zm9vOmJhcg=="}):
            r = blog.http.request(method, blog.app["api"] + path, headers=headers, json={"title": "t", "body": "b"})
            assert r.status_code == 401, (method, path, headers, r.status_code)


def test_the_connection_survives_every_refusal(blog: Clients) -> None:
    with httpx.Client(verify=trust(blog.ep)) as http:
        for _ in range(3):
            assert http.get(f"{blog.app['api']}/posts/%00").status_code in (400, 404)
            assert http.get(f"{blog.app['api']}/posts").status_code == 200
