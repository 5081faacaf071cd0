"""The ``ObjectStore`` port: a handler's view of one bucket.

Handlers store and read whole objects by key; listing pages by prefix with an opaque
token, in key order. Missing objects read as ``None``. What every implementation
requires (``InvalidItem`` otherwise), as S3 does:

- a key is 1 to 1024 bytes of UTF-8 without control characters;
- data is bytes; an empty content type means ``binary/octet-stream``;
- metadata names are lower-cased (HTTP headers carry them), names and values are
  printable ASCII, 2 KB in all.

A listing's ``ObjectInfo`` carries key, size and ETag only (S3's listings do not
carry content type or metadata); ``head`` or ``get`` give the whole of it. Anything
else the service refuses (a bucket that does not exist, access denied) is a
``ServiceError`` with S3's code, on every provider.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidItem, InvalidToken, ServiceError


@dataclass(frozen=True)
class ObjectInfo:
    """What a bucket knows of an object (S3's object metadata).

    - ``key``: the object's key.
    - ``size``: its length in bytes.
    - ``etag``: its ETag (S3's: the MD5 of the data in hex, in quotes).
    - ``content_type``: its ``Content-Type``; empty in a listing.
    - ``metadata``: its user metadata (``x-amz-meta-*``), names in lower case; empty in a listing.
    """

    key: str
    size: int
    etag: str
    content_type: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredObject:
    """An object read whole: ``get``'s answer.

    - ``info``: its ``ObjectInfo``.
    - ``data``: its bytes.
    """

    info: ObjectInfo
    data: bytes


@dataclass
class ObjectPage:
    """A page of a listing.

    - ``objects``: ``ObjectInfo`` of each object (key, size and ETag), in key order.
    - ``next_token``: None on the last page; otherwise pass it as ``list(..., next_token=...)`` for the next
      page (S3's continuation token).
    """

    objects: list[ObjectInfo] = field(default_factory=list)
    next_token: str | None = None


@dataclass(frozen=True)
class PresignedPost:
    """A form to upload one object straight to the bucket (S3's presigned POST): ``presigned_post``'s answer.

    - ``url``: where the form is posted (``multipart/form-data``).
    - ``fields``: the form's fields, sent as they are before the file; the client adds ``Content-Type`` (which the
      policy may constrain) and then ``file`` last.
    """

    url: str
    fields: dict[str, str]


Listing = list[ObjectInfo]  # (named here: inside the port, ``list`` is its method)
Conditions = list[Any]  # a presigned form's policy conditions, as botocore takes them
MAX_POST_SECONDS = 7 * 24 * 3600  # the longest a presigned form lives (SigV4's limit)


class ObjectStorePort:
    """A handler's view of one declared bucket (``ctx.bucket(bucket)``): S3's object operations, the same on
    every provider (files locally, S3 on AWS).

    The public methods check their arguments once, for every implementation, and call the ``_hooks`` an
    implementation (``LocalBucket``, ``S3Bucket``) fills in."""

    def put(self, key: str, data: bytes, *, content_type: str = "binary/octet-stream",
            metadata: dict[str, str] | None = None) -> ObjectInfo:
        """Store ``data`` as the object ``key``, replacing any; its ``ObjectInfo`` (S3's PutObject).

        - ``key``: 1 to 1024 bytes of UTF-8 without control characters, ``"<user>/photo.jpg"``.
        - ``data``: the object's bytes.
        - ``content_type``: its ``Content-Type``, sent back by ``get`` and to clients; default
          ``"binary/octet-stream"``, S3's.
        - ``metadata``: user metadata (``x-amz-meta-<name>``), printable ASCII, 2 KB in all; names are
          lower-cased. Default none.
        """
        check_object_key(key)
        content_type, meta = check_put(data, content_type, metadata)
        return self._put(key, bytes(data), content_type, meta)

    def get(self, key: str) -> StoredObject | None:
        """The object ``key``, data and ``info``, or None if there is none (S3's GetObject)."""
        return self._get(check_object_key(key))

    def head(self, key: str) -> ObjectInfo | None:
        """The ``ObjectInfo`` of the object ``key`` without its data, or None if there is none (S3's HeadObject)."""
        return self._head(check_object_key(key))

    def delete(self, key: str) -> None:
        """Delete the object ``key``; deleting what is not there is fine, as on S3 (S3's DeleteObject)."""
        self._delete(check_object_key(key))

    def list(self, prefix: str = "", *, limit: int = 1000, next_token: str | None = None) -> ObjectPage:
        """The objects whose keys start with ``prefix``, in key order, a page at a time (S3's ListObjectsV2).

        - ``prefix``: the start of the keys listed; default ``""``, every object.
        - ``limit``: the most objects in a page, 1 to 1000; default 1000.
        - ``next_token``: the ``next_token`` of the previous page of the same listing; None (the default):
          the first page. A token of another listing is ``InvalidToken``.
        """
        check_page_limit(limit)
        if not isinstance(prefix, str):
            raise InvalidItem(f"prefix must be a string, not {type(prefix).__name__}")
        after = decode_list_token(next_token, prefix) if next_token is not None else ""
        objects, more = self._list(prefix, after, limit)
        return ObjectPage(objects, encode_list_token(objects[-1].key) if more and objects else None)

    def presigned_post(self, key: str, *, max_bytes: int, content_type_prefix: str = "", expires: int = 300
                       ) -> PresignedPost:
        """A form a client (a browser) posts to upload the object ``key`` itself, without credentials of its own
        (S3's presigned POST, signed by the handler's role): its policy allows exactly this key, a size of 1 to
        ``max_bytes`` bytes and, given ``content_type_prefix`` (``"image/"``), only a ``Content-Type`` that starts
        with it, until ``expires`` seconds from now. S3 refuses anything else (``EntityTooLarge``,
        ``AccessDenied``). Uploading needs ``s3:PutObject`` on the key, which ``uses`` grants. On AWS the form is
        signed with the function's temporary role credentials, so it stops working when they expire (within
        hours), whatever ``expires`` says.

        - ``key``: the object's key.
        - ``max_bytes``: the largest file allowed, 1 byte to 5 GiB.
        - ``content_type_prefix``: what the form's ``Content-Type`` must start with; default ``""``, any.
        - ``expires``: seconds the form is good for, 1 to 604,800 (7 days); default 300.
        """
        check_object_key(key)
        if "${filename}" in key:
            raise InvalidItem("a presigned form here names its key exactly; ${filename} is not supported")
        if type(max_bytes) is not int or not 1 <= max_bytes <= 5 * 1024**3:
            raise InvalidItem("max_bytes must be an int from 1 to 5 GiB")
        if type(expires) is not int or not 1 <= expires <= MAX_POST_SECONDS:
            raise InvalidItem(f"expires must be an int from 1 to {MAX_POST_SECONDS} seconds")
        if not isinstance(content_type_prefix, str) or not content_type_prefix.isprintable() or \
                len(content_type_prefix) > 256:
            raise InvalidItem("content_type_prefix must be printable text of at most 256 characters")
        # the client always sends a Content-Type field; an empty prefix allows any
        conditions: Conditions = [["content-length-range", 1, max_bytes],
                                  ["starts-with", "$Content-Type", content_type_prefix]]
        return self._presigned_post(key, conditions, expires)

    # -- the hooks: keys and arguments are checked

    def _presigned_post(self, key: str, conditions: Conditions, expires: int) -> PresignedPost:
        raise NotImplementedError

    def _put(self, key: str, data: bytes, content_type: str, metadata: dict[str, str]) -> ObjectInfo:
        raise NotImplementedError

    def _get(self, key: str) -> StoredObject | None:
        raise NotImplementedError

    def _head(self, key: str) -> ObjectInfo | None:
        raise NotImplementedError

    def _delete(self, key: str) -> None:
        raise NotImplementedError

    def _list(self, prefix: str, after: str, limit: int) -> tuple[Listing, bool]:
        """Up to ``limit`` objects under ``prefix`` after the key ``after``, in key order (key, size and ETag), and
        whether more follow."""
        raise NotImplementedError


def key_problem(key: object) -> str | None:
    """Why ``key`` cannot be an object key (S3's rules), or None: one rule for every implementation."""
    if not isinstance(key, str) or not key:
        return "empty"
    if len(key.encode("utf-8", "surrogatepass")) > 1024:
        return "too long"
    if any((ord(c) < 0x20 and c not in "\t\n\r") or 0xD800 <= ord(c) <= 0xDFFF or c in "\ufffe\uffff" for c in key):
        return "control characters or invalid UTF-8"
    return None


def check_object_key(key: object) -> str:
    problem = key_problem(key)
    if problem is not None:
        raise InvalidItem(f"object key {key!r} is not usable ({problem}): keys are 1-1024 bytes of UTF-8 "
                          "without control characters")
    return key  # type: ignore[return-value]


def check_put(data: object, content_type: str, metadata: dict[str, str] | None) -> tuple[str, dict[str, str]]:
    """A put's content type and metadata in the form every implementation stores."""
    if not isinstance(data, (bytes, bytearray)):
        raise InvalidItem(f"object data must be bytes, not {type(data).__name__}")
    out = {}
    for name, value in (metadata or {}).items():
        if not (isinstance(name, str) and isinstance(value, str) and name and name.isascii() and value.isascii()
                and name.isprintable() and value.isprintable()):
            raise InvalidItem(f"metadata {name!r}: names and values must be printable ASCII")
        out[name.lower()] = value
    if sum(len(k) + len(v) for k, v in out.items()) > 2048:
        raise InvalidItem("metadata is over 2 KB")
    return content_type or "binary/octet-stream", out


def encode_list_token(last_key: str) -> str:
    return base64.urlsafe_b64encode(last_key.encode()).decode().rstrip("=")


def decode_list_token(token: str, prefix: str) -> str:
    """The key a listing resumes after; ``InvalidToken`` unless a listing of ``prefix`` made the token."""
    try:
        after = base64.b64decode(token.encode() + b"=" * (-len(token) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise InvalidToken("next token is malformed") from exc
    if key_problem(after) is not None:
        raise InvalidToken("next token is malformed")
    if not after.startswith(prefix):
        raise InvalidToken("next token belongs to another listing")
    return after


def check_page_limit(limit: object) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
        raise InvalidItem(f"limit must be 1-1000, got {limit!r}")
    return limit


class ConfinedBucket(ObjectStorePort):
    """A bucket's port that writes (puts, deletes, presigns) only keys ``allowed`` takes: an object trigger's own
    bucket, which it must not write where its own events come from. Anything else is refused (``AccessDenied``)."""

    def __init__(self, port: ObjectStorePort, allowed: Callable[[str], bool], who: str) -> None:
        self.port, self.allowed, self.who = port, allowed, who

    def _check(self, key: str) -> str:
        if not self.allowed(key):
            raise ServiceError("AccessDenied", f"{self.who} may not write {key!r}: it is where its own events come "
                               "from, or outside the prefixes it declares in writes=", 403)
        return key

    def _put(self, key: str, data: bytes, content_type: str, metadata: dict[str, str]) -> ObjectInfo:
        return self.port._put(self._check(key), data, content_type, metadata)

    def _get(self, key: str) -> StoredObject | None:
        return self.port._get(key)

    def _head(self, key: str) -> ObjectInfo | None:
        return self.port._head(key)

    def _delete(self, key: str) -> None:
        self.port._delete(self._check(key))

    def _list(self, prefix: str, after: str, limit: int) -> tuple[Listing, bool]:
        return self.port._list(prefix, after, limit)

    def _presigned_post(self, key: str, conditions: Conditions, expires: int) -> PresignedPost:
        return self.port._presigned_post(self._check(key), conditions, expires)
