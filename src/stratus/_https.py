"""A small keep-alive HTTPS JSON client, for the demo and the CLI's admin calls.

It trusts the CA file it is given (a local system's own CA) or, given none, the
system trust store (a deployment on AWS).
"""

from __future__ import annotations

import http.client
import json
import secrets
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

IDLE_REUSE = 3.0  # seconds a kept-alive connection is reused after (servers close idle ones after about 5)


class HttpsJson:
    def __init__(self, base_url: str, ca_file: str | None, timeout: float = 30) -> None:
        """``base_url``'s path prefixes every call's; ``ca_file`` None trusts the system trust store."""
        u = urlsplit(base_url)
        self.prefix = u.path.rstrip("/")
        context = ssl.create_default_context() if ca_file is None else ssl.create_default_context(cafile=ca_file)
        self.conn = http.client.HTTPSConnection(u.hostname or "127.0.0.1", u.port, context=context, timeout=timeout)
        self.last_headers: dict[str, str] = {}
        self.last_used = 0.0

    def call(self, method: str, path: str, body: Any = None, token: str | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """(status, JSON body or None); ``token`` goes as a Bearer token."""
        sent = {"content-type": "application/json", **(headers or {})}
        if token:
            sent["authorization"] = f"Bearer {token}"
        status, raw = self.raw(method, path, None if body is None else json.dumps(body).encode(), sent)
        return status, json.loads(raw) if raw else None

    def raw(self, method: str, path: str, data: bytes | None = None,
            sent: dict[str, str] | None = None) -> tuple[int, bytes]:
        """(status, body as sent); the answer's headers are in ``last_headers``."""
        sent = sent or {}
        if time.monotonic() - self.last_used > IDLE_REUSE:  # the server may have closed it meanwhile: a new one
            self.conn.close()
        try:
            self.conn.request(method, self.prefix + path, body=data, headers=sent)
            resp = self.conn.getresponse()
        except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
            if method not in ("GET", "HEAD", "PUT", "DELETE"):  # the server may have acted: not sent twice
                raise
            self.conn.close()
            self.conn.request(method, self.prefix + path, body=data, headers=sent)
            resp = self.conn.getresponse()
        self.last_used = time.monotonic()
        raw = resp.read()
        self.last_headers = {k.lower(): v for k, v in resp.getheaders()}
        return resp.status, raw


def post_form(url: str, fields: dict[str, str], data: bytes, content_type: str, ca_file: str | None,
              timeout: float = 60) -> tuple[int, bytes]:
    """A browser's form upload (``multipart/form-data``): ``fields`` in order, the ``Content-Type`` field (which a
    presigned form's policy checks), then the file; (status, body)."""
    fields = {**fields, "Content-Type": content_type}
    boundary = "----stratus" + secrets.token_hex(12)
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields.items()]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="upload"\r\n'
                 f"Content-Type: {content_type}\r\n\r\n".encode() + data + f"\r\n--{boundary}--\r\n".encode())
    u = urlsplit(url)
    context = ssl.create_default_context() if ca_file is None else ssl.create_default_context(cafile=ca_file)
    conn = http.client.HTTPSConnection(u.hostname or "127.0.0.1", u.port, context=context, timeout=timeout)
    try:
        conn.request("POST", u.path or "/", body=b"".join(parts),
                     headers={"content-type": f"multipart/form-data; boundary={boundary}"})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()
