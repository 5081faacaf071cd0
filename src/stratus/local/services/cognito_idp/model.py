"""The local managed user pool: Cognito user pool semantics on SQLite.

This module is the domain: it decides who may sign up, what a confirmation
code is worth, which tokens are issued and when they stop working. It takes
and returns plain values and the dataclasses below; the wire protocol (``wire``)
checks the JSON's types, calls these operations, and renders their results and
``ServiceError`` (with Cognito's error codes, this service's vocabulary) as Cognito does.

Faithful to Cognito where a client can tell:
- user names are email addresses (``UsernameAttributes=[email]``), so
  ``cognito:username`` (and GetUser's ``Username``) is the user's sub;
- user-existence errors are prevented: an unknown user and a wrong password
  give the same ``NotAuthorizedException``;
- a sign-in starts a session (``origin_jti``); refreshing keeps it; global
  sign-out revokes every session of the user, after which refresh tokens fail
  and GetUser refuses the old access tokens. (Like API Gateway's Cognito
  authorizer, the REST gateway checks only the JWT, so a revoked access token
  still passes there until it expires.)
- confirmation codes are 6 digits, valid 24 hours, mailed to the user, and
  refused after 5 wrong tries;
- guessing is limited on the platform clock: a user's sign-in locks after 5 wrong
  passwords (1 s, doubling with each further failure up to 15 minutes), 10 wrong
  codes an hour are all a user gets whatever is resent, and 5 resends an hour. A user
  is counted by their sub, whichever spelling of the name was used. Names with no
  account meet the same limits, so these answers and their timing do not tell an
  unconfirmed account from no account (a confirmed one says so, as on Cognito: "User
  is already confirmed"). Their counts are kept in memory, in ``STRANGER_SLOTS`` slots
  a name is hashed to with a key of the process's own: a flood of other names
  cannot push one name's count out, and nothing is written for them.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import math
import re
import secrets
import sqlite3
import threading
import time
import uuid
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import orjson
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ....clock import Clock
from ....errors import ServiceError, TokenRejected
from ....graph import UserPool
from ....graph.auth import USER_SCOPE
from ....ports.mailer import Mail, Mailer
from ....schema import EMAIL
from ...infra.keys import SigningKey
from ...infra.sqlite import SqliteDatabase
from . import srp, totp
from .tokens import TokenVerifier

log = logging.getLogger("stratus")

CODE_ATTEMPTS = 5          # wrong tries of one code
RESENDS_PER_HOUR = 5       # resends of a code to one user name in an hour
CONFIRM_FAILURES_PER_HOUR = 10  # wrong tries of one user's codes in an hour, whatever was resent
SIGN_IN_FAILURES = 5       # wrong passwords before a sign-in is locked out
SIGN_IN_LOCK_MAX = 900.0   # the longest lock-out, in seconds (it doubles from 1 s with each further failure)
SRP_PENDING = 10_000       # SRP sign-ins begun and not yet answered, at most (the oldest go first)
SRP_TTL = 180.0            # seconds an SRP challenge may be answered in
HEX = re.compile(r"[0-9a-fA-F]{1,1024}")  # SRP_A as the SDKs send it
RESEND_FLOOR = 0.025       # seconds a resend takes at least, mailed or not, so its timing tells nothing
STRANGER_SLOTS = 65_536    # counters for names with no account (a name's slot: a keyed hash of it)
CODE_SENDER = "no-reply@verificationemail.com"
CHALLENGE_TTL = 180.0      # seconds a sign-in's challenge session may be answered in (Cognito's default)
CHALLENGES_PENDING = 10_000  # challenge sessions under way, at most (the oldest go first)
MFA_TRIES = 5              # wrong MFA codes one challenge session takes
TEMPORARY_PASSWORD_TTL = 7 * 86400  # an administrator's temporary password (Cognito's default validity)
VERIFIER = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # a PKCE code_verifier (RFC 7636)
OAUTH_CODE_TTL = 300.0     # an authorization code's life (Cognito's: 5 minutes)
USER_TABLES = ("users", "srp", "codes", "sessions", "memberships", "disabled", "temporary", "pending_email", "totp",
               "totp_pending")
LIST_LIMIT = 60            # the most users ListUsers returns at once (Cognito's maximum)
STANDARD_ATTRIBUTES = frozenset({
    "email", "name", "given_name", "family_name", "middle_name", "nickname", "preferred_username",
    "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "phone_number", "address",
})

# OWASP's minimum for argon2id: 19 MiB of memory, 2 passes.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against when the user does not exist, so that takes as long as a wrong password.

    Made on first use, not at import: it costs as much as a sign-in (tens of milliseconds).
    """
    return _hasher.hash("stratus-timing-equaliser")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS pools (app TEXT, name TEXT, pool_id TEXT UNIQUE, PRIMARY KEY (app, name));
CREATE TABLE IF NOT EXISTS issuers (pool_id TEXT NOT NULL, issuer TEXT NOT NULL, PRIMARY KEY (pool_id, issuer));
CREATE TABLE IF NOT EXISTS clients (pool_id TEXT, name TEXT, client_id TEXT UNIQUE, PRIMARY KEY (pool_id, name));
CREATE TABLE IF NOT EXISTS users (
    pool_id TEXT NOT NULL, sub TEXT NOT NULL, email TEXT NOT NULL, password TEXT NOT NULL,
    status TEXT NOT NULL, attributes TEXT NOT NULL, created REAL NOT NULL,
    PRIMARY KEY (pool_id, sub), UNIQUE (pool_id, email));
CREATE TABLE IF NOT EXISTS codes (
    pool_id TEXT NOT NULL, sub TEXT NOT NULL, digest TEXT NOT NULL, expires REAL NOT NULL, attempts INT NOT NULL,
    PRIMARY KEY (pool_id, sub));
CREATE TABLE IF NOT EXISTS sessions (
    origin_jti TEXT PRIMARY KEY, pool_id TEXT NOT NULL, sub TEXT NOT NULL, client_id TEXT NOT NULL,
    refresh TEXT UNIQUE NOT NULL, auth_time INT NOT NULL, expires REAL NOT NULL, revoked INT NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (pool_id, sub);
CREATE TABLE IF NOT EXISTS srp (
    pool_id TEXT NOT NULL, sub TEXT NOT NULL, salt TEXT NOT NULL, verifier TEXT NOT NULL, PRIMARY KEY (pool_id, sub));
CREATE TABLE IF NOT EXISTS client_secrets (pool_id TEXT NOT NULL, client_id TEXT PRIMARY KEY, secret TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS memberships (
    pool_id TEXT NOT NULL, sub TEXT NOT NULL, grp TEXT NOT NULL, PRIMARY KEY (pool_id, sub, grp));
CREATE INDEX IF NOT EXISTS members_by_group ON memberships (pool_id, grp, sub);
CREATE TABLE IF NOT EXISTS disabled (pool_id TEXT NOT NULL, sub TEXT NOT NULL, PRIMARY KEY (pool_id, sub));
CREATE TABLE IF NOT EXISTS temporary (pool_id TEXT NOT NULL, sub TEXT NOT NULL, expires REAL NOT NULL,
    PRIMARY KEY (pool_id, sub));
CREATE TABLE IF NOT EXISTS pending_email (pool_id TEXT NOT NULL, sub TEXT NOT NULL, email TEXT NOT NULL,
    PRIMARY KEY (pool_id, sub));
CREATE TABLE IF NOT EXISTS totp (
    pool_id TEXT NOT NULL, sub TEXT NOT NULL, secret TEXT NOT NULL, verified INT NOT NULL, enabled INT NOT NULL,
    last_step INT NOT NULL DEFAULT -1, PRIMARY KEY (pool_id, sub));
CREATE TABLE IF NOT EXISTS totp_pending (pool_id TEXT NOT NULL, sub TEXT NOT NULL, secret TEXT NOT NULL,
    PRIMARY KEY (pool_id, sub));
CREATE TABLE IF NOT EXISTS session_scopes (origin_jti TEXT PRIMARY KEY, scopes TEXT NOT NULL, nonce TEXT);
CREATE TABLE IF NOT EXISTS oauth_codes (
    digest TEXT PRIMARY KEY, pool_id TEXT NOT NULL, sub TEXT NOT NULL, client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL, challenge TEXT, scopes TEXT NOT NULL, nonce TEXT, auth_time INT NOT NULL,
    expires REAL NOT NULL, used INT NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS attempts (
    pool_id TEXT NOT NULL, kind TEXT NOT NULL, subject TEXT NOT NULL, count INT NOT NULL, since REAL NOT NULL,
    locked_until REAL NOT NULL DEFAULT 0, PRIMARY KEY (pool_id, kind, subject));
"""


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def _mask(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain[:1]}***"


def _invalid(message: str) -> ServiceError:
    return ServiceError("InvalidParameterException", message)


@dataclass(frozen=True)
class User:
    sub: str
    email: str
    status: str
    attributes: dict[str, str]
    enabled: bool = True
    created: float = 0.0


@dataclass(frozen=True)
class Challenge:
    """What a sign-in asks next before tokens: ``NEW_PASSWORD_REQUIRED``, ``SOFTWARE_TOKEN_MFA`` or ``MFA_SETUP``;
    the answer names ``session``."""

    name: str
    session: str
    parameters: dict[str, str]


@dataclass(frozen=True)
class Authorization:
    """An OAuth sign-in under way at the hosted sign-in: what ``/oauth2/authorize`` was asked, checked."""

    client_id: str
    redirect_uri: str
    scopes: str               # space-separated, each allowed to the client
    state: str | None = None
    challenge: str | None = None  # PKCE's S256 code challenge
    nonce: str | None = None


@dataclass(frozen=True)
class AuthCode:
    """A hosted sign-in completed: the code to send the user back with."""

    code: str
    authorization: Authorization


@dataclass(frozen=True)
class ClientInfo:
    """An app client as DescribeUserPoolClient tells it."""

    client_id: str
    name: str
    secret: str | None
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class CodeDelivery:
    """Where a code was sent: a masked address."""

    destination: str
    medium: str = "EMAIL"
    attribute: str = "email"


@dataclass(frozen=True)
class SignUpResult:
    sub: str
    delivery: CodeDelivery


@dataclass(frozen=True)
class Tokens:
    access_token: str
    id_token: str
    expires_in: int
    refresh_token: str | None = None  # only a sign-in hands one out; a refresh keeps using the old one
    scopes: str | None = None         # an OAuth sign-in's scopes; None: an API sign-in's


SignedIn = Tokens | Challenge | AuthCode


class UserPoolStore:
    """The user pools' database (one per data dir)."""

    def __init__(self, path: Path) -> None:
        self.db = SqliteDatabase(path, _SCHEMA)

    def ids(self, app: str, pool: UserPool, region: str) -> tuple[str, dict[str, str]]:
        """The pool id and client ids of a declared pool: made once, then stable across restarts."""
        with self.db.write() as c:
            row = c.execute("SELECT pool_id FROM pools WHERE app=? AND name=?", (app, pool.name)).fetchone()
            if row is None:
                alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                pool_id = f"{region}_" + "".join(secrets.choice(alphabet) for _ in range(9))
                c.execute("INSERT INTO pools VALUES (?,?,?)", (app, pool.name, pool_id))
            else:
                pool_id = row[0]
            clients = {}
            for name in (*pool.clients, *pool.machine_clients):
                row = c.execute("SELECT client_id FROM clients WHERE pool_id=? AND name=?", (pool_id, name)).fetchone()
                if row is None:
                    cid = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(26))
                    c.execute("INSERT INTO clients VALUES (?,?,?)", (pool_id, name, cid))
                else:
                    cid = row[0]
                clients[name] = cid
                if name in pool.machine_clients:
                    c.execute("INSERT OR IGNORE INTO client_secrets VALUES (?,?,?)",
                              (pool_id, cid, secrets.token_urlsafe(39)[:51]))
        return pool_id, clients

    def issuers(self, pool_id: str, current: str) -> list[str]:
        """Every issuer the pool has had (the endpoint may move between runs), current one first.

        Tokens carry the issuer of the run that minted them; a restart on another port must not
        invalidate them, as the key that signed them is the same.
        """
        with self.db.write() as c:
            c.execute("INSERT OR IGNORE INTO issuers VALUES (?,?)", (pool_id, current))
            rows = c.execute("SELECT issuer FROM issuers WHERE pool_id=?", (pool_id,)).fetchall()
        return [current] + sorted(r[0] for r in rows if r[0] != current)


class UserPoolService:
    """One declared user pool, running."""

    def __init__(self, app: str, decl: UserPool, store: UserPoolStore, key_dir: Path, mailer: Mailer,
                 clock: Clock, endpoint: str, region: str) -> None:
        self.app = app
        self.decl = decl
        self.db = store.db
        self.mailer = mailer
        self.clock = clock
        self.region = region
        self.pool_id, every_client = store.ids(app, decl, region)
        self.clients = {n: every_client[n] for n in decl.clients}                    # public: sign-ins
        self.machine_clients = {n: every_client[n] for n in decl.machine_clients}    # with a secret: scopes
        self.client_ids = frozenset(every_client.values())
        self.arn = f"arn:aws:cognito-idp:{region}:000000000000:userpool/{self.pool_id}"
        self.key = SigningKey(key_dir / f"{self.pool_id}.pem")
        self.issuer = f"{endpoint}/{self.pool_id}"
        self.issuers = store.issuers(self.pool_id, self.issuer)
        self.verifier = TokenVerifier(self.issuers, self.jwks(), clock)
        # attempts by names with no account: per kind, count, since and locked_until of each slot (a name's slot
        # is a keyed hash of it; names may share one, a count then covering both): 1.5 MiB a kind, whatever is
        # sent; only touched inside a write transaction, which serializes them as it does the table's rows
        self._strangers: dict[str, tuple[array[float], array[float], array[float]]] = {}
        self._stranger_key = self.key.derive("names with no account")  # the same after a restart
        self.pool_name = self.pool_id.split("_", 1)[1]  # what SRP's hashes name the pool by
        # SRP exchanges under way, by secret block: at most SRP_PENDING, each for SRP_TTL seconds
        self._exchanges: dict[bytes, tuple[srp.Exchange, str, str, float]] = {}
        self._exchanges_lock = threading.Lock()
        # sign-ins waiting on a challenge's answer, by session: (sub, client id, challenge, expires, tries)
        self._challenges: dict[str, list[Any]] = {}
        self.domain_url = f"{endpoint}/{self.pool_id}" if decl.hosted is not None else None

    # -- discovery

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.jwk()]}

    def openid_configuration(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "issuer": self.issuer, "jwks_uri": f"{self.issuer}/.well-known/jwks.json",
            "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code"], "token_endpoint_auth_methods_supported":
            ["client_secret_basic", "client_secret_post", "none"],
            "scopes_supported": ["openid", "email", "profile", "phone", USER_SCOPE, *sorted(self.decl.custom_scopes)],
            "claims_supported": ["sub", "email", "email_verified", "cognito:username", "cognito:groups", "iss", "aud",
                                 "exp", "iat", "auth_time", "nonce"]}
        if self.domain_url is not None:  # the hosted sign-in's endpoints
            doc.update(authorization_endpoint=f"{self.domain_url}/oauth2/authorize",
                       token_endpoint=f"{self.domain_url}/oauth2/token",
                       userinfo_endpoint=f"{self.domain_url}/oauth2/userInfo",
                       revocation_endpoint=f"{self.domain_url}/oauth2/revoke",
                       end_session_endpoint=f"{self.domain_url}/logout",
                       grant_types_supported=["authorization_code", "refresh_token", "client_credentials"],
                       code_challenge_methods_supported=["S256"])
        return doc

    # -- helpers

    def _client(self, client_id: str) -> str:
        """A client that signs users in (a machine client has no users)."""
        if client_id not in self.client_ids or client_id in self.machine_clients.values():
            raise ServiceError("ResourceNotFoundException", f"User pool client {client_id} does not exist.")
        return client_id

    def _find(self, username: str) -> User | None:
        col = "email" if "@" in username else "sub"  # an email address, or the sub (cognito:username)
        row = self.db.conn().execute(
            f"SELECT sub, email, status, attributes, created, (SELECT 1 FROM disabled d WHERE d.pool_id=u.pool_id "
            f"AND d.sub=u.sub) FROM users u WHERE pool_id=? AND {col}=?",
            (self.pool_id, username.lower() if col == "email" else username)).fetchone()
        if row is None:
            return None
        return User(row[0], row[1], row[2], orjson.loads(row[3]), enabled=not row[5], created=row[4])

    def groups_of(self, sub: str) -> list[str]:
        """The declared groups ``sub`` is in, in the order they are declared."""
        held = {r[0] for r in self.db.conn().execute("SELECT grp FROM memberships WHERE pool_id=? AND sub=?",
                                                      (self.pool_id, sub))}
        return [g for g in self.decl.groups if g in held]

    # -- counting attempts, on the platform clock
    #
    # A user's attempts are kept in the database under their sub (a restart resets nothing); a name with no
    # account ("?" and the lower-cased name) in memory, so guessing names writes nothing to disk.

    def _subject(self, user: User | None, username: str) -> str:
        return user.sub if user is not None else "?" + username.lower()

    def _slot(self, kind: str, subject: str) -> tuple[tuple[array[float], array[float], array[float]], int]:
        if kind not in self._strangers:
            self._strangers[kind] = (array("d", bytes(8 * STRANGER_SLOTS)), array("d", bytes(8 * STRANGER_SLOTS)),
                                     array("d", bytes(8 * STRANGER_SLOTS)))
        digest = hmac.new(self._stranger_key, subject.encode(), hashlib.sha256).digest()
        return self._strangers[kind], int.from_bytes(digest[:8], "big") % STRANGER_SLOTS

    def _attempt_row(self, c: sqlite3.Connection, kind: str, subject: str) -> tuple[int, float, float] | None:
        if subject.startswith("?"):
            (counts, since, locked), i = self._slot(kind, subject)
            return (int(counts[i]), since[i], locked[i]) if counts[i] else None
        row = c.execute("SELECT count, since, locked_until FROM attempts WHERE pool_id=? AND kind=? AND subject=?",
                        (self.pool_id, kind, subject)).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def _attempts(self, c: sqlite3.Connection, kind: str, subject: str, window: float) -> tuple[int, float]:
        """(count, locked_until) of ``kind`` attempts by ``subject`` in the current window (a stale one restarts)."""
        row = self._attempt_row(c, kind, subject)
        if row is None or self.clock.now() - row[1] >= window:
            return 0, row[2] if row else 0.0
        return row[0], row[2]

    def _count_attempt(self, c: sqlite3.Connection, kind: str, subject: str, window: float,
                       locked_until: float = 0.0) -> int:
        count, _ = self._attempts(c, kind, subject, window)
        now = self.clock.now()
        if subject.startswith("?"):
            (counts, since, locked), i = self._slot(kind, subject)
            counts[i], locked[i] = count + 1, locked_until
            if count == 0:
                since[i] = now
            return count + 1
        c.execute("INSERT INTO attempts VALUES (?,?,?,?,?,?) ON CONFLICT (pool_id, kind, subject) DO UPDATE SET "
                  "count=excluded.count, since=CASE WHEN excluded.count=1 THEN excluded.since ELSE since END, "
                  "locked_until=excluded.locked_until", (self.pool_id, kind, subject, count + 1, now, locked_until))
        return count + 1

    def _forget_attempts(self, c: sqlite3.Connection, kind: str, subject: str) -> None:
        if subject.startswith("?"):
            (counts, since, locked), i = self._slot(kind, subject)
            counts[i] = since[i] = locked[i] = 0.0
        else:
            c.execute("DELETE FROM attempts WHERE pool_id=? AND kind=? AND subject=?", (self.pool_id, kind, subject))

    def _code_digest(self, sub: str, purpose: str, code: str) -> str:
        """How a code is kept: a confirmation code as it always was (codes mailed before reset codes existed still
        work), any other with its purpose."""
        return _digest(self.pool_id, sub, *([purpose] if purpose else []), code)

    def _send_code(self, user: User, purpose: str = "", address: str | None = None) -> CodeDelivery:
        """A new code for ``user``, mailed: to confirm the account, (``purpose`` "reset") to set a new password, or
        ("email") to verify ``address``, their email or a new one. A user has one code at a time, and a code
        serves only its purpose (an email code, only the address it was mailed to)."""
        code = f"{secrets.randbelow(10**6):06d}"
        to = address or user.email
        kept = f"email {to}" if purpose == "email" else purpose
        with self.db.write() as c:
            c.execute("INSERT OR REPLACE INTO codes VALUES (?,?,?,?,0)",
                      (self.pool_id, user.sub, self._code_digest(user.sub, kept, code),
                       self.clock.now() + self.decl.code_ttl))
        subject, text = ("Your password reset code", f"Your password reset code is {code}.") if purpose == "reset" \
            else ("Your verification code", f"Your verification code is {code}.")
        try:
            self.mailer.send(Mail(to=to, subject=subject, text=text, sender=CODE_SENDER))
        except Exception as exc:  # any mailer failure (SMTP refused, disk full) is the same to the client
            # the operator is told why; the client gets Cognito's error, as on AWS
            log.warning("user pool %s: the verification code for %s was not delivered: %s", self.pool_id,
                        user.email, exc)
            raise ServiceError("CodeDeliveryFailureException",
                               f"Unable to deliver the verification code: {type(exc).__name__}") from exc
        return CodeDelivery(_mask(to))

    # -- operations

    def sign_up(self, client_id: str, username: str, password: str, attributes: dict[str, str]) -> SignUpResult:
        self._client(client_id)
        _check_username(username)
        _check_password_shape(password)
        attrs = _checked_attributes(attributes)
        if not EMAIL.match(username):
            raise _invalid("Username should be an email.")
        if "email" in attrs and attrs["email"].lower() != username.lower():
            raise _invalid("The email attribute must match the username.")
        attrs["email"] = username.lower()
        self._check_password_policy(password)
        user = User(str(uuid.uuid4()), attrs["email"], "UNCONFIRMED", attrs)
        try:
            with self.db.write() as c:
                c.execute("INSERT INTO users VALUES (?,?,?,?,?,?,?)",
                          (self.pool_id, user.sub, user.email, _hasher.hash(password), user.status,
                           orjson.dumps(attrs).decode(), self.clock.now()))
                self._keep_verifier(c, user.sub, password)
        except sqlite3.IntegrityError:
            raise ServiceError("UsernameExistsException", "An account with the given email already exists.") from None
        try:
            delivery = self._send_code(user)
        except ServiceError:  # no code reached the user: leave no account behind that could never be confirmed
            with self.db.write() as c:
                c.execute("DELETE FROM codes WHERE pool_id=? AND sub=?", (self.pool_id, user.sub))
                c.execute("DELETE FROM srp WHERE pool_id=? AND sub=?", (self.pool_id, user.sub))
                c.execute("DELETE FROM users WHERE pool_id=? AND sub=?", (self.pool_id, user.sub))
            raise
        return SignUpResult(user.sub, delivery)

    def confirm_sign_up(self, client_id: str, username: str, code: str) -> None:
        self._client(client_id)
        if not re.fullmatch(r"\S{1,2048}", code):
            raise _invalid("ConfirmationCode must be a non-empty string.")
        user = self._find(_check_username(username))
        if user is None:
            return self._confirm_stranger("?" + username.lower())
        if user.status != "UNCONFIRMED":  # confirmed, or created by an operator (whose first sign-in sets a password)
            raise ServiceError("NotAuthorizedException", f"User cannot be confirmed. Current status is {user.status}")
        self._use_code(user, code, "", "confirm-failed", lambda c: c.execute(
            "UPDATE users SET status='CONFIRMED' WHERE pool_id=? AND sub=?", (self.pool_id, user.sub)))

    def _use_code(self, user: User, code: str, purpose: str, failures: str,
                  then: Callable[[sqlite3.Connection], object]) -> None:
        """Check ``user``'s code for ``purpose`` and, if it is right, spend it and do ``then`` in the same
        transaction. Wrong tries are counted per code (``CODE_ATTEMPTS``) and per user and hour (``failures``,
        ``CONFIRM_FAILURES_PER_HOUR``: a new code does not buy more guesses), committed before the error goes out."""
        error = None
        with self.db.write() as c:
            row = c.execute("SELECT digest, expires, attempts FROM codes WHERE pool_id=? AND sub=?",
                            (self.pool_id, user.sub)).fetchone()
            if self._attempts(c, failures, user.sub, 3600)[0] >= CONFIRM_FAILURES_PER_HOUR:
                error = ServiceError("LimitExceededException", "Attempt limit exceeded, please try after some time.")
            elif row is None:
                error = ServiceError("ExpiredCodeException", "Invalid code provided, please request a code again.")
            elif row[2] >= CODE_ATTEMPTS:
                error = ServiceError("TooManyFailedAttemptsException", "Too many failed attempts; request a new code.")
            elif not hmac.compare_digest(row[0], self._code_digest(user.sub, purpose, code)):
                c.execute("UPDATE codes SET attempts=attempts+1 WHERE pool_id=? AND sub=?", (self.pool_id, user.sub))
                self._count_attempt(c, failures, user.sub, 3600)
                error = ServiceError("CodeMismatchException", "Invalid verification code provided, please try again.")
            elif self.clock.now() >= row[1]:
                error = ServiceError("ExpiredCodeException", "Invalid code provided, please request a code again.")
            else:
                c.execute("DELETE FROM codes WHERE pool_id=? AND sub=?", (self.pool_id, user.sub))
                then(c)
        if error is not None:
            raise error

    def _confirm_stranger(self, subject: str) -> None:
        """ConfirmSignUp for a name with no account answers as an unconfirmed user's wrong codes would: 5
        mismatches per code (a resend brings a new one), 10 an hour, so the answers do not tell it apart."""
        with self.db.write() as c:
            if self._attempts(c, "confirm-failed", subject, 3600)[0] >= CONFIRM_FAILURES_PER_HOUR:
                error = ServiceError("LimitExceededException", "Attempt limit exceeded, please try after some time.")
            elif self._attempts(c, "code-tries", subject, math.inf)[0] >= CODE_ATTEMPTS:  # as a code's tries
                error = ServiceError("TooManyFailedAttemptsException", "Too many failed attempts; request a new code.")
            else:
                self._count_attempt(c, "code-tries", subject, math.inf)
                self._count_attempt(c, "confirm-failed", subject, 3600)
                error = ServiceError("CodeMismatchException", "Invalid verification code provided, please try again.")
        raise error

    def resend_confirmation_code(self, client_id: str, username: str) -> CodeDelivery:
        self._client(client_id)
        started = time.perf_counter()
        try:
            user = self._find(_check_username(username))
            subject = self._subject(user, username)
            with self.db.write() as c:  # every name gets as many resends, an account or not
                self._count_resend(c, subject)
                if user is None:
                    self._forget_attempts(c, "code-tries", subject)  # as a new code would
            if user is None:  # user-existence errors are prevented: answer as if mailed
                return CodeDelivery(_mask(username))
            if user.status == "CONFIRMED":
                raise _invalid("User is already confirmed.")
            if user.status != "UNCONFIRMED":  # an operator's invitee confirms nothing: answered as if mailed
                return CodeDelivery(_mask(user.email))
            return self._send_code(user)
        finally:  # mailed or not, the answer takes as long: its timing does not tell who has an account
            time.sleep(max(0.0, RESEND_FLOOR - (time.perf_counter() - started)))

    # -- self-service: a forgotten password, a changed one

    def forgot_password(self, client_id: str, username: str) -> CodeDelivery:
        """ForgotPassword: a reset code mailed to a confirmed user. Every name gets the same answer, in the same
        time, and as many (``RESENDS_PER_HOUR``), an account or not."""
        self._client(client_id)
        started = time.perf_counter()
        try:
            user = self._find(_check_username(username))
            subject = self._subject(user, username)
            with self.db.write() as c:
                self._count_resend(c, subject, "reset-sent")
                if user is None:
                    self._forget_attempts(c, "code-tries", subject)  # as a new code would
            if user is None or user.status != "CONFIRMED":  # nothing to reset: answered as if mailed
                return CodeDelivery(_mask(user.email if user else username))
            return self._send_code(user, "reset")
        finally:
            time.sleep(max(0.0, RESEND_FLOOR - (time.perf_counter() - started)))

    def confirm_forgot_password(self, client_id: str, username: str, code: str, password: str) -> None:
        """ConfirmForgotPassword: the reset code spent and the new password (within the policy) set."""
        self._client(client_id)
        if not re.fullmatch(r"\S{1,2048}", code):
            raise _invalid("ConfirmationCode must be a non-empty string.")
        self._check_new_password(password)
        user = self._find(_check_username(username))
        if user is None or user.status != "CONFIRMED":
            return self._confirm_stranger(self._subject(None, username))
        self._use_code(user, code, "reset", "reset-failed", lambda c: self._set_password(c, user.sub, password))

    def change_password(self, access_token: str, previous: str, proposed: str) -> None:
        """ChangePassword: the signed-in user's password, proven again, replaced by one within the policy. Wrong
        previous passwords count toward the sign-in lock-out."""
        user = self.get_user(access_token)
        self._check_new_password(proposed)

        def check() -> bool:
            row = self.db.conn().execute("SELECT password FROM users WHERE pool_id=? AND sub=?",
                                         (self.pool_id, user.sub)).fetchone()
            try:
                return bool(row) and _hasher.verify(row[0], previous)
            except (VerificationError, InvalidHashError):
                return False
        self._prove(user.sub, check)
        with self.db.write() as c:
            self._set_password(c, user.sub, proposed)

    def _check_new_password(self, password: str) -> None:
        _check_password_shape(password)
        self._check_password_policy(password)

    def _check_password_policy(self, password: str) -> None:
        problems = self.decl.password_policy.problems(password)
        if problems:
            raise ServiceError("InvalidPasswordException", "Password did not conform with policy: " + problems[0])

    def _set_password(self, c: sqlite3.Connection, sub: str, password: str, *, temporary: bool = False) -> None:
        c.execute("UPDATE users SET password=? WHERE pool_id=? AND sub=?", (_hasher.hash(password), self.pool_id, sub))
        self._keep_verifier(c, sub, password)
        if temporary:  # an administrator's: good for TEMPORARY_PASSWORD_TTL, for one sign-in that replaces it
            c.execute("INSERT OR REPLACE INTO temporary VALUES (?,?,?)",
                      (self.pool_id, sub, self.clock.now() + TEMPORARY_PASSWORD_TTL))

    def password_auth(self, client_id: str, username: str, password: str,
                      oauth: Authorization | None = None) -> SignedIn:
        """USER_PASSWORD_AUTH: the user's password checked, a new session and its tokens."""
        def check(user: User | None) -> bool:
            row = user and self.db.conn().execute("SELECT password FROM users WHERE pool_id=? AND sub=?",
                                                  (self.pool_id, user.sub)).fetchone()
            try:
                _hasher.verify(row[0] if row else _dummy_hash(), password)
            except (VerificationError, InvalidHashError):
                return False
            if user is not None and row and self.db.conn().execute(  # a user from before SRP gets its verifier now
                    "SELECT 1 FROM srp WHERE pool_id=? AND sub=?", (self.pool_id, user.sub)).fetchone() is None:
                with self.db.write() as c:
                    self._keep_verifier(c, user.sub, password)
            return row is not None
        return self._sign_in(self._client(client_id), username, check, oauth)

    def _sign_in(self, client_id: str, username: str, check: Callable[[User | None], bool],
                 oauth: Authorization | None = None) -> SignedIn:
        """A sign-in by ``username`` that ``check`` (given the user, or None) proves: a new session and its tokens.

        After ``SIGN_IN_FAILURES`` wrong proofs for a user name, sign-ins are locked out for a time that starts
        at 1 s and doubles with each further failure, up to 15 minutes, as Cognito does; the right password does
        not open a locked sign-in. Names with no account are counted alike, so the lock-out tells nobody which
        names have one.
        """
        user = self._find(_check_username(username))
        self._prove(self._subject(user, username), lambda: check(user) and user is not None)
        assert user is not None
        if not user.enabled:
            raise ServiceError("NotAuthorizedException", "User is disabled.")
        if user.status == "FORCE_CHANGE_PASSWORD":
            row = self.db.conn().execute("SELECT expires FROM temporary WHERE pool_id=? AND sub=?",
                                         (self.pool_id, user.sub)).fetchone()
            if row is not None and self.clock.now() >= row[0]:
                raise ServiceError("NotAuthorizedException", "Temporary password has expired and must be reset by "
                                   "an administrator.")
            return self._challenge(user, client_id, "NEW_PASSWORD_REQUIRED",
                                   {"userAttributes": orjson.dumps(self.attribute_map(user)).decode(),
                                    "requiredAttributes": "[]"}, oauth)
        if user.status != "CONFIRMED":
            raise ServiceError("UserNotConfirmedException", "User is not confirmed.")
        return self._after_password(user, client_id, oauth)

    def _after_password(self, user: User, client_id: str, oauth: Authorization | None) -> SignedIn:
        """A user whose password was proven: the MFA challenge when theirs is on (or its set-up when the pool
        requires one they lack), else a new session's tokens."""
        found = self._totp(user.sub) if self.decl.mfa != "off" else None
        if found is not None and (found[2] or self.decl.mfa == "required"):
            return self._challenge(user, client_id, "SOFTWARE_TOKEN_MFA", {}, oauth)
        if self.decl.mfa == "required":
            return self._challenge(user, client_id, "MFA_SETUP", {"MFAS_CAN_SETUP": '["SOFTWARE_TOKEN_MFA"]'}, oauth)
        return self._signed_in(user, client_id, oauth)

    def _signed_in(self, user: User, client_id: str, oauth: Authorization | None) -> Tokens | AuthCode:
        """A sign-in complete: a new session's tokens, or (at the hosted sign-in) the code that redeems them."""
        if oauth is None:
            return self.start_session(user, client_id)
        code = secrets.token_urlsafe(32)
        with self.db.write() as c:
            c.execute("DELETE FROM oauth_codes WHERE expires<?", (self.clock.now() - OAUTH_CODE_TTL,))
            c.execute("INSERT INTO oauth_codes VALUES (?,?,?,?,?,?,?,?,?,?,0)",
                      (_digest(code), self.pool_id, user.sub, client_id, oauth.redirect_uri, oauth.challenge,
                       oauth.scopes, oauth.nonce, int(self.clock.now()), self.clock.now() + OAUTH_CODE_TTL))
        return AuthCode(code, oauth)

    def start_session(self, user: User, client_id: str, scopes: str | None = None, nonce: str | None = None,
                      auth_time: int | None = None) -> Tokens:
        """A new session for a signed-in user: its tokens, with a refresh token. ``scopes`` (an OAuth sign-in's)
        and ``nonce`` go into its tokens and stay with the session."""
        now = int(self.clock.now())
        origin, refresh = str(uuid.uuid4()), secrets.token_urlsafe(96)
        with self.db.write() as c:
            c.execute("INSERT INTO sessions VALUES (?,?,?,?,?,?,?,0)",
                      (origin, self.pool_id, user.sub, client_id, _digest(refresh), auth_time or now,
                       now + self.decl.refresh_token_ttl))
            if scopes is not None:
                c.execute("INSERT INTO session_scopes VALUES (?,?,?)", (origin, scopes, nonce))
        return self._tokens(user, client_id, origin, auth_time or now, refresh, scopes, nonce)

    def _challenge(self, user: User, client_id: str, name: str, parameters: dict[str, str],
                   oauth: Authorization | None) -> Challenge:
        session = secrets.token_urlsafe(96)
        with self._exchanges_lock:
            now = self.clock.now()
            while self._challenges:  # oldest first: every session lives CHALLENGE_TTL, so the expired lead the way
                oldest = next(iter(self._challenges))
                if self._challenges[oldest][3] > now and len(self._challenges) < CHALLENGES_PENDING:
                    break
                del self._challenges[oldest]
            self._challenges[session] = [user.sub, client_id, name, now + CHALLENGE_TTL, 0, oauth]
        return Challenge(name, session, {"USER_ID_FOR_SRP": user.sub, **parameters})

    def holds_session(self, session: str) -> bool:
        """Whether ``session`` is a sign-in of this pool waiting on a challenge's answer."""
        with self._exchanges_lock:
            return session in self._challenges

    def _pending(self, session: str, client_id: str, name: str, username: str, *, hosted: bool,
                 spend: bool = True) -> tuple[User, list[Any]]:
        """The sign-in a challenge session belongs to, if it is live, this client's, waits on ``name``, was begun
        at the same door (the hosted sign-in's pages, or the API: ``hosted``) and is answered for its own user
        (``username`` as typed, any case, or the sub). ``spend``: the session is used up by this answer (a wrong
        MFA code keeps it); nothing spends it before all of that is checked."""
        expired = ServiceError("NotAuthorizedException", "Invalid session for the user, session is expired.")
        with self._exchanges_lock:
            entry = self._challenges.get(session)
        if entry is None or entry[3] <= self.clock.now() or entry[1] != client_id or entry[2] != name or \
                (entry[5] is not None) != hosted:
            raise expired
        user = self._find(entry[0])
        if user is None or not user.enabled or username != user.sub and username.lower() != user.email:
            raise ServiceError("NotAuthorizedException", "Invalid session for the user.")
        if spend:
            with self._exchanges_lock:
                if self._challenges.pop(session, None) is None:  # answered meanwhile: a session answers once
                    raise expired
        return user, entry

    def respond_new_password(self, client_id: str, session: str, username: str, password: str,
                             attributes: dict[str, str], *, hosted: bool = False) -> SignedIn:
        """NEW_PASSWORD_REQUIRED answered: the user's own password (within the policy) replaces the temporary one."""
        self._client(client_id)
        self._check_new_password(password)
        if "email" in _checked_attributes(attributes):
            raise _invalid("Attribute email cannot be set here.")
        user, entry = self._pending(session, client_id, "NEW_PASSWORD_REQUIRED", username, hosted=hosted)
        with self.db.write() as c:
            self._set_password(c, user.sub, password)
            c.execute("UPDATE users SET status='CONFIRMED', attributes=? WHERE pool_id=? AND sub=?",
                      (orjson.dumps({**user.attributes, **attributes}).decode(), self.pool_id, user.sub))
            c.execute("DELETE FROM temporary WHERE pool_id=? AND sub=?", (self.pool_id, user.sub))
        return self._after_password(user, client_id, entry[5])

    def respond_mfa(self, client_id: str, session: str, username: str, code: str, *,
                    hosted: bool = False) -> Tokens | AuthCode:
        """SOFTWARE_TOKEN_MFA answered: the authenticator's code for now (a code already used is refused)."""
        self._client(client_id)
        user, entry = self._pending(session, client_id, "SOFTWARE_TOKEN_MFA", username, hosted=hosted, spend=False)
        with self.db.write() as c:  # wrong codes lock out as wrong passwords do; a right password buys no guesses
            if self._attempts(c, "mfa-failed", user.sub, 86400)[1] > self.clock.now():
                raise ServiceError("NotAuthorizedException", "Password attempts exceeded")
        if not self._use_totp(user.sub, code):
            with self.db.write() as c:
                self._count_failure(c, user.sub, "mfa-failed")
            with self._exchanges_lock:
                entry[4] += 1
                if entry[4] >= MFA_TRIES:
                    self._challenges.pop(session, None)
            raise ServiceError("CodeMismatchException", "Invalid code received for user")
        with self._exchanges_lock:
            if self._challenges.pop(session, None) is None:  # answered meanwhile: a session answers once
                raise ServiceError("NotAuthorizedException", "Invalid session for the user, session is expired.")
        with self.db.write() as c:
            self._forget_attempts(c, "mfa-failed", user.sub)
        return self._signed_in(user, client_id, entry[5])

    def respond_mfa_setup(self, client_id: str, session: str, username: str, *,
                          hosted: bool = False) -> Tokens | AuthCode:
        """MFA_SETUP answered, once VerifySoftwareToken took a code from the new authenticator."""
        self._client(client_id)
        user, entry = self._pending(session, client_id, "MFA_SETUP", username, hosted=hosted, spend=False)
        if self._totp(user.sub) is None:  # the session stays, for the set-up to be done
            raise ServiceError("InvalidParameterException", "Software token MFA is not set up: call "
                               "AssociateSoftwareToken and VerifySoftwareToken with this session first.")
        with self._exchanges_lock:
            if self._challenges.pop(session, None) is None:  # answered meanwhile: a session answers once
                raise ServiceError("NotAuthorizedException", "Invalid session for the user, session is expired.")
        return self._signed_in(user, client_id, entry[5])

    # -- TOTP MFA (an authenticator app): AssociateSoftwareToken, VerifySoftwareToken, SetUserMFAPreference

    def _totp(self, sub: str) -> tuple[str, bool, bool, int] | None:
        row = self.db.conn().execute("SELECT secret, verified, enabled, last_step FROM totp WHERE pool_id=? AND sub=?",
                                     (self.pool_id, sub)).fetchone()
        return None if row is None else (row[0], bool(row[1]), bool(row[2]), row[3])

    def _use_totp(self, sub: str, code: str) -> bool:
        """Whether ``code`` is the user's (verified) authenticator's for now and not used before; a right one is
        spent."""
        with self.db.write() as c:
            row = c.execute("SELECT secret, verified, last_step FROM totp WHERE pool_id=? AND sub=?",
                            (self.pool_id, sub)).fetchone()
            if row is None:
                return False
            step = totp.matching_step(row[0], code, self.clock.now(), after=row[2])
            if step is None:
                return False
            c.execute("UPDATE totp SET last_step=? WHERE pool_id=? AND sub=?", (step, self.pool_id, sub))
        return True

    def _mfa_subject(self, access_token: str | None, session: str | None, *, hosted: bool = False
                     ) -> tuple[User, str | None]:
        """Whose authenticator is set up: the signed-in user of ``access_token``, or the sign-in waiting on
        MFA_SETUP under ``session``, begun at the same door (``hosted``); one or the other, as on Cognito. The
        session is kept: the set-up's last step spends it."""
        if (access_token is None) == (session is None):
            raise _invalid("Send either an AccessToken or a Session, not both.")
        if self.decl.mfa == "off":
            raise _invalid("Software token MFA is not enabled for this user pool (declare mfa=\"optional\" or "
                           "\"required\").")
        if access_token is not None:
            return self.get_user(access_token), None
        assert session is not None
        with self._exchanges_lock:
            entry = self._challenges.get(session)
        if entry is None or entry[2] != "MFA_SETUP" or entry[3] <= self.clock.now() or \
                (entry[5] is not None) != hosted:
            raise ServiceError("NotAuthorizedException", "Invalid session for the user, session is expired.")
        user = self._find(entry[0])
        if user is None or not user.enabled:
            raise ServiceError("NotAuthorizedException", "Invalid session for the user.")
        return user, session

    def associate_software_token(self, access_token: str | None, session: str | None, *, hosted: bool = False,
                                 keep: bool = False) -> tuple[str, str | None]:
        """A new authenticator secret for the user, pending until VerifySoftwareToken takes a code from it (the
        authenticator already verified stays the user's until then, as on Cognito); (SecretCode, Session).
        ``keep``: the pending secret, if there is one (a page shown again keeps the key it showed)."""
        user, session = self._mfa_subject(access_token, session, hosted=hosted)
        row = self.db.conn().execute("SELECT secret FROM totp_pending WHERE pool_id=? AND sub=?",
                                     (self.pool_id, user.sub)).fetchone()
        if keep and row is not None:
            return row[0], session
        secret = totp.new_secret()
        with self.db.write() as c:
            c.execute("INSERT OR REPLACE INTO totp_pending VALUES (?,?,?)", (self.pool_id, user.sub, secret))
        return secret, session

    def verify_software_token(self, access_token: str | None, session: str | None, code: str, *,
                              hosted: bool = False) -> str | None:
        """The pending authenticator's code: right, and it replaces the user's authenticator (Status SUCCESS)."""
        user, session = self._mfa_subject(access_token, session, hosted=hosted)
        with self.db.write() as c:
            row = c.execute("SELECT secret FROM totp_pending WHERE pool_id=? AND sub=?",
                            (self.pool_id, user.sub)).fetchone()
            if row is None:
                raise ServiceError("InvalidParameterException", "No software token is associated: call "
                                   "AssociateSoftwareToken first.")
            step = totp.matching_step(row[0], code, self.clock.now())
            if step is None:
                raise ServiceError("EnableSoftwareTokenMFAException", "Code mismatch")
            c.execute("INSERT INTO totp VALUES (?,?,?,1,0,?) ON CONFLICT (pool_id, sub) DO UPDATE SET "
                      "secret=excluded.secret, last_step=excluded.last_step", (self.pool_id, user.sub, row[0], step))
            c.execute("DELETE FROM totp_pending WHERE pool_id=? AND sub=?", (self.pool_id, user.sub))
        return session

    def set_mfa_preference(self, access_token: str, enabled: bool | None) -> None:
        """SetUserMFAPreference: software token MFA on or off for the signed-in user (off is refused where the
        pool requires MFA, on where it has none); None leaves it."""
        user = self.get_user(access_token)
        if enabled is None:
            return
        if enabled and self.decl.mfa == "off":
            raise _invalid("Software token MFA is not enabled for this user pool.")
        if enabled and self._totp(user.sub) is None:
            raise ServiceError("InvalidParameterException", "User has not verified software token mfa")
        if not enabled and self.decl.mfa == "required":
            raise ServiceError("InvalidParameterException", "MFA is required by this user pool and cannot be "
                               "turned off.")
        with self.db.write() as c:
            c.execute("UPDATE totp SET enabled=? WHERE pool_id=? AND sub=?", (int(enabled), self.pool_id, user.sub))

    def mfa_settings(self, sub: str) -> list[str]:
        found = self._totp(sub) if self.decl.mfa != "off" else None
        return ["SOFTWARE_TOKEN_MFA"] if found and (found[2] or self.decl.mfa == "required") else []

    def _prove(self, subject: str, check: Callable[[], bool]) -> None:
        """A proof of a password for ``subject`` (a user's sub, or a name with no account), under the lock-out:
        NotAuthorizedException unless ``check`` says it is right. The try is counted before it is checked, so
        guesses sent side by side cannot slip past the lock while each is being checked; a right one forgets them."""
        with self.db.write() as c:
            if self._attempts(c, "sign-in-failed", subject, 86400)[1] > self.clock.now():
                raise ServiceError("NotAuthorizedException", "Password attempts exceeded")
            self._count_failure(c, subject)
        if not check():
            raise ServiceError("NotAuthorizedException", "Incorrect username or password.")
        with self.db.write() as c:
            self._forget_attempts(c, "sign-in-failed", subject)

    def _count_failure(self, c: sqlite3.Connection, subject: str, kind: str = "sign-in-failed") -> None:
        """One more failed proof by ``subject`` (a password; with ``kind`` "mfa-failed", an authenticator's code,
        counted apart so a right password does not forget it): from the ``SIGN_IN_FAILURES``th on, they are
        locked out for 1 s, doubling with each, up to ``SIGN_IN_LOCK_MAX``."""
        failures = self._attempts(c, kind, subject, 86400)[0] + 1
        lock = min(2.0 ** (failures - SIGN_IN_FAILURES), SIGN_IN_LOCK_MAX) if failures >= SIGN_IN_FAILURES else 0
        self._count_attempt(c, kind, subject, 86400, self.clock.now() + lock if lock else 0.0)

    # -- SRP sign-in (USER_SRP_AUTH, then the PASSWORD_VERIFIER challenge)

    def _keep_verifier(self, c: sqlite3.Connection, sub: str, password: str) -> None:
        salt = srp.new_salt()
        c.execute("INSERT OR REPLACE INTO srp VALUES (?,?,?,?)",
                  (self.pool_id, sub, salt, f"{srp.verifier(self.pool_name, sub, password, salt):x}"))

    def srp_start(self, client_id: str, username: str, big_a_hex: str) -> dict[str, str]:
        """USER_SRP_AUTH: the PASSWORD_VERIFIER challenge's parameters for the client's ``SRP_A``. A name with no
        account gets a challenge alike (a salt and verifier made from the name), which no proof answers."""
        self._client(client_id)
        user = self._find(_check_username(username))
        if not HEX.fullmatch(big_a_hex) or int(big_a_hex, 16) % srp.N == 0:
            raise _invalid("SRP_A is not a valid SRP public value (1 to 1024 hexadecimal digits, not 0 mod N).")
        big_a = int(big_a_hex, 16)
        row = user and self.db.conn().execute("SELECT salt, verifier FROM srp WHERE pool_id=? AND sub=?",
                                              (self.pool_id, user.sub)).fetchone()
        # a name with no account (or one from before SRP whose password has not been seen since) gets an id, a
        # salt and a verifier made from the name, which no proof answers; each looks as a user's does, and both
        # paths take the same work, so neither the answer nor its time tells whether an account exists
        name = username.lower().encode()
        stranger = lambda label: hmac.new(self._stranger_key, label + b"\x00" + name, hashlib.sha256).digest()  # noqa: E731
        salt = srp.salt_of(int.from_bytes(stranger(b"srp salt")[:16], "big"))
        v = pow(srp.G, int.from_bytes(stranger(b"srp verifier"), "big"), srp.N)
        user_id = user.sub if user is not None else str(uuid.UUID(bytes=stranger(b"srp id")[:16], version=4))
        if row:
            salt, v = row[0], int(row[1], 16)
        exchange = srp.Exchange(big_a, v)
        block = secrets.token_bytes(48)
        with self._exchanges_lock:
            now = self.clock.now()
            while self._exchanges:  # oldest first: every exchange lives SRP_TTL, so the expired lead the way
                oldest = next(iter(self._exchanges))
                if self._exchanges[oldest][3] > now and len(self._exchanges) < SRP_PENDING:
                    break
                del self._exchanges[oldest]
            self._exchanges[block] = (exchange, user_id, client_id, now + SRP_TTL)
        return {"SALT": salt, "SRP_B": f"{exchange.big_b:x}", "SECRET_BLOCK": base64.b64encode(block).decode(),
                "USERNAME": user_id, "USER_ID_FOR_SRP": user_id}

    def srp_respond(self, client_id: str, responses: dict[str, str]) -> SignedIn:
        """The PASSWORD_VERIFIER challenge answered: the signature checked against the exchange the secret block
        names (once: a block is spent by its first answer, right or wrong), then signed in as any sign-in."""
        self._client(client_id)
        try:
            block = base64.b64decode(responses.get("PASSWORD_CLAIM_SECRET_BLOCK", ""), validate=True)
            signature = base64.b64decode(responses.get("PASSWORD_CLAIM_SIGNATURE", ""), validate=True)
        except ValueError:
            raise ServiceError("NotAuthorizedException", "Incorrect username or password.") from None
        with self._exchanges_lock:
            pending = self._exchanges.pop(block, None)
        username = responses.get("USERNAME", "")
        if pending is None or pending[3] <= self.clock.now() or pending[2] != client_id or pending[1] != username:
            raise ServiceError("NotAuthorizedException", "Incorrect username or password.")
        exchange, user_id = pending[0], pending[1]
        stamp = responses.get("TIMESTAMP", "")
        when = srp.parse_timestamp(stamp)
        if when is None or abs(when - self.clock.now()) > srp.SKEW:
            raise ServiceError("NotAuthorizedException", "Incorrect username or password.")

        def check(user: User | None) -> bool:
            expected = exchange.proof(self.pool_name, user_id, block, stamp)
            return hmac.compare_digest(expected, signature) and user is not None and user.sub == user_id
        return self._sign_in(client_id, user_id, check)

    def refresh_auth(self, client_id: str, refresh_token: str) -> Tokens:
        """REFRESH_TOKEN_AUTH: new access and ID tokens in the refresh token's session, while it is live."""
        self._client(client_id)
        row = self.db.conn().execute(
            "SELECT origin_jti, sub, client_id, auth_time, expires, revoked FROM sessions WHERE refresh=? AND pool_id=?",
            (_digest(refresh_token), self.pool_id)).fetchone()
        if row is None or row[2] != client_id:
            raise ServiceError("NotAuthorizedException", "Invalid Refresh Token")
        origin, sub, _, auth_time, expires, revoked = row
        if revoked:
            raise ServiceError("NotAuthorizedException", "Refresh Token has been revoked")
        if self.clock.now() >= expires:
            raise ServiceError("NotAuthorizedException", "Refresh Token has expired")
        user = self._find(sub)
        if user is None:
            raise ServiceError("NotAuthorizedException", "Invalid Refresh Token")
        if not user.enabled:
            raise ServiceError("NotAuthorizedException", "User is disabled.")
        kept = self.db.conn().execute("SELECT scopes FROM session_scopes WHERE origin_jti=?", (origin,)).fetchone()
        return self._tokens(user, client_id, origin, auth_time, scopes=kept[0] if kept else None)

    def _tokens(self, user: User, client_id: str, origin: str, auth_time: int, refresh: str | None = None,
                scopes: str | None = None, nonce: str | None = None) -> Tokens:
        """A session's access and ID tokens. ``scopes``: an OAuth sign-in's (space-separated); None: an API
        sign-in's, ``aws.cognito.signin.user.admin``. ``cognito:groups`` names the user's groups, if any."""
        now = int(self.clock.now())
        event = str(uuid.uuid4())
        common: dict[str, Any] = {"sub": user.sub, "iss": self.issuer, "origin_jti": origin, "event_id": event,
                                  "auth_time": auth_time, "iat": now}
        groups = self.groups_of(user.sub)
        if groups:
            common["cognito:groups"] = groups
        access = {**common, "client_id": client_id, "token_use": "access", "scope": scopes or USER_SCOPE,
                  "exp": now + self.decl.access_token_ttl, "jti": str(uuid.uuid4()), "username": user.sub}
        ident = {**common, "aud": client_id, "token_use": "id", "email": user.email, "email_verified": True,
                 "cognito:username": user.sub, "exp": now + self.decl.id_token_ttl, "jti": str(uuid.uuid4())}
        if nonce is not None:
            ident["nonce"] = nonce
        hdr = {"kid": self.key.kid}
        return Tokens(jwt.encode(access, self.key.private, algorithm="RS256", headers=hdr),
                      jwt.encode(ident, self.key.private, algorithm="RS256", headers=hdr),
                      self.decl.access_token_ttl, refresh, scopes)

    def attribute_map(self, user: User) -> dict[str, str]:
        """A user's attributes as Cognito lists them (sub and email_verified with the rest)."""
        return {"sub": user.sub, "email_verified": "true", **dict(sorted(user.attributes.items()))}

    # -- attributes: UpdateUserAttributes, GetUserAttributeVerificationCode, VerifyUserAttribute
    #
    # A changed email is verified before it counts (Cognito's AttributesRequireVerificationBeforeUpdate): the
    # user keeps signing in with the old address until the code mailed to the new one is given back.

    def update_attributes(self, access_token: str, attributes: dict[str, str]) -> list[CodeDelivery]:
        user = self.get_user(access_token)
        changed = _checked_attributes(attributes)
        email = changed.pop("email", None)
        if email is not None and not EMAIL.match(email):
            raise _invalid("Invalid email address format.")
        moving = email is not None and email.lower() != user.email
        with self.db.write() as c:  # all or nothing: a refused email change writes no other attribute
            if moving:  # each change mails a code: as many as resends allow
                self._count_resend(c, user.sub)
                c.execute("INSERT OR REPLACE INTO pending_email VALUES (?,?,?)",
                          (self.pool_id, user.sub, str(email).lower()))
            if changed:
                c.execute("UPDATE users SET attributes=? WHERE pool_id=? AND sub=?",
                          (orjson.dumps({**user.attributes, **changed}).decode(), self.pool_id, user.sub))
        return [self._send_code(user, "email", str(email).lower())] if moving else []

    def attribute_code(self, access_token: str, attribute: str) -> CodeDelivery:
        """GetUserAttributeVerificationCode: a code to verify the email (the new one, while a change waits)."""
        user = self.get_user(access_token)
        if attribute != "email":
            raise _invalid(f"Only the email attribute is verified by code here, not {attribute}.")
        with self.db.write() as c:
            self._count_resend(c, user.sub)
        row = self.db.conn().execute("SELECT email FROM pending_email WHERE pool_id=? AND sub=?",
                                     (self.pool_id, user.sub)).fetchone()
        return self._send_code(user, "email", row[0] if row else user.email)

    def _count_resend(self, c: sqlite3.Connection, subject: str, kind: str = "resent") -> None:
        """One more code of ``kind`` mailed to ``subject``: ``RESENDS_PER_HOUR`` an hour, then
        LimitExceededException."""
        if self._attempts(c, kind, subject, 3600)[0] >= RESENDS_PER_HOUR:
            raise ServiceError("LimitExceededException", "Attempt limit exceeded, please try after some time.")
        self._count_attempt(c, kind, subject, 3600)

    def verify_attribute(self, access_token: str, attribute: str, code: str) -> None:
        """VerifyUserAttribute: the email code given back; a waiting new address becomes the user's."""
        user = self.get_user(access_token)
        if attribute != "email":
            raise _invalid(f"Only the email attribute is verified by code here, not {attribute}.")
        if not re.fullmatch(r"\S{1,2048}", code):
            raise _invalid("Code must be a non-empty string.")
        row = self.db.conn().execute("SELECT email FROM pending_email WHERE pool_id=? AND sub=?",
                                     (self.pool_id, user.sub)).fetchone()
        address = row[0] if row else user.email

        def swap(c: sqlite3.Connection) -> None:
            if address == user.email:
                return
            c.execute("UPDATE users SET email=?, attributes=? WHERE pool_id=? AND sub=?",
                      (address, orjson.dumps({**user.attributes, "email": address}).decode(), self.pool_id, user.sub))
            c.execute("DELETE FROM pending_email WHERE pool_id=? AND sub=?", (self.pool_id, user.sub))
        try:
            self._use_code(user, code, "email " + address, "confirm-failed", swap)
        except sqlite3.IntegrityError:
            raise ServiceError("AliasExistsException", "An account with the given email already exists.") from None

    def _session_claims(self, token: str) -> dict[str, Any]:
        """Claims of a live access token, as GetUser and GlobalSignOut require."""
        try:
            claims = self.verifier.verify(token, token_use="access", client_ids=self.client_ids)
        except TokenRejected as exc:
            msg = "Access Token has expired" if "expired" in str(exc) else "Invalid Access Token"
            raise ServiceError("NotAuthorizedException", msg) from exc
        if USER_SCOPE not in str(claims.get("scope", "")).split():
            raise ServiceError("NotAuthorizedException", "Access Token does not have required scopes")
        row = self.db.conn().execute("SELECT revoked FROM sessions WHERE origin_jti=?",
                                     (claims.get("origin_jti"),)).fetchone()
        if row is None or row[0]:
            raise ServiceError("NotAuthorizedException", "Access Token has been revoked")
        return claims

    def get_user(self, access_token: str) -> User:
        user = self._find(self._session_claims(access_token)["sub"])
        if user is None:
            raise ServiceError("UserNotFoundException", "User does not exist.")
        if not user.enabled:
            raise ServiceError("NotAuthorizedException", "User is disabled.")
        return user

    def global_sign_out(self, access_token: str) -> None:
        claims = self._session_claims(access_token)
        with self.db.write() as c:
            c.execute("UPDATE sessions SET revoked=1 WHERE pool_id=? AND sub=?", (self.pool_id, claims["sub"]))

    def delete_user(self, access_token: str) -> None:
        """DeleteUser: the signed-in user's account gone, with its sessions, codes and verifier (the email may sign
        up again)."""
        self._remove(self._session_claims(access_token)["sub"])

    def _remove(self, sub: str) -> None:
        with self.db.write() as c:
            for table in USER_TABLES:
                c.execute(f"DELETE FROM {table} WHERE pool_id=? AND sub=?", (self.pool_id, sub))
            c.execute("DELETE FROM attempts WHERE pool_id=? AND subject=?", (self.pool_id, sub))

    def revoke_token(self, client_id: str, token: str) -> None:
        """RevokeToken: a refresh token, and every access and ID token of its session, revoked. A token that names
        no session of this client is answered alike (nothing tells which tokens exist)."""
        self._client(client_id)
        if token.count(".") == 2:  # a JWT: an access or ID token, which Cognito does not revoke alone
            raise ServiceError("UnsupportedTokenTypeException", "Only refresh tokens can be revoked.")
        with self.db.write() as c:
            c.execute("UPDATE sessions SET revoked=1 WHERE refresh=? AND pool_id=? AND client_id=?",
                      (_digest(token), self.pool_id, client_id))

    # -- OAuth 2.0 at the hosted sign-in: codes, client credentials, userInfo

    def oauth_scopes(self, client_id: str) -> tuple[str, ...]:
        """The scopes a client may ask for: a machine client's, or the hosted sign-in's for a public one."""
        for name, cid in self.machine_clients.items():
            if cid == client_id:
                return tuple(self.decl.machine_clients[name])
        return self.decl.hosted.scopes if self.decl.hosted is not None and client_id in self.clients.values() else ()

    def redeem_code(self, client_id: str, code: str, redirect_uri: str, verifier: str | None) -> Tokens:
        """The authorization_code grant: a code (once, within OAUTH_CODE_TTL, by the client it was issued to, with
        the same redirect URI and, if the sign-in sent a PKCE challenge, the verifier that hashes to it) for a
        new session's tokens. Every refusal is OAuth's ``invalid_grant``."""
        def refuse(why: str) -> ServiceError:
            return ServiceError("invalid_grant", why)
        with self.db.write() as c:
            row = c.execute("SELECT sub, client_id, redirect_uri, challenge, scopes, nonce, auth_time, expires, used "
                            "FROM oauth_codes WHERE digest=? AND pool_id=?", (_digest(code), self.pool_id)).fetchone()
            if row is None:
                raise refuse("the code is not one this pool issued")
            c.execute("UPDATE oauth_codes SET used=1 WHERE digest=?", (_digest(code),))  # spent, whatever follows
        sub, owner, uri, challenge, scopes, nonce, auth_time, expires, used = row
        if used:
            raise refuse("the code was already used")
        if self.clock.now() >= expires:
            raise refuse("the code has expired")
        if owner != client_id or uri != redirect_uri:
            raise refuse("the code was issued to another client or redirect_uri")
        if challenge is not None:
            digest = base64.urlsafe_b64encode(hashlib.sha256((verifier or "").encode()).digest()).rstrip(b"=")
            if verifier is None or not VERIFIER.fullmatch(verifier) or not hmac.compare_digest(digest,
                                                                                                challenge.encode()):
                raise refuse("code_verifier does not match the code_challenge")
        elif verifier is not None:
            raise refuse("the sign-in sent no code_challenge")
        user = self._find(sub)
        if user is None or not user.enabled:
            raise refuse("the user no longer signs in")
        return self.start_session(user, client_id, scopes, nonce, auth_time)

    def client_credentials(self, client_id: str, secret: str, scopes: list[str] | None) -> tuple[str, int]:
        """The client_credentials grant: a machine client, proven by its secret, gets an access token for the
        scopes asked (each allowed to it; all of them when none are asked): (token, seconds it lasts)."""
        row = self.db.conn().execute("SELECT secret FROM client_secrets WHERE client_id=? AND pool_id=?",
                                     (client_id, self.pool_id)).fetchone()
        if row is None or not hmac.compare_digest(row[0].encode(), secret.encode()):
            raise ServiceError("invalid_client", "client authentication failed", 401)
        allowed = self.oauth_scopes(client_id)
        wanted = scopes if scopes else list(allowed)
        if not wanted or any(s not in allowed for s in wanted):
            raise ServiceError("invalid_scope", "a scope asked for is not allowed to this client")
        now = int(self.clock.now())
        claims = {"sub": client_id, "token_use": "access", "scope": " ".join(wanted), "auth_time": now,
                  "iss": self.issuer, "exp": now + self.decl.access_token_ttl, "iat": now, "version": 2,
                  "jti": str(uuid.uuid4()), "client_id": client_id}
        return jwt.encode(claims, self.key.private, algorithm="RS256", headers={"kid": self.key.kid}), \
            self.decl.access_token_ttl

    def user_info(self, access_token: str) -> dict[str, Any]:
        """/oauth2/userInfo: the signed-in user's claims, for an access token of a live session with ``openid``."""
        try:
            claims = self.verifier.verify(access_token, token_use="access", client_ids=self.client_ids)
        except TokenRejected as exc:
            raise ServiceError("invalid_token", str(exc), 401) from exc
        held = str(claims.get("scope", "")).split()
        if "openid" not in held and USER_SCOPE not in held:
            raise ServiceError("invalid_token", "the access token has neither the openid scope nor "
                               f"{USER_SCOPE}", 401)
        row = self.db.conn().execute("SELECT revoked FROM sessions WHERE origin_jti=?",
                                     (claims.get("origin_jti"),)).fetchone()
        user = self._find(claims["sub"]) if row is not None and not row[0] else None
        if user is None or not user.enabled:
            raise ServiceError("invalid_token", "the access token has been revoked", 401)
        out = {"sub": user.sub, "username": user.sub}
        if "email" in held or USER_SCOPE in held:
            out.update(email=user.email, email_verified="true")
        if "profile" in held or USER_SCOPE in held:
            out.update({k: v for k, v in user.attributes.items() if k not in ("email", "phone_number")})
        if ("phone" in held or USER_SCOPE in held) and "phone_number" in user.attributes:
            out["phone_number"] = user.attributes["phone_number"]
        return out

    # -- the operator's operations (the admin credentials, SigV4): users, groups, clients

    def admin_user(self, username: str) -> User:
        user = self._find(_check_username(username))
        if user is None:
            raise ServiceError("UserNotFoundException", "User does not exist.")
        return user

    def admin_create_user(self, username: str, attributes: dict[str, str], temporary: str | None,
                          action: str | None) -> User:
        """AdminCreateUser: an account that signs in first with a temporary password (mailed unless ``action`` is
        SUPPRESS) and must then choose its own (NEW_PASSWORD_REQUIRED). ``action`` RESEND mails a new temporary
        password to an account still waiting for its first sign-in."""
        _check_username(username)
        if action not in (None, "SUPPRESS", "RESEND"):
            raise _invalid("MessageAction must be SUPPRESS or RESEND.")
        if not EMAIL.match(username):
            raise _invalid("Username should be an email.")
        attrs = _checked_attributes({k: v for k, v in attributes.items() if k != "email_verified"})
        if attrs.get("email", username).lower() != username.lower():
            raise _invalid("The email attribute must match the username.")
        attrs["email"] = username.lower()
        if temporary is not None:
            self._check_new_password(temporary)
        password = temporary or self._temporary_password()
        if action == "RESEND":
            user = self.admin_user(username)
            if user.status != "FORCE_CHANGE_PASSWORD":
                raise ServiceError("UnsupportedUserStateException", f"Resend not possible. {user.sub} status is "
                                   f"not FORCE_CHANGE_PASSWORD.")
            with self.db.write() as c:
                self._set_password(c, user.sub, password, temporary=True)
        else:
            user = User(str(uuid.uuid4()), attrs["email"], "FORCE_CHANGE_PASSWORD", attrs, created=self.clock.now())
            try:
                with self.db.write() as c:
                    c.execute("INSERT INTO users VALUES (?,?,?,?,?,?,?)",
                              (self.pool_id, user.sub, user.email, "", user.status, orjson.dumps(attrs).decode(),
                               user.created))
                    self._set_password(c, user.sub, password, temporary=True)
            except sqlite3.IntegrityError:
                raise ServiceError("UsernameExistsException", "An account with the given email already exists.") \
                    from None
        if action != "SUPPRESS":
            try:
                self.mailer.send(Mail(to=user.email, subject="Your temporary password", sender=CODE_SENDER,
                                      text=f"Your username is {user.email} and temporary password is {password}."))
            except Exception as exc:
                log.warning("user pool %s: the invitation to %s was not delivered: %s", self.pool_id, user.email, exc)
                raise ServiceError("CodeDeliveryFailureException",
                                   f"Unable to deliver the invitation: {type(exc).__name__}") from exc
        return self.admin_user(user.sub)

    def _temporary_password(self) -> str:
        """A temporary password within the pool's policy: random letters and digits, with one of each class."""
        p = self.decl.password_policy
        alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
        body = "".join(secrets.choice(alphabet) for _ in range(max(12, p.min_length)))
        return body + secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") + secrets.choice("abcdefghijkmnopqrstuvwxyz") + \
            secrets.choice("23456789") + secrets.choice("^$*[]{}()?!@#%&")

    def admin_set_password(self, username: str, password: str, permanent: bool) -> None:
        """AdminSetUserPassword: a permanent password confirms the account; a temporary one must be changed at the
        next sign-in."""
        user = self.admin_user(username)
        self._check_new_password(password)
        with self.db.write() as c:
            self._set_password(c, user.sub, password, temporary=not permanent)
            c.execute("UPDATE users SET status=? WHERE pool_id=? AND sub=?",
                      ("CONFIRMED" if permanent else "FORCE_CHANGE_PASSWORD", self.pool_id, user.sub))
            if permanent:
                c.execute("DELETE FROM temporary WHERE pool_id=? AND sub=?", (self.pool_id, user.sub))

    def admin_confirm_sign_up(self, username: str) -> None:
        user = self.admin_user(username)
        if user.status != "UNCONFIRMED":
            raise ServiceError("NotAuthorizedException", f"User cannot be confirmed. Current status is {user.status}")
        with self.db.write() as c:
            c.execute("UPDATE users SET status='CONFIRMED' WHERE pool_id=? AND sub=?", (self.pool_id, user.sub))
            c.execute("DELETE FROM codes WHERE pool_id=? AND sub=?", (self.pool_id, user.sub))

    def admin_delete_user(self, username: str) -> None:
        self._remove(self.admin_user(username).sub)

    def admin_sign_out(self, username: str) -> None:
        """AdminUserGlobalSignOut: every session of the user revoked (refresh tokens, and the access tokens' use at
        the user pool)."""
        sub = self.admin_user(username).sub
        with self.db.write() as c:
            c.execute("UPDATE sessions SET revoked=1 WHERE pool_id=? AND sub=?", (self.pool_id, sub))

    def admin_enable(self, username: str, enabled: bool) -> None:
        """AdminEnableUser / AdminDisableUser: a disabled user cannot sign in, and their sessions are revoked."""
        sub = self.admin_user(username).sub
        with self.db.write() as c:
            if enabled:
                c.execute("DELETE FROM disabled WHERE pool_id=? AND sub=?", (self.pool_id, sub))
            else:
                c.execute("INSERT OR IGNORE INTO disabled VALUES (?,?)", (self.pool_id, sub))
                c.execute("UPDATE sessions SET revoked=1 WHERE pool_id=? AND sub=?", (self.pool_id, sub))

    def _group(self, group: str) -> str:
        if group not in self.decl.groups:
            raise ServiceError("ResourceNotFoundException", "Group not found.")
        return group

    def admin_group_member(self, username: str, group: str, member: bool) -> None:
        """AdminAddUserToGroup / AdminRemoveUserFromGroup; tokens issued from then on say so."""
        group = self._group(group)
        sub = self.admin_user(username).sub
        with self.db.write() as c:
            if member:
                c.execute("INSERT OR IGNORE INTO memberships VALUES (?,?,?)", (self.pool_id, sub, group))
            else:
                c.execute("DELETE FROM memberships WHERE pool_id=? AND sub=? AND grp=?", (self.pool_id, sub, group))

    def list_users(self, filter_: str | None, limit: int | None, token: str | None,
                   group: str | None = None) -> tuple[list[User], str | None]:
        """ListUsers (with Cognito's filter: ``attribute = "value"`` or ``attribute ^= "prefix"``) or, given a
        ``group``, ListUsersInGroup: a page of users by sub, and the token of the next page."""
        if limit is not None and not 0 <= limit <= LIST_LIMIT:
            raise _invalid(f"Limit must be 0 to {LIST_LIMIT}.")
        after = _page_after(token)
        sql = ("SELECT u.sub FROM users u WHERE u.pool_id=? AND u.sub>?" if group is None else
               "SELECT m.sub FROM memberships m WHERE m.pool_id=? AND m.sub>? AND m.grp=?")
        args: list[Any] = [self.pool_id, after] + ([] if group is None else [self._group(group)])
        test = _user_filter(filter_) if filter_ else None
        page: list[User] = []
        want = limit or LIST_LIMIT
        for (sub,) in self.db.conn().execute(sql + " ORDER BY 1", args):
            user = self._find(sub)
            if user is None or test is not None and not test(self._filter_view(user)):
                continue
            if len(page) == want:
                return page, _page_token(page[-1].sub)
            page.append(user)
        return page, None

    def _filter_view(self, user: User) -> dict[str, str]:
        return {**self.attribute_map(user), "username": user.sub, "cognito:user_status": user.status,
                "status": "Enabled" if user.enabled else "Disabled"}

    def list_groups(self) -> list[str]:
        return list(self.decl.groups)

    def describe_client(self, client_id: str) -> ClientInfo:
        for name, cid in {**self.clients, **self.machine_clients}.items():
            if cid == client_id:
                row = self.db.conn().execute("SELECT secret FROM client_secrets WHERE client_id=?",
                                             (cid,)).fetchone()
                scopes = self.decl.machine_clients.get(name) or (self.decl.hosted.scopes if self.decl.hosted else ())
                return ClientInfo(cid, name, row[0] if row else None, tuple(scopes))
        raise ServiceError("ResourceNotFoundException", f"User pool client {client_id} does not exist.")


def _page_token(sub: str) -> str:
    return base64.urlsafe_b64encode(sub.encode()).decode()


def _page_after(token: str | None) -> str:
    if token is None:
        return ""
    try:
        return base64.b64decode(token.encode("ascii"), altchars=b"-_", validate=True).decode()
    except (ValueError, UnicodeError):
        raise _invalid("The pagination token is invalid.") from None


_FILTER = re.compile(r'\s*([\w:]+)\s*(=|\^=)\s*"((?:[^"\\]|\\.)*)"\s*\Z')
FILTER_ATTRIBUTES = ("username", "email", "phone_number", "name", "given_name", "family_name", "preferred_username",
                     "cognito:user_status", "status", "sub")


def _user_filter(text: str) -> Callable[[dict[str, str]], bool]:
    """ListUsers' ``Filter`` as a test of a user's attributes: ``name = "value"`` (exact) or ``name ^= "prefix"``."""
    m = _FILTER.match(text)
    if m is None or len(text) > 256:
        raise _invalid(f'Invalid filter {text[:64]!r}: use attribute = "value" or attribute ^= "prefix".')
    name, op, value = m.group(1), m.group(2), re.sub(r"\\(.)", r"\1", m.group(3))
    if name not in FILTER_ATTRIBUTES:
        raise _invalid(f"Invalid search attribute {name}; one of {', '.join(FILTER_ATTRIBUTES)}.")
    if op == "=":
        return lambda attrs: attrs.get(name) == value
    return lambda attrs: attrs.get(name, "").startswith(value)


def _checked_attributes(attributes: dict[str, str]) -> dict[str, str]:
    """User attributes a user or operator may set: the standard ones (``sub`` and ``email_verified`` are the pool's),
    each at most 2048 characters, as Cognito's schema has them."""
    for name, value in attributes.items():
        if name not in STANDARD_ATTRIBUTES:
            raise _invalid(f"Cannot modify the non-mutable attribute {name}" if name in ("sub", "email_verified")
                           else f"Attribute does not exist in the schema: {name}")
        if len(value) > 2048:
            raise _invalid(f"Attribute {name} is longer than 2048 characters.")
    return dict(attributes)


def _check_password_shape(password: str) -> None:
    if not 1 <= len(password) <= 256 or password != password.strip():
        raise _invalid("Password must be 1-256 characters without leading or trailing whitespace.")


def _check_username(username: str) -> str:
    if not 1 <= len(username) <= 128:
        raise _invalid("Username must be a string of 1-128 characters.")
    return username
