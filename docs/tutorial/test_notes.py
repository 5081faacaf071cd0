"""The notes app as its clients see it: over HTTPS, against `stratus up notes` running in this folder."""

from __future__ import annotations

import email
import email.policy
import json
import re
import ssl
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest

STATE = Path(".stratus")  # the folder `stratus up` keeps its state in, endpoints.json and the mail outbox
PASSWORD = "Notes-Passw0rd"


@pytest.fixture(scope="module")
def endpoints() -> dict[str, Any]:
    """Where the running system serves: its API's URL, its AWS endpoint, the CA its certificate is from."""
    doc: dict[str, Any] = json.loads((STATE / "endpoints.json").read_text())
    return doc


@pytest.fixture(scope="module")
def http(endpoints: dict[str, Any]) -> Iterator[httpx.Client]:
    """An HTTPS client of the notes API that trusts the system's local CA."""
    tls = ssl.create_default_context(cafile=endpoints["ca_file"])
    with httpx.Client(base_url=endpoints["apps"]["notes"]["api"], verify=tls) as client:
        yield client


def mailed_code(address: str) -> str:
    """The confirmation code in the newest mail to ``address``: `stratus up` keeps each mail in the outbox."""
    for path in sorted((STATE / "outbox").glob("*.eml"), reverse=True):
        mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = mail.get_body(("plain",))
        found = re.search(r"\b\d{6}\b", body.get_content() if body else "")
        if mail["To"] == address and found:
            return found.group()
    raise AssertionError(f"no code was mailed to {address}")


def sign_up(endpoints: dict[str, Any]) -> dict[str, str]:
    """A new user, signed up, confirmed with the mailed code and signed in: headers with their access token."""
    idp = boto3.client("cognito-idp", endpoint_url=endpoints["aws_endpoint"], region_name=endpoints["region"],
                       verify=endpoints["ca_file"])
    client_id = endpoints["apps"]["notes"]["user_pool_client_id"]
    address = f"{uuid.uuid4().hex[:12]}@example.com"
    idp.sign_up(ClientId=client_id, Username=address, Password=PASSWORD)
    idp.confirm_sign_up(ClientId=client_id, Username=address, ConfirmationCode=mailed_code(address))
    tokens = idp.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": address, "PASSWORD": PASSWORD})["AuthenticationResult"]
    return {"authorization": f"Bearer {tokens['AccessToken']}"}


@pytest.fixture(scope="module")
def alice(endpoints: dict[str, Any]) -> dict[str, str]:
    return sign_up(endpoints)


@pytest.fixture(scope="module")
def bob(endpoints: dict[str, Any]) -> dict[str, str]:
    return sign_up(endpoints)


def test_anyone_may_ask_for_health(http: httpx.Client) -> None:
    r = http.get("/health")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


def test_me_needs_a_signed_in_caller(http: httpx.Client, alice: dict[str, str]) -> None:
    assert http.get("/me").status_code == 401
    r = http.get("/me", headers=alice)
    assert r.status_code == 200 and r.json()["sub"]


def test_notes_are_their_owners(http: httpx.Client, alice: dict[str, str], bob: dict[str, str]) -> None:
    r = http.post("/notes", json={"title": "Milk"}, headers=alice)
    assert r.status_code == 201, r.text
    note = r.json()
    assert note["title"] == "Milk"
    assert note in http.get("/notes", headers=alice).json()
    assert http.get("/notes", headers=bob).json() == []
    assert http.post("/notes", json={"title": ""}, headers=alice).status_code == 400  # minLength 1


def test_a_notes_text_is_kept_in_the_bucket(http: httpx.Client, alice: dict[str, str], bob: dict[str, str]) -> None:
    note = http.post("/notes", json={"title": "Letter"}, headers=alice).json()
    path = f"/notes/{note['id']}/text"
    assert http.get(path, headers=alice).status_code == 404
    assert http.put(path, content="Dear Bob,", headers=alice).status_code == 204
    r = http.get(path, headers=alice)
    assert r.status_code == 200 and r.text == "Dear Bob," and r.headers["content-type"].startswith("text/plain")
    assert http.get(path, headers=bob).status_code == 404  # another user's note is not found
    assert http.put(path, content=b"\xff", headers=alice).status_code == 400
