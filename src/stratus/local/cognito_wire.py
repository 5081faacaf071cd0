"""The Cognito Identity Provider wire protocol (AWS JSON 1.1) over the local user pools.

A request is ``POST /`` with ``X-Amz-Target: AWSCognitoIdentityProviderService.<Op>``
and a JSON body; a reply is JSON, and an error is ``{"__type": ..., "message": ...}``
with Cognito's status. The operations a client calls without AWS credentials
(sign-up, sign-in, tokens) are the ones served; every other operation is refused
with an error that names it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import jwt
import orjson

from .userpool import CognitoError, UserPoolService

PREFIX = "AWSCognitoIdentityProviderService."
CONTENT_TYPE = "application/x-amz-json-1.1"


class CognitoIdpWire:
    def __init__(self, pools: list[UserPoolService]) -> None:
        self.by_client = {cid: p for p in pools for cid in p.client_ids}
        self.by_issuer = {iss: p for p in pools for iss in p.issuers}
        self.ops: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
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
        }

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

    def handle(self, target: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Serve one request; never raises for anything a client sent."""
        headers = {"content-type": CONTENT_TYPE, "x-amzn-requestid": str(uuid.uuid4())}
        op = target[len(PREFIX):]
        try:
            fn = self.ops.get(op)
            if fn is None:
                raise CognitoError("UnsupportedOperationException",
                                   f"Operation {op} is not implemented by the local user pool "
                                   f"(implemented: {', '.join(sorted(self.ops))}).")
            try:
                req = orjson.loads(body or b"{}")
            except orjson.JSONDecodeError:
                raise CognitoError("SerializationException", "Request body is not valid JSON.") from None
            if not isinstance(req, dict):
                raise CognitoError("SerializationException", "Request body must be a JSON object.")
            return 200, headers, orjson.dumps(fn(req))
        except CognitoError as exc:
            headers["x-amzn-errortype"] = exc.code
            return exc.status, headers, orjson.dumps({"__type": exc.code, "message": exc.message})
