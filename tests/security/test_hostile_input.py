"""Inputs crafted to break things: each gets a clear 4xx (or Cognito error), never a 500."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from tests.conftest import PASSWORD, TODO, Clients, User, error_code, start


def _b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def dave(clients: Clients) -> User:
    return clients.user()


@pytest.mark.parametrize("alg", ["☃", "x" * 500, None, 5])
def test_odd_alg_values_are_a_401(clients: Clients, alg: object) -> None:
    token = f"{_b64({'alg': alg, 'kid': 'k'})}.{_b64({'sub': 'x'})}.c2ln"
    r = clients.api("GET", "/todos", token)
    assert r.status_code == 401 and r.headers["www-authenticate"].isascii()


@pytest.mark.parametrize("last", [{"a": 1}, [1], 10**30, None, True, 5])
def test_crafted_pagination_tokens_are_a_400(clients: Clients, dave: User, last: object) -> None:
    token = _b64(["todos", dave.sub, last])
    r = clients.api("GET", "/todos", dave.access, params={"next_token": token})
    assert r.status_code == 400 and "next token" in r.json()["message"]


@pytest.mark.parametrize("email", ["a:b;c@x.co", "a,b@x.co", "a\x00b@x.co", "üser@exämple.de", "(c)a@x.co",
                                   "<a>@x.co", 'a"b@x.co', "a@b", "a b@x.co", "a@x..co", "carol@example.com\n",
                                   "carol@example.com\r\nBcc: x@example.com"])
def test_unusual_emails_are_refused(clients: Clients, email: str) -> None:
    with pytest.raises(ClientError) as exc:
        clients.sign_up(email)
    assert error_code(exc) == "InvalidParameterException"


@pytest.mark.parametrize("password", [" Passw0rdX ", "ÄÖÜäöü١٢٣xx", "Aa1" + "x" * 300])
def test_passwords_as_cognito_counts_them(clients: Clients, password: str) -> None:
    with pytest.raises(ClientError) as exc:
        clients.sign_up(password=password)
    assert error_code(exc) in ("InvalidParameterException", "InvalidPasswordException")


def test_wrong_types_in_cognito_requests(clients: Clients) -> None:
    url, hdrs = clients.ep["aws_endpoint"] + "/", {"content-type": "application/x-amz-json-1.1"}
    for op, body in (("ConfirmSignUp", {"ClientId": clients.client_id, "Username": 5, "ConfirmationCode": "1"}),
                     ("ResendConfirmationCode", {"ClientId": clients.client_id, "Username": ["x"]}),
                     ("InitiateAuth", {"ClientId": clients.client_id, "AuthFlow": "USER_PASSWORD_AUTH",
                                       "AuthParameters": {"USERNAME": 1, "PASSWORD": 2}})):
        r = clients.http.post(url, json=body, headers=hdrs | {"x-amz-target": f"AWSCognitoIdentityProviderService.{op}"})
        assert r.status_code == 400 and r.json()["__type"] == "InvalidParameterException", (op, r.text)
    r = clients.http.post(url, content=b"x" * (2 * 1024 * 1024),
                          headers=hdrs | {"x-amz-target": "AWSCognitoIdentityProviderService.SignUp"})
    assert r.status_code == 413 and "__type" in r.json()


def test_iso_week_dates_and_lenient_numbers_are_refused(clients: Clients, dave: User) -> None:
    r = clients.api("POST", "/todos", dave.access, json={"title": "a", "due": "2024-W01-1"})
    assert r.status_code == 400 and "due: is not a valid date" in r.json()["errors"]
    for limit in ("1_0", "+5", " 7", "٣"):
        assert clients.api("GET", "/todos", dave.access, params={"limit": limit}).status_code == 400, limit


def test_non_utf8_charset_is_415(clients: Clients, dave: User) -> None:
    r = clients.api("POST", "/todos", dave.access, content='{"title": "é"}'.encode("latin-1"),
                    headers={"content-type": "application/json; charset=latin-1"})
    assert r.status_code == 415
    r = clients.api("POST", "/todos", dave.access, content='{"title": "é"}'.encode(),
                    headers={"content-type": "application/json; charset=UTF-8"})
    assert r.status_code == 201 and r.json()["title"] == "é"


def test_percent_encoded_api_path(clients: Clients) -> None:
    r = clients.http.get(clients.ep["aws_endpoint"] + "/_api/%74odo/api/openapi.json")
    assert r.status_code == 200 and r.json()["openapi"] == "3.1.0"


def test_smtp_failure_is_code_delivery_failure_and_leaves_no_user(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    s = start(tmp_path, TODO, extra=["--smtp", f"127.0.0.1:{dead}"])
    try:
        c = Clients(s)
        for _ in range(2):  # the second try fails the same way: no half-made account blocks it
            with pytest.raises(ClientError) as exc:
                c.sign_up("retry@example.com", PASSWORD)
            assert error_code(exc) == "CodeDeliveryFailureException"
    finally:
        s.stop()


def test_tokens_survive_a_restart_on_another_port(tmp_path: Path) -> None:
    s = start(tmp_path, TODO)
    c = Clients(s)
    u = c.user()
    s.stop()
    s2 = start(tmp_path, TODO, port=0)
    try:
        assert s2.port != s.port
        c2 = Clients(s2)
        assert c2.api("GET", "/todos", u.access).status_code == 200
        assert c2.idp.get_user(AccessToken=u.access)["Username"] == u.sub
    finally:
        s2.stop()


def test_stale_endpoints_file_is_removed_at_start(tmp_path: Path) -> None:
    """A file left by a crashed run is gone as soon as a new run starts, even one that then fails."""
    stale = tmp_path / "endpoints.json"
    stale.write_text('{"aws_endpoint": "https://127.0.0.1:1", "pid": 1}')
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        r = subprocess.run([sys.executable, "-m", "stratus", "up", str(TODO), "--data-dir", str(tmp_path),
                            "--port", str(busy.getsockname()[1])], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and not stale.exists()
