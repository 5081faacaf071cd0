"""The operator's user-pool operations, on the same wire as AWS and signed with the admin credentials: boto3 and the
AWS CLI's ``cognito-idp admin-*`` against ``stratus up``; a user an operator creates signs in with the mailed
temporary password and must choose their own; groups reach the tokens and the routes that require them; and an
unsigned call, a wrong signature and an app user's credentials are each refused as AWS refuses them."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import uuid
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from stratus.demo import Target, Tour, tour_of
from stratus.local.services.ses.mailers import read_outbox
from tests.conftest import PASSWORD, TODO, Clients, error_code


def _admin(c: Clients, **keys: str) -> Any:
    """cognito-idp as the operator, or with the keys given."""
    if not keys:
        return c.admin_idp()
    return boto3.client("cognito-idp", endpoint_url=c.ep["aws_endpoint"], region_name=c.ep["region"],
                        verify=c.ep["ca_file"], **keys)


def _refused(fn: Any, code: str) -> ClientError:
    with pytest.raises(ClientError) as exc:
        fn()
    assert error_code(exc) == code, exc.value.response
    return exc.value


def _email() -> str:
    return f"m-{uuid.uuid4().hex[:10]}@example.com"


def _temporary_password(c: Clients, email: str) -> str:
    mail = [m for m in read_outbox(c.system.data_dir / "outbox") if m.to == email][-1]
    return mail.body.rsplit("temporary password is ", 1)[1].strip().removesuffix(".")


def test_a_created_user_signs_in_with_the_mailed_password_and_must_choose_their_own(club: Clients) -> None:
    admin, pool = _admin(club), club.app["user_pool_id"]
    email = _email()
    user = admin.admin_create_user(UserPoolId=pool, Username=email,
                                   UserAttributes=[{"Name": "name", "Value": "Ann"}])["User"]
    assert user["UserStatus"] == "FORCE_CHANGE_PASSWORD" and user["Enabled"] is True
    temporary = _temporary_password(club, email)
    res = club.idp.initiate_auth(ClientId=club.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": email, "PASSWORD": temporary})
    assert res["ChallengeName"] == "NEW_PASSWORD_REQUIRED" and "AuthenticationResult" not in res
    _refused(lambda: club.idp.respond_to_auth_challenge(
        ClientId=club.client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=res["Session"],
        ChallengeResponses={"USERNAME": email, "NEW_PASSWORD": "weak"}), "InvalidPasswordException")
    done = club.idp.respond_to_auth_challenge(ClientId=club.client_id, ChallengeName="NEW_PASSWORD_REQUIRED",
                                              Session=res["Session"],
                                              ChallengeResponses={"USERNAME": email, "NEW_PASSWORD": PASSWORD})
    assert club.idp.get_user(AccessToken=done["AuthenticationResult"]["AccessToken"])["Username"] == user["Username"]
    _refused(lambda: club.idp.respond_to_auth_challenge(  # a session answers once
        ClientId=club.client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=res["Session"],
        ChallengeResponses={"USERNAME": email, "NEW_PASSWORD": PASSWORD}), "NotAuthorizedException")
    got = admin.admin_get_user(UserPoolId=pool, Username=email)
    assert got["UserStatus"] == "CONFIRMED" and {"Name": "name", "Value": "Ann"} in got["UserAttributes"]
    _refused(lambda: club.sign_in(email, temporary), "NotAuthorizedException")  # the temporary one is gone
    _refused(lambda: admin.admin_create_user(UserPoolId=pool, Username=email), "UsernameExistsException")


def test_groups_reach_the_tokens_and_the_routes_that_require_them(club: Clients) -> None:
    admin, pool = _admin(club), club.app["user_pool_id"]
    email = _email()
    admin.admin_create_user(UserPoolId=pool, Username=email, TemporaryPassword="Temp-Passw0rd", MessageAction="SUPPRESS")
    admin.admin_set_user_password(UserPoolId=pool, Username=email, Password=PASSWORD, Permanent=True)
    token = club.sign_in(email)["AccessToken"]
    refused = club.api("GET", "/drafts", token)
    assert refused.status_code == 403 and "authors" in refused.json()["message"]  # a missing group at a route
    assert club.api("GET", "/me", token).json()["groups"] == []
    admin.admin_add_user_to_group(UserPoolId=pool, Username=email, GroupName="authors")
    _refused(lambda: admin.admin_add_user_to_group(UserPoolId=pool, Username=email, GroupName="editors"),
             "ResourceNotFoundException")  # only declared groups
    token = club.sign_in(email)["AccessToken"]
    assert club.api("GET", "/drafts", token).status_code == 200
    assert club.api("GET", "/me", token).json()["groups"] == ["authors"]
    in_group = admin.list_users_in_group(UserPoolId=pool, GroupName="authors")["Users"]
    assert email in [a["Value"] for u in in_group for a in u["Attributes"] if a["Name"] == "email"]
    assert admin.admin_list_groups_for_user(UserPoolId=pool, Username=email)["Groups"][0]["GroupName"] == "authors"
    admin.admin_remove_user_from_group(UserPoolId=pool, Username=email, GroupName="authors")
    assert club.api("GET", "/drafts", club.sign_in(email)["AccessToken"]).status_code == 403


def test_listing_filters_pages_and_the_account_switches(club: Clients) -> None:
    admin, pool = _admin(club), club.app["user_pool_id"]
    tag = uuid.uuid4().hex[:8]
    emails = [f"list-{tag}-{i}@example.com" for i in range(3)]
    for e in emails:
        admin.admin_create_user(UserPoolId=pool, Username=e, TemporaryPassword="Temp-Passw0rd", MessageAction="SUPPRESS")
    found = admin.list_users(UserPoolId=pool, Filter=f'email ^= "list-{tag}"')["Users"]
    assert len(found) == 3
    exact = admin.list_users(UserPoolId=pool, Filter=f'email = "{emails[1]}"', AttributesToGet=["email"])["Users"]
    assert [u["Attributes"] for u in exact] == [[{"Name": "email", "Value": emails[1]}]]
    pages = admin.get_paginator("list_users").paginate(UserPoolId=pool, Filter=f'email ^= "list-{tag}"',
                                                       PaginationConfig={"PageSize": 2})
    assert [len(p["Users"]) for p in pages] == [2, 1]
    _refused(lambda: admin.list_users(UserPoolId=pool, Filter="email like x"), "InvalidParameterException")
    _refused(lambda: admin.list_users(UserPoolId=pool, Filter='password = "x"'), "InvalidParameterException")

    email = _email()  # a sign-up an operator confirms, then disables, signs out, enables, deletes
    club.sign_up(email)
    _refused(lambda: club.sign_in(email), "UserNotConfirmedException")
    admin.admin_confirm_sign_up(UserPoolId=pool, Username=email)
    session = club.sign_in(email)
    admin.admin_disable_user(UserPoolId=pool, Username=email)
    assert admin.admin_get_user(UserPoolId=pool, Username=email)["Enabled"] is False
    assert error_code_of(lambda: club.sign_in(email)) == "NotAuthorizedException"
    _refused(lambda: club.idp.get_user(AccessToken=session["AccessToken"]), "NotAuthorizedException")
    admin.admin_enable_user(UserPoolId=pool, Username=email)
    session = club.sign_in(email)
    admin.admin_user_global_sign_out(UserPoolId=pool, Username=email)
    _refused(lambda: club.idp.initiate_auth(ClientId=club.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                            AuthParameters={"REFRESH_TOKEN": session["RefreshToken"]}),
             "NotAuthorizedException")
    admin.admin_delete_user(UserPoolId=pool, Username=email)
    _refused(lambda: admin.admin_get_user(UserPoolId=pool, Username=email), "UserNotFoundException")
    _refused(lambda: admin.admin_get_user(UserPoolId="us-east-1_nothere00", Username=email),
             "ResourceNotFoundException")


def error_code_of(fn: Any) -> str:
    with pytest.raises(ClientError) as exc:
        fn()
    return error_code(exc)


def test_admin_calls_need_the_operators_signature(club: Clients, clients: Clients) -> None:
    pool = club.app["user_pool_id"]
    body = json.dumps({"UserPoolId": pool, "Username": "x@example.com"})
    unsigned = club.http.post(club.ep["aws_endpoint"] + "/", content=body, headers={
        "x-amz-target": "AWSCognitoIdentityProviderService.AdminGetUser",
        "content-type": "application/x-amz-json-1.1"})
    assert unsigned.status_code == 403 and unsigned.json()["__type"] == "MissingAuthenticationTokenException"
    wrong = _admin(club, aws_access_key_id=club.ep["admin_credentials"]["access_key_id"],
                   aws_secret_access_key="not-the-secret")
    _refused(lambda: wrong.admin_get_user(UserPoolId=pool, Username="x@example.com"), "InvalidSignatureException")
    stranger = _admin(club, aws_access_key_id="AKIAEXAMPLEEXAMPLE00", aws_secret_access_key="x")
    _refused(lambda: stranger.admin_get_user(UserPoolId=pool, Username="x@example.com"), "UnrecognizedClientException")
    # an app user's own temporary credentials (MyTodoList's identity pool) reach their folder, not the user pool
    creds = clients.identity(clients.user())
    user_keys = _admin(club, aws_access_key_id=creds["AccessKeyId"], aws_secret_access_key=creds["SecretKey"],
                       aws_session_token=creds["SessionToken"])
    for call in (lambda: user_keys.admin_get_user(UserPoolId=pool, Username="x@example.com"),
                 lambda: user_keys.list_users(UserPoolId=pool),
                 lambda: user_keys.admin_create_user(UserPoolId=pool, Username=_email())):
        assert "cognito-idp:" in str(_refused(call, "AccessDeniedException"))


def test_the_aws_cli_drives_the_admin_operations(club: Clients) -> None:
    pool, email = club.app["user_pool_id"], _email()
    creds = club.ep["admin_credentials"]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": creds["access_key_id"], "AWS_SECRET_ACCESS_KEY": creds["secret_access_key"],
           "AWS_DEFAULT_REGION": club.ep["region"], "AWS_CONFIG_FILE": os.devnull,
           "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    base = ["aws", "--endpoint-url", club.ep["aws_endpoint"], "--ca-bundle", club.ep["ca_file"], "--output", "json",
            "cognito-idp"]

    def aws(*args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*base, *args], env=env, capture_output=True, text=True, timeout=60)
        assert (done.returncode == 0) == ok, done.stderr
        return done

    made = json.loads(aws("admin-create-user", "--user-pool-id", pool, "--username", email,
                          "--temporary-password", "Temp-Passw0rd", "--message-action", "SUPPRESS").stdout)
    assert made["User"]["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    aws("admin-set-user-password", "--user-pool-id", pool, "--username", email, "--password", PASSWORD,
        "--permanent")
    aws("admin-add-user-to-group", "--user-pool-id", pool, "--username", email, "--group-name", "admins")
    got = json.loads(aws("admin-get-user", "--user-pool-id", pool, "--username", email).stdout)
    assert got["UserStatus"] == "CONFIRMED" and got["Username"] == made["User"]["Username"]
    listed = json.loads(aws("list-users", "--user-pool-id", pool, "--filter", f'email = "{email}"').stdout)
    assert [u["Username"] for u in listed["Users"]] == [got["Username"]]
    in_admins = json.loads(aws("list-users-in-group", "--user-pool-id", pool, "--group-name", "admins").stdout)
    assert got["Username"] in [u["Username"] for u in in_admins["Users"]]
    aws("admin-disable-user", "--user-pool-id", pool, "--username", email)
    aws("admin-enable-user", "--user-pool-id", pool, "--username", email)
    aws("admin-user-global-sign-out", "--user-pool-id", pool, "--username", email)
    aws("admin-delete-user", "--user-pool-id", pool, "--username", email)
    missing = aws("admin-get-user", "--user-pool-id", pool, "--username", email, ok=False)
    assert "UserNotFoundException" in missing.stderr
    env["AWS_SECRET_ACCESS_KEY"] = "wrong"
    assert "InvalidSignatureException" in aws("list-users", "--user-pool-id", pool, ok=False).stderr


def test_the_aws_tour_confirms_and_deletes_its_users_as_an_admin_here_too(
        clients: Clients, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """The demo's tour as it runs against AWS (sign-ups confirmed with AdminConfirmSignUp, its users deleted with
    AdminDeleteUser, both with the caller's credentials), run against the local system with the operator's."""
    creds = clients.ep["admin_credentials"]
    for var in [v for v in os.environ if v.startswith("AWS_")]:  # whatever else the run holds (a token, a profile)
        monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", creds["access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", creds["secret_access_key"])
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # its credentials are read once: an earlier test's may stick
    local = Target.load(clients.system.data_dir / "endpoints.json")
    as_on_aws = dataclasses.replace(local, outbox=None, delete_users=True)
    tour = Tour()
    module = tour_of(TODO)
    assert module is not None
    module.tour(tour, as_on_aws, "todo")
    out = capsys.readouterr().out
    assert tour.failed == 0 and tour.passed > 10, out
    assert "(AdminConfirmSignUp)" in out and "(AdminDeleteUser)" in out
    admin, pool = _admin(clients), clients.app["user_pool_id"]
    assert admin.list_users(UserPoolId=pool, Filter='email ^= "alice"')["Users"] == []  # deleted, as on AWS


def test_an_invitee_cannot_confirm_their_way_past_a_new_password(club: Clients) -> None:
    admin, pool = _admin(club), club.app["user_pool_id"]
    email = f"Mixed-{uuid.uuid4().hex[:6]}@Example.com"
    admin.admin_create_user(UserPoolId=pool, Username=email, TemporaryPassword="Temp-Passw0rd", MessageAction="SUPPRESS")
    club.idp.resend_confirmation_code(ClientId=club.client_id, Username=email)  # answered, but nothing to confirm
    _refused(lambda: club.idp.confirm_sign_up(ClientId=club.client_id, Username=email, ConfirmationCode="123456"),
             "NotAuthorizedException")
    assert admin.admin_get_user(UserPoolId=pool, Username=email)["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    res = club.idp.initiate_auth(ClientId=club.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": email, "PASSWORD": "Temp-Passw0rd"})
    _refused(lambda: club.idp.respond_to_auth_challenge(  # another user's name: refused, and the session kept
        ClientId=club.client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=res["Session"],
        ChallengeResponses={"USERNAME": "someone@example.com", "NEW_PASSWORD": PASSWORD}), "NotAuthorizedException")
    done = club.idp.respond_to_auth_challenge(  # the name as the user typed it, capitals and all
        ClientId=club.client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=res["Session"],
        ChallengeResponses={"USERNAME": email, "NEW_PASSWORD": PASSWORD})
    assert "AccessToken" in done["AuthenticationResult"]


def test_a_signature_covers_the_body_whatever_the_client_declares(club: Clients) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    creds = club.ep["admin_credentials"]
    keys = Credentials(creds["access_key_id"], creds["secret_access_key"])
    pool, url = club.app["user_pool_id"], club.ep["aws_endpoint"] + "/"

    def signed(body: str, declared: str | None) -> dict[str, str]:
        headers = {"x-amz-target": "AWSCognitoIdentityProviderService.ListUsers",
                   "content-type": "application/x-amz-json-1.1"}
        if declared is not None:
            headers["x-amz-content-sha256"] = declared
        request = AWSRequest("POST", url, data=body, headers=headers)
        if declared == "UNSIGNED-PAYLOAD":
            request.context["payload_signing_enabled"] = False  # signed as UNSIGNED-PAYLOAD, as S3 allows
        SigV4Auth(keys, "cognito-idp", club.ep["region"]).add_auth(request)
        return dict(request.headers.items())

    body = json.dumps({"UserPoolId": pool, "Limit": 1})
    ok = club.http.post(url, content=body, headers=signed(body, None))
    assert ok.status_code == 200, ok.text
    other = json.dumps({"UserPoolId": pool, "Limit": 2})
    replayed = club.http.post(url, content=other, headers=signed(body, None))  # the same signature, another body
    assert replayed.status_code == 400 and replayed.json()["__type"] == "InvalidSignatureException"
    unsigned = club.http.post(url, content=other, headers=signed(body, "UNSIGNED-PAYLOAD"))
    assert unsigned.status_code == 400 and unsigned.json()["__type"] == "InvalidSignatureException"
    extra = club.http.post(url, content=body, headers={**signed(body, None), "x-amz-meta-extra": "unsigned"})
    assert extra.status_code == 400 and extra.json()["__type"] == "InvalidSignatureException"  # signed, but badly
    assert "not signed" in extra.json()["message"]


def test_bad_input_to_the_admin_operations_is_a_clear_4xx(club: Clients) -> None:
    admin, pool = _admin(club), club.app["user_pool_id"]
    _refused(lambda: admin.list_users(UserPoolId=pool, PaginationToken="%%%"), "InvalidParameterException")
    _refused(lambda: admin.list_users(UserPoolId=pool, Limit=61), "InvalidParameterException")
    _refused(lambda: admin.admin_create_user(UserPoolId=pool, Username=_email(), MessageAction="SUPPRESS",
                                             UserAttributes=[{"Name": "name", "Value": "x" * 3000}]),
             "InvalidParameterException")
    _refused(lambda: admin.admin_create_user(UserPoolId=pool, Username="not-an-email", MessageAction="SUPPRESS"),
             "InvalidParameterException")
    _refused(lambda: admin.admin_create_user(UserPoolId=pool, Username=_email(), TemporaryPassword="weak"),
             "InvalidPasswordException")
