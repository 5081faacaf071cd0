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

This module is the domain; ``wire`` parses and renders the AWS JSON protocol.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt

from ....clock import Clock
from ....errors import ServiceError, TokenRejected
from ....graph import IdentityPool
from ...infra.keys import SigningKey
from ...infra.sqlite import SqliteDatabase
from ...protocols.iam import check_policy
from ...protocols.principals import ACCOUNT, Credentials, Principal, new_access_key_id, new_secret
from ...protocols.sigv4 import Credential
from ..cognito_idp.model import UserPoolService

OPENID_TTL = 600  # Cognito's OpenID tokens last 10 minutes

_SCHEMA = """
CREATE TABLE IF NOT EXISTS identity_pools (app TEXT, name TEXT, pool_id TEXT UNIQUE, PRIMARY KEY (app, name));
CREATE TABLE IF NOT EXISTS identities (
    pool_id TEXT NOT NULL, login TEXT NOT NULL, identity_id TEXT UNIQUE NOT NULL, PRIMARY KEY (pool_id, login));
CREATE TABLE IF NOT EXISTS credentials (
    access_key_id TEXT PRIMARY KEY, secret TEXT NOT NULL, session_token TEXT NOT NULL, expires REAL NOT NULL,
    pool_id TEXT NOT NULL, identity_id TEXT NOT NULL);
"""


@dataclass(frozen=True)
class IdentityPrincipal(Principal):
    """An identity of an identity pool, judged by the pool's authenticated-role policy."""

    identity_id: str
    pool: IdentityPoolService

    def policies(self) -> list[dict[str, Any]]:
        return [self.pool.policy]

    def names(self) -> dict[str, list[str]]:
        """The pool's authenticated role, and the session its credentials are (as a resource policy names them)."""
        role = f"{self.pool.app}-{self.pool.decl.name}-authenticated"
        return {"AWS": [f"arn:aws:iam::{ACCOUNT}:role/{role}",
                        f"arn:aws:sts::{ACCOUNT}:assumed-role/{role}/CognitoIdentityCredentials"]}

    def in_account(self) -> bool:
        return True

    def context_keys(self) -> dict[str, str | list[str]]:
        return {"cognito-identity.amazonaws.com:sub": self.identity_id,
                "cognito-identity.amazonaws.com:aud": self.pool.pool_id,
                "cognito-identity.amazonaws.com:amr": "authenticated",
                "aws:userid": f"{self.pool.pool_id}:{self.identity_id}"}


class IdentityStore:
    """The identity pools' database (one per data dir): pools, identities, and the credentials issued to them."""

    def __init__(self, data_dir: Path, credentials: Credentials) -> None:
        self.db = SqliteDatabase(data_dir / "identity.db", _SCHEMA)
        self.pools: dict[str, IdentityPoolService] = {}
        credentials.add_issuer(self.lookup)

    def issue(self, pool: IdentityPoolService, identity_id: str, ttl: float, now: float) -> Credential:
        cred = Credential(new_access_key_id("ASIA"), new_secret(), secrets.token_urlsafe(256), now + ttl,
                          IdentityPrincipal(identity_id, pool))
        with self.db.write() as c:
            c.execute("INSERT INTO credentials VALUES (?,?,?,?,?,?)", (cred.access_key_id, cred.secret_access_key,
                                                                       cred.session_token, cred.expires, pool.pool_id,
                                                                       identity_id))
        return cred

    def lookup(self, access_key_id: str) -> Credential | None:
        """A credential this store issued, to a pool that is running."""
        row = self.db.conn().execute("SELECT secret, session_token, expires, pool_id, identity_id FROM credentials "
                                     "WHERE access_key_id=?", (access_key_id,)).fetchone()
        if row is None or row[3] not in self.pools:
            return None
        return Credential(access_key_id, row[0], row[1], row[2], IdentityPrincipal(row[4], self.pools[row[3]]))

    def pool_of(self, identity_id: str) -> IdentityPoolService | None:
        """The running pool an identity belongs to (requests name only the identity)."""
        row = self.db.conn().execute("SELECT pool_id FROM identities WHERE identity_id=?", (identity_id,)).fetchone()
        return self.pools.get(row[0]) if row is not None else None


class IdentityPoolService:
    def __init__(self, app: str, decl: IdentityPool, policy: dict[str, Any], users: UserPoolService,
                 store: IdentityStore, key_dir: Path, clock: Clock, endpoint: str, region: str) -> None:
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

    def _login(self, logins: dict[str, str]) -> str:
        """The verified user behind ``Logins``, as a stable login key."""
        if not logins:
            raise ServiceError("NotAuthorizedException", "Unauthenticated access is not supported for this identity pool.")
        if len(logins) != 1:
            raise ServiceError("InvalidParameterException", "Logins must map one provider name to its token.")
        (provider, token), = logins.items()
        if provider not in self.providers:
            raise ServiceError("NotAuthorizedException", f"Invalid login token. Not a valid provider: {provider}. "
                               f"This identity pool accepts {self.provider}.")
        try:
            claims = self.users.verifier.verify(token, token_use="id", client_ids=self.users.client_ids)
        except TokenRejected as exc:
            expired = "expired" in str(exc)
            raise ServiceError("NotAuthorizedException",
                               "Invalid login token. Token expired." if expired else f"Invalid login token. {exc}."
                               ) from exc
        return f"{self.users.pool_id}:{claims['sub']}"

    def _identity(self, identity_id: str, logins: dict[str, str]) -> str:
        if not identity_id.startswith(f"{self.region}:"):
            raise ServiceError("InvalidParameterException", "IdentityId must look like <region>:<uuid>.")
        login = self._login(logins)
        row = self.store.db.conn().execute("SELECT login FROM identities WHERE pool_id=? AND identity_id=?",
                                           (self.pool_id, identity_id)).fetchone()
        if row is None:
            raise ServiceError("ResourceNotFoundException", f"Identity '{identity_id}' not found.")
        if row[0] != login:
            raise ServiceError("NotAuthorizedException", "Logins don't match. Please include at least one valid "
                               "login for this identity or identity pool.")
        return identity_id

    def get_id(self, logins: dict[str, str]) -> str:
        """The identity of the user behind ``logins``: made on first use, the same one ever after."""
        login = self._login(logins)
        with self.store.db.write() as c:
            row = c.execute("SELECT identity_id FROM identities WHERE pool_id=? AND login=?",
                            (self.pool_id, login)).fetchone()
            identity_id = row[0] if row else f"{self.region}:{uuid.uuid4()}"
            if row is None:
                c.execute("INSERT INTO identities VALUES (?,?,?)", (self.pool_id, login, identity_id))
        return str(identity_id)

    def get_credentials(self, identity_id: str, logins: dict[str, str]) -> Credential:
        """Temporary credentials for the identity, acting with the pool's authenticated role."""
        identity_id = self._identity(identity_id, logins)
        return self.store.issue(self, identity_id, self.decl.credential_ttl, self.clock.now())

    def get_open_id_token(self, identity_id: str, logins: dict[str, str]) -> str:
        """An OpenID token (RS256, 10 minutes) naming the identity."""
        identity_id = self._identity(identity_id, logins)
        now = int(self.clock.now())
        claims = {"iss": self.openid_issuer, "sub": identity_id, "aud": self.pool_id, "iat": now,
                  "exp": now + OPENID_TTL, "amr": ["authenticated", self.provider]}
        return jwt.encode(claims, self.key.private, algorithm="RS256", headers={"kid": self.key.kid})
