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
  those named in ``remove`` (an attribute cannot be in both), and returns the
  whole new item. Unlike DynamoDB's UpdateItem it does not create a missing
  item unless ``if_exists=False``.
- Values are what DynamoDB can hold, checked the same way everywhere
  (``normalize``): strings, booleans, null, lists and maps with string keys,
  integers within 64 bits, and finite floats in DynamoDB's range; a float with an
  integral value within 64 bits is stored and returned as an int, as DynamoDB
  returns it. Anything else is ``InvalidItem``.
- ``where`` filters by equality on non-key attributes; ``None`` matches an absent
  attribute or a null one.
- ``query`` reads one partition in sort-key order, optionally narrowed by a
  ``KeyCondition`` on the sort key and an equality ``where`` filter, and returns
  a ``Page`` of at most ``limit`` *matching* items plus an opaque ``next_token``
  when more may follow. A token is only valid for the same table and partition;
  anything else raises ``InvalidToken``.
"""

from __future__ import annotations

import base64
import json
import math
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
    if type(v) is not typ or (typ is str and v == "") or (isinstance(v, int) and not -(2**63) <= v < 2**63):
        raise InvalidItem(f"table {decl.name!r}: key attribute {name!r} must be a non-empty {typ.__name__}"
                          + (" within 64 bits" if typ is int else ""))
    return v


def _value(decl: Any, value: Any, where: str) -> Any:
    """``value`` as every implementation stores it, or ``InvalidItem`` naming ``where``."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        if not -(2**63) <= value < 2**63:
            raise InvalidItem(f"table {decl.name!r}: {where} is an integer beyond 64 bits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value) or (value != 0 and not 1e-130 <= abs(value) < 1e126):
            raise InvalidItem(f"table {decl.name!r}: {where} is {value!r}, which DynamoDB cannot store")
        return int(value) if value.is_integer() and -(2**63) <= value < 2**63 else value
    if isinstance(value, list):
        return [_value(decl, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        for k in value:
            if not isinstance(k, str) or not k:
                raise InvalidItem(f"table {decl.name!r}: {where} has a key {k!r}; map keys are non-empty strings")
        return {k: _value(decl, v, f"{where}.{k}") for k, v in value.items()}
    raise InvalidItem(f"table {decl.name!r}: {where} is a {type(value).__name__}, which a table cannot store")


MAX_BATCH = 100  # keys in one batch_get, as in BatchGetItem


def check_batch(decl: Any, keys: list[Item]) -> None:
    if len(keys) > MAX_BATCH:
        raise InvalidItem(f"table {decl.name!r}: batch_get takes at most {MAX_BATCH} keys, got {len(keys)}")


def normalize(decl: Any, item: Item) -> Item:
    """A checked copy of ``item`` in the form every implementation stores and returns, within 400 KB."""
    out = _value(decl, item, "item")
    size = len(json.dumps(out, ensure_ascii=False, separators=(",", ":")).encode())
    if size > MAX_ITEM_BYTES:
        raise InvalidItem(f"table {decl.name!r}: item is {size} bytes, over the 400 KB limit")
    return out


def check_changes(decl: Any, key: Item, changes: dict[str, Any], remove: tuple[str, ...]) -> dict[str, Any]:
    """An update's changes, checked: no key attribute touched, nothing both set and removed, values storable."""
    names = {decl.partition_key.name, *([decl.sort_key.name] if decl.sort_key else [])}
    touched = names & (set(changes) | set(remove))
    if touched:
        raise InvalidItem(f"table {decl.name!r}: key attributes cannot be updated: {sorted(touched)}")
    both = set(changes) & set(remove)
    if both:
        raise InvalidItem(f"table {decl.name!r}: attributes both set and removed: {sorted(both)}")
    return _value(decl, changes, "changes")


def check_query(decl: Any, sort: KeyCondition | None, where: dict[str, Any] | None) -> None:
    """A query's sort condition and filter, as every implementation accepts them."""
    keys = {decl.partition_key.name, *([decl.sort_key.name] if decl.sort_key else [])}
    if sort is not None:
        if decl.sort_key is None:
            raise InvalidItem(f"table {decl.name!r} has no sort key to put a condition on")
        if sort.op not in ("eq", "lt", "le", "gt", "ge", "between", "begins_with"):
            raise InvalidItem(f"unknown sort key condition {sort.op!r}")
        for v in [sort.value] + ([sort.upper] if sort.op == "between" else []):
            if type(v) is not decl.sort_key.type or v == "":
                raise InvalidItem(f"table {decl.name!r}: sort key condition needs a non-empty "
                                  f"{decl.sort_key.type.__name__}")
        if sort.op == "begins_with" and decl.sort_key.type is not str:
            raise InvalidItem(f"table {decl.name!r}: begins_with needs a string sort key")
    for attr in where or {}:
        if attr in keys:
            raise InvalidItem(f"table {decl.name!r}: filter on key attribute {attr!r}; use the partition or a sort "
                              "condition")
        _value(decl, (where or {})[attr], f"where.{attr}")


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


def decode_token(token: str, table: str, partition: Any, sort_type: type | None = str) -> Any:
    """The sort key a token continues after; ``InvalidToken`` unless it was made for this query."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        t, p, last = json.loads(raw)
    except (ValueError, TypeError) as exc:
        raise InvalidToken("next token is malformed") from exc
    if t != table or p != partition:
        raise InvalidToken("next token belongs to another query")
    if sort_type is None:  # a table without a sort key pages after its one item: the token holds ""
        if last != "":
            raise InvalidToken("next token is malformed")
        return last
    if type(last) is not sort_type or last == "" or (isinstance(last, int) and not -(2**63) <= last < 2**63):
        raise InvalidToken("next token is malformed")
    return last
