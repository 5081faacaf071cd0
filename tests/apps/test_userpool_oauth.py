"""The hosted sign-in as an OpenID Connect provider, driven by Authlib (a standard OAuth 2.0 / OIDC client,
unchanged): discovery, the authorization code flow with PKCE through the sign-in page, the ID token checked against
the JWKS, userInfo, a refresh, client credentials for a machine at the gateway; and OAuth's refusals: a code used
twice or too late, a wrong PKCE verifier, a redirect URI the client did not register, a wrong client secret."""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
from authlib.common.security import generate_token
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.conftest import CLUB, PASSWORD, Clients, start, trust

CALLBACK = "http://localhost:8765/callback"


@pytest.fixture(scope="module")
def club_clock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Clients]:
    """The club app on a system of its own whose clock the test moves (an authorization code's five minutes)."""
    s = start(tmp_path_factory.mktemp("club-clock"), CLUB, extra=["--manual-clock"])
    yield Clients(s, "club")
    s.stop()


@pytest.fixture(scope="module")
def oidc(club_clock: Clients) -> dict[str, Any]:
    issuer = club_clock.app["user_pools"]["members"]["issuer"]
    doc: dict[str, Any] = club_clock.http.get(issuer + "/.well-known/openid-configuration").json()
    assert doc["issuer"] == issuer and doc["code_challenge_methods_supported"] == ["S256"]
    assert doc["authorization_endpoint"] == club_clock.app["user_pools"]["members"]["domain"] + "/oauth2/authorize"
    return doc


def _client(c: Clients, **kw: Any) -> OAuth2Client:
    return OAuth2Client(verify=trust(c.ep), **kw)


def _member(c: Clients) -> str:
    email = f"oidc-{uuid.uuid4().hex[:8]}@example.com"
    c.sign_up(email)
    c.idp.confirm_sign_up(ClientId=c.client_id, Username=email, ConfirmationCode=c.code(email))
    return email


def _sign_in_page(c: Clients, url: str, email: str, password: str = PASSWORD) -> httpx.Response:
    """What a browser does at the hosted sign-in: follow /oauth2/authorize to the page, post the form (with its
    cookie and hidden token); the answer is the redirect back to the client."""
    http = httpx.Client(verify=trust(c.ep), timeout=30)
    page = http.get(url, follow_redirects=True)
    assert page.status_code == 200 and "text/html" in page.headers["content-type"], page.text
    assert page.headers["x-frame-options"] == "DENY"
    action = re.search(r"<form method=post action='([^']+)'", page.text)
    csrf = re.search(r"name=_csrf value='([^']+)'", page.text)
    assert action and csrf
    target = httpx.URL(str(page.url)).join(action.group(1).replace("&amp;", "&"))
    return http.post(target, data={"username": email, "password": password, "_csrf": csrf.group(1)})


def _code_flow(c: Clients, oidc: dict[str, Any], email: str) -> tuple[OAuth2Client, str, str, str]:
    """A sign-in through the hosted page: (client, the callback URL it came back to, the verifier, the nonce)."""
    client = _client(c, client_id=c.client_id, redirect_uri=CALLBACK, scope="openid email profile",
                     code_challenge_method="S256")
    verifier, nonce = generate_token(64), generate_token(20)
    url, state = client.create_authorization_url(oidc["authorization_endpoint"], code_verifier=verifier, nonce=nonce)
    back = _sign_in_page(c, url, email)
    assert back.status_code == 302, back.text
    location = back.headers["location"]
    assert location.startswith(CALLBACK + "?") and parse_qs(urlsplit(location).query)["state"] == [state]
    return client, location, verifier, nonce


def test_the_code_flow_with_pkce_then_userinfo_and_a_refresh(club_clock: Clients, oidc: dict[str, Any]) -> None:
    c = club_clock
    email = _member(c)
    client, location, verifier, nonce = _code_flow(c, oidc, email)
    token = client.fetch_token(oidc["token_endpoint"], authorization_response=location, code_verifier=verifier)
    assert {"access_token", "id_token", "refresh_token"} <= set(token) and token["token_type"] == "Bearer"
    keys = KeySet.import_key_set(c.http.get(oidc["jwks_uri"]).json())
    claims = jwt.decode(token["id_token"], keys, algorithms=["RS256"]).claims  # the signature, by the JWKS
    jwt.JWTClaimsRegistry(now=int(c.advance(0)), iss={"essential": True, "value": oidc["issuer"]},
                          aud={"essential": True, "value": c.client_id},
                          nonce={"essential": True, "value": nonce}).validate(claims)
    assert claims["email"] == email
    info = client.get(oidc["userinfo_endpoint"]).json()
    assert info["email"] == email and info["sub"] == claims["sub"]
    refused = c.http.get(oidc["userinfo_endpoint"], headers={"authorization": "Bearer x.y.z"})
    assert refused.status_code == 401 and "invalid_token" in refused.headers["www-authenticate"]
    refreshed = client.refresh_token(oidc["token_endpoint"], refresh_token=token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    assert client.get(oidc["userinfo_endpoint"]).json()["sub"] == claims["sub"]
    # the code flow's access token carries the scopes asked, not the API's sign-in scope
    refused = c.api("GET", "/me", refreshed["access_token"])
    assert refused.status_code == 401 and 'error="insufficient_scope"' in refused.headers["www-authenticate"]


def test_a_code_is_good_once_and_for_five_minutes(club_clock: Clients, oidc: dict[str, Any]) -> None:
    c = club_clock
    email = _member(c)
    client, location, verifier, _ = _code_flow(c, oidc, email)
    client.fetch_token(oidc["token_endpoint"], authorization_response=location, code_verifier=verifier)
    with pytest.raises(OAuthError) as used:
        _client(c, client_id=c.client_id, redirect_uri=CALLBACK).fetch_token(
            oidc["token_endpoint"], authorization_response=location, code_verifier=verifier)
    assert used.value.error == "invalid_grant"
    client, location, verifier, _ = _code_flow(c, oidc, email)
    c.advance(301)
    with pytest.raises(OAuthError) as late:
        client.fetch_token(oidc["token_endpoint"], authorization_response=location, code_verifier=verifier)
    assert late.value.error == "invalid_grant"


def test_a_wrong_pkce_verifier_is_refused(club_clock: Clients, oidc: dict[str, Any]) -> None:
    c = club_clock
    client, location, verifier, _ = _code_flow(c, oidc, _member(c))
    for wrong in (generate_token(64), None):
        with pytest.raises(OAuthError) as exc:
            client.fetch_token(oidc["token_endpoint"], authorization_response=location, code_verifier=wrong)
        assert exc.value.error == "invalid_grant"
    # the code was spent by the first try, as a code is: the right verifier comes too late
    with pytest.raises(OAuthError):
        client.fetch_token(oidc["token_endpoint"], authorization_response=location, code_verifier=verifier)


def test_a_foreign_redirect_uri_is_never_redirected_to(club_clock: Clients, oidc: dict[str, Any]) -> None:
    c = club_clock
    for redirect in ("https://evil.example/callback", CALLBACK + "/../elsewhere", "http://localhost:8765/callbac"):
        client = _client(c, client_id=c.client_id, redirect_uri=redirect, scope="openid")
        url, _ = client.create_authorization_url(oidc["authorization_endpoint"], code_verifier=generate_token(64))
        r = c.http.get(url)
        assert r.status_code == 400 and "location" not in r.headers and "redirect_mismatch" in r.text
    client = _client(c, client_id="not-a-client", redirect_uri=CALLBACK, scope="openid")
    r = c.http.get(client.create_authorization_url(oidc["authorization_endpoint"])[0])
    assert r.status_code == 400 and "location" not in r.headers
    # a registered redirect with a bad request is told so there, with its state
    client = _client(c, client_id=c.client_id, redirect_uri=CALLBACK, scope="openid orders/write")
    url, state = client.create_authorization_url(oidc["authorization_endpoint"])
    r = c.http.get(url)
    assert r.status_code == 302 and parse_qs(urlsplit(r.headers["location"]).query) == {
        "error": ["invalid_scope"], "error_description": ["a scope asked for is not allowed to this client"],
        "state": [state]}
    # a form posted without the page's cookie and token is refused
    url, _ = _client(c, client_id=c.client_id, redirect_uri=CALLBACK, scope="openid").create_authorization_url(
        oidc["authorization_endpoint"])
    login = urlsplit(oidc["authorization_endpoint"])._replace(path=urlsplit(oidc["authorization_endpoint"]).path
                                                              .replace("/oauth2/authorize", "/login")).geturl()
    r = c.http.post(login + "?" + urlsplit(url).query, data={"username": "a@example.com", "password": PASSWORD})
    assert r.status_code == 403 and "location" not in r.headers


def test_a_wrong_password_at_the_page_stays_on_the_page(club_clock: Clients, oidc: dict[str, Any]) -> None:
    c = club_clock
    url, _ = _client(c, client_id=c.client_id, redirect_uri=CALLBACK, scope="openid").create_authorization_url(
        oidc["authorization_endpoint"])
    r = _sign_in_page(c, url, _member(c), "Wrong-Passw0rd")
    assert r.status_code == 400 and "location" not in r.headers and "Incorrect username or password" in r.text


def test_a_machine_client_gets_scoped_tokens_for_the_gateway(club_clock: Clients, oidc: dict[str, Any]) -> None:
    c = club_clock
    pool = c.app["user_pools"]["members"]
    billing = pool["machine_clients"]["billing"]
    creds = c.ep["admin_credentials"]
    import boto3
    admin = boto3.client("cognito-idp", endpoint_url=c.ep["aws_endpoint"], region_name=c.ep["region"],
                         verify=c.ep["ca_file"], aws_access_key_id=creds["access_key_id"],
                         aws_secret_access_key=creds["secret_access_key"])
    described = admin.describe_user_pool_client(UserPoolId=pool["id"], ClientId=billing)["UserPoolClient"]
    assert described["AllowedOAuthFlows"] == ["client_credentials"]
    machine = _client(c, client_id=billing, client_secret=described["ClientSecret"])
    token = machine.fetch_token(oidc["token_endpoint"], grant_type="client_credentials")
    assert token["token_type"] == "Bearer" and "refresh_token" not in token and "id_token" not in token
    assert c.api("GET", "/orders", token["access_token"]).json()["client"] == billing
    assert c.api("GET", "/me", token["access_token"]).status_code == 401  # not a user's token
    user_token = c.sign_in(_member(c))["AccessToken"]
    assert c.api("GET", "/orders", user_token).status_code == 401  # a user's token lacks the orders scope
    for bad in (_client(c, client_id=billing, client_secret="wrong"),
                _client(c, client_id=c.client_id, client_secret="x")):
        with pytest.raises(OAuthError) as exc:
            bad.fetch_token(oidc["token_endpoint"], grant_type="client_credentials")
        assert exc.value.error in ("invalid_client", "unauthorized_client")
    with pytest.raises(OAuthError) as exc:
        machine.fetch_token(oidc["token_endpoint"], grant_type="client_credentials", scope="orders/write")
    assert exc.value.error == "invalid_scope"


def test_a_verifier_outside_rfc_7636_and_a_sign_in_without_openid(club_clock: Clients, oidc: dict[str, Any]) -> None:
    c = club_clock
    email = _member(c)
    client = _client(c, client_id=c.client_id, redirect_uri=CALLBACK, scope="openid", code_challenge_method="S256")
    url, _ = client.create_authorization_url(oidc["authorization_endpoint"], code_verifier="short")
    back = _sign_in_page(c, url, email)
    with pytest.raises(OAuthError) as exc:  # its hash matches, but a verifier is 43 to 128 characters
        client.fetch_token(oidc["token_endpoint"], authorization_response=back.headers["location"],
                           code_verifier="short")
    assert exc.value.error == "invalid_grant"
    client = _client(c, client_id=c.client_id, redirect_uri=CALLBACK, scope="aws.cognito.signin.user.admin")
    url, _ = client.create_authorization_url(oidc["authorization_endpoint"])
    token = client.fetch_token(oidc["token_endpoint"],
                               authorization_response=_sign_in_page(c, url, email).headers["location"])
    assert "id_token" not in token  # no openid asked: no ID token, as on Cognito
    assert c.api("GET", "/me", token["access_token"]).status_code == 200  # the API's scope was asked
    info = client.get(oidc["userinfo_endpoint"]).json()
    assert info["email"] == email
    refreshed = c.idp.initiate_auth(ClientId=c.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                    AuthParameters={"REFRESH_TOKEN": token["refresh_token"]})["AuthenticationResult"]
    assert "IdToken" not in refreshed and "AccessToken" in refreshed  # the API's refresh keeps to the scopes too


def _page_form(page: httpx.Response) -> tuple[httpx.URL, dict[str, str]]:
    """A hosted page's form: where it posts, and its hidden fields."""
    action = re.search(r"<form method=post action='([^']+)'", page.text)
    assert action, page.text
    hidden = dict(re.findall(r"<input type=hidden name=(\w+) value='([^']*)'>", page.text))
    return httpx.URL(str(page.url)).join(action.group(1).replace("&amp;", "&")), hidden


def test_mfa_at_the_hosted_page_set_up_then_asked(club_clock: Clients) -> None:
    c = club_clock
    staff = c.app["user_pools"]["staff"]
    console, email = staff["clients"]["console"], f"crew-{uuid.uuid4().hex[:8]}@example.com"
    c.idp.sign_up(ClientId=console, Username=email, Password=PASSWORD)
    c.idp.confirm_sign_up(ClientId=console, Username=email, ConfirmationCode=c.code(email))
    client = _client(c, client_id=console, redirect_uri="http://localhost:8765/staff", scope="openid")
    url, state = client.create_authorization_url(staff["domain"] + "/oauth2/authorize")
    http = httpx.Client(verify=trust(c.ep), timeout=30)
    page = http.get(url, follow_redirects=True)
    target, hidden = _page_form(page)
    setup = http.post(target, data={**hidden, "username": email, "password": PASSWORD})
    assert setup.status_code == 200 and "Set up an authenticator" in setup.text
    key = re.search(r"Key: ([A-Z2-7]+) \(otpauth://totp/", setup.text)
    assert key, setup.text
    target, hidden = _page_form(setup)
    for op in ("AssociateSoftwareToken", "VerifySoftwareToken"):  # the page's session is not the API's to set up
        r = c.http.post(c.ep["aws_endpoint"] + "/", json={"Session": hidden["session"], "UserCode": "123456"},
                        headers={"x-amz-target": f"AWSCognitoIdentityProviderService.{op}",
                                 "content-type": "application/x-amz-json-1.1"})
        assert r.status_code == 400 and r.json()["__type"] == "NotAuthorizedException", r.text
    totp, now = pyotp.TOTP(key.group(1)), c.advance(0)  # the system's clock, which this module moves
    again = http.post(target, data={**hidden, "code": "000000" if totp.at(now) != "000000" else "111111"})
    assert again.status_code == 400 and f"Key: {key.group(1)} " in again.text  # the same key, shown again
    target, hidden = _page_form(again)
    done = http.post(target, data={**hidden, "code": totp.at(now)})
    assert done.status_code == 302 and parse_qs(urlsplit(done.headers["location"]).query)["state"] == [state]
    url, _ = client.create_authorization_url(staff["domain"] + "/oauth2/authorize")
    page = http.get(url, follow_redirects=True)
    target, hidden = _page_form(page)
    asked = http.post(target, data={**hidden, "username": email, "password": PASSWORD})
    assert asked.status_code == 200 and "Enter your code" in asked.text
    target, hidden = _page_form(asked)
    # the page's session is the page's: the API does not take it, and a 500 is no answer
    refused = c.http.post(c.ep["aws_endpoint"] + "/", json={
        "ClientId": console, "ChallengeName": "SOFTWARE_TOKEN_MFA", "Session": hidden["session"],
        "ChallengeResponses": {"USERNAME": email, "SOFTWARE_TOKEN_MFA_CODE": "123456"}},
        headers={"x-amz-target": "AWSCognitoIdentityProviderService.RespondToAuthChallenge",
                 "content-type": "application/x-amz-json-1.1"})
    assert refused.status_code == 400 and refused.json()["__type"] == "NotAuthorizedException"
    code = str(totp.at(now + 30))  # the next step's: this step's code was taken
    done = http.post(target, data={**hidden, "code": code})
    assert done.status_code == 302 and "code=" in done.headers["location"]
    # and an API sign-in's session is the API's: the page does not take it
    api = c.idp.initiate_auth(ClientId=console, AuthFlow="USER_PASSWORD_AUTH",
                              AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})
    crossed = http.post(target, data={**hidden, "session": api["Session"], "code": "123456"})
    assert crossed.status_code == 400 and "location" not in crossed.headers


def test_revoke_refuses_a_malformed_client(club_clock: Clients, oidc: dict[str, Any]) -> None:
    for auth in ("Basic !!!!", "Basic " + base64.b64encode(b"no-colon").decode()):
        r = club_clock.http.post(oidc["revocation_endpoint"], data={"token": "x"}, headers={"authorization": auth})
        assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_logout_goes_back_to_a_registered_uri_only(club_clock: Clients, oidc: dict[str, Any]) -> None:
    c = club_clock
    logout = oidc["end_session_endpoint"]
    r = c.http.get(logout, params={"client_id": c.client_id, "logout_uri": "http://localhost:8765/bye"})
    assert r.status_code == 302 and r.headers["location"] == "http://localhost:8765/bye"
    r = c.http.get(logout, params={"client_id": c.client_id, "logout_uri": "https://evil.example/"})
    assert r.status_code == 400 and "location" not in r.headers
