"""The ``ObjectStore`` port: a handler's view of one bucket.

Handlers store and read whole objects by key; listing pages by prefix with an opaque
token, in key order. Missing objects read as ``None``. A key must be 1 to 1024 bytes of
UTF-8 without control characters (``InvalidItem`` otherwise), as the local engine and S3
both require.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..errors import InvalidItem


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    content_type: str
    metadata: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StoredObject:
    info: ObjectInfo
    data: bytes


@dataclass
class ObjectPage:
    objects: list[ObjectInfo] = field(default_factory=list)
    next_token: str | None = None


class ObjectStorePort(Protocol):
    def put(self, key: str, data: bytes, *, content_type: str = "binary/octet-stream",
            metadata: dict[str, str] | None = None) -> ObjectInfo: ...

    def get(self, key: str) -> StoredObject | None: ...

    def head(self, key: str) -> ObjectInfo | None: ...

    def delete(self, key: str) -> None: ...

    def list(self, prefix: str = "", *, limit: int = 1000, next_token: str | None = None) -> ObjectPage: ...


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


def check_page_limit(limit: object) -> int:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
        raise InvalidItem(f"limit must be 1-1000, got {limit!r}")
    return limit
