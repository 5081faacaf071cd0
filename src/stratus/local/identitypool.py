"""Local identity pools: Cognito Identity semantics, and the credentials they hand out.

A client trades a user pool ID token (``Logins={<provider>: <id token>}``) for
an identity id (``GetId``), then for temporary AWS credentials
(``GetCredentialsForIdentity``): an access key, a secret, a session token and an
expiry. Requests signed with them are checked by the S3 endpoint (SigV4, session
token bound to the key, expiry) and then judged by the pool's authenticated-role
policy, with ``${cognito-identity.amazonaws.com:sub}`` set to the identity id.

- Identity ids are ``<region>:<uuid>``, one per user and pool, stable across restarts.
- The provider name is the user pool's issuer without ``https://``, as on AWS
  (``cognito-idp.<region>.amazonaws.com/<pool id>`` there; the local endpoint here).
- Only authenticated identities exist: a request without a valid login is refused.
- Credentials are stored (the secret is needed to check signatures), so they
  survive a restart until they expire, like STS credentials do.
"""

from __future__ import annotations

import secrets
import string
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import orjson

from ..app import IdentityPool
from ..clock import Clock
from .awsjson import AwsJsonService, CognitoError
from .iam import check_policy
from .keys import SigningKey, write_private
from .sigv4 import Credential
from .tables import SqliteDatabase
from .tokens import TokenRejected
from .userpool import UserPoolService

PREFIX = "AWSCognitoIdentityService."
OPENID_TTL = 600  # Cognito's OpenID tokens last 10 minutes
_UPPER = string.ascii_uppercase + string.digits

_SCHEMA = """
CREATE TABLE IF NOT EXISTS identity_pools (app TEXT, name TEXT, pool_id TEXT UNIQUE, PRIMARY KEY (app, name));
CREATE TABLE IF NOT EXISTS identities (
    pool_id TEXT NOT NULL, login TEXT NOT NULL, identity_id TEXT UNIQUE NOT NULL, PRIMARY KEY (pool_id, login));
CREATE TABLE IF NOT EXISTS credentials (
    access_key_id TEXT PRIMARY KEY, secret TEXT NOT NULL, session_token TEXT NOT NULL, expires REAL NOT NULL,
    pool_id TEXT NOT NULL, identity_id TEXT NOT NULL);
"""


@dataclass(frozen=True)
class AdminPrincipal:
    """The operator's static credentials: full access, no policy."""


@dataclass(frozen=True)
class IdentityPrincipal:
    """An identity of an identity pool, judged by the pool's authenticated-role policy."""

    identity_id: str
    pool: IdentityPoolService


class CredentialStore:
    """Every credential the endpoint accepts: the admin key pair and the identity pools' temporary ones."""

    def __init__(self, data_dir: Path) -> None:
        self.db = SqliteDatabase(data_dir / "identity.db")
        self.db.conn().executescript(_SCHEMA)
        self.pools: dict[str, IdentityPoolService] = {}
        admin_file = data_dir / "admin-credentials.json"
        if not admin_file.exists():
            write_private(admin_file, orjson.dumps({
                "access_key_id": "AKIA" + "".join(secrets.choice(_UPPER) for _ in range(16)),
                "secret_access_key": secrets.token_urlsafe(30)[:40]}))
        doc = orjson.loads(admin_file.read_bytes())
        self.admin = Credential(doc["access_key_id"], doc["secret_access_key"], principal=AdminPrincipal())

    def issue(self, pool: IdentityPoolService, identity_id: str, ttl: float, now: float) -> Credential:
        cred = Credential("ASIA" + "".join(secrets.choice(_UPPER) for _ in range(16)), secrets.token_urlsafe(30)[:40],
                          secrets.token_urlsafe(256), now + ttl, IdentityPrincipal(identity_id, pool))
        with self.db.write() as c:
            c.execute("INSERT INTO credentials VALUES (?,?,?,?,?,?)", (cred.access_key_id, cred.secret_access_key,
                                                                       cred.session_token, cred.expires, pool.pool_id,
                                                                       identity_id))
        return cred

    def lookup(self, access_key_id: str) -> Credential | None:
        if access_key_id == self.admin.access_key_id:
            return self.admin
        row = self.db.conn().execute("SELECT secret, session_token, expires, pool_id, identity_id FROM credentials "
                                     "WHERE access_key_id=?", (access_key_id,)).fetchone()
        if row is None or row[3] not in self.pools:
            return None
        return Credential(access_key_id, row[0], row[1], row[2], IdentityPrincipal(row[4], self.pools[row[3]]))


class IdentityPoolService:
    def __init__(self, app: str, decl: IdentityPool, policy: dict[str, Any], users: UserPoolService,
                 store: CredentialStore, key_dir: Path, clock: Clock, endpoint: str, region: str) -> None:
        self.app, self.decl, self.users, self.store, self.clock, self.region = app, decl, users, store, clock, region
        self.policy = check_policy(policy)
        self.providers = {iss.split("://", 1)[1] for iss in users.issuers}
        self.provider = users.issuer.split("://", 1)[1]
        with store.db.write() as c:
            row = c.execute("SELECT pool_id FROM identity_pools WHERE app=? AND name=?", (app, decl.name)).fetchone()
            self.pool_id = row[0] if row else f"{region}:{uuid.uuid4()}"
            if row is None:
                c.execute("INSERT INTO identity_pools VALUES (?,?,?)", (app, decl.name, self.pool_id))
        store.pools[self.pool_id] = self
        self.key = SigningKey(key_dir / f"identity-{self.pool_id.split(':')[1]}.pem")
        self.openid_issuer = f"{endpoint}/_identity"

    def _login(self, logins: Any) -> str:
        """The verified user behind ``Logins``, as a stable login key."""
        if not logins:
            raise CognitoError("NotAuthorizedException", "Unauthenticated access is not supported for this identity pool.")
        if not isinstance(logins, dict) or len(logins) != 1:
            raise CognitoError("InvalidParameterException", "Logins must map one provider name to its token.")
        (provider, token), = logins.items()
        if provider not in self.providers:
            raise CognitoError("NotAuthorizedException", f"Invalid login token. Not a valid provider: {provider}. "
                               f"This identity pool accepts {self.provider}.")
        if not isinstance(token, str):
            raise CognitoError("InvalidParameterException", "A login token must be a string.")
        try:
            claims = self.users.verifier.verify(token, token_use="id", client_ids=self.users.client_ids)
        except TokenRejected as exc:
            expired = "expired" in str(exc)
            raise CognitoError("NotAuthorizedException",
                               "Invalid login token. Token expired." if expired else f"Invalid login token. {exc}."
                               ) from exc
        return f"{self.users.pool_id}:{claims['sub']}"

    def _identity(self, identity_id: Any, logins: Any) -> str:
        if not isinstance(identity_id, str) or not identity_id.startswith(f"{self.region}:"):
            raise CognitoError("InvalidParameterException", "IdentityId must look like <region>:<uuid>.")
        login = self._login(logins)
        row = self.store.db.conn().execute("SELECT login FROM identities WHERE pool_id=? AND identity_id=?",
                                           (self.pool_id, identity_id)).fetchone()
        if row is None:
            raise CognitoError("ResourceNotFoundException", f"Identity '{identity_id}' not found.")
        if row[0] != login:
            raise CognitoError("NotAuthorizedException", "Logins don't match. Please include at least one valid "
                               "login for this identity or identity pool.")
        return identity_id

    def get_id(self, logins: Any) -> dict[str, Any]:
        login = self._login(logins)
        with self.store.db.write() as c:
            row = c.execute("SELECT identity_id FROM identities WHERE pool_id=? AND login=?",
                            (self.pool_id, login)).fetchone()
            identity_id = row[0] if row else f"{self.region}:{uuid.uuid4()}"
            if row is None:
                c.execute("INSERT INTO identities VALUES (?,?,?)", (self.pool_id, login, identity_id))
        return {"IdentityId": identity_id}

    def get_credentials(self, identity_id: Any, logins: Any) -> dict[str, Any]:
        identity_id = self._identity(identity_id, logins)
        cred = self.store.issue(self, identity_id, self.decl.credential_ttl, self.clock.now())
        return {"IdentityId": identity_id, "Credentials": {
            "AccessKeyId": cred.access_key_id, "SecretKey": cred.secret_access_key, "SessionToken": cred.session_token,
            "Expiration": cred.expires}}

    def get_open_id_token(self, identity_id: Any, logins: Any) -> dict[str, Any]:
        identity_id = self._identity(identity_id, logins)
        now = int(self.clock.now())
        claims = {"iss": self.openid_issuer, "sub": identity_id, "aud": self.pool_id, "iat": now,
                  "exp": now + OPENID_TTL, "amr": ["authenticated", self.provider]}
        token = jwt.encode(claims, self.key.private, algorithm="RS256", headers={"kid": self.key.kid})
        return {"IdentityId": identity_id, "Token": token}


class CognitoIdentityWire(AwsJsonService):
    def __init__(self, pools: list[IdentityPoolService]) -> None:
        self.by_id = {p.pool_id: p for p in pools}
        super().__init__(PREFIX, "identity pool", {
            "GetId": lambda b: self._pool(b.get("IdentityPoolId")).get_id(b.get("Logins")),
            "GetCredentialsForIdentity": lambda b: self._of_identity(b).get_credentials(b.get("IdentityId"),
                                                                                         b.get("Logins")),
            "GetOpenIdToken": lambda b: self._of_identity(b).get_open_id_token(b.get("IdentityId"), b.get("Logins")),
        })

    def _pool(self, pool_id: Any) -> IdentityPoolService:
        pool = self.by_id.get(pool_id) if isinstance(pool_id, str) else None
        if pool is None:
            raise CognitoError("ResourceNotFoundException", f"IdentityPool '{pool_id}' not found.")
        return pool

    def _of_identity(self, body: dict[str, Any]) -> IdentityPoolService:
        """The pool an identity id belongs to (requests name only the identity)."""
        identity_id = body.get("IdentityId")
        if isinstance(identity_id, str) and self.by_id:
            store = next(iter(self.by_id.values())).store  # one store serves every pool
            row = store.db.conn().execute("SELECT pool_id FROM identities WHERE identity_id=?", (identity_id,)).fetchone()
            if row is not None and row[0] in self.by_id:
                return self.by_id[row[0]]
        raise CognitoError("ResourceNotFoundException", f"Identity '{identity_id}' not found.")
