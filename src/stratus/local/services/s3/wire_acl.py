"""S3's access control lists, and the bucket settings that govern them.

A bucket and each object version carry an ACL: grants of ``READ``, ``WRITE``, ``READ_ACP``,
``WRITE_ACP`` or ``FULL_CONTROL`` to a canonical user or to a group (everyone, or every signed
caller). They are set by a canned ACL (``x-amz-acl``), by ``x-amz-grant-*`` headers, or by an
``AccessControlPolicy`` document (Get/PutBucketAcl, Get/PutObjectAcl, and on CreateBucket,
PutObject, CopyObject, CreateMultipartUpload and form uploads). Without one, the owner has
``FULL_CONTROL`` and nobody else anything.

ACLs are enforced as S3 enforces them within one account: a grant to a group allows what its
permission covers (``ACL_RIGHTS``) to callers that no policy allows, unless a policy denies it.
The account itself (the admin credentials) needs no grant; the apps' roles are in the account, so
a grant to the owner's canonical user gives them nothing their policies do not.

Buckets made through the API get S3's defaults from before April 2023, when these were the
defaults and what S3 tools and test suites expect: ACLs enabled (ownership ``ObjectWriter``), no
public access block, no default encryption. Each is a bucket setting a client can change as on S3:
``BucketOwnerEnforced`` ownership turns ACLs off, a public access block refuses or ignores public
grants and public policies. The apps' declared buckets start with the settings the same buckets
get when synthesized for AWS (``DECLARED_CONFIG``): ACLs off, every public access blocked,
S3-managed encryption.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from xml.sax.saxutils import escape

from ....errors import ServiceError
from ...protocols import restxml as X
from ...protocols.principals import Anonymous
from .wire_common import OWNER_ID, OWNER_NAME, S3Request
from .wire_lock import ObjectLock
from .wire_sse import encryption

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
GROUPS = (ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY)
PERMISSIONS = ("FULL_CONTROL", "READ", "WRITE", "READ_ACP", "WRITE_ACP")
GRANT_HEADERS = {f"x-amz-grant-{p.lower().replace('_', '-')}": p for p in PERMISSIONS}
XSI = "http://www.w3.org/2001/XMLSchema-instance"

Grant = list[str]  # [kind ("id" or "uri"), its value, permission], as kept in JSON
OWNER_ONLY: list[Grant] = [["id", OWNER_ID, "FULL_CONTROL"]]

# which permission, on the bucket's ACL or the object's, allows an action to a grantee
ACL_RIGHTS: dict[str, tuple[str, str]] = {
    "s3:ListBucket": ("bucket", "READ"), "s3:ListBucketVersions": ("bucket", "READ"),
    "s3:ListBucketMultipartUploads": ("bucket", "READ"),
    "s3:PutObject": ("bucket", "WRITE"), "s3:DeleteObject": ("bucket", "WRITE"),
    "s3:DeleteObjectVersion": ("bucket", "WRITE"),
    "s3:GetBucketAcl": ("bucket", "READ_ACP"), "s3:PutBucketAcl": ("bucket", "WRITE_ACP"),
    "s3:GetObject": ("object", "READ"), "s3:GetObjectVersion": ("object", "READ"),
    "s3:GetObjectAcl": ("object", "READ_ACP"), "s3:GetObjectVersionAcl": ("object", "READ_ACP"),
    "s3:PutObjectAcl": ("object", "WRITE_ACP"), "s3:PutObjectVersionAcl": ("object", "WRITE_ACP"),
}

CANNED: dict[str, list[Grant]] = {
    "private": [],
    "public-read": [["uri", ALL_USERS, "READ"]],
    "public-read-write": [["uri", ALL_USERS, "READ"], ["uri", ALL_USERS, "WRITE"]],
    "authenticated-read": [["uri", AUTHENTICATED_USERS, "READ"]],
    "bucket-owner-read": [],  # the bucket's owner is the object's: its FULL_CONTROL covers it
    "bucket-owner-full-control": [],
    "log-delivery-write": [["uri", LOG_DELIVERY, "WRITE"], ["uri", LOG_DELIVERY, "READ_ACP"]],
}
OWNERSHIPS = ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter")
def _or_default(grants: list[Grant] | None) -> list[Grant]:
    """An ACL as kept, or the owner's alone when none was ever set (an ACL set with no grants stays empty)."""
    return OWNER_ONLY if grants is None else grants


def is_public(grants: list[Grant]) -> bool:
    return any(kind == "uri" and value in (ALL_USERS, AUTHENTICATED_USERS) for kind, value, _ in grants)


def _grantee(kind: str, value: str) -> tuple[str, str]:
    """One grantee as named in a grant header or document, checked as S3 checks it."""
    if kind == "id":
        if value != OWNER_ID:  # the only canonical user here is the account's own
            raise ServiceError("InvalidArgument", "Invalid id", ArgumentName="CanonicalUser/ID", ArgumentValue=value)
        return "id", value
    if kind == "uri":
        if value not in GROUPS:
            raise ServiceError("InvalidArgument", "Invalid group uri", ArgumentName="Group/URI", ArgumentValue=value)
        return "uri", value
    if kind == "emailAddress":
        raise ServiceError("UnresolvableGrantByEmailAddress", "The e-mail address you provided does not match any "
                          "account on record.", EmailAddress=value)
    raise ServiceError("InvalidArgument", f"Invalid grantee type {kind!r}", ArgumentName="x-amz-grant")


_GRANTEE = re.compile(r'\s*(id|uri|emailAddress)\s*=\s*(?:"([^"]*)"|([^",\s]+))\s*(?:,|$)')  # quoted or not


def request_grants(headers: Mapping[str, str]) -> list[Grant] | None:
    """The ACL a request's ``x-amz-acl`` or ``x-amz-grant-*`` headers ask for (the owner's grant first), or None."""
    canned = headers.get("x-amz-acl")
    named = [h for h in GRANT_HEADERS if h in headers]
    if canned is not None and named:
        raise ServiceError("InvalidRequest", "Specifying both Canned ACLs and Header Grants is not allowed")
    if canned is not None:
        extra = CANNED.get(canned.strip())
        if extra is None:
            raise ServiceError("InvalidArgument", f"Invalid canned ACL {canned!r}", ArgumentName="x-amz-acl",
                               ArgumentValue=canned[:64])
        return [*OWNER_ONLY, *(list(g) for g in extra)]
    if not named:
        return None
    grants: list[Grant] = []
    for header in named:
        value, pos = headers[header], 0
        while pos < len(value):
            m = _GRANTEE.match(value, pos)
            if m is None or m.end() == pos:
                raise ServiceError("InvalidArgument", f"{header} is malformed: expected id=\"...\", uri=\"...\" or "
                                   "emailAddress=\"...\", separated by commas", ArgumentName=header)
            kind, who = _grantee(m.group(1), m.group(2) if m.group(2) is not None else m.group(3))
            grants.append([kind, who, GRANT_HEADERS[header]])
            pos = m.end()
    return grants


def document_grants(body: bytes) -> list[Grant]:
    """The grants of an ``AccessControlPolicy`` document."""
    doc = X.parse(body, "AccessControlPolicy")
    owner = X.children(doc, "Owner")
    if owner and (X.text(owner[0], "ID") or OWNER_ID) != OWNER_ID:
        raise ServiceError("AccessDenied", "The owner of an ACL is the bucket's owner; it cannot be changed.", 403)
    lists = X.children(doc, "AccessControlList")
    if len(lists) != 1:
        raise ServiceError("MalformedACLError", "The XML you provided was not well-formed or did not validate "
                          "against our published schema: one AccessControlList.")
    grants: list[Grant] = []
    for grant in X.children(lists[0], "Grant"):
        grantees, permission = X.children(grant, "Grantee"), X.text(grant, "Permission")
        if len(grantees) != 1 or permission not in PERMISSIONS:
            raise ServiceError("MalformedACLError", "The XML you provided was not well-formed or did not validate "
                              "against our published schema: each Grant has a Grantee and a Permission.")
        g = grantees[0]
        kind = g.get(f"{{{XSI}}}type", "")
        if kind == "CanonicalUser":
            who = _grantee("id", X.text(g, "ID") or "")
        elif kind == "Group":
            who = _grantee("uri", X.text(g, "URI") or "")
        elif kind == "AmazonCustomerByEmail":
            who = _grantee("emailAddress", X.text(g, "EmailAddress") or "")
        else:
            raise ServiceError("MalformedACLError", "The XML you provided was not well-formed or did not validate "
                              "against our published schema: a Grantee's xsi:type is CanonicalUser, Group or "
                              "AmazonCustomerByEmail.")
        grants.append([*who, permission])
    return grants


def acl_document(grants: list[Grant]) -> bytes:
    items = []
    for kind, value, permission in grants:
        if kind == "id":
            grantee = (f'<Grantee xmlns:xsi="{XSI}" xsi:type="CanonicalUser">{X.el("ID", value)}'
                       f'{X.el("DisplayName", OWNER_NAME)}</Grantee>')
        else:
            grantee = f'<Grantee xmlns:xsi="{XSI}" xsi:type="Group"><URI>{escape(value)}</URI></Grantee>'
        items.append(f"<Grant>{grantee}{X.el('Permission', permission)}</Grant>")
    return X.document("AccessControlPolicy", [X.el("Owner", [X.el("ID", OWNER_ID), X.el("DisplayName", OWNER_NAME)]),
                                              X.el("AccessControlList", items)])


class Acls(ObjectLock):
    def _settings(self, bucket: str) -> tuple[str, dict[str, bool]]:
        """The bucket's object ownership and public access block (each as S3 has it when none was set)."""
        ownership = self.store.bucket_config(bucket, "ownershipControls") or "ObjectWriter"
        return ownership, self.store.bucket_config(bucket, "publicAccessBlock") or {}

    def _allowed_grants(self, bucket: str, grants: list[Grant]) -> list[Grant]:
        """``grants``, unless the bucket's settings refuse them: ACLs off (``BucketOwnerEnforced``, where only the
        owner's own grant may be named), or a public access block that refuses public ACLs."""
        ownership, block = self._settings(bucket)
        if ownership == "BucketOwnerEnforced" and any(g[0] != "id" for g in grants):
            raise ServiceError("AccessControlListNotSupported", "The bucket does not allow ACLs")
        if block.get("BlockPublicAcls") and is_public(grants):
            raise ServiceError("AccessDenied", "Access Denied (the bucket's public access block refuses public "
                              "ACLs)", 403)
        return grants

    def acl_allows(self, principal: object, action: str, bucket: str, key: str, version: str | None) -> bool:
        """Whether the bucket's ACL, or the ACL of the object ``key`` (at ``version``), grants ``action`` to a
        group ``principal`` is in."""
        right = ACL_RIGHTS.get(action)
        if right is None or not self.store.bucket_exists(bucket):
            return False
        ownership, block = self._settings(bucket)
        if ownership == "BucketOwnerEnforced" or block.get("IgnorePublicAcls"):
            return False  # every grant a caller could be in is a public one
        level, permission = right
        if level == "bucket":
            grants = _or_default(self.store.bucket_config(bucket, "acl"))
        else:
            try:
                grants = _or_default(self.store.head(bucket, key, version).attrs.get("acl"))
            except ServiceError:
                return False
        groups = (ALL_USERS,) if isinstance(principal, Anonymous) else (ALL_USERS, AUTHENTICATED_USERS)
        return any(kind == "uri" and value in groups and p in (permission, "FULL_CONTROL") for kind, value, p in grants)

    async def _bucket_acl(self, req: S3Request, receive: Any, send: Any) -> None:
        """Get or PutBucketAcl (authorized by the caller)."""
        if req.method == "GET":
            self.store.require_bucket(req.bucket)
            return await self._reply(send, 200, acl_document(_or_default(self.store.bucket_config(req.bucket, "acl"))))
        grants = await self._new_acl(req, receive)
        await self._run(self.store.set_bucket_config, req.bucket, "acl", grants)
        await self._reply(send, 200)

    async def _object_acl(self, req: S3Request, receive: Any, send: Any) -> None:
        """Get or PutObjectAcl (authorized by the caller), of the current object or ``versionId``."""
        version = req.query.get("versionId")
        if req.method == "GET":
            meta = await self._run(self.store.head, req.bucket, req.key, version)
            hdrs = {"x-amz-version-id": meta.version_id} if meta.version_id != "null" or version else {}
            return await self._reply(send, 200, acl_document(_or_default(meta.attrs.get("acl"))), headers=hdrs)
        grants = await self._new_acl(req, receive)
        changed = await self._run(self.store.set_attribute, req.bucket, req.key, version, "acl", grants)
        await self._reply(send, 200, headers={"x-amz-version-id": changed} if changed != "null" or version else {})

    async def _new_acl(self, req: S3Request, receive: Any) -> list[Grant]:
        body = await self._read_small(receive)
        from_headers = request_grants(req.headers)
        if from_headers is not None:
            from_headers = self._allowed_grants(req.bucket, from_headers)
            if body.strip():
                raise ServiceError("UnexpectedContent", "This request does not support content")
            return from_headers
        if not body.strip():
            raise ServiceError("MissingSecurityHeader", "Your request was missing a required header",
                               MissingHeaderName="x-amz-acl")
        return self._allowed_grants(req.bucket, document_grants(body))

    def authorize_writer(self, v: Any, req: S3Request, action: str) -> None:
        """What a write sets besides the bytes (an ACL, tags) takes its own right (``action``), or, where no policy
        decides, an ACL that allows the write itself: its writer then owns the new object, and an owner may set
        these. An explicit Deny of ``action`` wins either way."""
        if not self._allowed(v, req, action, f"arn:aws:s3:::{req.bucket}/{req.key}", acl_action="s3:PutObject"):
            raise ServiceError("AccessDenied", "Access Denied", 403)

    def new_object_attrs(self, v: Any, req: S3Request, headers: Mapping[str, str]) -> dict[str, Any]:
        """The attributes a write gives its new object from its headers (or a form's fields named as headers): its
        ACL, taking the right to set one as S3 does (``s3:PutObjectAcl``), its encryption, and its Object Lock
        retention and legal hold (from the request's headers: a form's fields give none)."""
        attrs: dict[str, Any] = {}
        grants = request_grants(headers)
        if grants is not None:
            self.authorize_writer(v, req, "s3:PutObjectAcl")
            attrs["acl"] = self._allowed_grants(req.bucket, grants)
        sse = encryption(headers, self.store.bucket_config(req.bucket, "encryption"), self.region)
        if sse:
            attrs["sse"] = sse
        attrs.update(self.new_lock_attrs(req, v))
        return attrs


def ownership_rule(bucket: str, body: bytes) -> str:
    doc = X.parse(body, "OwnershipControls")
    values = [X.text(r, "ObjectOwnership") for r in X.children(doc, "Rule")]
    if len(values) != 1 or values[0] not in OWNERSHIPS:
        raise ServiceError("MalformedXML", "The XML you provided was not well-formed or did not validate against our "
                          "published schema: one Rule whose ObjectOwnership is BucketOwnerEnforced, "
                          "BucketOwnerPreferred or ObjectWriter.")
    return values[0] or ""


def ownership_document(value: str) -> bytes:
    return X.document("OwnershipControls", [X.el("Rule", [X.el("ObjectOwnership", value)])])


BLOCKS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


def public_access_block(bucket: str, body: bytes) -> dict[str, bool]:
    doc = X.parse(body, "PublicAccessBlockConfiguration")
    out = {}
    for name in BLOCKS:
        value = (X.text(doc, name) or "false").strip().lower()
        if value not in ("true", "false"):
            raise ServiceError("MalformedXML", f"The XML you provided was not well-formed or did not validate against "
                              f"our published schema: {name} is true or false.")
        out[name] = value == "true"
    return out


def public_access_document(value: Mapping[str, bool]) -> bytes:
    return X.document("PublicAccessBlockConfiguration", [X.el(n, bool(value.get(n))) for n in BLOCKS])


def logging_status(bucket: str, body: bytes) -> dict[str, Any]:
    doc = X.parse(body, "BucketLoggingStatus")
    if X.children(doc, "LoggingEnabled"):
        raise ServiceError("NotImplemented", "Server access logging is not implemented by the local object store "
                          "(a BucketLoggingStatus without LoggingEnabled, which turns it off, is accepted).", 501)
    return {}


def logging_document(_: Any) -> bytes:
    return X.document("BucketLoggingStatus", [])
