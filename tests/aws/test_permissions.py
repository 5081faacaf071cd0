"""Least-privilege policies: exactly the actions the adapters call, on exactly the declared resources."""

from __future__ import annotations

from typing import Any

import pytest

from stratus import App, TableCache
from stratus.aws.deploy.permissions import handler_policy
from stratus.aws.runtime.kinds.bucket import BUCKET_ACTIONS, OBJECT_ACTIONS
from stratus.aws.runtime.kinds.table import TABLE_ACTIONS
from stratus.graph import Resource
from stratus.local.protocols.iam import RequestContext, check_policy, evaluate
from tests.conftest import aws_mock, dynamodb_table

app = App("perm")
todos = app.table("todos", partition_key="owner", sort_key="id", cache=TableCache())
audit = app.table("audit", partition_key="id")
files = app.bucket("files")
api = app.rest_api("api")


@api.get("/todos", public=True, uses=[todos, files])
def list_todos(req: Any, ctx: Any) -> None:
    return None


@api.get("/audit", public=True, uses=[audit])
def read_audit(req: Any, ctx: Any) -> None:
    return None



ARNS = {"todos": "arn:aws:dynamodb:us-east-1:123456789012:table/perm-todos-1",
        "audit": "arn:aws:dynamodb:us-east-1:123456789012:table/perm-audit-2",
        "files": "arn:aws:s3:::perm-files-3"}
DAX = "arn:aws:dax:us-east-1:123456789012:cache/perm-cache"


def arn(resource: Resource) -> str:
    return ARNS[resource.name]


def allowed(policy: dict[str, Any], action: str, resource: str) -> bool:
    return evaluate([policy], RequestContext(action, resource, {})) == "Allow"


def test_a_handler_gets_exactly_its_resources() -> None:
    policy = check_policy(handler_policy(api.routes[0], arn, DAX))
    for action in TABLE_ACTIONS:  # the cached table is reached only through the cluster, which has its own role
        assert not allowed(policy, action, ARNS["todos"]) and not allowed(policy, action, ARNS["audit"])
        assert allowed(policy, action.replace("dynamodb:", "dax:"), DAX)
    plain = check_policy(handler_policy(api.routes[0], arn, None))  # no cluster deployed (--no-dax)
    for action in TABLE_ACTIONS:
        assert allowed(plain, action, ARNS["todos"]) and not allowed(plain, action, DAX)
    assert allowed(policy, "s3:GetObject", ARNS["files"] + "/any/key") and allowed(policy, "s3:ListBucket", ARNS["files"])
    for denied in (("dynamodb:Scan", ARNS["todos"]), ("dynamodb:DeleteTable", ARNS["todos"]),
                   ("s3:DeleteBucket", ARNS["files"]), ("s3:PutBucketPolicy", ARNS["files"]),
                   ("s3:GetObject", "arn:aws:s3:::another-bucket/k")):
        assert not allowed(policy, *denied), denied
    actions = [a for s in policy["Statement"] for a in s["Action"]]
    assert all("*" not in a for a in actions)
    other = handler_policy(api.routes[1], arn, DAX)
    assert [s["Resource"] for s in other["Statement"]] == [[ARNS["audit"]]]  # no cache declared: no DAX grant


def test_the_grants_cover_what_the_adapters_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every call the DynamoDB and S3 adapters make is among the actions granted for them."""
    import boto3

    from stratus.aws.runtime.kinds.bucket import S3Bucket
    from stratus.aws.runtime.kinds.table import DynamoTable
    from stratus.ports.table import KeyCondition
    called: set[str] = set()
    with aws_mock(monkeypatch):
        db, s3 = boto3.client("dynamodb", region_name="us-east-1"), boto3.client("s3", region_name="us-east-1")
        for client in (db, s3):
            client.meta.events.register("before-call.*.*", lambda model, **_: called.add(model.name))
        dynamodb_table(db, todos, "t")
        s3.create_bucket(Bucket="perm-bucket")
        called.clear()
        table, bucket = DynamoTable(todos, db, "t"), S3Bucket(s3, "perm-bucket")
        table.put({"owner": "a", "id": "1"})
        table.get({"owner": "a", "id": "1"})
        table.batch_get([{"owner": "a", "id": "1"}])
        table.update({"owner": "a", "id": "1"}, {"x": 1}, expect={"x": None})
        table.query("a", sort=KeyCondition.begins_with("1"), where={"x": 1})
        table.delete({"owner": "a", "id": "1"})
        bucket.put("k", b"v")
        bucket.get("k")
        bucket.head("k")
        bucket.list()
        bucket.delete("k")
    granted = {a.split(":", 1)[1] for a in TABLE_ACTIONS + OBJECT_ACTIONS + BUCKET_ACTIONS}
    needs = {"HeadObject": "GetObject", "ListObjectsV2": "ListBucket"}  # S3 operations and the action each needs
    assert called >= {"PutItem", "GetItem", "BatchGetItem", "UpdateItem", "Query", "DeleteItem", "PutObject", "GetObject",
                      "HeadObject", "ListObjectsV2", "DeleteObject"}  # the hook saw the calls: the check below is real
    assert {needs.get(op, op) for op in called} <= granted, called
