"""The ``Table`` port: a DynamoDB-shaped key-value table.

``TablePort`` is a base class: its public methods check and normalise their arguments once,
for every implementation, and hand checked values to a few ``_hooks`` that an implementation
(``SqliteTable``, the DAX-style ``CachedTable``, ``DynamoTable``) fills in.

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
- errors are the project's (``ConditionFailed``, ``InvalidItem``, ``InvalidToken``); anything
  else the service refuses is a ``ServiceError`` with the service's code, on every provider.
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
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConditionFailed, InvalidItem, InvalidToken

Item = dict[str, Any]
MAX_ITEM_BYTES = 400 * 1024  # DynamoDB's item size limit, kept by every implementation


@dataclass(frozen=True)
class KeyCondition:
    """A condition on the sort key, for ``query(..., sort=...)``: a DynamoDB key condition expression.

    Made with ``KeyCondition.eq(v)``, ``lt``, ``le``, ``gt``, ``ge``, ``between`` and ``begins_with``; each value
    has the sort key's type (a non-empty string, or an int).

    - ``op``: ``"eq"``, ``"lt"``, ``"le"``, ``"gt"``, ``"ge"``, ``"between"`` or ``"begins_with"``.
    - ``value``: the value compared with (the lower bound of ``between``, the prefix of ``begins_with``).
    - ``upper``: the upper bound of ``between``; None otherwise.
    """

    op: str
    value: Any
    upper: Any = None

    @classmethod
    def eq(cls, v: Any) -> KeyCondition:
        """Sort key equal to ``v`` (``=``)."""
        return cls("eq", v)

    @classmethod
    def lt(cls, v: Any) -> KeyCondition:
        """Sort key less than ``v`` (``<``)."""
        return cls("lt", v)

    @classmethod
    def le(cls, v: Any) -> KeyCondition:
        """Sort key less than or equal to ``v`` (``<=``)."""
        return cls("le", v)

    @classmethod
    def gt(cls, v: Any) -> KeyCondition:
        """Sort key greater than ``v`` (``>``)."""
        return cls("gt", v)

    @classmethod
    def ge(cls, v: Any) -> KeyCondition:
        """Sort key greater than or equal to ``v`` (``>=``)."""
        return cls("ge", v)

    @classmethod
    def between(cls, lo: Any, hi: Any) -> KeyCondition:
        """Sort key from ``lo`` to ``hi``, both included (``BETWEEN``)."""
        return cls("between", lo, hi)

    @classmethod
    def begins_with(cls, prefix: str) -> KeyCondition:
        """Sort key starting with ``prefix``, a string sort key only (``begins_with``)."""
        return cls("begins_with", prefix)


@dataclass
class Page:
    """A page of a query's answer.

    - ``items``: the matching items, in sort key order (reversed with ``forward=False``).
    - ``next_token``: None on the last page; otherwise pass it as ``query(..., next_token=...)`` for the next
      page (DynamoDB's ``LastEvaluatedKey``, as an opaque string).
    """

    items: list[Item] = field(default_factory=list)
    next_token: str | None = None


@dataclass(frozen=True)
class Conditions:
    """A write's conditions, as the port takes them (see the module's docstring)."""

    if_absent: bool = False
    if_exists: bool = False
    expect: dict[str, Any] | None = None

    def __bool__(self) -> bool:
        return self.if_absent or self.if_exists or bool(self.expect)


NONE = Conditions()


@dataclass(frozen=True)
class Query:
    """A checked query: the partition key value, and the sort key value it resumes after (None: from the start)."""

    partition: Any
    sort: KeyCondition | None
    where: dict[str, Any] | None
    limit: int
    after: Any
    forward: bool
    consistent: bool

    @property
    def batch(self) -> int:
        """How many items to read at a time: just past a page when nothing is filtered out, more when a filter
        may skip some."""
        return self.limit + 1 if not self.where else min(max(4 * self.limit, 64), 1000)


Key = tuple[Any, Any]  # (partition key value, sort key value); "" as the sort key value of a table without one


class TablePort:
    """A handler's view of one declared table (``ctx.table(table)``): DynamoDB's item operations, the same on
    every provider (SQLite locally, DynamoDB or DAX on AWS).

    The public methods check and normalise what they are given, once, for every implementation; an
    implementation fills in the ``_hooks``, which get checked values.

    Hooks take keys as ``(partition, sort)`` value pairs and items already ``normalize``d, and raise
    ``ConditionFailed`` when a write's conditions do not hold (``check_conditions`` decides it from the
    stored item, where an implementation has it in hand).
    """

    def __init__(self, decl: Any) -> None:
        self.decl = decl
        self.name: str = decl.name

    # -- the port

    def get(self, key: Item, *, consistent: bool = False) -> Item | None:
        """The item with ``key``, or None (DynamoDB's GetItem).

        - ``key``: the key attributes, ``{"owner": "u1", "id": "n1"}`` (others are ignored).
        - ``consistent``: True: read the table itself, past a ``TableCache`` (a strongly consistent read);
          default False.
        """
        return self._get(key_values(self.decl, key), consistent)

    def batch_get(self, keys: list[Item], *, consistent: bool = False) -> list[Item | None]:
        """The items with ``keys``, in their order, None for each missing one (DynamoDB's BatchGetItem,
        unprocessed keys retried).

        - ``keys``: up to 100 keys, as ``get`` takes them.
        - ``consistent``: as ``get``'s.
        """
        check_batch(self.decl, keys)
        return self._batch_get([key_values(self.decl, k) for k in keys], consistent)

    def put(self, item: Item, *, if_absent: bool = False, if_exists: bool = False,
            expect: dict[str, Any] | None = None) -> None:
        """Store ``item``, replacing any item with its key (DynamoDB's PutItem).

        Values are what DynamoDB holds: strings, numbers (64-bit integers, finite floats), booleans, None,
        lists and maps with string keys, up to 400 KB an item; anything else is ``InvalidItem``. A condition
        that does not hold raises ``ConditionFailed`` and writes nothing (a condition expression).

        - ``item``: the whole item, its key attributes included.
        - ``if_absent``: write only if no item has this key (``attribute_not_exists``); default False.
        - ``if_exists``: write only if an item has this key; default False.
        - ``expect``: write only if each named attribute of the stored item equals the given value; None as a
          value means the attribute is absent (optimistic concurrency: ``expect={"version": 3}``).
        """
        item = normalize(self.decl, item)
        self._put(key_values(self.decl, item), item, Conditions(if_absent, if_exists, expect))

    def update(self, key: Item, changes: dict[str, Any], *, remove: tuple[str, ...] = (), if_exists: bool = True,
               expect: dict[str, Any] | None = None) -> Item:
        """Set and remove attributes of the item with ``key``; the whole new item (DynamoDB's UpdateItem,
        ``SET`` and ``REMOVE``, ``ALL_NEW``).

        - ``key``: the key attributes.
        - ``changes``: the attributes to set, ``{name: value}`` (None is stored as null); key attributes
          cannot be changed.
        - ``remove``: the names of attributes to remove; none may also be in ``changes``. Default none.
        - ``if_exists``: True (the default): ``ConditionFailed`` if no item has the key; False creates it.
        - ``expect``: as ``put``'s.
        """
        k = key_values(self.decl, key)
        changes = check_changes(self.decl, key, changes, remove)
        return self._update(k, changes, tuple(remove), Conditions(False, if_exists, expect))

    def delete(self, key: Item, *, if_exists: bool = False, expect: dict[str, Any] | None = None) -> Item | None:
        """Delete the item with ``key``; the item deleted, or None if there was none (DynamoDB's DeleteItem,
        ``ALL_OLD``).

        - ``key``: the key attributes.
        - ``if_exists``: ``ConditionFailed`` if no item has the key; default False (deleting nothing is fine).
        - ``expect``: as ``put``'s.
        """
        return self._delete(key_values(self.decl, key), Conditions(False, if_exists, expect))

    def query(self, partition: Any, *, sort: KeyCondition | None = None, where: dict[str, Any] | None = None,
              limit: int = 100, next_token: str | None = None, forward: bool = True,
              consistent: bool = False) -> Page:
        """One partition's items in sort key order, a page at a time (DynamoDB's Query).

        - ``partition``: the partition key value.
        - ``sort``: a ``KeyCondition`` on the sort key (a key condition); None (the default): every item.
        - ``where``: ``{attribute: value}`` that matching items have, on attributes other than the key (a
          filter expression of equalities); None as a value matches an absent or null attribute.
        - ``limit``: the most matching items in a page, 1 to 1000; default 100.
        - ``next_token``: the ``next_token`` of the previous page of the same query; None (the default):
          the first page. A token of another table or partition is ``InvalidToken``.
        - ``forward``: True (the default): ascending sort key order; False: descending (``ScanIndexForward``).
        - ``consistent``: as ``get``'s.
        """
        check_limit(self.decl, limit)
        check_query(self.decl, sort, where)
        pk = partition_value(self.decl, partition)
        sort_type = self.decl.sort_key.type if self.decl.sort_key else None
        after = decode_token(next_token, self.name, pk, sort_type) if next_token else None
        if self.decl.sort_key is None and after is not None:
            return Page([], None)  # a partition of a table without a sort key holds one item, already returned
        return self._query(Query(pk, sort, where, limit, after, forward, consistent))

    # -- what implementations share

    def key_item(self, key: Key) -> Item:
        """The key as an item: its attributes by name."""
        names = self.decl.key_names
        return {names[0]: key[0], **({names[1]: key[1]} if len(names) > 1 else {})}

    def page(self, q: Query, matches: Iterable[Item]) -> Page:
        """A page of ``q``: its first ``limit`` matches, and a token when one more exists."""
        items: list[Item] = []
        for item in matches:
            if len(items) == q.limit:  # a further match exists: hand out a token after the last one returned
                last = items[-1][self.decl.sort_key.name] if self.decl.sort_key else ""
                return Page(items, encode_token(self.name, q.partition, last))
            items.append(item)
        return Page(items, None)

    # -- the hooks

    def _get(self, key: Key, consistent: bool) -> Item | None:
        raise NotImplementedError

    def _batch_get(self, keys: list[Key], consistent: bool) -> list[Item | None]:
        """The items of ``keys`` (at most ``MAX_BATCH``, possibly repeated), in their order."""
        raise NotImplementedError

    def _put(self, key: Key, item: Item, cond: Conditions) -> None:
        raise NotImplementedError

    def _update(self, key: Key, changes: dict[str, Any], remove: tuple[str, ...], cond: Conditions) -> Item:
        """Set ``changes``, drop ``remove``, and return the whole new item (a missing one only when the conditions
        let it be created)."""
        raise NotImplementedError

    def _delete(self, key: Key, cond: Conditions) -> Item | None:
        """Delete the item; the one deleted, or None if there was none."""
        raise NotImplementedError

    def _query(self, q: Query) -> Page:
        raise NotImplementedError


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
    names = set(decl.key_names)
    touched = names & (set(changes) | set(remove))
    if touched:
        raise InvalidItem(f"table {decl.name!r}: key attributes cannot be updated: {sorted(touched)}")
    both = set(changes) & set(remove)
    if both:
        raise InvalidItem(f"table {decl.name!r}: attributes both set and removed: {sorted(both)}")
    return _value(decl, changes, "changes")


def check_query(decl: Any, sort: KeyCondition | None, where: dict[str, Any] | None) -> None:
    """A query's sort condition and filter, as every implementation accepts them."""
    keys = set(decl.key_names)
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


def check_conditions(decl: Any, old: Item | None, cond: Conditions) -> None:
    """Raise ``ConditionFailed`` unless ``old`` (the stored item, or None) meets the write's conditions."""
    if cond.if_absent and old is not None:
        raise ConditionFailed(f"table {decl.name!r}: an item with this key already exists")
    if cond.if_exists and old is None:
        raise ConditionFailed(f"table {decl.name!r}: no item with this key")
    for attr, want in (cond.expect or {}).items():
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
