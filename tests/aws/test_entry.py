"""The Lambda entry point with API Gateway REST proxy events, through the todo handlers, on moto's DynamoDB.

The events follow the REST API proxy-integration shape AWS documents (resource, path, httpMethod, headers,
multiValue* parameters, pathParameters, requestContext with the Cognito authorizer's claims, body,
isBase64Encoded); ``rest_event`` builds one per request.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from stratus.aws.runtime import entry
from stratus.errors import ConfigError, UnsupportedFeature
from stratus.graph import Table
from stratus.loader import load_app
from tests.conftest import TODO, aws_mock, dynamodb_table


def rest_event(method: str, resource: str, *, sub: str | None, path_params: dict[str, str] | None = None,
               query: dict[str, str] | None = None, body: Any = None, raw_body: str | None = None) -> dict[str, Any]:
    path = resource
    for k, v in (path_params or {}).items():
        path = path.replace("{" + k + "}", v)
    claims = None if sub is None else {
        "sub": sub, "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Example", "client_id": "exampleclient",
        "origin_jti": str(uuid.uuid4()), "token_use": "access", "scope": "aws.cognito.signin.user.admin",
        "auth_time": "1763870000", "exp": "Mon Nov 23 06:00:00 UTC 2026", "iat": "Mon Nov 23 05:00:00 UTC 2026",
        "jti": str(uuid.uuid4()), "username": sub}
    headers = {"Accept": "application/json", "Content-Type": "application/json",
               "Host": "abc123.execute-api.us-east-1.amazonaws.com", "X-Forwarded-Proto": "https"}
    return {
        "resource": resource, "path": path, "httpMethod": method, "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query, "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
        "pathParameters": path_params, "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "authorizer": {"claims": claims},
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com", "domainPrefix": "abc123",
            "extendedRequestId": "c1", "httpMethod": method, "identity": {"sourceIp": "198.51.100.7", "userAgent": "ua"},
            "path": f"/prod{path}", "protocol": "HTTP/1.1", "requestId": str(uuid.uuid4()),
            "requestTime": "23/Nov/2026:05:00:00 +0000", "requestTimeEpoch": 1795410000000, "resourceId": "r1",
            "resourcePath": resource, "stage": "prod"},
        "body": raw_body if raw_body is not None else (None if body is None else json.dumps(body)),
        "isBase64Encoded": False,
    }


class Lambda:
    """A function's handler, as Lambda calls it: a fresh ``Entry`` per test, reading the environment."""

    def __init__(self) -> None:
        self.entry = entry.Entry()

    def __call__(self, event: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        res = self.entry(event, None)
        assert set(res) == {"statusCode", "headers", "body", "isBase64Encoded"} and res["isBase64Encoded"] is False
        return res["statusCode"], json.loads(res["body"]) if res["body"] else None, res["headers"]


@pytest.fixture()
def lambda_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[Lambda]:
    monkeypatch.delenv("STRATUS_DAX_ENDPOINT", raising=False)
    with aws_mock(monkeypatch, STRATUS_APP_DIR=str(TODO), STRATUS_TABLE_TODOS="todo-todos-1A2B",
                  STRATUS_TABLE_LIST_VERSIONS="todo-lists-3C4D"):
        db = boto3.client("dynamodb", region_name="us-east-1")
        tables = {t.name: t for t in load_app(TODO).of_kind(Table)}
        dynamodb_table(db, tables["todos"], "todo-todos-1A2B")
        dynamodb_table(db, tables["list-versions"], "todo-lists-3C4D")
        yield Lambda()


def test_the_todo_flow_through_lambda(lambda_app: Lambda) -> None:
    alice = str(uuid.uuid4())
    status, todo, headers = lambda_app(rest_event("POST", "/todos", sub=alice, body={"title": "milk", "tags": ["shop"]}))
    assert status == 201 and todo["title"] == "milk" and todo["version"] == 1
    assert headers["location"] == f"https://abc123.execute-api.us-east-1.amazonaws.com/prod/todos/{todo['id']}"
    status, listing, _ = lambda_app(rest_event("GET", "/todos", sub=alice, query={"limit": "10"}))
    assert status == 200 and [t["id"] for t in listing["items"]] == [todo["id"]] and listing["next_token"] is None
    ids = {"id": todo["id"]}
    assert lambda_app(rest_event("GET", "/todos/{id}", sub=alice, path_params=ids))[1] == todo
    status, changed, _ = lambda_app(rest_event("PATCH", "/todos/{id}", sub=alice, path_params=ids, body={"done": True}))
    assert status == 200 and changed["done"] is True and changed["version"] == 2
    assert lambda_app(rest_event("GET", "/todos", sub=alice, query={"done": "true"}))[1]["items"] == [changed]
    # the item is in DynamoDB itself, under the owner's sub
    raw = boto3.client("dynamodb", region_name="us-east-1").get_item(
        TableName="todo-todos-1A2B", Key={"owner": {"S": alice}, "id": {"S": todo["id"]}})["Item"]
    assert raw["title"] == {"S": "milk"} and raw["version"] == {"N": "2"}
    status, body, _ = lambda_app(rest_event("DELETE", "/todos/{id}", sub=alice, path_params=ids))
    assert status == 204 and body is None
    assert lambda_app(rest_event("GET", "/todos/{id}", sub=alice, path_params=ids))[0] == 404


def test_users_are_isolated_on_aws_too(lambda_app: Lambda) -> None:
    alice, bob = str(uuid.uuid4()), str(uuid.uuid4())
    todo = lambda_app(rest_event("POST", "/todos", sub=alice, body={"title": "secret"}))[1]
    for method, body in (("GET", None), ("PATCH", {"title": "x"}), ("DELETE", None)):
        assert lambda_app(rest_event(method, "/todos/{id}", sub=bob, path_params={"id": todo["id"]}, body=body))[0] == 404
    assert lambda_app(rest_event("GET", "/todos", sub=bob))[1]["items"] == []


def test_pagination_through_lambda(lambda_app: Lambda) -> None:
    alice = str(uuid.uuid4())
    made = [lambda_app(rest_event("POST", "/todos", sub=alice, body={"title": f"t{i}"}))[1]["id"] for i in range(5)]
    seen, token = [], None
    while True:
        q = {"limit": "2"} | ({"next_token": token} if token else {})
        page = lambda_app(rest_event("GET", "/todos", sub=alice, query=q))[1]
        seen += [t["id"] for t in page["items"]]
        token = page["next_token"]
        if not token:
            break
    assert seen == made
    status, body, _ = lambda_app(rest_event("GET", "/todos", sub=str(uuid.uuid4()), query={"next_token": token or "x"}))
    assert status == 400


def test_bad_input_is_answered_as_locally(lambda_app: Lambda) -> None:
    alice = str(uuid.uuid4())
    status, body, _ = lambda_app(rest_event("POST", "/todos", sub=alice, body={"title": 5, "owner": "x"}))
    assert status == 400 and sorted(body["errors"]) == ["owner: unknown field", "title: must be string"]
    status, body, _ = lambda_app(rest_event("POST", "/todos", sub=alice, raw_body="{nope"))
    assert status == 400 and "not valid JSON" in body["message"]
    status, body, _ = lambda_app(rest_event("GET", "/todos", sub=alice, query={"limit": "0"}))
    assert status == 400 and body["errors"] == ["limit: must be >= 1"]
    assert lambda_app(rest_event("GET", "/nowhere", sub=alice))[0] == 404
    status, body, _ = lambda_app(rest_event("POST", "/todos", sub=alice, body={"title": "x", "notes": "n" * (1024 * 1024)}))
    assert status == 413 and body["message"] == "request body exceeds the limit of 1048576 bytes"  # the API's max_body
    assert lambda_app(rest_event("GET", "/todos", sub=None))[0] == 401  # API Gateway's authorizer stops these first


@pytest.mark.parametrize("event, kind", [
    ({"Records": [{"eventSource": "aws:s3", "s3": {}}]}, "s3"),
    ({"Records": [{"eventSource": "aws:dynamodb", "dynamodb": {}}]}, "dynamodb-stream"),
    ({"Records": [{"eventSource": "aws:sqs", "body": "x"}]}, "sqs"),
    ({"Records": [{"EventSource": "aws:sns", "Sns": {}}]}, "sns"),
    ({"Records": [{"eventSource": "aws:kinesis", "kinesis": {}}]}, "kinesis"),
    ({"deliveryStreamArn": "arn:aws:firehose:us-east-1:1:deliverystream/x", "records": []}, "firehose-transform"),
    ({"version": "2.0", "routeKey": "GET /x"}, "apigateway-http"),
])
def test_other_event_shapes_are_recognised_and_refused_by_name(lambda_app: Lambda, event: dict[str, Any],
                                                               kind: str) -> None:
    assert entry.event_kind(event) == kind
    with pytest.raises(UnsupportedFeature, match=kind):
        lambda_app.entry(event, None)


def test_cold_start_makes_no_client(lambda_app: Lambda, monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    real = boto3.client
    monkeypatch.setattr(boto3, "client", lambda name, *a, **kw: made.append(name) or real(name, *a, **kw))
    loaded = entry.load(os.environ)
    assert made == [] and set(loaded.apis) == {"api"}
    lambda_app.entry.loaded = loaded
    lambda_app(rest_event("GET", "/todos", sub=str(uuid.uuid4())))
    assert made == ["dynamodb"]


def test_the_lambda_runtime_imports_nothing_local() -> None:
    """What ships to Lambda needs only the core and boto3: no server, no local engines, no CLI."""
    import subprocess
    import sys
    code = ("import sys, stratus.aws.runtime.entry; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in {'uvicorn', 'jwt', 'argon2', 'crc32c', 'httpx'} "
            "or m.startswith(('stratus.local', 'stratus.cli', 'stratus.demo', 'stratus.aws.deploy', 'stratus.testing'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_a_handler_uses_its_bucket_on_s3(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import OTHER
    with aws_mock(monkeypatch, STRATUS_APP_DIR=str(OTHER), STRATUS_BUCKET_NOTES="other-notes-9z"):
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="other-notes-9z")
        status, body, _ = Lambda()(rest_event("PUT", "/notes/{name}", sub=None, path_params={"name": "n1"},
                                              body={"text": "on S3"}))
        assert status == 200 and body["key"] == "notes/n1.txt"
        assert s3.get_object(Bucket="other-notes-9z", Key="notes/n1.txt")["Body"].read() == b"on S3"
        res = entry.Entry()(rest_event("GET", "/notes/{name}", sub=None, path_params={"name": "n1"}), None)
        assert res["statusCode"] == 200 and res["body"] == "on S3"
        monkeypatch.delenv("STRATUS_BUCKET_NOTES")
        missing = entry.Entry()(rest_event("GET", "/notes/{name}", sub=None, path_params={"name": "n1"}), None)
        assert missing["statusCode"] == 500  # a deployment without the bucket: logged, and a bare 500 to the client


def test_odd_events_get_4xx_not_crashes(lambda_app: Lambda) -> None:
    bad_b64 = rest_event("POST", "/todos", sub=str(uuid.uuid4()), raw_body="not base64!!") | {"isBase64Encoded": True}
    assert lambda_app(bad_b64)[0] == 400
    no_sub = rest_event("GET", "/todos", sub="x")
    no_sub["requestContext"]["authorizer"]["claims"] = {"username": "bob"}
    status, _, headers = lambda_app(no_sub)
    assert status == 401 and headers["www-authenticate"] == "Bearer"
    for raw in ('{"title": NaN}', '{"title": "\\ud800"}', '{"title": Infinity}'):
        assert lambda_app(rest_event("POST", "/todos", sub=str(uuid.uuid4()), raw_body=raw))[0] == 400, raw
    nulls = rest_event("GET", "/todos", sub=str(uuid.uuid4())) | {"headers": None, "multiValueHeaders": None,
                                                                   "queryStringParameters": None}
    assert lambda_app(nulls)[0] == 200


def test_the_standard_library_json_is_held_to_orjsons_rules() -> None:
    """The Lambda asset has no orjson: routing's fallback must refuse what orjson refuses."""
    import subprocess
    import sys
    code = ("import sys; sys.modules['orjson'] = None\n"
            "from stratus import routing\n"
            "bad = 0\n"
            "for raw in (b'NaN', b'[Infinity]', b'{\"a\": -Infinity}', b'\"\\\\ud800\"'):\n"
            "    try: routing.loads(raw)\n"
            "    except routing.JSONError: bad += 1\n"
            "try: routing.dumps(float('nan'))\n"
            "except ValueError: bad += 1\n"
            "print(bad, routing.loads(b'{\"ok\": [1, 2.5, \"\\\\u00e9\"]}'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "5 {'ok': [1, 2.5, 'é']}"


def documented_event(name: str, **fill: str) -> dict[str, Any]:
    """One of the events in events/rest-proxy.json (AWS's documented input format), placeholders filled."""
    text = json.dumps(json.loads((Path(__file__).parent / "events" / "rest-proxy.json").read_text())[name])
    for placeholder, value in fill.items():
        text = text.replace(placeholder, value)
    return json.loads(text)


def test_documented_event_shapes_through_the_todo_handlers(lambda_app: Lambda) -> None:
    """Events as API Gateway delivers them: a base64 body, multi-value query (the last value wins), null headers."""
    sub = str(uuid.uuid4())
    status, created, headers = lambda_app(documented_event("create", SUB=sub))
    assert status == 201 and created["title"] == "buy milk" and created["tags"] == ["home"]
    assert headers["location"] == f"https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod/todos/{created['id']}"
    status, page, _ = lambda_app(documented_event("list", SUB=sub))
    assert status == 200 and [t["id"] for t in page["items"]] == [created["id"]] and page["next_token"] is None
    status, got, _ = lambda_app(documented_event("get", SUB=sub, TODO_ID=created["id"]))
    assert status == 200 and got == created
    assert lambda_app(documented_event("get", SUB=str(uuid.uuid4()), TODO_ID=created["id"]))[0] == 404  # another user


AUTHORING = Path(__file__).parents[1] / "apps" / "fixtures" / "authoring"


@pytest.fixture()
def authoring_lambda(monkeypatch: pytest.MonkeyPatch) -> Iterator[Lambda]:
    """The authoring fixture app on Lambda: a table on moto's DynamoDB, mail through moto's SES."""
    with aws_mock(monkeypatch, STRATUS_APP_DIR=str(AUTHORING), STRATUS_TABLE_NOTES="authoring-notes-1",
                  STRATUS_EMAIL_WELCOME="hello@example.com"):
        db = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb_table(db, load_app(AUTHORING).resource("table", "notes"), "authoring-notes-1")  # type: ignore[arg-type]
        boto3.client("ses", region_name="us-east-1").verify_email_identity(EmailAddress="hello@example.com")
        yield Lambda()


def test_async_handlers_run_on_lambda(authoring_lambda: Lambda) -> None:
    """An ``async def`` handler is awaited on the entry's own loop, and a dataclass answer is rendered as JSON."""
    alice = str(uuid.uuid4())
    status, note, _ = authoring_lambda(rest_event("POST", "/notes", sub=alice, body={"title": "Milk", "due": "2030-01-02"}))
    assert status == 201 and note == {"id": "milk", "title": "Milk", "due": "2030-01-02", "tags": [], "kind": "plain"}
    for _ in range(2):  # the loop outlives an invocation, as a warm function's process does
        status, summary, _ = authoring_lambda(rest_event("GET", "/summary", sub=alice))
        assert status == 200 and summary["owner"] == alice and summary["count"] == 1
    status, who, _ = authoring_lambda(rest_event("GET", "/whoami", sub=alice))
    assert status == 200 and who == {"sub": alice, "type": "AuthRequest"}


def test_a_streamed_answer_is_joined_for_api_gateway(authoring_lambda: Lambda) -> None:
    res = authoring_lambda.entry(rest_event("GET", "/count/{n}", sub=None, path_params={"n": "3"}), None)
    assert res["statusCode"] == 200 and res["body"] == "0\n1\n2\n" and res["headers"]["x-count"] == "3"
    assert res["headers"]["content-type"] == "text/plain; charset=utf-8"
    tick = authoring_lambda.entry(rest_event("GET", "/tick", sub=None), None)
    assert tick["statusCode"] == 200 and tick["body"] == "tick tock"


def test_ctx_mailer_sends_through_ses_from_the_declared_sender(authoring_lambda: Lambda) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends
    status, body, _ = authoring_lambda(rest_event("POST", "/welcome", sub=str(uuid.uuid4())))
    assert status == 202 and body["id"]
    sent = ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages
    assert len(sent) == 1 and sent[0].source == "hello@example.com" and "nobody@example.com" in sent[0].destinations


def test_each_entry_holds_its_own_app(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a function loaded lives on its ``Entry``, not in the module: two entries with two environments in one
    process serve two apps (the handler Lambda calls is one such entry, made at import and loaded on first use)."""
    from tests.conftest import OTHER
    with aws_mock(monkeypatch):
        todo = entry.Entry({"STRATUS_APP_DIR": str(TODO)})
        other = entry.Entry({"STRATUS_APP_DIR": str(OTHER)})
        assert todo(rest_event("GET", "/nowhere", sub=None), None)["statusCode"] == 404
        pong = other(rest_event("GET", "/ping", sub=None), None)
        assert pong["statusCode"] == 200 and json.loads(pong["body"]) == {"pong": "yes"}
        assert (todo.loaded.app.name, other.loaded.app.name) == ("todo", "other")  # type: ignore[union-attr]
        assert entry.handler.loaded is None  # untouched by either


def test_a_broken_stream_or_body_rule_is_answered_as_locally(authoring_lambda: Lambda) -> None:
    for how in ("number", "none"):
        assert authoring_lambda(rest_event("GET", "/broken/{how}", sub=None, path_params={"how": how}))[0] == 500
    ok = authoring_lambda.entry(rest_event("GET", "/broken/{how}", sub=None, path_params={"how": "ok"}), None)
    assert ok["body"] == "a good start, and an end"
    assert ok["headers"]["content-type"] == "text/plain" and ok["headers"]["x-case"] == "Mixed"
    assert [k for k in ok["headers"] if k.lower() == "content-type"] == ["content-type"]
    status, body, _ = authoring_lambda(rest_event("POST", "/notes", sub=str(uuid.uuid4()), body={"title": " x"}))
    assert status == 400 and body["errors"] == ["body: title must not start or end with spaces"]


def test_a_declared_email_sends_from_its_sender_only_on_ses(authoring_lambda: Lambda) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends
    assert authoring_lambda(rest_event("POST", "/mail-as", sub=None))[0] == 500
    assert ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages == []


def test_a_function_missing_its_email_says_which_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    from stratus.errors import ConfigError
    with aws_mock(monkeypatch):
        loaded = entry.load({"STRATUS_APP_DIR": str(AUTHORING)})
        (api,) = loaded.apis.values()
        route, context = api.by_template[("POST", "/welcome")]
        with pytest.raises(ConfigError, match="names no STRATUS_EMAIL_WELCOME"):
            context.mailer  # noqa: B018


@pytest.mark.parametrize("groups,status", [
    (None, 403), ("admins", 403), ("authors", 200), ("[authors]", 200), ("[admins authors]", 200),
    ("admins,authors", 200), (["authors"], 200)])
def test_a_route_requiring_a_group_reads_the_claims_api_gateway_passes(
        monkeypatch: pytest.MonkeyPatch, groups: Any, status: int) -> None:
    """API Gateway's Cognito authorizer passes every claim as a string (a list as ``[a b]``); the function checks
    the group, as the local gateway does."""
    from tests.conftest import CLUB
    with aws_mock(monkeypatch):
        club = entry.Entry({"STRATUS_APP_DIR": str(CLUB), "STRATUS_API": "api"})
        event = rest_event("GET", "/drafts", sub=str(uuid.uuid4()))
        if groups is not None:
            event["requestContext"]["authorizer"]["claims"]["cognito:groups"] = groups
        assert club(event, None)["statusCode"] == status
        machine = rest_event("GET", "/orders", sub="billingclient")
        machine["requestContext"]["authorizer"]["claims"]["scope"] = "orders/read"
        assert club(machine, None)["statusCode"] == 200


EVENTS = Path(__file__).parent / "events"


def _feed(monkeypatch: pytest.MonkeyPatch, trigger: str) -> tuple[entry.Entry, Any]:
    """The feed fixture's function for one trigger, on moto's DynamoDB (its ``seen`` table)."""
    from tests.apps.test_triggers import FEED
    tables = {t.name: t for t in load_app(FEED).of_kind(Table)}
    db = boto3.client("dynamodb", region_name="us-east-1")
    for name in ("seen", "flags"):
        if f"feed-{name}" not in db.list_tables()["TableNames"]:
            dynamodb_table(db, tables[name], f"feed-{name}")
    env = {"STRATUS_APP_DIR": str(FEED), "STRATUS_TRIGGER": trigger, "STRATUS_TABLE_SEEN": "feed-seen",
           "STRATUS_TABLE_FLAGS": "feed-flags"}
    return entry.Entry(env), boto3.resource("dynamodb", region_name="us-east-1").Table("feed-seen")


def test_a_dynamodb_stream_batch_becomes_the_same_table_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS's documented stream record shape (typed attribute values) through the entry point: the handler gets the
    TableChange the local provider makes, in the batch's order."""
    with aws_mock(monkeypatch):
        fn, seen = _feed(monkeypatch, "record")
        batch = json.loads((EVENTS / "dynamodb-stream.json").read_text())
        assert fn(batch, None) == {"batchItemFailures": []}
        items = sorted(seen.scan()["Items"], key=lambda i: i["seq"])
        assert [(i["kind"], i["id"], i.get("value"), i.get("old")) for i in items] == [
            ("INSERT", "n1", 1, None), ("MODIFY", "n1", 2, 1), ("REMOVE", "n1", None, 2)]
        assert items[0]["event"] == "c4ca4238a0b923820dcc509a6f75849b"
        assert items[0]["seq"] == "4421584500000000017450439091"


def test_a_failing_record_is_reported_and_the_rest_of_its_batch_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    with aws_mock(monkeypatch):
        fn, seen = _feed(monkeypatch, "picky")
        batch = json.loads((EVENTS / "dynamodb-stream.json").read_text())
        batch["Records"][0]["dynamodb"]["NewImage"]["fail"] = {"BOOL": True}
        assert fn(batch, None) == {"batchItemFailures": [{"itemIdentifier": "4421584500000000017450439091"}]}
        assert seen.scan()["Items"] == []  # the MODIFY after it is not handled out of order: Lambda resends both


def test_an_s3_notification_becomes_the_same_object_created(monkeypatch: pytest.MonkeyPatch) -> None:
    with aws_mock(monkeypatch):
        fn, seen = _feed(monkeypatch, "arrived")
        assert fn(json.loads((EVENTS / "s3-put.json").read_text()), None) == {}
        [item] = seen.scan()["Items"]
        assert (item["key"], item["bucket"], item["size"], item["etag"], item["how"]) == (
            "in/with space é.txt", "inbox", 1024, "0123456789abcdef0123456789abcdef", "ObjectCreated:Put")
        # what S3's on-failure destination holds, sent again through its queue: the message that is no event fails
        assert fn(json.loads((EVENTS / "sqs-s3-redrive.json").read_text()), None) == {
            "batchItemFailures": [{"itemIdentifier": "2e1424d4-f796-459a-8184-9c92662be6da"}]}
        assert sorted(i["key"] for i in seen.scan()["Items"]) == ["in/again.txt", "in/with space é.txt"]


def test_a_trigger_function_without_its_trigger_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    with aws_mock(monkeypatch):
        fn, _ = _feed(monkeypatch, "nobody")
        with pytest.raises(ConfigError, match="STRATUS_TRIGGER names no trigger"):
            fn(json.loads((EVENTS / "s3-put.json").read_text()), None)
        fn, _ = _feed(monkeypatch, "record")
        with pytest.raises(UnsupportedFeature, match="not 's3'"):
            fn(json.loads((EVENTS / "s3-put.json").read_text()), None)
