"""The AWS JSON 1.1 wire shape shared by the Cognito services.

``POST /`` with ``X-Amz-Target: <Service>.<Operation>`` and a JSON object body;
a reply is JSON; an error is ``{"__type": ..., "message": ...}`` with the
service's status and an ``x-amzn-ErrorType`` header. An operation not in
``ops`` is refused with an error that names it and lists those that exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import orjson

CONTENT_TYPE = "application/x-amz-json-1.1"
Operation = Callable[[dict[str, Any]], dict[str, Any]]


class CognitoError(Exception):
    """An AWS JSON error: ``code`` is the exception name clients see (``__type``)."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


class AwsJsonService:
    def __init__(self, prefix: str, what: str, ops: dict[str, Operation]) -> None:
        self.prefix, self.what, self.ops = prefix, what, ops

    def handle(self, target: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Serve one request; never raises for anything a client sent."""
        headers = {"content-type": CONTENT_TYPE, "x-amzn-requestid": str(uuid.uuid4())}
        op = target[len(self.prefix):]
        try:
            fn = self.ops.get(op)
            if fn is None:
                raise CognitoError("UnsupportedOperationException",
                                   f"Operation {op} is not implemented by the local {self.what} "
                                   f"(implemented: {', '.join(sorted(self.ops))}).")
            try:
                req = orjson.loads(body or b"{}")
            except orjson.JSONDecodeError:
                raise CognitoError("SerializationException", "Request body is not valid JSON.") from None
            if not isinstance(req, dict):
                raise CognitoError("SerializationException", "Request body must be a JSON object.")
            return 200, headers, orjson.dumps(fn(req))
        except CognitoError as exc:
            headers["x-amzn-errortype"] = exc.code
            return exc.status, headers, orjson.dumps({"__type": exc.code, "message": exc.message})
