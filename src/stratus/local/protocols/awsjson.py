"""The AWS JSON 1.1 protocol: how the Cognito services (and DynamoDB, Kinesis, Firehose, ...) speak.

``POST /`` with ``X-Amz-Target: <Service>.<Operation>`` and a JSON object body;
a reply is JSON; an error is ``{"__type": ..., "message": ...}`` with the
service's status and an ``x-amzn-ErrorType`` header. An operation not in
``ops`` is refused with an error that names it and lists those that exist.

A service's wire module reads each request through ``Params``, which checks the
JSON types the operation takes (as the service's API model does) before the domain
sees any value, and renders what the domain returns.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import orjson

from ...errors import ServiceError

CONTENT_TYPE = "application/x-amz-json-1.1"
Operation = Callable[[dict[str, Any]], dict[str, Any]]


class AwsJsonService:
    """One service on AWS JSON 1.1: ``target`` is its ``X-Amz-Target`` prefix (``AWSCognitoIdentityService``)."""

    def __init__(self, target: str, what: str, ops: dict[str, Operation]) -> None:
        self.target, self.what, self.ops = target, what, ops

    def handle(self, target: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Serve one request; never raises for anything a client sent."""
        headers = {"content-type": CONTENT_TYPE, "x-amzn-requestid": str(uuid.uuid4())}
        op = target[len(self.target) + 1:]
        try:
            fn = self.ops.get(op)
            if fn is None:
                raise ServiceError("UnsupportedOperationException",
                                   f"Operation {op} is not implemented by the local {self.what} "
                                   f"(implemented: {', '.join(sorted(self.ops))}).")
            try:
                req = orjson.loads(body or b"{}")
            except orjson.JSONDecodeError:
                raise ServiceError("SerializationException", "Request body is not valid JSON.") from None
            if not isinstance(req, dict):
                raise ServiceError("SerializationException", "Request body must be a JSON object.")
            return 200, headers, orjson.dumps(fn(req))
        except ServiceError as exc:
            headers["x-amzn-errortype"] = exc.code
            return exc.status, headers, orjson.dumps({"__type": exc.code, "message": exc.message})


class Params:
    """A request's members, each read with its type checked; ``code`` is the service's error for a bad one."""

    def __init__(self, body: dict[str, Any], code: str = "InvalidParameterException") -> None:
        self.body, self.code = body, code

    def _bad(self, message: str) -> ServiceError:
        return ServiceError(self.code, message)

    def text(self, name: str) -> str:
        """A required string member."""
        value = self.body.get(name)
        if value is None:
            raise self._bad(f"Missing required parameter {name}")
        if not isinstance(value, str):
            raise self._bad(f"{name} must be a string.")
        return value

    def optional_text(self, name: str) -> str | None:
        return None if self.body.get(name) is None else self.text(name)

    def strings(self, name: str) -> dict[str, str]:
        """A map of strings (``AuthParameters``); absent is empty. Its members' types are the domain's to check."""
        value = self.body.get(name)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self._bad(f"{name} must be a map of strings.")
        return value

    def attributes(self, name: str) -> dict[str, str]:
        """A list of ``{"Name": ..., "Value": ...}`` (Cognito's attribute lists) as a dict; absent is empty."""
        value = self.body.get(name)
        if value is None:
            return {}
        if not isinstance(value, list):
            raise self._bad(f"{name} must be a list of {{Name, Value}}.")
        out = {}
        for a in value:
            if not isinstance(a, dict) or not isinstance(a.get("Name"), str) or not isinstance(a.get("Value"), str):
                raise self._bad("Each user attribute needs a string Name and Value.")
            out[a["Name"]] = a["Value"]
        return out

    def string_param(self, params: dict[str, Any], name: str) -> str:
        """A required string inside a map member (``AuthParameters.USERNAME``)."""
        value = params.get(name)
        if not isinstance(value, str):
            raise self._bad(f"Missing required parameter {name}")
        return value
