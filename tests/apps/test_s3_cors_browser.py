"""A browser on another origin uploading straight to a bucket, as a web app does: Debian's Chromium (through
Playwright) runs a page served from another origin, whose script PUTs to a presigned URL. The browser sends its
CORS preflight first; the bucket's CORS rules decide whether the upload happens at all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Clients, page_server

UPLOAD = """async ([url, body]) => {
  try {
    const r = await fetch(url, {method: "PUT", headers: {"content-type": "text/plain"}, body});
    return {status: r.status, etag: r.headers.get("etag")};
  } catch (e) { return {error: e.name}; }
}"""


@pytest.fixture(scope="module")
def other_origin() -> Iterator[str]:
    """A plain page on an origin of its own (another port: another origin)."""
    with page_server({"/": b"<!doctype html><title>another origin</title>"}) as url:
        yield url


def test_a_page_on_another_origin_uploads_once_cors_allows_it(clients: Clients, browser: Any,
                                                              other_origin: str) -> None:
    admin = clients.s3(signature_version="s3v4")
    bucket = "cors-browser-uploads"
    admin.create_bucket(Bucket=bucket)
    url = admin.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "from-browser.txt"})
    context = browser.new_context(ignore_https_errors=True)  # the local CA is not the browser's
    try:
        page = context.new_page()
        page.goto(other_origin)
        refused = page.evaluate(UPLOAD, [url, "refused"])  # no CORS rules: the preflight fails, nothing is sent
        assert refused == {"error": "TypeError"}, refused
        assert admin.list_objects_v2(Bucket=bucket)["KeyCount"] == 0

        admin.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{
            "AllowedOrigins": [other_origin], "AllowedMethods": ["PUT"], "AllowedHeaders": ["content-type"],
            "ExposeHeaders": ["ETag"]}]})
        done = page.evaluate(UPLOAD, [url, "sent by a browser"])
        assert done["status"] == 200 and done["etag"], done
    finally:
        context.close()
    got = admin.get_object(Bucket=bucket, Key="from-browser.txt")
    assert got["Body"].read() == b"sent by a browser" and got["ETag"] == done["etag"]


POST_FORM = """async ([url, fields, body]) => {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  form.append("file", new Blob([body], {type: "text/plain"}), "note.txt");
  try {  // a header of the page's own makes the browser ask first (a preflight), as many upload widgets do
    const r = await fetch(url, {method: "POST", body: form, headers: {"x-requested-with": "upload-widget"}});
    return {status: r.status, etag: r.headers.get("etag"), text: await r.text()};
  } catch (e) { return {error: e.name}; }
}"""


def test_a_page_on_another_origin_posts_a_form_through_its_preflight(clients: Clients, browser: Any,
                                                                     other_origin: str) -> None:
    admin = clients.s3(signature_version="s3v4")
    bucket = "cors-browser-posts"
    admin.create_bucket(Bucket=bucket)
    admin.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": [other_origin], "AllowedMethods": ["POST"], "AllowedHeaders": ["x-requested-with"],
        "ExposeHeaders": ["ETag"]}]})
    post = admin.generate_presigned_post(bucket, "notes/${filename}", ExpiresIn=300,
                                         Conditions=[["starts-with", "$key", "notes/"], ["content-length-range", 1, 64]])
    context = browser.new_context(ignore_https_errors=True)
    try:
        page = context.new_page()
        page.goto(other_origin)
        done = page.evaluate(POST_FORM, [post["url"], post["fields"], "written in a browser"])
        assert done.get("status") == 204 and done["etag"], done
        too_big = page.evaluate(POST_FORM, [post["url"], post["fields"], "x" * 65])
        assert too_big.get("status") == 400 and "EntityTooLarge" in too_big["text"], too_big
    finally:
        context.close()
    got = admin.get_object(Bucket=bucket, Key="notes/note.txt")
    assert got["Body"].read() == b"written in a browser" and got["ETag"] == done["etag"]


READ = """async (url) => {
  try { const r = await fetch(url); return {status: r.status, text: await r.text()}; }
  catch (e) { return {error: e.name}; }
}"""


def test_a_page_reads_a_virtual_hosted_url(clients: Clients, browser: Any, other_origin: str) -> None:
    """The browser resolves ``<bucket>.localhost`` by itself (RFC 6761) and reads a presigned virtual-hosted URL,
    with the bucket's CORS rules deciding, as for a path-style one."""
    import boto3
    from botocore.config import Config
    port = clients.ep["aws_endpoint"].rsplit(":", 1)[1]
    admin = clients.s3(signature_version="s3v4")
    bucket = "browser-virtual-hosted"
    admin.create_bucket(Bucket=bucket)
    admin.put_object(Bucket=bucket, Key="page.txt", Body=b"read by a browser", ContentType="text/plain")
    keys = clients.ep["admin_credentials"]
    virtual = boto3.client("s3", endpoint_url=f"https://localhost:{port}", region_name=clients.ep["region"],
                           aws_access_key_id=keys["access_key_id"], aws_secret_access_key=keys["secret_access_key"],
                           config=Config(signature_version="s3v4", s3={"addressing_style": "virtual"}))
    url = virtual.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "page.txt"})
    assert url.startswith(f"https://{bucket}.localhost:{port}/page.txt?"), url
    context = browser.new_context(ignore_https_errors=True)  # the local CA is not the browser's (httpx checks it)
    try:
        page = context.new_page()
        page.goto(other_origin)
        assert page.evaluate(READ, url) == {"error": "TypeError"}  # no CORS rule yet: the browser withholds it
        admin.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [{
            "AllowedOrigins": [other_origin], "AllowedMethods": ["GET"]}]})
        assert page.evaluate(READ, url) == {"status": 200, "text": "read by a browser"}
        opened = context.new_page()  # and as a top-level page, as a link opens it
        response = opened.goto(url)
        assert response is not None and response.status == 200 and opened.content().count("read by a browser") == 1
    finally:
        context.close()
