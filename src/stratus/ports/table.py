"""The ``Table`` port: a DynamoDB-shaped key-value table.

Items are JSON-like dicts. The contract, which every implementation keeps:

- ``get`` returns the item or ``None``; ``batch_get`` does the same for up to
  100 keys at once, answering in the keys' order. ``get``, ``batch_get`` and
  ``query`` take ``consistent=True`` to read the table itself, past any cache.
- ``put``/``update``/``delete`` accept conditions: ``if_absent`` (no item with
  this key), ``if_exists`` (an item with this key), and ``expect`` (each named
  attribute equals the given value; ``None`` means the attribute is absent).
  A condition that does not hold raises ``ConditionFailed`` and writes nothing.
- ``update`` sets the given attributes (``None`` is stored as null), removes
  those named in ``remove``, and returns the whole new item. Unlike DynamoDB's
  UpdateItem it does not create a missing item unless ``if_exists=False``.
- ``query`` reads one partition in sort-key order, optionally narrowed by a
  ``KeyCondition`` on the sort key and an equality ``where`` filter, and returns
  a ``Page`` of at most ``limit`` *matching* items plus an opaque ``next_token``
  when more may follow. A token is only valid for the same table and partition;
  anything else raises ``InvalidToken``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import ConditionFailed, InvalidItem, InvalidToken

Item = dict[str, Any]
MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's item size limit, kept by every implementation


@dataclass(frozen=True)
class KeyCondition:
    """A condition on the sort key: eq, lt, le, gt, ge, between, begins_with."""

    op: str
    value: Any
    upper: Any = None

    @classmethod
    def eq(cls, v: Any) -> KeyCondition: return cls("eq", v)
    @classmethod
    def lt(cls, v: Any) -> KeyCondition: return cls("lt", v)
    @classmethod
    def le(cls, v: Any) -> KeyCondition: return cls("le", v)
    @classmethod
    def gt(cls, v: Any) -> KeyCondition: return cls("gt", v)
    @classmethod
    def ge(cls, v: Any) -> KeyCondition: return cls("ge", v)
    @classmethod
    def between(cls, lo: Any, hi: Any) -> KeyCondition: return cls("between", lo, hi)
    @classmethod
    def begins_with(cls, prefix: str) -> KeyCondition: return cls("begins_with", prefix)


@dataclass
class Page:
    items: list[Item] = field(default_factory=list)
    next_token: str | None = None


class TablePort(Protocol):
    def get(self, key: Item, *, consistent: bool = False) -> Item | None: ...

    def batch_get(self, keys: list[Item], *, consistent: bool = False) -> list[Item | None]: ...

    def put(self, item: Item, *, if_absent: bool = False, if_exists: bool = False,
            expect: dict[str, Any] | None = None) -> None: ...

    def update(self, key: Item, changes: dict[str, Any], *, remove: tuple[str, ...] = (), if_exists: bool = True,
               expect: dict[str, Any] | None = None) -> Item: ...

    def delete(self, key: Item, *, if_exists: bool = False,
               expect: dict[str, Any] | None = None) -> Item | None: ...

    def query(self, partition: Any, *, sort: KeyCondition | None = None, where: dict[str, Any] | None = None,
              limit: int = 100, next_token: str | None = None, forward: bool = True,
              consistent: bool = False) -> Page: ...


def _key_attr(decl: Any, item: Item, name: str, typ: type) -> Any:
    if name not in item:
        raise InvalidItem(f"table {decl.name!r}: key attribute {name!r} is missing")
    v = item[name]
    if type(v) is not typ or (typ is str and v == ""):
        raise InvalidItem(f"table {decl.name!r}: key attribute {name!r} must be a non-empty {typ.__name__}")
    return v


def key_values(decl: Any, item: Item) -> tuple[Any, Any]:
    """The (partition, sort) key values of ``item`` for table ``decl`` (sort is ``""`` without a sort key),
    checked as every implementation must: present, of the declared type, a string not empty."""
    pk = _key_attr(decl, item, decl.partition_key.name, decl.partition_key.type)
    return pk, _key_attr(decl, item, decl.sort_key.name, decl.sort_key.type) if decl.sort_key else ""


def partition_value(decl: Any, value: Any) -> Any:
    """A partition key value for a query, checked like ``key_values`` checks it."""
    return _key_attr(decl, {decl.partition_key.name: value}, decl.partition_key.name, decl.partition_key.type)


def check_limit(decl: Any, limit: Any) -> None:
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
        raise InvalidItem(f"table {decl.name!r}: limit must be 1-1000, got {limit!r}")


def check_conditions(decl: Any, old: Item | None, if_absent: bool, if_exists: bool,
                     expect: dict[str, Any] | None) -> None:
    """Raise ``ConditionFailed`` unless ``old`` (the stored item, or None) meets the write's conditions."""
    if if_absent and old is not None:
        raise ConditionFailed(f"table {decl.name!r}: an item with this key already exists")
    if if_exists and old is None:
        raise ConditionFailed(f"table {decl.name!r}: no item with this key")
    for attr, want in (expect or {}).items():
        present = old is not None and attr in old
        if (want is None and present) or (want is not None and (not present or old[attr] != want)):  # type: ignore[index]
            have = old.get(attr) if old is not None else None
            raise ConditionFailed(f"table {decl.name!r}: expected {attr}={want!r}, found {have!r}")


def encode_token(table: str, partition: Any, last_sort: Any) -> str:
    """The opaque continuation token after ``last_sort`` (shared by every implementation)."""
    raw = json.dumps([table, partition, last_sort], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_token(token: str, table: str, partition: Any, sort_type: type = str) -> Any:
    """The sort key a token continues after; ``InvalidToken`` unless it was made for this query."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        t, p, last = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise InvalidToken("next token is malformed") from exc
    if t != table or p != partition:
        raise InvalidToken("next token belongs to another query")
    if type(last) is not sort_type or (isinstance(last, int) and not -(2**63) <= last < 2**63):
        raise InvalidToken("next token is malformed")
    return last
