"""MyBlog.com's part of ``stratus demo``: a reader opens the site through the edge and subscribes with its form, an
author writes a post with a photo, a reader far away reads it from the other region, and an edit reaches readers
through the edge once its paths are invalidated.

Each step is what a reader's browser or an author's client would do: plain HTTPS for the API, boto3's
``cognito-idp`` to sign in, a form upload (presigned POST) for the photo. The waits for what happens
asynchronously (the welcome mail, the thumbnail, replication) are steps of their own, so their time is the
latency. On AWS the mail goes through SES, which the tour cannot read, and the API is in the home region only.
"""

from __future__ import annotations

import email.policy
import io
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from stratus._https import post_form
from stratus.demo import Invalid, Target, Tour, expect, field, text

PASSWORD = "Demo-Passw0rd"


@dataclass(frozen=True)
class BlogEndpoints:
    api: str
    regions: dict[str, str]  # each region's API
    user_pool_id: str
    client_id: str
    bucket: str
    site: str  # the distribution's URL
    site_bucket: str

    @classmethod
    def of(cls, entry: dict[str, Any]) -> BlogEndpoints:
        regions = field(entry, "regions")
        if not isinstance(regions, dict) or not all(isinstance(r, dict) and isinstance(r.get("api"), str)
                                                    for r in regions.values()):
            raise Invalid("regions.<region>.api")
        return cls(api=text(entry, "api"), regions={name: r["api"] for name, r in regions.items()},
                   user_pool_id=text(entry, "user_pool_id"), client_id=text(entry, "user_pool_client_id"),
                   bucket=text(entry, "buckets.photos"), site=text(entry, "distributions.site.url"),
                   site_bucket=text(entry, "buckets.site"))


def endpoints(entry: dict[str, Any]) -> BlogEndpoints:
    """What the tour needs of the app's entry in an endpoints document (``Invalid`` names a missing field)."""
    return BlogEndpoints.of(entry)


def until(fn: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    end = time.monotonic() + timeout
    while True:
        got = fn()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"{what} did not happen within {timeout:.0f} s")
        time.sleep(0.02)


def _welcome(outbox: Path, address: str) -> list[Any]:
    found = []
    for path in sorted(outbox.glob("*.eml")) if outbox.is_dir() else []:
        with open(path, "rb") as f:
            msg = BytesParser(policy=email.policy.default).parse(f)
        if msg["To"] == address and msg["Subject"] == "Welcome to MyBlog.com":
            found.append(msg)
    return found


def _photo() -> bytes:
    """A phone's photo: stored sideways with an EXIF orientation, and where it was taken (GPS)."""
    from PIL import Image

    im = Image.new("RGB", (1600, 1200), (40, 90, 160))
    exif = Image.Exif()
    exif[0x0112] = 6  # turn 90 degrees to view
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)}
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


def _replicated(target: Target, api: str, state: dict[str, Any]) -> Callable[[], None]:
    far = target.https(api)
    return lambda: until(lambda: far.call("GET", f"/posts/{state['slug']}")[0] == 200, "replication")


def tour(tour: Tour, target: Target, app: str = "blog") -> None:
    """MyBlog.com as its readers and authors use it."""
    from botocore.exceptions import ClientError
    from PIL import Image

    blog = BlogEndpoints.of(target.app(app))
    idp, admin = target.client("cognito-idp"), target.admin("cognito-idp")
    s3 = target.admin("s3")
    api = target.https(blog.api)
    site = target.https(blog.site)
    run = uuid.uuid4().hex[:6]
    reader, author = f"reader-{run}@example.com", f"author-{run}@example.com"
    state: dict[str, Any] = {}
    print("MyBlog.com (apps/blog)")
    try:
        def home() -> None:
            target.invalidate(app, "site", ["/index.html"])  # a tour run before on this system left it cached
            results = []
            for _ in range(2):
                status, page = site.raw("GET", "/")
                expect(status == 200 and b"MyBlog.com" in page, f"the home page answered {status}")
                results.append(site.last_headers.get("x-cache", ""))
            expect(results == ["Miss from cloudfront", "Hit from cloudfront"], f"X-Cache was {results}")
        tour.step("reader: open the home page through the edge: a miss, then a hit (X-Cache)", home)

        def direct() -> None:
            reader_of = target.https(target.object_url(blog.site_bucket, "index.html"))
            status, body = reader_of.raw("GET", "")
            expect(status == 403 and b"AccessDenied" in body, f"a direct read of the site's bucket answered {status}")
        tour.step("anyone: read the site's bucket directly: refused, 403 AccessDenied (only the edge may)", direct)
        tour.step("reader: subscribe with the site's form (POST /api/subscribe through the edge, no sign-in)",
                  lambda: expect(site.call("POST", "/api/subscribe", {"email": reader})[0] == 202, "not subscribed"))
        if target.outbox is not None:
            outbox = target.outbox

            def arrives() -> None:
                mail = until(lambda: _welcome(outbox, reader), "the welcome mail")[0]
                html, plain = mail.get_body(("html",)), mail.get_body(("plain",))
                expect(html is not None and plain is not None and "/unsubscribe?email=" in plain.get_content(),
                       "the mail lacks its HTML part or its unsubscribe link")
            tour.step("reader: the welcome mail arrives, text and HTML with an unsubscribe link (time: the wait)",
                      arrives)

            def again() -> None:
                expect(api.call("POST", "/subscribe", {"email": reader})[0] == 202, "not answered")
                time.sleep(0.5)
                expect(len(_welcome(outbox, reader)) == 1, "a second welcome mail")
            tour.step("reader: subscribing again changes nothing: still one welcome mail", again)
        else:
            print("        (the welcome mail goes through SES, which the tour cannot read)")

        def sign_up() -> None:
            idp.sign_up(ClientId=blog.client_id, Username=author, Password=PASSWORD)
            admin.admin_confirm_sign_up(UserPoolId=blog.user_pool_id, Username=author)
            admin.admin_add_user_to_group(UserPoolId=blog.user_pool_id, Username=author, GroupName="authors")
        tour.step("author: sign up; the operator confirms them and adds them to the authors group", sign_up)

        def sign_in() -> None:
            state["token"] = idp.initiate_auth(ClientId=blog.client_id, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
                "USERNAME": author, "PASSWORD": PASSWORD})["AuthenticationResult"]["AccessToken"]
        tour.step("author: sign in to the authors pool", sign_in)

        def upload() -> None:
            status, form = api.call("POST", "/photos", token=state["token"])
            expect(status == 201, f"no upload form: {status} {form}")
            state["form"] = form
            status, body = post_form(form["url"], form["fields"], _photo(), "image/jpeg", target.ca_file)
            expect(status == 204, f"the upload answered {status}: {body[:200]!r}")
        tour.step("author: upload a photo from the browser straight to the bucket (presigned POST)", upload)

        def thumbnail() -> None:
            def fetch() -> bytes | None:
                try:
                    data: bytes = s3.get_object(Bucket=blog.bucket, Key=state["form"]["thumbnail"])["Body"].read()
                    return data
                except ClientError:
                    return None
            data = until(fetch, "the thumbnail")
            with Image.open(io.BytesIO(data)) as im:
                expect(im.size == (240, 320), f"thumbnail is {im.size}, not 240x320 upright")
                expect(not im.getexif(), "the thumbnail kept EXIF (GPS)")
        tour.step("author: the thumbnail appears, upright, 240x320, no GPS left (time: the wait)", thumbnail)

        def write() -> None:
            status, post = api.call("POST", "/posts", {"title": f"Hello from the demo {run}", "body": "First post!",
                                                       "photo": state["form"]["thumbnail"]}, state["token"])
            expect(status == 201, f"create answered {status}: {post}")
            state["slug"] = post["slug"]
        tour.step("author: write a post with the photo (POST /posts, authors group only)", write)
        tour.step("reader: the post is first in the list (GET /posts, newest first)",
                  lambda: expect(api.call("GET", "/posts", headers={"cache-control": "max-age=0"})[1]["posts"][0]
                                 ["slug"] == state["slug"], "not first"))

        def listed(title: str) -> Callable[[], None]:
            def check() -> None:
                status, doc = site.call("GET", "/api/posts")
                expect(status == 200 and doc["posts"][0]["title"] == title,
                       f"the edge lists {doc['posts'][0]['title'] if status == 200 else status!r}, not {title!r}")
            return check
        tour.step("reader: the list through the edge (GET /api/posts, kept 5 s there)",
                  listed(f"Hello from the demo {run}"))

        def edit() -> None:
            status, post = api.call("PATCH", f"/posts/{state['slug']}", {"title": f"Hello again {run}"},
                                    state["token"])
            expect(status == 200, f"the edit answered {status}: {post}")
        tour.step("author: change the post's title (PATCH /posts/{slug})", edit)
        tour.step("reader: the edge still lists the old title (kept there, and in the API's stage cache)",
                  listed(f"Hello from the demo {run}"))

        def invalidate() -> None:
            target.flush_api_cache(app, blog.api)
            target.invalidate(app, "site", ["/api/posts*"])
        tour.step("operator: flush the API's stage cache, invalidate /api/posts* at the edge (stratus flush-cache, "
                  "stratus invalidate; FlushStageCache, CreateInvalidation on AWS)", invalidate)
        tour.step("reader: the edge serves the new title at once", listed(f"Hello again {run}"))
        others = [r for r, url in blog.regions.items() if url != blog.api]
        for region in others:
            tour.step(f"reader in {region}: the post has replicated there (time: the wait)",
                      _replicated(target, blog.regions[region], state))
        if not others:
            print("        (the API is deployed in the home region only; the table's replicas are in the others)")
    finally:  # a deployment keeps no demo users
        if target.delete_users:
            tour.step("delete the demo author", lambda: admin.admin_delete_user(UserPoolId=blog.user_pool_id,
                                                                                 Username=author))
