"""Time-based one-time passwords (RFC 6238) as authenticator apps make them: HMAC-SHA1, 6 digits, 30-second steps,
a base32 secret (what Cognito's AssociateSoftwareToken hands out as ``SecretCode``)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
from urllib.parse import quote

STEP = 30
DIGITS = 6
WINDOW = 1  # steps either side of now a code is taken from (a clock a little off, a code typed at the turn)


def new_secret() -> str:
    """A fresh secret: 160 bits, base32 without padding (32 characters)."""
    return base64.b32encode(secrets.token_bytes(20)).decode()


def code_at(secret: str, step: int) -> str:
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    value = struct.unpack(">I", mac[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{value % 10**DIGITS:0{DIGITS}d}"


def matching_step(secret: str, code: str, now: float, after: int = -1) -> int | None:
    """The time step ``code`` is right for, within ``WINDOW`` steps of ``now`` and later than ``after`` (a step
    already used is not taken twice), or None."""
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    current = int(now // STEP)
    for step in range(current - WINDOW, current + WINDOW + 1):
        if step > after and hmac.compare_digest(code_at(secret, step), code):
            return step
    return None


def uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads from a QR code."""
    return f"otpauth://totp/{quote(issuer)}:{quote(account)}?secret={secret}&issuer={quote(issuer)}"
