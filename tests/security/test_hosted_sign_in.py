"""The hosted sign-in's pages and endpoints under attack: markup in every value the pages reflect, forms posted from
elsewhere, redirects to where the client never registered, codes stolen in transit, and malformed input at each
endpoint (a clear 4xx, never a 500)."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from urllib.parse import urlencode

import httpx
import pytest

from tests.conftest import PASSWORD, Clients, trust

CALLBACK = "http://localhost:8765/callback"
MARKUP = "\"'><script>alert(1)</script><img src=x onerror=alert(2)>"


def _inert(page: str) -> bool:
    """Whether the markup came back only as text: no tag it opens, and no quote of it unescaped."""
    return "<script" not in page and "<img" not in page and "\"'>" not in page


def _domain(club: Clients) -> str:
    return str(club.app["user_pools"]["members"]["domain"])


def _authorize(club: Clients, **extra: str) -> str:
    return _domain(club) + "/oauth2/authorize?" + urlencode({
        "response_type": "code", "client_id": club.client_id, "redirect_uri": CALLBACK, "scope": "openid", **extra})


def test_nothing_a_page_reflects_is_markup(club: Clients) -> None:
    http = httpx.Client(verify=trust(club.ep), timeout=30)
    page = http.get(_authorize(club, state=MARKUP, nonce=MARKUP, **{MARKUP: MARKUP}), follow_redirects=True)
    assert page.status_code == 200
    assert _inert(page.text)
    assert "default-src 'none'" in page.headers["content-security-policy"]
    csrf = re.search(r"name=_csrf value='([^']+)'", page.text)
    action = re.search(r"<form method=post action='([^']+)'", page.text)
    assert csrf and action
    target = httpx.URL(str(page.url)).join(action.group(1).replace("&amp;", "&"))
    answer = http.post(target, data={"username": MARKUP, "password": MARKUP, "_csrf": csrf.group(1)})
    assert answer.status_code == 400 and _inert(answer.text)  # the error page does not echo it raw
    signup = http.post(str(target).replace("/login?", "/signup?"), data={
        "username": MARKUP + "@example.com", "password": PASSWORD, "_csrf": csrf.group(1)})
    assert signup.status_code == 400 and _inert(signup.text)
    for path in ("/challenge", "/confirm"):
        r = http.post(str(target).replace("/login?", path + "?"), data={
            "session": MARKUP, "challenge": "SOFTWARE_TOKEN_MFA", "username": MARKUP, "code": MARKUP,
            "_csrf": csrf.group(1)})
        assert r.status_code in (400, 403) and _inert(r.text)


def test_a_form_posted_from_another_site_is_refused(club: Clients) -> None:
    http = httpx.Client(verify=trust(club.ep), timeout=30)
    login = _authorize(club).replace("/oauth2/authorize?", "/login?")
    for cookie, field in ((None, None), ("a" * 32, "b" * 32), (None, "a" * 32)):
        headers = {"cookie": f"XSRF-TOKEN={cookie}"} if cookie else {}
        data = {"username": "x@example.com", "password": PASSWORD, **({"_csrf": field} if field else {})}
        r = http.post(login, data=data, headers=headers)
        assert r.status_code == 403 and "location" not in r.headers


@pytest.mark.parametrize("redirect", [
    "https://evil.example/callback", "http://localhost:8765/callback/../x", "http://localhost:8765/callback?x=1",
    "http://localhost:8765/CALLBACK", "http://localhost:87650/callback", "//evil.example/callback",
    "http://localhost:8765@evil.example/callback", "", "javascript:alert(1)"])
def test_no_redirect_goes_where_the_client_did_not_register(club: Clients, redirect: str) -> None:
    for path in ("/oauth2/authorize?", "/login?", "/signup?"):
        r = club.http.get(_authorize(club, redirect_uri=redirect).replace("/oauth2/authorize?", path))
        assert r.status_code == 400 and "location" not in r.headers
    r = club.http.get(_domain(club) + "/logout", params={"client_id": club.client_id, "logout_uri": redirect})
    assert r.status_code == 400 and "location" not in r.headers


def test_a_stolen_code_is_worth_nothing_without_its_verifier(club: Clients) -> None:
    email = club.sign_up()
    club.idp.confirm_sign_up(ClientId=club.client_id, Username=email, ConfirmationCode=club.code(email))
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    http = httpx.Client(verify=trust(club.ep), timeout=30)
    page = http.get(_authorize(club, code_challenge=challenge, code_challenge_method="S256"), follow_redirects=True)
    csrf = re.search(r"name=_csrf value='([^']+)'", page.text)
    action = re.search(r"<form method=post action='([^']+)'", page.text)
    assert csrf and action
    back = http.post(httpx.URL(str(page.url)).join(action.group(1).replace("&amp;", "&")),
                     data={"username": email, "password": PASSWORD, "_csrf": csrf.group(1)})
    code = httpx.URL(back.headers["location"]).params["code"]
    token = _domain(club) + "/oauth2/token"
    form = {"grant_type": "authorization_code", "client_id": club.client_id, "code": code, "redirect_uri": CALLBACK}
    for thief in ({}, {"code_verifier": secrets.token_urlsafe(48)}, {"redirect_uri": "https://evil.example/cb"},
                  {"client_id": club.app["user_pools"]["staff"]["clients"]["console"]}):
        r = club.http.post(token, data={**form, **thief})
        assert r.status_code in (400, 401) and "access_token" not in r.text, r.text
    r = club.http.post(token, data={**form, "code_verifier": verifier})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"  # the first try spent it


@pytest.mark.parametrize("body,headers", [
    (b"grant_type=authorization_code&code=%ff%fe", {"content-type": "application/x-www-form-urlencoded"}),
    (b"&".join(b"f%d=1" % i for i in range(100)), {"content-type": "application/x-www-form-urlencoded"}),
    (b"x" * 70_000, {"content-type": "application/x-www-form-urlencoded"}),
    (b'{"grant_type": "client_credentials"}', {"content-type": "application/json"}),
    (b"grant_type=client_credentials", {"content-type": "application/x-www-form-urlencoded",
                                         "authorization": "Basic " + "A" * 5000}),
    (b"grant_type=refresh_token&client_id=x&refresh_token=" + b"r" * 4000,
     {"content-type": "application/x-www-form-urlencoded"}),
])
def test_malformed_requests_at_the_token_endpoint_are_a_clear_4xx(club: Clients, body: bytes,
                                                                  headers: dict[str, str]) -> None:
    r = club.http.post(_domain(club) + "/oauth2/token", content=body, headers=headers)
    assert 400 <= r.status_code < 500, (r.status_code, r.text)
