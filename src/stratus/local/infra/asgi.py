"""Small ASGI helpers shared by every local endpoint: request ids, a bounded body, a reply, a streamed reply."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Iterator
from concurrent.futures import Executor
from typing import Any

import orjson

from ...errors import PayloadTooLarge

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def request_ids(s3: bool = False) -> Iterator[str]:
    """Unique request ids: a random prefix per endpoint and a counter (uuid4 per request costs a syscall).

    UUID-shaped, as API Gateway's are; or, with ``s3``, 16 upper-case hex digits, as S3's are.
    """
    prefix = uuid.uuid4().hex
    for n in itertools.count(1):
        yield f"{prefix[:4].upper()}{n:012X}" if s3 else \
            f"{prefix[:8]}-{prefix[8:12]}-4{prefix[13:16]}-{prefix[16:20]}-{n:012x}"


def header(scope: Scope, name: bytes) -> str | None:
    for k, v in scope["headers"]:
        if k == name:
            return v.decode("latin-1")
    return None


async def read_body(receive: Receive, limit: int, declared: str | None = None) -> bytes:
    """The whole request body; ``PayloadTooLarge`` as soon as it is known (or ``declared``) to exceed ``limit``."""
    if declared is not None and declared.isascii() and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is {declared} bytes; the limit is {limit}")
    chunks, size = [], 0
    while True:
        msg = await receive()
        if msg["type"] == "http.disconnect":
            break
        chunk = msg.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
        if not msg.get("more_body"):
            break
    return b"".join(chunks)


async def send_response(send: Send, status: int, body: bytes, headers: dict[str, str] | None = None,
                        content_type: str = "application/json") -> None:
    hdrs = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    for k, v in (headers or {}).items():
        hdrs.append((k.lower().encode("latin-1"), v.encode("ascii", "replace")))
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})


async def send_json(send: Send, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
    await send_response(send, status, orjson.dumps(obj), headers)


async def send_stream(send: Send, status: int, chunks: Iterable[Any] | AsyncIterable[Any],
                      headers: dict[str, str], check: Callable[[Any], bytes], executor: Executor) -> None:
    """A reply whose body is sent chunk by chunk as ``chunks`` yields it, each made bytes by ``check`` (a sync
    iterator is read on ``executor``, so a handler reading a file never blocks the event loop). A failure half-way
    propagates: the connection is dropped, so the client cannot take a cut-off body for a whole one."""
    hdrs = [(k.lower().encode("latin-1"), v.encode("ascii", "replace")) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    if isinstance(chunks, AsyncIterable):
        async for piece in chunks:
            await _send_chunk(send, check(piece))
    else:
        loop, it = asyncio.get_running_loop(), iter(chunks)
        while (piece := await loop.run_in_executor(executor, next, it, _END)) is not _END:
            await _send_chunk(send, check(piece))
    await send({"type": "http.response.body", "body": b""})


_END = object()  # what a sync chunk iterator gives when it is done (any value it yields, None too, is a chunk)


async def _send_chunk(send: Send, chunk: bytes) -> None:
    if chunk:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})


VIRTUAL_SUFFIX = ".localhost"


def virtual_bucket(host: str) -> str | None:
    """The bucket a ``Host`` header names in virtual-hosted style (``<bucket>.localhost[:port]``), else None."""
    name, colon, port = host.rpartition(":")
    if not colon or not port.isdigit():
        name = host
    name = name.lower().rstrip(".")
    if name.endswith(VIRTUAL_SUFFIX) and len(name) > len(VIRTUAL_SUFFIX):
        return name[:-len(VIRTUAL_SUFFIX)]
    return None
