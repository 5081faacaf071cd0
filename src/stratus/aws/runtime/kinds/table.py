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
``ConditionFailed``, an item DynamoDB will not store becomes ``InvalidItem``, and anything
else a ``ServiceError`` with DynamoDB's code (``runtime.errors``).

Through DAX (a table that declares a cache, with ``STRATUS_DAX_ENDPOINT`` set) the client is
amazon-dax-client's, which takes the same calls; the function is granted ``dax:`` actions on
the cluster then, and no ``dynamodb:`` ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from ....errors import ConditionFailed, InvalidItem, UnsupportedFeature
from ....graph import Table
from ....ports.table import Conditions, Item, Key, Page, Query, TablePort, check_conditions
from ... import AWS_EXTRA
from ..errors import error_code, service_error
from . import AwsKind, Clients, Statement

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


def from_stream_image(image: dict[str, Any] | None) -> dict[str, Any] | None:
    """An item as a DynamoDB stream record carries it (typed attribute values) as the port's plain item."""
    return None if image is None else {k: _from_dynamo(_de.deserialize(v)) for k, v in image.items()}


# what DynamoTable calls (GetItem, BatchGetItem, PutItem, UpdateItem, DeleteItem, Query)
TABLE_ACTIONS = ("dynamodb:BatchGetItem", "dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem",
                 "dynamodb:Query", "dynamodb:UpdateItem")
# the same through DAX, for tables that declare a cache
DAX_ACTIONS = tuple(a.replace("dynamodb:", "dax:") for a in TABLE_ACTIONS)


class DynamoTable(TablePort):
    """The ``Table`` port for one declared table, on the DynamoDB table ``table_name``."""

    def __init__(self, decl: Table, client: Any, table_name: str, *, strongly_consistent: bool = True) -> None:
        super().__init__(decl)
        self.client, self.table_name = client, table_name
        self.strongly_consistent = strongly_consistent
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

    def _key(self, key: Key) -> dict[str, Any]:
        out = {self._pk: _ser.serialize(key[0])}
        if self._sk:
            out[self._sk] = _ser.serialize(key[1])
        return out

    def _condition(self, cond: Conditions) -> dict[str, Any]:
        parts, names, values = [], {"#pk": self._pk}, {}
        if cond.if_absent:
            parts.append("attribute_not_exists(#pk)")
        if cond.if_exists:
            parts.append("attribute_exists(#pk)")
        for i, (attr, want) in enumerate((cond.expect or {}).items()):
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
            code = error_code(exc)
            if code == "ConditionalCheckFailedException":
                raise ConditionFailed(f"table {self.name!r}: the write's condition did not hold") from exc
            if code == "ValidationException":
                raise InvalidItem(f"table {self.name!r}: {exc.response['Error'].get('Message')}") from exc
            raise service_error(exc) from exc
        except BotoCoreError as exc:
            raise service_error(exc) from exc

    # -- the hooks

    def _get(self, key: Key, consistent: bool) -> Item | None:
        res = self._call("get_item", TableName=self.table_name, Key=self._key(key),
                         ConsistentRead=self._consistent(consistent))
        return self._plain(res.get("Item"))

    def _batch_get(self, keys: list[Key], consistent: bool) -> list[Item | None]:
        wanted = [self._key(k) for k in keys]
        unique = list({json.dumps(w, sort_keys=True): w for w in wanted}.values())  # BatchGetItem refuses repeats
        found: dict[str, Item] = {}
        request: dict[str, Any] = {self.table_name: {"Keys": unique, "ConsistentRead": self._consistent(consistent)}} \
            if unique else {}
        while request:
            res = self._call("batch_get_item", RequestItems=request)
            for raw in res.get("Responses", {}).get(self.table_name, []):
                item = self._plain(raw)
                assert item is not None
                found[json.dumps(self._key((item[self._pk], item[self._sk] if self._sk else "")), sort_keys=True)] = item
            request = res.get("UnprocessedKeys") or {}
        return [found.get(json.dumps(w, sort_keys=True)) for w in wanted]

    def _put(self, key: Key, item: Item, cond: Conditions) -> None:
        self._call("put_item", TableName=self.table_name, Item=self._item(item), **self._condition(cond))

    def _update(self, key: Key, changes: dict[str, Any], remove: tuple[str, ...], cond: Conditions) -> Item:
        if not changes and not remove:  # nothing to set: the conditions decide; a missing item is created bare
            old = self._get(key, True)
            check_conditions(self.decl, old, cond)
            if old is None:
                self._put(key, self.key_item(key), Conditions(if_absent=True))
                return self.key_item(key)
            return old
        kw = self._condition(cond)
        names = dict(kw.pop("ExpressionAttributeNames", {}))
        values = dict(kw.pop("ExpressionAttributeValues", {}))
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
        kw["ExpressionAttributeNames"] = names
        if values:
            kw["ExpressionAttributeValues"] = values
        res = self._call("update_item", TableName=self.table_name, Key=self._key(key), UpdateExpression=expr,
                         ReturnValues="ALL_NEW", **kw)
        new = self._plain(res.get("Attributes"))
        assert new is not None
        return new

    def _delete(self, key: Key, cond: Conditions) -> Item | None:
        res = self._call("delete_item", TableName=self.table_name, Key=self._key(key), ReturnValues="ALL_OLD",
                         **self._condition(cond))
        return self._plain(res.get("Attributes"))

    def _query(self, q: Query) -> Page:
        return self.page(q, self._matches(q))

    def _matches(self, q: Query) -> Iterator[Item]:
        """The partition's matching items in sort-key order, page after DynamoDB page."""
        names, values = {"#pk": self._pk}, {":pk": _ser.serialize(q.partition)}
        expr = "#pk = :pk"
        sort = q.sort
        if sort is not None:  # vetted by the port
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
                              "ConsistentRead": self._consistent(q.consistent), "ScanIndexForward": q.forward}
        if q.where:
            filters = []
            for i, (attr, want) in enumerate(q.where.items()):
                names[f"#w{i}"] = attr
                values[f":w{i}"] = _ser.serialize(_to_dynamo(want))
                # None matches an absent attribute as well as a null one, as the port says
                filters.append(f"(attribute_not_exists(#w{i}) OR #w{i} = :w{i})" if want is None else f"#w{i} = :w{i}")
            kw["FilterExpression"] = " AND ".join(filters)
        kw["ExpressionAttributeNames"], kw["ExpressionAttributeValues"] = names, values
        kw["Limit"] = q.batch
        if q.after is not None:
            kw["ExclusiveStartKey"] = {self._pk: _ser.serialize(q.partition),
                                       **({self._sk: _ser.serialize(q.after)} if self._sk else {})}
        while True:
            res = self._call("query", **kw)
            for raw in res.get("Items", []):
                item = self._plain(raw)
                assert item is not None
                yield item
            if "LastEvaluatedKey" not in res:
                return
            kw["ExclusiveStartKey"] = res["LastEvaluatedKey"]


def _dax_client(endpoint: str) -> Any:
    try:
        from amazondax import AmazonDaxClient
    except ImportError as exc:
        raise UnsupportedFeature("STRATUS_DAX_ENDPOINT is set but amazon-dax-client is not in the function's "
                                 f"asset: {AWS_EXTRA}") from exc
    return AmazonDaxClient(endpoint_url=endpoint)


class TableKind(AwsKind[Table]):
    def port(self, decl: Table, name: str, env: Mapping[str, str], clients: Clients) -> TablePort:
        dax = env.get("STRATUS_DAX_ENDPOINT")
        if decl.cache is not None and dax:
            return DynamoTable(decl, clients.get("dax", lambda: _dax_client(dax)), name, strongly_consistent=False)
        return DynamoTable(decl, clients.get("dynamodb"), name)

    def grants(self, decl: Table, arn: str, shared: Mapping[str, str]) -> list[Statement]:
        if decl.cache is not None and "dax" in shared:
            # every call on a cached table goes to the cluster, which reaches DynamoDB with its own role
            return [{"Effect": "Allow", "Action": list(DAX_ACTIONS), "Resource": [shared["dax"]]}]
        return [{"Effect": "Allow", "Action": list(TABLE_ACTIONS), "Resource": [arn]}]


KIND = TableKind()
