"""What one client may hold of the server: the HTTP protocol with limits on the request head and on connections.

uvicorn's protocol times a connection out only between requests, and takes a request head of
any size. A client could then hold a descriptor forever by never sending a request, send a
head a byte a second (slowloris), or send an endless header that slows every other client
(the parser joins the pieces it is fed, so the cost grows with the square of the size). This
protocol adds, per connection:

- **a head timeout**: the request line and headers must arrive within ``head_timeout`` seconds
  of the connection being ready, or of their first byte after a response; otherwise the
  connection is answered 408 and closed;
- **a head size limit**: ``head_limit`` bytes for the request line and headers together (S3
  allows 8 KB of PUT headers, API Gateway 10 KB; presigned URLs and tokens fit well within
  64 KiB); past it the connection is answered 431 and closed, without the rest being read or
  kept, so a long header costs constant memory;
- **a trailer size limit**: the trailers after a chunked body's last chunk are parsed like a
  head, so they count against ``head_limit`` the same way (431);
- **a connection cap**: past ``max_connections`` open connections a new one is answered 503
  and closed at once, so the server keeps descriptors for the clients it serves.

A connection still in its TLS handshake has no protocol yet: the server bounds those by the
handshake timeout it gives the loop (the head timeout), not by the cap. A request body is the
application's to bound (the gateway's ``max_body``, S3's 5 GiB); neither bodies nor trailers are
timed, so a client may send them as slowly as it likes, one connection at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

HEAD_LIMIT = 64 * 1024
HEAD_TIMEOUT = 10.0
MAX_CONNECTIONS = 1000

_REASONS = {408: b"Request Timeout", 431: b"Request Header Fields Too Large", 503: b"Service Unavailable"}


# a listening port's answer to a request it can give whole at once (a distribution's cache hit), or None: called
# with the method, the URL as sent, the headers (lowercased names), the client's address and the Date header
FastPath = Callable[[bytes, bytes, list[tuple[bytes, bytes]], str, list[tuple[bytes, bytes]]], "bytes | None"]


class GuardedHttpProtocol(HttpToolsProtocol):
    head_limit = HEAD_LIMIT
    head_timeout = HEAD_TIMEOUT
    max_connections = MAX_CONNECTIONS
    fast_paths: dict[int, FastPath] = {}  # by listening port

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True       # the next bytes belong to a request head
        self._head_bytes = 0       # of the head now arriving
        self._tail = b""           # its last bytes, where the blank line that ends it may begin
        self._head_timer: asyncio.TimerHandle | None = None
        self._after_chunk_header = False  # a chunk's size line was read and no data of it yet: trailers may follow
        self._trailer_bytes = 0    # bytes fed since then that were not body
        self._body_fed = 0         # body bytes the parser found in the piece being fed
        self._ended = False        # a request ended in the piece being fed
        self._began = False        # and another began after it (pipelining)
        self._answered = False     # the request now being read was answered whole by a fast path

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.server_state.connections) >= self.max_connections:
            self.transport = transport
            self._refuse(503, "the server holds as many connections as it takes; try again shortly")
            return
        super().connection_made(transport)
        self._start_head_timer()  # a connection that never sends a request is closed too

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        if self.flow is None:  # refused in connection_made: uvicorn's state never knew it
            return
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            if self._head_timer is None:
                self._start_head_timer()
            # only the head counts: a body may follow it in the same piece (the head ends at a blank line)
            seen = self._tail + data
            end = seen.find(b"\r\n\r\n")
            head_here = len(data) if end < 0 else end + 4 - len(self._tail)
            self._head_bytes += head_here
            if self._head_bytes > self.head_limit:
                self._refuse(431, f"the request line and headers are over {self.head_limit} bytes")
                return
            self._tail = seen[-3:]
        self._body_fed, self._ended, self._began = 0, False, False
        super().data_received(data)
        if self._began and self._in_head and not self.transport.is_closing():
            # the next request's head began inside this piece: where is unknown, so its count starts afresh
            # (at most one piece uncounted), its end may begin in this piece's last bytes, and its time runs
            self._head_bytes, self._tail = 0, data[-3:]
            self._start_head_timer()
        if self._after_chunk_header and self._body_fed == 0 and not self.transport.is_closing():
            # a piece with no body, after a chunk's size line: the last chunk's trailers (a piece holding body
            # too is not counted, so the framing of many small chunks never is; at most one piece goes uncounted)
            self._trailer_bytes += len(data)
            if self._trailer_bytes > self.head_limit:
                self._refuse(431, f"the request's trailers are over {self.head_limit} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._began = self._ended

    def on_chunk_header(self) -> None:
        self._after_chunk_header = True

    def on_body(self, body: bytes) -> None:
        self._body_fed += len(body)
        self._after_chunk_header, self._trailer_bytes = False, 0
        if not self._answered:
            super().on_body(body)

    def on_chunk_complete(self) -> None:
        self._after_chunk_header, self._trailer_bytes = False, 0

    def on_headers_complete(self) -> None:
        self._in_head, self._head_bytes, self._tail = False, 0, b""
        self._stop_head_timer()
        if self._fast():
            return
        # a fast answer earlier in this piece armed the keep-alive timer, which must not run while this request is
        # answered (data_received, which cancels it otherwise, has not run since)
        self._unset_keepalive_if_required()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        if self._answered:
            self._answered = False
        else:
            super().on_message_complete()
        self._in_head, self._ended = True, True  # what comes next is another request's head

    def _fast(self) -> bool:
        """Answer the request whole, in one write, when its port has a fast path that can (a cache hit), no earlier
        answer is under way and the connection stays open; True when it did."""
        port = self.server[1] if self.fast_paths and self.server else None
        fast = self.fast_paths.get(port) if port is not None else None
        # not while the client reads nothing of what it was sent (its answers wait the usual way, and its reading
        # stops), nor behind an answer still under way
        if fast is None or self.flow.write_paused or self._busy() or self.pipeline or self.transport.is_closing() \
                or self.config.proxy_headers \
                or self.parser.get_http_version() != "1.1" or not self.parser.should_keep_alive():
            return False
        method = self.parser.get_method()
        if method not in (b"GET", b"HEAD"):
            return False
        answer = fast(method, self.url, self.headers, self.client[0] if self.client else "",
                      self.server_state.default_headers)
        if answer is None:
            return False
        self._answered = True
        self.transport.write(answer)
        self.on_response_complete()  # counted, keep-alive timer armed, as after any answer
        return True

    # -- helpers

    def _start_head_timer(self) -> None:
        self._stop_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _stop_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _busy(self) -> bool:
        """Whether a request on this connection is still being answered (a pipelining client may send its next
        request meanwhile)."""
        cycle = getattr(self, "cycle", None)
        return cycle is not None and not cycle.response_complete

    def _mid_answer(self) -> bool:
        """Whether an answer has begun and not ended: nothing may be written into the middle of it."""
        return self._busy() and bool(self.cycle.response_started)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._busy():  # the next head's time starts once this answer is out
            self._start_head_timer()
        elif self._in_head and not self.transport.is_closing():
            self._refuse(408, f"no complete request head within {self.head_timeout:g} seconds")

    def _refuse(self, status: int, why: str) -> None:
        """Answer ``status`` in plain text and close, reading nothing more."""
        self._stop_head_timer()
        body = (why + "\n").encode()
        head = (b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
                b"connection: close\r\n\r\n" % (status, _REASONS[status], len(body)))
        transport = self.transport
        if self._mid_answer():  # an answer is under way: cut the connection rather than garble it
            transport.abort()
        elif not transport.is_closing():
            transport.pause_reading()  # nothing more is read: what the client goes on sending waits in its buffers
            transport.write(head + body)
            transport.close()
            # TLS would wait for the client's close_notify, reading (and dropping) all it sends meanwhile: give the
            # answer a moment to leave, then cut the connection
            self.loop.call_later(0.25, transport.abort)
        self._in_head = False


def guarded_protocol(head_limit: int = HEAD_LIMIT, head_timeout: float = HEAD_TIMEOUT,
                     max_connections: int = MAX_CONNECTIONS,
                     fast_paths: dict[int, FastPath] | None = None) -> type[GuardedHttpProtocol]:
    """The protocol class for uvicorn, with these limits, and ``fast_paths`` by listening port."""
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,),
                {"head_limit": head_limit, "head_timeout": head_timeout, "max_connections": max_connections,
                 "fast_paths": fast_paths if fast_paths is not None else {}})
