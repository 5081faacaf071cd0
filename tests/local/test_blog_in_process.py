"""MyBlog.com in process (``TestClient``), as its author tests it: no server, the triggers and replication run when
the test says ``deliver()``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stratus import Context, Mail, TableChange
from stratus.graph import TableTrigger
from stratus.loader import load_app
from stratus.testing import TestClient
from tests.conftest import ROOT

BLOG = ROOT / "apps" / "blog"


@pytest.fixture
def blog() -> Iterator[TestClient]:
    with TestClient(BLOG) as client:
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


def test_a_welcome_delivered_twice_mails_once_by_its_idempotency_record(blog: TestClient) -> None:
    """The same event handed to the handler again (a retry after a crash past the send): the idempotency record
    answers, and the mailer is not even asked."""
    app = blog.runtime.apps["blog"]
    (trigger,) = [t for t in app.app.of_kind(TableTrigger) if t.name == "welcome"]
    sent: list[Mail] = []

    class Counting:
        def send(self, mail: Mail) -> str:
            sent.append(mail)
            return "id"
    ports: dict[Any, Any] = {r: Counting() if r.kind == "email" else app.port(r) for r in trigger.uses}
    ctx = Context("blog", "welcome", ports, blog.clock, blog.clock.now() + 10)
    change = TableChange("INSERT", "subscribers", {"email": "twice@example.com"},
                         {"email": "twice@example.com", "token": "t", "unsubscribe_url": "https://blog.test/unsubscribe"},
                         None, "000000000000000000001", blog.clock.now(), "11111111-2222-3333-4444-555555555555")
    trigger.handler(change, ctx)
    trigger.handler(change, ctx)
    assert len(sent) == 1 and sent[0].message_id == "welcome.11111111-2222-3333-4444-555555555555"


def test_a_pause_outlives_a_restart(tmp_path: Path) -> None:
    with TestClient(BLOG, data_dir=tmp_path) as first:
        first.runtime.replication("blog", "eu-west-1", paused=True)
    with TestClient(BLOG, data_dir=tmp_path) as again:
        author = again.user(groups=("authors",))
        slug = again.api().post("/posts", json={"title": "Held", "body": "x"}, user=author).json()["slug"]
        again.deliver()
        assert again.api(region="eu-west-1").get(f"/posts/{slug}").status == 404
        regions = again.runtime.replication("blog", "eu-west-1", paused=False)["regions"]
        assert not regions["eu-west-1"]["paused"]
        again.deliver()
        assert again.api(region="eu-west-1").get(f"/posts/{slug}").status == 200
    assert load_app(BLOG).regions == ("us-east-1", "eu-west-1")


def _image(mode: str, size: tuple[int, int], fmt: str, **kw: Any) -> bytes:
    import io

    from PIL import Image
    out = io.BytesIO()
    color = (0, 0, 0, 0) if mode == "RGBA" else 40000 if mode == "I;16" else 0
    Image.new(mode, size, color).save(out, fmt, **kw)  # type: ignore[arg-type]
    return out.getvalue()


def test_a_thumbnail_bounds_what_it_decodes() -> None:
    import io
    from importlib import import_module

    from PIL import Image
    app = load_app(BLOG)  # the app's module, as the loader imports it
    blog_module = import_module(app.of_kind(TableTrigger)[0].handler.__module__)
    thumbnail, not_an_image = blog_module.thumbnail, blog_module.NotAnImage
    for refused, data in (("animated", _frames()),
                          ("more than 48 MB", _image("RGB", (7000, 7000), "JPEG", progressive=True)),
                          ("more than 48 MB", _image("RGBA", (4000, 4000), "PNG")),
                          ("more than 48 MB", _image("RGB", (65500, 760), "JPEG"))):
        with pytest.raises(not_an_image, match=refused):
            thumbnail(data)
    for data, size in ((_image("RGB", (7000, 7000), "JPEG"), (320, 320)),   # baseline: decoded at 1/8
                       (_image("I;16", (2000, 1500), "PNG"), (320, 240)),   # 16-bit greyscale, converted
                       (_image("RGBA", (600, 300), "PNG"), (320, 160))):    # transparent: on white
        with Image.open(io.BytesIO(thumbnail(data))) as im:
            assert im.size == size and im.mode == "RGB"
            if size == (320, 160):
                assert im.getpixel((10, 10)) == (255, 255, 255)


def _frames() -> bytes:
    import io

    from PIL import Image
    frames = [Image.new("RGB", (300, 300), (i * 80, 0, 0)) for i in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    return out.getvalue()


def test_the_site_through_its_distribution_in_process(blog: TestClient) -> None:
    site = blog.distribution()
    first, again = site.get("/"), site.get("/")
    assert first.status == again.status == 200 and b"MyBlog.com" in first.body
    assert (first.headers["x-cache"], again.headers["x-cache"]) == ("Miss from cloudfront", "Hit from cloudfront")
    assert first.headers["cache-control"] == "public, max-age=60"
    author = blog.user(groups=("authors",))
    assert blog.api().post("/posts", json={"title": "Edge", "body": "b"}, user=author).status == 201
    listed = site.get("/api/posts", query={"limit": 5})
    assert listed.status == 200 and listed.json()["posts"][0]["title"] == "Edge"
    missing = site.get("/no/such/page")
    assert missing.status == 404 and b"Page not found" in missing.body  # the bucket's 403, as the site's page
