"""A signed-in user's attributes (a changed email counts once the code mailed to it comes back) and their
authenticator app (TOTP MFA, with codes from pyotp): set up, required at sign-in, and set up at the first sign-in
where the pool requires MFA of everyone."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pyotp
import pytest
from botocore.exceptions import ClientError

from tests.conftest import PASSWORD, Clients, User, error_code


def _refused(fn: Any, code: str) -> None:
    with pytest.raises(ClientError) as exc:
        fn()
    assert error_code(exc) == code, exc.value.response


def _attrs(c: Clients, token: str) -> dict[str, str]:
    return {a["Name"]: a["Value"] for a in c.idp.get_user(AccessToken=token)["UserAttributes"]}


def _code(secret: str, steps_ahead: int = 0) -> str:
    """The authenticator's code for now, or for the next 30-second step (taken too: a clock a step off is
    allowed, and each code is taken once, so a test that needs a second code uses the next step's)."""
    return str(pyotp.TOTP(secret).at(time.time() + 30 * steps_ahead))


def test_a_changed_email_counts_once_verified(clients: Clients) -> None:
    user = clients.user()
    new = f"moved-{uuid.uuid4().hex[:8]}@example.com"
    sent = clients.idp.update_user_attributes(AccessToken=user.access, UserAttributes=[
        {"Name": "email", "Value": new}, {"Name": "name", "Value": "Moved"}])["CodeDeliveryDetailsList"]
    assert sent[0]["DeliveryMedium"] == "EMAIL" and sent[0]["Destination"].startswith("m***@")
    attrs = _attrs(clients, user.access)
    assert attrs["email"] == user.email and attrs["name"] == "Moved"  # the old address, until the new is verified
    clients.sign_in(user.email)
    _refused(lambda: clients.sign_in(new), "NotAuthorizedException")
    code = clients.code(new)
    _refused(lambda: clients.idp.verify_user_attribute(AccessToken=user.access, AttributeName="email",
                                                       Code="000000" if code != "000000" else "111111"),
             "CodeMismatchException")
    clients.idp.verify_user_attribute(AccessToken=user.access, AttributeName="email", Code=code)
    assert _attrs(clients, user.access)["email"] == new
    clients.sign_in(new)
    _refused(lambda: clients.sign_in(user.email), "NotAuthorizedException")
    resent = clients.idp.get_user_attribute_verification_code(AccessToken=user.access, AttributeName="email")
    assert resent["CodeDeliveryDetails"]["AttributeName"] == "email"
    _refused(lambda: clients.idp.update_user_attributes(AccessToken=user.access, UserAttributes=[
        {"Name": "sub", "Value": "mine"}]), "InvalidParameterException")
    _refused(lambda: clients.idp.update_user_attributes(AccessToken=user.access, UserAttributes=[
        {"Name": "custom:plan", "Value": "gold"}]), "InvalidParameterException")


def test_changing_the_email_mails_as_often_as_resends_allow(clients: Clients) -> None:
    user = clients.user()
    for i in range(5):
        clients.idp.update_user_attributes(AccessToken=user.access, UserAttributes=[
            {"Name": "email", "Value": f"spam-{i}-{uuid.uuid4().hex[:6]}@example.com"}])
    _refused(lambda: clients.idp.update_user_attributes(AccessToken=user.access, UserAttributes=[
        {"Name": "email", "Value": "one-more@example.com"}, {"Name": "name", "Value": "Refused"}]),
        "LimitExceededException")
    assert "name" not in _attrs(clients, user.access)  # a refused change writes nothing
    _refused(lambda: clients.idp.get_user_attribute_verification_code(AccessToken=user.access, AttributeName="email"),
             "LimitExceededException")


def test_a_pool_without_mfa_offers_none(clients: Clients) -> None:
    user = clients.user()  # MyTodoList declares no MFA
    _refused(lambda: clients.idp.associate_software_token(AccessToken=user.access), "InvalidParameterException")
    _refused(lambda: clients.idp.set_user_mfa_preference(AccessToken=user.access, SoftwareTokenMfaSettings={
        "Enabled": True}), "InvalidParameterException")


def test_an_email_someone_else_has_is_not_taken(clients: Clients) -> None:
    a, b = clients.user(), clients.user()
    clients.idp.update_user_attributes(AccessToken=a.access, UserAttributes=[{"Name": "email", "Value": b.email}])
    _refused(lambda: clients.idp.verify_user_attribute(AccessToken=a.access, AttributeName="email",
                                                       Code=clients.code(b.email)), "AliasExistsException")
    assert _attrs(clients, a.access)["email"] == a.email


def _member(club: Clients) -> User:
    return club.user()


def test_an_authenticator_set_up_then_asked_at_every_sign_in(club: Clients) -> None:
    user = _member(club)
    secret = club.idp.associate_software_token(AccessToken=user.access)["SecretCode"]
    _refused(lambda: club.idp.set_user_mfa_preference(AccessToken=user.access, SoftwareTokenMfaSettings={
        "Enabled": True, "PreferredMfa": True}), "InvalidParameterException")  # not verified yet
    _refused(lambda: club.idp.verify_software_token(AccessToken=user.access, UserCode="000000"
                                                    if pyotp.TOTP(secret).now() != "000000" else "111111"),
             "EnableSoftwareTokenMFAException")
    assert club.idp.verify_software_token(AccessToken=user.access, UserCode=_code(secret))["Status"] == "SUCCESS"
    club.idp.set_user_mfa_preference(AccessToken=user.access, SoftwareTokenMfaSettings={
        "Enabled": True, "PreferredMfa": True})
    assert club.idp.get_user(AccessToken=user.access)["PreferredMfaSetting"] == "SOFTWARE_TOKEN_MFA"

    def sign_in() -> dict[str, Any]:
        res: dict[str, Any] = club.idp.initiate_auth(ClientId=club.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                                     AuthParameters={"USERNAME": user.email, "PASSWORD": PASSWORD})
        assert res["ChallengeName"] == "SOFTWARE_TOKEN_MFA" and "AuthenticationResult" not in res
        return res

    def answer(res: dict[str, Any], code: str) -> dict[str, Any]:
        out: dict[str, Any] = club.idp.respond_to_auth_challenge(
            ClientId=club.client_id, ChallengeName="SOFTWARE_TOKEN_MFA", Session=res["Session"],
            ChallengeResponses={"USERNAME": user.email, "SOFTWARE_TOKEN_MFA_CODE": code})
        return out

    res = sign_in()
    wrong = "123456" if pyotp.TOTP(secret).now() != "123456" else "654321"
    _refused(lambda: answer(res, wrong), "CodeMismatchException")
    code = _code(secret, 1)
    tokens = answer(res, code)["AuthenticationResult"]
    assert club.api("GET", "/me", tokens["AccessToken"]).status_code == 200
    # a new authenticator begun, not verified: the one in use stays, and so does the challenge
    club.idp.associate_software_token(AccessToken=tokens["AccessToken"])
    _refused(lambda: club.idp.associate_software_token(AccessToken=tokens["AccessToken"], Session="x" * 40),
             "InvalidParameterException")  # one or the other, as on Cognito
    _refused(lambda: answer(sign_in(), code), "CodeMismatchException")  # a code is taken once (sign_in: still asked)
    res = sign_in()
    for _ in range(4):  # with the reused one, five wrong codes in a row: locked out as five wrong passwords are
        _refused(lambda: answer(res, wrong), "CodeMismatchException")
    with pytest.raises(ClientError) as exc:
        answer(res, wrong)
    assert error_code(exc) == "NotAuthorizedException" and "attempts exceeded" in str(exc.value)
    club.idp.set_user_mfa_preference(AccessToken=tokens["AccessToken"], SoftwareTokenMfaSettings={"Enabled": False})
    assert "AuthenticationResult" in club.idp.initiate_auth(
        ClientId=club.client_id, AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": user.email, "PASSWORD": PASSWORD})


def test_a_pool_that_requires_mfa_has_it_set_up_at_the_first_sign_in(club: Clients) -> None:
    staff = club.app["user_pools"]["staff"]
    console = staff["clients"]["console"]
    email = f"staff-{uuid.uuid4().hex[:8]}@example.com"
    club.idp.sign_up(ClientId=console, Username=email, Password=PASSWORD)
    club.idp.confirm_sign_up(ClientId=console, Username=email, ConfirmationCode=club.code(email))
    res = club.idp.initiate_auth(ClientId=console, AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})
    assert res["ChallengeName"] == "MFA_SETUP" and "SOFTWARE_TOKEN_MFA" in res["ChallengeParameters"]["MFAS_CAN_SETUP"]
    _refused(lambda: club.idp.respond_to_auth_challenge(ClientId=console, ChallengeName="MFA_SETUP",
                                                        Session=res["Session"], ChallengeResponses={"USERNAME": email}),
             "InvalidParameterException")  # nothing set up yet
    assoc = club.idp.associate_software_token(Session=res["Session"])
    verified = club.idp.verify_software_token(Session=assoc["Session"], UserCode=_code(assoc["SecretCode"]))
    assert verified["Status"] == "SUCCESS"
    done = club.idp.respond_to_auth_challenge(ClientId=console, ChallengeName="MFA_SETUP", Session=verified["Session"],
                                              ChallengeResponses={"USERNAME": email})
    token = done["AuthenticationResult"]["AccessToken"]
    _refused(lambda: club.idp.set_user_mfa_preference(AccessToken=token, SoftwareTokenMfaSettings={"Enabled": False}),
             "InvalidParameterException")  # required: it stays on
    again = club.idp.initiate_auth(ClientId=console, AuthFlow="USER_PASSWORD_AUTH",
                                   AuthParameters={"USERNAME": email, "PASSWORD": PASSWORD})
    assert again["ChallengeName"] == "SOFTWARE_TOKEN_MFA"
    done = club.idp.respond_to_auth_challenge(
        ClientId=console, ChallengeName="SOFTWARE_TOKEN_MFA", Session=again["Session"],
        ChallengeResponses={"USERNAME": email, "SOFTWARE_TOKEN_MFA_CODE": _code(assoc["SecretCode"], 1)})
    assert club.idp.get_user(AccessToken=done["AuthenticationResult"]["AccessToken"])["UserMFASettingList"] == [
        "SOFTWARE_TOKEN_MFA"]
