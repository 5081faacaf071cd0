"""A user's own account: a forgotten password reset with a mailed code, a password changed while signed in, as
pycognito (unchanged) and boto3 drive them; and Cognito's refusals for each."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from pycognito import Cognito

from tests.conftest import PASSWORD, Clients, error_code

NEW = "New-Passw0rd-2"


@pytest.fixture(autouse=True)
def trust_the_local_ca(clients: Clients, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", clients.ep["ca_file"])


def _cognito(clients: Clients, username: str) -> Cognito:
    return Cognito(clients.app["user_pool_id"], clients.client_id, username=username,
                   boto3_client_kwargs={"endpoint_url": clients.ep["aws_endpoint"], "verify": clients.ep["ca_file"],
                                        "region_name": clients.ep["region"]})


def _refused(fn: object, code: str) -> None:
    with pytest.raises(ClientError) as exc:
        fn()  # type: ignore[operator]
    assert error_code(exc) == code, exc.value.response


def test_a_forgotten_password_is_reset_with_the_mailed_code(clients: Clients) -> None:
    user = clients.user()
    u = _cognito(clients, user.email)
    u.initiate_forgot_password()
    code = clients.code(user.email)
    _refused(lambda: u.confirm_forgot_password("000000" if code != "000000" else "111111", NEW), "CodeMismatchException")
    _refused(lambda: u.confirm_forgot_password(code, "weak"), "InvalidPasswordException")
    u.confirm_forgot_password(code, NEW)
    _refused(lambda: u.confirm_forgot_password(code, NEW), "ExpiredCodeException")  # spent
    _refused(lambda: clients.sign_in(user.email, PASSWORD), "NotAuthorizedException")
    clients.sign_in(user.email, NEW)  # the new password, by password and by SRP
    _cognito(clients, user.email).authenticate(password=NEW)


def test_a_reset_code_is_no_confirmation_code_and_strangers_are_answered_alike(clients: Clients) -> None:
    email = clients.sign_up()  # not confirmed yet: nothing to reset, answered as if mailed
    mailed = clients.idp.forgot_password(ClientId=clients.client_id, Username=email)["CodeDeliveryDetails"]
    stranger = clients.idp.forgot_password(ClientId=clients.client_id, Username="nobody-here@example.com")
    assert mailed["DeliveryMedium"] == stranger["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    code = clients.code(email)  # the sign-up code: it confirms, it does not reset
    _refused(lambda: clients.idp.confirm_forgot_password(ClientId=clients.client_id, Username=email,
                                                         ConfirmationCode=code, Password=NEW), "CodeMismatchException")
    _refused(lambda: clients.idp.confirm_forgot_password(ClientId=clients.client_id, Username="nobody-here@example.com",
                                                         ConfirmationCode="123456", Password=NEW),
             "CodeMismatchException")
    confirmed = clients.user()
    clients.idp.forgot_password(ClientId=clients.client_id, Username=confirmed.email)
    reset = clients.code(confirmed.email)
    _refused(lambda: clients.idp.confirm_sign_up(ClientId=clients.client_id, Username=confirmed.email,
                                                 ConfirmationCode=reset), "NotAuthorizedException")  # confirmed
    for _ in range(5):  # a code takes five wrong tries, then none
        _refused(lambda: clients.idp.confirm_forgot_password(ClientId=clients.client_id, Username=confirmed.email,
                                                             ConfirmationCode="999999" if reset != "999999"
                                                             else "888888", Password=NEW), "CodeMismatchException")
    _refused(lambda: clients.idp.confirm_forgot_password(ClientId=clients.client_id, Username=confirmed.email,
                                                         ConfirmationCode=reset, Password=NEW),
             "TooManyFailedAttemptsException")


def test_forgot_password_is_rate_limited_for_everyone(clients: Clients) -> None:
    for name in (clients.user().email, "nobody-else@example.com"):
        for _ in range(5):
            clients.idp.forgot_password(ClientId=clients.client_id, Username=name)
        _refused(lambda n=name: clients.idp.forgot_password(ClientId=clients.client_id, Username=n),
                 "LimitExceededException")


def test_a_signed_in_user_changes_their_password(clients: Clients) -> None:
    user = clients.user()
    u = _cognito(clients, user.email)
    u.authenticate(password=PASSWORD)
    _refused(lambda: u.change_password("Wrong-Passw0rd", NEW), "NotAuthorizedException")
    _refused(lambda: u.change_password(PASSWORD, "weak"), "InvalidPasswordException")
    u.change_password(PASSWORD, NEW)
    _refused(lambda: clients.sign_in(user.email, PASSWORD), "NotAuthorizedException")
    _cognito(clients, user.email).authenticate(password=NEW)
    _refused(lambda: clients.idp.change_password(PreviousPassword=NEW, ProposedPassword=PASSWORD,
                                                 AccessToken="not-a-token"), "NotAuthorizedException")
    clients.idp.global_sign_out(AccessToken=u.access_token)  # a signed-out token changes nothing
    _refused(lambda: clients.idp.change_password(PreviousPassword=NEW, ProposedPassword=PASSWORD,
                                                 AccessToken=u.access_token), "NotAuthorizedException")


def test_wrong_previous_passwords_count_toward_the_lock_out(clients: Clients) -> None:
    user = clients.user()
    for _ in range(5):
        _refused(lambda: clients.idp.change_password(PreviousPassword="Wrong-Passw0rd", ProposedPassword=NEW,
                                                     AccessToken=user.access), "NotAuthorizedException")
    with pytest.raises(ClientError) as exc:
        clients.idp.change_password(PreviousPassword=PASSWORD, ProposedPassword=NEW, AccessToken=user.access)
    assert exc.value.response["Error"]["Message"] == "Password attempts exceeded"


def test_a_user_deletes_their_account(clients: Clients) -> None:
    user = clients.user()
    clients.idp.delete_user(AccessToken=user.access)
    _refused(lambda: clients.idp.get_user(AccessToken=user.access), "NotAuthorizedException")
    _refused(lambda: clients.sign_in(user.email), "NotAuthorizedException")
    _refused(lambda: clients.idp.initiate_auth(ClientId=clients.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                               AuthParameters={"REFRESH_TOKEN": user.refresh}),
             "NotAuthorizedException")
    clients.idp.sign_up(ClientId=clients.client_id, Username=user.email, Password=PASSWORD)  # the address is free


def test_a_revoked_refresh_token_ends_its_session_only(clients: Clients) -> None:
    user = clients.user()
    other = clients.sign_in(user.email)  # a second session
    _refused(lambda: clients.idp.revoke_token(ClientId=clients.client_id, Token=user.access),
             "UnsupportedTokenTypeException")
    clients.idp.revoke_token(ClientId=clients.client_id, Token=user.refresh)
    with pytest.raises(ClientError) as exc:
        clients.idp.initiate_auth(ClientId=clients.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                  AuthParameters={"REFRESH_TOKEN": user.refresh})
    assert exc.value.response["Error"]["Message"] == "Refresh Token has been revoked"
    _refused(lambda: clients.idp.get_user(AccessToken=user.access), "NotAuthorizedException")  # its tokens too
    assert clients.idp.get_user(AccessToken=other["AccessToken"])["Username"] == user.sub  # the other session lives
    clients.idp.revoke_token(ClientId=clients.client_id, Token="no-such-token")  # answered alike
