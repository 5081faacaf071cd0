"""Who the users are: user pools (Cognito user pools) and identity pools (Cognito identity pools)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlsplit

from ..errors import ConfigError
from ._base import Resource, check_name

_SYMBOLS = frozenset("^$*.[]{}()?\"!@#%&/\\,><':;|_~`=+- ")


@dataclass(frozen=True)
class PasswordPolicy:
    """What a user pool's passwords must have: ``app.user_pool(..., password_policy=PasswordPolicy(...))``.

    The same policy on Cognito, which counts only ASCII letters and digits in each class.

    - ``min_length``: the fewest characters; default 8.
    - ``require_uppercase``: at least one of A-Z; default True.
    - ``require_lowercase``: at least one of a-z; default True.
    - ``require_digits``: at least one of 0-9; default True.
    - ``require_symbols``: at least one of the 32 symbols Cognito counts (``!``, ``@``, ``#``, ...) or a space;
      default False.
    """

    min_length: int = 8
    require_uppercase: bool = True
    require_lowercase: bool = True
    require_digits: bool = True
    require_symbols: bool = False

    def problems(self, password: str) -> list[str]:
        """What ``password`` lacks; Cognito counts only ASCII letters and digits in each class."""
        out = []
        if len(password) < self.min_length:
            out.append(f"Password not long enough (minimum {self.min_length})")
        if self.require_uppercase and not any("A" <= c <= "Z" for c in password):
            out.append("Password must have uppercase characters")
        if self.require_lowercase and not any("a" <= c <= "z" for c in password):
            out.append("Password must have lowercase characters")
        if self.require_digits and not any("0" <= c <= "9" for c in password):
            out.append("Password must have numeric characters")
        if self.require_symbols and not any(c in _SYMBOLS for c in password):
            out.append("Password must have symbol characters")
        return out


AUTH_FLOWS = {"user_srp": "USER_SRP_AUTH", "user_password": "USER_PASSWORD_AUTH"}  # as declared: Cognito's name
MFA_MODES = ("off", "optional", "required")
USER_SCOPE = "aws.cognito.signin.user.admin"  # what a sign-in's access token carries: the user's own operations
STANDARD_SCOPES = frozenset({"openid", "email", "profile", "phone", USER_SCOPE})
_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
_SCOPE_NAME = re.compile(r"[\x21\x23-\x2e\x30-\x5b\x5d-\x7e]{1,256}\Z")  # Cognito's: printable, no quote, / or \\
_SERVER_ID = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]{1,256}\Z")


@dataclass(frozen=True)
class HostedSignIn:
    """A user pool's hosted sign-in (a Cognito user pool domain, with OAuth 2.0 and OpenID Connect):
    ``app.user_pool(..., hosted=HostedSignIn(...))``.

    It serves ``/oauth2/authorize`` (the authorization code grant, with PKCE), ``/oauth2/token``,
    ``/oauth2/userInfo``, ``/logout`` and a sign-in and sign-up page, for the pool's app clients. Locally at the
    ``domain`` URL ``endpoints.json`` gives; on AWS at ``https://<domain>.auth.<region>.amazoncognito.com``.

    - ``domain``: the domain prefix: 1-63 of a-z, 0-9 and '-', not starting or ending with '-', without
      ``aws``, ``amazon`` or ``cognito`` in it (Cognito's rules).
    - ``callback_urls``: where a sign-in may send the user back with a code: https URLs, or http ones on
      ``localhost`` (Cognito's rule); at least one.
    - ``logout_urls``: where ``/logout`` may send the user; default none.
    - ``scopes``: the OAuth scopes the app clients may ask for: ``openid``, ``email``, ``profile``, ``phone``,
      ``aws.cognito.signin.user.admin`` (which the APIs' routes take by default) and the pool's resource servers'
      scopes (``"orders/read"``); default the first three and ``aws.cognito.signin.user.admin``.
    """

    domain: str
    callback_urls: tuple[str, ...]
    logout_urls: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ("openid", "email", "profile", USER_SCOPE)

    def __post_init__(self) -> None:
        if not isinstance(self.domain, str) or not _DOMAIN.match(self.domain) or any(
                w in self.domain for w in ("aws", "amazon", "cognito")):
            raise ConfigError(f"hosted sign-in domain {self.domain!r}: use 1-63 of a-z, 0-9 and '-', not at either "
                              "end, without 'aws', 'amazon' or 'cognito' (Cognito's rules)")
        if isinstance(self.callback_urls, str) or not self.callback_urls:
            raise ConfigError(f"hosted sign-in {self.domain!r}: callback_urls must be a tuple of at least one URL")
        for url in (*self.callback_urls, *self.logout_urls):
            check_redirect_url(url, f"hosted sign-in {self.domain!r}")
        if isinstance(self.scopes, str) or "openid" not in self.scopes and any(
                s in self.scopes for s in ("email", "profile", "phone")):
            raise ConfigError(f"hosted sign-in {self.domain!r}: scopes must be a tuple; email, profile and phone "
                              "need openid (as on Cognito)")


def check_redirect_url(url: str, where: str) -> str:
    """A callback or logout URL as Cognito takes one: absolute, without a fragment; https, http only on
    ``localhost``, or an app's own scheme (``myapp://callback``), never a scheme a browser runs or reads."""
    parts = urlsplit(url) if isinstance(url, str) else None
    ok = parts is not None and not parts.fragment and len(url) <= 1024 and bool(parts.scheme) and (
        parts.scheme == "https" and bool(parts.netloc) or parts.scheme == "http" and parts.hostname == "localhost"
        or parts.scheme not in ("http", "https", "javascript", "data", "file", "vbscript", "blob", "about")
        and bool(parts.netloc or parts.path))
    if not ok:
        raise ConfigError(f"{where}: redirect URL {url!r} must be absolute: https, http on localhost only, or an "
                          "app's own scheme (myapp://...), without a #fragment")
    return url


@dataclass(eq=False, repr=False)
class UserPool(Resource):
    """A managed user pool (Cognito user pool): self sign-up, email verification, JWTs.

    Declared with ``app.user_pool(...)``, which lists its options. Users sign up with their email address
    as the user name, as with Cognito's ``UsernameAttributes=[email]``; ``cognito:username`` is then the
    user's sub.

    Endpoints facts: ``{"id": pool id, "clients": {name: client id}, "issuer": URL}``, with
    ``"machine_clients": {name: client id}`` and ``"domain": URL`` (the hosted sign-in's) when declared.
    """

    kind: ClassVar[str] = "user_pool"
    endpoints_group: ClassVar[str | None] = "user_pools"
    name: str
    password_policy: PasswordPolicy = field(default_factory=PasswordPolicy)
    clients: tuple[str, ...] = ("app",)
    auth_flows: tuple[str, ...] = ("user_srp", "user_password")
    groups: tuple[str, ...] = ()
    mfa: str = "off"
    hosted: HostedSignIn | None = None
    resource_servers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    machine_clients: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    code_ttl: int = 24 * 3600
    access_token_ttl: int = 3600
    id_token_ttl: int = 3600
    refresh_token_ttl: int = 30 * 24 * 3600

    def __post_init__(self) -> None:
        check_name(self.kind, self.name)
        for c in self.clients:
            check_name("user pool client", c)
        if not self.clients:
            raise ConfigError(f"user pool {self.name!r}: declare at least one client")
        for flow in self.auth_flows:
            if flow not in AUTH_FLOWS:
                raise ConfigError(f"user pool {self.name!r}: auth flow {flow!r} is not one of "
                                  f"{', '.join(sorted(AUTH_FLOWS))}")
        if not self.auth_flows:
            raise ConfigError(f"user pool {self.name!r}: allow at least one auth flow (user_srp, user_password)")
        for g in self.groups:
            # no comma: API Gateway hands a function a member's groups as one string, "a,b" or "[a b]"
            if not isinstance(g, str) or not re.fullmatch(r"[\w+=.@-]{1,128}", g):
                raise ConfigError(f"user pool {self.name!r}: group name {g!r}: 1-128 of letters, digits and +=.@_-")
        if len(set(self.groups)) != len(self.groups) or isinstance(self.groups, str):
            raise ConfigError(f"user pool {self.name!r}: groups must be a tuple of distinct names")
        if self.mfa not in MFA_MODES:
            raise ConfigError(f"user pool {self.name!r}: mfa must be one of {', '.join(MFA_MODES)}, not {self.mfa!r}")
        for server, names in self.resource_servers.items():
            if not isinstance(server, str) or not _SERVER_ID.match(server) or isinstance(names, str) or not all(
                    isinstance(n, str) and _SCOPE_NAME.match(n) for n in names):
                raise ConfigError(f"user pool {self.name!r}: resource server {server!r}: an identifier and a tuple "
                                  "of scope names (printable, without '/', '\\' or '\"')")
        for client, wanted in self.machine_clients.items():
            check_name("user pool machine client", client)
            if client in self.clients:
                raise ConfigError(f"user pool {self.name!r}: {client!r} is both an app client and a machine client")
            if isinstance(wanted, str) or not wanted:
                raise ConfigError(f"user pool {self.name!r}: machine client {client!r} needs a tuple of scopes")
            for scope in wanted:
                if scope not in self.custom_scopes:
                    raise ConfigError(f"user pool {self.name!r}: machine client {client!r} asks for scope {scope!r}, "
                                      "which no resource server declares (\"<server>/<scope>\")")
        if self.machine_clients and self.hosted is None:
            raise ConfigError(f"user pool {self.name!r}: machine_clients ({', '.join(self.machine_clients)}) get "
                              "their tokens from the pool's domain (/oauth2/token): declare hosted=HostedSignIn(...)")
        if self.hosted is not None:
            for scope in self.hosted.scopes:
                if scope not in STANDARD_SCOPES and scope not in self.custom_scopes:
                    raise ConfigError(f"user pool {self.name!r}: hosted sign-in scope {scope!r} is neither standard "
                                      f"({', '.join(sorted(STANDARD_SCOPES))}) nor a resource server's")
        if not 300 <= self.access_token_ttl <= 86400 or not 300 <= self.id_token_ttl <= 86400:
            raise ConfigError(f"user pool {self.name!r}: token lifetimes must be 5 minutes to 1 day, as on Cognito")
        if not 3600 <= self.refresh_token_ttl <= 3650 * 86400:
            raise ConfigError(f"user pool {self.name!r}: refresh token lifetime must be 1 hour to 10 years")

    @property
    def custom_scopes(self) -> frozenset[str]:
        """The resource servers' scopes, as tokens carry them: ``<server>/<scope>``."""
        return frozenset(f"{server}/{n}" for server, names in self.resource_servers.items() for n in names)

    def endpoints_first(self, facts: Any) -> dict[str, Any]:
        return {"user_pool_id": facts["id"], "user_pool_client_id": next(iter(facts["clients"].values()))}


@dataclass(eq=False, repr=False)
class IdentityPool(Resource):
    """An identity pool (Cognito Identity): trades a user pool's ID token for temporary AWS credentials.

    Declared with ``app.identity_pool(...)``, which lists its options.

    ``authenticated_policy`` is the IAM policy document of the authenticated role, written as
    on AWS; ``${cognito-identity.amazonaws.com:sub}`` in it is the caller's identity id.

    Endpoints facts: the identity pool id.
    """

    kind: ClassVar[str] = "identity_pool"
    endpoints_group: ClassVar[str | None] = "identity_pools"
    name: str
    user_pool: UserPool
    authenticated_policy: dict[str, Any]
    credential_ttl: int = 3600

    def __post_init__(self) -> None:
        check_name(self.kind, self.name)
        if not isinstance(self.user_pool, UserPool):
            raise ConfigError(f"identity pool {self.name!r}: user_pool must be a declared UserPool")
        if not 900 <= self.credential_ttl <= 43200:
            raise ConfigError(f"identity pool {self.name!r}: credential_ttl must be 15 minutes to 12 hours")
        if not isinstance(self.authenticated_policy, dict) or "Statement" not in self.authenticated_policy:
            raise ConfigError(f"identity pool {self.name!r}: authenticated_policy must be an IAM policy document")

    def endpoints_first(self, facts: Any) -> dict[str, Any]:
        return {"identity_pool_id": facts}
