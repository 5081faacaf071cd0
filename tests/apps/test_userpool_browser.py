"""Web pages signing in, in Debian's Chromium (through Playwright): a page on another origin calls the user pool's
API with ``fetch`` (its CORS preflight answered as Cognito answers it), and a single-page app signs in through the
hosted sign-in page and redeems its code with ``fetch`` at the token endpoint (PKCE, no secret); the API then takes
its access token."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.conftest import PASSWORD, Clients, page_server

SIGN_IN = """async ([endpoint, clientId, email, password]) => {
  const call = async (op, body) => {
    const r = await fetch(endpoint + "/", {method: "POST", body: JSON.stringify(body), headers: {
      "content-type": "application/x-amz-json-1.1", "x-amz-target": "AWSCognitoIdentityProviderService." + op}});
    return {status: r.status, body: await r.json(), type: r.headers.get("x-amzn-errortype")};
  };
  try {
    const auth = await call("InitiateAuth", {ClientId: clientId, AuthFlow: "USER_PASSWORD_AUTH",
                                             AuthParameters: {USERNAME: email, PASSWORD: password}});
    if (auth.status !== 200) return auth;
    const user = await call("GetUser", {AccessToken: auth.body.AuthenticationResult.AccessToken});
    return {status: user.status, username: user.body.Username};
  } catch (e) { return {error: e.name}; }
}"""

SPA = """<!doctype html><title>club</title><script>
(async () => {
  const q = new URLSearchParams(location.search);
  const r = await fetch(TOKEN, {method: "POST", headers: {"content-type": "application/x-www-form-urlencoded"},
    body: new URLSearchParams({grant_type: "authorization_code", client_id: CLIENT, code: q.get("code"),
                               redirect_uri: CALLBACK, code_verifier: VERIFIER})});
  const token = await r.json();
  window.tokens = token;
  document.title = JSON.stringify({token: r.status, state: q.get("state"), hasId: !!token.id_token});
})();
</script>"""


@pytest.fixture(scope="module")
def web_app() -> Iterator[dict[str, bytes]]:
    """The club's web app: a page server on http://localhost:8765 (the origin its hosted sign-in sends users back
    to), serving ``pages[path]``. A real server on the loopback: Chromium lets a loopback page call the loopback
    endpoints, and a page it made up itself counts as public."""
    pages: dict[str, bytes] = {"/": b"<!doctype html><title>another origin</title>"}
    with page_server(pages, 8765):
        yield pages


def test_a_page_on_another_origin_signs_in_with_fetch(clients: Clients, browser: Any, web_app: dict[str, bytes]
                                                      ) -> None:
    user = clients.user()
    context = browser.new_context(ignore_https_errors=True)  # the local CA is not the browser's
    try:
        page = context.new_page()
        page.goto("http://localhost:8765/")
        done = page.evaluate(SIGN_IN, [clients.ep["aws_endpoint"], clients.client_id, user.email, PASSWORD])
        assert done == {"status": 200, "username": user.sub}, done
        wrong = page.evaluate(SIGN_IN, [clients.ep["aws_endpoint"], clients.client_id, user.email, "Wrong-Passw0rd"])
        assert wrong["status"] == 400 and wrong["type"] == "NotAuthorizedException", wrong  # readable by the page
    finally:
        context.close()


def test_a_single_page_app_signs_in_at_the_hosted_page_and_redeems_its_code(club: Clients, browser: Any,
                                                                            web_app: dict[str, bytes]) -> None:
    members = club.app["user_pools"]["members"]
    email = club.sign_up()
    club.idp.confirm_sign_up(ClientId=club.client_id, Username=email, ConfirmationCode=club.code(email))
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    callback = "http://localhost:8765/callback"
    app_page = SPA.replace("TOKEN", repr(members["domain"] + "/oauth2/token")).replace("CLIENT", repr(club.client_id)) \
        .replace("CALLBACK", repr(callback)).replace("VERIFIER", repr(verifier))
    web_app["/callback"] = app_page.encode()
    context = browser.new_context(ignore_https_errors=True)
    try:
        page = context.new_page()
        page.goto(members["domain"] + "/oauth2/authorize?" + urlencode({
            "response_type": "code", "client_id": club.client_id, "redirect_uri": callback, "state": "s-1",
            "scope": "openid email aws.cognito.signin.user.admin", "code_challenge": challenge,
            "code_challenge_method": "S256"}))
        page.fill("input[name=username]", email)
        page.fill("input[name=password]", PASSWORD)
        page.click("button")
        page.wait_for_url(callback + "?**")
        page.wait_for_function("document.title.startsWith('{')", timeout=15_000)
        assert page.title() == '{"token":200,"state":"s-1","hasId":true}', page.title()
        access = page.evaluate("window.tokens.access_token")
    finally:
        context.close()
    assert club.api("GET", "/me", access).status_code == 200  # the API takes the token the page redeemed
