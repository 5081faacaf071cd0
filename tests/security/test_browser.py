"""A page a user uploads to a bucket, opened in a real browser (Debian's Chromium, driven by Playwright).

S3 objects are served from the same host and port as the REST APIs, Cognito and the operations, so every
object answer carries ``Content-Security-Policy: sandbox ...`` (without ``allow-same-origin``) and
``X-Content-Type-Options: nosniff``: the page runs, but in an opaque origin of its own. It cannot read what
the platform's origin stored in the browser, nor read the platform's answers as that origin, as a page on
S3's own domain could not on AWS.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import Clients

PAGE = b"""<!doctype html><title>uploaded</title><script>
(async () => {
  const out = {origin: self.origin};
  try { out.storage = localStorage.getItem("session"); } catch (e) { out.storage = e.name; }
  try { out.cookie = document.cookie; } catch (e) { out.cookie = e.name; }
  try {
    const r = await fetch("/_stratus/health", {credentials: "include"});
    out.fetch = await r.text();
  } catch (e) { out.fetch = e.name; }
  window.results = out;
})();
</script>"""


def test_an_uploaded_page_runs_in_an_origin_of_its_own(clients: Clients, eve_id: dict[str, Any], bucket: str,
                                                       browser: Any) -> None:
    s3 = clients.s3(eve_id)
    key = f"{eve_id['identity_id']}/page.html"
    s3.put_object(Bucket=bucket, Key=key, Body=PAGE, ContentType="text/html")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    head = clients.http.get(url).headers
    assert "sandbox" in head["content-security-policy"] and "allow-same-origin" not in head["content-security-policy"]
    assert head["x-content-type-options"] == "nosniff"

    context = browser.new_context(ignore_https_errors=True)  # the local CA is not the browser's
    try:
        page = context.new_page()
        page.goto(clients.ep["aws_endpoint"] + "/_stratus/health")  # the platform's own origin keeps a secret
        page.evaluate("""() => { localStorage.setItem("session", "a user's token"); document.cookie = "sid=secret"; }""")
        assert page.evaluate("() => localStorage.getItem('session')") == "a user's token"

        page.goto(url)
        page.wait_for_function("() => window.results !== undefined", timeout=10_000)
        results = page.evaluate("() => window.results")
    finally:
        context.close()
    assert results["origin"] == "null"               # opaque: not the platform's origin
    assert results["storage"] == "SecurityError"     # the platform origin's storage is out of reach
    assert results["cookie"] == "SecurityError"      # and its cookies
    assert results["fetch"] == "TypeError"           # its answers cannot be read as its origin
