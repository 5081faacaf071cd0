"""The Cognito Identity Provider wire protocol (AWS JSON 1.1) over the local user pools.

It only parses and renders: each operation's members are read with their types
checked (``Params``), the pool is found (by client id, by the issuer of the access
token, or by ``UserPoolId``), the domain operation runs (``model``), and its result is
rendered as Cognito answers it. The operations a client calls without AWS credentials
(sign-up, sign-in and its challenges, tokens, a forgotten or changed password, attributes,
MFA, deleting one's account, revoking a token) are served to anyone; the operator's (the
``Admin*`` operations, listing users, reading a client) need a SigV4 signature by credentials
whose policies allow ``cognito-idp:<Operation>`` on the pool, as on AWS. Every other operation
is refused with an error that names it.
"""

from __future__ import annotations

from typing import Any

import jwt
import orjson

from ....clock import Clock
from ....errors import NotFound, ServiceError
from ....graph.auth import AUTH_FLOWS
from ...frontdoor import Asgi
from ...infra.asgi import Receive, Scope, Send, send_response
from ...protocols.awsjson import AwsJsonService, HttpRequest, Params
from ...protocols.principals import Authorizer, Credentials
from ...protocols.sigv4 import SigV4Error, is_signed, verify_request
from .model import AuthCode, Challenge, CodeDelivery, SignedIn, User, UserPoolService

TARGET = "AWSCognitoIdentityProviderService"


def _delivery(d: CodeDelivery) -> dict[str, str]:
    return {"Destination": d.destination, "DeliveryMedium": d.medium, "AttributeName": d.attribute}


def _auth_result(t: SignedIn) -> dict[str, Any]:
    assert not isinstance(t, AuthCode)  # only the hosted sign-in asks for a code
    if isinstance(t, Challenge):
        return {"ChallengeName": t.name, "Session": t.session, "ChallengeParameters": t.parameters}
    result: dict[str, Any] = {"AccessToken": t.access_token, "ExpiresIn": t.expires_in, "TokenType": "Bearer"}
    if t.scopes is None or "openid" in t.scopes.split():  # a hosted sign-in's session without openid has none
        result["IdToken"] = t.id_token
    if t.refresh_token is not None:
        result["RefreshToken"] = t.refresh_token
    return {"ChallengeParameters": {}, "AuthenticationResult": result}


def _user(user: User, pool: UserPoolService, attributes_key: str = "Attributes") -> dict[str, Any]:
    """A user as the admin operations render one."""
    attrs = pool.attribute_map(user)
    return {"Username": user.sub, attributes_key: [{"Name": k, "Value": v} for k, v in attrs.items()],
            "UserCreateDate": user.created, "UserLastModifiedDate": user.created, "Enabled": user.enabled,
            "UserStatus": user.status}


# what a refused signature is on AWS JSON services (the SigV4 checks speak S3's codes)
_SIGNATURE_ERRORS = {"InvalidAccessKeyId": ("UnrecognizedClientException", 400),
                     "InvalidToken": ("UnrecognizedClientException", 400),
                     "ExpiredToken": ("ExpiredTokenException", 400),
                     "RequestTimeTooSkewed": ("InvalidSignatureException", 400)}


class CognitoIdpWire(AwsJsonService):
    def __init__(self, credentials: Credentials, clock: Clock, region: str) -> None:
        self.by_client: dict[str, UserPoolService] = {}
        self.by_issuer: dict[str, UserPoolService] = {}
        self.by_id: dict[str, UserPoolService] = {}
        self.credentials, self.clock, self.region = credentials, clock, region
        self.authorizer = Authorizer(clock)
        admin = {name: self._admin(name, fn) for name, fn in {
            "AdminCreateUser": self._admin_create_user, "AdminGetUser": self._admin_get_user,
            "AdminDeleteUser": self._admin_delete_user, "AdminConfirmSignUp": self._admin_confirm_sign_up,
            "AdminSetUserPassword": self._admin_set_user_password, "AdminAddUserToGroup": self._admin_add_to_group,
            "AdminRemoveUserFromGroup": self._admin_remove_from_group, "ListUsers": self._list_users,
            "ListUsersInGroup": self._list_users_in_group, "AdminUserGlobalSignOut": self._admin_global_sign_out,
            "AdminDisableUser": self._admin_disable_user, "AdminEnableUser": self._admin_enable_user,
            "AdminListGroupsForUser": self._admin_list_groups_for_user, "ListGroups": self._list_groups,
            "DescribeUserPoolClient": self._describe_user_pool_client,
        }.items()}
        super().__init__(TARGET, "user pool", {
            "SignUp": self._sign_up, "ConfirmSignUp": self._confirm_sign_up,
            "ResendConfirmationCode": self._resend_confirmation_code, "InitiateAuth": self._initiate_auth,
            "RespondToAuthChallenge": self._respond_to_auth_challenge,
            "ForgotPassword": self._forgot_password, "ConfirmForgotPassword": self._confirm_forgot_password,
            "ChangePassword": self._change_password, "DeleteUser": self._delete_user, "RevokeToken": self._revoke_token,
            "GetUser": self._get_user, "GlobalSignOut": self._global_sign_out,
            "UpdateUserAttributes": self._update_user_attributes,
            "GetUserAttributeVerificationCode": self._get_user_attribute_verification_code,
            "VerifyUserAttribute": self._verify_user_attribute,
            "AssociateSoftwareToken": self._associate_software_token,
            "VerifySoftwareToken": self._verify_software_token, "SetUserMFAPreference": self._set_user_mfa_preference,
        }, admin)

    def add(self, pool: UserPoolService) -> None:
        self.by_client.update({cid: pool for cid in pool.client_ids})
        self.by_issuer.update({iss: pool for iss in pool.issuers})
        self.by_id[pool.pool_id] = pool

    # -- the operator's operations: signed, then allowed by the signer's policies

    def authenticate(self, request: HttpRequest) -> object:
        if not is_signed(request.query_string, request.headers):
            raise ServiceError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
        try:
            verified = verify_request(request.method, request.raw_path, request.query_string, request.headers,
                                      self.credentials.lookup, self.clock.now(), region=self.region,
                                      service="cognito-idp", body=request.body)
        except SigV4Error as exc:
            code, status = _SIGNATURE_ERRORS.get(exc.code, ("InvalidSignatureException", 400))
            raise ServiceError(code, exc.message, status) from None
        return verified.credential.principal

    def _admin(self, op: str, fn: Any) -> Any:
        def call(body: dict[str, Any], principal: object) -> dict[str, Any]:
            pool_id = body.get("UserPoolId")
            pool = self.by_id.get(pool_id) if isinstance(pool_id, str) else None
            arn = pool.arn if pool is not None else \
                f"arn:aws:cognito-idp:{self.region}:000000000000:userpool/{str(pool_id)[:64]}"
            if not self.authorizer.allowed(principal, f"cognito-idp:{op}", arn):
                raise ServiceError("AccessDeniedException", f"User is not authorized to perform: cognito-idp:{op} on "
                                   f"resource: {arn}")
            if pool is None:
                raise ServiceError("ResourceNotFoundException", f"User pool {pool_id} does not exist.")
            result: dict[str, Any] = fn(pool, Params(body))
            return result
        return call

    def _admin_create_user(self, pool: UserPoolService, p: Params) -> dict[str, Any]:
        user = pool.admin_create_user(p.text("Username"), p.attributes("UserAttributes"),
                                      p.optional_text("TemporaryPassword"), p.optional_text("MessageAction"))
        return {"User": _user(user, pool)}

    def _admin_get_user(self, pool: UserPoolService, p: Params) -> dict[str, Any]:
        user = pool.admin_user(p.text("Username"))
        mfa = pool.mfa_settings(user.sub)
        out = _user(user, pool, "UserAttributes")
        if mfa:
            out.update(PreferredMfaSetting=mfa[0], UserMFASettingList=mfa)
        return out

    def _admin_delete_user(self, pool: UserPoolService, p: Params) -> dict[str, Any]:
        pool.admin_delete_user(p.text("Username"))
        return {}

    def _admin_confirm_sign_up(self, pool: UserPoolService, p: Params) -> dict[str, Any]:
        pool.admin_confirm_sign_up(p.text("Username"))
        return {}

    def _admin_set_user_password(self, pool: UserPoolService, p: Params) -> dict[str, Any]:
        pool.admin_set_password(p.text("Username"), p.text("Password"), p.flag("Permanent"))
        return {}

    def _admin_add_to_group(self, pool: UserPoolService, p: Params) -> dict[str, Any]:
        pool.admin_group_member(p.text("Username"), p.text("GroupName"), True)
        return {}

    def _admin_remove_from_group(self, pool: UserPoolService, p: Params) -> dict[str, Any]:
        pool.admin_group_member(p.text("Username"), p.text("GroupName"), False)
        return {}

    def _admin_list_groups_for_user(self, pool: UserPoolService, p: Params) -> dict[str, Any]:
        user = pool.admin_user(p.text("Username"))
        return {"Groups": [{"GroupName": g, "UserPoolId": pool.pool_id} for g in pool.groups_of(user.sub)]}

    def _list_groups(self, pool: UserPoolService, p: Params) -> dict[str, Any]:
        return {"Groups": [{"GroupName": g, "UserPoolId": pool.pool_id} for g in pool.list_groups()]}

    def _list_users(self, pool: UserPoolService, p: Params) -> dict[str, Any]:
        users, token = pool.list_users(p.optional_text("Filter"), p.optional_int("Limit"),
                                       p.optional_text("PaginationToken"))
        wanted = p.optional_strings("AttributesToGet")
        rendered = [_user(u, pool) for u in users]
        if wanted is not None:
            for r in rendered:
                r["Attributes"] = [a for a in r["Attributes"] if a["Name"] in wanted]
        return {"Users": rendered, **({"PaginationToken": token} if token else {})}

    def _list_users_in_group(self, pool: UserPoolService, p: Params) -> dict[str, Any]:
        users, token = pool.list_users(None, p.optional_int("Limit"), p.optional_text("NextToken"),
                                       group=p.text("GroupName"))
        return {"Users": [_user(u, pool) for u in users], **({"NextToken": token} if token else {})}

    def _admin_global_sign_out(self, pool: UserPoolService, p: Params) -> dict[str, Any]:
        pool.admin_sign_out(p.text("Username"))
        return {}

    def _admin_disable_user(self, pool: UserPoolService, p: Params) -> dict[str, Any]:
        pool.admin_enable(p.text("Username"), False)
        return {}

    def _admin_enable_user(self, pool: UserPoolService, p: Params) -> dict[str, Any]:
        pool.admin_enable(p.text("Username"), True)
        return {}

    def _describe_user_pool_client(self, pool: UserPoolService, p: Params) -> dict[str, Any]:
        info = pool.describe_client(p.text("ClientId"))
        client: dict[str, Any] = {"UserPoolId": pool.pool_id, "ClientName": info.name, "ClientId": info.client_id,
                                  "AllowedOAuthScopes": list(info.scopes)}
        if info.secret is not None:
            client.update(ClientSecret=info.secret, AllowedOAuthFlows=["client_credentials"])
        else:
            client["ExplicitAuthFlows"] = [f"ALLOW_{AUTH_FLOWS[f]}" for f in pool.decl.auth_flows] + \
                ["ALLOW_REFRESH_TOKEN_AUTH"]
            if pool.decl.hosted is not None:
                client.update(AllowedOAuthFlows=["code"], CallbackURLs=list(pool.decl.hosted.callback_urls),
                              LogoutURLs=list(pool.decl.hosted.logout_urls))
        return {"UserPoolClient": client}

    # -- operations

    def _sign_up(self, b: dict[str, Any]) -> dict[str, Any]:
        pool, p = self._pool(b), Params(b)
        result = pool.sign_up(p.text("ClientId"), p.text("Username"), p.text("Password"), p.attributes("UserAttributes"))
        return {"UserConfirmed": False, "UserSub": result.sub, "CodeDeliveryDetails": _delivery(result.delivery)}

    def _confirm_sign_up(self, b: dict[str, Any]) -> dict[str, Any]:
        pool, p = self._pool(b), Params(b)
        pool.confirm_sign_up(p.text("ClientId"), p.text("Username"), p.text("ConfirmationCode"))
        return {}

    def _resend_confirmation_code(self, b: dict[str, Any]) -> dict[str, Any]:
        pool, p = self._pool(b), Params(b)
        return {"CodeDeliveryDetails": _delivery(pool.resend_confirmation_code(p.text("ClientId"), p.text("Username")))}

    def _initiate_auth(self, b: dict[str, Any]) -> dict[str, Any]:
        pool, p = self._pool(b), Params(b)
        client_id, flow, params = p.text("ClientId"), p.optional_text("AuthFlow"), p.strings("AuthParameters")
        if flow in ("USER_PASSWORD_AUTH", "USER_SRP_AUTH"):
            if flow not in {AUTH_FLOWS[f] for f in pool.decl.auth_flows}:  # as the app client allows it
                raise ServiceError("InvalidParameterException", f"{flow} flow not enabled for this client")
            if flow == "USER_SRP_AUTH":
                challenge = pool.srp_start(client_id, p.string_param(params, "USERNAME"),
                                           p.string_param(params, "SRP_A"))
                return {"ChallengeName": "PASSWORD_VERIFIER", "ChallengeParameters": challenge}
            tokens = pool.password_auth(client_id, p.string_param(params, "USERNAME"), p.string_param(params, "PASSWORD"))
        elif flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            tokens = pool.refresh_auth(client_id, p.string_param(params, "REFRESH_TOKEN"))
        else:
            raise ServiceError("InvalidParameterException", f"AuthFlow {flow} is not supported here; use "
                               "USER_SRP_AUTH, USER_PASSWORD_AUTH or REFRESH_TOKEN_AUTH.")
        return _auth_result(tokens)

    def _respond_to_auth_challenge(self, b: dict[str, Any]) -> dict[str, Any]:
        pool, p = self._pool(b), Params(b)
        client_id, name = p.text("ClientId"), p.text("ChallengeName")
        responses = p.strings("ChallengeResponses")
        if name == "PASSWORD_VERIFIER":
            for needed in ("USERNAME", "PASSWORD_CLAIM_SECRET_BLOCK", "PASSWORD_CLAIM_SIGNATURE", "TIMESTAMP"):
                p.string_param(responses, needed)  # each there, and a string, or InvalidParameterException naming it
            return _auth_result(pool.srp_respond(client_id, responses))
        if name == "NEW_PASSWORD_REQUIRED":
            extra = {k.removeprefix("userAttributes."): p.string_param(responses, k) for k in responses
                     if k.startswith("userAttributes.")}
            return _auth_result(pool.respond_new_password(
                client_id, p.text("Session"), p.string_param(responses, "USERNAME"),
                p.string_param(responses, "NEW_PASSWORD"), extra))
        if name == "SOFTWARE_TOKEN_MFA":
            return _auth_result(pool.respond_mfa(client_id, p.text("Session"), p.string_param(responses, "USERNAME"),
                                                 p.string_param(responses, "SOFTWARE_TOKEN_MFA_CODE")))
        if name == "MFA_SETUP":
            return _auth_result(pool.respond_mfa_setup(client_id, p.text("Session"),
                                                       p.string_param(responses, "USERNAME")))
        raise ServiceError("InvalidParameterException", f"ChallengeName {name} is not supported here; the local "
                           "user pool issues PASSWORD_VERIFIER, NEW_PASSWORD_REQUIRED, SOFTWARE_TOKEN_MFA and "
                           "MFA_SETUP.")

    def _forgot_password(self, b: dict[str, Any]) -> dict[str, Any]:
        pool, p = self._pool(b), Params(b)
        return {"CodeDeliveryDetails": _delivery(pool.forgot_password(p.text("ClientId"), p.text("Username")))}

    def _confirm_forgot_password(self, b: dict[str, Any]) -> dict[str, Any]:
        pool, p = self._pool(b), Params(b)
        pool.confirm_forgot_password(p.text("ClientId"), p.text("Username"), p.text("ConfirmationCode"),
                                     p.text("Password"))
        return {}

    def _change_password(self, b: dict[str, Any]) -> dict[str, Any]:
        p = Params(b)
        token = p.text("AccessToken")
        self._pool_of_token(token).change_password(token, p.text("PreviousPassword"), p.text("ProposedPassword"))
        return {}

    def _delete_user(self, b: dict[str, Any]) -> dict[str, Any]:
        token = Params(b).text("AccessToken")
        self._pool_of_token(token).delete_user(token)
        return {}

    def _revoke_token(self, b: dict[str, Any]) -> dict[str, Any]:
        pool, p = self._pool(b), Params(b)
        pool.revoke_token(p.text("ClientId"), p.text("Token"))
        return {}

    def _get_user(self, b: dict[str, Any]) -> dict[str, Any]:
        token = Params(b).text("AccessToken")
        pool = self._pool_of_token(token)
        user = pool.get_user(token)
        attrs = [{"Name": k, "Value": v} for k, v in pool.attribute_map(user).items()]
        out: dict[str, Any] = {"Username": user.sub, "UserAttributes": attrs}
        mfa = pool.mfa_settings(user.sub)
        if mfa:
            out.update(PreferredMfaSetting=mfa[0], UserMFASettingList=mfa)
        return out

    def _update_user_attributes(self, b: dict[str, Any]) -> dict[str, Any]:
        p = Params(b)
        token = p.text("AccessToken")
        sent = self._pool_of_token(token).update_attributes(token, p.attributes("UserAttributes"))
        return {"CodeDeliveryDetailsList": [_delivery(d) for d in sent]}

    def _get_user_attribute_verification_code(self, b: dict[str, Any]) -> dict[str, Any]:
        p = Params(b)
        token = p.text("AccessToken")
        return {"CodeDeliveryDetails": _delivery(self._pool_of_token(token).attribute_code(
            token, p.text("AttributeName")))}

    def _verify_user_attribute(self, b: dict[str, Any]) -> dict[str, Any]:
        p = Params(b)
        token = p.text("AccessToken")
        self._pool_of_token(token).verify_attribute(token, p.text("AttributeName"), p.text("Code"))
        return {}

    def _mfa_pool(self, p: Params) -> tuple[UserPoolService, str | None, str | None]:
        """The pool of an MFA set-up: by the access token, or by the session of a sign-in waiting on MFA_SETUP
        (which names no pool: each pool is asked whether the session is one of its own)."""
        token, session = p.optional_text("AccessToken"), p.optional_text("Session")
        if token is not None and session is not None:
            raise ServiceError("InvalidParameterException", "Send either an AccessToken or a Session, not both.")
        if token is not None:
            return self._pool_of_token(token), token, None
        if session is None:
            raise ServiceError("InvalidParameterException", "Either AccessToken or Session is required.")
        for pool in self.by_id.values():
            if pool.holds_session(session):
                return pool, None, session
        raise ServiceError("NotAuthorizedException", "Invalid session for the user, session is expired.")

    def _associate_software_token(self, b: dict[str, Any]) -> dict[str, Any]:
        pool, token, session = self._mfa_pool(Params(b))
        secret, session = pool.associate_software_token(token, session)
        return {"SecretCode": secret, **({"Session": session} if session else {})}

    def _verify_software_token(self, b: dict[str, Any]) -> dict[str, Any]:
        p = Params(b)
        pool, token, session = self._mfa_pool(p)
        session = pool.verify_software_token(token, session, p.text("UserCode"))
        return {"Status": "SUCCESS", **({"Session": session} if session else {})}

    def _set_user_mfa_preference(self, b: dict[str, Any]) -> dict[str, Any]:
        p = Params(b)
        token = p.text("AccessToken")
        settings = b.get("SoftwareTokenMfaSettings")
        if settings is not None and not isinstance(settings, dict):
            raise ServiceError("InvalidParameterException", "SoftwareTokenMfaSettings must be a structure.")
        enabled = None if not settings else Params(settings).flag("Enabled")
        if b.get("SMSMfaSettings") or b.get("EmailMfaSettings"):
            raise ServiceError("InvalidParameterException", "Only software token (TOTP) MFA is served by the local "
                               "user pool; SMS and email MFA are not.")
        self._pool_of_token(token).set_mfa_preference(token, enabled)
        return {}

    def _global_sign_out(self, b: dict[str, Any]) -> dict[str, Any]:
        token = Params(b).text("AccessToken")
        self._pool_of_token(token).global_sign_out(token)
        return {}

    # -- which pool

    def _pool(self, body: dict[str, Any]) -> UserPoolService:
        cid = body.get("ClientId")
        pool = self.by_client.get(cid) if isinstance(cid, str) else None
        if pool is None:
            raise ServiceError("ResourceNotFoundException", f"User pool client {cid} does not exist.")
        return pool

    def _pool_of_token(self, token: str) -> UserPoolService:
        try:
            iss = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            iss = None
        pool = self.by_issuer.get(iss) if isinstance(iss, str) else None
        if pool is None:
            raise ServiceError("NotAuthorizedException", "Invalid Access Token")
        return pool


class Discovery:
    """A pool's OpenID discovery, as Cognito serves it under the issuer: ``/<pool id>/.well-known/jwks.json`` and
    ``/<pool id>/.well-known/openid-configuration``; below them, the hosted sign-in when the pool has one (locally
    the domain URL is the issuer's)."""

    def __init__(self, pool: UserPoolService, hosted: Asgi | None = None) -> None:
        self.docs = {f"/{pool.pool_id}/.well-known/jwks.json": orjson.dumps(pool.jwks()),
                     f"/{pool.pool_id}/.well-known/openid-configuration": orjson.dumps(pool.openid_configuration())}
        self.hosted = hosted

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        doc = self.docs.get(scope["path"])
        if doc is None and self.hosted is not None:
            return await self.hosted(scope, receive, send)
        if doc is None or scope["method"] not in ("GET", "HEAD"):
            raise NotFound(f"nothing is served at {scope['path']}")
        await send_response(send, 200, doc, {"access-control-allow-origin": "*"})
