"""A small keep-alive HTTPS JSON client, for the demo and the CLI's admin calls.

It trusts the CA file it is given (a local system's own CA) or, given none, the
system trust store (a deployment on AWS).
"""

from __future__ import annotations

import http.client
import json
import ssl
from typing import Any
from urllib.parse import urlsplit


class HttpsJson:
    def __init__(self, base_url: str, ca_file: str | None, timeout: float = 30) -> None:
        """``base_url``'s path prefixes every call's; ``ca_file`` None trusts the system trust store."""
        u = urlsplit(base_url)
        self.prefix = u.path.rstrip("/")
        context = ssl.create_default_context() if ca_file is None else ssl.create_default_context(cafile=ca_file)
        self.conn = http.client.HTTPSConnection(u.hostname or "127.0.0.1", u.port, context=context, timeout=timeout)
        self.last_headers: dict[str, str] = {}

    def call(self, method: str, path: str, body: Any = None, token: str | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, Any]:
        """(status, JSON body or None); ``token`` goes as a Bearer token."""
        sent = {"content-type": "application/json", **(headers or {})}
        if token:
            sent["authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        self.conn.request(method, self.prefix + path, body=data, headers=sent)
        resp = self.conn.getresponse()
        raw = resp.read()
        self.last_headers = {k.lower(): v for k, v in resp.getheaders()}
        return resp.status, json.loads(raw) if raw else None
