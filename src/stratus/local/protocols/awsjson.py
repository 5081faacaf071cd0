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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from ...errors import ServiceError

CONTENT_TYPE = "application/x-amz-json-1.1"
Operation = Callable[[dict[str, Any]], dict[str, Any]]
# an operation that needs AWS credentials: called with the body and whoever signed the request
SignedOperation = Callable[[dict[str, Any], object], dict[str, Any]]


@dataclass(frozen=True)
class HttpRequest:
    """What an operation that needs AWS credentials checks the signature of: the request as it arrived."""

    method: str
    raw_path: str
    query_string: str
    headers: Sequence[tuple[str, str]]
    body: bytes


class AwsJsonService:
    """One service on AWS JSON 1.1: ``target`` is its ``X-Amz-Target`` prefix (``AWSCognitoIdentityService``)."""

    def __init__(self, target: str, what: str, ops: dict[str, Operation],
                 signed: dict[str, SignedOperation] | None = None) -> None:
        self.target, self.what, self.ops, self.signed = target, what, ops, signed or {}

    def authenticate(self, request: HttpRequest) -> object:
        """Whoever signed ``request`` (a principal), for an operation in ``signed``; a ServiceError when its
        signature is missing or wrong. A service with signed operations overrides it."""
        raise ServiceError("UnrecognizedClientException", "The security token included in the request is invalid.")

    def handle(self, target: str, body: bytes, request: HttpRequest | None = None) -> tuple[int, dict[str, str], bytes]:
        """Serve one request; never raises for anything a client sent."""
        headers = {"content-type": CONTENT_TYPE, "x-amzn-requestid": str(uuid.uuid4())}
        op = target[len(self.target) + 1:]
        try:
            fn, signed = self.ops.get(op), self.signed.get(op)
            if fn is None and signed is None:
                raise ServiceError("UnsupportedOperationException",
                                   f"Operation {op} is not implemented by the local {self.what} "
                                   f"(implemented: {', '.join(sorted({*self.ops, *self.signed}))}).")
            principal = None
            if signed is not None:  # the signature first: nobody unsigned learns anything of the request
                if request is None:
                    raise ServiceError("MissingAuthenticationTokenException", "Missing Authentication Token", 403)
                principal = self.authenticate(request)
            try:
                req = orjson.loads(body or b"{}")
            except orjson.JSONDecodeError:
                raise ServiceError("SerializationException", "Request body is not valid JSON.") from None
            if not isinstance(req, dict):
                raise ServiceError("SerializationException", "Request body must be a JSON object.")
            return 200, headers, orjson.dumps(signed(req, principal) if signed is not None else fn(req))  # type: ignore[misc]
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

    def flag(self, name: str) -> bool:
        """An optional boolean member; absent is False."""
        value = self.body.get(name, False)
        if not isinstance(value, bool):
            raise self._bad(f"{name} must be a boolean.")
        return value

    def optional_int(self, name: str) -> int | None:
        value = self.body.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise self._bad(f"{name} must be an integer.")
        return value

    def optional_strings(self, name: str) -> list[str] | None:
        """An optional list of strings."""
        value = self.body.get(name)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            raise self._bad(f"{name} must be a list of strings.")
        return value

    def string_param(self, params: dict[str, Any], name: str) -> str:
        """A required string inside a map member (``AuthParameters.USERNAME``)."""
        value = params.get(name)
        if not isinstance(value, str):
            raise self._bad(f"Missing required parameter {name}")
        return value
