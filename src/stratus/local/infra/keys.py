"""RSA signing keys kept in the data dir, and their JWKS form.

A key is generated on first use and written atomically with mode 0600, so it
survives restarts (tokens issued before a restart still verify) and never
enters the repository (the data dir is git-ignored).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .files import write_private


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


class SigningKey:
    """An RSA-2048 key pair stored at ``path`` (PEM, PKCS#8)."""

    def __init__(self, path: Path) -> None:
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, rsa.RSAPrivateKey):
                raise ValueError(f"{path} does not hold an RSA key")
        else:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            write_private(path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                   serialization.NoEncryption()))
        self.path = path
        self.private = key
        self.public = key.public_key()
        der = self.public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = _b64u(hashlib.sha256(der).digest())[:32]

    def derive(self, label: str) -> bytes:
        """A secret of 32 bytes for ``label``, made from this key: as lasting as the key file, and no other secret
        tells it (an HMAC of the label under a hash of the private exponent)."""
        d = self.private.private_numbers().d
        return hmac.new(hashlib.sha256(d.to_bytes((d.bit_length() + 7) // 8, "big")).digest(), label.encode(),
                        hashlib.sha256).digest()

    def jwk(self) -> dict[str, Any]:
        nums = self.public.public_numbers()
        return {"alg": "RS256", "e": _b64u(nums.e.to_bytes((nums.e.bit_length() + 7) // 8, "big")),
                "kid": self.kid, "kty": "RSA",
                "n": _b64u(nums.n.to_bytes((nums.n.bit_length() + 7) // 8, "big")), "use": "sig"}
