"""Who the users are: user pools (Cognito user pools) and identity pools (Cognito identity pools)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

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


@dataclass(eq=False, repr=False)
class UserPool(Resource):
    """A managed user pool (Cognito user pool): self sign-up, email verification, JWTs.

    Declared with ``app.user_pool(...)``, which lists its options. Users sign up with their email address
    as the user name, as with Cognito's ``UsernameAttributes=[email]``; ``cognito:username`` is then the
    user's sub.

    Endpoints facts: ``{"id": pool id, "clients": {name: client id}, "issuer": URL}``.
    """

    kind: ClassVar[str] = "user_pool"
    endpoints_group: ClassVar[str | None] = "user_pools"
    name: str
    password_policy: PasswordPolicy = field(default_factory=PasswordPolicy)
    clients: tuple[str, ...] = ("app",)
    auth_flows: tuple[str, ...] = ("user_srp", "user_password")
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
        if not 300 <= self.access_token_ttl <= 86400 or not 300 <= self.id_token_ttl <= 86400:
            raise ConfigError(f"user pool {self.name!r}: token lifetimes must be 5 minutes to 1 day, as on Cognito")
        if not 3600 <= self.refresh_token_ttl <= 3650 * 86400:
            raise ConfigError(f"user pool {self.name!r}: refresh token lifetime must be 1 hour to 10 years")

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
