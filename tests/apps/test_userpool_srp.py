"""SRP sign-in (``USER_SRP_AUTH`` and its ``PASSWORD_VERIFIER`` challenge) as real clients make it: pycognito,
unchanged, against the local user pool; the password never crosses the wire. And Cognito's refusals."""

from __future__ import annotations

import base64
import re
import sqlite3
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from pycognito import Cognito
from pycognito.aws_srp import AWSSRP

from tests.conftest import PASSWORD, Clients, error_code, message_of


@pytest.fixture(autouse=True)
def trust_the_local_ca(clients: Clients, monkeypatch: pytest.MonkeyPatch) -> None:
    """pycognito fetches the pool's JWKS with requests, which trusts what REQUESTS_CA_BUNDLE names."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", clients.ep["ca_file"])


def _cognito(clients: Clients, username: str, app: str = "todo") -> Cognito:
    entry = clients.ep["apps"][app]
    return Cognito(entry["user_pool_id"], entry["user_pool_client_id"], username=username,
                   boto3_client_kwargs={"endpoint_url": clients.ep["aws_endpoint"], "verify": clients.ep["ca_file"],
                                        "region_name": clients.ep["region"]})


def _confirmed(clients: Clients) -> str:
    email = clients.sign_up()
    clients.idp.confirm_sign_up(ClientId=clients.client_id, Username=email, ConfirmationCode=clients.code(email))
    return email


def test_pycognito_signs_in_with_srp(clients: Clients) -> None:
    email = _confirmed(clients)
    sent: list[dict[str, Any]] = []
    user = _cognito(clients, email)
    user.client.meta.events.register("before-call.cognito-idp", lambda params, **_: sent.append(params["body"]))
    user.authenticate(password=PASSWORD)
    user.check_token()  # the access token verifies against the pool's published keys
    assert user.get_user().email == email
    assert all(PASSWORD not in str(body) for body in sent)  # the password never crossed the wire
    assert clients.api("GET", "/todos", user.access_token).status_code == 200  # and the API takes its tokens
    user.renew_access_token()  # REFRESH_TOKEN_AUTH with the refresh token SRP gave
    assert clients.api("GET", "/todos", user.access_token).status_code == 200


def test_wrong_proofs_and_strangers_are_refused_alike(clients: Clients) -> None:
    email = _confirmed(clients)
    said = {}
    for name in (email, "nobody-here@example.com"):  # a stranger's challenge looks as a user's does
        params = AWSSRP(name, PASSWORD, clients.app["user_pool_id"], clients.client_id, client=clients.idp)
        said[name] = clients.idp.initiate_auth(ClientId=clients.client_id, AuthFlow="USER_SRP_AUTH",
                                               AuthParameters=params.get_auth_params())["ChallengeParameters"]
    for challenge in said.values():
        assert re.fullmatch(r"[0-9a-f-]{36}", challenge["USER_ID_FOR_SRP"]) and len(challenge["SALT"]) in (32, 34)
    for name in (email, "nobody-here@example.com"):
        with pytest.raises(ClientError) as exc:
            _cognito(clients, name).authenticate(password="Wrong-Passw0rd")
        assert error_code(exc) == "NotAuthorizedException" and message_of(exc) == "Incorrect username or password."


def test_a_challenge_is_answered_once_and_by_its_own_client(clients: Clients) -> None:
    email = _confirmed(clients)
    aws = AWSSRP(email, PASSWORD, clients.app["user_pool_id"], clients.client_id, client=clients.idp)
    params = aws.get_auth_params()
    challenge = clients.idp.initiate_auth(ClientId=clients.client_id, AuthFlow="USER_SRP_AUTH",
                                          AuthParameters=params)
    assert challenge["ChallengeName"] == "PASSWORD_VERIFIER"
    assert challenge["ChallengeParameters"]["USER_ID_FOR_SRP"] == challenge["ChallengeParameters"]["USERNAME"]
    answer = aws.process_challenge(challenge["ChallengeParameters"], params)
    forged = dict(answer, PASSWORD_CLAIM_SIGNATURE=base64.b64encode(b"\0" * 32).decode())
    with pytest.raises(ClientError) as exc:
        clients.idp.respond_to_auth_challenge(ClientId=clients.client_id, ChallengeName="PASSWORD_VERIFIER",
                                              ChallengeResponses=forged)
    assert error_code(exc) == "NotAuthorizedException"
    with pytest.raises(ClientError) as exc:  # the block was spent by the forged answer
        clients.idp.respond_to_auth_challenge(ClientId=clients.client_id, ChallengeName="PASSWORD_VERIFIER",
                                              ChallengeResponses=answer)
    assert error_code(exc) == "NotAuthorizedException"
    challenge = clients.idp.initiate_auth(ClientId=clients.client_id, AuthFlow="USER_SRP_AUTH", AuthParameters=params)
    answer = aws.process_challenge(challenge["ChallengeParameters"], params)
    late = dict(answer, TIMESTAMP="Tue Nov 3 04:05:06 UTC 2020")  # a timestamp far from now, whatever it signs
    with pytest.raises(ClientError) as exc:
        clients.idp.respond_to_auth_challenge(ClientId=clients.client_id, ChallengeName="PASSWORD_VERIFIER",
                                              ChallengeResponses=late)
    assert error_code(exc) == "NotAuthorizedException"
    for bad in ("0", "zz", "f" * 2000, "-1", "0x1f", " 1f", "1_f"):
        with pytest.raises(ClientError) as exc:
            clients.idp.initiate_auth(ClientId=clients.client_id, AuthFlow="USER_SRP_AUTH",
                                      AuthParameters={"USERNAME": email, "SRP_A": bad})
        assert error_code(exc) == "InvalidParameterException"
    for missing in ("TIMESTAMP", "PASSWORD_CLAIM_SIGNATURE", "USERNAME"):
        with pytest.raises(ClientError) as exc:
            clients.idp.respond_to_auth_challenge(ClientId=clients.client_id, ChallengeName="PASSWORD_VERIFIER",
                                                  ChallengeResponses={k: v for k, v in answer.items() if k != missing})
        assert error_code(exc) == "InvalidParameterException" and missing in message_of(exc)
    with pytest.raises(ClientError) as exc:
        clients.idp.respond_to_auth_challenge(ClientId=clients.client_id, ChallengeName="SMS_MFA",
                                              ChallengeResponses={"USERNAME": email})
    assert error_code(exc) == "InvalidParameterException" and "SMS_MFA" in message_of(exc)


def test_srp_counts_toward_the_lock_out(clients: Clients) -> None:
    email = _confirmed(clients)
    for _ in range(5):
        with pytest.raises(ClientError):
            _cognito(clients, email).authenticate(password="Wrong-Passw0rd")
    with pytest.raises(ClientError) as exc:
        _cognito(clients, email).authenticate(password=PASSWORD)
    assert error_code(exc) == "NotAuthorizedException" and message_of(exc) == "Password attempts exceeded"


def test_an_unconfirmed_user_is_told_so_after_the_proof(clients: Clients) -> None:
    email = clients.sign_up()
    with pytest.raises(ClientError) as exc:
        _cognito(clients, email).authenticate(password=PASSWORD)
    assert error_code(exc) == "UserNotConfirmedException"


def test_a_client_that_does_not_allow_srp_refuses_it(clients: Clients) -> None:
    other = clients.ep["apps"]["other"]  # its pool declares auth_flows=("user_password",)
    with pytest.raises(ClientError) as exc:
        boto3.client("cognito-idp", endpoint_url=clients.ep["aws_endpoint"], region_name=clients.ep["region"],
                     verify=clients.ep["ca_file"]).initiate_auth(
            ClientId=other["user_pool_client_id"], AuthFlow="USER_SRP_AUTH",
            AuthParameters={"USERNAME": "a@example.com", "SRP_A": "ab"})
    assert error_code(exc) == "InvalidParameterException"
    assert message_of(exc) == "USER_SRP_AUTH flow not enabled for this client"


def test_a_user_from_before_srp_gets_a_verifier_at_the_next_password_sign_in(clients: Clients) -> None:
    email = _confirmed(clients)
    db = sqlite3.connect(clients.system.data_dir / "userpools.db")
    sub = db.execute("SELECT sub FROM users WHERE email=?", (email,)).fetchone()[0]
    db.execute("DELETE FROM srp WHERE sub=?", (sub,))  # as a data dir made before SRP sign-in has it
    db.commit()
    db.close()
    with pytest.raises(ClientError):
        _cognito(clients, email).authenticate(password=PASSWORD)
    clients.sign_in(email)  # USER_PASSWORD_AUTH: the password seen once more, its verifier kept
    _cognito(clients, email).authenticate(password=PASSWORD)
