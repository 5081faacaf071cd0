"""The attack suite: every case made through a ``stratus up`` with a real client, one module per surface.

    test_tokens         forged, altered and misused JWTs
    test_cognito        second accounts, code and password guessing, timing, re-encoded tokens
    test_hosted_sign_in markup in the sign-in pages, forged forms, foreign redirects, stolen codes
    test_s3             other users' data by every route, signatures, SourceIp, sizes, overrides, metadata
    test_browser        a page from a bucket in Chromium: an origin of its own
    test_gateway        paths out of an API, stage-cache poisoning
    test_operator       the operations under /_stratus
    test_transport      idle, slow and greedy connections, smuggling
    test_isolation      one tenant's burst against another's calls
    test_secrets        file modes in the data dir, a dead system's endpoints
    test_hostile_input  crafted input gets a 4xx, never a 500

Each new engine (queues, topics, streams, the edge, MQTT, ...) adds its own module here, so every
system is attacked the same way. What the attacks share: raw TLS connections (for what a client library
would refuse to send), and the server process's own figures (its open descriptors, its memory) read
from /proc."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from stratus.local.system import RunningSystem


def address(ep: dict[str, Any], url: str | None = None) -> tuple[str, int]:
    """Where the system (or ``url`` of it: a distribution's) listens."""
    host, port = (url or ep["aws_endpoint"]).removeprefix("https://").rsplit(":", 1)
    return host.strip("[]"), int(port)


def tls(ep: dict[str, Any], timeout: float = 10.0, url: str | None = None) -> ssl.SSLSocket:
    """A TLS connection to the system (to ``url`` of it), on which anything may be written."""
    host, port = address(ep, url)
    raw = socket.create_connection((host, port), timeout=timeout)
    return ssl.create_default_context(cafile=ep["ca_file"]).wrap_socket(raw, server_hostname=host)


def read_all(conn: ssl.SSLSocket, limit: int = 1 << 20) -> bytes:
    """What the server sends until it closes (or ``limit`` bytes)."""
    out = b""
    while len(out) < limit:
        try:
            chunk = conn.recv(65536)
        except (ConnectionError, ssl.SSLError, TimeoutError):
            break
        if not chunk:
            break
        out += chunk
    return out


def raw_request(ep: dict[str, Any], method: str, target: str, headers: str = "", url: str | None = None) -> bytes:
    """The answer to a request sent exactly as given (no client library normalizes its path), to its end; to ``url``
    (a distribution's) rather than the system's endpoint."""
    host = (url or ep["aws_endpoint"]).removeprefix("https://")
    with tls(ep, url=url) as conn:
        conn.sendall(f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n{headers}Connection: close\r\n\r\n".encode())
        return read_all(conn)


def open_fds(system: RunningSystem) -> int:
    return len(list(Path(f"/proc/{system.proc.pid}/fd").iterdir()))


def rss_mib(system: RunningSystem) -> float:
    for line in Path(f"/proc/{system.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def health_ms(ep: dict[str, Any]) -> float:
    """The time a fresh client takes for the health probe (its own connection and TLS handshake), in ms."""
    t0 = time.perf_counter()
    with httpx.Client(verify=ssl.create_default_context(cafile=ep["ca_file"]), timeout=30) as http:
        assert http.get(ep["aws_endpoint"] + "/_stratus/health").status_code == 200
    return (time.perf_counter() - t0) * 1000


def until(check: Callable[[], bool], seconds: float) -> bool:
    """Whether ``check`` holds within ``seconds`` (polled)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()
