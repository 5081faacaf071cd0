"""Verifying Cognito-style JWTs against a JWKS, on the injectable clock.

One verifier serves both the user pool (GetUser, GlobalSignOut) and the REST
gateway's authorizer, so both refuse exactly the same tokens: only RS256, a
``kid`` present in the pool's JWKS, a valid signature, the pool's issuer, an
unexpired ``exp``, the expected ``token_use``, and (for access tokens) a
``client_id`` the caller accepts.
"""

from __future__ import annotations

import base64
import re
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import jwt

from ....clock import Clock
from ....errors import TokenRejected

_PART = re.compile(r"[A-Za-z0-9_-]*\Z")  # an empty part (alg none's signature) is refused on its own terms


def _canonical(token: str) -> bool:
    """Whether each of the JWT's three parts is base64url exactly as it is written: no padding, nothing but the
    alphabet, and no stray bits in the last character (which a decoder ignores, so two spellings would verify)."""
    parts = token.split(".")
    if len(parts) != 3 or not all(_PART.match(p) for p in parts):
        return False
    for p in parts:
        if len(p) % 4 == 1:
            return False
        decoded = base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))
        if base64.urlsafe_b64encode(decoded).decode().rstrip("=") != p:
            return False
    return True


class TokenVerifier:
    def __init__(self, issuers: list[str], jwks: dict[str, Any], clock: Clock, *, cache_size: int = 10_000) -> None:
        self.issuers = frozenset(issuers)
        self.clock = clock
        self._keys = {k["kid"]: jwt.PyJWK(k, algorithm="RS256").key for k in jwks["keys"]}
        # Verified tokens, keyed by the token itself: a signature check is the costly part of a request,
        # and a token that verified once stays valid until its exp, which is re-checked on every use.
        self._cache: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._cache_size = cache_size

    def verify(self, token: str, *, token_use: str, client_ids: Iterable[str] | None = None) -> dict[str, Any]:
        claims = self._cache.get(token)
        if claims is None:
            claims = self._verify_signature(token)
            self._cache[token] = claims
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        if claims.get("token_use") != token_use:
            raise TokenRejected(f"token_use is {claims.get('token_use')!r}, {token_use!r} required")
        if self.clock.now() >= claims["exp"]:
            raise TokenRejected("token has expired")
        if client_ids is not None:
            aud = claims.get("client_id") if token_use == "access" else claims.get("aud")
            if aud not in set(client_ids):
                raise TokenRejected("token was issued to another client")
        return claims

    def _verify_signature(self, token: str) -> dict[str, Any]:
        if not _canonical(token):
            raise TokenRejected("token is not a well-formed JWT (three unpadded base64url parts)")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenRejected("token is not a well-formed JWT") from exc
        if header.get("alg") != "RS256":
            raise TokenRejected(f"token algorithm {ascii(header.get('alg'))[:32]} is not accepted (RS256 only)")
        key = self._keys.get(header.get("kid", ""))
        if key is None:
            raise TokenRejected("token was not signed by this user pool's keys")
        try:
            claims = jwt.decode(token, key, algorithms=["RS256"], issuer=list(self.issuers),
                                options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                                         "verify_aud": False, "require": ["exp", "iat", "iss", "sub", "token_use"]})
        except jwt.InvalidIssuerError as exc:
            raise TokenRejected("token was issued by another issuer") from exc
        except jwt.InvalidSignatureError as exc:
            raise TokenRejected("token signature does not verify") from exc
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"token is invalid: {exc}") from exc
        if not isinstance(claims.get("exp"), (int, float)):
            raise TokenRejected("token exp is not a number")
        return claims
