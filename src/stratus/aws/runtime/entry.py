"""The one Lambda entry point: ``stratus.aws.runtime.entry.handler``.

Every function the AWS provider deploys runs this handler. It recognises the event by its
shape, builds the same typed event the local provider would, and calls the app's handler
with the same ports, backed here by AWS: a request reaches a handler the same way in both
places (``stratus.routing``), so it gets the same answer.

Configuration comes from the function's environment, which synthesis writes:

    STRATUS_APP_DIR or STRATUS_APP     the app folder (default: $LAMBDA_TASK_ROOT/apps/$STRATUS_APP)
    STRATUS_API                        the REST API this function serves (default: the app's only one)
    STRATUS_TRIGGER                    the trigger this function serves (a DynamoDB stream's or S3's events)
    STRATUS_<KIND>_<NAME>              the real resource behind declared resource <name> of a kind handlers
                                       use (STRATUS_TABLE_TODOS, STRATUS_BUCKET_FILES, STRATUS_EMAIL_WELCOME;
                                       upper case, - as _), read by that kind's module (``kinds``)
    STRATUS_DAX_ENDPOINT               a DAX cluster endpoint: tables that declare a cache read through it

Nothing is done at import time, and the first invocation does only what it must: the app is
loaded and the routes compiled once, and AWS clients are made when a handler first uses them.
``handler`` is an ``Entry``: everything it loaded lives on it, and a test makes its own.
An ``async def`` handler runs on one event loop the entry keeps across invocations, as a warm
function keeps its process.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import json
import logging
import os
import traceback
import uuid
from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from ...context import Context
from ...errors import BadRequest, ConfigError, HttpError, PayloadTooLarge, Unauthorized, UnsupportedFeature
from ...events import ObjectCreated, ObjectRemoved, StreamingResponse, TableChange
from ...graph import App, ObjectTrigger, Resource, RestApi, Route, TableTrigger
from ...loader import load_app
from ...routing import (
    RouteTable,
    check_access,
    dumps,
    fill,
    handler_error,
    make_request,
    parse_body,
    parse_query,
    principal_from_claims,
    serialize,
    stream_chunk,
    stream_headers,
)
from .kinds import Clients, aws_kind, env_var


def event_kind(event: Any) -> str:
    """What sent this event, from its shape (the shapes AWS documents for each source)."""
    if not isinstance(event, dict):
        return "unknown"
    if "httpMethod" in event and "resource" in event and "requestContext" in event:
        return "apigateway-rest"
    if event.get("version") == "2.0" and "routeKey" in event:
        return "apigateway-http"
    if "deliveryStreamArn" in event and "records" in event:
        return "firehose-transform"
    records = event.get("Records")
    if isinstance(records, list) and records and isinstance(records[0], dict):
        source = records[0].get("eventSource") or records[0].get("EventSource")
        return {"aws:s3": "s3", "aws:dynamodb": "dynamodb-stream", "aws:sqs": "sqs", "aws:sns": "sns",
                "aws:kinesis": "kinesis"}.get(str(source), "unknown")
    return "unknown"


log = logging.getLogger("stratus")
_IDS = uuid.UUID("2a4f0e4c-5d7b-4d8e-b1f3-0c6e9a7d5b22")  # the namespace object events' ids are made in


@dataclass
class LambdaApp:
    app: App
    apis: dict[str, RouteTable[Context]]
    max_body: dict[str, int]
    triggers: dict[str, tuple[TableTrigger | ObjectTrigger, Context]]


def load(environ: Mapping[str, str]) -> LambdaApp:
    """The app and its routes, with ports on AWS, as the function's environment configures them."""
    env = dict(environ)
    folder = env.get("STRATUS_APP_DIR") or str(Path(env.get("LAMBDA_TASK_ROOT", ".")) / "apps" /
                                               env.get("STRATUS_APP", ""))
    app = load_app(Path(folder))
    clients = Clients()
    ports: dict[Resource, Any] = {}
    for resource in app.resources.values():
        var = env_var(resource)
        if var in env:
            ports[resource] = aws_kind(resource.kind).port(resource, env[var], env, clients)
    apis: dict[str, RouteTable[Context]] = {}
    for api in app.of_kind(RestApi):
        entries: list[tuple[Route, Context]] = []
        for route in api.routes:
            missing = [r for r in route.uses if r not in ports]
            if missing:  # the route cannot be served here; say so when it is called, not at cold start
                entries.append((route, _Missing(app.name, route.operation_id, missing)))
            else:
                entries.append((route, Context(app.name, route.operation_id, {r: ports[r] for r in route.uses})))
        apis[api.name] = RouteTable(entries)
    triggers: dict[str, tuple[TableTrigger | ObjectTrigger, Context]] = {}
    declared: list[TableTrigger | ObjectTrigger] = [*app.of_kind(TableTrigger), *app.of_kind(ObjectTrigger)]
    for trigger in declared:
        missing = [r for r in trigger.uses if r not in ports]
        triggers[trigger.name] = (trigger, _Missing(app.name, trigger.name, missing) if missing else
                                  Context(app.name, trigger.name, {r: trigger.confine(r, ports[r])
                                                                   for r in trigger.uses}))
    return LambdaApp(app, apis, {api.name: api.max_body for api in app.of_kind(RestApi)}, triggers)


def table_change(trigger: TableTrigger, record: dict[str, Any]) -> TableChange:
    """A DynamoDB stream record as the ``TableChange`` the local provider hands the same handler."""
    from .kinds.table import from_stream_image
    ddb = record["dynamodb"]
    return TableChange(record["eventName"], trigger.table.name, from_stream_image(ddb["Keys"]) or {},
                       from_stream_image(ddb.get("NewImage")), from_stream_image(ddb.get("OldImage")),
                       str(ddb["SequenceNumber"]), float(ddb.get("ApproximateCreationDateTime") or 0.0),
                       str(record["eventID"]))


def object_event(trigger: ObjectTrigger, record: dict[str, Any]) -> ObjectCreated | ObjectRemoved:
    """An S3 notification record as the ``ObjectCreated`` / ``ObjectRemoved`` the local provider hands the same
    handler: the key URL-decoded (``+`` is a space), the ETag without quotes, the time in epoch seconds."""
    s3 = record["s3"]
    obj = s3["object"]
    key = unquote_plus(obj["key"])
    when = dt.datetime.fromisoformat(str(record["eventTime"]).replace("Z", "+00:00")).timestamp()
    sequencer = str(obj.get("sequencer", ""))
    event_id = str(uuid.uuid5(_IDS, f"{s3['bucket']['name']}/{key}/{sequencer}"))
    name = str(record["eventName"])
    if trigger.events == "created":
        return ObjectCreated(trigger.bucket.name, key, int(obj.get("size", 0)), str(obj.get("eTag", "")).strip('"'),
                             name, sequencer, when, event_id)
    return ObjectRemoved(trigger.bucket.name, key, name, sequencer, when, event_id)


class _Missing(Context):
    """A route whose resources the environment does not name: every call says which variable is missing."""

    def __init__(self, app: str, handler: str, missing: list[Resource]) -> None:
        super().__init__(app, handler, {})
        self.missing = missing

    def _refusal(self) -> ConfigError:
        return ConfigError(f"handler {self.handler!r}: the function's environment names no "
                           + ", ".join(f"{env_var(r)} (for {r!r})" for r in self.missing))

    def _port(self, resource: Resource) -> Any:
        raise self._refusal()

    @property
    def mailer(self) -> Any:
        raise self._refusal()


class Entry:
    """The function's handler: loads the app on its first event, then serves every event with it."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = environ
        self.loaded: LambdaApp | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        if self.loaded is None:
            self.loaded = load(os.environ if self.environ is None else self.environ)
        kind = event_kind(event)
        if kind == "apigateway-rest" and self.loaded.apis:
            return self._rest(self.loaded, event)
        if kind in ("dynamodb-stream", "s3", "sqs") and self.loaded.triggers:
            return self._trigger(self.loaded, kind, event, context)
        serves = "REST API requests" if self.loaded.apis else "its triggers' events"
        raise UnsupportedFeature(f"app {self.loaded.app.name!r} declares no handler for {kind!r} events "
                                 f"(this function serves {serves})")

    # -- triggers: a DynamoDB stream's records, S3's notifications, and either as an SQS queue hands it back

    def _trigger(self, loaded: LambdaApp, kind: str, event: dict[str, Any], lambda_context: Any) -> dict[str, Any]:
        env = os.environ if self.environ is None else self.environ
        name = env.get("STRATUS_TRIGGER") or (next(iter(loaded.triggers)) if len(loaded.triggers) == 1 else "")
        if name not in loaded.triggers:
            raise ConfigError(f"app {loaded.app.name!r}: the function's STRATUS_TRIGGER names no trigger "
                              f"({name!r}; the app's: {', '.join(sorted(loaded.triggers))})")
        trigger, ctx = loaded.triggers[name]
        remaining = getattr(lambda_context, "get_remaining_time_in_millis", None)
        if callable(remaining) and not isinstance(ctx, _Missing):  # the invocation's time, as ctx.deadline
            ctx = Context(ctx.app, ctx.handler, ctx._ports, ctx.clock, ctx.now() + remaining() / 1000)
        if kind == "sqs":
            return self._redriven(trigger, ctx, event)
        if kind == "dynamodb-stream" and isinstance(trigger, TableTrigger):
            return self._stream(trigger, ctx, event["Records"])
        if kind == "s3" and isinstance(trigger, ObjectTrigger):
            for record in event["Records"]:
                self._call(trigger, ctx, object_event(trigger, record))  # a failure raises: Lambda retries
            return {}
        raise UnsupportedFeature(f"trigger {name!r} handles {trigger.kind} events, not {kind!r}")

    def _call(self, trigger: TableTrigger | ObjectTrigger, ctx: Context, typed: Any) -> None:
        result = trigger.handler(typed, ctx)
        if asyncio.iscoroutine(result) or trigger.is_async:
            self._run(result)

    def _stream(self, trigger: TableTrigger, ctx: Context, records: list[dict[str, Any]]) -> dict[str, Any]:
        """A batch of a stream's records, in order: the first that fails is reported (with the mapping's
        ReportBatchItemFailures), and Lambda hands it back with every later one, so one item's changes stay in
        order."""
        for record in records:
            change = table_change(trigger, record)
            if change.kind not in trigger.kinds:
                continue
            try:
                self._call(trigger, ctx, change)
            except Exception:
                log.error("trigger %s: change %s failed:\n%s", trigger.name, change.sequence_number,
                          traceback.format_exc())
                return {"batchItemFailures": [{"itemIdentifier": change.sequence_number}]}
        return {"batchItemFailures": []}

    def _redriven(self, trigger: TableTrigger | ObjectTrigger, ctx: Context, event: dict[str, Any]) -> dict[str, Any]:
        """Messages of the trigger's dead-letter queue being sent again: each holds the event Lambda gave up on (an
        S3 notification, in an on-failure destination's ``requestPayload``). A message that fails again stays."""
        failed = []
        for message in event["Records"]:
            try:
                body = json.loads(message.get("body") or "null")
                inner = body.get("requestPayload") if isinstance(body, dict) else None
                if not isinstance(inner, dict) or event_kind(inner) != "s3" or not isinstance(trigger, ObjectTrigger):
                    raise UnsupportedFeature(f"message {message.get('messageId')}: not an S3 notification Lambda "
                                             "gave up on (a stream's failures name a batch of the stream; read it "
                                             "there)")
                for record in inner["Records"]:
                    self._call(trigger, ctx, object_event(trigger, record))
            except Exception:
                log.error("trigger %s: redriven message %s failed:\n%s", trigger.name, message.get("messageId"),
                          traceback.format_exc())
                failed.append({"itemIdentifier": message.get("messageId", "")})
        return {"batchItemFailures": failed}

    def _run(self, awaitable: Any) -> Any:
        """Run a coroutine on the entry's own loop, kept across invocations."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        return self._loop.run_until_complete(awaitable)

    def _body(self, stream: StreamingResponse) -> bytes:
        """A streamed body, whole: API Gateway's proxy integration takes one body."""
        chunks = stream.chunks
        if isinstance(chunks, AsyncIterable):
            async def collect() -> list[bytes]:
                return [stream_chunk(c) async for c in chunks]
            return b"".join(self._run(collect()))
        return b"".join(stream_chunk(c) for c in chunks)

    def _rest(self, loaded: LambdaApp, event: dict[str, Any]) -> dict[str, Any]:
        ctx_ = event.get("requestContext") or {}
        request_id = str(ctx_.get("requestId", ""))
        apis = loaded.apis
        env = os.environ if self.environ is None else self.environ
        name = env["STRATUS_API"] if env.get("STRATUS_API") in apis else next(iter(apis))
        api, limit = apis[name], loaded.max_body[name]
        try:
            hit = api.by_template.get((event["httpMethod"], event["resource"]))
            if hit is None:
                raise HttpError(f"no route for {event['httpMethod']} {event['resource']}", status=404)
            route, context = hit
            user = principal_from_claims((ctx_.get("authorizer") or {}).get("claims"))
            if user is None and not route.public:
                raise Unauthorized("Unauthorized", headers={"www-authenticate": "Bearer"})
            if user is not None:
                check_access(route, user.claims)
            params = {k: v for k, v in (event.get("pathParameters") or {}).items()}
            headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
            multi = event.get("multiValueQueryStringParameters") or {}
            raw_query = {k: v[-1] for k, v in multi.items() if v} or dict(event.get("queryStringParameters") or {})
            body = event.get("body") or ""
            try:
                raw_body = base64.b64decode(body, validate=True) if event.get("isBase64Encoded") else body.encode()
            except (binascii.Error, ValueError):
                raise BadRequest("the request body is not valid base64") from None
            if len(raw_body) > limit:  # the API's declared limit, as the local gateway holds it
                raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
            query = parse_query(route, raw_query)
            data = parse_body(route, headers.get("content-type"), raw_body)
            domain, stage = ctx_.get("domainName", ""), ctx_.get("stage", "")
            base = f"https://{domain}" + (f"/{stage}" if stage and stage != "$default" else "")
            req = make_request(route, fill(route.path, params), params, query, headers, raw_body, data, user,
                               request_id, stage=stage or "aws", base_url=base)
            try:
                result = self._run(route.handler(req, context)) if route.is_async else route.handler(req, context)
                if isinstance(result, StreamingResponse):
                    status, out, out_headers = result.status, self._body(result), stream_headers(result)
                else:
                    status, out, out_headers = serialize(result, route.status)
            except Exception as exc:  # mapped exactly as the local gateway maps it
                raise handler_error(exc, route, request_id) from None
        except HttpError as exc:
            status, out, out_headers = exc.status, dumps(exc.body()), dict(exc.headers)
        out_headers.setdefault("content-type", "application/json")
        try:
            text, b64 = out.decode(), False
        except UnicodeDecodeError:
            text, b64 = base64.b64encode(out).decode(), True
        return {"statusCode": status, "headers": out_headers, "body": text, "isBase64Encoded": b64}


handler = Entry()
