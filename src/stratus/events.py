"""Typed events handed to handlers, and what handlers hand back.

A handler sees the same ``Request`` whether the local gateway or API Gateway
(through the Lambda entry point) called it. On a route that is not public the
caller is always signed in: the handler gets an ``AuthRequest``, whose ``user``
is never None, and may say so in its annotation. Later event kinds (object
created, table change, queue message, stream records) live here too.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Principal:
    """The caller, as the authorizer verified them from an access token: ``req.user``.

    - ``sub``: the user's unique, unchanging id in the user pool (the token's ``sub``); key their data by it.
    - ``username``: the user name (``cognito:username``); with email sign-up, the same as ``sub``.
    - ``client_id``: the id of the user pool client the user signed in through.
    - ``claims``: every claim of the verified access token (``scope``, ``auth_time``, ``exp``, ...).
    """

    sub: str
    username: str
    client_id: str
    claims: Mapping[str, Any]


@dataclass
class Request:
    """An HTTP request routed to a handler: a public route's handler gets one (an ``AuthRequest`` otherwise).

    The same whether the local gateway or API Gateway (through the Lambda entry point) called the handler.

    - ``method``: the HTTP method, upper case.
    - ``path``: the path below the API's URL, decoded (``/notes/n1``).
    - ``path_params``: the route's path parameters by name (``{"id": "n1"}``), decoded.
    - ``query``: the route's declared query parameters that were sent, validated and converted to their
      declared types; others are left out.
    - ``headers``: the request headers, names in lower case.
    - ``body``: the body's bytes, as sent.
    - ``json``: the validated body when the route declares a ``body``; None otherwise.
    - ``user``: the caller, a ``Principal``; None on a public route (the caller is anonymous).
    - ``request_id``: the request's id (API Gateway's ``requestId`` on AWS), also in the
      ``x-amzn-requestid`` answer header.
    - ``stage``: ``"local"`` under ``stratus up``; on AWS the API's stage name (``prod`` by default).
    - ``base_url``: the API's own URL (scheme, host, stage path), for links such as ``Location``.
    - ``data``: the body as the route declared it: an instance of its dataclass, otherwise the same as ``json``.
    """

    method: str
    path: str
    path_params: dict[str, str]
    query: dict[str, Any]
    headers: Mapping[str, str]
    body: bytes
    json: Any = None
    user: Principal | None = None
    request_id: str = ""
    stage: str = "local"
    base_url: str = ""  # the API's own URL (scheme, host, stage path), for links such as Location
    data: Any = None


@dataclass
class AuthRequest(Request):
    """A request on a route that is not public: the authorizer has verified the caller, ``user``, a
    ``Principal`` that is never None (and a type checker knows it). Its other fields are ``Request``'s."""

    user: Principal = field(kw_only=True)


@dataclass
class Response:
    """A whole answer, when the route's status, JSON and no headers will not do; a handler may instead return
    any JSON value or a dataclass (answered with the route's ``status``), or None (204).

    - ``status``: the HTTP status; default 200.
    - ``body``: a JSON value or a dataclass (sent as ``application/json``), a ``str`` or ``bytes`` (sent as
      they are, ``text/plain; charset=utf-8`` unless ``headers`` name a ``content-type``), or None (no body).
    - ``headers``: headers to send, ``{"location": ...}``; default none.
    """

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class StreamingResponse:
    """A response whose body is sent as it is produced, chunk by chunk (large files, ranges of a video).

    The local gateway sends each chunk as it comes and never caches the answer; on AWS, API Gateway's proxy
    integration takes the body whole, so the entry point joins the chunks (within Lambda's response limit).

    - ``chunks``: an iterable or async iterable (a generator, an async generator) of bytes.
    - ``status``: the HTTP status; default 200.
    - ``headers``: headers to send; default none.
    - ``content_type``: the body's ``Content-Type``; default ``"application/octet-stream"``.
    """

    chunks: Iterable[bytes] | AsyncIterable[bytes]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class TableChange:
    """One change to an item of a table with a stream: what an ``on_table_change`` handler gets, the same locally
    and from DynamoDB Streams (through the Lambda entry point).

    - ``kind``: ``"INSERT"`` (a new item), ``"MODIFY"`` (an item changed) or ``"REMOVE"`` (an item deleted).
    - ``table``: the table's name in the app.
    - ``keys``: the item's primary key, ``{attribute: value}``.
    - ``new_image``: the item after the change; None for ``REMOVE``.
    - ``old_image``: the item before the change; None for ``INSERT``.
    - ``sequence_number``: the change's place in the stream: later changes of one item have greater ones (compare
      them as integers).
    - ``approximate_creation_time``: when the change was written, in seconds since the epoch.
    - ``event_id``: the record's unique id, stable across redeliveries: the key for acting once
      (``stratus.idempotent``, or a conditional write).
    """

    kind: str
    table: str
    keys: Mapping[str, Any]
    new_image: Mapping[str, Any] | None
    old_image: Mapping[str, Any] | None
    sequence_number: str
    approximate_creation_time: float
    event_id: str


@dataclass(frozen=True)
class ObjectCreated:
    """An object written to a bucket, by anyone (the S3 endpoint, a presigned URL or form, a handler): what an
    ``on_object_created`` handler gets, the same locally and from an S3 event notification.

    - ``bucket``: the bucket's name in the app.
    - ``key``: the object's key, decoded.
    - ``size``: its size in bytes.
    - ``etag``: its ETag, without quotes.
    - ``event_name``: how it was written: ``ObjectCreated:Put``, ``:Post``, ``:Copy`` or
      ``:CompleteMultipartUpload``.
    - ``sequencer``: orders the events of one key: a later write's is greater (compare them as strings).
    - ``event_time``: when it was written, in seconds since the epoch.
    - ``event_id``: the event's unique id, stable across redeliveries: the key for acting once.
    """

    bucket: str
    key: str
    size: int
    etag: str
    event_name: str
    sequencer: str
    event_time: float
    event_id: str


@dataclass(frozen=True)
class ObjectRemoved:
    """An object deleted from a bucket (in a versioned bucket, a delete marker made, or a version deleted): what an
    ``on_object_removed`` handler gets.

    - ``bucket``, ``key``, ``sequencer``, ``event_time``, ``event_id``: as ``ObjectCreated``'s.
    - ``event_name``: ``ObjectRemoved:Delete`` or ``ObjectRemoved:DeleteMarkerCreated``.
    """

    bucket: str
    key: str
    event_name: str
    sequencer: str
    event_time: float
    event_id: str
