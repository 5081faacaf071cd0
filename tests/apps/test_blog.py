"""MyBlog.com through ``stratus up``, with the clients its users have: httpx for the public API and browsers' form
uploads (presigned POST), boto3 for the user pool and the operator's S3, the ``stratus`` CLI for the regions.

The system runs on a manual clock, so retries and expiries come when the test moves it, not after real waits."""

from __future__ import annotations

import email.policy
import io
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from email.parser import BytesParser
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urljoin, urlparse

import httpx
import pytest
from PIL import Image

from tests.conftest import ROOT, Clients, kill_during_burst, smtp_server, start

BLOG = ROOT / "apps" / "blog"
T = TypeVar("T")


def until(fn: Callable[[], T], timeout: float = 20.0, every: float = 0.05) -> T:
    end = time.monotonic() + timeout
    while True:
        got = fn()
        if got or time.monotonic() > end:
            return got
        time.sleep(every)


class Blog(Clients):
    def __init__(self, system: Any) -> None:
        super().__init__(system, "blog")
        self.regions = {r: e["api"] for r, e in self.app["regions"].items()}
        self.outbox = system.data_dir / "outbox"

    def at(self, region: str, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = kw.pop("headers", {})
        if token:
            headers["authorization"] = f"Bearer {token}"
        return self.http.request(method, self.regions[region] + path, headers=headers, **kw)

    def member(self, *groups: str) -> str:
        """A new user of the authors pool, confirmed and put in ``groups`` by the operator, signed in: their access
        token."""
        email = self.sign_up()
        idp = self.admin_idp()
        idp.admin_confirm_sign_up(UserPoolId=self.app["user_pool_id"], Username=email)
        for group in groups:
            idp.admin_add_user_to_group(UserPoolId=self.app["user_pool_id"], Username=email, GroupName=group)
        return self.sign_in(email)["AccessToken"]

    def author(self) -> str:
        """A new member of the authors group, signed in: their access token."""
        return self.member("authors")

    def mails(self) -> list[Any]:
        out = []
        for path in sorted(self.outbox.glob("*.eml")) if self.outbox.is_dir() else []:
            with open(path, "rb") as f:
                out.append(BytesParser(policy=email.policy.default).parse(f))
        return out

    def welcomes(self, to: str | None = None) -> list[Any]:
        return [m for m in self.mails() if m["Subject"] == "Welcome to MyBlog.com" and (to is None or m["To"] == to)]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "stratus", *args, "--data-dir", str(self.system.data_dir)],
                              capture_output=True, text=True, timeout=60)

    def dead_letters(self) -> list[dict[str, Any]]:
        r = self.operator("GET", "/_stratus/dead-letters?app=blog")
        assert r.status_code == 200, r.text
        letters: list[dict[str, Any]] = r.json()["dead_letters"]
        return letters

    offset = 0.0  # the system's clock less this machine's: boto3 signs at the system's time

    def advance(self, seconds: float) -> float:
        now = super().advance(seconds)
        Blog.offset = now - time.time()
        return now

    def flush(self) -> None:
        assert self.operator("POST", "/_stratus/cache/flush", headers={"x-stratus-app": "blog"}).status_code == 200

    def photo(self, token: str) -> dict[str, Any]:
        r = self.api("POST", "/photos", token)
        assert r.status_code == 201, r.text
        form: dict[str, Any] = r.json()
        return form

    def post_form(self, form: dict[str, Any], data: bytes, content_type: str = "image/jpeg",
                  fields: dict[str, str] | None = None) -> httpx.Response:
        """The browser's form upload: the form's fields, the Content-Type, then the file."""
        return self.http.post(form["url"], data={**(fields or form["fields"]), "Content-Type": content_type},
                              files={"file": ("photo", data, content_type)})

    def object(self, key: str) -> bytes | None:
        try:
            body: bytes = self.s3().get_object(Bucket=self.app["buckets"]["photos"], Key=key)["Body"].read()
            return body
        except self.s3().exceptions.NoSuchKey:
            return None


@pytest.fixture(scope="module")
def blog(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Blog]:
    import datetime as dt

    import botocore.auth

    def signing_now(remove_tzinfo: bool = True) -> dt.datetime:
        now = dt.datetime.fromtimestamp(time.time() + Blog.offset, dt.UTC)
        return now.replace(tzinfo=None) if remove_tzinfo else now
    s = start(tmp_path_factory.mktemp("blog"), BLOG, extra=["--manual-clock"])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.auth, "get_current_datetime", signing_now)
        Blog.offset = 0.0
        blog = Blog(s)
        blog.advance(0)
        yield blog
    s.stop()


def jpeg(width: int, height: int, orientation: int = 1, gps: bool = True) -> bytes:
    """A photo as a phone takes it: its pixels stored sideways with an EXIF orientation, and where it was taken."""
    im = Image.new("RGB", (width, height), (200, 30, 30))
    im.paste((30, 30, 200), (0, 0, width // 2, height // 4))  # a blue block at the top left, to see the turn by
    exif = Image.Exif()
    exif[0x0112] = orientation
    if gps:
        exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)}
    out = io.BytesIO()
    im.save(out, "JPEG", exif=exif.tobytes())
    return out.getvalue()


# -- subscribers and their welcome

def test_fifty_concurrent_subscribes_with_duplicates_send_one_welcome_each(blog: Blog) -> None:
    run = uuid.uuid4().hex[:6]
    addresses = [f"reader{i}-{run}@example.com" for i in range(30)]
    requests = addresses + addresses[:20]  # 50 subscribes, 20 of them again
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda a: blog.at("us-east-1", "POST", "/subscribe", json={"email": a}), requests))
    assert {r.status_code for r in answers} == {202}
    got = until(lambda: len({str(m["To"]) for m in blog.welcomes()} & set(addresses)) == 30 or None)
    assert got, f"{len(blog.welcomes())} welcome mails"
    blog.advance(400)  # any retry there could be is due now (the longest backoff is 300 s), and has its chance
    time.sleep(1.5)
    for address in addresses:
        mails = blog.welcomes(address)
        assert len(mails) == 1, (address, len(mails))
        mail = mails[0]
        assert mail.get_body(("plain",)) is not None and mail.get_body(("html",)) is not None
        assert re.fullmatch(r"<welcome\.[0-9a-f-]{36}@[^>]+>", str(mail["Message-ID"])), mail["Message-ID"]
        assert "/unsubscribe?email=" in mail.get_body(("plain",)).get_content()
        assert re.fullmatch(r"<https://\S+/unsubscribe\?email=\S+&token=\S+>", str(mail["List-Unsubscribe"]))
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        # as written: one plain line (not folded into encoded words, which mail providers do not read there)
        raw = next(p.read_bytes() for p in blog.outbox.glob("*.eml") if str(mail["Message-ID"]).encode() in p.read_bytes())
        assert re.search(rb"\nList-Unsubscribe: <https://[^\s>]+>\r?\n", raw), raw[:600]


def _unsubscribe_link(blog: Blog, address: str) -> str:
    mail = until(lambda: blog.welcomes(address))
    assert mail, f"no welcome for {address}"
    text = mail[0].get_body(("plain",)).get_content()
    found = re.search(r"https://\S+/unsubscribe\?\S+", text)
    assert found, text
    return found.group(0)


def test_the_unsubscribe_link_works_once_and_cannot_be_forged(blog: Blog) -> None:
    alice, bob = f"alice-{uuid.uuid4().hex[:6]}@example.com", f"bob-{uuid.uuid4().hex[:6]}@example.com"
    for who in (alice, bob):
        assert blog.api("POST", "/subscribe", json={"email": who}).status_code == 202
    alice_link, bob_link = _unsubscribe_link(blog, alice), _unsubscribe_link(blog, bob)
    bob_token = parse_qs(urlparse(bob_link).query)["token"][0]
    base = alice_link.split("?")[0]
    for forged in ({"email": alice, "token": bob_token}, {"email": alice, "token": "x" * 43},
                   {"email": alice, "token": ""}, {"email": alice}, {"email": "nobody@example.com", "token": bob_token}):
        for method in ("GET", "POST"):
            r = blog.http.request(method, base, params=forged)
            assert r.status_code in (400, 403), (method, forged, r.status_code, r.text)
    assert blog.http.get(base, params={"email": "not an address", "token": "t"}).status_code == 400
    # the link opens a page with a button; opening it (a mail scanner following links) unsubscribes nobody
    page = blog.http.get(alice_link)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"] and "<form method=post" in page.text
    assert blog.http.get(alice_link).status_code == 200
    action = re.search(r'action="([^"]+)"', page.text)
    assert action, page.text
    done = blog.http.post(urljoin(alice_link, action.group(1).replace("&amp;", "&")),
                          headers={"content-type": "application/x-www-form-urlencoded"})  # the button, as a browser
    assert done.status_code == 200 and alice in done.text, done.text
    assert blog.http.get(alice_link).status_code == 403  # done: the link is spent
    one_click = blog.http.post(bob_link, content=b"List-Unsubscribe=One-Click",  # RFC 8058, as a mailbox provider
                               headers={"content-type": "application/x-www-form-urlencoded"})
    assert one_click.status_code == 200, one_click.text
    # subscribing again is a new subscription: a new welcome, a new token
    assert blog.api("POST", "/subscribe", json={"email": alice}).status_code == 202
    assert until(lambda: len(blog.welcomes(alice)) == 2)
    assert blog.http.post(alice_link).status_code == 403


def test_with_smtp_the_welcome_goes_to_the_server_once_with_one_click_unsubscribe(tmp_path: Path) -> None:
    with smtp_server() as (port, received):
        s = start(tmp_path / "data", BLOG, extra=["--smtp", f"127.0.0.1:{port}"])
        try:
            blog = Blog(s)
            for _ in range(3):
                assert blog.at("us-east-1", "POST", "/subscribe", json={"email": "smtp-reader@example.com"}
                               ).status_code == 202
            assert until(lambda: received)
            time.sleep(1.0)
            assert len(received) == 1 and not list((tmp_path / "data" / "outbox").glob("*.eml"))
            raw = received[0]
            assert re.search(rb"\nList-Unsubscribe: <https://[^\s>]+>\r?\n", raw), raw[:800]
            msg = BytesParser(policy=email.policy.default).parsebytes(raw)
            assert msg["To"] == "smtp-reader@example.com" and msg.get_body(("html",)) is not None
            link = str(msg["List-Unsubscribe"]).strip("<>")
            done = blog.http.post(link, content=b"List-Unsubscribe=One-Click",
                                  headers={"content-type": "application/x-www-form-urlencoded"})
            assert done.status_code == 200, done.text
        finally:
            s.stop()


def test_subscribe_refuses_what_is_not_an_address(blog: Blog) -> None:
    for body in ({"email": "no-at-sign"}, {"email": 5}, {}, {"email": "a@b.co", "more": 1}, {"email": "x" * 300 + "@a.b"}):
        r = blog.api("POST", "/subscribe", json=body)
        assert r.status_code == 400, (body, r.status_code, r.text)
    assert blog.api("POST", "/subscribe", content=b"{not json", headers={"content-type": "application/json"}
                    ).status_code == 400


# -- authors and posts

def test_authors_write_and_readers_read_newest_first(blog: Blog) -> None:
    writer, other = blog.author(), blog.author()
    assert blog.api("POST", "/posts", json={"title": "x", "body": "y"}).status_code == 401
    run = uuid.uuid4().hex[:6]
    slugs = []
    for i in range(5):
        r = blog.api("POST", "/posts", writer, json={"title": f"Post {i} {run}", "body": f"Text {i}"})
        assert r.status_code == 201, r.text
        slug = r.json()["slug"]
        assert re.fullmatch(rf"post-{i}-{run}-[0-9a-f]{{12}}", slug) and r.headers["location"].endswith(f"/posts/{slug}")
        slugs.append(slug)
        blog.advance(1)  # a second apart: the list is newest first
    assert blog.api("POST", "/posts", writer, json={"title": "x", "body": "", "slug": "mine"}).status_code == 400
    assert blog.api("GET", f"/posts/{slugs[0]}%0A").status_code == 404
    blog.flush()
    seen: list[str] = []
    token = None
    while True:
        r = blog.api("GET", "/posts", params={"limit": 2, **({"next_token": token} if token else {})})
        assert r.status_code == 200, r.text
        seen += [p["slug"] for p in r.json()["posts"]]
        token = r.json()["next_token"]
        if not token:
            break
    mine = [s for s in seen if f"-{run}-" in s]
    assert mine == list(reversed(slugs))
    post = blog.api("GET", f"/posts/{slugs[2]}").json()
    assert post["title"] == f"Post 2 {run}" and post["body"] == "Text 2" and "pk" not in post
    assert blog.api("GET", "/posts/no-such-post").status_code == 404
    # only its author edits or deletes it
    assert blog.api("PATCH", f"/posts/{slugs[2]}", other, json={"title": "mine now"}).status_code == 403
    assert blog.api("DELETE", f"/posts/{slugs[2]}", other).status_code == 403
    assert blog.api("PATCH", f"/posts/{slugs[2]}", writer, json={}).status_code == 400
    r = blog.api("PATCH", f"/posts/{slugs[2]}", writer, json={"title": "Edited"})
    assert r.status_code == 200 and r.json()["title"] == "Edited"
    # readers share the stage cache's answer until it expires (as on API Gateway, which drops no entry on a write)
    assert blog.api("GET", f"/posts/{slugs[2]}").json()["title"] == f"Post 2 {run}"
    blog.flush()
    assert blog.api("GET", f"/posts/{slugs[2]}").json()["title"] == "Edited"
    assert blog.api("DELETE", f"/posts/{slugs[3]}", writer).status_code == 204
    blog.flush()
    assert blog.api("GET", f"/posts/{slugs[3]}").status_code == 404
    listed = [p for p in blog.api("GET", "/posts", params={"limit": 50}).json()["posts"] if f"-{run}-" in p["slug"]]
    assert [p["slug"] for p in listed] == [slugs[4], slugs[2], slugs[1], slugs[0]]
    assert listed[1]["title"] == "Edited"


def test_reading_is_cached_and_writing_needs_the_authors_group(blog: Blog) -> None:
    token = blog.member()  # in the pool, in no group
    assert blog.api("POST", "/posts", token, json={"title": "x", "body": "y"}).status_code == 403
    assert blog.api("POST", "/photos", token).status_code == 403
    before = blog.operator("GET", "/_stratus/stats").json()["apps"]["blog"]["apis"]["api"]["response_cache"]["hits"]
    for _ in range(3):
        assert blog.api("GET", "/posts").status_code == 200
    after = blog.operator("GET", "/_stratus/stats").json()["apps"]["blog"]["apis"]["api"]["response_cache"]["hits"]
    assert after - before >= 2


# -- photos

def test_twenty_photos_by_presigned_post_give_twenty_upright_thumbnails_without_gps(blog: Blog) -> None:
    author = blog.author()
    shapes = [(1600, 1200, 1), (1200, 1600, 1), (1600, 1200, 6), (1600, 1200, 8), (1600, 1200, 3), (300, 200, 1),
              (4000, 1000, 6), (640, 480, 1), (800, 800, 6), (2000, 1500, 1)] * 2
    forms = []
    for width, height, orientation in shapes:
        form = blog.photo(author)
        r = blog.post_form(form, jpeg(width, height, orientation))
        assert r.status_code == 204, r.text
        forms.append(form)
    for form, (width, height, orientation) in zip(forms, shapes, strict=True):
        data = until(lambda f=form: blog.object(f["thumbnail"]))  # type: ignore[misc]
        assert data, f"no thumbnail {form['thumbnail']}"
        with Image.open(io.BytesIO(data)) as im:
            upright = (height, width) if orientation in (6, 8) else (width, height)
            scale = min(1.0, 320 / max(upright))
            assert abs(im.width - upright[0] * scale) <= 1 and abs(im.height - upright[1] * scale) <= 1, \
                (upright, im.size)
            assert max(im.size) <= 320
            assert not im.getexif() and "exif" not in im.info and "GPS" not in str(im.info)
            # the blue block was at the stored image's top left; after the turn it is where the viewer sees it
            corner = {1: (0, 0), 6: (im.width - 1, 0), 8: (0, im.height - 1), 3: (im.width - 1, im.height - 1)}
            x, y = corner[orientation]
            r, g, b = im.convert("RGB").getpixel((x, y))  # type: ignore[misc]
            assert b > 150 and r < 100, (orientation, (r, g, b))
    stats = blog.operator("GET", "/_stratus/stats").json()["apps"]["blog"]["triggers"]["make-thumbnail"]
    assert stats["delivered"] >= 20


def _form_error(r: httpx.Response) -> str:
    found = re.search(r"<Code>([^<]+)</Code>", r.text)
    return found.group(1) if found else f"{r.status_code} {r.text[:200]}"


def test_bad_uploads_are_refused_with_s3s_error_codes(blog: Blog) -> None:
    author = blog.author()
    image = jpeg(64, 64)
    form = blog.photo(author)
    too_big = blog.post_form(form, b"\xff\xd8" + b"\0" * (10 * 1024 * 1024))
    assert too_big.status_code == 400 and _form_error(too_big) == "EntityTooLarge"
    wrong_type = blog.post_form(form, b"#!/bin/sh\n", content_type="text/x-sh")
    assert wrong_type.status_code == 403 and _form_error(wrong_type) == "AccessDenied"
    other_key = blog.post_form(form, image, fields={**form["fields"], "key": "uploads/elsewhere.jpg"})
    assert other_key.status_code == 403 and _form_error(other_key) == "AccessDenied"
    tampered = dict(form["fields"])
    tampered["x-amz-signature"] = ("0" if tampered["x-amz-signature"][0] != "0" else "1") + tampered["x-amz-signature"][1:]
    bad_sig = blog.post_form(form, image, fields=tampered)
    assert bad_sig.status_code == 403 and _form_error(bad_sig) == "SignatureDoesNotMatch"
    stretched = dict(form["fields"])  # a policy widened by hand: its signature no longer matches
    stretched["policy"] = stretched["policy"][:-4] + ("AAAA" if stretched["policy"][-4:] != "AAAA" else "BBBB")
    assert _form_error(blog.post_form(form, image, fields=stretched)) in ("SignatureDoesNotMatch", "InvalidPolicyDocument")
    blog.advance(301)  # past the form's 5 minutes, on the system's clock
    expired = blog.post_form(form, image)
    assert expired.status_code == 403 and _form_error(expired) == "AccessDenied" and "expired" in expired.text.lower()
    assert blog.object(form["key"]) is None
    fresh = blog.photo(author)
    assert blog.post_form(fresh, image).status_code == 204  # the same upload, in time, is taken


def test_what_is_no_image_is_dead_lettered_with_its_reason_and_redriven_after_the_fix(blog: Blog) -> None:
    author = blog.author()
    import struct
    import zlib

    def png(width: int, height: int) -> bytes:  # a valid PNG header claiming a huge image: a decompression bomb
        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        raw = zlib.compress(b"\0" * 1000)
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + \
            chunk(b"IDAT", raw) + chunk(b"IEND", b"")
    good = jpeg(400, 300)
    bad = {"text": (b"hello, I am no picture", "image/png", "not an image"),
           "truncated": (good[: len(good) // 2], "image/jpeg", "damaged"),
           "bomb": (png(20000, 20000), "image/png", "decompression bomb")}
    forms = {}
    for name, (data, ctype, _) in bad.items():
        forms[name] = blog.photo(author)
        assert blog.post_form(forms[name], data, content_type=ctype).status_code == 204
    fine = blog.photo(author)  # a good photo uploaded meanwhile is not held up by the bad ones
    assert blog.post_form(fine, good).status_code == 204
    assert until(lambda: blog.object(fine["thumbnail"]))
    mine = {f["key"] for f in forms.values()}

    def letters() -> dict[str, dict[str, Any]]:
        return {d["event"]["key"]: d for d in blog.dead_letters() if d["event"].get("key") in mine}
    def spent() -> dict[str, dict[str, Any]] | None:  # three tries in all, as Lambda tries an S3 event
        blog.advance(10)  # past the next backoff (1 s, then 2 s) whenever the last try has happened
        got = letters()
        return got if len(got) == 3 else None
    found = until(spent, 60, 0.25)
    assert found, blog.dead_letters()
    for name, (_, _, reason) in bad.items():
        letter = found[forms[name]["key"]]
        assert letter["attempts"] == 3 and letter["trigger"] == "make-thumbnail"
        assert reason in letter["error"] and "NotAnImage" in letter["error"], letter["error"]
        assert blog.object(forms[name]["thumbnail"]) is None
    # the fix: the author uploads the real picture over the text file; then the dead letter is sent again
    blog.s3().put_object(Bucket=blog.app["buckets"]["photos"], Key=forms["text"]["key"], Body=good,
                         ContentType="image/jpeg")
    letter_id = found[forms["text"]["key"]]["id"]
    done = blog.cli("redrive", "blog", "make-thumbnail", "--id", str(letter_id))
    assert done.returncode == 0 and "sent 1 dead letter" in done.stdout, done.stderr
    assert until(lambda: blog.object(forms["text"]["thumbnail"]))
    assert until(lambda: forms["text"]["key"] not in letters())
    listing = blog.cli("dead-letters", "blog")
    assert "make-thumbnail" in listing.stdout and "not an image" not in listing.stdout


# -- two regions

def _post(blog: Blog, region: str, slug: str) -> dict[str, Any] | None:
    r = blog.at(region, "GET", f"/posts/{slug}", headers={"cache-control": "max-age=0"})
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


def test_posts_replicate_to_the_other_region_and_converge_after_an_outage(blog: Blog) -> None:
    author = blog.author()
    run = uuid.uuid4().hex[:6]
    r = blog.at("us-east-1", "POST", "/posts", author, json={"title": f"Written in Virginia {run}", "body": "v1"})
    assert r.status_code == 201, r.text
    slug = r.json()["slug"]
    assert until(lambda: _post(blog, "eu-west-1", slug)), "the post never reached eu-west-1"

    paused = blog.cli("region", "pause", "blog", "eu-west-1")
    assert paused.returncode == 0 and "paused" in paused.stdout, paused.stderr
    blog.advance(1)
    assert blog.at("us-east-1", "PATCH", f"/posts/{slug}", author, json={"title": "From Virginia"}).status_code == 200
    blog.advance(1)  # a second later, the other region's write: it wins, in both
    assert blog.at("eu-west-1", "PATCH", f"/posts/{slug}", author, json={"title": "From Ireland"}).status_code == 200
    r = blog.at("eu-west-1", "POST", "/posts", author, json={"title": "Only in Ireland", "body": "x"})
    assert r.status_code == 201
    only_eu = r.json()["slug"]
    time.sleep(1.0)
    blog.flush()
    assert _post(blog, "us-east-1", slug)["title"] == "From Virginia"  # type: ignore[index]
    assert _post(blog, "eu-west-1", slug)["title"] == "From Ireland"  # type: ignore[index]
    assert _post(blog, "us-east-1", only_eu) is None
    regions = blog.operator("GET", "/_stratus/stats").json()["apps"]["blog"]["regions"]
    assert regions["eu-west-1"]["paused"] and regions["eu-west-1"]["replication"]["posts"]["pending"] >= 1
    assert regions["us-east-1"]["replication"]["posts"]["pending"] >= 2
    stats = blog.cli("stats")
    assert "eu-west-1" in stats.stdout and "paused" in stats.stdout

    resumed = blog.cli("region", "resume", "blog", "eu-west-1")
    assert resumed.returncode == 0 and "resumed" in resumed.stdout, resumed.stderr

    def converged() -> bool:
        blog.flush()
        us, eu = _post(blog, "us-east-1", slug), _post(blog, "eu-west-1", slug)
        return bool(us and eu and us["title"] == eu["title"] == "From Ireland" and _post(blog, "us-east-1", only_eu))
    assert until(converged), (_post(blog, "us-east-1", slug), _post(blog, "eu-west-1", slug))
    # the feeds agree too, and nothing is left on the way
    feeds = [[p["slug"] for p in blog.at(r, "GET", "/posts", params={"limit": 50}).json()["posts"]]
             for r in ("us-east-1", "eu-west-1")]
    assert feeds[0] == feeds[1] and only_eu in feeds[0]
    regions = until(lambda: (g := blog.operator("GET", "/_stratus/stats").json()["apps"]["blog"]["regions"]) and all(
        f["replication"]["posts"]["pending"] == 0 for f in g.values()) and g)
    assert regions and regions["eu-west-1"]["replication"]["posts"]["p50_lag_ms"] is not None


def test_writes_at_one_instant_resolve_the_same_way_in_both_regions(blog: Blog) -> None:
    author = blog.author()
    r = blog.at("us-east-1", "POST", "/posts", author, json={"title": "tie", "body": "b"})
    assert r.status_code == 201
    slug = r.json()["slug"]
    assert until(lambda: _post(blog, "eu-west-1", slug))
    assert blog.cli("region", "pause", "blog", "us-east-1").returncode == 0
    blog.advance(5)  # the clock stands still: both edits are written at the same instant
    for region in ("us-east-1", "eu-west-1"):
        assert blog.at(region, "PATCH", f"/posts/{slug}", author, json={"body": region}).status_code == 200
    assert blog.cli("region", "resume", "blog", "us-east-1").returncode == 0

    def agreed() -> str | None:
        blog.flush()
        bodies = {r: (_post(blog, r, slug) or {}).get("body") for r in ("us-east-1", "eu-west-1")}
        return bodies["us-east-1"] if bodies["us-east-1"] == bodies["eu-west-1"] else None
    assert until(agreed) == "us-east-1"  # a tie in time goes to the larger region name, in every region


def test_the_region_command_says_what_is_wrong(blog: Blog) -> None:
    assert "no region 'mars-east-1'" in blog.cli("region", "pause", "blog", "mars-east-1").stderr
    assert "no app named 'nope'" in blog.cli("region", "pause", "nope", "us-east-1").stderr
    for body in ({"app": "blog", "region": "eu-west-1", "action": "explode"}, {"app": "blog"}, []):
        assert blog.operator("POST", "/_stratus/region", json=body).status_code == 400


# -- a crash in a burst of subscribes

def test_a_sigkill_in_a_burst_of_500_subscribes_leaves_one_welcome_per_acknowledged_address(tmp_path: Path) -> None:
    s = start(tmp_path / "data", BLOG)
    blog = Blog(s)
    run = uuid.uuid4().hex[:6]

    def subscribe(i: int) -> bool:
        try:
            r = blog.at("us-east-1", "POST", "/subscribe", json={"email": f"burst{i}-{run}@example.com"})
        except httpx.HTTPError:
            return False  # not acknowledged: the process was killed before it answered
        return r.status_code == 202
    acknowledged = [f"burst{i}-{run}@example.com" for i in kill_during_burst(s, subscribe)]
    again = Blog(start(tmp_path / "data", BLOG))
    try:
        def welcomed() -> set[str]:
            return {str(m["To"]) for m in again.welcomes()}
        got = until(lambda: set(acknowledged) <= (w := welcomed()) and w, 60)
        assert set(acknowledged) <= got, sorted(set(acknowledged) - got)[:10]
        time.sleep(1.0)
        per_address: dict[str, int] = {}
        for m in again.welcomes():
            per_address[str(m["To"])] = per_address.get(str(m["To"]), 0) + 1
        assert all(n == 1 for n in per_address.values()), {a: n for a, n in per_address.items() if n != 1}
    finally:
        again.system.stop()


def test_the_api_tells_clients_of_both_regions_in_endpoints_json(blog: Blog) -> None:
    entry = blog.app
    assert entry["api"] == entry["regions"]["us-east-1"]["api"] != entry["regions"]["eu-west-1"]["api"]
    assert set(entry["buckets"]) == {"photos", "site", "logs"} and entry["user_pool_id"] and entry["user_pool_client_id"]
    assert entry["regions"]["eu-west-1"]["apis"] == {"api": entry["regions"]["eu-west-1"]["api"]}
