"""What every part of the S3 endpoint shares: the request it parses, its replies, and authorization.

``S3Endpoint`` (``wire``) routes requests; its object operations (``wire_objects``) and its
listings (``wire_listing``) are mixins over this base, one concept per module. Who may do what
is the shared ``Authorizer``'s to decide, for whichever principal signed the request.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote

import orjson

from ....clock import Clock
from ....errors import PayloadTooLarge, ServiceError
from ...infra.asgi import read_body, request_ids
from ...protocols.iam import policy_is_public
from ...protocols.principals import Anonymous, Authorizer, Credentials
from ...protocols.sigv4 import UNSIGNED_PAYLOAD, Credential, Verified
from .model import ObjectStore

XML_BODY_LIMIT = 1024 * 1024
# an unsigned request: nobody, allowed only what a bucket policy grants to "*"
ANONYMOUS = Verified(Credential("", "", principal=Anonymous()), UNSIGNED_PAYLOAD, b"", "", "", "", False)
BUCKET_ARN = "arn:aws:s3:::"
OWNER_ID = OWNER_NAME = "stratus"  # the account's canonical user: every bucket's and object's owner


def header_bytes(value: str) -> bytes:
    """A header value as sent: Latin-1, as HTTP reads header bytes (a value received is the text of its bytes
    read as Latin-1, so it goes back byte for byte); text beyond Latin-1 (from a handler) as UTF-8."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode()


@dataclass
class S3Request:
    method: str
    bucket: str
    key: str
    query: dict[str, str]
    headers: dict[str, str]
    raw_headers: list[tuple[str, str]]
    client_ip: str
    request_id: str


class S3Base:
    def __init__(self, store: ObjectStore, creds: Credentials, clock: Clock, region: str, executor: Executor) -> None:
        self._request_ids = request_ids(s3=True)
        self.store, self.creds, self.clock, self.region, self.executor = store, creds, clock, region, executor
        self.authorizer = Authorizer(clock)

    async def _run(self, fn: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, fn, *args)

    async def _reply(self, send: Any, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
                     content_type: str | None = "application/xml") -> None:
        hdrs = {"content-length": str(len(body)), **(headers or {})}
        if content_type and body:
            hdrs["content-type"] = content_type
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.encode(), header_bytes(v)) for k, v in hdrs.items()]})
        await send({"type": "http.response.body", "body": body})

    async def _read_small(self, receive: Any, limit: int = XML_BODY_LIMIT) -> bytes:
        """A small request body (XML, configuration), in S3's terms when it is too big."""
        try:
            return await read_body(receive, limit)
        except PayloadTooLarge:
            raise ServiceError("MaxMessageLengthExceeded", "Your request was too big.") from None

    def _allowed(self, verified: Verified, req: S3Request, action: str, resource: str,
                 extra: dict[str, str] | None = None, version: str | None = None,
                 acl_action: str | None = None, source: bool = False) -> bool:
        """The caller's identity policies, the policy of the bucket ``resource`` is in (if any), and the ACLs,
        together. The object is the one ``resource`` names (a copy's source is not the request's key), at
        ``version``, or at the request's ``versionId`` when it is the request's own (never for a ``source``,
        whose version is its own: None, the current one); ``acl_action`` is the action whose ACL grant counts,
        when not ``action`` itself."""
        path = resource[len(BUCKET_ARN):] if resource.startswith(BUCKET_ARN) else ""
        bucket, _, key = path.partition("/")
        if version is None and not source and (bucket, key) == (req.bucket, req.key):
            version = req.query.get("versionId")
        try:
            policy = self.store.bucket_config(bucket, "policy") if bucket else None
        except ServiceError:  # no such bucket: no policy (and the operation says NoSuchBucket, to those allowed)
            policy = None
        principal = verified.credential.principal
        if policy is not None and isinstance(principal, Anonymous) and (self.store.bucket_config(
                bucket, "publicAccessBlock") or {}).get("RestrictPublicBuckets") and policy_is_public(policy):
            policy = None  # a public policy admits only the account's and AWS services' principals
        keys = request_keys(req)
        if policy is not None and key and b"s3:ExistingObjectTag/" in orjson.dumps(policy):
            try:  # the policy tests the object's own tags: they are read only then
                tags = self.store.head(bucket, key, version).tags
                keys.update({f"s3:ExistingObjectTag/{k}": v for k, v in tags.items()})
            except ServiceError:
                pass
        return self.authorizer.allowed(principal, action, resource, {**keys, **(extra or {})}, policy,
                                       lambda: self.acl_allows(principal, acl_action or action, bucket, key, version))

    def _authorize(self, verified: Verified, req: S3Request, action: str, resource: str,
                   extra: dict[str, str] | None = None, version: str | None = None, source: bool = False) -> None:
        if not self._allowed(verified, req, action, resource, extra, version, source=source):
            raise ServiceError("AccessDenied", "Access Denied", 403)

    def acl_allows(self, principal: object, action: str, bucket: str, key: str, version: str | None) -> bool:
        """Whether an ACL grants the action (the ``Acls`` mixin decides; the base grants nothing)."""
        return False


# the condition keys a request's headers set for policies, by header
_HEADER_KEYS = {h: f"s3:{h}" for h in (
    "x-amz-acl", "x-amz-grant-read", "x-amz-grant-write", "x-amz-grant-read-acp", "x-amz-grant-write-acp",
    "x-amz-grant-full-control", "x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-copy-source", "x-amz-metadata-directive", "x-amz-storage-class", "x-amz-content-sha256")}
_HEADER_KEYS.update({"referer": "aws:Referer", "user-agent": "aws:UserAgent"})


def request_keys(req: S3Request) -> dict[str, str | list[str]]:
    """The condition keys of a request: its address, the headers policies can test (``s3:x-amz-acl``,
    ``aws:Referer``, ...), and the tags it asks for (``s3:RequestObjectTag/<key>``, ``s3:RequestObjectTagKeys``)."""
    keys: dict[str, str | list[str]] = {"aws:SourceIp": req.client_ip}
    for header, key in _HEADER_KEYS.items():
        if header in req.headers:
            keys[key] = req.headers[header]
    if "x-amz-copy-source" in req.headers:  # as the policy names it: bucket/key, decoded
        keys["s3:x-amz-copy-source"] = unquote(req.headers["x-amz-copy-source"].split("?", 1)[0]).lstrip("/")
    if "x-amz-tagging" in req.headers:
        pairs = parse_qsl(req.headers["x-amz-tagging"], keep_blank_values=True)
        keys.update({f"s3:RequestObjectTag/{k}": v for k, v in pairs})
        keys["s3:RequestObjectTagKeys"] = [k for k, _ in pairs]
    return keys
