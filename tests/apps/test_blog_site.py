"""MyBlog.com's site through its distribution: the private bucket it is deployed to, the edge in front, and a real
browser (Debian's Chromium, driven by Playwright) reading posts and subscribing."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.apps.test_blog import Blog, jpeg, until
from tests.conftest import ROOT, start, trust

BLOG = ROOT / "apps" / "blog"
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Blog, Path]]:
    """The blog from a copy of its folder (a test changes a page), with a post that has a photo."""
    folder = tmp_path_factory.mktemp("app") / "blog"
    shutil.copytree(BLOG, folder, ignore=shutil.ignore_patterns("__pycache__"))
    system = start(tmp_path_factory.mktemp("blog-site"), folder)
    blog = Blog(system)
    author = blog.author()
    form = blog.photo(author)
    assert blog.post_form(form, jpeg(1200, 800)).status_code == 204
    assert until(lambda: blog.object(form["thumbnail"]))
    r = blog.api("POST", "/posts", author, json={"title": "Hello from the edge", "body": "First post.\n\nSecond "
                                                  "paragraph.", "photo": form["thumbnail"]})
    assert r.status_code == 201, r.text
    yield blog, folder
    system.stop()


def url(blog: Blog) -> str:
    found: str = blog.app["distributions"]["site"]["url"]
    return found


def test_the_site_is_deployed_with_its_types_and_lifetimes(site: tuple[Blog, Path]) -> None:
    blog, folder = site
    home = blog.http.get(url(blog) + "/")
    assert home.status_code == 200 and home.headers["content-type"] == "text/html"
    assert home.headers["cache-control"] == "public, max-age=60"  # HTML: short-lived
    assets = re.findall(r'"/assets/([^"]+)"', home.text)
    assert assets
    for name in assets:  # fingerprinted: the name carries the content's hash, and is kept for a year
        r = blog.http.get(f"{url(blog)}/assets/{name}")
        assert r.status_code == 200 and r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert r.headers["content-type"] in ("text/css", "text/javascript")
        digest = hashlib.sha256((folder / "site" / "assets" / name).read_bytes()).hexdigest()
        assert name.split(".")[-2] == digest[:8], f"{name}: its fingerprint is not its content's"
    missing = blog.http.get(url(blog) + "/no/such/page")
    assert missing.status_code == 404 and "Page not found" in missing.text  # the bucket's 403 -> /404.html, 404


def test_the_site_bucket_answers_nobody_but_the_edge_and_the_owner(site: tuple[Blog, Path], tmp_path: Path) -> None:
    blog, _ = site
    ep = blog.ep
    bucket = blog.app["buckets"]["site"]
    direct = httpx.get(f"{ep['aws_endpoint']}/{bucket}/index.html", verify=trust(ep))
    assert direct.status_code == 403 and "<Code>AccessDenied</Code>" in direct.text
    env = {**os.environ, "AWS_CA_BUNDLE": ep["ca_file"], "AWS_DEFAULT_REGION": ep["region"],
           "AWS_CONFIG_FILE": str(tmp_path / "none"), "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none")}
    aws = [str(Path(sys.executable).parent / "aws"), "--endpoint-url", ep["aws_endpoint"]]
    anonymous = subprocess.run([*aws, "s3api", "get-object", "--bucket", bucket, "--key", "index.html",
                                str(tmp_path / "out"), "--no-sign-request"], env=env, capture_output=True, text=True,
                               timeout=60)
    assert anonymous.returncode != 0 and "(AccessDenied) when calling the GetObject operation" in anonymous.stderr
    admin = {"AWS_ACCESS_KEY_ID": ep["admin_credentials"]["access_key_id"],
             "AWS_SECRET_ACCESS_KEY": ep["admin_credentials"]["secret_access_key"]}
    owner = subprocess.run([*aws, "s3", "cp", f"s3://{bucket}/index.html", "-"], env={**env, **admin},
                           capture_output=True, text=True, timeout=60)
    assert owner.returncode == 0 and "MyBlog.com" in owner.stdout
    policy = json.loads(subprocess.run([*aws, "s3api", "get-bucket-policy", "--bucket", bucket], env={**env, **admin},
                                       capture_output=True, text=True, timeout=60, check=True).stdout)["Policy"]
    arn = blog.app["distributions"]["site"]["arn"]
    assert json.loads(policy)["Statement"][0]["Condition"] == {"StringEquals": {"AWS:SourceArn": arn}}
    through = blog.http.get(url(blog) + "/index.html")
    assert through.status_code == 200 and through.text == owner.stdout


def test_a_changed_page_is_deployed_again_and_invalidated(site: tuple[Blog, Path]) -> None:
    blog, folder = site
    page = folder / "site" / "404.html"
    blog.http.get(url(blog) + "/404.html")
    assert blog.http.get(url(blog) + "/404.html").headers["x-cache"] == "Hit from cloudfront"
    page.write_text(page.read_text().replace("Page not found", "Nothing here, sorry"))
    fresh = until(lambda: "Nothing here, sorry" in blog.http.get(url(blog) + "/404.html").text, timeout=15)
    assert fresh, "the changed page was not served"
    shown = blog.http.get(url(blog) + "/nothing/at/all")
    assert shown.status_code == 404 and "Nothing here, sorry" in shown.text  # the error page's copy went too


def test_a_site_folder_gone_for_a_moment_deletes_nothing(site: tuple[Blog, Path]) -> None:
    blog, folder = site
    (folder / "site").rename(folder / "site.moved")
    try:
        time.sleep(2.5)  # the watcher looks every second
        assert blog.http.get(url(blog) + "/favicon.svg").status_code == 200
        assert blog.s3().head_object(Bucket=blog.app["buckets"]["site"], Key="favicon.svg")["ContentLength"] > 0
    finally:
        (folder / "site.moved").rename(folder / "site")


def test_the_api_is_served_under_api_with_a_short_lifetime(site: tuple[Blog, Path]) -> None:
    blog, _ = site
    first = blog.http.get(url(blog) + "/api/posts?limit=5")
    assert first.status_code == 200 and first.json()["posts"][0]["title"] == "Hello from the edge"
    again = blog.http.get(url(blog) + "/api/posts?limit=5")
    assert again.headers["x-cache"] == "Hit from cloudfront"
    other = blog.http.get(url(blog) + "/api/posts?limit=4")  # the query is in the key
    assert other.headers["x-cache"] == "Miss from cloudfront"
    thumb = blog.http.get(url(blog) + "/" + first.json()["posts"][0]["photo"])
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"


def test_a_reader_in_chromium_sees_the_posts_and_subscribes(site: tuple[Blog, Path], browser: object) -> None:
    blog, _ = site
    context = browser.new_context(ignore_https_errors=True)  # type: ignore[attr-defined]  # the local CA
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url(blog) + "/")
    try:
        page.wait_for_selector("#posts article.post", timeout=10_000)
    except Exception:
        raise AssertionError((page.content(), errors)) from None
    assert "Hello from the edge" in page.inner_text("#posts")
    page.wait_for_function("() => { const i = document.querySelector('article.post img.thumb');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    address = f"reader-{time.time_ns()}@example.com"
    page.fill("#email", address)
    page.click("form#subscribe button[type=submit]")
    page.wait_for_function("() => document.querySelector('#subscribe-result').textContent.includes('Thanks')")
    assert address in page.inner_text("#subscribe-result")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "blog-site.png"), full_page=True)
    page.click("article.post h2 a")
    page.wait_for_selector("h1#title:has-text('Hello from the edge')")
    assert "Second paragraph." in page.inner_text("#body")
    context.close()
    assert not errors, errors
    assert until(lambda: blog.welcomes(address), timeout=20), "the welcome mail did not arrive"
