"""Attacks on the connection itself: clients that hold connections open, send a head forever or a byte at a
time, open more connections than the server keeps, or try to smuggle a second request past the first.

Bounded in count and time, on loopback only. A system of its own, with a 2 s head timeout and a cap of 80
connections (``stratus up --header-timeout 2 --max-connections 80``), so the limits are reached quickly;
the defaults are 10 s and 1000.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from collections.abc import Iterator

import pytest

from stratus.local.system import RunningSystem
from tests.conftest import TODO, start
from tests.security.conftest import address, health_ms, open_fds, read_all, rss_mib, tls, until

HEAD_TIMEOUT = 2.0


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    s = start(tmp_path_factory.mktemp("guarded"), TODO,
              extra=["--header-timeout", str(HEAD_TIMEOUT), "--max-connections", "80"])
    yield s
    s.stop()


def _normal_ms(guarded: RunningSystem) -> float:
    return statistics.median(health_ms(guarded.endpoints) for _ in range(5))


def _answers_others_meanwhile(guarded: RunningSystem, normal: float) -> None:
    """Others are served within their normal latency (a new connection, TLS and a request), give or take noise."""
    during = [health_ms(guarded.endpoints) for _ in range(5)]
    assert statistics.median(during) < max(4 * normal, normal + 100), (normal, during)


def test_connections_that_never_send_a_request_are_closed(guarded: RunningSystem) -> None:
    normal, before = _normal_ms(guarded), open_fds(guarded)
    idle = [tls(guarded.endpoints) for _ in range(60)]
    assert until(lambda: open_fds(guarded) >= before + 60, 5)
    _answers_others_meanwhile(guarded, normal)
    t0 = time.monotonic()
    answers = [read_all(c) for c in idle]  # each is answered 408 and closed by the server
    assert all(a.startswith(b"HTTP/1.1 408 Request Timeout") for a in answers), answers[0]
    assert time.monotonic() - t0 < HEAD_TIMEOUT + 3
    for c in idle:
        c.close()
    assert until(lambda: open_fds(guarded) <= before + 2, 5)  # and their descriptors are freed


def test_a_head_sent_a_byte_at_a_time_is_cut_off(guarded: RunningSystem) -> None:
    """Slowloris: 30 connections each sending a header line every 0.3 s; the head timeout ends them all."""
    normal, before = _normal_ms(guarded), open_fds(guarded)
    conns = [tls(guarded.endpoints) for _ in range(30)]
    stop = threading.Event()

    def trickle() -> None:
        for c in conns:
            c.sendall(b"GET /_stratus/health HTTP/1.1\r\nHost: localhost\r\n")
        for n in range(40):
            if stop.wait(0.3):
                return
            for c in conns:
                try:
                    c.sendall(b"X-Slow-%d: x\r\n" % n)
                except OSError:
                    pass
    sender = threading.Thread(target=trickle)
    sender.start()
    try:
        _answers_others_meanwhile(guarded, normal)
        answers = [read_all(c) for c in conns]
    finally:
        stop.set()
        sender.join()
    assert all(a.startswith(b"HTTP/1.1 408") for a in answers), answers[0][:80]
    for c in conns:
        c.close()
    assert until(lambda: open_fds(guarded) <= before + 2, 5)


def test_an_endless_head_is_refused_in_constant_memory(guarded: RunningSystem) -> None:
    """Eight clients sending a header without end: each is answered 431 once past 64 KiB and cut off within a
    moment, whatever it goes on sending; the server's memory does not grow with it, and others are served."""
    normal, rss = _normal_ms(guarded), rss_mib(guarded)
    results: list[tuple[bytes, float, bool]] = []

    def flood() -> None:
        c = tls(guarded.endpoints)
        c.sendall(b"GET /_stratus/health HTTP/1.1\r\nHost: localhost\r\nX-Endless: ")
        t0, cut = time.monotonic(), False
        try:
            while time.monotonic() - t0 < 10:
                c.sendall(b"a" * 65536)
        except OSError:
            cut = True
        results.append((read_all(c), time.monotonic() - t0, cut))
        c.close()
    floods = [threading.Thread(target=flood) for _ in range(8)]
    for f in floods:
        f.start()
    _answers_others_meanwhile(guarded, normal)
    for f in floods:
        f.join(30)
    assert len(results) == 8
    for answer, seconds, cut in results:
        assert answer.startswith(b"HTTP/1.1 431") and cut and seconds < 5, (answer[:40], seconds, cut)
    assert rss_mib(guarded) - rss < 32


def test_endless_trailers_are_refused_like_a_head(guarded: RunningSystem) -> None:
    """Trailers after a chunked body's last chunk are parsed like headers: they count against the same 64 KiB,
    so a client cannot send an endless one there instead."""
    normal, rss = _normal_ms(guarded), rss_mib(guarded)
    results: list[tuple[bytes, bool]] = []

    def flood() -> None:
        c = tls(guarded.endpoints)
        c.sendall(b"POST /_stratus/health HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nhello\r\n0\r\nX-Trailer: ")
        t0, cut = time.monotonic(), False
        try:
            while time.monotonic() - t0 < 10:
                c.sendall(b"a" * 65536)
        except OSError:
            cut = True
        results.append((read_all(c), cut))
        c.close()
    floods = [threading.Thread(target=flood) for _ in range(4)]
    for f in floods:
        f.start()
    _answers_others_meanwhile(guarded, normal)
    for f in floods:
        f.join(30)
    assert len(results) == 4 and all(cut for _, cut in results)
    assert all(b"HTTP/1.1 431" in answer for answer, _ in results), [a[:80] for a, _ in results]
    assert rss_mib(guarded) - rss < 32
    # chunks of any size, with short trailers, are a body like any other
    c = tls(guarded.endpoints)
    c.sendall(b"POST /_stratus/health HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
              b"Connection: close\r\n\r\n" + b"".join(b"%x\r\n%s\r\n" % (n, b"b" * n) for n in (1, 70000, 3, 200000))
              + b"0\r\nX-Checksum: abc\r\n\r\n")
    answer = read_all(c)
    c.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]


def test_a_handshake_that_never_finishes_is_cut_off(guarded: RunningSystem) -> None:
    """Connections that never start TLS have no request to time yet: the handshake has the head timeout too, so
    their descriptors come back."""
    normal, before = _normal_ms(guarded), open_fds(guarded)
    raw = [socket.create_connection(address(guarded.endpoints)) for _ in range(50)]
    assert until(lambda: open_fds(guarded) >= before + 50, 5)
    _answers_others_meanwhile(guarded, normal)
    t0 = time.monotonic()
    for s in raw:
        s.settimeout(HEAD_TIMEOUT + 5)
        try:
            assert s.recv(1) == b""  # closed by the server
        except ConnectionResetError:
            pass
    assert time.monotonic() - t0 < HEAD_TIMEOUT + 3
    for s in raw:
        s.close()
    assert until(lambda: open_fds(guarded) <= before + 2, 5)


def test_pipelined_requests_are_each_answered(guarded: RunningSystem) -> None:
    """Requests sent back to back on one connection, the last head's blank line split between two writes and a
    body after it: each is answered, in order (the head limit counts each head, never a body)."""
    one = b"GET /_stratus/health HTTP/1.1\r\nHost: localhost\r\nX-Pad: " + b"p" * 40000 + b"\r\n\r\n"
    last = (b"POST /_stratus/health HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100000\r\n"
            b"Connection: close\r\n\r")
    c = tls(guarded.endpoints)
    c.sendall(one * 3 + last)
    time.sleep(0.2)
    c.sendall(b"\n" + b"b" * 100000)
    answer = read_all(c)
    c.close()
    assert answer.count(b"HTTP/1.1 200 OK") == 4 and b"431" not in answer, answer[:200]


def test_a_pipelined_head_that_stops_is_timed_out(guarded: RunningSystem) -> None:
    """A whole request and the start of another in one write, then silence: the second head has the head
    timeout too (not the 30 s an idle connection is kept), and the first is answered."""
    c = tls(guarded.endpoints)
    c.sendall(b"GET /_stratus/health HTTP/1.1\r\nHost: localhost\r\n\r\nGET /_stratus/health HTTP/1.1\r\nHo")
    t0 = time.monotonic()
    answer = read_all(c)
    c.close()
    assert answer.startswith(b"HTTP/1.1 200") and b"HTTP/1.1 408" in answer, answer[:300]
    assert time.monotonic() - t0 < HEAD_TIMEOUT + 3


def test_many_small_chunks_are_a_body_not_trailers(guarded: RunningSystem) -> None:
    """A chunked upload of 20,000 one-byte chunks, paused right after a chunk's size line: its framing is far
    over 64 KiB, and none of it is trailers."""
    c = tls(guarded.endpoints)
    c.sendall(b"POST /_stratus/health HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n"
              b"Connection: close\r\n\r\n" + b"1\r\nb\r\n" * 20000 + b"1\r\n")
    time.sleep(0.3)
    c.sendall(b"b\r\n" + b"1;ext=1\r\nb\r\n" * 20000 + b"0\r\n\r\n")
    answer = read_all(c)
    c.close()
    assert answer.startswith(b"HTTP/1.1 200") and b"431" not in answer, answer[:300]


def test_past_the_connection_cap_a_client_is_told_503(guarded: RunningSystem) -> None:
    before = open_fds(guarded)
    conns = [tls(guarded.endpoints) for _ in range(90)]
    refused = 0
    for c in conns[-10:]:
        c.settimeout(1.0)
        try:
            refused += c.recv(64).startswith(b"HTTP/1.1 503 Service Unavailable")
        except TimeoutError:
            pass
    assert refused == 10
    for c in conns:
        c.close()
    assert until(lambda: open_fds(guarded) <= before + 2, HEAD_TIMEOUT + 5)
    assert health_ms(guarded.endpoints) < 5000  # and the server takes new clients again


@pytest.mark.parametrize("head", [
    # both framings: a proxy and the server could disagree on where the request ends
    b"POST /_api/todo/api/todos HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"POST /_api/todo/api/todos HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nContent-Length: 60\r\n\r\n",
    b"POST /_api/todo/api/todos HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n",
    b"POST /_api/todo/api/todos HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n",
])
def test_ambiguous_framing_is_refused_and_nothing_is_smuggled(guarded: RunningSystem, head: bytes) -> None:
    """A second request hidden in the first one's body is never served: the connection answers 400 once."""
    smuggled = b"GET /_stratus/health HTTP/1.1\r\nHost: x\r\n\r\n"
    c = tls(guarded.endpoints)
    c.sendall(head + b"0\r\n\r\n" + smuggled)
    answer = read_all(c)
    c.close()
    assert answer.startswith((b"HTTP/1.1 400", b"HTTP/1.1 501")), answer[:80]
    assert answer.count(b"HTTP/1.1 ") == 1 and b'"status":"ok"' not in answer
