"""S3's server-side encryption as an interface: ``x-amz-server-side-encryption`` (AES256, aws:kms with its key id)
and a bucket's default encryption (Put, Get and DeleteBucketEncryption), checked and said back on every write
and read; and customer-provided keys (SSE-C), without which an object written with one is not read, copied or
continued. The bytes are kept as they were sent, in the data dir only its owner can read: what a client sees
is S3's behaviour, not a claim that the local store encrypts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from ....errors import ServiceError
from ...protocols import restxml as X

SSE_ALGORITHMS = ("AES256", "aws:kms", "aws:kms:dsse")
CUSTOMER = "x-amz-server-side-encryption-customer-"
COPY_CUSTOMER = "x-amz-copy-source-server-side-encryption-customer-"


def customer_key(headers: Mapping[str, str], prefix: str = CUSTOMER) -> dict[str, str] | None:
    """An SSE-C key the request gives (``<prefix>algorithm``, ``key``, ``key-MD5``), checked as S3 checks it, as
    kept with an object: its MD5 (which S3 sends back) and a salted SHA-256 to recognise it (never the key); or
    None when it gives none."""
    given = {name: headers.get(prefix + name) for name in ("algorithm", "key", "key-md5")}
    if not any(given.values()):
        return None
    if given["algorithm"] != "AES256":
        raise ServiceError("InvalidArgument", "The encryption algorithm specified is not valid: requests specifying "
                          "Server Side Encryption with Customer provided keys must provide a valid encryption "
                          "algorithm (AES256).", ArgumentName=prefix + "algorithm")
    try:
        key = base64.b64decode(given["key"] or "", validate=True)
        md5 = base64.b64decode(given["key-md5"] or "", validate=True)
    except binascii.Error:
        key = md5 = b""
    if len(key) != 32:
        raise ServiceError("InvalidArgument", "The secret key was invalid for the specified algorithm.",
                           ArgumentName=prefix + "key")
    if md5 != hashlib.md5(key, usedforsecurity=False).digest():
        raise ServiceError("InvalidArgument", "The calculated MD5 hash of the key did not match the hash that was "
                          "provided.", ArgumentName=prefix + "key-MD5")
    salt = secrets.token_hex(16)
    return {"alg": "customer", "md5": base64.b64encode(md5).decode(), "salt": salt,
            "hash": hashlib.sha256(bytes.fromhex(salt) + key).hexdigest()}


def check_customer_key(sse: Mapping[str, str] | None, headers: Mapping[str, str], prefix: str = CUSTOMER) -> None:
    """A read (or a part, or a copy's source) of an object stored with ``sse`` must give its SSE-C key, and only
    then: S3's 400s otherwise."""
    given = customer_key(headers, prefix)
    if sse is None or sse.get("alg") != "customer":
        if given is not None:
            raise ServiceError("InvalidRequest", "The encryption parameters are not applicable to this object.")
        return
    if given is None:
        raise ServiceError("InvalidRequest", "The object was stored using a form of Server Side Encryption. The "
                          "correct parameters must be provided to retrieve the object.")
    key = base64.b64decode(headers[prefix + "key"])
    if not hmac.compare_digest(hashlib.sha256(bytes.fromhex(sse["salt"]) + key).hexdigest(), sse["hash"]):
        raise ServiceError("InvalidArgument", "The provided encryption key does not match the key the object was "
                          "stored with.", ArgumentName=prefix + "key")


def encryption(headers: Mapping[str, str], default: Mapping[str, str] | None, region: str) -> dict[str, str]:
    """The server-side encryption a write asks for (``x-amz-server-side-encryption`` and its KMS key, or an SSE-C
    key), else the bucket's default; checked as S3 checks it."""
    alg = headers.get("x-amz-server-side-encryption")
    key = headers.get("x-amz-server-side-encryption-aws-kms-key-id")
    if alg is not None and alg not in SSE_ALGORITHMS:
        raise ServiceError("InvalidArgument", "The encryption method specified is not supported",
                           ArgumentName="x-amz-server-side-encryption", ArgumentValue=alg[:64])
    customer = customer_key(headers)
    if customer is not None and alg is not None:
        raise ServiceError("InvalidArgument", "Server Side Encryption with Customer provided key is incompatible "
                          "with the encryption method specified", ArgumentName="x-amz-server-side-encryption")
    if key is not None:
        _check_key_id(key, "x-amz-server-side-encryption-aws-kms-key-id")
    if key is not None and not (alg or "").startswith("aws:kms"):
        raise ServiceError("InvalidArgument", "Server Side Encryption with AWS KMS managed key requires HTTP header "
                          "x-amz-server-side-encryption : aws:kms", ArgumentName="x-amz-server-side-encryption")
    if customer is not None:
        return customer
    if alg is None:
        if not default:
            return {}
        alg, key = default["alg"], default.get("kms")
    out = {"alg": alg}
    if alg.startswith("aws:kms"):
        out["kms"] = key or f"arn:aws:kms:{region}:000000000000:alias/aws/s3"
    return out


def _check_key_id(key: str, name: str) -> None:
    """A KMS key id or ARN: it goes back out in a header, so printable ASCII only, and of a key id's length."""
    if not (key.isascii() and key.isprintable() and 1 <= len(key) <= 2048):
        raise ServiceError("InvalidArgument", "Invalid KMS key id: it must be a key id, alias or ARN (printable "
                          "ASCII, at most 2048 characters).", ArgumentName=name)


def encryption_headers(attrs: Mapping[str, Any]) -> dict[str, str]:
    """What S3 says of an object's encryption on PUT, GET and HEAD."""
    sse = attrs.get("sse")
    if not sse:
        return {}
    if sse["alg"] == "customer":
        return {CUSTOMER + "algorithm": "AES256", CUSTOMER + "key-md5": sse["md5"]}
    out = {"x-amz-server-side-encryption": sse["alg"]}
    if "kms" in sse:
        out["x-amz-server-side-encryption-aws-kms-key-id"] = sse["kms"]
    return out


def encryption_rules(bucket: str, body: bytes) -> dict[str, str]:
    """A ServerSideEncryptionConfiguration document: its one default rule (kept as ``{"alg", "kms"?}``)."""
    doc = X.parse(body, "ServerSideEncryptionConfiguration")
    rules = X.children(doc, "Rule")
    defaults = [d for r in rules for d in X.children(r, "ApplyServerSideEncryptionByDefault")]
    if len(rules) != 1 or len(defaults) != 1:
        raise ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                          "published schema: one Rule with ApplyServerSideEncryptionByDefault.")
    alg = X.text(defaults[0], "SSEAlgorithm") or ""
    if alg not in SSE_ALGORITHMS:
        raise ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                          "published schema: SSEAlgorithm is AES256, aws:kms or aws:kms:dsse.")
    key = X.text(defaults[0], "KMSMasterKeyID")
    if key:
        _check_key_id(key, "KMSMasterKeyID")
    if key and not alg.startswith("aws:kms"):
        raise ServiceError("InvalidArgument", "a KMSMasterKeyID is allowed only if SSEAlgorithm is aws:kms or "
                          "aws:kms:dsse.")
    return {"alg": alg, **({"kms": key} if key else {})}


def encryption_document(rule: Mapping[str, str]) -> bytes:
    by_default = [X.el("SSEAlgorithm", rule["alg"])] + ([X.el("KMSMasterKeyID", rule["kms"])] if "kms" in rule else [])
    return X.document("ServerSideEncryptionConfiguration", [X.el("Rule", [
        X.el("ApplyServerSideEncryptionByDefault", by_default), X.el("BucketKeyEnabled", False)])])


def etag_mask(sse: Mapping[str, str] | None) -> bytes | None:
    """What an ETag under a customer's key is salted with (its bytes' MD5 is not shown), or None."""
    return bytes.fromhex(sse["salt"]) if sse and sse.get("alg") == "customer" else None
