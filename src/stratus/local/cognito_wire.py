"""The Cognito Identity Provider wire protocol (AWS JSON 1.1) over the local user pools.

The operations a client calls without AWS credentials (sign-up, sign-in, tokens)
are served; every other operation is refused with an error that names it.
"""

from __future__ import annotations

from typing import Any

import jwt

from .awsjson import AwsJsonService, CognitoError
from .userpool import UserPoolService

PREFIX = "AWSCognitoIdentityProviderService."


class CognitoIdpWire(AwsJsonService):
    def __init__(self, pools: list[UserPoolService]) -> None:
        self.by_client = {cid: p for p in pools for cid in p.client_ids}
        self.by_issuer = {iss: p for p in pools for iss in p.issuers}
        super().__init__(PREFIX, "user pool", {
            "SignUp": lambda b: self._pool(b).sign_up(b.get("ClientId"), b.get("Username"), b.get("Password"),
                                                     b.get("UserAttributes")),
            "ConfirmSignUp": lambda b: self._pool(b).confirm_sign_up(b.get("ClientId"), b.get("Username"),
                                                                     b.get("ConfirmationCode")),
            "ResendConfirmationCode": lambda b: self._pool(b).resend_confirmation_code(b.get("ClientId"),
                                                                                       b.get("Username")),
            "InitiateAuth": lambda b: self._pool(b).initiate_auth(b.get("ClientId"), b.get("AuthFlow"),
                                                                  b.get("AuthParameters")),
            "GetUser": lambda b: self._pool_of_token(b).get_user(b.get("AccessToken")),
            "GlobalSignOut": lambda b: self._pool_of_token(b).global_sign_out(b.get("AccessToken")),
        })

    def _pool(self, body: dict[str, Any]) -> UserPoolService:
        cid = body.get("ClientId")
        pool = self.by_client.get(cid) if isinstance(cid, str) else None
        if pool is None:
            raise CognitoError("ResourceNotFoundException", f"User pool client {cid} does not exist.")
        return pool

    def _pool_of_token(self, body: dict[str, Any]) -> UserPoolService:
        token = body.get("AccessToken")
        if not isinstance(token, str):
            raise CognitoError("InvalidParameterException", "Missing required parameter AccessToken")
        try:
            iss = jwt.decode(token, options={"verify_signature": False}).get("iss")
        except jwt.PyJWTError:
            iss = None
        pool = self.by_issuer.get(iss) if isinstance(iss, str) else None
        if pool is None:
            raise CognitoError("NotAuthorizedException", "Invalid Access Token")
        return pool
