"""The user pool through an unmodified boto3 cognito-idp client: flows, tokens and Cognito's errors."""

from __future__ import annotations

import uuid

import jwt
import pytest
from botocore.exceptions import ClientError

from tests.conftest import PASSWORD, Clients, error_code, message_of


def test_sign_up_confirm_sign_in(clients: Clients) -> None:
    email = f"Flow-{uuid.uuid4().hex[:8]}@Example.com"
    res = clients.idp.sign_up(ClientId=clients.client_id, Username=email, Password=PASSWORD,
                              UserAttributes=[{"Name": "name", "Value": "Flo"}])
    assert res["UserConfirmed"] is False
    assert res["CodeDeliveryDetails"] == {"Destination": "f***@e***", "DeliveryMedium": "EMAIL",
                                          "AttributeName": "email"}
    with pytest.raises(ClientError) as exc:
        clients.sign_in(email)
    assert error_code(exc) == "UserNotConfirmedException"
    clients.idp.confirm_sign_up(ClientId=clients.client_id, Username=email, ConfirmationCode=clients.code(email))
    auth = clients.sign_in(email.lower())
    assert auth["TokenType"] == "Bearer" and auth["ExpiresIn"] == 3600
    me = clients.idp.get_user(AccessToken=auth["AccessToken"])
    attrs = {a["Name"]: a["Value"] for a in me["UserAttributes"]}
    assert me["Username"] == res["UserSub"] == attrs["sub"]
    assert attrs["email"] == email.lower() and attrs["name"] == "Flo" and attrs["email_verified"] == "true"


def test_tokens_verify_against_the_published_jwks(clients: Clients) -> None:
    u = clients.user()
    issuer = f"{clients.ep['aws_endpoint']}/{clients.app['user_pool_id']}"
    conf = clients.http.get(issuer + "/.well-known/openid-configuration").json()
    assert conf["issuer"] == issuer and conf["jwks_uri"] == issuer + "/.well-known/jwks.json"
    jwks = clients.http.get(conf["jwks_uri"]).json()
    keys = {k["kid"]: jwt.PyJWK(k) for k in jwks["keys"]}
    access_hdr = jwt.get_unverified_header(u.access)
    assert access_hdr["alg"] == "RS256"
    access = jwt.decode(u.access, keys[access_hdr["kid"]].key, algorithms=["RS256"], issuer=issuer)
    ident = jwt.decode(u.id, keys[jwt.get_unverified_header(u.id)["kid"]].key, algorithms=["RS256"],
                       issuer=issuer, audience=clients.client_id)
    assert access["token_use"] == "access" and access["client_id"] == clients.client_id
    assert access["sub"] == ident["sub"] == u.sub and access["username"] == u.sub
    assert ident["token_use"] == "id" and ident["cognito:username"] == u.sub and ident["email"] == u.email
    for claims in (access, ident):
        assert {"iss", "sub", "exp", "iat", "auth_time", "jti", "origin_jti", "event_id"} <= set(claims)
        assert claims["exp"] - claims["iat"] == 3600
    assert access["origin_jti"] == ident["origin_jti"] and access["jti"] != ident["jti"]


@pytest.mark.parametrize("password, message", [
    ("Sh0rt", "Password not long enough"),
    ("alllowercase1", "Password must have uppercase characters"),
    ("ALLUPPERCASE1", "Password must have lowercase characters"),
    ("NoDigitsHere", "Password must have numeric characters"),
])
def test_password_policy(clients: Clients, password: str, message: str) -> None:
    with pytest.raises(ClientError) as exc:
        clients.sign_up(password=password)
    assert error_code(exc) == "InvalidPasswordException" and message in message_of(exc)


def test_sign_up_errors(clients: Clients) -> None:
    email = clients.sign_up()
    with pytest.raises(ClientError) as exc:
        clients.sign_up(email.upper())
    assert error_code(exc) == "UsernameExistsException"
    with pytest.raises(ClientError) as exc:
        clients.sign_up("not-an-email")
    assert error_code(exc) == "InvalidParameterException" and "email" in message_of(exc)
    with pytest.raises(ClientError) as exc:
        clients.idp.sign_up(ClientId=clients.client_id, Username=f"x{uuid.uuid4().hex}@example.com",
                            Password=PASSWORD, UserAttributes=[{"Name": "favourite_colour", "Value": "red"}])
    assert error_code(exc) == "InvalidParameterException" and "favourite_colour" in message_of(exc)
    with pytest.raises(ClientError) as exc:
        clients.idp.sign_up(ClientId="nosuchclient", Username="a@example.com", Password=PASSWORD)
    assert error_code(exc) == "ResourceNotFoundException"


def test_confirmation_code_errors(clients: Clients) -> None:
    email = clients.sign_up()
    good = clients.code(email)
    wrong = f"{(int(good) + 1) % 10**6:06d}"
    with pytest.raises(ClientError) as exc:
        clients.idp.confirm_sign_up(ClientId=clients.client_id, Username=email, ConfirmationCode=wrong)
    assert error_code(exc) == "CodeMismatchException"
    clients.idp.resend_confirmation_code(ClientId=clients.client_id, Username=email)
    fresh = clients.code(email)
    if fresh != good:  # a new code replaces the old one
        with pytest.raises(ClientError) as exc:
            clients.idp.confirm_sign_up(ClientId=clients.client_id, Username=email, ConfirmationCode=good)
        assert error_code(exc) == "CodeMismatchException"
    clients.idp.confirm_sign_up(ClientId=clients.client_id, Username=email, ConfirmationCode=fresh)
    with pytest.raises(ClientError) as exc:
        clients.idp.confirm_sign_up(ClientId=clients.client_id, Username=email, ConfirmationCode=fresh)
    assert error_code(exc) == "NotAuthorizedException" and "CONFIRMED" in message_of(exc)
    with pytest.raises(ClientError) as exc:
        clients.idp.resend_confirmation_code(ClientId=clients.client_id, Username=email)
    assert error_code(exc) == "InvalidParameterException"


def test_code_guessing_is_cut_off(clients: Clients) -> None:
    email = clients.sign_up()
    good = clients.code(email)
    wrongs = [f"{(int(good) + i) % 10**6:06d}" for i in range(1, 6)]
    for w in wrongs:
        with pytest.raises(ClientError) as exc:
            clients.idp.confirm_sign_up(ClientId=clients.client_id, Username=email, ConfirmationCode=w)
        assert error_code(exc) == "CodeMismatchException"
    with pytest.raises(ClientError) as exc:  # even the right code, once the tries are used up
        clients.idp.confirm_sign_up(ClientId=clients.client_id, Username=email, ConfirmationCode=good)
    assert error_code(exc) == "TooManyFailedAttemptsException"


def test_expired_code(clocked: Clients) -> None:
    email = clocked.sign_up()
    code = clocked.code(email)
    clocked.advance(24 * 3600 + 1)
    with pytest.raises(ClientError) as exc:
        clocked.idp.confirm_sign_up(ClientId=clocked.client_id, Username=email, ConfirmationCode=code)
    assert error_code(exc) == "ExpiredCodeException"


def test_sign_in_errors_do_not_reveal_users(clients: Clients) -> None:
    u = clients.user()
    with pytest.raises(ClientError) as wrong_pw:
        clients.sign_in(u.email, "Wrong-Passw0rd")
    with pytest.raises(ClientError) as no_user:
        clients.sign_in("nobody-here@example.com")
    assert error_code(wrong_pw) == error_code(no_user) == "NotAuthorizedException"
    assert message_of(wrong_pw) == message_of(no_user) == "Incorrect username or password."
    with pytest.raises(ClientError) as exc:
        clients.idp.initiate_auth(ClientId=clients.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                  AuthParameters={"USERNAME": u.email})
    assert error_code(exc) == "InvalidParameterException" and "PASSWORD" in message_of(exc)
    with pytest.raises(ClientError) as exc:
        clients.idp.initiate_auth(ClientId=clients.client_id, AuthFlow="USER_SRP_AUTH",
                                  AuthParameters={"USERNAME": u.email, "SRP_A": "00"})  # 0 mod N: worthless
    assert error_code(exc) == "InvalidParameterException" and "SRP_A" in message_of(exc)


def test_refresh_and_global_sign_out(clients: Clients) -> None:
    u = clients.user()
    other_session = clients.sign_in(u.email)
    res = clients.idp.initiate_auth(ClientId=clients.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                    AuthParameters={"REFRESH_TOKEN": u.refresh})["AuthenticationResult"]
    assert jwt.decode(res["AccessToken"], options={"verify_signature": False})["origin_jti"] == \
        jwt.decode(u.access, options={"verify_signature": False})["origin_jti"]
    assert clients.idp.get_user(AccessToken=res["AccessToken"])["Username"] == u.sub

    clients.idp.global_sign_out(AccessToken=res["AccessToken"])
    for refresh in (u.refresh, other_session["RefreshToken"]):  # every session of the user ends
        with pytest.raises(ClientError) as exc:
            clients.idp.initiate_auth(ClientId=clients.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                      AuthParameters={"REFRESH_TOKEN": refresh})
        assert error_code(exc) == "NotAuthorizedException" and "revoked" in message_of(exc)
    for access in (u.access, res["AccessToken"], other_session["AccessToken"]):
        with pytest.raises(ClientError) as exc:
            clients.idp.get_user(AccessToken=access)
        assert error_code(exc) == "NotAuthorizedException" and message_of(exc) == "Access Token has been revoked"
    with pytest.raises(ClientError) as exc:
        clients.idp.global_sign_out(AccessToken=u.access)
    assert error_code(exc) == "NotAuthorizedException"
    fresh = clients.sign_in(u.email)  # signing in again starts a new session
    assert clients.idp.get_user(AccessToken=fresh["AccessToken"])["Username"] == u.sub


def test_bad_tokens_to_get_user(clients: Clients) -> None:
    u = clients.user()
    for token in ("garbage", u.id, u.access[:-4] + "AAAA"):
        with pytest.raises(ClientError) as exc:
            clients.idp.get_user(AccessToken=token)
        assert error_code(exc) == "NotAuthorizedException"
    with pytest.raises(ClientError) as exc:
        clients.idp.initiate_auth(ClientId=clients.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                  AuthParameters={"REFRESH_TOKEN": "made-up"})
    assert error_code(exc) == "NotAuthorizedException" and message_of(exc) == "Invalid Refresh Token"


def test_unimplemented_operation_is_named(clients: Clients) -> None:
    r = clients.http.post(clients.ep["aws_endpoint"] + "/", json={"PoolName": "another"},
                          headers={"x-amz-target": "AWSCognitoIdentityProviderService.CreateUserPool",
                                   "content-type": "application/x-amz-json-1.1"})
    assert r.status_code == 400 and r.json()["__type"] == "UnsupportedOperationException"
    assert "CreateUserPool" in r.json()["message"] and "AdminCreateUser" in r.json()["message"]
    for target in ("AWSCognitoIdentityProviderService.CreateUserPool", "NoSuchService.Op"):  # a page reads each
        r = clients.http.post(clients.ep["aws_endpoint"] + "/", json={}, headers={
            "x-amz-target": target, "content-type": "application/x-amz-json-1.1", "origin": "https://a.example"})
        assert r.status_code == 400 and r.headers["access-control-allow-origin"] == "*", r.headers


def test_malformed_wire_requests(clients: Clients) -> None:
    url = clients.ep["aws_endpoint"] + "/"
    hdrs = {"x-amz-target": "AWSCognitoIdentityProviderService.SignUp",
            "content-type": "application/x-amz-json-1.1"}
    r = clients.http.post(url, content=b"{nope", headers=hdrs)
    assert r.status_code == 400 and r.json()["__type"] == "SerializationException"
    r = clients.http.post(url, content=b"[]", headers=hdrs)
    assert r.status_code == 400 and r.json()["__type"] == "SerializationException"
    r = clients.http.post(url, json={"ClientId": clients.client_id, "Username": ["x"], "Password": 3}, headers=hdrs)
    assert r.status_code == 400 and r.json()["__type"] == "InvalidParameterException"
    r = clients.http.post(url, content=b"x" * (2 * 1024 * 1024), headers=hdrs)
    assert r.status_code == 413
    r = clients.http.post(url, json={}, headers=hdrs | {"x-amz-target": "DynamoDB_20120810.GetItem"})
    assert r.status_code == 400 and "DynamoDB_20120810" in r.json()["message"]
