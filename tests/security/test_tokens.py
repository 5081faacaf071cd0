"""The gateway's authorizer refuses every token AWS would refuse, with a 401 and WWW-Authenticate."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import Clients, User


@pytest.fixture(scope="module")
def carol(clients: Clients) -> User:
    return clients.user()


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def _pool_key(clients: Clients) -> Any:
    key_file = Path(clients.system.data_dir) / "keys" / f"{clients.app['user_pool_id']}.pem"
    return serialization.load_pem_private_key(key_file.read_bytes(), password=None)


def _refused(clients: Clients, token: str | None, why: str, header: str | None = None) -> None:
    headers = {"authorization": header if header is not None else f"Bearer {token}"}
    r = clients.api("GET", "/todos", headers=headers)
    assert r.status_code == 401, r.text
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert why in r.json()["message"], r.json()


def test_valid_token_with_or_without_bearer_prefix(clients: Clients, carol: User) -> None:
    assert clients.api("GET", "/todos", headers={"authorization": f"Bearer {carol.access}"}).status_code == 200
    assert clients.api("GET", "/todos", headers={"authorization": carol.access}).status_code == 200


def test_missing_token(clients: Clients) -> None:
    r = clients.api("GET", "/todos")
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


def test_garbage_token(clients: Clients) -> None:
    _refused(clients, "not.a.jwt", "well-formed")


def test_alg_none(clients: Clients, carol: User) -> None:
    claims = _claims(carol.access)
    head = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "JWT"}).encode()).rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    _refused(clients, f"{head}.{body}.", "algorithm 'none'")


def test_hs256_with_the_public_key_as_secret(clients: Clients, carol: User) -> None:
    """The classic key-confusion forgery: HMAC over the token with the published public key as secret."""
    jwks = clients.http.get(f"{clients.ep['aws_endpoint']}/{clients.app['user_pool_id']}/.well-known/jwks.json").json()
    pem = jwt.PyJWK(jwks["keys"][0]).key.public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo)
    b64 = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()  # noqa: E731
    signing_input = b64(json.dumps({"alg": "HS256", "kid": jwks["keys"][0]["kid"]}).encode()) + "." + \
        b64(json.dumps(_claims(carol.access)).encode())
    sig = b64(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())
    _refused(clients, f"{signing_input}.{sig}", "algorithm 'HS256'")


def test_signed_by_another_key_with_the_pool_kid(clients: Clients, carol: User) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = jwt.get_unverified_header(carol.access)["kid"]
    token = jwt.encode(_claims(carol.access), other, algorithm="RS256", headers={"kid": kid})
    _refused(clients, token, "signature does not verify")


def test_tampered_payload(clients: Clients, carol: User) -> None:
    head, body, sig = carol.access.split(".")
    claims = _claims(carol.access) | {"sub": str(uuid.uuid4())}
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    _refused(clients, f"{head}.{forged}.{sig}", "signature does not verify")


def test_expired(clients: Clients, carol: User) -> None:
    now = int(time.time())
    claims = _claims(carol.access) | {"iat": now - 7200, "exp": now - 3600}
    token = jwt.encode(claims, _pool_key(clients), algorithm="RS256",
                       headers={"kid": jwt.get_unverified_header(carol.access)["kid"]})
    _refused(clients, token, "expired")


def test_id_token_is_not_an_access_token(clients: Clients, carol: User) -> None:
    _refused(clients, carol.id, "token_use is 'id'")


def test_another_clients_token(clients: Clients, carol: User) -> None:
    claims = _claims(carol.access) | {"client_id": "someotherappclient00000000"}
    token = jwt.encode(claims, _pool_key(clients), algorithm="RS256",
                       headers={"kid": jwt.get_unverified_header(carol.access)["kid"]})
    _refused(clients, token, "another client")


def test_token_from_another_user_pool(clients: Clients) -> None:
    other = Clients(clients.system, app="other")
    stranger = other.user()
    _refused(clients, stranger.access, "")
    assert other.api("GET", "/ping", stranger.access).status_code == 200


def test_wrong_issuer_with_the_pool_key(clients: Clients, carol: User) -> None:
    claims = _claims(carol.access) | {"iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_other"}
    token = jwt.encode(claims, _pool_key(clients), algorithm="RS256",
                       headers={"kid": jwt.get_unverified_header(carol.access)["kid"]})
    _refused(clients, token, "another issuer")


def test_expiry_on_the_clock(clocked: Clients) -> None:
    """With the system's clock moved past exp, the same real token is refused, and refresh recovers."""
    u = clocked.user()
    assert clocked.api("GET", "/todos", u.access).status_code == 200
    clocked.advance(3601)
    _refused(clocked, u.access, "expired")
    res = clocked.idp.initiate_auth(ClientId=clocked.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                    AuthParameters={"REFRESH_TOKEN": u.refresh})["AuthenticationResult"]
    assert "RefreshToken" not in res
    assert clocked.api("GET", "/todos", res["AccessToken"]).status_code == 200
