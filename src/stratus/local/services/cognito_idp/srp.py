"""Secure Remote Password sign-in (``USER_SRP_AUTH``), in Cognito's variant of SRP-6a.

The client proves it knows the password without sending it. The pool keeps, per user, a salt and a
verifier ``v = g^x mod N``, where ``x = H(salt | H(pool_name | user_id | ":" | password))``, ``pool_name``
is the part of the pool id after ``_`` and ``user_id`` the user's internal name (the sub here).

1. ``InitiateAuth`` brings ``A = g^a``; the server answers ``B = k*v + g^b``, the salt, the user id and an
   opaque ``SECRET_BLOCK`` naming this exchange.
2. Both sides compute ``u = H(A | B)`` and the shared ``S`` (the server as ``(A * v^u)^b``), then a 16-byte key
   by HKDF (salt ``u``, info "Caldera Derived Key").
3. ``RespondToAuthChallenge`` brings ``PASSWORD_CLAIM_SIGNATURE``: an HMAC-SHA256, under that key, of the
   pool name, the user id, the secret block and a timestamp (``Tue Nov 3 04:05:06 UTC 2026``, the day not
   zero-padded), which the server computes and compares.

N is the 3072-bit group of RFC 5054 (as Cognito's SDKs have it), g = 2, and numbers are hashed as
hexadecimal strings padded as the SDKs pad them (``pad_hex``).
"""

from __future__ import annotations

import calendar
import hashlib
import hmac
import secrets
import time

N_HEX = (
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
)
N = int(N_HEX, 16)
G = 2
INFO = b"Caldera Derived Key\x01"
SKEW = 15 * 60  # how far a client's timestamp may be from the server's clock, either way
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def pad_hex(value: int | str) -> str:
    """A number as the SDKs hash it: hexadecimal, of even length, with a leading 00 when its top bit is set."""
    text = value if isinstance(value, str) else f"{value:x}"
    if len(text) % 2:
        return "0" + text
    return "00" + text if text[0] in "89ABCDEFabcdef" else text


def _hex_hash(hex_text: str) -> str:
    return hashlib.sha256(bytes.fromhex(hex_text)).hexdigest()


K = int(_hex_hash("00" + N_HEX + "0" + str(G)), 16)


def salt_of(number: int) -> str:
    """A 128-bit salt as hex, its top byte never 0: the JavaScript SDKs read the salt as a number before padding
    it, so a salt with a leading zero byte would hash differently there than it does here."""
    return pad_hex(f"{number | 1 << 120:x}")


def new_salt() -> str:
    return salt_of(secrets.randbits(128))


def verifier(pool_name: str, user_id: str, password: str, salt: str) -> int:
    """``v = g^x mod N`` for a user's password and salt (hex)."""
    inner = hashlib.sha256(f"{pool_name}{user_id}:{password}".encode()).hexdigest()
    x = int(_hex_hash(pad_hex(salt) + inner), 16)
    return pow(G, x, N)


class Exchange:
    """The server's side of one sign-in: made from the client's A and the user's verifier; ``proof`` is the
    signature a client that knows the password sends back."""

    def __init__(self, big_a: int, v: int) -> None:
        if big_a % N == 0:
            raise ValueError("A is 0 mod N")
        self.big_a, self.v = big_a, v
        while True:  # a 256-bit exponent: 128-bit security, at a twelfth of the work of one as long as N
            self.b = secrets.randbits(256) | 2
            self.big_b = (K * v + pow(G, self.b, N)) % N
            if self.big_b:
                break

    def key(self) -> bytes:
        u = int(_hex_hash(pad_hex(self.big_a) + pad_hex(self.big_b)), 16)
        if u == 0:
            raise ValueError("u is 0")
        s = pow(self.big_a * pow(self.v, u, N), self.b, N)
        prk = hmac.new(bytes.fromhex(pad_hex(f"{u:x}")), bytes.fromhex(pad_hex(s)), hashlib.sha256).digest()
        return hmac.new(prk, INFO, hashlib.sha256).digest()[:16]

    def proof(self, pool_name: str, user_id: str, secret_block: bytes, timestamp: str) -> bytes:
        msg = pool_name.encode() + user_id.encode() + secret_block + timestamp.encode()
        return hmac.new(self.key(), msg, hashlib.sha256).digest()


def timestamp(now: float) -> str:
    """A time as Cognito's SDKs write it in ``TIMESTAMP``: ``Tue Nov 3 04:05:06 UTC 2026``."""
    t = time.gmtime(now)
    return f"{_WEEKDAYS[t.tm_wday]} {_MONTHS[t.tm_mon - 1]} {t.tm_mday} {t.tm_hour:02d}:{t.tm_min:02d}:" \
           f"{t.tm_sec:02d} UTC {t.tm_year}"


def parse_timestamp(text: str) -> float | None:
    """A ``TIMESTAMP`` as epoch seconds, or None when it is not one (the day may be zero-padded or not)."""
    try:
        return float(calendar.timegm(time.strptime(text.strip(), "%a %b %d %H:%M:%S UTC %Y")))
    except ValueError:
        return None
