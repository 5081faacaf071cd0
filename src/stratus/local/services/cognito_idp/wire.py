"""The Cognito Identity Provider wire protocol (AWS JSON 1.1) over the local user pools.

It only parses and renders: each operation's members are read with their types
checked (``Params``), the pool is found (by client id, or by the issuer of the access
token), the domain operation runs (``model``), and its result is rendered as Cognito
answers it. The operations a client calls without AWS credentials (sign-up, sign-in,
tokens, SRP's challenge, a forgotten or changed password, deleting one's account, revoking a token) are served;
every other operation is refused with an error that names it.
"""

from __future__ import annotations

from typing import Any

import jwt
import orjson

from ....errors import NotFound, ServiceError
from ....graph.auth import AUTH_FLOWS
from ...infra.asgi import Receive, Scope, Send, send_response
from ...protocols.awsjson import AwsJsonService, Params
from .model import CodeDelivery, Tokens, UserPoolService

TARGET = "AWSCognitoIdentityProviderService"


def _delivery(d: CodeDelivery) -> dict[str, str]:
    return {"Destination": d.destination, "DeliveryMedium": d.medium, "AttributeName": d.attribute}


def _auth_result(t: Tokens) -> dict[str, Any]:
    result: dict[str, Any] = {"AccessToken": t.access_token, "ExpiresIn": t.expires_in, "TokenType": "Bearer",
                              "IdToken": t.id_token}
    if t.refresh_token is not None:
        result["RefreshToken"] = t.refresh_token
    return {"ChallengeParameters": {}, "AuthenticationResult": result}


class CognitoIdpWire(AwsJsonService):
    def __init__(self) -> None:
        self.by_client: dict[str, UserPoolService] = {}
        self.by_issuer: dict[str, UserPoolService] = {}
        super().__init__(TARGET, "user pool", {
            "SignUp": self._sign_up, "ConfirmSignUp": self._confirm_sign_up,
            "ResendConfirmationCode": self._resend_confirmation_code, "InitiateAuth": self._initiate_auth,
            "RespondToAuthChallenge": self._respond_to_auth_challenge,
            "ForgotPassword": self._forgot_password, "ConfirmForgotPassword": self._confirm_forgot_password,
            "ChangePassword": self._change_password, "DeleteUser": self._delete_user, "RevokeToken": self._revoke_token,
            "GetUser": self._get_user, "GlobalSignOut": self._global_sign_out,
        })

    def add(self, pool: UserPoolService) -> None:
        self.by_client.update({cid: pool for cid in pool.client_ids})
        self.by_issuer.update({iss: pool for iss in pool.issuers})

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
        if name != "PASSWORD_VERIFIER":
            raise ServiceError("InvalidParameterException", f"ChallengeName {name} is not supported here; the "
                               "local user pool issues PASSWORD_VERIFIER (USER_SRP_AUTH) only.")
        responses = p.strings("ChallengeResponses")
        for needed in ("USERNAME", "PASSWORD_CLAIM_SECRET_BLOCK", "PASSWORD_CLAIM_SIGNATURE", "TIMESTAMP"):
            p.string_param(responses, needed)  # each there, and a string, or InvalidParameterException naming it
        return _auth_result(pool.srp_respond(client_id, responses))

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
        user = self._pool_of_token(token).get_user(token)
        attrs = [{"Name": "sub", "Value": user.sub}, {"Name": "email_verified", "Value": "true"}]
        attrs += [{"Name": k, "Value": v} for k, v in sorted(user.attributes.items())]
        return {"Username": user.sub, "UserAttributes": attrs}

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
    ``/<pool id>/.well-known/openid-configuration``."""

    def __init__(self, pool: UserPoolService) -> None:
        self.docs = {f"/{pool.pool_id}/.well-known/jwks.json": orjson.dumps(pool.jwks()),
                     f"/{pool.pool_id}/.well-known/openid-configuration": orjson.dumps(pool.openid_configuration())}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        doc = self.docs.get(scope["path"])
        if doc is None or scope["method"] not in ("GET", "HEAD"):
            raise NotFound(f"nothing is served at {scope['path']}")
        await send_response(send, 200, doc)
