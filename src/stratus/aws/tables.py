"""The ``Table`` port on DynamoDB.

The contract is the port's (see ``stratus.ports.table``), held to by the same
contract suite as the local engine. Where DynamoDB's own API differs, this
adapter bridges it:

- reads are strongly consistent (the port promises read-your-writes), except
  through DAX (``strongly_consistent=False``), where only ``consistent=True`` reads
  go past the cache, as the port's callers ask;
- ``update`` does not create a missing item unless told to (``if_exists=False``);
- ``query`` returns up to ``limit`` *matching* items: DynamoDB applies ``Limit``
  before the filter, so the adapter reads on until it has one match past the page,
  and then hands out the port's own token (made from the last item returned) rather
  than DynamoDB's ``LastEvaluatedKey``;
- numbers come back as the port's ``int`` or ``float`` (``normalize``), not ``Decimal``.

botocore errors are translated here, once: a failed condition becomes
``ConditionFailed``, an item DynamoDB will not store becomes ``InvalidItem``.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from ..app import Table
from ..errors import ConditionFailed, InvalidItem
from ..ports.table import (
    Item,
    KeyCondition,
    Page,
    check_batch,
    check_changes,
    check_conditions,
    check_limit,
    check_query,
    decode_token,
    encode_token,
    key_values,
    normalize,
    partition_value,
)

_ser, _de = TypeSerializer(), TypeDeserializer()


def _to_dynamo(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, dict):
        return {k: _to_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_to_dynamo(v) for v in value]
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):  # the port's numbers: an int when integral within 64 bits, else a float
        return int(value) if value == value.to_integral_value() and -(2**63) <= value < 2**63 else float(value)
    if isinstance(value, dict):
        return {k: _from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_dynamo(v) for v in value]
    return value


class DynamoTable:
    """The ``Table`` port for one declared table, on the DynamoDB table ``table_name``."""

    def __init__(self, decl: Table, client: Any, table_name: str, *, strongly_consistent: bool = True) -> None:
        self.decl, self.client, self.table_name = decl, client, table_name
        self.strongly_consistent = strongly_consistent
        self.name = decl.name
        self._pk = decl.partition_key.name
        self._sk = decl.sort_key.name if decl.sort_key else None

    # -- conversions

    def _item(self, item: Item) -> dict[str, Any]:
        """A ``normalize``d item in DynamoDB's attribute-value form."""
        return {k: _ser.serialize(_to_dynamo(v)) for k, v in item.items()}

    def _consistent(self, asked: bool) -> bool:
        return self.strongly_consistent or asked

    def _plain(self, raw: dict[str, Any] | None) -> Item | None:
        return None if raw is None else {k: _from_dynamo(_de.deserialize(v)) for k, v in raw.items()}

    def _key(self, key: Item) -> dict[str, Any]:
        pk, sk = key_values(self.decl, key)
        out = {self._pk: _ser.serialize(pk)}
        if self._sk:
            out[self._sk] = _ser.serialize(sk)
        return out

    def _condition(self, if_absent: bool, if_exists: bool, expect: dict[str, Any] | None) -> dict[str, Any]:
        parts, names, values = [], {"#pk": self._pk}, {}
        if if_absent:
            parts.append("attribute_not_exists(#pk)")
        if if_exists:
            parts.append("attribute_exists(#pk)")
        for i, (attr, want) in enumerate((expect or {}).items()):
            names[f"#e{i}"] = attr
            if want is None:
                parts.append(f"attribute_not_exists(#e{i})")
            else:
                values[f":e{i}"] = _ser.serialize(_to_dynamo(want))
                parts.append(f"#e{i} = :e{i}")
        if not parts:
            return {}
        used = {k: v for k, v in names.items() if any(k in p for p in parts)}
        out: dict[str, Any] = {"ConditionExpression": " AND ".join(parts), "ExpressionAttributeNames": used}
        if values:
            out["ExpressionAttributeValues"] = values
        return out

    def _call(self, op: str, **kw: Any) -> dict[str, Any]:
        try:
            result: dict[str, Any] = getattr(self.client, op)(**kw)
            return result
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "ConditionalCheckFailedException":
                raise ConditionFailed(f"table {self.name!r}: the write's condition did not hold") from exc
            if code == "ValidationException":
                raise InvalidItem(f"table {self.name!r}: {exc.response['Error'].get('Message')}") from exc
            raise

    # -- the port

    def get(self, key: Item, *, consistent: bool = False) -> Item | None:
        res = self._call("get_item", TableName=self.table_name, Key=self._key(key),
                         ConsistentRead=self._consistent(consistent))
        return self._plain(res.get("Item"))

    def batch_get(self, keys: list[Item], *, consistent: bool = False) -> list[Item | None]:
        check_batch(self.decl, keys)
        wanted = [self._key(k) for k in keys]
        unique = list({json.dumps(w, sort_keys=True): w for w in wanted}.values())
        found: dict[str, Item] = {}
        request: dict[str, Any] = {self.table_name: {"Keys": unique, "ConsistentRead": self._consistent(consistent)}} \
            if unique else {}
        while request:
            res = self._call("batch_get_item", RequestItems=request)
            for raw in res.get("Responses", {}).get(self.table_name, []):
                item = self._plain(raw)
                assert item is not None
                found[json.dumps(self._key(item), sort_keys=True)] = item
            request = res.get("UnprocessedKeys") or {}
        return [found.get(json.dumps(w, sort_keys=True)) for w in wanted]

    def put(self, item: Item, *, if_absent: bool = False, if_exists: bool = False,
            expect: dict[str, Any] | None = None) -> None:
        item = normalize(self.decl, item)
        self._key(item)
        self._call("put_item", TableName=self.table_name, Item=self._item(item),
                   **self._condition(if_absent, if_exists, expect))

    def update(self, key: Item, changes: dict[str, Any], *, remove: tuple[str, ...] = (), if_exists: bool = True,
               expect: dict[str, Any] | None = None) -> Item:
        dkey = self._key(key)
        changes = check_changes(self.decl, key, changes, remove)
        if not changes and not remove:  # nothing to set: the conditions decide; a missing item is created bare
            old = self.get(key, consistent=True)
            check_conditions(self.decl, old, False, if_exists, expect)
            if old is None:
                self.put(self.decl.key_of(key), if_absent=True)
                return self.decl.key_of(key)
            return old
        cond = self._condition(False, if_exists, expect)
        names = dict(cond.pop("ExpressionAttributeNames", {}))
        values = dict(cond.pop("ExpressionAttributeValues", {}))
        sets, drops = [], []
        for i, (attr, value) in enumerate(changes.items()):
            names[f"#s{i}"] = attr
            values[f":s{i}"] = _ser.serialize(_to_dynamo(value))
            sets.append(f"#s{i} = :s{i}")
        for i, attr in enumerate(remove):
            names[f"#r{i}"] = attr
            drops.append(f"#r{i}")
        expr = " ".join(p for p in (("SET " + ", ".join(sets)) if sets else "", ("REMOVE " + ", ".join(drops))
                                                                              if drops else "") if p)
        kw: dict[str, Any] = {"ExpressionAttributeNames": names, **cond}
        if values:
            kw["ExpressionAttributeValues"] = values
        res = self._call("update_item", TableName=self.table_name, Key=dkey, UpdateExpression=expr,
                         ReturnValues="ALL_NEW", **kw)
        new = self._plain(res.get("Attributes"))
        assert new is not None
        return new

    def delete(self, key: Item, *, if_exists: bool = False, expect: dict[str, Any] | None = None) -> Item | None:
        res = self._call("delete_item", TableName=self.table_name, Key=self._key(key), ReturnValues="ALL_OLD",
                         **self._condition(False, if_exists, expect))
        return self._plain(res.get("Attributes"))

    def query(self, partition: Any, *, sort: KeyCondition | None = None, where: dict[str, Any] | None = None,
              limit: int = 100, next_token: str | None = None, forward: bool = True,
              consistent: bool = False) -> Page:
        check_limit(self.decl, limit)
        check_query(self.decl, sort, where)
        pk = partition_value(self.decl, partition)
        sort_type = self.decl.sort_key.type if self.decl.sort_key else None
        after = decode_token(next_token, self.name, pk, sort_type) if next_token else None
        if self._sk is None and after is not None:
            return Page([], None)  # a partition of a table without a sort key holds one item, already returned
        names, values = {"#pk": self._pk}, {":pk": _ser.serialize(pk)}
        expr = "#pk = :pk"
        if sort is not None:  # vetted by check_query
            assert self._sk is not None
            names["#sk"] = self._sk
            values[":s1"] = _ser.serialize(sort.value)
            ops = {"eq": "=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
            if sort.op in ops:
                expr += f" AND #sk {ops[sort.op]} :s1"
            elif sort.op == "between":
                values[":s2"] = _ser.serialize(sort.upper)
                expr += " AND #sk BETWEEN :s1 AND :s2"
            else:
                expr += " AND begins_with(#sk, :s1)"
        kw: dict[str, Any] = {"TableName": self.table_name, "KeyConditionExpression": expr,
                              "ConsistentRead": self._consistent(consistent), "ScanIndexForward": forward}
        if where:
            filters = []
            for i, (attr, want) in enumerate(where.items()):
                names[f"#w{i}"] = attr
                values[f":w{i}"] = _ser.serialize(_to_dynamo(want))
                # None matches an absent attribute as well as a null one, as the port says
                filters.append(f"(attribute_not_exists(#w{i}) OR #w{i} = :w{i})" if want is None else f"#w{i} = :w{i}")
            kw["FilterExpression"] = " AND ".join(filters)
        kw["ExpressionAttributeNames"], kw["ExpressionAttributeValues"] = names, values
        kw["Limit"] = limit + 1 if not where else min(max(4 * limit, 64), 1000)
        if after is not None:
            kw["ExclusiveStartKey"] = {self._pk: _ser.serialize(pk), **({self._sk: _ser.serialize(after)}
                                                                         if self._sk else {})}
        items: list[Item] = []
        while True:
            res = self._call("query", **kw)
            for raw in res.get("Items", []):
                item = self._plain(raw)
                assert item is not None
                if len(items) == limit:  # a further match exists: hand out a token after the last one returned
                    last = items[-1][self._sk] if self._sk else ""
                    return Page(items, encode_token(self.name, pk, last))
                items.append(item)
            if "LastEvaluatedKey" not in res:
                return Page(items, None)
            kw["ExclusiveStartKey"] = res["LastEvaluatedKey"]
