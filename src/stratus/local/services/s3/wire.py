"""The S3 REST protocol over the local object store, with SigV4 and IAM-style policies.

Every request is, in order: located (path style ``/<bucket>/<key>``), authenticated
(SigV4 header or presigned query; a session token must match the temporary key it came
with; anonymous requests are refused), mapped to its IAM action and resource, authorized (the admin key may do
anything; an identity-pool identity only what its role policy allows, with
``${cognito-identity.amazonaws.com:sub}`` set to its identity id), and then served.

Errors are S3's XML error documents with S3's codes and statuses (HEAD answers
carry no body). A sub-resource or operation not implemented here is refused with
``NotImplemented`` naming it (after authorization, as S3 answers AccessDenied first).
The object operations live in ``wire_objects``, the listings in ``wire_listing``; the domain (objects on
files and SQLite, with their events) in ``model``, and the port handlers use in ``port``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast
from urllib.parse import parse_qsl, unquote_to_bytes

import orjson

from ....errors import ServiceError
from ...infra.asgi import virtual_bucket
from ...protocols import restxml as X
from ...protocols.iam import PolicyError, check_policy, policy_is_public
from ...protocols.sigv2 import is_sigv2_query, verify_query_v2
from ...protocols.sigv4 import STREAMING_UNSIGNED_TRAILER, Verified, is_signed, verify_request
from . import lifecycle
from . import wire_acl as acl
from . import wire_cors as cors
from . import wire_sse as sse
from . import wire_tags as tags
from .model import ATTRS_HEADER, CHECKSUMS, MAX_PARTS, TAGS_HEADER, check_bucket_name, check_key, upload_attrs
from .wire_common import ANONYMOUS, XML_BODY_LIMIT, S3Request
from .wire_cors import Cors
from .wire_listing import Listings
from .wire_objects import ObjectOps, check_digests, version_header
from .wire_post import PostUploads
from .wire_tags import Tags, header_tags

_COPY_RANGE = re.compile(r"bytes=([0-9]{1,19})-([0-9]{1,19})")

def _decoded(text: str) -> str:
    """A path segment percent-decoded; its bytes must be UTF-8 (two keys must never read as one)."""
    try:
        return unquote_to_bytes(text).decode("utf-8")
    except UnicodeDecodeError:
        raise ServiceError("InvalidURI", "Couldn't parse the specified URI.") from None


def _query(query_string: str) -> dict[str, str]:
    """The query's parameters, decoded as SigV4 reads them for the signature ('+' is a space either way), each
    named once: a name given twice could be read one way and signed the other."""
    query: dict[str, str] = {}
    try:
        pairs = parse_qsl(query_string, keep_blank_values=True, errors="strict")
    except UnicodeDecodeError:
        raise ServiceError("InvalidURI", "Couldn't parse the specified URI.") from None
    for name, value in pairs:
        if name in query:
            raise ServiceError("InvalidArgument", f"The query parameter {name} is given more than once.",
                               ArgumentName=name[:64])
        query[name] = value
    return query


MAX_POLICY = 20 * 1024  # S3's limit on a bucket policy


def bucket_policy(bucket: str, body: bytes) -> dict[str, Any]:
    """A bucket policy document as S3 accepts it (JSON, principals named, S3 actions on this bucket only), or
    S3's MalformedPolicy naming what is wrong."""
    if len(body) > MAX_POLICY:
        raise ServiceError("PolicyTooLarge", f"Policy exceeds the maximum allowed document size ({MAX_POLICY} bytes).")
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise ServiceError("MalformedPolicy", "Policies must be valid JSON and the first byte must be '{'") from None
    try:
        check_policy(doc, resource_policy=True)
    except PolicyError as exc:
        raise ServiceError("MalformedPolicy", str(exc)) from None
    statements = doc["Statement"] if isinstance(doc["Statement"], list) else [doc["Statement"]]
    if not statements:
        raise ServiceError("MalformedPolicy", "Could not parse the policy: Statement is empty!")
    for statement in statements:
        actions = statement.get("Action", statement.get("NotAction"))
        if any(not (a == "*" or a.lower().startswith("s3:")) for a in (actions if isinstance(actions, list)
                                                                        else [actions])):
            raise ServiceError("MalformedPolicy", "Policy has invalid action")
        resources = statement.get("Resource", statement.get("NotResource"))
        for r in resources if isinstance(resources, list) else [resources]:
            # this bucket or objects in it, named or matched by a pattern (arn:aws:s3:::*, arn:aws:s3:::*/*, ...)
            named, _, _ = r.removeprefix("arn:aws:s3:::").partition("/")
            if not r.startswith("arn:aws:s3:::") or not fnmatch.fnmatchcase(bucket, named.replace("[", "[[]")):
                raise ServiceError("MalformedPolicy", "Policy has invalid resource")
    return cast(dict[str, Any], doc)


@dataclass(frozen=True)
class BucketConfig:
    """One of a bucket's configurations, by its sub-resource: where it is kept, the actions that guard it, how its
    document is read (checked as S3 checks it) and written, and S3's answer when there is none."""

    name: str
    get: str
    put: str
    delete: str
    parse: Callable[[str, bytes], Any]  # (bucket, body) -> the value kept
    render: Callable[[Any], bytes]
    missing: tuple[str, str]
    put_status: int = 200
    limit: int = XML_BODY_LIMIT
    content_type: str = "application/xml"
    digest_required: bool = True  # Content-MD5 or a checksum, as S3 requires of these (not of a policy)
    default: Any = None  # what GET answers when none was set, where S3 answers with a default, not an error


CONFIGS = {
    "cors": BucketConfig("cors", "s3:GetBucketCORS", "s3:PutBucketCORS", "s3:PutBucketCORS",
                         lambda bucket, body: cors.parse_rules(body), cors.rules_document,
                         ("NoSuchCORSConfiguration", "The CORS configuration does not exist")),
    "policy": BucketConfig("policy", "s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy",
                           bucket_policy, orjson.dumps, ("NoSuchBucketPolicy", "The bucket policy does not exist"),
                           put_status=204, limit=MAX_POLICY, content_type="application/json",
                           digest_required=False),
    "tagging": BucketConfig("tags", "s3:GetBucketTagging", "s3:PutBucketTagging", "s3:PutBucketTagging",
                            lambda bucket, body: tags.document_tags(body, tags.BUCKET_TAGS), tags.tags_document,
                            ("NoSuchTagSet", "The TagSet does not exist"), put_status=204),
    "lifecycle": BucketConfig("lifecycle", "s3:GetLifecycleConfiguration", "s3:PutLifecycleConfiguration",
                              "s3:PutLifecycleConfiguration", lambda bucket, body: lifecycle.parse_rules(body),
                              lifecycle.rules_document,
                              ("NoSuchLifecycleConfiguration", "The lifecycle configuration does not exist")),
    "encryption": BucketConfig("encryption", "s3:GetEncryptionConfiguration", "s3:PutEncryptionConfiguration",
                               "s3:PutEncryptionConfiguration", sse.encryption_rules, sse.encryption_document,
                               ("ServerSideEncryptionConfigurationNotFoundError",
                                "The server side encryption configuration was not found")),
    "ownershipControls": BucketConfig("ownershipControls", "s3:GetBucketOwnershipControls",
                                      "s3:PutBucketOwnershipControls", "s3:PutBucketOwnershipControls",
                                      acl.ownership_rule, acl.ownership_document,
                                      ("OwnershipControlsNotFoundError", "The bucket ownership controls were not "
                                       "found")),
    "publicAccessBlock": BucketConfig("publicAccessBlock", "s3:GetBucketPublicAccessBlock",
                                      "s3:PutBucketPublicAccessBlock", "s3:PutBucketPublicAccessBlock",
                                      acl.public_access_block, acl.public_access_document,
                                      ("NoSuchPublicAccessBlockConfiguration", "The public access block "
                                       "configuration was not found"), default={}),
    "logging": BucketConfig("logging", "s3:GetBucketLogging", "s3:PutBucketLogging", "s3:PutBucketLogging",
                            acl.logging_status, acl.logging_document, ("", ""), default={}, digest_required=False),
}

# sub-resources that name an operation this endpoint does not implement
UNSUPPORTED = ("website", "notification", "replication", "requestPayment", "torrent", "restore", "select",
               "accelerate", "analytics", "inventory", "metrics", "intelligent-tiering", "attributes")
SUBRESOURCES = frozenset((*UNSUPPORTED, *CONFIGS, "acl", "policyStatus", "object-lock", "retention", "legal-hold",
                          "versioning", "versions", "uploads", "location", "delete"))


class S3Endpoint(ObjectOps, Listings, Cors, PostUploads, Tags):  # Object Lock and ACLs come with ObjectOps
    # -- the ASGI entry

    async def __call__(self, scope: dict[str, Any], receive: Any, send_raw: Any) -> None:
        request_id = next(self._request_ids)
        raw_path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1").split("?", 1)[0]
        query_string = scope.get("query_string", b"").decode("latin-1")
        raw_headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]]
        headers: dict[str, str] = {}
        for k, v in raw_headers:  # a header sent twice is one value, joined as SigV4 signs it (not the last alone)
            headers[k] = f"{headers[k]},{v}" if k in headers else v
        method = scope["method"]
        done = False
        req: S3Request | None = None

        async def send(message: dict[str, Any]) -> None:  # every answer, success or error, carries its request id
            if message["type"] == "http.response.start":  # and, for a browser on another origin, what CORS allows
                cors = self.cors_headers(req) if req is not None and "origin" in headers and method != "OPTIONS" \
                    else {}
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"x-amz-request-id", request_id.encode()),
                                                  *((k.encode(), v.encode()) for k, v in cors.items())]}
            await send_raw(message)

        asked = False  # whether the body was asked for at all (a client that sent Expect: 100-continue waits till then)

        async def tracked() -> dict[str, Any]:  # notes when the request body has been read to its end
            nonlocal done, asked
            asked = True
            msg = await receive()
            done = done or msg["type"] == "http.disconnect" or not msg.get("more_body", False)
            return msg
        try:
            virtual = virtual_bucket(headers.get("host", ""))
            if virtual is not None:  # <bucket>.localhost/<key>; SigV2 signs the path-style resource all the same
                bucket, key, resource = virtual, _decoded(raw_path[1:]), f"/{virtual}{raw_path}"
            else:
                bucket, _, rest = raw_path[1:].partition("/")
                bucket, key, resource = _decoded(bucket), _decoded(rest), raw_path
            query = _query(query_string)
            req = S3Request(method, bucket, key, query, headers, raw_headers,
                            (scope.get("client") or ("127.0.0.1", 0))[0], request_id)
            if method == "OPTIONS":  # a browser's CORS preflight: no credentials, the bucket's rules decide
                return await self._preflight(req, send)
            if method == "POST" and bucket and not key and headers.get("content-type", "").lower().startswith(
                    "multipart/form-data"):  # a browser's form upload: its fields carry its signature
                check_bucket_name(bucket)
                return await self._post_object(req, tracked, send)
            verified = self._authenticate(method, raw_path, resource, query_string, query, raw_headers)
            await self._dispatch(req, verified, tracked, send)
        except ServiceError as exc:
            # refused before the body was asked for: a client waiting to be told to continue never sends it, and
            # asking for it now would tell it to (the server answers 100 Continue on the first read)
            waiting = not asked and "100-continue" in headers.get("expect", "").lower()
            await self._error(send, method, exc, request_id,
                              close=not done and (waiting or not await self._drain(tracked, headers)))

    @staticmethod
    async def _drain(receive: Any, headers: dict[str, str], limit: int = 1024 * 1024) -> bool:
        """Read what is left of a small unread body, so the connection can serve the next request."""
        length = headers.get("content-length", "0")
        if not (length.isascii() and length.isdigit()) or int(length) > limit or "transfer-encoding" in headers:
            return False
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect" or not msg.get("more_body"):
                return True

    async def _error(self, send: Any, method: str, exc: ServiceError, request_id: str, close: bool = False) -> None:
        body = b"" if method == "HEAD" else X.error_document(exc.code, exc.message, request_id, exc.fields)
        hdrs = [(b"content-type", b"application/xml")]
        hdrs += [(k.encode(), val.encode()) for k, val in getattr(exc, "headers", {}).items()]  # a delete marker's
        if close:  # the rest of a big body is still on the wire: this connection cannot carry another request
            hdrs.append((b"connection", b"close"))
        if method != "HEAD":
            hdrs.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": exc.status, "headers": hdrs})
        await send({"type": "http.response.body", "body": body})

    def _authenticate(self, method: str, raw_path: str, resource: str, query_string: str, query: dict[str, str],
                      raw_headers: list[tuple[str, str]]) -> Verified:
        if not is_signed(query_string, raw_headers):  # anonymous: only what a bucket policy grants to "*"
            declared = dict(raw_headers).get("x-amz-content-sha256", "").lower()
            if len(declared) == 64 and all(c in "0123456789abcdef" for c in declared):  # checked as for anyone
                return replace(ANONYMOUS, payload=declared)
            if declared == STREAMING_UNSIGNED_TRAILER.lower():  # an unsigned client's aws-chunked body
                return replace(ANONYMOUS, payload=STREAMING_UNSIGNED_TRAILER)
            return ANONYMOUS
        if is_sigv2_query(query):
            return verify_query_v2(method, resource, query_string, raw_headers, self.creds.lookup, self.clock.now())
        return verify_request(method, raw_path, query_string, raw_headers, self.creds.lookup, self.clock.now(),
                              region=self.region)

    # -- routing

    async def _dispatch(self, req: S3Request, v: Verified, receive: Any, send: Any) -> None:
        m, q = req.method, req.query
        if req.bucket and not self.store.bucket_exists(check_bucket_name(req.bucket)) \
                and not (m == "PUT" and not req.key and not SUBRESOURCES.intersection(q)):
            # a bucket that does not exist has no owner to ask: anyone is told so, as on S3 (names are public)
            raise ServiceError("NoSuchBucket", "The specified bucket does not exist.", 404, BucketName=req.bucket)
        for sub in UNSUPPORTED:
            if sub in q:
                # authorized first, as S3 does: a caller without the right is told AccessDenied, not what is missing
                verb = {"GET": "Get", "HEAD": "Get", "DELETE": "Delete"}.get(m, "Put")
                noun = "Object" if req.key else "Bucket"
                resource = f"arn:aws:s3:::{req.bucket}" + (f"/{req.key}" if req.key else "") if req.bucket else "*"
                self._authorize(v, req, f"s3:{verb}{noun}{sub[:1].upper()}{sub[1:].replace('-', '')}", resource)
                raise ServiceError("NotImplemented", f"The local object store does not implement the ?{sub} "
                                  f"sub-resource ({m}).", 501)
        if not req.bucket:
            if m != "GET":
                raise ServiceError("MethodNotAllowed", f"{m} is not allowed on the service.", 405)
            self._authorize(v, req, "s3:ListAllMyBuckets", "*")
            return await self._list_buckets(req, send)
        arn = f"arn:aws:s3:::{req.bucket}"  # its name was checked above
        if not req.key:
            return await self._bucket_op(req, v, arn, receive, send)
        check_key(req.key)
        obj_arn = f"{arn}/{req.key}"
        if "retention" in q and m in ("GET", "PUT"):
            self._authorize(v, req, f"s3:{'Get' if m == 'GET' else 'Put'}ObjectRetention", obj_arn)
            return await self._object_retention(req, v, receive, send)
        if "legal-hold" in q and m in ("GET", "PUT"):
            self._authorize(v, req, f"s3:{'Get' if m == 'GET' else 'Put'}ObjectLegalHold", obj_arn)
            return await self._object_legal_hold(req, receive, send)
        if "acl" in q and m in ("GET", "PUT"):
            verb = {"GET": "Get", "PUT": "Put"}[m]
            self._authorize(v, req, f"s3:{verb}ObjectAcl" if "versionId" not in q else f"s3:{verb}ObjectVersionAcl",
                            obj_arn)
            return await self._object_acl(req, receive, send)
        if "tagging" in q and m in ("GET", "PUT", "DELETE"):
            verb = {"GET": "Get", "PUT": "Put"}.get(m, "Delete")
            self._authorize(v, req, f"s3:{verb}ObjectTagging" if "versionId" not in q else
                            f"s3:{verb}ObjectVersionTagging", obj_arn)
            return await self._object_tagging(req, receive, send)
        if "versionId" in q and m in ("GET", "HEAD", "DELETE") and "uploadId" not in q:
            return await self._object_version(req, v, obj_arn, send)
        if m == "PUT" and "uploadId" in q:
            if "x-amz-copy-source" in req.headers:
                return await self._upload_part_copy(req, v, obj_arn, receive, send)
            self._authorize(v, req, "s3:PutObject", obj_arn)
            return await self._upload_part(req, v, receive, send)
        if m == "PUT" and "x-amz-copy-source" in req.headers:
            return await self._copy(req, v, obj_arn, receive, send)
        if m == "PUT":
            self._authorize(v, req, "s3:PutObject", obj_arn)
            return await self._put(req, v, receive, send)
        if m in ("GET", "HEAD") and "uploadId" in q:
            self._authorize(v, req, "s3:ListMultipartUploadParts", obj_arn)
            return await self._list_parts(req, send)
        if m in ("GET", "HEAD"):
            self._authorize_read(v, req, "s3:GetObject", obj_arn)
            return await self._get(req, send)
        if m == "DELETE" and "uploadId" in q:
            self._authorize(v, req, "s3:AbortMultipartUpload", obj_arn)
            await self._run(self.store.abort, req.bucket, req.key, q["uploadId"])
            return await self._reply(send, 204)
        if m == "DELETE":
            self._authorize(v, req, "s3:DeleteObject", obj_arn)
            marker = await self._run(self.store.delete, req.bucket, req.key)
            said = {"x-amz-delete-marker": "true", "x-amz-version-id": marker.version_id} if marker else {}
            return await self._reply(send, 204, headers=said)
        if m == "POST" and "uploads" in q:
            self._authorize(v, req, "s3:PutObject", obj_arn)
            return await self._create_upload(req, v, send)
        if m == "POST" and "uploadId" in q:
            self._authorize(v, req, "s3:PutObject", obj_arn)
            return await self._complete(req, v, receive, send)
        raise ServiceError("NotImplemented", f"{m} on an object with ?{'&'.join(q) or ''} is not implemented by the "
                          "local object store.", 501)

    async def _bucket_op(self, req: S3Request, v: Verified, arn: str, receive: Any, send: Any) -> None:
        m, q = req.method, req.query
        for sub, conf in CONFIGS.items():  # CORS, policy, tags, lifecycle: one way to keep, read and drop each
            if sub in q and m in ("GET", "PUT", "DELETE"):
                self._authorize(v, req, {"GET": conf.get, "PUT": conf.put}.get(m, conf.delete), arn)
                return await self._bucket_config(req, conf, receive, send)
        if "acl" in q and m in ("GET", "PUT"):
            self._authorize(v, req, f"s3:{'Get' if m == 'GET' else 'Put'}BucketAcl", arn)
            return await self._bucket_acl(req, receive, send)
        if "object-lock" in q and m in ("GET", "PUT"):
            self._authorize(v, req, f"s3:{'Get' if m == 'GET' else 'Put'}BucketObjectLockConfiguration", arn)
            return await self._bucket_lock(req, receive, send)
        if "policyStatus" in q and m == "GET":
            self._authorize(v, req, "s3:GetBucketPolicyStatus", arn)
            policy = self.store.bucket_config(req.bucket, "policy")  # the policy's status: ACLs do not count
            if policy is None:
                raise ServiceError("NoSuchBucketPolicy", "The bucket policy does not exist", 404, BucketName=req.bucket)
            return await self._reply(send, 200, X.document("PolicyStatus", [X.el("IsPublic", policy_is_public(policy))]))
        if m == "PUT" and "versioning" in q:
            self._authorize(v, req, "s3:PutBucketVersioning", arn)
            doc = X.parse(await self._read_small(receive), "VersioningConfiguration")
            if (X.text(doc, "MfaDelete") or "Disabled") != "Disabled":
                raise ServiceError("NotImplemented", "MFA delete is not implemented by the local object store.", 501)
            if X.text(doc, "Status") != "Enabled" and self.lock_config(req.bucket) is not None:
                raise ServiceError("InvalidBucketState", "An Object Lock configuration is present on this bucket, so "
                                  "the versioning state cannot be changed.", 409)
            await self._run(self.store.set_versioning, req.bucket, X.text(doc, "Status") or "")
            return await self._reply(send, 200)
        if m == "PUT":
            return await self._create_bucket(req, v, arn, receive, send)
        if m == "HEAD":
            self._authorize(v, req, "s3:ListBucket", arn)
            self.store.require_bucket(req.bucket)
            return await self._reply(send, 200, headers={"x-amz-bucket-region": self.region})
        if m == "DELETE":
            self._authorize(v, req, "s3:DeleteBucket", arn)
            named = [sub for sub in q if sub in SUBRESOURCES]  # DELETE ?versioning is not DeleteBucket
            if named:
                raise ServiceError("MethodNotAllowed", f"The specified method is not allowed against this resource "
                                  f"(DELETE ?{named[0]}).", 405, Method="DELETE", ResourceType=named[0].upper())
            await self._run(self.store.delete_bucket, req.bucket)
            return await self._reply(send, 204)
        if m == "POST" and "delete" in q:
            return await self._delete_objects(req, v, arn, receive, send)
        if m == "GET" and "location" in q:
            self._authorize(v, req, "s3:GetBucketLocation", arn)
            self.store.require_bucket(req.bucket)
            loc = "" if self.region == "us-east-1" else self.region
            return await self._reply(send, 200, (X.HEAD + f'<LocationConstraint xmlns="{X.NS}">{loc}'
                                                 "</LocationConstraint>").encode())
        if m == "GET" and "versions" in q:
            self._authorize(v, req, "s3:ListBucketVersions", arn, self._list_conditions(q))
            return await self._list_versions(req, send)
        if m == "GET" and "versioning" in q:  # a bucket never versioned has an empty configuration
            self._authorize(v, req, "s3:GetBucketVersioning", arn)
            state = await self._run(self.store.versioning, req.bucket)
            return await self._reply(send, 200, X.document("VersioningConfiguration",
                                                           [X.el("Status", state)] if state else []))
        if m == "GET" and "uploads" in q:
            self._authorize(v, req, "s3:ListBucketMultipartUploads", arn)
            return await self._list_uploads(req, send)
        if m == "GET":
            self._authorize(v, req, "s3:ListBucket", arn, self._list_conditions(q))
            return await self._list(req, send)
        raise ServiceError("NotImplemented", f"{m} on a bucket with ?{'&'.join(q)} is not implemented by the local "
                          "object store.", 501)

    def _authorize_read(self, v: Verified, req: S3Request, action: str, obj_arn: str) -> None:
        """A read's authorization, as S3 words a refusal: a caller that may list the bucket is told when the key is
        not there (NoSuchKey); any other is told AccessDenied either way, even one that may read the key, which
        would otherwise learn by a 404 which keys exist (a distribution's origin access, allowed s3:GetObject only;
        a user whose s3:ListBucket is conditioned on s3:prefix, which a read does not carry)."""
        if self._allowed(v, req, action, obj_arn):
            if self._allowed(v, req, "s3:ListBucket", f"arn:aws:s3:::{req.bucket}"):
                return
            try:
                self.store.head(req.bucket, req.key, req.query.get("versionId"))
            except ServiceError as missing:
                if missing.status == 404:
                    raise ServiceError("AccessDenied", "Access Denied", 403) from None
            return
        if self._allowed(v, req, "s3:ListBucket", f"arn:aws:s3:::{req.bucket}"):
            try:
                self.store.head(req.bucket, req.key, req.query.get("versionId"))
            except ServiceError as missing:
                if missing.status == 404:
                    raise
        raise ServiceError("AccessDenied", "Access Denied", 403)

    async def _create_bucket(self, req: S3Request, v: Verified, arn: str, receive: Any, send: Any) -> None:
        """CreateBucket, with its ACL and object ownership if the request names them."""
        self._authorize(v, req, "s3:CreateBucket", arn)
        await self._read_small(receive)  # an optional CreateBucketConfiguration
        grants = acl.request_grants(req.headers)
        if grants is not None:
            self._authorize(v, req, "s3:PutBucketAcl", arn)
        ownership = req.headers.get("x-amz-object-ownership")
        if ownership is not None and ownership not in acl.OWNERSHIPS:
            raise ServiceError("InvalidArgument", "Invalid x-amz-object-ownership header", ArgumentName=
                               "x-amz-object-ownership", ArgumentValue=ownership[:64])
        if ownership == "BucketOwnerEnforced" and grants is not None and any(g[0] != "id" for g in grants):
            raise ServiceError("InvalidBucketAclWithObjectOwnership", "Bucket cannot have ACLs set with "
                              "ObjectOwnership's BucketOwnerEnforced setting")
        if ownership is not None:
            self._authorize(v, req, "s3:PutBucketOwnershipControls", arn)
        try:
            await self._run(self.store.create_bucket, req.bucket)
        except ServiceError as exc:
            # us-east-1 answers a repeat by the bucket's owner with 200 and resets its ACL (to what the request
            # asks, within the bucket's settings), as S3 does there; nothing else of the bucket changes
            if exc.code != "BucketAlreadyOwnedByYou" or self.region != "us-east-1":
                raise
            grants = self._allowed_grants(req.bucket, grants) if grants is not None else None
            await self._run(self.store.set_bucket_config, req.bucket, "acl", grants)
            return await self._reply(send, 200, headers={"location": f"/{req.bucket}"})
        if grants is not None:  # a new bucket names no ACL until one is given
            await self._run(self.store.set_bucket_config, req.bucket, "acl", grants)
        if ownership is not None:
            await self._run(self.store.set_bucket_config, req.bucket, "ownershipControls", ownership)
        if req.headers.get("x-amz-bucket-object-lock-enabled", "").lower() == "true":  # versioned, for good
            await self._run(self.store.set_versioning, req.bucket, "Enabled")
            await self._run(self.store.set_bucket_config, req.bucket, "objectLock", {"enabled": True})
        return await self._reply(send, 200, headers={"location": f"/{req.bucket}"})

    async def _bucket_config(self, req: S3Request, conf: BucketConfig, receive: Any, send: Any) -> None:
        """Put, Get or Delete one of a bucket's configurations (authorized by the caller)."""
        if req.method == "PUT":
            body = await self._read_small(receive, conf.limit + 1)
            check_digests(req, body, required=conf.digest_required)
            value = conf.parse(req.bucket, body)
            if conf.name == "policy" and (self.store.bucket_config(req.bucket, "publicAccessBlock") or {}).get(
                    "BlockPublicPolicy") and policy_is_public(value):
                raise ServiceError("AccessDenied", "Access Denied (the bucket's public access block refuses public "
                                  "policies)", 403)
            if conf.name == "ownershipControls" and value == "BucketOwnerEnforced" and any(
                    g[0] != "id" for g in self.store.bucket_config(req.bucket, "acl") or []):
                raise ServiceError("InvalidBucketAclWithObjectOwnership", "Bucket cannot have ACLs set with "
                                  "ObjectOwnership's BucketOwnerEnforced setting")
            await self._run(self.store.set_bucket_config, req.bucket, conf.name, value)
            return await self._reply(send, conf.put_status)
        if req.method == "DELETE":
            await self._run(self.store.set_bucket_config, req.bucket, conf.name, None)
            return await self._reply(send, 204)
        value = await self._run(self.store.bucket_config, req.bucket, conf.name)
        if value is None and conf.default is not None:
            value = conf.default
        elif not value:
            raise ServiceError(conf.missing[0], conf.missing[1], 404, BucketName=req.bucket)
        await self._reply(send, 200, conf.render(value), content_type=conf.content_type)

    @staticmethod
    def _list_conditions(q: dict[str, str]) -> dict[str, str]:
        """The condition keys a listing sets for policies (``s3:prefix``, ``s3:delimiter``, ``s3:max-keys``)."""
        return {f"s3:{name}": q[name] for name in ("prefix", "delimiter", "max-keys") if name in q}

    async def _object_version(self, req: S3Request, v: Verified, obj_arn: str, send: Any) -> None:
        """GET, HEAD or DELETE of one version (in a bucket never versioned, each object is its one ``null``
        version)."""
        version = req.query["versionId"]
        if req.method != "DELETE":
            self._authorize_read(v, req, "s3:GetObjectVersion", obj_arn)
            return await self._get(req, send)
        self._authorize(v, req, "s3:DeleteObjectVersion", obj_arn)
        await self._check_version_deletable(v, req, req.key, version)
        gone = await self._run(self.store.delete_version, req.bucket, req.key, version)
        hdrs = {"x-amz-version-id": version}
        if gone is not None and gone.marker:
            hdrs["x-amz-delete-marker"] = "true"
        return await self._reply(send, 204, headers=hdrs)

    # -- multipart uploads

    async def _create_upload(self, req: S3Request, v: Verified, send: Any) -> None:
        ctype, meta = self._metadata(req)
        algo = req.headers.get("x-amz-checksum-algorithm", "").lower() or None
        if algo is not None and algo not in CHECKSUMS:
            raise ServiceError("InvalidRequest", f"Checksum algorithm {algo.upper()} is not supported by the local object "
                              "store (supported: CRC32, CRC32C, SHA1, SHA256).")
        kept = self._stored_headers(req)
        if "x-amz-tagging" in req.headers:  # tags for the object the upload will make, with the right to tag
            self._authorize(v, req, "s3:PutObjectTagging", f"arn:aws:s3:::{req.bucket}/{req.key}")
            kept[TAGS_HEADER] = orjson.dumps(header_tags(req.headers["x-amz-tagging"])).decode()
        attrs = self.new_object_attrs(v, req, req.headers)  # its ACL and encryption, kept with it until then
        if attrs:
            kept[ATTRS_HEADER] = orjson.dumps(attrs).decode()
        upload_id = await self._run(self.store.create_upload, req.bucket, req.key, ctype, meta, algo, kept)
        hdrs = {"x-amz-checksum-algorithm": algo.upper()} if algo else {}
        hdrs.update(sse.encryption_headers(attrs))
        await self._reply(send, 200, X.document("InitiateMultipartUploadResult", [
            X.el("Bucket", req.bucket), X.el("Key", req.key), X.el("UploadId", upload_id)]), headers=hdrs)

    @staticmethod
    def _part_number(req: S3Request) -> int:
        try:
            number = int(req.query.get("partNumber", ""))
            if not 1 <= number <= MAX_PARTS:
                raise ValueError
        except ValueError:
            raise ServiceError("InvalidArgument", "Part number must be an integer between 1 and 10000, inclusive",
                              ArgumentName="partNumber") from None
        return number

    async def _upload_part_copy(self, req: S3Request, v: Verified, obj_arn: str, receive: Any, send: Any) -> None:
        """UploadPartCopy: a part made of another object's bytes (all of them, or ``x-amz-copy-source-range``)."""
        src_bucket, src_key, version = self._copy_source(req, v, obj_arn)  # authorized first
        number = self._part_number(req)
        up = self.store.upload(req.bucket, req.key, req.query["uploadId"])
        await self._read_small(receive)
        check_key(src_key)
        src, source = await self._run(self.store.open_object, src_bucket, src_key, version or None)
        with source:
            sse.check_customer_key(src.attrs.get("sse"), req.headers, sse.COPY_CUSTOMER)
            upload_sse = upload_attrs(up).get("sse")
            sse.check_customer_key(upload_sse, req.headers)
            if self._precondition(src, {k.replace("x-amz-copy-source-", ""): val for k, val in req.headers.items()
                                        if k.startswith("x-amz-copy-source-if-")}) is not None:
                raise ServiceError("PreconditionFailed", "At least one of the pre-conditions you specified did not "
                                  "hold", 412)
            first, last = 0, src.size - 1
            if "x-amz-copy-source-range" in req.headers:
                m = _COPY_RANGE.fullmatch(req.headers["x-amz-copy-source-range"].strip())
                if m is None:
                    raise ServiceError("InvalidArgument", "The x-amz-copy-source-range value must be of the form "
                                      "bytes=first-last where first and last are the zero-based offsets of the first "
                                      "and last bytes to copy", ArgumentName="x-amz-copy-source-range")
                first, last = int(m.group(1)), int(m.group(2))
                if first > last or last >= src.size:
                    raise ServiceError("InvalidRange", "The requested range is not satisfiable", 416,
                                      RangeRequested=req.headers["x-amz-copy-source-range"].strip()[:64],
                                      ActualObjectSize=str(src.size))
            blob = await self._run(self.store.copy_range, source, first, last - first + 1,
                                   (up["algorithm"],) if up["algorithm"] else ())
        etag = await self._run(self.store.put_part, req.bucket, req.key, req.query["uploadId"], number, blob,
                               sse.etag_mask(upload_sse))
        hdrs = {"x-amz-copy-source-version-id": src.version_id} if src.version_id != "null" or version else {}
        await self._reply(send, 200, X.document("CopyPartResult", [X.el("ETag", etag),
                                                                   X.el("LastModified", X.iso(self.clock.now()))]),
                          headers=hdrs)

    async def _upload_part(self, req: S3Request, v: Verified, receive: Any, send: Any) -> None:
        number = self._part_number(req)
        up = self.store.upload(req.bucket, req.key, req.query["uploadId"])
        attrs = upload_attrs(up)
        sse.check_customer_key(attrs.get("sse"), req.headers)  # each part with the upload's SSE-C key, as on S3
        blob = await self._receive_blob(req, v, receive, (up["algorithm"],) if up["algorithm"] else ())
        etag = await self._run(self.store.put_part, req.bucket, req.key, req.query["uploadId"], number, blob,
                               sse.etag_mask(attrs.get("sse")))
        hdrs = {"etag": etag, **sse.encryption_headers(attrs)}
        hdrs.update({f"x-amz-checksum-{a}": val for a, val in blob.checksums.items()})
        await self._reply(send, 200, headers=hdrs)

    async def _complete(self, req: S3Request, v: Verified, receive: Any, send: Any) -> None:
        doc = X.parse(await self._read_small(receive), "CompleteMultipartUpload")
        listed = []
        for p in X.children(doc, "Part"):
            try:
                listed.append((int(X.text(p, "PartNumber") or ""), X.text(p, "ETag") or ""))
            except ValueError:
                raise ServiceError("MalformedXML", "PartNumber must be an integer.") from None
        meta = await self._run(self.store.complete, req.bucket, req.key, req.query["uploadId"], listed)
        parts = [X.el("Location", f"/{req.bucket}/{req.key}"), X.el("Bucket", req.bucket), X.el("Key", req.key),
                 X.el("ETag", meta.etag)]
        parts += [X.el(f"Checksum{a.upper()}", val) for a, val in meta.checksums.items()]
        await self._reply(send, 200, X.document("CompleteMultipartUploadResult", parts),
                          headers={**version_header(meta), **sse.encryption_headers(meta.attrs)})

