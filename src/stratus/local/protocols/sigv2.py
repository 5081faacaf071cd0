"""Presigned URLs in Signature Version 2, which boto3 and the AWS CLI still make for S3 by default.

``generate_presigned_url`` and ``aws s3 presign`` produce
``?AWSAccessKeyId=...&Signature=...&Expires=<epoch>`` URLs unless the client is told
to use SigV4, and S3 honours them. The string to sign is botocore's own
(``HmacV1Auth``): method, Content-MD5, Content-Type, Expires, the ``x-amz-*``
values (a session token travels as ``x-amz-security-token``), and the canonical
resource (the path and the sub-resources S3 signs). The credential rules are the
SigV4 ones: a temporary key only with its session token, and not after it expires.
Header-signed SigV2 is not accepted; S3 refuses it in every newer region too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl, urlsplit

from botocore.auth import HmacV1Auth

from .sigv4 import CredentialLookup, SigV4Error, Verified, header_text, resolve_credential

AUTH_PARAMS = ("AWSAccessKeyId", "Signature", "Expires")
_resource = HmacV1Auth(None).canonical_resource


def is_sigv2_query(query: Mapping[str, str]) -> bool:
    """Whether the (parsed) query string carries a SigV2 presigned signature."""
    return "AWSAccessKeyId" in query and "Signature" in query


def verify_query_v2(method: str, raw_path: str, query_string: str, headers: Sequence[tuple[str, str]],
                    lookup: CredentialLookup, now: float) -> Verified:
    pairs = parse_qsl(query_string, keep_blank_values=True)
    q = dict(pairs)
    expires = q.get("Expires", "")
    if not (expires.isascii() and expires.isdigit() and len(expires) <= 18):
        raise SigV4Error("AccessDenied", "Query-string authentication requires the Signature, Expires and "
                         "AWSAccessKeyId parameters")
    if now > int(expires):
        raise SigV4Error("AccessDenied", "Request has expired")
    hmap = {}
    for k, v in headers:
        name = k.lower()
        if name in ("content-md5", "content-type") or name.startswith("x-amz-"):  # the headers the signature covers
            text = header_text(v)
            if text is None:
                raise SigV4Error("SignatureDoesNotMatch", f"The signed header {name} is not UTF-8 text, so no "
                                 "signature can match it.")
            v = text
        hmap[name] = v
    cred = resolve_credential(lookup(q["AWSAccessKeyId"]), q.get("x-amz-security-token", hmap.get("x-amz-security-token")), now)
    amz = {k.lower(): v.strip() for k, v in [*hmap.items(), *pairs] if k.lower().startswith("x-amz-")}
    rest = "&".join(f"{k}={v}" if v else k for k, v in (p.split("=", 1) + [""] if "=" not in p else p.split("=", 1)
                                                        for p in query_string.split("&") if p)
                    if k not in AUTH_PARAMS and not k.lower().startswith("x-amz-"))
    to_sign = "\n".join([method.upper(), q.get("content-md5", hmap.get("content-md5", "")),
                         q.get("content-type", hmap.get("content-type", "")), expires,
                         *[f"{k}:{v}" for k, v in sorted(amz.items())], ""])
    # botocore signs a bucket-level path as "/bucket/" (its auth_path) and sends "/bucket": accept either form
    paths = [raw_path] + ([raw_path + "/"] if raw_path.count("/") == 1 else [])
    given = q["Signature"].encode()
    if not any(hmac.compare_digest(_sign(cred.secret_access_key, to_sign + _resource(urlsplit(p + (f"?{rest}" if rest else "")))),
                                   given) for p in paths):
        raise SigV4Error("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you "
                         "provided. Check your key and signing method.")
    return Verified(cred, "UNSIGNED-PAYLOAD", b"", "", "", q["Signature"], True)


def _sign(secret: str, to_sign: str) -> bytes:
    return base64.b64encode(hmac.new(secret.encode(), to_sign.encode(), hashlib.sha1).digest())
