"""What the DynamoDB adapter sends, as amazon-dax-client would put it on the wire to a DAX cluster.

No DAX cluster runs here (moto has none), so the adapter's side of the DAX path is checked in two
halves: the table contract suite runs the adapter in the mode it has behind DAX (on moto), and
this test records every request the adapter makes while the todo flows and the contract's kinds
of call run, then has amazon-dax-client convert, validate and encode each one exactly as its
``DaxClient`` does before writing to a node (its own request converter, expression parser and
CBOR stubs; only the socket is left out). A request the DAX client would refuse fails here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from amazondax import AttributeValueEncoder, DynamoDbV1Converter
from amazondax.CborEncoder import CborEncoder
from amazondax.Constants import DaxMethodIds
from amazondax.DaxClient import Request
from amazondax.generated import Stubs
from amazondax.Tube import Tube

from stratus import App, ConditionFailed, KeyCondition, TableCache
from stratus.aws.runtime.kinds.table import DynamoTable
from tests.conftest import aws_mock, dynamodb_table

OPERATIONS = {  # what the adapter calls, and how DaxClient sends each
    "get_item": (DaxMethodIds.getItem_263244906_1_Id, Stubs.write_getItem_263244906_1),
    "put_item": (DaxMethodIds.putItem_N2106490455_1_Id, Stubs.write_putItem_N2106490455_1),
    "update_item": (DaxMethodIds.updateItem_1425579023_1_Id, Stubs.write_updateItem_1425579023_1),
    "delete_item": (DaxMethodIds.deleteItem_1013539361_1_Id, Stubs.write_deleteItem_1013539361_1),
    "query": (DaxMethodIds.query_N931250863_1_Id, Stubs.write_query_N931250863_1),
    "batch_get_item": (DaxMethodIds.batchGetItem_N697851100_1_Id, Stubs.write_batchGetItem_N697851100_1),
}


class Recorder:
    """A DynamoDB client that writes down each call before making it."""

    def __init__(self, client: Any) -> None:
        self.client, self.calls = client, []  # type: ignore[var-annotated]

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.client, name)
        if name not in OPERATIONS:
            return target

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return target(**kwargs)
        return call


class WireTube(Tube):
    """A DAX tube with no socket: what the stubs write stays in the CBOR encoder."""

    def __init__(self) -> None:  # no connection, no authentication: only the encoder
        self.enc = CborEncoder()

    def _maybe_flush(self) -> None:
        pass

    def flush(self) -> None:
        pass


def encode(name: str, kwargs: dict[str, Any], schemas: dict[str, list[dict[str, str]]]) -> bytes:
    """The bytes DaxClient would send for this call, after its own conversion and validation."""
    method_id, write = OPERATIONS[name]
    request = Request(DynamoDbV1Converter.convert_request(dict(kwargs), method_id))
    if name == "batch_get_item":
        request.key_schema_by_table = {t: schemas[t] for t in request.RequestItems}
    else:
        request.key_schema = schemas[request.TableName]
    if name == "put_item":
        request.attr_names = AttributeValueEncoder._get_canonical_attribute_list(request.Item, request.key_schema)
        request.attr_list_id = 7
    tube = WireTube()
    write(request, tube)
    return bytes(tube.enc.as_bytes())


@pytest.fixture()
def recorded(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Recorder, dict[str, Any]]]:
    app = App("daxwire")
    things = app.table("things", partition_key="p", sort_key="s", cache=TableCache())
    scores = app.table("scores", partition_key="p", sort_key=("n", int), cache=TableCache())
    with aws_mock(monkeypatch):
        client = boto3.client("dynamodb", region_name="us-east-1")
        schemas = {decl.name: dynamodb_table(client, decl, decl.name) for decl in (things, scores)}
        recorder = Recorder(client)
        ports = {"things": DynamoTable(things, recorder, "things", strongly_consistent=False),
                 "scores": DynamoTable(scores, recorder, "scores", strongly_consistent=False),
                 "schemas": schemas}
        yield recorder, ports


def test_every_request_the_adapter_makes_is_one_the_dax_client_sends(recorded: tuple[Recorder, dict[str, Any]]) -> None:
    recorder, ports = recorded
    things, scores = ports["things"], ports["scores"]
    # the todo app's calls, and each kind the table contract makes
    things.put({"p": "a", "s": "1", "title": "buy milk", "tags": ["x"], "due": None, "done": False, "version": 1},
               if_absent=True)
    things.put({"p": "a", "s": "2", "v": 2.5, "nested": {"k": [1, {"z": "q"}]}, "name": "reserved words"})
    with pytest.raises(ConditionFailed):
        things.put({"p": "a", "s": "1"}, if_absent=True)
    things.put({"p": "v", "s": "0", "v": 1}, expect={"v": None})
    things.put({"p": "v", "s": "0", "v": 2}, expect={"v": 1})
    things.update({"p": "a", "s": "1"}, {"done": True, "due": "2030-01-31", "version": 2}, remove=("tags",),
                  expect={"version": 1})
    things.update({"p": "a", "s": "9"}, {"n": 1}, if_exists=False)
    assert things.get({"p": "a", "s": "1"})["done"] is True
    things.get({"p": "a", "s": "1"}, consistent=True)
    things.batch_get([{"p": "a", "s": "1"}, {"p": "a", "s": "nope"}, {"p": "a", "s": "2"}])
    for sort in (None, KeyCondition.eq("1"), KeyCondition.lt("~3"), KeyCondition.le("2"), KeyCondition.gt("0"),
                 KeyCondition.ge("1"), KeyCondition.between("1", "2"), KeyCondition.begins_with("1")):
        things.query("a", sort=sort, limit=1)
    page = things.query("a", where={"done": True}, limit=1, forward=False)
    things.query("a", limit=1, next_token=things.query("a", limit=1).next_token)
    assert page.items
    for n in range(3):
        scores.put({"p": "s", "n": n, "score": n * 10})
    scores.query("s", sort=KeyCondition.between(0, 1), where={"score": 10})
    things.delete({"p": "a", "s": "2"}, if_exists=True)
    things.delete({"p": "a", "s": "1"}, expect={"version": 2})

    made = {name for name, _ in recorder.calls}
    assert made == set(OPERATIONS), made  # every operation the adapter uses was exercised
    for name, kwargs in recorder.calls:
        assert encode(name, kwargs, ports["schemas"]), (name, kwargs)


def test_the_encoder_refuses_what_dax_refuses(recorded: tuple[Recorder, dict[str, Any]]) -> None:
    """The check has teeth: a malformed expression or a missing key is refused before any byte is sent."""
    schemas = recorded[1]["schemas"]
    with pytest.raises(Exception, match="(?i)syntax|invalid|expression"):
        encode("query", {"TableName": "things", "KeyConditionExpression": "#p = = :p",
                         "ExpressionAttributeNames": {"#p": "p"},
                         "ExpressionAttributeValues": {":p": {"S": "a"}}}, schemas)
    with pytest.raises(Exception, match="required keys"):
        encode("get_item", {"TableName": "things", "Key": {"s": {"S": "1"}}}, schemas)
