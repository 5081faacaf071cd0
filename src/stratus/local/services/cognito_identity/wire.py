"""The Cognito Identity wire protocol (AWS JSON 1.1) over the local identity pools: it parses and renders."""

from __future__ import annotations

from typing import Any

from ....errors import ServiceError
from ...protocols.awsjson import AwsJsonService, Params
from .model import IdentityPoolService, IdentityStore

TARGET = "AWSCognitoIdentityService"


def _logins(p: Params) -> dict[str, str]:
    logins = p.strings("Logins")
    if not all(isinstance(v, str) for v in logins.values()):
        raise ServiceError("InvalidParameterException", "A login token must be a string.")
    return logins


class CognitoIdentityWire(AwsJsonService):
    def __init__(self, store: IdentityStore) -> None:
        self.store = store
        super().__init__(TARGET, "identity pool", {
            "GetId": self._get_id, "GetCredentialsForIdentity": self._get_credentials,
            "GetOpenIdToken": self._get_open_id_token})

    def _get_id(self, b: dict[str, Any]) -> dict[str, Any]:
        pool_id = b.get("IdentityPoolId")
        pool = self.store.pools.get(pool_id) if isinstance(pool_id, str) else None
        if pool is None:
            raise ServiceError("ResourceNotFoundException", f"IdentityPool '{pool_id}' not found.")
        return {"IdentityId": pool.get_id(_logins(Params(b)))}

    def _get_credentials(self, b: dict[str, Any]) -> dict[str, Any]:
        pool, identity_id = self._of_identity(b)
        cred = pool.get_credentials(identity_id, _logins(Params(b)))
        return {"IdentityId": identity_id, "Credentials": {
            "AccessKeyId": cred.access_key_id, "SecretKey": cred.secret_access_key, "SessionToken": cred.session_token,
            "Expiration": cred.expires}}

    def _get_open_id_token(self, b: dict[str, Any]) -> dict[str, Any]:
        pool, identity_id = self._of_identity(b)
        return {"IdentityId": identity_id, "Token": pool.get_open_id_token(identity_id, _logins(Params(b)))}

    def _of_identity(self, body: dict[str, Any]) -> tuple[IdentityPoolService, str]:
        """The pool the request's identity belongs to, and the identity (requests name only the identity)."""
        identity_id = body.get("IdentityId")
        pool = self.store.pool_of(identity_id) if isinstance(identity_id, str) else None
        if pool is None or not isinstance(identity_id, str):
            raise ServiceError("ResourceNotFoundException", f"Identity '{identity_id}' not found.")
        return pool, identity_id
