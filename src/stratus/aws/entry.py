"""The one Lambda entry point: ``stratus.aws.entry.handler``.

Every function the AWS provider deploys runs this handler. It recognises the event by its
shape, builds the same typed event the local provider would, and calls the app's handler
with the same ports, backed here by AWS: a request reaches a handler the same way in both
places (``stratus.routing``), so it gets the same answer.

Configuration comes from the function's environment, which synthesis writes:

    STRATUS_APP_DIR or STRATUS_APP     the app folder (default: $LAMBDA_TASK_ROOT/apps/$STRATUS_APP)
    STRATUS_API                        the REST API this function serves (default: the app's only one)
    STRATUS_TABLE_<NAME>               the DynamoDB table behind declared table <name> (upper case, - as _)
    STRATUS_BUCKET_<NAME>              the S3 bucket behind declared bucket <name>
    STRATUS_DAX_ENDPOINT               a DAX cluster endpoint: tables that declare a cache read through it

Nothing is done at import time, and the first invocation does only what it must: the app is
loaded and the routes compiled once, and AWS clients are made when a handler first uses them.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..app import App, Bucket, Resource, RestApi, Table
from ..context import Context
from ..errors import BadRequest, ConfigError, HttpError, PayloadTooLarge, Unauthorized, UnsupportedFeature
from ..events import Principal, Request
from ..loader import load_app
from ..routing import RouteTable, dumps, fill, handler_error, parse_body, parse_query, serialize
from . import AWS_EXTRA
from .buckets import S3Bucket
from .tables import DynamoTable


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


class _LazyClient:
    """A boto3 client made on first use, so a cold start pays only for the clients a handler uses."""

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make, self._client = make, None

    def __getattr__(self, name: str) -> Any:
        if self._client is None:
            self._client = self._make()
        return getattr(self._client, name)


def _dynamodb_client() -> Any:
    endpoint = os.environ.get("STRATUS_DAX_ENDPOINT")
    if endpoint:
        try:
            from amazondax import AmazonDaxClient
        except ImportError as exc:
            raise UnsupportedFeature("STRATUS_DAX_ENDPOINT is set but amazon-dax-client is not in the function's "
                                     f"asset: {AWS_EXTRA}") from exc
        return AmazonDaxClient(endpoint_url=endpoint)
    import boto3
    return boto3.client("dynamodb")


def env_var(resource: Resource) -> str:
    """The environment variable naming the real table or bucket behind a declared one (synthesis writes it)."""
    return f"STRATUS_{resource.kind.upper()}_{resource.name.upper().replace('-', '_')}"


@dataclass
class LambdaApp:
    app: App
    apis: dict[str, RouteTable[Context]]
    max_body: dict[str, int]


_loaded: LambdaApp | None = None


def load(environ: dict[str, str] | None = None) -> LambdaApp:
    """The app and its routes, with ports on AWS, as configured by the environment."""
    env = dict(os.environ if environ is None else environ)
    folder = env.get("STRATUS_APP_DIR") or str(Path(env.get("LAMBDA_TASK_ROOT", ".")) / "apps" /
                                               env.get("STRATUS_APP", ""))
    app = load_app(Path(folder))
    plain, cached = _LazyClient(lambda: __import__("boto3").client("dynamodb")), _LazyClient(_dynamodb_client)
    ports: dict[Resource, Any] = {}
    for table in app.of_kind(Table):
        var = env_var(table)
        if var in env:
            client = cached if table.cache is not None and env.get("STRATUS_DAX_ENDPOINT") else plain
            ports[table] = DynamoTable(table, client, env[var], strongly_consistent=client is plain)
    s3 = _LazyClient(lambda: __import__("boto3").client("s3"))
    for bucket in app.of_kind(Bucket):
        var = env_var(bucket)
        if var in env:
            ports[bucket] = S3Bucket(s3, env[var])
    apis: dict[str, RouteTable[Context]] = {}
    for api in app.of_kind(RestApi):
        entries: list[tuple[Any, Context]] = []
        for route in api.routes:
            missing = [r for r in route.uses if r not in ports]
            if missing:  # the route cannot be served here; say so when it is called, not at cold start
                entries.append((route, _Missing(app.name, route.operation_id, missing)))
            else:
                entries.append((route, Context(app.name, route.operation_id, {r: ports[r] for r in route.uses})))
        apis[api.name] = RouteTable(entries)
    return LambdaApp(app, apis, {api.name: api.max_body for api in app.of_kind(RestApi)})


class _Missing(Context):
    """A route whose resources the environment does not name: every call says which variable is missing."""

    def __init__(self, app: str, handler: str, missing: list[Resource]) -> None:
        super().__init__(app, handler, {})
        self.missing = missing

    def _port(self, resource: Resource) -> Any:
        raise ConfigError(f"handler {self.handler!r}: the function's environment names no {env_var(resource)} "
                          f"for {resource!r}")


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _loaded
    if _loaded is None:
        _loaded = load()
    kind = event_kind(event)
    if kind == "apigateway-rest" and _loaded.apis:
        return _rest(_loaded, event)
    raise UnsupportedFeature(f"app {_loaded.app.name!r} declares no handler for {kind!r} events "
                             f"(this function serves REST API requests)")


def _rest(loaded: LambdaApp, event: dict[str, Any]) -> dict[str, Any]:
    ctx_ = event.get("requestContext") or {}
    request_id = str(ctx_.get("requestId", ""))
    apis = loaded.apis
    name = os.environ["STRATUS_API"] if os.environ.get("STRATUS_API") in apis else next(iter(apis))
    api, limit = apis[name], loaded.max_body[name]
    try:
        hit = api.by_template.get((event["httpMethod"], event["resource"]))
        if hit is None:
            raise HttpError(f"no route for {event['httpMethod']} {event['resource']}", status=404)
        route, context = hit
        claims = (ctx_.get("authorizer") or {}).get("claims")
        user = None
        if isinstance(claims, dict) and isinstance(claims.get("sub"), str):
            user = Principal(claims["sub"], claims.get("username") or claims.get("cognito:username") or claims["sub"],
                             claims.get("client_id") or claims.get("aud", ""), claims)
        if user is None and not route.public:
            raise Unauthorized("Unauthorized", headers={"www-authenticate": "Bearer"})
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
        req = Request(route.method, fill(route.path, params), params, query, headers, raw_body, data, user,
                      request_id, stage=stage or "aws", base_url=base)
        try:
            result = route.handler(req, context)
        except Exception as exc:  # mapped exactly as the local gateway maps it
            raise handler_error(exc, route, request_id) from None
        status, out, out_headers = serialize(result, route.status)
    except HttpError as exc:
        status, out, out_headers = exc.status, dumps(exc.body()), dict(exc.headers)
    out_headers.setdefault("content-type", "application/json")
    try:
        text, b64 = out.decode(), False
    except UnicodeDecodeError:
        text, b64 = base64.b64encode(out).decode(), True
    return {"statusCode": status, "headers": out_headers, "body": text, "isBase64Encoded": b64}
