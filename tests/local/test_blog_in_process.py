"""MyBlog.com in process (``TestClient``), as its author tests it: no server, the triggers and replication run when
the test says ``deliver()``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stratus.testing import TestClient
from tests.conftest import ROOT


@pytest.fixture
def blog() -> Iterator[TestClient]:
    with TestClient(ROOT / "apps" / "blog") as client:
        yield client


def test_a_subscriber_is_welcomed_once(blog: TestClient) -> None:
    api = blog.api()
    for _ in range(2):
        assert api.post("/subscribe", json={"email": "Reader@Example.com"}).status == 202
    blog.deliver()
    blog.deliver()
    welcomes = [m for m in blog.mail() if m.subject == "Welcome to MyBlog.com"]
    assert [m.to for m in welcomes] == ["reader@example.com"] and "/unsubscribe?email=" in welcomes[0].body


def test_a_post_written_in_one_region_is_read_in_the_other_once_delivered(blog: TestClient) -> None:
    author = blog.user(groups=("authors",))
    home, far = blog.api(), blog.api(region="eu-west-1")
    assert home.post("/posts", json={"title": "Hi", "body": "x"}, user=blog.user()).status == 403
    created = home.post("/posts", json={"title": "Hi", "body": "x"}, user=author)
    assert created.status == 201
    slug = created.json()["slug"]
    assert far.get(f"/posts/{slug}").status == 404
    blog.deliver()
    assert far.get(f"/posts/{slug}").json()["title"] == "Hi"
    assert [p["slug"] for p in far.get("/posts").json()["posts"]] == [slug]
    with pytest.raises(Exception, match="not served in 'mars-1'"):
        blog.api(region="mars-1")
